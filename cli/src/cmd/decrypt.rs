//! `envx decrypt`.

use clap::Args;
use envx_core::discover::KeysFileCache;
use envx_core::edit;
use envx_core::envfile::EnvFile;
use envx_core::fs::lock_folders;
use envx_core::store::save_if_changed;
use zeroize::Zeroizing;

use crate::args::{FileArgs, KeyFilter};
use crate::cmd::{print_stdout, show};
use crate::context::{Context, KeyCommand};
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// Arguments of `envx decrypt`.
#[derive(Args)]
pub struct DecryptArgs {
    #[command(flatten)]
    files: FileArgs,
    #[command(flatten)]
    keys: KeyFilter,
    /// Print the decrypted files instead of writing them.
    #[arg(long)]
    stdout: bool,
    #[command(flatten)]
    key_command: KeyCommand,
}

/// Decrypts every file in memory; writes only when every value of every file decrypted.
pub fn run(args: &DecryptArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let selection = args.keys.selection();
    let supplied = ctx.supplied_keys(&args.key_command)?;
    let search = ctx.cached_search(&args.files.keys_files, &supplied);
    let mut cache = KeysFileCache::default();
    let files = args.files.files();
    let _locks = if args.stdout {
        Vec::new()
    } else {
        lock_folders(&files)?
    };
    let mut planned = Vec::new();
    for path in files {
        let mut file = EnvFile::open(&path)?;
        let decryptor = file.decryptor(&search, &mut cache)?;
        let changed = edit::decrypt(&mut file, &decryptor, &selection)?;
        planned.push((file, changed));
    }
    ui.warn_loose_keys_files(cache.loose_files());
    ctx.save_cache(ui);
    if args.stdout {
        let mut out = Zeroizing::new(String::new());
        for (file, _) in &planned {
            out.push_str(&file.document().to_string());
        }
        return print_stdout(&out);
    }
    for (file, _) in &mut planned {
        crate::cmd::seal::reseal_if_key_holder(file, ctx, &args.files.keys_files, ui)?;
    }
    for (file, changed) in &planned {
        save_if_changed(file)?;
        let path = show(file.path());
        let count = changed.len();
        let values = if count == 1 { "value" } else { "values" };
        if count == 0 {
            ui.info(&format!("{path}: nothing to decrypt"));
        } else {
            ui.info(&format!(
                "{path}: decrypted {count} {values}; the file now holds plaintext secrets, do not commit it"
            ));
            ui.detail(&format!("{path}: {}", changed.join(", ")));
        }
    }
    Ok(Exit::Success)
}
