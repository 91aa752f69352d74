//! The recipients file of one environment, in `age -R` format: a `# name` comment above each
//! recipient line, envx's own lines as `#` comments that age skips.
//!
//! ```text
//! #envx-seal v1 seq=2 line=1 text=… keys=alice:1a2b3c4d,ci:5e6f7a8b sig=…
//! # envx access: who can open DOTENV_PRIVATE_KEY_PRODUCTION (production.age beside this file)
//! # envx-wrapped sha256=<digest of production.age as last wrapped>
//! # alice
//! age1…
//! # ci
//! ssh-ed25519 AAAA… ci@runner
//! ```

use std::str::FromStr as _;

use sha2::{Digest as _, Sha256};

use super::identity::Callbacks;
use crate::seal::SEAL_PREFIX;

/// The comment that records the digest of the wrapped key envx made for this list.
pub const WRAPPED_PREFIX: &str = "# envx-wrapped sha256=";

/// What kind of recipient a line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientKind {
    /// An age X25519 recipient (`age1…`).
    X25519,
    /// An `ssh-ed25519` public key.
    SshEd25519,
    /// An `ssh-rsa` public key (works; envx warns about it).
    SshRsa,
    /// An age plugin recipient (`age1yubikey1…`), by plugin name.
    Plugin(String),
}

impl std::fmt::Display for RecipientKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::X25519 => f.write_str("age X25519"),
            Self::SshEd25519 => f.write_str("ssh-ed25519"),
            Self::SshRsa => f.write_str("ssh-rsa"),
            Self::Plugin(name) => write!(f, "age plugin {name}"),
        }
    }
}

/// One teammate (or runner) allowed to open the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The name from the `# name` comment above the line.
    pub name: String,
    /// The recipient line as written (trimmed).
    pub line: String,
    /// Its kind.
    pub kind: RecipientKind,
}

/// A parsed recipients file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipients {
    /// The recipients, in file order.
    pub entries: Vec<Recipient>,
    /// The digest of the wrapped key envx last made for this list.
    pub wrapped: Option<[u8; 32]>,
}

/// Is `name` usable as a recipient's name (it goes into the seal's `keys=` list)?
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@+-".contains(&b))
}

/// The kind of a recipient line, or why age cannot use it.
///
/// # Errors
/// A text naming what is wrong (the line is public, but is not repeated).
pub fn kind_of(line: &str) -> Result<RecipientKind, String> {
    if age::x25519::Recipient::from_str(line).is_ok() {
        return Ok(RecipientKind::X25519);
    }
    if line.starts_with("ssh-") {
        return match age::ssh::Recipient::from_str(line) {
            Ok(age::ssh::Recipient::SshEd25519(..)) => Ok(RecipientKind::SshEd25519),
            Ok(age::ssh::Recipient::SshRsa(..)) => Ok(RecipientKind::SshRsa),
            Err(_) => Err(
                "an ssh public key age cannot encrypt to (only ssh-ed25519 and ssh-rsa)".to_owned(),
            ),
        };
    }
    if let Ok(plugin) = age::plugin::Recipient::from_str(line) {
        return Ok(RecipientKind::Plugin(plugin.plugin().to_owned()));
    }
    Err("not an age recipient (age1…), ssh-ed25519 or ssh-rsa public key".to_owned())
}

/// Parses a recipients file. A recipient line without a `# name` comment right above it is
/// named `line-N`.
///
/// # Errors
/// `(line, what)` for a line age cannot use, or a name used twice.
pub fn parse(text: &str) -> Result<Recipients, (usize, String)> {
    let mut out = Recipients::default();
    let mut pending: Option<String> = None;
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim();
        if line.starts_with(SEAL_PREFIX) {
            continue;
        }
        if line.is_empty() {
            pending = None;
            continue;
        }
        if let Some(hex) = line.strip_prefix(WRAPPED_PREFIX) {
            out.wrapped = decode32(hex);
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let name = comment.trim();
            pending = valid_name(name).then(|| name.to_owned());
            continue;
        }
        let kind = kind_of(line).map_err(|e| (number, e))?;
        let name = pending.take().unwrap_or_else(|| format!("line-{number}"));
        if out.entries.iter().any(|e| e.name == name) {
            return Err((number, format!("the name {name} is used twice")));
        }
        out.entries.push(Recipient {
            name,
            line: line.to_owned(),
            kind,
        });
    }
    Ok(out)
}

/// The text of a recipients file (without its seal line).
pub fn render(private_name: &str, wrapped_name: &str, list: &Recipients) -> String {
    let mut out = format!(
        "# envx access: who can open {private_name} ({wrapped_name} beside this file). age -R format.\n"
    );
    if let Some(digest) = &list.wrapped {
        out.push_str(WRAPPED_PREFIX);
        out.push_str(&hex(digest));
        out.push('\n');
    }
    for entry in &list.entries {
        out.push_str(&format!("# {}\n{}\n", entry.name, entry.line));
    }
    out
}

/// The seal items of a list: each name with its recipient line.
pub fn items(list: &Recipients) -> Vec<(&str, &str)> {
    list.entries
        .iter()
        .map(|e| (e.name.as_str(), e.line.as_str()))
        .collect()
}

/// SHA-256 of `bytes`.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Encrypts `plaintext` to every recipient of `list`, armored.
///
/// # Errors
/// A recipient age cannot use, a plugin that cannot be found, or an encryption failure.
pub fn encrypt(
    plaintext: &[u8],
    list: &Recipients,
    callbacks: &Callbacks,
) -> Result<Vec<u8>, String> {
    use std::io::Write as _;
    let mut boxed: Vec<Box<dyn age::Recipient + Send>> = Vec::new();
    let mut plugins: Vec<(String, Vec<age::plugin::Recipient>)> = Vec::new();
    for entry in &list.entries {
        let failed = |e: String| format!("recipient {}: {e}", entry.name);
        match &entry.kind {
            RecipientKind::X25519 => boxed.push(Box::new(
                age::x25519::Recipient::from_str(&entry.line).map_err(|e| failed(e.to_string()))?,
            )),
            RecipientKind::SshEd25519 | RecipientKind::SshRsa => boxed.push(Box::new(
                age::ssh::Recipient::from_str(&entry.line)
                    .map_err(|_| failed("not an ssh public key age can use".to_owned()))?,
            )),
            RecipientKind::Plugin(name) => {
                let recipient = age::plugin::Recipient::from_str(&entry.line)
                    .map_err(|e| failed(e.to_string()))?;
                match plugins.iter_mut().find(|(n, _)| n == name) {
                    Some((_, list)) => list.push(recipient),
                    None => plugins.push((name.clone(), vec![recipient])),
                }
            }
        }
    }
    for (name, recipients) in plugins {
        let plugin =
            age::plugin::RecipientPluginV1::new(&name, &recipients, &[], callbacks.clone())
                .map_err(|e| format!("age plugin {name}: {e}"))?;
        boxed.push(Box::new(plugin));
    }
    let encryptor =
        age::Encryptor::with_recipients(boxed.iter().map(|r| r.as_ref() as &dyn age::Recipient))
            .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .map_err(|e| e.to_string())?;
    let mut writer = encryptor.wrap_output(armor).map_err(|e| e.to_string())?;
    writer.write_all(plaintext).map_err(|e| e.to_string())?;
    writer
        .finish()
        .and_then(age::armor::ArmoredWriter::finish)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode32(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
