//! dotenvx and envx side by side: the same command line over the same files, compared by
//! output, exit status and the files left behind. `CASES` is also the README's "Coming from
//! dotenvx" table: `readme_table_is_the_parity_table` keeps the two identical.
//!
//! The comparison with dotenvx itself needs dotenvx (`.ci/run` installs it and sets
//! `ENVX_DOTENVX_DIR`); it is ignored by default and fails, not skips, when dotenvx is missing.
//! The other two tests run everywhere.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{envx, fixtures, snapshot};

/// What must agree between the two runs of a case.
#[derive(Clone, Copy)]
pub enum Check {
    /// stdout, byte for byte, and the exit status.
    Stdout,
    /// stdout is a whole file (`--stdout`): the same bytes, except that dotenvx adds one empty
    /// line after it; and the exit status.
    File,
    /// The exit status, and then FILE holds the same values with the same keys encrypted
    /// (ciphertexts are random, so bytes cannot match).
    Values(&'static str),
    /// The exit status, and then FILE has the same bytes.
    Bytes(&'static str),
    /// envx refuses dotenvx's spelling with exit 2 and a message naming the envx way (this
    /// text), changing no file. Not run through dotenvx (it needs a cloud service or an
    /// Envfile).
    Refused(&'static str),
}

/// One row: dotenvx's command line, envx's, and what must agree.
pub struct Case {
    /// The arguments after `dotenvx`.
    pub dotenvx: &'static str,
    /// The arguments after `envx` (the spelling the README recommends).
    pub envx: &'static str,
    /// What is compared.
    pub check: Check,
}

const fn case(dotenvx: &'static str, envx: &'static str, check: Check) -> Case {
    Case {
        dotenvx,
        envx,
        check,
    }
}

/// The public key of `.env.production` in the fixture (kat-fixed-key), for `--with`.
const PUBLIC_KEY: &str = "0248b14ecfb7241b62b33821f47dc9be3078f85106c968facd8113b88bf1b310f3";

use Check::{Bytes, File, Refused, Stdout, Values};

/// The table. Arguments are split on spaces; `PUBLIC_KEY` stands for the fixture's public key.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    case("encrypt -f .env", "encrypt -f .env", Values(".env")),
    case("encrypt --file .env", "encrypt --file .env", Values(".env")),
    case("encrypt -f .env -k HELLO NAME", "encrypt -f .env -k HELLO NAME", Values(".env")),
    case("encrypt -f .env -ek HELLO", "encrypt -f .env -x HELLO", Values(".env")),
    case("encrypt -f .env --with PUBLIC_KEY", "encrypt -f .env --with PUBLIC_KEY", Values(".env")),
    case("encrypt -f .env.production --stdout", "encrypt -f .env.production --stdout", File),
    case("encrypt -f .env --stdout", "encrypt -f .env --with PUBLIC_KEY --stdout", Refused("--with")),
    case("encrypt -f .env.production --no-create", "encrypt -f .env.production", Values(".env.production")),
    case("decrypt -f .env.production", "decrypt -f .env.production", Values(".env.production")),
    case("decrypt -f .env.production -k GREETING", "decrypt -f .env.production -k GREETING", Values(".env.production")),
    case("decrypt -f .env.production --stdout", "decrypt -f .env.production --stdout", File),
    case("decrypt -f .env.production --stdout --mask", "decrypt -f .env.production --stdout --mask", File),
    case("decrypt -f .env.production -fk .env.keys", "decrypt -f .env.production --keys-file .env.keys", Values(".env.production")),
    case("set HELLO there -f .env", "set HELLO there -f .env", Values(".env")),
    case("set HELLO there -c -f .env", "set HELLO there -f .env", Values(".env")),
    case("set PORT 8080 --plain -f .env", "set PORT 8080 --plain -f .env", Bytes(".env")),
    case("set GREETING hi -f .env.production", "set GREETING hi -f .env.production", Values(".env.production")),
    case("set A b -f .env.none --no-create", "set A b -f .env.none --no-create", Bytes(".env.none")),
    case("del NAME -f .env", "del NAME -f .env", Bytes(".env")),
    case("del NOPE -f .env", "del NOPE -f .env", Bytes(".env")),
    case("get -f .env.production", "get -f .env.production", Stdout),
    case("get --env-file .env.production --env-keys-file .env.keys", "get -f .env.production --keys-file .env.keys", Stdout),
    case("get GREETING -f .env.production", "get GREETING -f .env.production", Stdout),
    case("get -f .env.production -pp", "get -f .env.production --pretty-print", Stdout),
    case("get -f .env,.env.local", "get -f .env,.env.local", Stdout),
    case("get -f .env.local -f .env -o", "get -f .env.local -f .env -o", Stdout),
    case("get -a -f .env", "get -a -f .env", Stdout),
    case("get -f .env --format eval", "get -f .env --format eval", Stdout),
    case("get -f .env --format eval-export", "get -f .env --format shell", Stdout),
    case("get -f .env --format colon", "get -f .env --format colon", Stdout),
    case("get -f .env -ik HELLO NAME", "get -f .env -k HELLO NAME", Stdout),
    case("get -f .env -ek HELLO", "get -f .env -x HELLO", Stdout),
    case("get -f .env --mask", "get -f .env --mask", Stdout),
    case("get -f .env --mask 2", "get -f .env --mask 2", Stdout),
    case("get -e HELLO=there -f .env", "get -e HELLO=there -f .env", Stdout),
    case("get -f .env.none -f .env --ignore MISSING_ENV_FILE", "get -f .env.none -f .env --ignore MISSING_ENV_FILE", Stdout),
    case("keypair -f .env.production", "keypair -f .env.production", Stdout),
    case("keypair -f .env.production -pp", "keypair -f .env.production --pretty-print", Stdout),
    case("keypair -f .env.production --format shell", "keypair -f .env.production --format shell", Stdout),
    case("keypair -f .env.production --format colon", "keypair -f .env.production --format colon", Stdout),
    case("keypair DOTENV_PUBLIC_KEY_PRODUCTION -f .env.production", "keypair DOTENV_PUBLIC_KEY_PRODUCTION -f .env.production", Stdout),
    case("run -f .env -- printenv HELLO", "run -f .env -- printenv HELLO", Stdout),
    case("run -f .env printenv HELLO", "run -f .env printenv HELLO", Stdout),
    case("run -f .env.production -fk .env.keys -- printenv GREETING", "run -f .env.production --keys-file .env.keys -- printenv GREETING", Stdout),
    case("run -f .env.local -f .env -- printenv HELLO", "run -f .env.local -f .env -- printenv HELLO", Stdout),
    case("run -f .env.local -f .env -o -- printenv HELLO", "run -f .env.local -f .env -o -- printenv HELLO", Stdout),
    case("run -e HELLO=there -f .env -- printenv HELLO", "run -e HELLO=there -f .env -- printenv HELLO", Stdout),
    case("run --convention nextjs -- printenv HELLO", "run --convention nextjs -- printenv HELLO", Stdout),
    case("run --convention flow -- printenv HELLO", "run --convention flow -- printenv HELLO", Stdout),
    case("run -f .env --mask -- printenv TOKEN", "run -f .env --mask -- printenv TOKEN", Stdout),
    case("run -f .env --strict -- printenv NAME", "run -f .env --strict -- printenv NAME", Stdout),
    case("run -f .env --no-armor --no-native --no-1password --no-bitwarden -- printenv HELLO", "run -f .env -- printenv HELLO", Stdout),
    case("-q run -f .env -- printenv HELLO", "-q run -f .env -- printenv HELLO", Stdout),
    case("-l verbose get -f .env", "--verbose get -f .env", Stdout),
    case("--debug get -f .env", "--verbose get -f .env", Stdout),
    case("run --token TOKEN -- printenv HELLO", "run --key-command CMD -- printenv HELLO", Refused("--key-command")),
    case("get --profile production", "get -f .env.production", Refused("-f")),
];

/// The files every case starts from: `.env.production` encrypted by dotenvx with its key in
/// `.env.keys` (fixture kat-fixed-key), a plaintext `.env` and `.env.local`.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = fixtures().join("dotenvx/kat-fixed-key");
    for name in [".env.production", ".env.keys"] {
        fs::copy(source.join(name), dir.path().join(name)).unwrap();
    }
    fs::write(
        dir.path().join(".env"),
        "# app\nHELLO=world\nNAME=\"Jane Doe\"\nTOKEN=abc123xyz\n",
    )
    .unwrap();
    fs::write(dir.path().join(".env.local"), "HELLO=local\n").unwrap();
    dir
}

fn words(line: &str) -> Vec<String> {
    line.split(' ')
        .map(|w| if w == "PUBLIC_KEY" { PUBLIC_KEY } else { w }.to_owned())
        .collect()
}

fn dotenvx_bin() -> PathBuf {
    let dir = std::env::var_os("ENVX_DOTENVX_DIR")
        .expect("ENVX_DOTENVX_DIR must point at an npm install of @dotenvx/dotenvx@2.38.2");
    let bin = Path::new(&dir).join("node_modules/.bin/dotenvx");
    assert!(bin.exists(), "dotenvx not found at {}", bin.display());
    bin
}

fn envx_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("envx")
}

