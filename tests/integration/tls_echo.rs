//! An HTTPS echo server for the proxy tests, with its own test CA, on a loopback address other
//! than 127.0.0.1 (the child's `NO_PROXY` lists 127.0.0.1, so requests to it would bypass the
//! proxy). Its certificate names the address as an IP SAN.
//!
//! Each request is recorded (head and body, as received) and answered with `200` and a body
//! that repeats the request: a real value that reaches the server comes back in the response,
//! which is what the proxy's scrubbing is tested against. For git, `/info/refs` without an
//! `Authorization` header gets `401` with a Basic challenge (git sends its URL's password only
//! then), and with one, a ref advertisement.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A test CA, its certificate written as PEM into a temporary folder.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// Holds `pem`.
    _dir: tempfile::TempDir,
    /// The CA certificate (PEM): envx trusts it through `SSL_CERT_FILE`.
    pub pem: PathBuf,
}

impl TestCa {
    /// A fresh CA.
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "envx proxy tests CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("test-ca.pem");
        std::fs::write(&pem, issuer.pem()).unwrap();
        Self {
            issuer,
            _dir: dir,
            pem,
        }
    }

    /// A certificate for `ip` signed by this CA, and its key.
    fn leaf(&self, ip: IpAddr) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![SanType::IpAddress(ip)];
        params
            .distinguished_name
            .push(DnType::CommonName, ip.to_string());
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (cert.der().clone(), der)
    }
}

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Received {
    /// Request line and headers, as sent.
    pub head: String,
    /// The body (chunked bodies decoded).
    pub body: String,
}

impl Received {
    /// Head and body together, to search for a value.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.head, self.body)
    }
}

/// A running echo server; dropping it stops it.
pub struct Echo {
    /// Where it listens.
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
}

impl Echo {
    /// Starts a server on `ip` (e.g. `127.0.0.2`), any port, with a certificate from `ca`.
    pub fn start(ca: &TestCa, ip: &str) -> Self {
        let ip: IpAddr = ip.parse().unwrap();
        let (cert, key) = ca.leaf(ip);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, stopped) = (received.clone(), stop.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (config, log) = (config.clone(), log.clone());
                thread::spawn(move || serve(stream, config, &log));
            }
        });
        Self {
            addr,
            received,
            stop,
        }
    }

    /// `https://IP:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// `IP:PORT`, as a rule names it.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn serve(tcp: TcpStream, config: Arc<rustls::ServerConfig>, log: &Mutex<Vec<Received>>) {
    // A connection left open by a client ends on its own.
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(20)));
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let tls = rustls::StreamOwned::new(conn, tcp);
    let mut reader = BufReader::new(tls);
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let end = line == "\r\n" || line == "\n";
            head.push_str(&line);
            if end {
                break;
            }
        }
        let header = |name: &str| {
            head.lines().skip(1).find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
        };
        let mut body = Vec::new();
        if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            body.resize(len, 0);
            if reader.read_exact(&mut body).is_err() {
                return;
            }
        } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            match read_chunked(&mut reader) {
                Some(b) => body = b,
                None => return,
            }
        }
        let request = Received {
            head: head.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        log.lock().unwrap().push(request.clone());
        let target = head.split_whitespace().nth(1).unwrap_or("").to_owned();
        let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let response = if target.contains("/info/refs") {
            git_refs(header("authorization").is_some())
        } else {
            let text = request.text();
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\nECHO\n{text}",
                text.len() + 5
            )
            .into_bytes()
        };
        let stream = reader.get_mut();
        if stream
            .write_all(&response)
            .and_then(|()| stream.flush())
            .is_err()
            || close
        {
            stream.conn.send_close_notify();
            let _ = stream.flush();
            return;
        }
    }
}

fn read_chunked(reader: &mut impl std::io::BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).ok()?;
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

/// git's smart HTTP: a Basic challenge, or an advertisement of one ref.
fn git_refs(authorized: bool) -> Vec<u8> {
    if !authorized {
        return b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"echo\"\r\nContent-Length: 0\r\n\r\n".to_vec();
    }
    fn pkt(line: &str) -> String {
        format!("{:04x}{line}", line.len() + 4)
    }
    let id = "1111111111111111111111111111111111111111";
    let body = format!(
        "{}0000{}{}0000",
        pkt("# service=git-upload-pack\n"),
        pkt(&format!("{id} HEAD\0symref=HEAD:refs/heads/main\n")),
        pkt(&format!("{id} refs/heads/main\n")),
    );
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/x-git-upload-pack-advertisement\r\nCache-Control: no-cache\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
