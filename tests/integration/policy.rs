//! The loader policy and `get --format shell|eval`, played for real: committed (encrypted)
//! values that would make a child run code, and hostile names and values fed to `sh -c eval`.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::process::Command as Process;

use crate::common::{envx, fixtures, stderr_of};

const KAT_PRIVATE: &str = "64294efce9d019865bd2ed212fac9dfaacfb744fa5fd5c39453ea0f20871948f";

fn child_env(output: &std::process::Output) -> HashMap<String, String> {
    String::from_utf8_lossy(&output.stdout)
        .split('\0')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Writes `.env` with `lines` in `dir` and encrypts every value, as a pull request from anyone
/// holding the public key could commit it.
fn committed(dir: &Path, lines: &str) {
    fs::write(dir.join(".env"), lines).unwrap();
    envx(dir).arg("encrypt").assert().success();
    let text = fs::read_to_string(dir.join(".env")).unwrap();
    assert!(text.contains("encrypted:"), "{text}");
}

/// A command that fails (not skips) when the tool is missing.
fn tool(dir: &Path, program: &str, args: &[&str]) {
    let status = Process::new(program)
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .status()
        .unwrap_or_else(|e| panic!("{program} is needed for this test: {e}"));
    assert!(status.success(), "{program} {args:?}");
}

/// Runs `command` under `envx run` with `extra` flags; returns whether the run started.
fn run_child(dir: &Path, extra: &[&str], command: &[&str]) -> (bool, String) {
    let out = envx(dir)
        .arg("run")
        .args(extra)
        .arg("--")
        .args(command)
        .output()
        .unwrap();
    (out.status.success(), stderr_of(&out))
}

/// The attack is tried twice: refused by default (no marker), and with the name allowed, to
/// prove the planted value really runs code (so the first half can fail).
fn plays_out(dir: &Path, name: &str, flags: &[&str], command: &[&str]) {
    let marker = dir.join("pwned");
    let (started, stderr) = run_child(dir, flags, command);
    assert!(!started, "{name}: the child started");
    assert!(
        stderr.contains(&format!(": {name} changes how programs load code")),
        "{stderr}"
    );
    assert!(!marker.exists(), "{name}: the planted code ran");
    let allow = [flags, &["--allow-loader-vars", name]].concat();
    let (_, stderr) = run_child(dir, &allow, command);
    assert!(
        marker.exists(),
        "{name}: the control attack did not run: {stderr}"
    );
}

#[test]
#[ignore = "needs git; .ci/run installs it and runs ignored tests"]
fn a_committed_git_dir_runs_no_code_in_a_child() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tool(d, "git", &["init", "-q", "."]);
    tool(d, "git", &["init", "-q", "vendor/planted"]);
    let hook = format!("touch {}; false", d.join("pwned").display());
    tool(
        d,
        "git",
        &[
            "config",
            "-f",
            "vendor/planted/.git/config",
            "core.fsmonitor",
            &hook,
        ],
    );
    committed(d, "APP=1\nGIT_DIR=vendor/planted/.git\n");
    plays_out(d, "GIT_DIR", &[], &["git", "status"]);
}

#[test]
#[ignore = "needs git; .ci/run installs it and runs ignored tests"]
fn a_committed_xdg_config_home_runs_no_code_in_a_child() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tool(d, "git", &["init", "-q", "."]);
    fs::create_dir_all(d.join("cfg/git")).unwrap();
    let hook = format!("touch {}; false", d.join("pwned").display());
    fs::write(
        d.join("cfg/git/config"),
        format!("[core]\n\tfsmonitor = \"{hook}\"\n"),
    )
    .unwrap();
    committed(
        d,
        &format!("APP=1\nXDG_CONFIG_HOME={}\n", d.join("cfg").display()),
    );
    plays_out(d, "XDG_CONFIG_HOME", &[], &["git", "status"]);
}

