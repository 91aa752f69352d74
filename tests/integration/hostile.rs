//! Hostile and broken input, the table reproduced in the README ("Bad input"): each case gets
//! its own error and exit code, never shows a secret, and leaves every file byte-identical.
//! Plus the reliability properties: concurrent edits lose nothing, and a killed `encrypt`
//! leaves the old file or the new one, never a mix.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::common::{case_dir, envx, snapshot, stderr_of};

const SECRET: &str = "s3cr3t-never-shown";
const KAT_PRIVATE: &str = "64294efce9d019865bd2ed212fac9dfaacfb744fa5fd5c39453ea0f20871948f";

/// Replaces one base64 character of `key`'s ciphertext at `offset` into it.
fn damage(dir: &Path, key: &str, offset: usize, to: &str) {
    let path = dir.join(".env.production");
    let text = fs::read_to_string(&path).unwrap();
    let start = text.find(&format!("{key}=")).unwrap() + key.len() + 1;
    let line_end = start + text[start..].find('\n').unwrap();
    let mut line = text[start..line_end].to_owned();
    let at = if offset == usize::MAX {
        line.len() - 30
    } else {
        offset
    };
    line.replace_range(at..at + to.len().max(1), to);
    fs::write(
        &path,
        format!("{}{}{}", &text[..start], line, &text[line_end..]),
    )
    .unwrap();
}

struct Case {
    name: &'static str,
    setup: fn(&Path),
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    code: i32,
    message: &'static str,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "malformed line",
            setup: |d| {
                fs::write(
                    d.join(".env.production"),
                    format!("A=1\nAPI KEY={SECRET}\n"),
                )
                .unwrap()
            },
            args: &["encrypt", "-f", ".env.production"],
            env: &[],
            code: 1,
            message: ".env.production:2: not a KEY=value assignment",
        },
        Case {
            name: "unterminated quote",
            setup: |d| {
                fs::write(d.join(".env.production"), format!("A=\"{SECRET}\nB=2\n")).unwrap()
            },
            args: &["encrypt", "-f", ".env.production"],
            env: &[],
            code: 1,
            message: ".env.production:1: the value of A opens a quote",
        },
        Case {
            name: "invalid UTF-8",
            setup: |d| fs::write(d.join(".env.production"), b"A=1\nB=caf\xe9\n").unwrap(),
            args: &["get", "-f", ".env.production"],
            env: &[],
            code: 1,
            message: ".env.production:2: not valid UTF-8",
        },
        Case {
            name: "NUL byte",
            setup: |d| fs::write(d.join(".env.production"), b"A=1\nB=x\0y\n").unwrap(),
            args: &["encrypt", "-f", ".env.production"],
            env: &[],
            code: 1,
            message: ".env.production:2: contains a NUL byte",
        },
        Case {
            name: "100 MB file",
            setup: |d| {
                let file = fs::File::create(d.join(".env.production")).unwrap();
                file.set_len(100 << 20).unwrap();
            },
            args: &["encrypt", "-f", ".env.production"],
            env: &[],
            code: 1,
            message: "larger than the 67108864 bytes",
        },
        Case {
            name: "bad base64",
            setup: |d| damage(d, "DATABASE_URL", 20, "*"),
            args: &["get", "-f", ".env.production"],
            env: &[],
            code: 1,
            message: ".env.production:10: cannot decrypt DATABASE_URL: the ciphertext is not valid base64",
        },
        Case {
            name: "truncated ciphertext",
            setup: |d| {
                let path = d.join(".env.production");
                let text = fs::read_to_string(&path).unwrap();
                let start = text.find("DATABASE_URL=").unwrap();
                fs::write(
                    &path,
                    format!("{}DATABASE_URL=encrypted:BA22PPxw\n", &text[..start]),
                )
                .unwrap();
            },
            args: &["get", "-f", ".env.production"],
            env: &[],
            code: 1,
            message: "cannot decrypt DATABASE_URL: the ciphertext is truncated",
        },
        Case {
            name: "flipped bit in the tag",
            setup: |d| damage(d, "GREETING", 125, "A"),
            args: &["decrypt", "-f", ".env.production"],
            env: &[],
            code: 1,
            message: ".env.production:8: cannot decrypt GREETING: authentication failed",
        },
        Case {
            name: "ciphertext for another key",
            setup: |d| {
                let other = "\"encrypted:BE1/U1+jSlVMmV8xUSRWqTDnyHmpPLaW8Ij41HBXoVKW5w8xnG6b1dVbM8O4Z4hmCk5EXRnYHdv+SvSvUq09Fw9r3E0b1hHc0bUzC4kwUPz5GDlRRaOtQxZVVGaN8VdMzpbDfvwzEvr4i7MybQ==\"";
                let path = d.join(".env.production");
                let text = fs::read_to_string(&path).unwrap();
                let start = text.find("GREETING=").unwrap() + "GREETING=".len();
                let end = start + text[start..].find('\n').unwrap();
                fs::write(&path, format!("{}{other}{}", &text[..start], &text[end..])).unwrap();
            },
            args: &["get", "-f", ".env.production"],
            env: &[],
            code: 1,
            message: "cannot decrypt GREETING",
        },
        Case {
            name: "malformed private key hex",
            setup: |d| fs::remove_file(d.join(".env.keys")).unwrap(),
            args: &["get", "-f", ".env.production"],
            env: &[(
                "DOTENV_PRIVATE_KEY_PRODUCTION",
                "64294efce9d019865bd2ed212fac9dfzz",
            )],
            code: 1,
            message: "DOTENV_PRIVATE_KEY_PRODUCTION is not a valid private key: a private key must be 64 hex digits",
        },
        Case {
            name: "public key not on the curve",
            setup: |d| {
                let path = d.join(".env.production");
                let text = fs::read_to_string(&path).unwrap();
                let bad = format!("02{}05", "0".repeat(62));
                fs::write(
                    &path,
                    text.replace(
                        "0248b14ecfb7241b62b33821f47dc9be3078f85106c968facd8113b88bf1b310f3",
                        &bad,
                    ),
                )
                .unwrap();
            },
            args: &["encrypt", "-f", ".env.production"],
            env: &[],
            code: 1,
            message: ".env.production:5: DOTENV_PUBLIC_KEY_PRODUCTION is not a valid public key: the public key is not a point on secp256k1",
        },
        Case {
            name: ".env.keys with the wrong key",
            setup: |d| {
                let wrong = "1111111111111111111111111111111111111111111111111111111111111111";
                fs::write(
                    d.join(".env.keys"),
                    format!("DOTENV_PRIVATE_KEY_PRODUCTION={wrong}\n"),
                )
                .unwrap();
            },
            args: &["get", "-f", ".env.production"],
            env: &[],
            code: 1,
            message: "no private key matching public key 0248b1…; set DOTENV_PRIVATE_KEY_PRODUCTION or add it to .env.keys",
        },
        Case {
            name: "missing file",
            setup: |_| {},
            args: &["get", "-f", ".env.staging"],
            env: &[],
            code: 1,
            message: ".env.staging: No such file or directory",
        },
        Case {
            name: "unreadable file (a FIFO; chmod 000 does not stop root)",
            setup: |d| {
                let status = Command::new("mkfifo")
                    .arg(d.join(".env.fifo"))
                    .status()
                    .unwrap();
                assert!(status.success());
            },
            args: &["get", "-f", ".env.fifo"],
            env: &[],
            code: 1,
            message: ".env.fifo: not a regular file",
        },
        Case {
            name: "a directory where a file should be",
            setup: |d| fs::create_dir(d.join(".env.staging")).unwrap(),
            args: &["encrypt", "-f", ".env.staging"],
            env: &[],
            code: 1,
            message: ".env.staging: not a regular file",
        },
        Case {
            name: "symlink pointing outside the project",
            setup: |d| {
                fs::create_dir(d.join(".git")).unwrap();
                std::os::unix::fs::symlink("/etc/hostname", d.join(".env.staging")).unwrap();
            },
            args: &["encrypt", "-f", ".env.staging"],
            env: &[],
            code: 1,
            message: ".env.staging: is a symbolic link to a file outside the project",
        },
        Case {
            name: "command substitution in a secret",
            setup: |d| fs::write(d.join(".env.staging"), "A=\"$(touch pwned)\"\n").unwrap(),
            args: &["get", "-f", ".env.staging"],
            env: &[],
            code: 1,
            message: ".env.staging:1: A contains a command substitution $(...)",
        },
    ]
}

