//! Interop with dotenvx itself, both ways. Needs dotenvx installed from npm: `.ci/run` installs
//! the pinned version, sets `ENVX_DOTENVX_DIR` and runs these ignored tests.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{case_dir, cases, envx, get_json, read_json_map, set_ok};

/// The dotenvx binary from `ENVX_DOTENVX_DIR`. The tests that call this are `#[ignore]`d, so
/// a plain `cargo test` lists them as ignored rather than passing them; `.ci/run` installs
/// dotenvx and runs them with `--include-ignored`, and then a missing dotenvx is a failure.
pub fn dotenvx_bin() -> PathBuf {
    let dir = std::env::var_os("ENVX_DOTENVX_DIR").expect(
        "ENVX_DOTENVX_DIR must name an npm install of @dotenvx/dotenvx@2.38.2 (bash .ci/run does it)",
    );
    let bin = Path::new(&dir).join("node_modules/.bin/dotenvx");
    assert!(bin.exists(), "{} does not exist", bin.display());
    bin
}

/// dotenvx in `dir`, hermetic: no private keys from the developer's shell, no OS keychain.
pub fn dotenvx(bin: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("DOTENVX_NO_NATIVE", "true")
        .env("CI", "true");
    cmd
}

pub fn dotenvx_get(
    bin: &Path,
    dir: &Path,
    file: &str,
) -> serde_json::Map<String, serde_json::Value> {
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
#[ignore = "needs dotenvx; .ci/run installs it and runs ignored tests"]
fn dotenvx_reads_what_envx_encrypts() {
    let bin = dotenvx_bin();
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
#[ignore = "needs dotenvx; .ci/run installs it and runs ignored tests"]
fn envx_reads_what_dotenvx_encrypts_live() {
    let bin = dotenvx_bin();
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
#[ignore = "needs dotenvx; .ci/run installs it and runs ignored tests"]
fn set_by_either_tool_into_the_others_file() {
    let bin = dotenvx_bin();
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

/// Issue 11, point 2: `envx set K V` stores V so that dotenvx reads back exactly V, for the
/// hard cases and for generated ones, encrypted and in plaintext.
#[test]
#[ignore = "needs dotenvx; .ci/run installs it and runs ignored tests"]
fn r11_dotenvx_reads_exactly_what_envx_set_stores() {
    use proptest::strategy::{Strategy as _, ValueTree as _};
    let bin = dotenvx_bin();
    let mut values: Vec<String> = crate::exact::TRICKY.iter().map(|s| s.to_string()).collect();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let generated = "([$]|[$][{]|[}]|[\\\\]|['\"`#]|[ \n]|[:+-]|[a-zA-Z_]{1,3}|é|&){0,10}";
    for _ in 0..60 {
        values.push(generated.new_tree(&mut runner).unwrap().current());
    }
    for (file, plain) in [(".env.production", false), (".env.plain", true)] {
        let dir = tempfile::tempdir().unwrap();
        let mut expected = serde_json::Map::new();
        for (i, value) in values.iter().enumerate() {
            let key = format!("K{i}");
            let mut cmd = envx(dir.path());
            cmd.args(["set", &key, "-f", file, "--allow-empty"]);
            if plain {
                cmd.arg("--plain");
            }
            let out = cmd.write_stdin(format!("{value}\n")).output().unwrap();
            if !out.status.success() {
                // Only plaintext can be refused: what no quoting can hold as it is.
                assert!(
                    plain,
                    "encrypted {value:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert!(
                    value.contains('$') && value.contains("\\'"),
                    "refused {value:?}"
                );
                continue;
            }
            expected.insert(key, serde_json::Value::String(value.clone()));
        }
        let mut theirs = dotenvx_get(&bin, dir.path(), file);
        theirs.retain(|k, _| !k.starts_with("DOTENV_PUBLIC_KEY"));
        let mut ours = get_json(dir.path(), file);
        ours.retain(|k, _| !k.starts_with("DOTENV_PUBLIC_KEY"));
        assert!(
            expected.len() > 60,
            "{file}: only {} stored",
            expected.len()
        );
        for (key, value) in &expected {
            assert_eq!(theirs.get(key), Some(value), "dotenvx, {file} {key}");
            assert_eq!(ours.get(key), Some(value), "envx, {file} {key}");
        }
        assert!(!dir.path().join("marker").exists(), "a command ran");
    }
}

/// Issue 11, point 3, against dotenvx: for generated files, dotenvx and envx read the same
/// values before `envx encrypt`, after it, and after `envx decrypt`.
#[test]
#[ignore = "needs dotenvx; .ci/run installs it and runs ignored tests"]
fn r11_both_tools_read_the_same_before_and_after_encryption() {
    use proptest::strategy::{Strategy as _, ValueTree as _};
    let bin = dotenvx_bin();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let value = "([$]A|[$][{]B[}]|[$][{]NOPE:-fb[}]|[\\\\][$]A|[$][$]|[#]|[ ]|[a-z]{1,3}|é){0,6}";
    let mut compared = 0;
    let mut endless = 0;
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::new();
        for (i, key) in ["A", "B", "C", "D", "E"].iter().enumerate() {
            let v = value.new_tree(&mut runner).unwrap().current();
            let line = match (i + round) % 4 {
                0 => format!("{key}='{}'\n", v.replace('\'', "")),
                1 => format!("{key}=\"{}\"\n", v.replace('"', "")),
                2 => format!("{key}=`{}`\n", v.replace('`', "")),
                // Unquoted: no `#` (it would start a comment), no edge spaces.
                _ => format!("{key}={}\n", v.replace('#', "").trim()),
            };
            text.push_str(&line);
        }
        let file = ".env.production";
        fs::write(dir.path().join(file), &text).unwrap();
        let read = |stage: &str| {
            let Some(mut theirs) = dotenvx_get_within(&bin, dir.path(), file, 20) else {
                // dotenvx never finishes this file (its expansion grows forever); envx must
                // stop with an error instead.
                let out = envx(dir.path()).args(["get", "-f", file]).assert().code(1);
                let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
                assert!(err.contains("expanding"), "{stage}: {err}\nfile:\n{text}");
                return None;
            };
            theirs.retain(|k, _| !k.starts_with("DOTENV_PUBLIC_KEY"));
            let mut ours = get_json(dir.path(), file);
            ours.retain(|k, _| !k.starts_with("DOTENV_PUBLIC_KEY"));
            assert_eq!(theirs, ours, "{stage}, file:\n{text}");
            Some(ours)
        };
        let Some(before) = read("plaintext") else {
            endless += 1;
            continue;
        };
        envx(dir.path())
            .args(["encrypt", "-f", file])
            .assert()
            .success();
        assert_eq!(Some(&before), read("encrypted").as_ref(), "file:\n{text}");
        envx(dir.path())
            .args(["decrypt", "-f", file])
            .assert()
            .success();
        assert_eq!(Some(&before), read("decrypted").as_ref(), "file:\n{text}");
        compared += before.len();
    }
    assert_eq!(compared + 5 * endless, 100);
    assert!(compared >= 80, "only {compared} values compared");
}

/// `dotenvx get` as JSON, or `None` when it has not finished after `seconds` (it loops
/// forever on some expansions).
fn dotenvx_get_within(
    bin: &Path,
    dir: &Path,
    file: &str,
    seconds: u64,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    let mut child = dotenvx(bin, dir)
        .args(["get", "-f", file, "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed().as_secs() >= seconds {
            child.kill().unwrap();
            child.wait().unwrap();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    match serde_json::from_slice(&out.stdout).unwrap() {
        serde_json::Value::Object(map) => Some(map),
        other => panic!("not an object: {other}"),
    }
}

/// What dotenvx's own `set` writes reads the same in envx (issue 11, point 1).
#[test]
#[ignore = "needs dotenvx; .ci/run installs it and runs ignored tests"]
fn r11_envx_reads_dotenvx_set_values_as_dotenvx_does() {
    let bin = dotenvx_bin();
    let dir = tempfile::tempdir().unwrap();
    for (key, value) in [
        ("PW", "Tr0ub4dor\\$HOME&3"),
        ("REF", "${PW}x"),
        ("FALL", "${NOPE:-fallback}"),
    ] {
        let out = dotenvx(&bin, dir.path())
            .args(["set", key, value, "-f", ".env.production"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let theirs = dotenvx_get(&bin, dir.path(), ".env.production");
    let ours = get_json(dir.path(), ".env.production");
    assert_eq!(theirs, ours);
    assert_eq!(ours["PW"], "Tr0ub4dor$HOME&3");
    assert_eq!(ours["FALL"], "fallback");
}
