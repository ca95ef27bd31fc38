//! docs/formats.md held to the code: the known-answer vectors in `tests/vectors/formats_v1.json`,
//! and a stopped embedded server decrypted by hand.
//!
//! Every vector is checked twice:
//! - **by Coffer's own code**, where an integration test can reach it: the master key file through
//!   `LocalKeyProvider::open`, org-key wraps through `KeyContext::aad` and the local provider's
//!   `unwrap`, `coffer_envelope::{wrap_key_with_nonce, unwrap_key, open, open_from_request,
//!   link_open_proof}`, `audit::chain_hash` and its `Verifier`, `audit::checkpoint`, the token
//!   hash and shape checks, and the sign-in guard's Argon2id verification;
//! - **by a re-implementation from the doc** that uses aws-lc-rs primitives only (AES-256-GCM,
//!   HMAC-SHA256, SHA-256, HKDF-SHA256, ECDH P-256, Ed25519): what an outsider would write.
//!
//! Three vectors cannot come from Coffer's code: the request private key's wrap AAD is built by a
//! function private to the service layer; the real `seal_to_request` draws its ephemeral key and
//! nonce itself, so its output cannot be fixed; and the Argon2id hasher is private too. Those
//! vectors come from the re-implementation (the password hash from the `argon2` crate with the
//! documented parameters); Coffer's code opens or verifies them, the sign-in guard's own hashes
//! are checked for the same parameters, and [`a_stopped_embedded_server_opens_by_hand`] unwraps
//! a request key a running server stored.
//!
//! [`the_vectors_file_is_what_the_code_makes`] rebuilds the whole file from fixed inputs with the
//! real code and compares: a change to any format fails here until the doc, the vectors and the
//! version marker are changed together. To print the file (when adding a vector, never to
//! "fix" a failure): `cargo test -p coffer-server --test formats -- --ignored --nocapture print_vectors`.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, PrivateKey, UnparsedPublicKey};
use aws_lc_rs::{digest, hkdf, hmac, signature};
use base64::Engine;
use coffer_api::SecretKind;
use coffer_envelope::{Binding, EnvelopeError, Key32};
use coffer_server::audit::checkpoint::{self, Checkpoint, SigningKey};
use coffer_server::audit::{self, AuditRecord, GENESIS, Verifier};
use coffer_server::blob::BlobKey;
use coffer_server::domain::{OrgId, SecretId, Timestamp, UserId};
use coffer_server::keys::{KeyContext, KeyProvider, LocalKeyProvider, OpenKeyError, OrgKeyWrap};
use coffer_server::manifest::{Describes, Manifest};
use coffer_server::service::tokens;
use coffer_server::service::web::guard::SignInGuard;
use serde_json::{Value, json};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use uuid::Uuid;
use zeroize::Zeroizing;

// ---------------------------------------------------------------------------------------------
// Fixed inputs of the vectors.

const ORG: &str = "0193a0c4-5e6f-7a8b-9c0d-1e2f30415263";
const SECRET: &str = "0193a0c4-7000-7abc-8def-0123456789ab";
const SETTING_SECRET_ID: &str = "0193a0c4-7100-7123-8456-789abcdef012";
/// The manifest id of SECRET (docs/formats.md "Version manifests").
const MANIFEST_ID: &str = "d5ee3b87-7f2b-8f6b-b4b7-15be6aa55d65";
const VERSION_OBJECT: &str = "orgs/0193a0c4-5e6f-7a8b-9c0d-1e2f30415263/secrets/0193a0c4-7000-7abc-8def-0123456789ab/v7-00112233445566778899aabbccddeeff.cfr";
const REQUEST: &str = "6f1c2a9e-3b4d-4e5f-8a6b-7c8d9e0f1a2b";
const USER: &str = "0193a0c4-6000-7000-8000-000000000001";
const PASSWORD: &str = "correct horse battery staple";

/// `n` bytes `seed, seed + 13, seed + 26, …` (mod 256).
fn pattern(seed: u8, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| seed.wrapping_add((i as u8).wrapping_mul(13)))
        .collect()
}

fn key(seed: u8) -> Key32 {
    Key32::try_from_slice(&pattern(seed, 32)).unwrap()
}

fn nonce(seed: u8) -> [u8; 12] {
    pattern(seed, 12).try_into().unwrap()
}

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

fn org() -> OrgId {
    OrgId::from_uuid(uuid(ORG))
}

fn h(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("a hex string")).expect("valid hex")
}

fn unhex32(v: &Value) -> [u8; 32] {
    unhex(v).try_into().expect("32 bytes")
}

fn text(v: &Value) -> &str {
    v.as_str().expect("a string")
}

fn num(v: &Value) -> u64 {
    v.as_u64().expect("a number")
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    digest::digest(&digest::SHA256, bytes)
        .as_ref()
        .try_into()
        .unwrap()
}

/// The variant name of an envelope error (`Integrity`, `UnsupportedVersion`, …).
fn variant(e: &EnvelopeError) -> String {
    let d = format!("{e:?}");
    d.split(['(', ' ', '{']).next().unwrap().to_owned()
}

// ---------------------------------------------------------------------------------------------
// The re-implementation from docs/formats.md: aws-lc-rs primitives only, no Coffer code.

mod doc {
    use super::*;

