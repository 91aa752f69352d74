//! Where private keys come from, and which one fits a file.
//!
//! For an env file envx gathers candidate private keys, in this order:
//!
//! 1. the variable named after the file (`DOTENV_PRIVATE_KEY_PRODUCTION` for `.env.production`);
//! 2. every other `DOTENV_PRIVATE_KEY*` variable (a key is recognised by its public half, not
//!    by its name, as dotenvx does);
//! 3. the keys files the caller names (`--keys-file`);
//! 4. `.env.keys` beside the file, then in each parent folder up to the repository root (the
//!    folder holding `.git`), so a monorepo can keep one keys file for many apps;
//! 5. `.env.keys` in the working directory (where dotenvx stores keys it creates).
//!
//! A value holding several keys separated by commas contributes each of them. The key used for
//! a file is the first candidate whose public key equals the one the file declares.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fs::read_text_if_exists;
use crate::keys::{PrivateKey, PublicKey};
use crate::keys_file::{KEYS_FILE_NAME, KeysFileEntry, parse_keys_file};
use crate::names::PRIVATE_KEY_PREFIX;

/// Where a candidate key was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// An environment variable, by name.
    Variable(String),
    /// A keys file.
    File(PathBuf),
    /// Supplied directly by the caller (for example the output of `--key-command`).
    Supplied(String),
    /// A wrapped key (`envx-access/…age`) opened with the user's identity from `identity`.
    Wrapped {
        /// The wrapped key's path.
        path: PathBuf,
        /// The identity source that opened it (`ENVX_IDENTITY`, a file, `--identity-command`).
        identity: String,
    },
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Variable(name) => write!(f, "${name}"),
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Supplied(what) => f.write_str(what),
            Self::Wrapped { path, identity } => {
                write!(f, "{} (wrapped, opened with {identity})", path.display())
            }
        }
    }
}

/// A private key and where it came from.
pub struct Candidate {
    /// The key.
    pub key: PrivateKey,
    /// Its origin.
    pub source: KeySource,
}

/// How to look for keys.
#[derive(Clone, Copy)]
pub struct KeySearch<'a> {
    /// The process environment (a snapshot; envx never reads it behind the caller's back).
    pub env: &'a HashMap<String, String>,
    /// Keys files named by the caller; a folder stands for the `.env.keys` inside it.
    pub keys_files: &'a [PathBuf],
    /// Keys supplied directly, tried right after the file's own variable.
    pub supplied: &'a [Candidate],
    /// The working directory, whose `.env.keys` is searched last.
    pub cwd: Option<&'a Path>,
    /// Refuse keys files that other users can read, instead of reporting them.
    pub strict_permissions: bool,
    /// Where the AES keys of values already opened are cached (`None`: no cache). Only
    /// consulted once the file's own private key is found.
    pub cache: Option<&'a crate::cache::KeyCache>,
    /// The user's identities, to open a wrapped key (`envx-access/`) when no other source
    /// has the file's key (`None`: wrapped keys are not looked for).
    pub identities: Option<&'a crate::access::identity::Identities>,
}

impl<'a> KeySearch<'a> {
    /// A search in `env` and `supplied` only: no keys files, no working directory, no key
    /// cache, no identities. Set the other fields with struct update syntax.
    pub fn new(env: &'a HashMap<String, String>, supplied: &'a [Candidate]) -> Self {
        Self {
            env,
            keys_files: &[],
            supplied,
            cwd: None,
            strict_permissions: false,
            cache: None,
            identities: None,
        }
    }
}

/// Parsed keys files, shared by the files of one command.
#[derive(Default)]
pub struct KeysFileCache {
    files: HashMap<PathBuf, Cached>,
    loose: Vec<(PathBuf, u32)>,
    problems: Vec<KeysFileProblem>,
}

/// One keys file as read.
enum Cached {
    Missing,
    /// Could not be read as text (the error names the file and, where it has one, the line).
    Unreadable(Error),
    Parsed(Vec<KeysFileEntry>),
}

/// Something wrong in a keys file that envx went on without: a line whose key is malformed, or
/// a file that cannot be read. It stops a command only when it may be where the file's key is
/// (no other source had it); otherwise it is a warning, so a broken or planted `.env.keys`
/// cannot stop a run whose key comes from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysFileProblem {
    /// The keys file.
    pub path: PathBuf,
    /// The line, for a malformed key.
    pub line: Option<usize>,
    /// What is wrong, naming the file (and line and variable), never a value.
    pub message: String,
}

