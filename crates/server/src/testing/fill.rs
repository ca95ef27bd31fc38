//! The large-catalog filler: a catalog hook for the benchmark's million-secret run. Writing that
//! many secrets through the API takes many minutes (every write is durable), so while the app is
//! stopped the filler goes straight into its catalog in one transaction, shaped exactly like what
//! a write leaves behind — a `secrets` row, its `secret_versions` row and a correctly chained
//! `secret.write` audit event (so `audit verify` still passes), and the org key's encryption
//! count — under project `FILL`, [`PER_ISSUE`] secrets per issue. The versions point at blobs
//! that do not exist: filler is listed and counted, never revealed.
//!
//! One generator ([`Rows`]) makes the rows both backends insert, and the tests below read a
//! filled catalog back through the `Catalog` API on both, so the hook cannot drift from the
//! schema the catalog reads.

use crate::audit::{self, AuditDraft, AuditRecord};
use crate::blob::BlobKey;
use crate::domain::{OrgId, OrgSlug, SecretId, UserId, UserName};
use rusqlite::params;
use sqlx::{Connection, PgConnection};
use std::path::Path;
use uuid::Uuid;

/// Secrets per filler issue.
pub const PER_ISSUE: u64 = 1000;

/// Rows per PostgreSQL `UNNEST` batch.
const BATCH: u64 = 5_000;

/// What went wrong while filling.
pub type FillError = Box<dyn std::error::Error + Send + Sync>;

/// The catalog to fill (its app stopped).
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// The SQLite catalog file.
    Sqlite(&'a Path),
    /// A PostgreSQL catalog's URL.
    Postgres(&'a str),
}

/// Inserts `count` filler secrets written by `user` into `org`.
pub async fn fill(
    target: Target<'_>,
    org: &OrgSlug,
    user: &UserName,
    count: u64,
) -> Result<(), FillError> {
    match target {
        Target::Sqlite(path) => {
            let (path, org, user) = (path.to_owned(), org.clone(), user.clone());
            tokio::task::spawn_blocking(move || fill_sqlite(&path, &org, &user, count)).await?
        }
        Target::Postgres(url) => fill_postgres(url, org, user, count).await,
    }
}

/// Secrets (of every org) in the catalog.
pub async fn count_secrets(target: Target<'_>) -> Result<u64, FillError> {
    Ok(match target {
        Target::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path)?;
            conn.busy_timeout(std::time::Duration::from_secs(30))?;
            conn.query_row("SELECT COUNT(*) FROM secrets", [], |r| r.get::<_, i64>(0))? as u64
        }
        Target::Postgres(url) => {
            let mut conn = PgConnection::connect(url).await?;
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM secrets")
                .fetch_one(&mut conn)
                .await?;
            let _ = conn.close().await;
            n as u64
        }
    })
}

