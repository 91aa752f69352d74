//! `envx edit` with a scripted editor: a shell script given as EDITOR that changes the
//! temporary file with sed and reports what it saw.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::common::{envx, get_json, set_ok, snapshot, stderr_of};

/// A folder with `.env.production` holding three encrypted values and a comment.
fn encrypted_file() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".env.production"),
        "# the app\nAPI_KEY=\"sk_old_value\"\nexport DB_PASSWORD='hunter2-db'\nREGION=eu-west-1 # where\n",
    )
    .unwrap();
    envx(dir.path())
        .args(["encrypt", "-f", ".env.production"])
        .assert()
        .success();
    dir
}

/// Writes `body` as an executable editor script in `dir` and returns its path.
fn editor(dir: &Path, body: &str) -> String {
    let path = dir.join("editor.sh");
    fs::write(&path, format!("#!/bin/sh\nset -e\n{body}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    path.display().to_string()
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn edit_rewrites_only_the_changed_line() {
    let dir = encrypted_file();
    let before = fs::read_to_string(dir.path().join(".env.production")).unwrap();
    let script = editor(
        dir.path(),
        r#"sed -i 's/^API_KEY=.*/API_KEY="sk_new_value"/' "$1""#,
    );
    let out = envx(dir.path())
        .args(["edit", "-f", ".env.production"])
        .env("EDITOR", &script)
        .assert()
        .success();
    assert!(
        stderr_of(out.get_output()).contains(".env.production: changed API_KEY"),
        "{}",
        stderr_of(out.get_output())
    );
    let after = fs::read_to_string(dir.path().join(".env.production")).unwrap();
    let (old, new) = (lines(&before), lines(&after));
    assert_eq!(old.len(), new.len());
    let differing: Vec<usize> = (0..old.len()).filter(|&i| old[i] != new[i]).collect();
    assert_eq!(differing.len(), 1, "{before}\n---\n{after}");
    assert!(new[differing[0]].starts_with("API_KEY=\"encrypted:"));
    assert!(!after.contains("sk_new_value"));
    let values = get_json(dir.path(), ".env.production");
    assert_eq!(values["API_KEY"], "sk_new_value");
    assert_eq!(values["DB_PASSWORD"], "hunter2-db");
    assert_eq!(values["REGION"], "eu-west-1");
}

#[test]
fn edit_without_a_change_leaves_the_file_and_its_mtime_alone() {
    let dir = encrypted_file();
    let path = dir.path().join(".env.production");
    let old_time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(old_time)
        .unwrap();
    // Opens and saves without changing anything, as a user quitting the editor would.
    let script = editor(dir.path(), r#"sed -i 's/x/x/' "$1""#);
    let files = snapshot(dir.path());
    let out = envx(dir.path())
        .args(["edit", "-f", ".env.production"])
        .env("VISUAL", &script)
        .assert()
        .success();
    assert!(stderr_of(out.get_output()).contains("no changes; nothing written"));
    assert_eq!(snapshot(dir.path()), files);
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), old_time);
}

#[test]
fn edit_writes_nothing_when_the_editor_fails() {
    let dir = encrypted_file();
    let script = editor(
        dir.path(),
        r#"sed -i 's/^API_KEY=.*/API_KEY=changed/' "$1"; exit 3"#,
    );
    let files = snapshot(dir.path());
    let out = envx(dir.path())
        .args(["edit", "-f", ".env.production"])
        .env("EDITOR", &script)
        .assert()
        .code(1);
    let err = stderr_of(out.get_output());
    assert!(
        err.contains("exited with") && err.contains("nothing written"),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), files);
}

#[test]
fn the_temporary_file_is_private_and_wiped_and_removed() {
    let dir = encrypted_file();
    let tmp = dir.path().join("tmp");
    fs::create_dir(&tmp).unwrap();
    let seen = dir.path().join("seen");
    fs::create_dir(&seen).unwrap();
    // The editor records the modes, keeps a hard link to the file (as an attacker or a
    // careless tool would), and edits in place so the link shares the file's contents.
    let script = editor(
        dir.path(),
        &format!(
            r#"stat -c %a "$1" > {seen}/file_mode
stat -c %a "$(dirname "$1")" > {seen}/dir_mode
echo "$1" > {seen}/path
ln "$1" {seen}/link
cp "$1" {seen}/copy
sed 's/^REGION=.*/REGION=us-east-2/' {seen}/copy > "$1""#,
            seen = seen.display()
        ),
    );
    envx(dir.path())
        .args(["edit", "-f", ".env.production"])
        .env("EDITOR", &script)
        .env("TMPDIR", &tmp)
        .assert()
        .success();
    let read = |name: &str| fs::read_to_string(seen.join(name)).unwrap();
    assert_eq!(read("file_mode").trim(), "600");
    assert_eq!(read("dir_mode").trim(), "700");
    let temp_path = read("path");
    assert!(
        temp_path.starts_with(&tmp.display().to_string()),
        "{temp_path}"
    );
    assert!(
        read("copy").contains("hunter2-db"),
        "the editor saw plaintext"
    );
    assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0, "the folder is gone");
    let link = fs::read(seen.join("link")).unwrap();
    let left = link.iter().filter(|&&b| b != 0).count();
    assert!(!link.is_empty() && left == 0, "{left} bytes were not wiped");
    assert_eq!(
        get_json(dir.path(), ".env.production")["REGION"],
        "us-east-2"
    );
}

