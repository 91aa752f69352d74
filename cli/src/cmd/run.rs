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
use envx_core::policy::{CLEAN_ENV_ALLOWLIST, Policy, PolicyError, is_private_key_var};
use zeroize::Zeroizing;

use crate::args::{FileArgs, LoadArgs, mask, warn_unmatched};
use crate::context::{Context, KeyCommand};
use crate::exit::Exit;
use crate::proxy_engine::ProxyEngine;
use crate::ui::{Failure, Ui};

pub(crate) mod proxied;

/// Arguments of `envx run`.
#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    files: FileArgs,
    #[command(flatten)]
    load: LoadArgs,
    /// Also set KEY=VALUE (several may follow one -e); wins over the files. Note that argv is
    /// visible to other local users: prefer files for secrets.
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE", num_args = 1..)]
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
    /// Allow the files to set these variables, which change how programs load code, where
    /// their traffic goes or what they trust (e.g. HTTPS_PROXY,NODE_OPTIONS; names only, see
    /// the README's loader classes).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    allow_loader_vars: Vec<String>,
    /// Run `$(...)` command substitutions found in values (off: they are an error).
    #[arg(long)]
    allow_command_substitution: bool,
    /// Skip this file if it does not exist (repeatable); other missing files are an error.
    #[arg(long = "allow-missing", value_name = "FILE")]
    allow_missing: Vec<PathBuf>,
    #[command(flatten)]
    key_command: KeyCommand,
    /// Pipe the child's stdout and stderr through a filter that replaces every injected secret
    /// (and its base64, hex, percent and JSON encodings, and private keys) with [REDACTED:KEY],
    /// across both streams.
    /// Values shorter than 6 bytes are left alone.
    #[arg(long)]
    redact: bool,
    /// Start nothing unless every file carries a seal that verifies with the private key used
    /// to decrypt it (also ENVX_REQUIRE_SEAL=1, for a deployment's environment).
    #[arg(long)]
    require_seal: bool,
    /// Give the child masked values (the first N characters, default 6, at most half; the
    /// rest `*`), to see what a program would get without handing it secrets.
    #[arg(
        long,
        value_name = "N",
        num_args = 0..=1,
        default_missing_value = "6",
        conflicts_with = "proxy"
    )]
    mask: Option<usize>,
    #[command(flatten)]
    proxy: ProxyArgs,
    /// The command to run, after `--` (options before it are envx's; an unknown one is an
    /// error, not the command).
    #[arg(
        trailing_var_arg = true,
        required_unless_present = "check",
        value_name = "COMMAND"
    )]
    command: Vec<OsString>,
}

/// The flags of `envx run --proxy` (see the README's "Secrets the agent never sees").
#[derive(Args)]
pub struct ProxyArgs {
    /// Give the child placeholders for the keys with a proxy rule and withhold the other
    /// encrypted keys; a proxy inside envx puts the real values into requests to the hosts
    /// each rule names.
    #[arg(long)]
    pub proxy: bool,
    /// A rule for this run: KEY's placeholder becomes its value in request headers to these
    /// hosts (repeatable; a name, *.name or IPv4 address, optional :port).
    #[arg(long = "proxy-hosts", value_name = "KEY=HOST,...", requires = "proxy")]
    pub proxy_hosts: Vec<String>,
    /// Give the child the real value of these encrypted keys that have no rule (comma-separated
    /// or repeated).
    #[arg(long, value_delimiter = ',', value_name = "KEYS", requires = "proxy")]
    pub plain: Vec<String>,
    /// Answer 403 to a request that carries a placeholder to a host or in a place its rule does
    /// not allow (without it the placeholder goes out as it is).
    #[arg(long = "proxy-strict", requires = "proxy")]
    pub proxy_strict: bool,
    /// Append one JSON line per request that carried a placeholder to FILE (created 0600; key
    /// names, host, method, path, decision, status; never a value).
    #[arg(long = "proxy-log", value_name = "FILE", requires = "proxy")]
    pub proxy_log: Option<PathBuf>,
    /// Probe the clients installed here (curl, python, node, git, go) through the proxy
    /// against a built-in echo server, and print which work; runs no command.
    #[arg(long, requires = "proxy")]
    pub check: bool,
}

