//! The reads every request makes — its token, its org, its secret or reveal target, the org's
//! Jira link — as [`Batch`]es: the lookups of one kind that queue together are answered by one
//! statement over `unnest` of their keys ([`super::group`] explains why and how).
//!
//! Each statement numbers its keys `WITH ORDINALITY` and returns that number last, so the
//! column readers of [`super::rows`] keep their offsets and every row finds its job; a key with
//! no row gets the answer a lone lookup would have had (`None`, or `NotFound`). The keys travel
//! as arrays: one prepared statement serves every group size. Every lookup by a unique key is a
//! `LATERAL … LIMIT 1` subquery on the whole key, which PostgreSQL cannot turn into a hash join
//! or a memoized scan: each key is its own lookup on that key. A plain join on several columns
//! was planned, in a generic plan, as a scan of all the org's secrets filtered per key (the
//! index searched on `org_id` alone, the result memoized per org), which made a reveal group
//! in an org of 1,000 secrets cost twice what it does in one of 100,000.

use super::Q;
use super::group::{Batch, Runs};
use super::jira::{SITE_WIDTH, site_cols, site_from};
use super::rows::{self, org_cols, secret_cols, token_cols, user_cols};
use crate::catalog::jira::JiraSite;
use crate::catalog::{CatalogError, OrgRecord, Principal, RevealTarget, SecretRecord};
use crate::domain::{OrgId, OrgSlug, Scope, SecretName};
use async_trait::async_trait;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

/// Answers per job from `rows`, whose last column is the job's 1-based ordinality; a job with
/// no row gets `missing()`. A row whose ordinality cannot be read fails the whole group.
fn by_job<T>(
    jobs: usize,
    rows: &[PgRow],
    read: impl Fn(&PgRow) -> Result<T, CatalogError>,
    missing: impl Fn() -> Result<T, CatalogError>,
) -> Result<Vec<Result<T, CatalogError>>, CatalogError> {
    let mut out: Vec<Option<Result<T, CatalogError>>> = (0..jobs).map(|_| None).collect();
    for row in rows {
        let slot = ordinality(row)
            .and_then(|i| out.get_mut(i))
            .ok_or_else(|| rows::corrupt(0, "a read group's job number"))?;
        *slot = Some(read(row));
    }
    Ok(out
        .into_iter()
        .map(|answer| answer.unwrap_or_else(&missing))
        .collect())
}

/// The 0-based job of a row: its last column is `WITH ORDINALITY`'s 1-based number.
fn ordinality(row: &PgRow) -> Option<usize> {
    use sqlx::Row;
    let last = row.len().checked_sub(1)?;
    let n: i64 = row.try_get(last).ok()?;
    usize::try_from(n).ok()?.checked_sub(1)
}

/// A bearer token's hash ([`crate::catalog::Catalog::authenticate`]).
pub(super) struct Authenticate(pub(super) [u8; 32]);

#[async_trait]
impl Batch for Authenticate {
    type Out = Option<Principal>;
    const RUNS: Runs = Runs::Reads;

    async fn run(c: &mut PgConnection, jobs: &[Self]) -> Q<Vec<Result<Self::Out, CatalogError>>> {
        let hashes: Vec<&[u8]> = jobs.iter().map(|j| &j.0[..]).collect();
        let list = sqlx::query(concat!(
            "SELECT ",
            token_cols!(),
            ", ",
            user_cols!(),
            ", m.role, q.i FROM unnest((SELECT $1::bytea[])) WITH ORDINALITY AS q(hash, i) \
             CROSS JOIN LATERAL (SELECT * FROM tokens WHERE hash = q.hash LIMIT 1) t JOIN users u ON u.id = t.user_id \
             LEFT JOIN memberships m ON m.org_id = t.org_id AND m.user_id = t.user_id"
        ))
        .bind(&hashes)
        .fetch_all(c)
        .await?;
        Ok(by_job(
            jobs.len(),
            &list,
            |r| Ok(Some(principal_at(r, 0)?)),
            || Ok(None),
        )?)
    }
}

/// A principal whose `token_cols!()`, `user_cols!()` and role start at column `at`.
fn principal_at(r: &PgRow, at: usize) -> Result<Principal, CatalogError> {
    let role_at = at + rows::TOKEN_WIDTH + rows::USER_WIDTH;
    let role = match rows::get::<Option<String>>(r, role_at)? {
        Some(_) => Some(rows::role_at(r, role_at)?),
        None => None,
    };
    Ok(Principal {
        token: rows::token_from(r, at)?,
        user: rows::user(r, at + rows::TOKEN_WIDTH)?,
        role,
    })
}

/// An org by its slug.
pub(super) struct OrgBySlug(pub(super) OrgSlug);

#[async_trait]
impl Batch for OrgBySlug {
    type Out = OrgRecord;
    const RUNS: Runs = Runs::Reads;

