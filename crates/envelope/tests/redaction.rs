//! Secrets never reach logs: `Debug` of keys and plaintexts is redacted, and
//! error messages are sentences that carry no key or plaintext bytes.

use coffer_envelope::{Binding, EnvelopeError, Key32, Plaintext, open, seal};

#[test]
fn key_debug_is_redacted() {
    let key = Key32::from_bytes([0xAB; 32]);
    let dbg = format!("{key:?}");
    assert_eq!(dbg, "Key32([REDACTED])");
    let pretty = format!("{key:#?}");
    for s in [&dbg, &pretty] {
        assert!(
            !s.contains("171") && !s.to_lowercase().contains("ab"),
            "{s}"
        );
    }
    let clone = key.clone();
    assert_eq!(format!("{clone:?}"), "Key32([REDACTED])");
    assert_eq!(clone.expose(), key.expose());
}

#[test]
fn plaintext_debug_is_redacted() {
    let pt = Plaintext::from(b"s3cr3t-value".to_vec());
    let dbg = format!("{pt:?}");
    assert_eq!(dbg, "Plaintext(<12 bytes>)");
    assert!(!format!("{pt:#?}").contains("s3cr3t"));
    assert_eq!(
        format!("{:?}", Plaintext::from(&b""[..])),
        "Plaintext(<0 bytes>)"
    );
}

#[test]
fn opened_plaintext_debug_is_redacted() {
    let key = Key32::generate();
    let b = Binding {
        org: [1; 16],
        secret: [2; 16],
        version: 1,
        key_version: 1,
    };
    let sealed = seal(&key, &b, b"hunter2").unwrap();
    let pt = open(&key, &b, &sealed.bytes, 1 << 20).unwrap();
    let shown = format!("{pt:?} {:?}", open(&key, &b, &sealed.bytes, 1 << 20));
    assert!(
        !shown.contains("hunter2") && !shown.contains("104"),
        "{shown}"
    );
}

#[test]
fn error_messages_are_sentences() {
    let errors = [
        EnvelopeError::TooShort,
        EnvelopeError::TooLarge { len: 10, max: 5 },
        EnvelopeError::BadMagic,
        EnvelopeError::UnsupportedVersion(2),
        EnvelopeError::MalformedHeader("reserved flags byte is not zero"),
        EnvelopeError::BindingMismatch("secret"),
        EnvelopeError::Integrity,
        EnvelopeError::InvalidLength {
            what: "a key",
            expected: 32,
            actual: 31,
        },
        EnvelopeError::InvalidBinding("secret version must be at least 1"),
        EnvelopeError::Randomness,
    ];
    for e in errors {
        let msg = e.to_string();
        assert!(msg.len() > 20 && msg.contains(' '), "{msg}");
    }
    assert_eq!(
        EnvelopeError::Integrity.to_string(),
        "envelope failed its integrity check: it was tampered with, corrupted, \
         or belongs to another secret or key"
    );
}
