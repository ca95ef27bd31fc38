//! The secret write paths — versions, reveals, soft deletion, destruction — split from
//! [`super::writes`] for size; the same rules apply (READ COMMITTED plus row locks, the org row
//! locked last by the audit append). Versions and reveals run as [`Batch`]es: a group of the
//! requests this node received at the same time shares one transaction (see [`super::group`]).
//!
//! The races the conformance suite fires at them: concurrent `put_version`s of the same next
//! version lock the live secret row (`FOR UPDATE`), so the first commits and the rest, once they
//! get the lock, see its version and report `Conflict`; a first version racing on a new name
//! loses at the partial unique index (`ON CONFLICT … DO NOTHING` waits for the winner) and
//! reports the winner's version. Reveals lock their secrets' rows and count on the newest
//! committed count (a lock wait re-reads the row), so a view limit never overshoots, on one
//! node or many.

use super::group::{Batch, Runs};
use super::rows::{self, secret_cols};
use super::tx::{Fail, autocommit_fail};
use super::writes::{self, append_audit};
use super::{Q, reads};
use crate::audit::{AuditDraft, HASH_PREFIX};
use crate::blob::BlobKey;
use crate::catalog::rules::saturating_i64;
use crate::catalog::{CatalogError, NewVersion, SecretRecord, StoredBlob, Views, rules};
use crate::domain::{SecretId, StorageId, Timestamp};
use async_trait::async_trait;
use sqlx::PgConnection;

/// A version write, grouped with the others this node runs at the same time ([`Batch`]).
pub(super) struct Put {
    pub(super) v: NewVersion,
    pub(super) audit: AuditDraft,
}

#[async_trait]
impl Batch for Put {
    type Out = SecretRecord;

    async fn run(
        c: &mut PgConnection,
        jobs: &[Self],
    ) -> Q<Vec<Result<SecretRecord, CatalogError>>> {
        let jobs: Vec<(&NewVersion, &AuditDraft)> = jobs.iter().map(|j| (&j.v, &j.audit)).collect();
        put_versions(c, &jobs).await
    }
}

/// One version write inside a transaction that does more (a request's fulfilment): a group of
/// one, whose refusal aborts the caller's transaction.
pub(super) async fn put_version(
    c: &mut PgConnection,
    v: &NewVersion,
    audit: &AuditDraft,
) -> Q<SecretRecord> {
    let mut outcome = put_versions(c, &[(v, audit)]).await?;
    Ok(outcome.remove(0)?)
}

