//! The pull-request workflow with real git: readable diffs, per-key merges, rotation, and the
//! pre-commit guard.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::{envx, get_json, git, git_ok, set_ok, stderr_of};

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
    assert!(
        diff.contains("\n-API_KEY=[encrypted] \"old-api-key\"\n"),
        "{diff}"
    );
    assert!(
        diff.contains("\n+API_KEY=[encrypted] \"new-api-key\"\n"),
        "{diff}"
    );
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
        !text.contains("hunter2") && text.contains("DB_PASSWORD=[encrypted] \"encrypted:"),
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

/// What a command printed on stdout.
fn stdout_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

/// The line of an `envx diff` report about `key`.
fn report_line<'a>(report: &'a str, key: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{key} ")))
        .unwrap_or_else(|| panic!("no line for {key}: {report}"))
}

/// Issue 11, point 8: `envx decrypt` on every value, or `encrypt` back, is a changed line per
/// key in `git diff` (through the textconv driver) and a "now in plaintext" / "now encrypted"
/// line in `envx diff`.
#[test]
fn r11_a_value_going_to_plaintext_or_back_is_a_visible_change() {
    let dir = repo();
    envx(dir.path())
        .args(["decrypt", "-f", ".env.production"])
        .assert()
        .success();
    let diff = git_ok(dir.path(), &["diff"]);
    for (key, value) in [
        ("API_KEY", "old-api-key"),
        ("DB_PASSWORD", "hunter2-db"),
        ("REGION", "eu-west-1"),
    ] {
        assert!(
            diff.contains(&format!("\n-{key}=[encrypted] \"{value}\"\n"))
                && diff.contains(&format!("\n+{key}=[PLAINTEXT] \"{value}\"\n")),
            "{key}: {diff}"
        );
    }
    assert!(
        !diff.contains("-DOTENV_PUBLIC_KEY") && !diff.contains("+DOTENV_PUBLIC_KEY"),
        "{diff}"
    );
    let report = stdout_of(&envx(dir.path()).arg("diff").assert().success());
    for key in ["API_KEY", "DB_PASSWORD", "REGION"] {
        assert!(
            report_line(&report, key).ends_with(" now in plaintext, same value"),
            "{report}"
        );
    }

    // Committed in plaintext, then encrypted again: the way back shows too.
    git_ok(dir.path(), &["commit", "-q", "-am", "plaintext"]);
    set_ok(dir.path(), ".env.production", "REGION", "us-east-1");
    envx(dir.path())
        .args(["encrypt", "-f", ".env.production"])
        .assert()
        .success();
    let diff = git_ok(dir.path(), &["diff"]);
    assert!(
        diff.contains("\n-API_KEY=[PLAINTEXT] \"old-api-key\"\n")
            && diff.contains("\n+API_KEY=[encrypted] \"old-api-key\"\n"),
        "{diff}"
    );
    let report = stdout_of(&envx(dir.path()).arg("diff").assert().success());
    assert!(
        report_line(&report, "API_KEY").ends_with(" now encrypted, same value"),
        "{report}"
    );
    assert!(
        report_line(&report, "REGION").ends_with(" now encrypted, value changed"),
        "{report}"
    );
}

/// The state marker is envx's, not the file's: a plaintext line written to look like the
/// driver's output of an encrypted value still shows as PLAINTEXT, and as a changed line.
#[test]
fn r11_a_file_cannot_fake_the_encrypted_marker() {
    let dir = repo();
    let path = dir.path().join(".env.production");
    let text = fs::read_to_string(&path).unwrap();
    let faked: String = text
        .split_inclusive('\n')
        .map(|l| {
            if l.starts_with("API_KEY=") {
                "API_KEY=[encrypted] \"old-api-key\"  # encrypted\n"
            } else {
                l
            }
        })
        .collect();
    fs::write(&path, faked).unwrap();
    let diff = git_ok(dir.path(), &["diff"]);
    assert!(
        diff.contains("\n-API_KEY=[encrypted] \"old-api-key\"\n")
            && diff.contains("\n+API_KEY=[PLAINTEXT] [encrypted] \"old-api-key\"  # encrypted\n"),
        "{diff}"
    );
    let report = stdout_of(&envx(dir.path()).arg("diff").assert().success());
    assert!(
        report_line(&report, "API_KEY").ends_with(" now in plaintext, value changed"),
        "{report}"
    );
}

