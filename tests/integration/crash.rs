//! A run killed while it writes: what it leaves behind, and who can read it.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use crate::common::envx;

/// envx's temporary files in `dir`, with their permission bits.
fn temporaries(dir: &Path) -> Vec<(String, u32)> {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".envx-tmp-"))
        .map(|e| {
            let mode = e.metadata().unwrap().permissions().mode() & 0o777;
            (e.file_name().to_string_lossy().into_owned(), mode)
        })
        .collect()
}

#[test]
fn a_killed_decrypt_leaves_no_plaintext_others_can_read_and_the_next_write_removes_it() {
    // On the build disk, not a tmpfs: flushing a large file takes real time there, as it does
    // for users.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let d = dir.path();
    let mut plain = String::new();
    let filler = "p".repeat(8_000);
    for i in 0..500 {
        plain.push_str(&format!("SECRET_{i:04}={filler}{i}\n"));
    }
    let path = d.join(".env");
    fs::write(&path, &plain).unwrap();
    envx(d).arg("encrypt").assert().success();
    let encrypted = fs::read(&path).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("envx");
    let run = || {
        fs::write(&path, &encrypted).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        Command::new(&bin)
            .arg("decrypt")
            .current_dir(d)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    assert!(run().wait().unwrap().success());
    let decrypted = fs::read_to_string(&path).unwrap();
    assert!(!decrypted.contains("encrypted:") && decrypted.ends_with(&format!("{filler}499\n")));
    let full_size = decrypted.len() as u64;

    // Each round kills decrypt the moment its temporary file holds every plaintext byte: the
    // file is then being flushed to disk, the longest step before the rename, and the one a
    // crash is most likely to interrupt.
    let mut left = 0;
    for round in 0..4 {
        let mut child = run();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut killed = false;
        while !killed && std::time::Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            let full = fs::read_dir(d).unwrap().flatten().any(|e| {
                e.file_name().to_string_lossy().starts_with(".envx-tmp-")
                    && e.metadata().is_ok_and(|m| m.len() == full_size)
            });
            if full {
                let _ = child.kill();
                killed = true;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        for (name, mode) in temporaries(d) {
            left += 1;
            assert_eq!(mode & 0o077, 0, "round {round}: {name} has mode {mode:o}");
        }
    }
    assert!(left > 0, "no kill landed while a temporary file existed");

    // The next writer, holding the folder's lock, removes what the killed run left; files that
    // only look like ours stay.
    fs::write(d.join(".envx-tmp-notours.txt"), "x").unwrap();
    assert!(!temporaries(d).is_empty());
    envx(d).args(["set", "OTHER", "value"]).assert().success();
    let after: Vec<String> = temporaries(d).into_iter().map(|(n, _)| n).collect();
    assert_eq!(after, [".envx-tmp-notours.txt"]);
}
