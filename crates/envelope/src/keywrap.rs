//! Generic versioned key wrap: an org key (or any [`Key32`]) under a
//! key-encryption key, for the local keyring.
//!
//! Layout: `0x01 || 12-byte random nonce || AES-256-GCM(key) (32 ct + 16 tag)`,
//! 61 bytes, with the caller's AAD (e.g. an org id and key version) so a
//! wrapped key cannot be moved to another keyring slot. The leading version
//! byte lets a later scheme coexist; readers refuse versions they do not know.
//! Same primitive as the data-key wrap, so one audited path and WebCrypto parity.
//! Random nonces mean at most [`crate::MAX_WRAPS_PER_ORG_KEY`] wraps per KEK.

use zeroize::Zeroizing;

use crate::error::EnvelopeError;
use crate::keys::{KEY_LEN, Key32};
use crate::primitives::{NONCE_LEN, TAG_LEN, gcm_open, gcm_seal, random_nonce};

/// Version byte of the key-wrap format this crate writes and reads.
pub const KEYWRAP_VERSION: u8 = 1;
/// Length of [`wrap_key`]'s output: version (1) + nonce (12) + ct (32) + tag (16).
pub const WRAPPED_KEY_LEN: usize = 1 + NONCE_LEN + KEY_LEN + TAG_LEN;

/// Wraps `key` under `kek`, binding `aad`. Returns [`WRAPPED_KEY_LEN`] bytes.
///
/// # Panics
/// If the operating system's random number generator fails.
#[must_use]
pub fn wrap_key(kek: &Key32, aad: &[u8], key: &Key32) -> Vec<u8> {
    try_wrap_key(kek, aad, key).expect("the system random number generator failed")
}

/// Like [`wrap_key`] but reports a failing RNG instead of panicking.
pub fn try_wrap_key(kek: &Key32, aad: &[u8], key: &Key32) -> Result<Vec<u8>, EnvelopeError> {
    let nonce = random_nonce()?;
    wrap_key_with_nonce(kek, aad, key, &nonce)
}

/// Deterministic wrap for known-answer tests only; never reuse a nonce.
#[doc(hidden)]
pub fn wrap_key_with_nonce(
    kek: &Key32,
    aad: &[u8],
    key: &Key32,
    nonce: &[u8; NONCE_LEN],
) -> Result<Vec<u8>, EnvelopeError> {
    let mut buf = Zeroizing::new(*key.expose());
    let tag = gcm_seal(kek, nonce, aad, &mut buf[..])?;
    let mut out = Vec::with_capacity(WRAPPED_KEY_LEN);
    out.push(KEYWRAP_VERSION);
    out.extend_from_slice(nonce);
    out.extend_from_slice(&buf[..]);
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Unwraps bytes made by [`wrap_key`] with the same `kek` and `aad`.
/// Fails with [`EnvelopeError::Integrity`] for a wrong KEK, wrong AAD or
/// tampered bytes, without saying which.
pub fn unwrap_key(kek: &Key32, aad: &[u8], wrapped: &[u8]) -> Result<Key32, EnvelopeError> {
    match wrapped.first() {
        None => return Err(EnvelopeError::TooShort),
        Some(&KEYWRAP_VERSION) => {}
        Some(&v) => return Err(EnvelopeError::UnsupportedVersion(v)),
    }
    if wrapped.len() != WRAPPED_KEY_LEN {
        return Err(EnvelopeError::InvalidLength {
            what: "a wrapped key",
            expected: WRAPPED_KEY_LEN,
            actual: wrapped.len(),
        });
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&wrapped[1..1 + NONCE_LEN]);
    let mut buf = Zeroizing::new([0u8; KEY_LEN + TAG_LEN]);
    buf.copy_from_slice(&wrapped[1 + NONCE_LEN..]);
    let len = gcm_open(kek, &nonce, aad, &mut buf[..])?;
    Key32::try_from_slice(&buf[..len])
}
