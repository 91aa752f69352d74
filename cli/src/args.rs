//! The command line. Flags follow dotenvx's where clap can express them.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use zeroize::Zeroizing;

use crate::ui::{Failure, Ui};

/// Encrypted .env files: commit them, review them, run programs with them.
#[derive(Parser)]
#[command(
    name = "envx",
    version,
    about,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, and dotenvx's global ones.
#[derive(Args)]
pub struct Global {
    /// Print only results and errors.
    #[arg(short, long, global = true, conflicts_with_all = ["verbose", "debug"])]
    pub quiet: bool,
    /// Print more detail (key names, never values).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Same as --verbose: envx never prints values, so there is no more to show.
    #[arg(short, long, global = true)]
    pub debug: bool,
    /// dotenvx's log levels: error and warn mean --quiet, verbose, debug and silly mean
    /// --verbose, success, info and help change nothing.
    #[arg(
        short = 'l',
        long,
        global = true,
        value_enum,
        value_name = "LEVEL",
        hide_possible_values = true
    )]
    pub log_level: Option<LogLevel>,
    /// Refuse keys files that other users can read (instead of warning). Also ENVX_STRICT=1.
    #[arg(long, global = true)]
    pub strict: bool,
    /// Do not read or write the key cache (~/.cache/envx). Also ENVX_NO_CACHE=1.
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// A command whose standard output is an age identity (or an OpenSSH private key), to
    /// open wrapped keys (envx-access/); tried after ENVX_IDENTITY and ENVX_IDENTITY_FILE.
    #[arg(long, global = true, value_name = "CMD")]
    pub identity_command: Option<String>,
    #[command(flatten)]
    pub dotenvx: DotenvxOnly,
}

impl Global {
    /// `--quiet`, or a log level that keeps only errors and warnings.
    pub fn is_quiet(&self) -> bool {
        self.quiet || matches!(self.log_level, Some(LogLevel::Error | LogLevel::Warn))
    }

    /// `--verbose`, `--debug`, or a log level that asks for detail.
    pub fn is_verbose(&self) -> bool {
        self.verbose
            || self.debug
            || matches!(
                self.log_level,
                Some(LogLevel::Verbose | LogLevel::Debug | LogLevel::Silly)
            )
    }
}

/// dotenvx's log levels (`-l`, `--log-level`).
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings.
    Warn,
    /// The default.
    Success,
    /// The default.
    Info,
    /// The default.
    Help,
    /// Key names.
    Verbose,
    /// Key names (envx never prints values).
    Debug,
    /// Key names.
    Silly,
}

/// dotenvx options for its paid and cloud key stores and its Envfile. The `--no-*` switches
/// turn off features envx does not have, so they are accepted and change nothing; the others
/// would change where keys or files come from, so they are refused with the envx way.
#[derive(Args)]
pub struct DotenvxOnly {
    /// dotenvx: turn off Dotenvx Armor. envx has none; accepted and ignored.
    #[arg(long = "no-armor", global = true, hide = true)]
    pub no_armor: bool,
    /// dotenvx: turn off the OS secret store. envx has none; accepted and ignored.
    #[arg(long = "no-native", global = true, hide = true)]
    pub no_native: bool,
    /// dotenvx: turn off 1Password. envx has none; accepted and ignored.
    #[arg(long = "no-1password", global = true, hide = true)]
    pub no_1password: bool,
    /// dotenvx: turn off Bitwarden. envx has none; accepted and ignored.
    #[arg(long = "no-bitwarden", global = true, hide = true)]
    pub no_bitwarden: bool,
    /// dotenvx: an Armor token. Refused: use --key-command.
    #[arg(long, global = true, hide = true, value_name = "TOKEN")]
    pub token: Option<String>,
    /// dotenvx: an Envfile profile. Refused: name the files with -f.
    #[arg(long, global = true, hide = true, value_name = "NAME")]
    pub profile: Option<String>,
}

