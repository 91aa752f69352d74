//! `envx diff [REV [REV2]]`: what changed in the env files, key by key, without showing
//! secrets.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use clap::Args;
use envx_core::discover::{KeySearch, KeysFileCache};
use envx_core::document::{Document, Entry};
use envx_core::envfile::{Decryptor, EnvFile};
use envx_core::fs::read_text_if_exists;
use envx_core::names::PUBLIC_KEY_PREFIX;
use envx_core::secret::SecretString;
use zeroize::Zeroizing;

use crate::args::FileArgs;
use crate::cmd::print_stdout;
use crate::cmd::textconv::{State, ciphertext_id};
use crate::context::{Context, KeyCommand};
use crate::exit::Exit;
use crate::git;
use crate::ui::{Failure, Ui, escape};

/// Arguments of `envx diff`.
#[derive(Args)]
pub struct DiffArgs {
    /// The revision to compare (a commit, branch or tag; not a range).
    #[arg(default_value = "HEAD")]
    rev: String,
    /// A second revision: compare REV with REV2 instead of with the working tree.
    #[arg(value_name = "REV2")]
    to: Option<String>,
    /// Env files to compare (default: every env file git knows on either side), and keys files.
    #[command(flatten)]
    files: FileArgs,
    /// Show old and new values where a private key is available (they are secrets).
    #[arg(long)]
    show: bool,
    #[command(flatten)]
    key_command: KeyCommand,
}

/// Prints, per file and per key, what changed: added, removed, changed, re-encrypted, now in
/// plaintext, now encrypted, a public key line, and ciphertexts found in two places.
pub fn run(args: &DiffArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let cwd = ctx.cwd.clone().unwrap_or_else(|| ".".into());
    let root = git::toplevel(&cwd).ok_or_else(|| Failure::new("not inside a git repository"))?;
    let old = Side::open(&root, Some(&args.rev))?;
    let new = Side::open(&root, args.to.as_deref())?;
    let new_env_files = known_env_files(&root, new.tracked(&root)?);
    let compared = if args.files.files.is_empty() {
        let mut names = old.tracked(&root)?;
        names.extend(new.tracked(&root)?);
        known_env_files(&root, names)
    } else {
        args.files.files.clone()
    };
    let targets: Vec<Target> = compared
        .iter()
        .map(|p| Target::new(&root, &cwd, p))
        .collect();
    // Every env file of the new side is read, compared or not, so that a ciphertext copied
    // from a file outside the comparison is still found.
    let mut scanned = targets.clone();
    for path in &new_env_files {
        let target = Target::new(&root, &cwd, path);
        if !scanned.iter().any(|t| t.rel == target.rel) {
            scanned.push(target);
        }
    }
    let mut new_texts = Vec::with_capacity(scanned.len());
    for target in &scanned {
        new_texts.push(new.read(&root, target)?);
    }
    let ciphertexts = Ciphertexts::gather(&scanned, &new_texts);

    let supplied = ctx.supplied_keys(&args.key_command)?;
    let search = ctx.search(&args.files.keys_files, &supplied);
    let mut cache = KeysFileCache::default();
    let mut out = Zeroizing::new(String::new());
    for (target, new_text) in targets.iter().zip(&new_texts) {
        let old_text = old.read(&root, target)?;
        if old_text.is_none() && new_text.is_none() {
            if args.files.files.is_empty() {
                continue;
            }
            return Err(Failure::new(format!(
                "{}: neither in {} nor in {}",
                target.shown,
                old.label(),
                new.label()
            )));
        }
        let mut open = |text: &Option<Zeroizing<String>>, side: &Side| {
            Parsed::open(
                target,
                text.as_ref().map(|t| t.as_str()),
                side,
                &search,
                &mut cache,
                ui,
            )
        };
        let before = open(&old_text, &old)?;
        let after = open(new_text, &new)?;
        let lines = compare(target, &before, &after, &ciphertexts, args.show);
        if !lines.is_empty() {
            let header = format!("{} ({} → {})\n", target.shown, old.label(), new.label());
            out.push_str(&header);
            out.push_str(&lines);
            if let Some(seal) = crate::cmd::seal::state_line(
                old_text.as_deref().map(String::as_str),
                new_text.as_deref().map(String::as_str),
            ) {
                out.push_str(&format!("  {seal}\n"));
            }
        }
    }
    print_stdout(&out)
}

