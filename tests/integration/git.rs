//! The pull-request workflow with real git: readable diffs, per-key merges, rotation, and the
//! pre-commit guard.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::{envx, get_json, set_ok, stderr_of};

/// `git` in `dir` with a scrubbed environment and a fixed identity.
fn git(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .expect("git runs")
}

fn git_ok(dir: &Path, args: &[&str]) -> String {
    let out = git(dir, args);
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A repository with envx's drivers, ignores, and one committed encrypted file.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git_ok(dir.path(), &["init", "-q", "-b", "main"]);
    envx(dir.path()).arg("git-setup").assert().success();
    envx(dir.path()).arg("gitignore").assert().success();
    for (key, value) in [
        ("API_KEY", "old-api-key"),
        ("DB_PASSWORD", "hunter2-db"),
        ("REGION", "eu-west-1"),
    ] {
        set_ok(dir.path(), ".env.production", key, value);
    }
    git_ok(dir.path(), &["add", "."]);
    git_ok(dir.path(), &["commit", "-q", "-m", "base"]);
    dir
}

#[test]
fn git_diff_shows_plaintext_through_textconv() {
    let dir = repo();
    let tracked = git_ok(dir.path(), &["ls-files"]);
    assert!(!tracked.contains(".env.keys"), "{tracked}");
    set_ok(dir.path(), ".env.production", "API_KEY", "new-api-key");
    let diff = git_ok(dir.path(), &["diff"]);
    assert!(diff.contains("-API_KEY=\"old-api-key\""), "{diff}");
    assert!(diff.contains("+API_KEY=\"new-api-key\""), "{diff}");
    assert!(
        !diff.contains("-DB_PASSWORD") && !diff.contains("+DB_PASSWORD"),
        "only the changed key changes: {diff}"
    );

    // Without the private key: stable fingerprints instead of values.
    fs::rename(dir.path().join(".env.keys"), dir.path().join("keys.bak")).unwrap();
    let out = envx(dir.path())
        .args(["textconv", ".env.production"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        !text.contains("hunter2") && text.contains("DB_PASSWORD=\"encrypted:"),
        "{text}"
    );
    let again = envx(dir.path())
        .args(["textconv", ".env.production"])
        .assert()
        .success();
    assert_eq!(
        String::from_utf8_lossy(&again.get_output().stdout),
        text,
        "fingerprints are stable"
    );
}

#[test]
fn textconv_never_runs_or_expands_anything() {
    let dir = repo();
    let marker = dir.path().join("marker");
    let payload = format!("$(touch {}) ${{DB_PASSWORD}}", marker.display());
    set_ok(dir.path(), ".env.production", "EVIL", &payload);
    let out = envx(dir.path())
        .args(["textconv", ".env.production"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        text.contains("$(touch") && text.contains("${DB_PASSWORD}"),
        "{text}"
    );
    git_ok(dir.path(), &["diff"]);
    git_ok(dir.path(), &["log", "-p"]);
    assert!(!marker.exists(), "a command ran");
}

#[test]
fn branches_adding_different_keys_merge_cleanly() {
    let dir = repo();
    git_ok(dir.path(), &["checkout", "-q", "-b", "one"]);
    set_ok(dir.path(), ".env.production", "FROM_ONE", "1");
    git_ok(dir.path(), &["commit", "-q", "-am", "one"]);
    git_ok(dir.path(), &["checkout", "-q", "main"]);
    set_ok(dir.path(), ".env.production", "FROM_MAIN", "2");
    set_ok(dir.path(), ".env.production", "REGION", "us-east-1");
    git_ok(dir.path(), &["commit", "-q", "-am", "main"]);
    git_ok(dir.path(), &["merge", "-q", "--no-edit", "one"]);
    let values = get_json(dir.path(), ".env.production");
    assert_eq!(values["FROM_ONE"], "1");
    assert_eq!(values["FROM_MAIN"], "2");
    assert_eq!(values["REGION"], "us-east-1");
    assert_eq!(values["API_KEY"], "old-api-key");
}

#[test]
fn a_key_changed_on_both_branches_is_a_conflict_named_by_key() {
    let dir = repo();
    git_ok(dir.path(), &["checkout", "-q", "-b", "one"]);
    set_ok(dir.path(), ".env.production", "API_KEY", "from-one");
    git_ok(dir.path(), &["commit", "-q", "-am", "one"]);
    git_ok(dir.path(), &["checkout", "-q", "main"]);
    set_ok(dir.path(), ".env.production", "API_KEY", "from-main");
    git_ok(dir.path(), &["commit", "-q", "-am", "main"]);
    let out = git(dir.path(), &["merge", "--no-edit", "one"]);
    assert!(!out.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr_of(&out)
    );
    assert!(said.contains("conflicting changes to API_KEY"), "{said}");
    let text = fs::read_to_string(dir.path().join(".env.production")).unwrap();
    assert!(
        text.contains("<<<<<<< ours\nAPI_KEY=") && text.contains(">>>>>>> theirs"),
        "{text}"
    );
}

#[test]
fn rotation_changes_every_value_and_the_public_key() {
    let dir = repo();
    let before = get_json(dir.path(), ".env.production");
    let out = envx(dir.path())
        .args(["rotate", "-f", ".env.production"])
        .assert()
        .success();
    assert!(stderr_of(out.get_output()).contains("DOTENV_PRIVATE_KEY_PRODUCTION"));
    let diff = git_ok(dir.path(), &["diff", "--no-textconv", "--unified=0"]);
    for key in [
        "DOTENV_PUBLIC_KEY_PRODUCTION",
        "API_KEY",
        "DB_PASSWORD",
        "REGION",
    ] {
        assert!(
            diff.contains(&format!("-{key}=")) && diff.contains(&format!("+{key}=")),
            "{key}: {diff}"
        );
    }
    let after = get_json(dir.path(), ".env.production");
    for key in ["API_KEY", "DB_PASSWORD", "REGION"] {
        assert_eq!(after[key], before[key]);
    }
    let keys = fs::read_to_string(dir.path().join(".env.keys")).unwrap();
    assert_eq!(
        keys.matches("DOTENV_PRIVATE_KEY_PRODUCTION=").count(),
        1,
        "{keys}"
    );
    assert!(
        !keys.contains(','),
        "the old key is gone after a successful rotation"
    );
}

#[test]
fn envx_diff_reports_each_kind_of_change_without_values() {
    let dir = repo();
    set_ok(dir.path(), ".env.production", "API_KEY", "changed");
    set_ok(dir.path(), ".env.production", "ADDED", "x");
    envx(dir.path())
        .args(["decrypt", "-k", "DB_PASSWORD", "-f", ".env.production"])
        .assert()
        .success();
    envx(dir.path())
        .args(["encrypt", "-k", "DB_PASSWORD", "-f", ".env.production"])
        .assert()
        .success();
    let path = dir.path().join(".env.production");
    let text = fs::read_to_string(&path).unwrap();
    let kept: String = text
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("REGION="))
        .collect();
    fs::write(&path, kept).unwrap();

    let out = envx(dir.path()).arg("diff").assert().success();
    let report = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let line = |key: &str| {
        report
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or("")
            .to_owned()
    };
    assert!(line("API_KEY").ends_with("changed"), "{report}");
    assert!(line("ADDED").ends_with("added"), "{report}");
    assert!(line("REGION").ends_with("removed"), "{report}");
    assert!(
        line("DB_PASSWORD").ends_with("re-encrypted, same value"),
        "{report}"
    );
    assert!(
        !report.contains("changed\n    ") && !report.contains("old-api-key"),
        "{report}"
    );
    let shown = envx(dir.path()).args(["diff", "--show"]).assert().success();
    let shown = String::from_utf8_lossy(&shown.get_output().stdout).into_owned();
    assert!(
        shown.contains("- old-api-key") && shown.contains("+ changed"),
        "{shown}"
    );
}

#[test]
fn the_pre_commit_hook_blocks_plaintext_and_keys_files() {
    let dir = repo();
    envx(dir.path())
        .args(["precommit", "--install"])
        .assert()
        .success();
    fs::write(
        dir.path().join(".env.staging"),
        "PUBLIC_URL_PLAIN=https://x\nPASSWORD=plain-secret\n",
    )
    .unwrap();
    git_ok(dir.path(), &["add", ".env.staging"]);
    let out = git(dir.path(), &["commit", "-m", "leak"]);
    assert!(!out.status.success(), "the commit went through");
    let err = stderr_of(&out);
    assert!(
        err.contains(".env.staging: plaintext values for PASSWORD;"),
        "{err}"
    );
    assert!(
        !err.contains("plain-secret") && !err.contains("PUBLIC_URL_PLAIN"),
        "{err}"
    );
    envx(dir.path())
        .args(["encrypt", "-f", ".env.staging"])
        .assert()
        .success();
    git_ok(dir.path(), &["add", ".env.staging"]);
    git_ok(dir.path(), &["commit", "-q", "-m", "encrypted"]);

    git_ok(dir.path(), &["add", "-f", ".env.keys"]);
    let out = git(dir.path(), &["commit", "-m", "keys"]);
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains(".env.keys: holds private keys"));

    // An existing hook is kept unless --force.
    git_ok(dir.path(), &["reset", "-q"]);
    let hook = dir.path().join(".git/hooks/pre-commit");
    fs::write(&hook, "#!/bin/sh\nexit 0\n").unwrap();
    envx(dir.path())
        .args(["precommit", "--install"])
        .assert()
        .code(1);
    assert_eq!(fs::read_to_string(&hook).unwrap(), "#!/bin/sh\nexit 0\n");
    envx(dir.path())
        .args(["precommit", "--install", "--force"])
        .assert()
        .success();
    assert!(fs::read_to_string(&hook).unwrap().contains("precommit"));
}

#[test]
fn gitignore_is_idempotent() {
    let dir = repo();
    fs::write(dir.path().join(".dockerignore"), "target").unwrap();
    envx(dir.path()).arg("gitignore").assert().success();
    let gitignore = fs::read_to_string(dir.path().join(".gitignore")).unwrap();
    let dockerignore = fs::read_to_string(dir.path().join(".dockerignore")).unwrap();
    assert!(
        gitignore.contains(".env.keys\n")
            && dockerignore.starts_with("target\n")
            && dockerignore.contains(".env.keys\n")
    );
    envx(dir.path()).arg("gitignore").assert().success();
    assert_eq!(
        fs::read_to_string(dir.path().join(".gitignore")).unwrap(),
        gitignore
    );
    assert_eq!(
        fs::read_to_string(dir.path().join(".dockerignore")).unwrap(),
        dockerignore
    );
}
