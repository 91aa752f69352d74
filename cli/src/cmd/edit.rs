//! `envx edit -f FILE`: change an encrypted file in an editor.
//!
//! The decrypted text goes to a private temporary file (0600, in a 0700 folder of its own),
//! the editor runs on it, and what comes back is merged into the encrypted file: values that
//! did not change keep their exact ciphertext, changed and new values are encrypted, and no
//! other byte moves. Afterwards every file in the folder is overwritten with zeros and the
//! folder is removed, whatever happened.

use std::path::Path;
use std::process::Command;

use clap::Args;
use envx_core::discover::KeysFileCache;
use envx_core::edit;
use envx_core::envfile::EnvFile;
use envx_core::fs::{NewFileMode, lock_folders, read_text, write_atomic};
use envx_core::glob::Selection;
use envx_core::policy::is_private_key_var;
use zeroize::Zeroizing;

use crate::args::FileArgs;
use crate::cmd::show;
use crate::context::{Context, KeyCommand};
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

mod merge;
mod private_dir;

use merge::{merge, verify};
use private_dir::{PrivateDir, write_private};

/// Arguments of `envx edit`.
#[derive(Args)]
pub struct EditArgs {
    /// The env file to edit (one; default `.env`), and keys files.
    #[command(flatten)]
    files: FileArgs,
    #[command(flatten)]
    key_command: KeyCommand,
}

/// Decrypts, lets the user edit, and writes back only what changed.
pub fn run(args: &EditArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let path = &args.files.one("edit")?;
    let original = read_text(path)?;
    let file = EnvFile::from_text(path, &original)?;
    let supplied = ctx.supplied_keys(&args.key_command)?;
    let mut cache = KeysFileCache::default();
    let decryptor = file.decryptor(&ctx.search(&args.files.keys_files, &supplied), &mut cache)?;
    ui.warn_loose_keys_files(cache.loose_files());
    let mut plain = EnvFile::from_text(path, &original)?;
    edit::decrypt(&mut plain, &decryptor, &Selection::all())?;
    let shown = Zeroizing::new(plain.document().to_string());

    let edited = edit_in_editor(path, &shown, ctx, ui)?;
    if *edited == *shown {
        ui.info(&format!("{}: no changes; nothing written", show(path)));
        return Ok(Exit::Success);
    }
    let discarded = "nothing was written and the edit is discarded; run envx edit again";
    let edited = EnvFile::from_text(path, &edited)
        .map_err(|e| Failure::from(e).hint(format!("in the edited text: {discarded}")))?;
    let (text, report) = merge(&file, &plain, &edited).map_err(|e| e.hint(discarded))?;
    verify(&EnvFile::from_text(path, &text)?, &edited, &decryptor)?;

    // Another writer may have changed the file while the editor was open: never overwrite it.
    let _locks = lock_folders(std::slice::from_ref(path))?;
    if *read_text(path)? != *original {
        return Err(Failure::new(format!(
            "{} changed while it was being edited; nothing written",
            show(path)
        ))
        .hint("run envx edit again to edit the current version"));
    }
    if *text != *original {
        write_atomic(path, text.as_bytes(), NewFileMode::Default)?;
    }
    report.print(path, ui);
    Ok(Exit::Success)
}

/// Writes `text` to a private temporary file, runs the editor on it and returns what it
/// holds afterwards. The folder is wiped and removed before this returns.
fn edit_in_editor(
    path: &Path,
    text: &str,
    ctx: &Context,
    ui: &Ui,
) -> Result<Zeroizing<String>, Failure> {
    let dir = PrivateDir::create(ctx, ui)?;
    let name = path.file_name().unwrap_or(".env".as_ref());
    let temp = dir.path.join(name);
    write_private(&temp, text)
        .map_err(|e| Failure::new(format!("cannot write the temporary file: {e}")))?;
    let editor = editor(ctx);
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("{editor} \"$@\""))
        .arg(&editor)
        .arg(&temp)
        .env_clear()
        .envs(ctx.env.iter().filter(|(k, _)| !is_private_key_var(k)))
        .status()
        .map_err(|e| Failure::new(format!("cannot start the editor ({editor}): {e}")))?;
    if !status.success() {
        return Err(Failure::new(format!(
            "the editor ({editor}) exited with {status}; nothing written"
        )));
    }
    let edited = read_text(&temp).map_err(|e| {
        Failure::new(format!(
            "cannot read the edited file back ({}); nothing written",
            e
        ))
    })?;
    Ok(edited)
}

/// `$VISUAL`, else `$EDITOR`, else `vi`, as git chooses.
fn editor(ctx: &Context) -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|name| ctx.env.get(*name))
        .find(|value| !value.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| "vi".to_owned())
}
