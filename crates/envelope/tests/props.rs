//! Property tests: round trips and the refusals the format promises.
//!
//! Case counts are modest so the whole file runs in a few seconds in a debug
//! build; the fuzz target and the known-answer vectors cover other ground.

use coffer_envelope::{
    Binding, EnvelopeError, HEADER_LEN, Key32, OVERHEAD, WRAPPED_DEK_LEN, open, open_with_data_key,
    parse, seal, seal_with_data_key, unwrap_data_key, wrap_data_key,
};
use proptest::prelude::*;

const MAX: usize = 1 << 20;

fn binding() -> impl Strategy<Value = Binding> {
    (
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        1..=u32::MAX,
        1..=u32::MAX,
    )
        .prop_map(|(org, secret, version, key_version)| Binding {
            org,
            secret,
            version,
            key_version,
        })
}

fn key() -> impl Strategy<Value = Key32> {
    any::<[u8; 32]>().prop_map(Key32::from_bytes)
}

/// A binding that differs from `b` in exactly the field `which` (0..4).
fn altered(b: &Binding, which: u8, delta: u32) -> (Binding, &'static str) {
    let mut o = *b;
    let d = delta.max(1);
    match which % 4 {
        0 => {
            o.org[(d % 16) as usize] ^= 0x80;
            (o, "organisation")
        }
        1 => {
            o.secret[(d % 16) as usize] ^= 0x01;
            (o, "secret")
        }
        2 => {
            o.version = b.version.wrapping_add(d).max(1);
            if o.version == b.version {
                o.version = if b.version == 1 { 2 } else { 1 };
            }
            (o, "secret version")
        }
        _ => {
            o.key_version = b.key_version.wrapping_add(d).max(1);
            if o.key_version == b.key_version {
                o.key_version = if b.key_version == 1 { 2 } else { 1 };
            }
            (o, "org-key version")
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trip(org_key in key(), b in binding(), pt in prop::collection::vec(any::<u8>(), 0..4096)) {
        let sealed = seal(&org_key, &b, &pt).unwrap();
        prop_assert_eq!(sealed.bytes.len(), OVERHEAD + pt.len());
        let env = parse(&sealed.bytes, MAX).unwrap();
        prop_assert_eq!(env.binding, b);
        prop_assert_eq!(&env.wrapped_key, &sealed.wrapped_key);
        prop_assert_eq!(env.header_bytes(), &sealed.bytes[..HEADER_LEN]);
        prop_assert_eq!(env.plaintext_len(), pt.len());
        let opened = open(&org_key, &b, &sealed.bytes, MAX).unwrap();
        prop_assert_eq!(opened.as_bytes(), &pt[..]);
        let dek = unwrap_data_key(&org_key, &b, &sealed.wrapped_key).unwrap();
        let opened = open_with_data_key(&dek, &b, &sealed.bytes, MAX).unwrap();
        prop_assert_eq!(opened.as_bytes(), &pt[..]);
    }

    #[test]
    fn client_side_seal_round_trips(org_key in key(), b in binding(), pt in prop::collection::vec(any::<u8>(), 0..512)) {
        let dek = Key32::generate();
        let wrapped = wrap_data_key(&org_key, &b, &dek);
        let bytes = seal_with_data_key(&dek, &wrapped, &b, &pt).unwrap();
        let opened = open(&org_key, &b, &bytes, MAX).unwrap();
        prop_assert_eq!(opened.as_bytes(), &pt[..]);
        // A data key that does not match the wrapped key is caught by the commitment.
        let bytes = seal_with_data_key(&Key32::generate(), &wrapped, &b, &pt).unwrap();
        prop_assert_eq!(open(&org_key, &b, &bytes, MAX).unwrap_err(), EnvelopeError::Integrity);
    }

    #[test]
    fn other_expected_binding_is_refused(org_key in key(), b in binding(), which in 0u8..4, delta in any::<u32>()) {
        let bytes = seal(&org_key, &b, b"value").unwrap().bytes;
        let (other, field) = altered(&b, which, delta);
        prop_assert_eq!(open(&org_key, &other, &bytes, MAX).unwrap_err(), EnvelopeError::BindingMismatch(field));
    }

    #[test]
    fn transplanted_wrapped_key_is_refused(org_key in key(), a in binding(), which in 0u8..4, delta in any::<u32>()) {
        let (b, _) = altered(&a, which, delta);
        let env_a = seal(&org_key, &a, b"from a").unwrap();
        let env_b = seal(&org_key, &b, b"from b").unwrap();
        // A's wrapped key does not unwrap under B's binding.
        prop_assert_eq!(unwrap_data_key(&org_key, &b, &env_a.wrapped_key).unwrap_err(), EnvelopeError::Integrity);
        // Nor does an envelope for B carrying A's wrapped key open.
        let mut spliced = env_b.bytes.clone();
        spliced[46..46 + WRAPPED_DEK_LEN].copy_from_slice(&env_a.wrapped_key.to_bytes());
        prop_assert_eq!(open(&org_key, &b, &spliced, MAX).unwrap_err(), EnvelopeError::Integrity);
        // Nor does A's envelope relabelled as B (header binding rewritten).
        let mut relabelled = env_a.bytes.clone();
        relabelled[6..46].copy_from_slice(&b.to_bytes());
        prop_assert_eq!(open(&org_key, &b, &relabelled, MAX).unwrap_err(), EnvelopeError::Integrity);
    }

    #[test]
    fn wrong_org_key_is_refused(org_key in key(), other in key(), b in binding()) {
        prop_assume!(org_key.expose() != other.expose());
        let sealed = seal(&org_key, &b, b"value").unwrap();
        prop_assert_eq!(open(&other, &b, &sealed.bytes, MAX).unwrap_err(), EnvelopeError::Integrity);
        prop_assert_eq!(unwrap_data_key(&other, &b, &sealed.wrapped_key).unwrap_err(), EnvelopeError::Integrity);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn any_single_bit_flip_is_refused(org_key in key(), b in binding(), pt in prop::collection::vec(any::<u8>(), 0..256), bit in any::<prop::sample::Index>()) {
        let mut bytes = seal(&org_key, &b, &pt).unwrap().bytes;
        let bit = bit.index(bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        let err = open(&org_key, &b, &bytes, MAX).unwrap_err();
        prop_assert!(matches!(err,
            EnvelopeError::Integrity | EnvelopeError::BindingMismatch(_) | EnvelopeError::MalformedHeader(_)
            | EnvelopeError::BadMagic | EnvelopeError::UnsupportedVersion(_)), "bit {}: {:?}", bit, err);
    }
}

/// Exhaustive version of the bit-flip property for one envelope: every one of
/// its bits, header and payload alike.
#[test]
fn every_single_bit_flip_is_refused() {
    let org_key = Key32::generate();
    let b = Binding {
        org: [3; 16],
        secret: [4; 16],
        version: 9,
        key_version: 2,
    };
    let bytes = seal(&org_key, &b, b"0123456789").unwrap().bytes;
    for bit in 0..bytes.len() * 8 {
        let mut t = bytes.clone();
        t[bit / 8] ^= 1 << (bit % 8);
        assert!(
            open(&org_key, &b, &t, MAX).is_err(),
            "bit {bit} flip was accepted"
        );
    }
}