#[test]
#[ignore = "needs python3; .ci/run installs it and runs ignored tests"]
fn a_committed_pythonuserbase_runs_no_code_in_a_child() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let version = Process::new("python3")
        .args([
            "-c",
            "import sys; print('python%d.%d' % sys.version_info[:2])",
        ])
        .output()
        .expect("python3 is needed for this test");
    let version = String::from_utf8(version.stdout).unwrap();
    let site = d
        .join("base/lib")
        .join(version.trim())
        .join("site-packages");
    fs::create_dir_all(&site).unwrap();
    fs::write(
        site.join("usercustomize.py"),
        format!(
            "open({:?}, 'w').close()\n",
            d.join("pwned").display().to_string()
        ),
    )
    .unwrap();
    committed(
        d,
        &format!("APP=1\nPYTHONUSERBASE={}\n", d.join("base").display()),
    );
    plays_out(d, "PYTHONUSERBASE", &[], &["python3", "-c", "pass"]);
}

#[test]
fn committed_loader_values_do_not_reach_a_child() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // BASH_ENV: every non-interactive bash sources it.
    fs::write(
        d.join("evil.sh"),
        format!("touch {}\n", d.join("pwned").display()),
    )
    .unwrap();
    committed(
        d,
        &format!("APP=1\nBASH_ENV={}\n", d.join("evil.sh").display()),
    );
    plays_out(d, "BASH_ENV", &[], &["bash", "-c", "true"]);

    // PATH: a command the child runs by name comes from the planted folder.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("bin")).unwrap();
    let helper = d.join("bin/helper");
    fs::write(
        &helper,
        format!("#!/bin/sh\ntouch {}\n", d.join("pwned").display()),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&helper, fs::Permissions::from_mode(0o755)).unwrap();
    }
    committed(
        d,
        &format!("PATH={}:/usr/bin:/bin\n", d.join("bin").display()),
    );
    // The parent's PATH wins over a file's unless --overload, which is where the file's counts.
    plays_out(d, "PATH", &["--overload"], &["/bin/sh", "-c", "helper"]);
}

/// One name of each class, committed encrypted: refused by `run` and by `get --format shell`,
/// and never in the child's environment.
#[test]
fn every_loader_class_is_refused_by_run_and_get() {
    let names = [
        "LD_PRELOAD",
        "PATH",
        "XDG_CONFIG_HOME",
        "PROMPT_COMMAND",
        "GIT_SSH_COMMAND",
        "PYTHONSTARTUP",
        "NODE_OPTIONS",
        "npm_config_registry",
        "HTTPS_PROXY",
        "https_proxy",
        "SSL_CERT_FILE",
        "NODE_EXTRA_CA_CERTS",
        "RUSTC_WRAPPER",
        "JAVA_TOOL_OPTIONS",
        "PERL5OPT",
        "RUBYOPT",
        "LESSOPEN",
        "AWS_CONFIG_FILE",
        "GEM_HOME",
        "BUNDLE_GEMFILE",
        "CARGO_HOME",
        "IFS",
        "SHELLOPTS",
        "ENV",
        "OPENSSL_CONF",
        "KUBECONFIG",
    ];
    for name in names {
        let dir = tempfile::tempdir().unwrap();
        committed(dir.path(), &format!("APP=1\n{name}=/tmp/planted\n"));
        let out = envx(dir.path())
            .args(["run", "--overload", "--", "env", "-0"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(out.stdout.is_empty(), "{name}: the child started");
        assert!(
            stderr_of(&out).contains(&format!(".env:9: {name} changes how programs")),
            "{name}: {}",
            stderr_of(&out)
        );
        for format in ["shell", "eval"] {
            let out = envx(dir.path())
                .args(["get", "--overload", "--format", format])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1), "{name} {format}");
            assert!(out.stdout.is_empty(), "{name} {format}");
        }
    }
}

