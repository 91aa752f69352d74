//! The proxy behind `envx run --proxy`: a tokio runtime on its own thread, listening on
//! 127.0.0.1 for the child's HTTP and CONNECT requests.
//!
//! - Every request must carry the per-run credential (`Proxy-Authorization: Basic`), else 407.
//! - A CONNECT to a host that no rule names is tunnelled byte for byte.
//! - A CONNECT to a host some rule names is intercepted: TLS is terminated with a leaf
//!   certificate from the per-run CA ([`ca`]), each HTTP/1.1 request is checked (its `Host`, and
//!   the SNI, must name the CONNECT target, else 421), its placeholders are replaced as the rules
//!   allow, and it is forwarded over TLS verified against the system roots plus the extra roots
//!   ([`upstream`]). Responses stream back with every real value replaced by its placeholder.
//! - A plain-HTTP request (`GET http://...`) is forwarded untouched: no secret goes out in clear.
//!
//! Only the module's own items are used here (no `crate::` paths), so the integration tests can
//! compile this file tree and drive the engine directly.

pub mod audit;
pub mod ca;
mod front;
mod intercept;
mod pump;
mod target;
pub(super) mod upstream;

use std::fs::File;
use std::net::Ipv4Addr;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use bytes::Bytes;
use envx_core::proxy::Vault;
use http_body_util::combinators::BoxBody;
use rand_core::{OsRng, RngCore};
use rustls::ClientConfig;
use rustls::crypto::CryptoProvider;
use tokio::sync::oneshot;
use zeroize::Zeroizing;

pub use audit::Summary;
pub use upstream::ExtraUpstream;

/// The error type carried by bodies and connection tasks.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Every body the proxy sends, to clients and to upstreams.
pub(crate) type ProxyBody = BoxBody<Bytes, BoxError>;

/// What the proxy needs to start.
pub struct ProxyConfig {
    /// The keys with a rule, their placeholders and real values.
    pub vault: Vault,
    /// `--proxy-strict`: a placeholder in a request head where its rule does not allow it gets
    /// 403, and the request is not forwarded.
    pub strict: bool,
    /// `--proxy-log`: the audit log, already created by the caller with mode 0600.
    pub audit: Option<File>,
    /// PEM certificates to trust for upstreams besides the system roots: the bundle named by
    /// `SSL_CERT_FILE` in envx's own environment.
    pub extra_roots_pem: Option<Vec<u8>>,
    /// Tests and `--check` only: one host name mapped to a local server with its own CA.
    pub extra_upstream: Option<ExtraUpstream>,
}

/// The proxy could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProxyError {
    /// Listening on 127.0.0.1 failed.
    Listen(std::io::Error),
    /// The runtime or its thread could not start.
    Runtime(std::io::Error),
    /// The per-run CA could not be made.
    Certificate(String),
    /// `extra_roots_pem` (or the extra upstream's root) is not a PEM certificate bundle.
    ExtraRoots(String),
}

impl std::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxyError::Listen(e) => write!(f, "proxy: cannot listen on 127.0.0.1: {e}"),
            ProxyError::Runtime(e) => write!(f, "proxy: cannot start: {e}"),
            ProxyError::Certificate(e) => write!(f, "proxy: per-run CA: {e}"),
            ProxyError::ExtraRoots(e) => write!(f, "proxy: extra trusted certificates: {e}"),
        }
    }
}

impl std::error::Error for ProxyError {}

/// What every connection shares.
pub(crate) struct Shared {
    vault: Vault,
    strict: bool,
    audit: audit::Audit,
    ca: ca::Ca,
    /// `envx:CREDENTIAL`, the decoded form of the only accepted `Proxy-Authorization`.
    auth: Zeroizing<Vec<u8>>,
    provider: Arc<CryptoProvider>,
    extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// Made on first use: reading the system roots takes a few milliseconds.
    upstream_tls: OnceLock<Result<Arc<ClientConfig>, String>>,
    extra_upstream: Option<(ExtraUpstream, Arc<ClientConfig>)>,
}

impl Shared {
    /// The TLS client configuration for `target`.
    fn client_config(&self, target: &target::Target) -> Result<Arc<ClientConfig>, String> {
        if let Some((x, config)) = &self.extra_upstream
            && target.same_host(&x.host)
        {
            return Ok(config.clone());
        }
        self.upstream_tls
            .get_or_init(|| {
                upstream::system_roots(&self.extra_roots)
                    .and_then(|roots| upstream::client_config(&self.provider, roots))
                    .map_err(|e| format!("cannot set up upstream TLS: {e}"))
            })
            .clone()
    }

