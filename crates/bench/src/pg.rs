//! `--catalog postgres://…`: the benchmark's own PostgreSQL database per app, created on the
//! given server (whose user may `CREATE DATABASE`) and dropped again — with any connections the
//! app left open — when the run ends, also when it fails. Also the PostgreSQL form of the
//! large-catalog filler (see `seed`): the same rows, bulk-inserted with `UNNEST` batches in one
//! transaction, and the org row's chain head moved to the last filler event.

use anyhow::{Context, Result};
use coffer_server::audit::{self, AuditDraft};
use coffer_server::blob::BlobKey;
use coffer_server::domain::{OrgId, SecretId, UserId};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use uuid::Uuid;

/// Rows per `UNNEST` batch of the filler.
const BATCH: u64 = 5_000;

/// `url` pointing at database `db` instead of its own (keeps user, host, port and query).
pub fn with_database(url: &str, db: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let path = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    let query = url[path..].find('?').map_or("", |i| &url[path + i..]);
    format!("{}/{db}{query}", &url[..path])
}

/// `url` without a password, for the report and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].find(':') {
            Some(c) => format!("{}:***{}", &url[..s + 3 + c], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

/// A database of the benchmark's own; dropped when this is.
pub struct PgDb {
    server: String,
    name: String,
    /// Its URL, for the app's `[catalog]`.
    pub url: String,
}

impl PgDb {
    /// Creates `coffer_bench_<random>` on `server` (an URL of any database there).
    pub async fn create(server: &str) -> Result<PgDb> {
        let name = format!("coffer_bench_{}", Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(server).await.with_context(|| {
            format!(
                "connecting to PostgreSQL at {} (its user must be allowed to CREATE DATABASE)",
                redact(server)
            )
        })?;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .context("CREATE DATABASE")?;
        let _ = conn.close().await;
        let url = with_database(server, &name);
        Ok(PgDb {
            server: server.to_owned(),
            name,
            url,
        })
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        // Runs inside a runtime or while unwinding: do the async work on a thread of its own.
        let (server, name) = (self.server.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&server).await?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await?;
                anyhow::Ok(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!(
                "coffer-bench: could not drop database {}: {dropped:?}",
                self.name
            );
        }
    }
}

/// Secrets in the catalog at `url`.
pub async fn count_secrets(url: &str) -> Result<u64> {
    let mut conn = PgConnection::connect(url).await?;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM secrets")
        .fetch_one(&mut conn)
        .await?;
    Ok(n as u64)
}

/// Inserts `count` filler secrets into the catalog at `url` (org `default`, user `admin`),
/// shaped like `seed::fill`'s.
pub async fn fill(url: &str, count: u64) -> Result<()> {
    let mut conn = PgConnection::connect(url).await?;
    let mut tx = conn.begin().await?;
    let (org, key_version, mut seq, head): (Uuid, i64, i64, Vec<u8>) = sqlx::query_as(
        "SELECT id, key_version, audit_seq, audit_head FROM orgs WHERE slug = 'default' FOR UPDATE",
    )
    .fetch_one(&mut *tx)
    .await?;
    let user: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE name = 'admin'")
        .fetch_one(&mut *tx)
        .await?;
    let mut prev: [u8; 32] = head.try_into().map_err(|_| anyhow::anyhow!("audit head"))?;
    let (org_id, user_id) = (OrgId::from_uuid(org), UserId::from_uuid(user));
    let mut k = 0;
    while k < count {
        let n = BATCH.min(count - k);
        let mut b = Batch::default();
        for k in k..k + n {
            let id = SecretId::new();
            let (issue, name) = (1 + k / crate::seed::PER_ISSUE, format!("f{k}"));
            let details =
                serde_json::json!({"version": 1, "kind": "password", "key_version": key_version});
            let target = format!("FILL-{issue}/{name}");
            let draft = AuditDraft::new(
                org_id,
                Some(user_id),
                "admin",
                "secret.write",
                target,
                details,
            );
            seq += 1;
            let rec = audit::seal(&draft, seq as u64, prev);
            prev = rec.hash;
            b.ids.push(Uuid::from_bytes(id.to_bytes()));
            b.issues.push(issue as i64);
            b.names.push(name);
            b.ats.push(draft.at.millis());
            b.blobs
                .push(BlobKey::for_version(org_id, id, 1).as_str().to_owned());
            b.wrapped.push(crate::seed::wrapped_key(k));
            b.seqs.push(seq);
            b.targets.push(rec.target);
            b.details.push(rec.details);
            b.prevs.push(rec.prev_hash.to_vec());
            b.hashes.push(rec.hash.to_vec());
        }
        b.insert(&mut tx, org, user, key_version).await?;
        k += n;
    }
    sqlx::query("UPDATE orgs SET audit_seq = $2, audit_head = $3 WHERE id = $1")
        .bind(org)
        .bind(seq)
        .bind(prev.to_vec())
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE org_keys SET encryptions = encryptions + $3 WHERE org_id = $1 AND version = $2",
    )
    .bind(org)
    .bind(key_version)
    .bind(count as i64)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    sqlx::raw_sql("ANALYZE").execute(&mut conn).await?;
    Ok(())
}

/// One batch of filler rows, column by column.
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
    async fn insert(
        self,
        tx: &mut PgConnection,
        org: Uuid,
        user: Uuid,
        key_version: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO secrets (id, org_id, project, issue, name, kind, version, created_at, created_by, updated_at, updated_by) \
             SELECT id, $1, 'FILL', issue, name, 'password', 1, at, 'admin', at, 'admin' \
             FROM UNNEST($2::uuid[], $3::bigint[], $4::text[], $5::bigint[]) AS t(id, issue, name, at)",
        )
        .bind(org)
        .bind(&self.ids)
        .bind(&self.issues)
        .bind(&self.names)
        .bind(&self.ats)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO secret_versions (secret_id, version, key_version, blob_key, wrapped_key, size, created_at, created_by) \
             SELECT id, 1, $1, blob, wrapped, 1024, at, 'admin' \
             FROM UNNEST($2::uuid[], $3::text[], $4::bytea[], $5::bigint[]) AS t(id, blob, wrapped, at)",
        )
        .bind(key_version)
        .bind(&self.ids)
        .bind(&self.blobs)
        .bind(&self.wrapped)
        .bind(&self.ats)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO audit_events (org_id, seq, at, actor_id, actor, action, target, details, prev_hash, hash) \
             SELECT $1, seq, at, $2, 'admin', 'secret.write', target, details, prev, hash \
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
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls() {
        let s = "postgres://postgres@127.0.0.1:5432";
        assert_eq!(
            super::with_database(s, "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            super::redact("postgres://u:p@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact(s), s);
    }
}
