//! [`WebCatalog`] on PostgreSQL: `user_passwords` and `web_sessions` (migration 4). Each write
//! is one transaction with its audit event (appending the event takes the org row's lock, as
//! everywhere); revoking is a conditional UPDATE, so two nodes signing the same session out
//! record one event.

use super::rows::{self, user_cols};
use super::tx::{self, Q, in_tx};
use super::{PostgresCatalog, writes};
use crate::audit::AuditDraft;
use crate::catalog::{CatalogError, SessionPrincipal, SessionRecord, WebCatalog};
use crate::domain::{OrgId, Timestamp, TokenId, UserId};
use async_trait::async_trait;
use sqlx::PgConnection;

type R<T> = Result<T, CatalogError>;

/// Stores `user`'s password and signs them out everywhere (no audit event: the callers add
/// theirs).
pub(super) async fn store_password(
    c: &mut PgConnection,
    user: UserId,
    phc: &str,
    at: Timestamp,
) -> Q<()> {
    sqlx::query(
        "INSERT INTO user_passwords (user_id, phc, set_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET phc = excluded.phc, set_at = excluded.set_at",
    )
    .bind(user.as_uuid())
    .bind(phc)
    .bind(at.millis())
    .execute(&mut *c)
    .await?;
    sqlx::query(
        "UPDATE web_sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user.as_uuid())
    .bind(at.millis())
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn set_password(
    c: &mut PgConnection,
    user: UserId,
    phc: &str,
    at: Timestamp,
    a: &[AuditDraft],
) -> Q<()> {
    store_password(c, user, phc, at).await?;
    for d in a {
        writes::append_audit(c, d).await?;
    }
    Ok(())
}

async fn create_session(c: &mut PgConnection, s: &SessionRecord, a: Option<&AuditDraft>) -> Q<()> {
    sqlx::query("DELETE FROM web_sessions WHERE user_id = $1 AND expires_at < $2")
        .bind(s.user.as_uuid())
        .bind(s.created_at.millis())
        .execute(&mut *c)
        .await?;
    sqlx::query(
        "INSERT INTO web_sessions (id, hash, user_id, org_id, created_at, expires_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(s.id.as_uuid())
    .bind(&s.hash[..])
    .bind(s.user.as_uuid())
    .bind(s.org.map(|o| o.as_uuid()))
    .bind(s.created_at.millis())
    .bind(s.expires_at.millis())
    .bind(s.revoked_at.map(|t| t.millis()))
    .execute(&mut *c)
    .await?;
    match a {
        Some(a) => writes::append_audit(c, a).await,
        None => Ok(()),
    }
}

async fn revoke_session(
    c: &mut PgConnection,
    hash: &[u8; 32],
    at: Timestamp,
    a: Option<&AuditDraft>,
) -> Q<bool> {
    let changed = sqlx::query(
        "UPDATE web_sessions SET revoked_at = $2 WHERE hash = $1 AND revoked_at IS NULL",
    )
    .bind(&hash[..])
    .bind(at.millis())
    .execute(&mut *c)
    .await?
    .rows_affected();
    if changed == 0 {
        return Ok(false);
    }
    if let Some(a) = a {
        writes::append_audit(c, a).await?;
    }
    Ok(true)
}

async fn session(c: &mut PgConnection, hash: &[u8; 32]) -> Q<Option<SessionPrincipal>> {
    let row = sqlx::query(concat!(
        "SELECT s.id, s.hash, s.user_id, s.org_id, s.created_at, s.expires_at, s.revoked_at, ",
        user_cols!(),
        ", m.role FROM web_sessions s JOIN users u ON u.id = s.user_id \
         LEFT JOIN memberships m ON m.org_id = s.org_id AND m.user_id = s.user_id WHERE s.hash = $1"
    ))
    .bind(&hash[..])
    .fetch_optional(c)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let stored: Vec<u8> = rows::get(&r, 1)?;
    let stored: [u8; 32] = stored
        .try_into()
        .map_err(|_| CatalogError::Corrupt("session hash is not 32 bytes".into()))?;
    let at = 7 + rows::USER_WIDTH;
    let role = match rows::get::<Option<String>>(&r, at)? {
        Some(_) => Some(rows::role_at(&r, at)?),
        None => None,
    };
    Ok(Some(SessionPrincipal {
        session: SessionRecord {
            id: TokenId::from_uuid(rows::get(&r, 0)?),
            hash: stored,
            user: UserId::from_uuid(rows::get(&r, 2)?),
            org: rows::get::<Option<uuid::Uuid>>(&r, 3)?.map(OrgId::from_uuid),
            created_at: Timestamp::from_millis(rows::get(&r, 4)?),
            expires_at: Timestamp::from_millis(rows::get(&r, 5)?),
            revoked_at: rows::get::<Option<i64>>(&r, 6)?.map(Timestamp::from_millis),
        },
        user: rows::user(&r, 7)?,
        role,
    }))
}

#[async_trait]
impl WebCatalog for PostgresCatalog {
    async fn set_password(
        &self,
        user: UserId,
        phc: String,
        at: Timestamp,
        a: Vec<AuditDraft>,
    ) -> R<()> {
        in_tx!(self, |c| set_password(c, user, &phc, at, &a).await)
    }
    async fn password_hash(&self, user: UserId) -> R<Option<String>> {
        self.read(async |c| {
            Ok(
                sqlx::query_scalar("SELECT phc FROM user_passwords WHERE user_id = $1")
                    .bind(user.as_uuid())
                    .fetch_optional(c)
                    .await?,
            )
        })
        .await
    }
    async fn create_session(&self, s: SessionRecord, a: Option<AuditDraft>) -> R<()> {
        in_tx!(self, |c| create_session(c, &s, a.as_ref()).await)
    }
    async fn session(&self, hash: &[u8; 32]) -> R<Option<SessionPrincipal>> {
        self.read(async |c| session(c, hash).await).await
    }
    async fn revoke_session(
        &self,
        hash: &[u8; 32],
        at: Timestamp,
        a: Option<AuditDraft>,
    ) -> R<bool> {
        in_tx!(self, |c| revoke_session(c, hash, at, a.as_ref()).await)
    }
}
