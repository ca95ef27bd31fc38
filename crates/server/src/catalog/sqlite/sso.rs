//! [`SsoCatalog`] on SQLite: `sso_configs`, `sso_pending`, `sso_links` and `sso_people`
//! (migration 9). Reads
//! run on the read pool; every write (taking a pending row too, so it is handed out once) is one
//! request to the group-commit writer, atomic with its audit events.

use super::tx::Tx;
use super::{SqliteCatalog, identity, map_err as e, reads, rows, writes};
use crate::audit::AuditDraft;
use crate::catalog::{
    CatalogError, MemberRecord, SealedValue, SsoCatalog, SsoLink, SsoPending, SsoPurpose,
    SsoRecord, UserRecord,
};
use crate::domain::{IdentityKind, OrgId, Role, SecretId, Timestamp, UserId};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

type R<T> = Result<T, CatalogError>;

const SSO_COLS: &str = "org_id, issuer, client_id, secret_id, secret_key_version, secret_envelope, \
     groups_claim, create_people, require_sso, updated_at, updated_by";

fn sso_row(r: &Row) -> rusqlite::Result<SsoRecord> {
    let secret = match rows::opt_uuid_at(r, 3)? {
        Some(id) => Some(SealedValue {
            id: SecretId::from_uuid(id),
            key_version: r.get(4)?,
            envelope: r.get(5)?,
        }),
        None => None,
    };
    Ok(SsoRecord {
        org: OrgId::from_uuid(rows::uuid_at(r, 0)?),
        issuer: r.get(1)?,
        client_id: r.get(2)?,
        client_secret: secret,
        groups_claim: r.get(6)?,
        create_people: r.get(7)?,
        require_sso: r.get(8)?,
        updated_at: Timestamp::from_millis(r.get(9)?),
        updated_by: r.get(10)?,
    })
}

fn sso(conn: &Connection, org: OrgId) -> R<Option<SsoRecord>> {
    conn.query_row(
        &format!("SELECT {SSO_COLS} FROM sso_configs WHERE org_id = ?1"),
        [org.to_bytes()],
        sso_row,
    )
    .optional()
    .map_err(e)
}

/// Forgets the org's links and revokes what the linked people hold in the org, but `keep`'s.
fn forget_links(conn: &Connection, org: OrgId, at: Timestamp, keep: Option<UserId>) -> R<()> {
    let users = {
        let mut s = conn
            .prepare_cached("SELECT user_id FROM sso_links WHERE org_id = ?1")
            .map_err(e)?;
        s.query_map([org.to_bytes()], |r| rows::uuid_at(r, 0))
            .map_err(e)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(e)?
    };
    for u in users.into_iter().map(UserId::from_uuid) {
        if Some(u) != keep {
            identity::revoke_credentials(conn, u, Some(org), at)?;
        }
    }
    conn.execute("DELETE FROM sso_links WHERE org_id = ?1", [org.to_bytes()])
        .map(drop)
        .map_err(e)
}

fn put_sso(conn: &Tx, s: &SsoRecord, a: &AuditDraft) -> R<()> {
    reads::org_by_id(conn, s.org)?;
    if sso(conn, s.org)?.is_some_and(|old| old.issuer != s.issuer) {
        forget_links(conn, s.org, s.updated_at, a.actor_id)?;
    }
    let secret = s.client_secret.as_ref();
    conn.execute(
        &format!(
            "INSERT OR REPLACE INTO sso_configs ({SSO_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        ),
        params![
            s.org.to_bytes(),
            s.issuer,
            s.client_id,
            secret.map(|v| v.id.to_bytes()),
            secret.map(|v| v.key_version),
            secret.map(|v| v.envelope.as_slice()),
            s.groups_claim,
            s.create_people,
            s.require_sso,
            s.updated_at.millis(),
            s.updated_by,
        ],
    )
    .map_err(e)?;
    writes::append_audit(conn, a)
}

fn delete_sso(conn: &Tx, org: OrgId, a: &AuditDraft) -> R<bool> {
    let n = conn
        .execute(
            "DELETE FROM sso_configs WHERE org_id = ?1",
            [org.to_bytes()],
        )
        .map_err(e)?;
    if n == 0 {
        return Ok(false);
    }
    forget_links(conn, org, a.at, a.actor_id)?;
    writes::append_audit(conn, a)?;
    Ok(true)
}

/// The purpose's columns: (purpose, user_id, cli_port, challenge).
type PurposeCols<'a> = (&'static str, Option<[u8; 16]>, Option<u16>, Option<&'a str>);

fn purpose_cols(p: &SsoPurpose) -> PurposeCols<'_> {
    match p {
        SsoPurpose::SignIn => ("sign_in", None, None, None),
        SsoPurpose::Link(u) => ("link", Some(u.to_bytes()), None, None),
        SsoPurpose::Cli { port, challenge } => ("cli", None, Some(*port), Some(challenge)),
        SsoPurpose::CliExchange { user, challenge } => {
            ("cli_exchange", Some(user.to_bytes()), None, Some(challenge))
        }
    }
}