#[test]
fn edit_keeps_added_removed_and_commented_lines() {
    let dir = encrypted_file();
    let before = fs::read_to_string(dir.path().join(".env.production")).unwrap();
    let db_line = lines(&before)
        .into_iter()
        .find(|l| l.starts_with("export DB_PASSWORD="))
        .unwrap()
        .to_owned();
    let script = editor(
        dir.path(),
        r#"sed -i -e '/^REGION=/d' -e 's/^# the app/# the app, edited/' "$1"
echo 'NEW_TOKEN="tok-123456"' >> "$1"
echo 'HOST_PLAIN=example.org' >> "$1""#,
    );
    let out = envx(dir.path())
        .args(["edit", "-f", ".env.production"])
        .env("EDITOR", &script)
        .assert()
        .success();
    let err = stderr_of(out.get_output());
    assert!(
        err.contains("added NEW_TOKEN, HOST_PLAIN") && err.contains("removed REGION"),
        "{err}"
    );
    let after = fs::read_to_string(dir.path().join(".env.production")).unwrap();
    assert!(after.contains("# the app, edited\n"), "{after}");
    assert!(
        after.contains(&db_line),
        "an unchanged value keeps its ciphertext"
    );
    assert!(after.contains("NEW_TOKEN=\"encrypted:"), "{after}");
    assert!(after.contains("HOST_PLAIN=example.org\n"), "{after}");
    assert!(!after.contains("REGION") && !after.contains("tok-123456"));
    let values = get_json(dir.path(), ".env.production");
    assert_eq!(values["NEW_TOKEN"], "tok-123456");
    assert_eq!(values["DB_PASSWORD"], "hunter2-db");
}

#[test]
fn edit_refuses_to_change_the_public_key_or_keep_a_broken_line() {
    let dir = encrypted_file();
    let other = tempfile::tempdir().unwrap();
    set_ok(other.path(), ".env.production", "X", "y");
    let other_text = fs::read_to_string(other.path().join(".env.production")).unwrap();
    let other_key = lines(&other_text)
        .into_iter()
        .find(|l| l.starts_with("DOTENV_PUBLIC_KEY_PRODUCTION="))
        .unwrap()
        .to_owned();
    let script = editor(
        dir.path(),
        &format!(r#"sed -i 's/^DOTENV_PUBLIC_KEY_PRODUCTION=.*/{other_key}/' "$1""#),
    );
    let files = snapshot(dir.path());
    let out = envx(dir.path())
        .args(["edit", "-f", ".env.production"])
        .env("EDITOR", &script)
        .assert()
        .code(1);
    assert!(stderr_of(out.get_output()).contains("envx rotate"));
    assert_eq!(snapshot(dir.path()), files);
    let script = editor(dir.path(), r#"echo 'NOT AN ASSIGNMENT' >> "$1""#);
    let files = snapshot(dir.path());
    let out = envx(dir.path())
        .args(["edit", "-f", ".env.production"])
        .env("EDITOR", &script)
        .assert()
        .code(1);
    let err = stderr_of(out.get_output());
    assert!(err.contains("not a KEY=value assignment"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert_eq!(snapshot(dir.path()), files);
}

#[test]
fn edit_with_key_command_and_without_a_key() {
    let dir = encrypted_file();
    let keys = fs::read_to_string(dir.path().join(".env.keys")).unwrap();
    fs::remove_file(dir.path().join(".env.keys")).unwrap();
    let script = editor(
        dir.path(),
        r#"sed -i 's/^REGION=.*/REGION=ap-south-1/' "$1""#,
    );
    let files = snapshot(dir.path());
    envx(dir.path())
        .args(["edit", "-f", ".env.production"])
        .env("EDITOR", &script)
        .assert()
        .code(1);
    assert_eq!(snapshot(dir.path()), files);
    let private = private_key_in(&keys);
    envx(dir.path())
        .args(["edit", "-f", ".env.production", "--key-command"])
        .arg(format!("echo {private}"))
        .env("EDITOR", &script)
        .assert()
        .success();
    fs::write(dir.path().join(".env.keys"), keys).unwrap();
    assert_eq!(
        get_json(dir.path(), ".env.production")["REGION"],
        "ap-south-1"
    );
}

/// The first private key in a keys file's text.
pub fn private_key_in(keys: &str) -> String {
    keys.lines()
        .find_map(|l| l.strip_prefix("DOTENV_PRIVATE_KEY"))
        .and_then(|rest| rest.split_once('='))
        .map(|(_, v)| v.trim_matches('"').to_owned())
        .expect("a private key")
}

#[cfg(unix)]
#[test]
fn a_private_runtime_folder_is_preferred_and_a_shared_one_is_not_used() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = encrypted_file();
    let (runtime, tmp) = (dir.path().join("runtime"), dir.path().join("tmp"));
    fs::create_dir(&runtime).unwrap();
    fs::create_dir(&tmp).unwrap();
    let seen = dir.path().join("seen");
    let script = editor(dir.path(), &format!(r#"echo "$1" > {}"#, seen.display()));
    let where_edited = |mode: u32| {
        fs::set_permissions(&runtime, fs::Permissions::from_mode(mode)).unwrap();
        envx(dir.path())
            .args(["edit", "-f", ".env.production"])
            .env("EDITOR", &script)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("TMPDIR", &tmp)
            .assert()
            .success();
        PathBuf::from(fs::read_to_string(&seen).unwrap().trim())
    };
    assert!(where_edited(0o700).starts_with(&runtime));
    assert!(where_edited(0o755).starts_with(&tmp));
    assert_eq!(fs::read_dir(&runtime).unwrap().count(), 0);
}
