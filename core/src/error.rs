//! The errors of envx-core.
//!
//! Every error names the file, the line and the key involved, never a value or the text of a
//! line: the files hold secrets, and errors end up in terminals, CI logs and agent transcripts.

use std::io;
use std::path::{Path, PathBuf};

use crate::crypto::CryptoError;
use crate::keys::KeyError;

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Anything that can go wrong in envx-core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be sealed.
    #[error("{}: cannot seal: {source}", .path.display())]
    Seal {
        /// The file.
        path: PathBuf,
        /// Why.
        source: crate::seal::SealError,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause (its message never holds file contents).
        source: io::Error,
    },
    /// The path exists but is not a regular file (a directory, a device, ...).
    #[error("{}: not a regular file", .path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file is not valid UTF-8.
    #[error("{}:{line}: not valid UTF-8 (envx reads .env files as UTF-8 text)", .path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// The first line with an invalid byte.
        line: usize,
    },
    /// The file holds a NUL byte.
    #[error("{}:{line}: contains a NUL byte; this is not a text file", .path.display())]
    NulByte {
        /// The file.
        path: PathBuf,
        /// The line of the first NUL byte.
        line: usize,
    },
    /// A value opens a quote it never closes, or has text after its closing quote.
    #[error(
        "{}:{line}: the value of {key} opens a quote that does not close where the value ends; close the quote (or quote the whole value)",
        .path.display()
    )]
    UnterminatedQuote {
        /// The file.
        path: PathBuf,
        /// The line of the key.
        line: usize,
        /// The key.
        key: String,
    },
    /// The file is larger than envx reads.
    #[error("{}: {size} bytes is larger than the {limit} bytes envx reads from an env file", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A symbolic link that leads outside the project.
    #[error("{}: is a symbolic link to a file outside the project; envx does not follow it", .path.display())]
    SymlinkOutside {
        /// The link.
        path: PathBuf,
    },
    /// A non-blank line that is neither an assignment nor a comment.
    #[error(
        "{}:{line}: not a KEY=value assignment (a value here would be silently ignored); fix or comment out the line",
        .path.display()
    )]
    MalformedLine {
        /// The file.
        path: PathBuf,
        /// The line.
        line: usize,
    },
    /// The file's public key is malformed.
    #[error("{}:{line}: {key} is not a valid public key: {cause}", .path.display())]
    InvalidPublicKey {
        /// The file.
        path: PathBuf,
        /// Line of the public key.
        line: usize,
        /// The variable, e.g. `DOTENV_PUBLIC_KEY_PRODUCTION`.
        key: String,
        /// What is wrong with it.
        cause: KeyError,
    },
    /// A private key in a keys file or the environment is malformed.
    #[error("{source_name}: {key} is not a valid private key: {cause}")]
    InvalidPrivateKey {
        /// Where it was found: a keys file and line, or "environment".
        source_name: String,
        /// The variable name.
        key: String,
        /// What is wrong with it.
        cause: KeyError,
    },
    /// A keys file that other users can read, refused in strict mode.
    #[error(
        "{}: readable by other users (mode {mode:o}); run `chmod 600 {}`",
        .path.display(),
        .path.display()
    )]
    KeysFilePermissions {
        /// The keys file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// No private key available for a file that holds encrypted values.
    #[error("{}", no_private_key_message(.path, .key_name, .public.as_deref(), .searched))]
    NoPrivateKey {
        /// The env file.
        path: PathBuf,
        /// The variable that would hold it, e.g. `DOTENV_PRIVATE_KEY_PRODUCTION`.
        key_name: String,
        /// Short form of the public key the file declares, if any.
        public: Option<String>,
        /// The places searched, in order.
        searched: Vec<String>,
    },
    /// A value could not be decrypted with any of the available keys.
    #[error("{}:{line}: cannot decrypt {key}: {cause}", .path.display())]
    Decrypt {
        /// The env file.
        path: PathBuf,
        /// The line of the key.
        line: usize,
        /// The key whose value failed.
        key: String,
        /// Why (from the last key tried).
        cause: CryptoError,
    },
    /// A decrypted value is not valid UTF-8.
    #[error("{}:{line}: the decrypted value of {key} is not valid UTF-8", .path.display())]
    DecryptedNotUtf8 {
        /// The env file.
        path: PathBuf,
        /// The line of the key.
        line: usize,
        /// The key.
        key: String,
    },
    /// A value holds `$(...)` and command substitution was not enabled.
    #[error(
        "{}:{line}: {key} contains a command substitution $(...); envx does not run commands found in files unless you pass --allow-command-substitution",
        .path.display()
    )]
    CommandSubstitution {
        /// The env file.
        path: PathBuf,
        /// The line of the key.
        line: usize,
        /// The key.
        key: String,
    },
    /// An enabled command substitution failed.
    #[error("{}:{line}: the command substitution in {key} failed: {cause}", .path.display())]
    CommandFailed {
        /// The env file.
        path: PathBuf,
        /// The line of the key.
        line: usize,
        /// The key.
        key: String,
        /// What the runner reported (never the command's output).
        cause: String,
    },
    /// A decrypted value cannot be written back as plaintext in any quoting.
    #[error(
        "{}:{line}: the value of {key} cannot be written as plaintext without changing it; leave it encrypted",
        .path.display()
    )]
    Unrepresentable {
        /// The env file.
        path: PathBuf,
        /// The line of the key.
        line: usize,
        /// The key.
        key: String,
    },
    /// Expanding a value produced more text than envx allows, or scanned too long.
    #[error(
        "{}:{line}: expanding {key} produces more than {limit} bytes (references that multiply, or a value that inserts itself); fix the references",
        .path.display()
    )]
    ExpansionTooLarge {
        /// The env file.
        path: PathBuf,
        /// The line of the key.
        line: usize,
        /// The key.
        key: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// A file declares a second public key.
    #[error(
        "{}:{line}: {key} declares a second public key; a file has exactly one (remove the extra line)",
        .path.display()
    )]
    ExtraPublicKey {
        /// The env file.
        path: PathBuf,
        /// The line of the extra declaration.
        line: usize,
        /// Its variable name.
        key: String,
    },
    /// The public key's variable name does not belong to the file.
    #[error(
        "{}:{line}: {key} does not belong to this file, whose public key is named {expected}; rename the line (and the private key variable) or the file",
        .path.display()
    )]
    PublicKeyName {
        /// The env file.
        path: PathBuf,
        /// The line of the declaration.
        line: usize,
        /// The name found.
        key: String,
        /// The name the file's name calls for.
        expected: String,
    },
    /// An encrypted value in a file that declares no public key.
    #[error(
        "{}:{line}: {key} is encrypted, but the file declares no public key, so no key of its own can open it",
        .path.display()
    )]
    EncryptedWithoutPublicKey {
        /// The env file.
        path: PathBuf,
        /// The line of the key.
        line: usize,
        /// The key.
        key: String,
    },
    /// The private key held for a file does not match the public key the file declares.
    #[error(
        "{}: declares public key {declared}…, but {key_name} here is the private key of {held}…; envx will not encrypt to a key you cannot open (was the public key line changed?)",
        .path.display()
    )]
    PublicKeyMismatch {
        /// The env file.
        path: PathBuf,
        /// The private key's variable name.
        key_name: String,
        /// Short form of the declared public key.
        declared: String,
        /// Short form of the public key of the private key held.
        held: String,
    },
    /// An unquoted value runs into a `#` that starts a comment, so part of it would stay in
    /// plaintext.
    #[error(
        "{}:{line}: the value of {key} stops at a `#` with no space before it, so what follows stays in plaintext as a comment; quote the whole value (KEY=\"…#…\"), or put a space before a real comment",
        .path.display()
    )]
    SecretTail {
        /// The env file.
        path: PathBuf,
        /// The line of the key.
        line: usize,
        /// The key.
        key: String,
    },
    /// A key name that is not valid in a .env file.
    #[error("{key:?} is not a valid key name (use letters, digits, `_`, `.` and `-`)")]
    InvalidKeyName {
        /// The rejected name.
        key: String,
    },
    /// A value given to [`crate::decrypt_value`] could not be decrypted.
    #[error("cannot decrypt the value: {cause}")]
    Value {
        /// Why.
        cause: CryptoError,
    },
    /// A value given to [`crate::decrypt_value`] decrypted to bytes that are not UTF-8.
    #[error("the decrypted value is not valid UTF-8")]
    ValueNotUtf8,
}