/// Locks the org-key counters the writes draw on first (in key order), then the names of the
/// first versions, then the secrets of the later ones, each in name order, so groups on
/// different nodes queue instead of deadlocking. The first versions of a group are one
/// statement when none of them can meet its key's limit ([`all_fit`]), else one each. Every refusal —
/// `Conflict`, `Deleted`, `KeyExhausted` — is decided before its write changes anything; the
/// counters, the storage check and the audit events are written once for all at the end.
async fn put_versions(
    c: &mut PgConnection,
    jobs: &[(&NewVersion, &AuditDraft)],
) -> Q<Vec<Result<SecretRecord, CatalogError>>> {
    let mut keys: Vec<(uuid::Uuid, i64)> = jobs
        .iter()
        .map(|j| (j.0.org.as_uuid(), i64::from(j.0.key_version)))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let (key_orgs, key_versions): (Vec<uuid::Uuid>, Vec<i64>) = keys.iter().copied().unzip();
    let counters = sqlx::query(
        "SELECT k.org_id, k.version, k.encryptions FROM org_keys k \
         JOIN unnest((SELECT $1::uuid[]), (SELECT $2::bigint[])) AS w(org_id, version) USING (org_id, version) \
         ORDER BY k.org_id, k.version FOR NO KEY UPDATE OF k",
    )
    .bind(&key_orgs)
    .bind(&key_versions)
    .fetch_all(&mut *c)
    .await?;
    let mut used: Vec<Counter> = Vec::with_capacity(counters.len());
    for row in &counters {
        let n: i64 = rows::get(row, 2)?;
        used.push(((rows::get(row, 0)?, rows::get(row, 1)?), n, n));
    }
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by(|&a, &b| name_order(jobs[a].0).cmp(&name_order(jobs[b].0)));
    // First versions first, then later ones: every group takes its locks in that order.
    let (creates, appends): (Vec<usize>, Vec<usize>) =
        order.into_iter().partition(|&i| jobs[i].0.version == 1);
    let mut out: Vec<Option<Result<SecretRecord, CatalogError>>> =
        jobs.iter().map(|_| None).collect();
    let mut landed: Vec<usize> = Vec::with_capacity(jobs.len());
    let one_by_one = if creates.len() > 1 && all_fit(&creates, jobs, &used) {
        insert_secrets(c, &creates, jobs, &mut used, &mut out, &mut landed).await?;
        appends
    } else {
        creates.into_iter().chain(appends).collect()
    };
    for i in one_by_one {
        let v = jobs[i].0;
        let key = (v.org.as_uuid(), i64::from(v.key_version));
        let counter = used.iter_mut().find(|k| k.0 == key);
        let outcome = put_one(c, v, counter.map(|k| &mut k.2)).await?;
        if outcome.is_ok() {
            landed.push(i);
        }
        out[i] = Some(outcome);
    }
    let out = out
        .into_iter()
        .map(|o| o.unwrap_or(Err(CatalogError::NotFound)))
        .collect();
    if landed.is_empty() {
        return Ok(out);
    }
    let events: Vec<&AuditDraft> = landed.iter().map(|&i| jobs[i].1).collect();
    let orgs = writes::chain_orgs(&events);
    let locked = sqlx::query(
        "SELECT id, audit_seq, audit_head, storage_id, storage_migrating FROM orgs \
         WHERE id IN (SELECT unnest((SELECT $1::uuid[]))) ORDER BY id FOR NO KEY UPDATE",
    )
    .bind(&orgs)
    .fetch_all(&mut *c)
    .await?;
    if locked.len() != orgs.len() {
        return Err(CatalogError::NotFound.into());
    }
    let mut heads = Vec::with_capacity(locked.len());
    let mut strays: Vec<uuid::Uuid> = Vec::new();
    for row in &locked {
        let head = writes::head(row, 0)?;
        let storage: Option<uuid::Uuid> = rows::get(row, 3)?;
        // A write that raced a storage change landed outside the org's storage: the
        // migration must pick it up, so it may not be finished yet.
        let stray = landed
            .iter()
            .map(|&i| jobs[i].0)
            .any(|v| v.org.as_uuid() == head.0 && v.storage.map(|s| s.as_uuid()) != storage);
        if stray && !rows::get::<bool>(row, 4)? {
            strays.push(head.0);
        }
        heads.push(head);
    }
    if !strays.is_empty() {
        sqlx::query(
            "UPDATE orgs SET storage_migrating = true WHERE id IN (SELECT unnest((SELECT $1::uuid[])))",
        )
        .bind(&strays)
        .execute(&mut *c)
        .await?;
    }
    let ((key_orgs, key_versions), grown): ((Vec<uuid::Uuid>, Vec<i64>), Vec<i64>) = used
        .iter()
        .filter(|k| k.1 != k.2)
        .map(|k| (k.0, k.2))
        .unzip();
    let chained = writes::chain(&events, heads)?;
    writes::bind_events(
        sqlx::query(concat!(
            "WITH k AS (UPDATE org_keys k SET encryptions = n.encryptions \
             FROM unnest((SELECT $14::uuid[]), (SELECT $15::bigint[]), (SELECT $16::bigint[])) \
             AS n(org_id, version, encryptions) WHERE k.org_id = n.org_id AND k.version = n.version), ",
            writes::chain_events!()
        )),
        &chained,
    )
    .bind(&key_orgs)
    .bind(&key_versions)
    .bind(&grown)
    .execute(&mut *c)
    .await?;
    Ok(out)
}

/// An org key's encryption counter as a group uses it: (org, version), the count it found,
/// the count it will write back.
type Counter = ((uuid::Uuid, i64), i64, i64);

