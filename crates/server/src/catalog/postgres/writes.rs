//! The org, key, member, token and audit write paths as plain async functions over a connection
//! that is inside a transaction (opened, committed and retried by `in_tx!` in [`super::tx`]). Each
//! is the whole use case — check, change, audit event — so it commits or rolls back as one. The
//! secret write paths live in [`super::secret_writes`] under the same rules.
//!
//! Concurrency rests on READ COMMITTED (pinned per connection) plus row locks, never on a stale
//! snapshot: a check-and-set first locks the row it checks (`FOR [NO KEY] UPDATE`, or an `UPDATE
//! … WHERE <condition>` that PostgreSQL re-evaluates on the newest row version after waiting),
//! and the statement after a lock wait sees what the previous holder committed. Locks are taken
//! in one order — the secret or token row, then the org-key counter, then the org row for the
//! audit event, last (`add_org_key` and `set_org_status` take the org row first, but after it
//! touch only rows no one else waits on) — so writes to one org queue instead of deadlocking; a
//! deadlock or serialization failure that happens anyway is retried whole by the caller.

use super::rows::{self, token_cols};
use super::{Q, reads};
use crate::audit::AuditDraft;
use crate::catalog::rules::saturating_i64;
use crate::catalog::{CatalogError, NewOrg, OrgRecord, TokenRecord, UserRecord, rules};
use crate::domain::{OrgId, OrgStatus, Role, Timestamp, TokenId, UserId};
use crate::keys::OrgKeyWrap;
use sqlx::PgConnection;

/// Advisory-lock key serializing `bootstrap` (exclusive) against `create_org` (shared), so
/// "only if there is no org at all" holds under races. Advisory keys are per database.
const BOOTSTRAP_LOCK: i64 = 0x636f_6666_6572_0001; // "coffer" + 1

/// Appends `d` to its org's chain ([`append_many`] of one).
pub(super) async fn append_audit(c: &mut PgConnection, d: &AuditDraft) -> Q<()> {
    append_many(c, &[d]).await
}

/// Appends `drafts` to their orgs' chains, each org's in the order given: [`lock_heads`], then
/// one statement that inserts the events [`chain`] hashed and stores each org's new head. The
/// org row holds the chain head and its lock lasts until commit, so appenders of one org
/// serialize — across nodes too — while other orgs do not contend; a group commit
/// ([`super::group`]) pays that lock once for all the events of its transaction.
pub(super) async fn append_many(c: &mut PgConnection, drafts: &[&AuditDraft]) -> Q<()> {
    if drafts.is_empty() {
        return Ok(());
    }
    let heads = lock_heads(c, drafts).await?;
    let events = chain(drafts, heads)?;
    bind_events(sqlx::query(concat!("WITH ", chain_events!())), &events)
        .execute(c)
        .await?;
    Ok(())
}

/// The orgs `drafts` append to, sorted and deduplicated (the order their rows are locked in).
pub(super) fn chain_orgs(drafts: &[&AuditDraft]) -> Vec<uuid::Uuid> {
    let mut orgs: Vec<uuid::Uuid> = drafts.iter().map(|d| d.org.as_uuid()).collect();
    orgs.sort_unstable();
    orgs.dedup();
    orgs
}

/// Locks the rows of the orgs `drafts` append to, in id order (so two appenders never wait on
/// each other in a cycle), and returns each one's chain head.
async fn lock_heads(c: &mut PgConnection, drafts: &[&AuditDraft]) -> Q<Vec<Head>> {
    let orgs = chain_orgs(drafts);
    let rows = sqlx::query(
        "SELECT id, audit_seq, audit_head FROM orgs WHERE id IN (SELECT unnest((SELECT $1::uuid[]))) \
         ORDER BY id FOR NO KEY UPDATE",
    )
    .bind(&orgs)
    .fetch_all(&mut *c)
    .await?;
    let heads = rows
        .iter()
        .map(|r| head(r, 0))
        .collect::<Result<Vec<_>, _>>()?;
    if heads.len() != orgs.len() {
        return Err(CatalogError::NotFound.into());
    }
    Ok(heads)
}

