//! Producing envelopes: [`seal`] (server path) and [`seal_with_data_key`]
//! (client path).
//!
//! Every secret version gets a fresh random data key, so each data key
//! encrypts exactly one payload and payload nonces can never collide under a
//! key; the only long-lived key that sees many random nonces is the org key,
//! through the wrap. Assembly writes the header, commits to the data key, then
//! encrypts the payload in place behind the header with the whole header as
//! AAD, so an envelope is built in a single allocation of exactly its length.

use std::fmt;

use zeroize::Zeroizing;

use crate::binding::Binding;
use crate::datakey::{WrappedDataKey, try_wrap_data_key, wrap_data_key_with_nonce};
use crate::error::EnvelopeError;
use crate::header::{HEADER_LEN, OFF_COMMITMENT, OVERHEAD, commitment, encode_prefix};
use crate::keys::{DataKey, Key32, OrgKey};
use crate::primitives::{NONCE_LEN, gcm_seal, random_nonce};

/// Largest plaintext one envelope can hold: AES-GCM's limit of 2^36 - 32 bytes
/// per (key, nonce) on 64-bit targets; less on 32-bit ones.
pub const MAX_PLAINTEXT_LEN: usize = if usize::BITS >= 64 {
    ((1u64 << 36) - 32) as usize
} else {
    usize::MAX - OVERHEAD
};

/// The result of [`seal`]: the envelope and, for the metadata database, the
/// wrapped data key it carries (the same bytes as at offsets 46..106).
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The whole envelope, ready to store.
    pub bytes: Vec<u8>,
    /// The wrapped data key inside `bytes`.
    pub wrapped_key: WrappedDataKey,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("len", &self.bytes.len())
            .field("wrapped_key", &self.wrapped_key)
            .finish()
    }
}

/// Fresh data key, wrap it under `org_key`, encrypt `plaintext`. The one call
/// a server makes per secret version.
pub fn seal(
    org_key: &OrgKey,
    binding: &Binding,
    plaintext: &[u8],
) -> Result<Sealed, EnvelopeError> {
    check_inputs(binding, plaintext)?;
    let dek = Key32::try_generate()?;
    let wrapped_key = try_wrap_data_key(org_key, binding, &dek)?;
    let payload_nonce = random_nonce()?;
    let bytes = assemble(&dek, &wrapped_key, binding, &payload_nonce, plaintext)?;
    Ok(Sealed { bytes, wrapped_key })
}

/// Seals with a data key the caller was handed together with its wrapped form
/// (client-side encryption). The pair is not checked here (that needs the org
/// key): a mismatched pair produces an envelope that [`crate::open`] rejects
/// with [`EnvelopeError::Integrity`]. Use one data key for one version only.
pub fn seal_with_data_key(
    dek: &DataKey,
    wrapped: &WrappedDataKey,
    binding: &Binding,
    plaintext: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    check_inputs(binding, plaintext)?;
    let payload_nonce = random_nonce()?;
    assemble(dek, wrapped, binding, &payload_nonce, plaintext)
}

/// Fully deterministic seal, for known-answer vectors only. Reusing either
/// nonce under the same key destroys AES-GCM's security.
#[doc(hidden)]
pub fn seal_deterministic(
    org_key: &OrgKey,
    binding: &Binding,
    dek: &DataKey,
    wrap_nonce: &[u8; NONCE_LEN],
    payload_nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
) -> Result<Sealed, EnvelopeError> {
    check_inputs(binding, plaintext)?;
    let wrapped_key = wrap_data_key_with_nonce(org_key, binding, dek, wrap_nonce)?;
    let bytes = assemble(dek, &wrapped_key, binding, payload_nonce, plaintext)?;
    Ok(Sealed { bytes, wrapped_key })
}

fn check_inputs(binding: &Binding, plaintext: &[u8]) -> Result<(), EnvelopeError> {
    binding.validate()?;
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(EnvelopeError::PlaintextTooLarge {
            len: plaintext.len(),
            max: MAX_PLAINTEXT_LEN,
        });
    }
    Ok(())
}

fn assemble(
    dek: &DataKey,
    wrapped: &WrappedDataKey,
    binding: &Binding,
    payload_nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    // Until the payload is encrypted the buffer holds plaintext: wipe it if we
    // bail out. Exact capacity means no reallocation leaves a stray copy.
    let mut out = Zeroizing::new(Vec::with_capacity(OVERHEAD + plaintext.len()));
    encode_prefix(binding, wrapped, payload_nonce, &mut out);
    debug_assert_eq!(out.len(), OFF_COMMITMENT);
    let commit = commitment(dek, &out);
    out.extend_from_slice(&commit);
    debug_assert_eq!(out.len(), HEADER_LEN);
    out.extend_from_slice(plaintext);
    let (header, body) = out.split_at_mut(HEADER_LEN);
    let tag = gcm_seal(dek, payload_nonce, header, body)?;
    out.extend_from_slice(&tag);
    debug_assert_eq!(out.len(), OVERHEAD + plaintext.len());
    Ok(std::mem::take(&mut *out))
}