    fn extra_upstream(&self) -> Option<&ExtraUpstream> {
        self.extra_upstream.as_ref().map(|(x, _)| x)
    }
}

/// The proxy, running. Dropping it stops it too; [`RunningProxy::shutdown`] also returns the
/// per-key figures.
pub struct RunningProxy {
    port: u16,
    credential: Zeroizing<String>,
    ca_pem: String,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningProxy")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl RunningProxy {
    /// Makes the per-run CA and credential, listens on 127.0.0.1 (a free port), and serves on
    /// a background thread until [`RunningProxy::shutdown`].
    ///
    /// # Errors
    /// When the port, the thread, the CA or the extra roots fail.
    pub fn start(config: ProxyConfig) -> Result<RunningProxy, ProxyError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let extra_roots = match &config.extra_roots_pem {
            Some(pem) => upstream::parse_pem_certs(pem).map_err(ProxyError::ExtraRoots)?,
            None => Vec::new(),
        };
        let extra_upstream = match config.extra_upstream {
            Some(x) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in
                    upstream::parse_pem_certs(&x.root_pem).map_err(ProxyError::ExtraRoots)?
                {
                    roots
                        .add(cert)
                        .map_err(|e| ProxyError::ExtraRoots(e.to_string()))?;
                }
                let tls = upstream::client_config(&provider, roots)
                    .map_err(|e| ProxyError::ExtraRoots(e.to_string()))?;
                Some((x, tls))
            }
            None => None,
        };
        let ca = ca::Ca::new("envx proxy CA (one run)", provider.clone())
            .map_err(|e| ProxyError::Certificate(e.0))?;
        let ca_pem = ca.cert_pem().to_owned();
        let credential = random_credential();
        let mut auth = Zeroizing::new(b"envx:".to_vec());
        auth.extend_from_slice(credential.as_bytes());
        let audit = audit::Audit::new(config.vault.placeholders().map(|(k, _)| k), config.audit);
        let shared = Arc::new(Shared {
            vault: config.vault,
            strict: config.strict,
            audit,
            ca,
            auth,
            provider,
            extra_roots,
            upstream_tls: OnceLock::new(),
            extra_upstream,
        });

        let listener =
            std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(ProxyError::Listen)?;
        listener.set_nonblocking(true).map_err(ProxyError::Listen)?;
        let port = listener.local_addr().map_err(ProxyError::Listen)?.port();

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(ProxyError::Runtime)?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(ProxyError::Runtime)?
        };
        let (stop, stopped) = oneshot::channel();
        let serving = shared.clone();
        let thread = std::thread::Builder::new()
            .name("envx-proxy".into())
            .spawn(move || runtime.block_on(front::accept_loop(serving, listener, stopped)))
            .map_err(ProxyError::Runtime)?;
        Ok(RunningProxy {
            port,
            credential,
            ca_pem,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://envx:CREDENTIAL@127.0.0.1:PORT`, for the child's `HTTPS_PROXY`. The credential
    /// keeps other local processes off the proxy: hand it to the child only.
    pub fn proxy_url(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "http://envx:{}@127.0.0.1:{}",
            self.credential.as_str(),
            self.port
        ))
    }

    /// The per-run CA's certificate, PEM (public; its key never leaves this process's memory).
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The per-key figures so far.
    pub fn summary(&self) -> Summary {
        self.shared.audit.summary()
    }

    /// Stops listening, closes every connection, and returns the per-key figures.
    pub fn shutdown(mut self) -> Summary {
        self.stop_thread();
        self.shared.audit.summary()
    }

    fn stop_thread(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

/// 32 characters from `[a-z0-9]`, from the OS's randomness (rejection sampling: no bias).
fn random_credential() -> Zeroizing<String> {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = Zeroizing::new(String::with_capacity(32));
    let mut buf = Zeroizing::new([0u8; 64]);
    while out.len() < 32 {
        OsRng.fill_bytes(buf.as_mut());
        for &b in buf.iter() {
            // 252 = 7 * 36: bytes at or above it would favour the first letters.
            if b < 252 && out.len() < 32 {
                out.push(char::from(ALPHABET[usize::from(b % 36)]));
            }
        }
    }
    out
}
