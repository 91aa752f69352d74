//! `envx textconv FILE`: a git textconv driver that makes encrypted files readable in diffs.
//!
//! It runs on files from any branch, including untrusted ones, so it is inert: it never
//! expands a reference and never runs a `$(...)`, whatever the options.
//!
//! Each assignment is shown on one line as `KEY=[state] value`. The state in brackets right
//! after the first `=` is written by envx, never taken from the file (a key name cannot hold
//! `=` or `[`), so a file cannot fake it: a value that goes from encrypted to plaintext, or
//! back, is a changed line in `git diff` even when the value itself stays the same.

use std::collections::HashMap;
use std::path::PathBuf;

use clap::Args;
use envx_core::crypto::{ENCRYPTED_PREFIX, decode_payload};
use envx_core::discover::KeysFileCache;
use envx_core::document::{Document, Entry, encode_value};
use envx_core::envfile::EnvFile;
use envx_core::fs::read_text;
use envx_core::names::PUBLIC_KEY_PREFIX;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::cmd::print_stdout;
use crate::context::{Context, KeyCommand};
use crate::exit::Exit;
use crate::ui::{Failure, Ui, escape};

/// Arguments of `envx textconv`.
#[derive(Args)]
pub struct TextconvArgs {
    /// The file git hands over (often a temporary copy of one side of a diff).
    file: PathBuf,
    /// The env file's real name, for the key names (git's temporary copy has another name).
    #[arg(long, value_name = "NAME")]
    name: Option<PathBuf>,
    #[command(flatten)]
    key_command: KeyCommand,
}

/// How a value is stored: what a reviewer must see beside the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// `encrypted:…`.
    Encrypted,
    /// In clear text, though it is not a public key.
    Plaintext,
    /// A `DOTENV_PUBLIC_KEY*` line: in clear text by design.
    PublicKey,
}

impl State {
    /// The state of `entry`'s stored value.
    pub fn of(entry: &Entry) -> Self {
        if entry.key().starts_with(PUBLIC_KEY_PREFIX) {
            Self::PublicKey
        } else if entry.value_starts_with(ENCRYPTED_PREFIX) {
            Self::Encrypted
        } else {
            Self::Plaintext
        }
    }

    /// The word shown in brackets. PLAINTEXT is in capitals so that it stands out in a diff.
    pub fn word(self) -> &'static str {
        match self {
            Self::Encrypted => "encrypted",
            Self::Plaintext => "PLAINTEXT",
            Self::PublicKey => "public key",
        }
    }
}

/// Prints the file, one line per assignment, each value marked with its state and shown
/// decrypted where a private key is available, as a short fingerprint of the ciphertext where
/// it is not. Control and bidi characters are escaped everywhere.
pub fn run(args: &TextconvArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let text = read_text(&args.file)?;
    let named = args.name.clone().unwrap_or_else(|| args.file.clone());
    // A file envx refuses (a stray line, an unterminated quote, a bad public key) is still
    // shown and marked, but nothing in it is decrypted.
    // A failing key command must not break `git diff`: warn and show fingerprints.
    let supplied = ctx.supplied_keys(&args.key_command).unwrap_or_else(|e| {
        ui.warn(&e.to_string());
        Vec::new()
    });
    let decryptor = EnvFile::from_text(&named, &text).ok().and_then(|file| {
        file.decryptor(&ctx.search(&[], &supplied), &mut KeysFileCache::default())
            .ok()
            .filter(|d| d.matching().is_some())
    });
    let mut doc = Document::parse(&text);
    let mut first_seen: HashMap<Vec<u8>, String> = HashMap::new();
    let mut shown = Vec::new();
    for entry in doc.entries() {
        let state = State::of(entry);
        let mut words = state.word().to_owned();
        let value = match state {
            State::Encrypted => {
                let stored = entry.value();
                let payload = ciphertext_id(&stored);
                match first_seen.get(&payload) {
                    Some(key) => words.push_str(&format!(", same ciphertext as {key}")),
                    None => {
                        first_seen.insert(payload, entry.key().to_owned());
                    }
                }
                let plain = decryptor.as_ref().and_then(|d| d.decrypt(entry).ok());
                match plain {
                    Some(v) => Zeroizing::new(
                        encode_value(v.expose_secret(), entry.quote())
                            .unwrap_or_else(|| format!("\"{}\"", v.expose_secret())),
                    ),
                    None => {
                        let q = entry.quote().as_char().map(String::from);
                        let q = q.unwrap_or_default();
                        Zeroizing::new(format!("{q}encrypted:{}{q}", fingerprint(&stored)))
                    }
                }
            }
            State::Plaintext | State::PublicKey => Zeroizing::new(entry.raw().to_owned()),
        };
        let value = Zeroizing::new(escape(&value));
        shown.push(Zeroizing::new(format!("[{words}] {}", *value)));
    }
    for (index, raw) in shown.iter().enumerate() {
        doc.set_raw(index, raw);
    }
    let rendered = Zeroizing::new(doc.to_string());
    let rendered = Zeroizing::new(crate::cmd::seal::show_seal_state(&text, &rendered));
    print_stdout(&escape_lines(&rendered))
}

/// What identifies a ciphertext, whatever its quoting: its decoded bytes (or its text when it
/// does not decode).
pub fn ciphertext_id(stored: &str) -> Vec<u8> {
    decode_payload(stored).unwrap_or_else(|_| stored.as_bytes().to_vec())
}

/// Eight hex digits of SHA-256 over the ciphertext: stable for the same ciphertext, and a
/// re-encryption shows as a change.
pub fn fingerprint(stored: &str) -> String {
    let digest = Sha256::digest(ciphertext_id(stored));
    digest[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        + "…"
}

/// `text` with every line break (`\r\n`, `\r` or `\n`, as the parser counts them) made `\n`
/// and everything else in each line escaped.
fn escape_lines(text: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    let mut rest = text;
    while let Some(end) = rest.find(['\r', '\n']) {
        out.push_str(&Zeroizing::new(escape(&rest[..end])));
        out.push('\n');
        let skip = if rest[end..].starts_with("\r\n") {
            2
        } else {
            1
        };
        rest = &rest[end + skip..];
    }
    out.push_str(&Zeroizing::new(escape(rest)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_stay_and_other_controls_are_escaped() {
        assert_eq!(
            *escape_lines("# a\x1b[2J\r\nK=[x] v\rL=\u{202e}\n"),
            "# a\\x1b[2J\nK=[x] v\nL=\\u{202e}\n"
        );
    }
}
