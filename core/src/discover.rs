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
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Variable(name) => write!(f, "${name}"),
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Supplied(what) => f.write_str(what),
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
}

/// Parsed keys files, shared by the files of one command.
#[derive(Default)]
pub struct KeysFileCache {
    files: HashMap<PathBuf, Option<Vec<KeysFileEntry>>>,
    loose: Vec<(PathBuf, u32)>,
}

impl KeysFileCache {
    fn get(&mut self, path: &Path, strict: bool) -> Result<Option<&[KeysFileEntry]>> {
        if !self.files.contains_key(path) {
            let text = read_text_if_exists(path)?;
            if let Some(mode) = text.as_ref().and_then(|_| loose_mode(path)) {
                if strict {
                    return Err(Error::KeysFilePermissions {
                        path: path.to_owned(),
                        mode,
                    });
                }
                self.loose.push((path.to_owned(), mode));
            }
            let parsed = text.map(|text| parse_keys_file(&text));
            self.files.insert(path.to_owned(), parsed);
        }
        Ok(self.files.get(path).and_then(|p| p.as_deref()))
    }

    /// Keys files read so far that other users can read, with their permission bits.
    pub fn loose_files(&self) -> &[(PathBuf, u32)] {
        &self.loose
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
}

impl KeyRing {
    /// Gathers the candidates for `env_file`, whose private-key variable is `private_name`.
    ///
    /// # Errors
    /// [`Error::InvalidPrivateKey`] when the variable or keys-file entry with exactly
    /// `private_name` holds something that is not a key (other names are skipped: they may
    /// belong to other files), and I/O errors other than a missing keys file. A keys file the
    /// caller named must exist.
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
            if cache.get(&path, search.strict_permissions)?.is_none() {
                return Err(Error::io(
                    path,
                    std::io::Error::new(std::io::ErrorKind::NotFound, "keys file not found"),
                ));
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
        self.searched.push(path.display().to_string());
        let Some(entries) = cache.get(path, strict)? else {
            return Ok(());
        };
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
                Err(cause) if entry.name == private_name => {
                    return Err(Error::InvalidPrivateKey {
                        source_name: format!("{}:{}", path.display(), entry.line),
                        key: entry.name.clone(),
                        cause: *cause,
                    });
                }
                Err(_) => {}
            }
        }
        Ok(())
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
