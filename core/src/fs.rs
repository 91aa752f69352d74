//! Reading env files strictly and replacing files atomically.

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Reads an env file as UTF-8 text.
///
/// # Errors
/// [`Error::Io`] (including a missing file), [`Error::NotAFile`] for a directory or device,
/// [`Error::NotUtf8`] and [`Error::NulByte`] with the line of the first bad byte.
pub fn read_text(path: &Path) -> Result<Zeroizing<String>> {
    check_link(path)?;
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::NotAFile {
            path: path.to_owned(),
        });
    }
    if meta.len() > MAX_FILE_SIZE {
        return Err(Error::TooLarge {
            path: path.to_owned(),
            size: meta.len(),
            limit: MAX_FILE_SIZE,
        });
    }
    let bytes = Zeroizing::new(fs::read(path).map_err(|e| Error::io(path, e))?);
    let line_of = |offset: usize| 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count();
    // Vectorised: every file pays this check.
    if let Some(nul) = crate::document::find_byte(0, &bytes) {
        return Err(Error::NulByte {
            path: path.to_owned(),
            line: line_of(nul),
        });
    }
    if let Err(e) = std::str::from_utf8(&bytes) {
        return Err(Error::NotUtf8 {
            path: path.to_owned(),
            line: line_of(e.valid_up_to()),
        });
    }
    let mut bytes = bytes;
    let text = String::from_utf8(std::mem::take(&mut *bytes))
        .unwrap_or_else(|_| unreachable!("validated just above"));
    Ok(Zeroizing::new(text))
}

/// The largest env file envx reads (64 MiB): far above any real one, small enough that a
/// mistaken or hostile path cannot make envx hold gigabytes.
pub const MAX_FILE_SIZE: u64 = 64 << 20;

/// A symbolic link is followed only when its target is inside the project: the repository
/// holding the link (the folder with `.git`), or else the link's own folder.
fn check_link(path: &Path) -> Result<()> {
    let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if !is_link {
        return Ok(());
    }
    let outside = || Error::SymlinkOutside {
        path: path.to_owned(),
    };
    let target = path.canonicalize().map_err(|e| Error::io(path, e))?;
    let folder = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let folder = folder.canonicalize().map_err(|e| Error::io(path, e))?;
    let root = folder
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .unwrap_or(&folder)
        .to_path_buf();
    if target.starts_with(&root) {
        Ok(())
    } else {
        Err(outside())
    }
}

/// Reads a file if it exists: `Ok(None)` when it does not.
///
/// # Errors
/// As [`read_text`], except for a missing file.
pub fn read_text_if_exists(path: &Path) -> Result<Option<Zeroizing<String>>> {
    match read_text(path) {
        Ok(text) => Ok(Some(text)),
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Permissions for a new file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewFileMode {
    /// Owner read/write only (0600): files that hold private keys.
    Private,
    /// The process's default (umask applies): ordinary env files.
    Default,
}

/// The prefix of envx's temporary files: `.envx-tmp-` and random letters and digits.
pub const TEMP_PREFIX: &str = ".envx-tmp-";

/// Replaces `path` with `contents` atomically: a temporary file in the same folder is written,
/// flushed to disk and renamed over the original, so a reader (or a crash) sees either the old
/// file or the new one, never a mix. An existing file keeps its permissions; a new file gets
/// `mode`. For [`NewFileMode::Private`] the result is never more open than 0600.
///
/// The temporary file is created 0600 whatever the target's mode, and gets its final mode
/// only once written and flushed, just before the rename: a crash while it holds the new
/// contents (plaintext, for `decrypt`) leaves a file only its owner can read. Such leftovers are
/// removed by the next writer that locks the folder ([`lock_folders`]).
///
/// # Errors
/// [`Error::Io`] naming `path`; the original file is untouched.
pub fn write_atomic(path: &Path, contents: &[u8], mode: NewFileMode) -> Result<()> {
    // A link (inside the project, see `check_link`) is kept: its target is replaced.
    check_link(path)?;
    let resolved;
    let path = if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        resolved = path.canonicalize().map_err(|e| Error::io(path, e))?;
        resolved.as_path()
    } else {
        path
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let err = |e: io::Error| Error::io(path, e);
    let existing = match fs::metadata(path) {
        Ok(meta) => Some(meta.permissions()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(err(e)),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(fs::Permissions::from_mode(0o600));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(err)?;
    tmp.write_all(contents).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    final_permissions(tmp.as_file(), existing, mode).map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    sync_dir(dir);
    Ok(())
}

/// Sets the replacement's final mode: the original's (a private file never more open than
/// 0600), or for a new ordinary file what any program creating it would get (0666 less the
/// umask).
fn final_permissions(
    file: &fs::File,
    existing: Option<fs::Permissions>,
    mode: NewFileMode,
) -> io::Result<()> {
    match (existing, mode) {
        (Some(perms), mode) => keep_permissions(file, perms, mode),
        (None, NewFileMode::Private) => Ok(()),
        (None, NewFileMode::Default) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                file.set_permissions(fs::Permissions::from_mode(0o666 & !umask()))
            }
            #[cfg(not(unix))]
            {
                let _ = file;
                Ok(())
            }
        }
    }
}

/// The process's umask, read without changing it (setting it to learn it would race with other
/// threads creating files): Linux reports it in `/proc/self/status`; elsewhere the usual 022.
#[cfg(unix)]
fn umask() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// Gives the replacement the original's permissions; a private file is never made more open
/// than 0600.
fn keep_permissions(file: &fs::File, perms: fs::Permissions, mode: NewFileMode) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let bits = match mode {
            NewFileMode::Private => perms.mode() & 0o600,
            NewFileMode::Default => perms.mode() & 0o7777,
        };
        file.set_permissions(fs::Permissions::from_mode(bits))
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        file.set_permissions(perms)
    }
}

