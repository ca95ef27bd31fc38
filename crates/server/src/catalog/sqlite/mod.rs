//! The SQLite catalog: the embedded default, one file under the data directory.
//!
//! Shape, and why: SQLite allows one writer at a time and each durable commit costs an fsync
//! (~3 ms here), so all writes go through a single writer thread that group-commits whatever is
//! queued (see [`writer`]); reads run on a small pool of read-only connections that WAL lets
//! proceed during commits. `synchronous = FULL` makes every acknowledged write survive power
//! loss; a reveal's view count and audit event are answered once committed and reach the disk
//! a few ms behind it (see [`wal_sync`]). rusqlite (not sqlx) because SQLite calls are
//! synchronous microsecond-scale work: running them on our own threads avoids an async
//! round-trip per query. The two reads every reveal makes are cached in memory ([`read_cache`]),
//! which is sound because one process owns the file ([`process_lock`]). Schema changes are
//! forward-only migrations in `migrations/sqlite/`, recorded in `schema_migrations`.

mod access;
mod audit_copy;
pub mod backup;
mod byok;
mod byok_reads;
mod checkpointer;
mod checkpoints;
mod identity;
mod jira;
mod links;
mod process_lock;
mod read_cache;
mod reads;
mod rows;
mod scim;
mod sso;
mod storage;
mod storage_health;
mod tx;
mod uploads;
mod wal_sync;
mod web;
mod webhooks;
mod writer;
mod writes;

use crate::audit::checkpoint::Checkpoint;
use crate::audit::{AuditDraft, AuditRecord};
use crate::catalog::{
    AuditFilter, Catalog, CatalogError, MemberRecord, NewOrg, NewVersion, OrgRecord, Principal,
    Result, RevealTarget, SecretFilter, SecretRecord, StoredBlob, TokenRecord, UserRecord,
    VersionRecord, Views,
};
use crate::domain::{OrgId, OrgSlug, OrgStatus, Scope, SecretId, SecretName, Timestamp, TokenId};
use crate::keys::OrgKeyWrap;
use async_trait::async_trait;
use read_cache::ReadCache;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use writer::{Changes, Durability, Undo, Writer};

/// SQLite's unix VFS in its one-process form, for every connection to a catalog file. The first
/// connection takes one exclusive `fcntl` lock on the file for the whole process, and from then
/// on SQLite's file and WAL-index locks are taken in memory, with no system call, and the
/// WAL-index lives in this process's heap instead of a `-shm` file. With the default `unix`
/// VFS every transaction made ~6 `fcntl` calls, 11% of the writer's CPU at half load
/// (docs/performance.md). One process per catalog is already the rule
/// ([`process_lock`]); the cost is that no other program, the `sqlite3` shell included, can
/// open the file while Coffer runs.
const VFS: &str = "unix-excl";

/// Opens a connection to the catalog file at `path` (see [`VFS`]).
fn open_connection(path: &Path, flags: OpenFlags) -> rusqlite::Result<Connection> {
    Connection::open_with_flags_and_vfs(path, flags, VFS)
}

/// Read-cache entries (of each kind) unless configured otherwise (`catalog.cache_entries`).
pub const DEFAULT_CACHE_ENTRIES: u64 = 10_000;

/// Forward-only migrations: (version, SQL). Append only.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../../../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../../../migrations/sqlite/0002_byok.sql")),
    (
        3,
        include_str!("../../../migrations/sqlite/0003_storage.sql"),
    ),
    (4, include_str!("../../../migrations/sqlite/0004_web.sql")),
    (
        5,
        include_str!("../../../migrations/sqlite/0005_uploads.sql"),
    ),
    (
        6,
        include_str!("../../../migrations/sqlite/0006_identity.sql"),
    ),
    (
        7,
        include_str!("../../../migrations/sqlite/0007_audit_checkpoints.sql"),
    ),
    (
        8,
        include_str!("../../../migrations/sqlite/0008_access.sql"),
    ),
    (9, include_str!("../../../migrations/sqlite/0009_sso.sql")),
    (10, include_str!("../../../migrations/sqlite/0010_scim.sql")),
    (
        11,
        include_str!("../../../migrations/sqlite/0011_links_requests.sql"),
    ),
    (
        12,
        include_str!("../../../migrations/sqlite/0012_webhooks.sql"),
    ),
    (13, include_str!("../../../migrations/sqlite/0013_jira.sql")),
    (
        14,
        include_str!("../../../migrations/sqlite/0014_jira_forge.sql"),
    ),
    (
        15,
        include_str!("../../../migrations/sqlite/0015_storage_health.sql"),
    ),
    (
        16,
        include_str!("../../../migrations/sqlite/0016_audit_copy.sql"),
    ),
];