/// Whether every first version in `creates` (in name order) would pass its key's limit even if
/// all of them landed: then they can be written by one statement, and a refusal for the key
/// (which a conflicting name would have changed) cannot arise.
fn all_fit(creates: &[usize], jobs: &[(&NewVersion, &AuditDraft)], used: &[Counter]) -> bool {
    let mut after: Vec<((uuid::Uuid, i64), i64)> = used.iter().map(|k| (k.0, k.2)).collect();
    creates.iter().all(|&i| {
        let v = jobs[i].0;
        let key = (v.org.as_uuid(), i64::from(v.key_version));
        match after.iter_mut().find(|k| k.0 == key) {
            Some(k) if k.1 <= rules::last_count_allowing_a_version(v.max_encryptions) => {
                k.1 += rules::WRAPS_PER_VERSION;
                true
            }
            _ => false,
        }
    })
}

/// The order a group takes its secrets' locks in.
fn name_order(v: &NewVersion) -> (uuid::Uuid, &str, u32, &str) {
    (
        v.org.as_uuid(),
        v.scope.project().as_str(),
        v.scope.issue_number(),
        v.name.as_str(),
    )
}

/// One version write inside a group; `counter` is its org key's encryption count, locked and
/// to be written back by the group (`None`: the key does not exist). `Ok(Err(_))` is a refusal
/// made before anything changed. One round trip for a first version (the insert is the
/// check-and-set: a live secret with the name makes it insert nothing), two for a later one.
async fn put_one(
    c: &mut PgConnection,
    v: &NewVersion,
    counter: Option<&mut i64>,
) -> Q<Result<SecretRecord, CatalogError>> {
    let step = if v.version == 1 {
        rules::VersionStep::Create
    } else {
        let live = reads::secret_at(c, v.org, &v.scope, &v.name, true).await?;
        match rules::version_step(live.as_ref(), v.secret, v.version) {
            Ok(step) => step,
            Err(refused) => return Ok(Err(refused)),
        }
    };
    let Some(counter) =
        counter.filter(|n| **n <= rules::last_count_allowing_a_version(v.max_encryptions))
    else {
        return Ok(Err(CatalogError::KeyExhausted));
    };
    let written = match step {
        rules::VersionStep::Create => insert_secret(c, v).await?,
        rules::VersionStep::Append => append_version(c, v).await?,
    };
    let Some(updated) = written else {
        // A live secret has the name (if it was being created, we waited for its commit).
        let current = reads::secret_at(c, v.org, &v.scope, &v.name, false)
            .await?
            .map_or(0, |s| s.version);
        return Ok(Err(CatalogError::Conflict { current }));
    };
    *counter += rules::WRAPS_PER_VERSION;
    Ok(Ok(updated))
}

/// The columns `secret_versions` gets from a [`NewVersion`], as the tail of a statement that
/// selects them `FROM s` (the secret row just written): `$2` is the version, the seven SQL
/// parameters named for the rest, bound by [`bind_version`].
macro_rules! insert_version_from_s {
    ($a:literal, $b:literal, $c:literal, $d:literal, $e:literal, $f:literal, $g:literal) => {
        concat!(
            "v AS (INSERT INTO secret_versions (secret_id, version, key_version, blob_key, \
             wrapped_key, size, created_at, created_by, storage_id) SELECT id, $2, ",
            $a, ", ", $b, ", ", $c, ", ", $d, ", ", $e, ", ", $f, ", ", $g,
            " FROM s) "
        )
    };
}

/// Binds what [`insert_version_from_s`] reads.
fn bind_version<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    v: &'q NewVersion,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    q.bind(i64::from(v.key_version))
        .bind(v.blob_key.as_str())
        .bind(&v.wrapped_key)
        .bind(saturating_i64(v.size))
        .bind(v.at.millis())
        .bind(&v.by)
        .bind(v.storage.map(|s| s.as_uuid()))
}

