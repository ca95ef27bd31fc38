//! [`SsoCatalog`] on PostgreSQL: `sso_configs`, `sso_pending`, `sso_links` and `sso_people`
//! (migration 9). Each
//! write is one transaction with its audit events; those that touch an org's provider or links
//! first lock the org row — the lock a membership change takes — so a link can never be stored
//! for someone whose removal from the org committed meanwhile. Taking a pending row is one
//! `DELETE … RETURNING`, so of two racing callers only one gets it.

use super::identity::{lock_org, revoke_credentials};
use super::rows::{self, get};
use super::tx::{self, Fail, Q, in_tx};
use super::{PostgresCatalog, reads, writes};
use crate::audit::AuditDraft;
use crate::catalog::{
    CatalogError, MemberRecord, SealedValue, SsoCatalog, SsoLink, SsoPending, SsoPurpose,
    SsoRecord, UserRecord,
};
use crate::domain::{IdentityKind, OrgId, Role, SecretId, Timestamp, UserId};
use async_trait::async_trait;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use uuid::Uuid;

type R<T> = Result<T, CatalogError>;

macro_rules! sso_cols {
    () => {
        "org_id, issuer, client_id, secret_id, secret_key_version, secret_envelope, \
         groups_claim, create_people, require_sso, updated_at, updated_by"
    };
}

macro_rules! pending_cols {
    () => {
        "hash, org_id, purpose, user_id, cli_port, challenge, nonce, verifier, browser, expires_at"
    };
}

macro_rules! link_cols {
    () => {
        "org_id, issuer, subject, user_id, created_at"
    };
}

/// Locks the org row like [`lock_org`]; whether the org exists.
async fn lock_if_exists(c: &mut PgConnection, org: OrgId) -> Q<bool> {
    match lock_org(c, org).await {
        Ok(()) => Ok(true),
        Err(Fail::Final(CatalogError::NotFound)) => Ok(false),
        Err(other) => Err(other),
    }
}

fn sso_row(r: &PgRow) -> R<SsoRecord> {
    let secret = match get::<Option<Uuid>>(r, 3)? {
        Some(id) => {
            let version: i32 = get(r, 4)?;
            Some(SealedValue {
                id: SecretId::from_uuid(id),
                key_version: u32::try_from(version)
                    .map_err(|_| rows::corrupt(4, format_args!("{version} is out of range")))?,
                envelope: get(r, 5)?,
            })
        }
        None => None,
    };
    Ok(SsoRecord {
        org: OrgId::from_uuid(get(r, 0)?),
        issuer: get(r, 1)?,
        client_id: get(r, 2)?,
        client_secret: secret,
        groups_claim: get(r, 6)?,
        create_people: get(r, 7)?,
        require_sso: get(r, 8)?,
        updated_at: rows::ts(r, 9)?,
        updated_by: get(r, 10)?,
    })
}

async fn sso(c: &mut PgConnection, org: OrgId) -> Q<Option<SsoRecord>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        sso_cols!(),
        " FROM sso_configs WHERE org_id = $1"
    ))
    .bind(org.as_uuid())
    .fetch_optional(c)
    .await?;
    Ok(row.as_ref().map(sso_row).transpose()?)
}

/// Forgets the org's links and revokes what the linked people hold in the org, but `keep`'s.
async fn forget_links(
    c: &mut PgConnection,
    org: OrgId,
    at: Timestamp,
    keep: Option<UserId>,
) -> Q<()> {
    let users: Vec<Uuid> =
        sqlx::query_scalar("DELETE FROM sso_links WHERE org_id = $1 RETURNING user_id")
            .bind(org.as_uuid())
            .fetch_all(&mut *c)
            .await?;
    for u in users.into_iter().map(UserId::from_uuid) {
        if Some(u) != keep {
            revoke_credentials(c, u, Some(org), at).await?;
        }
    }
    Ok(())
}

async fn put_sso(c: &mut PgConnection, s: &SsoRecord, a: &AuditDraft) -> Q<()> {
    // `NotFound` if the org does not exist.
    lock_org(c, s.org).await?;
    let old: Option<String> =
        sqlx::query_scalar("SELECT issuer FROM sso_configs WHERE org_id = $1")
            .bind(s.org.as_uuid())
            .fetch_optional(&mut *c)
            .await?;
    if old.is_some_and(|issuer| issuer != s.issuer) {
        forget_links(c, s.org, s.updated_at, a.actor_id).await?;
    }
    let secret = s.client_secret.as_ref();
    let key_version = secret
        .map(|v| i32::try_from(v.key_version))
        .transpose()
        .map_err(|_| CatalogError::Refused("the org key version is out of range".into()))?;
    sqlx::query(concat!(
        "INSERT INTO sso_configs (",
        sso_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (org_id) DO UPDATE SET issuer = excluded.issuer, \
         client_id = excluded.client_id, secret_id = excluded.secret_id, \
         secret_key_version = excluded.secret_key_version, \
         secret_envelope = excluded.secret_envelope, groups_claim = excluded.groups_claim, \
         create_people = excluded.create_people, require_sso = excluded.require_sso, \
         updated_at = excluded.updated_at, updated_by = excluded.updated_by"
    ))
    .bind(s.org.as_uuid())
    .bind(&s.issuer)
    .bind(&s.client_id)
    .bind(secret.map(|v| v.id.as_uuid()))
    .bind(key_version)
    .bind(secret.map(|v| v.envelope.as_slice()))
    .bind(s.groups_claim.as_deref())
    .bind(s.create_people)
    .bind(s.require_sso)
    .bind(s.updated_at.millis())
    .bind(&s.updated_by)
    .execute(&mut *c)
    .await?;
    writes::append_audit(c, a).await
}

