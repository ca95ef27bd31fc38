//! The blob seam: where envelope bytes live. A [`BlobStore`] is a flat namespace of immutable
//! objects under [`BlobKey`]s. The contract is deliberately the intersection of a filesystem and
//! S3 (conditional create, get, delete, list by prefix) so that the `fs` and `memory` backends
//! here and an `s3` backend (a customer's own bucket) are interchangeable, and one conformance
//! suite (`conformance.rs`, compiled for tests and with the `testing` feature, never into the
//! release binary) proves it for each.
//!
//! Blobs are never overwritten: every secret version gets a fresh key, so caches and replicas of
//! a blob can never be stale, and a crash can at worst leave an orphan (swept later), never a
//! half-replaced value.

#[cfg(any(test, feature = "testing"))]
pub mod conformance;
mod fs;
mod hold;
mod key;
mod memory;
mod metered;
mod s3;

pub use fs::FsBlobStore;
pub use hold::{DeleteHold, HoldingBlobStore};
pub use key::{BlobKey, BlobPrefix};
pub use memory::MemoryBlobStore;
pub use metered::MeteredBlobStore;
pub use s3::S3BlobStore;

use async_trait::async_trait;
use bytes::Bytes;
use std::path::PathBuf;
use std::sync::Arc;

/// An object's key and facts needed by the orphan sweeper.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobMeta {
    /// The key.
    pub key: BlobKey,
    /// Size in bytes.
    pub size: u64,
    /// Last modification, milliseconds since the epoch.
    pub modified_ms: i64,
}

/// What went wrong, by meaning. Backend details are logged by the backend, not carried here.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No object under that key.
    #[error("blob not found")]
    NotFound,
    /// `put_if_absent` found an object already there.
    #[error("blob already exists")]
    AlreadyExists,
    /// The store could not be reached or failed; retrying may help.
    #[error("blob store unavailable: {0}")]
    Unavailable(String),
    /// The store refused the request (permissions, configuration).
    #[error("blob store refused the request: {0}")]
    Refused(String),
}

/// Storage for immutable envelope blobs.
///
/// Contract every backend meets (checked by `conformance::run_all`):
/// - `put_if_absent` stores `bytes` under `key` only if nothing is there, atomically: readers see
///   either no object or all of it. When it returns `Ok`, the object is durable (survives a crash
///   of the process and, for local disks, of the machine). If an object exists it returns
///   [`BlobError::AlreadyExists`] and leaves the existing object untouched.
/// - `get` returns exactly the bytes stored, or [`BlobError::NotFound`].
/// - `delete` removes the object; deleting a missing object is `Ok` (idempotent).
/// - `list` returns every object whose key starts with the prefix, in key order.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Short name for metrics and logs, e.g. `fs`.
    fn backend(&self) -> &'static str;
    /// Stores a new object; never overwrites.
    async fn put_if_absent(&self, key: &BlobKey, bytes: Bytes) -> Result<(), BlobError>;
    /// Reads a whole object.
    async fn get(&self, key: &BlobKey) -> Result<Bytes, BlobError>;
    /// Deletes an object (missing is fine).
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;
    /// Lists objects under a prefix, in key order.
    async fn list(&self, prefix: &BlobPrefix) -> Result<Vec<BlobMeta>, BlobError>;
}

/// Which backend, with its settings. Tagged by `kind` in `coffer.toml` (`[blobs] kind = "fs"`).
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum BlobSettings {
    /// Files under a directory (default: `DATA_DIR/blobs`).
    Fs {
        /// Root directory; relative paths are resolved against the data directory.
        #[serde(default)]
        path: Option<PathBuf>,
    },
    /// Process memory; for tests and benchmarks only (lost on exit).
    Memory,
    /// An S3 bucket (or S3-compatible store).
    S3 {
        /// Bucket name.
        bucket: String,
        /// The bucket's region.
        region: String,
        /// Custom endpoint for S3-compatible stores (`None`: AWS, or `AWS_ENDPOINT_URL_S3`).
        #[serde(default)]
        endpoint: Option<String>,
        /// Key prefix inside the bucket (`prefix/orgs/...`).
        #[serde(default)]
        prefix: Option<String>,
        /// Path-style addressing, needed by most S3-compatible stores.
        #[serde(default)]
        force_path_style: bool,
        /// Credentials: the AWS default chain (default), static keys, or an assumed role
        /// (`kind = "default-chain" | "static" | "assume-role"`, as under `byok.aws`). Never
        /// serialized.
        #[serde(default, skip_serializing)]
        credentials: crate::aws::AwsCredentials,
    },
}

impl Default for BlobSettings {
    fn default() -> Self {
        BlobSettings::Fs { path: None }
    }
}

/// Builds the configured blob store. `data_dir` anchors relative paths.
pub async fn open_blob_store(
    settings: &BlobSettings,
    data_dir: &std::path::Path,
) -> Result<Arc<dyn BlobStore>, BlobError> {
    Ok(match settings {
        BlobSettings::Fs { path } => {
            let root = data_dir.join(path.clone().unwrap_or_else(|| PathBuf::from("blobs")));
            Arc::new(FsBlobStore::open(root).await?)
        }
        BlobSettings::Memory => Arc::new(MemoryBlobStore::default()),
        BlobSettings::S3 {
            bucket,
            region,
            endpoint,
            prefix,
            force_path_style,
            credentials,
        } => {
            if let Some(url) = endpoint {
                // The operator's own config may name any host, but never a metadata address.
                crate::aws::check_endpoint(url, true).map_err(BlobError::Refused)?;
            }
            let aws = crate::aws::AwsSettings {
                region: Some(region.clone()),
                endpoint: endpoint.clone(),
                force_path_style: *force_path_style,
                credentials: credentials.clone(),
                ..Default::default()
            };
            Arc::new(S3BlobStore::open(&aws, bucket.clone(), prefix.as_deref()).await?)
        }
    })
}
