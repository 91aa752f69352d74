//! `envx precommit`: block commits that would publish a secret.

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::Args;
use envx_core::crypto::is_encrypted;
use envx_core::edit::stays_plaintext;
use envx_core::envfile::EnvFile;
use envx_core::fs::MAX_FILE_SIZE;
use envx_core::policy::files::{EnvFileKind, env_file_kind_of, private_key_line};

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

/// Checks the staged files, or installs the hook.
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
    let paths: Vec<PathBuf> = staged
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| PathBuf::from(String::from_utf8_lossy(n).into_owned()))
        .collect();
    let contents = staged_contents(&root, &paths)?;
    let mut problems = Vec::new();
    for (path, content) in paths.iter().zip(&contents) {
        if let Some(problem) = check(path, content.as_deref()) {
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

/// What is wrong with one staged file (its staged bytes), if anything. Every staged file is
/// searched for a private key by content, so a renamed keys file is caught; env files (by the
/// shared rule, `envx_core::policy::files`) must also hold no plaintext value.
fn check(path: &Path, staged: Option<&[u8]>) -> Option<String> {
    let kind = env_file_kind_of(path);
    if kind == Some(EnvFileKind::Keys) {
        return Some(format!(
            "{}: holds private keys and must never be committed; run `git rm --cached {}` and `envx gitignore`",
            show(path),
            show(path)
        ));
    }
    let Some(staged) = staged else {
        // Not a file in the index (a submodule), or larger than any env file envx reads.
        return matches!(kind, Some(EnvFileKind::Values | EnvFileKind::Template)).then(|| {
            format!(
                "{}: larger than {MAX_FILE_SIZE} bytes or not a file; envx cannot check it",
                show(path)
            )
        });
    };
    let text = String::from_utf8_lossy(staged);
    if let Some(line) = private_key_line(&text, kind.is_some()) {
        return Some(format!(
            "{}:{line}: holds a private key (a DOTENV_PRIVATE_KEY… value or 64 hex digits); remove it from the file and `git add` it, or `git rm --cached {}`",
            show(path),
            show(path)
        ));
    }
    if kind != Some(EnvFileKind::Values) {
        return None;
    }
    let Ok(text) = std::str::from_utf8(staged) else {
        return Some(format!(
            "{}: not valid UTF-8; envx cannot check it",
            show(path)
        ));
    };
    let file = match EnvFile::from_text(path, text) {
        Ok(file) => file,
        Err(e) => return Some(e.to_string()),
    };
    // `KEY=abc#def`: the value ends at the `#`, and the rest stays in the file as a comment,
    // in plaintext, even once the value is encrypted.
    let tails: Vec<String> = file
        .document()
        .entries()
        .iter()
        .filter(|e| !stays_plaintext(e.key()) && e.comment_follows_directly())
        .map(|e| format!("{}:{} ({})", show(path), e.line(), e.key()))
        .collect();
    if !tails.is_empty() {
        return Some(format!(
            "{}: text after a `#` right behind an unquoted value stays in plaintext as a comment: {}; quote the whole value, or put a space before a real comment",
            show(path),
            tails.join(", ")
        ));
    }
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
        return None;
    }
    Some(format!(
        "{}: plaintext values for {}; run `envx encrypt -f {}` and `git add` it (keys ending in _PLAIN stay plaintext on purpose)",
        show(path),
        plaintext.join(", "),
        show(path)
    ))
}

/// The staged bytes of each path (`None` for a path the index does not hold as a file, such
/// as a submodule), read through one `git cat-file --batch`.
fn staged_contents(root: &Path, paths: &[PathBuf]) -> Result<Vec<Option<Vec<u8>>>, Failure> {
    // The index names each staged file's blob; blob ids are hex, safe to send one a line.
    let index = git::output(root, &["ls-files", "--stage", "-z"])?;
    let mut blobs = HashMap::new();
    for record in index.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let record = String::from_utf8_lossy(record);
        let Some((meta, name)) = record.split_once('\t') else {
            continue;
        };
        let mut fields = meta.split(' ');
        let (Some(mode), Some(oid)) = (fields.next(), fields.next()) else {
            continue;
        };
        if mode.starts_with("100") || mode == "120000" {
            blobs.insert(PathBuf::from(name), oid.to_owned());
        }
    }
    // Sizes first, so a huge staged file is never read into memory.
    let ids: Vec<&String> = paths.iter().filter_map(|p| blobs.get(p)).collect();
    let sizes: HashMap<&String, u64> = ids
        .iter()
        .copied()
        .zip(cat_file(root, "--batch-check", &ids)?)
        .filter_map(|(id, (size, _))| size.map(|s| (id, s)))
        .collect();
    let small = |id: &&String| sizes.get(id).is_some_and(|&s| s <= MAX_FILE_SIZE);
    let wanted: Vec<Option<&String>> = paths.iter().map(|p| blobs.get(p).filter(small)).collect();
    let ids: Vec<&String> = wanted.iter().flatten().copied().collect();
    let mut read = cat_file(root, "--batch", &ids)?.into_iter();
    Ok(wanted
        .iter()
        .map(|w| w.and_then(|_| read.next()).map(|(_, body)| body))
        .collect())
}

/// A blob's size (`None` when git does not have it) and, when read, its bytes.
type Blob = (Option<u64>, Vec<u8>);

/// For each of `ids`, in order, its size (`None` when git does not have it) and, with
/// `--batch`, its contents; one `git cat-file` process.
fn cat_file(root: &Path, mode: &str, ids: &[&String]) -> Result<Vec<Blob>, Failure> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let failed = |e: std::io::Error| Failure::new(format!("cannot run git cat-file: {e}"));
    let mut child = Command::new("git")
        .args(["cat-file", mode])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(failed)?;
    let mut input = String::new();
    for id in ids {
        input.push_str(id);
        input.push('\n');
    }
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| failed(std::io::ErrorKind::BrokenPipe.into()))?;
    // Written from a thread: git answers while it reads, and a full pipe would block both.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().map_err(failed)?;
    let _ = writer.join();
    let with_body = mode == "--batch";
    let mut out = Vec::with_capacity(ids.len());
    let mut rest = output.stdout.as_slice();
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        let header = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = &rest[end + 1..];
        // `<id> <type> <size>`, or `<id> missing`.
        let size: Option<u64> = match header.split(' ').collect::<Vec<_>>()[..] {
            [_, _, size] => size.parse().ok(),
            _ => None,
        };
        let body = match (size, with_body) {
            (Some(size), true) => {
                let size = usize::try_from(size).unwrap_or(usize::MAX);
                let body = rest.get(..size).unwrap_or(rest).to_vec();
                rest = rest.get(size + 1..).unwrap_or(&[]);
                body
            }
            _ => Vec::new(),
        };
        out.push((size, body));
    }
    if out.len() != ids.len() {
        return Err(Failure::new(
            "git cat-file returned fewer files than asked for",
        ));
    }
    Ok(out)
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
