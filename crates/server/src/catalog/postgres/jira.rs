//! [`JiraCatalog`] on PostgreSQL: `jira_sites`, `jira_accounts`, `jira_pending`, `jira_refs` and
//! `jira_tombstones` (migration 13). Each write is one transaction with its audit events. Linking
//! a site and storing a person's account link first lock the org row — the lock a membership
//! change takes — so a link can never be stored for someone whose removal from the org committed
//! meanwhile (removal forgets the link, `identity::revoke_credentials`). Taking a pending row is
//! one `DELETE … RETURNING` and a token refresh one compare-and-set
//! `UPDATE … WHERE token_id = $expected`, so of two racing callers only one gets the row or stores
//! its tokens; the generation is bumped by one `UPDATE … RETURNING`. Moving an issue's secrets and grants locks the secret
//! rows first and the org row before the grants, the order of a version write and of a grant
//! change respectively, so it deadlocks with neither. Burying and destroying what was buried lock
//! the secret row before its tombstone, so of two racing destroyers only one destroys.

use super::identity::lock_org;
use super::rows::{self, get};
use super::tx::{self, Fail, Q, in_tx};
use super::{PostgresCatalog, read_groups, reads, secret_writes, writes};
use crate::audit::AuditDraft;
use crate::catalog::{
    CatalogError, ForgeLink, JiraAccount, JiraCatalog, JiraPending, JiraSite, JiraTombstone,
    SealedValue, StoredBlob,
};
use crate::domain::{IdentityKind, IssueKey, OrgId, SecretId, Timestamp, UserId};
use async_trait::async_trait;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use uuid::Uuid;

type R<T> = Result<T, CatalogError>;

/// Retention of a tombstone whose org has no site any more.
const DEFAULT_RETENTION_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;

macro_rules! site_cols {
    () => {
        "org_id, kind, site_url, cloud_id, client_id, secret_id, secret_key_version, \
         secret_envelope, hook_id, hook_key_version, hook_envelope, expose_names, retention_days, \
         generation, updated_at, updated_by"
    };
}
pub(super) use site_cols;
/// How many columns `site_cols!()` is.
pub(super) const SITE_WIDTH: usize = 16;

macro_rules! account_cols {
    () => {
        "org_id, user_id, account_id, display_name, token_id, token_key_version, token_envelope, \
         linked_at, refreshed_at"
    };
}

macro_rules! pending_cols {
    () => {
        "hash, org_id, user_id, verifier, browser, expires_at"
    };
}

/// An `integer` column that must hold a `u32`.
fn u32_int(r: &PgRow, col: usize) -> R<u32> {
    let n: i32 = get(r, col)?;
    u32::try_from(n).map_err(|_| rows::corrupt(col, format_args!("{n} is out of range")))
}

/// A `u32` for an `integer` column, `what` naming it if it does not fit.
fn int(n: u32, what: &str) -> Q<i32> {
    i32::try_from(n)
        .map_err(|_| CatalogError::Refused(format!("the {what} {n} is out of range")).into())
}

/// A sealed value whose id, key version and envelope are columns `at`, `at + 1`, `at + 2`.
fn sealed(r: &PgRow, at: usize) -> R<SealedValue> {
    Ok(SealedValue {
        id: SecretId::from_uuid(get(r, at)?),
        key_version: u32_int(r, at + 1)?,
        envelope: get(r, at + 2)?,
    })
}

/// A site whose `site_cols!()` start at column `at`.
pub(super) fn site_from(r: &PgRow, at: usize) -> R<JiraSite> {
    Ok(JiraSite {
        org: OrgId::from_uuid(get(r, at)?),
        kind: rows::parse(r, at + 1, |s| s.parse().ok())?,
        site_url: get(r, at + 2)?,
        cloud_id: get(r, at + 3)?,
        client_id: get(r, at + 4)?,
        client_secret: sealed(r, at + 5)?,
        webhook_secret: sealed(r, at + 8)?,
        expose_names: get(r, at + 11)?,
        retention_days: u32_int(r, at + 12)?,
        generation: rows::u64_at(r, at + 13)?,
        updated_at: rows::ts(r, at + 14)?,
        updated_by: get(r, at + 15)?,
    })
}