/// Inserts version 1 with its version row (and its creator's share, if restricted) in one
/// statement; `None` — nothing written — if a live secret already has the name.
async fn insert_secret(c: &mut PgConnection, v: &NewVersion) -> Q<Option<SecretRecord>> {
    let q = sqlx::query(concat!(
        "WITH s AS (INSERT INTO secrets (id, org_id, project, issue, name, kind, version, created_at, \
         created_by, updated_at, updated_by, expires_at, view_limit, restricted) \
         VALUES ($1, $3, $4, $5, $6, $7, $2, $8, $9, $8, $9, $10, $11, $12 IS NOT NULL) \
         ON CONFLICT (org_id, project, issue, name) WHERE NOT destroyed DO NOTHING RETURNING ",
        secret_cols!(),
        "), sh AS (INSERT INTO shares (secret_id, user_id, level, created_at, created_by) \
         SELECT id, $12, 'manage', $8, $9 FROM s WHERE $12 IS NOT NULL), ",
        insert_version_from_s!("$13", "$14", "$15", "$16", "$17", "$18", "$19"),
        "SELECT ",
        secret_cols!(),
        " FROM s"
    ))
    .bind(v.secret.as_uuid())
    .bind(i64::from(v.version))
    .bind(v.org.as_uuid())
    .bind(v.scope.project().as_str())
    .bind(i64::from(v.scope.issue_number()))
    .bind(v.name.as_str())
    .bind(v.kind.as_str())
    .bind(v.at.millis())
    .bind(&v.by)
    .bind(v.expires_at.map(|t| t.millis()))
    .bind(v.view_limit.map(i64::from))
    .bind(v.restricted_to.map(|u| u.as_uuid()));
    let row = bind_version(q, v).fetch_optional(&mut *c).await?;
    Ok(row.as_ref().map(rows::secret).transpose()?)
}