/// One side of the comparison: a commit, or the files on disk.
enum Side {
    Commit {
        commit: git::Commit,
        files: HashSet<String>,
    },
    WorkingTree,
}

impl Side {
    /// The commit `rev` names (checked: a range or an unknown name is an error), or the working
    /// tree when there is no `rev`.
    fn open(root: &Path, rev: Option<&str>) -> Result<Self, Failure> {
        let Some(rev) = rev else {
            return Ok(Self::WorkingTree);
        };
        let commit = git::resolve_commit(root, rev)?;
        let files = git::tree_files(root, &commit)?
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        Ok(Self::Commit { commit, files })
    }

    fn label(&self) -> String {
        match self {
            Self::Commit { commit, .. } => escape(&commit.name),
            Self::WorkingTree => "working tree".to_owned(),
        }
    }

    /// The files git knows on this side (the index, for the working tree), relative to the root.
    fn tracked(&self, root: &Path) -> Result<Vec<PathBuf>, Failure> {
        match self {
            Self::Commit { files, .. } => Ok(files.iter().map(PathBuf::from).collect()),
            Self::WorkingTree => git::index_files(root),
        }
    }

    /// The text of `target` on this side; `None` when it does not exist there.
    fn read(&self, root: &Path, target: &Target) -> Result<Option<Zeroizing<String>>, Failure> {
        match self {
            Self::Commit { commit, files } if files.contains(&target.rel) => {
                let bytes = git::blob(root, commit, &target.rel)?;
                Ok(Some(Zeroizing::new(
                    String::from_utf8_lossy(&bytes).into_owned(),
                )))
            }
            Self::Commit { .. } => Ok(None),
            Self::WorkingTree => Ok(read_text_if_exists(&target.path)?),
        }
    }
}

/// An env file being compared.
#[derive(Clone)]
struct Target {
    /// The path to open on disk.
    path: PathBuf,
    /// The path relative to the repository root, as git names it.
    rel: String,
    /// The path relative to the current folder, escaped for the terminal.
    shown: String,
}

impl Target {
    fn new(root: &Path, cwd: &Path, path: &Path) -> Self {
        let cwd_real = cwd.canonicalize().unwrap_or_else(|_| cwd.to_path_buf());
        let shown = path.strip_prefix(&cwd_real).unwrap_or(path);
        Self {
            path: path.to_path_buf(),
            rel: relative_to(root, cwd, path),
            shown: escape(&shown.display().to_string()),
        }
    }
}

/// One side of one file: its entries and, when the file is readable by envx and a key is
/// at hand, what decrypts it.
struct Parsed {
    doc: Document,
    keys: Option<Decryptor>,
}

impl Parsed {
    fn open(
        target: &Target,
        text: Option<&str>,
        side: &Side,
        search: &KeySearch<'_>,
        cache: &mut KeysFileCache,
        ui: &Ui,
    ) -> Result<Self, Failure> {
        let text = text.unwrap_or("");
        let keys = match EnvFile::from_text(&target.path, text) {
            Ok(file) => Some(file.decryptor(search, cache)?),
            // A file envx would refuse is still compared, entry by entry, without decrypting:
            // the reviewer needs to see what it changed.
            Err(error) => {
                ui.warn(&format!(
                    "in {}: {error}; compared without decrypting",
                    side.label()
                ));
                None
            }
        };
        Ok(Self {
            doc: Document::parse(text),
            keys: keys.filter(|k| k.matching().is_some()),
        })
    }

    fn last(&self, key: &str) -> Option<&Entry> {
        self.doc.find_last(key).map(|i| &self.doc.entries()[i])
    }

    /// The value of an entry as a program would see it before expansion: decrypted when the
    /// file's key is available, `None` when it is encrypted and the key is not.
    fn value_of(&self, entry: &Entry) -> Option<SecretString> {
        match State::of(entry) {
            State::Encrypted => self.keys.as_ref()?.decrypt(entry).ok(),
            State::Plaintext | State::PublicKey => Some(SecretString::new(entry.value())),
        }
    }
}

