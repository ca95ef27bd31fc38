//! Reading envelopes back: [`open`] and [`open_with_data_key`].
//!
//! The order of checks is the security argument, so it lives in one place:
//! bounded parse (no crypto on oversize or malformed input), binding equality
//! (a clear, cheap refusal for a misfiled object), data-key unwrap (binding in
//! the AAD), the key commitment in constant time *before* any decryption
//! (AES-GCM alone is not key-committing), and only then the payload.
//! Decryption happens in place inside a [`Plaintext`], so even a failed open's
//! scratch bytes are wiped on drop.

use crate::binding::Binding;
use crate::datakey::unwrap_data_key;
use crate::error::EnvelopeError;
use crate::header::{Envelope, commitment, parse};
use crate::keys::{DataKey, OrgKey, Plaintext};
use crate::primitives::{ct_eq, gcm_open};

/// Parses, checks the binding (else [`EnvelopeError::BindingMismatch`]),
/// unwraps the data key, checks the key commitment, then decrypts.
pub fn open(
    org_key: &OrgKey,
    expected: &Binding,
    bytes: &[u8],
    max_len: usize,
) -> Result<Plaintext, EnvelopeError> {
    let envelope = parse(bytes, max_len)?;
    check_binding(&envelope, expected)?;
    let dek = unwrap_data_key(org_key, &envelope.binding, &envelope.wrapped_key)?;
    open_parsed(&dek, &envelope)
}

/// Same as [`open`] with a data key the caller already unwrapped; the key
/// commitment is still checked.
pub fn open_with_data_key(
    dek: &DataKey,
    expected: &Binding,
    bytes: &[u8],
    max_len: usize,
) -> Result<Plaintext, EnvelopeError> {
    let envelope = parse(bytes, max_len)?;
    check_binding(&envelope, expected)?;
    open_parsed(dek, &envelope)
}

fn check_binding(envelope: &Envelope<'_>, expected: &Binding) -> Result<(), EnvelopeError> {
    match envelope.binding.first_mismatch(expected) {
        Some(field) => Err(EnvelopeError::BindingMismatch(field)),
        None => Ok(()),
    }
}

/// Commitment, then payload. Assumes the binding was already checked.
pub(crate) fn open_parsed(
    dek: &DataKey,
    envelope: &Envelope<'_>,
) -> Result<Plaintext, EnvelopeError> {
    let expected = commitment(dek, envelope.committed_bytes());
    if !ct_eq(&expected, &envelope.commitment) {
        return Err(EnvelopeError::Integrity);
    }
    let mut plaintext = Plaintext::from(envelope.ciphertext());
    let buf = plaintext.buffer_mut();
    let len = gcm_open(dek, &envelope.payload_nonce, envelope.header_bytes(), buf)?;
    buf.truncate(len);
    Ok(plaintext)
}
