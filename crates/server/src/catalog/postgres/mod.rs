//! The PostgreSQL catalog: for deployments that run several coffer processes against one
//! database, or that already operate PostgreSQL.
//!
//! Shape, and why: a sqlx pool of `pool_size` connections (opened lazily after [`open`] has
//! connected once and migrated); every mutating method is one READ COMMITTED transaction built
//! from [`writes`] / [`secret_writes`], whose row locks serialize exactly what must be
//! serialized — one secret's versions and views, one org's key version and audit chain — and
//! nothing else, so orgs never wait on each other. The hot paths — reveals, version writes and
//! the lookups every request makes — run in groups of what this node was asked at the same time
//! ([`group`]; a reveal group is one statement that commits by itself). [`tx`] retries a
//! transaction whole on serialization failure or deadlock and maps driver errors to
//! `CatalogError` by meaning. Audit
//! chain: the org row holds the chain head, and appending bumps it, which takes that row's lock
//! until commit. `bootstrap` takes a transaction-level advisory lock so racing callers on an
//! empty database queue and exactly one creates. sqlx runs without its `sqlite` feature (rusqlite
//! already links SQLite) and without compile-time macros: queries are runtime-checked binds that
//! the conformance suite exercises, so building needs no live database.

mod access;
mod audit_copy;
mod byok;
mod group;
mod identity;
mod jira;
mod links;
mod open;
mod read_groups;
mod reads;
mod rows;
mod scim;
mod secret_writes;
mod sso;
mod storage;
mod storage_health;
mod tx;
mod uploads;
mod web;
mod webhooks;
mod writes;

use crate::audit::checkpoint::Checkpoint;
use crate::audit::{AuditDraft, AuditRecord};
use crate::catalog::rules::saturating_i64;
use crate::catalog::{
    AuditFilter, Catalog, CatalogError, MemberRecord, NewOrg, NewVersion, OrgRecord, Principal,
    Result, RevealTarget, SecretFilter, SecretRecord, StoredBlob, TokenRecord, UserRecord,
    VersionRecord, Views,
};
use crate::domain::{OrgId, OrgSlug, OrgStatus, Scope, SecretId, SecretName, Timestamp, TokenId};
use crate::keys::OrgKeyWrap;
use async_trait::async_trait;
use sqlx::PgPool;
use tx::{Q, in_tx};

pub use open::redact;

/// The PostgreSQL catalog.
pub struct PostgresCatalog {
    pool: PgPool,
    /// Group commit of reveals ([`group`]).
    views: group::Grouper<secret_writes::View>,
    /// Group commit of version writes.
    versions: group::Grouper<secret_writes::Put>,
    /// Read groups ([`read_groups`]) of the lookups every request makes.
    tokens: group::Grouper<read_groups::Authenticate>,
    orgs: group::Grouper<read_groups::OrgBySlug>,
    secrets: group::Grouper<read_groups::SecretAt>,
    reveals: group::Grouper<read_groups::Reveal>,
    jira_sites: group::Grouper<read_groups::JiraSiteOf>,
}

impl PostgresCatalog {
    /// Connects to `url` (retrying for ~10 s while the server is unreachable or starting),
    /// migrates, and keeps a pool of up to `pool_size` connections. Errors name the URL without
    /// its password.
    pub async fn open(url: &str, pool_size: u32) -> Result<Self> {
        Self::open_within(url, pool_size, std::time::Duration::from_secs(10)).await
    }

    /// [`PostgresCatalog::open`], retrying an unreachable server for `patience` instead of
    /// ~10 s (`catalog.connect_timeout`).
    pub async fn open_within(
        url: &str,
        pool_size: u32,
        patience: std::time::Duration,
    ) -> Result<Self> {
        Self::open_measured(url, pool_size, patience, Default::default()).await
    }

    /// [`PostgresCatalog::open_within`], counting the group commits in `metrics`.
    pub async fn open_measured(
        url: &str,
        pool_size: u32,
        patience: std::time::Duration,
        metrics: std::sync::Arc<crate::metrics::Metrics>,
    ) -> Result<Self> {
        open::open(url, pool_size, patience, metrics).await
    }
}

