//! The deployment recipes in `recipes/` and `.pre-commit-hooks.yaml`, checked by running what
//! they say: the container's entrypoint with the key the orchestrator injects, the CI job's
//! test step with the key from the secret store, the pre-commit hook's entry. Every `envx`
//! command line in them must name a real command and real flags.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{envx, path_with_envx, stderr_of};

fn repo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

fn read(name: &str) -> String {
    fs::read_to_string(repo_file(name)).unwrap()
}

/// Commands that other work adds; a recipe may use them before they exist here. Once one
/// exists its flags are checked like any other.
const PENDING: [&str; 1] = ["verify"];

/// The `envx …` command lines in a text (YAML `run:`/`entry:` values, Dockerfile exec
/// arrays): the word `envx` followed by a subcommand, and what follows it on the line.
fn envx_lines(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | '"' | '[' | ']'))
            .filter(|w| !w.is_empty())
            .collect();
        let Some(start) = words.windows(2).position(|w| {
            w[0] == "envx" && w[1].chars().all(|c| c.is_ascii_lowercase() || c == '-')
        }) else {
            continue;
        };
        out.push(words[start..].iter().map(|w| (*w).to_owned()).collect());
    }
    out
}

/// Every `envx SUBCOMMAND --flag` in `text` exists (flags checked against the subcommand's
/// help). Returns how many command lines were checked.
fn check_commands(text: &str) -> usize {
    let lines = envx_lines(text);
    let top = stdout(&envx(Path::new(".")).arg("--help").output().unwrap());
    for words in &lines {
        let sub = &words[1];
        let listed = top
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{sub} ")));
        if !listed {
            assert!(
                PENDING.contains(&sub.as_str()),
                "envx {sub} does not exist: {words:?}"
            );
            continue;
        }
        let help = stdout(&envx(Path::new(".")).args([sub, "--help"]).output().unwrap());
        for flag in words.iter().skip(2).take_while(|w| *w != "--") {
            if flag.starts_with('-') {
                assert!(help.contains(flag.as_str()), "envx {sub} has no {flag}");
            }
        }
    }
    lines.len()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `file` in `dir` with `values`, encrypted; returns its private key and removes every keys
/// file, as in a checkout or an image.
fn encrypted(dir: &Path, file: &str, values: &[(&str, &str)]) -> String {
    for (key, value) in values {
        envx(dir)
            .args(["set", key, value, "-f", file])
            .assert()
            .success();
    }
    let out = envx(dir)
        .args(["keypair", "-f", file, "--format", "shell"])
        .assert()
        .success();
    // `--format shell` prints the pair on one line, as dotenvx does.
    let key = stdout(out.get_output())
        .split_whitespace()
        .find_map(|l| l.strip_prefix("DOTENV_PRIVATE_KEY").map(str::to_owned))
        .and_then(|rest| rest.split_once('=').map(|(_, v)| v.to_owned()))
        .unwrap();
    fs::remove_file(dir.join(".env.keys")).unwrap();
    key
}

fn executable(path: &Path, body: &str) {
    fs::write(path, body).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// The JSON array after `instruction` in a Dockerfile (exec form).
fn exec_form(dockerfile: &str, instruction: &str) -> Vec<String> {
    let line = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix(instruction))
        .unwrap_or_else(|| panic!("no {instruction}"));
    serde_json::from_str(line.trim()).unwrap()
}

#[test]
fn container_entrypoint_runs_with_the_key_the_orchestrator_injects() {
    let dockerfile = read("recipes/Dockerfile");
    let entrypoint = exec_form(&dockerfile, "ENTRYPOINT ");
    let cmd = exec_form(&dockerfile, "CMD ");
    assert_eq!(entrypoint[..2], ["envx", "run"]);
    assert_eq!(entrypoint.last().map(String::as_str), Some("--"));
    assert!(check_commands(&dockerfile) >= 1);
    // The image's WORKDIR: the encrypted file and the server, no keys file.
    let app = tempfile::tempdir().unwrap();
    let key = encrypted(
        app.path(),
        ".env.production",
        &[("DATABASE_URL", "postgres://app:pw-in-image@db/app")],
    );
    executable(
        &app.path().join("server"),
        "#!/bin/sh\necho \"url=$DATABASE_URL\"\nenv | grep -c '^DOTENV_PRIVATE_KEY' || true\n",
    );
    let run = |key: Option<&str>| {
        let mut command = Command::new(&entrypoint[0]);
        command
            .args(&entrypoint[1..])
            .args(&cmd)
            .current_dir(app.path())
            .env_clear()
            .env("PATH", path_with_envx());
        if let Some(key) = key {
            command.env("DOTENV_PRIVATE_KEY_PRODUCTION", key);
        }
        command.output().unwrap()
    };
    let out = run(Some(&key));
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stdout(&out), "url=postgres://app:pw-in-image@db/app\n0\n");
    // Without the Secret the application does not start half-configured.
    let out = run(None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty() && stderr_of(&out).contains("DOTENV_PRIVATE_KEY_PRODUCTION"));

    // The Deployment passes the key under that name and keeps the image's entrypoint.
    let k8s = read("recipes/kubernetes.yaml");
    assert!(
        k8s.contains("- name: DOTENV_PRIVATE_KEY_PRODUCTION\n"),
        "{k8s}"
    );
    let code: Vec<&str> = k8s.lines().filter(|l| !l.trim().starts_with('#')).collect();
    assert!(!code.iter().any(|l| l.trim_start().starts_with("command:")));
}

