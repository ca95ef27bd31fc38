//! [`LinkCatalog`] and [`RequestCatalog`] on SQLite: `links` and `secret_requests` (migration
//! 11). Every write is one request to the group-commit writer, durable before the answer and
//! atomic with its audit events; opening a link and fulfilling a request decide on the row the
//! same transaction then changes, so racing outsiders cannot both win. Reads run on the read
//! pool.

use super::tx::Tx;
use super::{SqliteCatalog, map_err as e, rows, writes};
use crate::audit::AuditDraft;
use crate::catalog::{
    CatalogError, LinkCatalog, LinkOpen, LinkRecord, NewVersion, RequestCatalog, RequestRecord,
    RequestState, SecretFacts, SecretRecord, open_refusal, request_state,
};
use crate::domain::{
    LinkId, OrgId, RequestId, Scope, SecretId, SecretName, Timestamp, TokenId, UserId,
};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

type R<T> = Result<T, CatalogError>;

const LINK_COLS: &str = "id, org_id, secret_id, version, target, open_hash, created_by_id, \
     created_by, created_with, created_at, expires_at, max_views, views, revoked_at";

fn link(row: &Row) -> rusqlite::Result<LinkRecord> {
    Ok(LinkRecord {
        id: LinkId::from_uuid(rows::uuid_at(row, 0)?),
        org: OrgId::from_uuid(rows::uuid_at(row, 1)?),
        secret: SecretId::from_uuid(rows::uuid_at(row, 2)?),
        version: row.get(3)?,
        target: row.get(4)?,
        open_hash: row.get(5)?,
        created_by_id: rows::opt_uuid_at(row, 6)?.map(UserId::from_uuid),
        created_by: row.get(7)?,
        created_with: rows::opt_uuid_at(row, 8)?.map(TokenId::from_uuid),
        created_at: Timestamp::from_millis(row.get(9)?),
        expires_at: Timestamp::from_millis(row.get(10)?),
        max_views: row.get(11)?,
        views: row.get(12)?,
        revoked_at: rows::opt_ts(row, 13)?,
    })
}

const REQUEST_COLS: &str = "id, org_id, project, issue, name, note, token_hash, created_by_id, \
     created_by, created_with, created_at, expires_at, public_key, key_version, wrapped_key, \
     revoked_at, fulfilled_at, fulfilled_version";

fn request(row: &Row) -> rusqlite::Result<RequestRecord> {
    let project: String = row.get(2)?;
    let issue: u32 = row.get(3)?;
    Ok(RequestRecord {
        id: RequestId::from_uuid(rows::uuid_at(row, 0)?),
        org: OrgId::from_uuid(rows::uuid_at(row, 1)?),
        scope: Scope::from_parts(&project, issue).map_err(|x| rows::bad(2, x.to_string()))?,
        name: rows::parse_at(row, 4, |s| SecretName::parse(s).ok())?,
        note: row.get(5)?,
        token_hash: row.get(6)?,
        created_by_id: rows::opt_uuid_at(row, 7)?.map(UserId::from_uuid),
        created_by: row.get(8)?,
        created_with: rows::opt_uuid_at(row, 9)?.map(TokenId::from_uuid),
        created_at: Timestamp::from_millis(row.get(10)?),
        expires_at: Timestamp::from_millis(row.get(11)?),
        public_key: row.get(12)?,
        key_version: row.get(13)?,
        wrapped_key: row.get(14)?,
        revoked_at: rows::opt_ts(row, 15)?,
        fulfilled_at: rows::opt_ts(row, 16)?,
        fulfilled_version: row.get(17)?,
    })
}

fn link_by_id(c: &Tx, id: LinkId) -> R<LinkRecord> {
    c.query_row(
        &format!("SELECT {LINK_COLS} FROM links WHERE id = ?1"),
        [id.to_bytes()],
        link,
    )
    .map_err(e)
}