#[test]
fn allowing_one_loader_variable_allows_only_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    committed(
        d,
        "HTTPS_PROXY=http://proxy:3128\nNODE_OPTIONS=--require ./x.js\nA=1\n",
    );
    let out = envx(d)
        .args([
            "run",
            "--allow-loader-vars",
            "HTTPS_PROXY",
            "--",
            "env",
            "-0",
        ])
        .assert()
        .code(1);
    assert!(stderr_of(out.get_output()).contains(": NODE_OPTIONS changes"));
    let out = envx(d)
        .args([
            "run",
            "--allow-loader-vars",
            "HTTPS_PROXY,NODE_OPTIONS",
            "--",
            "env",
            "-0",
        ])
        .assert()
        .success();
    let env = child_env(out.get_output());
    assert_eq!(env["HTTPS_PROXY"], "http://proxy:3128");
    assert_eq!(env["NODE_OPTIONS"], "--require ./x.js");
    // Repeating the flag works as the list does.
    envx(d)
        .args(["run", "--allow-loader-vars", "HTTPS_PROXY"])
        .args(["--allow-loader-vars", "NODE_OPTIONS", "--", "true"])
        .assert()
        .success();
    // A bare flag no longer means "all", and a name no class refuses is a typo.
    envx(d)
        .args(["run", "--allow-loader-vars", "--", "true"])
        .assert()
        .code(2);
    let out = envx(d)
        .args(["run", "--allow-loader-vars", "HTTPS_PROXI", "--", "true"])
        .assert()
        .code(2);
    assert!(stderr_of(out.get_output()).contains("HTTPS_PROXI is not a loader variable"));
    // get --format shell takes the same names.
    let out = envx(d)
        .args([
            "get",
            "--format",
            "shell",
            "--allow-loader-vars",
            "HTTPS_PROXY,NODE_OPTIONS",
        ])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        text.contains("export NODE_OPTIONS='--require ./x.js'\n"),
        "{text}"
    );
}