    pub fn gcm_seal(key: &[u8], nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).unwrap());
        let mut buf = plaintext.to_vec();
        k.seal_in_place_append_tag(
            Nonce::try_assume_unique_for_key(nonce).unwrap(),
            Aad::from(aad),
            &mut buf,
        )
        .unwrap();
        buf
    }

    pub fn gcm_open(key: &[u8], nonce: &[u8], aad: &[u8], ct: &[u8]) -> Option<Vec<u8>> {
        let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).ok()?);
        let mut buf = ct.to_vec();
        let n = k
            .open_in_place(
                Nonce::try_assume_unique_for_key(nonce).ok()?,
                Aad::from(aad),
                &mut buf,
            )
            .ok()?
            .len();
        buf.truncate(n);
        Some(buf)
    }

    pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let k = hmac::Key::new(hmac::HMAC_SHA256, key);
        let mut ctx = hmac::Context::with_key(&k);
        for p in parts {
            ctx.update(p);
        }
        ctx.sign().as_ref().try_into().unwrap()
    }

    /// Master key file: `CFMK` ‖ 0x01 ‖ key (32), exactly 37 bytes.
    pub fn master_key(file: &[u8]) -> Option<[u8; 32]> {
        (file.len() == 37 && &file[..4] == b"CFMK" && file[4] == 1)
            .then(|| file[5..].try_into().unwrap())
    }

    /// Key wrap v1: `0x01 ‖ nonce (12) ‖ AES-256-GCM(kek, nonce, aad, key)`, 61 bytes.
    pub fn wrap(kek: &[u8], aad: &[u8], key: &[u8], nonce: &[u8]) -> Vec<u8> {
        [&[1u8][..], nonce, &gcm_seal(kek, nonce, aad, key)].concat()
    }

    pub fn unwrap(kek: &[u8], aad: &[u8], wrapped: &[u8]) -> Option<Vec<u8>> {
        if wrapped.len() != 61 || wrapped[0] != 1 {
            return None;
        }
        gcm_open(kek, &wrapped[1..13], aad, &wrapped[13..])
    }

    /// `coffer/v1/org-key ‖ org id (16) ‖ key version (u32 BE)`.
    pub fn org_key_aad(org: &[u8; 16], key_version: u32) -> Vec<u8> {
        [b"coffer/v1/org-key", &org[..], &key_version.to_be_bytes()].concat()
    }

    /// `coffer/v1/request-key ‖ org id (16) ‖ request id (16)`.
    pub fn request_key_aad(org: &[u8; 16], request: &[u8; 16]) -> Vec<u8> {
        [&b"coffer/v1/request-key"[..], &org[..], &request[..]].concat()
    }

    /// Envelope v1 (docs/envelope-format.md): the value, or `None`.
    pub fn open_envelope(org_key: &[u8], e: &[u8]) -> Option<Vec<u8>> {
        if e.len() < 166 || &e[..4] != b"COFR" || e[4] != 1 || e[5] != 0 {
            return None;
        }
        let dek = gcm_open(
            org_key,
            &e[46..58],
            &[b"coffer/v1/dek", &e[6..46]].concat(),
            &e[58..106],
        )?;
        let commit = hmac_sha256(&dek, &[b"coffer/v1/commit", &e[..118]]);
        aws_lc_rs::constant_time::verify_slices_are_equal(&commit, &e[118..150]).ok()?;
        gcm_open(&dek, &e[106..118], &e[..150], &e[150..])
    }

    struct Len(usize);
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }

    /// Request sealing v1's AES key: HKDF-SHA256(ikm = z, salt = request id,
    /// info = `coffer/v1/request` ‖ E ‖ P), 32 bytes.
    pub fn request_key(z: &[u8], request: &[u8; 16], e: &[u8], p: &[u8]) -> [u8; 32] {
        let info = [&b"coffer/v1/request"[..], e, p].concat();
        let info = [info.as_slice()];
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, request).extract(z);
        let okm = prk.expand(&info, Len(32)).unwrap();
        let mut out = [0u8; 32];
        okm.fill(&mut out).unwrap();
        out
    }

    /// ECDH P-256: the shared x coordinate (32 bytes).
    pub fn ecdh(private: &[u8], public: &[u8]) -> Option<Vec<u8>> {
        let k = PrivateKey::from_private_key(&ECDH_P256, private).ok()?;
        agreement::agree(&k, UnparsedPublicKey::new(&ECDH_P256, public), (), |z| {
            Ok(z.to_vec())
        })
        .ok()
    }

    pub fn p256_public(private: &[u8]) -> Vec<u8> {
        PrivateKey::from_private_key(&ECDH_P256, private)
            .unwrap()
            .compute_public_key()
            .unwrap()
            .as_ref()
            .to_vec()
    }

    /// `0x01 ‖ E (65) ‖ nonce (12) ‖ AES-256-GCM(k, nonce, "coffer/v1/request" ‖ id, value)`.
    pub fn seal_to_request(
        request: &[u8; 16],
        public: &[u8],
        ephemeral: &[u8],
        nonce: &[u8],
        value: &[u8],
    ) -> Vec<u8> {
        let e = p256_public(ephemeral);
        let z = ecdh(ephemeral, public).unwrap();
        let k = request_key(&z, request, &e, public);
        let aad = [&b"coffer/v1/request"[..], &request[..]].concat();
        [&[1u8][..], &e, nonce, &gcm_seal(&k, nonce, &aad, value)].concat()
    }

    pub fn open_from_request(
        request: &[u8; 16],
        private: &[u8],
        public: &[u8],
        sealed: &[u8],
    ) -> Option<Vec<u8>> {
        if sealed.len() < 94 || sealed[0] != 1 {
            return None;
        }
        let (e, rest) = sealed[1..].split_at(65);
        let (nonce, ct) = rest.split_at(12);
        let z = ecdh(private, e)?;
        let k = request_key(&z, request, e, public);
        let aad = [&b"coffer/v1/request"[..], &request[..]].concat();
        gcm_open(&k, nonce, &aad, ct)
    }

    fn field(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        out.extend_from_slice(bytes);
    }

    /// The audit chain's hash input (docs/formats.md, "Audit chain").
    #[allow(clippy::too_many_arguments)]
    pub fn audit_input(
        prev: &[u8],
        seq: u64,
        org: &[u8; 16],
        at: i64,
        actor_id: Option<&[u8; 16]>,
        actor: &str,
        action: &str,
        target: &str,
        details: &str,
    ) -> Vec<u8> {
        let mut m = b"coffer-audit-v1\0".to_vec();
        m.extend_from_slice(prev);
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(org);
        m.extend_from_slice(&at.to_be_bytes());
        field(&mut m, actor_id.map_or(&[][..], |a| &a[..]));
        for f in [actor, action, target, details] {
            field(&mut m, f.as_bytes());
        }
        m
    }

    /// The checkpoint signing key's seed: HMAC-SHA256(org key, label ‖ org id ‖ key version).
    pub fn checkpoint_seed(org_key: &[u8], org: &[u8; 16], key_version: u32) -> [u8; 32] {
        hmac_sha256(
            org_key,
            &[
                b"coffer-audit-signing-key-v1\0",
                org,
                &key_version.to_be_bytes(),
            ],
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub fn checkpoint_message(
        org: &[u8; 16],
        n: u64,
        seq: u64,
        head: &[u8],
        at: i64,
        key_version: u32,
        prev: &[u8],
    ) -> Vec<u8> {
        let mut m = b"coffer-audit-checkpoint-v1\0".to_vec();
        m.extend_from_slice(org);
        m.extend_from_slice(&n.to_be_bytes());
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(head);
        m.extend_from_slice(&at.to_be_bytes());
        m.extend_from_slice(&key_version.to_be_bytes());
        m.extend_from_slice(prev);
        m
    }

    pub fn ed25519_public(seed: &[u8]) -> Vec<u8> {
        use signature::KeyPair;
        signature::Ed25519KeyPair::from_seed_unchecked(seed)
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec()
    }

    pub fn ed25519_verify(public: &[u8], message: &[u8], sig: &[u8]) -> bool {
        signature::UnparsedPublicKey::new(&signature::ED25519, public)
            .verify(message, sig)
            .is_ok()
    }
}

// ---------------------------------------------------------------------------------------------
// The vectors, made from the fixed inputs by Coffer's code.

fn make_vectors() -> Value {
    let org = org();
    let org_bytes = org.to_bytes();

    // Master key file.
    let master = key(0x10);
    let file = [&b"CFMK"[..], &[1], master.expose()].concat();
    let with = |at: usize, b: u8| {
        let mut f = file.clone();
        f[at] = b;
        f
    };
    let master_key_file = json!({
        "comment": "master.key: \"CFMK\" || version 0x01 || 32 key bytes (37 bytes); LocalKeyProvider::open",
        "valid": [{"file": h(&file), "key": h(master.expose())}],
        "invalid": [
            {"name": "short", "file": h(&file[..36]), "reason": "wrong length"},
            {"name": "long", "file": h(&[&file[..], &[0]].concat()), "reason": "wrong length"},
            {"name": "bare_key", "file": h(master.expose()), "reason": "wrong length"},
            {"name": "bad_magic", "file": h(&with(3, b'k')), "reason": "bad magic"},
            {"name": "version_2", "file": h(&with(4, 2)), "reason": "unsupported format version"},
        ],
    });

    // Org keys wrapped under the local master key.
    let org_key_wraps: Vec<Value> = [(1u32, key(0x60), nonce(0x70)), (2, key(0x61), nonce(0x71))]
        .iter()
        .map(|(kv, org_key, n)| {
            let aad = KeyContext {
                org,
                key_version: *kv,
            }
            .aad();
            let wrapped = coffer_envelope::wrap_key_with_nonce(&master, &aad, org_key, n).unwrap();
            json!({
                "master_key": h(master.expose()), "org_id": ORG, "key_version": kv,
                "aad": h(&aad), "org_key": h(org_key.expose()), "nonce": h(n),
                "provider": "local", "key_ref": "master", "wrapped": h(&wrapped),
            })
        })
        .collect();

    // The generic key wrap, and what unwrap_key refuses.
    let (kek, wkey, wnonce) = (key(0x20), key(0x30), nonce(0x40));
    let waad = b"an example AAD: the caller's slot";
    let wrapped = coffer_envelope::wrap_key_with_nonce(&kek, waad, &wkey, &wnonce).unwrap();
    let mut v2 = wrapped.clone();
    v2[0] = 2;
    let mut v0 = wrapped.clone();
    v0[0] = 0;
    let mut flipped = wrapped.clone();
    flipped[60] ^= 1;
    let key_wrap = json!({
        "comment": "coffer_envelope::wrap_key: 0x01 || nonce (12) || AES-256-GCM(kek, nonce, aad, key) (48); 61 bytes",
        "valid": [{"kek": h(kek.expose()), "aad": h(waad), "key": h(wkey.expose()),
                   "nonce": h(&wnonce), "wrapped": h(&wrapped)}],
        "invalid": [
            {"name": "empty", "wrapped": "", "error": "TooShort"},
            {"name": "version_0", "wrapped": h(&v0), "error": "UnsupportedVersion"},
            {"name": "version_2", "wrapped": h(&v2), "error": "UnsupportedVersion"},
            {"name": "one_byte_short", "wrapped": h(&wrapped[..60]), "error": "InvalidLength"},
            {"name": "one_byte_long", "wrapped": h(&[&wrapped[..], &[0]].concat()), "error": "InvalidLength"},
            {"name": "tag_flipped", "wrapped": h(&flipped), "error": "Integrity"},
        ],
    });

    // A request's key pair, its private key wrapped under the org key, and request sealing v1.
    let org_key = key(0x60);
    let request = uuid(REQUEST);
    let request_bytes = *request.as_bytes();
    let private = pattern(0x11, 32);
    let public = doc::p256_public(&private);
    let rk_aad = doc::request_key_aad(&org_bytes, &request_bytes);
    let rk_nonce = nonce(0x50);
    let rk_wrapped = coffer_envelope::wrap_key_with_nonce(
        &org_key,
        &rk_aad,
        &Key32::try_from_slice(&private).unwrap(),
        &rk_nonce,
    )
    .unwrap();
    let request_key_wrap = json!({
        "comment": "secret_requests.wrapped_key: wrap_key(org key, \"coffer/v1/request-key\" || org id || request id, private scalar)",
        "org_key": h(org_key.expose()), "org_id": ORG, "request_id": REQUEST, "key_version": 1,
        "aad": h(&rk_aad), "private_key": h(&private), "public_key": h(&public),
        "nonce": h(&rk_nonce), "wrapped": h(&rk_wrapped),
    });
    let ephemeral = pattern(0x22, 32);
    let e_pub = doc::p256_public(&ephemeral);
    let z = doc::ecdh(&ephemeral, &public).unwrap();
    let aes = doc::request_key(&z, &request_bytes, &e_pub, &public);
    let seal_nonce = nonce(0x33);
    let seals: Vec<Value> = [&b""[..], b"vendor-api-key-123", "pässwörd ✓".as_bytes()]
        .iter()
        .map(|value| {
            let sealed =
                doc::seal_to_request(&request_bytes, &public, &ephemeral, &seal_nonce, value);
            json!({"value": h(value), "sealed": h(&sealed)})
        })
        .collect();
    let request_seal = json!({
        "comment": "request sealing v1: 0x01 || E (65) || nonce (12) || AES-256-GCM(k, nonce, \"coffer/v1/request\" || request id, value)",
        "request_id": REQUEST, "private_key": h(&private), "public_key": h(&public),
        "ephemeral_private_key": h(&ephemeral), "ephemeral_public_key": h(&e_pub),
        "shared_secret": h(&z), "aes_key": h(&aes), "nonce": h(&seal_nonce),
        "seals": seals,
    });

    // A one-time link: its copy (envelope v1 under the link key, key version 1) and open proof.
    let link_key = key(0x90);
    let proof = coffer_envelope::link_open_proof(&link_key);
    let secret = uuid(SECRET);
    let link_binding = Binding {
        org: org_bytes,
        secret: *secret.as_bytes(),
        version: 3,
        key_version: 1,
    };
    let link_value = b"db-password-for-the-vendor";
    let link_copy = coffer_envelope::seal_deterministic(
        &link_key,
        &link_binding,
        &key(0xa0),
        &nonce(0xb0),
        &nonce(0xc0),
        link_value,
    )
    .unwrap();
    let link = json!({
        "comment": "links.envelope and links.open_hash; the URL is /l/{id}#base64url(link key)",
        "link_key": h(link_key.expose()),
        "link_key_base64url": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(link_key.expose()),
        "open_proof": h(&proof), "open_hash": h(&sha256(&proof)),
        "org_id": ORG, "secret_id": SECRET, "version": 3, "key_version": 1,
        "value": h(link_value), "envelope": h(&link_copy.bytes),
    });

    // A secret version as stored: the envelope (blob) and the catalog's copy of its wrapped key.
    let version_binding = Binding {
        version: 7,
        ..link_binding
    };
    let version_value = b"hunter2";
    let version = coffer_envelope::seal_deterministic(
        &org_key,
        &version_binding,
        &key(0xa1),
        &nonce(0xb1),
        &nonce(0xc1),
        version_value,
    )
    .unwrap();
    let secret_version = json!({
        "comment": "secret_versions.wrapped_key is envelope bytes 46..106 (wrap nonce || wrapped data key), 60 bytes",
        "org_key": h(org_key.expose()), "org_id": ORG, "secret_id": SECRET, "version": 7,
        "key_version": 1, "value": h(version_value), "envelope": h(&version.bytes),
        "wrapped_key": h(&version.wrapped_key.to_bytes()),
    });

    // An SSO client secret sealed under the org key.
    let client_secret = "an OpenID provider's client secret";
    let setting_binding = Binding {
        org: org_bytes,
        secret: *uuid(SETTING_SECRET_ID).as_bytes(),
        version: 1,
        key_version: 1,
    };
    let sealed = coffer_envelope::seal_deterministic(
        &org_key,
        &setting_binding,
        &key(0xa2),
        &nonce(0xb2),
        &nonce(0xc2),
        client_secret.as_bytes(),
    )
    .unwrap();
    let sealed_setting = json!({
        "comment": "sso_configs.secret_envelope: envelope v1 binding (org, secret_id column, version 1, secret_key_version column)",
        "org_key": h(org_key.expose()), "org_id": ORG, "secret_id": SETTING_SECRET_ID,
        "key_version": 1, "value": client_secret, "envelope": h(&sealed.bytes),
    });

    // The manifest of version 7 of the secret above, as the write path makes it.
    let manifest = Manifest::new(Describes {
        org: OrgId::from_uuid(uuid(ORG)),
        secret: SecretId::from_uuid(uuid(SECRET)),
        version: 7,
        object: &BlobKey::parse(VERSION_OBJECT).unwrap(),
        scope: "OPS-123".into(),
        name: "db-password".into(),
        kind: SecretKind::Password,
        at: Timestamp::from_millis(1_733_558_400_123),
        by: "alice",
    });
    let manifest_json = serde_json::to_string(&manifest).unwrap();
    assert_eq!(manifest.binding(1).secret, *uuid(MANIFEST_ID).as_bytes());
    let sealed_manifest = coffer_envelope::seal_deterministic(
        &org_key,
        &manifest.binding(1),
        &key(0xa3),
        &nonce(0xb3),
        &nonce(0xc3),
        manifest_json.as_bytes(),
    )
    .unwrap();
    let version_manifest = json!({
        "comment": "the object beside an envelope (.cfm for .cfr): envelope v1, binding (org, manifest id = SHA-256(\"coffer-manifest-v1\\0\" || secret id)[..16] as a version-8 UUID, the secret version, org-key version), payload the manifest's UTF-8 JSON",
        "org_key": h(org_key.expose()), "org_id": ORG, "manifest_id": MANIFEST_ID,
        "key_version": 1, "object": VERSION_OBJECT, "json": manifest_json,
        "envelope": h(&sealed_manifest.bytes),
    });

    // The audit chain of three events, and two signed checkpoints of it.
    let user = UserId::from_uuid(uuid(USER));
    let events_in = [
        (
            1_733_558_400_123i64,
            Some(user),
            "admin",
            "org.create",
            "default",
            r#"{"location":"local"}"#,
        ),
        (
            1_733_558_401_000,
            None,
            "anonymous",
            "auth.failed",
            "token",
            r#"{"failures":3,"source":"203.0.113.9"}"#,
        ),
        (
            1_733_558_402_500,
            Some(user),
            "zoë",
            "secret.write",
            "OPS-123/db-password",
            r#"{"key_version":1,"kind":"password","version":1}"#,
        ),
    ];
    let mut prev = GENESIS;
    let mut records = Vec::new();
    let mut events = Vec::new();
    for (i, (at, actor_id, actor, action, target, details)) in events_in.iter().enumerate() {
        let seq = i as u64 + 1;
        let at = Timestamp::from_millis(*at);
        let hash = audit::chain_hash(
            &prev, seq, org, at, *actor_id, actor, action, target, details,
        );
        let input = doc::audit_input(
            &prev,
            seq,
            &org_bytes,
            at.millis(),
            actor_id.map(|u| u.to_bytes()).as_ref(),
            actor,
            action,
            target,
            details,
        );
        events.push(json!({
            "seq": seq, "at": at.millis(), "actor_id": actor_id.map(|u| u.to_string()),
            "actor": actor, "action": action, "target": target, "details": details,
            "prev_hash": h(&prev), "hash_input": h(&input), "hash": h(&hash),
        }));
        records.push(AuditRecord {
            org,
            seq,
            at,
            actor_id: *actor_id,
            actor: actor.to_string(),
            action: action.to_string(),
            target: target.to_string(),
            details: details.to_string(),
            prev_hash: prev,
            hash,
        });
        prev = hash;
    }
    let audit_chain = json!({
        "comment": "audit_events.hash = SHA-256(hash_input); prev_hash of event 1 is 32 zero bytes",
        "org_id": ORG, "events": events,
    });
    let signing = SigningKey::derive(&org_key, org, 1);
    let c1 = signing.sign(
        org,
        1,
        2,
        records[1].hash,
        Timestamp::from_millis(1_733_558_460_000),
        None,
    );
    let c2 = signing.sign(
        org,
        1,
        3,
        records[2].hash,
        Timestamp::from_millis(1_733_558_520_000),
        Some(&c1),
    );
    let seed = doc::checkpoint_seed(org_key.expose(), &org_bytes, 1);
    let checkpoints: Vec<Value> = [&c1, &c2]
        .iter()
        .map(|c| {
            json!({
                "n": c.n, "seq": c.seq, "head": h(&c.head), "at": c.at.millis(),
                "key_version": c.key_version, "prev": h(&c.prev), "message": h(&c.message()),
                "digest": h(&c.digest()), "signature": h(&c.signature),
            })
        })
        .collect();
    let audit_checkpoints = json!({
        "comment": "audit_checkpoints rows; seed = HMAC-SHA256(org key, \"coffer-audit-signing-key-v1\\0\" || org id || key version), Ed25519",
        "org_key": h(org_key.expose()), "org_id": ORG, "key_version": 1,
        "seed": h(&seed), "public_key": h(&signing.public_key()),
        "checkpoints": checkpoints,
    });

    // Bearer values and how they are stored.
    let b64 = |seed: u8| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pattern(seed, 32));
    let token_list: Vec<Value> = [
        ("api_token", tokens::PREFIX, 0x01u8),
        ("session_cookie", tokens::SESSION_PREFIX, 0x02),
        ("invitation_code", tokens::INVITATION_PREFIX, 0x03),
        ("credential_reset_code", tokens::RESET_PREFIX, 0x04),
        ("scim_token", tokens::SCIM_PREFIX, 0x05),
        ("request_token", "", 0x06),
        ("sso_state", "", 0x07),
    ]
    .iter()
    .map(|(kind, prefix, seed)| {
        let value = format!("{prefix}{}", b64(*seed));
        json!({"kind": kind, "prefix": prefix, "value": value, "sha256": h(&tokens::hash(&value))})
    })
    .collect();
    let token_vectors = json!({
        "comment": "the catalog stores SHA-256 of the whole value's UTF-8 text (prefix included), 32 raw bytes",
        "values": token_list,
    });

    // A password hash: Argon2id v19, m=19456 KiB, t=2, p=1, 16-byte salt, 32-byte output.
    let salt = argon2::password_hash::SaltString::encode_b64(&pattern(0x55, 16)).unwrap();
    let params = argon2::Params::new(19_456, 2, 1, None).unwrap();
    let phc = argon2::PasswordHasher::hash_password(
        &argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params),
        PASSWORD.as_bytes(),
        &salt,
    )
    .unwrap()
    .to_string();
    let password_hash = json!({
        "comment": "user_passwords.phc: an Argon2id PHC string",
        "password": PASSWORD, "phc": phc,
    });

    json!({
        "format": "Coffer persisted formats; see docs/formats.md. Generated by crates/server/tests/formats.rs (print_vectors) from fixed inputs; frozen.",
        "master_key_file": master_key_file,
        "org_key_wrap_local": org_key_wraps,
        "key_wrap": key_wrap,
        "request_key_wrap": request_key_wrap,
        "request_seal_v1": request_seal,
        "link": link,
        "secret_version": secret_version,
        "sealed_setting": sealed_setting,
        "version_manifest": version_manifest,
        "audit_chain": audit_chain,
        "audit_checkpoints": audit_checkpoints,
        "tokens": token_vectors,
        "password_hash": password_hash,
    })
}