/// Runs one tool in `dir`, with the same scrubbed environment for both: PATH, HOME (`home`,
/// the same for both), LANG, and two variables that switch off dotenvx's OS keychain and
/// prompts.
fn run_tool(bin: &Path, dir: &Path, home: &Path, line: &str) -> Output {
    Command::new(bin)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .env("DOTENVX_NO_NATIVE", "true")
        .env("CI", "true")
        .args(words(line))
        .output()
        .unwrap()
}

/// Keys whose value is still encrypted in `file`, in file order.
fn encrypted_keys(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once('=')?;
            let value = value.trim_start_matches(['"', '\'', '`']);
            value
                .starts_with("encrypted:")
                .then(|| key.trim().to_owned())
        })
        .collect()
}

/// What `check` compares after one run in `dir`, as text for a readable failure.
fn observe(check: Check, dir: &Path, output: &Output) -> String {
    let status = output.status.code();
    match check {
        Stdout => format!(
            "exit {status:?}\n{}",
            String::from_utf8_lossy(&output.stdout)
        ),
        File => format!(
            "exit {status:?}\n{}",
            String::from_utf8_lossy(&output.stdout)
        ),
        Values(file) => {
            let text = fs::read_to_string(dir.join(file)).unwrap_or_default();
            let values = envx(dir).args(["get", "-f", file]).output().unwrap();
            let mut values: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(&values.stdout).unwrap_or_default();
            // A key pair made during the case is random; the fixture's own key is not.
            for (name, value) in &mut values {
                if name.starts_with("DOTENV_PUBLIC_KEY") && value != PUBLIC_KEY {
                    *value = "<a new public key>".into();
                }
            }
            format!(
                "exit {status:?}\nencrypted: {:?}\nvalues: {values:?}",
                encrypted_keys(&text),
            )
        }
        Bytes(file) => format!(
            "exit {status:?}\n{:?}",
            fs::read_to_string(dir.join(file)).ok()
        ),
        Refused(_) => unreachable!("refused cases are not compared"),
    }
}

