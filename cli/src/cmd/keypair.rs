//! `envx keypair`.

use std::path::PathBuf;

use clap::Args;
use envx_core::discover::KeysFileCache;
use envx_core::envfile::EnvFile;
use envx_core::keys::{PrivateKey, PublicKey};
use envx_core::names::KeyNames;
use zeroize::Zeroizing;

use crate::args::TableFormat;
use crate::cmd::{print_stdout, show};
use crate::context::Context;
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// Arguments of `envx keypair`.
#[derive(Args)]
pub struct KeypairArgs {
    /// The env file whose keys to print.
    #[arg(
        short = 'f',
        long = "env-file",
        value_name = "FILE",
        default_value = ".env"
    )]
    file: PathBuf,
    /// Keys file to search (repeatable).
    #[arg(long = "keys-file", visible_alias = "fk", value_name = "PATH")]
    keys_files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: TableFormat,
    /// Print a fresh key pair (named after FILE) instead; nothing is stored.
    #[arg(long)]
    new: bool,
}

/// Prints the public key, and the private key when one is available (saying so on stderr).
pub fn run(args: &KeypairArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let (names, public, private, provider) = if args.new {
        let key = PrivateKey::generate();
        let public = *key.public_key();
        (KeyNames::for_file(&args.file), public, Some(key), None)
    } else {
        let file = EnvFile::open(&args.file)?;
        let Some(public) = file.public_key().copied() else {
            return Err(
                Failure::new(format!("{} has no public key", show(&args.file))).hint(format!(
                    "create one with `envx encrypt -f {}`",
                    show(&args.file)
                )),
            );
        };
        let search = ctx.search(&args.keys_files, &[]);
        let decryptor = file.decryptor(&search, &mut KeysFileCache::default())?;
        let matching = decryptor.matching();
        let private = matching.map(|c| c.key.clone());
        let provider = matching.map(|c| c.source.to_string());
        (file.names().clone(), public, private, provider)
    };
    if private.is_some() {
        ui.warn(&format!(
            "the output holds the PRIVATE key {}: anyone who sees it can read every value of {}",
            names.private,
            show(&args.file)
        ));
    } else if !args.new {
        ui.info(&format!(
            "no private key for {} was found",
            show(&args.file)
        ));
    }
    let out = render(
        &names,
        &public,
        private.as_ref(),
        provider.as_deref(),
        args.format,
    );
    print_stdout(&out)
}

fn render(
    names: &KeyNames,
    public: &PublicKey,
    private: Option<&PrivateKey>,
    provider: Option<&str>,
    format: TableFormat,
) -> Zeroizing<String> {
    let private_hex = private.map(PrivateKey::expose_hex);
    let mut out = Zeroizing::new(String::new());
    match format {
        TableFormat::Json => {
            let mut object = serde_json::Map::new();
            object.insert(names.public.clone(), public.to_hex().into());
            object.insert(
                names.private.clone(),
                private_hex
                    .as_ref()
                    .map_or(serde_json::Value::Null, |h| h.as_str().into()),
            );
            if let Some(provider) = provider {
                object.insert("provider".to_owned(), provider.into());
            }
            out.push_str(&serde_json::Value::Object(object).to_string());
            out.push('\n');
        }
        TableFormat::Shell => {
            out.push_str(&format!("{}={}\n", names.public, public.to_hex()));
            if let Some(hex) = &private_hex {
                out.push_str(&format!("{}={}\n", names.private, hex.as_str()));
            }
        }
    }
    out
}
