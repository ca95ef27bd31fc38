//! Filler for the large-catalog run: writing a million secrets through HTTP takes many minutes
//! (every write is durable), so while the app is stopped the filler goes straight into its
//! SQLite catalog in one transaction, shaped exactly like what a write leaves behind — a
//! `secrets` row, its `secret_versions` row and a correctly chained `secret.write` audit event
//! (so `audit verify` still passes) — under project `FILL`, 1,000 secrets per issue. The filler
//! versions point at blobs that do not exist: they are never revealed. The secrets the benchmark
//! reveals were written through the API beforehand and have real envelopes.

use anyhow::{Context, Result};
use coffer_server::audit::{self, AuditDraft};
use coffer_server::blob::BlobKey;
use coffer_server::domain::{OrgId, SecretId, UserId};
use rusqlite::{Connection, params};
use std::path::Path;
use uuid::Uuid;

/// Secrets per filler issue.
pub const PER_ISSUE: u64 = 1000;

/// 60 arbitrary bytes, the size of a real wrapped data key.
pub fn wrapped_key(seed: u64) -> Vec<u8> {
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

/// Inserts `count` filler secrets into the catalog at `db` (org `default`, user `admin`).
pub fn fill(db: &Path, count: u64) -> Result<()> {
    let mut conn = Connection::open(db).with_context(|| format!("opening {}", db.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.execute_batch("PRAGMA foreign_keys = ON")?;
    let tx = conn.transaction()?;
    let (org, key_version): ([u8; 16], u32) = tx.query_row(
        "SELECT id, key_version FROM orgs WHERE slug = 'default'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let user: [u8; 16] = tx.query_row("SELECT id FROM users WHERE name = 'admin'", [], |r| {
        r.get(0)
    })?;
    let (mut seq, mut prev): (i64, [u8; 32]) = tx.query_row(
        "SELECT seq, hash FROM audit_events WHERE org_id = ?1 ORDER BY seq DESC LIMIT 1",
        [org],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (org_id, user_id) = (
        OrgId::from_uuid(Uuid::from_bytes(org)),
        UserId::from_uuid(Uuid::from_bytes(user)),
    );
    {
        let mut secret = tx.prepare(
            "INSERT INTO secrets (id, org_id, project, issue, name, kind, version, created_at, created_by, updated_at, updated_by) \
             VALUES (?1, ?2, 'FILL', ?3, ?4, 'password', 1, ?5, 'admin', ?5, 'admin')",
        )?;
        let mut version = tx.prepare(
            "INSERT INTO secret_versions (secret_id, version, key_version, blob_key, wrapped_key, size, created_at, created_by) \
             VALUES (?1, 1, ?2, ?3, ?4, 1024, ?5, 'admin')",
        )?;
        let mut event = tx.prepare(
            "INSERT INTO audit_events (org_id, seq, at, actor_id, actor, action, target, details, prev_hash, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for k in 0..count {
            let id = SecretId::new();
            let (issue, name) = (1 + k / PER_ISSUE, format!("f{k}"));
            let details =
                serde_json::json!({"version": 1, "kind": "password", "key_version": key_version});
            let draft = AuditDraft::new(
                org_id,
                Some(user_id),
                "admin",
                "secret.write",
                format!("FILL-{issue}/{name}"),
                details,
            );
            let at = draft.at.millis();
            secret.execute(params![id.to_bytes(), org, issue as i64, name, at])?;
            let blob = BlobKey::for_version(org_id, id, 1);
            version.execute(params![
                id.to_bytes(),
                key_version,
                blob.as_str(),
                wrapped_key(k),
                at
            ])?;
            seq += 1;
            let rec = audit::seal(&draft, seq as u64, prev);
            prev = rec.hash;
            event.execute(params![
                org,
                seq,
                at,
                user,
                rec.actor,
                rec.action,
                rec.target,
                rec.details,
                rec.prev_hash,
                rec.hash
            ])?;
        }
    }
    tx.execute(
        "UPDATE org_keys SET encryptions = encryptions + ?3 WHERE org_id = ?1 AND version = ?2",
        params![org, key_version, count as i64],
    )?;
    tx.commit()?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    Ok(())
}

/// Secrets in the catalog at `db`.
pub fn count_secrets(db: &Path) -> Result<u64> {
    let conn = Connection::open(db)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    Ok(conn.query_row("SELECT COUNT(*) FROM secrets", [], |r| r.get::<_, i64>(0))? as u64)
}
