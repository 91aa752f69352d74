//! What every command reads from its surroundings, read once: the environment and the working
//! directory.

use std::collections::HashMap;
use std::path::PathBuf;

use envx_core::cache::KeyCache;
use envx_core::discover::{Candidate, KeySearch};

/// A snapshot of the process environment and working directory.
pub struct Context {
    /// The environment (names and values that are not UTF-8 are read lossily).
    pub env: HashMap<String, String>,
    /// The working directory.
    pub cwd: Option<PathBuf>,
    /// Refuse keys files other users can read (`--strict` or `ENVX_STRICT=1`).
    pub strict: bool,
    /// The key cache (`$XDG_CACHE_HOME/envx` or `~/.cache/envx`), unless `--no-cache` or
    /// `ENVX_NO_CACHE=1`, or neither folder is known.
    pub cache: Option<KeyCache>,
}

impl Context {
    /// Reads the environment and working directory.
    pub fn capture(strict: bool, no_cache: bool) -> Self {
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
        let no_cache = no_cache
            || env
                .get("ENVX_NO_CACHE")
                .is_some_and(|v| v == "1" || v == "true");
        let cache = (!no_cache)
            .then(|| cache_folder(&env))
            .flatten()
            .map(KeyCache::new);
        Self {
            env,
            cwd: std::env::current_dir().ok(),
            strict,
            cache,
        }
    }

    /// As [`Context::search`], with the key cache: for the commands that read values (`run`,
    /// `get`, `decrypt`), which call [`Context::save_cache`] once they succeed.
    pub fn cached_search<'a>(
        &'a self,
        keys_files: &'a [PathBuf],
        supplied: &'a [Candidate],
    ) -> KeySearch<'a> {
        KeySearch {
            cache: self.cache.as_ref(),
            ..self.search(keys_files, supplied)
        }
    }

    /// Saves what the key cache learned. A cache that cannot be written costs the next run
    /// its warm start, nothing else: it is reported with `--verbose` only.
    pub fn save_cache(&self, ui: &crate::ui::Ui) {
        if let Some(Err(e)) = self.cache.as_ref().map(KeyCache::save) {
            let folder = self
                .cache
                .as_ref()
                .map(|c| c.folder().display().to_string());
            ui.detail(&format!(
                "key cache not saved in {}: {e}",
                folder.unwrap_or_default()
            ));
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
            cache: None,
        }
    }
}

/// `$XDG_CACHE_HOME/envx`, else `$HOME/.cache/envx` (absolute paths only, as the XDG base
/// directory specification asks).
fn cache_folder(env: &HashMap<String, String>) -> Option<PathBuf> {
    let absolute = |name: &str| env.get(name).map(PathBuf::from).filter(|p| p.is_absolute());
    absolute("XDG_CACHE_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".cache")))
        .map(|folder| folder.join("envx"))
}

impl Drop for Context {
    fn drop(&mut self) {
        for (_, mut value) in self.env.drain() {
            zeroize::Zeroize::zeroize(&mut value);
        }
    }
}
