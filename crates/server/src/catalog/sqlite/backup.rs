//! The embedded catalog's part of `coffer backup`: a consistent copy of the whole database as of
//! one moment, and what that copy references.
//!
//! The copy is made with `VACUUM INTO` on a connection of this process (no other process can
//! open the file, see [`super::process_lock`]). It runs in one read transaction, so it holds
//! exactly the commits before it and none after while the writer goes on committing, and its
//! output is a compact database with no WAL beside it. The copy is then read on its own (its own
//! file, SQLite's default VFS) to list what the backup must carry with it: the blobs of the
//! deployment's default store its versions reference — blobs are immutable, so copying them after
//! the snapshot is consistent with it — and, per org, whether its root key is the local master
//! key and which of its envelopes live in the org's own bucket instead.

use super::{map_err, open_connection};
use crate::blob::BlobKey;
use crate::catalog::{CatalogError, Result};
use crate::domain::OrgId;
use rusqlite::{Connection, OpenFlags, params};
use std::path::Path;
use uuid::Uuid;

/// What a snapshot holds, as far as a backup needs to know.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The highest migration applied to it.
    pub schema_version: u32,
    /// Every org, by slug.
    pub orgs: Vec<SnapshotOrg>,
    /// Live (not destroyed) secrets, soft-deleted ones included.
    pub secrets: u64,
    /// Versions of those secrets, wherever their envelopes are.
    pub versions: u64,
    /// The envelopes in the deployment's default store that versions point at, by key.
    pub blobs: Vec<SnapshotBlob>,
}

/// One org of a snapshot.
#[derive(Clone, Debug)]
pub struct SnapshotOrg {
    /// Id.
    pub id: OrgId,
    /// Slug.
    pub slug: String,
    /// Whether every org-key version has a copy wrapped by the local master key (false: some
    /// are wrapped only by the org's own KMS keys — BYOK).
    pub local_root_key: bool,
    /// The org's own buckets holding some of its envelopes, or taking its new ones.
    pub buckets: Vec<String>,
    /// Versions whose envelope is in one of those buckets (not in the default store).
    pub versions_in_buckets: u64,
}

/// One envelope of the default store.
#[derive(Clone, Debug)]
pub struct SnapshotBlob {
    /// Its key.
    pub key: BlobKey,
    /// Its length in bytes (plaintext size plus the envelope's overhead).
    pub len: u64,
}

/// Copies the catalog at `db` into `dest`, which must not exist or be empty. Blocking.
pub(super) fn snapshot(db: &Path, dest: &Path) -> Result<()> {
    let dest = dest.to_str().ok_or_else(|| {
        CatalogError::Unavailable(format!("{} is not a UTF-8 path", dest.display()))
    })?;
    // Opened read-write because the one-process VFS treats read-only connections as outsiders;
    // VACUUM INTO only reads the main database.
    let conn = open_connection(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(map_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(map_err)?;
    conn.execute("VACUUM INTO ?1", params![dest])
        .map_err(map_err)?;
    Ok(())
}

/// Reads what the snapshot at `path` references. Blocking.
pub fn read_snapshot(path: &Path) -> Result<Snapshot> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(map_err)?;
    // A plain rollback-journal file, so the archive holds one file and nothing beside it.
    conn.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))
        .map_err(map_err)?;
    let schema_version: u32 = conn
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    let count = |sql: &str| -> Result<u64> {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(map_err)
    };
    let secrets = count("SELECT COUNT(*) FROM secrets WHERE destroyed = 0")?;
    let versions = count("SELECT COUNT(*) FROM secret_versions")?;
    let mut orgs = Vec::new();
    {
        let mut s = conn
            .prepare(
                "SELECT o.id, o.slug,
                    NOT EXISTS (SELECT 1 FROM org_keys k WHERE k.org_id = o.id AND NOT EXISTS
                        (SELECT 1 FROM org_key_wraps w WHERE w.org_id = k.org_id
                            AND w.version = k.version AND w.provider = 'local')),
                    (SELECT COUNT(*) FROM secret_versions v JOIN secrets s ON s.id = v.secret_id
                        WHERE s.org_id = o.id AND v.storage_id IS NOT NULL)
                 FROM orgs o ORDER BY o.slug",
            )
            .map_err(map_err)?;
        let rows = s
            .query_map([], |r| {
                Ok(SnapshotOrg {
                    id: OrgId::from_uuid(Uuid::from_bytes(r.get::<_, [u8; 16]>(0)?)),
                    slug: r.get(1)?,
                    local_root_key: r.get(2)?,
                    buckets: Vec::new(),
                    versions_in_buckets: r.get::<_, i64>(3)? as u64,
                })
            })
            .map_err(map_err)?;
        for org in rows {
            orgs.push(org.map_err(map_err)?);
        }
    }
    {
        let mut s = conn
            .prepare(
                "SELECT DISTINCT l.bucket FROM storage_locations l WHERE l.org_id = ?1 AND (
                    l.id = (SELECT storage_id FROM orgs WHERE id = ?1)
                    OR l.id IN (SELECT v.storage_id FROM secret_versions v
                        JOIN secrets s ON s.id = v.secret_id WHERE s.org_id = ?1))
                 ORDER BY l.bucket",
            )
            .map_err(map_err)?;
        for org in &mut orgs {
            let buckets = s
                .query_map(params![org.id.to_bytes()], |r| r.get::<_, String>(0))
                .map_err(map_err)?;
            for bucket in buckets {
                org.buckets.push(bucket.map_err(map_err)?);
            }
        }
    }
    let mut blobs = Vec::new();
    {
        let mut s = conn
            .prepare(
                "SELECT blob_key, size FROM secret_versions WHERE storage_id IS NULL ORDER BY blob_key",
            )
            .map_err(map_err)?;
        let rows = s
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(map_err)?;
        for row in rows {
            let (key, size) = row.map_err(map_err)?;
            let key = BlobKey::parse(&key).ok_or_else(|| {
                CatalogError::Corrupt(format!("a version's blob key {key:?} is not a valid key"))
            })?;
            blobs.push(SnapshotBlob {
                key,
                len: size as u64 + coffer_envelope::OVERHEAD as u64,
            });
        }
    }
    Ok(Snapshot {
        schema_version,
        orgs,
        secrets,
        versions,
        blobs,
    })
}
