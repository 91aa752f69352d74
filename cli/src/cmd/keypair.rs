//! `envx keypair`.

use std::path::Path;

use clap::Args;
use envx_core::discover::KeysFileCache;
use envx_core::envfile::EnvFile;
use envx_core::keys::{PrivateKey, PublicKey};
use envx_core::names::KeyNames;
use zeroize::Zeroizing;

use crate::args::{FileArgs, KeypairFormat};
use crate::cmd::{print_stdout, show};
use crate::context::{Context, KeyCommand};
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// Arguments of `envx keypair`.
#[derive(Args)]
pub struct KeypairArgs {
    /// Print only this one (e.g. DOTENV_PUBLIC_KEY_PRODUCTION), as bare hex.
    key: Option<String>,
    /// The env file whose keys to print (default `.env`), and keys files.
    #[command(flatten)]
    files: FileArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: KeypairFormat,
    /// Indent the JSON output. dotenvx: `-pp`.
    #[arg(long = "pretty-print", visible_alias = "pp")]
    pretty: bool,
    /// Print a fresh key pair (named after FILE) instead; nothing is stored.
    #[arg(long)]
    new: bool,
    #[command(flatten)]
    key_command: KeyCommand,
}

/// Prints the public key, and the private key when one is available (saying so on stderr).
pub fn run(args: &KeypairArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let path = &args.files.one("keypair")?;
    let (names, public, private, provider) = if args.new {
        let key = PrivateKey::generate();
        let public = *key.public_key();
        (KeyNames::for_file(path), public, Some(key), None)
    } else {
        let file = EnvFile::open(path)?;
        let Some(public) = file.public_key().copied() else {
            return Err(Failure::new(format!("{} has no public key", show(path)))
                .hint(format!("create one with `envx encrypt -f {}`", show(path))));
        };
        let supplied = ctx.supplied_keys(&args.key_command)?;
        let search = ctx.search(&args.files.keys_files, &supplied);
        let decryptor = file.decryptor(&search, &mut KeysFileCache::default())?;
        let matching = decryptor.matching();
        let private = matching.map(|c| c.key.clone());
        // As dotenvx names it: `.env.keys`, not `./.env.keys`.
        let provider = matching.map(|c| {
            let source = c.source.to_string();
            source
                .strip_prefix("./")
                .map_or(source.clone(), str::to_owned)
        });
        (file.names().clone(), public, private, provider)
    };
    if let Some(key) = &args.key {
        return print_one(key, &names, &public, private.as_ref(), path, ui);
    }
    if private.is_some() {
        ui.warn(&format!(
            "the output holds the PRIVATE key {}: anyone who sees it can read every value of {}",
            names.private,
            show(path)
        ));
    } else if !args.new {
        ui.info(&format!("no private key for {} was found", show(path)));
    }
    let out = render(
        &names,
        &public,
        private.as_ref(),
        provider.as_deref(),
        args.format,
        args.pretty,
    );
    print_stdout(&out)
}

/// `keypair NAME`: the one key as bare hex.
fn print_one(
    key: &str,
    names: &KeyNames,
    public: &PublicKey,
    private: Option<&PrivateKey>,
    path: &Path,
    ui: &Ui,
) -> Result<Exit, Failure> {
    let mut hex = if key == names.public {
        Zeroizing::new(public.to_hex())
    } else if key == names.private {
        let private = private
            .ok_or_else(|| Failure::new(format!("no private key for {} was found", show(path))))?;
        ui.warn(&format!(
            "the output is the PRIVATE key {key}: anyone who sees it can read every value of {}",
            show(path)
        ));
        private.expose_hex()
    } else {
        return Err(
            Failure::new(format!("{key} is not a key name of {}", show(path)))
                .hint(format!("use {} or {}", names.public, names.private)),
        );
    };
    hex.push('\n');
    print_stdout(&hex)
}

/// The keys in `format`. Built by hand so no copy of the private key outlives the output.
fn render(
    names: &KeyNames,
    public: &PublicKey,
    private: Option<&PrivateKey>,
    provider: Option<&str>,
    format: KeypairFormat,
    pretty: bool,
) -> Zeroizing<String> {
    let private_hex = private.map(PrivateKey::expose_hex);
    let private_text = private_hex.as_ref().map(|h| h.as_str());
    let mut out = Zeroizing::new(String::new());
    match format {
        KeypairFormat::Json => {
            let json = |value: Option<&str>| {
                value.map_or_else(
                    || "null".to_owned(),
                    |v| serde_json::Value::from(v).to_string(),
                )
            };
            let fields = [
                (
                    names.public.as_str(),
                    Zeroizing::new(json(Some(&public.to_hex()))),
                ),
                (names.private.as_str(), Zeroizing::new(json(private_text))),
                ("provider", Zeroizing::new(json(provider))),
            ];
            let (open, separator, colon, close) = if pretty {
                ("{\n  ", ",\n  ", ": ", "\n}\n")
            } else {
                ("{", ",", ":", "}\n")
            };
            out.push_str(open);
            for (i, (name, value)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(separator);
                }
                out.push_str(&json(Some(name)));
                out.push_str(colon);
                out.push_str(value);
            }
            out.push_str(close);
        }
        KeypairFormat::Shell | KeypairFormat::Colon => {
            let sign = if format == KeypairFormat::Shell {
                '='
            } else {
                ':'
            };
            out.push_str(&names.public);
            out.push(sign);
            out.push_str(&public.to_hex());
            out.push(' ');
            out.push_str(&names.private);
            out.push(sign);
            out.push_str(private_text.unwrap_or_default());
            out.push('\n');
        }
    }
    out
}