fn account_row(r: &PgRow) -> R<JiraAccount> {
    Ok(JiraAccount {
        org: OrgId::from_uuid(get(r, 0)?),
        user: UserId::from_uuid(get(r, 1)?),
        account_id: get(r, 2)?,
        display_name: get(r, 3)?,
        tokens: sealed(r, 4)?,
        linked_at: rows::ts(r, 7)?,
        refreshed_at: rows::ts(r, 8)?,
    })
}

fn pending_row(r: &PgRow) -> R<JiraPending> {
    Ok(JiraPending {
        hash: get(r, 0)?,
        org: OrgId::from_uuid(get(r, 1)?),
        user: UserId::from_uuid(get(r, 2)?),
        verifier: get(r, 3)?,
        browser: get(r, 4)?,
        expires_at: rows::ts(r, 5)?,
    })
}

/// Locks the org row like [`lock_org`]; whether the org exists.
async fn lock_if_exists(c: &mut PgConnection, org: OrgId) -> Q<bool> {
    match lock_org(c, org).await {
        Ok(()) => Ok(true),
        Err(Fail::Final(CatalogError::NotFound)) => Ok(false),
        Err(other) => Err(other),
    }
}

/// Forgets what belongs to the org's site: account links, pending consents, issue ids, the
/// trusted Forge installation.
async fn forget_site_state(c: &mut PgConnection, org: OrgId) -> Q<()> {
    for sql in [
        "DELETE FROM jira_accounts WHERE org_id = $1",
        "DELETE FROM jira_pending WHERE org_id = $1",
        "DELETE FROM jira_refs WHERE org_id = $1",
        "DELETE FROM jira_forge WHERE org_id = $1",
    ] {
        sqlx::query(sql)
            .bind(org.as_uuid())
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

async fn put_site(c: &mut PgConnection, s: &JiraSite, a: &AuditDraft) -> Q<()> {
    // `NotFound` if the org does not exist.
    lock_org(c, s.org).await?;
    let old: Option<(String, String, i64)> = sqlx::query_as(
        "SELECT kind, site_url, generation FROM jira_sites WHERE org_id = $1 FOR UPDATE",
    )
    .bind(s.org.as_uuid())
    .fetch_optional(&mut *c)
    .await?;
    if old
        .as_ref()
        .is_some_and(|(kind, url, _)| *url != s.site_url || kind != s.kind.as_str())
    {
        forget_site_state(c, s.org).await?;
    }
    let generation = old.map_or(1, |(_, _, g)| g.saturating_add(1));
    sqlx::query(concat!(
        "INSERT INTO jira_sites (",
        site_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT (org_id) DO UPDATE SET kind = excluded.kind, site_url = excluded.site_url, \
         cloud_id = excluded.cloud_id, client_id = excluded.client_id, \
         secret_id = excluded.secret_id, secret_key_version = excluded.secret_key_version, \
         secret_envelope = excluded.secret_envelope, hook_id = excluded.hook_id, \
         hook_key_version = excluded.hook_key_version, hook_envelope = excluded.hook_envelope, \
         expose_names = excluded.expose_names, retention_days = excluded.retention_days, \
         generation = excluded.generation, updated_at = excluded.updated_at, \
         updated_by = excluded.updated_by"
    ))
    .bind(s.org.as_uuid())
    .bind(s.kind.as_str())
    .bind(&s.site_url)
    .bind(s.cloud_id.as_deref())
    .bind(&s.client_id)
    .bind(s.client_secret.id.as_uuid())
    .bind(int(s.client_secret.key_version, "org key version")?)
    .bind(&s.client_secret.envelope)
    .bind(s.webhook_secret.id.as_uuid())
    .bind(int(s.webhook_secret.key_version, "org key version")?)
    .bind(&s.webhook_secret.envelope)
    .bind(s.expose_names)
    .bind(int(s.retention_days, "retention in days")?)
    .bind(generation)
    .bind(s.updated_at.millis())
    .bind(&s.updated_by)
    .execute(&mut *c)
    .await?;
    writes::append_audit(c, a).await
}

async fn delete_site(c: &mut PgConnection, org: OrgId, a: &AuditDraft) -> Q<bool> {
    if !lock_if_exists(c, org).await? {
        return Ok(false);
    }
    let n = sqlx::query("DELETE FROM jira_sites WHERE org_id = $1")
        .bind(org.as_uuid())
        .execute(&mut *c)
        .await?
        .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    forget_site_state(c, org).await?;
    writes::append_audit(c, a).await?;
    Ok(true)
}

async fn bump(c: &mut PgConnection, org: OrgId) -> Q<Option<u64>> {
    let generation: Option<i64> = sqlx::query_scalar(
        "UPDATE jira_sites SET generation = generation + 1 WHERE org_id = $1 RETURNING generation",
    )
    .bind(org.as_uuid())
    .fetch_optional(c)
    .await?;
    generation
        .map(|g| {
            u64::try_from(g).map_err(|_| rows::corrupt(0, format_args!("{g} is negative")).into())
        })
        .transpose()
}

async fn put_pending(c: &mut PgConnection, p: &JiraPending, now: Timestamp) -> Q<()> {
    // The site row's lock keeps a concurrent change of site (which forgets the org's pending
    // consents) from missing this one.
    sqlx::query("SELECT 1 FROM jira_sites WHERE org_id = $1 FOR SHARE")
        .bind(p.org.as_uuid())
        .fetch_optional(&mut *c)
        .await?;
    sqlx::query("DELETE FROM jira_pending WHERE expires_at < $1")
        .bind(now.millis())
        .execute(&mut *c)
        .await?;
    sqlx::query(concat!(
        "INSERT INTO jira_pending (",
        pending_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(&p.hash[..])
    .bind(p.org.as_uuid())
    .bind(p.user.as_uuid())
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
) -> Q<Option<JiraPending>> {
    let row = sqlx::query(concat!(
        "DELETE FROM jira_pending WHERE hash = $1 RETURNING ",
        pending_cols!()
    ))
    .bind(&hash[..])
    .fetch_optional(c)
    .await?;
    let found = row.as_ref().map(pending_row).transpose()?;
    // Refused only after its expiry (`expires_at < now`), the rows `put_pending` sweeps.
    Ok(found.filter(|p| p.expires_at >= now))
}

async fn put_account(c: &mut PgConnection, a: &JiraAccount, audit: Option<&AuditDraft>) -> Q<()> {
    let no_site = || {
        Fail::from(CatalogError::Refused(
            "the org is not linked to a Jira site".into(),
        ))
    };
    // The lock a membership change takes: a removal either committed before (and the member
    // check below fails) or waits for this link and then forgets it.
    if !lock_if_exists(c, a.org).await? {
        return Err(no_site());
    }
    let linked: Option<i32> = sqlx::query_scalar("SELECT 1 FROM jira_sites WHERE org_id = $1")
        .bind(a.org.as_uuid())
        .fetch_optional(&mut *c)
        .await?;
    if linked.is_none() {
        return Err(no_site());
    }
    match reads::member(c, a.org, a.user).await {
        Ok(m) if m.user.kind == IdentityKind::Person => {}
        Ok(_) | Err(Fail::Final(CatalogError::NotFound)) => {
            return Err(CatalogError::Refused(
                "only a person who is a member of the org can link a Jira account".into(),
            )
            .into());
        }
        Err(other) => return Err(other),
    }
    let taken: Option<Uuid> = sqlx::query_scalar(
        "SELECT user_id FROM jira_accounts WHERE org_id = $1 AND account_id = $2",
    )
    .bind(a.org.as_uuid())
    .bind(&a.account_id)
    .fetch_optional(&mut *c)
    .await?;
    if taken.is_some_and(|u| u != a.user.as_uuid()) {
        return Err(CatalogError::AlreadyExists.into());
    }
    sqlx::query(concat!(
        "INSERT INTO jira_accounts (",
        account_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (org_id, user_id) DO UPDATE SET account_id = excluded.account_id, \
         display_name = excluded.display_name, token_id = excluded.token_id, \
         token_key_version = excluded.token_key_version, \
         token_envelope = excluded.token_envelope, linked_at = excluded.linked_at, \
         refreshed_at = excluded.refreshed_at"
    ))
    .bind(a.org.as_uuid())
    .bind(a.user.as_uuid())
    .bind(&a.account_id)
    .bind(&a.display_name)
    .bind(a.tokens.id.as_uuid())
    .bind(int(a.tokens.key_version, "org key version")?)
    .bind(&a.tokens.envelope)
    .bind(a.linked_at.millis())
    .bind(a.refreshed_at.millis())
    .execute(&mut *c)
    .await?;
    match audit {
        Some(d) => writes::append_audit(c, d).await,
        None => Ok(()),
    }
}

async fn refresh_tokens(
    c: &mut PgConnection,
    org: OrgId,
    user: UserId,
    expected: SecretId,
    t: &SealedValue,
    at: Timestamp,
) -> Q<bool> {
    // A racer that waited for the row re-evaluates `token_id = $3` on the committed row: once
    // the other stored, it matches nothing.
    let n = sqlx::query(
        "UPDATE jira_accounts SET token_id = $4, token_key_version = $5, token_envelope = $6, \
         refreshed_at = $7 WHERE org_id = $1 AND user_id = $2 AND token_id = $3",
    )
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .bind(expected.as_uuid())
    .bind(t.id.as_uuid())
    .bind(int(t.key_version, "org key version")?)
    .bind(&t.envelope)
    .bind(at.millis())
    .execute(c)
    .await?
    .rows_affected();
    Ok(n == 1)
}

async fn account(c: &mut PgConnection, org: OrgId, user: UserId) -> Q<Option<JiraAccount>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        account_cols!(),
        " FROM jira_accounts WHERE org_id = $1 AND user_id = $2"
    ))
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .fetch_optional(c)
    .await?;
    Ok(row.as_ref().map(account_row).transpose()?)
}

async fn count_accounts(c: &mut PgConnection, org: OrgId) -> Q<u64> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM jira_accounts WHERE org_id = $1")
        .bind(org.as_uuid())
        .fetch_one(c)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

async fn delete_account(c: &mut PgConnection, org: OrgId, user: UserId, a: &AuditDraft) -> Q<bool> {
    let n = sqlx::query("DELETE FROM jira_accounts WHERE org_id = $1 AND user_id = $2")
        .bind(org.as_uuid())
        .bind(user.as_uuid())
        .execute(&mut *c)
        .await?
        .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    writes::append_audit(c, a).await?;
    Ok(true)
}

async fn put_refs(c: &mut PgConnection, org: OrgId, refs: &[(String, String)]) -> Q<()> {
    if refs.is_empty() {
        return Ok(());
    }
    // The site row's lock keeps a concurrent unlink (which forgets the refs) from missing these.
    let linked: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM jira_sites WHERE org_id = $1 FOR SHARE")
            .bind(org.as_uuid())
            .fetch_optional(&mut *c)
            .await?;
    if linked.is_none() {
        return Ok(());
    }
    for (key, id) in refs {
        sqlx::query(
            "INSERT INTO jira_refs (org_id, key, jira_id) VALUES ($1, $2, $3) \
             ON CONFLICT (org_id, key) DO UPDATE SET jira_id = excluded.jira_id",
        )
        .bind(org.as_uuid())
        .bind(key)
        .bind(id)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

async fn refs(c: &mut PgConnection, org: OrgId, keys: &[String]) -> Q<Vec<(String, String)>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    // In the order of `keys`, like one lookup per key.
    let list = sqlx::query(
        "SELECT k.key, r.jira_id FROM unnest($2::text[]) WITH ORDINALITY AS k(key, n) \
         JOIN jira_refs r ON r.org_id = $1 AND r.key = k.key ORDER BY k.n",
    )
    .bind(org.as_uuid())
    .bind(keys)
    .fetch_all(c)
    .await?;
    Ok(rows::all(&list, |r| Ok((get(r, 0)?, get(r, 1)?)))?)
}

async fn bury(
    c: &mut PgConnection,
    org: OrgId,
    secrets: &[(SecretId, AuditDraft)],
    at: Timestamp,
) -> Q<Vec<SecretId>> {
    let mut done = Vec::new();
    for (secret, audit) in secrets {
        // A racer that waited for the row re-evaluates the condition: one of them deletes it.
        let n = sqlx::query(
            "UPDATE secrets SET deleted_at = $3 \
             WHERE id = $1 AND org_id = $2 AND NOT destroyed AND deleted_at IS NULL",
        )
        .bind(secret.as_uuid())
        .bind(org.as_uuid())
        .bind(at.millis())
        .execute(&mut *c)
        .await?
        .rows_affected();
        if n == 0 {
            continue;
        }
        sqlx::query(
            "INSERT INTO jira_tombstones (secret_id, org_id, deleted_at) VALUES ($1, $2, $3) \
             ON CONFLICT (secret_id) DO UPDATE SET org_id = excluded.org_id, \
             deleted_at = excluded.deleted_at",
        )
        .bind(secret.as_uuid())
        .bind(org.as_uuid())
        .bind(at.millis())
        .execute(&mut *c)
        .await?;
        writes::append_audit(c, audit).await?;
        done.push(*secret);
    }
    Ok(done)
}

async fn rekey(
    c: &mut PgConnection,
    org: OrgId,
    from: &IssueKey,
    to: &IssueKey,
    a: &AuditDraft,
) -> Q<u64> {
    let (fp, fi) = (from.project().as_str(), i64::from(from.number()));
    let (tp, ti) = (to.project().as_str(), i64::from(to.number()));
    // The secret rows first, like a version write; a name already live on `to` stays put.
    let moved = sqlx::query(
        "UPDATE secrets s SET project = $4, issue = $5, \
         restricted = CASE WHEN $2 <> $4 THEN true ELSE s.restricted END \
         WHERE s.org_id = $1 AND s.project = $2 AND s.issue = $3 AND NOT s.destroyed \
         AND NOT EXISTS (SELECT 1 FROM secrets t WHERE t.org_id = $1 AND t.project = $4 \
                         AND t.issue = $5 AND t.name = s.name AND NOT t.destroyed)",
    )
    .bind(org.as_uuid())
    .bind(fp)
    .bind(fi)
    .bind(tp)
    .bind(ti)
    .execute(&mut *c)
    .await?
    .rows_affected();
    // Then the org row, like a grant change: a grant on the old key follows the issue unless its
    // principal already has one on the new key.
    lock_org(c, org).await?;
    let grants = sqlx::query(
        "UPDATE grants g SET project = $4, issue = $5 \
         WHERE g.org_id = $1 AND g.project = $2 AND g.issue = $3 \
         AND NOT EXISTS (SELECT 1 FROM grants t WHERE t.org_id = $1 AND t.project = $4 \
                         AND t.issue = $5 \
                         AND coalesce(t.user_id, t.group_id) = coalesce(g.user_id, g.group_id))",
    )
    .bind(org.as_uuid())
    .bind(fp)
    .bind(fi)
    .bind(tp)
    .bind(ti)
    .execute(&mut *c)
    .await?
    .rows_affected();
    if moved > 0 || grants > 0 {
        writes::append_audit(c, a).await?;
    }
    Ok(moved)
}

async fn due_tombstones(c: &mut PgConnection, now: Timestamp, limit: u32) -> Q<Vec<JiraTombstone>> {
    let list = sqlx::query(
        "SELECT t.secret_id, t.org_id, t.deleted_at FROM jira_tombstones t \
         LEFT JOIN jira_sites s ON s.org_id = t.org_id \
         WHERE t.deleted_at + coalesce(s.retention_days::bigint, $3) * $4 <= $1 \
         ORDER BY t.deleted_at, t.secret_id LIMIT $2",
    )
    .bind(now.millis())
    .bind(i64::from(limit))
    .bind(DEFAULT_RETENTION_DAYS)
    .bind(DAY_MS)
    .fetch_all(c)
    .await?;
    Ok(rows::all(&list, |r| {
        Ok(JiraTombstone {
            secret: SecretId::from_uuid(get(r, 0)?),
            org: OrgId::from_uuid(get(r, 1)?),
            deleted_at: rows::ts(r, 2)?,
        })
    })?)
}

async fn destroy_buried(
    c: &mut PgConnection,
    secret: SecretId,
    a: &AuditDraft,
) -> Q<Option<Vec<StoredBlob>>> {
    // The secret row first, like `bury`: a restore racing this either committed before (the
    // secret is not deleted any more) or waits and then finds it destroyed; of two racing
    // destroyers the second finds it destroyed.
    // Still deleted by the event itself: a secret restored and deleted again by a person since
    // has another deletion time, and stays restorable.
    let deleted: Option<bool> = sqlx::query_scalar(
        "SELECT s.deleted_at IS NOT NULL AND s.deleted_at = t.deleted_at \
         FROM secrets s JOIN jira_tombstones t ON t.secret_id = s.id AND t.org_id = s.org_id \
         WHERE s.id = $1 AND NOT s.destroyed FOR UPDATE OF s",
    )
    .bind(secret.as_uuid())
    .fetch_optional(&mut *c)
    .await?;
    sqlx::query("DELETE FROM jira_tombstones WHERE secret_id = $1")
        .bind(secret.as_uuid())
        .execute(&mut *c)
        .await?;
    if deleted != Some(true) {
        return Ok(None);
    }
    secret_writes::destroy(c, secret, a).await.map(Some)
}

macro_rules! forge_cols {
    () => {
        "org_id, app_id, installation_id, linked_at, linked_by"
    };
}

fn forge_row(r: &PgRow) -> R<ForgeLink> {
    Ok(ForgeLink {
        org: OrgId::from_uuid(get(r, 0)?),
        app_id: get(r, 1)?,
        installation_id: get(r, 2)?,
        linked_at: rows::ts(r, 3)?,
        linked_by: get(r, 4)?,
    })
}

async fn put_forge(c: &mut PgConnection, l: &ForgeLink, a: &AuditDraft) -> Q<()> {
    let no_site = || {
        Fail::from(CatalogError::Refused(
            "the org is not linked to a Jira site".into(),
        ))
    };
    if !lock_if_exists(c, l.org).await? {
        return Err(no_site());
    }
    let linked: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM jira_sites WHERE org_id = $1 FOR SHARE")
            .bind(l.org.as_uuid())
            .fetch_optional(&mut *c)
            .await?;
    if linked.is_none() {
        return Err(no_site());
    }
    let taken: Option<Uuid> =
        sqlx::query_scalar("SELECT org_id FROM jira_forge WHERE installation_id = $1")
            .bind(&l.installation_id)
            .fetch_optional(&mut *c)
            .await?;
    if taken.is_some_and(|o| o != l.org.as_uuid()) {
        return Err(Fail::from(CatalogError::AlreadyExists));
    }
    sqlx::query(concat!(
        "INSERT INTO jira_forge (",
        forge_cols!(),
        ") VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id) DO UPDATE SET \
         app_id = excluded.app_id, installation_id = excluded.installation_id, \
         linked_at = excluded.linked_at, linked_by = excluded.linked_by"
    ))
    .bind(l.org.as_uuid())
    .bind(&l.app_id)
    .bind(&l.installation_id)
    .bind(l.linked_at.millis())
    .bind(&l.linked_by)
    .execute(&mut *c)
    .await?;
    writes::append_audit(c, a).await
}

async fn forge_by_org(c: &mut PgConnection, org: OrgId) -> Q<Option<ForgeLink>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        forge_cols!(),
        " FROM jira_forge WHERE org_id = $1"
    ))
    .bind(org.as_uuid())
    .fetch_optional(c)
    .await?;
    Ok(row.as_ref().map(forge_row).transpose()?)
}

