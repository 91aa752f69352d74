//! Issue 11: what you write is what runs. One expansion rule for every value, `set` stores
//! exactly what it is given, encryption changes nothing a program receives, and each file is
//! read with its own key only.

use std::fs;
use std::path::Path;

use crate::common::{case_dir, envx, get_json, snapshot};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn get(dir: &Path, file: &str, key: &str) -> String {
    let out = envx(dir).args(["get", key, "-f", file]).assert().success();
    let mut text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert_eq!(text.pop(), Some('\n'));
    text
}

/// What a child started by `envx run` finds in its environment under `key`.
fn in_child(dir: &Path, file: &str, key: &str) -> String {
    let out = envx(dir)
        .args(["run", "-q", "-f", file, "--", "sh", "-c"])
        .arg(format!("printf %s \"${key}\""))
        .assert()
        .success();
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

#[test]
fn r11_encrypting_and_decrypting_change_nothing_a_program_receives() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".env"),
        "DEFINED=x\n\
         ESCAPED=\\$DEFINED\n\
         FALL=${NOPE:-fallback}\n\
         PW=\"Tr0ub4dor\\$HOME&3\"\n\
         URL=\"postgres://${DEFINED}:${UNSET}@db\"\n\
         LIT='pa$word'\n\
         SPLICE=\"a${DEFINED}b\\$c\"\n",
    )
    .unwrap();
    let before = get_json(dir.path(), ".env");
    assert_eq!(before["ESCAPED"], "$DEFINED");
    assert_eq!(before["FALL"], "fallback");
    assert_eq!(before["PW"], "Tr0ub4dor$HOME&3");
    assert_eq!(before["URL"], "postgres://x:@db");
    assert_eq!(before["LIT"], "pa$word");
    envx(dir.path()).arg("encrypt").assert().success();
    let encrypted = fs::read_to_string(dir.path().join(".env")).unwrap();
    assert_eq!(encrypted.matches("encrypted:").count(), 7, "{encrypted}");
    let mut after = get_json(dir.path(), ".env");
    after.retain(|k, _| !k.starts_with("DOTENV_PUBLIC_KEY"));
    assert_eq!(before, after, "encrypt changed what a program receives");
    envx(dir.path()).arg("decrypt").assert().success();
    let mut again = get_json(dir.path(), ".env");
    again.retain(|k, _| !k.starts_with("DOTENV_PUBLIC_KEY"));
    assert_eq!(before, again, "decrypt changed what a program receives");
    assert_eq!(in_child(dir.path(), ".env", "PW"), "Tr0ub4dor$HOME&3");
}

/// Values that expansion, quoting or the parser could each change.
pub const TRICKY: &[&str] = &[
    "Tr0ub4dor$HOME&3",
    "${HOME}",
    "${NOPE:-fallback}",
    "\\$HOME",
    "back\\slash\\",
    "both \"double\" and 'single' quotes",
    "hash # inside#too",
    "two\nlines\n",
    "  leading and trailing  ",
    "non-ASCII: é ✓ 日本",
    "$(touch marker)",
    "`backticks`",
    "$$ and $& and $' and $`",
    "",
];

#[test]
fn r11_set_stores_exactly_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    for (i, value) in TRICKY.iter().enumerate() {
        let key = format!("K{i}");
        envx(dir.path())
            .args(["set", &key, "-f", ".env.production", "--allow-empty"])
            .write_stdin(format!("{value}\n"))
            .assert()
            .success();
        assert_eq!(
            get(dir.path(), ".env.production", &key),
            *value,
            "get {key}"
        );
        assert_eq!(
            in_child(dir.path(), ".env.production", &key),
            *value,
            "run {key}"
        );
    }
    assert!(!dir.path().join("marker").exists(), "a command ran");
    let text = fs::read_to_string(dir.path().join(".env.production")).unwrap();
    // Values holding `$` are stored single-quoted: literal in envx and dotenvx alike.
    assert!(text.contains("K0='encrypted:"), "{text}");
    assert!(text.contains("K4=\"encrypted:"), "{text}");
    // Setting the same value again changes no byte.
    let before = snapshot(dir.path());
    envx(dir.path())
        .args(["set", "K0", TRICKY[0], "-f", ".env.production"])
        .assert()
        .success();
    assert_eq!(before, snapshot(dir.path()));
}

#[test]
fn r11_set_plain_stores_exactly_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    for (i, value) in TRICKY.iter().enumerate() {
        let key = format!("K{i}");
        envx(dir.path())
            .args(["set", &key, "--plain", "--allow-empty"])
            .write_stdin(format!("{value}\n"))
            .assert()
            .success();
        assert_eq!(get(dir.path(), ".env", &key), *value, "get {key}");
    }
    assert!(!dir.path().join("marker").exists(), "a command ran");
}