fn compare(
    target: &Target,
    old: &Parsed,
    new: &Parsed,
    ciphertexts: &Ciphertexts,
    show: bool,
) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    let mut keys: Vec<&str> = new.doc.entries().iter().map(Entry::key).collect();
    keys.extend(old.doc.entries().iter().map(Entry::key));
    let mut seen = HashSet::new();
    keys.retain(|k| seen.insert(*k));
    for key in keys {
        let (mut words, values) = if key.starts_with(PUBLIC_KEY_PREFIX) {
            match public_key_change(key, &old.doc, &new.doc) {
                Some(words) => (words, (None, None)),
                None => continue,
            }
        } else {
            match value_change(old, new, key) {
                Some(change) => change,
                None => continue,
            }
        };
        if let Some(entry) = new.last(key).filter(|e| State::of(e) == State::Encrypted) {
            words.extend(ciphertexts.elsewhere(target, entry));
        }
        out.push_str(&format!("  {:<28} {}\n", escape(key), words.join(", ")));
        if show {
            for (sign, value) in [('-', &values.0), ('+', &values.1)] {
                if let Some(v) = value {
                    let v = Zeroizing::new(escape(v.expose_secret()));
                    out.push_str(&format!("    {sign} {}\n", *v));
                }
            }
        }
    }
    out
}

type Values = (Option<SecretString>, Option<SecretString>);

/// How the value of `key` changed, in words, with the old and new values where known; `None`
/// when it did not.
fn value_change(old: &Parsed, new: &Parsed, key: &str) -> Option<(Vec<String>, Values)> {
    use State::{Encrypted, Plaintext};
    let (words, values): (&[&str], Values) = match (old.last(key), new.last(key)) {
        (None, None) => return None,
        (Some(b), Some(a)) if b.raw() == a.raw() => return None,
        (None, Some(a)) => {
            let words: &[&str] = match State::of(a) {
                Plaintext => &["added", "in plaintext"],
                _ => &["added"],
            };
            (words, (None, new.value_of(a)))
        }
        (Some(b), None) => (&["removed"], (old.value_of(b), None)),
        (Some(b), Some(a)) => {
            let values = (old.value_of(b), new.value_of(a));
            let same = match &values {
                (Some(x), Some(y)) => Some(x == y),
                _ => None,
            };
            let words: &[&str] = match (State::of(b), State::of(a), same) {
                (Encrypted, Encrypted, Some(true)) => &["re-encrypted, same value"],
                (Encrypted, Encrypted, _) => &["changed"],
                (Encrypted, _, Some(true)) => &["now in plaintext", "same value"],
                (Encrypted, _, Some(false)) => &["now in plaintext", "value changed"],
                (Encrypted, _, None) => &["now in plaintext"],
                (_, Encrypted, Some(true)) => &["now encrypted", "same value"],
                (_, Encrypted, Some(false)) => &["now encrypted", "value changed"],
                (_, Encrypted, None) => &["now encrypted"],
                // Same text, other quotes: single quotes stop expansion, so it can matter.
                _ if Zeroizing::new(b.value()) == Zeroizing::new(a.value()) => {
                    &["quoting changed", "in plaintext"]
                }
                _ => &["changed", "in plaintext"],
            };
            (words, values)
        }
    };
    Some((words.iter().map(|w| (*w).to_owned()).collect(), values))
}