    async fn run(c: &mut PgConnection, jobs: &[Self]) -> Q<Vec<Result<Self::Out, CatalogError>>> {
        let slugs: Vec<&str> = jobs.iter().map(|j| j.0.as_str()).collect();
        let list = sqlx::query(concat!(
            "SELECT ",
            org_cols!(),
            ", q.i FROM unnest((SELECT $1::text[])) WITH ORDINALITY AS q(want, i) \
             CROSS JOIN LATERAL (SELECT * FROM orgs WHERE slug = q.want LIMIT 1) o"
        ))
        .bind(&slugs)
        .fetch_all(c)
        .await?;
        Ok(by_job(jobs.len(), &list, rows::org, || {
            Err(CatalogError::NotFound)
        })?)
    }
}

/// The live secret at a scope and name.
pub(super) struct SecretAt {
    pub(super) org: OrgId,
    pub(super) scope: Scope,
    pub(super) name: SecretName,
}

#[async_trait]
impl Batch for SecretAt {
    type Out = SecretRecord;
    const RUNS: Runs = Runs::Reads;

    async fn run(c: &mut PgConnection, jobs: &[Self]) -> Q<Vec<Result<Self::Out, CatalogError>>> {
        let orgs: Vec<uuid::Uuid> = jobs.iter().map(|j| j.org.as_uuid()).collect();
        let projects: Vec<&str> = jobs.iter().map(|j| j.scope.project().as_str()).collect();
        let issues: Vec<i64> = jobs
            .iter()
            .map(|j| i64::from(j.scope.issue_number()))
            .collect();
        let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        let list = sqlx::query(concat!(
            "SELECT ",
            secret_cols!(),
            ", q.i FROM unnest((SELECT $1::uuid[]), (SELECT $2::text[]), (SELECT $3::bigint[]), (SELECT $4::text[])) WITH ORDINALITY \
             AS q(w_org, w_project, w_issue, w_name, i) \
             CROSS JOIN LATERAL (SELECT * FROM secrets WHERE org_id = q.w_org AND project = q.w_project \
             AND issue = q.w_issue AND name = q.w_name AND NOT destroyed LIMIT 1) x"
        ))
        .bind(&orgs)
        .bind(&projects)
        .bind(&issues)
        .bind(&names)
        .fetch_all(c)
        .await?;
        Ok(by_job(jobs.len(), &list, rows::secret, || {
            Err(CatalogError::NotFound)
        })?)
    }
}

/// An org's Jira link.
pub(super) struct JiraSiteOf(pub(super) OrgId);

#[async_trait]
impl Batch for JiraSiteOf {
    type Out = Option<JiraSite>;
    const RUNS: Runs = Runs::Reads;

    async fn run(c: &mut PgConnection, jobs: &[Self]) -> Q<Vec<Result<Self::Out, CatalogError>>> {
        let orgs: Vec<uuid::Uuid> = jobs.iter().map(|j| j.0.as_uuid()).collect();
        let list = sqlx::query(concat!(
            "SELECT ",
            site_cols!(),
            ", q.i FROM unnest((SELECT $1::uuid[])) WITH ORDINALITY AS q(w_org, i) \
             CROSS JOIN LATERAL (SELECT * FROM jira_sites WHERE org_id = q.w_org LIMIT 1) x"
        ))
        .bind(&orgs)
        .fetch_all(c)
        .await?;
        Ok(by_job(
            jobs.len(),
            &list,
            |r| Ok(Some(site_from(r, 0)?)),
            || Ok(None),
        )?)
    }
}

/// A reveal's reads: the org, the secret, the version and the org's Jira link, and with a
/// bearer token's hash the principal too ([`crate::catalog::Catalog::authenticate_reveal`]).
/// Every job gets one row: each lookup is a `LEFT JOIN`, so a missing org or token leaves its
/// columns NULL instead of dropping the row.
pub(super) struct Reveal {
    pub(super) token: Option<[u8; 32]>,
    pub(super) slug: OrgSlug,
    pub(super) scope: Scope,
    pub(super) name: SecretName,
    pub(super) version: Option<u32>,
}

#[async_trait]
impl Batch for Reveal {
    /// The principal (`None` without a token or for an unknown one) and the target
    /// (`NotFound` for an unknown org).
    type Out = (Option<Principal>, Result<RevealTarget, CatalogError>);
    const RUNS: Runs = Runs::Reads;

