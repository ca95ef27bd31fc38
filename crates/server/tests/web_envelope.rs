//! The browser's sealing module (`web/js/envelope.js`, the file the UI loads) run in Node's
//! WebCrypto against the committed envelope v1 vectors. Needs `node` (scripts/test.sh installs
//! it); without it the test fails and says so.

use std::process::Command;

#[test]
fn browser_sealing_reproduces_the_envelope_vectors() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/web_envelope.mjs");
    let out = Command::new("node")
        .arg(script)
        .output()
        .unwrap_or_else(|e| {
            panic!("this test needs `node` on PATH ({e}); scripts/test.sh installs it")
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "web_envelope.mjs failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(" passed, 0 failed"),
        "unexpected output: {stdout}"
    );
}