fn vectors_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/formats_v1.json")
}

fn vectors() -> Value {
    let text = std::fs::read_to_string(vectors_path()).expect("tests/vectors/formats_v1.json");
    serde_json::from_str(&text).unwrap()
}

#[test]
#[ignore = "prints the vectors file; run by hand when adding a vector"]
fn print_vectors() {
    println!("{}", serde_json::to_string_pretty(&make_vectors()).unwrap());
}

#[test]
fn the_vectors_file_is_what_the_code_makes() {
    let made = make_vectors();
    let stored = vectors();
    for (section, want) in stored.as_object().unwrap() {
        assert_eq!(
            made.get(section),
            Some(want),
            "section `{section}` of formats_v1.json is no longer what the code makes: a persisted \
             format changed. Change docs/formats.md, bump the format's version marker, and add \
             vectors for the new version instead of editing these"
        );
    }
    assert_eq!(
        made.as_object().unwrap().len(),
        stored.as_object().unwrap().len()
    );
}

// ---------------------------------------------------------------------------------------------
// Each format: Coffer's code, and the re-implementation, against the stored vectors.

fn write_private(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> PathBuf {
    use std::io::Write;
    let path = dir.join(name);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[tokio::test]
async fn master_key_file() {
    let v = vectors();
    let dir = tempfile::tempdir().unwrap();
    let wrap = &v["org_key_wrap_local"][0];
    for (i, case) in v["master_key_file"]["valid"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let file = unhex(&case["file"]);
        assert_eq!(file.len(), 37);
        assert_eq!(doc::master_key(&file).unwrap()[..], unhex(&case["key"])[..]);
        let path = write_private(dir.path(), &format!("valid{i}.key"), &file, 0o600);
        let provider = LocalKeyProvider::open(&path).expect("a valid master key file opens");
        // The key it read is the one that made the org-key wrap vector.
        assert_eq!(wrap["master_key"], case["key"]);
        let ctx = KeyContext {
            org: org(),
            key_version: num(&wrap["key_version"]) as u32,
        };
        let local = OrgKeyWrap {
            provider: "local".into(),
            key_ref: "master".into(),
            bytes: unhex(&wrap["wrapped"]),
        };
        let org_key = provider.unwrap(ctx, &[local]).await.unwrap();
        assert_eq!(h(org_key.expose()), text(&wrap["org_key"]));
        // Readable by others: refused, whatever the content.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            LocalKeyProvider::open(&path),
            Err(OpenKeyError::LoosePermissions { .. })
        ));
    }
    for case in v["master_key_file"]["invalid"].as_array().unwrap() {
        let file = unhex(&case["file"]);
        assert!(doc::master_key(&file).is_none(), "{}", case["name"]);
        let path = write_private(dir.path(), text(&case["name"]), &file, 0o600);
        match LocalKeyProvider::open(&path) {
            Err(OpenKeyError::Malformed { reason, .. }) => {
                assert_eq!(reason, text(&case["reason"]), "{}", case["name"])
            }
            Err(other) => panic!("{}: {other}", case["name"]),
            Ok(_) => panic!("{}: opened", case["name"]),
        }
    }
}

