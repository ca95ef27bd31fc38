//! The generic key wrap used by the local keyring (`wrap_key` / `unwrap_key`).

use coffer_envelope::{
    EnvelopeError, KEYWRAP_VERSION, Key32, WRAPPED_KEY_LEN, unwrap_key, wrap_key,
};

#[test]
fn round_trip_and_layout() {
    let kek = Key32::generate();
    let key = Key32::generate();
    let w = wrap_key(&kek, b"org/1/v1", &key);
    assert_eq!(w.len(), 61);
    assert_eq!(WRAPPED_KEY_LEN, 61);
    assert_eq!(w[0], KEYWRAP_VERSION);
    assert_ne!(
        &w[13..45],
        key.expose(),
        "key bytes are not stored in the clear"
    );
    assert_eq!(
        unwrap_key(&kek, b"org/1/v1", &w).unwrap().expose(),
        key.expose()
    );
    // Fresh nonce per wrap.
    assert_ne!(wrap_key(&kek, b"org/1/v1", &key), w);
}

#[test]
fn refusals() {
    let kek = Key32::generate();
    let key = Key32::generate();
    let w = wrap_key(&kek, b"aad", &key);
    assert_eq!(
        unwrap_key(&Key32::generate(), b"aad", &w).unwrap_err(),
        EnvelopeError::Integrity
    );
    assert_eq!(
        unwrap_key(&kek, b"other aad", &w).unwrap_err(),
        EnvelopeError::Integrity
    );
    for i in 1..w.len() {
        let mut t = w.clone();
        t[i] ^= 0x40;
        assert_eq!(
            unwrap_key(&kek, b"aad", &t).unwrap_err(),
            EnvelopeError::Integrity,
            "byte {i}"
        );
    }
    let mut t = w.clone();
    t[0] = 2;
    assert_eq!(
        unwrap_key(&kek, b"aad", &t).unwrap_err(),
        EnvelopeError::UnsupportedVersion(2)
    );
    assert_eq!(
        unwrap_key(&kek, b"aad", &[]).unwrap_err(),
        EnvelopeError::TooShort
    );
    assert!(matches!(
        unwrap_key(&kek, b"aad", &w[..60]),
        Err(EnvelopeError::InvalidLength {
            expected: 61,
            actual: 60,
            ..
        })
    ));
}

#[test]
fn key_from_slice_checks_length() {
    assert!(Key32::try_from_slice(&[0u8; 32]).is_ok());
    assert_eq!(
        Key32::try_from_slice(&[0u8; 31]).unwrap_err(),
        EnvelopeError::InvalidLength {
            what: "a key",
            expected: 32,
            actual: 31
        }
    );
}