fn create_link(c: &Tx, l: &LinkRecord, envelope: &[u8], audit: &AuditDraft) -> R<()> {
    c.execute(
        &format!(
            "INSERT INTO links ({LINK_COLS}, envelope) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        ),
        params![
            l.id.to_bytes(),
            l.org.to_bytes(),
            l.secret.to_bytes(),
            l.version,
            l.target,
            l.open_hash,
            l.created_by_id.map(|u| u.to_bytes()),
            l.created_by,
            l.created_with.map(|t| t.to_bytes()),
            l.created_at.millis(),
            l.expires_at.millis(),
            l.max_views,
            l.views,
            l.revoked_at.map(Timestamp::millis),
            envelope,
        ],
    )
    .map_err(e)?;
    writes::append_audit(c, audit)
}

fn open_link(c: &Tx, id: LinkId, now: Timestamp, audit: &AuditDraft) -> R<LinkOpen> {
    let mut l = link_by_id(c, id)?;
    let secret: Option<(Option<i64>, Option<i64>)> = c
        .query_row(
            "SELECT deleted_at, expires_at FROM secrets WHERE id = ?1 AND destroyed = 0",
            [l.secret.to_bytes()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(e)?;
    let Some((deleted_at, expires_at)) = secret else {
        return Err(CatalogError::NotFound);
    };
    let facts = SecretFacts {
        deleted: deleted_at.is_some(),
        expires_at: expires_at.map(Timestamp::from_millis),
    };
    let envelope: Option<Vec<u8>> = c
        .query_row(
            "SELECT envelope FROM links WHERE id = ?1",
            [id.to_bytes()],
            |r| r.get(0),
        )
        .map_err(e)?;
    if let Some(refusal) = open_refusal(&l, &facts, envelope.is_some(), now) {
        return Ok(LinkOpen::Refused(refusal));
    }
    l.views += 1;
    c.execute(
        "UPDATE links SET views = ?2, \
         envelope = CASE WHEN ?2 >= max_views THEN NULL ELSE envelope END WHERE id = ?1",
        params![id.to_bytes(), l.views],
    )
    .map_err(e)?;
    writes::append_audit(c, audit)?;
    Ok(LinkOpen::Opened {
        link: Box::new(l),
        envelope: envelope.unwrap_or_default(),
    })
}

/// Revokes the open links and requests made by `user` (in `org`, or everywhere), or with the
/// credential `token`: what revoking credentials takes with it.
pub(super) fn revoke_outside_shares(
    c: &rusqlite::Connection,
    made_by: Option<(UserId, Option<OrgId>)>,
    token: Option<TokenId>,
    at: Timestamp,
) -> R<()> {
    let (user, org) = made_by.map_or((None, None), |(u, o)| {
        (Some(u.to_bytes()), o.map(|o| o.to_bytes()))
    });
    let token = token.map(|t| t.to_bytes());
    c.execute(
        "UPDATE links SET revoked_at = ?4, envelope = NULL WHERE revoked_at IS NULL \
         AND ((created_by_id = ?1 AND (?2 IS NULL OR org_id = ?2)) OR created_with = ?3)",
        params![user, org, token, at.millis()],
    )
    .map_err(e)?;
    c.execute(
        "UPDATE secret_requests SET revoked_at = ?4, wrapped_key = X'' WHERE revoked_at IS NULL \
         AND fulfilled_at IS NULL \
         AND ((created_by_id = ?1 AND (?2 IS NULL OR org_id = ?2)) OR created_with = ?3)",
        params![user, org, token, at.millis()],
    )
    .map_err(e)?;
    Ok(())
}

/// Revokes the open requests for the secret `secret` names (it is being destroyed).
pub(super) fn revoke_requests_for(
    c: &rusqlite::Connection,
    secret: SecretId,
    at: Timestamp,
) -> R<()> {
    c.execute(
        "UPDATE secret_requests SET revoked_at = ?2, wrapped_key = X'' WHERE revoked_at IS NULL \
         AND fulfilled_at IS NULL AND (org_id, project, issue, name) IN \
         (SELECT org_id, project, issue, name FROM secrets WHERE id = ?1)",
        params![secret.to_bytes(), at.millis()],
    )
    .map_err(e)?;
    Ok(())
}

fn purge(c: &Tx, before: Timestamp) -> R<u64> {
    let links = c
        .execute(
            "UPDATE links SET envelope = NULL WHERE envelope IS NOT NULL AND expires_at < ?1",
            [before.millis()],
        )
        .map_err(e)?;
    let requests = c
        .execute(
            "UPDATE secret_requests SET wrapped_key = X'' WHERE length(wrapped_key) > 0 \
             AND (fulfilled_at IS NOT NULL OR revoked_at IS NOT NULL OR expires_at < ?1)",
            [before.millis()],
        )
        .map_err(e)?;
    Ok((links + requests) as u64)
}

fn revoke_link(c: &Tx, org: OrgId, id: LinkId, at: Timestamp, audit: &AuditDraft) -> R<LinkRecord> {
    let n = c
        .execute(
            "UPDATE links SET revoked_at = COALESCE(revoked_at, ?3), envelope = NULL \
             WHERE id = ?1 AND org_id = ?2",
            params![id.to_bytes(), org.to_bytes(), at.millis()],
        )
        .map_err(e)?;
    if n == 0 {
        return Err(CatalogError::NotFound);
    }
    writes::append_audit(c, audit)?;
    link_by_id(c, id)
}

fn request_by_id(c: &Tx, id: RequestId) -> R<RequestRecord> {
    c.query_row(
        &format!("SELECT {REQUEST_COLS} FROM secret_requests WHERE id = ?1"),
        [id.to_bytes()],
        request,
    )
    .map_err(e)
}

fn create_request(c: &Tx, r: &RequestRecord, audit: &AuditDraft) -> R<()> {
    c.execute(
        &format!(
            "INSERT INTO secret_requests ({REQUEST_COLS}) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
        ),
        params![
            r.id.to_bytes(),
            r.org.to_bytes(),
            r.scope.project().as_str(),
            r.scope.issue_number(),
            r.name.as_str(),
            r.note,
            r.token_hash,
            r.created_by_id.map(|u| u.to_bytes()),
            r.created_by,
            r.created_with.map(|t| t.to_bytes()),
            r.created_at.millis(),
            r.expires_at.millis(),
            r.public_key,
            r.key_version,
            r.wrapped_key,
            r.revoked_at.map(Timestamp::millis),
            r.fulfilled_at.map(Timestamp::millis),
            r.fulfilled_version,
        ],
    )
    .map_err(e)?;
    writes::append_audit(c, audit)
}

fn revoke_request(
    c: &Tx,
    org: OrgId,
    id: RequestId,
    at: Timestamp,
    audit: &AuditDraft,
) -> R<RequestRecord> {
    let r = request_by_id(c, id)?;
    if r.org != org {
        return Err(CatalogError::NotFound);
    }
    if r.fulfilled_at.is_some() {
        return Ok(r);
    }
    c.execute(
        "UPDATE secret_requests SET revoked_at = COALESCE(revoked_at, ?2), wrapped_key = X'' \
         WHERE id = ?1",
        params![id.to_bytes(), at.millis()],
    )
    .map_err(e)?;
    writes::append_audit(c, audit)?;
    request_by_id(c, id)
}

fn fulfil_request(
    c: &Tx,
    id: RequestId,
    v: &NewVersion,
    put_audit: &AuditDraft,
    fulfil_audit: &AuditDraft,
) -> R<SecretRecord> {
    let r = request_by_id(c, id)?;
    let state = request_state(&r, v.at);
    if state != RequestState::Open {
        return Err(CatalogError::Refused(format!(
            "the request is {}",
            state.as_str()
        )));
    }
    if r.org != v.org || r.scope != v.scope || r.name != v.name {
        return Err(CatalogError::Refused(
            "the version is not the one the request asks for".into(),
        ));
    }
    let secret = writes::put_version(c, v, put_audit)?;
    c.execute(
        "UPDATE secret_requests SET fulfilled_at = ?2, fulfilled_version = ?3, wrapped_key = X'' \
         WHERE id = ?1",
        params![id.to_bytes(), v.at.millis(), secret.version],
    )
    .map_err(e)?;
    writes::append_audit(c, fulfil_audit)?;
    Ok(secret)
}

#[async_trait]
impl LinkCatalog for SqliteCatalog {
    async fn create_link(&self, l: LinkRecord, envelope: Vec<u8>, audit: AuditDraft) -> R<()> {
        self.writer
            .write(move |c| create_link(c, &l, &envelope, &audit))
            .await
    }
    async fn link(&self, id: LinkId) -> R<LinkRecord> {
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {LINK_COLS} FROM links WHERE id = ?1"),
                [id.to_bytes()],
                link,
            )
            .map_err(e)
        })
        .await
    }
    async fn list_links(&self, org: OrgId, by: Option<UserId>, limit: u32) -> R<Vec<LinkRecord>> {
        self.read(move |c| {
            let mut s = c
                .prepare(&format!(
                    "SELECT {LINK_COLS} FROM links WHERE org_id = ?1 \
                     AND (?3 IS NULL OR created_by_id = ?3) ORDER BY created_at DESC, id LIMIT ?2"
                ))
                .map_err(e)?;
            s.query_map(
                params![org.to_bytes(), limit, by.map(|u| u.to_bytes())],
                link,
            )
            .map_err(e)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(e)
        })
        .await
    }
    async fn open_link(&self, id: LinkId, now: Timestamp, audit: AuditDraft) -> R<LinkOpen> {
        self.writer
            .write(move |c| open_link(c, id, now, &audit))
            .await
    }
    async fn revoke_link(
        &self,
        org: OrgId,
        id: LinkId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> R<LinkRecord> {
        self.writer
            .write(move |c| revoke_link(c, org, id, at, &audit))
            .await
    }
    async fn purge_outside_shares(&self, before: Timestamp) -> R<u64> {
        self.writer.write(move |c| purge(c, before)).await
    }
}

#[async_trait]
impl RequestCatalog for SqliteCatalog {
    async fn create_request(&self, r: RequestRecord, audit: AuditDraft) -> R<()> {
        self.writer
            .write(move |c| create_request(c, &r, &audit))
            .await
    }
    async fn request(&self, id: RequestId) -> R<RequestRecord> {
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {REQUEST_COLS} FROM secret_requests WHERE id = ?1"),
                [id.to_bytes()],
                request,
            )
            .map_err(e)
        })
        .await
    }
    async fn list_requests(
        &self,
        org: OrgId,
        by: Option<UserId>,
        limit: u32,
    ) -> R<Vec<RequestRecord>> {
        self.read(move |c| {
            let mut s = c
                .prepare(&format!(
                    "SELECT {REQUEST_COLS} FROM secret_requests WHERE org_id = ?1 \
                     AND (?3 IS NULL OR created_by_id = ?3) ORDER BY created_at DESC, id LIMIT ?2"
                ))
                .map_err(e)?;
            s.query_map(
                params![org.to_bytes(), limit, by.map(|u| u.to_bytes())],
                request,
            )
            .map_err(e)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(e)
        })
        .await
    }
    async fn revoke_request(
        &self,
        org: OrgId,
        id: RequestId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> R<RequestRecord> {
        self.writer
            .write(move |c| revoke_request(c, org, id, at, &audit))
            .await
    }
    async fn fulfil_request(
        &self,
        id: RequestId,
        version: NewVersion,
        put_audit: AuditDraft,
        fulfil_audit: AuditDraft,
    ) -> R<SecretRecord> {
        self.writer
            .write(move |c| fulfil_request(c, id, &version, &put_audit, &fulfil_audit))
            .await
    }
}
