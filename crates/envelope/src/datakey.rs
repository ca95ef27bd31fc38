//! Wrapping a per-version data key under an org key ([`WrappedDataKey`]).
//!
//! This is the envelope's key hierarchy: each secret version gets a fresh
//! random data key, and only its AES-256-GCM wrap under the org key is stored.
//! The wrap's AAD is `b"coffer/v1/dek" || binding`, so a wrapped key copied into
//! another envelope (other org, secret, version or key version) refuses to
//! unwrap. Wrap nonces are random, so every wrap under one org key counts
//! against the NIST SP 800-38D limit of 2^32 random-nonce invocations; see
//! [`crate::MAX_WRAPS_PER_ORG_KEY`]. The counting itself is the server's job,
//! because this crate has no state.

use crate::binding::Binding;
use crate::error::EnvelopeError;
use crate::keys::{DataKey, KEY_LEN, Key32, OrgKey};
use crate::primitives::{NONCE_LEN, TAG_LEN, gcm_open, gcm_seal, random_nonce};

/// Length of the wrapped data key's ciphertext: 32-byte key + 16-byte tag.
pub const WRAPPED_DEK_CT_LEN: usize = KEY_LEN + TAG_LEN;
/// Length of [`WrappedDataKey::to_bytes`]: nonce (12) + ciphertext (48).
pub const WRAPPED_DEK_LEN: usize = NONCE_LEN + WRAPPED_DEK_CT_LEN;

/// Data key wrapped by the org key: 12-byte nonce + 48 bytes (32 ciphertext +
/// 16 tag). These bytes are not secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedDataKey {
    /// AES-GCM nonce of the wrap.
    pub nonce: [u8; NONCE_LEN],
    /// Encrypted data key followed by the GCM tag.
    pub ciphertext: [u8; WRAPPED_DEK_CT_LEN],
}

impl WrappedDataKey {
    /// `nonce || ciphertext`, exactly as at offsets 46..106 of an envelope.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; WRAPPED_DEK_LEN] {
        let mut out = [0u8; WRAPPED_DEK_LEN];
        out[..NONCE_LEN].copy_from_slice(&self.nonce);
        out[NONCE_LEN..].copy_from_slice(&self.ciphertext);
        out
    }

    /// Inverse of [`WrappedDataKey::to_bytes`]; the slice must be 60 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() != WRAPPED_DEK_LEN {
            return Err(EnvelopeError::InvalidLength {
                what: "a wrapped data key",
                expected: WRAPPED_DEK_LEN,
                actual: bytes.len(),
            });
        }
        let mut nonce = [0u8; NONCE_LEN];
        let mut ciphertext = [0u8; WRAPPED_DEK_CT_LEN];
        nonce.copy_from_slice(&bytes[..NONCE_LEN]);
        ciphertext.copy_from_slice(&bytes[NONCE_LEN..]);
        Ok(Self { nonce, ciphertext })
    }
}

/// Wraps `dek` under `org_key` for `binding`, with a fresh random nonce.
///
/// # Panics
/// If the operating system's random number generator fails.
#[must_use]
pub fn wrap_data_key(org_key: &OrgKey, binding: &Binding, dek: &DataKey) -> WrappedDataKey {
    try_wrap_data_key(org_key, binding, dek).expect("the system random number generator failed")
}

/// Like [`wrap_data_key`] but reports a failing RNG instead of panicking.
pub fn try_wrap_data_key(
    org_key: &OrgKey,
    binding: &Binding,
    dek: &DataKey,
) -> Result<WrappedDataKey, EnvelopeError> {
    let nonce = random_nonce()?;
    wrap_data_key_with_nonce(org_key, binding, dek, &nonce)
}

/// Deterministic wrap for known-answer tests only. Reusing a nonce under one
/// org key destroys AES-GCM's security; production code never calls this.
#[doc(hidden)]
pub fn wrap_data_key_with_nonce(
    org_key: &OrgKey,
    binding: &Binding,
    dek: &DataKey,
    nonce: &[u8; NONCE_LEN],
) -> Result<WrappedDataKey, EnvelopeError> {
    // The buffer briefly holds the raw data key, so it is wiped on drop.
    let mut buf = zeroize::Zeroizing::new(*dek.expose());
    let tag = gcm_seal(org_key, nonce, &binding.dek_aad(), &mut buf[..])?;
    let mut ciphertext = [0u8; WRAPPED_DEK_CT_LEN];
    ciphertext[..KEY_LEN].copy_from_slice(&buf[..]);
    ciphertext[KEY_LEN..].copy_from_slice(&tag);
    Ok(WrappedDataKey {
        nonce: *nonce,
        ciphertext,
    })
}

/// Unwraps a data key. Fails with [`EnvelopeError::Integrity`] for a wrong
/// org key, a wrong binding, or tampered bytes, without saying which.
pub fn unwrap_data_key(
    org_key: &OrgKey,
    binding: &Binding,
    wrapped: &WrappedDataKey,
) -> Result<DataKey, EnvelopeError> {
    let mut buf = zeroize::Zeroizing::new(wrapped.ciphertext);
    let len = gcm_open(org_key, &wrapped.nonce, &binding.dek_aad(), &mut buf[..])?;
    debug_assert_eq!(len, KEY_LEN);
    Key32::try_from_slice(&buf[..len])
}
