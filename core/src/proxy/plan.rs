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
    let _ = (values, rules, plain);
    unimplemented!()
}
