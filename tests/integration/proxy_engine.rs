//! The proxy engine behind `envx run --proxy`, driven directly (no child process): real TLS on
//! loopback, HTTPS upstreams on 127.0.0.2 and 127.0.0.3 with their own CAs, trusted by the
//! engine through `extra_roots_pem` only.

// The engine's files are compiled into this test binary as they are: the CLI crate has no
// library, and the engine uses no `crate::` path so that this works.
#[path = "../../cli/src/proxy"]
#[allow(dead_code)]
mod proxy {
    pub mod echo;
    pub mod engine;
}

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use envx_core::proxy::{HostPattern, Rule, Surfaces, Vault};
use http::{Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use zeroize::Zeroizing;

use proxy::echo::EchoServer;
use proxy::engine::ca::Ca;
use proxy::engine::{ExtraUpstream, ProxyConfig, RunningProxy};

const SECRET: &str = "sk-live-0123456789abcdef-api-secret";
const OTHER_SECRET: &str = "other-9876543210-zyxwvut-secret";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

fn rule(host: &str, surfaces: Surfaces) -> Rule {
    Rule {
        hosts: vec![HostPattern::parse(host).unwrap()],
        surfaces,
    }
}

fn header_only() -> Surfaces {
    Surfaces::default()
}

/// A vault with `API_KEY` (value [`SECRET`]) for `api_host` and `OTHER_KEY` for `other_host`,
/// and their placeholders.
fn vault(api_host: &str, api_surfaces: Surfaces, other_host: &str) -> (Vault, String, String) {
    let vault = Vault::new(vec![
        (
            "API_KEY".to_owned(),
            Zeroizing::new(SECRET.to_owned()),
            rule(api_host, api_surfaces),
        ),
        (
            "OTHER_KEY".to_owned(),
            Zeroizing::new(OTHER_SECRET.to_owned()),
            rule(other_host, header_only()),
        ),
    ]);
    let api = vault.placeholder("API_KEY").unwrap().to_string();
    let other = vault.placeholder("OTHER_KEY").unwrap().to_string();
    (vault, api, other)
}

fn config(vault: Vault, roots: &[&str]) -> ProxyConfig {
    ProxyConfig {
        vault,
        strict: false,
        audit: None,
        extra_roots_pem: (!roots.is_empty()).then(|| roots.concat().into_bytes()),
        extra_upstream: None,
    }
}

/// Two echo servers (127.0.0.2 = `a`, 127.0.0.3 = `b`), `API_KEY` ruled for `a`, `OTHER_KEY`
/// for `b` (so both are intercepted), and a proxy trusting both.
struct Two {
    a: EchoServer,
    b: EchoServer,
    api: String,
    other: String,
    proxy: RunningProxy,
}

fn two(api_surfaces: Surfaces, edit: impl FnOnce(&mut ProxyConfig)) -> Two {
    let a = EchoServer::start(loopback(2), &[]).unwrap();
    let b = EchoServer::start(loopback(3), &[]).unwrap();
    let (vault, api, other) = vault(&a.addr().to_string(), api_surfaces, &b.addr().to_string());
    let mut cfg = config(vault, &[a.ca_cert_pem(), b.ca_cert_pem()]);
    edit(&mut cfg);
    let proxy = RunningProxy::start(cfg).unwrap();
    Two {
        a,
        b,
        api,
        other,
        proxy,
    }
}

/// `Basic base64(envx:CREDENTIAL)`, taken from the proxy URL as a client would.
fn proxy_auth(proxy: &RunningProxy) -> String {
    let url = proxy.proxy_url();
    let userinfo = url
        .strip_prefix("http://")
        .unwrap()
        .split_once('@')
        .unwrap()
        .0;
    format!("Basic {}", B64.encode(userinfo))
}

async fn read_head<IO: AsyncRead + Unpin>(io: &mut IO) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(
            io.read(&mut byte).await.unwrap(),
            1,
            "connection closed in a head"
        );
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

fn status_of(head: &str) -> u16 {
    head.split(' ').nth(1).unwrap().parse().unwrap()
}

/// Sends CONNECT to the proxy; returns the status and the connection.
async fn connect(proxy: &RunningProxy, authority: &str, auth: Option<&str>) -> (u16, TcpStream) {
    let mut tcp = TcpStream::connect(("127.0.0.1", proxy.port()))
        .await
        .unwrap();
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(auth) = auth {
        request.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let head = read_head(&mut tcp).await;
    (status_of(&head), tcp)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration trusting exactly the certificates in `pem`.
fn trusting(pem: &str) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    Arc::new(
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn server_name(name: &str) -> ServerName<'static> {
    ServerName::try_from(name.to_owned()).unwrap()
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn http<IO>(io: IO) -> Sender
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
}

/// CONNECT to `addr` through the proxy, TLS trusting the proxy's CA, HTTP/1.1 on top.
async fn through(proxy: &RunningProxy, addr: SocketAddr) -> Sender {
    let (status, tcp) = connect(proxy, &addr.to_string(), Some(&proxy_auth(proxy))).await;
    assert_eq!(status, 200);
    let tls = TlsConnector::from(trusting(proxy.ca_cert_pem()))
        .connect(server_name(&addr.ip().to_string()), tcp)
        .await
        .unwrap();
    http(tls).await
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

async fn send(sender: &mut Sender, req: Request<Full<Bytes>>) -> Reply {
    sender.ready().await.unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn get(addr: SocketAddr, path: &str) -> http::request::Builder {
    Request::get(path).header("host", addr.to_string())
}

fn empty() -> Full<Bytes> {
    Full::new(Bytes::new())
}

fn header_of(r: &proxy::echo::Received, name: &str) -> String {
    String::from_utf8(r.header(name).unwrap_or_default().to_vec()).unwrap()
}

#[tokio::test]
async fn requests_without_the_run_credential_get_407_and_go_nowhere() {
    let t = two(header_only(), |_| {});
    let a = t.a.addr().to_string();
    let url = t.proxy.proxy_url();
    let credential = url[..url.find('@').unwrap()]
        .strip_prefix("http://envx:")
        .unwrap();
    assert_eq!(credential.len(), 32);
    assert!(
        credential
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    assert!(url.ends_with(&format!("@127.0.0.1:{}", t.proxy.port())));

    let wrong = format!("Basic {}", B64.encode(format!("envx:{}", "a".repeat(32))));
    let wrong_user = format!("Basic {}", B64.encode(format!("user:{credential}")));
    for auth in [
        None,
        Some(wrong.as_str()),
        Some(wrong_user.as_str()),
        Some("Bearer x"),
    ] {
        let (status, _) = connect(&t.proxy, &a, auth).await;
        assert_eq!(status, 407, "{auth:?}");
    }
    // A plain-HTTP request without it too.
    let mut tcp = TcpStream::connect(("127.0.0.1", t.proxy.port()))
        .await
        .unwrap();
    tcp.write_all(format!("GET http://{a}/ HTTP/1.1\r\nHost: {a}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    assert_eq!(status_of(&read_head(&mut tcp).await), 407);

    // With it, the same request goes through.
    let mut sender = through(&t.proxy, t.a.addr()).await;
    let reply = send(&mut sender, get(t.a.addr(), "/").body(empty()).unwrap()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(t.a.received().len(), 1);
}

/// A plain TCP server that sends back every byte it reads.
async fn tcp_echo(ip: IpAddr) -> SocketAddr {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = tcp.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn connect_to_a_host_no_rule_names_is_tunnelled_byte_for_byte() {
    let t = two(header_only(), |_| {});
    let auth = proxy_auth(&t.proxy);
    let raw = tcp_echo(loopback(4)).await;
    let (status, mut tcp) = connect(&t.proxy, &raw.to_string(), Some(&auth)).await;
    assert_eq!(status, 200);
    let sent: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let (mut r, mut w) = tcp.split();
    let (_, received) = tokio::join!(
        async {
            w.write_all(&sent).await.unwrap();
        },
        async {
            let mut buf = vec![0u8; sent.len()];
            r.read_exact(&mut buf).await.unwrap();
            buf
        }
    );
    assert!(received == sent, "the tunnel changed bytes");

    // TLS through the tunnel is the upstream's own (its CA, not the run's), and a
    // placeholder in it stays a placeholder: nothing is intercepted.
    let c = EchoServer::start(loopback(4), &[]).unwrap();
    let (status, tcp) = connect(&t.proxy, &c.addr().to_string(), Some(&auth)).await;
    assert_eq!(status, 200);
    let tls = TlsConnector::from(trusting(c.ca_cert_pem()))
        .connect(server_name("127.0.0.4"), tcp)
        .await
        .unwrap();
    let mut sender = http(tls).await;
    let req = get(c.addr(), "/")
        .header("authorization", format!("Bearer {}", t.api))
        .body(empty())
        .unwrap();
    assert_eq!(send(&mut sender, req).await.status, 200);
    let got = c.received();
    assert_eq!(
        header_of(&got[0], "authorization"),
        format!("Bearer {}", t.api)
    );
}

async fn peer_leaf(
    proxy: &RunningProxy,
    addr: SocketAddr,
    roots: &str,
) -> std::io::Result<Vec<u8>> {
    let (status, tcp) = connect(proxy, &addr.to_string(), Some(&proxy_auth(proxy))).await;
    assert_eq!(status, 200);
    let tls = TlsConnector::from(trusting(roots))
        .connect(server_name(&addr.ip().to_string()), tcp)
        .await?;
    Ok(tls.get_ref().1.peer_certificates().unwrap()[0].to_vec())
}

#[tokio::test]
async fn connect_to_a_ruled_host_is_intercepted_with_a_cached_leaf_from_the_run_ca() {
    let t = two(header_only(), |_| {});
    let first = peer_leaf(&t.proxy, t.a.addr(), t.proxy.ca_cert_pem())
        .await
        .unwrap();
    let second = peer_leaf(&t.proxy, t.a.addr(), t.proxy.ca_cert_pem())
        .await
        .unwrap();
    assert_eq!(first, second, "the leaf for a host is made once");
    let other_host = peer_leaf(&t.proxy, t.b.addr(), t.proxy.ca_cert_pem())
        .await
        .unwrap();
    assert_ne!(first, other_host);
    // A client trusting only the upstream's real CA sees the interception.
    assert!(
        peer_leaf(&t.proxy, t.a.addr(), t.a.ca_cert_pem())
            .await
            .is_err()
    );
    assert!(!t.proxy.ca_cert_pem().contains("PRIVATE"));
}

#[tokio::test]
async fn a_host_header_other_than_the_connect_target_gets_421_and_is_not_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let file = std::fs::File::create(&log).unwrap();
    let t = two(header_only(), |c| c.audit = Some(file));
    let mut sender = through(&t.proxy, t.a.addr()).await;
    let a = t.a.addr();
    for host in [
        t.b.addr().to_string(),
        format!("127.0.0.2:{}", a.port() + 1),
        "127.0.0.2".to_owned(),
        "example.com".to_owned(),
    ] {
        let req = Request::get("/")
            .header("host", &host)
            .header("authorization", format!("Bearer {}", t.api))
            .body(empty())
            .unwrap();
        assert_eq!(send(&mut sender, req).await.status, 421, "{host}");
    }
    // An absolute-form target naming another host, with a matching Host, is refused too.
    let req = Request::get(format!("https://{}/", t.b.addr()))
        .header("host", a.to_string())
        .body(empty())
        .unwrap();
    assert_eq!(send(&mut sender, req).await.status, 421);
    assert!(t.a.received().is_empty() && t.b.received().is_empty());
    // The connection stays usable, and a matching Host (any case) goes through.
    let req = Request::get("/")
        .header("host", format!("127.0.0.2:{}", a.port()))
        .body(empty())
        .unwrap();
    assert_eq!(send(&mut sender, req).await.status, 200);
    assert_eq!(t.a.received().len(), 1);
    // Each refused request that carried a placeholder is in the log, as refused.
    drop(sender);
    t.proxy.shutdown();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{text}");
    for line in lines {
        assert_eq!(line["status"], 421);
        assert_eq!(line["outcome"], "refused");
        assert_eq!(line["refused"], serde_json::json!(["API_KEY"]));
    }
}

/// Accepts any certificate: lets the test send an SNI the leaf does not name, to see that the
/// proxy (not only the client) refuses.
#[derive(Debug)]
struct AcceptAnything;

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[tokio::test]
async fn an_sni_other_than_the_connect_target_gets_421_and_is_not_forwarded() {
    let t = two(header_only(), |_| {});
    let mut config = (*trusting(t.proxy.ca_cert_pem())).clone();
    config
        .dangerous()
        .set_certificate_verifier(Arc::new(AcceptAnything));
    let (status, tcp) = connect(
        &t.proxy,
        &t.a.addr().to_string(),
        Some(&proxy_auth(&t.proxy)),
    )
    .await;
    assert_eq!(status, 200);
    let tls = TlsConnector::from(Arc::new(config))
        .connect(server_name("elsewhere.example"), tcp)
        .await
        .unwrap();
    let mut sender = http(tls).await;
    let req = get(t.a.addr(), "/")
        .header("authorization", format!("Bearer {}", t.api))
        .body(empty())
        .unwrap();
    assert_eq!(send(&mut sender, req).await.status, 421);
    assert!(t.a.received().is_empty());
}

#[tokio::test]
async fn placeholders_become_values_only_where_their_rule_allows_and_echoes_are_scrubbed() {
    let t = two(header_only(), |_| {});
    let mut to_a = through(&t.proxy, t.a.addr()).await;
    let basic = B64.encode(format!("git:{}", t.api));
    let req = get(t.a.addr(), "/v1/models?q=1")
        .header("authorization", format!("Bearer {}", t.api))
        .header("x-basic", format!("Basic {basic}"))
        .header("x-other", &t.other)
        .header("accept-encoding", "gzip, br")
        .body(empty())
        .unwrap();
    let reply = send(&mut to_a, req).await;
    assert_eq!(reply.status, 200);
    let got = t.a.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        header_of(&got[0], "authorization"),
        format!("Bearer {SECRET}")
    );
    // OTHER_KEY is for b only: its placeholder reaches a unchanged.
    assert_eq!(header_of(&got[0], "x-other"), t.other);
    assert_eq!(header_of(&got[0], "accept-encoding"), "identity");
    assert_eq!(got[0].target, "/v1/models?q=1");
    // The echo carried the real value back; the client sees the placeholder.
    assert!(!reply.body.contains(SECRET), "{}", reply.body);
    assert!(
        reply
            .body
            .contains(&format!("authorization: Bearer {}", t.api))
    );
    assert_eq!(
        reply.headers["x-echo-authorization"],
        format!("Bearer {}", t.api).as_str(),
        "response headers are scrubbed too"
    );

    // Basic auth as git sends it: decoded, substituted, encoded again.
    let req = get(t.a.addr(), "/repo.git/info/refs")
        .header("authorization", format!("Basic {basic}"))
        .body(empty())
        .unwrap();
    assert_eq!(send(&mut to_a, req).await.status, 200);
    let got = t.a.received();
    let sent = header_of(&got[1], "authorization");
    let decoded = B64.decode(sent.strip_prefix("Basic ").unwrap()).unwrap();
    assert_eq!(decoded, format!("git:{SECRET}").as_bytes());

    // API_KEY's placeholder sent to b stays a placeholder.
    let mut to_b = through(&t.proxy, t.b.addr()).await;
    let req = get(t.b.addr(), "/")
        .header("authorization", format!("Bearer {}", t.api))
        .body(empty())
        .unwrap();
    assert_eq!(send(&mut to_b, req).await.status, 200);
    let got = t.b.received();
    assert_eq!(
        header_of(&got[0], "authorization"),
        format!("Bearer {}", t.api)
    );
}

#[tokio::test]
async fn strict_answers_403_for_a_refused_placeholder_and_forwards_nothing() {
    let t = two(header_only(), |c| c.strict = true);
    let mut to_b = through(&t.proxy, t.b.addr()).await;
    let req = get(t.b.addr(), "/")
        .header("authorization", format!("Bearer {}", t.api))
        .body(empty())
        .unwrap();
    let reply = send(&mut to_b, req).await;
    assert_eq!(reply.status, 403);
    assert!(reply.body.contains("API_KEY"));
    assert!(t.b.received().is_empty());
    // The allowed use still works, on the same proxy.
    let mut to_a = through(&t.proxy, t.a.addr()).await;
    let req = get(t.a.addr(), "/")
        .header("authorization", format!("Bearer {}", t.api))
        .body(empty())
        .unwrap();
    assert_eq!(send(&mut to_a, req).await.status, 200);
    assert_eq!(
        header_of(&t.a.received()[0], "authorization"),
        format!("Bearer {SECRET}")
    );
}

#[tokio::test]
async fn request_bodies_get_values_only_for_a_rule_with_body() {
    let body_too = Surfaces {
        header: true,
        query: false,
        body: true,
    };
    let t = two(body_too, |_| {});
    let mut to_a = through(&t.proxy, t.a.addr()).await;
    let text = format!("{{\"key\":\"{}\",\"other\":\"{}\"}}", t.api, t.other);
    let req = Request::post("/")
        .header("host", t.a.addr().to_string())
        .header("content-length", text.len())
        .body(Full::new(Bytes::from(text.clone())))
        .unwrap();
    assert_eq!(send(&mut to_a, req).await.status, 200);
    let got = t.a.received();
    let expected = format!("{{\"key\":\"{SECRET}\",\"other\":\"{}\"}}", t.other);
    assert_eq!(String::from_utf8(got[0].body.clone()).unwrap(), expected);
    assert_eq!(
        header_of(&got[0], "content-length"),
        expected.len().to_string()
    );

    // The same body to b, whose rule has no body surface: untouched.
    let mut to_b = through(&t.proxy, t.b.addr()).await;
    let req = Request::post("/")
        .header("host", t.b.addr().to_string())
        .body(Full::new(Bytes::from(text.clone())))
        .unwrap();
    assert_eq!(send(&mut to_b, req).await.status, 200);
    assert_eq!(t.b.received()[0].body, text.as_bytes());
}

#[tokio::test]
async fn a_large_request_body_is_streamed_and_substituted() {
    let body_too = Surfaces {
        header: true,
        query: false,
        body: true,
    };
    let t = two(body_too, |_| {});
    let mut to_a = through(&t.proxy, t.a.addr()).await;
    // Over the 1 MiB read whole: streamed, with the placeholder at both ends and in between.
    let filler = "x".repeat(700_000);
    let text = format!("{0}{1}{0}{1}{0}", t.api, filler);
    let req = Request::post("/upload")
        .header("host", t.a.addr().to_string())
        .body(Full::new(Bytes::from(text)))
        .unwrap();
    assert_eq!(send(&mut to_a, req).await.status, 200);
    let got = t.a.received();
    let expected = format!("{0}{1}{0}{1}{0}", SECRET, filler);
    assert!(got[0].body == expected.as_bytes(), "body not substituted");
    assert!(got[0].header("content-length").is_none());
    assert_eq!(header_of(&got[0], "transfer-encoding"), "chunked");
}

#[tokio::test]
async fn upstream_certificates_are_verified() {
    // No extra roots: the upstream's test CA is not trusted, so nothing is sent to it.
    let t = two(header_only(), |c| c.extra_roots_pem = None);
    let mut to_a = through(&t.proxy, t.a.addr()).await;
    let req = get(t.a.addr(), "/")
        .header("authorization", format!("Bearer {}", t.api))
        .body(empty())
        .unwrap();
    assert_eq!(send(&mut to_a, req).await.status, 502);
    assert!(t.a.received().is_empty());
    // b's CA does not vouch for a either.
    let t2 = two(header_only(), |_| {});
    let mut cfg = config(
        vault(&t.a.addr().to_string(), header_only(), "127.0.0.3").0,
        &[t2.b.ca_cert_pem()],
    );
    cfg.strict = false;
    let proxy = RunningProxy::start(cfg).unwrap();
    let mut to_a = through(&proxy, t.a.addr()).await;
    let reply = send(&mut to_a, get(t.a.addr(), "/").body(empty()).unwrap()).await;
    assert_eq!(reply.status, 502);
    assert!(t.a.received().is_empty());
}

/// An HTTPS server that answers one request with a server-sent-events stream: one event, then
/// waits for `release`, then a second event carrying the real value, then the end.
async fn sse_server(release: tokio::sync::oneshot::Receiver<()>) -> (SocketAddr, String) {
    let ca = Ca::new("sse test CA", provider()).unwrap();
    let config = ca.leaf_config(&["127.0.0.2"]).unwrap();
    let listener = TcpListener::bind((loopback(2), 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = tokio_rustls::TlsAcceptor::from(config)
            .accept(tcp)
            .await
            .unwrap();
        read_head(&mut tls).await;
        let event = |text: &str| format!("{:x}\r\n{text}\r\n", text.len());
        let first = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{}",
            event("data: first\n\n")
        );
        tls.write_all(first.as_bytes()).await.unwrap();
        tls.flush().await.unwrap();
        release.await.unwrap();
        let rest = format!("{}0\r\n\r\n", event(&format!("data: second {SECRET}\n\n")));
        tls.write_all(rest.as_bytes()).await.unwrap();
        tls.flush().await.unwrap();
        let _ = tls.read(&mut [0u8; 1]).await;
    });
    (addr, ca.cert_pem().to_owned())
}

#[tokio::test]
async fn server_sent_events_arrive_as_they_are_sent_and_scrubbed() {
    let (release, released) = tokio::sync::oneshot::channel();
    let (addr, ca_pem) = sse_server(released).await;
    let (vault, api, _) = vault(&addr.to_string(), header_only(), "127.0.0.3");
    let proxy = RunningProxy::start(config(vault, &[&ca_pem])).unwrap();
    let mut sender = through(&proxy, addr).await;
    let req = get(addr, "/events")
        .header("authorization", format!("Bearer {api}"))
        .body(empty())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    // The server sends the second event only after the first has reached the client.
    let mut first = Vec::new();
    while !first.ends_with(b"\n\n") {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("the first event was held back until the response ended")
            .unwrap()
            .unwrap();
        first.extend_from_slice(&frame.into_data().unwrap());
    }
    assert_eq!(first, b"data: first\n\n");
    release.send(()).unwrap();
    let rest = body.collect().await.unwrap().to_bytes();
    assert_eq!(
        String::from_utf8_lossy(&rest),
        format!("data: second {api}\n\n")
    );
}

/// An HTTPS server on 127.0.0.2 that answers one request with `response`, whatever was asked.
async fn fixed_server(response: &'static [u8]) -> (SocketAddr, String) {
    let ca = Ca::new("fixed test CA", provider()).unwrap();
    let config = ca.leaf_config(&["127.0.0.2"]).unwrap();
    let listener = TcpListener::bind((loopback(2), 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = tokio_rustls::TlsAcceptor::from(config)
            .accept(tcp)
            .await
            .unwrap();
        read_head(&mut tls).await;
        tls.write_all(response).await.unwrap();
        tls.flush().await.unwrap();
        let _ = tls.read(&mut [0u8; 1]).await;
    });
    (addr, ca.cert_pem().to_owned())
}

#[tokio::test]
async fn a_compressed_response_is_refused_since_it_cannot_be_scrubbed() {
    // gzip of a body the scrubber would otherwise have to see through.
    let (addr, ca_pem) = fixed_server(
        b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 5\r\n\r\n\x1f\x8b\x08\x00\x00",
    )
    .await;
    let (vault, api, _) = vault(&addr.to_string(), header_only(), "127.0.0.3");
    let proxy = RunningProxy::start(config(vault, &[&ca_pem])).unwrap();
    let mut sender = through(&proxy, addr).await;
    let req = get(addr, "/")
        .header("authorization", format!("Bearer {api}"))
        .header("accept-encoding", "gzip")
        .body(empty())
        .unwrap();
    let reply = send(&mut sender, req).await;
    assert_eq!(reply.status, 502);
    assert!(reply.body.contains("compressed"), "{}", reply.body);
}

#[tokio::test]
async fn connections_are_kept_alive_on_both_sides() {
    let t = two(header_only(), |_| {});
    let mut to_a = through(&t.proxy, t.a.addr()).await;
    for i in 0..3 {
        let req = get(t.a.addr(), &format!("/{i}"))
            .header("authorization", format!("Bearer {}", t.api))
            .body(empty())
            .unwrap();
        assert_eq!(send(&mut to_a, req).await.status, 200);
    }
    let got = t.a.received();
    assert_eq!(got.len(), 3);
    assert!(
        got.iter().all(|r| r.connection == got[0].connection),
        "one upstream connection for one client connection"
    );
}

#[tokio::test]
async fn the_audit_log_has_a_line_per_placeholder_request_and_never_a_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let file = std::fs::File::create(&path).unwrap();
    let body_too = Surfaces {
        header: true,
        query: true,
        body: true,
    };
    let t = two(body_too, |c| c.audit = Some(file));
    let mut to_a = through(&t.proxy, t.a.addr()).await;
    // Allowed, in the query and a body.
    let req = Request::post(format!("/v1/chat?key={}&x=1", t.api))
        .header("host", t.a.addr().to_string())
        .body(Full::new(Bytes::from(format!("token={}", t.api))))
        .unwrap();
    assert_eq!(send(&mut to_a, req).await.status, 200);
    // No placeholder: no line.
    assert_eq!(
        send(&mut to_a, get(t.a.addr(), "/plain").body(empty()).unwrap())
            .await
            .status,
        200
    );
    // Refused: API_KEY's placeholder to b.
    let mut to_b = through(&t.proxy, t.b.addr()).await;
    let req = get(t.b.addr(), "/elsewhere?secret=1")
        .header("authorization", format!("Bearer {}", t.api))
        .body(empty())
        .unwrap();
    assert_eq!(send(&mut to_b, req).await.status, 200);
    assert!(String::from_utf8_lossy(&t.a.received()[0].body).contains(SECRET));

    let summary = t.proxy.shutdown();
    let bytes = std::fs::read(&path).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        !text.contains(SECRET) && !text.contains(OTHER_SECRET),
        "{text}"
    );
    assert!(
        !text.contains("x=1") && !text.contains("secret=1"),
        "no query: {text}"
    );
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    let allowed = lines.iter().find(|l| l["path"] == "/v1/chat").unwrap();
    assert_eq!(allowed["outcome"], "allowed");
    assert_eq!(allowed["keys"], serde_json::json!(["API_KEY"]));
    assert_eq!(allowed["host"], "127.0.0.2");
    assert_eq!(allowed["port"], t.a.addr().port());
    assert_eq!(allowed["method"], "POST");
    assert_eq!(allowed["status"], 200);
    assert!(allowed["time"].as_str().unwrap().ends_with('Z'));
    let refused = lines.iter().find(|l| l["path"] == "/elsewhere").unwrap();
    assert_eq!(refused["outcome"], "refused");
    assert_eq!(refused["refused"], serde_json::json!(["API_KEY"]));
    assert_eq!(refused["host"], "127.0.0.3");

    let api = summary.keys.iter().find(|k| k.key == "API_KEY").unwrap();
    assert_eq!((api.substitutions, api.refused), (1, 1));
    assert_eq!(api.hosts, vec![t.a.addr().to_string()]);
    let other = summary.keys.iter().find(|k| k.key == "OTHER_KEY").unwrap();
    assert_eq!((other.substitutions, other.refused), (0, 0));
}

/// Every regular file under `dir` (two levels down), with its length and modification time.
fn files(dir: &Path, depth: u32, out: &mut HashMap<PathBuf, (u64, Option<SystemTime>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() && depth > 0 {
            files(&entry.path(), depth - 1, out);
        } else if meta.is_file() {
            out.insert(entry.path(), (meta.len(), meta.modified().ok()));
        }
    }
}

#[tokio::test]
async fn the_ca_private_key_is_never_written_to_a_file() {
    let dirs = [std::env::temp_dir(), std::env::current_dir().unwrap()];
    let snapshot = || {
        let mut all = HashMap::new();
        for dir in &dirs {
            files(dir, 2, &mut all);
        }
        all
    };
    let before = snapshot();
    let t = two(header_only(), |_| {});
    let mut to_a = through(&t.proxy, t.a.addr()).await;
    let req = get(t.a.addr(), "/")
        .header("authorization", format!("Bearer {}", t.api))
        .body(empty())
        .unwrap();
    assert_eq!(send(&mut to_a, req).await.status, 200);
    drop(t);
    let after = snapshot();
    // An EC private key, PEM (the armour is put together here, so that this file's own text,
    // in a log or a listing, does not match) or PKCS#8 DER (`INTEGER 0, SEQUENCE {
    // id-ecPublicKey`).
    let armours: Vec<Vec<u8>> = ["", "EC "]
        .iter()
        .map(|kind| format!("-----BEGIN {kind}{}-----", "PRIVATE KEY").into_bytes())
        .collect();
    let pkcs8_ec: &[u8] = &[
        0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
    ];
    // Other tests write files meanwhile: what matters is that no new or changed file holds a
    // private key.
    for (path, stamp) in &after {
        if before.get(path) == Some(stamp) || stamp.0 > 4 << 20 {
            continue;
        }
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let holds = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        assert!(
            !armours.iter().any(|a| holds(a)) && !holds(pkcs8_ec),
            "{} holds a private key",
            path.display()
        );
    }
}

#[tokio::test]
async fn plain_http_requests_are_forwarded_without_substitution() {
    let t = two(header_only(), |_| {});
    // A plain HTTP server on a's address space, which API_KEY's rule names (port aside).
    let listener = TcpListener::bind((loopback(2), 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (heads, mut seen) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let head = read_head(&mut tcp).await;
        tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            .await
            .unwrap();
        heads.send(head).await.unwrap();
    });
    let vault = vault(&addr.to_string(), header_only(), "127.0.0.3");
    let proxy = RunningProxy::start(config(vault.0, &[])).unwrap();
    let mut tcp = TcpStream::connect(("127.0.0.1", proxy.port()))
        .await
        .unwrap();
    let request = format!(
        "GET http://{addr}/x HTTP/1.1\r\nHost: {addr}\r\nProxy-Authorization: {}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        proxy_auth(&proxy),
        vault.1
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    assert_eq!(status_of(&read_head(&mut tcp).await), 200);
    let head = seen.recv().await.unwrap();
    assert!(head.starts_with("GET /x HTTP/1.1\r\n"), "{head}");
    assert!(head.contains(&format!("Bearer {}", vault.1)));
    assert!(!head.contains(SECRET));
    assert!(!head.to_ascii_lowercase().contains("proxy-authorization"));
    drop(t);
}

#[tokio::test]
async fn the_check_echo_server_is_reached_by_name_through_extra_upstream() {
    let echo = EchoServer::start(loopback(2), &["envx-check.test"]).unwrap();
    let (vault, api, _) = vault("envx-check.test", header_only(), "127.0.0.3");
    let mut cfg = config(vault, &[]);
    cfg.extra_upstream = Some(ExtraUpstream {
        host: "envx-check.test".to_owned(),
        addr: echo.addr(),
        root_pem: echo.ca_cert_pem().as_bytes().to_vec(),
    });
    let proxy = RunningProxy::start(cfg).unwrap();
    let (status, tcp) = connect(&proxy, "envx-check.test:443", Some(&proxy_auth(&proxy))).await;
    assert_eq!(status, 200);
    let tls = TlsConnector::from(trusting(proxy.ca_cert_pem()))
        .connect(server_name("envx-check.test"), tcp)
        .await
        .unwrap();
    let mut sender = http(tls).await;
    let req = Request::get("/")
        .header("host", "envx-check.test")
        .header("authorization", format!("Bearer {api}"))
        .body(empty())
        .unwrap();
    let reply = send(&mut sender, req).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        header_of(&echo.received()[0], "authorization"),
        format!("Bearer {SECRET}")
    );
    assert!(!reply.body.contains(SECRET));
    let summary = proxy.shutdown();
    let key = summary.keys.iter().find(|k| k.key == "API_KEY").unwrap();
    assert_eq!(key.hosts, vec!["envx-check.test:443".to_owned()]);
}
