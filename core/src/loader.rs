//! [`Loader`], the front door for programs that embed envx-core: name the files, say where
//! keys may come from, get a map back.
//!
//! It is a thin layer over [`crate::load::load`]: the same decryption, the same expansion, the
//! same errors. What it adds is defaults: `.env` when no file is named, no process environment
//! unless asked, no `$(...)` ever, and no private key in the result.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use crate::discover::{Candidate, KeySearch, KeySource};
use crate::error::Result;
use crate::keys::PrivateKey;
use crate::load::{LoadOptions, load};
use crate::policy::is_private_key_var;
use crate::secret::SecretString;

/// Loads env files into an [`EnvMap`].
///
/// Defaults: the file `.env`; private keys from `.env.keys` beside each file (then in each
/// parent folder up to the repository root, then in the working directory); the process
/// environment is **not** read, so neither `DOTENV_PRIVATE_KEY_*` variables nor variables for
/// `${NAME}` references come from it unless [`Loader::process_env`] or [`Loader::env`] is
/// called. Nothing is ever written to the process environment. A value holding a command
/// substitution `$(...)` is an error: a loader never runs commands found in files.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join(".env.production");
/// # std::fs::write(&path, "DATABASE_HOST=db.internal\nDATABASE_URL=\"postgres://${DATABASE_HOST}/app\"\n")?;
/// let env = envx_core::Loader::new().file(&path).load()?;
/// assert_eq!(env.get("DATABASE_URL").map(|v| v.expose_secret()), Some("postgres://db.internal/app"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct Loader {
    files: Vec<PathBuf>,
    keys_files: Vec<PathBuf>,
    private_keys: Vec<PrivateKey>,
    env: Environment,
    overload: bool,
    strict_permissions: bool,
}

/// Which environment loading sees.
#[derive(Default)]
enum Environment {
    /// None: the default.
    #[default]
    Empty,
    /// A snapshot of the process environment, taken by [`Loader::load`].
    Process,
    /// One the caller gave.
    Given(HashMap<String, String>),
}

impl Loader {
    /// A loader with the defaults above.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an env file (repeatable; loaded in order). Without any, `.env` is loaded.
    #[must_use]
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.push(path.into());
        self
    }

    /// Adds a keys file to search before the `.env.keys` files found by walking up (a folder
    /// stands for the `.env.keys` in it).
    #[must_use]
    pub fn keys_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.keys_files.push(path.into());
        self
    }

    /// Offers a private key directly (from a secret manager, say). Like every other source,
    /// it is used only for a file whose public key it matches.
    #[must_use]
    pub fn private_key(mut self, key: PrivateKey) -> Self {
        self.private_keys.push(key);
        self
    }

    /// Lets loading see the process environment, read once when [`Loader::load`] runs: its
    /// `DOTENV_PRIVATE_KEY_*` variables become key sources, `${NAME}` references can use its
    /// variables, and its values win over the files' unless [`Loader::overload`].
    #[must_use]
    pub fn process_env(mut self) -> Self {
        self.env = Environment::Process;
        self
    }

    /// Like [`Loader::process_env`], with an environment the caller builds.
    #[must_use]
    pub fn env(mut self, env: HashMap<String, String>) -> Self {
        self.env = Environment::Given(env);
        self
    }

    /// Lets file values win over the environment, and later files over earlier ones.
    #[must_use]
    pub fn overload(mut self, overload: bool) -> Self {
        self.overload = overload;
        self
    }

    /// Refuses keys files that other users can read (by default they are used).
    #[must_use]
    pub fn strict_permissions(mut self, strict: bool) -> Self {
        self.strict_permissions = strict;
        self
    }

    /// Loads the files: decrypts, expands, and returns the variables in the order they first
    /// appear. `DOTENV_PRIVATE_KEY_*` variables are left out of the result.
    ///
    /// # Errors
    /// The first failure, with its [`crate::ErrorKind`] and the file, line and key it concerns
    /// ([`crate::Error::path`], [`crate::Error::line`], [`crate::Error::key`]): a missing file,
    /// a line that is not an assignment, a value no available key decrypts, a `$(...)`.
    pub fn load(&self) -> Result<EnvMap> {
        let mut snapshot = match &self.env {
            Environment::Empty => HashMap::new(),
            Environment::Process => std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            Environment::Given(env) => env.clone(),
        };
        let supplied: Vec<Candidate> = self
            .private_keys
            .iter()
            .map(|key| Candidate {
                key: key.clone(),
                source: KeySource::Supplied("a key given to the loader".to_owned()),
            })
            .collect();
        let files = if self.files.is_empty() {
            vec![PathBuf::from(".env")]
        } else {
            self.files.clone()
        };
        let cwd = std::env::current_dir().ok();
        let result = load(
            &files,
            LoadOptions {
                env: &snapshot,
                search: KeySearch {
                    env: &snapshot,
                    keys_files: &self.keys_files,
                    supplied: &supplied,
                    cwd: cwd.as_deref(),
                    strict_permissions: self.strict_permissions,
                    cache: None,
                    identities: None,
                },
                overload: self.overload,
                commands: None,
            },
        );
        for (_, mut value) in snapshot.drain() {
            zeroize::Zeroize::zeroize(&mut value);
        }
        let loaded = result?;
        let entries = loaded
            .variables
            .into_iter()
            .filter(|v| !is_private_key_var(&v.key))
            .map(|v| (v.key, v.value))
            .collect();
        Ok(EnvMap { entries })
    }
}

