//! Loading env files into memory: decrypt, substitute, expand, and return a map. Nothing here
//! touches the process environment; the caller decides what to do with the result.
//!
//! Each assignment is read as dotenvx 2.38.2 reads it, whether its value was encrypted or not
//! (the steps are in [`crate::expand`]):
//!
//! - when the environment already holds the key (and `overload` is off), the environment's
//!   value is what the program gets, as it is: envx never substitutes or expands it;
//! - a single-quoted value (ciphertext or not) is taken literally;
//! - otherwise `$(…)` is substituted (only with a command runner; without one it is an error),
//!   and when that changed nothing the value is expanded.
//!
//! Names are looked up, without `overload`, in the environment, then in earlier files (the
//! first that sets the name), then earlier lines of the same file (the last that sets it);
//! with `overload` the other way round. A name starting with `DOTENV_PRIVATE_KEY` is never
//! found: no value can pull a private key in.
//!
//! [`load`] reads every value. [`load_selected`] reads only the selected keys and what they
//! actually reference, so that `get KEY` on a file of 10,000 values decrypts one or a few.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::crypto::ENCRYPTED_PREFIX;
use crate::discover::{KeySearch, KeySource, KeysFileCache, KeysFileProblem};
use crate::document::Quote;
use crate::envfile::{Decryptor, EnvFile};
use crate::error::{Error, Result};
use crate::expand::{self, Budget, ExpandError, Scope};
use crate::glob::Selection;
use crate::keys::PublicKey;
use crate::names::PRIVATE_KEY_PREFIX;
use crate::secret::SecretString;

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
    /// Problems met in the keys files read while finding the files' keys, each once. The load
    /// succeeded without them, so each is worth a warning, not an error.
    pub keys_file_problems: Vec<KeysFileProblem>,
}

impl Loaded {
    /// The variable named `key`.
    pub fn get(&self, key: &str) -> Option<&Variable> {
        self.variables.iter().find(|v| v.key == key)
    }
}

/// Loads `paths` in order and returns every variable, decrypted and expanded.
///
/// Within a file the last definition of a key wins; across files the first file wins unless
/// `overload` is set, and the environment wins over every file unless `overload` is set.
///
/// # Errors
/// The first failure in file order, naming its file, line and key: a missing or unreadable
/// file, a line that is not an assignment, a value that cannot be decrypted
/// ([`Error::NoPrivateKey`], [`Error::Decrypt`]), a `$(...)` without a runner, an expansion
/// that outgrows its budget. Nothing is returned half-loaded.
pub fn load(paths: &[PathBuf], options: LoadOptions<'_>) -> Result<Loaded> {
    let mut loader = Loader::open(paths, options, None, true, None)?;
    let variables = loader.gather(|_| true)?;
    Ok(loader.into_loaded(variables))
}

/// Loads only the keys in `wanted` from `paths`, with the same values and the same errors for
/// those keys as [`load`], decrypting only the values they need: theirs, and those their
/// expansion actually looks up.
///
/// With `confine`, a reference in a selected value resolves only to another selected key or
/// to the environment (`run --only`: an unselected secret cannot ride into the child inside a
/// selected value).
///
/// # Errors
/// As [`load`], for the values read.
pub fn load_selected<'a>(
    paths: &[PathBuf],
    options: LoadOptions<'a>,
    wanted: &'a Selection,
    confine: bool,
) -> Result<Loaded> {
    selected(paths, options, wanted, confine, true)
}

/// [`load_selected`]; `filtered: false` keeps every assignment in the documents from the start
/// (the tests compare the two).
fn selected<'a>(
    paths: &[PathBuf],
    options: LoadOptions<'a>,
    wanted: &'a Selection,
    confine: bool,
    filtered: bool,
) -> Result<Loaded> {
    let confine = confine.then_some(wanted);
    // `$(...)` commands see every value before theirs: the whole files are read.
    let filter = (filtered && options.commands.is_none()).then(|| Filter {
        wanted,
        extra: HashSet::new(),
    });
    let mut loader = Loader::open(paths, options, confine, false, filter)?;
    let mut rounds = 0;
    loop {
        let result = loader.gather(|key| wanted.contains(key));
        if !loader.incomplete {
            return result.map(|variables| loader.into_loaded(variables));
        }
        // A lookup needed a name the documents left out: read again with it kept, and after
        // a few rounds with everything kept. What this round found is dropped.
        drop(result);
        rounds += 1;
        loader.widen(rounds >= MAX_ROUNDS);
    }
}

