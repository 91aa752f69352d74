//! `envx run --proxy`: the child holds placeholders, and the proxy inside envx puts the real
//! values into requests to the hosts their rules name.
//!
//! The steps: read the rules (file directives, each file's seal checked against the private
//! key envx holds for it; then `--proxy-hosts`), plan what the child gets, start the proxy,
//! write the CA bundle, run the child supervised, then stop the proxy, print one line per key
//! and remove the bundle.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use envx_core::discover::{Candidate, KeySearch};
use envx_core::document::Document;
use envx_core::load::Loaded;
use envx_core::policy::is_private_key_var;
use envx_core::proxy::{Rule, parse_cli_rule, rules_in};
use zeroize::Zeroizing;

use super::RunArgs;
use crate::context::Context;
use crate::exit::Exit;
use crate::proxy::child::{self, Bundle, ChildValues, Value};
use crate::proxy::engine::{ProxyConfig, RunningProxy, Summary};
use crate::ui::{Failure, Ui};

/// Runs the child behind the proxy. `base` is the environment the child starts from and
/// `injected` what `run` would add to it without `--proxy`.
pub(crate) fn run(
    args: &RunArgs,
    ctx: &Context,
    ui: &Ui,
    loaded: &Loaded,
    mut base: HashMap<String, String>,
    injected: Vec<(String, Zeroizing<String>)>,
    supplied: &[Candidate],
) -> Result<Exit, Failure> {
    let search = ctx.search(&args.files.keys_files, supplied);
    let values = values(args, loaded, &base, injected);
    let loaded_keys: HashSet<&str> = values.iter().map(|v| v.key.as_str()).collect();
    let mut rules = file_rules(loaded, &search)?;
    // A file rule for a key this run does not load (`--only`) has nothing to do.
    rules.retain(|(key, _)| loaded_keys.contains(key.as_str()));
    for arg in &args.proxy.proxy_hosts {
        rules.push(parse_cli_rule(arg).map_err(|e| Failure::usage(format!("--proxy-hosts: {e}")))?);
    }
    // The redaction filter sees the real values: what the child holds is harmless.
    let real: HashMap<String, String> = values
        .iter()
        .map(|v| (v.key.clone(), v.value.to_string()))
        .collect();
    let names: Vec<String> = real.keys().cloned().collect();
    let redactor = args
        .redact
        .then(|| super::redactor(&names, &real, loaded, ctx, supplied));
    drop(names);
    let mut real = real;
    real.values_mut().for_each(envx_core::secret::wipe);
    drop(real);

    let planned = child::plan_values(values, &rules, &args.proxy.plain)
        .map_err(|e| Failure::new(e.to_string()))?;
    report_plan(&planned, ui);
    let ChildValues { set, vault, .. } = planned;
    let placeholder_keys: Vec<String> = vault.placeholders().map(|(k, _)| k.to_owned()).collect();

    let audit = match &args.proxy.proxy_log {
        Some(path) => Some(open_log(path)?),
        None => None,
    };
    let extra_roots_pem = match ctx.env.get("SSL_CERT_FILE").filter(|f| !f.is_empty()) {
        Some(file) => Some(std::fs::read(file).map_err(|e| {
            Failure::new(format!(
                "SSL_CERT_FILE names {file}, which cannot be read: {e}"
            ))
        })?),
        None => None,
    };
    let proxy = RunningProxy::start(ProxyConfig {
        vault,
        strict: args.proxy.proxy_strict,
        audit,
        extra_roots_pem,
        extra_upstream: None,
    })
    .map_err(|e| Failure::new(e.to_string()))?;
    let bundle = match Bundle::write(&ctx.env, proxy.ca_cert_pem()) {
        Ok(bundle) => bundle,
        Err(e) => {
            proxy.shutdown();
            return Err(Failure::new(format!(
                "cannot write the CA bundle for the child: {e}"
            )));
        }
    };

    for name in child::REMOVED {
        base.remove(*name);
    }
    for (key, mut value) in set {
        base.insert(key, std::mem::take(&mut *value));
    }
    let placeholder_refs: Vec<&str> = placeholder_keys.iter().map(String::as_str).collect();
    let url = proxy.proxy_url();
    for (key, value) in child::proxy_variables(&url, bundle.path(), &placeholder_refs) {
        base.insert(key, value);
    }
    drop(url);
    let mut command = Command::new(&args.command[0]);
    command.args(&args.command[1..]).env_clear().envs(&base);
    base.values_mut().for_each(envx_core::secret::wipe);
    drop(base);
    let program = &args.command[0];
    let exit = match redactor {
        Some(redactor) => {
            crate::spawn::run_redacted(command, redactor, |e| super::start_failure(e, program))
        }
        None => crate::spawn::run_supervised(command, |e| super::start_failure(e, program)),
    };
    let summary = proxy.shutdown();
    drop(bundle);
    report_summary(&summary, &placeholder_keys, ui);
    exit
}