#[test]
fn r11_an_empty_or_closed_stdin_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = envx(dir.path())
        .args(["set", "API_KEY"])
        .write_stdin("")
        .assert()
        .code(1);
    let err = stderr(out.get_output());
    assert!(
        err.contains("API_KEY") && err.contains("--allow-empty"),
        "{err}"
    );
    assert!(snapshot(dir.path()).is_empty(), "a file was written");
    envx(dir.path())
        .args(["set", "API_KEY", "--allow-empty"])
        .write_stdin("")
        .assert()
        .success();
    assert_eq!(get(dir.path(), ".env", "API_KEY"), "");
}

#[test]
fn r11_encrypt_refuses_a_value_whose_tail_would_stay_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".env"),
        "OK=fine # a real comment\nWEBHOOK_SECRET=whsec_abc#def123\n",
    )
    .unwrap();
    let before = snapshot(dir.path());
    let out = envx(dir.path()).arg("encrypt").assert().code(1);
    let err = stderr(out.get_output());
    assert!(
        err.contains(".env:2") && err.contains("WEBHOOK_SECRET") && err.contains("quote"),
        "{err}"
    );
    assert!(!err.contains("def123") && !err.contains("whsec"), "{err}");
    assert_eq!(before, snapshot(dir.path()), "a file changed");
}

#[test]
fn r11_encrypt_warns_about_a_reference_that_expands_to_nothing() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".env"), "USER=ada\nPW=pa$word$USER\n").unwrap();
    let out = envx(dir.path()).arg("encrypt").assert().success();
    let err = stderr(out.get_output());
    assert!(
        err.contains("PW") && err.contains("$word") && !err.contains("$USER"),
        "{err}"
    );
}

#[test]
fn r11_a_ciphertext_copied_from_another_environment_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    envx(dir.path())
        .args(["set", "DB_PASSWORD", "staging-secret", "-f", ".env.staging"])
        .assert()
        .success();
    envx(dir.path())
        .args(["set", "API_KEY", "prod-key", "-f", ".env.production"])
        .assert()
        .success();
    // Both keys are in the one .env.keys beside the files.
    let staging = fs::read_to_string(dir.path().join(".env.staging")).unwrap();
    let line = staging
        .lines()
        .find(|l| l.starts_with("DB_PASSWORD="))
        .unwrap();
    let copied = line.replacen("DB_PASSWORD", "NEXT_PUBLIC_ANALYTICS_ID", 1);
    let mut production = fs::read_to_string(dir.path().join(".env.production")).unwrap();
    production.push_str(&copied);
    production.push('\n');
    fs::write(dir.path().join(".env.production"), &production).unwrap();
    let out = envx(dir.path())
        .args(["get", "-f", ".env.production"])
        .assert()
        .code(1);
    let err = stderr(out.get_output());
    assert!(
        err.contains("NEXT_PUBLIC_ANALYTICS_ID") && err.contains("cannot decrypt"),
        "{err}"
    );
    assert!(!err.contains("staging-secret"));
    let marker = dir.path().join("started");
    envx(dir.path())
        .args(["run", "-f", ".env.production", "--", "touch"])
        .arg(&marker)
        .assert()
        .code(1);
    assert!(!marker.exists(), "the child started");
    // A CI runner that holds every environment's key, in variables and not in .env.keys:
    // the staging key is at hand, and must still not open a production value.
    let keys = fs::read_to_string(dir.path().join(".env.keys")).unwrap();
    fs::remove_file(dir.path().join(".env.keys")).unwrap();
    let mut get = envx(dir.path());
    get.args(["get", "NEXT_PUBLIC_ANALYTICS_ID", "-f", ".env.production"]);
    for line in keys.lines() {
        if let Some((name, value)) = line.split_once('=')
            && name.starts_with("DOTENV_PRIVATE_KEY_")
        {
            get.env(name, value.trim_matches('"'));
        }
    }
    let out = get.assert().code(1);
    let err = stderr(out.get_output());
    assert!(err.contains("cannot decrypt"), "{err}");
    assert!(!err.contains("staging-secret"));
}

