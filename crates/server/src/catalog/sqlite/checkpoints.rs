//! Audit chain heads and signed checkpoints on SQLite (`audit_checkpoints`, migration 7). Reads
//! run on the read pool; storing a checkpoint is one write of the group-commit writer.

use super::{map_err as e, tx::Tx};
use crate::audit::checkpoint::Checkpoint;
use crate::catalog::CatalogError;
use crate::domain::{OrgId, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};

type R<T> = Result<T, CatalogError>;

pub(super) fn head(conn: &Connection, org: OrgId) -> R<Option<(u64, [u8; 32])>> {
    conn.prepare_cached(
        "SELECT seq, hash FROM audit_events WHERE org_id = ?1 ORDER BY seq DESC LIMIT 1",
    )
    .and_then(|mut s| {
        s.query_row([org.to_bytes()], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
        })
        .optional()
    })
    .map_err(e)
}

pub(super) fn list(conn: &Connection, org: OrgId) -> R<Vec<Checkpoint>> {
    let mut s = conn
        .prepare_cached(
            "SELECT n, seq, head, at, key_version, prev, signature FROM audit_checkpoints \
             WHERE org_id = ?1 ORDER BY n",
        )
        .map_err(e)?;
    s.query_map([org.to_bytes()], |r| {
        Ok(Checkpoint {
            org,
            n: r.get::<_, i64>(0)? as u64,
            seq: r.get::<_, i64>(1)? as u64,
            head: r.get(2)?,
            at: Timestamp::from_millis(r.get(3)?),
            key_version: r.get(4)?,
            prev: r.get(5)?,
            signature: r.get(6)?,
        })
    })
    .and_then(|it| it.collect())
    .map_err(e)
}

pub(super) fn add(conn: &Tx, c: &Checkpoint) -> R<()> {
    if c.n > 1 {
        let prev: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM audit_checkpoints WHERE org_id = ?1 AND n = ?2)",
                params![c.org.to_bytes(), (c.n - 1) as i64],
                |r| r.get(0),
            )
            .map_err(e)?;
        if !prev {
            return Err(CatalogError::Refused(format!(
                "checkpoint {} does not exist",
                c.n - 1
            )));
        }
    }
    conn.execute(
        "INSERT INTO audit_checkpoints (org_id, n, seq, head, at, key_version, prev, signature) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            c.org.to_bytes(),
            c.n as i64,
            c.seq as i64,
            c.head,
            c.at.millis(),
            c.key_version,
            c.prev,
            c.signature
        ],
    )
    .map_err(e)?;
    Ok(())
}
