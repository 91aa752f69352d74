//! `envx git-setup`: register envx's diff and merge drivers for env files.

use clap::Args;
use envx_core::fs::{NewFileMode, read_text_if_exists, write_atomic};

use crate::context::Context;
use crate::exit::Exit;
use crate::git;
use crate::ui::{Failure, Ui};

/// Arguments of `envx git-setup`.
#[derive(Args)]
pub struct GitSetupArgs {}

/// The `.gitattributes` lines: env files use envx's drivers; keys files are never diffed.
const ATTRIBUTES: [&str; 3] = [
    ".env diff=envx merge=envx",
    ".env.* diff=envx merge=envx",
    ".env.keys -diff -merge",
];

/// Writes the attributes and the repository's git config. Running it again changes nothing.
///
/// The drivers call `envx` from `PATH`, never the absolute path of this binary: a recorded
/// path breaks every `git diff` once envx is moved or upgraded to another place.
pub fn run(_args: &GitSetupArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let cwd = ctx.cwd.clone().unwrap_or_else(|| ".".into());
    let root = git::toplevel(&cwd).ok_or_else(|| Failure::new("not inside a git repository"))?;
    let settings = [
        ("diff.envx.textconv", "envx textconv".to_owned()),
        ("diff.envx.cachetextconv", "false".to_owned()),
        (
            "merge.envx.name",
            "envx: merge env files key by key".to_owned(),
        ),
        (
            "merge.envx.driver",
            "envx merge-driver %O %A %B --path %P".to_owned(),
        ),
    ];
    for (key, value) in &settings {
        git::output(&root, &["config", "--local", key, value])?;
    }
    let path = root.join(".gitattributes");
    let existing = read_text_if_exists(&path)?;
    let text = existing.as_deref().map_or("", String::as_str);
    let present: Vec<&str> = text.lines().map(str::trim).collect();
    let missing: Vec<&str> = ATTRIBUTES
        .iter()
        .copied()
        .filter(|l| !present.contains(l))
        .collect();
    if !missing.is_empty() {
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        for line in &missing {
            out.push_str(line);
            out.push('\n');
        }
        write_atomic(&path, out.as_bytes(), NewFileMode::Default)?;
    }
    ui.info(&format!(
        "git diff and merge now use envx for env files ({} updated, git config set)",
        path.display()
    ));
    warn_unless_on_path(ctx, ui);
    Ok(Exit::Success)
}

/// Warns when git will not find `envx` on `PATH` (the drivers and the hook call it by name).
pub fn warn_unless_on_path(ctx: &Context, ui: &Ui) {
    if on_path(ctx.env.get("PATH").map(String::as_str).unwrap_or_default()) {
        return;
    }
    ui.warn(&format!(
        "envx is not on PATH, so git will not find it; {INSTALL_HINT}"
    ));
}

/// How to put envx on `PATH`.
pub const INSTALL_HINT: &str = "install it with `cargo install --path cli` from the envx sources (or copy the envx binary into a folder on PATH)";

/// Is there an executable file named `envx` in one of the folders of `path`?
fn on_path(path: &str) -> bool {
    std::env::split_paths(path).any(|folder| {
        let candidate = folder.join(if cfg!(windows) { "envx.exe" } else { "envx" });
        std::fs::metadata(&candidate).is_ok_and(|m| m.is_file() && is_executable(&m))
    })
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    true
}