#[tokio::test]
async fn org_key_wrap_under_the_local_master_key() {
    let v = vectors();
    for case in v["org_key_wrap_local"].as_array().unwrap() {
        let org = OrgId::from_uuid(uuid(text(&case["org_id"])));
        let kv = num(&case["key_version"]) as u32;
        let (master, org_key, aad, wrapped) = (
            unhex(&case["master_key"]),
            unhex(&case["org_key"]),
            unhex(&case["aad"]),
            unhex(&case["wrapped"]),
        );
        // The AAD: Coffer's, and the doc's.
        let ctx = KeyContext {
            org,
            key_version: kv,
        };
        assert_eq!(ctx.aad(), aad);
        assert_eq!(doc::org_key_aad(&org.to_bytes(), kv), aad);
        assert_eq!(aad.len(), 17 + 16 + 4);
        // The wrap: Coffer's, and the doc's.
        let kek = Key32::try_from_slice(&master).unwrap();
        let n: [u8; 12] = unhex(&case["nonce"]).try_into().unwrap();
        let made = coffer_envelope::wrap_key_with_nonce(
            &kek,
            &aad,
            &Key32::try_from_slice(&org_key).unwrap(),
            &n,
        )
        .unwrap();
        assert_eq!(made, wrapped);
        assert_eq!(doc::wrap(&master, &aad, &org_key, &n), wrapped);
        assert_eq!(doc::unwrap(&master, &aad, &wrapped).unwrap(), org_key);
        // The local provider opens it for this org and version only.
        let dir = tempfile::tempdir().unwrap();
        let file = [&b"CFMK"[..], &[1], &master].concat();
        let provider =
            LocalKeyProvider::open(&write_private(dir.path(), "master.key", &file, 0o600)).unwrap();
        let w = OrgKeyWrap {
            provider: text(&case["provider"]).into(),
            key_ref: text(&case["key_ref"]).into(),
            bytes: wrapped.clone(),
        };
        let got = provider
            .unwrap(ctx, std::slice::from_ref(&w))
            .await
            .unwrap();
        assert_eq!(got.expose()[..], org_key[..]);
        let other_version = KeyContext {
            key_version: kv + 1,
            ..ctx
        };
        assert!(provider.unwrap(other_version, &[w]).await.is_err());
        assert!(
            doc::unwrap(
                &master,
                &doc::org_key_aad(&org.to_bytes(), kv + 1),
                &wrapped
            )
            .is_none()
        );
    }
}

