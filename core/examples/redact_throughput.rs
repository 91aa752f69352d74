//! Throughput of the `--redact` filter: 100 secrets (every encoded form of each, as `run`
//! builds them) against 256 MiB of output in 64 KiB reads, the size `run` reads.
//!
//! Prints `{"secrets": 100, "patterns": P, "mb_per_s": X}`.

use std::time::Instant;

use envx_core::redact::Redactor;

fn main() {
    let secrets: Vec<(String, String)> = (0..100)
        .map(|i| {
            (
                format!("SECRET_{i}"),
                format!("sk/live {i:04}\"{}", "Xy7$".repeat(6)),
            )
        })
        .collect();
    let pairs: Vec<(&str, &str)> = secrets
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let redactor = Redactor::new(&pairs);
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
    let mut out = Vec::with_capacity(80 << 10);
    let mut redacted = 0usize;
    let start = Instant::now();
    let mut done = 0;
    while done < total {
        for chunk in block.chunks(64 << 10) {
            out.clear();
            stream.push(chunk, &mut out);
            redacted += out.len();
        }
        done += block.len();
    }
    out.clear();
    stream.finish(&mut out);
    let seconds = start.elapsed().as_secs_f64();
    assert!(redacted > 0);
    let mb_per_s = done as f64 / seconds / 1e6;
    println!(
        "{{\"secrets\": 100, \"patterns\": {:?}, \"mb_per_s\": {mb_per_s:.0}}}",
        format!("{redactor:?}")
    );
}