#[test]
fn bad_inputs_get_specific_errors_and_change_nothing() {
    let mut checked = 0;
    for case in cases() {
        let dir = case_dir("kat-fixed-key");
        (case.setup)(dir.path());
        let before = snapshot(dir.path());
        let mut cmd = envx(dir.path());
        cmd.args(case.args);
        for (k, v) in case.env {
            cmd.env(k, v);
        }
        let out = cmd.assert().code(case.code);
        let err = stderr_of(out.get_output());
        assert!(err.contains(case.message), "{}: {err}", case.name);
        for secret in [SECRET, "Hello, envx!", "s3cr3t@db", &KAT_PRIVATE[..16]] {
            assert!(
                !err.contains(secret),
                "{}: leaked {secret}: {err}",
                case.name
            );
        }
        assert_eq!(
            snapshot(dir.path()),
            before,
            "{}: a file changed",
            case.name
        );
        assert!(!dir.path().join("pwned").exists());
        checked += 1;
    }
    assert_eq!(checked, cases().len());
}

#[test]
fn an_expansion_cycle_terminates() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".env"), "A=${B}x\nB=${A}y\nC=${C}z\n").unwrap();
    let values = crate::common::get_json(dir.path(), ".env");
    assert_eq!(
        (
            values["A"].as_str(),
            values["B"].as_str(),
            values["C"].as_str()
        ),
        (Some("x"), Some("xy"), Some("z"))
    );
}

