//! `envx encrypt`.

use clap::Args;
use envx_core::discover::KeysFileCache;
use envx_core::edit::{self, NewKeyPair};
use envx_core::envfile::EnvFile;
use envx_core::fs::lock_folders;
use envx_core::keys::PublicKey;
use envx_core::store::{save_if_changed, store_private_key};
use zeroize::Zeroizing;

use crate::args::{FileArgs, KeyFilter};
use crate::cmd::{print_stdout, show};
use crate::context::{Context, KeyCommand};
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// Arguments of `envx encrypt`.
#[derive(Args)]
pub struct EncryptArgs {
    #[command(flatten)]
    files: FileArgs,
    #[command(flatten)]
    keys: KeyFilter,
    /// Print the encrypted files instead of writing them.
    #[arg(long)]
    stdout: bool,
    /// Encrypt to this public key (someone else holds the private key): for a file without a
    /// key pair, or one that already declares this key. No keys file is written.
    #[arg(long = "with", value_name = "PUBLIC_KEY")]
    with: Option<String>,
    /// Accepted for dotenvx: envx never creates a missing file here (it is an error).
    #[arg(long = "no-create")]
    no_create: bool,
    #[command(flatten)]
    key_command: KeyCommand,
}

struct Planned {
    file: EnvFile,
    new_pair: Option<NewKeyPair>,
    changed: Vec<String>,
    /// The file's private key, when it had a key pair and the key was found (to reseal).
    key: Option<envx_core::keys::PrivateKey>,
}

/// Encrypts every file in memory first; writes only when all succeeded (keys file first).
pub fn run(args: &EncryptArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let selection = args.keys.selection();
    let supplied = ctx.supplied_keys(&args.key_command)?;
    let search = ctx.search(&args.files.keys_files, &supplied);
    let mut cache = KeysFileCache::default();
    let files = args.files.files();
    let with = args.with.as_deref().map(public_key_option).transpose()?;
    // Read-modify-write under a lock, so concurrent edits of a file are serialised.
    let mut locked = files.clone();
    locked.extend(args.files.keys_files.iter().cloned());
    let _locks = if args.stdout {
        Vec::new()
    } else {
        lock_folders(&locked)?
    };
    let mut planned = Vec::new();
    for path in files {
        let mut file = EnvFile::open(&path)?;
        let keys = file.document().entries().iter().map(|e| e.key());
        args.keys.warn_unknown(keys, ui);
        if let Some(public) = &with {
            declare_with(&mut file, public)?;
        }
        if file.public_key().is_none() && args.stdout {
            return Err(Failure::usage(format!(
                "{} has no public key yet, and --stdout writes no files, so a new private key would be lost",
                show(&path)
            ))
            .hint(format!(
                "run `envx encrypt -f {}` once without --stdout, or encrypt to an existing key with --with PUBLIC_KEY",
                show(&path)
            )));
        }
        let key = match file.public_key() {
            Some(_) => {
                let decryptor = file.decryptor(&search, &mut cache)?;
                decryptor.check_writable()?;
                decryptor.matching().map(|c| c.key.clone())
            }
            None => None,
        };
        for empty in edit::empty_references(&file, &ctx.env, &selection) {
            ui.warn(&format!(
                "{}:{}: the value of {} holds ${}, which expands to nothing (before and after encryption); single-quote the value if the $ is literal",
                show(&path),
                empty.line,
                empty.key,
                empty.name
            ));
        }
        let new_pair = edit::ensure_public_key(&mut file);
        let public = *file
            .public_key()
            .unwrap_or_else(|| unreachable!("ensure_public_key gave the file a key"));
        let changed = edit::encrypt(&mut file, &public, &selection)?;
        planned.push(Planned {
            file,
            new_pair,
            changed,
            key,
        });
    }
    if args.stdout {
        let mut out = Zeroizing::new(String::new());
        for plan in &planned {
            out.push_str(&plan.file.document().to_string());
        }
        return print_stdout(&out);
    }
    for plan in &mut planned {
        crate::cmd::seal::reseal_if_key_holder(
            &mut plan.file,
            plan.key.as_ref(),
            ctx,
            &args.files.keys_files,
            &supplied,
            ui,
        )?;
    }
    for plan in &planned {
        if let Some(pair) = &plan.new_pair {
            let keys_path = args.files.new_key_path(plan.file.path());
            store_private_key(
                &keys_path,
                plan.file.path(),
                &pair.names.private,
                &pair.private,
            )?;
        }
    }
    for plan in &planned {
        save_if_changed(&plan.file)?;
        report(plan, &args.files, ui);
    }
    Ok(Exit::Success)
}

/// The public key of `--with`.
fn public_key_option(text: &str) -> Result<PublicKey, Failure> {
    text.parse().map_err(|e| {
        Failure::usage(format!("--with: not a public key: {e}"))
            .hint("give the 66 hex digits of a DOTENV_PUBLIC_KEY_* value")
    })
}

/// `--with`: gives a file without a public key this one; a file already declaring it is fine.
/// A file with another key, or with values encrypted to an unknown key, is refused.
fn declare_with(file: &mut EnvFile, public: &PublicKey) -> Result<(), Failure> {
    match file.public_key() {
        Some(declared) if declared == public => Ok(()),
        Some(declared) => Err(Failure::new(format!(
            "{} is encrypted to another public key ({}…)",
            show(file.path()),
            declared.short()
        ))
        .hint("--with takes a fresh file or one that already declares that key")),
        None if file.has_encrypted_values() => Err(Failure::new(format!(
            "{} already holds encrypted values but declares no public key",
            show(file.path())
        ))
        .hint("--with takes a fresh file or one that already declares that key")),
        None => {
            edit::declare_public_key(file, public);
            Ok(())
        }
    }
}

fn report(plan: &Planned, files: &FileArgs, ui: &Ui) {
    let path = show(plan.file.path());
    let short = plan
        .file
        .public_key()
        .map(|k| k.short())
        .unwrap_or_default();
    let count = plan.changed.len();
    let values = if count == 1 { "value" } else { "values" };
    let mut line = if count == 0 {
        format!("{path}: nothing to encrypt (public key {short}…)")
    } else {
        format!("{path}: encrypted {count} {values} (public key {short}…)")
    };
    if let Some(pair) = &plan.new_pair {
        let keys = files.new_key_path(plan.file.path());
        line.push_str(&format!(
            "; new key pair, {} saved to {} (never commit it)",
            pair.names.private,
            show(&keys)
        ));
    }
    ui.info(&line);
    if ui.verbose() && count > 0 {
        ui.detail(&format!("{path}: {}", plan.changed.join(", ")));
    }
}
