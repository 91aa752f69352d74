//! Personal age identities: where envx looks for them, in order, and opening a wrapped key
//! with them.
//!
//! 1. `ENVX_IDENTITY`: the identity text itself (for CI, from the runner's secret store);
//! 2. `ENVX_IDENTITY_FILE`: a file holding identities (it must exist when set);
//! 3. `--identity-command CMD`: a command whose standard output is identity text;
//! 4. `identity.txt` in the user's config folder (`$XDG_CONFIG_HOME/envx`, else
//!    `~/.config/envx`), which `envx identity new` creates;
//! 5. `~/.ssh/id_ed25519`.
//!
//! An identity text is an age identity file (`AGE-SECRET-KEY-1…` lines, plugin identities
//! `AGE-PLUGIN-…`, `#` comments) or an OpenSSH private key. Sources are tried one after the
//! other and the first that opens the file wins; a source is read (a command run) only when
//! the earlier ones did not open it.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr as _;
use std::sync::{Arc, OnceLock};

use zeroize::Zeroizing;

use crate::policy::is_private_key_var;

/// The variable holding identity text.
pub const IDENTITY_VAR: &str = "ENVX_IDENTITY";
/// The variable naming an identity file.
pub const IDENTITY_FILE_VAR: &str = "ENVX_IDENTITY_FILE";
/// The identity file's name in the config folder.
pub const CONFIG_IDENTITY_NAME: &str = "identity.txt";

/// What a plugin (a hardware key) or a passphrase-protected ssh key may need from the user.
/// The library never prints: the command line decides how to ask.
pub trait Interact: Send + Sync {
    /// Shows a message (e.g. "touch your key").
    fn message(&self, text: &str);
    /// Asks for a passphrase; `None` when nobody can be asked.
    fn passphrase(&self, description: &str) -> Option<Zeroizing<String>>;
}

/// age's callbacks, forwarding to an [`Interact`] when there is one.
#[derive(Clone, Default)]
pub struct Callbacks(Option<Arc<dyn Interact>>);

impl Callbacks {
    /// Callbacks that ask through `interact`.
    pub fn new(interact: Arc<dyn Interact>) -> Self {
        Self(Some(interact))
    }
}

impl age::Callbacks for Callbacks {
    fn display_message(&self, message: &str) {
        if let Some(i) = &self.0 {
            i.message(message);
        }
    }

    fn confirm(&self, _: &str, _: &str, _: Option<&str>) -> Option<bool> {
        None
    }

    fn request_public_string(&self, _: &str) -> Option<String> {
        None
    }

    fn request_passphrase(&self, description: &str) -> Option<age::secrecy::SecretString> {
        let answer = self.0.as_ref()?.passphrase(description)?;
        Some(age::secrecy::SecretString::from(answer.as_str().to_owned()))
    }
}

enum Kind {
    Text(Zeroizing<String>),
    File {
        path: PathBuf,
        required: bool,
    },
    Command {
        command: String,
        env: Vec<(String, String)>,
    },
}

struct Source {
    label: String,
    kind: Kind,
    /// The text, read once: `Ok(None)` when an optional file is missing.
    text: OnceLock<Result<Option<Zeroizing<String>>, String>>,
}

impl Source {
    fn new(label: String, kind: Kind) -> Self {
        Self {
            label,
            kind,
            text: OnceLock::new(),
        }
    }

    fn text(&self) -> &Result<Option<Zeroizing<String>>, String> {
        self.text.get_or_init(|| match &self.kind {
            Kind::Text(text) => Ok(Some(text.clone())),
            Kind::File { path, required } => match std::fs::read(path) {
                Ok(bytes) => {
                    let bytes = Zeroizing::new(bytes);
                    match std::str::from_utf8(&bytes) {
                        Ok(text) => Ok(Some(Zeroizing::new(text.to_owned()))),
                        Err(_) => Err(format!("{}: not UTF-8 text", self.label)),
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(None),
                Err(e) => Err(format!("{}: {e}", self.label)),
            },
            Kind::Command { command, env } => run_command(command, env),
        })
    }
}

fn run_command(
    command: &str,
    env: &[(String, String)],
) -> Result<Option<Zeroizing<String>>, String> {
    let output = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("--identity-command could not start: {e}"))?;
    let stdout = Zeroizing::new(output.stdout);
    if !output.status.success() {
        return Err(format!("--identity-command failed ({})", output.status));
    }
    match std::str::from_utf8(&stdout) {
        Ok(text) => Ok(Some(Zeroizing::new(text.to_owned()))),
        Err(_) => Err("--identity-command printed something that is not UTF-8".to_owned()),
    }
}

/// The user's identities, in lookup order, read lazily.
pub struct Identities {
    sources: Vec<Source>,
    callbacks: Callbacks,
}

/// The outcome of trying to open a wrapped file.
pub struct Opened {
    /// The plaintext (wiped on drop).
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The source whose identity opened it (`ENVX_IDENTITY`, a path, `--identity-command`).
    pub source: String,
}

/// Why no identity opened a file: one line per source tried, never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotOpened {
    /// The file is not an age file (damaged): the reason.
    pub damaged: Option<String>,
    /// Each source tried and what happened (`ENVX_IDENTITY (age1qyz…): not a recipient`).
    pub tried: Vec<String>,
}

