//! What dotenvx users type, checked without dotenvx (issue 16): `del`, `encrypt --with`,
//! `keypair KEY`, warnings that name what matched nothing, and usage errors that stop before
//! anything is loaded or run. `parity.rs` compares the same commands with dotenvx itself.

use std::fs;

use crate::common::{envx, snapshot, stderr_of};

#[test]
fn run_refuses_an_unknown_option_before_loading_or_starting_anything() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".env"), "A=1\n").unwrap();
    let out = envx(dir.path())
        .args([
            "run",
            "--key-command",
            "touch key-command-ran",
            "--bogus",
            "touch",
            "child-ran",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("--bogus"), "{}", stderr_of(&out));
    assert!(!dir.path().join("key-command-ran").exists());
    assert!(!dir.path().join("child-ran").exists());

    // After `--`, or after the command's first word, the same word is the child's.
    for args in [
        &["run", "--", "printf", "%s", "--bogus"][..],
        &["run", "printf", "%s", "--bogus"][..],
    ] {
        let out = envx(dir.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
        assert_eq!(out.stdout, b"--bogus");
    }
}

#[test]
fn del_removes_every_occurrence_with_all_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    fs::write(
        &env,
        "A=1\nSECRET=\"line one\nline two\"\nB=2\nexport SECRET=again\n",
    )
    .unwrap();
    envx(dir.path())
        .args(["del", "SECRET", "-f", ".env"])
        .assert()
        .success();
    assert_eq!(fs::read_to_string(&env).unwrap(), "A=1\nB=2\n");

    // Absent: a warning naming the key, and no byte changed.
    let before = snapshot(dir.path());
    let out = envx(dir.path())
        .args(["del", "SECRET", "--file", ".env"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr_of(&out).contains("warning") && stderr_of(&out).contains("SECRET"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(before, snapshot(dir.path()));

    // A missing file is an error and is not created.
    let out = envx(dir.path())
        .args(["del", "A", "-f", ".env.none"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.path().join(".env.none").exists());

    // An encrypted value goes without its private key: deleting needs no key.
    fs::write(&env, "KEEP=1\nGONE=2\n").unwrap();
    envx(dir.path()).args(["encrypt"]).assert().success();
    fs::remove_file(dir.path().join(".env.keys")).unwrap();
    envx(dir.path()).args(["del", "GONE"]).assert().success();
    let text = fs::read_to_string(&env).unwrap();
    assert!(
        !text.contains("GONE") && text.contains("KEEP=encrypted:"),
        "{text}"
    );
}

#[test]
fn names_that_match_nothing_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".env"), "API_KEY=1\nOTHER=2\n").unwrap();
    let warned = |args: &[&str], name: &str| {
        let out = envx(dir.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr_of(&out));
        let stderr = stderr_of(&out);
        stderr
            .lines()
            .any(|l| l.contains("warning") && l.contains(name))
    };
    assert!(warned(&["set", "API_KEYY", "x"], "API_KEYY"));
    assert!(!warned(&["set", "API_KEY", "y"], "API_KEY"));
    assert!(warned(&["get", "-k", "NOPE"], "NOPE"));
    assert!(warned(&["run", "--only", "NOPE*", "--", "true"], "NOPE*"));
    assert!(!warned(&["run", "--only", "API*", "--", "true"], "API*"));
    // Several keys after one -k, one of them unknown: the others are still encrypted.
    assert!(warned(&["encrypt", "-k", "OTHER", "MISSING"], "MISSING"));
    let text = fs::read_to_string(dir.path().join(".env")).unwrap();
    assert!(text.contains("OTHER=encrypted:"), "{text}");
}

#[test]
fn encrypt_with_a_public_key_needs_no_private_key_and_writes_none() {
    // The owner has a key pair; a contributor has only the public key from the owner's file.
    let owner = tempfile::tempdir().unwrap();
    fs::write(owner.path().join(".env.production"), "OLD=1\n").unwrap();
    envx(owner.path())
        .args(["encrypt", "-f", ".env.production"])
        .assert()
        .success();
    let out = envx(owner.path())
        .args([
            "keypair",
            "DOTENV_PUBLIC_KEY_PRODUCTION",
            "-f",
            ".env.production",
        ])
        .output()
        .unwrap();
    let public = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(public.len(), 66, "{public}");

    let contributor = tempfile::tempdir().unwrap();
    let file = contributor.path().join(".env.production");
    fs::write(&file, "API_TOKEN=tok_live_1234\n").unwrap();
    envx(contributor.path())
        .args(["encrypt", "-f", ".env.production", "--with", &public])
        .assert()
        .success();
    let text = fs::read_to_string(&file).unwrap();
    assert!(!text.contains("tok_live_1234"), "{text}");
    assert!(text.contains(&public), "{text}");
    assert!(!contributor.path().join(".env.keys").exists());

    // The owner reads what the contributor wrote.
    fs::copy(&file, owner.path().join(".env.production")).unwrap();
    let out = envx(owner.path())
        .args(["get", "API_TOKEN", "-f", ".env.production"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"tok_live_1234\n", "{}", stderr_of(&out));

    // With --stdout too: nothing is written, and no private key is lost since none was made.
    let fresh = contributor.path().join(".env.fresh");
    fs::write(&fresh, "B=secret-b\n").unwrap();
    let before = snapshot(contributor.path());
    let out = envx(contributor.path())
        .args(["encrypt", "-f", ".env.fresh", "--with", &public, "--stdout"])
        .output()
        .unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(
        printed.contains(&public) && printed.contains("B=encrypted:"),
        "{printed}"
    );
    assert!(!printed.contains("secret-b"), "{printed}");
    assert_eq!(before, snapshot(contributor.path()));

    // A file with another key is refused unchanged; a malformed key is a usage error.
    let other = contributor.path().join(".env.other");
    fs::write(&other, "X=1\n").unwrap();
    envx(contributor.path())
        .args(["encrypt", "-f", ".env.other"])
        .assert()
        .success();
    let before = snapshot(contributor.path());
    let out = envx(contributor.path())
        .args(["encrypt", "-f", ".env.other", "--with", &public])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let out = envx(contributor.path())
        .args(["encrypt", "-f", ".env.other", "--with", "02abcd"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert_eq!(before, snapshot(contributor.path()));
}

#[test]
fn keypair_prints_one_key_by_name() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".env.ci"), "A=1\n").unwrap();
    envx(dir.path())
        .args(["encrypt", "-f", ".env.ci"])
        .assert()
        .success();
    let keys = fs::read_to_string(dir.path().join(".env.keys")).unwrap();
    let out = envx(dir.path())
        .args(["keypair", "DOTENV_PRIVATE_KEY_CI", "-f", ".env.ci"])
        .output()
        .unwrap();
    let hex = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(hex.trim().len(), 64);
    assert!(keys.contains(&format!("DOTENV_PRIVATE_KEY_CI={}", hex.trim())));
    assert!(
        stderr_of(&out).contains("PRIVATE key"),
        "{}",
        stderr_of(&out)
    );

    let out = envx(dir.path())
        .args(["keypair", "DOTENV_PRIVATE_KEY_PROD", "-f", ".env.ci"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());

    // With the keys file gone, the private key comes from --key-command, as for every command
    // that reads one.
    fs::remove_file(dir.path().join(".env.keys")).unwrap();
    let out = envx(dir.path())
        .args([
            "keypair",
            "DOTENV_PRIVATE_KEY_CI",
            "-f",
            ".env.ci",
            "--key-command",
        ])
        .arg(format!("echo {}", hex.trim()))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        hex.trim(),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn mask_and_several_files_where_one_is_expected_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".env"), "A=1\n").unwrap();
    fs::write(dir.path().join(".env.b"), "A=1\n").unwrap();
    let before = snapshot(dir.path());
    for args in [
        &["decrypt", "--mask"][..],
        &["set", "A", "2", "-f", ".env,.env.b"][..],
        &["keypair", "-f", ".env", "-f", ".env.b"][..],
        &["set", "A", "2", "--plain", "-c"][..],
        &["get", "--ignore", "DECRYPTION_FAILED"][..],
        &["get", "--log-level", "loud"][..],
    ] {
        let out = envx(dir.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
    }
    assert_eq!(before, snapshot(dir.path()));
}

#[test]
fn a_keys_file_folder_takes_the_new_key_for_set_as_for_encrypt() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("keys")).unwrap();
    for (command, file) in [("set", ".env.a"), ("encrypt", ".env.b")] {
        fs::write(dir.path().join(file), "A=1\n").unwrap();
        let mut args = vec![command];
        if command == "set" {
            args.extend(["A", "2"]);
        }
        args.extend(["-f", file, "-fk", "keys"]);
        envx(dir.path()).args(&args).assert().success();
        let out = envx(dir.path())
            .args(["get", "A", "-f", file, "--keys-file", "keys"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{command}: {}", stderr_of(&out));
    }
    let keys = fs::read_to_string(dir.path().join("keys/.env.keys")).unwrap();
    assert!(keys.contains("DOTENV_PRIVATE_KEY_A=") && keys.contains("DOTENV_PRIVATE_KEY_B="));
    assert!(!dir.path().join(".env.keys").exists());
}
