//! `envx edit -f FILE`: change an encrypted file in an editor.
//!
//! The decrypted text goes to a private temporary file (0600, in a 0700 folder of its own),
//! the editor runs on it, and what comes back is merged into the encrypted file: values that
//! did not change keep their exact ciphertext, changed and new values are encrypted, and no
//! other byte moves. Afterwards every file in the folder is overwritten with zeros and the
//! folder is removed, whatever happened.

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Args;
use envx_core::crypto::{ENCRYPTED_PREFIX, encrypt_value};
use envx_core::discover::KeysFileCache;
use envx_core::edit::{self, stays_plaintext};
use envx_core::envfile::{Decryptor, EnvFile};
use envx_core::fs::{NewFileMode, lock_folders, read_text, write_atomic};
use envx_core::glob::Selection;
use envx_core::keys::PublicKey;
use envx_core::names::PUBLIC_KEY_PREFIX;
use envx_core::policy::is_private_key_var;
use envx_core::secret::SecretString;
use zeroize::Zeroizing;

use crate::cmd::show;
use crate::context::{Context, KeyCommand};
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// Arguments of `envx edit`.
#[derive(Args)]
pub struct EditArgs {
    /// The env file to edit.
    #[arg(
        short = 'f',
        long = "env-file",
        value_name = "FILE",
        default_value = ".env"
    )]
    file: PathBuf,
    /// Keys file to search for the private key (repeatable).
    #[arg(long = "keys-file", visible_alias = "fk", value_name = "PATH")]
    keys_files: Vec<PathBuf>,
    #[command(flatten)]
    key_command: KeyCommand,
}

/// Decrypts, lets the user edit, and writes back only what changed.
pub fn run(args: &EditArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let path = &args.file;
    let original = read_text(path)?;
    let file = EnvFile::from_text(path, &original)?;
    let supplied = ctx.supplied_keys(&args.key_command)?;
    let mut cache = KeysFileCache::default();
    let decryptor = file.decryptor(&ctx.search(&args.keys_files, &supplied), &mut cache)?;
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

/// What the merge did, by key.
#[derive(Default)]
struct Report {
    changed: Vec<String>,
    added: Vec<String>,
    removed: Vec<String>,
}

impl Report {
    fn print(&self, path: &Path, ui: &Ui) {
        let path = show(path);
        if self.changed.is_empty() && self.added.is_empty() && self.removed.is_empty() {
            ui.info(&format!(
                "{path}: no value changed; comments and layout saved"
            ));
            return;
        }
        let mut parts = Vec::new();
        for (label, keys) in [
            ("changed", &self.changed),
            ("added", &self.added),
            ("removed", &self.removed),
        ] {
            if !keys.is_empty() {
                parts.push(format!("{label} {}", keys.join(", ")));
            }
        }
        ui.info(&format!("{path}: {}", parts.join("; ")));
    }
}

/// Which entry of the edited document corresponds to which entry of the decrypted one: the
/// n-th occurrence of a key to the n-th occurrence of the same key. Entries of the edited
/// document without a partner were added; decrypted entries without one were removed.
fn align(before: &EnvFile, after: &EnvFile) -> Vec<Option<usize>> {
    let mut positions: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, entry) in before.document().entries().iter().enumerate().rev() {
        positions.entry(entry.key()).or_default().push(index);
    }
    after
        .document()
        .entries()
        .iter()
        .map(|entry| positions.get_mut(entry.key()).and_then(Vec::pop))
        .collect()
}

