//! Opening the PostgreSQL catalog: connect, migrate, pool — and never print the password.
//!
//! The first connection is retried with backoff for ~10 s on errors that waiting can fix
//! (refused, reset, "starting up", too many clients), because PostgreSQL often starts alongside
//! coffer; errors that waiting cannot fix (bad password, no such database) fail at once. Every
//! error names the URL with its password replaced by `***`, and the driver's own text is
//! scrubbed of the password too. Migrations are forward-only, embedded in the binary, applied in
//! one transaction under an advisory lock (several processes may start at once: the later ones
//! find nothing to do), and recorded with a SHA-256 checksum in `schema_migrations`, so an edited
//! migration or a schema from a newer coffer is refused rather than half-understood.

use super::PostgresCatalog;
use super::group::Grouper;
use crate::catalog::CatalogError;
use crate::domain::Timestamp;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection};
use std::time::Duration;

/// Forward-only migrations: (version, SQL). Append only.
pub(super) const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/postgres/0002_byok.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/postgres/0003_storage.sql"),
    ),
    (4, include_str!("../../../migrations/postgres/0004_web.sql")),
    (
        5,
        include_str!("../../../migrations/postgres/0005_uploads.sql"),
    ),
    (
        6,
        include_str!("../../../migrations/postgres/0006_identity.sql"),
    ),
    (
        7,
        include_str!("../../../migrations/postgres/0007_audit_checkpoints.sql"),
    ),
    (
        8,
        include_str!("../../../migrations/postgres/0008_access.sql"),
    ),
    (9, include_str!("../../../migrations/postgres/0009_sso.sql")),
    (
        10,
        include_str!("../../../migrations/postgres/0010_scim.sql"),
    ),
    (
        11,
        include_str!("../../../migrations/postgres/0011_links_requests.sql"),
    ),
    (
        12,
        include_str!("../../../migrations/postgres/0012_webhooks.sql"),
    ),
    (
        13,
        include_str!("../../../migrations/postgres/0013_jira.sql"),
    ),
    (
        14,
        include_str!("../../../migrations/postgres/0014_jira_forge.sql"),
    ),
    (
        15,
        include_str!("../../../migrations/postgres/0015_storage_health.sql"),
    ),
    (
        16,
        include_str!("../../../migrations/postgres/0016_audit_copy.sql"),
    ),
];
/// A pooled connection idle this long is pinged before it is used again.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);
/// Advisory-lock key serializing migrations across processes ("coffer" + 0).
const MIGRATION_LOCK: i64 = 0x636f_6666_6572_0000;

/// `url` with any password replaced by `***` (in the userinfo and in `password=` parameters).
pub fn redact(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(start) = out.find("://").map(|i| i + 3) {
        let end = out[start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..end].rfind('@').map(|i| start + i)
            && let Some(colon) = out[start..at].find(':').map(|i| start + i)
        {
            out.replace_range(colon + 1..at, "***");
        }
    }
    let mut from = 0;
    while let Some(i) = out[from..]
        .find("password=")
        .map(|i| from + i + "password=".len())
    {
        let end = out[i..].find(['&', ' ', '#']).map_or(out.len(), |j| i + j);
        out.replace_range(i..end, "***");
        from = i + 3;
    }
    out
}

/// The userinfo password of `url`, if any.
fn password_of(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    authority[..authority.rfind('@')?]
        .split_once(':')
        .map(|(_, p)| p)
}

/// The error text with the URL's password cut out, should the driver ever echo it.
fn scrub(err: impl std::fmt::Display, url: &str) -> String {
    let text = err.to_string();
    match password_of(url) {
        Some(p) if !p.is_empty() => text.replace(p, "***"),
        _ => text,
    }
}

