//! `encrypt` and `decrypt` on the plaintext inputs of the fixtures, checked by reading back,
//! by byte comparison, and by an independent ECIES implementation.

use std::fs;
use std::path::Path;

use crate::common::{case_dir, cases, envx, get_json, read_json_map};

/// Decrypts one stored value with the `ecies` crate (a test-only oracle).
fn oracle_decrypt(private_hex: &str, stored: &str) -> String {
    let key: Vec<u8> = (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(&private_hex[i..i + 2], 16).unwrap())
        .collect();
    let payload = envx_core::crypto::decode_payload(stored).unwrap();
    String::from_utf8(ecies::decrypt(&key, &payload).unwrap()).unwrap()
}

fn private_key_of(dir: &Path, name: &str) -> String {
    let keys = fs::read_to_string(dir.join(".env.keys")).unwrap();
    keys.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} not in .env.keys"))
        .to_owned()
}

#[test]
fn encrypting_each_input_gives_dotenvx_values_and_is_idempotent() {
    let mut checked = 0;
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
            let once = fs::read(dir.path().join(name)).unwrap();
            let keys_once = fs::read(dir.path().join(".env.keys")).unwrap();
            envx(dir.path())
                .args(["encrypt", "-f", name])
                .assert()
                .success();
            assert_eq!(
                fs::read(dir.path().join(name)).unwrap(),
                once,
                "{case}: second encrypt changed the file"
            );
            assert_eq!(fs::read(dir.path().join(".env.keys")).unwrap(), keys_once);

            // Same values as dotenvx reported, apart from the (new) public key.
            let mut expected = read_json_map(&dir.path().join(file["expected"].as_str().unwrap()));
            let mut actual = get_json(dir.path(), name);
            let public_name = file["public_key_name"].as_str().unwrap();
            assert!(
                actual.remove(public_name).is_some(),
                "{case}: no {public_name}"
            );
            expected.remove(public_name);
            assert_eq!(actual, expected, "{case}");

            // Every value opens with the independent implementation too.
            let private = private_key_of(dir.path(), file["private_key_name"].as_str().unwrap());
            let text = String::from_utf8(once).unwrap();
            let doc = envx_core::document::Document::parse(&text);
            for entry in doc
                .entries()
                .iter()
                .filter(|e| e.value().starts_with("encrypted:"))
            {
                let plain = oracle_decrypt(&private, &entry.value());
                assert_eq!(
                    serde_json::Value::from(plain),
                    expected[entry.key()],
                    "{case}/{}",
                    entry.key()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 30, "only {checked} values checked");
}

#[test]
fn decrypt_restores_the_plaintext_input() {
    for case in [
        "simple",
        "quoting-styles",
        "comments-and-blank-lines",
        "unicode",
        "empty-values",
    ] {
        let dir = case_dir(case);
        let meta = &cases().into_iter().find(|(c, _)| c == case).unwrap().1;
        let file = &meta["files"][0];
        let name = file["encrypted"].as_str().unwrap();
        envx(dir.path())
            .args(["decrypt", "-f", name])
            .assert()
            .success();
        let decrypted = fs::read_to_string(dir.path().join(name)).unwrap();
        // The header block (7 lines: banner, public key, blank, file comment) stays.
        let body: String = decrypted.split_inclusive('\n').skip(7).collect();
        let input = fs::read_to_string(dir.path().join("input.env")).unwrap();
        assert_eq!(body, input, "{case}");
    }
}

#[test]
fn decrypt_then_encrypt_reads_back_the_same_values() {
    let dir = case_dir("multiline");
    let before = get_json(dir.path(), ".env.production");
    envx(dir.path())
        .args(["decrypt", "-f", ".env.production"])
        .assert()
        .success();
    assert_eq!(get_json(dir.path(), ".env.production"), before);
    envx(dir.path())
        .args(["encrypt", "-f", ".env.production"])
        .assert()
        .success();
    assert_eq!(get_json(dir.path(), ".env.production"), before);
}

#[test]
fn stdout_writes_nothing() {
    let dir = case_dir("simple");
    let before = crate::common::snapshot(dir.path());
    let out = envx(dir.path())
        .args(["decrypt", "--stdout"])
        .assert()
        .success();
    let printed = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        printed.contains("API_TOKEN=sk_live_51HqLyjWDarjtT1zdp7dc"),
        "{printed}"
    );
    // The key cache is the user's ($HOME/.cache, HOME being this folder), not the project's:
    // tests/integration/cache.rs covers it.
    let mut after = crate::common::snapshot(dir.path());
    after.retain(|path, _| !path.starts_with(dir.path().join(".cache")));
    assert_eq!(after, before);
}

#[test]
fn selected_keys_only() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".env"),
        "API_TOKEN=a\nGH_TOKEN=b\nPORT=8080\nAPI_URL=u\n",
    )
    .unwrap();
    envx(dir.path())
        .args(["encrypt", "-k", "*_TOKEN", "-k", "API_*", "-x", "API_URL"])
        .assert()
        .success();
    let text = fs::read_to_string(dir.path().join(".env")).unwrap();
    assert!(text.contains("API_TOKEN=encrypted:"));
    assert!(text.contains("GH_TOKEN=encrypted:"));
    assert!(text.contains("PORT=8080\n"));
    assert!(text.contains("API_URL=u\n"));
}
