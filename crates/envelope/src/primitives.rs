//! The only module that talks to `aws-lc-rs`.
//!
//! It owns the four primitives the format is built from: AES-256-GCM with a
//! 96-bit nonce and 128-bit tag, HMAC-SHA256, the OS CSPRNG and constant-time
//! comparison. These are exactly what WebCrypto offers a browser, which is why
//! nothing else (no HKDF, no SIV, no XChaCha) appears here. Keeping the library
//! calls in one place makes the rest of the crate read as the format spec, and
//! maps every library failure to [`EnvelopeError`] without detail.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::{constant_time, hmac, rand};

use crate::error::EnvelopeError;
use crate::keys::Key32;

/// Length of an AES-GCM nonce (96 bits), the only size the format uses.
pub const NONCE_LEN: usize = 12;
/// Length of an AES-GCM authentication tag (128 bits).
pub const TAG_LEN: usize = 16;
/// Length of an HMAC-SHA256 output.
pub const MAC_LEN: usize = 32;

fn gcm_key(key: &Key32) -> LessSafeKey {
    // A 32-byte slice is always a valid AES-256 key, so this cannot fail.
    let unbound = UnboundKey::new(&AES_256_GCM, key.expose())
        .expect("a 32-byte key is always a valid AES-256-GCM key");
    LessSafeKey::new(unbound)
}

/// Fills `dest` from the OS CSPRNG.
pub fn fill_random(dest: &mut [u8]) -> Result<(), EnvelopeError> {
    rand::fill(dest).map_err(|_| EnvelopeError::Randomness)
}

/// A fresh random nonce.
pub fn random_nonce() -> Result<[u8; NONCE_LEN], EnvelopeError> {
    let mut n = [0u8; NONCE_LEN];
    fill_random(&mut n)?;
    Ok(n)
}

/// Encrypts `in_out` in place and returns the 16-byte tag.
pub fn gcm_seal(
    key: &Key32,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    in_out: &mut [u8],
) -> Result<[u8; TAG_LEN], EnvelopeError> {
    let len = in_out.len();
    let tag = gcm_key(key)
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), in_out)
        // Only reachable for inputs beyond the GCM length limit, which callers
        // reject first.
        .map_err(|_| EnvelopeError::PlaintextTooLarge {
            len,
            max: crate::MAX_PLAINTEXT_LEN,
        })?;
    let mut out = [0u8; TAG_LEN];
    out.copy_from_slice(tag.as_ref());
    Ok(out)
}

/// Verifies and decrypts `ciphertext || tag` in place; on success returns the
/// plaintext length (the prefix of `in_out`). On failure `in_out` may hold
/// garbage, so callers keep it in a zeroizing buffer.
pub fn gcm_open(
    key: &Key32,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    in_out: &mut [u8],
) -> Result<usize, EnvelopeError> {
    gcm_key(key)
        .open_in_place(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), in_out)
        .map(|pt| pt.len())
        .map_err(|_| EnvelopeError::Integrity)
}

/// HMAC-SHA256 over the concatenation of `parts`.
pub fn hmac_sha256(key: &Key32, parts: &[&[u8]]) -> [u8; MAC_LEN] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key.expose());
    let mut ctx = hmac::Context::with_key(&key);
    for part in parts {
        ctx.update(part);
    }
    let mut out = [0u8; MAC_LEN];
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

/// Constant-time equality of two byte strings (length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    constant_time::verify_slices_are_equal(a, b).is_ok()
}