#[test]
fn r11_a_second_public_key_line_is_refused() {
    let dir = case_dir("kat-fixed-key");
    let attacker = "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5";
    let path = dir.path().join(".env.production");
    let mut text = fs::read_to_string(&path).unwrap();
    text.push_str(&format!("DOTENV_PUBLIC_KEY_PRODUCTION=\"{attacker}\"\n"));
    fs::write(&path, &text).unwrap();
    let before = snapshot(dir.path());
    for args in [
        &["get", "-f", ".env.production"][..],
        &["set", "NEW", "secret", "-f", ".env.production"],
        &["encrypt", "-f", ".env.production"],
        &["run", "-f", ".env.production", "--", "true"],
    ] {
        let out = envx(dir.path()).args(args).assert().code(1);
        let err = stderr(out.get_output());
        assert!(
            err.contains("declares a second public key") && err.contains(".env.production:"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(before, snapshot(dir.path()), "a file changed");
}

#[test]
fn r11_a_public_key_named_for_another_environment_is_refused() {
    let dir = case_dir("kat-fixed-key");
    let path = dir.path().join(".env.production");
    let text = fs::read_to_string(&path)
        .unwrap()
        .replace("DOTENV_PUBLIC_KEY_PRODUCTION", "DOTENV_PUBLIC_KEY_STAGING");
    fs::write(&path, &text).unwrap();
    let out = envx(dir.path())
        .args(["get", "-f", ".env.production"])
        .assert()
        .code(1);
    let err = stderr(out.get_output());
    assert!(
        err.contains("DOTENV_PUBLIC_KEY_STAGING") && err.contains("DOTENV_PUBLIC_KEY_PRODUCTION"),
        "{err}"
    );
}

/// Someone with write access replaces the public key with their own: the next `set` by a key
/// holder would encrypt the new secret to them.
#[test]
fn r11_set_and_encrypt_refuse_a_public_key_the_holder_cannot_open() {
    let dir = case_dir("kat-fixed-key");
    let attacker = "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5";
    let path = dir.path().join(".env.production");
    let text = fs::read_to_string(&path).unwrap();
    let declared = text
        .lines()
        .find(|l| l.starts_with("DOTENV_PUBLIC_KEY_PRODUCTION="))
        .unwrap()
        .to_owned();
    let text = text.replace(
        &declared,
        &format!("DOTENV_PUBLIC_KEY_PRODUCTION=\"{attacker}\""),
    );
    let text = text
        .lines()
        .filter(|l| !l.contains("encrypted:"))
        .collect::<Vec<_>>()
        .join("\n")
        + "\nPLAIN=value\n";
    fs::write(&path, &text).unwrap();
    let before = snapshot(dir.path());
    for args in [
        &["set", "NEW", "secret", "-f", ".env.production"][..],
        &["encrypt", "-f", ".env.production"],
    ] {
        let out = envx(dir.path()).args(args).assert().code(1);
        let err = stderr(out.get_output());
        assert!(
            err.contains("will not encrypt to a key you cannot open")
                && err.contains("DOTENV_PRIVATE_KEY_PRODUCTION"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(before, snapshot(dir.path()), "a file changed");
}

/// The file's own variable is the first place searched: with the right key in several places,
/// that is the source reported.
#[test]
fn r11_the_files_own_variable_is_searched_first() {
    let dir = case_dir("kat-fixed-key");
    let keys = fs::read_to_string(dir.path().join(".env.keys")).unwrap();
    let key = keys
        .lines()
        .find_map(|l| l.strip_prefix("DOTENV_PRIVATE_KEY_PRODUCTION="))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let out = envx(dir.path())
        .args(["ls", "--format", "json"])
        .env("DOTENV_PRIVATE_KEY_OTHER", &key)
        .env("DOTENV_PRIVATE_KEY_PRODUCTION", &key)
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        text.contains("\"source\":\"$DOTENV_PRIVATE_KEY_PRODUCTION\""),
        "{text}"
    );
}

/// Issue 11, point 6: with the opt-in, `$(...)` behaves as in dotenvx: its output is not
/// expanded again, and a backslash before `$(` does not stop it.
#[test]
fn r11_allowed_command_substitution_follows_dotenvx() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".env"),
        "USD=dollars\nPRICE=$(printf '%s' 'costs $5 or $USD')\nESC=escaped-\\$(echo hello)\n",
    )
    .unwrap();
    let child = |key: &str| {
        let out = envx(dir.path())
            .args([
                "run",
                "-q",
                "--allow-command-substitution",
                "--",
                "sh",
                "-c",
            ])
            .arg(format!("printf %s \"${key}\""))
            .assert()
            .success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    };
    assert_eq!(child("PRICE"), "costs $5 or $USD");
    assert_eq!(child("ESC"), "escaped-\\hello");
    // Without the opt-in, both are refused: dotenvx would run them.
    let out = envx(dir.path()).args(["get", "ESC"]).assert().code(1);
    assert!(stderr(out.get_output()).contains("--allow-command-substitution"));
}
