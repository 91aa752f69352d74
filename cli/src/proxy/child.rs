//! What a child of `envx run --proxy` gets besides its values: the proxy variables (with the
//! run's credential), `NO_PROXY`, and one CA bundle file that every common client is pointed
//! at.
//!
//! The bundle holds certificates only (the system roots, the bundles the parent environment
//! already named, and the run's CA); the run CA's private key stays in envx's memory. It is
//! written 0600 into a private (0700) temporary folder, and [`Bundle`] removes the folder when
//! it is dropped: at the end of the run, whatever way the child ended.

use std::collections::{BTreeSet, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use envx_core::proxy::{Disposition, Rule, RuleError, Vault, plan};
use envx_core::redact::Redactor;
use zeroize::Zeroizing;

/// One value the run would inject without `--proxy`.
pub struct Value {
    /// Its key.
    pub key: String,
    /// The real value.
    pub value: Zeroizing<String>,
    /// Was it stored encrypted? (`false` for `-e` and the environment's values.)
    pub encrypted: bool,
}

/// What the child gets under `--proxy`, and the vault the proxy works from.
pub struct ChildValues {
    /// The variables to set: placeholders, and real values the child may hold.
    pub set: Vec<(String, Zeroizing<String>)>,
    /// Keys the child does not get: encrypted without a rule, and not named by `--plain`.
    pub withheld: Vec<String>,
    /// Plaintext keys withheld because their value holds a withheld secret (a reference such
    /// as `URL=https://u:${PASSWORD}@db`).
    pub holds_withheld: Vec<String>,
    /// Keys whose value holds a ruled secret, which the child gets as its placeholder there.
    pub holds_ruled: Vec<String>,
    /// Every ruled key: its placeholder, real value and rule.
    pub vault: Vault,
}

/// Decides what the child gets for each of `values`, given the `rules` (file rules first, then
/// `--proxy-hosts`) and the keys named by `--plain`.
///
/// A value the child may hold can still embed a secret it may not hold, through a reference
/// (`URL=https://u:${PASSWORD}@db`): a ruled secret in it becomes its placeholder (the proxy
/// puts the real one back on the hosts the rule allows); a withheld one withholds the whole
/// value, unless the key is named by `--plain`.
///
/// # Errors
/// A rule or `--plain` naming a key that is not loaded, or a key both ruled and plain.
pub fn plan_values(
    values: Vec<Value>,
    rules: &[(String, Rule)],
    plain: &[String],
) -> Result<ChildValues, RuleError> {
    let flags: Vec<(String, bool)> = values
        .iter()
        .map(|v| (v.key.clone(), v.encrypted))
        .collect();
    let plan = plan(&flags, rules, plain)?;
    let value_of = |key: &str| values.iter().rev().find(|v| v.key == key);
    let entries = plan
        .ruled()
        .iter()
        .filter_map(|(key, rule)| {
            let value = value_of(key)?.value.clone();
            Some((key.clone(), value, rule.clone()))
        })
        .collect();
    let vault = Vault::new(entries);
    let withheld_pairs: Vec<(&str, &str)> = values
        .iter()
        .filter(|v| plan.get(&v.key) == Some(Disposition::Withheld))
        .map(|v| (v.key.as_str(), v.value.as_str()))
        .collect();
    let withheld_finder = Redactor::new(&withheld_pairs);
    let mut out = ChildValues {
        set: Vec::new(),
        withheld: Vec::new(),
        holds_withheld: Vec::new(),
        holds_ruled: Vec::new(),
        vault: Vault::new(Vec::new()),
    };
    for v in &values {
        match plan.get(&v.key) {
            Some(Disposition::Placeholder) => {
                if let Some(placeholder) = vault.placeholder(&v.key) {
                    let text = Zeroizing::new(placeholder.as_str().to_owned());
                    out.set.push((v.key.clone(), text));
                }
            }
            Some(Disposition::Withheld) | None => out.withheld.push(v.key.clone()),
            Some(Disposition::Real) => {
                let named = plain.iter().any(|p| p == &v.key);
                if !named && holds(&withheld_finder, &v.value) {
                    out.holds_withheld.push(v.key.clone());
                    continue;
                }
                let mut scrubber = vault.response_scrubber();
                let mut scrubbed = Zeroizing::new(Vec::with_capacity(v.value.len()));
                scrubber.feed(v.value.as_bytes(), &mut scrubbed);
                scrubber.finish(&mut scrubbed);
                if !scrubber.outcome().scrubbed.is_empty() {
                    out.holds_ruled.push(v.key.clone());
                }
                let text = String::from_utf8_lossy(&scrubbed).into_owned();
                out.set.push((v.key.clone(), Zeroizing::new(text)));
            }
        }
    }
    out.set.dedup_by(|a, b| a.0 == b.0);
    out.vault = vault;
    Ok(out)
}

/// Does `value` hold one of the secrets `finder` looks for (as is or encoded)?
fn holds(finder: &Redactor, value: &str) -> bool {
    if finder.is_empty() {
        return false;
    }
    let redacted = Zeroizing::new(finder.redact(value.as_bytes()));
    redacted.as_slice() != value.as_bytes()
}

/// The variables, read by common clients, that name a CA bundle file. The child gets each of
/// them pointing at the run's bundle; in the parent environment each may name a bundle the
/// run's bundle then includes.
pub const CA_VARIABLES: &[&str] = &[
    // OpenSSL (curl's and python's default store, ruby, php, ...), rustls-native-certs, Go.
    "SSL_CERT_FILE",
    "CURL_CA_BUNDLE",
    // python requests and httpx
    "REQUESTS_CA_BUNDLE",
    // node: added to its built-in roots
    "NODE_EXTRA_CA_CERTS",
    "GIT_SSL_CAINFO",
    // botocore and the AWS CLI
    "AWS_CA_BUNDLE",
    "PIP_CERT",
    "CARGO_HTTP_CAINFO",
    "DENO_CERT",
    "NIX_SSL_CERT_FILE",
    "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
    // npm and pnpm (`cafile`: replaces npm's roots, which is why the bundle holds the system's)
    "npm_config_cafile",
];

/// The hosts the child reaches directly, without the proxy.
pub const NO_PROXY: &str = "localhost,127.0.0.1,::1";

/// The variable that tells the child it runs behind the proxy.
pub const PROXY_MARKER: &str = "ENVX_PROXY";

/// The variable listing the keys the child holds as placeholders (comma-separated names).
pub const PLACEHOLDER_KEYS: &str = "ENVX_PROXY_PLACEHOLDERS";

/// Where the system's CA bundle usually lives, first match wins (Debian and Ubuntu, Fedora
/// and RHEL, openSUSE, Alpine, macOS and the BSDs).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/usr/local/share/certs/ca-root-nss.crt",
    "/usr/local/etc/openssl/cert.pem",
    "/opt/homebrew/etc/openssl@3/cert.pem",
];