#[test]
fn generic_key_wrap() {
    let v = vectors();
    let c = &v["key_wrap"]["valid"][0];
    let (kek, aad, k, wrapped) = (
        unhex(&c["kek"]),
        unhex(&c["aad"]),
        unhex(&c["key"]),
        unhex(&c["wrapped"]),
    );
    let kek32 = Key32::try_from_slice(&kek).unwrap();
    assert_eq!(wrapped.len(), coffer_envelope::WRAPPED_KEY_LEN);
    assert_eq!(wrapped[0], coffer_envelope::KEYWRAP_VERSION);
    assert_eq!(
        coffer_envelope::unwrap_key(&kek32, &aad, &wrapped)
            .unwrap()
            .expose()[..],
        k[..]
    );
    assert_eq!(doc::unwrap(&kek, &aad, &wrapped).unwrap(), k);
    assert_eq!(doc::wrap(&kek, &aad, &k, &unhex(&c["nonce"])), wrapped);
    for bad in v["key_wrap"]["invalid"].as_array().unwrap() {
        let bytes = unhex(&bad["wrapped"]);
        let err = coffer_envelope::unwrap_key(&kek32, &aad, &bytes)
            .err()
            .unwrap();
        assert_eq!(variant(&err), text(&bad["error"]), "{}", bad["name"]);
        assert!(doc::unwrap(&kek, &aad, &bytes).is_none(), "{}", bad["name"]);
    }
}

#[test]
fn request_key_wrap() {
    let v = vectors();
    let c = &v["request_key_wrap"];
    let org = *uuid(text(&c["org_id"])).as_bytes();
    let request = *uuid(text(&c["request_id"])).as_bytes();
    let aad = doc::request_key_aad(&org, &request);
    assert_eq!(aad, unhex(&c["aad"]));
    assert_eq!(aad.len(), 21 + 16 + 16);
    let (org_key, wrapped, private) = (
        unhex(&c["org_key"]),
        unhex(&c["wrapped"]),
        unhex(&c["private_key"]),
    );
    let opened =
        coffer_envelope::unwrap_key(&Key32::try_from_slice(&org_key).unwrap(), &aad, &wrapped)
            .unwrap();
    assert_eq!(opened.expose()[..], private[..]);
    assert_eq!(doc::unwrap(&org_key, &aad, &wrapped).unwrap(), private);
    // The stored public key is the private scalar's point, SEC1 uncompressed.
    let public = unhex(&c["public_key"]);
    assert_eq!((public.len(), public[0]), (65, 0x04));
    assert_eq!(doc::p256_public(&private), public);
}

#[test]
fn request_sealing_v1() {
    let v = vectors();
    let c = &v["request_seal_v1"];
    let request = *uuid(text(&c["request_id"])).as_bytes();
    let (private, public) = (unhex(&c["private_key"]), unhex(&c["public_key"]));
    let private32 = Key32::try_from_slice(&private).unwrap();
    let (eph, nonce) = (unhex(&c["ephemeral_private_key"]), unhex(&c["nonce"]));
    // The intermediate values, from both sides of the agreement.
    let e = unhex(&c["ephemeral_public_key"]);
    assert_eq!(doc::p256_public(&eph), e);
    let z = unhex(&c["shared_secret"]);
    assert_eq!(doc::ecdh(&eph, &public).unwrap(), z);
    assert_eq!(doc::ecdh(&private, &e).unwrap(), z);
    assert_eq!(
        doc::request_key(&z, &request, &e, &public)[..],
        unhex(&c["aes_key"])[..]
    );
    for s in c["seals"].as_array().unwrap() {
        let (value, sealed) = (unhex(&s["value"]), unhex(&s["sealed"]));
        assert_eq!(
            sealed.len(),
            coffer_envelope::REQUEST_SEAL_OVERHEAD + value.len()
        );
        assert_eq!(
            doc::seal_to_request(&request, &public, &eph, &nonce, &value),
            sealed
        );
        // Coffer opens what the doc seals …
        let opened =
            coffer_envelope::open_from_request(&request, &private32, &public, &sealed, 1 << 20)
                .unwrap();
        assert_eq!(opened.as_bytes(), &value[..]);
        // … and refuses it for another request, or with another version byte.
        let other = *uuid(ORG).as_bytes();
        let err = coffer_envelope::open_from_request(&other, &private32, &public, &sealed, 1 << 20);
        assert_eq!(err.err(), Some(EnvelopeError::Integrity));
        let mut v2 = sealed.clone();
        v2[0] = 2;
        let err = coffer_envelope::open_from_request(&request, &private32, &public, &v2, 1 << 20);
        assert_eq!(err.err(), Some(EnvelopeError::UnsupportedVersion(2)));
        assert!(doc::open_from_request(&other, &private, &public, &sealed).is_none());
    }
    // … and the doc opens what Coffer seals (a fresh ephemeral key and nonce every time).
    let fresh = coffer_envelope::seal_to_request(&request, &public, b"fresh").unwrap();
    assert_eq!(
        doc::open_from_request(&request, &private, &public, &fresh).unwrap(),
        b"fresh"
    );
}

#[test]
fn one_time_link_copy_and_open_proof() {
    let v = vectors();
    let c = &v["link"];
    let link_key = unhex(&c["link_key"]);
    let k = Key32::try_from_slice(&link_key).unwrap();
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text(&c["link_key_base64url"]))
            .unwrap(),
        link_key
    );
    let proof = unhex(&c["open_proof"]);
    assert_eq!(coffer_envelope::link_open_proof(&k)[..], proof[..]);
    assert_eq!(
        doc::hmac_sha256(&link_key, &[b"coffer/v1/link-open"])[..],
        proof[..]
    );
    assert_eq!(sha256(&proof)[..], unhex(&c["open_hash"])[..]);
    let envelope = unhex(&c["envelope"]);
    let binding = Binding {
        org: *uuid(text(&c["org_id"])).as_bytes(),
        secret: *uuid(text(&c["secret_id"])).as_bytes(),
        version: num(&c["version"]) as u32,
        key_version: 1,
    };
    let value = coffer_envelope::open(&k, &binding, &envelope, 1 << 20).unwrap();
    assert_eq!(value.as_bytes(), &unhex(&c["value"])[..]);
    assert_eq!(
        doc::open_envelope(&link_key, &envelope).unwrap(),
        unhex(&c["value"])
    );
}

