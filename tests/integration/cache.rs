//! The key cache (`core/src/cache.rs`): it never changes a result, is ignored when damaged or
//! foreign, is never used without the private key, and `--no-cache` writes nothing. `HOME` is
//! the test's folder, so the cache is `<dir>/.cache/envx`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::{envx, stderr_of};

/// More values than the threshold from which decryption uses threads, a multiline one and a
/// `$` reference among them.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("# cache test\nBASE=root\n");
    for i in 0..40 {
        text.push_str(&format!("K{i:02}=value-{i}-{}\n", "x".repeat(i)));
    }
    text.push_str("PEM=\"-----BEGIN-----\nabc\n-----END-----\"\nREF=\"${BASE}/path\"\n");
    fs::write(dir.path().join(".env"), text).unwrap();
    envx(dir.path())
        .args(["encrypt", "--no-cache"])
        .assert()
        .success();
    dir
}

fn cache_folder(dir: &Path) -> PathBuf {
    dir.join(".cache/envx")
}

fn cache_files(dir: &Path) -> Vec<PathBuf> {
    match fs::read_dir(cache_folder(dir)) {
        Ok(entries) => {
            let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
            files.sort();
            files
        }
        Err(_) => Vec::new(),
    }
}

/// stdout, stderr and exit code of `envx ARGS` (with `extra` flags appended before `--`).
fn outcome(dir: &Path, args: &[&str]) -> (String, String, Option<i32>) {
    let out = envx(dir).args(args).output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr_of(&out),
        out.status.code(),
    )
}

const COMMANDS: [&[&str]; 4] = [
    &["get"],
    &["get", "K07"],
    &["decrypt", "--stdout"],
    &[
        "run",
        "--",
        "sh",
        "-c",
        "env | grep -E '^(K[0-9]|REF|BASE)' | sort",
    ],
];

fn with_flag<'a>(args: &[&'a str], flag: &'a str) -> Vec<&'a str> {
    let mut out = vec![args[0], flag];
    out.extend_from_slice(&args[1..]);
    out
}

#[test]
fn cached_and_uncached_runs_give_identical_values() {
    let dir = project();
    for args in COMMANDS {
        let uncached = outcome(dir.path(), &with_flag(args, "--no-cache"));
        assert_eq!(uncached.2, Some(0), "{args:?}: {}", uncached.1);
        assert!(
            cache_files(dir.path()).is_empty(),
            "--no-cache wrote a cache"
        );
        let cold = outcome(dir.path(), args);
        let written = fs::read(&cache_files(dir.path())[0]).unwrap();
        let warm = outcome(dir.path(), args);
        assert_eq!(cold, uncached, "{args:?}: cold run");
        assert_eq!(warm, uncached, "{args:?}: warm run");
        // Every value came from the cache: the warm run learned nothing, so wrote nothing.
        assert_eq!(fs::read(&cache_files(dir.path())[0]).unwrap(), written);
        fs::remove_dir_all(cache_folder(dir.path())).unwrap();
    }
    let (json, _, _) = outcome(dir.path(), &["get"]);
    assert!(json.contains("\"K39\":\"value-39-xxx"), "{json}");
    assert!(json.contains("\"REF\":\"root/path\""), "{json}");
}

#[test]
fn cached_and_uncached_runs_give_identical_errors() {
    let dir = project();
    let env_file = dir.path().join(".env");
    outcome(dir.path(), &["get"]);
    let cache = cache_files(dir.path());
    assert_eq!(cache.len(), 1);
    // Damage the tag of K05 but keep its ephemeral key, so a cache hit is what opens it.
    let text = fs::read_to_string(&env_file).unwrap();
    let line = text.lines().find(|l| l.starts_with("K05=")).unwrap();
    let at = line.find("encrypted:").unwrap() + "encrypted:".len() + 100;
    let mut damaged = line.to_owned();
    let flipped = if &line[at..=at] == "A" { "B" } else { "A" };
    damaged.replace_range(at..=at, flipped);
    fs::write(&env_file, text.replace(line, &damaged)).unwrap();
    // Every command that reads K05 (`get K07` alone no longer does).
    let reading_k05: [&[&str]; 4] = [COMMANDS[0], &["get", "K05"], COMMANDS[2], COMMANDS[3]];
    for args in reading_k05 {
        let warm = outcome(dir.path(), args);
        let uncached = outcome(dir.path(), &with_flag(args, "--no-cache"));
        assert_eq!(warm.2, Some(1), "{args:?}");
        assert!(warm.1.contains("cannot decrypt K05"), "{}", warm.1);
        assert_eq!(warm, uncached, "{args:?}");
    }
}

#[test]
fn a_changed_value_is_opened_afresh() {
    let dir = project();
    outcome(dir.path(), &["get"]);
    envx(dir.path())
        .args(["set", "K03", "a new value"])
        .assert()
        .success();
    let (value, _, code) = outcome(dir.path(), &["get", "K03"]);
    assert_eq!((value.as_str(), code), ("a new value\n", Some(0)));
    let (all, _, _) = outcome(dir.path(), &["get"]);
    assert_eq!(all, outcome(dir.path(), &["get", "--no-cache"]).0);
}

