//! Secret-holding value types: [`Key32`] and [`Plaintext`].
//!
//! Both wipe their bytes on drop (`zeroize`) and print only a redacted form
//! through `Debug`, so a stray `{:?}` in a log line or a panic message can never
//! leak a key or a secret value. Neither implements `Display`, `PartialEq` or
//! serde traits: comparing or serialising secrets should be a deliberate act
//! through [`Key32::expose`] / [`Plaintext::as_bytes`], which are easy to grep for.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::EnvelopeError;
use crate::primitives::fill_random;

/// Length in bytes of every key in the format (AES-256 / HMAC-SHA256 key).
pub const KEY_LEN: usize = 32;

/// A 32-byte AES-256 key. Wiped on drop; `Debug` prints `Key32([REDACTED])`.
///
/// `Clone` makes a second copy that is wiped on its own drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Key32([u8; KEY_LEN]);

/// A per-secret-version data key (the key the payload is encrypted under).
pub type DataKey = Key32;
/// An organisation key (the key data keys are wrapped under).
pub type OrgKey = Key32;

impl Key32 {
    /// A fresh key from the OS CSPRNG.
    ///
    /// # Panics
    /// If the operating system's random number generator fails. There is no
    /// safe fallback for key material, so this does not return a weaker key.
    #[must_use]
    pub fn generate() -> Self {
        Self::try_generate().expect("the system random number generator failed")
    }

    /// Like [`Key32::generate`] but reports a failing RNG instead of panicking.
    pub fn try_generate() -> Result<Self, EnvelopeError> {
        let mut key = Self([0u8; KEY_LEN]);
        fill_random(&mut key.0)?;
        Ok(key)
    }

    /// Takes ownership of raw key bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Copies a key out of a slice that must be exactly 32 bytes long.
    pub fn try_from_slice(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let arr: [u8; KEY_LEN] = bytes.try_into().map_err(|_| EnvelopeError::InvalidLength {
            what: "a key",
            expected: KEY_LEN,
            actual: bytes.len(),
        })?;
        Ok(Self(arr))
    }

    /// The raw key bytes. Every use of this is a place where key material
    /// leaves the type's protection; keep them few.
    #[must_use]
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for Key32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key32([REDACTED])")
    }
}

/// A decrypted secret value. Wiped (whole allocation) on drop; `Debug` prints
/// only its length, as `Plaintext(<N bytes>)`.
#[derive(Default, Zeroize, ZeroizeOnDrop)]
pub struct Plaintext(Vec<u8>);

impl Plaintext {
    /// The secret bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the value is empty (an empty secret is allowed).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Mutable access to the buffer, for decrypting in place while the bytes
    /// are already under the wipe-on-drop guard.
    pub(crate) fn buffer_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl From<Vec<u8>> for Plaintext {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl From<&[u8]> for Plaintext {
    fn from(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plaintext(<{} bytes>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroize_wipes_keys_and_plaintexts() {
        let mut key = Key32::from_bytes([0x5a; KEY_LEN]);
        key.zeroize();
        assert_eq!(key.expose(), &[0u8; KEY_LEN]);
        let mut pt = Plaintext::from(vec![0x5a; 64]);
        pt.zeroize();
        assert!(pt.is_empty());
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(Key32::generate().expose(), Key32::generate().expose());
    }
}
