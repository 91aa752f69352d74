//! `envx run --proxy` end to end, offline on loopback, with real clients as children.
//!
//! Three HTTPS echo servers with a test CA ([`crate::tls_echo`]), on addresses other than
//! 127.0.0.1 (which the child's `NO_PROXY` holds): API_KEY's host on 127.0.0.2, OTHER_TOKEN's
//! host on 127.0.0.3 (intercepted too, as a rule names it), and a host no rule names on
//! 127.0.0.4 (tunnelled untouched). envx trusts the test CA through `SSL_CERT_FILE` in its own
//! environment. The sealed file `.env.production` holds `API_KEY` and `OTHER_TOKEN` (encrypted,
//! ruled), `DB_PASSWORD` (encrypted, no rule) and `GREETING` (plaintext). The private key is in
//! envx's environment only.
//!
//! The children dump their environment and write what they received into files, which the
//! tests read afterwards.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::envx;
use crate::tls_echo::{Echo, TestCa};

const FILE: &str = ".env.production";
const KEY_VAR: &str = "DOTENV_PRIVATE_KEY_PRODUCTION";
const SECRET: &str = "sk_live_4f9a7c2e1b8d6035aa";
const DB_SECRET: &str = "db-pass-93b1e07c55f2";
const OTHER_SECRET: &str = "other-token-5d0c8e2a71";

/// The files, servers and key of one test.
struct Setup {
    dir: tempfile::TempDir,
    ca: TestCa,
    allowed: Echo,
    other: Echo,
    unnamed: Echo,
    key: String,
}

impl Setup {
    /// A sealed file whose `API_KEY` rule names the allowed server (`in` adds `in=…`).
    fn new(surfaces: Option<&str>) -> Self {
        let ca = TestCa::new();
        let allowed = Echo::start(&ca, "127.0.0.2");
        let other = Echo::start(&ca, "127.0.0.3");
        let unnamed = Echo::start(&ca, "127.0.0.4");
        let dir = tempfile::tempdir().unwrap();
        let holder = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("tmp")).unwrap();
        fs::write(
            dir.path().join(FILE),
            format!("API_KEY={SECRET}\nDB_PASSWORD={DB_SECRET}\nOTHER_TOKEN={OTHER_SECRET}\n"),
        )
        .unwrap();
        let keys = holder.path().join(".env.keys");
        envx(dir.path())
            .args(["encrypt", "-f", FILE, "--keys-file"])
            .arg(&keys)
            .assert()
            .success();
        let key = fs::read_to_string(&keys)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{KEY_VAR}=")))
            .unwrap()
            .trim_matches('"')
            .to_owned();
        let setup = Self {
            dir,
            ca,
            allowed,
            other,
            unnamed,
            key,
        };
        let surfaces = surfaces.map(|s| format!(" in={s}")).unwrap_or_default();
        let text = setup.text().replace(
            "API_KEY=",
            &format!(
                "# envx-proxy: hosts={}{surfaces}\nAPI_KEY=",
                setup.allowed.host()
            ),
        );
        let text = text.replace(
            "OTHER_TOKEN=",
            &format!("# envx-proxy: hosts={}\nOTHER_TOKEN=", setup.other.host()),
        );
        setup.write(&format!("{text}GREETING=hello-plain-world\n"));
        setup.holder(&["seal", "--yes", "-f", FILE]).success();
        setup
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

    fn holder(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        envx(self.path())
            .env(KEY_VAR, &self.key)
            .args(args)
            .assert()
    }

    /// `envx run --proxy -f FILE EXTRA -- sh -c SCRIPT`, with the private key and the test CA
    /// in envx's environment, and TMPDIR inside the test's folder.
    fn run(&self, extra: &[&str], script: &str) -> Output {
        self.command(extra, script).output().unwrap()
    }

