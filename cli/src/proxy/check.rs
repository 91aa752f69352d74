//! `envx run --proxy --check`: which of the clients installed here work through the proxy.
//!
//! A built-in HTTPS echo server (on 127.0.0.1, with its own CA) stands in for an API at
//! [`CHECK_HOST`]; a made-up secret has a rule for that host. Each client found on `PATH`
//! sends its placeholder in a header, in an environment set up as `run --proxy` sets up a
//! child's. A client works when the echo server received the real value (the client used the
//! proxy and trusted the run's CA) and the client's output shows the placeholder again (the
//! echo was scrubbed).

use std::collections::HashMap;
use std::io::Read as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use envx_core::policy::is_private_key_var;
use envx_core::proxy::{Placeholder, Rule, parse_cli_rule};
use zeroize::Zeroizing;

use super::child::{self, Bundle};
use super::echo::EchoServer;
use super::engine::{ExtraUpstream, ProxyConfig, RunningProxy};
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// The host the probes ask for; the proxy sends it to the echo server (`.invalid` never
/// resolves, so a client that ignores the proxy fails instead of reaching anything).
pub const CHECK_HOST: &str = "check.envx.invalid";

/// The variable the probes read their placeholder from.
const KEY: &str = "ENVX_CHECK_TOKEN";

/// How long one client may take.
const PROBE_LIMIT: Duration = Duration::from_secs(20);

/// One client and how to make it send the placeholder in a header.
struct Probe {
    name: &'static str,
    /// The program looked up on `PATH`.
    program: &'static str,
    /// Its version, for the report.
    version: &'static [&'static str],
    /// The arguments before the URL (`${ENVX_CHECK_TOKEN}` stands for the placeholder).
    request: fn() -> Vec<String>,
    /// What a failure most likely means, for the report.
    advice: &'static str,
}

const PYTHON: &str = "import os, urllib.request as u\n\
r = u.Request(os.environ['PROBE_URL'], headers={'Authorization': 'Bearer ' + os.environ['ENVX_CHECK_TOKEN']})\n\
print(u.urlopen(r, timeout=15).read().decode())";

const REQUESTS: &str = "import os, requests\n\
h = {'Authorization': 'Bearer ' + os.environ['ENVX_CHECK_TOKEN']}\n\
print(requests.get(os.environ['PROBE_URL'], headers=h, timeout=15).text)";

const NODE: &str = "fetch(process.env.PROBE_URL, {headers: {authorization: 'Bearer ' + process.env.ENVX_CHECK_TOKEN}})\
.then(r => r.text()).then(t => console.log(t)).catch(e => { console.error(String(e.cause || e)); process.exit(1) })";

const GO: &str = "package main\n\
import (\"fmt\"; \"io\"; \"net/http\"; \"os\")\n\
func main() {\n\
 r, _ := http.NewRequest(\"GET\", os.Getenv(\"PROBE_URL\"), nil)\n\
 r.Header.Set(\"Authorization\", \"Bearer \"+os.Getenv(\"ENVX_CHECK_TOKEN\"))\n\
 res, err := http.DefaultClient.Do(r)\n\
 if err != nil { fmt.Fprintln(os.Stderr, err); os.Exit(1) }\n\
 b, _ := io.ReadAll(res.Body)\n\
 fmt.Println(string(b))\n\
}\n";

fn probes() -> Vec<Probe> {
    vec![
        Probe {
            name: "curl",
            program: "curl",
            version: &["--version"],
            request: || {
                ["-sS", "--max-time", "15", "-H"]
                    .into_iter()
                    .map(str::to_owned)
                    .chain([format!("Authorization: Bearer {}", "${ENVX_CHECK_TOKEN}")])
                    .collect()
            },
            advice: "curl reads HTTPS_PROXY and CURL_CA_BUNDLE",
        },
        Probe {
            name: "python urllib",
            program: "python3",
            version: &["--version"],
            request: || vec!["-c".to_owned(), PYTHON.to_owned()],
            advice: "urllib reads HTTPS_PROXY; its ssl module reads SSL_CERT_FILE",
        },
        Probe {
            name: "python requests",
            program: "python3",
            version: &[
                "-c",
                "import requests; print('requests', requests.__version__)",
            ],
            request: || vec!["-c".to_owned(), REQUESTS.to_owned()],
            advice: "requests reads HTTPS_PROXY and REQUESTS_CA_BUNDLE (not installed for this python?)",
        },
        Probe {
            name: "node fetch",
            program: "node",
            version: &["--version"],
            request: || vec!["-e".to_owned(), NODE.to_owned()],
            advice: "node's fetch uses HTTPS_PROXY only from node 24 on (NODE_USE_ENV_PROXY=1); before, use undici's EnvHttpProxyAgent",
        },
        Probe {
            name: "git",
            program: "git",
            version: &["--version"],
            request: || {
                vec![
                    "-c".to_owned(),
                    "http.extraHeader=Authorization: Bearer ${ENVX_CHECK_TOKEN}".to_owned(),
                    "ls-remote".to_owned(),
                ]
            },
            advice: "git reads HTTPS_PROXY and GIT_SSL_CAINFO",
        },
        Probe {
            name: "go net/http",
            program: "go",
            version: &["version"],
            request: || vec!["run".to_owned()],
            advice: "go reads HTTPS_PROXY and SSL_CERT_FILE",
        },
    ]
}