/// The CA bundle file of one run; dropping it removes its folder.
pub struct Bundle {
    folder: tempfile::TempDir,
    path: PathBuf,
}

impl Bundle {
    /// Writes the bundle: the system roots, every bundle a variable of [`CA_VARIABLES`] names
    /// in `parent_env` (each certificate once), and `run_ca_pem`.
    ///
    /// # Errors
    /// When the folder or the file cannot be created or written.
    pub fn write(parent_env: &HashMap<String, String>, run_ca_pem: &str) -> std::io::Result<Self> {
        let text = bundle_text(parent_env, run_ca_pem);
        let folder = tempfile::Builder::new().prefix("envx-proxy-").tempdir()?;
        restrict_folder(folder.path())?;
        let path = folder.path().join("ca-bundle.pem");
        let mut file = create_private(&path)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        Ok(Self { folder, path })
    }

    /// The bundle file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder holding it (removed on drop).
    pub fn folder(&self) -> &Path {
        self.folder.path()
    }
}

/// The bundle's text: PEM certificates, each once, the run's CA last.
fn bundle_text(parent_env: &HashMap<String, String>, run_ca_pem: &str) -> String {
    let mut sources: Vec<String> = Vec::new();
    if let Some(system) = SYSTEM_BUNDLES.iter().find(|p| Path::new(p).is_file()) {
        sources.extend(std::fs::read_to_string(system).ok());
    }
    for name in CA_VARIABLES {
        let Some(file) = parent_env.get(*name).filter(|v| !v.is_empty()) else {
            continue;
        };
        // A variable naming something that is not a readable PEM file adds nothing: the
        // client that read it would have failed the same way without envx.
        sources.extend(std::fs::read_to_string(file).ok());
    }
    sources.push(run_ca_pem.to_owned());
    let mut seen = BTreeSet::new();
    let mut out = String::new();
    for source in &sources {
        for cert in pem_certificates(source) {
            let body: String = cert.split_whitespace().collect();
            if seen.insert(body) {
                out.push_str(cert);
                out.push('\n');
            }
        }
    }
    out
}