/// The text to write: the edit merged into `file`, the encrypted file; `plain` is its
/// decrypted form as shown in the editor, `edited` what came back.
///
/// A value keeps its form: one that was encrypted is encrypted again (to the file's public
/// key) when it changed and keeps its exact ciphertext when it did not; one that was plaintext
/// stays plaintext. A new key is encrypted unless it stays plaintext by rule (`_PLAIN`). When
/// the edit only changed values, removed assignments or appended new ones, `file` is edited
/// in place and every other byte stays; when it also changed comments, blank lines or the
/// order, the edited text is taken as it is, with each value stored as above.
fn merge(
    file: &EnvFile,
    plain: &EnvFile,
    edited: &EnvFile,
) -> Result<(Zeroizing<String>, Report), Failure> {
    let public = file.public_key();
    let mut target = EnvFile::from_text(file.path(), file.document().source())?;
    let partners = align(plain, edited);
    let before = plain.document().entries();
    let after = edited.document().entries();
    let mut report = Report::default();
    // For each edited entry: the raw value to store, and whether it is new.
    let mut stored: Vec<Zeroizing<String>> = Vec::with_capacity(after.len());
    for (entry, partner) in after.iter().zip(&partners) {
        let value = SecretString::new(entry.value());
        let raw = match partner {
            Some(j) if SecretString::new(before[*j].value()) == value => {
                Zeroizing::new(target.document().entries()[*j].raw().to_owned())
            }
            Some(j) => {
                let original = &target.document().entries()[*j];
                refuse_public_key_change(entry.key())?;
                report.changed.push(entry.key().to_owned());
                if original.value_starts_with(ENCRYPTED_PREFIX) {
                    encrypted(original.quote().as_char(), &value, public, target.path())?
                } else {
                    Zeroizing::new(entry.raw().to_owned())
                }
            }
            None => {
                refuse_public_key_change(entry.key())?;
                report.added.push(entry.key().to_owned());
                if stays_plaintext(entry.key()) {
                    Zeroizing::new(entry.raw().to_owned())
                } else {
                    encrypted(Some('"'), &value, public, target.path())?
                }
            }
        };
        stored.push(raw);
    }
    let mut kept = vec![false; before.len()];
    for j in partners.iter().flatten() {
        kept[*j] = true;
    }
    for (entry, _) in before.iter().zip(&kept).filter(|(_, kept)| !**kept) {
        refuse_public_key_change(entry.key())?;
        report.removed.push(entry.key().to_owned());
    }

    if only_values_changed(plain, edited, &partners, &kept) {
        for (i, partner) in partners.iter().enumerate() {
            if let Some(j) = partner {
                target.document_mut().set_raw(*j, &stored[i]);
            }
        }
        for j in (0..kept.len()).rev().filter(|j| !kept[*j]) {
            target.document_mut().remove(j);
        }
        for (i, partner) in partners.iter().enumerate() {
            if partner.is_none() {
                target.document_mut().push(after[i].key(), &stored[i]);
            }
        }
        return Ok((Zeroizing::new(target.document().to_string()), report));
    }
    let mut rebuilt = EnvFile::from_text(file.path(), edited.document().source())?;
    for (i, raw) in stored.iter().enumerate() {
        rebuilt.document_mut().set_raw(i, raw);
    }
    Ok((Zeroizing::new(rebuilt.document().to_string()), report))
}

/// Replaying the edit's value changes, removals and appends on the decrypted document gives
/// exactly the edited text: nothing else (comments, blank lines, order) was changed.
fn only_values_changed(
    plain: &EnvFile,
    edited: &EnvFile,
    partners: &[Option<usize>],
    kept: &[bool],
) -> bool {
    // Kept entries must stay in their order.
    let kept_order: Vec<usize> = partners.iter().flatten().copied().collect();
    if kept_order.windows(2).any(|w| w[0] > w[1]) {
        return false;
    }
    // Added entries must all come after the kept ones (they are appended).
    if let Some(first_new) = partners.iter().position(Option::is_none)
        && partners[first_new..].iter().any(Option::is_some)
    {
        return false;
    }
    let Ok(mut replay) = EnvFile::from_text(plain.path(), &plain.document().to_string()) else {
        return false;
    };
    let after = edited.document().entries();
    for (i, partner) in partners.iter().enumerate() {
        if let Some(j) = partner {
            replay.document_mut().set_raw(*j, after[i].raw());
        }
    }
    for j in (0..kept.len()).rev().filter(|j| !kept[*j]) {
        replay.document_mut().remove(j);
    }
    for (i, partner) in partners.iter().enumerate() {
        if partner.is_none() {
            replay.document_mut().push(after[i].key(), after[i].raw());
        }
    }
    let replayed = Zeroizing::new(replay.document().to_string());
    let wanted = Zeroizing::new(edited.document().to_string());
    *replayed == *wanted
}