/// The `run:` value of the step whose line holds `needle`, in the workflow text.
fn step_run(workflow: &str, needle: &str) -> String {
    workflow
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("run: ").filter(|r| r.contains(needle)))
        .unwrap_or_else(|| panic!("no step runs {needle}"))
        .to_owned()
}

#[test]
fn github_actions_test_step_runs_with_the_key_from_the_secret_store() {
    let workflow = read("recipes/github-actions.yml");
    assert!(check_commands(&workflow) >= 2);
    assert!(workflow.contains("DOTENV_PRIVATE_KEY_CI: ${{ secrets.DOTENV_PRIVATE_KEY_CI }}"));
    let step = step_run(&workflow, "envx run");
    let checkout = tempfile::tempdir().unwrap();
    let secret = "ci-token-5f2a9c81d7";
    let key = encrypted(checkout.path(), ".env.ci", &[("API_TOKEN", secret)]);
    fs::create_dir(checkout.path().join("scripts")).unwrap();
    executable(
        &checkout.path().join("scripts/test.sh"),
        "#!/bin/sh\necho \"token: $API_TOKEN\"\n[ -z \"$DOTENV_PRIVATE_KEY_CI\" ]\n",
    );
    // As the runner does: the step's `run` through bash, the secret in the step's env.
    let out = Command::new("bash")
        .args(["-e", "-c", &step])
        .current_dir(checkout.path())
        .env_clear()
        .env("PATH", path_with_envx())
        .env("DOTENV_PRIVATE_KEY_CI", &key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let log = format!("{}{}", stdout(&out), stderr_of(&out));
    assert!(log.contains("token: [REDACTED:API_TOKEN]"), "{log}");
    assert!(!log.contains(secret) && !log.contains(&key), "{log}");
}

/// The value of `field` in the (single) hook of `.pre-commit-hooks.yaml`.
fn hook_field(text: &str, field: &str) -> String {
    text.lines()
        .map(|l| l.trim().trim_start_matches("- "))
        .find_map(|l| l.strip_prefix(&format!("{field}: ")))
        .unwrap_or_else(|| panic!("the hook has no {field}"))
        .to_owned()
}

#[test]
fn pre_commit_framework_hook_runs_its_entry() {
    let hooks = read(".pre-commit-hooks.yaml");
    assert_eq!(hook_field(&hooks, "id"), "envx-precommit");
    assert_eq!(hook_field(&hooks, "language"), "system");
    assert_eq!(hook_field(&hooks, "pass_filenames"), "false");
    let entry = hook_field(&hooks, "entry");
    assert_eq!(check_commands(&format!("entry: {entry}")), 1);
    let repo = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(repo.path())
            .env_clear()
            .env("PATH", path_with_envx())
            .env("HOME", repo.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", stderr_of(&out));
    };
    // The framework runs `entry` from the repository's top folder, with envx on PATH.
    let run_entry = || {
        Command::new("sh")
            .args(["-c", &entry])
            .current_dir(repo.path())
            .env_clear()
            .env("PATH", path_with_envx())
            .output()
            .unwrap()
    };
    git(&["init", "-q"]);
    fs::write(repo.path().join(".env.production"), "PASSWORD=plain-pw\n").unwrap();
    git(&["add", ".env.production"]);
    let out = run_entry();
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("plaintext values for PASSWORD"));
    envx(repo.path())
        .args(["encrypt", "-f", ".env.production"])
        .assert()
        .success();
    git(&["add", ".env.production"]);
    let out = run_entry();
    assert!(out.status.success(), "{}", stderr_of(&out));
}