/// What kind of failure an [`Error`] is, for callers that react to some kinds and report the
/// rest. Where it happened is [`Error::path`], [`Error::line`] and [`Error::key`].
///
/// ```
/// use envx_core::{ErrorKind, Loader};
///
/// let error = Loader::new().file("/nonexistent/.env").load().unwrap_err();
/// assert_eq!(error.kind(), ErrorKind::Io);
/// assert_eq!(error.path(), Some(std::path::Path::new("/nonexistent/.env")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file could not be read or written (missing, no permission, ...).
    Io,
    /// The file is not something envx reads as an env file: not a regular file, not UTF-8
    /// text, larger than the limit, or a link leading outside the project.
    NotAnEnvFile,
    /// The text is not valid `.env` syntax: a line that is not an assignment, an unclosed
    /// quote, an invalid key name.
    Syntax,
    /// A public or private key is malformed, misnamed, declared twice or not at all where
    /// values are encrypted, or does not match the key it should pair with.
    InvalidKey,
    /// A keys file other users can read, refused in strict mode.
    InsecureKeysFile,
    /// No available private key matches the file's public key.
    NoPrivateKey,
    /// A value could not be decrypted (damaged, or encrypted to another key), or its
    /// plaintext is not UTF-8.
    Decrypt,
    /// A value holds a command substitution `$(...)`, which is not run unless allowed, or the
    /// allowed command failed.
    CommandSubstitution,
    /// A decrypted value cannot be written back as plaintext.
    Unrepresentable,
    /// Expanding the references in a value produced more text than envx allows.
    Expansion,
    /// A file could not be sealed.
    Seal,
}