/// First versions of several secrets (in name order, all within their keys' limits: see
/// [`all_fit`]) in one statement: the secrets, their version rows and their creators' shares.
/// A name a live secret already has inserts nothing and is answered `Conflict` with that
/// secret's version, as [`put_one`] would.
async fn insert_secrets(
    c: &mut PgConnection,
    creates: &[usize],
    jobs: &[(&NewVersion, &AuditDraft)],
    used: &mut [Counter],
    out: &mut [Option<Result<SecretRecord, CatalogError>>],
    landed: &mut Vec<usize>,
) -> Q<()> {
    let each = || creates.iter().map(|&i| jobs[i].0);
    let ids: Vec<uuid::Uuid> = each().map(|v| v.secret.as_uuid()).collect();
    let written = sqlx::query(concat!(
        "WITH w AS (SELECT * FROM unnest((SELECT $1::uuid[]), (SELECT $2::uuid[]), (SELECT $3::text[]), (SELECT $4::bigint[]), \
         (SELECT $5::text[]), (SELECT $6::text[]), (SELECT $7::bigint[]), (SELECT $8::text[]), (SELECT $9::bigint[]), (SELECT $10::bigint[]), \
         (SELECT $11::uuid[]), (SELECT $12::bigint[]), (SELECT $13::text[]), (SELECT $14::bytea[]), (SELECT $15::bigint[]), (SELECT $16::uuid[])) \
         WITH ORDINALITY AS x(id, org_id, project, issue, name, kind, at, by, expires_at, \
         view_limit, restricted_to, key_version, blob_key, wrapped_key, size, storage_id, n)), \
         s AS (INSERT INTO secrets (id, org_id, project, issue, name, kind, version, created_at, \
         created_by, updated_at, updated_by, expires_at, view_limit, restricted) \
         SELECT id, org_id, project, issue, name, kind, 1, at, by, at, by, expires_at, view_limit, \
         restricted_to IS NOT NULL FROM w ORDER BY n \
         ON CONFLICT (org_id, project, issue, name) WHERE NOT destroyed DO NOTHING RETURNING ",
        secret_cols!(),
        "), sh AS (INSERT INTO shares (secret_id, user_id, level, created_at, created_by) \
         SELECT w.id, w.restricted_to, 'manage', w.at, w.by FROM s JOIN w ON w.id = s.id \
         WHERE w.restricted_to IS NOT NULL), \
         v AS (INSERT INTO secret_versions (secret_id, version, key_version, blob_key, \
         wrapped_key, size, created_at, created_by, storage_id) \
         SELECT w.id, 1, w.key_version, w.blob_key, w.wrapped_key, w.size, w.at, w.by, \
         w.storage_id FROM s JOIN w ON w.id = s.id) \
         SELECT ",
        secret_cols!(),
        " FROM s"
    ))
    .bind(&ids)
    .bind(each().map(|v| v.org.as_uuid()).collect::<Vec<_>>())
    .bind(
        each()
            .map(|v| v.scope.project().as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        each()
            .map(|v| i64::from(v.scope.issue_number()))
            .collect::<Vec<_>>(),
    )
    .bind(each().map(|v| v.name.as_str()).collect::<Vec<_>>())
    .bind(each().map(|v| v.kind.as_str()).collect::<Vec<_>>())
    .bind(each().map(|v| v.at.millis()).collect::<Vec<_>>())
    .bind(each().map(|v| v.by.as_str()).collect::<Vec<_>>())
    .bind(
        each()
            .map(|v| v.expires_at.map(|t| t.millis()))
            .collect::<Vec<_>>(),
    )
    .bind(
        each()
            .map(|v| v.view_limit.map(i64::from))
            .collect::<Vec<_>>(),
    )
    .bind(
        each()
            .map(|v| v.restricted_to.map(|u| u.as_uuid()))
            .collect::<Vec<_>>(),
    )
    .bind(each().map(|v| i64::from(v.key_version)).collect::<Vec<_>>())
    .bind(each().map(|v| v.blob_key.as_str()).collect::<Vec<_>>())
    .bind(each().map(|v| &v.wrapped_key[..]).collect::<Vec<_>>())
    .bind(each().map(|v| saturating_i64(v.size)).collect::<Vec<_>>())
    .bind(
        each()
            .map(|v| v.storage.map(|s| s.as_uuid()))
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *c)
    .await?;
    let mut secrets = rows::all(&written, rows::secret)?;
    for &i in creates {
        let v = jobs[i].0;
        let outcome = match secrets.iter().position(|s| s.id == v.secret) {
            Some(at) => {
                let key = (v.org.as_uuid(), i64::from(v.key_version));
                if let Some(k) = used.iter_mut().find(|k| k.0 == key) {
                    k.2 += rules::WRAPS_PER_VERSION;
                }
                landed.push(i);
                Ok(secrets.swap_remove(at))
            }
            None => {
                let current = reads::secret_at(c, v.org, &v.scope, &v.name, false)
                    .await?
                    .map_or(0, |s| s.version);
                Err(CatalogError::Conflict { current })
            }
        };
        out[i] = Some(outcome);
    }
    Ok(())
}

/// Moves the live secret (locked by the caller) to `v` and inserts the version row, in one
/// statement.
async fn append_version(c: &mut PgConnection, v: &NewVersion) -> Q<Option<SecretRecord>> {
    let q = sqlx::query(concat!(
        "WITH s AS (UPDATE secrets SET version = $2, kind = $3, updated_at = $4, updated_by = $5, \
         expires_at = COALESCE($6, expires_at), view_limit = COALESCE($7, view_limit) WHERE id = $1 RETURNING ",
        secret_cols!(),
        "), ",
        insert_version_from_s!("$8", "$9", "$10", "$11", "$12", "$13", "$14"),
        "SELECT ",
        secret_cols!(),
        " FROM s"
    ))
    .bind(v.secret.as_uuid())
    .bind(i64::from(v.version))
    .bind(v.kind.as_str())
    .bind(v.at.millis())
    .bind(&v.by)
    .bind(v.expires_at.map(|t| t.millis()))
    .bind(v.view_limit.map(i64::from));
    let row = bind_version(q, v).fetch_optional(&mut *c).await?;
    Ok(row.as_ref().map(rows::secret).transpose()?)
}

/// A reveal to count, grouped with the others this node counts at the same time ([`Batch`]).
pub(super) struct View {
    pub(super) secret: SecretId,
    pub(super) audit: AuditDraft,
}

#[async_trait]
impl Batch for View {
    type Out = Views;
    const RUNS: Runs = Runs::OneStatement;

    /// The whole group is one statement, which commits by itself: it locks the group's
    /// secrets in id order, then their orgs' rows; counts each reveal in turn against the
    /// count it finds (a waiting group sees what the previous holder committed, so a view
    /// limit never overshoots across nodes); chains the counted reveals' events onto their
    /// orgs' heads — SHA-256 of [`HASH_PREFIX`], the previous hash, the sequence number and
    /// the event's [`hash_tail`](crate::audit::hash_tail), computed by PostgreSQL one event after another (a recursive
    /// query) so the chain needs no round trip back here — and writes the counts, the events
    /// and the new heads. A reveal is counted exactly as `rules::count_view` counts one on
    /// SQLite (below its limit, or without one, and below `u32::MAX`), which the conformance
    /// suite checks on both. A reveal of a secret whose org row is missing is `NotFound`.
    async fn run(c: &mut PgConnection, jobs: &[Self]) -> Q<Vec<Result<Views, CatalogError>>> {
        let mut ids: Vec<uuid::Uuid> = jobs.iter().map(|j| j.secret.as_uuid()).collect();
        ids.sort_unstable();
        ids.dedup();
        let rows = sqlx::query(
            "WITH RECURSIVE \
             j AS (SELECT * FROM unnest((SELECT $1::uuid[]), (SELECT $2::uuid[]), (SELECT $3::bigint[]), \
             (SELECT $4::uuid[]), (SELECT $5::text[]), (SELECT $6::text[]), (SELECT $7::text[]), \
             (SELECT $8::text[]), (SELECT $9::bytea[])) \
             WITH ORDINALITY AS x(secret, org, at, actor_id, actor, action, target, details, tail, i)), \
             s AS (SELECT id, views, view_limit FROM secrets \
             WHERE id IN (SELECT unnest((SELECT $10::uuid[]))) AND NOT destroyed ORDER BY id FOR NO KEY UPDATE), \
             o AS (SELECT id, audit_seq, audit_head FROM orgs \
             WHERE id IN (SELECT j.org FROM j JOIN s ON s.id = j.secret) ORDER BY id FOR NO KEY UPDATE), \
             a AS (SELECT j.i, j.secret, j.org, s.view_limit, \
             s.views + row_number() OVER (PARTITION BY j.secret ORDER BY j.i) AS count \
             FROM j JOIN s ON s.id = j.secret JOIN o ON o.id = j.org), \
             ok AS (SELECT i, secret, org, count, row_number() OVER (PARTITION BY org ORDER BY i) AS k \
             FROM a WHERE (view_limit IS NULL OR count <= view_limit) AND count <= 4294967295), \
             c (org, k, i, seq, prev, hash) AS ( \
             SELECT ok.org, ok.k, ok.i, o.audit_seq + 1, o.audit_head, \
             sha256($11::bytea || o.audit_head || int8send(o.audit_seq + 1) || j.tail) \
             FROM ok JOIN o ON o.id = ok.org JOIN j ON j.i = ok.i WHERE ok.k = 1 \
             UNION ALL \
             SELECT c.org, ok.k, ok.i, c.seq + 1, c.hash, sha256($11::bytea || c.hash || int8send(c.seq + 1) || j.tail) \
             FROM c JOIN ok ON ok.org = c.org AND ok.k = c.k + 1 JOIN j ON j.i = ok.i), \
             v AS (UPDATE secrets x SET views = m.count \
             FROM (SELECT secret, max(count) AS count FROM ok GROUP BY secret) m WHERE x.id = m.secret), \
             e AS (INSERT INTO audit_events (org_id, seq, at, actor_id, actor, action, target, details, prev_hash, hash) \
             SELECT c.org, c.seq, j.at, j.actor_id, j.actor, j.action, j.target, j.details, c.prev, c.hash \
             FROM c JOIN j ON j.i = c.i), \
             h AS (UPDATE orgs x SET audit_seq = l.seq, audit_head = l.hash \
             FROM (SELECT DISTINCT ON (org) org, seq, hash FROM c ORDER BY org, seq DESC) l WHERE x.id = l.org) \
             SELECT j.i, s.id IS NOT NULL AND o.id IS NOT NULL, ok.count, s.view_limit \
             FROM j LEFT JOIN s ON s.id = j.secret LEFT JOIN o ON o.id = j.org LEFT JOIN ok ON ok.i = j.i",
        )
        .bind(jobs.iter().map(|j| j.secret.as_uuid()).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.audit.org.as_uuid()).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.audit.at.millis()).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.audit.actor_id.map(|u| u.as_uuid())).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.audit.actor.as_str()).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.audit.action).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.audit.target.as_str()).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.audit.details.as_str()).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.audit.hash_tail()).collect::<Vec<_>>())
        .bind(&ids)
        .bind(HASH_PREFIX)
        .fetch_all(&mut *c)
        .await
        .map_err(autocommit_fail)?;
        // The statement has committed: a row that cannot be read leaves the outcome unknown,
        // and the group must not run again.
        views_by_job(jobs.len(), &rows).map_err(Fail::Unknown)
    }
}