/// The YAML recipes parse, and say what the tests above rely on, read by a real YAML parser.
#[test]
#[ignore = "needs python3 with PyYAML; .ci/run installs it and runs ignored tests"]
fn recipes_parse_as_yaml() {
    let script = r#"
import json, sys, yaml
out = {}
for name in sys.argv[1:]:
    with open(name) as f:
        out[name] = yaml.safe_load(f)
print(json.dumps(out, default=str))
"#;
    let names = [
        ".pre-commit-hooks.yaml",
        "recipes/github-actions.yml",
        "recipes/kubernetes.yaml",
    ];
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(names)
        .current_dir(repo_file(""))
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let docs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let hook = &docs[".pre-commit-hooks.yaml"][0];
    for field in ["id", "name", "entry", "language"] {
        assert!(hook[field].is_string(), "{field}: {hook}");
    }
    assert_eq!(hook["entry"], "envx precommit");
    assert_eq!(hook["pass_filenames"], false);

    let workflow = &docs["recipes/github-actions.yml"];
    // YAML 1.1 reads the key `on` as true.
    assert!(
        workflow["true"]["pull_request"].is_null()
            && workflow["true"].get("pull_request").is_some()
    );
    let steps = workflow["jobs"]["env"]["steps"].as_array().unwrap();
    let step = |needle: &str| {
        steps
            .iter()
            .find(|s| s["run"].as_str().is_some_and(|r| r.contains(needle)))
            .unwrap_or_else(|| panic!("no step runs {needle}"))
    };
    assert!(
        step("envx verify")["if"]
            .as_str()
            .unwrap()
            .contains("pull_request")
    );
    let test = step("envx run");
    assert_eq!(
        test["env"]["DOTENV_PRIVATE_KEY_CI"],
        "${{ secrets.DOTENV_PRIVATE_KEY_CI }}"
    );
    assert!(test["run"].as_str().unwrap().contains("--redact"));
    assert_eq!(
        test["run"].as_str().unwrap(),
        step_run(&read("recipes/github-actions.yml"), "envx run")
    );

    let container = &docs["recipes/kubernetes.yaml"]["spec"]["template"]["spec"]["containers"][0];
    assert!(container.get("command").is_none(), "{container}");
    assert_eq!(container["env"][0]["name"], "DOTENV_PRIVATE_KEY_PRODUCTION");
    assert_eq!(
        container["env"][0]["valueFrom"]["secretKeyRef"]["key"],
        "DOTENV_PRIVATE_KEY_PRODUCTION"
    );
}

/// `scripts/demo.sh` with a stand-in `cargo` on `PATH` that reports `executable` as the
/// binary it built, as `cargo build --message-format=json` does: the demo must run that
/// binary (which is how it honours `CARGO_TARGET_DIR`) and leave no scratch folder, and so no
/// private key, behind, also when a step fails.
#[test]
fn demo_script_runs_the_binary_cargo_built_and_leaves_no_key_behind() {
    let work = tempfile::tempdir().unwrap();
    let (bin, tmp, fake) = (
        work.path().join("bin"),
        work.path().join("tmp"),
        work.path().join("fake"),
    );
    for dir in [&bin, &tmp, &fake] {
        fs::create_dir(dir).unwrap();
    }
    let run_demo = |built: &Path| {
        executable(
            &bin.join("cargo"),
            &format!(
                "#!/bin/sh\necho \"$@\" > {}/cargo-args\necho '{{\"reason\":\"compiler-artifact\",\"executable\":\"{}\"}}'\n",
                work.path().display(),
                built.display()
            ),
        );
        let mut folders = vec![bin.clone()];
        folders.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        Command::new("bash")
            .arg(repo_file("scripts/demo.sh"))
            .env_clear()
            .env("PATH", std::env::join_paths(folders).unwrap())
            .env("HOME", work.path())
            .env("TMPDIR", &tmp)
            .env("CARGO_TARGET_DIR", "relative/target")
            .output()
            .unwrap()
    };
    let out = run_demo(Path::new(env!("CARGO_BIN_EXE_envx")));
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stdout(&out).contains("DATABASE_URL=postgres://app@db.internal:5432/billing"),
        "{}",
        stdout(&out)
    );
    let args = fs::read_to_string(work.path().join("cargo-args")).unwrap();
    assert!(
        args.contains("--release") && args.contains("--message-format"),
        "{args}"
    );
    assert_eq!(
        fs::read_dir(&tmp).unwrap().count(),
        0,
        "the scratch folder is gone"
    );

    // A step fails after the key was written: the folder goes all the same.
    executable(
        &fake.join("envx"),
        &format!(
            "#!/bin/sh\n[ \"$1\" = run ] && exit 7\nexec {} \"$@\"\n",
            env!("CARGO_BIN_EXE_envx")
        ),
    );
    let out = run_demo(&fake.join("envx"));
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
    assert!(
        stdout(&out).contains("envx ls"),
        "the demo got past encrypt"
    );
    assert_eq!(
        fs::read_dir(&tmp).unwrap().count(),
        0,
        "the scratch folder is gone"
    );
}