async fn forge_by_installation(c: &mut PgConnection, installation: &str) -> Q<Option<ForgeLink>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        forge_cols!(),
        " FROM jira_forge WHERE installation_id = $1"
    ))
    .bind(installation)
    .fetch_optional(c)
    .await?;
    Ok(row.as_ref().map(forge_row).transpose()?)
}

async fn delete_forge(c: &mut PgConnection, org: OrgId, a: &AuditDraft) -> Q<bool> {
    let n = sqlx::query("DELETE FROM jira_forge WHERE org_id = $1")
        .bind(org.as_uuid())
        .execute(&mut *c)
        .await?
        .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    writes::append_audit(c, a).await?;
    Ok(true)
}

async fn account_by_id(
    c: &mut PgConnection,
    org: OrgId,
    account_id: &str,
) -> Q<Option<JiraAccount>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        account_cols!(),
        " FROM jira_accounts WHERE org_id = $1 AND account_id = $2"
    ))
    .bind(org.as_uuid())
    .bind(account_id)
    .fetch_optional(c)
    .await?;
    Ok(row.as_ref().map(account_row).transpose()?)
}

#[async_trait]
impl JiraCatalog for PostgresCatalog {
    async fn jira_site(&self, org: OrgId) -> R<Option<JiraSite>> {
        self.jira_sites.submit(read_groups::JiraSiteOf(org)).await
    }
    async fn put_jira_site(&self, s: JiraSite, a: AuditDraft) -> R<()> {
        in_tx!(self, |c| put_site(c, &s, &a).await)
    }
    async fn delete_jira_site(&self, org: OrgId, a: AuditDraft) -> R<bool> {
        in_tx!(self, |c| delete_site(c, org, &a).await)
    }
    async fn bump_jira_generation(&self, org: OrgId) -> R<Option<u64>> {
        in_tx!(self, |c| bump(c, org).await)
    }
    async fn put_jira_pending(&self, p: JiraPending, now: Timestamp) -> R<()> {
        in_tx!(self, |c| put_pending(c, &p, now).await)
    }
    async fn take_jira_pending(&self, hash: &[u8; 32], now: Timestamp) -> R<Option<JiraPending>> {
        in_tx!(self, |c| take_pending(c, hash, now).await)
    }
    async fn put_jira_account(&self, a: JiraAccount, audit: Option<AuditDraft>) -> R<()> {
        in_tx!(self, |c| put_account(c, &a, audit.as_ref()).await)
    }
    async fn refresh_jira_tokens(
        &self,
        org: OrgId,
        user: UserId,
        expected: SecretId,
        tokens: SealedValue,
        at: Timestamp,
    ) -> R<bool> {
        in_tx!(self, |c| refresh_tokens(
            c, org, user, expected, &tokens, at
        )
        .await)
    }
    async fn jira_account(&self, org: OrgId, user: UserId) -> R<Option<JiraAccount>> {
        self.read(async |c| account(c, org, user).await).await
    }
    async fn count_jira_accounts(&self, org: OrgId) -> R<u64> {
        self.read(async |c| count_accounts(c, org).await).await
    }
    async fn delete_jira_account(&self, org: OrgId, user: UserId, a: AuditDraft) -> R<bool> {
        in_tx!(self, |c| delete_account(c, org, user, &a).await)
    }
    async fn put_jira_refs(&self, org: OrgId, r: &[(String, String)]) -> R<()> {
        in_tx!(self, |c| put_refs(c, org, r).await)
    }
    async fn jira_refs(&self, org: OrgId, keys: &[String]) -> R<Vec<(String, String)>> {
        self.read(async |c| refs(c, org, keys).await).await
    }
    async fn jira_bury(
        &self,
        org: OrgId,
        secrets: Vec<(SecretId, AuditDraft)>,
        at: Timestamp,
    ) -> R<Vec<SecretId>> {
        in_tx!(self, |c| bury(c, org, &secrets, at).await)
    }
    async fn jira_rekey(
        &self,
        org: OrgId,
        from: &IssueKey,
        to: &IssueKey,
        a: AuditDraft,
    ) -> R<u64> {
        in_tx!(self, |c| rekey(c, org, from, to, &a).await)
    }
    async fn jira_due_tombstones(&self, now: Timestamp, limit: u32) -> R<Vec<JiraTombstone>> {
        self.read(async |c| due_tombstones(c, now, limit).await)
            .await
    }
    async fn put_forge_link(&self, l: ForgeLink, a: AuditDraft) -> R<()> {
        in_tx!(self, |c| put_forge(c, &l, &a).await)
    }
    async fn forge_link(&self, org: OrgId) -> R<Option<ForgeLink>> {
        self.read(async |c| forge_by_org(c, org).await).await
    }
    async fn forge_link_by_installation(&self, installation: &str) -> R<Option<ForgeLink>> {
        self.read(async |c| forge_by_installation(c, installation).await)
            .await
    }
    async fn delete_forge_link(&self, org: OrgId, a: AuditDraft) -> R<bool> {
        in_tx!(self, |c| delete_forge(c, org, &a).await)
    }
    async fn jira_account_by_id(&self, org: OrgId, account_id: &str) -> R<Option<JiraAccount>> {
        self.read(async |c| account_by_id(c, org, account_id).await)
            .await
    }
    async fn jira_destroy_buried(
        &self,
        secret: SecretId,
        a: AuditDraft,
    ) -> R<Option<Vec<StoredBlob>>> {
        in_tx!(self, |c| destroy_buried(c, secret, &a).await)
    }
}