/// An exclusive advisory lock on a folder, held until dropped. Every envx command that
/// rewrites files locks their folders first, so concurrent `set`/`encrypt` runs on one file are
/// serialised and none loses another's change. The folder (not the file) is locked because the
/// file is replaced by a rename: a lock on the old file would not exclude a writer that opened
/// the new one.
pub struct FolderLock {
    _handle: Option<fs::File>,
}

/// Locks the folders holding `files` (each once, in a fixed order so two processes cannot
/// deadlock), waiting for other holders.
///
/// # Errors
/// [`Error::Io`] when a folder cannot be opened or locked. Platforms that cannot open a folder
/// as a file get no lock.
pub fn lock_folders<P: AsRef<Path>>(files: &[P]) -> Result<Vec<FolderLock>> {
    let started = std::time::SystemTime::now();
    let mut folders: Vec<std::path::PathBuf> = files
        .iter()
        .map(|f| match f.as_ref().parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        })
        .map(|dir| dir.canonicalize().unwrap_or(dir))
        .collect();
    folders.sort();
    folders.dedup();
    let mut locks = Vec::with_capacity(folders.len());
    for dir in folders {
        let handle = match fs::File::open(&dir) {
            Ok(handle) => handle,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Error::io(dir, e)),
            Err(_) => {
                locks.push(FolderLock { _handle: None });
                continue;
            }
        };
        handle.lock().map_err(|e| Error::io(&dir, e))?;
        remove_stale_temporaries(&dir, started);
        locks.push(FolderLock {
            _handle: Some(handle),
        });
    }
    Ok(locks)
}

/// Removes envx's own temporary files (`.envx-tmp-` and letters and digits, regular files)
/// last modified before `started`: with the folder locked no envx writer is using them, so they
/// are what a killed or crashed run left behind. Best effort: a file that cannot be removed
/// stays.
fn remove_stale_temporaries(dir: &Path, started: std::time::SystemTime) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TEMP_PREFIX)) else {
            continue;
        };
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
            continue;
        }
        // `DirEntry::metadata` does not follow links: a link named like ours is left alone.
        let stale = entry
            .metadata()
            .is_ok_and(|m| m.file_type().is_file() && m.modified().is_ok_and(|t| t < started));
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Makes the rename durable. Best effort: not every platform can open a directory.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_line_of_invalid_utf8_and_nul() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join(".env");
        fs::write(&bad, b"A=1\nB=\xff\n").unwrap();
        assert!(matches!(
            read_text(&bad),
            Err(Error::NotUtf8 { line: 2, .. })
        ));
        fs::write(&bad, b"A=1\n\nC=\0\n").unwrap();
        assert!(matches!(
            read_text(&bad),
            Err(Error::NulByte { line: 3, .. })
        ));
        assert!(matches!(read_text(dir.path()), Err(Error::NotAFile { .. })));
        assert!(
            read_text_if_exists(&dir.path().join("nope"))
                .unwrap()
                .is_none()
        );
    }

    #[cfg(unix)]
    #[test]
    fn atomic_write_keeps_mode_and_creates_private_files_0600() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join(".env");
        fs::write(&env, "A=1\n").unwrap();
        fs::set_permissions(&env, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&env, b"A=2\n", NewFileMode::Default).unwrap();
        assert_eq!(fs::read_to_string(&env).unwrap(), "A=2\n");
        assert_eq!(
            fs::metadata(&env).unwrap().permissions().mode() & 0o777,
            0o640
        );

        let keys = dir.path().join(".env.keys");
        write_atomic(&keys, b"K=1\n", NewFileMode::Private).unwrap();
        assert_eq!(
            fs::metadata(&keys).unwrap().permissions().mode() & 0o777,
            0o600
        );
        fs::set_permissions(&keys, fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&keys, b"K=2\n", NewFileMode::Private).unwrap();
        assert_eq!(
            fs::metadata(&keys).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".envx-tmp")
            })
            .collect();
        assert!(leftovers.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_new_ordinary_file_gets_the_umask_mode() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join(".env.new");
        write_atomic(&env, b"A=1\n", NewFileMode::Default).unwrap();
        let mode = fs::metadata(&env).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !umask());
        assert_eq!(umask() & !0o777, 0, "a umask is nine bits");
    }

    #[cfg(unix)]
    #[test]
    fn locking_a_folder_removes_only_envx_leftovers_older_than_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        for name in [
            ".envx-tmp-Ab12Cd",
            ".envx-tmp-notours.txt",
            ".envx-tmp-",
            "envx-tmp-Ab12Cd",
        ] {
            let file = fs::File::create(d.join(name)).unwrap();
            file.set_modified(old).unwrap();
        }
        // A link named like ours is not followed or removed, nor is its target.
        fs::write(d.join("target"), "keep").unwrap();
        std::os::unix::fs::symlink(d.join("target"), d.join(".envx-tmp-Link01")).unwrap();
        let _locks = lock_folders(&[d.join(".env")]).unwrap();
        let mut left: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".envx-tmp-",
                ".envx-tmp-Link01",
                ".envx-tmp-notours.txt",
                "envx-tmp-Ab12Cd",
                "target"
            ]
        );
        // One created after the lock was taken (by a run that is still writing) stays.
        drop(_locks);
        let _fresh = fs::File::create(d.join(".envx-tmp-Zz99Yy")).unwrap();
        let earlier = std::time::SystemTime::now() - std::time::Duration::from_secs(5);
        remove_stale_temporaries(d, earlier);
        assert!(d.join(".envx-tmp-Zz99Yy").exists());
    }
}
