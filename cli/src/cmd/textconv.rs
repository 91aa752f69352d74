//! `envx textconv FILE`: a git textconv driver that makes encrypted files readable in diffs.
//!
//! It runs on files from any branch, including untrusted ones, so it is inert: it never
//! expands a reference and never runs a `$(...)`, whatever the options.

use std::path::PathBuf;

use clap::Args;
use envx_core::crypto::{decode_payload, is_encrypted};
use envx_core::discover::KeysFileCache;
use envx_core::document::encode_value;
use envx_core::envfile::EnvFile;
use envx_core::fs::read_text;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::cmd::print_stdout;
use crate::context::Context;
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// Arguments of `envx textconv`.
#[derive(Args)]
pub struct TextconvArgs {
    /// The file git hands over (often a temporary copy of one side of a diff).
    file: PathBuf,
    /// The env file's real name, for the key names (git's temporary copy has another name).
    #[arg(long, value_name = "NAME")]
    name: Option<PathBuf>,
}

/// Prints the file with each ciphertext replaced by its plaintext where a private key is
/// available, and by a short fingerprint of the ciphertext where it is not.
pub fn run(args: &TextconvArgs, ctx: &Context, _ui: &Ui) -> Result<Exit, Failure> {
    let text = read_text(&args.file)?;
    let named = args.name.clone().unwrap_or_else(|| args.file.clone());
    let mut file = match EnvFile::from_text(&named, &text) {
        Ok(file) => file,
        // Not something envx can read: show it as it is rather than failing the diff.
        Err(_) => return print_stdout(&text),
    };
    let decryptor = file
        .decryptor(&ctx.search(&[], &[]), &mut KeysFileCache::default())
        .ok();
    let mut replacements = Vec::new();
    for (index, entry) in file.document().entries().iter().enumerate() {
        let stored = entry.value();
        if !is_encrypted(&stored) {
            continue;
        }
        let plain = decryptor
            .as_ref()
            .filter(|d| d.matching().is_some())
            .and_then(|d| d.decrypt(entry).ok())
            .and_then(|v| encode_value(v.expose_secret(), entry.quote()));
        let shown = match plain {
            Some(raw) => Zeroizing::new(raw),
            None => {
                let q = entry
                    .quote()
                    .as_char()
                    .map(String::from)
                    .unwrap_or_default();
                Zeroizing::new(format!("{q}encrypted:{}{q}", fingerprint(&stored)))
            }
        };
        replacements.push((index, shown));
    }
    for (index, raw) in replacements {
        file.document_mut().set_raw(index, &raw);
    }
    print_stdout(&Zeroizing::new(file.document().to_string()))
}

/// Eight hex digits of SHA-256 over the ciphertext: stable for the same ciphertext, and a
/// re-encryption shows as a change.
pub fn fingerprint(stored: &str) -> String {
    let bytes = decode_payload(stored).unwrap_or_else(|_| stored.as_bytes().to_vec());
    let digest = Sha256::digest(&bytes);
    digest[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        + "…"
}
