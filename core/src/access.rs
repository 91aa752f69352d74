//! Team access: an environment's private key wrapped with age to each teammate's personal
//! identity, committed beside the env file.
//!
//! For `.env.production` the committed files are, in `envx-access/` beside it (or in a parent
//! folder up to the repository root):
//!
//! - `production.recipients`: who may open the key, in `age -R` format (a `# name` comment
//!   above each recipient line), sealed with the environment's key (its first line) so that a
//!   changed, added or swapped line shows as unapproved;
//! - `production.age`: the armored age encryption, to exactly those recipients, of one
//!   `.env.keys` line, `DOTENV_PRIVATE_KEY_PRODUCTION=<hex>`, so that
//!   `age -d -i ~/.ssh/id_ed25519 envx-access/production.age >> .env.keys` works without envx.
//!
//! `.env` itself uses `default.recipients` / `default.age`. Only a holder of the key can re-make
//! the wrapped file, so a recipient line added by someone else grants nothing; and envx re-wraps
//! only to approved lines. The unwrapped key lives in memory only.

pub mod identity;
pub mod recipients;

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::discover::{Candidate, KeySource};
use crate::envfile::{Decryptor, EnvFile};
use crate::error::Error;
use crate::fs::{NewFileMode, write_atomic};
use crate::keys::{PrivateKey, PublicKey};
use crate::names::PRIVATE_KEY_PREFIX;
use crate::rotate::Rotation;
use crate::seal::{self, SealState};
use identity::{Callbacks, Identities};
use recipients::{Recipient, Recipients};

/// The folder, beside an env file or above it, that holds the committed access files.
pub const FOLDER: &str = "envx-access";
/// The largest wrapped-key file read (a real one is well under 4 KiB).
const MAX_WRAPPED: u64 = 1 << 20;

/// The two committed files of one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPaths {
    /// The recipients file (`age -R` format).
    pub recipients: PathBuf,
    /// The wrapped key (armored age).
    pub wrapped: PathBuf,
}

/// The environment part of the private key's name, lower case: `production` for
/// `DOTENV_PRIVATE_KEY_PRODUCTION`, `default` for `DOTENV_PRIVATE_KEY`.
pub fn stem(private_name: &str) -> String {
    let suffix = private_name
        .strip_prefix(PRIVATE_KEY_PREFIX)
        .unwrap_or(private_name)
        .trim_start_matches('_');
    if suffix.is_empty() {
        "default".to_owned()
    } else {
        suffix.to_lowercase()
    }
}

fn paths_in(folder: &Path, private_name: &str) -> AccessPaths {
    let stem = stem(private_name);
    let dir = folder.join(FOLDER);
    AccessPaths {
        recipients: dir.join(format!("{stem}.recipients")),
        wrapped: dir.join(format!("{stem}.age")),
    }
}

/// The env file's folder, then each parent up to the repository root (the folder holding
/// `.git`); outside a repository, the file's folder only.
fn folders(env_file: &Path) -> Vec<PathBuf> {
    let dir = env_file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut out = vec![dir.clone()];
    let real = if dir.as_os_str().is_empty() {
        Path::new(".").canonicalize()
    } else {
        dir.canonicalize()
    };
    if let Ok(start) = real
        && !start.join(".git").exists()
    {
        let mut found_root = false;
        let mut parents = Vec::new();
        let mut current = start.parent();
        while let Some(folder) = current {
            parents.push(folder.to_owned());
            if folder.join(".git").exists() {
                found_root = true;
                break;
            }
            current = folder.parent();
        }
        if found_root {
            out.extend(parents);
        }
    }
    out
}

/// Where the access files of `env_file` are: the first folder (beside it, then up to the
/// repository root) that has either, else beside it.
pub fn locate(env_file: &Path, private_name: &str) -> AccessPaths {
    let folders = folders(env_file);
    folders
        .iter()
        .map(|f| paths_in(f, private_name))
        .find(|p| p.recipients.exists() || p.wrapped.exists())
        .unwrap_or_else(|| paths_in(&folders[0], private_name))
}

