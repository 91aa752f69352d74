//! `envx rotate`.

use clap::Args;
use envx_core::discover::KeysFileCache;
use envx_core::envfile::EnvFile;
use envx_core::fs::{lock_folders, read_text};
use envx_core::rotate::Rotation;

use crate::args::FileArgs;
use crate::cmd::show;
use crate::context::{Context, KeyCommand};
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// Arguments of `envx rotate`.
#[derive(Args)]
pub struct RotateArgs {
    /// The env file whose key pair to replace (default `.env`), and keys files.
    #[command(flatten)]
    files: FileArgs,
    #[command(flatten)]
    key_command: KeyCommand,
}

/// Replaces the key pair and re-encrypts every value; says what to do next.
pub fn run(args: &RotateArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let path = &args.files.one("rotate")?;
    let keys_files = &args.files.keys_files;
    let mut locked = vec![path.clone()];
    locked.extend(keys_files.iter().cloned());
    let _locks = lock_folders(&locked)?;
    let text = read_text(path)?;
    let file = EnvFile::from_text(path, &text)?;
    if file.public_key().is_none() {
        return Err(
            Failure::new(format!("{} has no key pair to rotate", show(path)))
                .hint(format!("encrypt it first: envx encrypt -f {}", show(path))),
        );
    }
    let supplied = ctx.supplied_keys(&args.key_command)?;
    let mut cache = KeysFileCache::default();
    let decryptor = file.decryptor(&ctx.search(keys_files, &supplied), &mut cache)?;
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
        show(path),
        show(&keys_path)
    ));
    ui.info(&format!(
        "next: wherever deployments read {name}, set it to the new key (during the rollout \
         `new,old` works: envx uses whichever matches the file), commit {}, then remove the old key",
        show(path)
    ));
    Ok(Exit::Success)
}
