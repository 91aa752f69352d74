//! `envx decrypt`.

use clap::Args;
use envx_core::discover::KeysFileCache;
use envx_core::document::{Document, encode_value};
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
    /// With --stdout: show each value as its first N characters (default 6, at most half),
    /// the rest as `*`.
    #[arg(
        long,
        value_name = "N",
        num_args = 0..=1,
        default_missing_value = "6",
        requires = "stdout"
    )]
    mask: Option<usize>,
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
    let mut found_a_key = false;
    for path in files {
        let mut file = EnvFile::open(&path)?;
        args.keys
            .warn_unknown(file.document().entries().iter().map(|e| e.key()), ui);
        let decryptor = file.decryptor(&search, &mut cache)?;
        let changed = edit::decrypt(&mut file, &decryptor, &selection)?;
        let key = decryptor.matching().map(|c| c.key.clone());
        found_a_key |= key.is_some();
        planned.push((file, changed, key));
    }
    ui.warn_loose_keys_files(cache.loose_files());
    ui.warn_keys_file_problems(found_a_key, cache.problems());
    ctx.save_cache(ui);
    if args.stdout {
        let mut out = Zeroizing::new(String::new());
        for (file, _, _) in &planned {
            let text = Zeroizing::new(file.document().to_string());
            match args.mask {
                Some(visible) => out.push_str(&masked(&text, visible)),
                None => out.push_str(&text),
            }
        }
        return print_stdout(&out);
    }
    for (file, _, key) in &mut planned {
        crate::cmd::seal::reseal_if_key_holder(
            file,
            key.as_ref(),
            ctx,
            &args.files.keys_files,
            &supplied,
            ui,
        )?;
    }
    for (file, changed, _) in &planned {
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

/// `--mask`: the file with every value masked, every other byte kept.
fn masked(text: &str, visible: usize) -> Zeroizing<String> {
    let mut doc = Document::parse(text);
    for index in 0..doc.entries().len() {
        let entry = &doc.entries()[index];
        let value = Zeroizing::new(entry.value());
        let shown = crate::args::mask(&value, visible);
        // Stars alone always encode; a value is never left unmasked.
        let raw = encode_value(&shown, entry.quote())
            .unwrap_or_else(|| "*".repeat(shown.chars().count()));
        doc.set_raw(index, &raw);
    }
    Zeroizing::new(doc.to_string())
}
