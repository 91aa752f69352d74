//! What every command reads from its surroundings, read once: the environment and the working
//! directory; and the one place private keys supplied by `--key-command` come from.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use clap::Args;
use envx_core::access::identity::{Callbacks, Identities, Interact};
use envx_core::cache::KeyCache;
use envx_core::discover::{Candidate, KeySearch, KeySource};
use envx_core::keys::PrivateKey;
use envx_core::policy::is_private_key_var;
use zeroize::Zeroizing;

use crate::ui::Failure;

/// `--key-command`, flattened into every command that needs a private key.
#[derive(Args, Clone, Default)]
pub struct KeyCommand {
    /// A shell command whose standard output is the private key (or several, comma-separated),
    /// e.g. a secret manager's CLI. Tried right after the file's own DOTENV_PRIVATE_KEY_*.
    #[arg(long = "key-command", value_name = "CMD")]
    pub key_command: Option<String>,
}

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
    /// The user's age identities (ENVX_IDENTITY, ENVX_IDENTITY_FILE, --identity-command, the
    /// config folder, ~/.ssh/id_ed25519), read only when a wrapped key must be opened.
    pub identities: Identities,
}

impl Context {
    /// Reads the environment and working directory. Identities are looked for with
    /// `identity_command` too, and a hardware key or an encrypted ssh key may ask the user (on
    /// stderr and the terminal); nothing is read or run until a wrapped key must be opened.
    pub fn capture(strict: bool, no_cache: bool, identity_command: Option<&str>) -> Self {
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
        let identities = Identities::from_env(&env, identity_command)
            .with_callbacks(Callbacks::new(std::sync::Arc::new(TerminalInteract)));
        Self {
            env,
            cwd: std::env::current_dir().ok(),
            strict,
            cache,
            identities,
        }
    }

    /// The callbacks age plugins use to reach the user.
    pub fn identities_callbacks(&self) -> Callbacks {
        self.identities.callbacks()
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

    /// The private keys `--key-command` prints, or none without it. The command runs through
    /// `/bin/sh -c` with this environment minus every private key, no stdin, and its stderr
    /// passed through (a secret manager may prompt there).
    ///
    /// # Errors
    /// The command cannot start, exits unsuccessfully, or prints something that is not a
    /// private key (the message never repeats what it printed).
    pub fn supplied_keys(&self, arg: &KeyCommand) -> Result<Vec<Candidate>, Failure> {
        let Some(command) = &arg.key_command else {
            return Ok(Vec::new());
        };
        let output = Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .env_clear()
            .envs(self.env.iter().filter(|(k, _)| !is_private_key_var(k)))
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| Failure::new(format!("--key-command could not start: {e}")))?;
        let stdout = Zeroizing::new(output.stdout);
        if !output.status.success() {
            return Err(Failure::new(format!(
                "--key-command failed ({})",
                output.status
            )));
        }
        let text = Zeroizing::new(String::from_utf8_lossy(&stdout).into_owned());
        let mut keys = Vec::new();
        for element in text.trim().split(',') {
            let key = PrivateKey::from_hex(element).map_err(|e| {
                Failure::new(format!(
                    "--key-command printed something that is not a private key: {e}"
                ))
            })?;
            keys.push(Candidate {
                key,
                source: KeySource::Supplied("--key-command".to_owned()),
            });
        }
        Ok(keys)
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
            identities: Some(&self.identities),
        }
    }
}

/// Messages from an age plugin go to stderr; a passphrase is read from the terminal.
struct TerminalInteract;

impl Interact for TerminalInteract {
    fn message(&self, text: &str) {
        eprintln!("envx: {}", crate::ui::escape(text));
    }

    fn passphrase(&self, description: &str) -> Option<Zeroizing<String>> {
        use std::io::IsTerminal as _;
        if !std::io::stdin().is_terminal() {
            return None;
        }
        rpassword::prompt_password(format!("envx: {} ", crate::ui::escape(description)))
            .ok()
            .map(Zeroizing::new)
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
