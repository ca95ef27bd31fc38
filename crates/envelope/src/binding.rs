//! [`Binding`]: what one envelope belongs to, and its canonical byte form.
//!
//! A ciphertext is only safe to hand back if it is the one the caller asked for,
//! so every field here (org, secret, secret version, org-key version) is
//! authenticated twice: in the AAD of the data-key wrap and, through the header,
//! in the AAD of the payload. Its encoding is fixed-width and big-endian so a
//! browser can rebuild the exact AAD with a `DataView` and no length prefixes.

use crate::error::EnvelopeError;

/// Domain-separation prefix of the data-key wrap AAD.
pub const DEK_AAD_PREFIX: &[u8; 13] = b"coffer/v1/dek";
/// Length of [`Binding::to_bytes`]: org (16) + secret (16) + version (4) + key version (4).
pub const BINDING_LEN: usize = 40;
/// Length of the data-key wrap AAD: prefix (13) + binding (40).
pub const DEK_AAD_LEN: usize = DEK_AAD_PREFIX.len() + BINDING_LEN;

/// What an envelope is bound to. Every field goes into the AAD of the
/// data-key wrap and of the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Binding {
    /// Organisation id (a UUID's 16 bytes).
    pub org: [u8; 16],
    /// Secret id (a UUID's 16 bytes).
    pub secret: [u8; 16],
    /// Secret version, starting at 1.
    pub version: u32,
    /// Version of the org key the data key is wrapped under, starting at 1.
    pub key_version: u32,
}

impl Binding {
    /// `org || secret || version (BE) || key_version (BE)`: the form used in
    /// the header (offsets 6..46) and in the data-key wrap AAD.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; BINDING_LEN] {
        let mut out = [0u8; BINDING_LEN];
        out[0..16].copy_from_slice(&self.org);
        out[16..32].copy_from_slice(&self.secret);
        out[32..36].copy_from_slice(&self.version.to_be_bytes());
        out[36..40].copy_from_slice(&self.key_version.to_be_bytes());
        out
    }

    /// Inverse of [`Binding::to_bytes`]; does not validate.
    #[must_use]
    pub fn from_bytes(b: &[u8; BINDING_LEN]) -> Self {
        let mut org = [0u8; 16];
        let mut secret = [0u8; 16];
        org.copy_from_slice(&b[0..16]);
        secret.copy_from_slice(&b[16..32]);
        Self {
            org,
            secret,
            version: u32::from_be_bytes([b[32], b[33], b[34], b[35]]),
            key_version: u32::from_be_bytes([b[36], b[37], b[38], b[39]]),
        }
    }

    /// Rejects bindings that no valid envelope can carry (versions start at 1).
    pub fn validate(&self) -> Result<(), EnvelopeError> {
        if self.version == 0 {
            return Err(EnvelopeError::InvalidBinding(
                "secret version must be at least 1",
            ));
        }
        if self.key_version == 0 {
            return Err(EnvelopeError::InvalidBinding(
                "org-key version must be at least 1",
            ));
        }
        Ok(())
    }

    /// AAD of the data-key wrap: `b"coffer/v1/dek" || to_bytes()`.
    #[must_use]
    pub fn dek_aad(&self) -> [u8; DEK_AAD_LEN] {
        let mut out = [0u8; DEK_AAD_LEN];
        out[..DEK_AAD_PREFIX.len()].copy_from_slice(DEK_AAD_PREFIX);
        out[DEK_AAD_PREFIX.len()..].copy_from_slice(&self.to_bytes());
        out
    }

    /// The first field that differs from `expected`, by name, if any.
    /// Not constant time: bindings are public header data.
    #[must_use]
    pub fn first_mismatch(&self, expected: &Binding) -> Option<&'static str> {
        if self.org != expected.org {
            Some("organisation")
        } else if self.secret != expected.secret {
            Some("secret")
        } else if self.version != expected.version {
            Some("secret version")
        } else if self.key_version != expected.key_version {
            Some("org-key version")
        } else {
            None
        }
    }
}
