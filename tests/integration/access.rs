//! Team access: `envx identity new`, `envx access grant|revoke|ls|export`, and the wrapped key
//! as a key source. Every teammate is a separate home folder with its own identity.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use crate::common::{envx, snapshot, stderr_of};

const FILE: &str = ".env.production";
const SECRET: &str = "sk_live_team_secret_42";

/// A repository (a `.git` folder marks its root) with `app/.env.production` encrypted and its
/// key in `app/.env.keys`.
struct Team {
    _dir: tempfile::TempDir,
    root: PathBuf,
    app: PathBuf,
}

impl Team {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        fs::create_dir(root.join(".git")).unwrap();
        let app = root.join("app");
        fs::create_dir(&app).unwrap();
        fs::write(
            app.join(FILE),
            format!("API_KEY={SECRET}\nPORT_PLAIN=8080\n"),
        )
        .unwrap();
        envx(&app).args(["encrypt", "-f", FILE]).assert().success();
        Self {
            _dir: dir,
            root,
            app,
        }
    }

    /// A teammate: a home folder with an identity made by `envx identity new`; returns the
    /// home and the recipient line printed.
    fn person(&self, name: &str) -> (PathBuf, String) {
        let home = self.root.join("homes").join(name);
        fs::create_dir_all(&home).unwrap();
        let out = envx(&self.app)
            .env("HOME", &home)
            .args(["identity", "new"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let recipient = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert!(recipient.starts_with("age1"), "{recipient}");
        (home, recipient)
    }

    fn grant(&self, name: &str, recipient: &str) {
        let out = envx(&self.app)
            .args(["access", "grant", name, recipient, "-f", FILE])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
    }

    /// `envx get API_KEY` run as the teammate living in `home`, with no keys file around.
    fn get_as(&self, home: &Path) -> std::process::Output {
        envx(&self.app)
            .env("HOME", home)
            .args(["get", "API_KEY", "-f", FILE])
            .output()
            .unwrap()
    }

    fn private_hex(&self) -> String {
        let keys = fs::read_to_string(self.app.join(".env.keys")).unwrap();
        keys.lines()
            .find_map(|l| l.strip_prefix("DOTENV_PRIVATE_KEY_PRODUCTION="))
            .unwrap()
            .trim_matches('"')
            .to_owned()
    }

    fn identity_text(home: &Path) -> String {
        fs::read_to_string(home.join(".config/envx/identity.txt")).unwrap()
    }
}

fn ok(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", stderr_of(out));
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn identity_new_is_private_and_a_granted_teammate_opens_the_key_from_the_wrapped_file() {
    let team = Team::new();
    let (alice, alice_r) = team.person("alice");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let file = alice.join(".config/envx/identity.txt");
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let folder = alice.join(".config/envx");
        assert_eq!(
            fs::metadata(&folder).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
    // A second `identity new` never replaces the first.
    let again = envx(&team.app)
        .env("HOME", &alice)
        .args(["identity", "new"])
        .output()
        .unwrap();
    assert!(!again.status.success());
    team.grant("alice", &alice_r);
    let recipients =
        fs::read_to_string(team.app.join("envx-access/production.recipients")).unwrap();
    assert!(
        recipients.contains(&format!("# alice\n{alice_r}\n")),
        "{recipients}"
    );
    let wrapped = fs::read_to_string(team.app.join("envx-access/production.age")).unwrap();
    assert!(wrapped.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    let hex = team.private_hex();
    assert!(!wrapped.contains(&hex) && !recipients.contains(&hex));
    // The keys file is gone: the wrapped key is the only source.
    fs::remove_file(team.app.join(".env.keys")).unwrap();
    assert_eq!(ok(&team.get_as(&alice)).trim(), SECRET);
    let ls = envx(&team.app)
        .env("HOME", &alice)
        .args(["ls"])
        .output()
        .unwrap();
    let listing = ok(&ls);
    assert!(
        listing.contains("envx-access/production.age (wrapped, opened with"),
        "{listing}"
    );
    // Someone without an identity that is a recipient gets nothing.
    let (carol, _) = team.person("carol");
    let out = team.get_as(&carol);
    assert!(!out.status.success());
    // export gives the .env.keys line back, on request only.
    let line = ok(&envx(&team.app)
        .env("HOME", &alice)
        .args(["access", "export", "-f", FILE])
        .output()
        .unwrap());
    assert_eq!(line, format!("DOTENV_PRIVATE_KEY_PRODUCTION={hex}\n"));
    let listed = ok(&envx(&team.app).args(["access", "ls"]).output().unwrap());
    assert!(
        listed.contains("alice") && listed.contains("matches the recipients list"),
        "{listed}"
    );
}

#[test]
fn a_wrapped_key_in_a_parent_folder_is_found_and_earlier_sources_win() {
    let team = Team::new();
    let (alice, alice_r) = team.person("alice");
    let (bob, bob_r) = team.person("bob");
    team.grant("alice", &alice_r);
    team.grant("bob", &bob_r);
    let hex = team.private_hex();
    fs::remove_file(team.app.join(".env.keys")).unwrap();
    // Move the access folder to the repository root.
    fs::rename(team.app.join("envx-access"), team.root.join("envx-access")).unwrap();
    assert_eq!(ok(&team.get_as(&alice)).trim(), SECRET);
    let source = |cmd: &mut assert_cmd::Command| -> String {
        let out = cmd.args(["ls", "--format", "json"]).output().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json["files"][0]["private_key"]["source"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    // The config folder (alice's home) opens it.
    let from_config = source(envx(&team.app).env("HOME", &alice));
    assert!(
        from_config.starts_with(
            &team
                .root
                .join("envx-access/production.age")
                .display()
                .to_string()
        ) || from_config.contains("envx-access/production.age"),
        "{from_config}"
    );
    assert!(
        from_config.contains(".config/envx/identity.txt"),
        "{from_config}"
    );
    // ENVX_IDENTITY wins over the config folder.
    let from_var = source(
        envx(&team.app)
            .env("HOME", &alice)
            .env("ENVX_IDENTITY", Team::identity_text(&bob)),
    );
    assert!(
        from_var.ends_with("opened with ENVX_IDENTITY)"),
        "{from_var}"
    );
    // ENVX_IDENTITY_FILE, then --identity-command, before the config folder.
    let bob_file = bob.join(".config/envx/identity.txt");
    let from_file = source(
        envx(&team.app)
            .env("HOME", &alice)
            .env("ENVX_IDENTITY_FILE", &bob_file),
    );
    assert!(from_file.contains("ENVX_IDENTITY_FILE="), "{from_file}");
    let from_command = source(envx(&team.app).env("HOME", &alice).args([
        "--identity-command",
        &format!("cat '{}'", bob_file.display()),
    ]));
    assert!(
        from_command.ends_with("opened with --identity-command)"),
        "{from_command}"
    );
    // Any earlier source (the variable) wins over the wrapped key.
    let from_env = source(
        envx(&team.app)
            .env("HOME", &alice)
            .env("DOTENV_PRIVATE_KEY_PRODUCTION", &hex),
    );
    assert_eq!(from_env, "$DOTENV_PRIVATE_KEY_PRODUCTION");
    // The child of `run` sees neither the identity nor the key.
    let out = envx(&team.app)
        .env("HOME", &alice)
        .env("ENVX_IDENTITY", Team::identity_text(&bob))
        .args(["run", "-f", FILE, "--", "sh", "-c", "env"])
        .output()
        .unwrap();
    let env = ok(&out);
    assert!(env.contains(&format!("API_KEY={SECRET}")));
    assert!(
        !env.contains("ENVX_IDENTITY=") && !env.contains("AGE-SECRET-KEY") && !env.contains(&hex)
    );
}

#[test]
fn a_wrong_identity_lists_the_identities_tried_and_never_a_secret() {
    let team = Team::new();
    let (_alice, alice_r) = team.person("alice");
    team.grant("alice", &alice_r);
    let hex = team.private_hex();
    fs::remove_file(team.app.join(".env.keys")).unwrap();
    let (carol, carol_r) = team.person("carol");
    let (dave, _) = team.person("dave");
    let carol_text = Team::identity_text(&carol);
    let out = envx(&team.app)
        .env("HOME", &dave)
        .env("ENVX_IDENTITY", &carol_text)
        .args(["get", "API_KEY", "-f", FILE])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(err.contains("production.age"), "{err}");
    assert!(err.contains("ENVX_IDENTITY ("), "{err}");
    assert!(
        err.contains(&carol_r[..10]),
        "the recipient tried is named: {err}"
    );
    assert!(err.contains("dave/.config/envx/identity.txt"), "{err}");
    assert!(err.contains("not a recipient"), "{err}");
    let secret_line = carol_text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY"))
        .unwrap();
    assert!(
        !err.contains(secret_line) && !err.contains("AGE-SECRET-KEY"),
        "{err}"
    );
    assert!(!err.contains(&hex) && !err.contains(SECRET), "{err}");
    // A failing identity command is named too.
    let out = envx(&team.app)
        .env("HOME", &dave)
        .args(["--identity-command", "exit 3", "get", "API_KEY", "-f", FILE])
        .output()
        .unwrap();
    assert!(
        stderr_of(&out).contains("--identity-command failed"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn revoke_rotates_so_the_revoked_teammate_opens_nothing_new_and_the_others_do() {
    let team = Team::new();
    let (alice, alice_r) = team.person("alice");
    let (bob, bob_r) = team.person("bob");
    let (ci, ci_r) = team.person("ci");
    team.grant("alice", &alice_r);
    team.grant("bob", &bob_r);
    team.grant("ci", &ci_r);
    fs::remove_file(team.app.join(".env.keys")).unwrap();
    // What bob could have kept: the key itself (he opened it) and the old wrapped file.
    let old_line = ok(&envx(&team.app)
        .env("HOME", &bob)
        .args(["access", "export", "-f", FILE])
        .output()
        .unwrap());
    let old_hex = old_line.trim().split_once('=').unwrap().1.to_owned();
    let before = fs::read_to_string(team.app.join(FILE)).unwrap();
    let out = envx(&team.app)
        .env("HOME", &alice)
        .args(["access", "revoke", "bob", "-f", FILE])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("rotate the credentials themselves"), "{err}");
    let after = fs::read_to_string(team.app.join(FILE)).unwrap();
    assert_ne!(before, after, "the values were re-encrypted to a new key");
    // bob's identity no longer opens the wrapped key ...
    let out = team.get_as(&bob);
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("not a recipient"),
        "{}",
        stderr_of(&out)
    );
    // ... and the key he kept does not decrypt the rotated values.
    let out = envx(&team.app)
        .env("HOME", &bob)
        .env("DOTENV_PRIVATE_KEY_PRODUCTION", &old_hex)
        .args(["get", "API_KEY", "-f", FILE])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the old key still opens the file");
    // The others still open it, and get the same values.
    assert_eq!(ok(&team.get_as(&alice)).trim(), SECRET);
    let ci_text = Team::identity_text(&ci);
    let out = envx(&team.app)
        .env("ENVX_IDENTITY", &ci_text)
        .args(["get", "API_KEY", "-f", FILE])
        .output()
        .unwrap();
    assert_eq!(ok(&out).trim(), SECRET);
    let recipients =
        fs::read_to_string(team.app.join("envx-access/production.recipients")).unwrap();
    assert!(!recipients.contains(&bob_r) && recipients.contains(&alice_r));
    // verify: the env file and the recipients file are sealed (by the new key).
    let listed = ok(&envx(&team.app)
        .args(["access", "ls", "-f", FILE])
        .output()
        .unwrap());
    assert!(
        listed.contains("matches the recipients list") && !listed.contains("bob"),
        "{listed}"
    );
    // --no-rotate keeps the key: only the wrapping changes.
    let key_before = ok(&envx(&team.app)
        .env("HOME", &alice)
        .args(["access", "export", "-f", FILE])
        .output()
        .unwrap());
    let env_before = fs::read(team.app.join(FILE)).unwrap();
    let out = envx(&team.app)
        .env("HOME", &alice)
        .args(["access", "revoke", "ci", "--no-rotate", "-f", FILE])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(fs::read(team.app.join(FILE)).unwrap(), env_before);
    let out = envx(&team.app)
        .env("ENVX_IDENTITY", &ci_text)
        .env("HOME", &bob)
        .args(["get", "API_KEY", "-f", FILE])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let key_after = ok(&envx(&team.app)
        .env("HOME", &alice)
        .args(["access", "export", "-f", FILE])
        .output()
        .unwrap());
    assert_eq!(key_before, key_after);
}

#[test]
fn a_revoke_that_cannot_finish_changes_no_byte() {
    let team = Team::new();
    let (alice, alice_r) = team.person("alice");
    let (bob, bob_r) = team.person("bob");
    team.grant("alice", &alice_r);
    team.grant("bob", &bob_r);
    fs::remove_file(team.app.join(".env.keys")).unwrap();
    let before = snapshot(&team.root);
    // The only identity source is a command that fails: no key, nothing written.
    let out = envx(&team.app)
        .env("HOME", &team.root)
        .args([
            "--identity-command",
            "exit 1",
            "access",
            "revoke",
            "bob",
            "-f",
            FILE,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(snapshot(&team.root), before);
    // A value that cannot be decrypted: a rotation never drops one.
    let text = fs::read_to_string(team.app.join(FILE)).unwrap();
    let broken = text.replace("API_KEY=encrypted:B", "API_KEY=encrypted:C");
    assert_ne!(broken, text);
    fs::write(team.app.join(FILE), &broken).unwrap();
    let before = snapshot(&team.root);
    let out = envx(&team.app)
        .env("HOME", &alice)
        .args(["access", "revoke", "bob", "-f", FILE])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(snapshot(&team.root), before);
    let _ = bob;
}

#[test]
#[ignore = "needs root and chattr (an immutable file); .ci/run runs ignored tests as root"]
fn a_revoke_whose_env_file_write_fails_puts_every_file_back() {
    let team = Team::new();
    let (alice, alice_r) = team.person("alice");
    let (_bob, bob_r) = team.person("bob");
    team.grant("alice", &alice_r);
    team.grant("bob", &bob_r);
    // The key stays in .env.keys, so the revocation writes the keys file first, then the
    // wrapped key, then fails on the env file.
    let before = snapshot(&team.root);
    let env = team.app.join(FILE);
    let status = StdCommand::new("chattr")
        .arg("+i")
        .arg(&env)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "chattr +i failed (needs root on a file system with attributes)"
    );
    let out = envx(&team.app)
        .env("HOME", &alice)
        .args(["access", "revoke", "bob", "-f", FILE])
        .output()
        .unwrap();
    let after = snapshot(&team.root);
    StdCommand::new("chattr")
        .arg("-i")
        .arg(&env)
        .status()
        .unwrap();
    assert!(!out.status.success(), "the write should have failed");
    assert_eq!(after, before, "a file was left changed");
}

#[test]
fn the_unwrapped_key_never_reaches_the_disk() {
    let team = Team::new();
    let (alice, alice_r) = team.person("alice");
    let (_bob, bob_r) = team.person("bob");
    team.grant("alice", &alice_r);
    team.grant("bob", &bob_r);
    let hex = team.private_hex();
    fs::remove_file(team.app.join(".env.keys")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // A child started by envx (the key was just unwrapped, in envx's memory) searches the
    // working tree and the temporary folder for the key's hex, in either case.
    let script =
        r#"if grep -rIiq -- "$SCAN" "$WORK" "$TMPDIR"; then echo FOUND; else echo CLEAN; fi"#;
    let out = envx(&team.app)
        .env("HOME", &alice)
        .env("SCAN", &hex)
        .env("WORK", &team.root)
        .env("TMPDIR", tmp.path())
        .args(["run", "--redact", "-f", FILE, "--", "sh", "-c", script])
        .output()
        .unwrap();
    assert_eq!(ok(&out).trim(), "CLEAN");
    // The child's search works: a file holding the key is found.
    fs::write(tmp.path().join("planted"), &hex).unwrap();
    let out = envx(&team.app)
        .env("HOME", &alice)
        .env("SCAN", &hex)
        .env("WORK", &team.root)
        .env("TMPDIR", tmp.path())
        .args(["run", "--redact", "-f", FILE, "--", "sh", "-c", script])
        .output()
        .unwrap();
    assert_eq!(ok(&out).trim(), "FOUND");
    fs::remove_file(tmp.path().join("planted")).unwrap();
    // A rotation that unwraps the old key and makes a new one writes neither to disk.
    let out = envx(&team.app)
        .env("HOME", &alice)
        .env("TMPDIR", tmp.path())
        .args(["access", "revoke", "bob", "-f", FILE])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let new_line = ok(&envx(&team.app)
        .env("HOME", &alice)
        .args(["access", "export", "-f", FILE])
        .output()
        .unwrap());
    let new_hex = new_line.trim().split_once('=').unwrap().1.to_owned();
    for (path, bytes) in snapshot(&team.root).into_iter().chain(snapshot(tmp.path())) {
        let text = String::from_utf8_lossy(&bytes).to_lowercase();
        assert!(
            !text.contains(&hex) && !text.contains(&new_hex),
            "{} holds a private key",
            path.display()
        );
    }
}

#[test]
fn a_recipient_line_added_without_the_key_grants_nothing_and_shows_as_unapproved() {
    let team = Team::new();
    let (alice, alice_r) = team.person("alice");
    team.grant("alice", &alice_r);
    fs::remove_file(team.app.join(".env.keys")).unwrap();
    envx(&team.app)
        .env("HOME", &alice)
        .args(["seal", "-f", FILE, "--yes"])
        .assert()
        .success();
    envx(&team.app)
        .args(["verify", "-f", FILE])
        .assert()
        .success();
    let recipients = team.app.join("envx-access/production.recipients");
    let sealed = fs::read_to_string(&recipients).unwrap();
    let wrapped_before = fs::read(team.app.join("envx-access/production.age")).unwrap();
    // A pull request adds mallory's line.
    let (mallory, mallory_r) = team.person("mallory");
    fs::write(&recipients, format!("{sealed}# mallory\n{mallory_r}\n")).unwrap();
    assert!(
        !team.get_as(&mallory).status.success(),
        "mallory opened the key"
    );
    let out = envx(&team.app)
        .args(["verify", "-f", FILE])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("not approved: mallory"),
        "{}",
        stderr_of(&out)
    );
    // A key holder's next grant does not wrap the key to mallory: it refuses, naming her.
    let (bob, bob_r) = team.person("bob");
    let out = envx(&team.app)
        .env("HOME", &alice)
        .args(["access", "grant", "bob", &bob_r, "-f", FILE])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("mallory"), "{}", stderr_of(&out));
    assert_eq!(
        fs::read(team.app.join("envx-access/production.age")).unwrap(),
        wrapped_before
    );
    assert!(!team.get_as(&bob).status.success());
    // A swapped line (alice's name, mallory's key) shows as alice changed.
    fs::write(&recipients, sealed.replace(&alice_r, &mallory_r)).unwrap();
    let out = envx(&team.app)
        .args(["verify", "-f", FILE])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("alice changed"),
        "{}",
        stderr_of(&out)
    );
    assert!(!team.get_as(&mallory).status.success());
    // Restored, the file verifies again and alice still opens the key.
    fs::write(&recipients, &sealed).unwrap();
    envx(&team.app)
        .args(["verify", "-f", FILE])
        .assert()
        .success();
    assert_eq!(ok(&team.get_as(&alice)).trim(), SECRET);
}

fn ssh_keygen(path: &Path, kind: &str) -> String {
    let status = StdCommand::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-C", "test", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen must be installed (.ci/run installs openssh-client)");
    assert!(status.success());
    fs::read_to_string(path.with_extension("pub"))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
#[ignore = "needs ssh-keygen; .ci/run installs it and runs ignored tests"]
fn ssh_ed25519_keys_are_recipients_and_id_ed25519_is_an_identity() {
    let team = Team::new();
    let home = team.root.join("homes/erin");
    fs::create_dir_all(home.join(".ssh")).unwrap();
    let public = ssh_keygen(&home.join(".ssh/id_ed25519"), "ed25519");
    assert!(public.starts_with("ssh-ed25519 "));
    team.grant("erin", &public);
    fs::remove_file(team.app.join(".env.keys")).unwrap();
    // ~/.ssh/id_ed25519 is found on its own.
    assert_eq!(ok(&team.get_as(&home)).trim(), SECRET);
    // And through ENVX_IDENTITY_FILE / ENVX_IDENTITY.
    let key = home.join(".ssh/id_ed25519");
    let out = envx(&team.app)
        .env("ENVX_IDENTITY_FILE", &key)
        .args(["get", "API_KEY", "-f", FILE])
        .output()
        .unwrap();
    assert_eq!(ok(&out).trim(), SECRET);
    let out = envx(&team.app)
        .env("ENVX_IDENTITY", fs::read_to_string(&key).unwrap())
        .args(["get", "API_KEY", "-f", FILE])
        .output()
        .unwrap();
    assert_eq!(ok(&out).trim(), SECRET);
    let listed = ok(&envx(&team.app)
        .args(["access", "ls", "-f", FILE])
        .output()
        .unwrap());
    assert!(listed.contains("ssh-ed25519"), "{listed}");
    // ssh-rsa works but is warned about.
    let rsa = ssh_keygen(&team.root.join("rsa_key"), "rsa");
    let out = envx(&team.app)
        .env("HOME", &home)
        .args(["access", "grant", "frank", &rsa, "-f", FILE])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("ssh-rsa"), "{}", stderr_of(&out));
}

#[test]
#[ignore = "needs age and dotenvx; .ci/run installs them and runs ignored tests"]
fn age_opens_the_wrapped_key_for_dotenvx_and_envx_opens_a_key_age_wrapped() {
    let dotenvx = crate::interop::dotenvx_bin();
    let team = Team::new();
    let (alice, alice_r) = team.person("alice");
    team.grant("alice", &alice_r);
    fs::remove_file(team.app.join(".env.keys")).unwrap();
    // Without envx: `age -d -i IDENTITY FILE >> .env.keys`, then dotenvx.
    let out = StdCommand::new("age")
        .arg("-d")
        .arg("-i")
        .arg(alice.join(".config/envx/identity.txt"))
        .arg(team.app.join("envx-access/production.age"))
        .output()
        .expect("age must be installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::write(team.app.join(".env.keys"), &out.stdout).unwrap();
    let values = crate::interop::dotenvx_get(&dotenvx, &team.app, FILE);
    assert_eq!(values["API_KEY"], SECRET);
    // The other way: the key wrapped by `age -a -R` to the recipients file envx wrote.
    let line = out.stdout.clone();
    fs::remove_file(team.app.join(".env.keys")).unwrap();
    let wrapped = team.app.join("envx-access/production.age");
    fs::remove_file(&wrapped).unwrap();
    let mut child = StdCommand::new("age")
        .arg("-a")
        .arg("-R")
        .arg(team.app.join("envx-access/production.recipients"))
        .arg("-o")
        .arg(&wrapped)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(&line).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(ok(&team.get_as(&alice)).trim(), SECRET);
}

#[test]
fn rotate_wraps_the_new_key_to_the_teammates_and_sync_approves_a_reviewed_line() {
    let team = Team::new();
    let (alice, alice_r) = team.person("alice");
    team.grant("alice", &alice_r);
    let old_key = team.private_hex();
    envx(&team.app)
        .args(["rotate", "-f", FILE])
        .assert()
        .success();
    assert_ne!(team.private_hex(), old_key);
    // The list is sealed with the new key, and the wrapped key is the new one: alice reads
    // with no keys file around, and the old key opens nothing.
    envx(&team.app)
        .args(["access", "ls", "-f", FILE])
        .assert()
        .success();
    fs::remove_file(team.app.join(".env.keys")).unwrap();
    assert_eq!(ok(&team.get_as(&alice)).trim(), SECRET);
    let out = envx(&team.app)
        .env("DOTENV_PRIVATE_KEY_PRODUCTION", &old_key)
        .args(["get", "API_KEY", "-f", FILE])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the old key still opens the file");
    // A pull request adds bob's line. Until a key holder approves it, neither rotate nor sync
    // wraps the key to it, and a refused rotate changes no byte.
    let (bob, bob_r) = team.person("bob");
    let recipients = team.app.join("envx-access/production.recipients");
    let text = fs::read_to_string(&recipients).unwrap();
    fs::write(&recipients, format!("{text}# bob\n{bob_r}\n")).unwrap();
    assert!(!team.get_as(&bob).status.success());
    let before = snapshot(&team.root);
    let out = envx(&team.app)
        .env("HOME", &alice)
        .args(["rotate", "-f", FILE])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(
        !out.status.success() && err.contains("not approved"),
        "{err}"
    );
    assert_eq!(
        snapshot(&team.root),
        before,
        "a refused rotate changed a file"
    );
    let out = envx(&team.app)
        .env("HOME", &alice)
        .args(["access", "sync", "-f", FILE])
        .output()
        .unwrap();
    assert!(!out.status.success(), "an unreviewed line was approved");
    envx(&team.app)
        .env("HOME", &alice)
        .args(["access", "sync", "--accept-recipients", "-f", FILE])
        .assert()
        .success();
    assert_eq!(ok(&team.get_as(&bob)).trim(), SECRET);
    // Both keep access through a rotation made by alice, whose key came from the wrapped file.
    envx(&team.app)
        .env("HOME", &alice)
        .args(["rotate", "-f", FILE])
        .assert()
        .success();
    assert_eq!(ok(&team.get_as(&bob)).trim(), SECRET);
    assert_eq!(ok(&team.get_as(&alice)).trim(), SECRET);
    envx(&team.app)
        .env("HOME", &alice)
        .args(["access", "ls", "-f", FILE])
        .assert()
        .success();
}

#[test]
fn redact_masks_the_identity_a_child_finds_on_disk() {
    let team = Team::new();
    let (alice, alice_r) = team.person("alice");
    team.grant("alice", &alice_r);
    fs::remove_file(team.app.join(".env.keys")).unwrap();
    let text = Team::identity_text(&alice);
    let secret_line = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY"))
        .unwrap()
        .to_owned();
    let path = alice.join(".config/envx/identity.txt");
    let out = envx(&team.app)
        .env("ENVX_IDENTITY", &text)
        .args([
            "run",
            "--redact",
            "-f",
            FILE,
            "--",
            "grep",
            "AGE-SECRET-KEY",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let shown = ok(&out);
    assert!(!shown.contains(&secret_line), "{shown}");
    assert!(shown.contains("[REDACTED:ENVX_IDENTITY]"), "{shown}");
}

#[test]
#[ignore = "needs git; .ci/run installs it and runs ignored tests"]
fn verify_refuses_an_older_recipients_list_brought_back() {
    use crate::common::git_ok;
    let team = Team::new();
    fs::remove_dir(team.root.join(".git")).unwrap();
    git_ok(&team.root, &["init", "-q"]);
    let (alice, alice_r) = team.person("alice");
    let (_bob, bob_r) = team.person("bob");
    team.grant("alice", &alice_r);
    team.grant("bob", &bob_r);
    let recipients = team.app.join("envx-access/production.recipients");
    let with_bob = fs::read(&recipients).unwrap();
    let wrapped_with_bob = fs::read(team.app.join("envx-access/production.age")).unwrap();
    envx(&team.app)
        .env("HOME", &alice)
        .args(["access", "revoke", "bob", "--no-rotate", "-f", FILE])
        .assert()
        .success();
    envx(&team.app)
        .env("HOME", &alice)
        .args(["seal", "-f", FILE, "--yes"])
        .assert()
        .success();
    git_ok(
        &team.root,
        &["add", "app/.env.production", "app/envx-access"],
    );
    git_ok(&team.root, &["commit", "-q", "-m", "bob revoked"]);
    envx(&team.app)
        .args(["verify", "-f", FILE])
        .assert()
        .success();
    // A pull request brings back the list (and wrapped key) from before the revocation: both
    // authentic, sealed with the same key.
    fs::write(&recipients, &with_bob).unwrap();
    fs::write(
        team.app.join("envx-access/production.age"),
        &wrapped_with_bob,
    )
    .unwrap();
    let out = envx(&team.app)
        .args(["verify", "-f", FILE])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("goes back from seq 3"),
        "{}",
        stderr_of(&out)
    );
    let out = envx(&team.app)
        .args(["verify", "--base", "HEAD", "-f", FILE])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// An identity pasted where the name goes (the two arguments swapped) is refused without being
/// repeated on stderr.
#[test]
fn a_secret_given_as_the_name_is_not_echoed() {
    let team = Team::new();
    let (alice, alice_r) = team.person("alice");
    let secret = Team::identity_text(&alice)
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_owned();
    let out = envx(&team.app)
        .args(["access", "grant", &secret, &alice_r, "-f", FILE])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(!out.status.success());
    assert!(err.contains("the name given is not usable"), "{err}");
    assert!(!err.contains(&secret["AGE-SECRET-KEY-".len()..]), "{err}");
}