impl DotenvxOnly {
    /// A usage error for an option envx refuses, naming the envx way.
    pub fn refusal(&self) -> Option<Failure> {
        if self.token.is_some() {
            return Some(
                Failure::usage("--token (Dotenvx Armor) is not supported: envx reads keys from the environment, keys files or a command")
                    .hint("use `envx run --key-command 'your-secret-manager read …'` or set DOTENV_PRIVATE_KEY_*"),
            );
        }
        if self.profile.is_some() {
            return Some(
                Failure::usage("--profile (dotenvx's Envfile) is not supported")
                    .hint("name the files with -f, e.g. `-f .env.production`"),
            );
        }
        None
    }
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Encrypt plaintext values in place (creates a key pair when the file has none).
    #[command(visible_alias = "enc")]
    Encrypt(crate::cmd::encrypt::EncryptArgs),
    /// Decrypt encrypted values in place.
    #[command(visible_alias = "dec")]
    Decrypt(crate::cmd::decrypt::DecryptArgs),
    /// Set one key, encrypted unless --plain (the value may come from stdin).
    Set(crate::cmd::set::SetArgs),
    /// Remove a key (every occurrence) from env files.
    Del(crate::cmd::del::DelArgs),
    /// Print one value, or all of them.
    Get(crate::cmd::get::GetArgs),
    /// Edit the decrypted file in $VISUAL/$EDITOR; write back only what changed, encrypted.
    Edit(crate::cmd::edit::EditArgs),
    /// Print a file's public key, and its private key when available.
    Keypair(crate::cmd::keypair::KeypairArgs),
    /// List the env files in a tree, their keys and where their private keys are (no values).
    Ls(crate::cmd::ls::LsArgs),
    /// Compare env files with a git revision or between two, key by key (values masked unless --show).
    Diff(crate::cmd::diff::DiffArgs),
    /// Print an env file for `git diff`, each value marked encrypted or PLAINTEXT (a textconv driver; inert).
    Textconv(crate::cmd::textconv::TextconvArgs),
    /// Register envx's diff and merge drivers in this repository.
    GitSetup(crate::cmd::git_setup::GitSetupArgs),
    /// Merge env files key by key (git's merge driver, installed by git-setup).
    #[command(hide = true)]
    MergeDriver(crate::cmd::merge_driver::MergeDriverArgs),
    /// Make sure .env.keys and local plaintext files are ignored by git (and Docker).
    Gitignore(crate::cmd::gitignore::GitignoreArgs),
    /// Block a commit that stages plaintext secrets or a keys file (the pre-commit hook).
    Precommit(crate::cmd::precommit::PrecommitArgs),
    /// Replace a file's key pair and re-encrypt every value to the new key.
    Rotate(crate::cmd::rotate::RotateArgs),
    /// Run a command with the decrypted values in its environment.
    Run(crate::cmd::run::RunArgs),
    /// Approve files as they are: sign them with their private key (shows what changed first).
    Seal(crate::cmd::seal::SealArgs),
    /// Check that every file carries a seal that verifies (needs no private key).
    Verify(crate::cmd::verify::VerifyArgs),
    /// Share an environment's key with teammates: wrapped with age to each one's identity.
    #[command(subcommand)]
    Access(crate::cmd::access::AccessCommand),
    /// Your personal age identity, which opens the keys wrapped to you.
    #[command(subcommand)]
    Identity(crate::cmd::identity::IdentityCommand),
    /// Print a shell completion script.
    Completions(crate::cmd::completions::CompletionsArgs),
}

/// `--keys-file`: where to look for private keys (and where a new one goes). The one
/// definition every command uses; it reads as the list of paths given.
#[derive(Args, Clone)]
pub struct KeysFileArgs {
    /// Keys file to search (repeatable; a folder means the `.env.keys` in it); a new private
    /// key goes to the first. dotenvx: `-fk`, `--env-keys-file`.
    #[arg(
        id = "keys_files",
        long = "keys-file",
        visible_aliases = ["env-keys-file", "fk"],
        value_name = "PATH"
    )]
    paths: Vec<PathBuf>,
}

impl std::ops::Deref for KeysFileArgs {
    type Target = [PathBuf];

    fn deref(&self) -> &[PathBuf] {
        &self.paths
    }
}

