//! `envx run --proxy` end to end, with real clients as children, offline on loopback.

use crate::tls_echo::{Echo, TestCa};

/// The echo server itself works: curl, trusting the test CA, gets its request back.
#[test]
#[ignore = "needs curl; .ci/run installs it and runs ignored tests"]
fn the_echo_server_answers_curl_directly() {
    let ca = TestCa::new();
    let echo = Echo::start(&ca, "127.0.0.2");
    let out = std::process::Command::new("curl")
        .args(["-sS", "--noproxy", "*", "--cacert"])
        .arg(&ca.pem)
        .args(["-H", "X-Probe: hello"])
        .arg(format!("{}/path?q=1", echo.url()))
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("ECHO\nGET /path?q=1 "), "{text}");
    assert!(text.contains("X-Probe: hello"), "{text}");
    assert_eq!(echo.received().len(), 1);
}
