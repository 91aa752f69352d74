//! `envx get`.

use clap::Args;
use envx_core::document::{Quote, encode_value};
use envx_core::glob::Selection;
use envx_core::load::{LoadOptions, Loaded, load, load_selected};
use zeroize::Zeroizing;

use crate::args::{FileArgs, GetFormat};
use crate::cmd::print_stdout;
use crate::cmd::run::{loader_policy, policy_failure, warn_keys_file_problems};
use crate::context::Context;
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
    /// With --format shell or eval: let the files set these loader variables (names only, as
    /// for `envx run`).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    allow_loader_vars: Vec<String>,
}

/// Loads like `run` would and prints what the program would see.
pub fn run(args: &GetArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let policy = loader_policy(&args.allow_loader_vars)?;
    let options = LoadOptions {
        env: &ctx.env,
        search: ctx.cached_search(&args.files.keys_files, &[]),
        overload: args.overload,
        commands: None,
    };
    // One key: only its value and what it references are decrypted.
    let wanted = args.key.as_ref().map(|k| Selection::new([k], [""; 0]));
    let mut loaded = match &wanted {
        Some(wanted) => load_selected(&args.files.files(), options, wanted, false)?,
        None => load(&args.files.files(), options)?,
    };
    ui.warn_loose_keys_files(&loaded.loose_keys_files);
    warn_keys_file_problems(&loaded, &ctx.search(&args.files.keys_files, &[]), ui);
    // Output a shell evaluates reaches every program it starts: the policy `run` applies.
    if matches!(args.format, GetFormat::Shell | GetFormat::Eval) {
        policy.apply(&mut loaded).map_err(policy_failure)?;
    }
    if let Some(key) = &args.key {
        let value = match loaded.get(key) {
            Some(var) if var.from_env && policy.is_private_key(key) => {
                return Err(private_key_refused(key));
            }
            Some(var) => Zeroizing::new(var.value.expose_secret().to_owned()),
            None if args.all && policy.is_private_key(key) => {
                return Err(private_key_refused(key));
            }
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
            .filter(|(k, _)| loaded.get(k).is_none() && !policy.is_private_key(k))
            .collect();
        env.sort();
        pairs.extend(env.into_iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    pairs.extend(
        loaded
            .variables
            .iter()
            .filter(|v| !(v.from_env && policy.is_private_key(&v.key)))
            .map(|v| (v.key.as_str(), v.value.expose_secret())),
    );
    let out = render(&pairs, args.format)?;
    ctx.save_cache(ui);
    print_stdout(&out)
}

fn private_key_refused(key: &str) -> Failure {
    Failure::new(format!(
        "{key}: get never prints a private key from the environment"
    ))
    .hint("`envx keypair` prints a file's key pair")
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
                if !is_shell_name(key) {
                    return Err(Failure::new(format!(
                        "{} is not a valid shell variable name; --format {} cannot print it safely",
                        crate::ui::escape(key),
                        if prefix.is_empty() { "eval" } else { "shell" }
                    ))
                    .hint("use --format json or dotenv, or rename the key"));
                }
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

/// A name a POSIX shell accepts in an assignment: a letter or `_`, then letters, digits and
/// `_` (ASCII only). Anything else could turn `eval` into running a command.
fn is_shell_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}
