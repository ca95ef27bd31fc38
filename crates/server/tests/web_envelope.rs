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

/// Runs `tests/web_links.mjs` with `args` and returns its one line of output.
fn node(args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/web_links.mjs");
    let out = Command::new("node")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("this test needs `node` on PATH ({e}); scripts/test.sh installs it")
        });
    assert!(
        out.status.success(),
        "web_links.mjs {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[test]
fn a_value_the_browser_seals_to_a_request_opens_in_rust_and_only_for_that_request() {
    use base64::Engine;
    let pair = coffer_envelope::RequestKeyPair::generate().unwrap();
    let id = uuid::Uuid::new_v4();
    let value = "vendor-key-ünïcode-123";
    let sealed = node(&[
        "seal-request",
        &id.to_string(),
        &B64.encode(&pair.public),
        &B64.encode(value),
    ]);
    let sealed = B64.decode(sealed).unwrap();
    let open = |id: &uuid::Uuid| {
        coffer_envelope::open_from_request(
            id.as_bytes(),
            &pair.private,
            &pair.public,
            &sealed,
            1 << 20,
        )
    };
    assert_eq!(open(&id).unwrap().as_bytes(), value.as_bytes());
    let other = uuid::Uuid::new_v4();
    assert_eq!(
        open(&other).map(|_| ()),
        Err(coffer_envelope::EnvelopeError::Integrity)
    );
}

#[test]
fn links_sealed_in_the_browser_open_in_rust_and_the_reverse() {
    use base64::Engine;
    let (org, secret) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let binding = coffer_envelope::Binding {
        org: *org.as_bytes(),
        secret: *secret.as_bytes(),
        version: 3,
        key_version: 1,
    };
    // Browser → Rust.
    let sealed: serde_json::Value = serde_json::from_str(&node(&[
        "seal-link",
        &org.to_string(),
        &secret.to_string(),
        "3",
        &B64.encode("db-pass"),
    ]))
    .unwrap();
    let key = coffer_envelope::Key32::try_from_slice(
        &B64.decode(sealed["key"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let envelope = B64.decode(sealed["envelope"].as_str().unwrap()).unwrap();
    let opened = coffer_envelope::open(&key, &binding, &envelope, 1 << 20).unwrap();
    assert_eq!(opened.as_bytes(), b"db-pass");
    // The open proof's hash the browser sends is the one the CLI would send.
    let proof = coffer_envelope::link_open_proof(&key);
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &proof);
    assert_eq!(sealed["open_hash"], hex::encode(hash.as_ref()));
    // Rust → browser, and a wrong key or another version is refused.
    let key = coffer_envelope::Key32::generate();
    let sealed = coffer_envelope::seal(&key, &binding, b"from rust").unwrap();
    let open = |k: &coffer_envelope::Key32, version: &str| {
        node(&[
            "open-link",
            &B64.encode(k.expose()),
            &org.to_string(),
            &secret.to_string(),
            version,
            &B64.encode(&sealed.bytes),
        ])
    };
    assert_eq!(open(&key, "3"), B64.encode("from rust"));
    assert!(open(&coffer_envelope::Key32::generate(), "3").starts_with("refused: "));
    assert!(open(&key, "4").starts_with("refused: "));
}
