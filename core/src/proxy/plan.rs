//! The child's environment under `--proxy`.

use super::rules::{Rule, RuleError};

/// What the child gets for one loaded key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// The key has a rule: the child gets its placeholder.
    Placeholder,
    /// Encrypted in its file, no rule, not named by `--plain`: the child does not get it.
    Withheld,
    /// Plaintext in its file, or named by `--plain`: the child gets the real value.
    Real,
}

/// The child's environment plan: each loaded key and what the child gets for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    entries: Vec<(String, Disposition)>,
    rules: Vec<(String, Rule)>,
}

impl Plan {
    /// Each loaded key and its disposition, in the order given to [`plan`].
    pub fn iter(&self) -> impl Iterator<Item = (&str, Disposition)> {
        self.entries.iter().map(|(k, d)| (k.as_str(), *d))
    }

    /// The disposition of `key`, if it was loaded.
    pub fn get(&self, key: &str) -> Option<Disposition> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, d)| *d)
    }

    /// The keys that get a placeholder, each with the rule that applies (what
    /// [`Vault::new`](super::Vault::new) takes, with the values).
    pub fn ruled(&self) -> &[(String, Rule)] {
        &self.rules
    }

    /// The keys withheld from the child.
    pub fn withheld(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(|(_, d)| *d == Disposition::Withheld)
            .map(|(k, _)| k.as_str())
    }
}

/// Plans the child's environment. `values` are the loaded keys, each with whether its stored
/// value was encrypted; `rules` the rules (file rules first, then `--proxy-hosts`: for a key
/// ruled twice the later rule wins); `plain` the keys named by `--plain`.
///
/// # Errors
/// [`RuleError::UnknownKey`] when a rule or `--plain` names a key not loaded;
/// [`RuleError::RuledAndPlain`] when a key is both ruled and named by `--plain`.
pub fn plan(
    values: &[(String, bool)],
    rules: &[(String, Rule)],
    plain: &[String],
) -> Result<Plan, RuleError> {
    let loaded = |key: &str| values.iter().any(|(k, _)| k == key);
    let mut ruled: Vec<(String, Rule)> = Vec::new();
    for (key, rule) in rules {
        if !loaded(key) {
            return Err(RuleError::UnknownKey { key: key.clone() });
        }
        if plain.contains(key) {
            return Err(RuleError::RuledAndPlain { key: key.clone() });
        }
        match ruled.iter_mut().find(|(k, _)| k == key) {
            Some(earlier) => earlier.1 = rule.clone(),
            None => ruled.push((key.clone(), rule.clone())),
        }
    }
    if let Some(key) = plain.iter().find(|k| !loaded(k)) {
        return Err(RuleError::UnknownKey { key: key.clone() });
    }
    let mut entries: Vec<(String, Disposition)> = Vec::with_capacity(values.len());
    for (key, encrypted) in values {
        let disposition = if ruled.iter().any(|(k, _)| k == key) {
            Disposition::Placeholder
        } else if *encrypted && !plain.contains(key) {
            Disposition::Withheld
        } else {
            Disposition::Real
        };
        // A key loaded twice (from two files) is planned once, by its last load.
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some(earlier) => earlier.1 = disposition,
            None => entries.push((key.clone(), disposition)),
        }
    }
    Ok(Plan {
        entries,
        rules: ruled,
    })
}
