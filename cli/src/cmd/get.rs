//! `envx get`.

use clap::Args;
use envx_core::document::{Quote, encode_value};
use envx_core::glob::Selection;
use envx_core::load::{LoadOptions, Loaded, load, load_selected};
use zeroize::Zeroizing;

use crate::args::{FileArgs, GetFormat, KeyFilter, LoadArgs};
use crate::cmd::print_stdout;
use crate::cmd::run::{loader_policy, policy_failure, warn_keys_file_problems};
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
    #[command(flatten)]
    load: LoadArgs,
    #[command(flatten)]
    keys: KeyFilter,
    /// Also set KEY=VALUE (several may follow one -e); wins over the files.
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE", num_args = 1..)]
    assignments: Vec<String>,
    /// Output format when printing several keys.
    #[arg(long, value_enum, default_value = "json")]
    format: GetFormat,
    /// Indent the JSON output. dotenvx: `-pp`.
    #[arg(long = "pretty-print", visible_alias = "pp")]
    pretty: bool,
    /// Show each value as its first N characters (default 6, at most half), the rest as `*`.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "6")]
    mask: Option<usize>,
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
    #[command(flatten)]
    key_command: KeyCommand,
}

/// Loads like `run` would and prints what the program would see.
pub fn run(args: &GetArgs, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    let policy = loader_policy(&args.allow_loader_vars)?;
    let assignments = assignments(&args.assignments, &ctx.env, args.overload)?;
    let files = args.load.files(&args.files, &ctx.env)?;
    let supplied = ctx.supplied_keys(&args.key_command)?;
    let options = LoadOptions {
        env: &ctx.env,
        search: ctx.cached_search(&args.files.keys_files, &supplied),
        overload: args.overload,
        commands: None,
    };
    // One key: only its value and what it references are decrypted.
    let wanted = args.key.as_ref().map(|k| Selection::new([k], [""; 0]));
    let mut loaded = match &wanted {
        Some(wanted) => load_selected(&files, options, wanted, false)?,
        None => load(&files, options)?,
    };
    ui.warn_loose_keys_files(&loaded.loose_keys_files);
    warn_keys_file_problems(&loaded, ui);
    // Output a shell evaluates reaches every program it starts: the policy `run` applies.
    if matches!(args.format, GetFormat::Shell | GetFormat::Eval) {
        policy.apply(&mut loaded).map_err(policy_failure)?;
    }
    if args.key.is_none() {
        args.keys
            .warn_unknown(loaded.variables.iter().map(|v| v.key.as_str()), ui);
    }
    if let Some(key) = &args.key {
        let assigned = assignments.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
        let value = match (assigned, loaded.get(key)) {
            (Some(value), _) => Zeroizing::new(value.to_owned()),
            (None, Some(var)) if var.from_env && policy.is_private_key(key) => {
                return Err(private_key_refused(key));
            }
            (None, Some(var)) => Zeroizing::new(var.value.expose_secret().to_owned()),
            (None, None) if args.all && policy.is_private_key(key) => {
                return Err(private_key_refused(key));
            }
            (None, None) if args.all => match ctx.env.get(key) {
                Some(value) => Zeroizing::new(value.clone()),
                None => return Err(missing(key, &loaded)),
            },
            (None, None) => return Err(missing(key, &loaded)),
        };
        let mut line = match args.mask {
            Some(visible) => crate::args::mask(&value, visible),
            None => value,
        };
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
    // `-e` pairs first, as dotenvx lists them when they come before -f.
    pairs.extend(assignments.iter().map(|(k, v)| (*k, *v)));
    pairs.extend(
        loaded
            .variables
            .iter()
            .filter(|v| !assignments.iter().any(|(k, _)| *k == v.key))
            .filter(|v| !(v.from_env && policy.is_private_key(&v.key)))
            .map(|v| (v.key.as_str(), v.value.expose_secret())),
    );
    let selection = args.keys.selection();
    pairs.retain(|(k, _)| selection.contains(k));
    let masked: Vec<Zeroizing<String>> = match args.mask {
        Some(visible) => pairs
            .iter()
            .map(|(_, v)| crate::args::mask(v, visible))
            .collect(),
        None => Vec::new(),
    };
    if args.mask.is_some() {
        for ((_, value), shown) in pairs.iter_mut().zip(&masked) {
            *value = shown.as_str();
        }
    }
    let out = render(&pairs, args.format, args.pretty)?;
    ctx.save_cache(ui);
    print_stdout(&out)
}

/// The `-e KEY=VALUE` pairs that apply: all with --overload, else those the environment does
/// not set.
fn assignments<'a>(
    given: &'a [String],
    env: &std::collections::HashMap<String, String>,
    overload: bool,
) -> Result<Vec<(&'a str, &'a str)>, Failure> {
    let mut out = Vec::new();
    for pair in given {
        let Some((key, value)) = pair.split_once('=') else {
            // Not echoed: a value given without its key may be a secret.
            return Err(
                Failure::usage("-e expects KEY=VALUE (an argument has no '=')")
                    .hint("several KEY=VALUE may follow one -e: the key to print goes before -e"),
            );
        };
        if overload || !env.contains_key(key) {
            out.push((key, value));
        }
    }
    Ok(out)
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
fn render(
    pairs: &[(&str, &str)],
    format: GetFormat,
    pretty: bool,
) -> Result<Zeroizing<String>, Failure> {
    let mut out = Zeroizing::new(String::new());
    match format {
        GetFormat::Json if pretty => {
            // As dotenvx indents: two spaces, `": "`, `{}` when empty.
            out.push('{');
            for (i, (key, value)) in pairs.iter().enumerate() {
                out.push_str(if i > 0 { ",\n  " } else { "\n  " });
                out.push_str(&json_string(key));
                out.push_str(": ");
                out.push_str(&json_string(value));
            }
            out.push_str(if pairs.is_empty() { "}\n" } else { "\n}\n" });
        }
        GetFormat::Colon => {
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                out.push_str(value);
            }
            out.push('\n');
        }
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
        GetFormat::Shell | GetFormat::EvalExport | GetFormat::Eval => {
            let prefix = if format != GetFormat::Eval {
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