#[test]
fn a_damaged_or_foreign_cache_is_ignored_and_rebuilt() {
    let dir = project();
    let expected = outcome(dir.path(), &["get", "--no-cache"]);
    // A second file with the same key: its cache must not open as the first file's.
    fs::create_dir(dir.path().join("copy")).unwrap();
    for name in [".env", ".env.keys"] {
        fs::copy(dir.path().join(name), dir.path().join("copy").join(name)).unwrap();
    }
    let copied = outcome(dir.path(), &["get", "-f", "copy/.env"]);
    assert_eq!(copied.2, Some(0), "{}", copied.1);
    let copy_cache = cache_files(dir.path());
    outcome(dir.path(), &["get"]);
    let both = cache_files(dir.path());
    let own = both
        .iter()
        .find(|p| !copy_cache.contains(p))
        .unwrap()
        .clone();
    let good = fs::read(&own).unwrap();
    let foreign = fs::read(&copy_cache[0]).unwrap();
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x01;
    let damages: [(&str, Vec<u8>); 4] = [
        ("flipped byte", flipped),
        ("truncated", good[..good.len() - 20].to_vec()),
        ("another file's cache", foreign),
        ("garbage", vec![0x41; 4000]),
    ];
    for (what, bytes) in damages {
        fs::write(&own, &bytes).unwrap();
        assert_eq!(outcome(dir.path(), &["get"]), expected, "{what}");
        let rebuilt = fs::read(&own).unwrap();
        assert_ne!(rebuilt, bytes, "{what}: not rebuilt");
        // The rebuilt cache authenticates: the next run learns nothing and rewrites nothing.
        assert_eq!(outcome(dir.path(), &["get"]), expected, "{what}");
        assert_eq!(fs::read(&own).unwrap(), rebuilt, "{what}");
    }
}

#[test]
fn the_cache_is_never_used_without_the_private_key() {
    let dir = project();
    outcome(dir.path(), &["get"]);
    assert_eq!(cache_files(dir.path()).len(), 1);
    fs::rename(dir.path().join(".env.keys"), dir.path().join("keys.bak")).unwrap();
    for args in COMMANDS {
        let warm = outcome(dir.path(), args);
        assert_eq!(warm.2, Some(1), "{args:?} succeeded without the key");
        assert!(warm.0.is_empty() || args[0] == "run", "{}", warm.0);
        assert!(!warm.0.contains("value-"), "{}", warm.0);
        assert_eq!(warm, outcome(dir.path(), &with_flag(args, "--no-cache")));
    }
    // Another key in its place: the cache does not open for it either.
    let other = tempfile::tempdir().unwrap();
    fs::write(other.path().join(".env"), "A=1\n").unwrap();
    envx(other.path())
        .args(["encrypt", "--no-cache"])
        .assert()
        .success();
    fs::copy(other.path().join(".env.keys"), dir.path().join(".env.keys")).unwrap();
    let warm = outcome(dir.path(), &["get"]);
    assert_eq!(warm.2, Some(1));
    assert_eq!(warm, outcome(dir.path(), &["get", "--no-cache"]));
}

#[test]
fn no_cache_and_env_no_cache_write_nothing_and_xdg_cache_home_is_used() {
    let dir = project();
    envx(dir.path())
        .args(["get", "--no-cache"])
        .assert()
        .success();
    envx(dir.path())
        .args(["run", "--", "true"])
        .env("ENVX_NO_CACHE", "1")
        .assert()
        .success();
    assert!(!dir.path().join(".cache").exists());
    let xdg = dir.path().join("xdg");
    envx(dir.path())
        .args(["get"])
        .env("XDG_CACHE_HOME", &xdg)
        .assert()
        .success();
    assert!(!dir.path().join(".cache").exists());
    assert_eq!(fs::read_dir(xdg.join("envx")).unwrap().count(), 1);
}

#[test]
fn a_failed_command_writes_no_cache() {
    let dir = project();
    envx(dir.path()).args(["get", "NOPE"]).assert().code(1);
    assert!(!dir.path().join(".cache").exists());
    let env_file = dir.path().join(".env");
    let mut text = fs::read_to_string(&env_file).unwrap();
    text.push_str("LATE=$(echo hi)\n");
    fs::write(&env_file, text).unwrap();
    envx(dir.path())
        .args(["run", "--", "true"])
        .assert()
        .code(1);
    envx(dir.path()).args(["get"]).assert().code(1);
    assert!(!dir.path().join(".cache").exists());
}

#[test]
fn the_child_learns_nothing_from_the_cache() {
    let dir = project();
    outcome(dir.path(), &["get"]);
    let file = &cache_files(dir.path())[0];
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(file), 0o600);
        assert_eq!(mode(&cache_folder(dir.path())), 0o700);
    }
    // The child reads the cache, and then tries envx itself with it: it has the cache but not
    // the key (the keys file is not in its reach here, as on a machine where the key comes
    // from the environment or --key-command).
    let key_line = fs::read_to_string(dir.path().join(".env.keys")).unwrap();
    let private = key_line
        .lines()
        .find_map(|l| l.strip_prefix("DOTENV_PRIVATE_KEY="))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    fs::rename(dir.path().join(".env.keys"), dir.path().join("keys.bak")).unwrap();
    let envx_bin = assert_cmd::cargo::cargo_bin("envx");
    let script = format!(
        "od -An -c .cache/envx/*.cache | tr -d ' \\n'; echo; {} get K01 --quiet; echo \"rc=$?\"",
        envx_bin.display()
    );
    let out = envx(dir.path())
        .args(["run", "--", "sh", "-c", &script])
        .env("DOTENV_PRIVATE_KEY", &private)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains("rc=1"), "{stdout}");
    for i in 0..40 {
        assert!(!stdout.contains(&format!("value-{i}-")), "{stdout}");
    }
    assert!(!stdout.contains("BEGIN"), "{stdout}");
}
