//! What every command reads from its surroundings, read once: the environment and the working
//! directory.

use std::collections::HashMap;
use std::path::PathBuf;

use envx_core::discover::{Candidate, KeySearch};

/// A snapshot of the process environment and working directory.
pub struct Context {
    /// The environment (names and values that are not UTF-8 are read lossily).
    pub env: HashMap<String, String>,
    /// The working directory.
    pub cwd: Option<PathBuf>,
    /// Refuse keys files other users can read (`--strict` or `ENVX_STRICT=1`).
    pub strict: bool,
}

impl Context {
    /// Reads the environment and working directory.
    pub fn capture(strict: bool) -> Self {
        let env: HashMap<String, String> = std::env::vars_os()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect();
        let strict = strict
            || env
                .get("ENVX_STRICT")
                .is_some_and(|v| v == "1" || v == "true");
        Self {
            env,
            cwd: std::env::current_dir().ok(),
            strict,
        }
    }

    /// A key search over this environment, `keys_files` and `supplied` keys.
    pub fn search<'a>(
        &'a self,
        keys_files: &'a [PathBuf],
        supplied: &'a [Candidate],
    ) -> KeySearch<'a> {
        KeySearch {
            env: &self.env,
            keys_files,
            supplied,
            cwd: self.cwd.as_deref(),
            strict_permissions: self.strict,
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        for (_, mut value) in self.env.drain() {
            zeroize::Zeroize::zeroize(&mut value);
        }
    }
}
