//! `envx run`: start a program with its secrets, and nothing more.
//!
//! The child gets the parent's environment (or a small allowlist with `--clean-env`), plus the
//! decrypted values, minus every private key. Any value that cannot be decrypted stops the
//! run before the child starts.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use clap::Args;
use envx_core::discover::Candidate;
use envx_core::glob::Selection;
use envx_core::load::{LoadOptions, Loaded, load, load_selected};
use envx_core::policy::{CLEAN_ENV_ALLOWLIST, is_loader_var, is_private_key_var};
use zeroize::Zeroizing;

use crate::args::FileArgs;
use crate::context::{Context, KeyCommand};
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// Arguments of `envx run`.
#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    files: FileArgs,
    /// Also set KEY=VALUE (repeatable); wins over the files. Note that argv is visible to
    /// other local users: prefer files for secrets.
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    assignments: Vec<String>,
    /// File values win over the environment, and later files over earlier ones.
    #[arg(short, long)]
    overload: bool,
    /// Inject only these keys from the files (names or globs; comma-separated or repeated).
    #[arg(long, value_delimiter = ',', value_name = "KEYS")]
    only: Vec<String>,
    /// Start the child from an empty environment plus PATH, HOME, USER, LANG, TERM, TMPDIR and
    /// a few more (see the README), and --pass names.
    #[arg(long)]
    clean_env: bool,
    /// With --clean-env: also pass this variable from the parent (repeatable).
    #[arg(long = "pass", value_name = "NAME", requires = "clean_env")]
    pass: Vec<String>,
    /// Allow the files to set variables that change how programs load (LD_PRELOAD,
    /// NODE_OPTIONS, PATH, ...).
    #[arg(long)]
    allow_loader_vars: bool,
    /// Run `$(...)` command substitutions found in values (off: they are an error).
    #[arg(long)]
    allow_command_substitution: bool,
    /// Skip this file if it does not exist (repeatable); other missing files are an error.
    #[arg(long = "allow-missing", value_name = "FILE")]
    allow_missing: Vec<PathBuf>,
    #[command(flatten)]
    key_command: KeyCommand,
    /// Pipe the child's stdout and stderr through a filter that replaces every injected secret
    /// (and its base64, percent and JSON encodings, and private keys) with [REDACTED:KEY].
    /// Values shorter than 6 bytes are left alone.
    #[arg(long)]
    redact: bool,
    /// Start nothing unless every file carries a seal that verifies with the private key used
    /// to decrypt it (also ENVX_REQUIRE_SEAL=1, for a deployment's environment).
    #[arg(long)]
    require_seal: bool,
    /// The command to run, after `--`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "COMMAND"
    )]
    command: Vec<OsString>,
}

/// Loads, checks and starts the child.
pub fn run(args: RunArgs, ctx: Context, ui: &Ui) -> Result<Exit, Failure> {
    let supplied = ctx.supplied_keys(&args.key_command)?;
    let files: Vec<PathBuf> = args
        .files
        .files()
        .into_iter()
        .filter(|f| f.exists() || !args.allow_missing.iter().any(|m| m == f))
        .collect();
    let require_seal = args.require_seal
        || matches!(
            ctx.env.get("ENVX_REQUIRE_SEAL").map(String::as_str),
            Some("1" | "true")
        );
    let search = ctx.search(&args.files.keys_files, &supplied);
    crate::cmd::verify::check_before_run(&files, require_seal, &search, ui)?;
    let base = base_environment(&args, &ctx);
    let mut runner = |command: &str, vars: &HashMap<String, String>| substitute(command, vars);
    let options = LoadOptions {
        env: &base,
        search: ctx.cached_search(&args.files.keys_files, &supplied),
        overload: args.overload,
        commands: if args.allow_command_substitution {
            Some(&mut runner)
        } else {
            None
        },
    };
    // With --only, only the selected values are read, and a reference inside one of them
    // resolves only to another selected key or to the environment: an unselected secret
    // cannot ride into the child inside a selected value.
    let only = Selection::new(&args.only, Vec::<String>::new());
    let loaded = match args.only.is_empty() {
        true => load(&files, options)?,
        false => load_selected(&files, options, &only, true)?,
    };
    ui.warn_loose_keys_files(&loaded.loose_keys_files);
    let injected = injected(&args, &loaded, &base)?;
    report(&loaded, &injected, ui);
    ctx.save_cache(ui);

    let redactor = args
        .redact
        .then(|| redactor(&injected, &loaded, &ctx, &supplied));
    // The values move into the map without a copy, and are wiped once `Command` holds its own
    // copies (which std frees without wiping; under --redact envx drops them once the child
    // has started).
    let mut child_env = base;
    for (key, mut value) in injected {
        child_env.insert(key, std::mem::take(&mut *value));
    }
    let mut command = Command::new(&args.command[0]);
    command
        .args(&args.command[1..])
        .env_clear()
        .envs(&child_env);
    child_env.values_mut().for_each(envx_core::secret::wipe);
    drop(child_env);
    match redactor {
        Some(redactor) => {
            crate::spawn::run_redacted(command, redactor, |e| start_failure(e, &args.command[0]))
        }
        None => exec(command, &args.command[0]),
    }
}