/// `-f`/`--file` and `--keys-file`: the one definition every command that reads env files uses.
#[derive(Args, Clone)]
pub struct FileArgs {
    /// Env file to use (repeatable or comma-separated; default `.env`). dotenvx: `--env-file`.
    #[arg(
        short = 'f',
        long = "file",
        visible_alias = "env-file",
        value_name = "FILE",
        value_delimiter = ','
    )]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub keys_files: KeysFileArgs,
}

impl FileArgs {
    /// The files, `.env` when none was given; a folder holding a `.env` means that file (a
    /// folder without one stays as given, so the error names it).
    pub fn files(&self) -> Vec<PathBuf> {
        if self.files.is_empty() {
            return vec![PathBuf::from(".env")];
        }
        self.files
            .iter()
            .map(|f| match f.join(".env") {
                inner if f.is_dir() && inner.is_file() => inner,
                _ => f.clone(),
            })
            .collect()
    }

    /// The one file of a command that edits a single file (`.env` by default).
    pub fn one(&self, command: &str) -> Result<PathBuf, Failure> {
        match self.files().as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(Failure::usage(format!("envx {command} takes one -f file"))
                .hint(format!("run `envx {command}` once per file"))),
        }
    }

    /// Where a new private key for `env_file` goes: the first `--keys-file` (a folder means
    /// the `.env.keys` in it), else `.env.keys` beside the file.
    pub fn new_key_path(&self, env_file: &std::path::Path) -> PathBuf {
        match self.keys_files.first() {
            Some(path) if path.is_dir() => path.join(envx_core::keys_file::KEYS_FILE_NAME),
            Some(path) => path.clone(),
            None => envx_core::store::keys_file_beside(env_file),
        }
    }
}

/// How `run` and `get` choose and tolerate files, as dotenvx does.
#[derive(Args, Clone)]
pub struct LoadArgs {
    /// Load a framework's file set (after any -f files, first wins): nextjs
    /// (`.env.<env>.local`, `.env.local`, `.env.<env>`, `.env`) or flow (adds `.env.defaults`).
    /// `<env>` is DOTENV_ENV or NODE_ENV, else development; missing files are skipped.
    #[arg(long, value_enum, value_name = "NAME", hide_possible_values = true)]
    pub convention: Option<Convention>,
    /// dotenvx error codes to ignore. Only MISSING_ENV_FILE (skip missing files) is accepted:
    /// envx never ignores a value it cannot decrypt.
    #[arg(long, value_name = "CODE", num_args = 1.., value_delimiter = ',')]
    pub ignore: Vec<String>,
}

impl LoadArgs {
    /// The files to load (the `-f` files, then the convention's), without the missing ones
    /// when they may be skipped; a usage error for an `--ignore` code envx does not ignore.
    pub fn files(
        &self,
        given: &FileArgs,
        env: &HashMap<String, String>,
    ) -> Result<Vec<PathBuf>, Failure> {
        let mut skip_missing = false;
        for code in &self.ignore {
            if code != "MISSING_ENV_FILE" {
                return Err(Failure::usage(format!(
                    "--ignore {code}: envx ignores only MISSING_ENV_FILE"
                ))
                .hint("a value that cannot be decrypted always stops envx; give its key with DOTENV_PRIVATE_KEY_* or --keys-file"));
            }
            skip_missing = true;
        }
        let files = match self.convention {
            None => given.files(),
            Some(convention) => {
                // Missing convention files are skipped, as dotenvx does.
                skip_missing = true;
                let mut files = given.files.clone();
                files.extend(convention.files(env).into_iter().map(PathBuf::from));
                files
            }
        };
        Ok(files
            .into_iter()
            .filter(|f| !skip_missing || f.exists())
            .collect())
    }
}

/// dotenvx's `--convention` file sets.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Convention {
    /// Next.js: `.env.<env>.local`, `.env.local` (not for test), `.env.<env>`, `.env`.
    Nextjs,
    /// dotenv-flow: `.env.<env>.local`, `.env.<env>`, `.env.local`, `.env`, `.env.defaults`.
    Flow,
}

