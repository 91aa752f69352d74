//! The per-run certificate authority: its key pair is made in memory when the proxy starts and
//! is never written anywhere; only its certificate (public) is handed out, for the child's CA
//! bundle. Leaf certificates are made on demand, one per host, and cached.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use rand_core::{OsRng, RngCore};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// A certificate could not be made (the message names no key material).
#[derive(Debug)]
pub struct CertError(pub String);

impl std::fmt::Display for CertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CertError {}

impl From<rcgen::Error> for CertError {
    fn from(e: rcgen::Error) -> Self {
        CertError(format!("cannot make a certificate: {e}"))
    }
}

impl From<rustls::Error> for CertError {
    fn from(e: rustls::Error) -> Self {
        CertError(format!("cannot use a certificate: {e}"))
    }
}

/// A CA held in memory, and the leaf certificates it signed, by host.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    /// One key pair for every leaf: making a key per host would cost time and buy nothing,
    /// since all leaves live and die with this process.
    leaf_key: KeyPair,
    leaf_signer: Arc<dyn rustls::sign::SigningKey>,
    provider: Arc<CryptoProvider>,
    leaves: Mutex<HashMap<String, Arc<ServerConfig>>>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ca")
    }
}

impl Ca {
    /// Makes a new CA; `name` goes into its subject (`envx proxy CA`, `envx check CA`).
    ///
    /// # Errors
    /// When a key or certificate cannot be made.
    pub fn new(name: &str, provider: Arc<CryptoProvider>) -> Result<Ca, CertError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "envx");
        // Signs leaves only, never another CA.
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.serial_number = Some(random_serial());
        validity(&mut params);
        let cert = params.self_signed(&key)?;
        let cert_pem = cert.pem();
        let leaf_key = KeyPair::generate()?;
        let leaf_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let leaf_signer = provider.key_provider.load_private_key(leaf_der)?;
        Ok(Ca {
            issuer: Issuer::new(params, key),
            cert_pem,
            leaf_key,
            leaf_signer,
            provider,
            leaves: Mutex::new(HashMap::new()),
        })
    }

    /// The CA's certificate in PEM (public: this is what clients are told to trust).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A TLS server configuration presenting a leaf for `host`, made once per host.
    ///
    /// # Errors
    /// When the certificate cannot be made (a host name rcgen refuses, say).
    pub fn server_config(&self, host: &str) -> Result<Arc<ServerConfig>, CertError> {
        if let Some(config) = self.lock().get(host) {
            return Ok(config.clone());
        }
        let config = self.leaf_config(&[host])?;
        self.lock().insert(host.to_owned(), config.clone());
        Ok(config)
    }

    /// Number of leaves made so far (one per host).
    pub fn leaf_count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<ServerConfig>>> {
        self.leaves
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A TLS server configuration presenting a new leaf naming every name in `names` (DNS
    /// names or IP literals), speaking HTTP/1.1 only.
    ///
    /// # Errors
    /// When the certificate cannot be made.
    pub fn leaf_config(&self, names: &[&str]) -> Result<Arc<ServerConfig>, CertError> {
        let mut params = CertificateParams::default();
        params.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName((*n).try_into()?)),
            })
            .collect::<Result<_, rcgen::Error>>()?;
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, *first);
        }
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        validity(&mut params);
        let cert = params.signed_by(&self.leaf_key, &self.issuer)?;
        let certified = CertifiedKey::new(
            vec![CertificateDer::from(cert.der().to_vec())],
            self.leaf_signer.clone(),
        );
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(OneCert(Arc::new(certified))));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Presents the same certificate whatever the client asks for; the caller checks the SNI.
#[derive(Debug)]
struct OneCert(Arc<CertifiedKey>);

impl ResolvesServerCert for OneCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// A random positive 16-byte serial, so two runs' certificates never share issuer and serial
/// (some clients refuse that).
fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}

/// From yesterday (clock skew) for 365 days: a run lasts far less, and some clients refuse
/// leaves valid for longer than 398 days.
fn validity(params: &mut CertificateParams) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(now / 86_400).unwrap_or(0) - 1;
    let (y, m, d) = super::audit::civil_from_days(days);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = super::audit::civil_from_days(days + 365);
    params.not_after = rcgen::date_time_ymd(y, m, d);
}
