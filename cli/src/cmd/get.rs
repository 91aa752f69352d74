//! `envx get`.

use clap::Args;
use envx_core::document::{Quote, encode_value};
use envx_core::glob::Selection;
use envx_core::load::{LoadOptions, Loaded, load, load_selected};
use zeroize::Zeroizing;

use crate::args::{FileArgs, GetFormat};
use crate::cmd::print_stdout;
use crate::context::{Context, KeyCommand};
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// Arguments of `envx get`.
#[derive(Args)]
pub struct GetArgs {
    /// The key to print; leave it out to print every key.
    key: Option<String>,
    #[command(flatten)]
    files: FileArgs,
    /// Output format when printing several keys.
    #[arg(long, value_enum, default_value = "json")]
    format: GetFormat,
    /// Include the whole environment, not only the files' keys.
    #[arg(short, long)]
    all: bool,
    /// File values win over the environment (and later files over earlier ones).
    #[arg(short, long)]
    overload: bool,
    #[command(flatten)]
    key_command: KeyCommand,
}

/// Loads like `run` would and prints what the program would see.
pub fn run(args: &GetArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let supplied = ctx.supplied_keys(&args.key_command)?;
    let options = LoadOptions {
        env: &ctx.env,
        search: ctx.cached_search(&args.files.keys_files, &supplied),
        overload: args.overload,
        commands: None,
    };
    // One key: only its value and what it references are decrypted.
    let wanted = args.key.as_ref().map(|k| Selection::new([k], [""; 0]));
    let loaded = match &wanted {
        Some(wanted) => load_selected(&args.files.files(), options, wanted, false)?,
        None => load(&args.files.files(), options)?,
    };
    ui.warn_loose_keys_files(&loaded.loose_keys_files);
    if let Some(key) = &args.key {
        let value = match loaded.get(key) {
            Some(var) => Zeroizing::new(var.value.expose_secret().to_owned()),
            None if args.all => match ctx.env.get(key) {
                Some(value) => Zeroizing::new(value.clone()),
                None => return Err(missing(key, &loaded)),
            },
            None => return Err(missing(key, &loaded)),
        };
        let mut line = value;
        line.push('\n');
        ctx.save_cache(ui);
        return print_stdout(&line);
    }
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if args.all {
        let mut env: Vec<(&String, &String)> = ctx
            .env
            .iter()
            .filter(|(k, _)| loaded.get(k).is_none())
            .collect();
        env.sort();
        pairs.extend(env.into_iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    pairs.extend(
        loaded
            .variables
            .iter()
            .map(|v| (v.key.as_str(), v.value.expose_secret())),
    );
    let out = render(&pairs, args.format)?;
    ctx.save_cache(ui);
    print_stdout(&out)
}

fn missing(key: &str, loaded: &Loaded) -> Failure {
    let files: Vec<String> = loaded
        .files
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    Failure::new(format!("{key} is not defined in {}", files.join(", ")))
        .hint("list the keys with `envx ls`")
}

/// Renders key/value pairs in `format`.
fn render(pairs: &[(&str, &str)], format: GetFormat) -> Result<Zeroizing<String>, Failure> {
    let mut out = Zeroizing::new(String::new());
    match format {
        GetFormat::Json => {
            // Hand-built so keys stay in file order (a JSON map would sort them).
            out.push('{');
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json_string(key));
                out.push(':');
                out.push_str(&json_string(value));
            }
            out.push_str("}\n");
        }
        GetFormat::Shell | GetFormat::Eval => {
            let prefix = if format == GetFormat::Shell {
                "export "
            } else {
                ""
            };
            for (key, value) in pairs {
                out.push_str(prefix);
                out.push_str(key);
                out.push_str("='");
                out.push_str(&value.replace('\'', r"'\''"));
                out.push_str("'\n");
            }
        }
        GetFormat::Dotenv => {
            for (key, value) in pairs {
                let quote = if value.contains('$') {
                    Quote::Single
                } else {
                    Quote::Double
                };
                let raw = encode_value(value, quote).ok_or_else(|| {
                    Failure::new(format!(
                        "the value of {key} cannot be written as a .env line"
                    ))
                })?;
                out.push_str(key);
                out.push('=');
                out.push_str(&raw);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}
