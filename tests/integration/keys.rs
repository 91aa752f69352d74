//! Finding private keys, `keypair` and `ls`.

use std::fs;

use crate::common::{case_dir, envx, get_json};

const KAT_PRIVATE: &str = "64294efce9d019865bd2ed212fac9dfaacfb744fa5fd5c39453ea0f20871948f";
const KAT_PUBLIC: &str = "0248b14ecfb7241b62b33821f47dc9be3078f85106c968facd8113b88bf1b310f3";

#[test]
fn keypair_prints_both_keys_and_warns() {
    let dir = case_dir("kat-fixed-key");
    let out = envx(dir.path())
        .args(["keypair", "-f", ".env.production"])
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["DOTENV_PUBLIC_KEY_PRODUCTION"], KAT_PUBLIC);
    assert_eq!(json["DOTENV_PRIVATE_KEY_PRODUCTION"], KAT_PRIVATE);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("PRIVATE key"));

    fs::remove_file(dir.path().join(".env.keys")).unwrap();
    let out = envx(dir.path())
        .args(["keypair", "-f", ".env.production", "--format", "shell"])
        .assert()
        .success();
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout),
        format!("DOTENV_PUBLIC_KEY_PRODUCTION={KAT_PUBLIC} DOTENV_PRIVATE_KEY_PRODUCTION=\n")
    );
}

#[test]
fn keys_file_in_a_parent_folder_serves_a_monorepo() {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir(root.path().join(".git")).unwrap();
    let app = root.path().join("apps/api");
    fs::create_dir_all(&app).unwrap();
    crate::common::copy_dir(
        &crate::common::fixtures().join("dotenvx/kat-fixed-key"),
        &app,
    );
    fs::rename(app.join(".env.keys"), root.path().join(".env.keys")).unwrap();
    let map = get_json(&app, ".env.production");
    assert_eq!(map["GREETING"], "Hello, envx! ✓");
    // From the root too, with the file in a subfolder.
    let map = get_json(root.path(), "apps/api/.env.production");
    assert_eq!(map["GREETING"], "Hello, envx! ✓");
}

#[test]
fn the_key_matching_the_public_key_wins_over_the_first_one() {
    let dir = case_dir("kat-fixed-key");
    let wrong = envx_core::keys::PrivateKey::generate();
    let keys = format!(
        "DOTENV_PRIVATE_KEY_PRODUCTION={}\nDOTENV_PRIVATE_KEY_OLD={},{KAT_PRIVATE}\n",
        wrong.expose_hex().as_str(),
        wrong.expose_hex().as_str()
    );
    fs::write(dir.path().join(".env.keys"), keys).unwrap();
    assert_eq!(
        get_json(dir.path(), ".env.production")["GREETING"],
        "Hello, envx! ✓"
    );
}

#[test]
fn the_variable_is_used_first() {
    let dir = case_dir("kat-fixed-key");
    fs::remove_file(dir.path().join(".env.keys")).unwrap();
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
    assert_eq!(
        file["private_key"]["source"],
        "$DOTENV_PRIVATE_KEY_PRODUCTION"
    );
}

#[test]
fn ls_lists_keys_and_never_values() {
    let dir = case_dir("comments-and-blank-lines");
    fs::write(
        dir.path().join(".env.local"),
        "LOCAL_ONLY=plain-secret-value\n",
    )
    .unwrap();
    let out = envx(dir.path())
        .args(["ls", "--format", "json"])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        !text.contains("plain-secret-value") && !text.contains("hunter2"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let files = json["files"].as_array().unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, [".env.local", ".env.staging", "input.env"]);
    let staging = &files[1];
    assert_eq!(staging["private_key"]["available"], true);
    // The whole key, as the file declares it, so a script can compare keys (issue 16).
    let public = staging["public_key"].as_str().unwrap();
    assert_eq!(public.len(), 66, "{public}");
    let staging_text = fs::read_to_string(dir.path().join(".env.staging")).unwrap();
    assert!(staging_text.contains(&format!("=\"{public}\"")), "{public}");
    let db = staging["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "DB_PASSWORD")
        .unwrap();
    assert_eq!(db["encrypted"], true);
    let local = &files[0]["keys"][0];
    assert_eq!(
        (local["name"].as_str(), local["encrypted"].as_bool()),
        (Some("LOCAL_ONLY"), Some(false))
    );

    let out = envx(dir.path()).args(["ls"]).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        text.contains("DB_PASSWORD") && text.contains("encrypted") && !text.contains("hunter2")
    );
}

#[test]
fn completions_and_version() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = envx(dir.path())
            .args(["completions", shell])
            .assert()
            .success();
        assert!(
            String::from_utf8_lossy(&out.get_output().stdout).contains("encrypt"),
            "{shell}"
        );
    }
    let out = envx(dir.path()).arg("--version").assert().success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).starts_with("envx "));
}
