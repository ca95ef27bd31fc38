//! Fuzz target: the formats Coffer reads back from an org's own bucket, which a tenant (or
//! whoever holds the bucket) can alter: the audit copy objects (`audit::copy`, JSON) and the
//! sealed per-version manifests (`manifest`, an envelope around JSON). A copy object either
//! decodes or is refused — never a panic — only for its own org, and what decodes encodes to an
//! object that decodes to the same checkpoint and events. A manifest's JSON that reads writes
//! back to itself. Of a genuine sealed manifest patched by the fuzzer (first two bytes: offset,
//! the rest XORed in), only the unaltered one opens, and it opens to what was sealed.
#![no_main]

use std::sync::OnceLock;

use coffer_api::SecretKind;
use coffer_envelope::{Binding, OrgKey};
use coffer_server::audit::copy;
use coffer_server::blob::BlobKey;
use coffer_server::domain::{OrgId, SecretId, Timestamp};
use coffer_server::manifest::{Describes, Manifest};
use libfuzzer_sys::fuzz_target;
use uuid::Uuid;

fn org() -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(0x0190_b3d2_0000_7000_8000_0000_0000_0001))
}

fn secret() -> SecretId {
    SecretId::from_uuid(Uuid::from_u128(0x0190_b3d2_0000_7000_8000_0000_0000_0002))
}

fn org_key() -> OrgKey {
    OrgKey::from_bytes([0x42; 32])
}

/// The value binding of the envelope whose manifest is fuzzed (secret version 3).
fn value_binding() -> Binding {
    Binding {
        org: org().to_bytes(),
        secret: secret().to_bytes(),
        version: 3,
        key_version: 1,
    }
}

fn genuine() -> &'static (Manifest, Vec<u8>) {
    static GENUINE: OnceLock<(Manifest, Vec<u8>)> = OnceLock::new();
    GENUINE.get_or_init(|| {
        let object = BlobKey::for_write(org(), secret(), 3);
        let m = Manifest::new(Describes {
            org: org(),
            secret: secret(),
            version: 3,
            object: &object,
            scope: "OPS-123".into(),
            name: "db-password".into(),
            kind: SecretKind::Password,
            at: Timestamp::from_millis(1_700_000_000_000),
            by: "alice",
        });
        let sealed = m.seal(&org_key(), 1).expect("seals");
        (m, sealed)
    })
}

fn audit_copy(bytes: &[u8]) {
    let Ok((c, events)) = copy::decode(org(), bytes) else {
        return;
    };
    let other = OrgId::from_uuid(Uuid::from_u128(7));
    assert!(copy::decode(other, bytes).is_err(), "read as another org's");
    let encoded = copy::encode(&c, &events);
    let (c2, events2) = copy::decode(org(), &encoded).expect("what decoded encodes and decodes");
    assert_eq!((&c2, &events2), (&c, &events));
    assert_eq!(copy::encode(&c2, &events2), encoded);
}

fn manifest_json(bytes: &[u8]) {
    if let Ok(m) = serde_json::from_slice::<Manifest>(bytes) {
        let written = serde_json::to_vec(&m).expect("a manifest writes");
        let again: Manifest = serde_json::from_slice(&written).expect("and reads back");
        assert_eq!(again, m);
    }
}

fn sealed_manifest(data: &[u8]) {
    let (m, sealed) = genuine();
    let mut patched = sealed.clone();
    if let [hi, lo, patch @ ..] = data {
        let n = patched.len();
        let start = usize::from(u16::from_be_bytes([*hi, *lo])) % n;
        for (i, b) in patch.iter().enumerate() {
            patched[(start + i) % n] ^= b;
        }
    }
    let _ = Manifest::sealed_under(&patched);
    let opened = Manifest::open(&patched, &value_binding(), &org_key());
    if patched == *sealed {
        assert_eq!(opened.as_ref(), Ok(m));
    } else {
        assert!(opened.is_err(), "an altered manifest opened");
    }
    // The raw input, as a sealed manifest, never opens.
    assert!(Manifest::open(data, &value_binding(), &org_key()).is_err() || data == &sealed[..]);
}

fuzz_target!(|data: &[u8]| {
    audit_copy(data);
    manifest_json(data);
    sealed_manifest(data);
});