#[test]
fn a_10_mb_value_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let big = "x".repeat(10 << 20);
    fs::write(dir.path().join(".env"), format!("BIG={big}\n")).unwrap();
    envx(dir.path()).arg("encrypt").assert().success();
    // The value really was encrypted: the file holds a ciphertext and not the plaintext.
    let stored = fs::read_to_string(dir.path().join(".env")).unwrap();
    assert!(stored.contains("BIG=encrypted:"), "not encrypted");
    assert!(
        !stored.contains(&big[..64]),
        "the plaintext is still in the file"
    );
    let out = envx(dir.path()).args(["get", "BIG"]).assert().success();
    assert_eq!(out.get_output().stdout.len(), big.len() + 1);
    assert!(
        out.get_output()
            .stdout
            .iter()
            .take(big.len())
            .all(|&b| b == b'x')
    );
}

#[test]
fn keys_files_readable_by_others_warn_and_strict_refuses() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = case_dir("kat-fixed-key");
    fs::set_permissions(
        dir.path().join(".env.keys"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = envx(dir.path())
        .args(["get", "GREETING", "-f", ".env.production"])
        .assert()
        .success();
    assert!(stderr_of(out.get_output()).contains("readable by other users (mode 644)"));
    let out = envx(dir.path())
        .args(["--strict", "get", "GREETING", "-f", ".env.production"])
        .assert()
        .code(1);
    assert!(out.get_output().stdout.is_empty());
    envx(dir.path())
        .args(["get", "GREETING", "-f", ".env.production"])
        .env("ENVX_STRICT", "1")
        .assert()
        .code(1);
}

#[test]
fn concurrent_sets_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("envx");
    let children: Vec<_> = (0..32)
        .map(|i| {
            Command::new(&bin)
                .args([
                    "set",
                    &format!("KEY_{i}"),
                    &format!("value_{i}"),
                    "-f",
                    ".env.production",
                ])
                .current_dir(dir.path())
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let values = crate::common::get_json(dir.path(), ".env.production");
    for i in 0..32 {
        assert_eq!(values[&format!("KEY_{i}")], format!("value_{i}"), "KEY_{i}");
    }
    let keys = fs::read_to_string(dir.path().join(".env.keys")).unwrap();
    assert_eq!(
        keys.matches("DOTENV_PRIVATE_KEY_PRODUCTION=").count(),
        1,
        "one key pair, not one per process"
    );
}

#[test]
fn a_killed_encrypt_leaves_the_old_file_or_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut plain = String::new();
    for i in 0..10_000 {
        plain.push_str(&format!("KEY_{i:05}=value-number-{i}-with-some-length\n"));
    }
    let path = dir.path().join(".env");
    let bin = assert_cmd::cargo::cargo_bin("envx");
    // How long a whole run takes, to spread the kills over it.
    fs::write(&path, &plain).unwrap();
    let started = std::time::Instant::now();
    envx(dir.path()).arg("encrypt").assert().success();
    let mut full = started.elapsed();
    let keys = fs::read(dir.path().join(".env.keys")).unwrap();
    let mut seen_old = 0;
    let mut seen_new = 0;
    // Delays sweep from 0 to twice the measured run time, again and again, until both
    // outcomes were seen: a loaded machine may stretch a later run past the first one.
    let mut round = 0u32;
    while round < 24 || (seen_old == 0 || seen_new == 0) && round < 120 {
        round += 1;
        if round.is_multiple_of(24) && (seen_old == 0 || seen_new == 0) {
            // A whole sweep saw one outcome only: the machine got slower (or faster) since
            // the first measurement, so measure an uninterrupted run again.
            fs::write(&path, &plain).unwrap();
            fs::write(dir.path().join(".env.keys"), &keys).unwrap();
            let started = std::time::Instant::now();
            envx(dir.path()).arg("encrypt").assert().success();
            full = started.elapsed();
        }
        fs::write(&path, &plain).unwrap();
        fs::write(dir.path().join(".env.keys"), &keys).unwrap();
        let mut child = Command::new(&bin)
            .arg("encrypt")
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full.mul_f64(f64::from(round % 24) / 12.0));
        let _ = child.kill();
        let _ = child.wait();
        let after = fs::read_to_string(&path).unwrap();
        if after == plain {
            seen_old += 1;
            continue;
        }
        let doc = envx_core::document::Document::parse(&after);
        let encrypted = doc
            .entries()
            .iter()
            .filter(|e| e.value().starts_with("encrypted:"))
            .count();
        assert_eq!(encrypted, 10_000, "round {round}: a partly written file");
        assert!(after.starts_with("#/-------------------[DOTENV_PUBLIC_KEY]"));
        // The new file's key was stored before it was written.
        let values = crate::common::get_json(dir.path(), ".env");
        assert_eq!(values["KEY_09999"], "value-number-9999-with-some-length");
        seen_new += 1;
    }
    assert!(
        seen_old > 0 && seen_new > 0,
        "old {seen_old}, new {seen_new}: the kills missed the window"
    );
}
