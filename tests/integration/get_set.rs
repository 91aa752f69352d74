//! `set` and `get`.

use std::fs;

use crate::common::{case_dir, envx, get_json, set_ok, snapshot};

#[test]
fn set_creates_file_and_key_pair_then_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    set_ok(dir.path(), ".env.production", "API_KEY", "sk_live_123");
    let text = fs::read_to_string(dir.path().join(".env.production")).unwrap();
    assert!(text.contains("DOTENV_PUBLIC_KEY_PRODUCTION=\""), "{text}");
    assert!(
        text.ends_with("\"\n") && text.contains("API_KEY=\"encrypted:"),
        "{text}"
    );
    assert!(!text.contains("sk_live_123"));
    let keys = fs::read_to_string(dir.path().join(".env.keys")).unwrap();
    assert!(keys.contains("DOTENV_PRIVATE_KEY_PRODUCTION="));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(dir.path().join(".env.keys"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let before = snapshot(dir.path());
    let out = set_ok(dir.path(), ".env.production", "API_KEY", "sk_live_123");
    assert_eq!(
        snapshot(dir.path()),
        before,
        "setting the same value changed a byte"
    );
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("nothing changed"));

    set_ok(dir.path(), ".env.production", "API_KEY", "sk_live_456");
    let map = get_json(dir.path(), ".env.production");
    assert_eq!(map["API_KEY"], "sk_live_456");
}

#[test]
fn set_reads_the_value_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    envx(dir.path())
        .args(["set", "TOKEN"])
        .write_stdin("from-stdin\n")
        .assert()
        .success();
    envx(dir.path())
        .args(["set", "OTHER", "-"])
        .write_stdin("two\nlines\n")
        .assert()
        .success();
    let map = get_json(dir.path(), ".env");
    assert_eq!(map["TOKEN"], "from-stdin");
    assert_eq!(map["OTHER"], "two\nlines");
}

#[test]
fn set_replaces_in_place_keeping_the_quote_and_other_lines() {
    let dir = case_dir("quoting-styles");
    let path = dir.path().join(".env.production");
    let before = fs::read_to_string(&path).unwrap();
    set_ok(dir.path(), ".env.production", "SINGLE", "new value");
    let after = fs::read_to_string(&path).unwrap();
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(changed[0].1.starts_with("SINGLE='encrypted:") && changed[0].1.ends_with('\''));
    assert_eq!(
        get_json(dir.path(), ".env.production")["SINGLE"],
        "new value"
    );
}

#[test]
fn plain_values_and_plain_suffix() {
    let dir = tempfile::tempdir().unwrap();
    envx(dir.path())
        .args(["set", "PORT", "8080", "--plain"])
        .assert()
        .success();
    envx(dir.path())
        .args(["set", "REGION_PLAIN", "eu-west-1"])
        .assert()
        .success();
    envx(dir.path())
        .args(["set", "PASS", "pa$word@x", "--plain"])
        .assert()
        .success();
    let text = fs::read_to_string(dir.path().join(".env")).unwrap();
    assert_eq!(
        text,
        "PORT=\"8080\"\nREGION_PLAIN=\"eu-west-1\"\nPASS='pa$word@x'\n"
    );
    assert!(!dir.path().join(".env.keys").exists());
    assert_eq!(get_json(dir.path(), ".env")["PASS"], "pa$word@x");
}

#[test]
fn get_one_key_and_each_format() {
    let dir = case_dir("quoting-styles");
    let out = envx(dir.path())
        .args(["get", "SINGLE_WITH_DOUBLE", "-f", ".env.production"])
        .assert()
        .success();
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout),
        "say \"hi\"\n"
    );

    let out = envx(dir.path())
        .args(["get", "-f", ".env.production", "--format", "shell"])
        .assert()
        .success();
    let shell = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        shell.contains("export DOUBLE_WITH_SINGLE='it'\\''s fine'\n"),
        "{shell}"
    );

    let out = envx(dir.path())
        .args(["get", "-f", ".env.production", "--format", "dotenv"])
        .assert()
        .success();
    let dotenv = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let doc = envx_core::document::Document::parse(&dotenv);
    let json = get_json(dir.path(), ".env.production");
    assert_eq!(doc.entries().len(), json.len());
    for entry in doc.entries() {
        assert_eq!(
            serde_json::Value::from(entry.value()),
            json[entry.key()],
            "{}",
            entry.key()
        );
    }
}

#[test]
fn environment_wins_unless_overload() {
    let dir = case_dir("simple");
    let out = envx(dir.path())
        .args(["get", "PORT"])
        .env("PORT", "9999")
        .assert()
        .success();
    assert_eq!(String::from_utf8_lossy(&out.get_output().stdout), "9999\n");
    let out = envx(dir.path())
        .args(["get", "PORT", "--overload"])
        .env("PORT", "9999")
        .assert()
        .success();
    assert_eq!(String::from_utf8_lossy(&out.get_output().stdout), "8080\n");
}

#[test]
fn command_substitution_is_refused_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("marker");
    fs::write(
        dir.path().join(".env"),
        format!("A=\"$(touch {})\"\n", marker.display()),
    )
    .unwrap();
    envx(dir.path()).args(["encrypt"]).assert().success();
    for args in [&["get"][..], &["decrypt", "--stdout"]] {
        let out = envx(dir.path()).args(args).assert();
        if args[0] == "get" {
            let err = String::from_utf8_lossy(&out.code(1).get_output().stderr).into_owned();
            assert!(err.contains("--allow-command-substitution"), "{err}");
        }
        assert!(!marker.exists(), "{args:?} ran the command");
    }
}