/// The filter for `--redact`: every injected value, and every private key envx knows of (from
/// the environment, `--key-command` and the keys files it used).
fn redactor(
    injected: &[(String, Zeroizing<String>)],
    loaded: &Loaded,
    ctx: &Context,
    supplied: &[Candidate],
) -> envx_core::redact::Redactor {
    let mut secrets: Vec<(String, Zeroizing<String>)> = injected
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (name, value) in ctx.env.iter().filter(|(k, _)| is_private_key_var(k)) {
        for key in value.split(',') {
            secrets.push((name.clone(), Zeroizing::new(key.trim().to_owned())));
        }
    }
    let used = loaded.files.iter().filter_map(|f| f.private_key.as_ref());
    for key in supplied.iter().map(|c| &c.key).chain(used) {
        secrets.push(("DOTENV_PRIVATE_KEY".to_owned(), key.expose_hex()));
    }
    let pairs: Vec<(&str, &str)> = secrets
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    envx_core::redact::Redactor::new(&pairs)
}

/// What the child starts from: the parent's environment or the clean allowlist, never with a
/// private key in it.
fn base_environment(args: &RunArgs, ctx: &Context) -> HashMap<String, String> {
    ctx.env
        .iter()
        .filter(|(name, _)| !is_private_key_var(name))
        .filter(|(name, _)| {
            !args.clean_env
                || CLEAN_ENV_ALLOWLIST.contains(&name.as_str())
                || args.pass.iter().any(|p| p == *name)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The variables to add to `base`: file values (filtered by `--only`, minus those the
/// environment keeps), then `-e` pairs. Refuses private keys from files and loader variables.
fn injected(
    args: &RunArgs,
    loaded: &Loaded,
    base: &HashMap<String, String>,
) -> Result<Vec<(String, Zeroizing<String>)>, Failure> {
    let only = Selection::new(&args.only, Vec::<String>::new());
    let mut out: Vec<(String, Zeroizing<String>)> = Vec::new();
    for var in &loaded.variables {
        if is_private_key_var(&var.key) || !only.contains(&var.key) {
            continue;
        }
        if var.from_env && base.contains_key(&var.key) {
            continue;
        }
        check_loader_var(args, &var.key, || {
            format!("{}:{}", loaded.files[var.file].path.display(), var.line)
        })?;
        out.push((
            var.key.clone(),
            Zeroizing::new(var.value.expose_secret().to_owned()),
        ));
    }
    for pair in &args.assignments {
        let Some((key, value)) = pair.split_once('=') else {
            // Not echoed: a value given without its key may be a secret.
            return Err(Failure::usage(
                "-e expects KEY=VALUE (an argument has no '=')",
            ));
        };
        if is_private_key_var(key) {
            return Err(Failure::usage(format!(
                "-e {key}=…: private keys are never passed to the child"
            )));
        }
        if !args.overload && base.contains_key(key) {
            continue;
        }
        check_loader_var(args, key, || "-e".to_owned())?;
        out.retain(|(k, _)| k != key);
        out.push((key.to_owned(), Zeroizing::new(value.to_owned())));
    }
    Ok(out)
}

fn check_loader_var(args: &RunArgs, key: &str, place: impl Fn() -> String) -> Result<(), Failure> {
    if is_loader_var(key) && !args.allow_loader_vars {
        return Err(Failure::new(format!(
            "{}: {key} changes how programs are loaded or started; envx does not set it from a file",
            place()
        ))
        .hint("pass --allow-loader-vars if this file is meant to set it"));
    }
    Ok(())
}

fn report(loaded: &Loaded, injected: &[(String, Zeroizing<String>)], ui: &Ui) {
    let files: Vec<String> = loaded
        .files
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    let count = injected.len();
    let noun = if count == 1 { "variable" } else { "variables" };
    ui.info(&format!(
        "injected {count} {noun} from {}",
        files.join(", ")
    ));
    if ui.verbose() {
        let names: Vec<&str> = injected.iter().map(|(k, _)| k.as_str()).collect();
        ui.detail(&format!("variables: {}", names.join(", ")));
    }
}

/// Runs one `$(...)` command (only with `--allow-command-substitution`).
fn substitute(command: &str, vars: &HashMap<String, String>) -> Result<String, String> {
    let output = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .env_clear()
        .envs(vars.iter().filter(|(k, _)| !is_private_key_var(k)))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not start /bin/sh: {e}"))?;
    if !output.status.success() {
        return Err(format!("the command exited with {}", output.status));
    }
    String::from_utf8(output.stdout).map_err(|_| "the command's output is not UTF-8".to_owned())
}

/// Replaces this process with the child (Unix), so signals and the exit status are the child's
/// own. Returns only when the command could not be started.
#[cfg(unix)]
fn exec(mut command: Command, program: &OsString) -> Result<Exit, Failure> {
    use std::os::unix::process::CommandExt as _;
    let error = command.exec();
    Err(start_failure(&error, program))
}

#[cfg(not(unix))]
fn exec(mut command: Command, program: &OsString) -> Result<Exit, Failure> {
    let status = command.status().map_err(|e| start_failure(&e, program))?;
    Ok(Exit::Child(status.code().unwrap_or(1).clamp(0, 255) as u8))
}

fn start_failure(error: &std::io::Error, program: &OsString) -> Failure {
    let name = program.to_string_lossy();
    match error.kind() {
        std::io::ErrorKind::NotFound => {
            Failure::new(format!("command not found: {name}")).with_exit(Exit::NotFound)
        }
        std::io::ErrorKind::PermissionDenied => {
            Failure::new(format!("cannot execute {name}: permission denied"))
                .with_exit(Exit::CannotExecute)
        }
        _ => Failure::new(format!("cannot start {name}: {error}")).with_exit(Exit::CannotExecute),
    }
}