/// Rounds of a selected load that may widen the kept names one level of references at a
/// time before the whole files are kept.
const MAX_ROUNDS: usize = 4;

/// The names a selected load keeps in its documents: the wanted ones, and those their values
/// turned out to look up.
struct Filter<'a> {
    wanted: &'a Selection,
    extra: HashSet<String>,
}

impl Filter<'_> {
    fn keeps(&self, key: &str) -> bool {
        self.wanted.contains(key) || (!self.extra.is_empty() && self.extra.contains(key))
    }
}

/// One file being loaded.
struct Source {
    file: EnvFile,
    decryptor: Option<Decryptor>,
    /// Decryptions done ahead, by entry index (a full load decrypts on all cores first).
    decrypted: Vec<Option<Result<SecretString>>>,
    /// The value of each entry once read.
    values: Vec<Option<SecretString>>,
    /// Entry indices of each key, in file order.
    by_key: HashMap<String, Vec<usize>>,
}

impl Source {
    fn new(file: EnvFile, decryptor: Option<Decryptor>) -> Self {
        let entries = file.document().entries();
        let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, entry) in entries.iter().enumerate() {
            by_key.entry(entry.key().to_owned()).or_default().push(i);
        }
        let decrypted = std::iter::repeat_with(|| None)
            .take(entries.len())
            .collect();
        let values = std::iter::repeat_with(|| None)
            .take(entries.len())
            .collect();
        Self {
            file,
            decryptor,
            decrypted,
            values,
            by_key,
        }
    }

    /// The last definition of `key` before entry `before` (or anywhere, for `usize::MAX`).
    fn last_before(&self, key: &str, before: usize) -> Option<usize> {
        let indices = self.by_key.get(key)?;
        let n = indices.partition_point(|&i| i < before);
        n.checked_sub(1).map(|n| indices[n])
    }
}

/// Past this depth of lookups a lazy load reads everything before the value first, so that
/// a long chain of references cannot exhaust the stack.
const MAX_DEPTH: usize = 256;

struct Loader<'o> {
    sources: Vec<Source>,
    env: &'o HashMap<String, String>,
    overload: bool,
    commands: Option<&'o mut CommandRunner<'o>>,
    confine: Option<&'o Selection>,
    budget: Budget,
    /// Bytes of expanded text produced so far, against `budget.max_len`.
    produced: usize,
    depth: usize,
    /// Read every entry (a full load), not only the wanted ones.
    full: bool,
    loose_keys_files: Vec<(PathBuf, u32)>,
    keys_file_problems: Vec<KeysFileProblem>,
    /// For a selected load: the names the documents keep (`None`: every name).
    filter: Option<Filter<'o>>,
    /// A lookup in this round needed a name the documents left out, or went deeper than a
    /// filtered round may: its result does not count.
    incomplete: bool,
    /// With `incomplete`: keep every name in the next round.
    keep_all: bool,
}

