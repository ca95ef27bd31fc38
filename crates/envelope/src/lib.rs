//! Coffer envelope format v1: the exact bytes stored per secret version.
//!
//! This crate owns the cryptographic format and nothing else: it is pure and
//! synchronous, does no I/O, keeps no state and never logs. Servers, CLIs and
//! (later) browsers all produce and consume the same bytes, so every primitive
//! is one WebCrypto also has: AES-256-GCM with 96-bit nonces and 128-bit tags,
//! and HMAC-SHA256. An envelope is a fixed 150-byte header (magic, version,
//! binding, wrapped data key, payload nonce, key commitment) followed by the
//! payload ciphertext and tag; see `docs/envelope-format.md` for the layout and
//! the reasons behind it, and `tests/vectors/envelope_v1.json` for test vectors.
//!
//! ```
//! use coffer_envelope::{open, seal, Binding, OrgKey};
//! let org_key = OrgKey::generate();
//! let binding = Binding { org: [1; 16], secret: [2; 16], version: 1, key_version: 1 };
//! let sealed = seal(&org_key, &binding, b"hunter2")?;
//! let plaintext = open(&org_key, &binding, &sealed.bytes, 1 << 20)?;
//! assert_eq!(plaintext.as_bytes(), b"hunter2");
//! # Ok::<(), coffer_envelope::EnvelopeError>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod binding;
mod datakey;
mod error;
mod header;
mod keys;
mod keywrap;
mod open;
mod primitives;
mod request;
mod seal;

pub use binding::{BINDING_LEN, Binding, DEK_AAD_LEN, DEK_AAD_PREFIX};
pub use datakey::{
    WRAPPED_DEK_LEN, WrappedDataKey, try_wrap_data_key, unwrap_data_key, wrap_data_key,
    wrap_data_key_with_nonce,
};
pub use error::EnvelopeError;
pub use header::{
    COMMIT_PREFIX, Envelope, FORMAT_VERSION, HEADER_LEN, MAGIC, MIN_ENVELOPE_LEN, OVERHEAD,
    commitment, parse,
};
pub use keys::{DataKey, KEY_LEN, Key32, OrgKey, Plaintext};
pub use keywrap::{
    KEYWRAP_VERSION, WRAPPED_KEY_LEN, try_wrap_key, unwrap_key, wrap_key, wrap_key_with_nonce,
};
pub use open::{open, open_with_data_key};
pub use primitives::{NONCE_LEN, TAG_LEN};
pub use request::{
    LINK_OPEN_LABEL, REQUEST_LABEL, REQUEST_PUBLIC_KEY_LEN, REQUEST_SEAL_OVERHEAD,
    REQUEST_SEAL_VERSION, RequestKeyPair, link_open_proof, open_from_request, seal_to_request,
};
pub use seal::{MAX_PLAINTEXT_LEN, Sealed, seal, seal_deterministic, seal_with_data_key};

/// NIST SP 800-38D bound on AES-GCM invocations with random 96-bit nonces
/// under one key: 2^32. Every [`wrap_data_key`] (and so every [`seal`]) and
/// every [`wrap_key`] consumes one under the wrapping key. This crate is
/// stateless, so the caller (the server) counts wraps per org-key version and
/// rotates the org key before reaching this.
pub const MAX_WRAPS_PER_ORG_KEY: u64 = 1 << 32;