impl fmt::Debug for Loader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env = match &self.env {
            Environment::Empty => "none".to_owned(),
            Environment::Process => "the process environment".to_owned(),
            Environment::Given(env) => format!("{} variables (values not shown)", env.len()),
        };
        f.debug_struct("Loader")
            .field("files", &self.files)
            .field("keys_files", &self.keys_files)
            .field("private_keys", &self.private_keys)
            .field("env", &env)
            .field("overload", &self.overload)
            .field("strict_permissions", &self.strict_permissions)
            .finish()
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        if let Environment::Given(env) = &mut self.env {
            for (_, mut value) in env.drain() {
                zeroize::Zeroize::zeroize(&mut value);
            }
        }
    }
}

/// Loaded variables, in the order they first appear in the files. Each value is a
/// [`SecretString`]: wiped when dropped, `[REDACTED]` in `Debug`, read with
/// [`SecretString::expose_secret`].
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join(".env");
/// # std::fs::write(&path, "B=2\nA=1\n")?;
/// let env = envx_core::Loader::new().file(&path).load()?;
/// let keys: Vec<&str> = env.keys().collect();
/// assert_eq!(keys, ["B", "A"]);
/// assert_eq!(format!("{env:?}"), r#"{"B": [REDACTED], "A": [REDACTED]}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct EnvMap {
    entries: Vec<(String, SecretString)>,
}