/// Issue 11, point 8: a public key line added or changed is reported, and so is a ciphertext
/// copied to another key or into another file, with both places named.
#[test]
fn r11_envx_diff_reports_public_keys_and_copied_ciphertexts() {
    let dir = repo();
    set_ok(dir.path(), ".env.staging", "STAGING_ONLY", "s");
    git_ok(dir.path(), &["add", ".env.staging"]);
    git_ok(dir.path(), &["commit", "-q", "-m", "staging"]);
    let production = dir.path().join(".env.production");
    let staging = dir.path().join(".env.staging");
    let value_of = |text: &str, key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key}"))
            .to_owned()
    };
    let prod_text = fs::read_to_string(&production).unwrap();
    let api_line = prod_text
        .lines()
        .position(|l| l.starts_with("API_KEY="))
        .unwrap()
        + 1;
    let ciphertext = value_of(&prod_text, "API_KEY");
    let foreign = value_of(
        &fs::read_to_string(&staging).unwrap(),
        "DOTENV_PUBLIC_KEY_STAGING",
    );

    // A copy under another name in the same file, a copy into another file, and a second
    // public key appended.
    let mut text = prod_text.clone();
    text.push_str(&format!("API_KEY_COPY={ciphertext}\n"));
    text.push_str(&format!("DOTENV_PUBLIC_KEY_PRODUCTION={foreign}\n"));
    fs::write(&production, &text).unwrap();
    let copy_line = text.lines().count() - 1;
    let mut text = fs::read_to_string(&staging).unwrap();
    text.push_str(&format!("STOLEN={ciphertext}\n"));
    fs::write(&staging, &text).unwrap();
    let stolen_line = text.lines().count();

    let diff = git_ok(dir.path(), &["diff", "--", ".env.production"]);
    assert!(
        diff.contains("\n+API_KEY_COPY=[encrypted, same ciphertext as API_KEY] "),
        "{diff}"
    );
    let report = stdout_of(&envx(dir.path()).arg("diff").assert().success());
    let public = report_line(&report, "DOTENV_PUBLIC_KEY_PRODUCTION");
    assert!(
        public.contains("public key changed") && public.ends_with("declared 2 times"),
        "{report}"
    );
    let copy = report_line(&report, "API_KEY_COPY");
    assert!(
        copy.contains(&format!("same ciphertext as API_KEY (line {api_line})"))
            && copy.contains(&format!(
                "same ciphertext as STOLEN in .env.staging (line {stolen_line})"
            )),
        "{report}"
    );
    let stolen = report_line(&report, "STOLEN");
    assert!(
        stolen.contains(&format!(
            "same ciphertext as API_KEY in .env.production (line {api_line})"
        )) && stolen.contains(&format!(
            "same ciphertext as API_KEY_COPY in .env.production (line {copy_line})"
        )),
        "{report}"
    );

    // Only the copy into the other file, compared alone: the origin is still found.
    git_ok(dir.path(), &["checkout", "-q", "--", ".env.production"]);
    let report = stdout_of(
        &envx(dir.path())
            .args(["diff", "-f", ".env.staging"])
            .assert()
            .success(),
    );
    assert!(
        report_line(&report, "STOLEN").ends_with(&format!(
            "added, same ciphertext as API_KEY in .env.production (line {api_line})"
        )),
        "{report}"
    );

    // A second declaration before the real one: the value that wins is unchanged, but the
    // line is reported.
    git_ok(dir.path(), &["checkout", "-q", "--", ".env.staging"]);
    fs::write(
        &production,
        format!("DOTENV_PUBLIC_KEY_PRODUCTION={foreign}\n{prod_text}"),
    )
    .unwrap();
    let report = stdout_of(&envx(dir.path()).arg("diff").assert().success());
    assert!(
        report_line(&report, "DOTENV_PUBLIC_KEY_PRODUCTION")
            .ends_with(" public key line added, declared 2 times"),
        "{report}"
    );

    // A public key under a second name is an added public key line.
    let mut text = prod_text;
    text.push_str(&format!("DOTENV_PUBLIC_KEY_STAGING={foreign}\n"));
    fs::write(&production, &text).unwrap();
    let report = stdout_of(&envx(dir.path()).arg("diff").assert().success());
    assert!(
        report_line(&report, "DOTENV_PUBLIC_KEY_STAGING").ends_with(
            "public key added, the file now declares 2 public keys: \
             DOTENV_PUBLIC_KEY_PRODUCTION DOTENV_PUBLIC_KEY_STAGING"
        ),
        "{report}"
    );
}