impl fmt::Display for KeysFileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl KeysFileCache {
    fn get(&mut self, path: &Path, strict: bool) -> Result<&Cached> {
        if !self.files.contains_key(path) {
            let cached = match read_text_if_exists(path) {
                Ok(None) => Cached::Missing,
                Ok(Some(text)) => {
                    if let Some(mode) = loose_mode(path) {
                        if strict {
                            return Err(Error::KeysFilePermissions {
                                path: path.to_owned(),
                                mode,
                            });
                        }
                        self.loose.push((path.to_owned(), mode));
                    }
                    Cached::Parsed(parse_keys_file(&text))
                }
                Err(e) => Cached::Unreadable(e),
            };
            self.files.insert(path.to_owned(), cached);
        }
        Ok(self
            .files
            .get(path)
            .unwrap_or_else(|| unreachable!("inserted above")))
    }

    fn note(&mut self, problem: &KeysFileProblem) {
        if !self.problems.contains(problem) {
            self.problems.push(problem.clone());
        }
    }

    /// Keys files read so far that other users can read, with their permission bits.
    pub fn loose_files(&self) -> &[(PathBuf, u32)] {
        &self.loose
    }

    /// Problems met in the keys files read so far (each once). After a command succeeded,
    /// these are the ones it did not need: worth a warning.
    pub fn problems(&self) -> &[KeysFileProblem] {
        &self.problems
    }
}

/// The permission bits of a keys file that group or others can access.
#[cfg(unix)]
fn loose_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn loose_mode(_path: &Path) -> Option<u32> {
    None
}

/// The candidate keys for one env file.
pub struct KeyRing {
    candidates: Vec<Candidate>,
    /// Indices of the candidates held for this very file: its own variable, keys-file entries
    /// of that name, and keys the caller supplied.
    own: Vec<usize>,
    searched: Vec<String>,
    problems: Vec<KeysFileProblem>,
}

impl KeyRing {
    /// Gathers the candidates for `env_file`, whose private-key variable is `private_name`.
    ///
    /// A keys file that cannot be read, or whose entry named `private_name` is not a key, is
    /// not an error here: it is recorded ([`KeyRing::problems`], and in the places searched,
    /// which the error for a missing key lists), because the key may well come from elsewhere.
    /// Entries under other names are skipped (they may belong to other files).
    ///
    /// # Errors
    /// [`Error::InvalidPrivateKey`] when the variable named `private_name` holds something that
    /// is not a key (the user set it for this file); a keys file the caller named that is
    /// missing or cannot be read; [`Error::KeysFilePermissions`] in strict mode.
    pub fn collect(
        env_file: &Path,
        private_name: &str,
        search: &KeySearch<'_>,
        cache: &mut KeysFileCache,
    ) -> Result<Self> {
        let mut ring = Self {
            candidates: Vec::new(),
            own: Vec::new(),
            searched: Vec::new(),
            problems: Vec::new(),
        };
        ring.searched.push(format!("${private_name}"));
        if let Some(value) = search.env.get(private_name) {
            ring.add_list(
                value,
                KeySource::Variable(private_name.to_owned()),
                true,
                "environment",
            )?;
        }
        for candidate in search.supplied {
            ring.searched.push(candidate.source.to_string());
            ring.own.push(ring.candidates.len());
            ring.candidates.push(Candidate {
                key: candidate.key.clone(),
                source: candidate.source.clone(),
            });
        }
        let mut others: Vec<(&String, &String)> = search
            .env
            .iter()
            .filter(|(name, _)| name.starts_with(PRIVATE_KEY_PREFIX) && *name != private_name)
            .collect();
        others.sort();
        for (name, value) in others {
            ring.add_list(
                value,
                KeySource::Variable(name.clone()),
                false,
                "environment",
            )?;
        }
        for path in search.keys_files {
            let path = if path.is_dir() {
                path.join(KEYS_FILE_NAME)
            } else {
                path.clone()
            };
            match cache.get(&path, search.strict_permissions)? {
                Cached::Missing => {
                    return Err(Error::io(
                        path,
                        std::io::Error::new(std::io::ErrorKind::NotFound, "keys file not found"),
                    ));
                }
                // Named by the caller: reading it again gives the error itself.
                Cached::Unreadable(_) => {
                    crate::fs::read_text(&path)?;
                }
                Cached::Parsed(_) => {}
            }
            ring.add_file(&path, private_name, search.strict_permissions, cache)?;
        }
        for path in default_keys_files(env_file, search.cwd) {
            ring.add_file(&path, private_name, search.strict_permissions, cache)?;
        }
        Ok(ring)
    }