/// An org's chain head: its id, the sequence number of its last event and that event's hash.
pub(super) type Head = (uuid::Uuid, u64, [u8; 32]);

/// The [`Head`] in columns `at..at + 3` of `row` (id, `audit_seq`, `audit_head`).
pub(super) fn head(row: &sqlx::postgres::PgRow, at: usize) -> Result<Head, CatalogError> {
    Ok((
        rows::get(row, at)?,
        rows::u64_at(row, at + 1)?,
        rows::get(row, at + 2)?,
    ))
}

/// Events chained onto their orgs' heads, as the arrays [`chain_events`] binds.
pub(super) struct Chained<'a> {
    org: Vec<uuid::Uuid>,
    seq: Vec<i64>,
    at: Vec<i64>,
    actor_id: Vec<Option<uuid::Uuid>>,
    actor: Vec<&'a str>,
    action: Vec<&'a str>,
    target: Vec<&'a str>,
    details: Vec<&'a str>,
    prev_hash: Vec<Vec<u8>>,
    hash: Vec<Vec<u8>>,
    head_org: Vec<uuid::Uuid>,
    head_seq: Vec<i64>,
    head_hash: Vec<Vec<u8>>,
}

/// Numbers and hashes `drafts` onto `heads` (one per org they append to), each org's in the
/// order given.
pub(super) fn chain<'a>(
    drafts: &[&'a AuditDraft],
    mut heads: Vec<Head>,
) -> Result<Chained<'a>, CatalogError> {
    let len = drafts.len();
    let mut e = Chained {
        org: Vec::with_capacity(len),
        seq: Vec::with_capacity(len),
        at: Vec::with_capacity(len),
        actor_id: Vec::with_capacity(len),
        actor: Vec::with_capacity(len),
        action: Vec::with_capacity(len),
        target: Vec::with_capacity(len),
        details: Vec::with_capacity(len),
        prev_hash: Vec::with_capacity(len),
        hash: Vec::with_capacity(len),
        head_org: Vec::new(),
        head_seq: Vec::new(),
        head_hash: Vec::new(),
    };
    for d in drafts {
        let Some(head) = heads.iter_mut().find(|(id, ..)| *id == d.org.as_uuid()) else {
            return Err(CatalogError::NotFound);
        };
        let seq = head.1 + 1;
        let h = d.hash_at(seq, &head.2);
        e.org.push(head.0);
        e.seq.push(saturating_i64(seq));
        e.at.push(d.at.millis());
        e.actor_id.push(d.actor_id.map(|u| u.as_uuid()));
        e.actor.push(d.actor.as_str());
        e.action.push(d.action);
        e.target.push(d.target.as_str());
        e.details.push(d.details.as_str());
        e.prev_hash.push(head.2.to_vec());
        e.hash.push(h.to_vec());
        (head.1, head.2) = (seq, h);
    }
    for (id, seq, hash) in heads {
        e.head_org.push(id);
        e.head_seq.push(saturating_i64(seq));
        e.head_hash.push(hash.to_vec());
    }
    Ok(e)
}

/// The tail of a `WITH` statement that inserts [`Chained`] events and moves their orgs' heads
/// on; its parameters are `$1`–`$13`, bound by [`bind_events`], so a statement that does more
/// numbers its own from `$14`.
macro_rules! chain_events {
    () => {
        "e AS (INSERT INTO audit_events (org_id, seq, at, actor_id, actor, action, target, details, prev_hash, hash) \
         SELECT * FROM unnest((SELECT $1::uuid[]), (SELECT $2::bigint[]), (SELECT $3::bigint[]), \
         (SELECT $4::uuid[]), (SELECT $5::text[]), (SELECT $6::text[]), (SELECT $7::text[]), \
         (SELECT $8::text[]), (SELECT $9::bytea[]), (SELECT $10::bytea[]))) \
         UPDATE orgs o SET audit_seq = h.seq, audit_head = h.head \
         FROM unnest((SELECT $11::uuid[]), (SELECT $12::bigint[]), (SELECT $13::bytea[])) AS h(id, seq, head) \
         WHERE o.id = h.id"
    };
}
pub(super) use chain_events;

