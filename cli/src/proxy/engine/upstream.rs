//! Connections to upstream servers: TCP, then TLS verified against the system roots plus the
//! extra roots envx was given (never skipped), then an HTTP/1.1 client connection.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::ProxyBody;
use super::target::Target;

/// A test or `--check` upstream: CONNECTs to `host` go to `addr`, and its certificate is
/// verified against `root_pem` alone.
#[derive(Clone, Debug)]
pub struct ExtraUpstream {
    /// The host name clients use (compared case-insensitively, any port).
    pub host: String,
    /// Where it really listens.
    pub addr: SocketAddr,
    /// The PEM certificate of the CA that signed its certificate.
    pub root_pem: Vec<u8>,
}

/// Reads every certificate of a PEM bundle.
///
/// # Errors
/// When the bundle holds no certificate, or one that does not parse.
pub fn parse_pem_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot read a certificate: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate found in the PEM data".to_owned());
    }
    Ok(certs)
}

/// A TLS client configuration trusting `roots`, offering HTTP/1.1 only.
///
/// # Errors
/// When a root does not parse as a certificate.
pub fn client_config(
    provider: &Arc<CryptoProvider>,
    roots: RootCertStore,
) -> Result<Arc<ClientConfig>, rustls::Error> {
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The system's bundle at its usual places (Debian and Ubuntu, Fedora and RHEL, openSUSE,
/// Alpine and macOS), for when `SSL_CERT_FILE` or `SSL_CERT_DIR` hides it from
/// rustls-native-certs.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The platform's trusted roots plus `extra` certificates. rustls-native-certs reads the file
/// named by `SSL_CERT_FILE` (or the folders of `SSL_CERT_DIR`) *instead of* the system store
/// when set, as OpenSSL does; envx wants both (a corporate CA in `SSL_CERT_FILE` must not
/// cost the public roots), so the system bundle is then read as well.
///
/// # Errors
/// When an extra certificate cannot be added.
pub fn system_roots(extra: &[CertificateDer<'static>]) -> Result<RootCertStore, rustls::Error> {
    let mut roots = RootCertStore::empty();
    // Unreadable platform certificates are skipped: the ones that load still verify.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let redirected = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    if redirected
        && let Some(bundle) = SYSTEM_BUNDLES
            .iter()
            .map(std::path::Path::new)
            .find(|p| p.is_file())
    {
        let loaded = rustls_native_certs::load_certs_from_paths(Some(bundle), None);
        roots.add_parsable_certificates(loaded.certs);
    }
    for cert in extra {
        roots.add(cert.clone())?;
    }
    Ok(roots)
}

/// Where to reach `target`: the extra upstream's address, or the name resolved by the system.
pub async fn connect_tcp(
    target: &Target,
    extra: Option<&ExtraUpstream>,
) -> std::io::Result<TcpStream> {
    let stream = match extra.filter(|x| target.same_host(&x.host)) {
        Some(x) => TcpStream::connect(x.addr).await?,
        None => TcpStream::connect((target.host.as_str(), target.port)).await?,
    };
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// An HTTP/1.1 client connection over verified TLS to `target`; the connection's driver runs
/// as its own task.
///
/// # Errors
/// When the upstream cannot be reached, its certificate does not verify, or HTTP fails (the
/// message names the step and the cause, never a value).
pub async fn connect(
    target: &Target,
    extra: Option<&ExtraUpstream>,
    config: Arc<ClientConfig>,
) -> Result<hyper::client::conn::http1::SendRequest<ProxyBody>, String> {
    let name = target
        .server_name()
        .ok_or_else(|| format!("{} is not a valid server name", target.host))?;
    let tcp = connect_tcp(target, extra)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let tls = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    let (sender, conn) = hyper::client::conn::http1::Builder::new()
        .handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    tokio::spawn(async move {
        // The connection ends when either side closes it; nothing to report.
        let _ = conn.await;
    });
    Ok(sender)
}