fn refuse_public_key_change(key: &str) -> Result<(), Failure> {
    if key.starts_with(PUBLIC_KEY_PREFIX) {
        return Err(Failure::new(format!(
            "the edit changes {key}; envx edit does not replace a file's public key (`envx rotate` gives a file a new key pair)"
        )));
    }
    Ok(())
}

/// `value` encrypted to `public`, between `quote`s.
fn encrypted(
    quote: Option<char>,
    value: &SecretString,
    public: Option<&PublicKey>,
    path: &Path,
) -> Result<Zeroizing<String>, Failure> {
    let Some(public) = public else {
        return Err(
            Failure::new(format!("{} has no public key to encrypt to", show(path))).hint(format!(
                "encrypt it once first: envx encrypt -f {}",
                show(path)
            )),
        );
    };
    let ciphertext = encrypt_value(public, value.expose_secret().as_bytes());
    let q = quote.map(String::from).unwrap_or_default();
    Ok(Zeroizing::new(format!("{q}{ciphertext}{q}")))
}

/// What will be written reads back, key by key and value by value, as the edited text.
fn verify(merged: &EnvFile, edited: &EnvFile, decryptor: &Decryptor) -> Result<(), Failure> {
    let a = merged.document().entries();
    let b = edited.document().entries();
    let same = a.len() == b.len()
        && a.iter().zip(b).all(|(m, e)| {
            let wanted = SecretString::new(e.value());
            m.key() == e.key()
                && if m.value_starts_with(ENCRYPTED_PREFIX) {
                    decryptor.decrypt(m).is_ok_and(|v| v == wanted)
                } else {
                    SecretString::new(m.value()) == wanted
                }
        });
    if same {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "{}: the merged file would not read back as edited; nothing written",
            show(merged.path())
        )))
    }
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

/// Creates `path` for the owner only (0600), failing if it exists.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
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

/// A folder only the current user can enter, wiped and removed when dropped.
struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    /// Prefers `$XDG_RUNTIME_DIR` (memory-backed and private to the user on Linux), else the
    /// system's temporary folder. On platforms without Unix permissions the folder cannot be
    /// made private, and envx says so.
    fn create(ctx: &Context, ui: &Ui) -> Result<Self, Failure> {
        #[cfg(unix)]
        let _ = ui; // only warns where folders cannot be made private
        let base = ctx
            .env
            .get("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute() && is_private(dir))
            .unwrap_or_else(std::env::temp_dir);
        let mut builder = tempfile::Builder::new();
        builder.prefix("envx-edit-");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            builder.permissions(fs::Permissions::from_mode(0o700));
        }
        #[cfg(not(unix))]
        ui.warn(&format!(
            "this platform offers no private temporary folder: the decrypted file in {} can be read by anyone who can read that folder until the editor closes",
            base.display()
        ));
        let dir = builder.tempdir_in(&base).map_err(|e| {
            Failure::new(format!(
                "cannot create a private temporary folder in {}: {e}",
                base.display()
            ))
        })?;
        let made = Self { path: dir.keep() };
        if !is_private(&made.path) {
            return Err(Failure::new(format!(
                "{} is not private to this user; not writing decrypted values there",
                made.path.display()
            )));
        }
        Ok(made)
    }
}

/// Is `dir` a folder that only its owner, this user, can enter?
#[cfg(unix)]
fn is_private(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    fs::symlink_metadata(dir).is_ok_and(|m| {
        m.is_dir() && m.mode() & 0o077 == 0 && m.uid() == rustix::process::geteuid().as_raw()
    })
}

#[cfg(not(unix))]
fn is_private(dir: &Path) -> bool {
    dir.is_dir()
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        wipe_tree(&self.path);
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Overwrites every regular file below `dir` with zeros (the editor's swap and backup files
/// too). A file an editor replaced by renaming is already unlinked and out of reach; that is
/// why a memory-backed folder is preferred.
fn wipe_tree(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            wipe_tree(&entry.path());
        } else if kind.is_file() {
            let _ = zero_file(&entry.path());
        }
    }
}

fn zero_file(path: &Path) -> std::io::Result<()> {
    let len = fs::symlink_metadata(path)?.len();
    let mut file = fs::OpenOptions::new().write(true).open(path)?;
    let zeros = [0u8; 8192];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        file.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    file.sync_all()
}
