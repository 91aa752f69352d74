//! `envx seal`: a key holder approves a file as it is. Also the helpers other commands use to
//! keep a seal current (`reseal_if_key_holder`) and to show its state (`state_line`).

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use clap::Args;
use envx_core::crypto::ENCRYPTED_PREFIX;
use envx_core::discover::{Candidate, KeysFileCache};
use envx_core::document::Document;
use envx_core::edit::stays_plaintext;
use envx_core::envfile::EnvFile;
use envx_core::expand;
use envx_core::fs::{NewFileMode, lock_folders, write_atomic};
use envx_core::keys::PrivateKey;
use envx_core::seal::{self, Change, Reseal, SealState};
use zeroize::Zeroizing;

use crate::args::FileArgs;
use crate::cmd::show;
use crate::cmd::verify::{BaseVersion, base_version, judge};
use crate::context::{Context, KeyCommand};
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// Arguments of `envx seal`.
#[derive(Args)]
pub struct SealArgs {
    #[command(flatten)]
    files: FileArgs,
    /// Seal without asking (for scripts); the review is still printed.
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    key_command: KeyCommand,
}

/// Shows what changed since the last approved state, asks, and seals each file.
pub fn run(args: &SealArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let files = args.files.files();
    let mut locked = files.clone();
    locked.extend(args.files.keys_files.iter().cloned());
    let _locks = lock_folders(&locked)?;
    let supplied = ctx.supplied_keys(&args.key_command)?;
    let search = ctx.search(&args.files.keys_files, &supplied);
    let mut cache = KeysFileCache::default();
    for path in files {
        let file = EnvFile::open(&path)?;
        let shown = show(&path);
        let Some(public) = file.public_key().copied() else {
            return Err(Failure::new(format!(
                "{shown} has no public key, so there is no key pair to seal it with"
            ))
            .hint(format!("encrypt it first: envx encrypt -f {shown}")));
        };
        let decryptor = file.decryptor(&search, &mut cache)?;
        let Some(key) = decryptor.matching().map(|c| c.key.clone()) else {
            return Err(Failure::from(decryptor.no_key())
                .hint("only a holder of the file's private key can seal it"));
        };
        let text = Zeroizing::new(file.document().to_string());
        let state = seal::check(&text, None);
        let base = base_version(&path, "HEAD").unwrap_or(None);
        // A valid seal older than HEAD's (a replayed version) is sealed anew after review.
        if state.is_valid() && judge(&text, None, base.as_ref()).is_ok() {
            ui.info(&format!(
                "{shown}: already sealed, unchanged ({})",
                state.describe()
            ));
            continue;
        }
        let (since, changes) = review(&state, base.as_ref(), file.document());
        ui.info(&format!("{shown}: changes since {since}:"));
        for change in &changes {
            ui.info(&format!("  {}", annotate(change, &file, &decryptor)));
        }
        if changes.is_empty() {
            ui.info("  (no assignment changed)");
        }
        confirm(args.yes, &shown)?;
        let base_seq = base
            .as_ref()
            .and_then(|b| seal::check(&b.text, None).authentic_seq());
        let seq = state
            .authentic_seq()
            .max(base_seq)
            .map_or(Some(1), |s| s.checked_add(1))
            .ok_or_else(|| Failure::new(format!("{shown}: the sequence number is exhausted")))?;
        let sealed = seal::seal_with_os_randomness(&text, &key, seq)
            .map_err(|e| Failure::new(format!("{shown}: cannot seal: {e}")))?;
        let sealed = Zeroizing::new(sealed);
        write_atomic(&path, sealed.as_bytes(), NewFileMode::Default)?;
        ui.info(&format!(
            "{shown}: sealed (seq {seq}, public key {}…)",
            public.short()
        ));
    }
    Ok(Exit::Success)
}

/// What changed since the last approved state: the seal's own signed list when the seal is
/// authentic but stale, else the committed version when its seal verifies, else nothing was
/// ever approved and every key is new.
fn review(state: &SealState, base: Option<&BaseVersion>, doc: &Document) -> (String, Vec<Change>) {
    let text = Zeroizing::new(doc.to_string());
    let now = seal::sealed_keys(&Document::parse(&Zeroizing::new(seal::covered_text(&text))));
    if let SealState::Stale { seq, changes, .. } = state {
        return (format!("the last seal (seq {seq})"), changes.clone());
    }
    if let Some(base) = base
        && let SealState::Valid { seq, .. } = seal::check(&base.text, None)
    {
        let then = seal::sealed_keys(&Document::parse(&Zeroizing::new(seal::covered_text(
            &base.text,
        ))));
        return (
            format!("HEAD's sealed version (seq {seq})"),
            seal::compare(&then, &now),
        );
    }
    let all = now.into_iter().map(|k| Change::Added(k.name)).collect();
    ("no approved state (never sealed)".to_owned(), all)
}

/// A change with what a reviewer should know about the value now: stored in plaintext, or
/// referring to other keys (a value such as `https://x/?k=${SECRET}` sends another secret
/// along). Names only, never a value.
fn annotate(change: &Change, file: &EnvFile, decryptor: &envx_core::envfile::Decryptor) -> String {
    let Some(key) = change.key() else {
        return change.to_string();
    };
    let mut line = format!("{key:<32} {}", change.kind());
    let Some(index) = file.document().find_last(key) else {
        return line;
    };
    let entry = &file.document().entries()[index];
    let encrypted = entry.value_starts_with(ENCRYPTED_PREFIX);
    if !encrypted && !stays_plaintext(key) && !entry.value().is_empty() {
        line.push_str(", now plaintext");
    }
    let value = if encrypted {
        decryptor
            .decrypt(entry)
            .ok()
            .map(|v| v.expose_secret().to_owned())
    } else {
        Some(entry.value())
    };
    if let Some(value) = value.map(Zeroizing::new) {
        let refs = references(&value);
        if !refs.is_empty() {
            let names: Vec<String> = refs.iter().map(|r| format!("${{{r}}}")).collect();
            line.push_str(&format!(", refers to {}", names.join(" ")));
        }
        if expand::has_command_substitution(&value) {
            line.push_str(", runs a command $(...)");
        }
    }
    line
}

