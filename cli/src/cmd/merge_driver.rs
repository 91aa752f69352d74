//! `envx merge-driver %O %A %B`: git's merge driver for env files (installed by `git-setup`).

use std::path::PathBuf;

use clap::Args;
use envx_core::crypto::ENCRYPTED_PREFIX;
use envx_core::discover::KeysFileCache;
use envx_core::document::Entry;
use envx_core::envfile::EnvFile;
use envx_core::fs::{NewFileMode, read_text_if_exists, write_atomic};
use envx_core::merge::merge;

use zeroize::Zeroizing;

use crate::context::Context;
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// Arguments of `envx merge-driver`.
#[derive(Args)]
pub struct MergeDriverArgs {
    /// The common ancestor's version (%O).
    base: PathBuf,
    /// Our version (%A); the result is written here.
    ours: PathBuf,
    /// Their version (%B).
    theirs: PathBuf,
    /// The file's path in the repository (%P), for its key names and keys file.
    #[arg(long, value_name = "PATH")]
    path: Option<PathBuf>,
}

/// Merges key by key; exits 1 (as git expects) when a key conflicts.
pub fn run(args: &MergeDriverArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    // The three versions stay in wiped-on-drop buffers: a side may hold plaintext values.
    let read = |p: &PathBuf| -> Result<Zeroizing<String>, Failure> {
        Ok(read_text_if_exists(p)?.unwrap_or_default())
    };
    let (base, ours, theirs) = (read(&args.base)?, read(&args.ours)?, read(&args.theirs)?);
    let name = args.path.clone().unwrap_or_else(|| args.ours.clone());
    // Two different ciphertexts may hold the same value: with the private key, that is no conflict.
    let decryptor = EnvFile::from_text(&name, &ours)
        .ok()
        .and_then(|f| {
            f.decryptor(&ctx.search(&[], &[]), &mut KeysFileCache::default())
                .ok()
        })
        .filter(|d| d.matching().is_some());
    let same_value = |a: &Entry, b: &Entry| -> bool {
        let Some(d) = &decryptor else { return false };
        if !a.value_starts_with(ENCRYPTED_PREFIX) || !b.value_starts_with(ENCRYPTED_PREFIX) {
            return false;
        }
        matches!((d.decrypt(a), d.decrypt(b)), (Ok(x), Ok(y)) if x == y)
    };
    let merged = merge(&base, &ours, &theirs, &same_value);
    let text = Zeroizing::new(merged.text);
    write_atomic(&args.ours, text.as_bytes(), NewFileMode::Default)?;
    let shown = name.display();
    if merged.public_key_differs {
        ui.warn(&format!(
            "{shown}: the two sides have different public keys (one rotated the key pair); \
             keep one side, then re-set the other side's changes with `envx set`"
        ));
        return Ok(Exit::Error);
    }
    if !merged.conflicts.is_empty() {
        ui.warn(&format!(
            "{shown}: conflicting changes to {}",
            merged.conflicts.join(", ")
        ));
        return Ok(Exit::Error);
    }
    Ok(Exit::Success)
}