#[test]
fn secret_version_row_and_sealed_settings() {
    let v = vectors();
    let c = &v["secret_version"];
    let envelope = unhex(&c["envelope"]);
    let wrapped = unhex(&c["wrapped_key"]);
    assert_eq!(wrapped.len(), 60);
    assert_eq!(wrapped, envelope[46..106]);
    let parsed = coffer_envelope::parse(&envelope, 1 << 20).unwrap();
    assert_eq!(parsed.wrapped_key.to_bytes()[..], wrapped[..]);
    assert_eq!(
        doc::open_envelope(&unhex(&c["org_key"]), &envelope).unwrap(),
        unhex(&c["value"])
    );
    let s = &v["sealed_setting"];
    let org_key = Key32::try_from_slice(&unhex(&s["org_key"])).unwrap();
    let binding = Binding {
        org: *uuid(text(&s["org_id"])).as_bytes(),
        secret: *uuid(text(&s["secret_id"])).as_bytes(),
        version: 1,
        key_version: num(&s["key_version"]) as u32,
    };
    let envelope = unhex(&s["envelope"]);
    let value = coffer_envelope::open(&org_key, &binding, &envelope, 64 * 1024).unwrap();
    assert_eq!(value.as_bytes(), text(&s["value"]).as_bytes());
    assert_eq!(
        doc::open_envelope(org_key.expose(), &envelope).unwrap(),
        text(&s["value"]).as_bytes()
    );
}

#[test]
fn version_manifests() {
    let v = vectors();
    let m = &v["version_manifest"];
    let org_key = Key32::try_from_slice(&unhex(&m["org_key"])).unwrap();
    let envelope = unhex(&m["envelope"]);
    // The re-implementation: an envelope like any other, its payload the JSON text.
    assert_eq!(
        doc::open_envelope(org_key.expose(), &envelope).unwrap(),
        text(&m["json"]).as_bytes()
    );
    let doc: Value = serde_json::from_str(text(&m["json"])).unwrap();
    assert_eq!(
        (
            doc["format"].as_str(),
            doc["version"].as_u64(),
            doc["object"].as_str()
        ),
        (Some("coffer-manifest"), Some(1), Some(text(&m["object"])))
    );
    assert_eq!(doc["written_at"], "2024-12-07T08:00:00.123Z");
    // Coffer's reader: opens it, and accepts it for exactly the envelope it names.
    let org = OrgId::from_uuid(uuid(text(&m["org_id"])));
    assert_eq!(Manifest::sealed_under(&envelope).unwrap(), (org, 1));
    // The manifest id, by the doc: SHA-256 of the label and the secret id, version-8 bits set.
    let mut id = digest::digest(
        &digest::SHA256,
        &[&b"coffer-manifest-v1\0"[..], uuid(SECRET).as_bytes()].concat(),
    )
    .as_ref()[..16]
        .to_vec();
    id[6] = (id[6] & 0x0f) | 0x80;
    id[8] = (id[8] & 0x3f) | 0x80;
    assert_eq!(uuid(text(&m["manifest_id"])).as_bytes()[..], id[..]);
    assert_eq!(envelope[22..38], id[..], "the header binds the manifest id");
    assert_eq!(
        envelope[38..42],
        7u32.to_be_bytes(),
        "and the secret version"
    );
    let value = Binding {
        org: *uuid(ORG).as_bytes(),
        secret: *uuid(SECRET).as_bytes(),
        version: 7,
        key_version: 1,
    };
    let opened = Manifest::open(&envelope, &value, &org_key).unwrap();
    assert_eq!(
        (opened.scope.as_str(), opened.name.as_str()),
        ("OPS-123", "db-password")
    );
    // The manifest of version 7 is no other version's.
    let v6 = Binding {
        version: 6,
        ..value
    };
    assert!(Manifest::open(&envelope, &v6, &org_key).is_err());
}

fn record(org: OrgId, e: &Value) -> AuditRecord {
    AuditRecord {
        org,
        seq: num(&e["seq"]),
        at: Timestamp::from_millis(e["at"].as_i64().unwrap()),
        actor_id: e["actor_id"].as_str().map(|s| UserId::from_uuid(uuid(s))),
        actor: text(&e["actor"]).into(),
        action: text(&e["action"]).into(),
        target: text(&e["target"]).into(),
        details: text(&e["details"]).into(),
        prev_hash: unhex32(&e["prev_hash"]),
        hash: unhex32(&e["hash"]),
    }
}

#[test]
fn audit_chain_hash() {
    let v = vectors();
    let org = OrgId::from_uuid(uuid(text(&v["audit_chain"]["org_id"])));
    let mut verifier = Verifier::default();
    let mut prev = [0u8; 32];
    for e in v["audit_chain"]["events"].as_array().unwrap() {
        let r = record(org, e);
        assert_eq!(
            r.prev_hash, prev,
            "event {} links to the previous hash",
            r.seq
        );
        let hash = audit::chain_hash(
            &r.prev_hash,
            r.seq,
            org,
            r.at,
            r.actor_id,
            &r.actor,
            &r.action,
            &r.target,
            &r.details,
        );
        assert_eq!(hash, r.hash, "event {}", r.seq);
        let input = doc::audit_input(
            &r.prev_hash,
            r.seq,
            &org.to_bytes(),
            r.at.millis(),
            r.actor_id.map(|u| u.to_bytes()).as_ref(),
            &r.actor,
            &r.action,
            &r.target,
            &r.details,
        );
        assert_eq!(input, unhex(&e["hash_input"]), "event {}", r.seq);
        assert_eq!(sha256(&input), r.hash, "event {}", r.seq);
        verifier.push(&r);
        prev = r.hash;
    }
    let verdict = verifier.finish();
    assert_eq!((verdict.events, verdict.failure), (3, None));
}

#[test]
fn audit_checkpoints() {
    let v = vectors();
    let c = &v["audit_checkpoints"];
    let org = OrgId::from_uuid(uuid(text(&c["org_id"])));
    let kv = num(&c["key_version"]) as u32;
    let org_key = Key32::try_from_slice(&unhex(&c["org_key"])).unwrap();
    let seed = doc::checkpoint_seed(org_key.expose(), &org.to_bytes(), kv);
    assert_eq!(seed[..], unhex(&c["seed"])[..]);
    let public = unhex(&c["public_key"]);
    assert_eq!(doc::ed25519_public(&seed), public);
    let signing = SigningKey::derive(&org_key, org, kv);
    assert_eq!(signing.public_key()[..], public[..]);
    let mut stored: Vec<Checkpoint> = Vec::new();
    let mut prev = [0u8; 32];
    for x in c["checkpoints"].as_array().unwrap() {
        let cp = Checkpoint {
            org,
            n: num(&x["n"]),
            seq: num(&x["seq"]),
            head: unhex32(&x["head"]),
            at: Timestamp::from_millis(x["at"].as_i64().unwrap()),
            key_version: num(&x["key_version"]) as u32,
            prev: unhex32(&x["prev"]),
            signature: unhex(&x["signature"]),
        };
        assert_eq!(
            cp.prev, prev,
            "checkpoint {} chains to the previous digest",
            cp.n
        );
        let message = doc::checkpoint_message(
            &org.to_bytes(),
            cp.n,
            cp.seq,
            &cp.head,
            cp.at.millis(),
            cp.key_version,
            &cp.prev,
        );
        assert_eq!(message, unhex(&x["message"]));
        assert_eq!(cp.message(), message);
        assert_eq!(message.len(), 27 + 16 + 8 + 8 + 32 + 8 + 4 + 32);
        assert_eq!(cp.digest()[..], unhex(&x["digest"])[..]);
        assert_eq!(sha256(&message)[..], unhex(&x["digest"])[..]);
        assert!(checkpoint::signature_valid(
            &cp,
            &public.clone().try_into().unwrap()
        ));
        assert!(doc::ed25519_verify(&public, &message, &cp.signature));
        // Ed25519 is deterministic: signing again gives the stored signature.
        let again = signing.sign(org, kv, cp.seq, cp.head, cp.at, stored.last());
        assert_eq!(again, cp);
        prev = cp.digest();
        stored.push(cp);
    }
    // The run vouches for the vector chain's events 2 and 3.
    let chain: Vec<[u8; 32]> = v["audit_chain"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| unhex32(&e["hash"]))
        .collect();
    let pk: [u8; 32] = public.try_into().unwrap();
    let run = checkpoint::check_run(
        &stored,
        chain.len() as u64,
        |seq| chain.get(seq as usize - 1).copied(),
        |_| Some(pk),
    );
    assert_eq!(run, Ok(()));
}

