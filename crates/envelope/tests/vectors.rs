//! Known-answer vectors for envelope format v1 (`tests/vectors/envelope_v1.json`).
//!
//! The JSON file is the contract other implementations (a browser, a recovery
//! script) test against, so it is committed and this test recomputes every
//! vector with `seal_deterministic` and demands byte equality, then opens each
//! one. Negative vectors are tampered copies with the error `open` must give.
//! To regenerate after an intentional format change (which also needs a new
//! format version): `COFFER_WRITE_VECTORS=1 cargo test -p coffer-envelope --test vectors vectors_file_matches`
//! (then run the whole file again).

use std::path::PathBuf;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use coffer_envelope::{
    Binding, EnvelopeError, HEADER_LEN, Key32, WRAPPED_KEY_LEN, open, open_with_data_key,
    seal_deterministic, unwrap_key, wrap_key_with_nonce,
};
use serde_json::{Value, json};

const MAX: usize = 1 << 20;

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/envelope_v1.json")
}

fn pattern<const N: usize>(start: u8, step: u8) -> [u8; N] {
    std::array::from_fn(|i| start.wrapping_add(step.wrapping_mul(i as u8)))
}

struct Case {
    name: &'static str,
    comment: &'static str,
    binding: Binding,
    plaintext: Vec<u8>,
    seed: u8,
}

fn cases() -> Vec<Case> {
    let b = |org: u8, secret: u8, version, key_version| Binding {
        org: pattern(org, 1),
        secret: pattern(secret, 3),
        version,
        key_version,
    };
    vec![
        Case {
            name: "empty",
            comment: "empty plaintext: the minimum 166-byte envelope",
            binding: b(0x10, 0x40, 1, 1),
            plaintext: vec![],
            seed: 1,
        },
        Case {
            name: "one_byte",
            comment: "one-byte plaintext 0x42",
            binding: b(0x10, 0x40, 2, 1),
            plaintext: vec![0x42],
            seed: 2,
        },
        Case {
            name: "one_kib",
            comment: "1024 bytes: byte i = i mod 251",
            binding: b(0x11, 0x41, 7, 3),
            plaintext: (0..1024u32).map(|i| (i % 251) as u8).collect(),
            seed: 3,
        },
        Case {
            name: "non_ascii",
            comment: "UTF-8 text with non-ASCII characters",
            binding: b(0x12, 0x42, 42, 2),
            plaintext: "pässwörd — 秘密 🔑 ключ".as_bytes().to_vec(),
            seed: 4,
        },
        Case {
            name: "large_versions",
            comment: "big-endian encoding of large versions",
            binding: b(0xf0, 0xa0, 0xfffffffe, 0x01020304),
            plaintext: b"{\"db\":\"postgres://u:p@h/d\"}".to_vec(),
            seed: 5,
        },
    ]
}

fn binding_json(b: &Binding) -> Value {
    json!({ "org": hex::encode(b.org), "secret": hex::encode(b.secret), "version": b.version, "key_version": b.key_version })
}

fn binding_from(v: &Value) -> Binding {
    Binding {
        org: unhex(&v["org"]).try_into().unwrap(),
        secret: unhex(&v["secret"]).try_into().unwrap(),
        version: v["version"].as_u64().unwrap().try_into().unwrap(),
        key_version: v["key_version"].as_u64().unwrap().try_into().unwrap(),
    }
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

fn org_key() -> Key32 {
    Key32::from_bytes(pattern(0x00, 1))
}

/// Re-encrypts the payload of `env` (with a replaced commitment) under `dek` so
/// the GCM tag is valid and only the commitment is wrong.
fn forge_commitment(env: &[u8], dek: &[u8; 32], plaintext: &[u8]) -> Vec<u8> {
    let mut out = env[..HEADER_LEN].to_vec();
    out[HEADER_LEN - 1] ^= 0x01;
    let nonce: [u8; 12] = out[106..118].try_into().unwrap();
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, dek).unwrap());
    let mut body = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(&out[..]),
        &mut body,
    )
    .unwrap();
    out.extend_from_slice(&body);
    out
}

