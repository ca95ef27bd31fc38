//! [`LinkCatalog`] and [`RequestCatalog`] on PostgreSQL: `links` and `secret_requests`
//! (migration 11). Opening a link and fulfilling a request lock the row (`FOR UPDATE`) before
//! deciding, so of two nodes racing for a link's last view or a request's one value exactly one
//! wins and the other sees the committed row. Every write is one transaction with its audit
//! events.

use super::rows::{self, get};
use super::tx::{self, Q, in_tx};
use super::{PostgresCatalog, secret_writes, writes};
use crate::audit::AuditDraft;
use crate::catalog::{
    CatalogError, LinkCatalog, LinkOpen, LinkRecord, NewVersion, RequestCatalog, RequestRecord,
    RequestState, Result, SecretFacts, SecretRecord, open_refusal, request_state,
};
use crate::domain::{
    LinkId, OrgId, RequestId, Scope, SecretId, SecretName, Timestamp, TokenId, UserId,
};
use async_trait::async_trait;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

macro_rules! link_cols {
    () => {
        "id, org_id, secret_id, version, target, open_hash, created_by_id, created_by, \
         created_with, created_at, expires_at, max_views, views, revoked_at"
    };
}

fn hash_at(row: &PgRow, col: usize) -> Result<[u8; 32]> {
    let bytes: Vec<u8> = get(row, col)?;
    bytes
        .try_into()
        .map_err(|_| rows::corrupt(col, "a hash is not 32 bytes"))
}

fn link(row: &PgRow) -> Result<LinkRecord> {
    Ok(LinkRecord {
        id: LinkId::from_uuid(get(row, 0)?),
        org: OrgId::from_uuid(get(row, 1)?),
        secret: SecretId::from_uuid(get(row, 2)?),
        version: rows::u32_at(row, 3)?,
        target: get(row, 4)?,
        open_hash: hash_at(row, 5)?,
        created_by_id: get::<Option<uuid::Uuid>>(row, 6)?.map(UserId::from_uuid),
        created_by: get(row, 7)?,
        created_with: get::<Option<uuid::Uuid>>(row, 8)?.map(TokenId::from_uuid),
        created_at: rows::ts(row, 9)?,
        expires_at: rows::ts(row, 10)?,
        max_views: rows::u32_at(row, 11)?,
        views: rows::u32_at(row, 12)?,
        revoked_at: rows::opt_ts(row, 13)?,
    })
}

macro_rules! request_cols {
    () => {
        "id, org_id, project, issue, name, note, token_hash, created_by_id, created_by, \
         created_with, created_at, expires_at, public_key, key_version, wrapped_key, revoked_at, \
         fulfilled_at, fulfilled_version"
    };
}

fn request(row: &PgRow) -> Result<RequestRecord> {
    let project: String = get(row, 2)?;
    let issue = rows::u32_at(row, 3)?;
    Ok(RequestRecord {
        id: RequestId::from_uuid(get(row, 0)?),
        org: OrgId::from_uuid(get(row, 1)?),
        scope: Scope::from_parts(&project, issue).map_err(|x| rows::corrupt(2, x))?,
        name: rows::parse(row, 4, |s| SecretName::parse(s).ok())?,
        note: get(row, 5)?,
        token_hash: hash_at(row, 6)?,
        created_by_id: get::<Option<uuid::Uuid>>(row, 7)?.map(UserId::from_uuid),
        created_by: get(row, 8)?,
        created_with: get::<Option<uuid::Uuid>>(row, 9)?.map(TokenId::from_uuid),
        created_at: rows::ts(row, 10)?,
        expires_at: rows::ts(row, 11)?,
        public_key: get(row, 12)?,
        key_version: rows::u32_at(row, 13)?,
        wrapped_key: get(row, 14)?,
        revoked_at: rows::opt_ts(row, 15)?,
        fulfilled_at: rows::opt_ts(row, 16)?,
        fulfilled_version: rows::opt_u32_at(row, 17)?,
    })
}

async fn link_by_id(c: &mut PgConnection, id: LinkId, lock: bool) -> Q<LinkRecord> {
    let sql = if lock {
        concat!(
            "SELECT ",
            link_cols!(),
            " FROM links WHERE id = $1 FOR UPDATE"
        )
    } else {
        concat!("SELECT ", link_cols!(), " FROM links WHERE id = $1")
    };
    let row = sqlx::query(sql).bind(id.as_uuid()).fetch_one(c).await?;
    Ok(link(&row)?)
}

