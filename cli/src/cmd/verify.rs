//! `envx verify`: is every file exactly as a holder of its private key approved it? Needs no
//! private key, so CI can run it on a pull request.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::Args;
use envx_core::document::Document;
use envx_core::fs::read_text;
use envx_core::keys::PublicKey;
use envx_core::seal::{self, SealState};
use zeroize::Zeroizing;

use crate::args::FileArgs;
use crate::cmd::show;
use crate::context::Context;
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// Arguments of `envx verify`.
#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    files: FileArgs,
    /// Also check against this git revision (the pull request's base): the seal must be made
    /// with the public key the file declares there, and its sequence must not go back.
    /// Default: HEAD, when the file is tracked there.
    #[arg(long, value_name = "REV")]
    base: Option<String>,
}

/// Verifies each file; exit 1 when any does not verify, naming the keys not covered.
pub fn run(args: &VerifyArgs, _ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let files = args.files.files();
    let mut failed = 0;
    for path in &files {
        let shown = show(path);
        let text = read_text(path)?;
        let base = match &args.base {
            Some(rev) => {
                let base = base_version(path, rev)?;
                if base.is_none() {
                    ui.info(&format!(
                        "{shown}: not in {rev}; checked against its own public key"
                    ));
                }
                base
            }
            None => base_version(path, "HEAD").unwrap_or(None),
        };
        match judge(&text, None, base.as_ref()) {
            Ok(seq) => ui.info(&format!("{shown}: seal valid (seq {seq})")),
            Err(problem) => {
                failed += 1;
                ui.warn(&format!("{shown}: {problem}"));
            }
        }
        if let Some(problem) = recipients_problem(path, &text, args.base.as_deref()) {
            failed += 1;
            ui.warn(&problem);
        }
    }
    if failed > 0 {
        return Err(Failure::new(format!(
            "{failed} of {} files do not carry a seal that verifies",
            files.len()
        ))
        .hint("a holder of the private key reviews the changes and runs `envx seal -f FILE`"));
    }
    Ok(Exit::Success)
}

/// The env file's recipients file (team access), when it has one whose seal, made with the
/// env file's own key, does not approve every line: a recipient added or swapped by someone
/// who does not hold the key.
fn recipients_problem(path: &Path, text: &str, base: Option<&str>) -> Option<String> {
    let file = envx_core::envfile::EnvFile::from_text(path, text).ok()?;
    let status = match envx_core::access::status(&file) {
        Ok(status) => status,
        Err(e) => return Some(e.to_string()),
    };
    if !status.exists {
        return None;
    }
    if let SealState::Valid { seq, signer, .. } = &status.seal {
        // Replays: the recipients list in the base (default HEAD) sealed with the same key
        // must not be newer, so an older list (someone since revoked) cannot come back.
        let rev = base.unwrap_or("HEAD");
        let shown = show(&status.paths.recipients);
        let old = match base_version(&status.paths.recipients, rev) {
            Ok(Some(old)) => old,
            Ok(None) => return None,
            Err(e) if base.is_some() => return Some(e.to_string()),
            Err(_) => return None,
        };
        let before = seal::check(&old.text, Some(signer));
        return match before.authentic_seq() {
            Some(then) if then > *seq => Some(format!(
                "{shown}: recipients seal goes back from seq {then} in {rev} to seq {seq}: an older recipients list was restored"
            )),
            Some(then) if then == *seq => match read_text(&status.paths.recipients) {
                Ok(now) if now.as_str() == old.text.as_str() => None,
                Ok(_) => Some(format!(
                    "{shown}: recipients seal has the same seq {seq} as in {rev} but other content"
                )),
                Err(e) => Some(e.to_string()),
            },
            _ => None,
        };
    }
    let names = if status.unapproved.is_empty() {
        String::new()
    } else {
        format!(" (not approved: {})", status.unapproved.join(", "))
    };
    Some(format!(
        "{}: recipients seal {}{names}; a key holder reviews it and runs `envx access grant`",
        show(&status.paths.recipients),
        status.summary
    ))
}

/// A file as a git revision has it.
pub struct BaseVersion {
    /// The revision as given.
    pub rev: String,
    /// The file's text there.
    pub text: Zeroizing<String>,
}

/// The file at `path` as it is in `rev` (`git show REV:./NAME`, run in the file's folder).
/// `Ok(None)` when the revision has no such file.
///
/// # Errors
/// When git cannot run, `path` is not in a repository, or `rev` names no commit.
pub fn base_version(path: &Path, rev: &str) -> Result<Option<BaseVersion>, Failure> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|e| Failure::new(format!("cannot run git: {e}")))
    };
    let commit = git(&[
        "rev-parse",
        "--verify",
        "--quiet",
        &format!("{rev}^{{commit}}"),
    ])?;
    if !commit.status.success() {
        return Err(Failure::new(format!(
            "{}: {rev} is not a commit of a git repository holding this file",
            show(path)
        )));
    }
    let shown = git(&["show", &format!("{rev}:./{name}")])?;
    if !shown.status.success() {
        return Ok(None);
    }
    let text = String::from_utf8(shown.stdout)
        .map_err(|_| Failure::new(format!("{}: not valid UTF-8 in {rev}", show(path))))?;
    Ok(Some(BaseVersion {
        rev: rev.to_owned(),
        text: Zeroizing::new(text),
    }))
}

