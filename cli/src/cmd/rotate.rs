//! `envx rotate`.

use std::path::PathBuf;

use clap::Args;
use envx_core::discover::KeysFileCache;
use envx_core::envfile::EnvFile;
use envx_core::fs::{lock_folders, read_text};
use envx_core::rotate::Rotation;

use crate::cmd::show;
use crate::context::{Context, KeyCommand};
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// Arguments of `envx rotate`.
#[derive(Args)]
pub struct RotateArgs {
    /// The env file whose key pair to replace.
    #[arg(
        short = 'f',
        long = "env-file",
        value_name = "FILE",
        default_value = ".env"
    )]
    file: PathBuf,
    /// Keys file to search for the current private key (repeatable).
    #[arg(long = "keys-file", visible_alias = "fk", value_name = "PATH")]
    keys_files: Vec<PathBuf>,
    #[command(flatten)]
    key_command: KeyCommand,
}

/// Replaces the key pair and re-encrypts every value; says what to do next.
pub fn run(args: &RotateArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let mut locked = vec![args.file.clone()];
    locked.extend(args.keys_files.iter().cloned());
    let _locks = lock_folders(&locked)?;
    let text = read_text(&args.file)?;
    let file = EnvFile::from_text(&args.file, &text)?;
    if file.public_key().is_none() {
        return Err(
            Failure::new(format!("{} has no key pair to rotate", show(&args.file))).hint(format!(
                "encrypt it first: envx encrypt -f {}",
                show(&args.file)
            )),
        );
    }
    let supplied = ctx.supplied_keys(&args.key_command)?;
    let mut cache = KeysFileCache::default();
    let decryptor = file.decryptor(&ctx.search(&args.keys_files, &supplied), &mut cache)?;
    let rotation = Rotation::prepare(file, &decryptor)?;
    let (count, old, new) = (
        rotation.reencrypted(),
        rotation.old_public_short(),
        rotation.new_public_short(),
    );
    let keys_path = rotation.keys_path().to_path_buf();
    let name = rotation.private_name().to_owned();
    rotation.commit()?;
    ui.info(&format!(
        "{}: rotated {old}… → {new}…, re-encrypted {count} values; new private key in {}",
        show(&args.file),
        show(&keys_path)
    ));
    ui.info(&format!(
        "next: wherever deployments read {name}, set it to the new key (during the rollout \
         `new,old` works: envx uses whichever matches the file), commit {}, then remove the old key",
        show(&args.file)
    ));
    Ok(Exit::Success)
}
