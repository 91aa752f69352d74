//! Error paths: each names the file, line and key, exits non-zero, shows no secret, and leaves
//! every file byte-identical.

use std::fs;

use crate::common::{case_dir, envx, snapshot, stderr_of};

/// Runs `args` in `dir`, expects exit `code`, checks no file changed and returns stderr.
fn fails(dir: &std::path::Path, args: &[&str], code: i32) -> String {
    let before = snapshot(dir);
    let out = envx(dir).args(args).assert().code(code);
    assert_eq!(snapshot(dir), before, "{args:?} changed a file");
    assert!(
        out.get_output().stdout.is_empty() || code == 0,
        "{args:?} printed a result"
    );
    stderr_of(out.get_output())
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in ["encrypt", "decrypt", "get", "keypair"] {
        let err = fails(dir.path(), &[cmd, "-f", ".env.nope"], 1);
        assert!(
            err.contains(".env.nope") && err.contains("No such file"),
            "{cmd}: {err}"
        );
    }
}

#[test]
fn missing_private_key_names_the_variable_and_the_places_searched() {
    let dir = case_dir("kat-fixed-key");
    fs::remove_file(dir.path().join(".env.keys")).unwrap();
    for cmd in ["decrypt", "get"] {
        let err = fails(dir.path(), &[cmd, "-f", ".env.production"], 1);
        assert!(err.contains("DOTENV_PRIVATE_KEY_PRODUCTION"), "{err}");
        assert!(err.contains("0248b1"), "{err}");
        assert!(err.contains(".env.keys"), "{err}");
    }
}

#[test]
fn wrong_private_key() {
    let dir = case_dir("kat-fixed-key");
    let other = envx_core::keys::PrivateKey::generate();
    let out = envx(dir.path())
        .args(["get", "-f", ".env.production"])
        .env("DOTENV_PRIVATE_KEY_PRODUCTION", other.expose_hex().as_str())
        .assert()
        .success();
    // The right key is still found in .env.keys: the variable's key does not match the file.
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("Hello, envx!"));

    fs::remove_file(dir.path().join(".env.keys")).unwrap();
    let before = snapshot(dir.path());
    let out = envx(dir.path())
        .args(["decrypt", "-f", ".env.production"])
        .env("DOTENV_PRIVATE_KEY_PRODUCTION", other.expose_hex().as_str())
        .assert()
        .code(1);
    let err = stderr_of(out.get_output());
    assert!(
        err.contains("no private key matching public key 0248b1"),
        "{err}"
    );
    assert!(
        !err.contains(&other.expose_hex()[..16]),
        "the key leaked: {err}"
    );
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn damaged_ciphertext_names_file_line_and_key() {
    let dir = case_dir("kat-fixed-key");
    let path = dir.path().join(".env.production");
    let text = fs::read_to_string(&path).unwrap();
    // Change one base64 character in the middle of DATABASE_URL's ciphertext.
    let start = text.find("DATABASE_URL=encrypted:").unwrap() + 40;
    let mut bytes = text.into_bytes();
    bytes[start] = if bytes[start] == b'A' { b'B' } else { b'A' };
    fs::write(&path, bytes).unwrap();
    let err = fails(dir.path(), &["decrypt", "-f", ".env.production"], 1);
    assert!(
        err.contains(".env.production:10: cannot decrypt DATABASE_URL"),
        "{err}"
    );
    let err = fails(dir.path(), &["get", "-f", ".env.production"], 1);
    assert!(err.contains("DATABASE_URL"), "{err}");
}

#[test]
fn malformed_line_is_refused_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".env"), "A=1\nAPI KEY=s3cret-value\nB=2\n").unwrap();
    for args in [&["encrypt"][..], &["get"], &["decrypt"], &["set", "C", "3"]] {
        let err = fails(dir.path(), args, 1);
        assert!(
            err.contains(".env:2: not a KEY=value assignment"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
    }
}

#[test]
fn unknown_key() {
    let dir = case_dir("simple");
    let err = fails(dir.path(), &["get", "NOPE"], 1);
    assert!(err.contains("NOPE is not defined in .env"), "{err}");
}

#[test]
fn invalid_key_name_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".env"), "A=1\n").unwrap();
    let err = fails(dir.path(), &["set", "BAD KEY", "v"], 2);
    assert!(err.contains("not a valid key name"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    fails(dir.path(), &["encrypt", "--no-such-flag"], 2);
    fails(dir.path(), &["frobnicate"], 2);
}

#[test]
fn invalid_public_key_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".env"),
        "DOTENV_PUBLIC_KEY=\"02abcd\"\nA=1\n",
    )
    .unwrap();
    let err = fails(dir.path(), &["encrypt"], 1);
    assert!(
        err.contains(".env:1: DOTENV_PUBLIC_KEY is not a valid public key"),
        "{err}"
    );
}

#[test]
fn directory_instead_of_file() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(".env.production")).unwrap();
    let err = fails(dir.path(), &["get", "-f", ".env.production"], 1);
    assert!(err.contains(".env.production: not a regular file"), "{err}");
}
