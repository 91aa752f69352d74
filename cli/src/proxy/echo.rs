//! The HTTPS echo server `envx run --proxy --check` probes clients against: it listens on a
//! loopback address with a certificate from its own in-memory CA, answers every request with
//! what it received (method, target, headers, body; the `Authorization` header also as the
//! response header `x-echo-authorization`), and keeps a copy for the caller to inspect. The proxy reaches it through [`super::engine::ExtraUpstream`].

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;
use http::{Request, Response, header};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

use super::engine::ca::Ca;

/// One request as the echo server received it.
#[derive(Clone)]
pub struct Received {
    /// Which connection it came on (counted from 0), to tell kept-alive connections apart.
    pub connection: u64,
    /// The method.
    pub method: String,
    /// The request target (path and query).
    pub target: String,
    /// The headers in order, names in lower case.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Received {
    // What the echo server received may be a real value: only the method is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Received")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl Received {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// The running echo server; dropping it stops it.
pub struct EchoServer {
    addr: SocketAddr,
    ca_pem: String,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for EchoServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl EchoServer {
    /// Listens on `ip` (a free port) with a certificate naming `ip` and every name in `names`.
    ///
    /// # Errors
    /// When the address cannot be bound, or the certificate made.
    pub fn start(ip: IpAddr, names: &[&str]) -> std::io::Result<EchoServer> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let ca = Ca::new("envx check CA", provider).map_err(std::io::Error::other)?;
        let ip_text = ip.to_string();
        let mut san: Vec<&str> = vec![&ip_text];
        san.extend_from_slice(names);
        let config = ca.leaf_config(&san).map_err(std::io::Error::other)?;
        let acceptor = TlsAcceptor::from(config);

        let listener = std::net::TcpListener::bind((ip, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let (stop, mut stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("envx-echo".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let mut connections = 0u64;
                    loop {
                        tokio::select! {
                            _ = &mut stopped => break,
                            accepted = listener.accept() => {
                                let Ok((tcp, _)) = accepted else { continue };
                                // Small TLS and HTTP writes go out at once, not after a delayed ACK.
                                let _ = tcp.set_nodelay(true);
                                tokio::spawn(serve(acceptor.clone(), tcp, log.clone(), connections));
                                connections += 1;
                            }
                        }
                    }
                });
            })?;
        Ok(EchoServer {
            addr,
            ca_pem: ca.cert_pem().to_owned(),
            received,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its CA's certificate (PEM), to verify it with.
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Every request received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    log: Arc<Mutex<Vec<Received>>>,
    connection: u64,
) {
    let Ok(tls) = acceptor.accept(tcp).await else {
        return;
    };
    let service = service_fn(move |req| echo(req, log.clone(), connection));
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(tls), service)
        .await;
}

async fn echo(
    req: Request<Incoming>,
    log: Arc<Mutex<Vec<Received>>>,
    connection: u64,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let received = Received {
        connection,
        method: parts.method.to_string(),
        target: parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect(),
        body: body.to_vec(),
    };
    let mut text = format!("{} {}\n", received.method, received.target).into_bytes();
    for (name, value) in &received.headers {
        text.extend_from_slice(name.as_bytes());
        text.extend_from_slice(b": ");
        text.extend_from_slice(value);
        text.push(b'\n');
    }
    text.push(b'\n');
    text.extend_from_slice(&received.body);
    log.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(received);
    let mut resp = Response::new(Full::new(Bytes::from(text)));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    // The credential comes back in a header too, to show that headers are scrubbed as well.
    if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
        resp.headers_mut()
            .insert("x-echo-authorization", auth.clone());
    }
    Ok(resp)
}