async fn create_link(
    c: &mut PgConnection,
    l: &LinkRecord,
    envelope: &[u8],
    audit: &AuditDraft,
) -> Q<()> {
    sqlx::query(concat!(
        "INSERT INTO links (",
        link_cols!(),
        ", envelope) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ))
    .bind(l.id.as_uuid())
    .bind(l.org.as_uuid())
    .bind(l.secret.as_uuid())
    .bind(i64::from(l.version))
    .bind(&l.target)
    .bind(&l.open_hash[..])
    .bind(l.created_by_id.map(|u| u.as_uuid()))
    .bind(&l.created_by)
    .bind(l.created_with.map(|t| t.as_uuid()))
    .bind(l.created_at.millis())
    .bind(l.expires_at.millis())
    .bind(i64::from(l.max_views))
    .bind(i64::from(l.views))
    .bind(l.revoked_at.map(Timestamp::millis))
    .bind(envelope)
    .execute(&mut *c)
    .await?;
    writes::append_audit(c, audit).await
}

async fn open_link(
    c: &mut PgConnection,
    id: LinkId,
    now: Timestamp,
    audit: &AuditDraft,
) -> Q<LinkOpen> {
    let mut l = link_by_id(c, id, true).await?;
    let secret =
        sqlx::query("SELECT deleted_at, expires_at FROM secrets WHERE id = $1 AND NOT destroyed")
            .bind(l.secret.as_uuid())
            .fetch_optional(&mut *c)
            .await?;
    let Some(secret) = secret else {
        return Err(CatalogError::NotFound.into());
    };
    let facts = SecretFacts {
        deleted: rows::opt_ts(&secret, 0)?.is_some(),
        expires_at: rows::opt_ts(&secret, 1)?,
    };
    // The copy is read before the statement that may drop it (RETURNING shows the new row).
    let envelope: Option<Vec<u8>> = sqlx::query_scalar("SELECT envelope FROM links WHERE id = $1")
        .bind(id.as_uuid())
        .fetch_one(&mut *c)
        .await?;
    if let Some(refusal) = open_refusal(&l, &facts, envelope.is_some(), now) {
        return Ok(LinkOpen::Refused(refusal));
    }
    l.views += 1;
    sqlx::query(
        "UPDATE links SET views = $2, \
         envelope = CASE WHEN $2 >= max_views THEN NULL ELSE envelope END WHERE id = $1",
    )
    .bind(id.as_uuid())
    .bind(i64::from(l.views))
    .execute(&mut *c)
    .await?;
    writes::append_audit(c, audit).await?;
    Ok(LinkOpen::Opened {
        link: Box::new(l),
        envelope: envelope.unwrap_or_default(),
    })
}

/// Revokes the open links and requests made by `user` (in `org`, or everywhere), or with the
/// credential `token`: what revoking credentials takes with it.
pub(super) async fn revoke_outside_shares(
    c: &mut PgConnection,
    made_by: Option<(UserId, Option<OrgId>)>,
    token: Option<TokenId>,
    at: Timestamp,
) -> Q<()> {
    let (user, org) = made_by.map_or((None, None), |(u, o)| {
        (Some(u.as_uuid()), o.map(|o| o.as_uuid()))
    });
    let token = token.map(|t| t.as_uuid());
    sqlx::query(
        "UPDATE links SET revoked_at = $4, envelope = NULL WHERE revoked_at IS NULL \
         AND ((created_by_id = $1 AND ($2::uuid IS NULL OR org_id = $2)) OR created_with = $3)",
    )
    .bind(user)
    .bind(org)
    .bind(token)
    .bind(at.millis())
    .execute(&mut *c)
    .await?;
    sqlx::query(
        "UPDATE secret_requests SET revoked_at = $4, wrapped_key = ''::bytea \
         WHERE revoked_at IS NULL AND fulfilled_at IS NULL \
         AND ((created_by_id = $1 AND ($2::uuid IS NULL OR org_id = $2)) OR created_with = $3)",
    )
    .bind(user)
    .bind(org)
    .bind(token)
    .bind(at.millis())
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Revokes the open requests for the name of `secret` (it is being destroyed).
pub(super) async fn revoke_requests_for(
    c: &mut PgConnection,
    secret: SecretId,
    at: Timestamp,
) -> Q<()> {
    sqlx::query(
        "UPDATE secret_requests r SET revoked_at = $2, wrapped_key = ''::bytea FROM secrets s \
         WHERE s.id = $1 AND r.org_id = s.org_id AND r.project = s.project AND r.issue = s.issue \
         AND r.name = s.name AND r.revoked_at IS NULL AND r.fulfilled_at IS NULL",
    )
    .bind(secret.as_uuid())
    .bind(at.millis())
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn purge(c: &mut PgConnection, before: Timestamp) -> Q<u64> {
    let links = sqlx::query(
        "UPDATE links SET envelope = NULL WHERE envelope IS NOT NULL AND expires_at < $1",
    )
    .bind(before.millis())
    .execute(&mut *c)
    .await?
    .rows_affected();
    let requests = sqlx::query(
        "UPDATE secret_requests SET wrapped_key = ''::bytea WHERE length(wrapped_key) > 0 \
         AND (fulfilled_at IS NOT NULL OR revoked_at IS NOT NULL OR expires_at < $1)",
    )
    .bind(before.millis())
    .execute(&mut *c)
    .await?
    .rows_affected();
    Ok(links + requests)
}

async fn revoke_link(
    c: &mut PgConnection,
    org: OrgId,
    id: LinkId,
    at: Timestamp,
    audit: &AuditDraft,
) -> Q<LinkRecord> {
    let row = sqlx::query(concat!(
        "UPDATE links SET revoked_at = COALESCE(revoked_at, $3), envelope = NULL \
         WHERE id = $1 AND org_id = $2 RETURNING ",
        link_cols!()
    ))
    .bind(id.as_uuid())
    .bind(org.as_uuid())
    .bind(at.millis())
    .fetch_optional(&mut *c)
    .await?;
    let row = row.ok_or(CatalogError::NotFound)?;
    writes::append_audit(c, audit).await?;
    Ok(link(&row)?)
}

async fn request_by_id(c: &mut PgConnection, id: RequestId, lock: bool) -> Q<RequestRecord> {
    let sql = if lock {
        concat!(
            "SELECT ",
            request_cols!(),
            " FROM secret_requests WHERE id = $1 FOR UPDATE"
        )
    } else {
        concat!(
            "SELECT ",
            request_cols!(),
            " FROM secret_requests WHERE id = $1"
        )
    };
    let row = sqlx::query(sql).bind(id.as_uuid()).fetch_one(c).await?;
    Ok(request(&row)?)
}

async fn create_request(c: &mut PgConnection, r: &RequestRecord, audit: &AuditDraft) -> Q<()> {
    sqlx::query(concat!(
        "INSERT INTO secret_requests (",
        request_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    ))
    .bind(r.id.as_uuid())
    .bind(r.org.as_uuid())
    .bind(r.scope.project().as_str())
    .bind(i64::from(r.scope.issue_number()))
    .bind(r.name.as_str())
    .bind(&r.note)
    .bind(&r.token_hash[..])
    .bind(r.created_by_id.map(|u| u.as_uuid()))
    .bind(&r.created_by)
    .bind(r.created_with.map(|t| t.as_uuid()))
    .bind(r.created_at.millis())
    .bind(r.expires_at.millis())
    .bind(&r.public_key)
    .bind(i64::from(r.key_version))
    .bind(&r.wrapped_key)
    .bind(r.revoked_at.map(Timestamp::millis))
    .bind(r.fulfilled_at.map(Timestamp::millis))
    .bind(r.fulfilled_version.map(i64::from))
    .execute(&mut *c)
    .await?;
    writes::append_audit(c, audit).await
}

async fn revoke_request(
    c: &mut PgConnection,
    org: OrgId,
    id: RequestId,
    at: Timestamp,
    audit: &AuditDraft,
) -> Q<RequestRecord> {
    let r = request_by_id(c, id, true).await?;
    if r.org != org {
        return Err(CatalogError::NotFound.into());
    }
    if r.fulfilled_at.is_some() {
        return Ok(r);
    }
    sqlx::query(
        "UPDATE secret_requests SET revoked_at = COALESCE(revoked_at, $2), \
         wrapped_key = ''::bytea WHERE id = $1",
    )
    .bind(id.as_uuid())
    .bind(at.millis())
    .execute(&mut *c)
    .await?;
    writes::append_audit(c, audit).await?;
    request_by_id(c, id, false).await
}

async fn fulfil_request(
    c: &mut PgConnection,
    id: RequestId,
    v: &NewVersion,
    put_audit: &AuditDraft,
    fulfil_audit: &AuditDraft,
) -> Q<SecretRecord> {
    let r = request_by_id(c, id, true).await?;
    let state = request_state(&r, v.at);
    if state != RequestState::Open {
        let why = format!("the request is {}", state.as_str());
        return Err(CatalogError::Refused(why).into());
    }
    if r.org != v.org || r.scope != v.scope || r.name != v.name {
        let why = "the version is not the one the request asks for".to_owned();
        return Err(CatalogError::Refused(why).into());
    }
    let secret = secret_writes::put_version(c, v, put_audit).await?;
    sqlx::query(
        "UPDATE secret_requests SET fulfilled_at = $2, fulfilled_version = $3, \
         wrapped_key = ''::bytea WHERE id = $1",
    )
    .bind(id.as_uuid())
    .bind(v.at.millis())
    .bind(i64::from(secret.version))
    .execute(&mut *c)
    .await?;
    writes::append_audit(c, fulfil_audit).await?;
    Ok(secret)
}

#[async_trait]
impl LinkCatalog for PostgresCatalog {
    async fn create_link(&self, l: LinkRecord, envelope: Vec<u8>, audit: AuditDraft) -> Result<()> {
        in_tx!(self, |c| create_link(c, &l, &envelope, &audit).await)
    }
    async fn link(&self, id: LinkId) -> Result<LinkRecord> {
        self.read(async |c| link_by_id(c, id, false).await).await
    }
    async fn list_links(
        &self,
        org: OrgId,
        by: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<LinkRecord>> {
        self.read(async |c| {
            let list = sqlx::query(concat!(
                "SELECT ",
                link_cols!(),
                " FROM links WHERE org_id = $1 AND ($3::uuid IS NULL OR created_by_id = $3) \
                 ORDER BY created_at DESC, id LIMIT $2"
            ))
            .bind(org.as_uuid())
            .bind(i64::from(limit))
            .bind(by.map(|u| u.as_uuid()))
            .fetch_all(c)
            .await?;
            Ok(rows::all(&list, link)?)
        })
        .await
    }
    async fn open_link(&self, id: LinkId, now: Timestamp, audit: AuditDraft) -> Result<LinkOpen> {
        in_tx!(self, |c| open_link(c, id, now, &audit).await)
    }
    async fn revoke_link(
        &self,
        org: OrgId,
        id: LinkId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<LinkRecord> {
        in_tx!(self, |c| revoke_link(c, org, id, at, &audit).await)
    }
    async fn purge_outside_shares(&self, before: Timestamp) -> Result<u64> {
        in_tx!(self, |c| purge(c, before).await)
    }
}

#[async_trait]
impl RequestCatalog for PostgresCatalog {
    async fn create_request(&self, r: RequestRecord, audit: AuditDraft) -> Result<()> {
        in_tx!(self, |c| create_request(c, &r, &audit).await)
    }
    async fn request(&self, id: RequestId) -> Result<RequestRecord> {
        self.read(async |c| request_by_id(c, id, false).await).await
    }
    async fn list_requests(
        &self,
        org: OrgId,
        by: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<RequestRecord>> {
        self.read(async |c| {
            let list = sqlx::query(concat!(
                "SELECT ",
                request_cols!(),
                " FROM secret_requests WHERE org_id = $1 \
                 AND ($3::uuid IS NULL OR created_by_id = $3) ORDER BY created_at DESC, id LIMIT $2"
            ))
            .bind(org.as_uuid())
            .bind(i64::from(limit))
            .bind(by.map(|u| u.as_uuid()))
            .fetch_all(c)
            .await?;
            Ok(rows::all(&list, request)?)
        })
        .await
    }
    async fn revoke_request(
        &self,
        org: OrgId,
        id: RequestId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<RequestRecord> {
        in_tx!(self, |c| revoke_request(c, org, id, at, &audit).await)
    }
    async fn fulfil_request(
        &self,
        id: RequestId,
        version: NewVersion,
        put_audit: AuditDraft,
        fulfil_audit: AuditDraft,
    ) -> Result<SecretRecord> {
        in_tx!(self, |c| fulfil_request(
            c,
            id,
            &version,
            &put_audit,
            &fulfil_audit
        )
        .await)
    }
}
