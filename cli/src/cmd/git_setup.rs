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
pub fn run(_args: &GitSetupArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let cwd = ctx.cwd.clone().unwrap_or_else(|| ".".into());
    let root = git::toplevel(&cwd).ok_or_else(|| Failure::new("not inside a git repository"))?;
    let exe =
        std::env::current_exe().map_err(|e| Failure::new(format!("cannot locate envx: {e}")))?;
    let exe = exe.display().to_string().replace('\'', r"'\''");
    let settings = [
        ("diff.envx.textconv", format!("'{exe}' textconv")),
        ("diff.envx.cachetextconv", "false".to_owned()),
        (
            "merge.envx.name",
            "envx: merge env files key by key".to_owned(),
        ),
        (
            "merge.envx.driver",
            format!("'{exe}' merge-driver %O %A %B --path %P"),
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
    Ok(Exit::Success)
}