impl Convention {
    /// The file names, first wins, for the environment named by DOTENV_ENV or NODE_ENV
    /// (default `development`).
    pub fn files(self, env: &HashMap<String, String>) -> Vec<String> {
        let name = env
            .get("DOTENV_ENV")
            .or_else(|| env.get("NODE_ENV"))
            .filter(|v| !v.is_empty())
            .map_or("development", String::as_str);
        match self {
            Self::Nextjs => {
                let known = ["development", "test", "production"].contains(&name);
                let mut files = Vec::new();
                if known {
                    files.push(format!(".env.{name}.local"));
                }
                if name != "test" {
                    files.push(".env.local".to_owned());
                }
                if known {
                    files.push(format!(".env.{name}"));
                }
                files.push(".env".to_owned());
                files
            }
            Self::Flow => vec![
                format!(".env.{name}.local"),
                format!(".env.{name}"),
                ".env.local".to_owned(),
                ".env".to_owned(),
                ".env.defaults".to_owned(),
            ],
        }
    }
}

/// Which keys to act on.
#[derive(Args, Clone)]
pub struct KeyFilter {
    /// Only these keys (names or globs such as '*_TOKEN'; several may follow one -k).
    /// dotenvx: `-ik`, `--include-key` (get).
    #[arg(
        short = 'k',
        long = "key",
        visible_alias = "include-key",
        value_name = "KEY",
        num_args = 1..
    )]
    pub include: Vec<String>,
    /// Not these keys (names or globs; several may follow one -x; wins over -k). dotenvx:
    /// `-ek`.
    #[arg(
        short = 'x',
        long = "exclude-key",
        visible_alias = "ek",
        value_name = "KEY",
        num_args = 1..
    )]
    pub exclude: Vec<String>,
}

impl KeyFilter {
    /// As a core selection.
    pub fn selection(&self) -> envx_core::glob::Selection {
        envx_core::glob::Selection::new(&self.include, &self.exclude)
    }

    /// Warns about each -k/-x name (not glob) that names no key in `keys`: usually a typo.
    pub fn warn_unknown<'a>(&self, keys: impl Iterator<Item = &'a str> + Clone, ui: &Ui) {
        warn_unmatched(self.include.iter(), keys.clone(), "-k", ui);
        warn_unmatched(self.exclude.iter(), keys, "-x", ui);
    }
}

/// Warns, once per pattern, about `patterns` that match none of `keys`, naming each.
pub fn warn_unmatched<'a, 'p>(
    patterns: impl Iterator<Item = &'p String>,
    keys: impl Iterator<Item = &'a str> + Clone,
    option: &str,
    ui: &Ui,
) {
    for pattern in patterns {
        let glob = envx_core::glob::Glob::new(pattern);
        if !keys.clone().any(|k| glob.matches(k)) {
            ui.warn(&format!("{option} {pattern}: no such key"));
        }
    }
}

/// `--mask [N]`: values shown as their first N characters (at most half, default 6), the rest
/// as `*`, as dotenvx masks them.
pub fn mask(value: &str, visible: usize) -> Zeroizing<String> {
    let count = value.chars().count();
    let shown = if count <= 1 {
        0
    } else {
        visible.min(count.div_ceil(2))
    };
    let mut out = Zeroizing::new(String::with_capacity(value.len()));
    out.extend(value.chars().take(shown));
    out.extend(std::iter::repeat_n('*', count - shown));
    out
}

/// Output formats of `get`.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum GetFormat {
    /// One JSON object (the default).
    Json,
    /// `export KEY='value'` lines, for `eval` in a POSIX shell (dotenvx: eval-export).
    Shell,
    /// `KEY='value'` lines.
    Eval,
    /// `export KEY='value'` lines, as dotenvx names them.
    EvalExport,
    /// `KEY:value` pairs on one line, space-separated (dotenvx's colon format; not quoted).
    Colon,
    /// `.env` lines that read back to the same values.
    Dotenv,
}

/// Output formats of `keypair`.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum KeypairFormat {
    /// JSON.
    Json,
    /// `NAME=key` lines.
    Shell,
    /// `NAME:key` pairs on one line, as dotenvx prints them.
    Colon,
}

