//! The command line. Flags follow dotenvx's where clap can express them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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

/// Options every command takes.
#[derive(Args)]
pub struct Global {
    /// Print only results and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail (key names, never values).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Refuse keys files that other users can read (instead of warning). Also ENVX_STRICT=1.
    #[arg(long, global = true)]
    pub strict: bool,
    /// Do not read or write the key cache (~/.cache/envx). Also ENVX_NO_CACHE=1.
    #[arg(long, global = true)]
    pub no_cache: bool,
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
    /// Print a shell completion script.
    Completions(crate::cmd::completions::CompletionsArgs),
}

/// `-f`, `-k`, `-x` and `--keys-file`, shared by the commands that take several files.
#[derive(Args, Clone)]
pub struct FileArgs {
    /// Env file to use (repeatable; default `.env`).
    #[arg(short = 'f', long = "env-file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Keys file to search (repeatable; a folder means the `.env.keys` in it). dotenvx: `-fk`.
    #[arg(long = "keys-file", visible_alias = "fk", value_name = "PATH")]
    pub keys_files: Vec<PathBuf>,
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
}

/// Which keys to act on.
#[derive(Args, Clone)]
pub struct KeyFilter {
    /// Only these keys (names or globs such as '*_TOKEN'; repeatable).
    #[arg(short = 'k', long = "key", value_name = "KEY")]
    pub include: Vec<String>,
    /// Not these keys (names or globs; repeatable; wins over -k). dotenvx: `-ek`.
    #[arg(
        short = 'x',
        long = "exclude-key",
        visible_alias = "ek",
        value_name = "KEY"
    )]
    pub exclude: Vec<String>,
}

impl KeyFilter {
    /// As a core selection.
    pub fn selection(&self) -> envx_core::glob::Selection {
        envx_core::glob::Selection::new(&self.include, &self.exclude)
    }
}

/// Output formats of `get`.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum GetFormat {
    /// One JSON object (the default).
    Json,
    /// `export KEY='value'` lines, for `eval` in a POSIX shell.
    Shell,
    /// `KEY='value'` lines.
    Eval,
    /// `.env` lines that read back to the same values.
    Dotenv,
}

/// Output formats of `keypair` and `ls`.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum TableFormat {
    /// JSON.
    Json,
    /// Shell assignments (`keypair`) or text (`ls`).
    Shell,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