/// Looks for a wrapped key of `env_file` (beside it, then up to the repository root) that the
/// user's identities open and whose key matches `public`. Also returns, for the places
/// searched, one entry per wrapped file that did not give the key (which identities were tried).
pub fn discover(
    env_file: &Path,
    private_name: &str,
    public: &PublicKey,
    identities: &Identities,
) -> (Option<Candidate>, Vec<String>) {
    let mut searched = Vec::new();
    for folder in folders(env_file) {
        let path = paths_in(&folder, private_name).wrapped;
        let bytes = match read_wrapped(&path) {
            Ok(None) => continue,
            Ok(Some(bytes)) => bytes,
            Err(e) => {
                searched.push(format!("{} ({e})", path.display()));
                continue;
            }
        };
        match identities.open(&bytes) {
            Ok(opened) => {
                let keys = keys_in(&opened.plaintext, private_name);
                match keys.into_iter().find(|k| k.public_key() == public) {
                    Some(key) => {
                        return (
                            Some(Candidate {
                                key,
                                source: KeySource::Wrapped {
                                    path,
                                    identity: opened.source,
                                },
                            }),
                            searched,
                        );
                    }
                    None => searched.push(format!(
                        "{} (opened with {}, but it holds no {private_name} matching the file's public key)",
                        path.display(),
                        opened.source
                    )),
                }
            }
            Err(why) => searched.push(format!("{} ({why})", path.display())),
        }
    }
    (None, searched)
}

fn read_wrapped(path: &Path) -> Result<Option<Vec<u8>>, String> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => return Err("not a file".to_owned()),
        Ok(meta) if meta.len() > MAX_WRAPPED => return Err("too large".to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    }
    std::fs::read(path).map(Some).map_err(|e| e.to_string())
}

/// The keys a wrapped plaintext holds under `private_name` (`NAME=hex`, or `NAME=new,old`
/// during a revocation).
fn keys_in(plaintext: &[u8], private_name: &str) -> Vec<PrivateKey> {
    let Ok(text) = std::str::from_utf8(plaintext) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim().strip_prefix("export ").unwrap_or(line.trim());
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        if name.trim() != private_name {
            continue;
        }
        let value = value.trim().trim_matches(['"', '\'']);
        out.extend(
            value
                .split(',')
                .filter_map(|k| PrivateKey::from_hex(k.trim()).ok()),
        );
    }
    out
}

/// Why an access change was refused. Never holds a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// An error from the rest of the library (I/O, parsing, no private key).
    #[error(transparent)]
    Core(#[from] Error),
    /// The env file has no key pair.
    #[error(
        "{0}: declares no public key, so there is no environment key to share (encrypt it first)"
    )]
    NoKeyPair(PathBuf),
    /// A line of the recipients file, or the recipient given, that age cannot use.
    #[error("{path}: line {line}: {what}")]
    RecipientsLine {
        /// The recipients file.
        path: PathBuf,
        /// The line.
        line: usize,
        /// What is wrong.
        what: String,
    },
    /// Refused, with the reason and what to do.
    #[error("{0}")]
    Refused(String),
    /// Encrypting to the recipients failed.
    #[error("{path}: cannot wrap the key: {what}")]
    Wrap {
        /// The wrapped key's path.
        path: PathBuf,
        /// What failed.
        what: String,
    },
}

/// One file a plan writes.
struct PlannedWrite {
    path: PathBuf,
    contents: Zeroizing<Vec<u8>>,
    mode: NewFileMode,
}

/// An access change prepared in memory: nothing is written until [`Plan::commit`].
pub struct Plan {
    writes: Vec<PlannedWrite>,
    /// The committed access files.
    pub paths: AccessPaths,
    /// The recipients after the change, by name.
    pub names: Vec<String>,
    /// Warnings to show (an `ssh-rsa` recipient, …).
    pub warnings: Vec<String>,
    /// For a rotation: the old and new public keys (short) and how many values were
    /// re-encrypted.
    pub rotated: Option<(String, String, usize)>,
    /// The keys file that holds the new key after a rotation, when the old key came from one.
    pub keys_file: Option<PathBuf>,
    /// Where the key used came from.
    pub key_source: String,
}

