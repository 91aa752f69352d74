//! `envx diff [REV]`: what changed in the env files, key by key, without showing secrets.

use std::path::{Path, PathBuf};

use clap::Args;
use envx_core::crypto::is_encrypted;
use envx_core::discover::KeysFileCache;
use envx_core::envfile::{Decryptor, EnvFile};
use envx_core::fs::read_text_if_exists;
use envx_core::secret::SecretString;
use zeroize::Zeroizing;

use crate::cmd::{print_stdout, show};
use crate::context::Context;
use crate::exit::Exit;
use crate::git;
use crate::ui::{Failure, Ui};

/// Arguments of `envx diff`.
#[derive(Args)]
pub struct DiffArgs {
    /// The revision to compare the working tree with.
    #[arg(default_value = "HEAD")]
    rev: String,
    /// Env files to compare (repeatable; default: every env file git knows at REV or now).
    #[arg(short = 'f', long = "env-file", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Keys file to search (repeatable).
    #[arg(long = "keys-file", visible_alias = "fk", value_name = "PATH")]
    keys_files: Vec<PathBuf>,
    /// Show old and new values where a private key is available (they are secrets).
    #[arg(long)]
    show: bool,
}

/// How one key changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Added,
    Removed,
    Changed,
    /// New ciphertext, same plaintext (only known with the private key).
    Reencrypted,
}

impl Change {
    fn label(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Removed => "removed",
            Self::Changed => "changed",
            Self::Reencrypted => "re-encrypted, same value",
        }
    }
}

/// Prints, per file, the keys that were added, removed, changed or only re-encrypted.
pub fn run(args: &DiffArgs, ctx: &Context, _ui: &Ui) -> Result<Exit, Failure> {
    let cwd = ctx.cwd.clone().unwrap_or_else(|| ".".into());
    let root = git::toplevel(&cwd).ok_or_else(|| Failure::new("not inside a git repository"))?;
    let files = if args.files.is_empty() {
        known_env_files(&root, &args.rev)?
    } else {
        args.files.clone()
    };
    let search = ctx.search(&args.keys_files, &[]);
    let mut cache = KeysFileCache::default();
    let mut out = Zeroizing::new(String::new());
    for path in files {
        let relative = relative_to(&root, &cwd, &path);
        let old_text = git::output(&root, &["show", &format!("{}:{}", args.rev, relative)])
            .ok()
            .map(|bytes| Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned()));
        let new_text = read_text_if_exists(&path)?;
        let empty = Zeroizing::new(String::new());
        let old = EnvFile::from_text(&path, old_text.as_ref().unwrap_or(&empty))?;
        let new = EnvFile::from_text(&path, new_text.as_ref().unwrap_or(&empty))?;
        let old_keys = old.decryptor(&search, &mut cache)?;
        let new_keys = new.decryptor(&search, &mut cache)?;
        let lines = compare(&old, &new, &old_keys, &new_keys, args.show);
        if !lines.is_empty() {
            let cwd_real = cwd.canonicalize().unwrap_or_else(|_| cwd.clone());
            let shown = path.strip_prefix(&cwd_real).unwrap_or(&path);
            out.push_str(&format!("{} ({} → working tree)\n", show(shown), args.rev));
            out.push_str(&lines);
        }
    }
    print_stdout(&out)
}

fn compare(
    old: &EnvFile,
    new: &EnvFile,
    old_keys: &Decryptor,
    new_keys: &Decryptor,
    show: bool,
) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    let mut keys: Vec<&str> = new.document().entries().iter().map(|e| e.key()).collect();
    keys.extend(old.document().entries().iter().map(|e| e.key()));
    let mut seen = std::collections::HashSet::new();
    keys.retain(|k| seen.insert(*k));
    for key in keys {
        let before = old
            .document()
            .find_last(key)
            .map(|i| &old.document().entries()[i]);
        let after = new
            .document()
            .find_last(key)
            .map(|i| &new.document().entries()[i]);
        let (change, values) = match (before, after) {
            (None, Some(a)) => (Change::Added, (None, value_of(new_keys, a))),
            (Some(b), None) => (Change::Removed, (value_of(old_keys, b), None)),
            (Some(b), Some(a)) if b.raw() == a.raw() => continue,
            (Some(b), Some(a)) => {
                let values = (value_of(old_keys, b), value_of(new_keys, a));
                let same = matches!(&values, (Some(x), Some(y)) if x == y);
                let both_encrypted = is_encrypted(&b.value()) && is_encrypted(&a.value());
                match (same, both_encrypted) {
                    (true, true) => (Change::Reencrypted, values),
                    (true, false) if b.value() == a.value() => continue,
                    _ => (Change::Changed, values),
                }
            }
            (None, None) => continue,
        };
        out.push_str(&format!("  {:<28} {}\n", key, change.label()));
        if show {
            if let Some(v) = &values.0 {
                out.push_str(&format!(
                    "    - {}\n",
                    v.expose_secret().replace('\n', "\\n")
                ));
            }
            if let Some(v) = &values.1 {
                out.push_str(&format!(
                    "    + {}\n",
                    v.expose_secret().replace('\n', "\\n")
                ));
            }
        }
    }
    out
}

/// The value of an entry as a program would see it before expansion: decrypted when a key is
/// available, `None` when it is encrypted and no key is.
fn value_of(keys: &Decryptor, entry: &envx_core::document::Entry) -> Option<SecretString> {
    let stored = entry.value();
    if !is_encrypted(&stored) {
        return Some(SecretString::new(stored));
    }
    keys.matching()?;
    keys.decrypt(entry).ok()
}

/// Env files git tracks now or at `rev`.
fn known_env_files(root: &Path, rev: &str) -> Result<Vec<PathBuf>, Failure> {
    let mut names = git::output(root, &["ls-files", "-z"])?;
    names.push(0);
    names.extend(
        git::output(root, &["ls-tree", "-r", "-z", "--name-only", rev]).unwrap_or_default(),
    );
    let mut files: Vec<PathBuf> = names
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| PathBuf::from(String::from_utf8_lossy(n).into_owned()))
        .filter(|p| {
            let base = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            base.starts_with(".env") && base != ".env.keys"
        })
        .map(|p| root.join(p))
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}

/// `path` relative to the repository root, as `git show REV:path` wants it.
fn relative_to(root: &Path, cwd: &Path, path: &Path) -> String {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let parent = absolute.parent().and_then(|p| p.canonicalize().ok());
    let absolute = match (parent, absolute.file_name()) {
        (Some(parent), Some(name)) => parent.join(name),
        _ => absolute,
    };
    absolute
        .strip_prefix(&root)
        .unwrap_or(&absolute)
        .to_string_lossy()
        .into_owned()
}