fn pending_row(r: &Row) -> rusqlite::Result<SsoPending> {
    let kind: String = r.get(2)?;
    let user = rows::opt_uuid_at(r, 3)?.map(UserId::from_uuid);
    let port: Option<u16> = r.get(4)?;
    let challenge: Option<String> = r.get(5)?;
    let purpose = match (kind.as_str(), user, port, challenge) {
        ("sign_in", None, None, None) => SsoPurpose::SignIn,
        ("link", Some(u), None, None) => SsoPurpose::Link(u),
        ("cli", None, Some(port), Some(challenge)) => SsoPurpose::Cli { port, challenge },
        ("cli_exchange", Some(user), None, Some(challenge)) => {
            SsoPurpose::CliExchange { user, challenge }
        }
        _ => {
            return Err(rows::bad(
                2,
                format!("inconsistent pending sign-in ({kind})"),
            ));
        }
    };
    Ok(SsoPending {
        hash: r.get(0)?,
        org: OrgId::from_uuid(rows::uuid_at(r, 1)?),
        purpose,
        nonce: r.get(6)?,
        verifier: r.get(7)?,
        browser: r.get(8)?,
        expires_at: Timestamp::from_millis(r.get(9)?),
    })
}

fn put_pending(conn: &Tx, p: &SsoPending, now: Timestamp) -> R<()> {
    conn.execute(
        "DELETE FROM sso_pending WHERE expires_at < ?1",
        [now.millis()],
    )
    .map_err(e)?;
    let (kind, user, port, challenge) = purpose_cols(&p.purpose);
    conn.execute(
        "INSERT INTO sso_pending (hash, org_id, purpose, user_id, cli_port, challenge, nonce, verifier, browser, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            p.hash,
            p.org.to_bytes(),
            kind,
            user,
            port,
            challenge,
            p.nonce,
            p.verifier,
            p.browser,
            p.expires_at.millis()
        ],
    )
    .map(drop)
    .map_err(e)
}

fn take_pending(conn: &Tx, hash: &[u8; 32], now: Timestamp) -> R<Option<SsoPending>> {
    let found = conn
        .query_row(
            "DELETE FROM sso_pending WHERE hash = ?1 RETURNING hash, org_id, purpose, user_id, cli_port, challenge, nonce, verifier, browser, expires_at",
            [hash],
            pending_row,
        )
        .optional()
        .map_err(e)?;
    Ok(found.filter(|p| p.expires_at >= now))
}

fn sso_user(conn: &Connection, org: OrgId, issuer: &str, subject: &str) -> R<Option<UserId>> {
    conn.query_row(
        "SELECT user_id FROM sso_links WHERE org_id = ?1 AND issuer = ?2 AND subject = ?3",
        params![org.to_bytes(), issuer, subject],
        |r| rows::uuid_at(r, 0),
    )
    .optional()
    .map(|u| u.map(UserId::from_uuid))
    .map_err(e)
}

fn ever_linked(conn: &Connection, user: UserId) -> R<bool> {
    conn.query_row(
        "SELECT 1 FROM sso_people WHERE user_id = ?1",
        [user.to_bytes()],
        |_| Ok(()),
    )
    .optional()
    .map(|r| r.is_some())
    .map_err(e)
}