impl Plan {
    /// Writes every file, all or nothing: each is replaced atomically in turn, and if any
    /// write fails the files already written are put back as they were (a new file is
    /// removed).
    ///
    /// # Errors
    /// The first write that failed; every file is then as it was.
    pub fn commit(&self) -> Result<(), Error> {
        commit_with(&self.writes, |path, bytes, mode| {
            write_atomic(path, bytes, mode)
        })
    }

    /// The paths written, in order (a path may appear twice: a step's intermediate state).
    pub fn written(&self) -> Vec<&Path> {
        self.writes.iter().map(|w| w.path.as_path()).collect()
    }
}

/// A file's path, its bytes before a commit (`None`: it did not exist), and its mode.
type Original = (PathBuf, Option<Zeroizing<Vec<u8>>>, NewFileMode);

fn commit_with(
    writes: &[PlannedWrite],
    mut write: impl FnMut(&Path, &[u8], NewFileMode) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut originals: Vec<Original> = Vec::new();
    for w in writes {
        if originals.iter().any(|(p, _, _)| *p == w.path) {
            continue;
        }
        let before = match std::fs::read(&w.path) {
            Ok(bytes) => Some(Zeroizing::new(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&w.path, e)),
        };
        originals.push((w.path.clone(), before, w.mode));
    }
    let mut created_dirs = Vec::new();
    for w in writes {
        if let Some(dir) = w.path.parent()
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            created_dirs.push(dir.to_owned());
        }
    }
    for (done, w) in writes.iter().enumerate() {
        if let Err(e) = write(&w.path, &w.contents, w.mode) {
            // Put back, newest first, every file this commit touched.
            let touched: Vec<&PathBuf> = writes[..done].iter().map(|w| &w.path).collect();
            for (path, before, mode) in originals.iter().rev() {
                if !touched.contains(&path) {
                    continue;
                }
                let _ = match before {
                    Some(bytes) => write_atomic(path, bytes, *mode),
                    None => std::fs::remove_file(path).map_err(|e| Error::io(path, e)),
                };
            }
            for dir in created_dirs.iter().rev() {
                let _ = std::fs::remove_dir(dir);
            }
            return Err(e);
        }
    }
    Ok(())
}

/// The recipients file as it is, and what its seal approves.
struct Current {
    list: Recipients,
    /// The seal's sequence number (0 when there is no authentic seal).
    seq: u64,
    /// Names whose line the seal does not approve (changed, added, or no valid seal).
    unapproved: Vec<String>,
    /// What the seal says about the file, in words.
    summary: String,
}

fn current(paths: &AccessPaths, public: &PublicKey) -> Result<Current, AccessError> {
    let text = match crate::fs::read_text_if_exists(&paths.recipients)? {
        None => {
            return Ok(Current {
                list: Recipients::default(),
                seq: 0,
                unapproved: Vec::new(),
                summary: "absent".to_owned(),
            });
        }
        Some(text) => text,
    };
    let list = recipients::parse(&text).map_err(|(line, what)| AccessError::RecipientsLine {
        path: paths.recipients.clone(),
        line,
        what,
    })?;
    let all = || list.entries.iter().map(|e| e.name.clone()).collect();
    let (seq, unapproved, summary) = match seal::check(&text, Some(public)) {
        SealState::Valid { seq, .. } => (seq, Vec::new(), format!("valid (seq {seq})")),
        SealState::Stale { seq, .. } => {
            let sealed = seal::seal_lines(&text)
                .first()
                .and_then(|l| seal::parse_line(l).ok())
                .map(|s| s.keys())
                .unwrap_or_default();
            let now = seal::item_keys(&recipients::items(&list));
            let unapproved = now
                .iter()
                .filter(|k| !sealed.contains(k))
                .map(|k| k.name.clone())
                .collect();
            let mut changes: Vec<String> = seal::compare(&sealed, &now)
                .iter()
                .map(ToString::to_string)
                .collect();
            if changes.is_empty() {
                changes.push("a comment or the recorded wrapped key changed".to_owned());
            }
            (
                seq,
                unapproved,
                format!("stale since seq {seq}: {}", changes.join(", ")),
            )
        }
        SealState::Absent => (0, all(), "absent (never sealed by a key holder)".to_owned()),
        SealState::Invalid { problem, .. } => (0, all(), format!("invalid: {problem}")),
    };
    Ok(Current {
        list,
        seq,
        unapproved,
        summary,
    })
}