/// Runs `case` with dotenvx's spelling through `first` (dotenvx itself, or envx) and with
/// envx's through envx, and describes the difference, if any.
fn compare(case: &Case, first: &Path, first_is_dotenvx: bool) -> Option<String> {
    let (a, b, home) = (fixture(), fixture(), tempfile::tempdir().unwrap());
    let out_a = run_tool(first, a.path(), home.path(), case.dotenvx);
    let out_b = run_tool(&envx_bin(), b.path(), home.path(), case.envx);
    let mut seen_a = observe(case.check, a.path(), &out_a);
    let seen_b = observe(case.check, b.path(), &out_b);
    if matches!(case.check, File) && first_is_dotenvx {
        // dotenvx prints each file with console.log: one more line break.
        if let Some(trimmed) = seen_a.strip_suffix('\n') {
            seen_a = trimmed.to_owned();
        }
    }
    (seen_a != seen_b).then(|| {
        format!(
            "`{} {}` and `envx {}` differ\n--- first:\n{seen_a}\n--- envx:\n{seen_b}\n--- first stderr:\n{}\n--- envx stderr:\n{}",
            first.file_name().unwrap_or_default().to_string_lossy(),
            case.dotenvx,
            case.envx,
            String::from_utf8_lossy(&out_a.stderr),
            String::from_utf8_lossy(&out_b.stderr)
        )
    })
}

