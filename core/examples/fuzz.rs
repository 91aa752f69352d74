//! envx's fuzz harness: feeds random and mutated input to the four parsers that read what
//! anyone with write access to a repository can craft, and checks properties, not just
//! survival. It runs on the stable toolchain (no coverage instrumentation; the inputs come
//! from a grammar of `.env` tokens, the fixture corpus mutated, and raw bytes).
//!
//! ```text
//! cargo run --release -p envx-core --example fuzz -- [--seconds N] [--seed S] [TARGET...]
//! ```
//!
//! Targets: `document`, `expand`, `ciphertext`, `keys-file`, `substituter` (default: all, N
//! seconds each).
//! Inputs in `fuzz/regressions/<target>/` are replayed first; a failing input is written to
//! `fuzz/crashes/<target>-<n>` and the run exits 1. Commit a crash reproducer to
//! `fuzz/regressions/<target>/` once fixed.

// A harness asserts by panicking; each panic is caught and reported as a failure.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use envx_core::crypto::{decode_payload, decrypt_value, encrypt_value};
use envx_core::document::{Document, encode_value};
use envx_core::expand::{Budget, expand, has_command_substitution, substitute_commands};
use envx_core::keys::PrivateKey;
use envx_core::keys_file::parse_keys_file;
use envx_core::proxy::{HostPattern, Rule, Stream, Surfaces, Vault};
use zeroize::Zeroizing;

/// A small, fast generator (xorshift64*); the seed is printed so a run can be repeated.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "A",
    "KEY",
    "export ",
    "=",
    " = ",
    ": ",
    ":",
    "\n",
    "\r\n",
    "\r",
    " ",
    "\t",
    "#",
    " # c",
    "'",
    "\"",
    "`",
    "\\",
    "\\n",
    "\\'",
    "\\\"",
    "$",
    "${",
    "}",
    "$A",
    "${A:-",
    "${A-",
    "${A:+",
    "${A+",
    "$(",
    ")",
    "encrypted:",
    "\u{feff}",
    "\u{2028}",
    "\u{a0}",
    "é",
    "🚀",
    "DOTENV_PUBLIC_KEY=",
    "DOTENV_PRIVATE_KEY=",
    ",",
    "64294efce9d019865bd2ed212fac9dfaacfb744fa5fd5c39453ea0f20871948f",
    "BA22PPxw",
    "==",
    "-",
    "_",
    ".",
];

fn generate(rng: &mut Rng, seeds: &[String]) -> String {
    match rng.below(3) {
        0 => (0..rng.below(40))
            .map(|_| TOKENS[rng.below(TOKENS.len())])
            .collect(),
        1 if !seeds.is_empty() => {
            let seed = &seeds[rng.below(seeds.len())];
            mutate(rng, seed)
        }
        _ => {
            let bytes: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }
}

fn mutate(rng: &mut Rng, seed: &str) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    for _ in 0..=rng.below(8) {
        let at = rng.below(chars.len() + 1);
        match rng.below(3) {
            0 if at < chars.len() => {
                chars.remove(at);
            }
            1 => chars
                .splice(at..at, TOKENS[rng.below(TOKENS.len())].chars())
                .for_each(drop),
            _ if at < chars.len() => chars[at] = char::from(rng.next() as u8 & 0x7f),
            _ => {}
        }
    }
    chars.into_iter().collect()
}

type Check = fn(&str, &Context);

struct Context {
    key: PrivateKey,
    vars: HashMap<String, String>,
    vault: Vault,
}

/// The proxy vault's keys: (name, real value, surfaces) for rules that all name `allowed.example`.
const VAULT_KEYS: [(&str, &str, Surfaces); 3] = [
    (
        "A",
        "real-a-value",
        Surfaces {
            header: true,
            query: false,
            body: false,
        },
    ),
    (
        "B",
        "real b&value=é",
        Surfaces {
            header: true,
            query: true,
            body: true,
        },
    ),
    (
        "C",
        "real\"c\"\r\nvalue",
        Surfaces {
            header: true,
            query: false,
            body: true,
        },
    ),
];

fn vault() -> Vault {
    let hosts = vec![HostPattern::parse("allowed.example").unwrap()];
    Vault::new(
        VAULT_KEYS
            .iter()
            .map(|(key, value, surfaces)| {
                let rule = Rule {
                    hosts: hosts.clone(),
                    surfaces: *surfaces,
                };
                ((*key).to_owned(), Zeroizing::new((*value).to_owned()), rule)
            })
            .collect(),
    )
}

