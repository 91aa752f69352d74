//! Interop with dotenvx itself, both ways. Needs dotenvx installed from npm: `.ci/run` installs
//! the pinned version and sets `ENVX_DOTENVX_DIR`; elsewhere these tests say loudly that they
//! did not run (and fail when `ENVX_REQUIRE_DOTENVX=1`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{case_dir, cases, envx, get_json, read_json_map, set_ok};

fn dotenvx_bin() -> Option<PathBuf> {
    let dir = std::env::var_os("ENVX_DOTENVX_DIR")?;
    let bin = Path::new(&dir).join("node_modules/.bin/dotenvx");
    bin.exists().then_some(bin)
}

/// The dotenvx binary, or `None` after a loud notice (a panic when it is required).
fn dotenvx_or_skip(test: &str) -> Option<PathBuf> {
    let found = dotenvx_bin();
    if found.is_none() {
        assert!(
            std::env::var_os("ENVX_REQUIRE_DOTENVX").is_none(),
            "ENVX_REQUIRE_DOTENVX is set but dotenvx was not found via ENVX_DOTENVX_DIR"
        );
        eprintln!(
            "\n*** SKIPPED {test}: dotenvx is not installed. Run `bash .ci/run`, or install it with\n\
             *** `npm install --prefix .tools/dotenvx @dotenvx/dotenvx@2.38.2` and set\n\
             *** ENVX_DOTENVX_DIR=$PWD/.tools/dotenvx ***\n"
        );
    }
    found
}

/// dotenvx in `dir`, hermetic: no private keys from the developer's shell, no OS keychain.
fn dotenvx(bin: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("DOTENVX_NO_NATIVE", "true")
        .env("CI", "true");
    cmd
}

fn dotenvx_get(bin: &Path, dir: &Path, file: &str) -> serde_json::Map<String, serde_json::Value> {
    let out = dotenvx(bin, dir)
        .args(["get", "-f", file, "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dotenvx get failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match serde_json::from_slice(&out.stdout).unwrap() {
        serde_json::Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn dotenvx_reads_what_envx_encrypts() {
    let Some(bin) = dotenvx_or_skip("dotenvx_reads_what_envx_encrypts") else {
        return;
    };
    let mut compared = 0;
    for (case, meta) in cases() {
        for file in meta["files"].as_array().unwrap() {
            let dir = case_dir(&case);
            fs::remove_file(dir.path().join(".env.keys")).unwrap();
            let name = file["encrypted"].as_str().unwrap();
            fs::copy(
                dir.path().join(file["input"].as_str().unwrap()),
                dir.path().join(name),
            )
            .unwrap();
            envx(dir.path())
                .args(["encrypt", "-f", name])
                .assert()
                .success();
            // dotenvx reads envx's file and envx's .env.keys.
            let theirs = dotenvx_get(&bin, dir.path(), name);
            let ours = get_json(dir.path(), name);
            assert_eq!(theirs, ours, "{case}/{name}");
            let mut expected = read_json_map(&dir.path().join(file["expected"].as_str().unwrap()));
            expected.remove(file["public_key_name"].as_str().unwrap());
            for (key, value) in &expected {
                assert_eq!(&theirs[key], value, "{case}/{key}");
                compared += 1;
            }
        }
    }
    assert!(compared > 30, "only {compared} compared");
}

#[test]
fn envx_reads_what_dotenvx_encrypts_live() {
    let Some(bin) = dotenvx_or_skip("envx_reads_what_dotenvx_encrypts_live") else {
        return;
    };
    for case in ["quoting-styles", "multiline", "unicode"] {
        let dir = case_dir(case);
        fs::remove_file(dir.path().join(".env.keys")).unwrap();
        fs::copy(dir.path().join("input.env"), dir.path().join(".env.live")).unwrap();
        let out = dotenvx(&bin, dir.path())
            .args(["encrypt", "-f", ".env.live"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // envx reads dotenvx's file and dotenvx's .env.keys.
        assert_eq!(
            get_json(dir.path(), ".env.live"),
            dotenvx_get(&bin, dir.path(), ".env.live"),
            "{case}"
        );
    }
}

#[test]
fn set_by_either_tool_into_the_others_file() {
    let Some(bin) = dotenvx_or_skip("set_by_either_tool_into_the_others_file") else {
        return;
    };
    let values = [
        ("PLAIN", "simple"),
        ("SPACES", "a value with spaces"),
        ("QUOTES", "say \"hi\" and 'bye'"),
        ("UNICODE", "héllo ✓ 🚀"),
        ("HASH", "abc#def"),
        ("EMPTY", ""),
    ];
    // envx creates the file; dotenvx adds to it; envx adds again; both read all.
    let dir = tempfile::tempdir().unwrap();
    for (key, value) in &values[..3] {
        set_ok(dir.path(), ".env.shared", key, value);
    }
    for (key, value) in &values[3..] {
        let out = dotenvx(&bin, dir.path())
            .args(["set", key, value, "-f", ".env.shared"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    set_ok(dir.path(), ".env.shared", "PLAIN", "changed");
    let ours = get_json(dir.path(), ".env.shared");
    assert_eq!(ours, dotenvx_get(&bin, dir.path(), ".env.shared"));
    assert_eq!(ours["PLAIN"], "changed");
    for (key, value) in &values[1..] {
        assert_eq!(ours[*key], *value, "{key}");
    }

    // dotenvx creates the file (and its .env.keys); envx adds to it.
    let dir = tempfile::tempdir().unwrap();
    let out = dotenvx(&bin, dir.path())
        .args(["set", "FIRST", "one", "-f", ".env.other"])
        .output()
        .unwrap();
    assert!(out.status.success());
    set_ok(dir.path(), ".env.other", "SECOND", "two");
    let theirs = dotenvx_get(&bin, dir.path(), ".env.other");
    assert_eq!(
        (theirs["FIRST"].as_str(), theirs["SECOND"].as_str()),
        (Some("one"), Some("two"))
    );
    assert_eq!(get_json(dir.path(), ".env.other"), theirs);
}