/// The names a value refers to (`$NAME`, `${NAME}`, and those inside `${A:-$B}` defaults),
/// found by expanding it in a scope where nothing is defined and noting each name asked for.
fn references(value: &str) -> Vec<String> {
    struct Recorder(Vec<String>);
    impl expand::Scope for Recorder {
        type Error = std::convert::Infallible;
        fn value(&mut self, name: &str) -> Result<Option<Zeroizing<String>>, Self::Error> {
            if !self.0.iter().any(|n| n == name) {
                self.0.push(name.to_owned());
            }
            Ok(None)
        }
        fn quoted_literal_has_reference(&mut self, _name: &str) -> Result<bool, Self::Error> {
            Ok(false)
        }
    }
    let mut recorder = Recorder(Vec::new());
    let mut budget = expand::Budget::for_input(value.len());
    let _ = expand::expand(value, &mut recorder, &mut budget);
    recorder.0
}

/// Asks on the terminal unless `--yes`; without a terminal, `--yes` is required.
fn confirm(yes: bool, shown: &str) -> Result<(), Failure> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(format!(
            "{shown}: not sealed: confirmation needs a terminal"
        ))
        .hint("review the changes above, then pass --yes"));
    }
    eprint!("envx: seal {shown} as it is now? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::new(format!("cannot read the answer: {e}")))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Failure::new(format!("{shown}: not sealed")))
    }
}

/// After a write by `encrypt`, `set` or `decrypt`: renews the seal when the file's seal was
/// valid and its private key is at hand; otherwise says why the seal is now stale. `found` is
/// the key the command already found for the file; only without one are the sources searched
/// (`supplied`: from `--key-command`), so a wrapped key is not opened twice.
pub fn reseal_if_key_holder(
    file: &mut EnvFile,
    found: Option<&PrivateKey>,
    ctx: &Context,
    keys_files: &[PathBuf],
    supplied: &[Candidate],
    ui: &Ui,
) -> Result<(), Failure> {
    // The key the file declared when it was read (a write does not change it here).
    let Some(before) = file.public_key().copied() else {
        return Ok(());
    };
    if !file.document().is_modified() || seal::seal_lines(file.document().source()).is_empty() {
        return Ok(());
    }
    let key = match found {
        Some(key) => Some(key.clone()),
        None => file
            .decryptor(
                &ctx.search(keys_files, supplied),
                &mut KeysFileCache::default(),
            )
            .ok()
            .and_then(|d| d.matching().map(|c| c.key.clone())),
    };
    let shown = show(file.path());
    let outcome = seal::reseal_after_write(file.document_mut(), &before, key.as_ref())
        .map_err(|e| Failure::new(format!("{shown}: cannot seal: {e}")))?;
    match outcome {
        Reseal::Unchanged | Reseal::NotSealed => {}
        Reseal::Resealed(seq) => ui.detail(&format!("{shown}: resealed (seq {seq})")),
        Reseal::LeftStale => ui.warn(&format!(
            "{shown}: the seal is now stale (no private key here to renew it); a key holder must review and run `envx seal -f {shown}`"
        )),
        Reseal::WasNotValid(before) => ui.warn(&format!(
            "{shown}: not resealed: the seal was already {} before this write; review with `envx seal -f {shown}`",
            before.describe()
        )),
    }
    Ok(())
}

/// One line on the seal of a file that changed from `old` to `new`, for `diff`:
/// `seal: valid (seq 3)`, `seal: stale since seq 2: API_KEY changed`, `seal: absent (…)`.
/// `None` when neither version carries a seal (a file that does not use one).
pub fn state_line(old: Option<&str>, new: Option<&str>) -> Option<String> {
    let sealed = |t: Option<&str>| t.is_some_and(|t| !seal::seal_lines(t).is_empty());
    if !sealed(old) && !sealed(new) {
        return None;
    }
    Some(format!(
        "seal: {}",
        seal::check(new.unwrap_or_default(), None).describe()
    ))
}

/// The seal state of `path` as one word (`valid`, `stale`, `invalid`, `absent`), for `ls`.
pub fn state_label(path: &Path) -> Option<&'static str> {
    let text = envx_core::fs::read_text(path).ok()?;
    Some(seal::check(&text, None).label())
}

/// `shown` (a rendering of `text`, as textconv prints it) with each seal line replaced by a
/// line giving the seal's state, which reads better in a diff than a signature.
pub fn show_seal_state(text: &str, shown: &str) -> String {
    if seal::seal_lines(text).is_empty() {
        return shown.to_owned();
    }
    let state = format!("#envx-seal: {}", seal::check(text, None).describe());
    // One buffer, sized up front: the rendering may hold decrypted values.
    let mut out = String::with_capacity(shown.len() + state.len());
    for line in shown.split_inclusive('\n') {
        if line.starts_with(seal::SEAL_PREFIX) {
            out.push_str(&state);
            out.push_str(&line[line.trim_end_matches(['\r', '\n']).len()..]);
        } else {
            out.push_str(line);
        }
    }
    out
}