/// Output formats of `ls`.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum TableFormat {
    /// JSON.
    Json,
    /// Text.
    Shell,
}

/// dotenvx spells some options with one dash and two letters; clap would read `-fk PATH` as
/// `-f k PATH`. Each is rewritten to its long form before parsing.
pub const DOTENVX_SPELLINGS: [(&str, &str); 4] = [
    ("-fk", "--env-keys-file"),
    ("-ik", "--include-key"),
    ("-ek", "--exclude-key"),
    ("-pp", "--pretty-print"),
];

/// Rewrites dotenvx's one-dash spellings (`DOTENVX_SPELLINGS`) among envx's own options. Only
/// option positions change: nothing after `--`, after the first word of `envx run`'s command,
/// or in the value of an option (`-f -fk` keeps a file named `-fk`) is touched.
pub fn dotenvx_spellings(argv: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    use clap::CommandFactory as _;
    let argv: Vec<OsString> = argv.into_iter().collect();
    let spelled = |t: &OsString| DOTENVX_SPELLINGS.iter().any(|(d, _)| t == d);
    if !argv.iter().any(spelled) {
        return argv; // nothing to rewrite: no need to build the command tree twice
    }
    let mut root = Cli::command();
    root.build();
    let mut argv = argv.into_iter();
    let mut out: Vec<OsString> = argv.next().into_iter().collect();
    let mut command = &root;
    let mut in_subcommand = false;
    // Values still owed to the last option: `Some(true)` for several, `Some(false)` for one.
    let mut owed: Option<bool> = None;
    let mut rest_verbatim = false;
    for token in argv {
        let text = match token.to_str() {
            Some(text) if !rest_verbatim => text,
            _ => {
                out.push(token);
                owed = owed.filter(|&many| many);
                continue;
            }
        };
        let looks_like_option = text.starts_with('-') && text.len() > 1;
        if owed.is_some() && !looks_like_option {
            owed = owed.filter(|&many| many);
            out.push(token);
            continue;
        }
        if text == "--" {
            rest_verbatim = true;
            out.push(token);
            continue;
        }
        let text = DOTENVX_SPELLINGS
            .iter()
            .find(|(dotenvx, _)| *dotenvx == text)
            .map_or(text, |(_, long)| long);
        if looks_like_option {
            owed = values_owed(command, text);
        } else if !in_subcommand {
            if let Some(sub) = command.find_subcommand(text) {
                command = sub;
                in_subcommand = true;
            }
        } else if command.get_name() == "run" {
            rest_verbatim = true;
        }
        out.push(OsString::from(text));
    }
    out
}