/// Loads, checks and starts the child. `engine` is the proxy, in `envx-proxy` only: `envx`
/// hands `--proxy` over to that executable before reading anything ([`hand_over_to_proxy`]).
pub fn run(
    args: RunArgs,
    ctx: Context,
    ui: &Ui,
    engine: Option<&ProxyEngine>,
) -> Result<Exit, Failure> {
    let engine = match (args.proxy.proxy, engine) {
        (false, _) => None,
        (true, Some(engine)) => Some(engine),
        (true, None) => return Err(hand_over_to_proxy()),
    };
    if let (true, Some(engine)) = (args.proxy.check, engine) {
        return (engine.check)(&ctx.env, ui);
    }
    let policy = loader_policy(&args.allow_loader_vars)?;
    let supplied = ctx.supplied_keys(&args.key_command)?;
    let files: Vec<PathBuf> = args
        .load
        .files(&args.files, &ctx.env)?
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
    warn_keys_file_problems(&loaded, ui);
    warn_unmatched(
        args.only.iter(),
        loaded.variables.iter().map(|v| v.key.as_str()),
        "--only",
        ui,
    );
    let mut injected = injected(&args, &loaded, &base, &policy)?;
    if let Some(visible) = args.mask {
        for (_, value) in &mut injected {
            *value = mask(value, visible);
        }
    }
    report(&loaded, &injected, ui);
    ctx.save_cache(ui);
    if let Some(engine) = engine {
        return (engine.run)(&args, &ctx, ui, &loaded, base, injected, &supplied);
    }

    let names: Vec<String> = injected.iter().map(|(k, _)| k.clone()).collect();
    // The values move into the map without a copy, and are wiped once `Command` holds its own
    // copies (which std frees without wiping; under --redact envx drops them once the child
    // has started).
    let mut child_env = base;
    for (key, mut value) in injected {
        child_env.insert(key, std::mem::take(&mut *value));
    }
    let redactor = args
        .redact
        .then(|| redactor(&names, &child_env, &loaded, &ctx, &supplied));
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

/// The filter for `--redact`: every value envx put into the child's environment (the names in
/// `injected`), read back from that environment whatever route it took (a file, an expansion,
/// `-e`), and every private key envx knows of (from the environment, `--key-command` and the
/// keys files it used).
fn redactor(
    injected: &[String],
    child_env: &HashMap<String, String>,
    loaded: &Loaded,
    ctx: &Context,
    supplied: &[Candidate],
) -> envx_core::redact::Redactor {
    let mut secrets: Vec<(String, Zeroizing<String>)> = injected
        .iter()
        .filter_map(|k| Some((k.clone(), Zeroizing::new(child_env.get(k)?.clone()))))
        .collect();
    for (name, value) in ctx.env.iter().filter(|(k, _)| is_private_key_var(k)) {
        if name == envx_core::access::identity::IDENTITY_VAR {
            // Identity text: each line that is not a comment (an age identity, a line of an
            // ssh key).
            for line in value.lines().map(str::trim) {
                if !line.is_empty() && !line.starts_with('#') && !line.starts_with("-----") {
                    secrets.push((name.clone(), Zeroizing::new(line.to_owned())));
                }
            }
            continue;
        }
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
    policy: &Policy,
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
        policy
            .check(&loaded.files[var.file].path, var.line, &var.key)
            .map_err(policy_failure)?;
        out.push((
            var.key.clone(),
            Zeroizing::new(var.value.expose_secret().to_owned()),
        ));
    }
    for pair in &args.assignments {
        let Some((key, value)) = pair.split_once('=') else {
            // Not echoed: a value given without its key may be a secret.
            return Err(
                Failure::usage("-e expects KEY=VALUE (an argument has no '=')")
                    .hint("several KEY=VALUE may follow one -e: put `--` before the command"),
            );
        };
        if is_private_key_var(key) {
            return Err(Failure::usage(format!(
                "-e {key}=…: private keys are never passed to the child"
            )));
        }
        if !args.overload && base.contains_key(key) {
            continue;
        }
        if let Some(class) = policy.refusal(key) {
            return Err(Failure::new(format!(
                "-e {key}=…: {key} changes how programs load code, where their traffic goes or what they trust ({}); allow it by name",
                class.name
            ))
            .hint(format!("pass --allow-loader-vars {key} if you mean to set it")));
        }
        out.retain(|(k, _)| k != key);
        out.push((key.to_owned(), Zeroizing::new(value.to_owned())));
    }
    Ok(out)
}

/// Warns about the keys files a successful load did not need but found broken (a malformed
/// key, an unreadable file): the key came from elsewhere, so they did not stop the command.
pub(crate) fn warn_keys_file_problems(loaded: &Loaded, ui: &Ui) {
    let found = loaded.files.iter().any(|f| f.key_source.is_some());
    ui.warn_keys_file_problems(found, &loaded.keys_file_problems);
}

/// The loader policy with the names the user allowed.
pub(crate) fn loader_policy(allowed: &[String]) -> Result<Policy, Failure> {
    Policy::new()
        .allow_loader_vars(allowed)
        .map_err(|e| Failure::usage(format!("--allow-loader-vars: {e}")))
}

/// The message for a variable the policy refuses, with the flag that allows it.
pub(crate) fn policy_failure(error: PolicyError) -> Failure {
    let hint = match &error {
        PolicyError::LoaderVariable { key, .. } => {
            format!("pass --allow-loader-vars {key} if this file is meant to set it")
        }
        _ => "see the README's loader classes".to_owned(),
    };
    Failure::new(error.to_string()).hint(hint)
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

/// `envx run --proxy`: replaces this process with `envx-proxy` from the folder of the running
/// executable, with the same arguments and environment (the private keys it needs are there,
/// as they are for envx). Returns only when that fails.
fn hand_over_to_proxy() -> Failure {
    use std::os::unix::process::CommandExt as _;

    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return Failure::new(format!("--proxy: cannot find the running executable: {e}")),
    };
    let proxy = exe.with_file_name(crate::proxy_engine::EXECUTABLE);
    let mut argv = std::env::args_os();
    let mut command = Command::new(&proxy);
    if let Some(name) = argv.next() {
        command.arg0(name);
    }
    let error = command.args(argv).exec();
    Failure::new(format!(
        "--proxy runs in {}, which cannot be started: {error}",
        proxy.display()
    ))
    .hint("envx-proxy is built and installed with envx (`cargo install --path cli` installs both)")
}