async fn delete_sso(c: &mut PgConnection, org: OrgId, a: &AuditDraft) -> Q<bool> {
    if !lock_if_exists(c, org).await? {
        return Ok(false);
    }
    let n = sqlx::query("DELETE FROM sso_configs WHERE org_id = $1")
        .bind(org.as_uuid())
        .execute(&mut *c)
        .await?
        .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    forget_links(c, org, a.at, a.actor_id).await?;
    writes::append_audit(c, a).await?;
    Ok(true)
}

/// The purpose's columns: (purpose, user_id, cli_port, challenge).
type PurposeCols<'a> = (&'static str, Option<Uuid>, Option<i32>, Option<&'a str>);

fn purpose_cols(p: &SsoPurpose) -> PurposeCols<'_> {
    match p {
        SsoPurpose::SignIn => ("sign_in", None, None, None),
        SsoPurpose::Link(u) => ("link", Some(u.as_uuid()), None, None),
        SsoPurpose::Cli { port, challenge } => {
            ("cli", None, Some(i32::from(*port)), Some(challenge))
        }
        SsoPurpose::CliExchange { user, challenge } => {
            ("cli_exchange", Some(user.as_uuid()), None, Some(challenge))
        }
    }
}

fn pending_row(r: &PgRow) -> R<SsoPending> {
    let kind: String = get(r, 2)?;
    let user = get::<Option<Uuid>>(r, 3)?.map(UserId::from_uuid);
    let port = match get::<Option<i32>>(r, 4)? {
        None => None,
        Some(n) => Some(
            u16::try_from(n).map_err(|_| rows::corrupt(4, format_args!("{n} is not a port")))?,
        ),
    };
    let challenge: Option<String> = get(r, 5)?;
    let purpose = match (kind.as_str(), user, port, challenge) {
        ("sign_in", None, None, None) => SsoPurpose::SignIn,
        ("link", Some(u), None, None) => SsoPurpose::Link(u),
        ("cli", None, Some(port), Some(challenge)) => SsoPurpose::Cli { port, challenge },
        ("cli_exchange", Some(user), None, Some(challenge)) => {
            SsoPurpose::CliExchange { user, challenge }
        }
        _ => {
            return Err(rows::corrupt(
                2,
                format_args!("inconsistent pending sign-in ({kind})"),
            ));
        }
    };
    Ok(SsoPending {
        hash: get(r, 0)?,
        org: OrgId::from_uuid(get(r, 1)?),
        purpose,
        nonce: get(r, 6)?,
        verifier: get(r, 7)?,
        browser: get(r, 8)?,
        expires_at: rows::ts(r, 9)?,
    })
}