    async fn run(c: &mut PgConnection, jobs: &[Self]) -> Q<Vec<Result<Self::Out, CatalogError>>> {
        let hashes: Vec<Option<&[u8]>> = jobs
            .iter()
            .map(|j| j.token.as_ref().map(|h| &h[..]))
            .collect();
        let slugs: Vec<&str> = jobs.iter().map(|j| j.slug.as_str()).collect();
        let projects: Vec<&str> = jobs.iter().map(|j| j.scope.project().as_str()).collect();
        let issues: Vec<i64> = jobs
            .iter()
            .map(|j| i64::from(j.scope.issue_number()))
            .collect();
        let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        let versions: Vec<Option<i64>> = jobs.iter().map(|j| j.version.map(i64::from)).collect();
        // The Jira link's columns are `site_cols!()` of `jira_sites`; the principal's are
        // `token_cols!()`, `user_cols!()` and the role, as in [`Authenticate`].
        let list = sqlx::query(concat!(
            "SELECT o.id, o.slug, o.name, o.location, o.status, o.suspended_reason, o.key_version, \
             o.created_at, o.storage_id, \
             s.id, s.org_id, s.project, s.issue, s.name, s.kind, s.version, s.deleted_at, s.created_at, \
             s.created_by, s.updated_at, s.updated_by, s.expires_at, s.view_limit, s.views, s.restricted, \
             v.secret_id, v.version, v.key_version, v.blob_key, v.wrapped_key, v.size, v.created_at, \
             v.created_by, v.storage_id, \
             j.org_id, j.kind, j.site_url, j.cloud_id, j.client_id, j.secret_id, j.secret_key_version, \
             j.secret_envelope, j.hook_id, j.hook_key_version, j.hook_envelope, j.expose_names, \
             j.retention_days, j.generation, j.updated_at, j.updated_by, ",
            token_cols!(),
            ", ",
            user_cols!(),
            ", m.role, q.i \
             FROM unnest((SELECT $1::bytea[]), (SELECT $2::text[]), (SELECT $3::text[]), (SELECT $4::bigint[]), \
             (SELECT $5::text[]), (SELECT $6::bigint[])) WITH ORDINALITY \
             AS q(hash, slug, project, issue, name, version, i) \
             LEFT JOIN LATERAL (SELECT * FROM orgs WHERE slug = q.slug LIMIT 1) o ON true \
             LEFT JOIN LATERAL (SELECT * FROM secrets WHERE org_id = o.id AND project = q.project \
             AND issue = q.issue AND name = q.name AND NOT destroyed LIMIT 1) s ON true \
             LEFT JOIN LATERAL (SELECT * FROM secret_versions WHERE secret_id = s.id \
             AND version = COALESCE(q.version, s.version) LIMIT 1) v ON true \
             LEFT JOIN jira_sites j ON j.org_id = o.id \
             LEFT JOIN LATERAL (SELECT * FROM tokens WHERE hash = q.hash LIMIT 1) t ON true \
             LEFT JOIN users u ON u.id = t.user_id \
             LEFT JOIN memberships m ON m.org_id = t.org_id AND m.user_id = t.user_id"
        ))
        .bind(&hashes)
        .bind(&slugs)
        .bind(&projects)
        .bind(&issues)
        .bind(&names)
        .bind(&versions)
        .fetch_all(c)
        .await?;
        Ok(by_job(jobs.len(), &list, reveal_row, || {
            Err(rows::corrupt(0, "a reveal lookup without its row"))
        })?)
    }
}

/// Where the principal's columns start in a row of [`Reveal`]'s statement.
const REVEAL_PRINCIPAL_AT: usize =
    rows::ORG_WIDTH + rows::SECRET_WIDTH + rows::VERSION_WIDTH + SITE_WIDTH;

/// The principal and the reveal target from a row of [`Reveal`]'s statement.
fn reveal_row(row: &PgRow) -> Result<<Reveal as Batch>::Out, CatalogError> {
    let present = |col: usize| rows::get::<Option<uuid::Uuid>>(row, col).map(|id| id.is_some());
    let principal = match present(REVEAL_PRINCIPAL_AT)? {
        true => Some(principal_at(row, REVEAL_PRINCIPAL_AT)?),
        false => None,
    };
    let target = match present(0)? {
        true => Ok(reveal_target(row)?),
        false => Err(CatalogError::NotFound),
    };
    Ok((principal, target))
}

/// A reveal target from a row of [`Reveal`]'s statement whose org is present.
fn reveal_target(row: &PgRow) -> Result<RevealTarget, CatalogError> {
    let secret_at = rows::ORG_WIDTH;
    let version_at = secret_at + rows::SECRET_WIDTH;
    let jira_at = version_at + rows::VERSION_WIDTH;
    let present = |col: usize| rows::get::<Option<uuid::Uuid>>(row, col).map(|id| id.is_some());
    Ok(RevealTarget {
        org: rows::org(row)?,
        secret: match present(secret_at)? {
            true => Some(rows::secret_from(row, secret_at)?),
            false => None,
        },
        version: match present(version_at)? {
            true => Some(rows::version_from(row, version_at)?),
            false => None,
        },
        jira: match present(jira_at)? {
            true => Some(site_from(row, jira_at)?),
            false => None,
        },
    })
}