impl EnvMap {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&SecretString> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Is `key` defined?
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// Keys and values, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &SecretString)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// How many variables there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Are there none?
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl IntoIterator for EnvMap {
    type Item = (String, SecretString);
    type IntoIter = std::vec::IntoIter<(String, SecretString)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl fmt::Debug for EnvMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted;
        impl fmt::Debug for Redacted {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[REDACTED]")
            }
        }
        f.debug_map()
            .entries(self.entries.iter().map(|(k, _)| (k, Redacted)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    const SECRET: &str = "hunter2-loader-secret";

    fn encrypted_file(dir: &std::path::Path) -> (PathBuf, PrivateKey) {
        let key = PrivateKey::generate();
        let path = dir.join(".env.production");
        let text = format!(
            "DOTENV_PUBLIC_KEY_PRODUCTION=\"{}\"\nUSER_NAME=ada\nPASSWORD=\"{}\"\nDOTENV_PRIVATE_KEY_LEAKED=abc\n",
            key.public_key().to_hex(),
            crate::encrypt_value(key.public_key(), SECRET)
        );
        std::fs::write(&path, text).unwrap();
        (path, key)
    }

    #[test]
    fn loads_with_a_given_key_and_never_returns_a_private_key() {
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = encrypted_file(dir.path());
        let env = Loader::new().file(&path).private_key(key).load().unwrap();
        assert_eq!(env.get("PASSWORD").unwrap().expose_secret(), SECRET);
        assert_eq!(env.get("USER_NAME").unwrap().expose_secret(), "ada");
        assert!(!env.contains_key("DOTENV_PRIVATE_KEY_LEAKED"));
        let keys: Vec<&str> = env.keys().collect();
        assert_eq!(
            keys,
            ["DOTENV_PUBLIC_KEY_PRODUCTION", "USER_NAME", "PASSWORD"]
        );
    }

    #[test]
    fn the_environment_is_read_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = encrypted_file(dir.path());
        // Without a key source the environment would have given, loading fails, by kind.
        let error = Loader::new()
            .file(&path)
            .env(HashMap::from([("OTHER".to_owned(), "x".to_owned())]))
            .load()
            .err()
            .unwrap();
        assert_eq!(error.kind(), ErrorKind::NoPrivateKey);
        assert_eq!(error.path(), Some(path.as_path()));
        let env = HashMap::from([
            (
                "DOTENV_PRIVATE_KEY_PRODUCTION".to_owned(),
                key.expose_hex().to_string(),
            ),
            ("USER_NAME".to_owned(), "grace".to_owned()),
        ]);
        let loaded = Loader::new().file(&path).env(env.clone()).load().unwrap();
        assert_eq!(loaded.get("PASSWORD").unwrap().expose_secret(), SECRET);
        // The environment wins over the file unless overload.
        assert_eq!(loaded.get("USER_NAME").unwrap().expose_secret(), "grace");
        let loaded = Loader::new()
            .file(&path)
            .env(env)
            .overload(true)
            .load()
            .unwrap();
        assert_eq!(loaded.get("USER_NAME").unwrap().expose_secret(), "ada");
    }

    #[test]
    fn the_process_environment_is_read_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "SEEN=\"${PATH}\"\n").unwrap();
        let path_var = std::env::var("PATH").expect("tests run with PATH set");
        let env = Loader::new().file(&path).load().unwrap();
        assert_eq!(env.get("SEEN").unwrap().expose_secret(), "");
        let env = Loader::new().file(&path).process_env().load().unwrap();
        assert_eq!(env.get("SEEN").unwrap().expose_secret(), path_var);
    }

    #[test]
    fn debug_shows_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = encrypted_file(dir.path());
        let hex = key.expose_hex().to_string();
        let loader = Loader::new()
            .file(&path)
            .private_key(key)
            .env(HashMap::from([("TOKEN".to_owned(), SECRET.to_owned())]));
        let env = Loader::new()
            .file(&path)
            .private_key(PrivateKey::from_hex(&hex).unwrap())
            .load()
            .unwrap();
        let shown = format!("{loader:?} {loader:#?} {env:?} {env:#?}");
        assert!(
            !shown.contains(SECRET) && !shown.contains(&hex[..16]),
            "{shown}"
        );
        assert!(shown.contains("PASSWORD"), "{shown}");
    }

    #[test]
    fn command_substitution_is_an_error_by_kind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "A=1\nB=$(touch pwned)\n").unwrap();
        let error = Loader::new().file(&path).load().err().unwrap();
        assert_eq!(error.kind(), ErrorKind::CommandSubstitution);
        assert_eq!((error.line(), error.key()), (Some(2), Some("B")));
        assert!(!dir.path().join("pwned").exists());
    }
}