/// Runs every probe and prints one line per client. Exits 0 when every installed client
/// works, 1 otherwise.
pub fn run(env: &HashMap<String, String>, ui: &Ui) -> Result<Exit, Failure> {
    let echo = EchoServer::start(IpAddr::V4(Ipv4Addr::LOCALHOST), &[CHECK_HOST])
        .map_err(|e| Failure::new(format!("--check: cannot start the echo server: {e}")))?;
    let real = Zeroizing::new(format!("envx-check-secret-{}", Placeholder::generate()));
    let (_, rule): (String, Rule) = parse_cli_rule(&format!("{KEY}={CHECK_HOST}"))
        .map_err(|e| Failure::new(format!("--check: {e}")))?;
    let vault = envx_core::proxy::Vault::new(vec![(KEY.to_owned(), real.clone(), rule)]);
    let placeholder = vault
        .placeholder(KEY)
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let proxy = RunningProxy::start(ProxyConfig {
        vault,
        strict: false,
        audit: None,
        extra_roots_pem: None,
        extra_upstream: Some(ExtraUpstream {
            host: CHECK_HOST.to_owned(),
            addr: echo.addr(),
            root_pem: echo.ca_cert_pem().as_bytes().to_vec(),
        }),
    })
    .map_err(|e| Failure::new(format!("--check: {e}")))?;
    let bundle = Bundle::write(env, proxy.ca_cert_pem())
        .map_err(|e| Failure::new(format!("--check: cannot write the CA bundle: {e}")))?;
    let work = tempfile::tempdir()
        .map_err(|e| Failure::new(format!("--check: cannot create a folder: {e}")))?;
    let mut base: HashMap<String, String> = env
        .iter()
        .filter(|(k, _)| !is_private_key_var(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for name in child::REMOVED {
        base.remove(*name);
    }
    let url = proxy.proxy_url();
    for (k, v) in child::proxy_variables(&url, bundle.path(), &[KEY]) {
        base.insert(k, v);
    }
    drop(url);
    base.insert(KEY.to_owned(), placeholder.clone());
    // Go builds into a cache; give it one of its own rather than fail on a read-only home.
    base.entry("GOCACHE".to_owned())
        .or_insert_with(|| work.path().join("gocache").display().to_string());

    let mut failed = 0;
    for probe in probes() {
        let Some(program) = find_on_path(probe.program, base.get("PATH")) else {
            ui.info(&format!("{}: not installed", probe.name));
            continue;
        };
        let version = version(&program, probe.version, &base);
        if probe.name == "python requests" && version.is_none() {
            ui.info(&format!("{}: not installed", probe.name));
            continue;
        }
        let path = format!("/probe/{}", probe.name.replace(' ', "-"));
        let url = format!("https://{CHECK_HOST}{path}");
        let before = echo.received().len();
        let outcome = run_probe(&probe, &program, &url, &base, work.path());
        let reached = echo.received()[before..].iter().any(|r| {
            r.target.starts_with(&path)
                && r.header("authorization")
                    .is_some_and(|v| v == format!("Bearer {}", real.as_str()).as_bytes())
        });
        let shown = version.unwrap_or_else(|| probe.program.to_owned());
        let verdict = match (outcome, reached) {
            (Ok(out), true) if out.contains(&placeholder) && !out.contains(real.as_str()) => {
                "works".to_owned()
            }
            (Ok(_), true) | (Err(_), true) if probe.name == "git" => {
                // git gets an echo instead of a ref list, so it fails after the request.
                "works".to_owned()
            }
            (_, true) => {
                failed += 1;
                "fails: the value reached the host, but the response did not come back scrubbed"
                    .to_owned()
            }
            (Err(why), false) | (Ok(why), false) => {
                failed += 1;
                format!("fails ({}): {}", first_line(&why), probe.advice)
            }
        };
        ui.info(&format!("{} ({shown}): {verdict}", probe.name));
    }
    proxy.shutdown();
    drop(bundle);
    Ok(if failed == 0 {
        Exit::Success
    } else {
        Exit::Error
    })
}

/// Runs one probe; its stdout, or what went wrong.
fn run_probe(
    probe: &Probe,
    program: &PathBuf,
    url: &str,
    env: &HashMap<String, String>,
    work: &std::path::Path,
) -> Result<String, String> {
    let mut command = Command::new(program);
    let mut args = (probe.request)();
    // The placeholder is read from the environment, as an agent's tool would.
    for arg in &mut args {
        if arg.contains("${ENVX_CHECK_TOKEN}") {
            *arg = arg.replace("${ENVX_CHECK_TOKEN}", &env[KEY]);
        }
    }
    match probe.program {
        "go" => {
            let file = work.join("probe.go");
            std::fs::write(&file, GO).map_err(|e| e.to_string())?;
            args.push(file.display().to_string());
        }
        "git" => args.push(format!("{url}.git")),
        "curl" => args.push(url.to_owned()),
        _ => {}
    }
    command
        .args(&args)
        .env_clear()
        .envs(env)
        .env("PROBE_URL", url)
        .env("GIT_TERMINAL_PROMPT", "0")
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| e.to_string())?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > PROBE_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no answer within {} s", PROBE_LIMIT.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    if status.success() {
        Ok(out)
    } else {
        Err(if err.trim().is_empty() {
            format!("exit status {status}")
        } else {
            err
        })
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut line: String = line.trim().chars().take(160).collect();
    if line.is_empty() {
        line = "no output".to_owned();
    }
    line
}

/// `program`'s version line, if it runs.
fn version(program: &PathBuf, args: &[&str], env: &HashMap<String, String>) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // `curl 7.88.1 (x86_64-pc-linux-gnu) libcurl/…`: the name and version are enough.
    let line = first_line(&text);
    Some(line.split(" (").next().unwrap_or_default().to_owned())
}

/// `name` found on `path` (a `PATH` value), as an executable file.
fn find_on_path(name: &str, path: Option<&String>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .map(|d| d.join(name))
        .find(|p| {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                p.metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            }
            #[cfg(not(unix))]
            {
                p.is_file()
            }
        })
}
