//! `envx precommit`: block commits that would publish a secret.

use std::fs;
use std::path::{Path, PathBuf};

use clap::Args;
use envx_core::crypto::is_encrypted;
use envx_core::edit::stays_plaintext;
use envx_core::envfile::EnvFile;
use envx_core::keys_file::KEYS_FILE_NAME;

use crate::cmd::show;
use crate::context::Context;
use crate::exit::Exit;
use crate::git;
use crate::ui::{Failure, Ui};

/// Arguments of `envx precommit`.
#[derive(Args)]
pub struct PrecommitArgs {
    /// Install as the repository's pre-commit hook instead of checking.
    #[arg(long)]
    install: bool,
    /// With --install: replace an existing hook.
    #[arg(long, requires = "install")]
    force: bool,
}

/// Template files meant to be committed with placeholder values; not checked.
const TEMPLATES: [&str; 3] = [".env.example", ".env.sample", ".env.template"];

/// Checks the staged env files, or installs the hook.
pub fn run(args: &PrecommitArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let cwd = ctx.cwd.clone().unwrap_or_else(|| ".".into());
    let root = git::toplevel(&cwd).ok_or_else(|| Failure::new("not inside a git repository"))?;
    if args.install {
        install(&root, args.force, ui)?;
        crate::cmd::git_setup::warn_unless_on_path(ctx, ui);
        return Ok(Exit::Success);
    }
    let staged = git::output(
        &root,
        &[
            "diff",
            "--cached",
            "--name-only",
            "-z",
            "--diff-filter=ACMR",
        ],
    )?;
    let mut problems = Vec::new();
    for name in staged.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let path = PathBuf::from(String::from_utf8_lossy(name).into_owned());
        if let Some(problem) = check(&root, &path)? {
            problems.push(problem);
        }
    }
    if problems.is_empty() {
        return Ok(Exit::Success);
    }
    for problem in &problems {
        ui.warn(problem);
    }
    Err(Failure::new(format!(
        "commit blocked: {} staged file(s) would publish secrets",
        problems.len()
    )))
}

/// What is wrong with one staged file, if anything. Reads the staged version, not the
/// working tree's.
fn check(root: &Path, path: &Path) -> Result<Option<String>, Failure> {
    let base = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if base == KEYS_FILE_NAME {
        return Ok(Some(format!(
            "{}: holds private keys and must never be committed; run `git rm --cached {}` and `envx gitignore`",
            show(path),
            show(path)
        )));
    }
    let is_env = (base.starts_with(".env") || base.ends_with(".env")) && !base.starts_with(".envx");
    if !is_env || TEMPLATES.contains(&base.as_str()) {
        return Ok(None);
    }
    let spec = format!(":{}", path.to_string_lossy());
    let staged = git::output(root, &["show", &spec])?;
    let text = match String::from_utf8(staged) {
        Ok(text) => text,
        Err(_) => {
            return Ok(Some(format!(
                "{}: not valid UTF-8; envx cannot check it",
                show(path)
            )));
        }
    };
    let file = match EnvFile::from_text(path, &text) {
        Ok(file) => file,
        Err(e) => return Ok(Some(e.to_string())),
    };
    let plaintext: Vec<&str> = file
        .document()
        .entries()
        .iter()
        .filter(|e| !stays_plaintext(e.key()))
        .filter(|e| {
            let value = e.value();
            !value.is_empty() && !is_encrypted(&value)
        })
        .map(|e| e.key())
        .collect();
    if plaintext.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!(
        "{}: plaintext values for {}; run `envx encrypt -f {}` and `git add` it (keys ending in _PLAIN stay plaintext on purpose)",
        show(path),
        plaintext.join(", "),
        show(path)
    )))
}

const HOOK_MARK: &str = "# installed by envx precommit --install";

fn install(root: &Path, force: bool, ui: &Ui) -> Result<Exit, Failure> {
    let hooks = git::output(root, &["rev-parse", "--git-path", "hooks"])?;
    let hooks = root.join(String::from_utf8_lossy(&hooks).trim_end_matches('\n'));
    let hook = hooks.join("pre-commit");
    let script = hook_script();
    if hook.exists() && !force {
        let current = fs::read_to_string(&hook).unwrap_or_default();
        if current == script {
            ui.info(&format!("{}: already installed", hook.display()));
            return Ok(Exit::Success);
        }
        // An older envx hook (one that recorded an absolute path) is ours to replace.
        if !current.contains(HOOK_MARK) {
            return Err(Failure::new(format!("{} already exists", hook.display()))
                .hint("add `envx precommit` to it yourself, or pass --force to replace it"));
        }
    }
    fs::create_dir_all(&hooks).map_err(|e| Failure::new(format!("{}: {e}", hooks.display())))?;
    fs::write(&hook, script).map_err(|e| Failure::new(format!("{}: {e}", hook.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&hook, fs::Permissions::from_mode(0o755))
            .map_err(|e| Failure::new(format!("{}: {e}", hook.display())))?;
    }
    ui.info(&format!(
        "{}: installed; commits that stage secrets will be blocked",
        hook.display()
    ));
    Ok(Exit::Success)
}

/// The hook calls `envx` from `PATH`, never this binary's absolute path: moving or upgrading
/// envx must not break every commit. Without envx on `PATH` it blocks the commit and says how
/// to install it.
fn hook_script() -> String {
    format!(
        "#!/bin/sh\n{HOOK_MARK}\n\
         if ! command -v envx >/dev/null 2>&1; then\n  \
         echo 'envx pre-commit hook: envx is not on PATH; {}. To commit once without the check: git commit --no-verify' >&2\n  \
         exit 1\n\
         fi\n\
         exec envx precommit\n",
        crate::cmd::git_setup::INSTALL_HINT
    )
}
