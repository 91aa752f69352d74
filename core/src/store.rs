//! Saving edits: keys file first, then the env file, each replaced atomically, and only when
//! its bytes changed.

use std::path::{Path, PathBuf};

use crate::envfile::EnvFile;
use crate::error::Result;
use crate::fs::{NewFileMode, read_text_if_exists, write_atomic};
use crate::keys::PrivateKey;
use crate::keys_file::{KEYS_FILE_NAME, append_key};

/// The keys file beside `env_file`.
pub fn keys_file_beside(env_file: &Path) -> PathBuf {
    match env_file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(KEYS_FILE_NAME),
        _ => PathBuf::from(KEYS_FILE_NAME),
    }
}

/// Appends `key` for `env_file` to the keys file at `keys_path`, creating it (mode 0600) when
/// missing. Existing keys are never dropped or rewritten.
///
/// # Errors
/// I/O errors; the keys file is then unchanged.
pub fn store_private_key(
    keys_path: &Path,
    env_file: &Path,
    private_name: &str,
    key: &PrivateKey,
) -> Result<()> {
    let existing = read_text_if_exists(keys_path)?;
    let text = append_key(
        existing.as_deref().map(String::as_str),
        env_file,
        private_name,
        key,
    );
    write_atomic(keys_path, text.as_bytes(), NewFileMode::Private)
}

/// Writes `file`'s document back to its path if it differs from the text it was parsed from.
/// Returns whether it wrote.
///
/// # Errors
/// I/O errors; the file is then unchanged.
pub fn save_if_changed(file: &EnvFile) -> Result<bool> {
    if !file.document().is_modified() {
        return Ok(false);
    }
    let text = zeroize::Zeroizing::new(file.document().to_string());
    if text.as_str() == file.document().source() {
        return Ok(false);
    }
    write_atomic(file.path(), text.as_bytes(), NewFileMode::Default)?;
    Ok(true)
}