/// Is `path` inside a git work tree? (A look for `.git` up the folders: no process started.)
pub fn in_git_work_tree(path: &Path) -> bool {
    let Ok(absolute) = std::path::absolute(path) else {
        return false;
    };
    absolute
        .ancestors()
        .skip(1)
        .any(|d| d.join(".git").exists())
}

/// Checks `text`: its seal must verify with `signer` (else with the key `base` declares, else
/// with the key the text declares), and must not be older than `base`'s seal. Returns the
/// sequence number, or a message naming what is wrong and the keys not covered.
pub fn judge(
    text: &str,
    signer: Option<&PublicKey>,
    base: Option<&BaseVersion>,
) -> Result<u64, String> {
    let covered = |t: &str| Zeroizing::new(seal::covered_text(t));
    let anchor = signer
        .copied()
        .or_else(|| base.and_then(|b| seal::declared_key(&Document::parse(&covered(&b.text)))));
    let seq = match seal::check(text, anchor.as_ref()) {
        SealState::Valid { seq, .. } => seq,
        SealState::Absent => {
            return Err(
                "not sealed: nothing shows that a holder of the private key approved it".to_owned(),
            );
        }
        SealState::Invalid {
            problem: seal::Problem::BadSignature(key),
            claimed,
        } if base.is_some() && signer.is_none() => {
            let rev = base.map(|b| b.rev.as_str()).unwrap_or_default();
            let mut message = format!(
                "the seal is not made with public key {key}…, the one the file declares in {rev}"
            );
            if !claimed.is_empty() {
                message.push_str(&format!(
                    "; the seal line's own list says: {}",
                    join(&claimed)
                ));
            }
            return Err(message);
        }
        other => return Err(format!("seal {}", other.describe())),
    };
    let Some(base) = base else { return Ok(seq) };
    let SealState::Valid { seq: base_seq, .. } = seal::check(&base.text, None) else {
        return Ok(seq);
    };
    let (now, then) = (covered(text), covered(&base.text));
    let since = || {
        let keys = |t: &str| seal::sealed_keys(&Document::parse(t));
        let changes = seal::compare(&keys(&then), &keys(&now));
        if changes.is_empty() {
            "no assignment differs".to_owned()
        } else {
            join(&changes)
        }
    };
    if seq < base_seq {
        return Err(format!(
            "the seal's sequence went back from {base_seq} ({}) to {seq}: this is an older sealed version; differences from {}: {}",
            base.rev,
            base.rev,
            since()
        ));
    }
    if seq == base_seq && now != then {
        return Err(format!(
            "sealed at sequence {seq}, as in {}, but with different content (an older or parallel seal); differences: {}",
            base.rev,
            since()
        ));
    }
    Ok(seq)
}

fn join(changes: &[seal::Change]) -> String {
    changes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Before `envx run` starts a child: a file that carries a seal must verify (a broken seal
/// means the file changed after approval); a file without one gets one line on stderr. With
/// `require`, every file must carry a seal made with the private key found for it (the one
/// that decrypts it), not older than the one in HEAD when the file is in a git work tree.
///
/// # Errors
/// The first file that does not pass, named with the keys its seal does not cover.
pub fn check_before_run(
    files: &[PathBuf],
    require: bool,
    search: &envx_core::discover::KeySearch<'_>,
    ui: &Ui,
) -> Result<(), Failure> {
    let mut cache = envx_core::discover::KeysFileCache::default();
    for path in files {
        let shown = show(path);
        let text = read_text(path)?;
        if !require && seal::seal_lines(&text).is_empty() {
            ui.info(&format!(
                "{shown}: not sealed (anyone with its public key can change what it injects; see `envx seal`)"
            ));
            continue;
        }
        let signer = if require {
            let file = envx_core::envfile::EnvFile::from_text(path, &text)?;
            if file.public_key().is_none() {
                return Err(Failure::new(format!(
                    "{shown}: has no public key, so it carries no seal; --require-seal starts nothing"
                )));
            }
            let decryptor = file.decryptor(search, &mut cache)?;
            let Some(found) = decryptor.matching() else {
                return Err(Failure::from(decryptor.no_key()).hint(
                    "--require-seal checks each seal against the private key this deployment holds",
                ));
            };
            Some(*found.key.public_key())
        } else {
            None
        };
        let base = match require && in_git_work_tree(path) {
            true => base_version(path, "HEAD").unwrap_or(None),
            false => None,
        };
        if let Err(problem) = judge(&text, signer.as_ref(), base.as_ref()) {
            return Err(Failure::new(format!("{shown}: {problem}; the command was not started"))
                .hint(format!(
                    "a holder of the private key reviews the file and runs `envx seal -f {shown}`"
                )));
        }
    }
    Ok(())
}
