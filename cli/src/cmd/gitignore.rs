//! `envx gitignore`: keep private keys and local plaintext files out of git and Docker images.

use std::path::Path;

use clap::Args;
use envx_core::fs::{NewFileMode, read_text_if_exists, write_atomic};

use crate::context::Context;
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// Arguments of `envx gitignore`.
#[derive(Args)]
pub struct GitignoreArgs {}

/// The patterns every project using envx should ignore: private keys, the conventional files
/// for local, uncommitted overrides (which hold plaintext), and the temporary files of an
/// atomic write that a killed process can leave behind.
pub const IGNORED: [&str; 4] = [".env.keys", ".env.local", ".env.*.local", ".envx-tmp-*"];

/// Adds the missing patterns to `.gitignore` (created when missing) and to `.dockerignore`
/// when there is one, at the repository root. Running it again changes nothing.
pub fn run(_args: &GitignoreArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let cwd = ctx.cwd.clone().unwrap_or_else(|| ".".into());
    let root = crate::git::toplevel(&cwd).unwrap_or(cwd);
    ensure(&root.join(".gitignore"), true, ui)?;
    ensure(&root.join(".dockerignore"), false, ui)?;
    Ok(Exit::Success)
}

fn ensure(path: &Path, create: bool, ui: &Ui) -> Result<(), Failure> {
    let existing = read_text_if_exists(path)?;
    let Some(text) = existing
        .as_deref()
        .map(String::as_str)
        .or(create.then_some(""))
    else {
        return Ok(());
    };
    let present: Vec<&str> = text.lines().map(str::trim).collect();
    let missing: Vec<&str> = IGNORED
        .iter()
        .copied()
        .filter(|p| !present.contains(p))
        .collect();
    if missing.is_empty() {
        ui.info(&format!(
            "{}: already ignores {}",
            path.display(),
            IGNORED.join(", ")
        ));
        return Ok(());
    }
    let mut out = text.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("# envx: private keys and local plaintext overrides\n");
    for pattern in &missing {
        out.push_str(pattern);
        out.push('\n');
    }
    write_atomic(path, out.as_bytes(), NewFileMode::Default)?;
    ui.info(&format!("{}: added {}", path.display(), missing.join(", ")));
    Ok(())
}