fn generate() -> Value {
    let mut vectors = Vec::new();
    let mut negatives = Vec::new();
    for c in cases() {
        let dek = Key32::from_bytes(pattern(0x80 + c.seed, 7));
        let wrap_nonce: [u8; 12] = pattern(0xa0 + c.seed, 5);
        let payload_nonce: [u8; 12] = pattern(0xc0 + c.seed, 11);
        let sealed = seal_deterministic(
            &org_key(),
            &c.binding,
            &dek,
            &wrap_nonce,
            &payload_nonce,
            &c.plaintext,
        )
        .unwrap();
        vectors.push(json!({
            "name": c.name, "comment": c.comment,
            "binding": binding_json(&c.binding),
            "data_key": hex::encode(dek.expose()),
            "wrap_nonce": hex::encode(wrap_nonce),
            "payload_nonce": hex::encode(payload_nonce),
            "plaintext": hex::encode(&c.plaintext),
            "wrapped_key": hex::encode(sealed.wrapped_key.to_bytes()),
            "commitment": hex::encode(&sealed.bytes[118..150]),
            "envelope": hex::encode(&sealed.bytes),
        }));
        if c.name != "non_ascii" {
            continue;
        }
        let env = sealed.bytes;
        let flip = |off: usize| {
            let mut e = env.clone();
            e[off] ^= 0x01;
            e
        };
        let mut other = c.binding;
        other.secret[0] ^= 0x01;
        let mut rebound = env.clone();
        rebound[22] ^= 0x01;
        let mut rekeyed = env.clone();
        rekeyed[45] ^= 0x07; // key_version 2 -> 5, in header and in what the reader asks for
        let mut rekeyed_binding = c.binding;
        rekeyed_binding.key_version ^= 0x07;
        let last = env.len() - 1;
        let neg = |name: &str, comment: &str, bytes: &[u8], expected: &Binding, error: &str| {
            json!({
                "name": name, "comment": comment, "of": c.name,
                "expected_binding": binding_json(expected),
                "envelope": hex::encode(bytes), "error": error,
            })
        };
        let b = &c.binding;
        negatives.extend([
            neg("payload_ciphertext_flipped", "first ciphertext byte flipped", &flip(HEADER_LEN), b, "Integrity"),
            neg("payload_tag_flipped", "last tag byte flipped", &flip(last), b, "Integrity"),
            neg("truncated_by_one", "last byte removed", &env[..last], b, "Integrity"),
            neg("wrap_nonce_flipped", "wrap nonce byte flipped", &flip(46), b, "Integrity"),
            neg("wrapped_key_flipped", "wrapped data key byte flipped", &flip(60), b, "Integrity"),
            neg("payload_nonce_flipped", "payload nonce byte flipped", &flip(106), b, "Integrity"),
            neg("commitment_flipped", "commitment byte flipped", &flip(120), b, "Integrity"),
            neg("commitment_wrong_tag_valid", "commitment altered and payload re-encrypted so its GCM tag is valid: only the commitment check catches it", &forge_commitment(&env, dek.expose(), &c.plaintext), b, "Integrity"),
            neg("header_secret_changed", "secret id in header changed; reader asks for the original secret", &rebound, b, "BindingMismatch"),
            neg("header_secret_changed_and_requested", "secret id in header changed and the reader asks for that secret: the data-key wrap AAD catches it", &rebound, &other, "Integrity"),
            neg("header_key_version_changed_and_requested", "org-key version changed in header and request", &rekeyed, &rekeyed_binding, "Integrity"),
            neg("flags_nonzero", "reserved flags byte set", &flip(5), b, "MalformedHeader"),
            neg("bad_magic", "magic changed", &flip(0), b, "BadMagic"),
            neg("future_version", "format version 2", &{ let mut e = env.clone(); e[4] = 2; e }, b, "UnsupportedVersion"),
            neg("too_short", "cut to 165 bytes", &env[..165], b, "TooShort"),
        ]);
    }
    let kek = Key32::from_bytes(pattern(0x55, 13));
    let key = Key32::from_bytes(pattern(0x99, 17));
    let aad = b"coffer/keyring/org/0001/v1";
    let nonce: [u8; 12] = pattern(0x33, 9);
    let wrapped = wrap_key_with_nonce(&kek, aad, &key, &nonce).unwrap();
    assert_eq!(wrapped.len(), WRAPPED_KEY_LEN);
    json!({
        "format": "Coffer envelope format v1; see docs/envelope-format.md",
        "notes": "All byte strings are lowercase hex. Every positive vector is sealed under org_key; open(org_key, binding, envelope) must return plaintext. Negative vectors are opened with org_key and expected_binding and must fail with the named error.",
        "org_key": hex::encode(org_key().expose()),
        "vectors": vectors,
        "negative": negatives,
        "keywrap": [{
            "comment": "wrap_key: 0x01 || nonce || AES-256-GCM(kek, nonce, key, aad)",
            "kek": hex::encode(kek.expose()), "aad": hex::encode(aad), "key": hex::encode(key.expose()),
            "nonce": hex::encode(nonce), "wrapped": hex::encode(&wrapped),
        }],
    })
}