/// How the lines declaring the public key `key` changed; `None` when they did not. Every line
/// counts, not only the last: a second declaration is how a foreign key gets slipped in.
fn public_key_change(key: &str, old: &Document, new: &Document) -> Option<Vec<String>> {
    let values = |doc: &Document| -> Vec<String> {
        doc.entries()
            .iter()
            .filter(|e| e.key() == key)
            .map(Entry::value)
            .collect()
    };
    let (before, after) = (values(old), values(new));
    if before == after {
        return None;
    }
    let short = |v: &str| escape(&v.chars().take(8).collect::<String>()) + "…";
    let mut words = vec![match (before.last(), after.last()) {
        (Some(b), Some(a)) if b != a => format!("public key changed {} → {}", short(b), short(a)),
        (None, _) => "public key added".to_owned(),
        (_, None) => "public key removed".to_owned(),
        // The value that wins is the same; another line declaring the key came or went.
        _ if after.len() > before.len() => "public key line added".to_owned(),
        _ if after.len() < before.len() => "public key line removed".to_owned(),
        _ => "public key lines changed".to_owned(),
    }];
    if after.len() > 1 {
        words.push(format!("declared {} times", after.len()));
    }
    let mut names: Vec<&str> = new
        .entries()
        .iter()
        .map(Entry::key)
        .filter(|k| k.starts_with(PUBLIC_KEY_PREFIX))
        .collect();
    names.sort_unstable();
    names.dedup();
    if names.len() > 1 {
        words.push(format!(
            "the file now declares {} public keys: {}",
            names.len(),
            names.join(" ")
        ));
    }
    Some(words)
}

/// Where each ciphertext of the new side is. The same ciphertext in two places is never the
/// result of `envx set` or `encrypt` (each encryption is fresh): it was copied, from another
/// key or another file, and the reviewer should know.
struct Ciphertexts {
    places: HashMap<Vec<u8>, Vec<Place>>,
}

struct Place {
    rel: String,
    shown: String,
    line: usize,
    key: String,
}

impl Ciphertexts {
    fn gather(targets: &[Target], texts: &[Option<Zeroizing<String>>]) -> Self {
        let mut places: HashMap<Vec<u8>, Vec<Place>> = HashMap::new();
        for (target, text) in targets.iter().zip(texts) {
            let Some(text) = text else { continue };
            for entry in Document::parse(text).entries() {
                if State::of(entry) == State::Encrypted {
                    places
                        .entry(ciphertext_id(&entry.value()))
                        .or_default()
                        .push(Place {
                            rel: target.rel.clone(),
                            shown: target.shown.clone(),
                            line: entry.line(),
                            key: entry.key().to_owned(),
                        });
                }
            }
        }
        Self { places }
    }

    /// The other places holding `entry`'s ciphertext, in words.
    fn elsewhere(&self, target: &Target, entry: &Entry) -> Vec<String> {
        let Some(places) = self.places.get(&ciphertext_id(&entry.value())) else {
            return Vec::new();
        };
        places
            .iter()
            .filter(|p| !(p.rel == target.rel && p.line == entry.line()))
            .map(|p| {
                let key = escape(&p.key);
                if p.rel == target.rel {
                    format!("same ciphertext as {key} (line {})", p.line)
                } else {
                    format!("same ciphertext as {key} in {} (line {})", p.shown, p.line)
                }
            })
            .collect()
    }
}

/// Env files among `names` (relative to the root), as paths below `root`.
fn known_env_files(root: &Path, names: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = names
        .into_iter()
        .filter(|p| envx_core::policy::files::is_env_file(p))
        .map(|p| root.join(p))
        .collect();
    files.sort();
    files.dedup();
    files
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Parsed {
        Parsed {
            doc: Document::parse(text),
            keys: None,
        }
    }

    fn words(old: &str, new: &str, key: &str) -> Option<String> {
        value_change(&parsed(old), &parsed(new), key).map(|(w, _)| w.join(", "))
    }

    #[test]
    fn plaintext_changes_say_so() {
        // Single quotes stop expansion: same text, other meaning.
        assert_eq!(
            words("A=\"$HOME\"\n", "A='$HOME'\n", "A").as_deref(),
            Some("quoting changed, in plaintext")
        );
        assert_eq!(words("A=x\n", "A=x\n", "A"), None);
        assert_eq!(
            words("", "A=x\n", "A").as_deref(),
            Some("added, in plaintext")
        );
        assert_eq!(
            words("A=x\n", "A=y\n", "A").as_deref(),
            Some("changed, in plaintext")
        );
        // Without a key, whether the value changed is unknown, and not claimed.
        assert_eq!(
            words("A=\"encrypted:AAAA\"\n", "A=x\n", "A").as_deref(),
            Some("now in plaintext")
        );
        assert_eq!(
            words("A=x\n", "A=\"encrypted:AAAA\"\n", "A").as_deref(),
            Some("now encrypted")
        );
    }
}