fn check_document(input: &str, _: &Context) {
    let mut doc = Document::parse(input);
    assert_eq!(doc.to_string(), input, "parse/print is not byte-exact");
    let values: Vec<String> = doc.entries().iter().map(|e| e.value()).collect();
    let quotes: Vec<_> = doc.entries().iter().map(|e| e.quote()).collect();
    for (i, (value, quote)) in values.iter().zip(quotes).enumerate() {
        if let Some(raw) = encode_value(value, quote) {
            doc.set_raw(i, &raw);
        }
    }
    let _ = Document::parse(&doc.to_string()).entries().len();
}

fn check_expand(input: &str, ctx: &Context) {
    let mut empty: HashMap<String, String> = HashMap::new();
    let mut budget = Budget {
        max_len: 1 << 16,
        work_left: 1 << 24,
    };
    if !input.contains('$') {
        assert_eq!(
            expand(input, &mut empty, &mut budget)
                .map(|v| v.to_string())
                .ok()
                .as_deref(),
            Some(input),
            "expansion changed a text without `$`"
        );
    }
    let mut vars = ctx.vars.clone();
    if let Ok(out) = expand(input, &mut vars, &mut budget) {
        assert!(out.len() <= budget.max_len, "expansion outgrew its budget");
    }
    let found = has_command_substitution(input);
    let mut ran = false;
    let _ = substitute_commands(input, 1 << 16, &mut |_: &str| {
        ran = true;
        Ok::<_, ()>(Zeroizing::new(String::new()))
    });
    assert_eq!(
        found, ran,
        "has_command_substitution disagrees with substitute_commands"
    );
}

fn check_ciphertext(input: &str, ctx: &Context) {
    let _ = decode_payload(input);
    assert!(
        decrypt_value(&ctx.key, input).is_err(),
        "random input authenticated"
    );
    // A real ciphertext with the input as plaintext round-trips.
    let stored = encrypt_value(ctx.key.public_key(), input.as_bytes());
    assert_eq!(
        decrypt_value(&ctx.key, &stored).unwrap().as_slice(),
        input.as_bytes()
    );
}

fn check_keys_file(input: &str, _: &Context) {
    for entry in parse_keys_file(input) {
        if let Ok(key) = entry.key {
            let again = PrivateKey::from_hex(&key.expose_hex()).unwrap();
            assert_eq!(again.public_key(), key.public_key());
        }
    }
}

/// The input with the grammar's tokens turned into the proxy's: `$A`/`$B`/`$C` a key's
/// placeholder, `${` half of one, `$(` a real value, `encrypted:` the placeholders' prefix.
fn proxy_text(input: &str, vault: &Vault) -> Vec<u8> {
    let ph = |k: &str| vault.placeholder(k).unwrap().to_string();
    input
        .replace("$A", &ph("A"))
        .replace("$B", &ph("B"))
        .replace("$C", &ph("C"))
        .replace("${", &ph("B")[..20])
        .replace("$(", VAULT_KEYS[1].1)
        .replace("encrypted:", "envxph_")
        .into_bytes()
}

/// Feeds `text` in chunks of `size` bytes.
fn chunked(mut stream: Stream<'_>, text: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in text.chunks(size.max(1)) {
        stream.feed(chunk, &mut out);
    }
    stream.finish(&mut out);
    out
}

/// Replaces each placeholder of a key `allowed` says yes to by `value(key)`, left to right.
fn model(text: &[u8], ctx: &Context, allowed: impl Fn(usize) -> Option<Vec<u8>>) -> Vec<u8> {
    let phs: Vec<String> = ctx
        .vault
        .placeholders()
        .map(|(_, p)| p.to_string())
        .collect();
    let mut out = Vec::new();
    let mut at = 0;
    'scan: while at < text.len() {
        for (k, ph) in phs.iter().enumerate() {
            if text[at..].starts_with(ph.as_bytes()) {
                out.extend_from_slice(&allowed(k).unwrap_or_else(|| ph.clone().into_bytes()));
                at += ph.len();
                continue 'scan;
            }
        }
        out.push(text[at]);
        at += 1;
    }
    out
}

