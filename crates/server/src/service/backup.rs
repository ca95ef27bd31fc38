//! The backup use case (`POST /api/v1/admin/backup`, `coffer backup`): the operator takes a
//! consistent archive of an embedded deployment while it keeps serving.
//!
//! Order, and why: the operator is authorized (deployment-wide, operator only); every org's
//! chain records the backup (before the snapshot, so the archive holds its own record); blob
//! deletions are held back ([`crate::blob::DeleteHold`]) so nothing the snapshot references can
//! vanish before it is copied; the catalog writes its snapshot into a private file in the data
//! directory; the snapshot (not the live catalog) says which envelopes to copy and what the
//! manifest lists. The archive ([`crate::backup::archive`]) then streams while writes go on;
//! blobs written after the snapshot are not in it, as its catalog does not know them. Only the
//! embedded catalog is backed up this way: PostgreSQL deployments answer 409 with the pointer to
//! `pg_dump` and docs/operations.md.

use crate::backup::archive::{BackupArchive, Scratch};
use crate::backup::{FORMAT, FORMAT_VERSION, Manifest, ManifestOrg};
use crate::blob::{BlobStore, HoldingBlobStore};
use crate::catalog::sqlite::backup::read_snapshot;
use crate::domain::Timestamp;
use crate::domain::policy::{Action, Actor, Decision, Resource, authorize};
use crate::service::{Coffer, Error, Result, event, forbidden};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use zeroize::Zeroizing;

/// What a backup needs besides the seams: where it may write its snapshot, the master key file,
/// and the default store's hold on deletions.
#[derive(Clone)]
pub struct BackupParts {
    /// The data directory (the snapshot is written there, private, and removed afterwards).
    pub data_dir: PathBuf,
    /// The `local` key provider's master key file.
    pub master_key_file: PathBuf,
    /// Whether archives carry it (`keys.master_key_in_backups`).
    pub include_master_key: bool,
    /// The deployment's default store, as the app uses it, able to hold deletions back.
    pub store: Arc<HoldingBlobStore>,
}

impl Coffer {
    /// Enables backups (`coffer serve` does; without it the endpoint answers 409).
    pub fn with_backup(mut self, parts: BackupParts) -> Self {
        self.backup = Some(parts);
        self
    }

    /// Takes a backup of the whole deployment (operator only): the snapshot is made now, the
    /// returned archive streams it with its envelopes and the master key.
    pub async fn backup(&self, actor: &Actor) -> Result<BackupArchive> {
        if authorize(actor, Action::BackupDeployment, Resource::Deployment) != Decision::Allow {
            return Err(forbidden(actor, Action::BackupDeployment, ""));
        }
        if self.catalog.backend() != "sqlite" {
            return Err(Error::Conflict {
                code: "backup_not_supported",
                message: format!(
                    "this deployment's catalog is {}: back it up with pg_dump, together with the blob bucket and the master key file (or, for BYOK orgs, their KMS keys) as docs/operations.md describes; `coffer backup` takes archives of embedded (SQLite) deployments only",
                    self.catalog.backend()
                ),
            });
        }
        let Some(parts) = self.backup.clone() else {
            return Err(Error::Conflict {
                code: "backup_not_supported",
                message: "this server was started without backups (docs/operations.md)".into(),
            });
        };
        let catalog = |e| Error::catalog(e, || "the catalog".into());
        let orgs = self.catalog.list_orgs().await.map_err(catalog)?;
        for org in &orgs {
            let audit = event(
                actor,
                org.id,
                "deployment.backup",
                org.slug.as_str(),
                serde_json::json!({}),
            );
            self.catalog.append_audit(audit).await.map_err(catalog)?;
        }
        let hold = parts.store.hold();
        let created_at = Timestamp::now();
        let scratch = new_scratch(&parts.data_dir)?;
        self.catalog
            .snapshot_into(scratch.path())
            .await
            .map_err(catalog)?;
        let path = scratch.path().to_path_buf();
        let snapshot = tokio::task::spawn_blocking(move || read_snapshot(&path))
            .await
            .expect("blocking task panicked")
            .map_err(catalog)?;
        let master_key = match parts.include_master_key {
            true => Some(read_master_key(&parts.master_key_file)?),
            false => None,
        };
        let manifest = Manifest {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            created_at: created_at.to_string(),
            coffer_version: env!("CARGO_PKG_VERSION").into(),
            catalog_schema: snapshot.schema_version,
            orgs: snapshot
                .orgs
                .iter()
                .map(|o| ManifestOrg {
                    id: o.id.to_string(),
                    slug: o.slug.clone(),
                    root_key: if o.local_root_key { "local" } else { "kms" }.into(),
                    buckets: o.buckets.clone(),
                    versions_in_buckets: o.versions_in_buckets,
                })
                .collect(),
            secrets: snapshot.secrets,
            versions: snapshot.versions,
            blobs: snapshot.blobs.len() as u64,
            master_key: master_key.is_some(),
        };
        tracing::info!(
            orgs = manifest.orgs.len(),
            blobs = manifest.blobs,
            "backup: catalog snapshot taken; streaming the archive"
        );
        let store: Arc<dyn BlobStore> = parts.store.clone();
        BackupArchive::new(manifest, scratch, master_key, snapshot.blobs, store, hold)
            .map_err(|e| Error::Internal(format!("backup: reading the snapshot: {e}")))
    }
}

/// A new private file in `dir` for the catalog snapshot (removed when the archive is done).
fn new_scratch(dir: &std::path::Path) -> Result<Scratch> {
    let path = dir.join(format!(".backup-{}.db", uuid::Uuid::new_v4().simple()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| {
            Error::Internal(format!(
                "backup: creating the snapshot file {}: {e}",
                path.display()
            ))
        })?;
    Ok(Scratch::new(path))
}

/// The master key file's bytes, as they are on disk.
fn read_master_key(path: &std::path::Path) -> Result<Zeroizing<Vec<u8>>> {
    std::fs::read(path).map(Zeroizing::new).map_err(|e| {
        Error::Internal(format!(
            "backup: reading the master key file {}: {e}",
            path.display()
        ))
    })
}
