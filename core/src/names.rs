//! The names of the key variables that belong to an env file.
//!
//! `.env` pairs with `DOTENV_PUBLIC_KEY` / `DOTENV_PRIVATE_KEY`, `.env.production` with
//! `DOTENV_PUBLIC_KEY_PRODUCTION` / `DOTENV_PRIVATE_KEY_PRODUCTION`, and so on. The rule is
//! dotenvx's, reproduced exactly (including its odd corners, see the tests) so that both tools
//! look for the same variable.

use std::path::Path;

/// Prefix of every public-key variable.
pub const PUBLIC_KEY_PREFIX: &str = "DOTENV_PUBLIC_KEY";
/// Prefix of every private-key variable.
pub const PRIVATE_KEY_PREFIX: &str = "DOTENV_PRIVATE_KEY";

/// The public and private key variable names of one env file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyNames {
    /// For example `DOTENV_PUBLIC_KEY_PRODUCTION`.
    pub public: String,
    /// For example `DOTENV_PRIVATE_KEY_PRODUCTION`.
    pub private: String,
}

impl KeyNames {
    /// The names derived from the file's name (its folder is ignored).
    pub fn for_file(path: &Path) -> Self {
        let base = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::with_suffix(&suffix_for(&base))
    }

    /// The names for a file that already declares `public_name` (a `DOTENV_PUBLIC_KEY…` key),
    /// which wins over the file name so that a renamed file keeps its key.
    pub fn from_public_name(public_name: &str) -> Self {
        let suffix = public_name.strip_prefix(PUBLIC_KEY_PREFIX).unwrap_or("");
        Self {
            public: format!("{PUBLIC_KEY_PREFIX}{suffix}"),
            private: format!("{PRIVATE_KEY_PREFIX}{suffix}"),
        }
    }

    fn with_suffix(suffix: &str) -> Self {
        if suffix.is_empty() {
            Self {
                public: PUBLIC_KEY_PREFIX.to_owned(),
                private: PRIVATE_KEY_PREFIX.to_owned(),
            }
        } else {
            let suffix = suffix.to_uppercase();
            Self {
                public: format!("{PUBLIC_KEY_PREFIX}_{suffix}"),
                private: format!("{PRIVATE_KEY_PREFIX}_{suffix}"),
            }
        }
    }
}

/// The environment part of a file name, lower case; empty for `.env` itself.
fn suffix_for(base: &str) -> String {
    let mut name = base.to_lowercase();
    if name.starts_with(".env") && name.ends_with(".txt") {
        name.truncate(name.len() - ".txt".len());
    }
    if name == ".env" {
        return String::new();
    }
    let parts: Vec<&str> = name.split('.').skip(2).collect();
    match parts.as_slice() {
        [] => name.replacen(".env", "development", 1),
        [one] => (*one).to_owned(),
        [first, second, ..] => format!("{first}_{second}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_file_name() {
        // Each row was checked against dotenvx 2.38.2 (shared/DOTENVX.md, section 2.2).
        let table = [
            (".env", "DOTENV_PUBLIC_KEY"),
            (".env.production", "DOTENV_PUBLIC_KEY_PRODUCTION"),
            (".env.local", "DOTENV_PUBLIC_KEY_LOCAL"),
            (".env.ci", "DOTENV_PUBLIC_KEY_CI"),
            (".env.example", "DOTENV_PUBLIC_KEY_EXAMPLE"),
            (
                ".env.production.local",
                "DOTENV_PUBLIC_KEY_PRODUCTION_LOCAL",
            ),
            (".env.my.app.staging.x", "DOTENV_PUBLIC_KEY_MY_APP"),
            (".env.prod-eu", "DOTENV_PUBLIC_KEY_PROD-EU"),
            (".env1", "DOTENV_PUBLIC_KEY_DEVELOPMENT1"),
            (".env-staging", "DOTENV_PUBLIC_KEY_DEVELOPMENT-STAGING"),
            ("secrets.env", "DOTENV_PUBLIC_KEY_SECRETSDEVELOPMENT"),
            ("production.env", "DOTENV_PUBLIC_KEY_PRODUCTIONDEVELOPMENT"),
            ("env.production", "DOTENV_PUBLIC_KEY_ENV.PRODUCTION"),
            ("config.env.production", "DOTENV_PUBLIC_KEY_PRODUCTION"),
            (".ENV.Production", "DOTENV_PUBLIC_KEY_PRODUCTION"),
            (".env.Staging.txt", "DOTENV_PUBLIC_KEY_STAGING"),
            ("sub/.env.production", "DOTENV_PUBLIC_KEY_PRODUCTION"),
        ];
        for (file, public) in table {
            let names = KeyNames::for_file(Path::new(file));
            assert_eq!(names.public, public, "{file}");
            assert_eq!(
                names.private,
                public.replace("DOTENV_PUBLIC_KEY", "DOTENV_PRIVATE_KEY"),
                "{file}"
            );
        }
    }

    #[test]
    fn a_declared_public_key_name_wins() {
        let names = KeyNames::from_public_name("DOTENV_PUBLIC_KEY_OLDNAME");
        assert_eq!(names.private, "DOTENV_PRIVATE_KEY_OLDNAME");
        assert_eq!(
            KeyNames::from_public_name("DOTENV_PUBLIC_KEY").private,
            "DOTENV_PRIVATE_KEY"
        );
    }
}