    fn command(&self, extra: &[&str], script: &str) -> std::process::Command {
        // A std Command (not assert_cmd's), so a test can spawn it and signal envx.
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_envx"));
        cmd.current_dir(self.path())
            .env_clear()
            .env("PATH", crate::common::path_with_envx())
            .env("HOME", self.path())
            .env("LANG", "C.UTF-8")
            .env(KEY_VAR, &self.key)
            .env("SSL_CERT_FILE", &self.ca.pem)
            .env("TMPDIR", self.path().join("tmp"))
            .args(["run", "--proxy", "-f", FILE])
            .args(extra)
            .args(["--", "sh", "-c", script]);
        cmd
    }

    /// A file the child wrote ("" when it wrote none); bytes that are not UTF-8 shown lossily.
    fn out(&self, name: &str) -> String {
        let bytes = fs::read(self.path().join(name)).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The child's environment, as `env` printed it into `env.txt`.
    fn child_env(&self) -> Vec<(String, String)> {
        self.out("env.txt")
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn child_var(&self, name: &str) -> Option<String> {
        self.child_env()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The placeholder the child got for API_KEY.
    fn placeholder(&self) -> String {
        let value = self.child_var("API_KEY").expect("the child has API_KEY");
        assert!(value.starts_with("envxph_"), "{value}");
        value
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
}

/// The program must be installed: a test that needs it fails, never passes, without it.
fn need(program: &str) {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{program} is not installed: .ci/run installs it for this test"
    );
}

/// Every value in the tests that a child must never see.
fn assert_no_secret(what: &str, text: &str, setup: &Setup) {
    for secret in [SECRET, DB_SECRET, OTHER_SECRET, setup.key.as_str()] {
        assert!(!text.contains(secret), "{what} holds a secret:\n{text}");
    }
}

#[test]
fn the_child_holds_placeholders_and_the_proxy_settings_but_no_secret_or_key() {
    let s = Setup::new(None);
    let out = s.run(&[], "env > env.txt");
    assert_ok(&out);
    let env = s.out("env.txt");
    assert_no_secret("the child's environment", &env, &s);
    let placeholder = s.placeholder();
    assert_eq!(placeholder.len(), "envxph_".len() + 40);
    assert!(
        placeholder["envxph_".len()..]
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    );
    // Encrypted without a rule: withheld. Plaintext: as it is.
    assert_eq!(s.child_var("DB_PASSWORD"), None);
    assert_eq!(
        s.child_var("GREETING").as_deref(),
        Some("hello-plain-world")
    );
    // No private key under any name.
    assert!(!env.contains("DOTENV_PRIVATE_KEY"), "{env}");
    let proxy = s.child_var("HTTPS_PROXY").unwrap();
    assert!(proxy.starts_with("http://envx:"), "{proxy}");
    assert!(proxy.contains("@127.0.0.1:"), "{proxy}");
    for name in ["HTTP_PROXY", "https_proxy", "http_proxy"] {
        assert_eq!(s.child_var(name).as_deref(), Some(proxy.as_str()), "{name}");
    }
    for name in ["NO_PROXY", "no_proxy"] {
        assert_eq!(
            s.child_var(name).as_deref(),
            Some("localhost,127.0.0.1,::1"),
            "{name}"
        );
    }
    let bundle = s.child_var("SSL_CERT_FILE").unwrap();
    for name in [
        "CURL_CA_BUNDLE",
        "REQUESTS_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "GIT_SSL_CAINFO",
        "AWS_CA_BUNDLE",
        "PIP_CERT",
        "CARGO_HTTP_CAINFO",
    ] {
        assert_eq!(
            s.child_var(name).as_deref(),
            Some(bundle.as_str()),
            "{name}"
        );
    }
    assert_eq!(s.child_var("NODE_USE_ENV_PROXY").as_deref(), Some("1"));
    assert_eq!(s.child_var("ENVX_PROXY").as_deref(), Some("1"));
    assert_eq!(
        s.child_var("ENVX_PROXY_PLACEHOLDERS").as_deref(),
        Some("API_KEY,OTHER_TOKEN")
    );
    // The bundle is gone once envx has exited, folder and all.
    let bundle = PathBuf::from(bundle);
    assert!(!bundle.exists(), "{} is still there", bundle.display());
    assert!(!bundle.parent().unwrap().exists());
}

#[test]
fn the_bundle_is_private_holds_the_run_ca_and_no_key_is_written_to_disk() {
    let s = Setup::new(None);
    // While the child runs: the bundle's mode, and every file envx could have written (its
    // TMPDIR, the project folder and HOME, which is the same folder here).
    let script = "env > env.txt; stat -c %a \"$SSL_CERT_FILE\" > mode.txt; \
                  stat -c %a \"$(dirname \"$SSL_CERT_FILE\")\" > dirmode.txt; \
                  find \"$TMPDIR\" . -type f ! -name '*.txt' -exec cat {} + > files.txt";
    let out = s.run(&[], script);
    assert_ok(&out);
    assert_eq!(s.out("mode.txt").trim(), "600");
    assert_eq!(s.out("dirmode.txt").trim(), "700");
    let files = s.out("files.txt");
    // The scan saw the bundle: the system roots, the test CA envx's environment named, and
    // the run's CA.
    let test_ca = fs::read_to_string(&s.ca.pem).unwrap();
    assert!(
        files.contains(test_ca.trim()),
        "the bundle lacks the test CA:\n{test_ca}\nscanned: {} bytes, {} certificates",
        files.len(),
        files.matches("BEGIN CERTIFICATE").count()
    );
    assert!(files.matches("BEGIN CERTIFICATE").count() >= 2);
    assert!(!files.contains("PRIVATE KEY"), "a private key was written");
    assert_no_secret("the files envx wrote", &files, &s);
    assert!(
        fs::read_dir(s.path().join("tmp")).unwrap().next().is_none(),
        "envx left something in TMPDIR"
    );
}

#[test]
fn the_childs_exit_code_passes_and_the_bundle_goes_on_failure_and_on_sigterm() {
    let s = Setup::new(None);
    let out = s.run(&[], "env > env.txt; exit 7");
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let bundle = PathBuf::from(s.child_var("SSL_CERT_FILE").unwrap());
    assert!(!bundle.parent().unwrap().exists());

    // SIGTERM to envx reaches the child, and envx still removes the bundle.
    fs::remove_file(s.path().join("env.txt")).unwrap();
    let mut child = s
        .command(&[], "env > env.tmp && mv env.tmp env.txt; exec sleep 30")
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while s.child_var("SSL_CERT_FILE").is_none() {
        assert!(start.elapsed().as_secs() < 20, "the child did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let bundle = PathBuf::from(s.child_var("SSL_CERT_FILE").unwrap());
    assert!(bundle.exists());
    rustix_kill(child.id());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15));
    assert!(
        !bundle.parent().unwrap().exists(),
        "the bundle outlived SIGTERM"
    );
}

fn rustix_kill(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn rules_from_a_file_whose_seal_does_not_verify_start_nothing() {
    let s = Setup::new(None);
    let sealed = s.text();
    // Someone with the public key only sends the value to their own host.
    s.write(&sealed.replace(&s.allowed.host(), &s.other.host()));
    let out = s.run(&[], "touch child-ran");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(FILE), "{err}");
    assert!(err.contains("not started"), "{err}");
    assert!(!s.path().join("child-ran").exists());
    assert_no_secret("stderr", &err, &s);

    // No seal at all.
    let unsealed: String = sealed
        .lines()
        .filter(|l| !l.starts_with("#envx-seal"))
        .map(|l| format!("{l}\n"))
        .collect();
    s.write(&unsealed);
    let out = s.run(&[], "touch child-ran");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not sealed"), "{}", stderr(&out));
    assert!(!s.path().join("child-ran").exists());

    // The sealed file itself runs.
    s.write(&sealed);
    s.run(&[], "touch child-ran");
    assert!(s.path().join("child-ran").exists(), "the sealed file runs");
}

#[test]
fn redact_with_proxy_filters_real_values_and_shows_placeholders() {
    let s = Setup::new(None);
    let out = s.run(
        &["--redact"],
        "env > env.txt; echo \"key=$API_KEY\"; echo \"greeting=$GREETING\"",
    );
    assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("key={}", s.placeholder())),
        "{stdout}"
    );
    assert!(stdout.contains("greeting=[REDACTED:GREETING]"), "{stdout}");
}

#[test]
fn run_without_proxy_is_unchanged() {
    let s = Setup::new(None);
    let out = envx(s.path())
        .env(KEY_VAR, &s.key)
        .args(["run", "-f", FILE, "--", "sh", "-c", "env > env.txt"])
        .output()
        .unwrap();
    assert_ok(&out);
    assert_eq!(s.child_var("API_KEY").as_deref(), Some(SECRET));
    assert_eq!(s.child_var("DB_PASSWORD").as_deref(), Some(DB_SECRET));
    for name in [
        "HTTPS_PROXY",
        "ENVX_PROXY",
        "SSL_CERT_FILE",
        "NODE_USE_ENV_PROXY",
    ] {
        assert_eq!(s.child_var(name), None, "{name}");
    }
}

/// The engine is linked into `envx-proxy` only: `envx` holds none of its code (a message only
/// the engine prints is the marker), so a run without `--proxy` does not load it.
#[test]
fn the_envx_executable_carries_no_proxy_engine() {
    const MARKER: &[u8] = b"envx proxy: only CONNECT and http:// requests";
    let holds = |path: &str| {
        let bytes = fs::read(path).unwrap();
        bytes.windows(MARKER.len()).any(|w| w == MARKER)
    };
    assert!(
        holds(env!("CARGO_BIN_EXE_envx-proxy")),
        "the marker is the engine's"
    );
    assert!(
        !holds(env!("CARGO_BIN_EXE_envx")),
        "envx links the proxy engine"
    );
}

/// `envx run --proxy` with no `envx-proxy` beside it: a clear error, and nothing starts.
#[test]
fn run_proxy_without_envx_proxy_beside_it_starts_nothing() {
    let s = Setup::new(None);
    let alone = tempfile::tempdir().unwrap();
    let envx_copy = alone.path().join("envx");
    fs::copy(env!("CARGO_BIN_EXE_envx"), &envx_copy).unwrap();
    let out = std::process::Command::new(&envx_copy)
        .current_dir(s.path())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", s.path())
        .env(KEY_VAR, &s.key)
        .args([
            "run",
            "--proxy",
            "-f",
            FILE,
            "--",
            "sh",
            "-c",
            "env > env.txt",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("{}", alone.path().join("envx-proxy").display()))
            && err.contains("cannot be started"),
        "{err}"
    );
    assert!(!s.path().join("env.txt").exists(), "the child ran");
    assert_no_secret("stderr", &err, &s);
}

#[test]
fn plain_gives_a_withheld_key_and_a_reference_to_a_withheld_secret_is_withheld_too() {
    let s = Setup::new(None);
    let text = s.text();
    // A plaintext value that embeds the withheld password through a reference, and one that
    // embeds the ruled key.
    s.write(&format!(
        "{text}DATABASE_URL=postgres://app:${{DB_PASSWORD}}@db/app\nAUTH_HEADER=\"Bearer ${{API_KEY}}\"\n"
    ));
    s.holder(&["seal", "--yes", "-f", FILE]).success();
    let out = s.run(&[], "env > env.txt");
    assert_ok(&out);
    assert_no_secret("the child's environment", &s.out("env.txt"), &s);
    assert_eq!(s.child_var("DATABASE_URL"), None);
    assert!(
        stderr(&out).contains("DATABASE_URL is withheld"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        s.child_var("AUTH_HEADER"),
        Some(format!("Bearer {}", s.placeholder()))
    );

    let out = s.run(&["--plain", "DB_PASSWORD,DATABASE_URL"], "env > env.txt");
    assert_ok(&out);
    assert_eq!(s.child_var("DB_PASSWORD").as_deref(), Some(DB_SECRET));
    assert_eq!(
        s.child_var("DATABASE_URL"),
        Some(format!("postgres://app:{DB_SECRET}@db/app"))
    );
}

/// The curl script every curl test runs: the allowed host, the other host, and a bypass of the
/// proxy to the allowed host, each sending the placeholder as a bearer token.
fn curl_script(s: &Setup) -> String {
    format!(
        "env > env.txt\n\
         curl -sS -H \"Authorization: Bearer $API_KEY\" {a}/allowed > allowed.txt 2> allowed.err\n\
         curl -sS -o other.txt -w '%{{http_code}}' -H \"Authorization: Bearer $API_KEY\" {o}/other > other.code\n\
         curl -sS -o unnamed.txt -w '%{{http_code}}' -H \"Authorization: Bearer $API_KEY\" {u}/unnamed > unnamed.code\n\
         curl -sS --noproxy '*' -H \"Authorization: Bearer $API_KEY\" {a}/bypass > bypass.txt\n\
         nocred=$(printf %s \"$HTTPS_PROXY\" | sed 's|//envx:[a-z0-9]*@|//|')\n\
         curl -sS -o /dev/null -w '%{{http_connect}}' -x \"$nocred\" -H \"Authorization: Bearer $API_KEY\" {a}/nocred > nocred.code\n\
         true",
        a = s.allowed.url(),
        o = s.other.url(),
        u = s.unnamed.url()
    )
}

#[test]
#[ignore = "needs curl; .ci/run installs it and runs ignored tests"]
fn curl_the_allowed_host_gets_the_value_others_the_placeholder_and_the_log_no_value() {
    need("curl");
    let s = Setup::new(None);
    let log = s.path().join("audit.jsonl");
    let out = s.run(&["--proxy-log", log.to_str().unwrap()], &curl_script(&s));
    assert_ok(&out);
    let placeholder = s.placeholder();
    assert_no_secret("the child's environment", &s.out("env.txt"), &s);

    // The allowed host received the real value, and the child got its echo back scrubbed.
    let got = s.allowed.received();
    let allowed = got
        .iter()
        .find(|r| r.head.starts_with("GET /allowed "))
        .unwrap();
    assert!(
        allowed.head.contains(&format!("Bearer {SECRET}")),
        "{}",
        allowed.head
    );
    let echoed = s.out("allowed.txt");
    assert!(
        echoed.starts_with("ECHO\n"),
        "{echoed}{}",
        s.out("allowed.err")
    );
    assert!(
        echoed.contains(&format!("Bearer {placeholder}")),
        "{echoed}"
    );
    assert_no_secret("the response the child got", &echoed, &s);

    // Another ruled host (intercepted): API_KEY's placeholder, as it is.
    let other = s.other.received();
    let other = other
        .iter()
        .find(|r| r.head.starts_with("GET /other "))
        .unwrap();
    assert!(
        other.head.contains(&format!("Bearer {placeholder}")),
        "{}",
        other.head
    );
    assert_no_secret("what the other host received", &other.text(), &s);
    assert_eq!(s.out("other.code"), "200");
    // A host no rule names (tunnelled): the placeholder too.
    let unnamed = s.unnamed.received();
    let unnamed = unnamed
        .iter()
        .find(|r| r.head.starts_with("GET /unnamed "))
        .unwrap();
    assert!(unnamed.head.contains(&format!("Bearer {placeholder}")));
    assert_no_secret("what an unnamed host received", &unnamed.text(), &s);

    // Past the proxy: only the placeholder.
    let bypass = got
        .iter()
        .find(|r| r.head.starts_with("GET /bypass "))
        .unwrap();
    assert!(bypass.head.contains(&format!("Bearer {placeholder}")));
    assert_no_secret("what a client bypassing the proxy sent", &bypass.text(), &s);

    // Without the run's credential: 407, and nothing reaches the host.
    assert_eq!(s.out("nocred.code"), "407");
    assert!(!got.iter().any(|r| r.head.contains("/nocred")));

    // The audit log: 0600, a line per request that carried a placeholder, no value.
    let log_text = fs::read_to_string(&log).unwrap();
    assert_no_secret("the audit log", &log_text, &s);
    assert!(!log_text.contains(&placeholder), "{log_text}");
    let lines: Vec<serde_json::Value> = log_text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{log_text}");
    assert!(lines.iter().all(|l| l.to_string().contains("API_KEY")));
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(&log).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // One line per key at exit: counts and hosts, no value.
    let err = stderr(&out);
    assert_no_secret("stderr", &err, &s);
    let line = err
        .lines()
        .find(|l| l.contains("proxy: API_KEY:"))
        .unwrap_or_else(|| panic!("no summary line: {err}"));
    assert!(line.contains("1 substitution "), "{line}");
    assert!(line.contains("127.0.0.2"), "{line}");
    assert!(line.contains("1 refused"), "{line}");
}

#[test]
#[ignore = "needs curl; .ci/run installs it and runs ignored tests"]
fn curl_proxy_strict_refuses_a_placeholder_for_another_host() {
    need("curl");
    let s = Setup::new(None);
    let out = s.run(&["--proxy-strict"], &curl_script(&s));
    assert_ok(&out);
    assert_eq!(s.out("other.code"), "403");
    // A host no rule names is tunnelled, unread: strict or not, it gets the placeholder.
    assert_eq!(s.out("unnamed.code"), "200");
    assert!(
        !s.other.received().iter().any(|r| r.head.contains("/other")),
        "the refused request was forwarded"
    );
    // The allowed host still gets its value.
    assert!(
        s.allowed
            .received()
            .iter()
            .any(|r| r.head.starts_with("GET /allowed ") && r.head.contains(SECRET))
    );
}

#[test]
#[ignore = "needs curl; .ci/run installs it and runs ignored tests"]
fn a_rule_given_on_the_command_line_needs_no_seal() {
    need("curl");
    let s = Setup::new(None);
    // The file loses its seal and its rule; --proxy-hosts gives the rule instead.
    let text: String = s
        .text()
        .lines()
        .filter(|l| !l.starts_with("#envx-seal") && !l.starts_with("# envx-proxy"))
        .map(|l| format!("{l}\n"))
        .collect();
    s.write(&text);
    let rule = format!("API_KEY={}", s.unnamed.host());
    let out = s.run(&["--proxy-hosts", &rule], &curl_script(&s));
    assert_ok(&out);
    let unnamed = s.unnamed.received();
    assert!(
        unnamed
            .iter()
            .any(|r| r.head.contains(&format!("Bearer {SECRET}")))
    );
    assert!(!s.allowed.received().iter().any(|r| r.head.contains(SECRET)));
}

/// urllib always, requests when this python has it.
const PYTHON_PROBE: &str = r#"
import os, sys, urllib.request as u
base = sys.argv[1]
h = {'Authorization': 'Bearer ' + os.environ['API_KEY']}
print(u.urlopen(u.Request(base + '/urllib', headers=h), timeout=20).read().decode())
try:
    import requests
except ImportError:
    print('NO-REQUESTS')
else:
    print(requests.get(base + '/requests', headers=h, timeout=20).text)
"#;

#[test]
#[ignore = "needs python3; .ci/run installs it and runs ignored tests"]
fn python_urllib_and_requests_go_through_the_proxy() {
    need("python3");
    let s = Setup::new(None);
    fs::write(s.path().join("probe.py"), PYTHON_PROBE).unwrap();
    let script = format!(
        "env > env.txt; python3 probe.py {a} > python.txt 2> python.err; true",
        a = s.allowed.url()
    );
    let out = s.run(&[], &script);
    assert_ok(&out);
    let placeholder = s.placeholder();
    let printed = s.out("python.txt");
    assert!(
        printed.contains("GET /urllib "),
        "{printed}{}",
        s.out("python.err")
    );
    assert!(printed.contains(&placeholder), "{printed}");
    assert_no_secret("python's output", &printed, &s);
    let got = s.allowed.received();
    let urllib = got.iter().find(|r| r.head.contains("/urllib")).unwrap();
    assert!(urllib.head.contains(&format!("Bearer {SECRET}")));
    if !printed.contains("NO-REQUESTS") {
        let requests = got.iter().find(|r| r.head.contains("/requests")).unwrap();
        assert!(requests.head.contains(&format!("Bearer {SECRET}")));
    }
}

/// node 20's fetch ignores the proxy variables (node 24 honours them with NODE_USE_ENV_PROXY=1),
/// so the child does what works on any node: an `https.request` through a CONNECT tunnel it
/// opens to `HTTPS_PROXY` (with the credential from its URL), trusting NODE_EXTRA_CA_CERTS.
const NODE_CONNECT: &str = r#"
const http = require('http'), https = require('https'), tls = require('tls');
const proxy = new URL(process.env.HTTPS_PROXY);
const target = new URL(process.argv[2]);
const auth = Buffer.from(decodeURIComponent(proxy.username) + ':' + decodeURIComponent(proxy.password)).toString('base64');
http.request({host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: target.host,
              headers: {'Proxy-Authorization': 'Basic ' + auth}})
  .on('connect', (res, socket) => {
    if (res.statusCode !== 200) { console.error('CONNECT ' + res.statusCode); process.exit(1); }
    https.get(target, {headers: {authorization: 'Bearer ' + process.env.API_KEY},
                       createConnection: () => tls.connect({socket, host: target.hostname})},
      r => { let b = ''; r.on('data', d => b += d); r.on('end', () => { console.log(b); socket.destroy(); }); })
      .on('error', e => { console.error(String(e)); process.exit(1); });
  })
  .on('error', e => { console.error(String(e)); process.exit(1); })
  .end();
"#;

#[test]
#[ignore = "needs node; .ci/run installs it and runs ignored tests"]
fn node_through_a_connect_tunnel() {
    need("node");
    let s = Setup::new(None);
    fs::write(s.path().join("probe.js"), NODE_CONNECT).unwrap();
    let script = format!(
        "env > env.txt; node probe.js {a}/node > node.txt 2> node.err; true",
        a = s.allowed.url()
    );
    let out = s.run(&[], &script);
    assert_ok(&out);
    let printed = s.out("node.txt");
    assert!(
        printed.contains("GET /node "),
        "{printed}{}",
        s.out("node.err")
    );
    assert!(printed.contains(&s.placeholder()), "{printed}");
    assert_no_secret("node's output", &printed, &s);
    let got = s.allowed.received();
    let node = got.iter().find(|r| r.head.contains("/node")).unwrap();
    assert!(node.head.contains(&format!("Bearer {SECRET}")));
}

#[test]
#[ignore = "needs git; .ci/run installs it and runs ignored tests"]
fn git_ls_remote_sends_the_real_password_in_basic_auth() {
    need("git");
    let s = Setup::new(None);
    let script = format!(
        "env > env.txt\n\
         GIT_TERMINAL_PROMPT=0 git ls-remote \"https://deploy:$API_KEY@{h}/repo.git\" > git.txt 2> git.err\n\
         echo $? > git.code",
        h = s.allowed.host()
    );
    let out = s.run(&[], &script);
    assert_ok(&out);
    assert_eq!(
        s.out("git.code").trim(),
        "0",
        "{}{}",
        s.out("git.txt"),
        s.out("git.err")
    );
    assert!(s.out("git.txt").contains("refs/heads/main"));
    let got = s.allowed.received();
    let with_auth = got
        .iter()
        .find(|r| r.head.to_ascii_lowercase().contains("authorization: basic"))
        .unwrap_or_else(|| panic!("git sent no credentials: {got:?}"));
    let basic = with_auth
        .head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("authorization")
                .then(|| v.trim().strip_prefix("Basic ").unwrap().to_owned())
        })
        .unwrap();
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic)
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        format!("deploy:{SECRET}")
    );
    assert_no_secret("git's output", &(s.out("git.txt") + &s.out("git.err")), &s);
}

#[test]
#[ignore = "needs curl and python3; .ci/run installs them and runs ignored tests"]
fn check_reports_which_clients_work() {
    need("curl");
    need("python3");
    let dir = tempfile::tempdir().unwrap();
    let out = envx(dir.path())
        .args(["run", "--proxy", "--check"])
        .output()
        .unwrap();
    let err = stderr(&out);
    let line = |name: &str| {
        err.lines()
            .find(|l| l.contains(&format!("{name} (")) || l.contains(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no line for {name}: {err}"))
            .to_owned()
    };
    assert!(line("curl").ends_with(": works"), "{err}");
    assert!(line("python urllib").ends_with(": works"), "{err}");
    assert!(line("go net/http").contains(':'), "{err}");
}