/// The state of an environment's access files, for `envx access ls` and `envx verify`.
pub struct Status {
    /// The files.
    pub paths: AccessPaths,
    /// Is there a recipients file?
    pub exists: bool,
    /// The recipients as listed.
    pub list: Recipients,
    /// The recipients file's seal, checked with the env file's public key.
    pub seal: SealState,
    /// Names whose line no valid seal approves.
    pub unapproved: Vec<String>,
    /// The seal's state in words (`stale since seq 3: bob changed`).
    pub summary: String,
    /// Does the wrapped key exist?
    pub wrapped_exists: bool,
    /// Is the wrapped key the one envx last made for this (approved) list?
    pub wrapped_matches: bool,
}

/// Reads the access files of `file` without any private key.
///
/// # Errors
/// A recipients file that cannot be read or parsed.
pub fn status(file: &EnvFile) -> Result<Status, AccessError> {
    let paths = locate(file.path(), &file.names().private);
    let text = crate::fs::read_text_if_exists(&paths.recipients)?;
    let exists = text.is_some();
    let text = text.map(|t| t.to_string()).unwrap_or_default();
    let (list, seal, unapproved, summary) = match file.public_key() {
        Some(public) if exists => {
            let c = current(&paths, public)?;
            (
                c.list,
                seal::check(&text, Some(public)),
                c.unapproved,
                c.summary,
            )
        }
        _ => {
            let list =
                recipients::parse(&text).map_err(|(line, what)| AccessError::RecipientsLine {
                    path: paths.recipients.clone(),
                    line,
                    what,
                })?;
            let all = list.entries.iter().map(|e| e.name.clone()).collect();
            let summary = "not checked: the env file declares no public key".to_owned();
            (list, SealState::Absent, all, summary)
        }
    };
    let wrapped = read_wrapped(&paths.wrapped).ok().flatten();
    let wrapped_matches = seal.is_valid()
        && match (&wrapped, &list.wrapped) {
            (Some(bytes), Some(recorded)) => recipients::digest(bytes) == *recorded,
            _ => false,
        };
    Ok(Status {
        paths,
        exists,
        list,
        seal,
        unapproved,
        summary,
        wrapped_exists: wrapped.is_some(),
        wrapped_matches,
    })
}

struct Holder {
    public: PublicKey,
    key: PrivateKey,
    source: KeySource,
}

fn holder(file: &EnvFile, decryptor: &Decryptor) -> Result<Holder, AccessError> {
    let public = *file
        .public_key()
        .ok_or_else(|| AccessError::NoKeyPair(file.path().to_owned()))?;
    decryptor.check_writable()?;
    let candidate = decryptor.matching().ok_or_else(|| decryptor.no_key())?;
    Ok(Holder {
        public,
        key: candidate.key.clone(),
        source: candidate.source.clone(),
    })
}

fn refuse_unapproved(
    current: &Current,
    except: Option<&str>,
    path: &Path,
) -> Result<(), AccessError> {
    let unapproved: Vec<&String> = current
        .unapproved
        .iter()
        .filter(|n| Some(n.as_str()) != except)
        .collect();
    if unapproved.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = unapproved.iter().map(|s| s.as_str()).collect();
    Err(AccessError::Refused(format!(
        "{}: not approved by a key holder: {} (added or changed since the file was last sealed); \
         the key is only wrapped to approved recipients. Review the file: remove lines you do not \
         approve, approve one with `envx access grant NAME RECIPIENT`, or all listed with --accept-recipients",
        path.display(),
        names.join(", ")
    )))
}

fn wrapped_line(private_name: &str, keys: &[&PrivateKey]) -> Zeroizing<Vec<u8>> {
    let hexes: Vec<Zeroizing<String>> = keys.iter().map(|k| k.expose_hex()).collect();
    let joined = Zeroizing::new(
        hexes
            .iter()
            .map(|h| h.as_str())
            .collect::<Vec<_>>()
            .join(","),
    );
    Zeroizing::new(format!("{private_name}={}\n", joined.as_str()).into_bytes())
}