fn check_substituter(input: &str, ctx: &Context) {
    let text = proxy_text(input, &ctx.vault);
    let real = |k: usize| VAULT_KEYS[k].1.as_bytes().to_vec();
    for host in ["allowed.example", "other.example"] {
        // Bodies: any chunking gives the one-pass result, which is the model's.
        let body = |k: usize| (host == "allowed.example" && VAULT_KEYS[k].2.body).then(|| real(k));
        let whole = chunked(ctx.vault.body_substituter(host, 443), &text, text.len());
        assert_eq!(
            whole,
            model(&text, ctx, body),
            "body substitution differs from the model"
        );
        for size in [1, 2, 3, 7, 46, 48] {
            let streamed = chunked(ctx.vault.body_substituter(host, 443), &text, size);
            assert_eq!(streamed, whole, "chunks of {size} change the body");
        }
        // Heads: header values as the model says (a value with a line break is never written
        // into a header), Proxy-Authorization untouched.
        let header = |k: usize| {
            (host == "allowed.example" && !VAULT_KEYS[k].1.contains('\n')).then(|| real(k))
        };
        let mut target = String::from("/p");
        let mut headers = vec![
            ("X-Key".to_owned(), text.clone()),
            ("Proxy-Authorization".to_owned(), text.clone()),
        ];
        ctx.vault.request_head(host, 443, &mut target, &mut headers);
        assert_eq!(
            headers[0].1,
            model(&text, ctx, header),
            "header substitution differs"
        );
        assert_eq!(headers[1].1, text, "Proxy-Authorization was touched");
    }
    // Responses: no real value survives, whatever the chunking.
    let whole = chunked(ctx.vault.response_scrubber(), &text, text.len());
    for (key, value, _) in VAULT_KEYS {
        assert!(
            memchr::memmem::find(&whole, value.as_bytes()).is_none(),
            "the scrubber left {key}'s value"
        );
    }
    for size in [1, 5, 13] {
        let streamed = chunked(ctx.vault.response_scrubber(), &text, size);
        assert_eq!(
            streamed, whole,
            "chunks of {size} change the scrubbed response"
        );
    }
}

fn seeds(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(cases) = std::fs::read_dir(root.join("fixtures/dotenvx")) else {
        return out;
    };
    for case in cases.flatten() {
        for file in std::fs::read_dir(case.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(text) = std::fs::read_to_string(file.path()) {
                out.push(text);
            }
        }
    }
    out
}

fn replay_dir(root: &Path, target: &str) -> Vec<(PathBuf, String)> {
    let dir = root.join("fuzz/regressions").join(target);
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            std::fs::read(e.path())
                .ok()
                .map(|b| (e.path(), String::from_utf8_lossy(&b).into_owned()))
        })
        .collect();
    out.sort();
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut seconds = 10u64;
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let mut chosen = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = iter
                    .next()
                    .and_then(|s| s.parse().ok())
                    .expect("--seconds N")
            }
            "--seed" => seed = iter.next().and_then(|s| s.parse().ok()).expect("--seed S"),
            other => chosen.push(other.to_owned()),
        }
    }
    let targets: [(&str, Check); 5] = [
        ("document", check_document),
        ("expand", check_expand),
        ("ciphertext", check_ciphertext),
        ("keys-file", check_keys_file),
        ("substituter", check_substituter),
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let corpus = seeds(&root);
    let ctx = Context {
        key: PrivateKey::generate(),
        vars: [("A", "alpha"), ("B", "$A"), ("EMPTY", "")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into(),
        vault: vault(),
    };
    std::panic::set_hook(Box::new(|_| {}));
    let mut failed = false;
    for (name, check) in targets {
        if !chosen.is_empty() && !chosen.iter().any(|c| c == name) {
            continue;
        }
        for (path, input) in replay_dir(&root, name) {
            if catch_unwind(AssertUnwindSafe(|| check(&input, &ctx))).is_err() {
                println!("{name}: regression {} fails again", path.display());
                failed = true;
            }
        }
        let mut rng = Rng(seed);
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut runs = 0u64;
        while Instant::now() < deadline {
            let input = generate(&mut rng, &corpus);
            runs += 1;
            if catch_unwind(AssertUnwindSafe(|| check(&input, &ctx))).is_err() {
                let crashes = root.join("fuzz/crashes");
                let _ = std::fs::create_dir_all(&crashes);
                let file = crashes.join(format!("{name}-{runs}"));
                let _ = std::fs::write(&file, &input);
                println!(
                    "{name}: FAILED on input {input:?} (saved to {})",
                    file.display()
                );
                failed = true;
                break;
            }
        }
        println!("{name}: {runs} inputs in {seconds}s (seed {seed})");
    }
    std::process::exit(i32::from(failed));
}