/// 60 arbitrary bytes, the size of a real wrapped data key.
fn wrapped_key(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
    (0..60)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// One filler secret: its rows' values.
struct Row {
    id: SecretId,
    issue: i64,
    name: String,
    at: i64,
    blob: String,
    wrapped: Vec<u8>,
    event: AuditRecord,
}

/// The filler rows, continuing an org's audit chain from its head.
struct Rows {
    org: OrgId,
    user: UserId,
    user_name: String,
    key_version: i64,
    seq: u64,
    prev: [u8; 32],
}

impl Rows {
    /// Filler secret number `k`.
    fn row(&mut self, k: u64) -> Row {
        let id = SecretId::new();
        let (issue, name) = (1 + k / PER_ISSUE, format!("f{k}"));
        let details =
            serde_json::json!({"version": 1, "kind": "password", "key_version": self.key_version});
        let draft = AuditDraft::new(
            self.org,
            Some(self.user),
            self.user_name.as_str(),
            "secret.write",
            format!("FILL-{issue}/{name}"),
            details,
        );
        self.seq += 1;
        let event = audit::seal(&draft, self.seq, self.prev);
        self.prev = event.hash;
        Row {
            id,
            issue: issue as i64,
            name,
            at: draft.at.millis(),
            blob: BlobKey::for_version(self.org, id, 1).as_str().to_owned(),
            wrapped: wrapped_key(k),
            event,
        }
    }
}

fn fill_sqlite(path: &Path, org: &OrgSlug, user: &UserName, count: u64) -> Result<(), FillError> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.execute_batch("PRAGMA foreign_keys = ON")?;
    let tx = conn.transaction()?;
    let (org_id, key_version): ([u8; 16], i64) = tx.query_row(
        "SELECT id, key_version FROM orgs WHERE slug = ?1",
        [org.as_str()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let user_id: [u8; 16] = tx.query_row(
        "SELECT id FROM users WHERE name = ?1",
        [user.as_str()],
        |r| r.get(0),
    )?;
    let (seq, prev): (i64, [u8; 32]) = tx.query_row(
        "SELECT seq, hash FROM audit_events WHERE org_id = ?1 ORDER BY seq DESC LIMIT 1",
        [org_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut rows = Rows {
        org: OrgId::from_uuid(Uuid::from_bytes(org_id)),
        user: UserId::from_uuid(Uuid::from_bytes(user_id)),
        user_name: user.as_str().to_owned(),
        key_version,
        seq: seq as u64,
        prev,
    };
    {
        let mut secret = tx.prepare(
            "INSERT INTO secrets (id, org_id, project, issue, name, kind, version, created_at, created_by, updated_at, updated_by) \
             VALUES (?1, ?2, 'FILL', ?3, ?4, 'password', 1, ?5, ?6, ?5, ?6)",
        )?;
        let mut version = tx.prepare(
            "INSERT INTO secret_versions (secret_id, version, key_version, blob_key, wrapped_key, size, created_at, created_by) \
             VALUES (?1, 1, ?2, ?3, ?4, 1024, ?5, ?6)",
        )?;
        let mut event = tx.prepare(
            "INSERT INTO audit_events (org_id, seq, at, actor_id, actor, action, target, details, prev_hash, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for k in 0..count {
            let r = rows.row(k);
            let e = &r.event;
            secret.execute(params![
                r.id.to_bytes(),
                org_id,
                r.issue,
                r.name,
                r.at,
                e.actor
            ])?;
            version.execute(params![
                r.id.to_bytes(),
                key_version,
                r.blob,
                r.wrapped,
                r.at,
                e.actor
            ])?;
            event.execute(params![
                org_id,
                e.seq as i64,
                r.at,
                user_id,
                e.actor,
                e.action,
                e.target,
                e.details,
                e.prev_hash,
                e.hash
            ])?;
        }
    }
    tx.execute(
        "UPDATE org_keys SET encryptions = encryptions + ?3 WHERE org_id = ?1 AND version = ?2",
        params![org_id, key_version, count as i64],
    )?;
    tx.commit()?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    Ok(())
}

async fn fill_postgres(
    url: &str,
    org: &OrgSlug,
    user: &UserName,
    count: u64,
) -> Result<(), FillError> {
    let mut conn = PgConnection::connect(url).await?;
    let mut tx = conn.begin().await?;
    let (org_id, key_version, seq, head): (Uuid, i64, i64, Vec<u8>) = sqlx::query_as(
        "SELECT id, key_version, audit_seq, audit_head FROM orgs WHERE slug = $1 FOR UPDATE",
    )
    .bind(org.as_str())
    .fetch_one(&mut *tx)
    .await?;
    let user_id: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE name = $1")
        .bind(user.as_str())
        .fetch_one(&mut *tx)
        .await?;
    let mut rows = Rows {
        org: OrgId::from_uuid(org_id),
        user: UserId::from_uuid(user_id),
        user_name: user.as_str().to_owned(),
        key_version,
        seq: seq as u64,
        prev: head
            .try_into()
            .map_err(|_| "the org's audit head is not 32 bytes")?,
    };
    let mut k = 0;
    while k < count {
        let n = BATCH.min(count - k);
        let mut b = Batch::default();
        for k in k..k + n {
            b.push(rows.row(k));
        }
        b.insert(&mut tx, org_id, user_id, key_version, user.as_str())
            .await?;
        k += n;
    }
    sqlx::query("UPDATE orgs SET audit_seq = $2, audit_head = $3 WHERE id = $1")
        .bind(org_id)
        .bind(rows.seq as i64)
        .bind(rows.prev.to_vec())
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE org_keys SET encryptions = encryptions + $3 WHERE org_id = $1 AND version = $2",
    )
    .bind(org_id)
    .bind(key_version)
    .bind(count as i64)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    sqlx::raw_sql("ANALYZE").execute(&mut conn).await?;
    let _ = conn.close().await;
    Ok(())
}

/// One batch of filler rows for PostgreSQL, column by column.
#[derive(Default)]
struct Batch {
    ids: Vec<Uuid>,
    issues: Vec<i64>,
    names: Vec<String>,
    ats: Vec<i64>,
    blobs: Vec<String>,
    wrapped: Vec<Vec<u8>>,
    seqs: Vec<i64>,
    targets: Vec<String>,
    details: Vec<String>,
    prevs: Vec<Vec<u8>>,
    hashes: Vec<Vec<u8>>,
}

impl Batch {
    fn push(&mut self, r: Row) {
        self.ids.push(r.id.as_uuid());
        self.issues.push(r.issue);
        self.names.push(r.name);
        self.ats.push(r.at);
        self.blobs.push(r.blob);
        self.wrapped.push(r.wrapped);
        self.seqs.push(r.event.seq as i64);
        self.targets.push(r.event.target);
        self.details.push(r.event.details);
        self.prevs.push(r.event.prev_hash.to_vec());
        self.hashes.push(r.event.hash.to_vec());
    }

    async fn insert(
        self,
        tx: &mut PgConnection,
        org: Uuid,
        user: Uuid,
        key_version: i64,
        user_name: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO secrets (id, org_id, project, issue, name, kind, version, created_at, created_by, updated_at, updated_by) \
             SELECT id, $1, 'FILL', issue, name, 'password', 1, at, $6, at, $6 \
             FROM UNNEST($2::uuid[], $3::bigint[], $4::text[], $5::bigint[]) AS t(id, issue, name, at)",
        )
        .bind(org)
        .bind(&self.ids)
        .bind(&self.issues)
        .bind(&self.names)
        .bind(&self.ats)
        .bind(user_name)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO secret_versions (secret_id, version, key_version, blob_key, wrapped_key, size, created_at, created_by) \
             SELECT id, 1, $1, blob, wrapped, 1024, at, $6 \
             FROM UNNEST($2::uuid[], $3::text[], $4::bytea[], $5::bigint[]) AS t(id, blob, wrapped, at)",
        )
        .bind(key_version)
        .bind(&self.ids)
        .bind(&self.blobs)
        .bind(&self.wrapped)
        .bind(&self.ats)
        .bind(user_name)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO audit_events (org_id, seq, at, actor_id, actor, action, target, details, prev_hash, hash) \
             SELECT $1, seq, at, $2, $9, 'secret.write', target, details, prev, hash \
             FROM UNNEST($3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::bytea[], $8::bytea[]) \
             AS t(seq, at, target, details, prev, hash)",
        )
        .bind(org)
        .bind(user)
        .bind(&self.seqs)
        .bind(&self.ats)
        .bind(&self.targets)
        .bind(&self.details)
        .bind(&self.prevs)
        .bind(&self.hashes)
        .bind(user_name)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}
