//! `envx ls`: an inventory of env files, for people and for agents. It never prints a value.

use std::path::{Path, PathBuf};

use clap::Args;
use envx_core::crypto::is_encrypted;
use envx_core::discover::KeysFileCache;
use envx_core::envfile::EnvFile;
use envx_core::policy::files::is_env_file;
use serde_json::{Value, json};

use crate::args::{KeysFileArgs, TableFormat};
use crate::cmd::print_stdout;
use crate::context::Context;
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// Arguments of `envx ls`.
#[derive(Args)]
pub struct LsArgs {
    /// The folder to search (default: the working directory).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Output format (`shell` is plain text).
    #[arg(long, value_enum, default_value = "shell")]
    format: TableFormat,
    #[command(flatten)]
    keys_files: KeysFileArgs,
}

/// Folders never searched: other tools' trees, large and never holding the project's files.
const SKIPPED_DIRS: [&str; 4] = [".git", "node_modules", "target", ".venv"];

/// Lists every env file below `dir`.
pub fn run(args: &LsArgs, ctx: &Context, _ui: &Ui) -> Result<Exit, Failure> {
    let mut paths = Vec::new();
    walk(&args.dir, &mut paths)
        .map_err(|e| Failure::new(format!("{}: {e}", args.dir.display())))?;
    paths.sort();
    let search = ctx.search(&args.keys_files, &[]);
    let mut cache = KeysFileCache::default();
    let mut files = Vec::new();
    for path in paths {
        let shown = path.strip_prefix(&args.dir).unwrap_or(&path).to_path_buf();
        files.push(describe(&path, &shown, &search, &mut cache));
    }
    let out = match args.format {
        TableFormat::Json => format!("{}\n", json!({ "files": files })),
        TableFormat::Shell => text(&files),
    };
    print_stdout(&out)
}

fn describe(
    path: &Path,
    shown: &Path,
    search: &envx_core::discover::KeySearch<'_>,
    cache: &mut KeysFileCache,
) -> Value {
    let file = match EnvFile::open(path) {
        Ok(file) => file,
        Err(e) => return json!({ "path": shown.display().to_string(), "error": e.to_string() }),
    };
    let keys: Vec<Value> = file
        .document()
        .entries()
        .iter()
        .map(
            |e| json!({ "name": e.key(), "line": e.line(), "encrypted": is_encrypted(&e.value()) }),
        )
        .collect();
    let private = match file.public_key() {
        None => Value::Null,
        Some(_) => match file.decryptor(search, cache) {
            Ok(d) => {
                // Broken keys files met on the way (a malformed key, an unreadable file).
                let problems: Vec<String> =
                    d.ring().problems().iter().map(|p| p.to_string()).collect();
                let mut private = match d.source() {
                    Some(source) => json!({ "available": true, "source": source.to_string() }),
                    None => json!({ "available": false, "searched": d.ring().searched() }),
                };
                if !problems.is_empty() {
                    private["keys_file_problems"] = json!(problems);
                }
                private
            }
            Err(e) => json!({ "available": false, "error": e.to_string() }),
        },
    };
    json!({
        "path": shown.display().to_string(),
        "public_key": file.public_key().map(|k| k.to_hex()),
        "public_key_name": file.names().public,
        "private_key_name": file.names().private,
        "private_key": private,
        "seal": crate::cmd::seal::state_label(path),
        "keys": keys,
    })
}

fn text(files: &[Value]) -> String {
    let mut out = String::new();
    for file in files {
        let path = file["path"].as_str().unwrap_or_default();
        if let Some(error) = file["error"].as_str() {
            out.push_str(&format!("{path}  (unreadable: {error})\n"));
            continue;
        }
        let public = match file["public_key"].as_str() {
            Some(hex) => format!("public key {}…", hex.get(..6).unwrap_or(hex)),
            None => "no public key".to_owned(),
        };
        let private = match &file["private_key"] {
            Value::Null => String::new(),
            p if p["available"] == true => {
                format!(", private key from {}", p["source"].as_str().unwrap_or("?"))
            }
            _ => ", private key not found".to_owned(),
        };
        out.push_str(&format!("{path}  ({public}{private})\n"));
        for problem in file["private_key"]["keys_file_problems"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let problem = crate::ui::escape(problem.as_str().unwrap_or_default());
            out.push_str(&format!("  keys file problem: {problem}\n"));
        }
        for key in file["keys"].as_array().into_iter().flatten() {
            let state = if key["encrypted"] == true {
                "encrypted"
            } else {
                "plaintext"
            };
            out.push_str(&format!(
                "  {:<32} {state}\n",
                key["name"].as_str().unwrap_or_default()
            ));
        }
    }
    out
}

/// Collects env files below `dir` (values and templates by the shared rule,
/// `envx_core::policy::files`; never keys files). Symbolic links to folders are not followed.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_ref()) {
                walk(&entry.path(), out)?;
            }
        } else if is_env_file(Path::new(name.as_ref())) {
            out.push(entry.path());
        }
    }
    Ok(())
}
