//! Shared helpers: a hermetic `envx` command, fixture copies, and file snapshots.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The fixtures folder of the repository.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// `PATH` with the folder of the envx binary under test first: git's drivers and the
/// pre-commit hook call `envx` by name.
pub fn path_with_envx() -> std::ffi::OsString {
    let bin = Path::new(env!("CARGO_BIN_EXE_envx"))
        .parent()
        .expect("the binary is in a folder")
        .to_path_buf();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&rest)))
        .expect("PATH can be joined")
}

/// `envx` run in `dir` with an environment holding only PATH (with envx on it), HOME (an
/// empty folder) and LANG: no private key, no NO_COLOR, nothing from the developer's shell.
pub fn envx(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("envx").expect("the envx binary is built");
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", path_with_envx())
        .env("HOME", dir)
        .env("LANG", "C.UTF-8");
    cmd
}

/// A temporary folder with a copy of `fixtures/dotenvx/<case>` in it.
/// `envx set KEY VALUE -f FILE` in `dir`, which must succeed; the outcome, to inspect further.
pub fn set_ok(dir: &Path, file: &str, key: &str, value: &str) -> assert_cmd::assert::Assert {
    envx(dir)
        .args(["set", key, value, "-f", file])
        .assert()
        .success()
}

pub fn case_dir(case: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("dotenvx").join(case), dir.path());
    dir
}

/// Copies the files of `from` (not recursive) into `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Every file below `dir` with its bytes, to prove a failed command changed nothing.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                out.insert(entry.path(), fs::read(entry.path()).unwrap_or_default());
            }
        }
    }
    out
}

/// The JSON `envx get` prints, as a map.
pub fn get_json(dir: &Path, file: &str) -> serde_json::Map<String, serde_json::Value> {
    let out = envx(dir).args(["get", "-f", file]).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    match serde_json::from_str(&text).unwrap() {
        serde_json::Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// The cases of `fixtures/dotenvx`, with their `case.json`.
pub fn cases() -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for entry in fs::read_dir(fixtures().join("dotenvx")).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.path().join("case.json");
        if meta.exists() {
            let json = serde_json::from_str(&fs::read_to_string(meta).unwrap()).unwrap();
            out.push((entry.file_name().to_string_lossy().into_owned(), json));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 9, "fixture cases are missing: {}", out.len());
    out
}

/// Reads a JSON file as a map.
pub fn read_json_map(path: &Path) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap() {
        serde_json::Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// The stderr of a finished command, as text.
pub fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `git` in `dir`, with a scrubbed environment, a fixed identity, and `envx` first on PATH (for
/// git's drivers). Panics, naming the need, when git cannot run.
pub fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", path_with_envx())
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .unwrap_or_else(|e| panic!("this test needs the `git` command on PATH: {e}"))
}

/// [`git`] that must succeed; its standard output.
pub fn git_ok(dir: &Path, args: &[&str]) -> String {
    let out = git(dir, args);
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
