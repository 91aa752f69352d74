//! The rules about what may leave envx, kept in one place below every exit: which variables a
//! committed file may set for a program (`run`, `get --format shell|eval`, and library users
//! through [`Policy::apply`]), which never leave at all (private keys), and which files are env
//! files ([`files`]).
//!
//! A file is written by anyone who can open a pull request, and an encrypted value by anyone
//! holding the public key, so a value is data: it must not decide which code a program loads,
//! where its traffic goes or what it trusts. Those variables are grouped in classes
//! ([`LOADER_CLASSES`]); the user lifts the rule one name at a time
//! ([`Policy::allow_loader_vars`]).

use std::path::PathBuf;

use crate::load::Loaded;
use crate::names::PRIVATE_KEY_PREFIX;

pub mod files;
mod loader;

pub use loader::{HARMLESS, LOADER_CLASSES, LoaderClass};

/// Whether this platform's environment ignores letter case (Windows), so that `path` and
/// `PATH` are one variable and every class matches ignoring case. Elsewhere names match
/// exactly, except classes whose readers accept both spellings themselves ([`LoaderClass::any_case`]).
pub const CASE_INSENSITIVE_ENV: bool = cfg!(windows);

/// The loader class `name` belongs to on this platform, `None` for an ordinary variable
/// (including the documented [`HARMLESS`] names inside a class).
pub fn loader_class(name: &str) -> Option<&'static LoaderClass> {
    loader::class_of(name, CASE_INSENSITIVE_ENV)
}

/// Does setting `name` change how the child (or what it starts) loads code, where its traffic
/// goes, or what it trusts?
pub fn is_loader_var(name: &str) -> bool {
    loader_class(name).is_some()
}

/// Is `name` a private-key variable (or `ENVX_IDENTITY`)? These never reach a child or a shell.
pub fn is_private_key_var(name: &str) -> bool {
    // ENVX_IDENTITY opens the wrapped keys (core/src/access): a key to the keys.
    name == crate::access::identity::IDENTITY_VAR
        || loader::matches(
            &format!("{PRIVATE_KEY_PREFIX}*"),
            name,
            CASE_INSENSITIVE_ENV,
        )
}

/// The variables a child started with `--clean-env` keeps from the parent: what a program
/// needs to find commands, files, a terminal and a locale, and nothing that holds credentials.
pub const CLEAN_ENV_ALLOWLIST: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TERM",
    "TZ", "TMPDIR", "PWD",
];

/// What a file may set for a program. The default refuses every loader class; names are
/// allowed one at a time, so allowing `HTTPS_PROXY` does not allow `NODE_OPTIONS`.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    allowed: Vec<String>,
    fold: bool,
}

/// A variable the policy keeps from leaving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A file sets a variable of a loader class that the user did not allow.
    #[error(
        "{}:{line}: {key} changes how programs load code, where their traffic goes or what they trust ({}); envx does not set it from a file",
        .path.display(),
        .class.name
    )]
    LoaderVariable {
        /// The file that sets it.
        path: PathBuf,
        /// Its line.
        line: usize,
        /// The variable.
        key: String,
        /// Its class.
        class: &'static LoaderClass,
    },
    /// A name given to allow is not refused by any class (a typo would otherwise pass unseen).
    #[error("{0} is not a loader variable; there is nothing to allow")]
    NotALoaderVariable(String),
}

impl Policy {
    /// The default policy: every loader class refused, names matched as this platform's
    /// environment matches them.
    pub fn new() -> Self {
        Self {
            allowed: Vec::new(),
            fold: CASE_INSENSITIVE_ENV,
        }
    }

    /// Allows the named variables (exact names; no patterns, no "all").
    ///
    /// # Errors
    /// [`PolicyError::NotALoaderVariable`] for a name no class refuses.
    pub fn allow_loader_vars<S: AsRef<str>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Result<Self, PolicyError> {
        for name in names {
            let name = name.as_ref();
            if self.class(name).is_none() {
                return Err(PolicyError::NotALoaderVariable(name.to_owned()));
            }
            self.allowed.push(name.to_owned());
        }
        Ok(self)
    }

    /// Matches names ignoring ASCII case, as on a platform whose environment does (tests use it
    /// to check the Windows behaviour anywhere).
    pub fn ignoring_case(mut self, fold: bool) -> Self {
        self.fold = fold;
        self
    }

    fn class(&self, name: &str) -> Option<&'static LoaderClass> {
        loader::class_of(name, self.fold)
    }

    /// The class that keeps a file from setting `name`: `None` when it may (an ordinary
    /// variable, a harmless one, or one the user allowed).
    pub fn refusal(&self, name: &str) -> Option<&'static LoaderClass> {
        let class = self.class(name)?;
        let allowed = self.allowed.iter().any(|a| {
            if self.fold {
                a.eq_ignore_ascii_case(name)
            } else {
                a == name
            }
        });
        (!allowed).then_some(class)
    }

    /// Is `name` a private key variable under this policy's case rule?
    pub fn is_private_key(&self, name: &str) -> bool {
        loader::matches(&format!("{PRIVATE_KEY_PREFIX}*"), name, self.fold)
    }

    /// Checks one variable a file sets (`path`, `line`, `key`).
    ///
    /// # Errors
    /// [`PolicyError::LoaderVariable`] when a class refuses it and the user did not allow it.
    pub fn check(&self, path: &std::path::Path, line: usize, key: &str) -> Result<(), PolicyError> {
        match self.refusal(key) {
            Some(class) => Err(PolicyError::LoaderVariable {
                path: path.to_owned(),
                line,
                key: key.to_owned(),
                class,
            }),
            None => Ok(()),
        }
    }

    /// Makes `loaded` fit to hand to a program: removes every private-key variable, and
    /// refuses a loader variable whose value comes from a file. Values the environment
    /// supplied (`from_env`) pass: they are what the program would have had anyway.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use envx_core::load::load_file_with_env;
    /// use envx_core::policy::Policy;
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join(".env");
    /// std::fs::write(&path, "APP=1\nNODE_OPTIONS=--require ./evil.js\n")?;
    /// let mut loaded = load_file_with_env(&path, &HashMap::new())?;
    /// assert!(Policy::new().apply(&mut loaded).is_err());
    /// Policy::new().allow_loader_vars(["NODE_OPTIONS"])?.apply(&mut loaded)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`PolicyError::LoaderVariable`] naming the first refused variable's file, line and key;
    /// `loaded` is left as it was.
    pub fn apply(&self, loaded: &mut Loaded) -> Result<(), PolicyError> {
        for var in &loaded.variables {
            if !var.from_env && !self.is_private_key(&var.key) {
                self.check(&loaded.files[var.file].path, var.line, &var.key)?;
            }
        }
        loaded.variables.retain(|v| !self.is_private_key(&v.key));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