pub(super) async fn open(
    url: &str,
    pool_size: u32,
    patience: Duration,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
) -> Result<PostgresCatalog, CatalogError> {
    let fail = |what: String| {
        CatalogError::Unavailable(format!(
            "PostgreSQL catalog at {}: {}",
            redact(url),
            scrub(what, url)
        ))
    };
    let opts: PgConnectOptions = url.parse().map_err(|e| fail(format!("invalid URL: {e}")))?;
    // The lock-then-read pattern of the writes needs a fresh snapshot per statement: pin READ
    // COMMITTED whatever the server's default (sent in the startup packet, no extra round trip).
    let opts = opts
        .application_name("coffer")
        .options([("default_transaction_isolation", "read committed")]);
    let mut conn = connect(&opts, patience).await.map_err(fail)?;
    let migrated = migrate(&mut conn).await;
    let _ = conn.close().await;
    migrated.map_err(fail)?;
    // sqlx pings every connection it takes back (a round trip after each use) and, by
    // default, again before handing it out: a second round trip in front of every query. A
    // connection back for less than `PING_IF_IDLE_FOR` passed its release ping that recently,
    // so only longer-idle ones are pinged (sqlx's documented pattern for this).
    let pool = PgPoolOptions::new()
        .max_connections(pool_size.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(opts);
    Ok(PostgresCatalog {
        views: Grouper::new(pool.clone(), metrics.clone()),
        versions: Grouper::new(pool.clone(), metrics.clone()),
        tokens: Grouper::new(pool.clone(), metrics.clone()),
        orgs: Grouper::new(pool.clone(), metrics.clone()),
        secrets: Grouper::new(pool.clone(), metrics.clone()),
        reveals: Grouper::new(pool.clone(), metrics.clone()),
        jira_sites: Grouper::new(pool.clone(), metrics),
        pool,
    })
}

/// One connection, retried with backoff while the error is one that waiting can fix.
async fn connect(opts: &PgConnectOptions, patience: Duration) -> Result<PgConnection, String> {
    let deadline = tokio::time::Instant::now() + patience;
    let mut pause = Duration::from_millis(50);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let err = match tokio::time::timeout(left, PgConnection::connect_with(opts)).await {
            Ok(Ok(conn)) => return Ok(conn),
            Ok(Err(e)) => e,
            Err(_) => return Err(format!("no connection within {:?}", patience)),
        };
        let transient = match &err {
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut => true,
            // 57P03 cannot_connect_now (starting up), 53300 too_many_connections
            sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("57P03" | "53300")),
            _ => false,
        };
        if !transient || tokio::time::Instant::now() + pause >= deadline {
            let waited = if transient {
                format!(" (still failing after {patience:?})")
            } else {
                String::new()
            };
            return Err(format!("cannot connect: {err}{waited}"));
        }
        tracing::warn!(error = %err, "postgres catalog: not reachable yet, retrying");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

fn checksum(sql: &str) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, sql.as_bytes())
        .as_ref()
        .to_vec()
}

async fn migrate(conn: &mut PgConnection) -> Result<(), String> {
    let step = |e: sqlx::Error| e.to_string();
    let mut tx = conn.begin().await.map_err(step)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(step)?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations \
         (version bigint PRIMARY KEY, checksum bytea NOT NULL, applied_at bigint NOT NULL)",
    )
    .execute(&mut *tx)
    .await
    .map_err(step)?;
    let applied: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT version, checksum FROM schema_migrations ORDER BY version")
            .fetch_all(&mut *tx)
            .await
            .map_err(step)?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    let newest = applied.last().map_or(0, |m| m.0);
    if newest > known {
        return Err(format!(
            "the catalog has schema version {newest} but this coffer only knows up to {known}: run a newer coffer"
        ));
    }
    for (version, sum) in &applied {
        if let Some((_, sql)) = MIGRATIONS.iter().find(|m| m.0 == *version)
            && checksum(sql) != *sum
        {
            return Err(format!(
                "migration {version} differs from the one applied to this database: migrations are append-only"
            ));
        }
    }
    for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > newest) {
        sqlx::raw_sql(*sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| format!("migration {version}: {e}"))?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, checksum, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(version)
        .bind(checksum(sql))
        .bind(Timestamp::now().millis())
        .execute(&mut *tx)
        .await
        .map_err(step)?;
        tracing::info!(version, "applied catalog migration");
    }
    tx.commit().await.map_err(step)
}