/// The README's loader table is the policy: an application's own values are untouched.
#[test]
fn every_framework_env_file_runs_unchanged() {
    let cases = [
        ("nextjs", ".env.production", 26),
        ("django", ".env", 26),
        ("rails", ".env", 26),
        ("rust-service", ".env", 17),
    ];
    for (case, file, count) in cases {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::copy(
            fixtures().join("frameworks").join(case).join(file),
            d.join(file),
        )
        .unwrap();
        for round in ["plaintext", "encrypted"] {
            let expected = crate::common::get_json(d, file);
            // Encrypting adds the public key.
            let count = count + usize::from(round == "encrypted");
            assert_eq!(expected.len(), count, "{case} {round}: keys in {file}");
            let out = envx(d)
                .args(["run", "-f", file, "--", "env", "-0"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{case} {round}: {}", stderr_of(&out));
            let env = child_env(&out);
            for (key, value) in &expected {
                assert_eq!(
                    env.get(key).map(String::as_str),
                    value.as_str(),
                    "{case} {round}: {key}"
                );
            }
            envx(d).args(["encrypt", "-f", file]).assert().success();
        }
        // The same through a shell.
        let out = envx(d)
            .args(["get", "-f", file, "--format", "shell"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{case}: {}", stderr_of(&out));
    }
}

/// Runs `sh -c 'eval "$(envx get …)"; …'` in `dir` and returns its stdout.
fn eval_in_sh(dir: &Path, get_args: &str, then: &str) -> std::process::Output {
    let envx = assert_cmd::cargo::cargo_bin("envx");
    let script = format!("eval \"$('{}' get {get_args})\" && {then}", envx.display());
    Process::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .output()
        .unwrap()
}

#[test]
fn eval_of_get_shell_never_exports_a_committed_ld_preload() {
    let dir = tempfile::tempdir().unwrap();
    committed(dir.path(), "APP=1\nLD_PRELOAD=/tmp/evil.so\n");
    for format in ["shell", "eval"] {
        let out = eval_in_sh(
            dir.path(),
            &format!("--format {format}"),
            "echo \"APP=${APP-unset} LD_PRELOAD=${LD_PRELOAD-unset}\"",
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!stdout.contains("evil"), "{format}: {stdout}");
        assert!(
            stderr_of(&out).contains(".env:9: LD_PRELOAD changes"),
            "{}",
            stderr_of(&out)
        );
    }
}

#[test]
fn get_all_never_prints_a_private_key_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".env"), "A=1\n").unwrap();
    for format in ["json", "shell", "eval", "dotenv"] {
        let out = envx(dir.path())
            .args(["get", "--all", "--format", format])
            .env("DOTENV_PRIVATE_KEY_PRODUCTION", KAT_PRIVATE)
            .env("DOTENV_PRIVATE_KEY", KAT_PRIVATE)
            .assert()
            .success();
        let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        assert!(!stdout.contains(KAT_PRIVATE), "{format}: {stdout}");
        assert!(!stdout.contains("DOTENV_PRIVATE_KEY"), "{format}: {stdout}");
        assert!(
            stdout.contains("LANG"),
            "{format}: --all shows the environment"
        );
    }
    // Asked for by name, or defined in the file but won by the environment: still refused.
    fs::write(dir.path().join(".env"), "DOTENV_PRIVATE_KEY=planted\n").unwrap();
    for args in [
        &["get", "DOTENV_PRIVATE_KEY_PRODUCTION", "--all"][..],
        &["get", "DOTENV_PRIVATE_KEY"][..],
    ] {
        let out = envx(dir.path())
            .args(args)
            .env("DOTENV_PRIVATE_KEY_PRODUCTION", KAT_PRIVATE)
            .env("DOTENV_PRIVATE_KEY", KAT_PRIVATE)
            .assert()
            .code(1);
        assert!(!String::from_utf8_lossy(&out.get_output().stdout).contains(KAT_PRIVATE));
        assert!(stderr_of(out.get_output()).contains("never prints a private key"));
    }
    let out = envx(dir.path())
        .args(["get"])
        .env("DOTENV_PRIVATE_KEY", KAT_PRIVATE)
        .assert()
        .success();
    assert!(!String::from_utf8_lossy(&out.get_output().stdout).contains(KAT_PRIVATE));
}

#[test]
fn get_shell_output_is_safe_to_eval_whatever_the_values() {
    let hostile = [
        "it's",
        "'; touch pwned; '",
        "\"; touch pwned; \"",
        "`touch pwned`",
        "${HOME}$HOME\\n\\",
        "line one\nline two\n\n",
        "'\\''",
        "tab\there; touch pwned",
        "ünïcödé ✓",
    ];
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (i, value) in hostile.iter().enumerate() {
        // From stdin: the value travels exactly, newlines included.
        envx(d)
            .args(["set", &format!("K{i}"), "-f", ".env"])
            .write_stdin(*value)
            .assert()
            .success();
    }
    let expected = crate::common::get_json(d, ".env");
    assert_eq!(
        expected.len(),
        hostile.len() + 1,
        "the values and the public key"
    );
    // `$(...)` in a file value is refused before any output; from the environment, `--all`
    // prints it, so it is tried there, with the other values.
    let command = "$(touch pwned)";
    for format in ["shell", "eval"] {
        let envx = assert_cmd::cargo::cargo_bin("envx");
        let out = Process::new("/bin/sh")
            .arg("-c")
            .arg(format!(
                "eval \"$('{}' get --all --format {format})\" && printf %s \"$HOSTILE\"",
                envx.display()
            ))
            .current_dir(d)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOSTILE", command)
            .output()
            .unwrap();
        assert!(out.status.success(), "{format}: {}", stderr_of(&out));
        assert_eq!(String::from_utf8(out.stdout).unwrap(), command);
        for (i, _) in hostile.iter().enumerate() {
            let out = eval_in_sh(
                d,
                &format!("--format {format}"),
                &format!("printf %s \"$K{i}\""),
            );
            assert!(out.status.success(), "{format} K{i}: {}", stderr_of(&out));
            assert_eq!(
                String::from_utf8(out.stdout).unwrap(),
                expected[&format!("K{i}")].as_str().unwrap(),
                "{format} K{i}"
            );
        }
        assert!(!d.join("pwned").exists(), "{format}: eval ran a command");
    }
}

#[test]
fn get_shell_refuses_names_a_shell_cannot_assign() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in ["A-B", "A.B", "1ABC"] {
        fs::write(d.join(".env"), format!("OK=1\n{name}=x\n")).unwrap();
        for format in ["shell", "eval"] {
            let out = envx(d).args(["get", "--format", format]).assert().code(1);
            assert!(out.get_output().stdout.is_empty(), "{name}");
            assert!(
                stderr_of(out.get_output())
                    .contains(&format!("{name} is not a valid shell variable name")),
                "{name}: {}",
                stderr_of(out.get_output())
            );
        }
        // JSON can carry any name.
        envx(d).args(["get", "--format", "json"]).assert().success();
    }
    // From the environment with --all, too.
    fs::write(d.join(".env"), "OK=1\n").unwrap();
    let out = envx(d)
        .args(["get", "--all", "--format", "shell"])
        .env("X;touch pwned;Y", "1")
        .assert()
        .code(1);
    assert!(stderr_of(out.get_output()).contains("not a valid shell variable name"));
    assert!(!d.join("pwned").exists());
}
