//! Parser bounds: every structural refusal, and that size is checked first.

use coffer_envelope::{
    Binding, EnvelopeError, HEADER_LEN, Key32, MIN_ENVELOPE_LEN, OVERHEAD, open, parse, seal,
};

const MAX: usize = 1 << 20;

fn sample() -> (Key32, Binding, Vec<u8>) {
    let key = Key32::generate();
    let b = Binding {
        org: [7; 16],
        secret: [9; 16],
        version: 3,
        key_version: 1,
    };
    let bytes = seal(&key, &b, b"correct horse battery staple")
        .unwrap()
        .bytes;
    (key, b, bytes)
}

#[test]
fn constants_match_the_documented_layout() {
    assert_eq!(HEADER_LEN, 150);
    assert_eq!(OVERHEAD, 166);
    assert_eq!(MIN_ENVELOPE_LEN, 166);
    let (_, _, bytes) = sample();
    assert_eq!(&bytes[..6], b"COFR\x01\x00");
}

#[test]
fn oversize_is_rejected_before_anything_else() {
    let (key, b, bytes) = sample();
    let len = bytes.len();
    assert_eq!(parse(&bytes, len).map(|e| e.binding), Ok(b));
    assert_eq!(
        parse(&bytes, len - 1).unwrap_err(),
        EnvelopeError::TooLarge { len, max: len - 1 }
    );
    // Even garbage that is oversize reports TooLarge, not BadMagic.
    let garbage = vec![0xffu8; 4096];
    assert_eq!(
        parse(&garbage, 100).unwrap_err(),
        EnvelopeError::TooLarge {
            len: 4096,
            max: 100
        }
    );
    assert_eq!(
        open(&key, &b, &garbage, 100).unwrap_err(),
        EnvelopeError::TooLarge {
            len: 4096,
            max: 100
        }
    );
}

#[test]
fn truncated_envelopes_are_too_short() {
    let (_, _, bytes) = sample();
    for cut in [0, 3] {
        assert_eq!(
            parse(&bytes[..cut], MAX).unwrap_err(),
            EnvelopeError::TooShort,
            "cut {cut}"
        );
    }
    for cut in [4, 5, 6, 100, HEADER_LEN, MIN_ENVELOPE_LEN - 1] {
        assert_eq!(
            parse(&bytes[..cut], MAX).unwrap_err(),
            EnvelopeError::TooShort,
            "cut {cut}"
        );
    }
    assert!(
        parse(&bytes[..MIN_ENVELOPE_LEN], MAX).is_ok(),
        "structure alone is fine at 166 bytes"
    );
}

#[test]
fn bad_magic() {
    let (_, _, mut bytes) = sample();
    bytes[0] = b'X';
    assert_eq!(parse(&bytes, MAX).unwrap_err(), EnvelopeError::BadMagic);
    assert_eq!(parse(b"NOPE", MAX).unwrap_err(), EnvelopeError::BadMagic);
}

#[test]
fn unsupported_version_even_when_short() {
    let (_, _, mut bytes) = sample();
    for v in [0u8, 2, 0xff] {
        bytes[4] = v;
        assert_eq!(
            parse(&bytes, MAX).unwrap_err(),
            EnvelopeError::UnsupportedVersion(v)
        );
        assert_eq!(
            parse(&bytes[..5], MAX).unwrap_err(),
            EnvelopeError::UnsupportedVersion(v)
        );
    }
}

#[test]
fn nonzero_flags() {
    let (_, _, mut bytes) = sample();
    bytes[5] = 0x01;
    assert!(matches!(
        parse(&bytes, MAX),
        Err(EnvelopeError::MalformedHeader(_))
    ));
}

#[test]
fn zero_versions() {
    let (_, _, bytes) = sample();
    let mut v = bytes.clone();
    v[38..42].copy_from_slice(&0u32.to_be_bytes());
    assert_eq!(
        parse(&v, MAX).unwrap_err(),
        EnvelopeError::MalformedHeader("secret version is zero")
    );
    let mut k = bytes;
    k[42..46].copy_from_slice(&0u32.to_be_bytes());
    assert_eq!(
        parse(&k, MAX).unwrap_err(),
        EnvelopeError::MalformedHeader("org-key version is zero")
    );
}

#[test]
fn sealing_refuses_zero_versions() {
    let key = Key32::generate();
    let mut b = Binding {
        org: [1; 16],
        secret: [2; 16],
        version: 0,
        key_version: 1,
    };
    assert!(matches!(
        seal(&key, &b, b"x"),
        Err(EnvelopeError::InvalidBinding(_))
    ));
    b.version = 1;
    b.key_version = 0;
    assert!(matches!(
        seal(&key, &b, b"x"),
        Err(EnvelopeError::InvalidBinding(_))
    ));
}

#[test]
fn parsed_fields_sit_at_documented_offsets() {
    let (_, b, bytes) = sample();
    let env = parse(&bytes, MAX).unwrap();
    assert_eq!(env.binding, b);
    assert_eq!(&bytes[6..46], &b.to_bytes());
    assert_eq!(&bytes[46..106], &env.wrapped_key.to_bytes());
    assert_eq!(&bytes[106..118], &env.payload_nonce);
    assert_eq!(&bytes[118..150], &env.commitment);
    assert_eq!(env.header_bytes(), &bytes[..150]);
    assert_eq!(env.ciphertext(), &bytes[150..]);
}