fn insert_link(conn: &Connection, l: &SsoLink) -> R<()> {
    conn.execute(
        "INSERT INTO sso_links (org_id, issuer, subject, user_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            l.org.to_bytes(),
            l.issuer,
            l.subject,
            l.user.to_bytes(),
            l.created_at.millis()
        ],
    )
    .map_err(e)?;
    conn.execute(
        "INSERT OR IGNORE INTO sso_people (user_id, since) VALUES (?1, ?2)",
        params![l.user.to_bytes(), l.created_at.millis()],
    )
    .map(drop)
    .map_err(e)
}

fn link_sso(conn: &Tx, l: &SsoLink, a: &AuditDraft) -> R<bool> {
    match reads::member(conn, l.org, l.user) {
        Ok(m) if m.user.kind == IdentityKind::Person => {}
        Ok(_) | Err(CatalogError::NotFound) => {
            return Err(CatalogError::Refused(
                "only a person who is a member of the org can be linked".into(),
            ));
        }
        Err(other) => return Err(other),
    }
    if sso_user(conn, l.org, &l.issuer, &l.subject)? == Some(l.user) {
        return Ok(false);
    }
    insert_link(conn, l)?;
    writes::append_audit(conn, a)?;
    Ok(true)
}

fn create_person(
    conn: &Tx,
    u: &UserRecord,
    role: Role,
    l: &SsoLink,
    audit: &[AuditDraft],
) -> R<MemberRecord> {
    if u.kind != IdentityKind::Person || l.user != u.id {
        return Err(CatalogError::Refused(
            "single sign-on creates people, linked to themselves".into(),
        ));
    }
    writes::insert_user(conn, u)?;
    writes::insert_member(conn, l.org, u.id, role)?;
    insert_link(conn, l)?;
    for a in audit {
        writes::append_audit(conn, a)?;
    }
    reads::member(conn, l.org, u.id)
}

/// Deletes `user`'s link in `org`. Part of removing a member, in the same transaction.
pub(super) fn forget_member(conn: &Connection, org: OrgId, user: UserId) -> R<()> {
    conn.execute(
        "DELETE FROM sso_links WHERE org_id = ?1 AND user_id = ?2",
        params![org.to_bytes(), user.to_bytes()],
    )
    .map(drop)
    .map_err(e)
}

#[async_trait]
impl SsoCatalog for SqliteCatalog {
    async fn put_sso(&self, s: SsoRecord, a: AuditDraft) -> R<()> {
        self.writer.write(move |c| put_sso(c, &s, &a)).await
    }
    async fn sso(&self, org: OrgId) -> R<Option<SsoRecord>> {
        self.read(move |c| sso(c, org)).await
    }
    async fn delete_sso(&self, org: OrgId, a: AuditDraft) -> R<bool> {
        self.writer.write(move |c| delete_sso(c, org, &a)).await
    }
    async fn put_sso_pending(&self, p: SsoPending, now: Timestamp) -> R<()> {
        self.writer.write(move |c| put_pending(c, &p, now)).await
    }
    async fn take_sso_pending(&self, hash: &[u8; 32], now: Timestamp) -> R<Option<SsoPending>> {
        let hash = *hash;
        self.writer
            .write(move |c| take_pending(c, &hash, now))
            .await
    }
    async fn sso_user(&self, org: OrgId, issuer: &str, subject: &str) -> R<Option<UserId>> {
        let (issuer, subject) = (issuer.to_owned(), subject.to_owned());
        self.read(move |c| sso_user(c, org, &issuer, &subject))
            .await
    }
    async fn ever_linked(&self, user: UserId) -> R<bool> {
        self.read(move |c| ever_linked(c, user)).await
    }
    async fn link_sso(&self, l: SsoLink, a: AuditDraft) -> R<bool> {
        self.writer.write(move |c| link_sso(c, &l, &a)).await
    }
    async fn create_sso_person(
        &self,
        u: UserRecord,
        role: Role,
        l: SsoLink,
        audit: Vec<AuditDraft>,
    ) -> R<MemberRecord> {
        self.writer
            .write(move |c| create_person(c, &u, role, &l, &audit))
            .await
    }
}
