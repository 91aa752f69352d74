//! `envx set`.

use std::io::{IsTerminal as _, Read as _};

use clap::Args;
use envx_core::discover::KeysFileCache;
use envx_core::edit::{self, SetOutcome};
use envx_core::envfile::EnvFile;
use envx_core::fs::{lock_folders, read_text_if_exists};
use envx_core::secret::SecretString;
use envx_core::store::{save_if_changed, store_private_key};
use zeroize::Zeroizing;

use crate::args::FileArgs;
use crate::cmd::show;
use crate::context::{Context, KeyCommand};
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// Arguments of `envx set`. No `Debug`: it may hold a secret.
#[derive(Args)]
pub struct SetArgs {
    /// The key.
    key: String,
    /// The value. Leave it out (or give `-`) to read it from stdin, which keeps it out of argv
    /// and shell history; on a terminal it is read without echo.
    value: Option<String>,
    /// The env file (default `.env`; created when missing) and keys files.
    #[command(flatten)]
    files: FileArgs,
    /// Store the value in plaintext.
    #[arg(long)]
    plain: bool,
    /// Accept an empty value read from stdin (an empty or closed stdin is otherwise an error:
    /// it usually means the value never arrived).
    #[arg(long)]
    allow_empty: bool,
    /// Encrypt the value (the default; for dotenvx's `-c`).
    #[arg(short = 'c', long = "encrypt", conflicts_with = "plain")]
    encrypt: bool,
    #[command(flatten)]
    key_command: KeyCommand,
    /// Fail when the file does not exist instead of creating it.
    #[arg(long = "no-create")]
    no_create: bool,
}

impl Drop for SetArgs {
    fn drop(&mut self) {
        if let Some(value) = &mut self.value {
            zeroize::Zeroize::zeroize(value);
        }
    }
}

/// Sets one key; writes nothing when the key already holds the value.
pub fn run(args: &SetArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    if !edit::is_valid_key(&args.key) {
        return Err(Failure::usage(format!(
            "{:?} is not a valid key name (use letters, digits, `_`, `.` and `-`)",
            args.key
        )));
    }
    let path = &args.files.one("set")?;
    if args.no_create && !path.exists() {
        return Err(Failure::new(format!("{} does not exist", show(path)))
            .hint("create it, or leave out --no-create"));
    }
    let value = read_value(args)?;
    if value.expose_secret().contains('\0') {
        // No environment variable can hold a NUL byte, so no program could receive it.
        return Err(Failure::new(format!(
            "the value for {} holds a NUL byte, which no environment variable can carry; nothing changed",
            args.key
        )));
    }
    let keys_files = &args.files.keys_files;
    let mut locked = vec![path.clone()];
    locked.extend(keys_files.iter().cloned());
    let _locks = lock_folders(&locked)?;
    let original = read_text_if_exists(path)?.unwrap_or_else(|| Zeroizing::new(String::new()));
    let mut file = EnvFile::from_owned_text(path, original)?;
    let plain = args.plain || args.key.ends_with(edit::PLAIN_SUFFIX);
    let known = file.document().entries().iter().map(|e| e.key());
    let is_new = !known.clone().any(|k| k == args.key);
    if is_new && known.filter(|k| !edit::stays_plaintext(k)).count() > 0 {
        ui.warn(&format!(
            "{}: {} is not in the file yet; adding it (check the spelling)",
            show(path),
            args.key
        ));
    }

    let new_pair = if plain {
        None
    } else {
        edit::ensure_public_key(&mut file)
    };
    let supplied = ctx.supplied_keys(&args.key_command)?;
    let search = ctx.search(keys_files, &supplied);
    let mut cache = KeysFileCache::default();
    // A key pair made just now has nothing to decrypt yet, and its keys file may not exist.
    let fresh = new_pair.is_some() && !file.has_encrypted_values();
    let decryptor = match (plain, file.has_encrypted_values()) {
        _ if fresh => None,
        (false, _) | (true, true) => Some(file.decryptor(&search, &mut cache)?),
        (true, false) => None,
    };
    if let (false, None, Some(decryptor)) = (plain, &new_pair, &decryptor) {
        decryptor.check_writable()?;
    }
    ui.warn_loose_keys_files(cache.loose_files());
    let found = decryptor
        .as_ref()
        .and_then(|d| d.matching())
        .map(|c| c.key.clone());
    ui.warn_keys_file_problems(found.is_some(), cache.problems());
    let public = if plain {
        None
    } else {
        file.public_key().copied()
    };
    let outcome = edit::set(
        &mut file,
        &args.key,
        &value,
        public.as_ref(),
        decryptor.as_ref(),
    )?;
    if outcome == SetOutcome::Unchanged {
        ui.info(&format!(
            "{}: {} already holds that value; nothing changed",
            show(path),
            args.key
        ));
        return Ok(Exit::Success);
    }
    if let Some(pair) = &new_pair {
        let keys_path = args.files.new_key_path(path);
        store_private_key(&keys_path, path, &pair.names.private, &pair.private)?;
        ui.info(&format!(
            "{}: new key pair, {} saved to {} (never commit it)",
            show(path),
            pair.names.private,
            show(&keys_path)
        ));
    }
    crate::cmd::seal::reseal_if_key_holder(
        &mut file,
        found.as_ref(),
        ctx,
        &args.files.keys_files,
        &supplied,
        ui,
    )?;
    save_if_changed(&file)?;
    let how = if plain { "in plaintext" } else { "encrypted" };
    let what = match outcome {
        SetOutcome::Added => "added",
        _ => "updated",
    };
    ui.info(&format!("{}: {what} {} ({how})", show(path), args.key));
    Ok(Exit::Success)
}

/// The value from argv, or from stdin when absent or `-` (no echo on a terminal).
fn read_value(args: &SetArgs) -> Result<SecretString, Failure> {
    match args.value.as_deref() {
        Some(value) if value != "-" => Ok(SecretString::new(value.to_owned())),
        _ if std::io::stdin().is_terminal() => {
            let prompt = format!("value for {}: ", args.key);
            let value = rpassword::prompt_password(prompt).map_err(|e| {
                Failure::new(format!("cannot read the value from the terminal: {e}"))
            })?;
            Ok(SecretString::new(value))
        }
        _ => {
            let mut value = String::new();
            std::io::stdin()
                .read_to_string(&mut value)
                .map_err(|e| Failure::new(format!("cannot read the value from stdin: {e}")))?;
            // `echo secret | envx set KEY` sends one trailing newline that is not part of it.
            if value.ends_with('\n') {
                value.pop();
                if value.ends_with('\r') {
                    value.pop();
                }
            }
            if value.is_empty() && !args.allow_empty {
                return Err(Failure::new(format!(
                    "no value for {} arrived on stdin (it was empty or closed); nothing changed",
                    args.key
                ))
                .hint("pipe the value in, or pass --allow-empty to store an empty value"));
            }
            Ok(SecretString::new(value))
        }
    }
}
