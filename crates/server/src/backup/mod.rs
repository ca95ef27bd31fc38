//! Backup and restore of an embedded deployment (SQLite catalog, default blob store, local
//! master key): the archive format, written by the server ([`archive`]) and unpacked and
//! verified offline ([`restore`]).
//!
//! The archive is a tar stream, version 1, in this order: `manifest.json` ([`Manifest`]: what the
//! archive holds, so a reader can refuse a format it does not know before unpacking anything),
//! `catalog.db` (a snapshot of the catalog as of one moment), `master.key` (the local key
//! provider's file as it is on disk, `CFMK` ‖ version ‖ key), then `blobs/<key>` for every
//! envelope of the default store that a version of the snapshot points at. Nothing else, and no
//! token values (only their hashes, inside the catalog). It is plaintext key material: the CLI
//! encrypts it with age as it arrives, and it never touches a disk unencrypted.
//!
//! Envelopes in an org's own bucket (custom storage) are not copied: the manifest names those
//! orgs and buckets, which their owners back up themselves (versioning, replication). PostgreSQL
//! deployments are backed up with `pg_dump` plus the bucket (docs/operations.md).

pub mod archive;
pub mod restore;

use serde::{Deserialize, Serialize};

/// The manifest's `format`.
pub const FORMAT: &str = "coffer-backup";
/// The manifest's `version`: the archive layout described in the module docs.
pub const FORMAT_VERSION: u32 = 1;

/// The manifest's entry name (always the first entry).
pub const MANIFEST_ENTRY: &str = "manifest.json";
/// The catalog snapshot's entry name (and its file name in a data directory).
pub const CATALOG_ENTRY: &str = "catalog.db";
/// The master key file's entry name (and its file name in a data directory).
pub const MASTER_KEY_ENTRY: &str = "master.key";
/// The directory of the envelopes, in the archive and in a data directory.
pub const BLOBS_DIR: &str = "blobs";

/// What an archive holds; its first entry, as JSON.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The layout version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// When the catalog snapshot was taken (RFC 3339).
    pub created_at: String,
    /// The version of the coffer that made it.
    pub coffer_version: String,
    /// The catalog snapshot's schema version (its highest migration).
    pub catalog_schema: u32,
    /// Every org.
    pub orgs: Vec<ManifestOrg>,
    /// Live secrets (soft-deleted ones included).
    pub secrets: u64,
    /// Their versions.
    pub versions: u64,
    /// Envelopes in the archive (`blobs/…` entries).
    pub blobs: u64,
    /// Whether the master key file is in the archive (`keys.master_key_in_backups`); when it is
    /// not, a restore needs it from elsewhere.
    #[serde(default)]
    pub master_key: bool,
}

/// One org in the manifest.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestOrg {
    /// Its id.
    pub id: String,
    /// Its slug.
    pub slug: String,
    /// `local` when the master key in the archive opens every org-key version; `kms` when some
    /// are wrapped only by the org's own KMS keys (BYOK), which a restore needs too.
    pub root_key: String,
    /// The org's own buckets: envelopes there are not in the archive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<String>,
    /// Versions whose envelope is in those buckets.
    #[serde(default)]
    pub versions_in_buckets: u64,
}

/// The largest envelope a backup carries or a restore accepts: the largest secret Coffer can be
/// configured for (`limits.max_secret_bytes`, 64 MiB) plus the envelope's overhead.
pub const MAX_ENVELOPE_BYTES: u64 = (64 << 20) + coffer_envelope::OVERHEAD as u64;

/// The longest manifest a reader accepts.
pub const MAX_MANIFEST_BYTES: u64 = 16 << 20;

/// The manifest at the start of an archive, from its first bytes `prefix`: `Ok(None)` while more
/// bytes are needed, an error if the archive does not start with one. For a client that encrypts
/// the stream as it arrives and wants to say what it holds without unpacking it.
pub fn manifest_from_prefix(prefix: &[u8]) -> Result<Option<Manifest>, String> {
    const BLOCK: usize = 512;
    if prefix.len() < BLOCK {
        return Ok(None);
    }
    let header = tar::Header::from_byte_slice(&prefix[..BLOCK]);
    if header.path_bytes().as_ref() != MANIFEST_ENTRY.as_bytes() {
        return Err(format!("the archive does not start with {MANIFEST_ENTRY}"));
    }
    let len = header.size().map_err(|e| e.to_string())?;
    if len > MAX_MANIFEST_BYTES {
        return Err(format!("its manifest is {len} bytes long"));
    }
    let Some(bytes) = prefix.get(BLOCK..BLOCK + len as usize) else {
        return Ok(None);
    };
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| format!("its manifest does not parse: {e}"))
}
