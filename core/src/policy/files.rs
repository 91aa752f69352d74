//! Which files are env files: one rule for `ls`, `precommit` and `diff`.
//!
//! A name is compared in lower case (so `.ENV` is `.env`) and is an env file when it is
//!
//! - `.env`, or `.env` followed by `.`, `-` or `_` and more (`.env.production`,
//!   `.env.production.local`, `.env.txt`, `.env-staging`);
//! - `env.<name>` (`env.production`), unless its last extension is a source or config
//!   language's (`env.py`, `env.d.ts`, `env.json`);
//! - `<name>.env` (`production.env`), or `<name>.env.<name>` (`production.env.txt`) under the
//!   same exception.
//!
//! So `.envrc` (a direnv shell script), `.environment`, `environment.ts` and envx's own
//! temporary files (`.envx-tmp-*`) are not env files. Among env files, `.env.keys` (and its
//! copies such as `.env.keys.bak`) hold private keys, and `.env.example`, `.env.sample`,
//! `.env.template`, `.env.dist` (and `example.env`, ...) are templates meant to be committed
//! with placeholders.

use std::path::Path;

/// What kind of env file a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvFileKind {
    /// An env file holding values (encrypted or not).
    Values,
    /// A template committed with placeholder values.
    Template,
    /// A keys file: private keys, never committed.
    Keys,
}

/// Last extensions that make an `env.*` or `*.env.*` name a program or a config file rather
/// than an env file.
const SOURCE_EXTENSIONS: &[&str] = &[
    "rs", "py", "pyi", "js", "mjs", "cjs", "ts", "mts", "cts", "jsx", "tsx", "go", "rb", "java",
    "kt", "kts", "scala", "swift", "c", "h", "cc", "cpp", "hpp", "cs", "php", "pl", "pm", "sh",
    "bash", "zsh", "fish", "ps1", "psm1", "bat", "cmd", "lua", "r", "dart", "ex", "exs", "erl",
    "hs", "ml", "clj", "vue", "svelte", "json", "yaml", "yml", "toml", "xml", "html", "css", "md",
    "nix", "tf", "hcl", "lock", "j2", "jinja", "tpl", "erb", "mustache", "sql",
];

/// Template names (the part after `.env.`).
const TEMPLATES: &[&str] = &["example", "sample", "template", "dist", "defaults", "tmpl"];

/// The kind of env file `name` (a file name, no folder) is, or `None` for another file.
pub fn env_file_kind(name: &str) -> Option<EnvFileKind> {
    let lower = name.to_ascii_lowercase();
    let rest = if lower == ".env" {
        ""
    } else if let Some(rest) = lower.strip_prefix(".env")
        && rest.starts_with(['.', '-', '_'])
    {
        &rest[1..]
    } else if let Some(rest) = lower.strip_prefix("env.") {
        if is_source(rest) {
            return None;
        }
        rest
    } else if let Some(prefix) = lower.strip_suffix(".env")
        && !prefix.is_empty()
    {
        // `example.env` is a template as `.env.example` is.
        prefix.rsplit(['.', '-', '_']).next().unwrap_or("")
    } else if let Some(at) = lower.find(".env.")
        && at > 0
    {
        let rest = &lower[at + 5..];
        if is_source(rest) {
            return None;
        }
        rest
    } else {
        return None;
    };
    let first = rest.split(['.', '-', '_']).next().unwrap_or("");
    Some(if first == "keys" {
        EnvFileKind::Keys
    } else if TEMPLATES.contains(&first) || TEMPLATES.contains(&last_extension(rest)) {
        EnvFileKind::Template
    } else {
        EnvFileKind::Values
    })
}

/// The kind of env file `path` names, by its file name.
pub fn env_file_kind_of(path: &Path) -> Option<EnvFileKind> {
    env_file_kind(&path.file_name()?.to_string_lossy())
}

/// An env file holding values or a template: what `ls` lists and `diff` compares.
pub fn is_env_file(path: &Path) -> bool {
    matches!(
        env_file_kind_of(path),
        Some(EnvFileKind::Values | EnvFileKind::Template)
    )
}

fn last_extension(rest: &str) -> &str {
    rest.rsplit('.').next().unwrap_or("")
}

fn is_source(rest: &str) -> bool {
    rest.contains('.') && SOURCE_EXTENSIONS.contains(&last_extension(rest))
        || SOURCE_EXTENSIONS.contains(&rest)
}

/// Does `text` hold a private key? A `DOTENV_PRIVATE_KEY…` assignment whose value is (or
/// starts a comma list with) 64 hex digits, whatever the file is called; and when `env_like`
/// (the file is an env file by name), any assignment whose whole value is 64 hex digits.
/// Returns the 1-based line of the first one.
pub fn private_key_line(text: &str, env_like: bool) -> Option<usize> {
    let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        // A commented-out key is published all the same.
        let uncommented = trimmed.trim_start_matches(['#', ' ', '\t']);
        let comment = uncommented.len() != trimmed.len();
        let line = uncommented
            .strip_prefix("export ")
            .map_or(uncommented, str::trim_start);
        let Some(split) = line.find(['=', ':']) else {
            continue;
        };
        let name = line[..split].trim_end().trim_matches(['"', '\'']);
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        let value = line[split + 1..].trim().trim_end_matches([',', ';']);
        let value = value.trim_matches(['"', '\'', '`']);
        let named = name
            .to_ascii_uppercase()
            .starts_with(crate::names::PRIVATE_KEY_PREFIX);
        let first = value.split(',').next().unwrap_or("").trim();
        let any_key = env_like && !comment && value.split(',').all(|v| hex64(v.trim()));
        if (named && hex64(first)) || any_key {
            return Some(index + 1);
        }
    }
    None
}
