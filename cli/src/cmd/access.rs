//! `envx access grant|revoke|ls|export`: the environment key wrapped with age to each
//! teammate (the work is in `envx_core::access`; this module reads arguments and prints).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use envx_core::access::{self, AccessError, Options, Plan};
use envx_core::discover::KeysFileCache;
use envx_core::envfile::EnvFile;
use envx_core::fs::{lock_folders, read_text};
use envx_core::policy::files::is_env_file;

use crate::args::FileArgs;
use crate::cmd::{print_stdout, show};
use crate::context::{Context, KeyCommand};
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// `envx access …`.
#[derive(Subcommand)]
pub enum AccessCommand {
    /// Add NAME's recipient (age1…, ssh-ed25519 …) and wrap the key to every recipient.
    Grant(GrantArgs),
    /// Remove NAME, then make a new key pair, re-encrypt every value, reseal and wrap the new
    /// key to the remaining recipients (all or nothing). --no-rotate only re-wraps.
    Revoke(RevokeArgs),
    /// Wrap the key again to the recipients listed (to approve lines added by a reviewed pull
    /// request, with --accept-recipients).
    Sync(SyncArgs),
    /// List the recipients of each env file, their key types, and whether the wrapped key
    /// matches the approved list. Needs no key.
    Ls(LsArgs),
    /// Print the environment key as a .env.keys line (`>> .env.keys` to keep it on disk).
    Export(ExportArgs),
}

/// The env file (with its keys files) and `--key-command`: where the environment key comes
/// from for every subcommand that needs it.
#[derive(Args)]
pub struct KeyHolder {
    #[command(flatten)]
    files: FileArgs,
    #[command(flatten)]
    key_command: KeyCommand,
}

/// Arguments of `envx access grant`.
#[derive(Args)]
pub struct GrantArgs {
    /// The teammate's (or runner's) name, written as the `# name` comment.
    name: String,
    /// Their recipient: an age recipient (age1…, from `envx identity new`), an `ssh-ed25519`
    /// public key line, or an age plugin recipient. Quote an ssh key line.
    recipient: String,
    #[command(flatten)]
    holder: KeyHolder,
    /// Approve every line of the recipients file as it is now (after reviewing it).
    #[arg(long)]
    accept_recipients: bool,
}

/// Arguments of `envx access revoke`.
#[derive(Args)]
pub struct RevokeArgs {
    /// The name to remove.
    name: String,
    #[command(flatten)]
    holder: KeyHolder,
    /// Only re-wrap the same key to the remaining recipients: for a grant caught before the
    /// person could have opened it.
    #[arg(long)]
    no_rotate: bool,
    /// Approve every other line of the recipients file as it is now (after reviewing it).
    #[arg(long)]
    accept_recipients: bool,
}

/// Arguments of `envx access sync`.
#[derive(Args)]
pub struct SyncArgs {
    #[command(flatten)]
    holder: KeyHolder,
    /// Approve every line of the recipients file as it is now (after reviewing it).
    #[arg(long)]
    accept_recipients: bool,
}

/// Arguments of `envx access ls`.
#[derive(Args)]
pub struct LsArgs {
    /// Env files (default: the env files in the working directory that have access files).
    #[arg(short = 'f', long = "file", value_name = "FILE", value_delimiter = ',')]
    files: Vec<PathBuf>,
}

/// Arguments of `envx access export`.
#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    holder: KeyHolder,
}

/// Runs an access subcommand.
pub fn run(command: &AccessCommand, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    match command {
        AccessCommand::Grant(args) => grant(args, ctx, ui),
        AccessCommand::Revoke(args) => revoke(args, ctx, ui),
        AccessCommand::Sync(args) => sync(args, ctx, ui),
        AccessCommand::Ls(args) => ls(args, ui),
        AccessCommand::Export(args) => export(args, ctx),
    }
}

pub(crate) fn failure(error: AccessError) -> Failure {
    match error {
        AccessError::Core(e) => Failure::from(e),
        other => Failure::new(other.to_string()),
    }
}

/// Opens the env file and finds its key (any source), with the folders locked.
fn open(
    holder: &KeyHolder,
    ctx: &Context,
    command: &str,
) -> Result<
    (
        EnvFile,
        envx_core::envfile::Decryptor,
        Vec<envx_core::fs::FolderLock>,
    ),
    Failure,
> {
    let KeyHolder { files, key_command } = holder;
    let path = files.one(command)?;
    let names = envx_core::names::KeyNames::for_file(&path);
    let paths = access::locate(&path, &names.private);
    // The folder holding envx-access/ (which may not exist yet), and the env file's.
    let access_dir = paths
        .recipients
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut locked = vec![path.clone(), access_dir];
    locked.extend(files.keys_files.iter().cloned());
    let locks = lock_folders(&locked)?;
    let text = read_text(&path)?;
    let file = EnvFile::from_text(&path, &text)?;
    let supplied = ctx.supplied_keys(key_command)?;
    let mut cache = KeysFileCache::default();
    let decryptor = file.decryptor(&ctx.search(&files.keys_files, &supplied), &mut cache)?;
    Ok((file, decryptor, locks))
}

fn options(accept_recipients: bool, ctx: &Context) -> Options {
    Options {
        accept_recipients,
        callbacks: ctx.identities_callbacks(),
    }
}

fn report(plan: &Plan, ui: &Ui) {
    for warning in &plan.warnings {
        ui.warn(warning);
    }
    ui.detail(&format!("environment key from {}", plan.key_source));
}