/// Issue 11, point 9: a revision that names no commit, a range, or an option-like name is an
/// error, not a report listing every key as added; two revisions compare with each other.
#[test]
fn r11_envx_diff_checks_its_revisions_and_compares_two() {
    let dir = repo();
    set_ok(dir.path(), ".env.production", "API_KEY", "second");
    git_ok(dir.path(), &["commit", "-q", "-am", "second"]);
    set_ok(dir.path(), ".env.production", "REGION", "uncommitted");

    let out = envx(dir.path())
        .args(["diff", "no-such-rev"])
        .assert()
        .code(1);
    let err = stderr_of(out.get_output());
    assert!(
        err.contains("unknown revision `no-such-rev`: no such commit"),
        "{err}"
    );
    assert!(out.get_output().stdout.is_empty());
    envx(dir.path())
        .args(["diff", "HEAD", "no-such-rev"])
        .assert()
        .code(1);

    for range in ["HEAD~1..HEAD", "HEAD~1...HEAD", "^HEAD~1"] {
        let out = envx(dir.path()).args(["diff", range]).assert().code(2);
        let err = stderr_of(out.get_output());
        assert!(
            err.contains("is a range") && err.contains("envx diff A B"),
            "{range}: {err}"
        );
        assert!(out.get_output().stdout.is_empty());
    }

    let written = dir.path().join("written-by-git");
    let option = format!("--output={}", written.display());
    envx(dir.path())
        .args(["diff", "--", &option])
        .assert()
        .code(1);
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with("written-by-git")),
        "a revision was read as an option: {names:?}"
    );

    // Two revisions: the working tree's uncommitted change is not part of it.
    let report = stdout_of(
        &envx(dir.path())
            .args(["diff", "HEAD~1", "HEAD"])
            .assert()
            .success(),
    );
    assert!(
        report.starts_with(".env.production (HEAD~1 → HEAD)\n"),
        "{report}"
    );
    assert!(
        report_line(&report, "API_KEY").ends_with(" changed"),
        "{report}"
    );
    assert_eq!(report.lines().count(), 2, "{report}");
    let shown = stdout_of(
        &envx(dir.path())
            .args(["diff", "--show", "HEAD~1", "HEAD"])
            .assert()
            .success(),
    );
    assert!(
        shown.contains("- old-api-key\n") && shown.contains("+ second\n"),
        "{shown}"
    );

    // No commit yet: HEAD names nothing, and saying so beats listing every key as added.
    let fresh = tempfile::tempdir().unwrap();
    git_ok(fresh.path(), &["init", "-q", "-b", "main"]);
    set_ok(fresh.path(), ".env", "A", "1");
    git_ok(fresh.path(), &["add", ".env"]);
    let out = envx(fresh.path()).arg("diff").assert().code(1);
    assert!(stderr_of(out.get_output()).contains("unknown revision `HEAD`"));
}

/// Issue 11, point 10: terminal escapes, carriage returns and bidi controls in a value are shown
/// escaped by the diff driver and by `envx diff --show`, never sent to the terminal.
#[test]
fn r11_control_characters_in_values_are_shown_escaped() {
    let dir = repo();
    let hostile = "a\x1b[2Jb\rc\u{202e}d\x07e\nf";
    let escaped = "a\\x1b[2Jb\\rc\\u{202e}d\\x07e\\nf";
    set_ok(dir.path(), ".env.production", "API_KEY", hostile);
    let path = dir.path().join(".env.production");
    let mut text = fs::read_to_string(&path).unwrap();
    text.push_str("# note \x1b]0;title\x07\nPLAIN_KEY_PLAIN=\"x\x1b[31my\"\n");
    fs::write(&path, text).unwrap();

    let raw = |s: &str| s.contains(['\x1b', '\r', '\x07', '\u{202e}']);
    let diff = git_ok(dir.path(), &["diff"]);
    assert!(!raw(&diff), "{diff:?}");
    assert!(
        diff.contains(&format!("\n+API_KEY=[encrypted] \"{escaped}\"\n")),
        "{diff}"
    );
    assert!(
        diff.contains("\n+# note \\x1b]0;title\\x07\n")
            && diff.contains("\n+PLAIN_KEY_PLAIN=[PLAINTEXT] \"x\\x1b[31my\"\n"),
        "{diff}"
    );

    let shown = stdout_of(&envx(dir.path()).args(["diff", "--show"]).assert().success());
    assert!(!raw(&shown), "{shown:?}");
    assert!(shown.contains(&format!("    + {escaped}\n")), "{shown}");
    assert!(shown.contains("    + x\\x1b[31my\n"), "{shown}");
}

