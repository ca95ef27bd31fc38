//! Request sealing v1: how an outsider's browser seals one value to a "send me a secret"
//! request's public key, so only the server holding the request's private key can open it.
//!
//! ECIES over WebCrypto's primitives: an ephemeral ECDH P-256 key agreement with the request's
//! key, HKDF-SHA256 to an AES-256-GCM key, and one AES-256-GCM encryption. P-256 rather than
//! X25519 because every browser's WebCrypto has it (X25519 arrived in browsers only recently).
//! Layout of the sealed bytes (`docs/links-and-requests.md` has the reasoning and an example):
//!
//! ```text
//! 0x01 | ephemeral public key (65, SEC1 uncompressed) | nonce (12) | ciphertext ‖ tag (n + 16)
//! z    = ECDH(request private key, ephemeral public key)            (32 bytes, the x coordinate)
//! key  = HKDF-SHA256(ikm = z, salt = request id (16),
//!                    info = "coffer/v1/request" ‖ ephemeral public ‖ request public, 32 bytes)
//! ct   = AES-256-GCM(key, nonce, aad = "coffer/v1/request" ‖ request id, value)
//! ```
//!
//! One-time links need one more derivation, here because it is as much a wire format: the proof
//! an opener sends to show it holds the link key, [`link_open_proof`], from which the key cannot
//! be recovered.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, EphemeralPrivateKey, PrivateKey, UnparsedPublicKey};
use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use aws_lc_rs::rand::SystemRandom;

use crate::error::EnvelopeError;
use crate::keys::{Key32, Plaintext};
use crate::primitives::{NONCE_LEN, TAG_LEN, random_nonce};

/// The version byte the sealed bytes start with.
pub const REQUEST_SEAL_VERSION: u8 = 1;
/// Length of a SEC1 uncompressed P-256 public key.
pub const REQUEST_PUBLIC_KEY_LEN: usize = 65;
/// Bytes a sealed value has besides the value itself.
pub const REQUEST_SEAL_OVERHEAD: usize = 1 + REQUEST_PUBLIC_KEY_LEN + NONCE_LEN + TAG_LEN;
/// The label in the HKDF info and the AEAD's associated data.
pub const REQUEST_LABEL: &[u8] = b"coffer/v1/request";

/// A request's key pair: the private scalar (wiped on drop) and its public point.
pub struct RequestKeyPair {
    /// The private key (32-byte big-endian scalar), to be wrapped under the org key.
    pub private: Key32,
    /// The public key (65 bytes, SEC1 uncompressed) given to the outsider.
    pub public: Vec<u8>,
}

impl RequestKeyPair {
    /// A fresh key pair from the OS CSPRNG.
    pub fn generate() -> Result<Self, EnvelopeError> {
        let key = PrivateKey::generate(&ECDH_P256).map_err(|_| EnvelopeError::Randomness)?;
        let public = key
            .compute_public_key()
            .map_err(|_| EnvelopeError::Randomness)?
            .as_ref()
            .to_vec();
        let scalar: aws_lc_rs::encoding::EcPrivateKeyBin<'static> =
            key.as_be_bytes().map_err(|_| EnvelopeError::Randomness)?;
        let private = Key32::try_from_slice(scalar.as_ref())?;
        Ok(Self { private, public })
    }
}

/// The label of a link's open proof.
pub const LINK_OPEN_LABEL: &[u8] = b"coffer/v1/link-open";

/// What an opener of a one-time link sends to show it holds the link key:
/// HMAC-SHA256(key = link key, message = `coffer/v1/link-open`). The server stores only its
/// SHA-256, so neither the database nor the server's memory between opens can open the link.
pub fn link_open_proof(link_key: &Key32) -> [u8; 32] {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, link_key.expose());
    let tag = aws_lc_rs::hmac::sign(&key, LINK_OPEN_LABEL);
    tag.as_ref().try_into().expect("HMAC-SHA256 is 32 bytes")
}

fn info(ephemeral: &[u8], public: &[u8]) -> Vec<u8> {
    [REQUEST_LABEL, ephemeral, public].concat()
}

fn aad(request_id: &[u8; 16]) -> Vec<u8> {
    [REQUEST_LABEL, &request_id[..]].concat()
}

fn aead_key(z: &[u8], request_id: &[u8; 16], ephemeral: &[u8], public: &[u8]) -> LessSafeKey {
    let info = info(ephemeral, public);
    let parts = [info.as_slice()];
    let prk = Salt::new(HKDF_SHA256, request_id).extract(z);
    let okm = prk
        .expand(&parts, &AES_256_GCM)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    LessSafeKey::new(UnboundKey::from(okm))
}