fn wrap(
    plaintext: &[u8],
    list: &Recipients,
    callbacks: &Callbacks,
    path: &Path,
) -> Result<Zeroizing<Vec<u8>>, AccessError> {
    recipients::encrypt(plaintext, list, callbacks)
        .map(Zeroizing::new)
        .map_err(|what| AccessError::Wrap {
            path: path.to_owned(),
            what,
        })
}

fn sealed_list(
    list: &Recipients,
    private_name: &str,
    paths: &AccessPaths,
    key: &PrivateKey,
    seq: u64,
) -> Result<Zeroizing<Vec<u8>>, AccessError> {
    let wrapped_name = paths
        .wrapped
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = recipients::render(private_name, &wrapped_name, list);
    let sealed = seal::seal_items(&text, key, seq + 1, &recipients::items(list)).map_err(|e| {
        Error::Seal {
            path: paths.recipients.clone(),
            source: e,
        }
    })?;
    Ok(Zeroizing::new(sealed.into_bytes()))
}

/// The two writes that wrap the holder's key to `list` and seal the list (sequence `seq` + 1).
fn rewrap(
    mut list: Recipients,
    holder: &Holder,
    private_name: &str,
    paths: AccessPaths,
    callbacks: &Callbacks,
    seq: u64,
) -> Result<Plan, AccessError> {
    let warnings = list.entries.iter().filter_map(rsa_warning).collect();
    let wrapped = wrap(
        &wrapped_line(private_name, &[&holder.key]),
        &list,
        callbacks,
        &paths.wrapped,
    )?;
    list.wrapped = Some(recipients::digest(&wrapped));
    let sealed = sealed_list(&list, private_name, &paths, &holder.key, seq)?;
    Ok(Plan {
        writes: vec![
            PlannedWrite {
                path: paths.wrapped.clone(),
                contents: wrapped,
                mode: NewFileMode::Default,
            },
            PlannedWrite {
                path: paths.recipients.clone(),
                contents: sealed,
                mode: NewFileMode::Default,
            },
        ],
        names: list.entries.iter().map(|e| e.name.clone()).collect(),
        paths,
        warnings,
        rotated: None,
        keys_file: None,
        key_source: holder.source.to_string(),
    })
}

fn rsa_warning(entry: &Recipient) -> Option<String> {
    (entry.kind == recipients::RecipientKind::SshRsa).then(|| {
        format!(
            "{} is an ssh-rsa key: age supports it, but the rsa crate it uses has a known timing side channel (RUSTSEC-2023-0071); prefer an ssh-ed25519 key or `envx identity new`",
            entry.name
        )
    })
}

/// Options of a grant or revoke.
#[derive(Clone, Default)]
pub struct Options {
    /// Approve every line of the recipients file as it is (after review).
    pub accept_recipients: bool,
    /// Callbacks for plugin recipients.
    pub callbacks: Callbacks,
}

/// Adds `name` with `recipient` (or approves that line, when the file already lists it) and
/// wraps the environment key again to every recipient.
///
/// # Errors
/// No key pair or no matching private key; a recipient age cannot use; `name` already listed
/// with another recipient; lines no seal approves (unless `accept_recipients`).
pub fn grant(
    file: &EnvFile,
    decryptor: &Decryptor,
    name: &str,
    recipient: &str,
    options: &Options,
) -> Result<Plan, AccessError> {
    if !recipients::valid_name(name) {
        return Err(AccessError::Refused(
            "the name given is not usable: letters, digits and . _ @ + - only (at most 64); \
             it is not repeated here in case it is a key pasted in the wrong place"
                .to_owned(),
        ));
    }
    let line = recipient.trim().to_owned();
    let kind = recipients::kind_of(&line)
        .map_err(|what| AccessError::Refused(format!("the recipient given for {name}: {what}")))?;
    let (holder, paths, current) = state(file, decryptor, options)?;
    let private_name = &file.names().private;
    let mut list = current.list.clone();
    match list.entries.iter().find(|e| e.name == name) {
        Some(existing) if existing.line != line => {
            return Err(AccessError::Refused(format!(
                "{}: {name} is already listed with another recipient; revoke it first (`envx access revoke {name}`)",
                paths.recipients.display()
            )));
        }
        Some(_) => {}
        None => {
            if let Some(other) = list.entries.iter().find(|e| e.line == line) {
                return Err(AccessError::Refused(format!(
                    "{}: that recipient is already listed as {}",
                    paths.recipients.display(),
                    other.name
                )));
            }
            list.entries.push(Recipient {
                name: name.to_owned(),
                line,
                kind,
            });
        }
    }
    refuse_unapproved(&current, Some(name), &paths.recipients)?;
    rewrap(
        list,
        &holder,
        private_name,
        paths,
        &options.callbacks,
        current.seq,
    )
}