/// `PATH` without any folder that holds an `envx`.
fn path_without_envx() -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let kept = std::env::split_paths(&path).filter(|folder| !folder.join("envx").exists());
    std::env::join_paths(kept).unwrap()
}

/// `git` as [`git`] runs it, with `path` as `PATH`.
fn git_with_path(dir: &Path, path: &std::ffi::OsStr, args: &[&str]) -> Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .expect("git runs")
}

/// Moving or upgrading envx must not break git: the drivers and the hook call `envx` from
/// `PATH`, never the absolute path of the binary that installed them, and say how to install
/// envx when it is missing.
#[test]
fn drivers_and_hook_call_envx_from_path() {
    let dir = repo();
    envx(dir.path())
        .args(["precommit", "--install"])
        .assert()
        .success();
    let built = env!("CARGO_BIN_EXE_envx");
    let config = fs::read_to_string(dir.path().join(".git/config")).unwrap();
    let hook = fs::read_to_string(dir.path().join(".git/hooks/pre-commit")).unwrap();
    assert!(
        !config.contains(built) && !hook.contains(built),
        "{config}\n{hook}"
    );
    assert_eq!(
        git_ok(dir.path(), &["config", "diff.envx.textconv"]).trim(),
        "envx textconv"
    );
    assert_eq!(
        git_ok(dir.path(), &["config", "merge.envx.driver"]).trim(),
        "envx merge-driver %O %A %B --path %P"
    );

    // envx moved elsewhere: a copy in another folder, the build folder no longer on PATH.
    let moved = tempfile::tempdir().unwrap();
    fs::copy(built, moved.path().join("envx")).unwrap();
    let mut folders = vec![moved.path().to_path_buf()];
    folders.extend(std::env::split_paths(&path_without_envx()));
    let moved_path = std::env::join_paths(folders).unwrap();
    set_ok(dir.path(), ".env.production", "API_KEY", "moved-api-key");
    let out = git_with_path(dir.path(), &moved_path, &["diff"]);
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(
        diff.contains("+API_KEY=[encrypted] \"moved-api-key\""),
        "{diff}"
    );
    git_ok(dir.path(), &["add", ".env.production"]);
    let out = git_with_path(dir.path(), &moved_path, &["commit", "-q", "-m", "moved"]);
    assert!(out.status.success(), "{}", stderr_of(&out));

    // envx missing from PATH: the hook blocks the commit and says how to install envx.
    set_ok(dir.path(), ".env.production", "API_KEY", "newer-api-key");
    git_ok(dir.path(), &["add", ".env.production"]);
    let out = git_with_path(dir.path(), &path_without_envx(), &["commit", "-m", "x"]);
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(
        err.contains("envx is not on PATH") && err.contains("cargo install --path cli"),
        "{err}"
    );

    // And setting up without envx on PATH warns at once.
    let out = Command::new(built)
        .args(["git-setup"])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", path_without_envx())
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        stderr_of(&out).contains("envx is not on PATH"),
        "{}",
        stderr_of(&out)
    );
}

/// A hook written by an older envx (with an absolute path) is replaced by `--install`.
#[test]
fn precommit_install_replaces_an_older_envx_hook() {
    let dir = repo();
    let hook = dir.path().join(".git/hooks/pre-commit");
    fs::write(
        &hook,
        "#!/bin/sh\n# installed by envx precommit --install\nexec '/old/place/envx' precommit\n",
    )
    .unwrap();
    envx(dir.path())
        .args(["precommit", "--install"])
        .assert()
        .success();
    let text = fs::read_to_string(&hook).unwrap();
    assert!(
        !text.contains("/old/place") && text.contains("exec envx precommit"),
        "{text}"
    );
}