pub(super) fn map_err(err: rusqlite::Error) -> CatalogError {
    use rusqlite::Error as E;
    match err {
        E::QueryReturnedNoRows => CatalogError::NotFound,
        E::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
        {
            CatalogError::NotFound
        }
        // A trigger keeping one of the identity rules (migration 6) refused the row.
        E::SqliteFailure(f, msg) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_TRIGGER => {
            CatalogError::Refused(msg.unwrap_or_else(|| "refused by a catalog rule".into()))
        }
        E::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            CatalogError::AlreadyExists
        }
        E::FromSqlConversionFailure(..)
        | E::InvalidColumnType(..)
        | E::IntegralValueOutOfRange(..) => CatalogError::Corrupt(err.to_string()),
        other => CatalogError::Unavailable(other.to_string()),
    }
}

/// The SQLite catalog.
pub struct SqliteCatalog {
    writer: Writer,
    readers: Arc<ReaderPool>,
    cache: Arc<ReadCache>,
    /// Held while open; dropped last, after the writer has finished.
    _lock: process_lock::ProcessLock,
}

/// At most `readers` read connections, each opened once and reused: a read waits for a permit
/// rather than opening (and parsing the schema of) a fresh connection under load.
struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl ReaderPool {
    fn open_conn(&self) -> Result<Connection> {
        // Opened read-write, because the one-process VFS treats read-only connections as
        // outsiders that lock through the kernel; `query_only` keeps them from writing.
        let conn = open_connection(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(map_err)?;
        conn.execute_batch("PRAGMA query_only = ON")
            .map_err(map_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(map_err)?;
        Ok(conn)
    }
}

/// Opens `path` for writing, creating it readable by this user only if it does not exist.
fn open_private(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| CatalogError::Unavailable(format!("creating {}: {e}", path.display())))
}

fn open_writer(path: &Path) -> Result<Connection> {
    if !path.exists() {
        // Create the file private before SQLite does (its -wal file copies this mode).
        open_private(path)?;
    }
    let conn = open_connection(path, OpenFlags::default()).map_err(map_err)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
    )
    .map_err(map_err)?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT")
        .map_err(map_err)?;
    let applied: u32 = conn
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if applied > known {
        return Err(CatalogError::Unavailable(format!(
            "the catalog has schema version {applied} but this coffer only knows up to {known}: run a newer coffer"
        )));
    }
    // Foreign keys are off while a migration runs, so one may rebuild a table others refer to
    // (SQLite's way of changing a column's constraints); each is checked before it commits.
    // The pragma is a no-op inside a transaction, hence out here.
    conn.execute_batch("PRAGMA foreign_keys = OFF")
        .map_err(map_err)?;
    let result = MIGRATIONS
        .iter()
        .filter(|(v, _)| *v > applied)
        .try_for_each(|(version, sql)| apply_migration(conn, *version, sql));
    conn.execute_batch("PRAGMA foreign_keys = ON")
        .map_err(map_err)?;
    result
}

fn apply_migration(conn: &Connection, version: u32, sql: &str) -> Result<()> {
    let tx = conn.unchecked_transaction().map_err(map_err)?;
    tx.execute_batch(sql).map_err(map_err)?;
    let dangling: Option<String> = tx
        .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
        .optional()
        .map_err(map_err)?;
    if let Some(table) = dangling {
        return Err(CatalogError::Corrupt(format!(
            "migration {version} would leave a row of `{table}` pointing at nothing"
        )));
    }
    tx.execute(
        "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
        rusqlite::params![version, Timestamp::now().millis()],
    )
    .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    tracing::info!(version, "applied catalog migration");
    Ok(())
}

impl SqliteCatalog {
    /// Opens (creating and migrating) the catalog at `path` with up to `readers` idle read
    /// connections and the default read cache.
    pub async fn open(path: &Path, readers: usize) -> Result<Self> {
        Self::open_measured(path, readers, DEFAULT_CACHE_ENTRIES, Default::default()).await
    }

    /// Like [`Self::open`] with a read cache of `cache_entries` (0: none), counting the writer's
    /// group commits and the cache's hits in `metrics`.
    pub async fn open_measured(
        path: &Path,
        readers: usize,
        cache_entries: u64,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Result<Self> {
        let path = path.to_path_buf();
        let p = path.clone();
        let (lock, conn) = tokio::task::spawn_blocking(move || -> Result<_> {
            let lock = process_lock::acquire(&p)?;
            let conn = open_writer(&p)?;
            migrate(&conn)?;
            Ok((lock, conn))
        })
        .await
        .expect("blocking task panicked")?;
        let cache = Arc::new(ReadCache::new(cache_entries, &metrics));
        Ok(Self {
            writer: Writer::start(conn, metrics, cache.clone()),
            readers: Arc::new(ReaderPool {
                path,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(tokio::sync::Semaphore::new(readers.max(1))),
            }),
            cache,
            _lock: lock,
        })
    }

    /// A point read (one indexed lookup, microseconds from the page cache) on the calling
    /// task's thread with a pooled connection. Handing such a read to another thread costs
    /// more than the read itself: with `spawn_blocking` the hand-offs were most of a reveal's
    /// wall time (docs/performance.md). Scans (lists, audit events) go through [`Self::read`].
    async fn point_read<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&Connection) -> Result<T>,
    {
        let pool = &self.readers;
        let _permit = pool
            .permits
            .acquire()
            .await
            .expect("the reader semaphore is never closed");
        let conn = pool.idle.lock().expect("reader pool poisoned").pop();
        let conn = match conn {
            Some(c) => c,
            None => pool.open_conn()?,
        };
        let result = f(&conn);
        pool.idle.lock().expect("reader pool poisoned").push(conn);
        result
    }

