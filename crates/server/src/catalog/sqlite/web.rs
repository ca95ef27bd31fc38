//! [`WebCatalog`] on SQLite: `user_passwords` and `web_sessions` (migration 4). Reads run on the
//! read pool; writes run on the group-commit writer, each one savepoint with its audit event.

use super::tx::Tx;
use super::{SqliteCatalog, map_err as e, rows, writes};
use crate::audit::AuditDraft;
use crate::catalog::{CatalogError, SessionPrincipal, SessionRecord, WebCatalog};
use crate::domain::{OrgId, Timestamp, TokenId, UserId};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

type R<T> = Result<T, CatalogError>;

/// Stores `user`'s password and signs them out everywhere (no audit event: the callers add
/// theirs).
pub(super) fn store_password(conn: &Tx, user: UserId, phc: &str, at: Timestamp) -> R<()> {
    conn.execute(
        "INSERT INTO user_passwords (user_id, phc, set_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (user_id) DO UPDATE SET phc = excluded.phc, set_at = excluded.set_at",
        params![user.to_bytes(), phc, at.millis()],
    )
    .map_err(e)?;
    conn.execute(
        "UPDATE web_sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
        params![user.to_bytes(), at.millis()],
    )
    .map_err(e)?;
    Ok(())
}

fn set_password(conn: &Tx, user: UserId, phc: &str, at: Timestamp, a: &[AuditDraft]) -> R<()> {
    store_password(conn, user, phc, at)?;
    a.iter().try_for_each(|d| writes::append_audit(conn, d))
}

fn create_session(conn: &Tx, s: &SessionRecord, a: Option<&AuditDraft>) -> R<()> {
    conn.execute(
        "DELETE FROM web_sessions WHERE user_id = ?1 AND expires_at < ?2",
        params![s.user.to_bytes(), s.created_at.millis()],
    )
    .map_err(e)?;
    conn.execute(
        "INSERT INTO web_sessions (id, hash, user_id, org_id, created_at, expires_at, revoked_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            s.id.to_bytes(),
            s.hash.as_slice(),
            s.user.to_bytes(),
            s.org.map(|o| o.to_bytes()),
            s.created_at.millis(),
            s.expires_at.millis(),
            s.revoked_at.map(|t| t.millis()),
        ],
    )
    .map_err(e)?;
    a.map_or(Ok(()), |a| writes::append_audit(conn, a))
}

fn revoke_session(conn: &Tx, hash: &[u8; 32], at: Timestamp, a: Option<&AuditDraft>) -> R<bool> {
    let changed = conn
        .execute(
            "UPDATE web_sessions SET revoked_at = ?2 WHERE hash = ?1 AND revoked_at IS NULL",
            params![hash.as_slice(), at.millis()],
        )
        .map_err(e)?;
    if changed == 0 {
        return Ok(false);
    }
    if let Some(a) = a {
        writes::append_audit(conn, a)?;
    }
    Ok(true)
}

fn principal(r: &Row) -> rusqlite::Result<SessionPrincipal> {
    let hash: Vec<u8> = r.get(1)?;
    let hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| rows::bad(1, "session hash is not 32 bytes"))?;
    Ok(SessionPrincipal {
        session: SessionRecord {
            id: TokenId::from_uuid(rows::uuid_at(r, 0)?),
            hash,
            user: UserId::from_uuid(rows::uuid_at(r, 2)?),
            org: rows::opt_uuid_at(r, 3)?.map(OrgId::from_uuid),
            created_at: Timestamp::from_millis(r.get(4)?),
            expires_at: Timestamp::from_millis(r.get(5)?),
            revoked_at: r.get::<_, Option<i64>>(6)?.map(Timestamp::from_millis),
        },
        user: rows::user(r, 7)?,
        role: match r.get::<_, Option<String>>(7 + rows::USER_WIDTH)? {
            Some(_) => Some(rows::role_at(r, 7 + rows::USER_WIDTH)?),
            None => None,
        },
    })
}

fn session(conn: &Connection, hash: &[u8; 32]) -> R<Option<SessionPrincipal>> {
    let sql = format!(
        "SELECT s.id, s.hash, s.user_id, s.org_id, s.created_at, s.expires_at, s.revoked_at, {}, m.role \
         FROM web_sessions s JOIN users u ON u.id = s.user_id \
         LEFT JOIN memberships m ON m.org_id = s.org_id AND m.user_id = s.user_id WHERE s.hash = ?1",
        rows::USER_COLS
    );
    conn.query_row(&sql, [hash.as_slice()], principal)
        .optional()
        .map_err(e)
}

#[async_trait]
impl WebCatalog for SqliteCatalog {
    async fn set_password(
        &self,
        user: UserId,
        phc: String,
        at: Timestamp,
        a: Vec<AuditDraft>,
    ) -> R<()> {
        self.writer
            .write(move |c| set_password(c, user, &phc, at, &a))
            .await
    }
    async fn password_hash(&self, user: UserId) -> R<Option<String>> {
        self.read(move |c| {
            c.query_row(
                "SELECT phc FROM user_passwords WHERE user_id = ?1",
                [user.to_bytes()],
                |r| r.get(0),
            )
            .optional()
            .map_err(e)
        })
        .await
    }
    async fn create_session(&self, s: SessionRecord, a: Option<AuditDraft>) -> R<()> {
        self.writer
            .write(move |c| create_session(c, &s, a.as_ref()))
            .await
    }
    async fn session(&self, hash: &[u8; 32]) -> R<Option<SessionPrincipal>> {
        let hash = *hash;
        self.read(move |c| session(c, &hash)).await
    }
    async fn revoke_session(
        &self,
        hash: &[u8; 32],
        at: Timestamp,
        a: Option<AuditDraft>,
    ) -> R<bool> {
        let hash = *hash;
        self.writer
            .write(move |c| revoke_session(c, &hash, at, a.as_ref()))
            .await
    }
}
