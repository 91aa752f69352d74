//! The private temporary folder the decrypted file is edited in.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::ui::{Failure, Ui};

/// Creates `path` for the owner only (0600), failing if it exists.
pub(super) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// A folder only the current user can enter, wiped and removed when dropped.
pub(super) struct PrivateDir {
    /// The folder.
    pub(super) path: PathBuf,
}

impl PrivateDir {
    /// Prefers `$XDG_RUNTIME_DIR` (memory-backed and private to the user on Linux), else the
    /// system's temporary folder. On platforms without Unix permissions the folder cannot be
    /// made private, and envx says so.
    pub(super) fn create(ctx: &Context, ui: &Ui) -> Result<Self, Failure> {
        #[cfg(unix)]
        let _ = ui; // only warns where folders cannot be made private
        let base = ctx
            .env
            .get("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute() && is_private(dir))
            .unwrap_or_else(std::env::temp_dir);
        let mut builder = tempfile::Builder::new();
        builder.prefix("envx-edit-");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            builder.permissions(fs::Permissions::from_mode(0o700));
        }
        #[cfg(not(unix))]
        ui.warn(&format!(
            "this platform offers no private temporary folder: the decrypted file in {} can be read by anyone who can read that folder until the editor closes",
            base.display()
        ));
        let dir = builder.tempdir_in(&base).map_err(|e| {
            Failure::new(format!(
                "cannot create a private temporary folder in {}: {e}",
                base.display()
            ))
        })?;
        let made = Self { path: dir.keep() };
        if !is_private(&made.path) {
            return Err(Failure::new(format!(
                "{} is not private to this user; not writing decrypted values there",
                made.path.display()
            )));
        }
        Ok(made)
    }
}

/// Is `dir` a folder that only its owner, this user, can enter?
#[cfg(unix)]
fn is_private(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    fs::symlink_metadata(dir).is_ok_and(|m| {
        m.is_dir() && m.mode() & 0o077 == 0 && m.uid() == rustix::process::geteuid().as_raw()
    })
}

#[cfg(not(unix))]
fn is_private(dir: &Path) -> bool {
    dir.is_dir()
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        wipe_tree(&self.path);
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Overwrites every regular file below `dir` with zeros (the editor's swap and backup files
/// too). A file an editor replaced by renaming is already unlinked and out of reach; that is
/// why a memory-backed folder is preferred.
fn wipe_tree(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            wipe_tree(&entry.path());
        } else if kind.is_file() {
            let _ = zero_file(&entry.path());
        }
    }
}

fn zero_file(path: &Path) -> std::io::Result<()> {
    let len = fs::symlink_metadata(path)?.len();
    let mut file = fs::OpenOptions::new().write(true).open(path)?;
    let zeros = [0u8; 8192];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        file.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    file.sync_all()
}