async fn put_pending(c: &mut PgConnection, p: &SsoPending, now: Timestamp) -> Q<()> {
    sqlx::query("DELETE FROM sso_pending WHERE expires_at < $1")
        .bind(now.millis())
        .execute(&mut *c)
        .await?;
    let (kind, user, port, challenge) = purpose_cols(&p.purpose);
    sqlx::query(concat!(
        "INSERT INTO sso_pending (",
        pending_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(&p.hash[..])
    .bind(p.org.as_uuid())
    .bind(kind)
    .bind(user)
    .bind(port)
    .bind(challenge)
    .bind(&p.nonce)
    .bind(&p.verifier)
    .bind(&p.browser[..])
    .bind(p.expires_at.millis())
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn take_pending(
    c: &mut PgConnection,
    hash: &[u8; 32],
    now: Timestamp,
) -> Q<Option<SsoPending>> {
    let row = sqlx::query(concat!(
        "DELETE FROM sso_pending WHERE hash = $1 RETURNING ",
        pending_cols!()
    ))
    .bind(&hash[..])
    .fetch_optional(c)
    .await?;
    let found = row.as_ref().map(pending_row).transpose()?;
    Ok(found.filter(|p| p.expires_at >= now))
}

async fn sso_user(
    c: &mut PgConnection,
    org: OrgId,
    issuer: &str,
    subject: &str,
) -> Q<Option<UserId>> {
    let user: Option<Uuid> = sqlx::query_scalar(
        "SELECT user_id FROM sso_links WHERE org_id = $1 AND issuer = $2 AND subject = $3",
    )
    .bind(org.as_uuid())
    .bind(issuer)
    .bind(subject)
    .fetch_optional(c)
    .await?;
    Ok(user.map(UserId::from_uuid))
}

async fn ever_linked(c: &mut PgConnection, user: UserId) -> Q<bool> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM sso_people WHERE user_id = $1")
        .bind(user.as_uuid())
        .fetch_optional(c)
        .await?;
    Ok(found.is_some())
}

async fn insert_link(c: &mut PgConnection, l: &SsoLink) -> Q<()> {
    sqlx::query(concat!(
        "INSERT INTO sso_links (",
        link_cols!(),
        ") VALUES ($1, $2, $3, $4, $5)"
    ))
    .bind(l.org.as_uuid())
    .bind(&l.issuer)
    .bind(&l.subject)
    .bind(l.user.as_uuid())
    .bind(l.created_at.millis())
    .execute(&mut *c)
    .await?;
    sqlx::query(
        "INSERT INTO sso_people (user_id, since) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(l.user.as_uuid())
    .bind(l.created_at.millis())
    .execute(c)
    .await?;
    Ok(())
}

async fn link_sso(c: &mut PgConnection, l: &SsoLink, a: &AuditDraft) -> Q<bool> {
    let refused = || {
        Fail::from(CatalogError::Refused(
            "only a person who is a member of the org can be linked".into(),
        ))
    };
    if !lock_if_exists(c, l.org).await? {
        return Err(refused());
    }
    match reads::member(c, l.org, l.user).await {
        Ok(m) if m.user.kind == IdentityKind::Person => {}
        Ok(_) | Err(Fail::Final(CatalogError::NotFound)) => return Err(refused()),
        Err(other) => return Err(other),
    }
    if sso_user(c, l.org, &l.issuer, &l.subject).await? == Some(l.user) {
        return Ok(false);
    }
    // `AlreadyExists` if the subject or the person is linked to another there.
    insert_link(c, l).await?;
    writes::append_audit(c, a).await?;
    Ok(true)
}

async fn create_person(
    c: &mut PgConnection,
    u: &UserRecord,
    role: Role,
    l: &SsoLink,
    audit: &[AuditDraft],
) -> Q<MemberRecord> {
    if u.kind != IdentityKind::Person || l.user != u.id {
        return Err(CatalogError::Refused(
            "single sign-on creates people, linked to themselves".into(),
        )
        .into());
    }
    lock_org(c, l.org).await?;
    writes::insert_user(c, u).await?;
    writes::insert_member(c, l.org, u.id, role).await?;
    insert_link(c, l).await?;
    for a in audit {
        writes::append_audit(c, a).await?;
    }
    reads::member(c, l.org, u.id).await
}

/// Deletes `user`'s link in `org`. Part of removing a member (`identity::remove_member`), in the
/// same transaction.
pub(super) async fn forget_member(c: &mut PgConnection, org: OrgId, user: UserId) -> Q<()> {
    sqlx::query("DELETE FROM sso_links WHERE org_id = $1 AND user_id = $2")
        .bind(org.as_uuid())
        .bind(user.as_uuid())
        .execute(c)
        .await?;
    Ok(())
}

#[async_trait]
impl SsoCatalog for PostgresCatalog {
    async fn put_sso(&self, s: SsoRecord, a: AuditDraft) -> R<()> {
        in_tx!(self, |c| put_sso(c, &s, &a).await)
    }
    async fn sso(&self, org: OrgId) -> R<Option<SsoRecord>> {
        self.read(async |c| sso(c, org).await).await
    }
    async fn delete_sso(&self, org: OrgId, a: AuditDraft) -> R<bool> {
        in_tx!(self, |c| delete_sso(c, org, &a).await)
    }
    async fn put_sso_pending(&self, p: SsoPending, now: Timestamp) -> R<()> {
        in_tx!(self, |c| put_pending(c, &p, now).await)
    }
    async fn take_sso_pending(&self, hash: &[u8; 32], now: Timestamp) -> R<Option<SsoPending>> {
        in_tx!(self, |c| take_pending(c, hash, now).await)
    }
    async fn sso_user(&self, org: OrgId, issuer: &str, subject: &str) -> R<Option<UserId>> {
        self.read(async |c| sso_user(c, org, issuer, subject).await)
            .await
    }
    async fn ever_linked(&self, user: UserId) -> R<bool> {
        self.read(async |c| ever_linked(c, user).await).await
    }
    async fn link_sso(&self, l: SsoLink, a: AuditDraft) -> R<bool> {
        in_tx!(self, |c| link_sso(c, &l, &a).await)
    }
    async fn create_sso_person(
        &self,
        u: UserRecord,
        role: Role,
        l: SsoLink,
        audit: Vec<AuditDraft>,
    ) -> R<MemberRecord> {
        in_tx!(self, |c| create_person(c, &u, role, &l, &audit).await)
    }
}
