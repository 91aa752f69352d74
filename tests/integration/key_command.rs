//! `--key-command` supplies the private key to every command that needs one: each test first
//! shows the command fails (or cannot decrypt) without a key on disk, then succeeds with the
//! key printed by a "secret manager" (`cat` of a file outside any keys-file search).

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::common::{case_dir, envx, stderr_of};

const KAT_PRIVATE: &str = "64294efce9d019865bd2ed212fac9dfaacfb744fa5fd5c39453ea0f20871948f";
const GREETING: &str = "Hello, envx! ✓";

/// The kat-fixed-key case without its `.env.keys`; the key sits in `vault/key`, where only
/// the key command reads it.
fn keyless() -> (tempfile::TempDir, String) {
    let dir = case_dir("kat-fixed-key");
    fs::remove_file(dir.path().join(".env.keys")).unwrap();
    let vault = dir.path().join("vault");
    fs::create_dir(&vault).unwrap();
    fs::write(vault.join("key"), format!("{KAT_PRIVATE}\n")).unwrap();
    (dir, "cat vault/key".to_owned())
}

fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn get_reads_the_key_from_key_command() {
    let (dir, cmd) = keyless();
    envx(dir.path())
        .args(["get", "GREETING", "-f", ".env.production"])
        .assert()
        .code(1);
    let out = envx(dir.path())
        .args([
            "get",
            "GREETING",
            "-f",
            ".env.production",
            "--key-command",
            &cmd,
        ])
        .assert()
        .success();
    assert_eq!(stdout_of(out.get_output()), format!("{GREETING}\n"));
    // A failing command is an error, with its own stderr passed through.
    let out = envx(dir.path())
        .args(["get", "-f", ".env.production", "--key-command"])
        .arg("echo vault locked >&2; exit 4")
        .assert()
        .code(1);
    let err = stderr_of(out.get_output());
    assert!(
        err.contains("vault locked") && err.contains("--key-command failed"),
        "{err}"
    );
}

#[test]
fn decrypt_reads_the_key_from_key_command() {
    let (dir, cmd) = keyless();
    envx(dir.path())
        .args(["decrypt", "--stdout", "-f", ".env.production"])
        .assert()
        .code(1);
    envx(dir.path())
        .args(["decrypt", "-f", ".env.production", "--key-command", &cmd])
        .assert()
        .success();
    let text = fs::read_to_string(dir.path().join(".env.production")).unwrap();
    assert!(text.contains(GREETING), "{text}");
}

#[test]
fn rotate_reads_the_key_from_key_command() {
    let (dir, cmd) = keyless();
    let before = fs::read_to_string(dir.path().join(".env.production")).unwrap();
    envx(dir.path())
        .args(["rotate", "-f", ".env.production"])
        .assert()
        .code(1);
    assert_eq!(
        fs::read_to_string(dir.path().join(".env.production")).unwrap(),
        before
    );
    envx(dir.path())
        .args(["rotate", "-f", ".env.production", "--key-command", &cmd])
        .assert()
        .success();
    // The new key went to .env.keys; the values decrypt with it.
    let out = envx(dir.path())
        .args(["get", "GREETING", "-f", ".env.production"])
        .assert()
        .success();
    assert_eq!(stdout_of(out.get_output()), format!("{GREETING}\n"));
}

#[test]
fn textconv_reads_the_key_from_key_command_and_survives_its_failure() {
    let (dir, cmd) = keyless();
    let out = envx(dir.path())
        .args(["textconv", ".env.production"])
        .assert()
        .success();
    assert!(!stdout_of(out.get_output()).contains(GREETING));
    let out = envx(dir.path())
        .args(["textconv", ".env.production", "--key-command", &cmd])
        .assert()
        .success();
    assert!(stdout_of(out.get_output()).contains(GREETING));
    // A diff driver must not break `git diff`: a failing command warns and shows fingerprints.
    let out = envx(dir.path())
        .args(["textconv", ".env.production", "--key-command", "exit 1"])
        .assert()
        .success();
    let output = out.get_output();
    assert!(stderr_of(output).contains("--key-command failed"));
    assert!(stdout_of(output).contains("GREETING=[encrypted] \"encrypted:"));
}

#[test]
fn diff_reads_the_key_from_key_command() {
    let (dir, cmd) = keyless();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", stderr_of(&out));
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", ".env.production"]);
    git(&["commit", "-q", "-m", "base"]);
    // The same value, encrypted again by someone holding only the public key.
    envx(dir.path())
        .args(["set", "GREETING", GREETING, "-f", ".env.production"])
        .assert()
        .success();
    let line_of = |output: &std::process::Output| {
        stdout_of(output)
            .lines()
            .find(|l| l.trim_start().starts_with("GREETING"))
            .unwrap_or_default()
            .to_owned()
    };
    let out = envx(dir.path()).arg("diff").assert().success();
    assert!(line_of(out.get_output()).ends_with("changed"));
    let out = envx(dir.path())
        .args(["diff", "--key-command", &cmd])
        .assert()
        .success();
    assert!(
        line_of(out.get_output()).ends_with("re-encrypted, same value"),
        "{}",
        stdout_of(out.get_output())
    );
}

#[test]
fn key_command_is_offered_by_every_command_that_needs_a_private_key() {
    for command in [
        "run", "get", "decrypt", "diff", "rotate", "textconv", "edit",
    ] {
        let out = envx(Path::new("."))
            .args([command, "--help"])
            .assert()
            .success();
        assert!(
            stdout_of(out.get_output()).contains("--key-command <CMD>"),
            "{command}"
        );
    }
}
