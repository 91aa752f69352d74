//! `envx rotate`.

use clap::Args;
use envx_core::access;
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

/// Replaces the key pair and re-encrypts every value; says what to do next. When the
/// environment's key is wrapped to teammates (`envx-access/`), the new key is wrapped to the
/// same approved recipients in the same all-or-nothing change.
pub fn run(args: &RotateArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let path = &args.files.one("rotate")?;
    let keys_files = &args.files.keys_files;
    let names = envx_core::names::KeyNames::for_file(path);
    let access_paths = access::locate(path, &names.private);
    let shared = access_paths.recipients.exists();
    let mut locked = vec![path.clone()];
    if shared && let Some(folder) = access_paths.recipients.parent() {
        locked.push(folder.to_path_buf());
    }
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
    if shared {
        return rotate_shared(file, &decryptor, ctx, ui);
    }
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

/// `rotate` for an environment with team access: the new key is wrapped to the recipients.
fn rotate_shared(
    file: EnvFile,
    decryptor: &envx_core::envfile::Decryptor,
    ctx: &Context,
    ui: &Ui,
) -> Result<Exit, Failure> {
    let shown = show(file.path());
    let private_name = file.names().private.clone();
    let options = access::Options {
        accept_recipients: false,
        callbacks: ctx.identities_callbacks(),
    };
    let plan = access::rotate(file, decryptor, &options).map_err(|e| match e {
        access::AccessError::Refused(_) => crate::cmd::access::failure(e).hint(
            "rotate wraps the new key only to approved recipients: review the list and approve it \
             with `envx access sync` (or `envx access grant`) first",
        ),
        other => crate::cmd::access::failure(other),
    })?;
    plan.commit()?;
    for warning in &plan.warnings {
        ui.warn(warning);
    }
    if let Some((old, new, count)) = &plan.rotated {
        ui.info(&format!(
            "{shown}: rotated {old}… → {new}…, re-encrypted {count} values; the new key is wrapped to {}",
            plan.names.join(", ")
        ));
    }
    if let Some(keys) = &plan.keys_file {
        ui.info(&format!("new private key also in {}", show(keys)));
    }
    ui.info(&format!(
        "next: commit {shown}, {} and {}; deployments that read {private_name} from their own secret store need the new key (`envx access export -f {shown}`)",
        show(&plan.paths.wrapped),
        show(&plan.paths.recipients)
    ));
    Ok(Exit::Success)
}