    /// A read that may take a while, on tokio's blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let pool = self.readers.clone();
        let permit = pool
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the reader semaphore is never closed");
        tokio::task::spawn_blocking(move || {
            let _permit = permit; // held until the connection is back in `idle`
            let conn = pool.idle.lock().expect("reader pool poisoned").pop();
            let conn = match conn {
                Some(c) => c,
                None => pool.open_conn()?,
            };
            let result = f(&conn);
            pool.idle.lock().expect("reader pool poisoned").push(conn);
            result
        })
        .await
        .expect("blocking task panicked")
    }
}

#[async_trait]
impl Catalog for SqliteCatalog {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn bootstrap(
        &self,
        org: NewOrg,
        owner: UserRecord,
        token: TokenRecord,
        audit: Vec<AuditDraft>,
    ) -> Result<bool> {
        self.writer
            .write(move |c| writes::bootstrap(c, &org, &owner, &token, &audit))
            .await
    }
    async fn create_org(&self, org: NewOrg, audit: AuditDraft) -> Result<OrgRecord> {
        let id = org.id;
        self.writer
            .write(move |c| {
                writes::create_org(c, &org, &audit).and_then(|()| reads::org_by_id(c, id))
            })
            .await
    }
    async fn org_by_slug(&self, slug: &OrgSlug) -> Result<OrgRecord> {
        let slug = slug.clone();
        self.point_read(move |c| reads::org_by_slug(c, &slug)).await
    }
    async fn org_by_id(&self, id: OrgId) -> Result<OrgRecord> {
        self.point_read(move |c| reads::org_by_id(c, id)).await
    }
    async fn list_orgs(&self) -> Result<Vec<OrgRecord>> {
        self.read(reads::list_orgs).await
    }
    async fn set_org_status(
        &self,
        org: OrgId,
        status: OrgStatus,
        reason: Option<String>,
        audit: AuditDraft,
    ) -> Result<()> {
        self.writer
            .write(move |c| writes::set_org_status(c, org, status, reason.as_deref(), &audit))
            .await
    }
    async fn org_key_wraps(&self, org: OrgId, version: u32) -> Result<Vec<OrgKeyWrap>> {
        self.read(move |c| reads::org_key_wraps(c, org, version))
            .await
    }
    async fn add_org_key(
        &self,
        org: OrgId,
        version: u32,
        wraps: Vec<OrgKeyWrap>,
        audit: AuditDraft,
    ) -> Result<()> {
        self.writer
            .write(move |c| writes::add_org_key(c, org, version, &wraps, &audit))
            .await
    }
    async fn org_key_encryptions(&self, org: OrgId, version: u32) -> Result<u64> {
        self.read(move |c| reads::org_key_encryptions(c, org, version))
            .await
    }
    async fn list_members(&self, org: OrgId) -> Result<Vec<MemberRecord>> {
        self.read(move |c| reads::list_members(c, org)).await
    }
    async fn create_token(&self, token: TokenRecord, audit: Option<AuditDraft>) -> Result<()> {
        self.writer
            .write(move |c| writes::create_token(c, &token, audit.as_ref()))
            .await
    }
    async fn authenticate(&self, hash: &[u8; 32]) -> Result<Option<Principal>> {
        if let Some(hit) = self.cache.principal(hash) {
            return Ok(Some(hit));
        }
        let generation = self.cache.generation();
        let found = self.point_read(|c| reads::authenticate(c, hash)).await?;
        if let Some(p) = &found {
            self.cache.put_principal(*hash, generation, p);
        }
        Ok(found)
    }
    async fn list_tokens(&self, org: Option<OrgId>) -> Result<Vec<TokenRecord>> {
        self.read(move |c| reads::list_tokens(c, org)).await
    }
    async fn token(&self, org: Option<OrgId>, id: TokenId) -> Result<TokenRecord> {
        self.point_read(move |c| reads::token(c, org, id)).await
    }
    async fn revoke_token(
        &self,
        org: Option<OrgId>,
        id: TokenId,
        at: Timestamp,
        audit: Option<AuditDraft>,
    ) -> Result<TokenRecord> {
        self.writer
            .write(move |c| writes::revoke_token(c, org, id, at, audit.as_ref()))
            .await
    }
    async fn secret(&self, org: OrgId, scope: &Scope, name: &SecretName) -> Result<SecretRecord> {
        let (scope, name) = (scope.clone(), name.clone());
        self.point_read(move |c| reads::secret(c, org, &scope, &name))
            .await
    }
    async fn list_secrets(&self, org: OrgId, filter: &SecretFilter) -> Result<Vec<SecretRecord>> {
        let filter = filter.clone();
        self.read(move |c| reads::list_secrets(c, org, &filter))
            .await
    }
    async fn version(&self, secret: SecretId, version: u32) -> Result<VersionRecord> {
        self.point_read(move |c| reads::version(c, secret, version))
            .await
    }
    async fn reveal_target(
        &self,
        slug: &OrgSlug,
        scope: &Scope,
        name: &SecretName,
        version: Option<u32>,
    ) -> Result<RevealTarget> {
        let key = read_cache::TargetRef(slug, scope, name, version);
        if let Some(hit) = self.cache.target(&key) {
            return Ok(hit);
        }
        let generation = self.cache.generation();
        let target = self
            .point_read(|c| reads::reveal_target(c, slug, scope, name, version))
            .await?;
        self.cache.put_target(key.to_key(), generation, &target);
        Ok(target)
    }
    async fn versions(&self, secret: SecretId) -> Result<Vec<VersionRecord>> {
        self.read(move |c| reads::versions(c, secret)).await
    }
    async fn put_version(&self, v: NewVersion, audit: AuditDraft) -> Result<SecretRecord> {
        self.writer
            .write(move |c| writes::put_version(c, &v, &audit))
            .await
    }
    async fn record_view(&self, secret: SecretId, audit: AuditDraft) -> Result<Views> {
        // A reveal is answered once its view count and audit event are committed; they reach
        // the disk a few ms later (see `writer`). A view-limited secret's count is on disk first,
        // so losing power can never hand out a view beyond its limit.
        self.writer
            .write_with(
                Durability::Committed,
                Changes::ViewsAndAudit,
                Undo::FailsBeforeChanging,
                move |c| {
                    let views = writes::record_view(c, secret, &audit)?;
                    let needs = match views.limit {
                        Some(_) => Durability::Synced,
                        None => Durability::Committed,
                    };
                    Ok((views, needs))
                },
            )
            .await
    }
    async fn set_deleted(
        &self,
        secret: SecretId,
        at: Option<Timestamp>,
        audit: AuditDraft,
    ) -> Result<SecretRecord> {
        self.writer
            .write(move |c| writes::set_deleted(c, secret, at, &audit))
            .await
    }
    async fn destroy(&self, secret: SecretId, audit: AuditDraft) -> Result<Vec<StoredBlob>> {
        self.writer
            .write(move |c| writes::destroy(c, secret, &audit))
            .await
    }
    async fn blob_referenced(&self, blob: &StoredBlob) -> Result<bool> {
        let blob = blob.clone();
        self.read(move |c| reads::blob_referenced(c, &blob)).await
    }
    async fn append_audit(&self, audit: AuditDraft) -> Result<()> {
        // Durable before the answer like any write, but an event alone changes nothing the
        // read cache holds: a flood of failed sign-ins must not keep emptying it.
        self.writer
            .write_with(
                Durability::Synced,
                Changes::ViewsAndAudit,
                Undo::FailsBeforeChanging,
                move |c| writes::append_audit(c, &audit).map(|()| ((), Durability::Synced)),
            )
            .await
    }
    async fn audit_events(&self, org: OrgId, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let filter = filter.clone();
        self.read(move |c| reads::audit_events(c, org, &filter))
            .await
    }
    async fn audit_head(&self, org: OrgId) -> Result<Option<(u64, [u8; 32])>> {
        self.point_read(move |c| checkpoints::head(c, org)).await
    }
    async fn audit_checkpoints(&self, org: OrgId) -> Result<Vec<Checkpoint>> {
        self.read(move |c| checkpoints::list(c, org)).await
    }
    async fn add_audit_checkpoint(&self, c: Checkpoint) -> Result<()> {
        self.writer.write(move |tx| checkpoints::add(tx, &c)).await
    }
    async fn snapshot_into(&self, dest: &Path) -> Result<()> {
        let (db, dest) = (self.readers.path.clone(), dest.to_path_buf());
        tokio::task::spawn_blocking(move || backup::snapshot(&db, &dest))
            .await
            .expect("blocking task panicked")
    }
}

#[cfg(test)]
mod tests;