/// Each job's answer from the rows of [`View`]'s statement: (job, secret and org found, the
/// count if the reveal was counted, the limit).
fn views_by_job(
    jobs: usize,
    rows: &[sqlx::postgres::PgRow],
) -> Result<Vec<Result<Views, CatalogError>>, CatalogError> {
    let mut out: Vec<Result<Views, CatalogError>> =
        (0..jobs).map(|_| Err(CatalogError::NotFound)).collect();
    {
        for row in rows {
            let i = usize::try_from(rows::get::<i64>(row, 0)? - 1)
                .map_err(|_| rows::corrupt(0, "job number"))?;
            let Some(slot) = out.get_mut(i) else {
                return Err(rows::corrupt(0, "job number"));
            };
            *slot = match (rows::get::<bool>(row, 1)?, rows::opt_u32_at(row, 2)?) {
                (false, _) => Err(CatalogError::NotFound),
                (true, None) => Err(CatalogError::ViewLimitReached),
                (true, Some(count)) => Ok(Views {
                    count,
                    limit: rows::opt_u32_at(row, 3)?,
                }),
            };
        }
    }
    Ok(out)
}

pub(super) async fn set_deleted(
    c: &mut PgConnection,
    secret: SecretId,
    at: Option<Timestamp>,
    audit: &AuditDraft,
) -> Q<SecretRecord> {
    let row = sqlx::query(concat!(
        "UPDATE secrets SET deleted_at = $2 WHERE id = $1 AND NOT destroyed RETURNING ",
        secret_cols!()
    ))
    .bind(secret.as_uuid())
    .bind(at.map(|t| t.millis()))
    .fetch_one(&mut *c)
    .await?;
    let s = rows::secret(&row)?;
    append_audit(c, audit).await?;
    Ok(s)
}

