//! Unit tests of team access.

use std::collections::HashMap;
use std::fs;

use super::identity::{Identities, generate};
use super::*;
use crate::discover::{KeySearch, KeysFileCache};
use crate::keys_file::append_key;

struct Setup {
    dir: tempfile::TempDir,
    env: PathBuf,
    key: PrivateKey,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(".git")).unwrap();
    let key = PrivateKey::generate();
    let env = dir.path().join(".env.production");
    let stored = crate::crypto::encrypt_value(key.public_key(), b"secret-value");
    fs::write(
        &env,
        format!(
            "DOTENV_PUBLIC_KEY_PRODUCTION=\"{}\"\nA={stored}\nB=plain\n",
            key.public_key().to_hex()
        ),
    )
    .unwrap();
    fs::write(
        dir.path().join(".env.keys"),
        append_key(None, &env, "DOTENV_PRIVATE_KEY_PRODUCTION", &key).as_bytes(),
    )
    .unwrap();
    Setup { dir, env, key }
}

fn decryptor(env: &Path, identities: Option<&Identities>) -> (EnvFile, Decryptor) {
    let file = EnvFile::open(env).unwrap();
    let vars = HashMap::new();
    let search = KeySearch {
        identities,
        ..KeySearch::new(&vars, &[])
    };
    let d = file
        .decryptor(&search, &mut KeysFileCache::default())
        .unwrap();
    (file, d)
}

fn identity_env(text: &str) -> Identities {
    let mut env = HashMap::new();
    env.insert("ENVX_IDENTITY".to_owned(), text.to_owned());
    Identities::from_env(&env, None)
}

#[test]
fn stems_and_paths() {
    assert_eq!(stem("DOTENV_PRIVATE_KEY_PRODUCTION"), "production");
    assert_eq!(stem("DOTENV_PRIVATE_KEY"), "default");
    let p = paths_in(Path::new("app"), "DOTENV_PRIVATE_KEY_CI");
    assert_eq!(p.recipients, Path::new("app/envx-access/ci.recipients"));
    assert_eq!(p.wrapped, Path::new("app/envx-access/ci.age"));
}

#[test]
fn the_wrapped_plaintext_is_one_keys_file_line_and_reads_back() {
    let key = PrivateKey::generate();
    let other = PrivateKey::generate();
    let line = wrapped_line("DOTENV_PRIVATE_KEY_X", &[&key, &other]);
    let text = String::from_utf8(line.to_vec()).unwrap();
    assert_eq!(text.lines().count(), 1);
    let keys = keys_in(&line, "DOTENV_PRIVATE_KEY_X");
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].public_key(), key.public_key());
    assert!(keys_in(&line, "DOTENV_PRIVATE_KEY_Y").is_empty());
}

#[test]
fn recipients_parse_names_kinds_and_refuse_what_age_cannot_use() {
    let (_, r1) = generate();
    let (_, r2) = generate();
    let text = format!("# header comment here\n# alice\n{r1}\n\n{r2}\n");
    let list = recipients::parse(&text).unwrap();
    assert_eq!(list.entries[0].name, "alice");
    assert_eq!(list.entries[1].name, "line-5");
    assert!(recipients::parse("# x\nnot-a-recipient\n").is_err());
    assert!(recipients::parse(&format!("# a\n{r1}\n# a\n{r2}\n")).is_err());
}

#[test]
fn grant_wraps_to_the_identity_and_discovery_opens_it() {
    let s = setup();
    let (text, recipient) = generate();
    let (file, d) = decryptor(&s.env, None);
    let plan = grant(&file, &d, "alice", &recipient, &Options::default()).unwrap();
    plan.commit().unwrap();
    let ids = identity_env(&text);
    let (found, _) = discover(
        &s.env,
        "DOTENV_PRIVATE_KEY_PRODUCTION",
        s.key.public_key(),
        &ids,
    );
    let found = found.expect("the wrapped key opens with alice's identity");
    assert_eq!(found.key.public_key(), s.key.public_key());
    // Another identity does not, and the places searched say which was tried.
    let (other, other_recipient) = generate();
    let (none, searched) = discover(
        &s.env,
        "DOTENV_PRIVATE_KEY_PRODUCTION",
        s.key.public_key(),
        &identity_env(&other),
    );
    assert!(none.is_none());
    let joined = searched.join("\n");
    assert!(joined.contains(&other_recipient[..10]) && joined.contains("not a recipient"));
    assert!(!joined.contains("AGE-SECRET-KEY"));
}

#[test]
fn a_failure_at_any_step_of_a_commit_puts_every_file_back() {
    let s = setup();
    let (_, alice) = generate();
    let (_, bob) = generate();
    let (file, d) = decryptor(&s.env, None);
    grant(&file, &d, "alice", &alice, &Options::default())
        .unwrap()
        .commit()
        .unwrap();
    let (file, d) = decryptor(&s.env, None);
    grant(&file, &d, "bob", &bob, &Options::default())
        .unwrap()
        .commit()
        .unwrap();
    let read_all = || {
        let mut out = Vec::new();
        for p in [
            s.env.clone(),
            s.dir.path().join(".env.keys"),
            s.dir.path().join("envx-access/production.age"),
            s.dir.path().join("envx-access/production.recipients"),
        ] {
            out.push(fs::read(&p).unwrap());
        }
        out
    };
    let before = read_all();
    let steps = {
        let (file, d) = decryptor(&s.env, None);
        revoke(file, &d, "bob", true, &Options::default())
            .unwrap()
            .writes
            .len()
    };
    assert_eq!(
        steps, 6,
        "keys file, wrapped (both), env, recipients, wrapped, keys file"
    );
    for failing in 0..steps {
        let (file, d) = decryptor(&s.env, None);
        let plan = revoke(file, &d, "bob", true, &Options::default()).unwrap();
        let mut calls = 0;
        let result = commit_with(&plan.writes, |path, bytes, mode| {
            calls += 1;
            if calls == failing + 1 {
                return Err(Error::io(path, std::io::Error::other("injected")));
            }
            write_atomic(path, bytes, mode)
        });
        assert!(result.is_err());
        assert_eq!(read_all(), before, "step {failing} left a file changed");
    }
    // Without a failure the same plan goes through.
    let (file, d) = decryptor(&s.env, None);
    revoke(file, &d, "bob", true, &Options::default())
        .unwrap()
        .commit()
        .unwrap();
    assert_ne!(read_all(), before);
}

#[test]
fn a_first_grant_that_fails_removes_the_folder_it_made() {
    let s = setup();
    let (_, alice) = generate();
    let (file, d) = decryptor(&s.env, None);
    let plan = grant(&file, &d, "alice", &alice, &Options::default()).unwrap();
    let result = commit_with(&plan.writes, |path, bytes, mode| {
        if path.extension().is_some_and(|e| e == "recipients") {
            return Err(Error::io(path, std::io::Error::other("injected")));
        }
        write_atomic(path, bytes, mode)
    });
    assert!(result.is_err());
    assert!(!s.dir.path().join("envx-access").exists());
}
