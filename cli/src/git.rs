//! Small wrappers around the `git` command.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

use crate::ui::Failure;

/// Runs `git args…` in `dir` and returns its stdout.
pub fn output(dir: &Path, args: &[&str]) -> Result<Vec<u8>, Failure> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Failure::new(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(Failure::new(format!(
            "git {} failed: {}",
            args.join(" "),
            stderr.trim()
        )));
    }
    Ok(out.stdout)
}

/// The top folder of the repository holding `dir`, if any.
pub fn toplevel(dir: &Path) -> Option<PathBuf> {
    let out = output(dir, &["rev-parse", "--show-toplevel"]).ok()?;
    let text = String::from_utf8(out).ok()?;
    Some(PathBuf::from(text.trim_end_matches('\n')))
}

/// A revision the user named, checked and resolved to one commit id.
pub struct Commit {
    /// What the user typed, for messages.
    pub name: String,
    /// The commit's object id: what every later git call gets, so that nothing the user typed
    /// is read by git as an option.
    pub id: String,
}

/// Resolves `rev` to exactly one commit.
///
/// # Errors
/// A usage failure (exit 2) for a range (`A..B`, `A...B`, `^A`): compare two revisions as
/// two arguments instead. An error (exit 1) for a name that starts with `-` or names no
/// commit.
pub fn resolve_commit(root: &Path, rev: &str) -> Result<Commit, Failure> {
    let shown = crate::ui::escape(rev);
    if rev.contains("..") || rev.starts_with('^') {
        return Err(Failure::usage(format!(
            "`{shown}` is a range; envx diff compares one revision with another"
        ))
        .hint("name both ends: envx diff A B"));
    }
    let unknown = || {
        Failure::new(format!("unknown revision `{shown}`: no such commit"))
            .hint("list commits with `git log --oneline`")
    };
    if rev.is_empty() || rev.starts_with('-') {
        return Err(unknown());
    }
    let spec = format!("{rev}^{{commit}}");
    let out = output(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &spec,
        ],
    )
    .map_err(|_| unknown())?;
    let id = String::from_utf8_lossy(&out).trim_end().to_owned();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(unknown());
    }
    Ok(Commit {
        name: rev.to_owned(),
        id,
    })
}

/// The paths of the files in `commit`'s tree, relative to the repository root.
pub fn tree_files(root: &Path, commit: &Commit) -> Result<Vec<PathBuf>, Failure> {
    let names = output(root, &["ls-tree", "-r", "-z", "--name-only", &commit.id])?;
    Ok(split_names(&names))
}

/// The paths git tracks in the index, relative to the repository root.
pub fn index_files(root: &Path) -> Result<Vec<PathBuf>, Failure> {
    Ok(split_names(&output(root, &["ls-files", "-z"])?))
}

fn split_names(names: &[u8]) -> Vec<PathBuf> {
    names
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| PathBuf::from(String::from_utf8_lossy(n).into_owned()))
        .collect()
}

/// The bytes of `path` (relative to the root, `/`-separated) in `commit`, exactly as committed
/// (no textconv, no filters).
pub fn blob(root: &Path, commit: &Commit, path: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    output(
        root,
        &["cat-file", "blob", &format!("{}:{path}", commit.id)],
    )
    .map(Zeroizing::new)
    .map_err(|_| {
        Failure::new(format!(
            "cannot read {} at {}",
            crate::ui::escape(path),
            crate::ui::escape(&commit.name)
        ))
    })
}