pub(super) async fn destroy(
    c: &mut PgConnection,
    secret: SecretId,
    audit: &AuditDraft,
) -> Q<Vec<StoredBlob>> {
    let n = sqlx::query("UPDATE secrets SET destroyed = true WHERE id = $1 AND NOT destroyed")
        .bind(secret.as_uuid())
        .execute(&mut *c)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(CatalogError::NotFound.into());
    }
    let gone = sqlx::query(
        "DELETE FROM secret_versions WHERE secret_id = $1 RETURNING version, blob_key, storage_id",
    )
    .bind(secret.as_uuid())
    .fetch_all(&mut *c)
    .await?;
    let mut keys: Vec<(i64, StoredBlob)> = rows::all(&gone, |r| {
        let key: String = rows::get(r, 1)?;
        let key = BlobKey::parse(&key)
            .ok_or_else(|| CatalogError::Corrupt(format!("blob key {key:?}")))?;
        let storage = rows::get::<Option<uuid::Uuid>>(r, 2)?.map(StorageId::from_uuid);
        Ok((rows::get(r, 0)?, StoredBlob { storage, key }))
    })?;
    keys.sort_by_key(|k| std::cmp::Reverse(k.0)); // newest first, as `versions` lists them
    // One-time links hold sealed copies of its values: they go with it, and open requests for
    // its name would bring it back.
    sqlx::query("DELETE FROM links WHERE secret_id = $1")
        .bind(secret.as_uuid())
        .execute(&mut *c)
        .await?;
    super::links::revoke_requests_for(c, secret, audit.at).await?;
    append_audit(c, audit).await?;
    Ok(keys.into_iter().map(|(_, k)| k).collect())
}
