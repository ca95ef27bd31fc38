//! The fixed 150-byte header of format v1: layout, encoding and the parser.
//!
//! The header has no variable-length fields, so parsing is a handful of bounds
//! checks on fixed offsets: it is cheap, obviously terminating, and fuzzable.
//! [`parse`] does no cryptography at all; it rejects oversize input first (so a
//! hostile blob store cannot make us allocate or hash), then anything
//! structurally wrong, and only then hands out borrowed views. The key
//! commitment lives here too because it is a function of header bytes only.

use std::fmt;

use crate::binding::{BINDING_LEN, Binding};
use crate::datakey::{WRAPPED_DEK_LEN, WrappedDataKey};
use crate::error::EnvelopeError;
use crate::keys::DataKey;
use crate::primitives::{MAC_LEN, NONCE_LEN, TAG_LEN, hmac_sha256};

/// The four magic bytes every envelope starts with.
pub const MAGIC: &[u8; 4] = b"COFR";
/// The format version this crate writes and the only one it reads.
pub const FORMAT_VERSION: u8 = 1;
/// Domain-separation prefix of the key-commitment HMAC input.
pub const COMMIT_PREFIX: &[u8; 16] = b"coffer/v1/commit";

/// Offset of the format version byte.
pub const OFF_VERSION: usize = 4;
/// Offset of the (reserved, must be zero) flags byte.
pub const OFF_FLAGS: usize = 5;
/// Offset of the binding (org id, secret id, version, key version).
pub const OFF_BINDING: usize = 6;
/// Offset of the wrapped data key (wrap nonce then ciphertext).
pub const OFF_WRAPPED_KEY: usize = OFF_BINDING + BINDING_LEN; // 46
/// Offset of the payload nonce.
pub const OFF_PAYLOAD_NONCE: usize = OFF_WRAPPED_KEY + WRAPPED_DEK_LEN; // 106
/// Offset of the key commitment; also the length of the committed prefix.
pub const OFF_COMMITMENT: usize = OFF_PAYLOAD_NONCE + NONCE_LEN; // 118
/// Length of the fixed header (everything before the payload ciphertext).
pub const HEADER_LEN: usize = OFF_COMMITMENT + MAC_LEN; // 150
/// Bytes an envelope adds to its plaintext: header plus GCM tag.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN; // 166
/// Smallest valid envelope (empty plaintext).
pub const MIN_ENVELOPE_LEN: usize = OVERHEAD;

const _: () = assert!(HEADER_LEN == 150 && OFF_COMMITMENT == 118 && OVERHEAD == 166);

/// A parsed, not yet authenticated, envelope borrowing the input bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The binding claimed by the header (unauthenticated until opened).
    pub binding: Binding,
    /// The wrapped data key from the header.
    pub wrapped_key: WrappedDataKey,
    /// Nonce of the payload encryption.
    pub payload_nonce: [u8; NONCE_LEN],
    /// Key commitment: HMAC-SHA256 under the data key of the first 118 bytes.
    pub commitment: [u8; MAC_LEN],
    header: &'a [u8],
    ciphertext: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// The whole 150-byte header: the AAD of the payload encryption.
    #[must_use]
    pub fn header_bytes(&self) -> &'a [u8] {
        self.header
    }

    /// The header bytes the key commitment covers (offsets 0..118).
    #[must_use]
    pub fn committed_bytes(&self) -> &'a [u8] {
        &self.header[..OFF_COMMITMENT]
    }

    /// Payload ciphertext followed by its 16-byte GCM tag.
    #[must_use]
    pub fn ciphertext(&self) -> &'a [u8] {
        self.ciphertext
    }

    /// Length of the plaintext this envelope decrypts to.
    #[must_use]
    pub fn plaintext_len(&self) -> usize {
        self.ciphertext.len() - TAG_LEN
    }
}

impl fmt::Debug for Envelope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("binding", &self.binding)
            .field("wrapped_key", &self.wrapped_key)
            .field("payload_nonce", &self.payload_nonce)
            .field("commitment", &self.commitment)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

/// Parses an envelope without any cryptography. `max_len` bounds the whole
/// envelope and is checked first.
///
/// Order of checks: length against `max_len`, magic, format version, minimum
/// length, flags, versions. The version is checked before the minimum length
/// so a future format with a different size is reported as unsupported.
pub fn parse(bytes: &[u8], max_len: usize) -> Result<Envelope<'_>, EnvelopeError> {
    if bytes.len() > max_len {
        return Err(EnvelopeError::TooLarge {
            len: bytes.len(),
            max: max_len,
        });
    }
    match bytes.get(..MAGIC.len()) {
        None => return Err(EnvelopeError::TooShort),
        Some(m) if m != MAGIC => return Err(EnvelopeError::BadMagic),
        Some(_) => {}
    }
    match bytes.get(OFF_VERSION) {
        None => return Err(EnvelopeError::TooShort),
        Some(&FORMAT_VERSION) => {}
        Some(&v) => return Err(EnvelopeError::UnsupportedVersion(v)),
    }
    if bytes.len() < MIN_ENVELOPE_LEN {
        return Err(EnvelopeError::TooShort);
    }
    if bytes[OFF_FLAGS] != 0 {
        return Err(EnvelopeError::MalformedHeader(
            "reserved flags byte is not zero",
        ));
    }
    let (header, ciphertext) = bytes.split_at(HEADER_LEN);
    let binding = Binding::from_bytes(&fixed(header, OFF_BINDING));
    if binding.version == 0 {
        return Err(EnvelopeError::MalformedHeader("secret version is zero"));
    }
    if binding.key_version == 0 {
        return Err(EnvelopeError::MalformedHeader("org-key version is zero"));
    }
    let wrapped_key = WrappedDataKey::from_slice(&header[OFF_WRAPPED_KEY..OFF_PAYLOAD_NONCE])?;
    Ok(Envelope {
        binding,
        wrapped_key,
        payload_nonce: fixed(header, OFF_PAYLOAD_NONCE),
        commitment: fixed(header, OFF_COMMITMENT),
        header,
        ciphertext,
    })
}

/// Copies `N` bytes at `off`; callers have already checked the length.
fn fixed<const N: usize>(bytes: &[u8], off: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[off..off + N]);
    out
}

/// Writes the committed prefix (offsets 0..118) of a header.
pub(crate) fn encode_prefix(
    binding: &Binding,
    wrapped: &WrappedDataKey,
    payload_nonce: &[u8; NONCE_LEN],
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(MAGIC);
    out.push(FORMAT_VERSION);
    out.push(0); // flags: reserved
    out.extend_from_slice(&binding.to_bytes());
    out.extend_from_slice(&wrapped.to_bytes());
    out.extend_from_slice(payload_nonce);
}

/// Key commitment: HMAC-SHA256(key = data key, b"coffer/v1/commit" || prefix).
#[must_use]
pub fn commitment(dek: &DataKey, committed_prefix: &[u8]) -> [u8; MAC_LEN] {
    hmac_sha256(dek, &[COMMIT_PREFIX, committed_prefix])
}
