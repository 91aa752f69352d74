//! The `.env.keys` file: private keys beside the env files, never committed.
//!
//! The layout is the one dotenvx writes, byte for byte, so that a team can switch tools without
//! a diff: a fixed header, then one `# <env file>` comment and one `NAME=<hex>` line per key.
//! The file is read with the ordinary `.env` parser, so quotes, `export` and comments are fine,
//! and a value may list several keys separated by commas (old and new during a rotation).

use std::path::Path;

use zeroize::Zeroizing;

use crate::document::Document;
use crate::keys::{KeyError, PrivateKey};
use crate::names::PRIVATE_KEY_PREFIX;

/// The file name.
pub const KEYS_FILE_NAME: &str = ".env.keys";

/// The header of a new keys file (the format's, kept identical so both tools write the same bytes).
pub const KEYS_FILE_HEADER: &str = "\
#/------------------!DOTENV_PRIVATE_KEYS!-------------------/
#/ private decryption keys. DO NOT commit to source control /
#/     [how it works](https://dotenvx.com/encryption)       /
#/          \u{26e8} ARMORED KEYS: `dotenvx armor up`              /
#/----------------------------------------------------------/
";

/// One private key read from a keys file.
pub struct KeysFileEntry {
    /// The variable name, e.g. `DOTENV_PRIVATE_KEY_PRODUCTION`.
    pub name: String,
    /// 1-based line of the variable.
    pub line: usize,
    /// The parsed key, or why it could not be parsed.
    pub key: Result<PrivateKey, KeyError>,
}

/// Every `DOTENV_PRIVATE_KEY*` value in a keys file, each comma-separated element on its own,
/// in file order. Other entries are ignored.
pub fn parse_keys_file(text: &str) -> Vec<KeysFileEntry> {
    let doc = Document::parse(text);
    let mut out = Vec::new();
    for entry in doc.entries() {
        if !entry.key().starts_with(PRIVATE_KEY_PREFIX) {
            continue;
        }
        let value = Zeroizing::new(entry.value());
        for element in value.split(',') {
            out.push(KeysFileEntry {
                name: entry.key().to_owned(),
                line: entry.line(),
                key: PrivateKey::from_hex(element),
            });
        }
    }
    out
}

/// The keys file with one more key: `existing` (or a new file when `None`) followed by
/// `\n# <env file name>\n<NAME>=<hex>\n`.
pub fn append_key(
    existing: Option<&str>,
    env_file: &Path,
    private_name: &str,
    key: &PrivateKey,
) -> Zeroizing<String> {
    append_entry(existing, env_file, private_name, &key.expose_hex())
}

/// As [`append_key`], with the value given as text (for example `new,old` during a rotation).
pub fn append_entry(
    existing: Option<&str>,
    env_file: &Path,
    private_name: &str,
    value: &str,
) -> Zeroizing<String> {
    let label = env_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = Zeroizing::new(String::new());
    out.push_str(existing.unwrap_or(KEYS_FILE_HEADER));
    out.push_str("\n# ");
    out.push_str(&label);
    out.push('\n');
    out.push_str(private_name);
    out.push('=');
    out.push_str(value);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../fixtures/dotenvx/kat-fixed-key/.env.keys");

    #[test]
    fn a_new_keys_file_matches_the_fixture_byte_for_byte() {
        let entries = parse_keys_file(FIXTURE);
        assert_eq!(entries.len(), 1);
        let key = entries[0].key.as_ref().unwrap();
        let written = append_key(
            None,
            Path::new("dir/.env.production"),
            "DOTENV_PRIVATE_KEY_PRODUCTION",
            key,
        );
        assert_eq!(written.as_str(), FIXTURE);
    }

    #[test]
    fn reads_comma_lists_quotes_and_reports_bad_keys() {
        let good = "64294efce9d019865bd2ed212fac9dfaacfb744fa5fd5c39453ea0f20871948f";
        let text = format!(
            "# c\nDOTENV_PRIVATE_KEY_CI=\"{good}\"\nexport DOTENV_PRIVATE_KEY=nothex,{good}\nOTHER=1\n"
        );
        let entries = parse_keys_file(&text);
        let summary: Vec<(&str, usize, bool)> = entries
            .iter()
            .map(|e| (e.name.as_str(), e.line, e.key.is_ok()))
            .collect();
        assert_eq!(
            summary,
            [
                ("DOTENV_PRIVATE_KEY_CI", 2, true),
                ("DOTENV_PRIVATE_KEY", 3, false),
                ("DOTENV_PRIVATE_KEY", 3, true),
            ]
        );
    }

    #[test]
    fn appending_keeps_the_existing_text() {
        let key = PrivateKey::generate();
        let once = append_key(None, Path::new(".env"), "DOTENV_PRIVATE_KEY", &key);
        let twice = append_key(
            Some(&once),
            Path::new(".env.ci"),
            "DOTENV_PRIVATE_KEY_CI",
            &key,
        );
        assert!(twice.starts_with(once.as_str()));
        assert!(twice.ends_with(&format!(
            "\n\n# .env.ci\nDOTENV_PRIVATE_KEY_CI={}\n",
            key.expose_hex().as_str()
        )));
        assert_eq!(parse_keys_file(&twice).len(), 2);
    }
}