#[test]
fn tokens_and_codes_are_stored_as_sha256_of_their_text() {
    let v = vectors();
    for t in v["tokens"]["values"].as_array().unwrap() {
        let value = text(&t["value"]);
        assert_eq!(h(&tokens::hash(value)), text(&t["sha256"]), "{}", t["kind"]);
        assert_eq!(
            h(&sha256(value.as_bytes())),
            text(&t["sha256"]),
            "{}",
            t["kind"]
        );
        let prefix = text(&t["prefix"]);
        assert_eq!(value.len(), prefix.len() + 43, "{}", t["kind"]);
        if !prefix.is_empty() {
            assert!(tokens::well_formed_with(prefix, value), "{}", t["kind"]);
        }
    }
    let made = tokens::generate_with(tokens::SCIM_PREFIX);
    assert!(made.starts_with("coffer_scim_") && made.len() == 12 + 43);
}

#[tokio::test]
async fn password_hashes_are_argon2id_phc_strings() {
    let v = vectors();
    let phc = text(&v["password_hash"]["phc"]).to_owned();
    let password = text(&v["password_hash"]["password"]).to_owned();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    let guard = SignInGuard::new();
    assert!(
        guard
            .verify(Some(phc.clone()), Zeroizing::new(password.clone()))
            .await
            .unwrap()
    );
    assert!(
        !guard
            .verify(Some(phc.clone()), Zeroizing::new("not it".into()))
            .await
            .unwrap()
    );
    // What Coffer writes has the same shape, with a fresh 16-byte salt.
    let fresh = guard.hash(Zeroizing::new(password.clone())).await.unwrap();
    assert!(
        fresh.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{fresh}"
    );
    let parts: Vec<&str> = fresh.split('$').collect();
    assert_eq!(parts.len(), 6);
    let unb64 = |s: &str| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(s)
            .unwrap()
    };
    assert_eq!((unb64(parts[4]).len(), unb64(parts[5]).len()), (16, 32));
    // Any Argon2 implementation verifies it from the string alone.
    let parsed = argon2::PasswordHash::new(&fresh).unwrap();
    argon2::PasswordVerifier::verify_password(
        &argon2::Argon2::default(),
        password.as_bytes(),
        &parsed,
    )
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// The walkthrough of docs/formats.md, "Decrypting a stopped embedded server by hand".

const VALUE: &[u8] = b"s3cr3t value of OPS-123";
const PROJECT_VALUE: &[u8] = b"a project-wide value";

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// What the running server told the test (compared with what the files say afterwards).
struct Written {
    admin_token: String,
    secret_id: String,
    project_secret_id: String,
    request_id: String,
    request_token: String,
    request_public_key: Vec<u8>,
    link_envelope: Vec<u8>,
    link_open_hash: [u8; 32],
    checkpoint: Value,
}