/// Wraps the environment key again to the recipients listed, all of them approved (or
/// accepted with `accept_recipients`), and seals the list with the key: to approve a reviewed
/// pull request that added recipient lines, or to repair a wrapped key that was not made for
/// the approved list.
///
/// # Errors
/// As [`grant`]; an empty or missing recipients file.
pub fn sync(file: &EnvFile, decryptor: &Decryptor, options: &Options) -> Result<Plan, AccessError> {
    let (holder, paths, current) = approved_list(file, decryptor, options)?;
    rewrap(
        current.list,
        &holder,
        &file.names().private,
        paths,
        &options.callbacks,
        current.seq,
    )
}

/// The key holder, the access files and the current recipients list, which must name someone
/// and hold only approved lines (or `--accept-recipients`).
fn approved_list(
    file: &EnvFile,
    decryptor: &Decryptor,
    options: &Options,
) -> Result<(Holder, AccessPaths, Current), AccessError> {
    let (holder, paths, current) = state(file, decryptor, options)?;
    if current.list.entries.is_empty() {
        return Err(AccessError::Refused(format!(
            "{}: no recipients listed (envx access grant adds one)",
            paths.recipients.display()
        )));
    }
    refuse_unapproved(&current, None, &paths.recipients)?;
    Ok((holder, paths, current))
}

/// The key holder, the access files and the recipients list as it stands, with every line
/// counted as approved under `accept_recipients`.
fn state(
    file: &EnvFile,
    decryptor: &Decryptor,
    options: &Options,
) -> Result<(Holder, AccessPaths, Current), AccessError> {
    let holder = holder(file, decryptor)?;
    let paths = locate(file.path(), &file.names().private);
    let mut current = current(&paths, &holder.public)?;
    if options.accept_recipients {
        current.unapproved.clear();
    }
    Ok((holder, paths, current))
}

/// Removes `name` and, with `rotate`, makes a new key pair for the environment: every value
/// re-encrypted, the env file's seal renewed, the recipients file sealed with the new key, the
/// new key wrapped to the remaining recipients, and a keys file that held the old key given
/// the new one. Without `rotate`, the same key is wrapped again to the remaining recipients.
///
/// # Errors
/// As [`grant`]; `name` not listed; no recipient would remain; a value that cannot be
/// decrypted (a rotation never drops a value).
pub fn revoke(
    file: EnvFile,
    decryptor: &Decryptor,
    name: &str,
    rotate: bool,
    options: &Options,
) -> Result<Plan, AccessError> {
    let (holder, paths, current) = state(&file, decryptor, options)?;
    let mut list = current.list.clone();
    let Some(index) = list.entries.iter().position(|e| e.name == name) else {
        return Err(AccessError::Refused(format!(
            "{}: {name} is not listed (envx access ls shows who is)",
            paths.recipients.display()
        )));
    };
    list.entries.remove(index);
    if list.entries.is_empty() {
        return Err(AccessError::Refused(format!(
            "{}: {name} is the last recipient; nobody could open the key afterwards. Grant someone else first",
            paths.recipients.display()
        )));
    }
    refuse_unapproved(&current, Some(name), &paths.recipients)?;
    match rotate {
        false => rewrap(
            list,
            &holder,
            &file.names().private,
            paths,
            &options.callbacks,
            current.seq,
        ),
        true => rotate_and_rewrap(
            file,
            decryptor,
            &holder,
            list,
            current.seq,
            paths,
            &options.callbacks,
        ),
    }
}

