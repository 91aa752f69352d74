//! `envx del`: removes a key from env files (dotenvx's `del`).

use clap::Args;
use envx_core::envfile::EnvFile;
use envx_core::fs::lock_folders;
use envx_core::store::save_if_changed;

use crate::args::FileArgs;
use crate::cmd::show;
use crate::context::Context;
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// Arguments of `envx del`.
#[derive(Args)]
pub struct DelArgs {
    /// The key to remove (every occurrence, with all the lines of its value).
    key: String,
    #[command(flatten)]
    files: FileArgs,
}

/// Removes the key from every file, all files read before any is written. A file without the
/// key is left untouched, with a warning naming the key.
pub fn run(args: &DelArgs, _ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let files = args.files.files();
    let _locks = lock_folders(&files)?;
    let mut planned = Vec::new();
    for path in files {
        let mut file = EnvFile::open(&path)?;
        let doc = file.document_mut();
        let found: Vec<usize> = (0..doc.entries().len())
            .filter(|&i| doc.entries()[i].key() == args.key)
            .collect();
        for &index in found.iter().rev() {
            doc.remove(index);
        }
        planned.push((file, found.len()));
    }
    for (file, removed) in &planned {
        let path = show(file.path());
        if *removed == 0 {
            ui.warn(&format!(
                "{path}: {} is not in the file; nothing removed",
                args.key
            ));
            continue;
        }
        save_if_changed(file)?;
        ui.info(&format!("{path}: removed {}", args.key));
    }
    Ok(Exit::Success)
}