#[async_trait]
impl Catalog for PostgresCatalog {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn bootstrap(
        &self,
        org: NewOrg,
        owner: UserRecord,
        token: TokenRecord,
        audit: Vec<AuditDraft>,
    ) -> Result<bool> {
        in_tx!(self, |c| writes::bootstrap(c, &org, &owner, &token, &audit)
            .await)
    }
    async fn create_org(&self, org: NewOrg, audit: AuditDraft) -> Result<OrgRecord> {
        in_tx!(self, |c| writes::create_org(c, &org, &audit).await)
    }
    async fn org_by_slug(&self, slug: &OrgSlug) -> Result<OrgRecord> {
        self.orgs.submit(read_groups::OrgBySlug(slug.clone())).await
    }
    async fn org_by_id(&self, id: OrgId) -> Result<OrgRecord> {
        self.read(async |c| reads::org_by_id(c, id).await).await
    }
    async fn list_orgs(&self) -> Result<Vec<OrgRecord>> {
        self.read(async |c| reads::list_orgs(c).await).await
    }
    async fn set_org_status(
        &self,
        org: OrgId,
        status: OrgStatus,
        reason: Option<String>,
        audit: AuditDraft,
    ) -> Result<()> {
        in_tx!(self, |c| writes::set_org_status(
            c,
            org,
            status,
            reason.as_deref(),
            &audit
        )
        .await)
    }
    async fn org_key_wraps(&self, org: OrgId, version: u32) -> Result<Vec<OrgKeyWrap>> {
        self.read(async |c| reads::org_key_wraps(c, org, version).await)
            .await
    }
    async fn add_org_key(
        &self,
        org: OrgId,
        version: u32,
        wraps: Vec<OrgKeyWrap>,
        audit: AuditDraft,
    ) -> Result<()> {
        in_tx!(self, |c| writes::add_org_key(
            c, org, version, &wraps, &audit
        )
        .await)
    }
    async fn org_key_encryptions(&self, org: OrgId, version: u32) -> Result<u64> {
        self.read(async |c| reads::org_key_encryptions(c, org, version).await)
            .await
    }
    async fn list_members(&self, org: OrgId) -> Result<Vec<MemberRecord>> {
        self.read(async |c| reads::list_members(c, org).await).await
    }
    async fn create_token(&self, token: TokenRecord, audit: Option<AuditDraft>) -> Result<()> {
        in_tx!(self, |c| writes::create_token(c, &token, audit.as_ref())
            .await)
    }
    async fn authenticate(&self, hash: &[u8; 32]) -> Result<Option<Principal>> {
        self.tokens.submit(read_groups::Authenticate(*hash)).await
    }
    async fn list_tokens(&self, org: Option<OrgId>) -> Result<Vec<TokenRecord>> {
        self.read(async |c| reads::list_tokens(c, org).await).await
    }
    async fn token(&self, org: Option<OrgId>, id: TokenId) -> Result<TokenRecord> {
        self.read(async |c| reads::token(c, org, id).await).await
    }
    async fn revoke_token(
        &self,
        org: Option<OrgId>,
        id: TokenId,
        at: Timestamp,
        audit: Option<AuditDraft>,
    ) -> Result<TokenRecord> {
        in_tx!(self, |c| writes::revoke_token(
            c,
            org,
            id,
            at,
            audit.as_ref()
        )
        .await)
    }
    async fn secret(&self, org: OrgId, scope: &Scope, name: &SecretName) -> Result<SecretRecord> {
        self.secrets
            .submit(read_groups::SecretAt {
                org,
                scope: scope.clone(),
                name: name.clone(),
            })
            .await
    }
    async fn list_secrets(&self, org: OrgId, filter: &SecretFilter) -> Result<Vec<SecretRecord>> {
        self.read(async |c| reads::list_secrets(c, org, filter).await)
            .await
    }
    async fn version(&self, secret: SecretId, version: u32) -> Result<VersionRecord> {
        self.read(async |c| reads::version(c, secret, version).await)
            .await
    }
    async fn reveal_target(
        &self,
        slug: &OrgSlug,
        scope: &Scope,
        name: &SecretName,
        version: Option<u32>,
    ) -> Result<RevealTarget> {
        self.reveals
            .submit(read_groups::Reveal {
                token: None,
                slug: slug.clone(),
                scope: scope.clone(),
                name: name.clone(),
                version,
            })
            .await?
            .1
    }
    async fn authenticate_reveal(
        &self,
        hash: &[u8; 32],
        slug: &OrgSlug,
        scope: &Scope,
        name: &SecretName,
        version: Option<u32>,
    ) -> Result<(Option<Principal>, Result<RevealTarget>)> {
        self.reveals
            .submit(read_groups::Reveal {
                token: Some(*hash),
                slug: slug.clone(),
                scope: scope.clone(),
                name: name.clone(),
                version,
            })
            .await
    }
    async fn versions(&self, secret: SecretId) -> Result<Vec<VersionRecord>> {
        self.read(async |c| reads::versions(c, secret).await).await
    }
    async fn put_version(&self, v: NewVersion, audit: AuditDraft) -> Result<SecretRecord> {
        self.versions.submit(secret_writes::Put { v, audit }).await
    }
    async fn record_view(&self, secret: SecretId, audit: AuditDraft) -> Result<Views> {
        self.views
            .submit(secret_writes::View { secret, audit })
            .await
    }
    async fn set_deleted(
        &self,
        secret: SecretId,
        at: Option<Timestamp>,
        audit: AuditDraft,
    ) -> Result<SecretRecord> {
        in_tx!(self, |c| secret_writes::set_deleted(c, secret, at, &audit)
            .await)
    }
    async fn destroy(&self, secret: SecretId, audit: AuditDraft) -> Result<Vec<StoredBlob>> {
        in_tx!(self, |c| secret_writes::destroy(c, secret, &audit).await)
    }
    async fn blob_referenced(&self, blob: &StoredBlob) -> Result<bool> {
        self.read(async |c| reads::blob_referenced(c, blob).await)
            .await
    }
    async fn append_audit(&self, audit: AuditDraft) -> Result<()> {
        in_tx!(self, |c| writes::append_audit(c, &audit).await)
    }
    async fn audit_events(&self, org: OrgId, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        self.read(async |c| reads::audit_events(c, org, filter).await)
            .await
    }
    async fn audit_head(&self, org: OrgId) -> Result<Option<(u64, [u8; 32])>> {
        self.read(async |c| {
            let row = sqlx::query("SELECT audit_seq, audit_head FROM orgs WHERE id = $1")
                .bind(org.as_uuid())
                .fetch_one(c)
                .await?;
            let seq = rows::u64_at(&row, 0)?;
            Ok((seq > 0).then_some((seq, rows::get(&row, 1)?)))
        })
        .await
    }
    async fn audit_checkpoints(&self, org: OrgId) -> Result<Vec<Checkpoint>> {
        self.read(async |c| {
            let list = sqlx::query(
                "SELECT n, seq, head, at, key_version, prev, signature FROM audit_checkpoints \
                 WHERE org_id = $1 ORDER BY n",
            )
            .bind(org.as_uuid())
            .fetch_all(c)
            .await?;
            Ok(rows::all(&list, |r| {
                Ok(Checkpoint {
                    org,
                    n: rows::u64_at(r, 0)?,
                    seq: rows::u64_at(r, 1)?,
                    head: rows::get(r, 2)?,
                    at: rows::ts(r, 3)?,
                    key_version: rows::u32_at(r, 4)?,
                    prev: rows::get(r, 5)?,
                    signature: rows::get(r, 6)?,
                })
            })?)
        })
        .await
    }
    async fn add_audit_checkpoint(&self, cp: Checkpoint) -> Result<()> {
        in_tx!(self, |c| {
            async {
            if cp.n > 1 {
                let prev: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM audit_checkpoints WHERE org_id = $1 AND n = $2)",
                )
                .bind(cp.org.as_uuid())
                .bind(saturating_i64(cp.n - 1))
                .fetch_one(&mut *c)
                .await?;
                if !prev {
                    return Err(CatalogError::Refused(format!(
                        "checkpoint {} does not exist",
                        cp.n - 1
                    ))
                    .into());
                }
            }
            sqlx::query(
                "INSERT INTO audit_checkpoints (org_id, n, seq, head, at, key_version, prev, signature) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(cp.org.as_uuid())
            .bind(saturating_i64(cp.n))
            .bind(saturating_i64(cp.seq))
            .bind(&cp.head[..])
            .bind(cp.at.millis())
            .bind(i64::from(cp.key_version))
            .bind(&cp.prev[..])
            .bind(&cp.signature)
            .execute(&mut *c)
            .await?;
            Ok::<_, tx::Fail>(())
        }
        .await
        })
    }
}

#[cfg(test)]
mod tests;
