//! Writing a version's manifest beside its envelope ([`crate::manifest`]): every path that files
//! an envelope under a fresh key — a server-side write, a client-side upload's commit, a storage
//! migration's copy — files the manifest with it, both durable before the catalog row points at
//! the envelope. So every acknowledged version can be named from the bucket alone. A failure of
//! either object fails the write and removes whichever of the two was created (the sweeper
//! removes what a crash leaves).

use crate::blob::{BlobError, BlobKey, BlobStore};
use crate::domain::{OrgId, Scope, SecretId, SecretKind, SecretName, Timestamp};
use crate::manifest::{Describes, Manifest};
use crate::service::{Coffer, Error, Result};
use bytes::Bytes;

/// A version about to be filed, as its manifest names it.
pub(in crate::service) struct Filing<'a> {
    pub org: OrgId,
    pub secret: SecretId,
    pub version: u32,
    pub scope: &'a Scope,
    pub name: &'a SecretName,
    pub kind: SecretKind,
    pub at: Timestamp,
    pub by: &'a str,
}

impl Coffer {
    /// The sealed manifest of the envelope to be filed at `object`, under the org's key version
    /// `key_version`.
    pub(in crate::service) async fn seal_manifest(
        &self,
        f: &Filing<'_>,
        object: &BlobKey,
        key_version: u32,
    ) -> Result<Bytes> {
        let key = self.org_key(f.org, key_version).await?;
        let manifest = Manifest::new(Describes {
            org: f.org,
            secret: f.secret,
            version: f.version,
            object,
            scope: f.scope.to_string(),
            name: f.name.to_string(),
            kind: f.kind,
            at: f.at,
            by: f.by,
        });
        manifest
            .seal(&key, key_version)
            .map(Bytes::from)
            .map_err(|e| Error::Internal(format!("sealing a manifest: {e}")))
    }
}

/// Creates the envelope at `object` and its manifest beside it, concurrently; on any failure
/// removes whichever was created and returns the first error.
pub(in crate::service) async fn put_with_manifest(
    store: &dyn BlobStore,
    object: &BlobKey,
    envelope: Bytes,
    manifest: Bytes,
) -> std::result::Result<(), BlobError> {
    let manifest_key = object
        .manifest_key()
        .expect("envelope keys end in .cfr and have a manifest key");
    let (a, b) = tokio::join!(
        store.put_if_absent(object, envelope),
        store.put_if_absent(&manifest_key, manifest)
    );
    match (a, b) {
        (Ok(()), Ok(())) => Ok(()),
        (a, b) => {
            if a.is_ok() {
                let _ = store.delete(object).await;
            }
            if b.is_ok() {
                let _ = store.delete(&manifest_key).await;
            }
            Err(a.err().or(b.err()).expect("one of the two failed"))
        }
    }
}
