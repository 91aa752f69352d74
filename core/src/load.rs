//! Loading env files into memory: decrypt, expand, and return a map. Nothing here touches the
//! process environment; the caller decides what to do with the result.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::crypto::ENCRYPTED_PREFIX;
use crate::discover::{KeySearch, KeySource, KeysFileCache};
use crate::document::Quote;
use crate::envfile::EnvFile;
use crate::error::{Error, Result};
use crate::expand::{self, Mode, Vars};
use crate::keys::PublicKey;
use crate::secret::{SecretMap, SecretString};

/// Runs the command of a `$(...)` substitution with the variables loaded so far and returns
/// its standard output, or a message (never the output) when it fails.
pub type CommandRunner<'a> =
    dyn FnMut(&str, &HashMap<String, String>) -> Result<String, String> + 'a;

/// How to load.
pub struct LoadOptions<'a> {
    /// The environment the program will start with: it wins over file values unless
    /// `overload` is set, and expansion can refer to it.
    pub env: &'a HashMap<String, String>,
    /// Where private keys come from.
    pub search: KeySearch<'a>,
    /// Let file values win over the environment, and later files over earlier ones.
    pub overload: bool,
    /// Run `$(...)` substitutions with this runner. `None` (the default) makes any value that
    /// holds one an error: a file can be changed by anyone who can open a pull request.
    pub commands: Option<&'a mut CommandRunner<'a>>,
}

/// One loaded variable.
pub struct Variable {
    /// The key.
    pub key: String,
    /// What a program started with these variables sees: the file's value, decrypted and
    /// expanded, or the environment's when it wins.
    pub value: SecretString,
    /// Index into [`Loaded::files`] of the file that defined it (the one that won).
    pub file: usize,
    /// Line of the winning definition.
    pub line: usize,
    /// Was the stored value encrypted?
    pub encrypted: bool,
    /// Did the environment's value win over the file's?
    pub from_env: bool,
}

/// What was loaded from one file.
pub struct LoadedFile {
    /// The path as given.
    pub path: PathBuf,
    /// Its public key.
    pub public_key: Option<PublicKey>,
    /// Where its private key came from, when one was needed and found.
    pub key_source: Option<KeySource>,
    /// That private key (for `run --redact`, which hides it from the child's output too).
    pub private_key: Option<crate::keys::PrivateKey>,
}

/// The result of [`load`]: variables in the order they first appear.
pub struct Loaded {
    /// The variables.
    pub variables: Vec<Variable>,
    /// The files, in load order.
    pub files: Vec<LoadedFile>,
    /// Keys files read that other users can read (path, permission bits): worth a warning.
    pub loose_keys_files: Vec<(PathBuf, u32)>,
}

impl Loaded {
    /// The variable named `key`.
    pub fn get(&self, key: &str) -> Option<&Variable> {
        self.variables.iter().find(|v| v.key == key)
    }
}

/// The names visible to expansion: the environment, earlier files and earlier lines.
struct Scope<'a> {
    env: &'a HashMap<String, String>,
    /// Values from files already loaded (first wins, or last with `overload`).
    earlier: &'a SecretMap,
    /// Values of the file being loaded so far (last wins).
    running: &'a SecretMap,
    overload: bool,
}

impl Vars for Scope<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        let file = || {
            if self.overload {
                self.running.get(name).or_else(|| self.earlier.get(name))
            } else {
                self.earlier.get(name).or_else(|| self.running.get(name))
            }
        };
        let env = || self.env.get(name).map(String::as_str);
        if self.overload {
            file().or_else(env)
        } else {
            env().or_else(file)
        }
    }
}

/// Loads `paths` in order and returns the decrypted, expanded variables.
///
/// Within a file the last definition of a key wins; across files the first file wins unless
/// `overload` is set, and the environment wins over every file unless `overload` is set.
/// Plaintext values are expanded as dotenvx does; a decrypted value has only references to
/// *defined* variables replaced and keeps any other `$` text exactly as encrypted;
/// single-quoted values are never expanded.
///
/// # Errors
/// The first failure, naming its file, line and key: a missing or unreadable file, a line that
/// is not an assignment, a value that cannot be decrypted ([`Error::NoPrivateKey`],
/// [`Error::Decrypt`]) and a `$(...)` without a runner. Nothing is returned half-loaded.
pub fn load(paths: &[PathBuf], mut options: LoadOptions<'_>) -> Result<Loaded> {
    let env = options.env;
    let mut cache = KeysFileCache::default();
    // Only files after the current one read `earlier`: the last file's values are not copied.
    let mut earlier = SecretMap::default();
    let mut variables: Vec<Variable> = Vec::new();
    let mut index_of: HashMap<String, usize> = HashMap::new();
    let mut files = Vec::new();

    for (file_index, path) in paths.iter().enumerate() {
        let file = EnvFile::open(path)?;
        let (values, key_source, private_key) = load_file(
            &file,
            &options.search,
            &mut cache,
            &mut ScopeInputs {
                env,
                earlier: &earlier,
                overload: options.overload,
                commands: options.commands.as_deref_mut(),
            },
        )?;
        let more_files = file_index + 1 < paths.len();
        for (key, value, line, encrypted) in values {
            if more_files && (options.overload || !earlier.contains(&key)) {
                earlier.insert(key.clone(), value.clone());
            }
            let from_env = !options.overload && env.contains_key(&key);
            let shown = match env.get(&key) {
                Some(env_value) if from_env => SecretString::new(env_value.clone()),
                _ => value,
            };
            let slot = index_of.get(&key).copied();
            let variable = Variable {
                key,
                value: shown,
                file: file_index,
                line,
                encrypted,
                from_env,
            };
            match slot {
                Some(i) if options.overload => variables[i] = variable,
                Some(_) => {}
                None => {
                    index_of.insert(variable.key.clone(), variables.len());
                    variables.push(variable);
                }
            }
        }
        files.push(LoadedFile {
            path: path.clone(),
            public_key: file.public_key().copied(),
            key_source,
            private_key,
        });
    }
    Ok(Loaded {
        variables,
        files,
        loose_keys_files: cache.loose_files().to_vec(),
    })
}