fn no_private_key_message(
    path: &Path,
    key_name: &str,
    public: Option<&str>,
    searched: &[String],
) -> String {
    let expects = match public {
        Some(short) => format!(" matching public key {short}…"),
        None => String::new(),
    };
    let searched = if searched.is_empty() {
        "nothing".to_owned()
    } else {
        searched.join(", ")
    };
    format!(
        "{}: no private key{expects}; set {key_name} or add it to .env.keys (searched: {searched})",
        path.display()
    )
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Io { .. } => ErrorKind::Io,
            Self::NotAFile { .. }
            | Self::NotUtf8 { .. }
            | Self::NulByte { .. }
            | Self::TooLarge { .. }
            | Self::SymlinkOutside { .. } => ErrorKind::NotAnEnvFile,
            Self::UnterminatedQuote { .. }
            | Self::MalformedLine { .. }
            | Self::InvalidKeyName { .. }
            | Self::SecretTail { .. } => ErrorKind::Syntax,
            Self::InvalidPublicKey { .. }
            | Self::InvalidPrivateKey { .. }
            | Self::ExtraPublicKey { .. }
            | Self::PublicKeyName { .. }
            | Self::EncryptedWithoutPublicKey { .. }
            | Self::PublicKeyMismatch { .. } => ErrorKind::InvalidKey,
            Self::KeysFilePermissions { .. } => ErrorKind::InsecureKeysFile,
            Self::NoPrivateKey { .. } => ErrorKind::NoPrivateKey,
            Self::Decrypt { .. }
            | Self::DecryptedNotUtf8 { .. }
            | Self::Value { .. }
            | Self::ValueNotUtf8 => ErrorKind::Decrypt,
            Self::CommandSubstitution { .. } | Self::CommandFailed { .. } => {
                ErrorKind::CommandSubstitution
            }
            Self::Unrepresentable { .. } => ErrorKind::Unrepresentable,
            Self::ExpansionTooLarge { .. } => ErrorKind::Expansion,
            Self::Seal { .. } => ErrorKind::Seal,
        }
    }

    /// The file the error concerns (an env file or a keys file), when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Io { path, .. }
            | Self::Seal { path, .. }
            | Self::NotAFile { path }
            | Self::NotUtf8 { path, .. }
            | Self::NulByte { path, .. }
            | Self::UnterminatedQuote { path, .. }
            | Self::TooLarge { path, .. }
            | Self::SymlinkOutside { path }
            | Self::MalformedLine { path, .. }
            | Self::InvalidPublicKey { path, .. }
            | Self::KeysFilePermissions { path, .. }
            | Self::NoPrivateKey { path, .. }
            | Self::Decrypt { path, .. }
            | Self::DecryptedNotUtf8 { path, .. }
            | Self::CommandSubstitution { path, .. }
            | Self::CommandFailed { path, .. }
            | Self::Unrepresentable { path, .. }
            | Self::ExpansionTooLarge { path, .. }
            | Self::ExtraPublicKey { path, .. }
            | Self::PublicKeyName { path, .. }
            | Self::EncryptedWithoutPublicKey { path, .. }
            | Self::PublicKeyMismatch { path, .. }
            | Self::SecretTail { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The 1-based line in [`Error::path`], when the error concerns one line.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::NotUtf8 { line, .. }
            | Self::NulByte { line, .. }
            | Self::UnterminatedQuote { line, .. }
            | Self::MalformedLine { line, .. }
            | Self::InvalidPublicKey { line, .. }
            | Self::Decrypt { line, .. }
            | Self::DecryptedNotUtf8 { line, .. }
            | Self::CommandSubstitution { line, .. }
            | Self::CommandFailed { line, .. }
            | Self::Unrepresentable { line, .. }
            | Self::ExpansionTooLarge { line, .. }
            | Self::ExtraPublicKey { line, .. }
            | Self::PublicKeyName { line, .. }
            | Self::EncryptedWithoutPublicKey { line, .. }
            | Self::SecretTail { line, .. } => Some(*line).filter(|&l| l > 0),
            _ => None,
        }
    }

    /// The key (variable name) the error concerns, when there is one. Never a value.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::UnterminatedQuote { key, .. }
            | Self::InvalidPublicKey { key, .. }
            | Self::InvalidPrivateKey { key, .. }
            | Self::Decrypt { key, .. }
            | Self::DecryptedNotUtf8 { key, .. }
            | Self::CommandSubstitution { key, .. }
            | Self::CommandFailed { key, .. }
            | Self::Unrepresentable { key, .. }
            | Self::InvalidKeyName { key }
            | Self::ExpansionTooLarge { key, .. }
            | Self::ExtraPublicKey { key, .. }
            | Self::PublicKeyName { key, .. }
            | Self::EncryptedWithoutPublicKey { key, .. }
            | Self::SecretTail { key, .. } => Some(key),
            Self::NoPrivateKey { key_name, .. } | Self::PublicKeyMismatch { key_name, .. } => {
                Some(key_name)
            }
            _ => None,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_and_location_name_file_line_and_key() {
        let error = Error::Decrypt {
            path: PathBuf::from(".env.production"),
            line: 8,
            key: "API_KEY".to_owned(),
            cause: CryptoError::Decrypt,
        };
        assert_eq!(error.kind(), ErrorKind::Decrypt);
        assert_eq!(error.path(), Some(Path::new(".env.production")));
        assert_eq!((error.line(), error.key()), (Some(8), Some("API_KEY")));
        let error = Error::MalformedLine {
            path: PathBuf::from(".env"),
            line: 3,
        };
        assert_eq!(error.kind(), ErrorKind::Syntax);
        assert_eq!((error.line(), error.key()), (Some(3), None));
        let error = Error::InvalidPrivateKey {
            source_name: "environment".to_owned(),
            key: "DOTENV_PRIVATE_KEY".to_owned(),
            cause: KeyError::PrivateKeyFormat,
        };
        assert_eq!(error.kind(), ErrorKind::InvalidKey);
        assert_eq!(
            (error.path(), error.key()),
            (None, Some("DOTENV_PRIVATE_KEY"))
        );
    }
}