fn grant(args: &GrantArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let (file, decryptor, _locks) = open(&args.holder, ctx, "access grant")?;
    let plan = access::grant(
        &file,
        &decryptor,
        &args.name,
        &args.recipient,
        &options(args.accept_recipients, ctx),
    )
    .map_err(failure)?;
    plan.commit()?;
    report(&plan, ui);
    ui.info(&format!(
        "{}: {} can open the key now ({}, {}); recipients: {}",
        show(file.path()),
        args.name,
        show(&plan.paths.wrapped),
        show(&plan.paths.recipients),
        plan.names.join(", ")
    ));
    ui.info("next: commit both files");
    Ok(Exit::Success)
}

fn revoke(args: &RevokeArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let (file, decryptor, _locks) = open(&args.holder, ctx, "access revoke")?;
    let path = file.path().to_owned();
    let private_name = file.names().private.clone();
    let plan = access::revoke(
        file,
        &decryptor,
        &args.name,
        !args.no_rotate,
        &options(args.accept_recipients, ctx),
    )
    .map_err(failure)?;
    plan.commit()?;
    report(&plan, ui);
    let shown = show(&path);
    match &plan.rotated {
        Some((old, new, count)) => {
            ui.info(&format!(
                "{shown}: revoked {}; rotated {old}… → {new}…, re-encrypted {count} values; the new key is wrapped to {}",
                args.name,
                plan.names.join(", ")
            ));
            if let Some(keys) = &plan.keys_file {
                ui.info(&format!("new private key also in {}", show(keys)));
            }
            ui.warn(&format!(
                "{} could read every value of {shown} until now and may have copied them: rotate the credentials themselves at each provider (API keys, database passwords, tokens), then `envx set` the new values",
                args.name
            ));
            ui.info(&format!(
                "next: commit {shown}, {} and {}; deployments that read {private_name} from their own secret store need the new key (`envx access export -f {shown}`); a recipient's CI gets it through its identity",
                show(&plan.paths.wrapped),
                show(&plan.paths.recipients)
            ));
        }
        None => {
            ui.info(&format!(
                "{shown}: revoked {} without rotating; the same key is wrapped to {}",
                args.name,
                plan.names.join(", ")
            ));
            ui.warn(&format!(
                "without rotation, {} keeps whatever they already opened: the key itself if they ever ran envx with access, and git history holds the old wrapped key. Use --no-rotate only for a grant caught before use",
                args.name
            ));
        }
    }
    Ok(Exit::Success)
}

fn sync(args: &SyncArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let (file, decryptor, _locks) = open(&args.holder, ctx, "access sync")?;
    let plan =
        access::sync(&file, &decryptor, &options(args.accept_recipients, ctx)).map_err(failure)?;
    plan.commit()?;
    report(&plan, ui);
    ui.info(&format!(
        "{}: the key is wrapped to {} ({}); next: commit it and {}",
        show(file.path()),
        plan.names.join(", "),
        show(&plan.paths.wrapped),
        show(&plan.paths.recipients)
    ));
    Ok(Exit::Success)
}

fn export(args: &ExportArgs, ctx: &Context) -> Result<Exit, Failure> {
    let (file, decryptor, _locks) = open(&args.holder, ctx, "access export")?;
    let line = access::export_line(&file, &decryptor).map_err(failure)?;
    print_stdout(&line)
}

fn ls(args: &LsArgs, ui: &Ui) -> Result<Exit, Failure> {
    let files = if args.files.is_empty() {
        let mut found = Vec::new();
        let entries = std::fs::read_dir(".").map_err(|e| Failure::new(format!(".: {e}")))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_file() && is_env_file(Path::new(&name)) {
                let names = envx_core::names::KeyNames::for_file(Path::new(&name));
                let paths = access::locate(Path::new(&name), &names.private);
                if paths.recipients.exists() || paths.wrapped.exists() {
                    found.push(PathBuf::from(name));
                }
            }
        }
        found.sort();
        if found.is_empty() {
            ui.info("no env file here has access files (envx access grant creates them)");
        }
        found
    } else {
        args.files.clone()
    };
    let mut out = String::new();
    let mut bad = false;
    for path in &files {
        let file = EnvFile::open(path)?;
        let status = access::status(&file).map_err(failure)?;
        let shown = show(path);
        if !status.exists {
            out.push_str(&format!(
                "{shown}: no recipients file ({})\n",
                show(&status.paths.recipients)
            ));
            continue;
        }
        out.push_str(&format!(
            "{shown}: {} (seal {})\n",
            show(&status.paths.recipients),
            status.summary
        ));
        for entry in &status.list.entries {
            let mark = if status.unapproved.contains(&entry.name) {
                "  (not approved)"
            } else {
                ""
            };
            out.push_str(&format!("  {:<20} {}{mark}\n", entry.name, entry.kind));
        }
        let wrapped = if !status.wrapped_exists {
            bad = true;
            "missing".to_owned()
        } else if status.wrapped_matches {
            "matches the recipients list".to_owned()
        } else {
            bad = true;
            "does not match the approved recipients list (a key holder runs `envx access grant` to approve and re-wrap)".to_owned()
        };
        out.push_str(&format!(
            "  wrapped key {}: {wrapped}\n",
            show(&status.paths.wrapped)
        ));
    }
    print_stdout(&out)?;
    Ok(if bad { Exit::Error } else { Exit::Success })
}