/// How many separate values the option `token` of `command` takes next: none (a flag, an
/// attached `=value`, an unknown option), one, or several (`Some(true)`).
fn values_owed(command: &clap::Command, token: &str) -> Option<bool> {
    let arg = if let Some(long) = token.strip_prefix("--") {
        if long.contains('=') {
            return None;
        }
        command.get_arguments().find(|a| {
            a.get_long() == Some(long) || a.get_all_aliases().is_some_and(|al| al.contains(&long))
        })?
    } else {
        let mut chars = token[1..].chars();
        let short = chars.next()?;
        if chars.next().is_some() {
            return None; // `-fFILE` or a cluster of flags
        }
        command.get_arguments().find(|a| {
            a.get_short() == Some(short)
                || a.get_all_short_aliases()
                    .is_some_and(|al| al.contains(&short))
        })?
    };
    if !arg.get_action().takes_values() {
        return None;
    }
    let range = arg.get_num_args()?;
    Some(range.max_values() > 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }

    /// `-f` and `--keys-file` come from one struct, so every command spells and explains them
    /// alike (issue 16: they were defined five and six times, and drifted).
    #[test]
    fn every_command_takes_the_file_options_from_one_definition() {
        use clap::CommandFactory as _;
        let cli = Cli::command();
        let (mut files, mut keys) = (Vec::new(), Vec::new());
        for command in cli.get_subcommands() {
            for arg in command.get_arguments() {
                let aliases = arg.get_all_aliases().unwrap_or_default().join(",");
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                if arg.get_short() == Some('f') {
                    files.push((command.get_name(), arg.get_long(), aliases, help));
                } else if arg.get_long() == Some("keys-file") {
                    keys.push((command.get_name(), aliases, help));
                }
            }
        }
        assert!(
            files.len() >= 9 && keys.len() >= 10,
            "{} {}",
            files.len(),
            keys.len()
        );
        assert!(
            files
                .iter()
                .all(|f| (f.1, &f.2, &f.3) == (files[0].1, &files[0].2, &files[0].3))
        );
        assert_eq!(
            (files[0].1, files[0].2.as_str()),
            (Some("file"), "env-file")
        );
        assert!(
            keys.iter()
                .all(|k| (&k.1, &k.2) == (&keys[0].1, &keys[0].2))
        );
        assert_eq!(keys[0].1, "env-keys-file,fk");
    }

    fn rewritten(line: &str) -> String {
        let argv = line.split(' ').map(OsString::from);
        let out = dotenvx_spellings(argv);
        let words: Vec<String> = out
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .collect();
        words.join(" ")
    }

    #[test]
    fn dotenvx_spellings_are_rewritten_only_where_options_are() {
        let cases = [
            (
                "envx get -fk k -ik A B -ek C -pp",
                "envx get --env-keys-file k --include-key A B --exclude-key C --pretty-print",
            ),
            (
                "envx encrypt -f .env -fk keys -k A B",
                "envx encrypt -f .env --env-keys-file keys -k A B",
            ),
            (
                "envx -q run -fk k -- cmd -fk -pp",
                "envx -q run --env-keys-file k -- cmd -fk -pp",
            ),
            (
                "envx run -f .env cmd -pp -fk",
                "envx run -f .env cmd -pp -fk",
            ),
            (
                "envx run -e A=1 B=2 -fk k -- cmd",
                "envx run -e A=1 B=2 --env-keys-file k -- cmd",
            ),
            (
                "envx run --only A -fk k printenv -ek",
                "envx run --only A --env-keys-file k printenv -ek",
            ),
            ("envx set KEY -- -pp", "envx set KEY -- -pp"),
            ("envx set -f -- -fk V", "envx set -f -- -fk V"),
            (
                "envx set --file=x -fk k KEY V",
                "envx set --file=x --env-keys-file k KEY V",
            ),
            ("envx -l error get -pp", "envx -l error get --pretty-print"),
            ("envx keypair -pp", "envx keypair --pretty-print"),
        ];
        for (input, expected) in cases {
            assert_eq!(rewritten(input), expected, "{input}");
        }
    }

    #[test]
    fn conventions_list_files_as_dotenvx_does() {
        let env = |name: &str| HashMap::from([("NODE_ENV".to_owned(), name.to_owned())]);
        let cases = [
            (
                Convention::Nextjs,
                env("production"),
                ".env.production.local .env.local .env.production .env",
            ),
            (
                Convention::Nextjs,
                env("test"),
                ".env.test.local .env.test .env",
            ),
            (Convention::Nextjs, env("staging"), ".env.local .env"),
            (
                Convention::Nextjs,
                HashMap::new(),
                ".env.development.local .env.local .env.development .env",
            ),
            (
                Convention::Flow,
                env("staging"),
                ".env.staging.local .env.staging .env.local .env .env.defaults",
            ),
            (
                Convention::Flow,
                HashMap::new(),
                ".env.development.local .env.development .env.local .env .env.defaults",
            ),
        ];
        for (convention, env, expected) in cases {
            assert_eq!(convention.files(&env).join(" "), expected);
        }
    }

    #[test]
    fn mask_shows_at_most_half() {
        assert_eq!(*mask("hello world", 6), "hello *****");
        assert_eq!(*mask("two", 6), "tw*");
        assert_eq!(*mask("1", 6), "*");
        assert_eq!(*mask("hello world", 2), "he*********");
        assert_eq!(*mask("", 6), "");
    }
}