/// Binds `$1`–`$13` of [`chain_events`].
pub(super) fn bind_events<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    e: &'q Chained<'q>,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    q.bind(&e.org)
        .bind(&e.seq)
        .bind(&e.at)
        .bind(&e.actor_id)
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.target)
        .bind(&e.details)
        .bind(&e.prev_hash)
        .bind(&e.hash)
        .bind(&e.head_org)
        .bind(&e.head_seq)
        .bind(&e.head_hash)
}

async fn insert_org(c: &mut PgConnection, org: &NewOrg) -> Q<()> {
    sqlx::query("INSERT INTO orgs (id, slug, name, location, status, key_version, created_at) VALUES ($1, $2, $3, $4, 'active', 1, $5)")
        .bind(org.id.as_uuid())
        .bind(org.slug.as_str())
        .bind(&org.name)
        .bind(org.location.as_str())
        .bind(org.created_at.millis())
        .execute(&mut *c)
        .await?;
    // Key settings (migration 2): provider `local`, a fresh external id from the column default.
    sqlx::query("INSERT INTO org_key_settings (org_id) VALUES ($1)")
        .bind(org.id.as_uuid())
        .execute(&mut *c)
        .await?;
    insert_org_key(c, org.id, 1, &org.key_wraps, org.created_at).await
}

