//! Small wrappers around the `git` command.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