/// Seals `value` to the request `request_id` whose public key is `public` (what an outsider's
/// browser does; the server only opens).
pub fn seal_to_request(
    request_id: &[u8; 16],
    public: &[u8],
    value: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    if public.len() != REQUEST_PUBLIC_KEY_LEN {
        return Err(EnvelopeError::InvalidLength {
            what: "a request public key",
            expected: REQUEST_PUBLIC_KEY_LEN,
            actual: public.len(),
        });
    }
    let rng = SystemRandom::new();
    let eph =
        EphemeralPrivateKey::generate(&ECDH_P256, &rng).map_err(|_| EnvelopeError::Randomness)?;
    let eph_public = eph
        .compute_public_key()
        .map_err(|_| EnvelopeError::Randomness)?
        .as_ref()
        .to_vec();
    let key = agreement::agree_ephemeral(
        eph,
        UnparsedPublicKey::new(&ECDH_P256, public),
        EnvelopeError::Integrity,
        |z| Ok(aead_key(z, request_id, &eph_public, public)),
    )?;
    let nonce = random_nonce()?;
    let mut out = Vec::with_capacity(REQUEST_SEAL_OVERHEAD + value.len());
    out.push(REQUEST_SEAL_VERSION);
    out.extend_from_slice(&eph_public);
    out.extend_from_slice(&nonce);
    let mut body = value.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad(request_id)),
        &mut body,
    )
    .map_err(|_| EnvelopeError::Integrity)?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Opens bytes sealed to the request `request_id` whose key pair is `private` / `public`.
/// Structural problems are named; every cryptographic failure is [`EnvelopeError::Integrity`].
pub fn open_from_request(
    request_id: &[u8; 16],
    private: &Key32,
    public: &[u8],
    sealed: &[u8],
    max_len: usize,
) -> Result<Plaintext, EnvelopeError> {
    if sealed.len() > max_len {
        return Err(EnvelopeError::TooLarge {
            len: sealed.len(),
            max: max_len,
        });
    }
    let Some((&version, rest)) = sealed.split_first() else {
        return Err(EnvelopeError::TooShort);
    };
    if version != REQUEST_SEAL_VERSION {
        return Err(EnvelopeError::UnsupportedVersion(version));
    }
    if sealed.len() < REQUEST_SEAL_OVERHEAD {
        return Err(EnvelopeError::TooShort);
    }
    let (eph_public, rest) = rest.split_at(REQUEST_PUBLIC_KEY_LEN);
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let key = PrivateKey::from_private_key(&ECDH_P256, private.expose())
        .map_err(|_| EnvelopeError::Integrity)?;
    let aead = agreement::agree(
        &key,
        UnparsedPublicKey::new(&ECDH_P256, eph_public),
        EnvelopeError::Integrity,
        |z| Ok(aead_key(z, request_id, eph_public, public)),
    )?;
    let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at NONCE_LEN");
    let mut buf = ciphertext.to_vec();
    let opened = aead
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(request_id)),
            &mut buf,
        )
        .map(|p| p.len());
    match opened {
        Ok(n) => {
            buf.truncate(n);
            Ok(Plaintext::from(buf))
        }
        Err(_) => {
            zeroize::Zeroize::zeroize(&mut buf);
            Err(EnvelopeError::Integrity)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: [u8; 16] = [7; 16];

    #[test]
    fn round_trip() {
        let pair = RequestKeyPair::generate().unwrap();
        assert_eq!(pair.public.len(), REQUEST_PUBLIC_KEY_LEN);
        let sealed = seal_to_request(&ID, &pair.public, b"vendor-key-123").unwrap();
        assert_eq!(sealed.len(), REQUEST_SEAL_OVERHEAD + 14);
        let value = open_from_request(&ID, &pair.private, &pair.public, &sealed, 1 << 20).unwrap();
        assert_eq!(value.as_bytes(), b"vendor-key-123");
    }

    #[test]
    fn another_request_or_key_or_a_flipped_bit_fails_as_integrity() {
        let pair = RequestKeyPair::generate().unwrap();
        let other = RequestKeyPair::generate().unwrap();
        let sealed = seal_to_request(&ID, &pair.public, b"v").unwrap();
        let open = |id: &[u8; 16], k: &Key32, bytes: &[u8]| {
            open_from_request(id, k, &pair.public, bytes, 1 << 20).map(|_| ())
        };
        assert_eq!(
            open(&[8; 16], &pair.private, &sealed),
            Err(EnvelopeError::Integrity)
        );
        assert_eq!(
            open(&ID, &other.private, &sealed),
            Err(EnvelopeError::Integrity)
        );
        for i in 1..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert_eq!(
                open(&ID, &pair.private, &bad),
                Err(EnvelopeError::Integrity),
                "byte {i}"
            );
        }
        let mut v2 = sealed.clone();
        v2[0] = 2;
        assert_eq!(
            open(&ID, &pair.private, &v2),
            Err(EnvelopeError::UnsupportedVersion(2))
        );
        assert_eq!(
            open(&ID, &pair.private, &sealed[..40]),
            Err(EnvelopeError::TooShort)
        );
        assert!(matches!(
            open_from_request(&ID, &pair.private, &pair.public, &sealed, 10),
            Err(EnvelopeError::TooLarge { .. })
        ));
    }
}