impl<'o> Loader<'o> {
    fn open(
        paths: &[PathBuf],
        options: LoadOptions<'o>,
        confine: Option<&'o Selection>,
        decrypt_ahead: bool,
        filter: Option<Filter<'o>>,
    ) -> Result<Self> {
        let mut cache = KeysFileCache::default();
        let mut sources = Vec::with_capacity(paths.len());
        let mut input_len = 0;
        for path in paths {
            let file = match &filter {
                Some(filter) => EnvFile::open_filtered(path, &|key| filter.keeps(key))?,
                None => EnvFile::open(path)?,
            };
            input_len += file.document().source().len();
            let decryptor = match file.has_encrypted_values() {
                true => Some(file.decryptor(&options.search, &mut cache)?),
                false => None,
            };
            let mut source = Source::new(file, decryptor);
            if let (true, Some(d)) = (decrypt_ahead, &source.decryptor) {
                let entries = source.file.document().entries();
                let (indices, encrypted): (Vec<usize>, Vec<_>) = entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.value_starts_with(ENCRYPTED_PREFIX))
                    .unzip();
                for (i, result) in indices.into_iter().zip(d.decrypt_many(&encrypted)) {
                    source.decrypted[i] = Some(result);
                }
            }
            sources.push(source);
        }
        Ok(Self {
            sources,
            env: options.env,
            overload: options.overload,
            commands: options.commands,
            confine,
            budget: Budget::for_input(input_len),
            produced: 0,
            depth: 0,
            full: decrypt_ahead,
            loose_keys_files: cache.loose_files().to_vec(),
            keys_file_problems: cache.problems().to_vec(),
            filter,
            incomplete: false,
            keep_all: false,
        })
    }

    /// Does this round's document keep `name`? When not, the round is marked incomplete and
    /// the name kept in the next one.
    fn kept(&mut self, name: &str) -> bool {
        match &mut self.filter {
            Some(filter) if !filter.keeps(name) => {
                filter.extra.insert(name.to_owned());
                self.incomplete = true;
                false
            }
            _ => true,
        }
    }

    /// Scans the files again keeping the names an incomplete round missed (or every name,
    /// with `everything` or after a lookup that went too deep) and starts afresh. The files
    /// are not read again, and their keys are not searched again.
    fn widen(&mut self, everything: bool) {
        if everything || self.keep_all {
            self.filter = None;
        }
        let sources = std::mem::take(&mut self.sources);
        for Source {
            mut file,
            decryptor,
            ..
        } in sources
        {
            match &self.filter {
                Some(filter) => file.refilter(&|key| filter.keeps(key)),
                None => file.refilter(&|_| true),
            }
            self.sources.push(Source::new(file, decryptor));
        }
        self.budget = Budget::for_input(
            self.sources
                .iter()
                .map(|s| s.file.document().source().len())
                .sum(),
        );
        self.produced = 0;
        self.depth = 0;
        self.incomplete = false;
        self.keep_all = false;
    }

    /// Reads the wanted keys. A full load reads every entry in file order first, so that its
    /// first error is the first in the files.
    fn gather(&mut self, wanted: impl Fn(&str) -> bool) -> Result<Vec<Variable>> {
        let mut winners: Vec<(String, usize, usize)> = Vec::new();
        let mut position: HashMap<String, usize> = HashMap::new();
        for (f, source) in self.sources.iter().enumerate() {
            for entry in source.file.document().entries() {
                let key = entry.key();
                if position.contains_key(key) && !self.overload {
                    continue;
                }
                let last = source
                    .last_before(key, usize::MAX)
                    .unwrap_or_else(|| unreachable!("the key is in this file"));
                match position.get(key) {
                    Some(&p) => winners[p] = (key.to_owned(), f, last),
                    None => {
                        position.insert(key.to_owned(), winners.len());
                        winners.push((key.to_owned(), f, last));
                    }
                }
            }
        }
        if self.full {
            for f in 0..self.sources.len() {
                for i in 0..self.sources[f].values.len() {
                    self.value(f, i)?;
                }
            }
        }
        let mut variables = Vec::new();
        for (key, f, i) in winners {
            if !wanted(&key) {
                continue;
            }
            let mut value = self.value(f, i)?;
            let from_env = !self.overload && self.env.contains_key(&key);
            let entry = &self.sources[f].file.document().entries()[i];
            variables.push(Variable {
                line: entry.line(),
                encrypted: entry.value_starts_with(ENCRYPTED_PREFIX),
                key,
                value: SecretString::new(std::mem::take(&mut *value)),
                file: f,
                from_env,
            });
        }
        Ok(variables)
    }

    /// The result, with the files' keys.
    fn into_loaded(self, variables: Vec<Variable>) -> Loaded {
        let files = self
            .sources
            .iter()
            .map(|s| {
                let matching = s.decryptor.as_ref().and_then(Decryptor::matching);
                LoadedFile {
                    path: s.file.path().to_owned(),
                    public_key: s.file.public_key().copied(),
                    key_source: matching.map(|c| c.source.clone()),
                    private_key: matching.map(|c| c.key.clone()),
                }
            })
            .collect();
        Loaded {
            variables,
            files,
            loose_keys_files: self.loose_keys_files,
            keys_file_problems: self.keys_file_problems,
        }
    }

    /// The value entry `i` of file `f` gives, read on first use.
    fn value(&mut self, f: usize, i: usize) -> Result<Zeroizing<String>> {
        if let Some(v) = &self.sources[f].values[i] {
            return Ok(Zeroizing::new(v.expose_secret().to_owned()));
        }
        if self.depth >= MAX_DEPTH {
            if self.filter.is_some() {
                // Reading everything before reads every name: keep them all.
                self.incomplete = true;
                self.keep_all = true;
            }
            self.read_everything_before(f, i)?;
        }
        self.depth += 1;
        let result = self.compute(f, i);
        self.depth -= 1;
        let value = result?;
        self.sources[f].values[i] = Some(SecretString::new(value.to_string()));
        Ok(value)
    }

    /// Reads every entry before entry `i` of file `f`, in order (each then finds what it
    /// looks up already read, so the stack stays shallow).
    fn read_everything_before(&mut self, f: usize, i: usize) -> Result<()> {
        let saved = std::mem::replace(&mut self.depth, 0);
        let result = (|| {
            for g in 0..=f {
                let end = if g == f {
                    i
                } else {
                    self.sources[g].values.len()
                };
                for j in 0..end {
                    self.value(g, j)?;
                }
            }
            Ok(())
        })();
        self.depth = saved;
        result
    }

    /// The stored text of an entry: decrypted when it is a ciphertext.
    fn text(&mut self, f: usize, i: usize) -> Result<SecretString> {
        let source = &mut self.sources[f];
        let entry = &source.file.document().entries()[i];
        if !entry.value_starts_with(ENCRYPTED_PREFIX) {
            return Ok(SecretString::new(entry.value()));
        }
        if let Some(done) = source.decrypted[i].take() {
            return done;
        }
        match &source.decryptor {
            Some(d) => d.decrypt(entry),
            None => unreachable!("a file with a ciphertext has a decryptor"),
        }
    }

    fn compute(&mut self, f: usize, i: usize) -> Result<Zeroizing<String>> {
        let text = self.text(f, i)?;
        let (key, quote, line) = {
            let entry = &self.sources[f].file.document().entries()[i];
            (entry.key().to_owned(), entry.quote(), entry.line())
        };
        let env = self.env;
        let env_value = env.get(&key);
        if let (false, Some(value)) = (self.overload, env_value) {
            return Ok(Zeroizing::new(value.clone()));
        }
        let text = Zeroizing::new(text.expose_secret().to_owned());
        if quote == Quote::Single {
            return Ok(text);
        }
        // Under `overload`, dotenvx substitutes only when the environment does not hold the
        // key with another value.
        let substitutes = env_value.is_none_or(|v| **v == *text);
        if substitutes && expand::has_command_substitution(&text) {
            if self.commands.is_none() {
                let path = self.sources[f].file.path().to_owned();
                return Err(Error::CommandSubstitution { path, line, key });
            }
            let substituted = self.substitute(f, i, &text)?;
            if *substituted != *text {
                return Ok(substituted);
            }
        }
        let start = self.budget.work_left;
        let mut budget = self.budget;
        let mut scope = EntryScope {
            loader: self,
            file: f,
            index: i,
        };
        let expanded = expand::expand(&text, &mut scope, &mut budget);
        // Lookups inside spent from the shared budget already; this expansion's own scans
        // are taken off now.
        let spent = start - budget.work_left;
        self.budget.work_left = self.budget.work_left.saturating_sub(spent);
        let expanded = expanded.and_then(|v| {
            self.produced += v.len();
            match self.produced > self.budget.max_len {
                true => Err(ExpandError::TooLarge),
                false => Ok(v),
            }
        });
        match expanded {
            Ok(v) => Ok(v),
            Err(ExpandError::Lookup(e)) => Err(e),
            Err(ExpandError::TooLarge) => {
                let (path, line, key) = self.location(f, i);
                Err(Error::ExpansionTooLarge {
                    path,
                    line,
                    key,
                    limit: self.budget.max_len,
                })
            }
        }
    }

    fn location(&self, f: usize, i: usize) -> (PathBuf, usize, String) {
        let source = &self.sources[f];
        let entry = &source.file.document().entries()[i];
        (
            source.file.path().to_owned(),
            entry.line(),
            entry.key().to_owned(),
        )
    }

    /// Runs the substitutions of entry `i` of file `f`. The commands see what dotenvx gives
    /// them (the environment with earlier files, overlaid by this file's earlier lines), less
    /// every private key.
    fn substitute(&mut self, f: usize, i: usize, text: &str) -> Result<Zeroizing<String>> {
        self.read_everything_before(f, i)?;
        let mut visible: HashMap<String, String> = self.env.clone();
        let sources = &self.sources[..=f];
        for (g, source) in sources.iter().enumerate() {
            let end = if g == f { i } else { source.values.len() };
            let entries = source.file.document().entries();
            for (entry, value) in entries[..end].iter().zip(&source.values[..end]) {
                let Some(value) = value else { continue };
                let wins = g == f || self.overload || !visible.contains_key(entry.key());
                if !wins {
                    continue;
                }
                let text = value.expose_secret().to_owned();
                if let Some(mut old) = visible.insert(entry.key().to_owned(), text) {
                    crate::secret::wipe(&mut old);
                }
            }
        }
        visible.retain(|name, value| {
            let keep = !name.starts_with(PRIVATE_KEY_PREFIX);
            if !keep {
                crate::secret::wipe(value);
            }
            keep
        });
        let visible = WipedMap(visible);
        let max_len = self.budget.max_len;
        let (path, line, key) = self.location(f, i);
        let run = self
            .commands
            .as_deref_mut()
            .unwrap_or_else(|| unreachable!("checked by the caller"));
        let result = expand::substitute_commands(text, max_len, &mut |command: &str| {
            run(command, &visible.0).map(Zeroizing::new)
        });
        result.map_err(|cause| match cause {
            Some(cause) => Error::CommandFailed {
                path,
                line,
                key,
                cause,
            },
            None => Error::ExpansionTooLarge {
                path,
                line,
                key,
                limit: max_len,
            },
        })
    }

    /// The value `name` has for entry `i` of file `f`, as dotenvx looks it up.
    fn lookup(&mut self, f: usize, i: usize, name: &str) -> Result<Option<Zeroizing<String>>> {
        if name.starts_with(PRIVATE_KEY_PREFIX) {
            return Ok(None);
        }
        let env_map = self.env;
        let env = || env_map.get(name).map(|v| Zeroizing::new(v.clone()));
        if !self.overload
            && let Some(v) = env()
        {
            return Ok(Some(v));
        }
        if self.confine.is_none_or(|only| only.contains(name)) && self.kept(name) {
            let running = self.sources[f].last_before(name, i).map(|j| (f, j));
            let sources = &self.sources;
            let earlier = |g: usize| sources[g].last_before(name, usize::MAX).map(|j| (g, j));
            let found = match self.overload {
                false => (0..f).find_map(earlier).or(running),
                true => running.or_else(|| (0..f).rev().find_map(earlier)),
            };
            if let Some((g, j)) = found {
                return self.value(g, j).map(Some);
            }
        }
        Ok(env())
    }

    /// dotenvx's stop rule: was `name` single-quoted earlier in file `f`, with a reference in
    /// its value?
    fn quoted_literal_has_reference(&mut self, f: usize, i: usize, name: &str) -> Result<bool> {
        if !self.kept(name) {
            return Ok(false);
        }
        let source = &self.sources[f];
        let entries = source.file.document().entries();
        let Some(indices) = source.by_key.get(name) else {
            return Ok(false);
        };
        let quoted = indices
            .iter()
            .rev()
            .copied()
            .find(|&j| j < i && entries[j].quote() == Quote::Single);
        match quoted {
            Some(j) => {
                let value = self.value(f, j)?;
                Ok(!value.is_empty() && expand::has_reference(&value))
            }
            None => Ok(false),
        }
    }
}

/// A map of secret texts wiped when dropped.
struct WipedMap(HashMap<String, String>);

impl Drop for WipedMap {
    fn drop(&mut self) {
        for value in self.0.values_mut() {
            crate::secret::wipe(value);
        }
    }
}

/// The names visible to one entry's expansion.
struct EntryScope<'l, 'o> {
    loader: &'l mut Loader<'o>,
    file: usize,
    index: usize,
}

impl Scope for EntryScope<'_, '_> {
    type Error = Error;

    fn value(&mut self, name: &str) -> Result<Option<Zeroizing<String>>> {
        self.loader.lookup(self.file, self.index, name)
    }

    fn quoted_literal_has_reference(&mut self, name: &str) -> Result<bool> {
        self.loader
            .quoted_literal_has_reference(self.file, self.index, name)
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
            search: KeySearch::new(env, &[]),
            overload: false,
            commands: None,
        },
    )
}

#[cfg(test)]
mod tests;