struct ScopeInputs<'s, 'r> {
    env: &'s HashMap<String, String>,
    earlier: &'s SecretMap,
    overload: bool,
    commands: Option<&'s mut CommandRunner<'r>>,
}

type FileValues = Vec<(String, SecretString, usize, bool)>;

/// Decrypts and expands one file's entries, in order; the last definition of a key wins.
fn load_file(
    file: &EnvFile,
    search: &KeySearch<'_>,
    cache: &mut KeysFileCache,
    scope: &mut ScopeInputs<'_, '_>,
) -> Result<(
    FileValues,
    Option<KeySource>,
    Option<crate::keys::PrivateKey>,
)> {
    let decryptor = if file.has_encrypted_values() {
        Some(file.decryptor(search, cache)?)
    } else {
        None
    };
    let mut running = SecretMap::default();
    // The line of each key's last definition, and whether that value was encrypted.
    let mut last: HashMap<&str, (usize, bool)> = HashMap::new();

    let entries = file.document().entries();
    let mut decrypted = match &decryptor {
        Some(d) => {
            let encrypted: Vec<_> = entries
                .iter()
                .filter(|e| e.value_starts_with(ENCRYPTED_PREFIX))
                .collect();
            d.decrypt_many(&encrypted)
        }
        None => Vec::new().into_iter().flatten(),
    };
    for entry in entries {
        let encrypted = entry.value_starts_with(ENCRYPTED_PREFIX);
        let (text, mode) = match encrypted {
            true => match decrypted.next() {
                Some(result) => (result?, Mode::Secret),
                None => unreachable!("one decryption per encrypted entry"),
            },
            false => (SecretString::new(entry.value()), Mode::Plain),
        };
        let location = || (file.path().to_owned(), entry.line(), entry.key().to_owned());
        let value = if entry.quote() == Quote::Single {
            text
        } else {
            let scope_vars = Scope {
                env: scope.env,
                earlier: scope.earlier,
                running: &running,
                overload: scope.overload,
            };
            let substituted =
                substitute(&text, &scope_vars, scope.commands.as_deref_mut(), location)?;
            let source = substituted.as_ref().unwrap_or(&text);
            let mut expanded = expand::expand(source.expose_secret(), mode, &scope_vars);
            SecretString::new(std::mem::take(&mut *expanded))
        };
        running.insert(entry.key().to_owned(), value);
        last.insert(entry.key(), (entry.line(), encrypted));
    }
    // In order of first appearance, each with its last definition.
    let mut seen = HashSet::new();
    let values = entries
        .iter()
        .filter(|e| seen.insert(e.key()))
        .map(|e| {
            let (line, encrypted) = last.get(e.key()).copied().unwrap_or_default();
            let value = running
                .take(e.key())
                .unwrap_or_else(|| SecretString::new(String::new()));
            (e.key().to_owned(), value, line, encrypted)
        })
        .collect();
    let matching = decryptor.as_ref().and_then(|d| d.matching());
    let source = matching.map(|c| c.source.clone());
    let key = matching.map(|c| c.key.clone());
    Ok((values, source, key))
}

/// Runs the `$(...)` substitutions of a value, or refuses when no runner was given.
fn substitute(
    text: &SecretString,
    scope: &Scope<'_>,
    commands: Option<&mut CommandRunner<'_>>,
    location: impl Fn() -> (PathBuf, usize, String),
) -> Result<Option<SecretString>> {
    if !expand::has_command_substitution(text.expose_secret()) {
        return Ok(None);
    }
    let Some(run) = commands else {
        let (path, line, key) = location();
        return Err(Error::CommandSubstitution { path, line, key });
    };
    let mut visible = SecretMap::default();
    for (k, v) in scope.env {
        visible.insert(k.clone(), SecretString::new(v.clone()));
    }
    let files = scope.earlier.as_map().iter().chain(scope.running.as_map());
    for (k, v) in files {
        if scope.overload || !visible.contains(k) {
            visible.insert(k.clone(), SecretString::new(v.clone()));
        }
    }
    let result = expand::substitute_commands(text.expose_secret(), &mut |command: &str| {
        run(command, visible.as_map())
    });
    match result {
        Ok(out) => Ok(Some(SecretString::new(out.to_string()))),
        Err(cause) => {
            let (path, line, key) = location();
            Err(Error::CommandFailed {
                path,
                line,
                key,
                cause,
            })
        }
    }
}

/// Shorthand used by tests and simple callers: load one file with keys from `env` and the
/// default keys files.
///
/// # Errors
/// As [`load`].
pub fn load_file_with_env(path: &Path, env: &HashMap<String, String>) -> Result<Loaded> {
    load(
        &[path.to_owned()],
        LoadOptions {
            env,
            search: KeySearch {
                env,
                keys_files: &[],
                supplied: &[],
                cwd: None,
                strict_permissions: false,
            },
            overload: false,
            commands: None,
        },
    )
}