    fn add_list(
        &mut self,
        value: &str,
        source: KeySource,
        required: bool,
        place: &str,
    ) -> Result<()> {
        for element in value.split(',') {
            match PrivateKey::from_hex(element) {
                Ok(key) => {
                    if required {
                        self.own.push(self.candidates.len());
                    }
                    self.candidates.push(Candidate {
                        key,
                        source: source.clone(),
                    });
                }
                Err(cause) if required => {
                    let KeySource::Variable(name) = &source else {
                        unreachable!("only the file's own variable is required to be valid")
                    };
                    return Err(Error::InvalidPrivateKey {
                        source_name: place.to_owned(),
                        key: name.clone(),
                        cause,
                    });
                }
                Err(_) => {}
            }
        }
        Ok(())
    }

    fn add_file(
        &mut self,
        path: &Path,
        private_name: &str,
        strict: bool,
        cache: &mut KeysFileCache,
    ) -> Result<()> {
        let mut found = Vec::new();
        match cache.get(path, strict)? {
            Cached::Missing => {}
            Cached::Unreadable(error) => found.push(KeysFileProblem {
                path: path.to_owned(),
                line: None,
                message: error.to_string(),
            }),
            Cached::Parsed(entries) => {
                for entry in entries {
                    match &entry.key {
                        Ok(key) => {
                            if entry.name == private_name {
                                self.own.push(self.candidates.len());
                            }
                            self.candidates.push(Candidate {
                                key: key.clone(),
                                source: KeySource::File(path.to_owned()),
                            });
                        }
                        Err(cause) if entry.name == private_name => found.push(KeysFileProblem {
                            path: path.to_owned(),
                            line: Some(entry.line),
                            message: Error::InvalidPrivateKey {
                                source_name: format!("{}:{}", path.display(), entry.line),
                                key: entry.name.clone(),
                                cause: *cause,
                            }
                            .to_string(),
                        }),
                        Err(_) => {}
                    }
                }
            }
        }
        // The places searched (which the error for a missing key lists) say what was wrong.
        let mut place = path.display().to_string();
        for problem in &found {
            place.push_str(&format!(" ({problem})"));
            cache.note(problem);
        }
        self.searched.push(place);
        self.problems.extend(found);
        Ok(())
    }

    /// Problems in the keys files this ring read (malformed keys named for the file, files that
    /// cannot be read). When the file's key was found elsewhere, they are warnings.
    pub fn problems(&self) -> &[KeysFileProblem] {
        &self.problems
    }

    /// The first candidate whose public key is `public`.
    pub fn find(&self, public: &PublicKey) -> Option<&Candidate> {
        self.candidates
            .iter()
            .find(|c| c.key.public_key() == public)
    }

    /// The candidates held for this very file (under its own variable name, or supplied by
    /// the caller), in search order.
    pub fn own(&self) -> impl Iterator<Item = &Candidate> {
        self.own.iter().map(|&i| &self.candidates[i])
    }

    /// All candidates, in search order.
    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// Adds a key found after the ring was gathered (a wrapped key), and the places searched
    /// for it.
    pub(crate) fn add_late(&mut self, candidate: Option<Candidate>, searched: Vec<String>) {
        self.searched.extend(searched);
        if let Some(candidate) = candidate {
            self.candidates.push(candidate);
        }
    }

    /// The places searched, for error messages.
    pub fn searched(&self) -> &[String] {
        &self.searched
    }
}

/// `.env.keys` beside the file and in each parent up to the repository root, then in `cwd`.
fn default_keys_files(env_file: &Path, cwd: Option<&Path>) -> Vec<PathBuf> {
    let dir = match env_file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut out = vec![dir.join(KEYS_FILE_NAME)];
    if let Ok(start) = dir.canonicalize()
        && !start.join(".git").exists()
    {
        let mut current = start.parent();
        while let Some(folder) = current {
            out.push(folder.join(KEYS_FILE_NAME));
            if folder.join(".git").exists() {
                break;
            }
            current = folder.parent();
        }
        // Outside any repository only the file's own folder is searched.
        if current.is_none() {
            out.truncate(1);
        }
    }
    if let Some(cwd) = cwd {
        let here = cwd.join(KEYS_FILE_NAME);
        let known = out.iter().any(|p| same_file(p, &here));
        if !known {
            out.push(here);
        }
    }
    out
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
