//! Benchmark for `envx run --proxy` (run by `bench/bench.py --proxy`): request latency through
//! the proxy against a direct connection to the same local HTTPS upstream, side by side.
//!
//! Prints one JSON object:
//! - `keepalive_direct_ms`, `keepalive_proxy_ms`: median latency of a request on a kept-alive
//!   connection (the proxied one carries a placeholder that the proxy substitutes), the two
//!   alternated request by request;
//! - `new_direct_ms`, `new_proxy_ms`: median time from a new TCP connection to the first
//!   response (direct: TCP + TLS + request; proxied: TCP + CONNECT + TLS with the cached leaf +
//!   request, and the proxy's own upstream connection), alternated too.
//!
//! Usage: `proxy_latency [REQUESTS] [CONNECTIONS]`.

#![allow(clippy::unwrap_used)]

#[path = "../src/proxy"]
#[allow(dead_code)]
mod proxy {
    pub mod echo;
    pub mod engine;
}

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use envx_core::proxy::{HostPattern, Rule, Surfaces, Vault};
use http::Request;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use zeroize::Zeroizing;

use proxy::echo::EchoServer;
use proxy::engine::{ProxyConfig, RunningProxy};

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

fn trusting(pem: &str) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    Arc::new(
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

struct Client {
    upstream: SocketAddr,
    direct_tls: Arc<ClientConfig>,
    proxy_tls: Arc<ClientConfig>,
    proxy_port: u16,
    proxy_auth: String,
    placeholder: String,
}

impl Client {
    async fn direct(&self) -> Sender {
        let tcp = TcpStream::connect(self.upstream).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let tls = TlsConnector::from(self.direct_tls.clone())
            .connect(name(self.upstream), tcp)
            .await
            .unwrap();
        handshake(tls).await
    }

    async fn proxied(&self) -> Sender {
        let mut tcp = TcpStream::connect(("127.0.0.1", self.proxy_port))
            .await
            .unwrap();
        tcp.set_nodelay(true).unwrap();
        let authority = self.upstream.to_string();
        let connect = format!(
            "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nProxy-Authorization: {}\r\n\r\n",
            self.proxy_auth
        );
        tcp.write_all(connect.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(tcp.read_u8().await.unwrap());
        }
        assert!(head.starts_with(b"HTTP/1.1 200"));
        let tls = TlsConnector::from(self.proxy_tls.clone())
            .connect(name(self.upstream), tcp)
            .await
            .unwrap();
        handshake(tls).await
    }

    async fn request(&self, sender: &mut Sender) {
        let req = Request::get("/v1/bench")
            .header("host", self.upstream.to_string())
            .header("authorization", format!("Bearer {}", self.placeholder))
            .body(Full::new(Bytes::new()))
            .unwrap();
        sender.ready().await.unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.into_body().collect().await.unwrap();
    }
}

fn name(addr: SocketAddr) -> ServerName<'static> {
    ServerName::IpAddress(addr.ip().into())
}

async fn handshake<IO>(io: IO) -> Sender
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
}

fn median_ms(mut samples: Vec<Duration>) -> f64 {
    samples.sort_unstable();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

async fn measure(client: &Client, requests: usize, connections: usize) -> serde_json::Value {
    let mut direct = client.direct().await;
    let mut proxied = client.proxied().await;
    // Warm-up: the leaf, the upstream TLS configuration, the upstream connection.
    for _ in 0..20 {
        client.request(&mut direct).await;
        client.request(&mut proxied).await;
    }
    let (mut d, mut p) = (Vec::new(), Vec::new());
    for _ in 0..requests {
        let start = Instant::now();
        client.request(&mut direct).await;
        d.push(start.elapsed());
        let start = Instant::now();
        client.request(&mut proxied).await;
        p.push(start.elapsed());
    }
    let (mut nd, mut np) = (Vec::new(), Vec::new());
    for _ in 0..connections {
        let start = Instant::now();
        let mut sender = client.direct().await;
        client.request(&mut sender).await;
        nd.push(start.elapsed());
        let start = Instant::now();
        let mut sender = client.proxied().await;
        client.request(&mut sender).await;
        np.push(start.elapsed());
    }
    serde_json::json!({
        "requests": requests,
        "connections": connections,
        "keepalive_direct_ms": median_ms(d),
        "keepalive_proxy_ms": median_ms(p),
        "new_direct_ms": median_ms(nd),
        "new_proxy_ms": median_ms(np),
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let requests = args.next().map_or(500, |a| a.parse().unwrap());
    let connections = args.next().map_or(100, |a| a.parse().unwrap());
    let echo = EchoServer::start(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), &[]).unwrap();
    let upstream = echo.addr();
    let vault = Vault::new(vec![(
        "API_KEY".to_owned(),
        Zeroizing::new("sk-bench-0123456789abcdef0123456789".to_owned()),
        Rule {
            hosts: vec![HostPattern::parse(&upstream.to_string()).unwrap()],
            surfaces: Surfaces::default(),
        },
    )]);
    let placeholder = vault.placeholder("API_KEY").unwrap().to_string();
    let proxy = RunningProxy::start(ProxyConfig {
        vault,
        strict: false,
        audit: None,
        extra_roots_pem: Some(echo.ca_cert_pem().as_bytes().to_vec()),
        extra_upstream: None,
    })
    .unwrap();
    let url = proxy.proxy_url();
    let userinfo = url
        .strip_prefix("http://")
        .unwrap()
        .split_once('@')
        .unwrap()
        .0;
    let client = Client {
        upstream,
        direct_tls: trusting(echo.ca_cert_pem()),
        proxy_tls: trusting(proxy.ca_cert_pem()),
        proxy_port: proxy.port(),
        proxy_auth: format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(userinfo)
        ),
        placeholder,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(measure(&client, requests, connections));
    println!("{result}");
    let summary = proxy.shutdown();
    assert!(summary.keys[0].substitutions > 0);
}