impl std::fmt::Display for NotOpened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(why) = &self.damaged {
            return write!(f, "not a valid age file: {why}");
        }
        if self.tried.is_empty() {
            return f.write_str("no identity found (none of ENVX_IDENTITY, ENVX_IDENTITY_FILE, --identity-command, the config folder's identity.txt, ~/.ssh/id_ed25519)");
        }
        write!(f, "no identity opens it; tried: {}", self.tried.join("; "))
    }
}

impl Identities {
    /// No identity at all (the library's default: a loader reads no identity unless asked).
    pub fn none() -> Self {
        Self {
            sources: Vec::new(),
            callbacks: Callbacks::default(),
        }
    }

    /// The documented lookup order over the environment `env` (a snapshot), with
    /// `identity_command` (`--identity-command`) in third place.
    pub fn from_env(env: &HashMap<String, String>, identity_command: Option<&str>) -> Self {
        let mut sources = Vec::new();
        if let Some(text) = env.get(IDENTITY_VAR).filter(|t| !t.trim().is_empty()) {
            sources.push(Source::new(
                IDENTITY_VAR.to_owned(),
                Kind::Text(Zeroizing::new(text.clone())),
            ));
        }
        if let Some(path) = env.get(IDENTITY_FILE_VAR).filter(|p| !p.is_empty()) {
            sources.push(Source::new(
                format!("{IDENTITY_FILE_VAR}={path}"),
                Kind::File {
                    path: PathBuf::from(path),
                    required: true,
                },
            ));
        }
        if let Some(command) = identity_command {
            let env = env
                .iter()
                .filter(|(k, _)| !is_private_key_var(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            sources.push(Source::new(
                "--identity-command".to_owned(),
                Kind::Command {
                    command: command.to_owned(),
                    env,
                },
            ));
        }
        if let Some(path) = config_identity_path(env) {
            sources.push(Source::new(
                path.display().to_string(),
                Kind::File {
                    path,
                    required: false,
                },
            ));
        }
        if let Some(home) = home(env) {
            let path = home.join(".ssh").join("id_ed25519");
            sources.push(Source::new(
                path.display().to_string(),
                Kind::File {
                    path,
                    required: false,
                },
            ));
        }
        Self {
            sources,
            callbacks: Callbacks::default(),
        }
    }

    /// Asks through `interact` when a plugin or an encrypted ssh key needs the user.
    #[must_use]
    pub fn with_callbacks(mut self, callbacks: Callbacks) -> Self {
        self.callbacks = callbacks;
        self
    }

    /// The callbacks given with [`Identities::with_callbacks`] (age plugins reach the user
    /// through them when a key is wrapped to a plugin recipient too).
    pub fn callbacks(&self) -> Callbacks {
        self.callbacks.clone()
    }

    /// The sources in lookup order, by label (for messages).
    pub fn labels(&self) -> Vec<&str> {
        self.sources.iter().map(|s| s.label.as_str()).collect()
    }

    /// Opens the age file `bytes` (armored or binary) with the first source whose identities
    /// can.
    ///
    /// # Errors
    /// [`NotOpened`], listing each source tried.
    pub fn open(&self, bytes: &[u8]) -> Result<Opened, NotOpened> {
        let mut tried = Vec::new();
        for source in &self.sources {
            let text = match source.text() {
                Ok(None) => continue,
                Ok(Some(text)) => text,
                Err(e) => {
                    tried.push(e.clone());
                    continue;
                }
            };
            let parsed = match parse_identities(text, &source.label, &self.callbacks) {
                Ok(parsed) => parsed,
                Err(e) => {
                    tried.push(e);
                    continue;
                }
            };
            let decryptor =
                age::Decryptor::new(age::armor::ArmoredReader::new(bytes)).map_err(|e| {
                    NotOpened {
                        damaged: Some(e.to_string()),
                        tried: Vec::new(),
                    }
                })?;
            let described = format!("{} ({})", source.label, parsed.described.join(", "));
            match decryptor.decrypt(parsed.identities.iter().map(|i| i.as_ref())) {
                Ok(mut reader) => {
                    let mut plaintext = Zeroizing::new(Vec::new());
                    match reader.read_to_end(&mut plaintext) {
                        Ok(_) => {
                            return Ok(Opened {
                                plaintext,
                                source: source.label.clone(),
                            });
                        }
                        Err(e) => tried.push(format!("{described}: {e}")),
                    }
                }
                Err(age::DecryptError::NoMatchingKeys) => {
                    tried.push(format!("{described}: not a recipient"));
                }
                Err(e) => tried.push(format!("{described}: {e}")),
            }
        }
        Err(NotOpened {
            damaged: None,
            tried,
        })
    }
}

/// `$XDG_CONFIG_HOME/envx/identity.txt`, else `$HOME/.config/envx/identity.txt` (absolute
/// paths only).
pub fn config_identity_path(env: &HashMap<String, String>) -> Option<PathBuf> {
    let absolute = |name: &str| env.get(name).map(PathBuf::from).filter(|p| p.is_absolute());
    absolute("XDG_CONFIG_HOME")
        .or_else(|| home(env).map(|h| h.join(".config")))
        .map(|folder| folder.join("envx").join(CONFIG_IDENTITY_NAME))
}

fn home(env: &HashMap<String, String>) -> Option<PathBuf> {
    env.get("HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

struct Parsed {
    identities: Vec<Box<dyn age::Identity>>,
    described: Vec<String>,
}

/// Parses identity text: an OpenSSH private key, or age identity lines.
fn parse_identities(text: &str, label: &str, callbacks: &Callbacks) -> Result<Parsed, String> {
    if text.trim_start().starts_with("-----BEGIN") {
        let identity = age::ssh::Identity::from_buffer(text.as_bytes(), Some(label.to_owned()))
            .map_err(|e| format!("{label}: {e}"))?;
        let described = match &identity {
            age::ssh::Identity::Unencrypted(_) => "ssh key",
            age::ssh::Identity::Encrypted(_) => "encrypted ssh key",
            age::ssh::Identity::Unsupported(_) => {
                return Err(format!("{label}: an ssh key type age does not support"));
            }
        };
        return Ok(Parsed {
            identities: vec![Box::new(identity.with_callbacks(callbacks.clone()))],
            described: vec![described.to_owned()],
        });
    }
    let mut described = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Ok(identity) = age::x25519::Identity::from_str(line) {
            described.push(short_recipient(&identity.to_public().to_string()));
        } else if let Ok(identity) = age::plugin::Identity::from_str(line) {
            described.push(format!("plugin {}", identity.plugin()));
        } else {
            // The line number only: the line may be a secret.
            return Err(format!(
                "{label}: line {} is not an age identity",
                number + 1
            ));
        }
    }
    if described.is_empty() {
        return Err(format!("{label}: holds no identity"));
    }
    let identities = age::IdentityFile::from_buffer(text.as_bytes())
        .map_err(|e| format!("{label}: {e}"))?
        .with_callbacks(callbacks.clone())
        .into_identities()
        .map_err(|e| format!("{label}: {e}"))?;
    Ok(Parsed {
        identities: identities
            .into_iter()
            .map(|i| i as Box<dyn age::Identity>)
            .collect(),
        described,
    })
}

/// `age1qyz…w3x`: enough of a recipient to recognise it.
pub fn short_recipient(recipient: &str) -> String {
    if recipient.len() <= 16 {
        return recipient.to_owned();
    }
    format!("{}…{}", &recipient[..10], &recipient[recipient.len() - 4..])
}

/// A new X25519 identity: the identity file's text (age-keygen's format) and its recipient.
pub fn generate() -> (Zeroizing<String>, String) {
    use age::secrecy::ExposeSecret as _;
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let secret = identity.to_string();
    let text = Zeroizing::new(format!(
        "# created by envx identity new\n# public key: {recipient}\n{}\n",
        secret.expose_secret()
    ));
    (text, recipient)
}

/// Writes a new identity file at `path`: its folder created 0700, the file 0600, never
/// replacing one that exists.
///
/// # Errors
/// The file exists, or cannot be written.
pub fn create_identity_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(folder) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            builder.mode(0o700);
        }
        builder.create(folder)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