fn load() -> Value {
    serde_json::from_str(&std::fs::read_to_string(path()).expect("vectors file is committed"))
        .unwrap()
}

#[test]
fn vectors_file_matches_implementation() {
    let generated = generate();
    if std::env::var_os("COFFER_WRITE_VECTORS").is_some() {
        std::fs::write(
            path(),
            serde_json::to_string_pretty(&generated).unwrap() + "\n",
        )
        .unwrap();
    }
    assert_eq!(
        load(),
        generated,
        "recomputed vectors differ from the committed file"
    );
}

#[test]
fn vectors_open_to_their_plaintext() {
    let file = load();
    let org_key = Key32::try_from_slice(&unhex(&file["org_key"])).unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 5);
    for v in vectors {
        let binding = binding_from(&v["binding"]);
        let env = unhex(&v["envelope"]);
        let pt = open(&org_key, &binding, &env, MAX).unwrap();
        assert_eq!(pt.as_bytes(), unhex(&v["plaintext"]), "{}", v["name"]);
        let dek = Key32::try_from_slice(&unhex(&v["data_key"])).unwrap();
        let pt = open_with_data_key(&dek, &binding, &env, MAX).unwrap();
        assert_eq!(pt.as_bytes(), unhex(&v["plaintext"]), "{}", v["name"]);
    }
}

fn error_name(e: &EnvelopeError) -> &'static str {
    match e {
        EnvelopeError::Integrity => "Integrity",
        EnvelopeError::BindingMismatch(_) => "BindingMismatch",
        EnvelopeError::MalformedHeader(_) => "MalformedHeader",
        EnvelopeError::BadMagic => "BadMagic",
        EnvelopeError::UnsupportedVersion(_) => "UnsupportedVersion",
        EnvelopeError::TooShort => "TooShort",
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn negative_vectors_fail_as_documented() {
    let file = load();
    let org_key = Key32::try_from_slice(&unhex(&file["org_key"])).unwrap();
    let negatives = file["negative"].as_array().unwrap();
    assert_eq!(negatives.len(), 15);
    for v in negatives {
        let expected = binding_from(&v["expected_binding"]);
        let err = open(&org_key, &expected, &unhex(&v["envelope"]), MAX).unwrap_err();
        assert_eq!(
            error_name(&err),
            v["error"].as_str().unwrap(),
            "{}",
            v["name"]
        );
    }
}

#[test]
fn keywrap_vector_unwraps() {
    let file = load();
    for v in file["keywrap"].as_array().unwrap() {
        let kek = Key32::try_from_slice(&unhex(&v["kek"])).unwrap();
        let key = unwrap_key(&kek, &unhex(&v["aad"]), &unhex(&v["wrapped"])).unwrap();
        assert_eq!(key.expose()[..], unhex(&v["key"])[..]);
    }
}
