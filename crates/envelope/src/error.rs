//! The one error type of the crate.
//!
//! It owns every way sealing, parsing or opening can fail. It is shaped for the
//! people who read logs and for attackers who read responses at the same time:
//! structural problems (size, magic, version, header fields, binding) are named
//! precisely because they are visible in the clear bytes anyway, while every
//! cryptographic failure collapses into the single [`EnvelopeError::Integrity`]
//! variant so that no caller can learn *which* check failed. No variant carries
//! key or plaintext bytes; only lengths and static field names.

/// Everything that can go wrong while sealing, parsing or opening.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// Fewer bytes than the smallest valid envelope (or wrapped key).
    #[error("envelope is truncated: it is shorter than the smallest valid envelope")]
    TooShort,
    /// More bytes than the caller allows (checked before anything else).
    #[error("envelope is {len} bytes, more than the allowed maximum of {max} bytes")]
    TooLarge {
        /// Length that was offered.
        len: usize,
        /// Largest length the caller accepts.
        max: usize,
    },
    /// The first four bytes are not `COFR`.
    #[error("these bytes are not a Coffer envelope: the magic prefix is wrong")]
    BadMagic,
    /// A format (or key-wrap) version this build does not understand.
    #[error("format version {0} is not supported by this build; only version 1 is")]
    UnsupportedVersion(u8),
    /// A header field holds a value the format forbids.
    #[error("envelope header is malformed: {0}")]
    MalformedHeader(&'static str),
    /// The envelope is bound to another org, secret, version or key version
    /// than the caller expected. The payload names the field.
    #[error("envelope belongs to a different {0} than the one requested")]
    BindingMismatch(&'static str),
    /// An authentication tag or the key commitment did not verify.
    #[error(
        "envelope failed its integrity check: it was tampered with, corrupted, \
         or belongs to another secret or key"
    )]
    Integrity,
    /// A key or wrapped key of the wrong length was offered.
    #[error("{what} must be exactly {expected} bytes, got {actual}")]
    InvalidLength {
        /// What was being decoded.
        what: &'static str,
        /// Required length.
        expected: usize,
        /// Length that was offered.
        actual: usize,
    },
    /// A binding that cannot be sealed (a version of zero).
    #[error("cannot seal for this binding: {0}")]
    InvalidBinding(&'static str),
    /// The plaintext is larger than AES-GCM can encrypt under one nonce.
    #[error("plaintext of {len} bytes is larger than the {max} bytes one envelope can hold")]
    PlaintextTooLarge {
        /// Length that was offered.
        len: usize,
        /// Largest plaintext one envelope holds.
        max: usize,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed; nothing was sealed")]
    Randomness,
}