async fn insert_org_key(
    c: &mut PgConnection,
    org: OrgId,
    version: u32,
    wraps: &[OrgKeyWrap],
    at: Timestamp,
) -> Q<()> {
    sqlx::query("INSERT INTO org_keys (org_id, version, created_at) VALUES ($1, $2, $3)")
        .bind(org.as_uuid())
        .bind(i64::from(version))
        .bind(at.millis())
        .execute(&mut *c)
        .await?;
    for (slot, w) in wraps.iter().enumerate() {
        sqlx::query("INSERT INTO org_key_wraps (org_id, version, slot, provider, key_ref, wrapped) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(org.as_uuid())
            .bind(i64::from(version))
            .bind(saturating_i64(slot))
            .bind(&w.provider)
            .bind(&w.key_ref)
            .bind(&w.bytes)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// Inserts a new identity. `AlreadyExists` if its name is taken (among people and the operator,
/// or among its org's service accounts).
pub(super) async fn insert_user(c: &mut PgConnection, u: &UserRecord) -> Q<()> {
    sqlx::query(
        "INSERT INTO users (id, kind, name, org_id, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(u.id.as_uuid())
    .bind(u.kind.as_str())
    .bind(u.name.as_str())
    .bind(u.org.map(|o| o.as_uuid()))
    .bind(u.created_at.millis())
    .execute(c)
    .await?;
    Ok(())
}

pub(super) async fn insert_member(
    c: &mut PgConnection,
    org: OrgId,
    user: UserId,
    role: Role,
) -> Q<()> {
    sqlx::query("INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)")
        .bind(org.as_uuid())
        .bind(user.as_uuid())
        .bind(role.as_str())
        .execute(c)
        .await?;
    Ok(())
}

pub(super) async fn insert_token(c: &mut PgConnection, t: &TokenRecord) -> Q<()> {
    sqlx::query(
        "INSERT INTO tokens (id, hash, user_id, org_id, name, created_at, expires_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
    )
    .bind(t.id.as_uuid())
    .bind(&t.hash[..])
    .bind(t.user.as_uuid())
    .bind(t.org.map(|o| o.as_uuid()))
    .bind(&t.name)
    .bind(t.created_at.millis())
    .bind(t.expires_at.map(|x| x.millis()))
    .execute(c)
    .await?;
    Ok(())
}

pub(super) async fn bootstrap(
    c: &mut PgConnection,
    org: &NewOrg,
    owner: &UserRecord,
    token: &TokenRecord,
    audit: &[AuditDraft],
) -> Q<bool> {
    // Racing bootstraps queue here; the EXISTS below is a new statement, so it sees the org
    // the winner committed.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(BOOTSTRAP_LOCK)
        .execute(&mut *c)
        .await?;
    let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM orgs)")
        .fetch_one(&mut *c)
        .await?;
    if any {
        return Ok(false);
    }
    insert_org(c, org).await?;
    insert_user(c, owner).await?;
    insert_member(c, org.id, owner.id, Role::Owner).await?;
    insert_token(c, token).await?;
    for d in audit {
        append_audit(c, d).await?;
    }
    Ok(true)
}

pub(super) async fn create_org(
    c: &mut PgConnection,
    org: &NewOrg,
    audit: &AuditDraft,
) -> Q<OrgRecord> {
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
        .bind(BOOTSTRAP_LOCK)
        .execute(&mut *c)
        .await?;
    insert_org(c, org).await?;
    append_audit(c, audit).await?;
    reads::org_by_id(c, org.id).await
}

pub(super) async fn set_org_status(
    c: &mut PgConnection,
    org: OrgId,
    status: OrgStatus,
    reason: Option<&str>,
    audit: &AuditDraft,
) -> Q<()> {
    let n = sqlx::query("UPDATE orgs SET status = $2, suspended_reason = $3 WHERE id = $1")
        .bind(org.as_uuid())
        .bind(status.as_str())
        .bind(reason)
        .execute(&mut *c)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(CatalogError::NotFound.into());
    }
    append_audit(c, audit).await
}

pub(super) async fn add_org_key(
    c: &mut PgConnection,
    org: OrgId,
    version: u32,
    wraps: &[OrgKeyWrap],
    audit: &AuditDraft,
) -> Q<()> {
    let row = sqlx::query("SELECT key_version FROM orgs WHERE id = $1 FOR NO KEY UPDATE")
        .bind(org.as_uuid())
        .fetch_one(&mut *c)
        .await?;
    let current = rows::u32_at(&row, 0)?;
    rules::next_key_version(current, version)?;
    super::byok::check_wraps_provider(c, org, wraps).await?;
    insert_org_key(c, org, version, wraps, audit.at).await?;
    sqlx::query("UPDATE orgs SET key_version = $2 WHERE id = $1")
        .bind(org.as_uuid())
        .bind(i64::from(version))
        .execute(&mut *c)
        .await?;
    append_audit(c, audit).await
}

pub(super) async fn create_token(
    c: &mut PgConnection,
    t: &TokenRecord,
    audit: Option<&AuditDraft>,
) -> Q<()> {
    insert_token(c, t).await?;
    match audit {
        Some(a) => append_audit(c, a).await,
        None => Ok(()),
    }
}

pub(super) async fn revoke_token(
    c: &mut PgConnection,
    org: Option<OrgId>,
    id: TokenId,
    at: Timestamp,
    audit: Option<&AuditDraft>,
) -> Q<TokenRecord> {
    let row = sqlx::query(concat!(
        "UPDATE tokens t SET revoked_at = COALESCE(t.revoked_at, $3) FROM users u \
         WHERE u.id = t.user_id AND t.id = $1 AND t.org_id IS NOT DISTINCT FROM $2 RETURNING ",
        token_cols!()
    ))
    .bind(id.as_uuid())
    .bind(org.map(|o| o.as_uuid()))
    .bind(at.millis())
    .fetch_one(&mut *c)
    .await?;
    let t = rows::token(&row)?;
    super::links::revoke_outside_shares(c, None, Some(id), at).await?;
    if let Some(a) = audit {
        append_audit(c, a).await?;
    }
    Ok(t)
}