/// What the run would inject, each with whether it was stored encrypted; plus the keys a file
/// sets but the environment keeps (its value wins), so that a rule applies to them too.
fn values(
    args: &RunArgs,
    loaded: &Loaded,
    base: &HashMap<String, String>,
    injected: Vec<(String, Zeroizing<String>)>,
) -> Vec<Value> {
    let from_e: HashSet<&str> = args
        .assignments
        .iter()
        .filter_map(|a| a.split_once('=').map(|(k, _)| k))
        .collect();
    let mut out: Vec<Value> = injected
        .into_iter()
        .map(|(key, value)| {
            let encrypted =
                !from_e.contains(key.as_str()) && loaded.get(&key).is_some_and(|v| v.encrypted);
            Value {
                key,
                value,
                encrypted,
            }
        })
        .collect();
    let only = envx_core::glob::Selection::new(&args.only, Vec::<String>::new());
    for var in &loaded.variables {
        if is_private_key_var(&var.key) || !only.contains(&var.key) {
            continue;
        }
        if out.iter().any(|v| v.key == var.key) {
            continue;
        }
        if let Some(value) = base.get(&var.key) {
            out.push(Value {
                key: var.key.clone(),
                value: Zeroizing::new(value.clone()),
                encrypted: false,
            });
        }
    }
    out
}

/// The rules of every loaded file, in file order. A file with rules must carry a seal that
/// verifies with the private key envx holds for it (and is not older than the one in git's
/// HEAD): else anyone with the public key could send a value to a host of their choosing.
fn file_rules(loaded: &Loaded, search: &KeySearch<'_>) -> Result<Vec<(String, Rule)>, Failure> {
    let mut out = Vec::new();
    let mut cache = envx_core::discover::KeysFileCache::default();
    for file in &loaded.files {
        let shown = crate::cmd::show(&file.path);
        let text = envx_core::fs::read_text(&file.path)?;
        let rules =
            rules_in(&Document::parse(&text)).map_err(|e| Failure::new(format!("{shown}: {e}")))?;
        if rules.is_empty() {
            continue;
        }
        check_seal(&file.path, &text, search, &mut cache)?;
        out.extend(rules.into_iter().map(|r| (r.key, r.rule)));
    }
    Ok(out)
}

/// The seal gate for a file's rules.
fn check_seal(
    path: &Path,
    text: &str,
    search: &KeySearch<'_>,
    cache: &mut envx_core::discover::KeysFileCache,
) -> Result<(), Failure> {
    let shown = crate::cmd::show(path);
    let refuse = |why: String| {
        Failure::new(format!(
            "{shown}: its envx-proxy rules are not used: {why}; the command was not started"
        ))
        .hint(format!(
            "a holder of the private key reviews the rules and runs `envx seal -f {shown}`; --proxy-hosts KEY=HOST sets a rule for one run"
        ))
    };
    let file = envx_core::envfile::EnvFile::from_text(path, text)?;
    if file.public_key().is_none() {
        return Err(refuse(
            "the file has no public key, so no seal can approve them".to_owned(),
        ));
    }
    let decryptor = file.decryptor(search, cache)?;
    let Some(found) = decryptor.matching() else {
        return Err(refuse(
            "envx holds no private key for it, so it cannot check who sealed them".to_owned(),
        ));
    };
    let signer = *found.key.public_key();
    let base = match crate::cmd::verify::in_git_work_tree(path) {
        true => crate::cmd::verify::base_version(path, "HEAD").unwrap_or(None),
        false => None,
    };
    crate::cmd::verify::judge(text, Some(&signer), base.as_ref()).map_err(refuse)?;
    Ok(())
}

/// Opens `--proxy-log` for appending, creating it 0600; an existing log others can read is
/// refused.
fn open_log(path: &PathBuf) -> Result<std::fs::File, Failure> {
    let shown = crate::cmd::show(path);
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = options
        .open(path)
        .map_err(|e| Failure::new(format!("--proxy-log {shown}: {e}")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = file
            .metadata()
            .map_err(|e| Failure::new(format!("--proxy-log {shown}: {e}")))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Failure::new(format!(
                "--proxy-log {shown}: readable by others (mode {:o}); `chmod 600` it or name a new file",
                mode & 0o777
            )));
        }
    }
    Ok(file)
}

/// One line on what the child gets (names only).
fn report_plan(planned: &ChildValues, ui: &Ui) {
    let placeholders: Vec<&str> = planned.vault.placeholders().map(|(k, _)| k).collect();
    ui.info(&format!(
        "proxy: placeholders for {}; withheld: {}",
        list(&placeholders),
        list(&planned.withheld)
    ));
    for key in &planned.holds_withheld {
        ui.warn(&format!(
            "{key} is withheld: its value holds a withheld secret (a reference?); --plain {key} gives it as it is"
        ));
    }
    for key in &planned.holds_ruled {
        ui.info(&format!(
            "proxy: {key} holds a ruled secret, which the child gets as its placeholder there"
        ));
    }
}

/// One line per placeholder key at exit: substitutions and the hosts they went to, refusals.
fn report_summary(summary: &Summary, keys: &[String], ui: &Ui) {
    for key in keys {
        let found = summary.keys.iter().find(|k| &k.key == key);
        let (substitutions, refused, hosts) = match found {
            Some(k) => (k.substitutions, k.refused, k.hosts.join(", ")),
            None => (0, 0, String::new()),
        };
        let noun = if substitutions == 1 {
            "substitution"
        } else {
            "substitutions"
        };
        let to = if hosts.is_empty() {
            String::new()
        } else {
            format!(" to {hosts}")
        };
        ui.info(&format!(
            "proxy: {key}: {substitutions} {noun}{to}; {refused} refused"
        ));
    }
}

fn list<S: AsRef<str>>(names: &[S]) -> String {
    if names.is_empty() {
        return "none".to_owned();
    }
    names
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ")
}
