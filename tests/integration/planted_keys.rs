//! A broken or planted `.env.keys` next to the file: a warning when the key comes from
//! elsewhere, an error when it may be where the key is.

use std::fs;

use crate::common::{case_dir, envx, stderr_of};

const KAT_PRIVATE: &str = "64294efce9d019865bd2ed212fac9dfaacfb744fa5fd5c39453ea0f20871948f";
const MALFORMED: &str = "DOTENV_PRIVATE_KEY_PRODUCTION=64294efce9d019865bd2ed212fac9dfzz\n";

/// The ways a keys file can be broken: a malformed key for the file, bytes that are not text,
/// a folder in its place.
fn plant(dir: &std::path::Path, how: &str) -> &'static str {
    let keys = dir.join(".env.keys");
    fs::remove_file(&keys).unwrap();
    match how {
        "malformed" => {
            fs::write(&keys, format!("# planted\n{MALFORMED}")).unwrap();
            ".env.keys:2: DOTENV_PRIVATE_KEY_PRODUCTION is not a valid private key: a private key must be 64 hex digits"
        }
        "binary" => {
            fs::write(&keys, b"DOTENV_PRIVATE_KEY_PRODUCTION=\xff\xfe\n").unwrap();
            ".env.keys:1: not valid UTF-8"
        }
        "folder" => {
            fs::create_dir(&keys).unwrap();
            ".env.keys: not a regular file"
        }
        other => unreachable!("{other}"),
    }
}

#[test]
fn a_broken_keys_file_that_is_not_needed_warns_and_the_run_goes_on() {
    for how in ["malformed", "binary", "folder"] {
        let dir = case_dir("kat-fixed-key");
        let message = plant(dir.path(), how);
        let out = envx(dir.path())
            .args(["run", "-f", ".env.production", "--", "env", "-0"])
            .env("DOTENV_PRIVATE_KEY_PRODUCTION", KAT_PRIVATE)
            .assert()
            .success();
        let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        assert!(stdout.contains("GREETING=Hello, envx!"), "{how}");
        let stderr = stderr_of(out.get_output());
        assert!(
            stderr.contains(message) && stderr.contains("; ignored, the key came from elsewhere"),
            "{how}: {stderr}"
        );
        assert!(
            !stderr.contains(KAT_PRIVATE) && !stderr.contains("dfzz"),
            "{stderr}"
        );
        // get takes the same path.
        let out = envx(dir.path())
            .args(["get", "GREETING", "-f", ".env.production"])
            .env("DOTENV_PRIVATE_KEY_PRODUCTION", KAT_PRIVATE)
            .assert()
            .success();
        assert!(
            out.get_output().stdout.starts_with(b"Hello, envx!"),
            "{how}"
        );
        assert!(stderr_of(out.get_output()).contains(message), "{how}");
        // So do decrypt and set, which need the key too.
        for args in [
            &["decrypt", "-f", ".env.production", "--stdout"][..],
            &["set", "GREETING", "Hello again", "-f", ".env.production"][..],
        ] {
            let out = envx(dir.path())
                .args(args)
                .env("DOTENV_PRIVATE_KEY_PRODUCTION", KAT_PRIVATE)
                .assert()
                .success();
            let stderr = stderr_of(out.get_output());
            assert!(
                stderr.contains(message)
                    && stderr.contains("; ignored, the key came from elsewhere"),
                "{how} {}: {stderr}",
                args[0]
            );
        }
    }
}

#[test]
fn a_broken_keys_file_that_may_hold_the_key_is_an_error() {
    for how in ["malformed", "binary", "folder"] {
        let dir = case_dir("kat-fixed-key");
        let message = plant(dir.path(), how);
        let out = envx(dir.path())
            .args(["run", "-f", ".env.production", "--", "env", "-0"])
            .assert()
            .code(1);
        assert!(
            out.get_output().stdout.is_empty(),
            "{how}: the child started"
        );
        let stderr = stderr_of(out.get_output());
        assert!(
            stderr.contains("no private key matching public key 0248b1"),
            "{how}: {stderr}"
        );
        assert!(stderr.contains(message), "{how}: {stderr}");
        assert!(!stderr.contains("dfzz"), "{stderr}");
    }
}

#[test]
fn a_malformed_key_in_the_environment_for_the_file_is_still_an_error() {
    let dir = case_dir("kat-fixed-key");
    let out = envx(dir.path())
        .args(["run", "-f", ".env.production", "--", "true"])
        .env("DOTENV_PRIVATE_KEY_PRODUCTION", "nothex")
        .assert()
        .code(1);
    assert!(
        stderr_of(out.get_output())
            .contains("DOTENV_PRIVATE_KEY_PRODUCTION is not a valid private key")
    );
}

#[test]
fn ls_shows_a_broken_keys_file() {
    let dir = case_dir("kat-fixed-key");
    plant(dir.path(), "malformed");
    let out = envx(dir.path())
        .args(["ls", "--format", "json"])
        .env("DOTENV_PRIVATE_KEY_PRODUCTION", KAT_PRIVATE)
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let file = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == ".env.production")
        .unwrap();
    assert_eq!(file["private_key"]["available"], true);
    let problems = file["private_key"]["keys_file_problems"].to_string();
    assert!(
        problems.contains("DOTENV_PRIVATE_KEY_PRODUCTION is not a valid private key"),
        "{problems}"
    );
    let out = envx(dir.path())
        .arg("ls")
        .env("DOTENV_PRIVATE_KEY_PRODUCTION", KAT_PRIVATE)
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.contains("keys file problem: "), "{text}");
}