/// The `CERTIFICATE` blocks of a PEM text, each from its BEGIN line to its END line.
pub fn pem_certificates(text: &str) -> Vec<&str> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            break;
        };
        let end = start + len + END.len();
        out.push(&rest[start..end]);
        rest = &rest[end..];
    }
    out
}

#[cfg(unix)]
fn restrict_folder(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn restrict_folder(_: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Creates `path`, which must not exist, readable and writable by its owner only.
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

/// The variables added to the child's environment, replacing any of the same name: the proxy
/// (`proxy_url` carries the run's credential), `NO_PROXY`, every CA variable pointing at
/// `bundle`, `NODE_USE_ENV_PROXY=1`, and `ENVX_PROXY=1` with the placeholder keys' names.
pub fn proxy_variables(
    proxy_url: &str,
    bundle: &Path,
    placeholder_keys: &[&str],
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for name in ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"] {
        out.push((name.to_owned(), proxy_url.to_owned()));
    }
    for name in ["NO_PROXY", "no_proxy"] {
        out.push((name.to_owned(), NO_PROXY.to_owned()));
    }
    let bundle = bundle.to_string_lossy().into_owned();
    for name in CA_VARIABLES {
        out.push(((*name).to_owned(), bundle.clone()));
    }
    out.push(("NODE_USE_ENV_PROXY".to_owned(), "1".to_owned()));
    out.push((PROXY_MARKER.to_owned(), "1".to_owned()));
    out.push((PLACEHOLDER_KEYS.to_owned(), placeholder_keys.join(",")));
    out
}

/// Variables removed from the child's environment under `--proxy`: they would send its
/// traffic past envx's proxy, or to another one.
pub const REMOVED: &[&str] = &["ALL_PROXY", "all_proxy"];

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "-----BEGIN CERTIFICATE-----\ntest-cert-a\n-----END CERTIFICATE-----";
    const B: &str = "-----BEGIN CERTIFICATE-----\ntest-cert-b\n-----END CERTIFICATE-----";

    #[test]
    fn the_bundle_holds_each_certificate_once_and_the_run_ca_last() {
        let dir = tempfile::tempdir().unwrap();
        let named = dir.path().join("corp.pem");
        std::fs::write(&named, format!("# corp\n{A}\n{A}\r\n")).unwrap();
        let env = HashMap::from([
            ("SSL_CERT_FILE".to_owned(), named.display().to_string()),
            ("REQUESTS_CA_BUNDLE".to_owned(), named.display().to_string()),
            ("CURL_CA_BUNDLE".to_owned(), "/nonexistent/x.pem".to_owned()),
        ]);
        let text = bundle_text(&env, B);
        assert_eq!(text.matches("test-cert-a").count(), 1);
        assert!(text.trim_end().ends_with(B));
    }

    #[test]
    fn the_bundle_is_private_and_removed_on_drop() {
        let bundle = Bundle::write(&HashMap::new(), B).unwrap();
        let path = bundle.path().to_path_buf();
        let folder = bundle.folder().to_path_buf();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&folder), 0o700);
        }
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("test-cert-b")
        );
        drop(bundle);
        assert!(!folder.exists());
    }

    #[test]
    fn every_ca_variable_points_at_the_bundle() {
        let vars = proxy_variables("http://envx:c@127.0.0.1:1", Path::new("/b.pem"), &["K"]);
        let get = |n: &str| vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        for name in CA_VARIABLES {
            assert_eq!(get(name), Some("/b.pem"), "{name}");
        }
        assert_eq!(get("https_proxy"), Some("http://envx:c@127.0.0.1:1"));
        assert_eq!(get("NO_PROXY"), Some(NO_PROXY));
        assert_eq!(get(PLACEHOLDER_KEYS), Some("K"));
    }
}