fn run_server_and_write(data: &Path) -> Written {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let written = rt.block_on(async {
        let config = coffer_server::config::Config::load(
            None,
            coffer_server::config::Overrides {
                data_dir: Some(data.to_owned()),
                listen: Some("127.0.0.1:0".into()),
            },
        )
        .unwrap();
        let app = coffer_server::startup::RunningApp::start(&config)
            .await
            .expect("the server starts");
        let c = Client {
            http: reqwest::Client::new(),
            base: format!("http://{}", app.addr),
            token: app.admin_token.as_ref().unwrap().to_string(),
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        use reqwest::Method;
        let (s, secret) = c
            .call(
                Method::PUT,
                "/orgs/default/secrets/OPS-123/db-password",
                Some(json!({"value": b64.encode(VALUE)})),
            )
            .await;
        assert_eq!(s, 201, "{secret}");
        let (s, project) = c
            .call(
                Method::PUT,
                "/orgs/default/secrets/OPS/shared-key",
                Some(json!({"value": b64.encode(PROJECT_VALUE)})),
            )
            .await;
        assert_eq!(s, 201, "{project}");
        // A request left open (answering one empties its stored private key).
        let (s, request) = c
            .call(
                Method::POST,
                "/orgs/default/secrets/OPS-7/vendor-key/requests",
                Some(json!({"note": "the sandbox key", "expires_in_seconds": 3600})),
            )
            .await;
        assert_eq!(s, 201, "{request}");
        let request_id = text(&request["id"]).to_owned();
        let url = text(&request["url"]);
        let request_token = url.rsplit_once('#').unwrap().1.to_owned();
        let r = c
            .http
            .get(format!("{}/api/v1/requests/{request_id}", c.base))
            .header("X-Coffer-Request-Token", &request_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let status: Value = r.json().await.unwrap();
        let request_public_key = b64.decode(text(&status["public_key"])).unwrap();
        // A one-time link: the client seals the copy under a fresh link key.
        let link_key = Key32::generate();
        let org_id = {
            let (s, orgs) = c.call(Method::GET, "/orgs/default", None).await;
            assert_eq!(s, 200, "{orgs}");
            uuid(text(&orgs["id"]))
        };
        let binding = Binding {
            org: *org_id.as_bytes(),
            secret: *uuid(text(&secret["id"])).as_bytes(),
            version: 1,
            key_version: 1,
        };
        let copy = coffer_envelope::seal(&link_key, &binding, VALUE).unwrap();
        let link_open_hash = sha256(&coffer_envelope::link_open_proof(&link_key));
        let (s, link) = c
            .call(
                Method::POST,
                "/orgs/default/secrets/OPS-123/db-password/links",
                Some(json!({
                    "envelope": b64.encode(&copy.bytes), "open_hash": h(&link_open_hash),
                    "expires_in_seconds": 3600, "max_views": 1,
                })),
            )
            .await;
        assert_eq!(s, 201, "{link}");
        // A verification signs a checkpoint of the chain.
        let (s, verified) = c
            .call(Method::GET, "/orgs/default/audit/verify", None)
            .await;
        assert_eq!(s, 200, "{verified}");
        assert_eq!(verified["ok"], true, "{verified}");
        let checkpoint = verified["checkpoint"].clone();
        app.stop().await;
        Written {
            admin_token: c.token.clone(),
            secret_id: text(&secret["id"]).to_owned(),
            project_secret_id: text(&project["id"]).to_owned(),
            request_id,
            request_token,
            request_public_key,
            link_envelope: copy.bytes,
            link_open_hash,
            checkpoint,
        }
    });
    // Dropping the runtime ends the background jobs, which drops the last handle on the catalog:
    // the server is stopped.
    drop(rt);
    written
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `secrets.id` and the `secret_versions` columns the walkthrough reads.
type VersionRow = (Vec<u8>, u32, u32, String, Vec<u8>, Option<Vec<u8>>, i64);

#[test]
fn a_stopped_embedded_server_opens_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let w = run_server_and_write(&data);

    // A cleanly stopped server leaves no WAL behind: everything is in catalog.db.
    let before = entries(&data);
    assert!(
        !before
            .iter()
            .any(|n| n.ends_with("-wal") || n.ends_with("-shm")),
        "{before:?}"
    );

    // Step 1 of the doc: open the catalog read-only and immutable; nothing is created next to it.
    let db = data.join("catalog.db");
    let uri = format!("file:{}?mode=ro&immutable=1", db.display());
    let conn = rusqlite::Connection::open_with_flags(
        &uri,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
    )
    .unwrap();

    // Step 2: the master key.
    let file = std::fs::read(data.join("master.key")).unwrap();
    assert_eq!(
        std::fs::metadata(data.join("master.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let master = doc::master_key(&file).expect("a 37-byte CFMK v1 file");

    // Step 4: the org key (the org's current key version, which wrote the secret below).
    let (org_id, current): (Vec<u8>, u32) = conn
        .query_row(
            "SELECT id, key_version FROM orgs WHERE slug = 'default'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let org: [u8; 16] = org_id.clone().try_into().expect("ids are 16-byte blobs");
    assert_eq!(current, 1);
    let (provider, key_ref, wrapped): (String, String, Vec<u8>) = conn
        .query_row(
            "SELECT provider, key_ref, wrapped FROM org_key_wraps WHERE org_id = ?1 AND version = ?2 ORDER BY slot",
            rusqlite::params![org_id, current],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (provider.as_str(), key_ref.as_str(), wrapped.len()),
        ("local", "master", 61)
    );
    let org_key = doc::unwrap(&master, &doc::org_key_aad(&org, current), &wrapped)
        .expect("the org key unwraps under the master key");

    // Step 3: the secret's newest version (issue OPS-123: project 'OPS', issue 123).
    let (secret_id, version, key_version, blob_key, row_wrapped, storage, size): VersionRow = conn
        .query_row(
            "SELECT s.id, v.version, v.key_version, v.blob_key, v.wrapped_key, v.storage_id, v.size \
             FROM secrets s JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.version \
             WHERE s.org_id = ?1 AND s.project = 'OPS' AND s.issue = 123 AND s.name = 'db-password' \
             AND s.destroyed = 0",
            [&org_id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(h(&secret_id), w.secret_id.replace('-', ""));
    assert_eq!(
        (version, key_version, storage, size),
        (1, 1, None, VALUE.len() as i64)
    );
    assert_eq!(
        row_wrapped.len(),
        60,
        "the version row's wrapped key is nonce || wrap"
    );
    assert!(
        blob_key.starts_with(&format!(
            "orgs/{}/secrets/{}/v1-",
            uuid(&h(&org)).hyphenated(),
            w.secret_id
        )) && blob_key.ends_with(".cfr"),
        "{blob_key}"
    );

    // Step 5: the envelope from the default blob store, opened with the org key.
    let envelope = std::fs::read(data.join("blobs").join(&blob_key)).unwrap();
    assert_eq!(envelope.len(), 166 + VALUE.len());
    assert_eq!(envelope[46..106], row_wrapped[..]);
    assert_eq!(envelope[6..22], org[..]);
    assert_eq!(envelope[22..38], secret_id[..]);
    assert_eq!(envelope[38..42], 1u32.to_be_bytes());
    assert_eq!(envelope[42..46], key_version.to_be_bytes());
    assert_eq!(doc::open_envelope(&org_key, &envelope).unwrap(), VALUE);

    // A project-scoped secret is stored with issue 0.
    let (pid, issue): (Vec<u8>, i64) = conn
        .query_row(
            "SELECT id, issue FROM secrets WHERE org_id = ?1 AND project = 'OPS' AND name = 'shared-key'",
            [&org_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((h(&pid), issue), (w.project_secret_id.replace('-', ""), 0));
    let pblob: String = conn
        .query_row(
            "SELECT blob_key FROM secret_versions WHERE secret_id = ?1 AND version = 1",
            [&pid],
            |r| r.get(0),
        )
        .unwrap();
    let penvelope = std::fs::read(data.join("blobs").join(&pblob)).unwrap();
    assert_eq!(
        doc::open_envelope(&org_key, &penvelope).unwrap(),
        PROJECT_VALUE
    );

    // The open request: its token's hash, its public key, its private key wrapped under the org key.
    let request = *uuid(&w.request_id).as_bytes();
    let (token_hash, public, rkv, rwrapped, project, issue): (Vec<u8>, Vec<u8>, u32, Vec<u8>, String, i64) = conn
        .query_row(
            "SELECT token_hash, public_key, key_version, wrapped_key, project, issue FROM secret_requests WHERE id = ?1",
            [&request[..]],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .unwrap();
    assert_eq!((project.as_str(), issue), ("OPS", 7));
    assert_eq!(token_hash, sha256(w.request_token.as_bytes()));
    assert_eq!(w.request_token.len(), 43);
    assert_eq!(public, w.request_public_key);
    assert_eq!((rkv, rwrapped.len()), (1, 61));
    let private = doc::unwrap(&org_key, &doc::request_key_aad(&org, &request), &rwrapped)
        .expect("the request key unwraps with AAD coffer/v1/request-key || org || request");
    assert_eq!(doc::p256_public(&private), public);

    // The link: its copy as the client sealed it, and the proof's SHA-256.
    let (envelope_col, open_hash): (Option<Vec<u8>>, Vec<u8>) = conn
        .query_row(
            "SELECT envelope, open_hash FROM links WHERE org_id = ?1",
            [&org_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(envelope_col.as_deref(), Some(&w.link_envelope[..]));
    assert_eq!(open_hash, w.link_open_hash);

    // The admin token: only the SHA-256 of its text.
    let tokens_with_hash: i64 = conn
        .query_row(
            "SELECT count(*) FROM tokens WHERE hash = ?1",
            [&sha256(w.admin_token.as_bytes())[..]],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tokens_with_hash, 1);

    // The audit chain, re-hashed by hand.
    let mut stmt = conn
        .prepare(
            "SELECT seq, at, actor_id, actor, action, target, details, prev_hash, hash \
             FROM audit_events WHERE org_id = ?1 ORDER BY seq",
        )
        .unwrap();
    let mut prev = vec![0u8; 32];
    let mut hashes = Vec::new();
    let mut actions = Vec::new();
    let rows = stmt
        .query_map([&org_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<Vec<u8>>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Vec<u8>>(7)?,
                r.get::<_, Vec<u8>>(8)?,
            ))
        })
        .unwrap();
    for (i, row) in rows.enumerate() {
        let (seq, at, actor_id, actor, action, target, details, prev_hash, hash) = row.unwrap();
        assert_eq!(seq, i as i64 + 1);
        assert_eq!(prev_hash, prev, "event {seq}");
        let actor_id: Option<[u8; 16]> = actor_id.map(|a| a.try_into().unwrap());
        let input = doc::audit_input(
            &prev_hash,
            seq as u64,
            &org,
            at,
            actor_id.as_ref(),
            &actor,
            &action,
            &target,
            &details,
        );
        assert_eq!(sha256(&input).to_vec(), hash, "event {seq} ({action})");
        actions.push(action);
        hashes.push(hash.clone());
        prev = hash;
    }
    assert!(actions.iter().any(|a| a == "secret.write"), "{actions:?}");

    // The newest checkpoint: its row, signed by the key derived from the org key.
    let n = num(&w.checkpoint["n"]);
    let (seq, head, at, ckv, cprev, sig): (i64, Vec<u8>, i64, u32, Vec<u8>, Vec<u8>) = conn
        .query_row(
            "SELECT seq, head, at, key_version, prev, signature FROM audit_checkpoints WHERE org_id = ?1 AND n = ?2",
            rusqlite::params![org_id, n as i64],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .unwrap();
    assert_eq!(head, hashes[seq as usize - 1]);
    assert_eq!(h(&sig), text(&w.checkpoint["signature"]));
    let seed = doc::checkpoint_seed(&org_key, &org, ckv);
    let public = doc::ed25519_public(&seed);
    assert_eq!(h(&public), text(&w.checkpoint["public_key"]));
    let message = doc::checkpoint_message(&org, n, seq as u64, &head, at, ckv, &cprev);
    assert!(doc::ed25519_verify(&public, &message, &sig));

    // Reading changed nothing: no -wal or -shm, the same files as before.
    drop(stmt);
    drop(conn);
    assert_eq!(entries(&data), before);

    // Whereas a read-only open without `immutable` leaves -wal and -shm files behind.
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("catalog.db");
    std::fs::copy(&db, &copy).unwrap();
    {
        let conn = rusqlite::Connection::open_with_flags(
            format!("file:{}?mode=ro", copy.display()),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )
        .unwrap();
        let _: i64 = conn
            .query_row("SELECT count(*) FROM orgs", [], |r| r.get(0))
            .unwrap();
    }
    let after = entries(scratch.path());
    assert!(
        after.contains(&"catalog.db-wal".to_owned())
            && after.contains(&"catalog.db-shm".to_owned()),
        "{after:?}"
    );
}