#[test]
#[ignore = "needs dotenvx; .ci/run installs it and runs ignored tests"]
fn dotenvx_and_envx_agree_on_every_case() {
    let bin = dotenvx_bin();
    let mut failures = Vec::new();
    let mut compared = 0;
    for case in CASES.iter().filter(|c| !matches!(c.check, Refused(_))) {
        compared += 1;
        if let Some(difference) = compare(case, &bin, true) {
            failures.push(difference);
        }
    }
    assert!(compared >= 40, "only {compared} cases compared");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// dotenvx's spelling works in envx exactly as envx's own does, or is refused with the envx
/// way named and nothing changed.
#[test]
fn envx_accepts_the_dotenvx_spelling_of_every_case() {
    let mut failures = Vec::new();
    for case in CASES {
        match case.check {
            Refused(pointer) => {
                let dir = fixture();
                let before = snapshot(dir.path());
                let out = run_tool(&envx_bin(), dir.path(), dir.path(), case.dotenvx);
                let stderr = String::from_utf8_lossy(&out.stderr);
                if out.status.code() != Some(2) || !stderr.contains(pointer) {
                    failures.push(format!(
                        "envx {}: exit {:?}, stderr {stderr}",
                        case.dotenvx,
                        out.status.code()
                    ));
                }
                assert_eq!(before, snapshot(dir.path()), "{}", case.dotenvx);
            }
            _ if case.dotenvx == case.envx => {}
            _ => {
                if let Some(difference) = compare(case, &envx_bin(), false) {
                    failures.push(difference);
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The rows of the README's "Coming from dotenvx" table, as (dotenvx, envx) command lines.
fn readme_rows() -> Vec<(String, String)> {
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let section = readme
        .split("\n## Coming from dotenvx\n")
        .nth(1)
        .expect("the README has a Coming from dotenvx section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut rows = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| `dotenvx")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let command = |cell: &str, tool: &str| {
            cell.trim_matches('`')
                .strip_prefix(tool)
                .map(|rest| rest.trim().to_owned())
        };
        match (command(cells[1], "dotenvx"), command(cells[2], "envx")) {
            (Some(d), Some(e)) => rows.push((d, e)),
            _ => panic!("README row not in the `dotenvx …` | `envx …` form: {line}"),
        }
    }
    rows
}

/// The README table as it must read, for pasting when the cases change.
fn expected_readme_table() -> String {
    let mut out = String::from("| dotenvx | envx | checked |\n|---|---|---|\n");
    for case in CASES {
        let checked = match case.check {
            Stdout => "same output and exit status".to_owned(),
            File => "same file on stdout (dotenvx adds an empty line)".to_owned(),
            Values(file) | Bytes(file) if file == ".env.none" => {
                "same error, no file created".to_owned()
            }
            Values(file) => format!("same values left in `{file}`"),
            Bytes(file) => format!("same bytes left in `{file}`"),
            Refused(_) => "refused (exit 2), naming the envx way".to_owned(),
        };
        out.push_str(&format!(
            "| `dotenvx {}` | `envx {}` | {checked} |\n",
            case.dotenvx, case.envx
        ));
    }
    out
}

#[test]
fn readme_table_is_the_parity_table() {
    let rows = readme_rows();
    let cases: Vec<(String, String)> = CASES
        .iter()
        .map(|c| (c.dotenvx.to_owned(), c.envx.to_owned()))
        .collect();
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    assert!(
        rows == cases && readme.contains(&expected_readme_table()),
        "the README's Coming from dotenvx table must be, in order:\n\n{}",
        expected_readme_table()
    );
}
