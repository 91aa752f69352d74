//! The `--redact` filter, measured.
//!
//! `redact_throughput`: throughput with 100 secrets (every form of each, as `run` builds them)
//! against 256 MiB of log-like output in 64 KiB reads, the size `run` reads, alternating between
//! two outputs as stdout and stderr would; and on output that is all wrapped base64. Prints
//! `{"secrets": 100, "patterns": P, "mb_per_s": X, "wrapped_base64_mb_per_s": Y}`.
//!
//! `redact_throughput memory BYTES`: builds the filter for about BYTES of secrets (40-byte
//! tokens), filters 1 MiB of output, and prints the build time; run it under `bench/maxrss.c`
//! for the peak memory. Prints `{"secret_bytes": N, "pattern_bytes": P, "build_s": T}`.

use std::time::Instant;

use envx_core::redact::{Emitted, Redactor};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("memory") => memory(args[2].parse().expect("BYTES is a number")),
        _ => throughput(),
    }
}

fn pairs(secrets: &[(String, String)]) -> Vec<(&str, &str)> {
    secrets
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn throughput() {
    let secrets: Vec<(String, String)> = (0..100)
        .map(|i| {
            (
                format!("SECRET_{i}"),
                format!("sk/live {i:04}\"{}", "Xy7$".repeat(6)),
            )
        })
        .collect();
    let redactor = Redactor::new(&pairs(&secrets));
    // Log-like output with a secret every few kilobytes.
    let mut block = Vec::new();
    let mut i = 0;
    while block.len() < 1 << 20 {
        block.extend_from_slice(format!("2026-11-22T10:00:{:02} INFO request {i} handled in 3ms path=/api/v1/items?id={i}\n", i % 60).as_bytes());
        if i % 50 == 0 {
            block.extend_from_slice(format!("debug token={}\n", secrets[i % 100].1).as_bytes());
        }
        i += 1;
    }
    let total = 256usize << 20;
    let mut stream = redactor.stream();
    let mut out = Emitted::default();
    let mut redacted = 0usize;
    let start = Instant::now();
    let mut done = 0;
    while done < total {
        for (n, chunk) in block.chunks(64 << 10).enumerate() {
            out.clear();
            stream.push(n % 2, chunk, &mut out);
            redacted += out.as_bytes().len();
        }
        done += block.len();
    }
    out.clear();
    stream.finish(&mut out);
    let seconds = start.elapsed().as_secs_f64();
    assert!(redacted > 0);
    let mb_per_s = done as f64 / seconds / 1e6;
    let wrapped = wrapped_base64(&redactor);
    println!(
        "{{\"secrets\": 100, \"patterns\": {:?}, \"mb_per_s\": {mb_per_s:.0}, \"wrapped_base64_mb_per_s\": {wrapped:.0}}}",
        format!("{redactor:?}")
    );
}

/// Throughput on 64 MiB of output that is all base64 wrapped at 76 columns (a program dumping
/// an encoded file), where every line break is left out of the matched view.
fn wrapped_base64(redactor: &Redactor) -> f64 {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut block = Vec::new();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    while block.len() < 1 << 20 {
        for _ in 0..76 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            block.push(alphabet[(state % 64) as usize]);
        }
        block.push(b'\n');
    }
    let mut stream = redactor.stream();
    let mut out = Emitted::default();
    let start = Instant::now();
    let mut done = 0;
    while done < 64 << 20 {
        for chunk in block.chunks(64 << 10) {
            out.clear();
            stream.push(0, chunk, &mut out);
        }
        done += block.len();
    }
    done as f64 / start.elapsed().as_secs_f64() / 1e6
}

fn memory(bytes: usize) {
    let count = bytes.div_ceil(40);
    let secrets: Vec<(String, String)> = (0..count)
        .map(|i| {
            // 40 bytes that differ early, as random tokens do.
            let mut token = format!("{:016x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            token.push_str(&format!("-tok-{i:09}-abcdefghi"));
            (format!("SECRET_{i}"), token)
        })
        .collect();
    let start = Instant::now();
    let redactor = Redactor::new(&pairs(&secrets));
    let build = start.elapsed().as_secs_f64();
    let mut stream = redactor.stream();
    let mut out = Emitted::default();
    let token = secrets.get(count / 2).map_or("none", |(_, v)| v.as_str());
    let line = format!("log line with {token} in it\n");
    for _ in 0..(1 << 20) / line.len() {
        stream.push(0, line.as_bytes(), &mut out);
        out.clear();
    }
    let pattern_bytes = redactor.pattern_bytes();
    println!(
        "{{\"secret_bytes\": {}, \"pattern_bytes\": {pattern_bytes}, \"build_s\": {build:.3}}}",
        count * 40
    );
}