/// Makes a new key pair for the environment whose key is wrapped to its recipients: every
/// value re-encrypted, the env file's seal renewed, the recipients file sealed with the new key
/// and the new key wrapped to the same recipients, and a keys file that held the old key given
/// the new one. `envx rotate` takes this path when the environment has a recipients file, so
/// that teammates keep access through their identities.
///
/// # Errors
/// As [`sync`]; a value that cannot be decrypted (a rotation never drops a value).
pub fn rotate(
    file: EnvFile,
    decryptor: &Decryptor,
    options: &Options,
) -> Result<Plan, AccessError> {
    let (holder, paths, current) = approved_list(&file, decryptor, options)?;
    rotate_and_rewrap(
        file,
        decryptor,
        &holder,
        current.list,
        current.seq,
        paths,
        &options.callbacks,
    )
}

/// The rotation behind [`revoke`] and [`rotate`]: a new key for `file`, wrapped to `list`.
fn rotate_and_rewrap(
    file: EnvFile,
    decryptor: &Decryptor,
    holder: &Holder,
    mut list: Recipients,
    seq: u64,
    paths: AccessPaths,
    callbacks: &Callbacks,
) -> Result<Plan, AccessError> {
    let private_name = file.names().private.clone();
    let warnings = list.entries.iter().filter_map(rsa_warning).collect();
    let names = list.entries.iter().map(|e| e.name.clone()).collect();
    let key_source = holder.source.to_string();
    let env_path = file.path().to_owned();
    let rotation = Rotation::prepare(file, decryptor)?;
    let new_key = rotation.new_key().clone();
    // While the env file changes, the wrapped key holds both keys, so that every step leaves
    // a state the remaining recipients can read.
    let both = wrap(
        &wrapped_line(&private_name, &[&new_key, &holder.key]),
        &list,
        callbacks,
        &paths.wrapped,
    )?;
    let wrapped = wrap(
        &wrapped_line(&private_name, &[&new_key]),
        &list,
        callbacks,
        &paths.wrapped,
    )?;
    list.wrapped = Some(recipients::digest(&wrapped));
    let sealed = sealed_list(&list, &private_name, &paths, &new_key, seq)?;
    let mut writes = Vec::new();
    let keys_texts = rotation.keys_file_texts();
    if let Some((path, both_text, _)) = &keys_texts {
        writes.push(PlannedWrite {
            path: path.clone(),
            contents: Zeroizing::new(both_text.as_bytes().to_vec()),
            mode: NewFileMode::Private,
        });
    }
    writes.push(PlannedWrite {
        path: paths.wrapped.clone(),
        contents: both,
        mode: NewFileMode::Default,
    });
    writes.push(PlannedWrite {
        path: env_path,
        contents: Zeroizing::new(rotation.env_text().as_bytes().to_vec()),
        mode: NewFileMode::Default,
    });
    writes.push(PlannedWrite {
        path: paths.recipients.clone(),
        contents: sealed,
        mode: NewFileMode::Default,
    });
    writes.push(PlannedWrite {
        path: paths.wrapped.clone(),
        contents: wrapped,
        mode: NewFileMode::Default,
    });
    if let Some((path, _, new_text)) = &keys_texts {
        writes.push(PlannedWrite {
            path: path.clone(),
            contents: Zeroizing::new(new_text.as_bytes().to_vec()),
            mode: NewFileMode::Private,
        });
    }
    Ok(Plan {
        writes,
        names,
        paths,
        warnings,
        rotated: Some((
            rotation.old_public_short(),
            rotation.new_public_short(),
            rotation.reencrypted(),
        )),
        keys_file: keys_texts.map(|(p, _, _)| p),
        key_source,
    })
}

/// The `.env.keys` line of the environment key (`DOTENV_PRIVATE_KEY_…=hex`), for
/// `envx access export`.
///
/// # Errors
/// No key pair, or no matching private key.
pub fn export_line(
    file: &EnvFile,
    decryptor: &Decryptor,
) -> Result<Zeroizing<String>, AccessError> {
    let holder = holder(file, decryptor)?;
    let bytes = wrapped_line(&file.names().private, &[&holder.key]);
    Ok(Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned()))
}

#[cfg(test)]
mod tests;
