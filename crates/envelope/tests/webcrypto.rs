//! Cross-implementation check: `vectors/webcrypto_check.mjs` rebuilds and opens
//! every known-answer vector with WebCrypto alone (what a browser has). It needs
//! `node` (Node 20+) on PATH; `.ci/run` makes sure it is there. Without it the
//! test fails and says so, rather than passing without checking anything.

use std::process::Command;

#[test]
fn webcrypto_reproduces_vectors() {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/webcrypto_check.mjs"
    );
    let out = match Command::new("node").arg(script).output() {
        Ok(out) => out,
        Err(e) => panic!(
            "the WebCrypto cross-check needs `node` (Node 20+) on PATH: {e}; install it (apt-get install nodejs) and rerun"
        ),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "webcrypto_check.mjs failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(" passed, 0 failed"),
        "unexpected output: {stdout}"
    );
}
