//! The catalog seam: every fact except secret values — orgs, org-key wraps and counters, users,
//! roles, token hashes, secret metadata and versions, and the audit chain.
//!
//! The trait is shaped by use case, not by table: each mutating method is one atomic transaction
//! that also appends its audit event, so no backend can commit a change without its event, or
//! lose a check-and-set race. That keeps transactions inside the backend (SQLite's group-commit
//! writer, PostgreSQL's row locks) instead of leaking a transaction type through the seam, and
//! lets one conformance suite (`conformance/`, compiled only for tests) hold every backend to the
//! same semantics.

mod access;
mod audit_copy;
mod byok;
#[cfg(any(test, feature = "testing"))]
pub mod conformance;
mod identity;
mod jira;
mod links;
mod model;
pub mod postgres;
pub mod rules;
mod scim;
pub mod sqlite;
mod sso;
mod storage;
mod storage_health;
mod uploads;
mod web;
mod webhooks;

use crate::audit::checkpoint::Checkpoint;
use crate::audit::{AuditDraft, AuditRecord};
use crate::domain::{OrgId, OrgSlug, OrgStatus, Scope, SecretId, SecretName, Timestamp, TokenId};
use crate::keys::OrgKeyWrap;
use async_trait::async_trait;
use std::sync::Arc;

pub use access::*;
pub use audit_copy::*;
pub use byok::*;
pub use identity::*;
pub use jira::*;
pub use links::*;
pub use model::*;
pub use rules::LAST_OWNER;
pub use scim::*;
pub use sso::*;
pub use storage::*;
pub use storage_health::{
    HealthFinding, StorageHealth, StorageHealthCatalog, StorageHealthReport, StorageStatus,
    StorageTransition,
};
pub use uploads::*;
pub use web::*;
pub use webhooks::*;

/// What went wrong, by meaning. Backend details are logged by the backend.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// No such row (or not in that org).
    #[error("not found")]
    NotFound,
    /// A unique name is taken.
    #[error("already exists")]
    AlreadyExists,
    /// Check-and-set failed: the current version is `current` (0: the secret does not exist).
    #[error("version conflict: current version is {current}")]
    Conflict {
        /// The actual current version.
        current: u32,
    },
    /// The secret is soft-deleted; restore it first.
    #[error("secret is deleted")]
    Deleted,
    /// The view limit is used up.
    #[error("view limit reached")]
    ViewLimitReached,
    /// The org key has wrapped its maximum number of data keys; rotate and retry.
    #[error("org key exhausted")]
    KeyExhausted,
    /// The database failed or could not be reached.
    #[error("catalog unavailable: {0}")]
    Unavailable(String),
    /// This process stopped writing after its disk failed an fsync (the page cache can no
    /// longer be trusted); only a restart, once the disk is checked, writes again.
    #[error("catalog writes stopped after a failed fsync")]
    Halted,
    /// A stored row could not be parsed.
    #[error("catalog row is corrupt: {0}")]
    Corrupt(String),
    /// The change breaks a rule the catalog keeps (e.g. an org's BYOK keys cannot move to other
    /// regions, and a key version cannot be added with another provider's wraps); says which.
    #[error("refused: {0}")]
    Refused(String),
}

/// Audit events read per page by [`walk_audit_chain`].
const AUDIT_WALK_PAGE: u32 = 5_000;

/// Reads the whole audit chain of `org` in pages and verifies it; also returns the hashes of the
/// events at the seqs in `keep` (the checkpoints' heads, to check them against). One read-only
/// walk for the API's verification and an offline restore's.
pub async fn walk_audit_chain(
    catalog: &dyn Catalog,
    org: OrgId,
    keep: &std::collections::HashSet<u64>,
) -> Result<(
    crate::audit::Verification,
    std::collections::HashMap<u64, [u8; 32]>,
)> {
    let mut hashes = std::collections::HashMap::new();
    let mut verifier = crate::audit::Verifier::default();
    let mut after = 0;
    loop {
        let filter = AuditFilter {
            after_seq: after,
            limit: AUDIT_WALK_PAGE,
            ..Default::default()
        };
        let page = catalog.audit_events(org, &filter).await?;
        for e in &page {
            verifier.push(e);
            if keep.contains(&e.seq) {
                hashes.insert(e.seq, e.hash);
            }
        }
        match page.last() {
            Some(last) if page.len() == AUDIT_WALK_PAGE as usize => after = last.seq,
            _ => break,
        }
    }
    Ok((verifier.finish(), hashes))
}

/// Result alias.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// The catalog. See each method for its contract; `conformance::run_all` checks them all.
/// The per-org key settings (BYOK) are the [`ByokCatalog`] part of the same seam, per-org
/// storage the [`StorageCatalog`] part (the health of its bucket the [`StorageHealthCatalog`]
/// part), client-side uploads the [`UploadCatalog`] part,
/// passwords and sessions the [`WebCatalog`] part, identities, memberships and invitations
/// the [`IdentityCatalog`] part, groups, grants and shares the [`AccessCatalog`] part, single
/// sign-on the [`SsoCatalog`] part, SCIM provisioning the [`ScimCatalog`] part, and one-time
/// links and requests for people outside Coffer the [`LinkCatalog`] and [`RequestCatalog`] parts;
/// webhooks, their deliveries and expiry reminders are the [`WebhookCatalog`] part; the link to
/// a Jira site, people's Jira accounts and what Jira's events deleted the [`JiraCatalog`] part;
/// how far each org's audit copy has got in its buckets the [`AuditCopyCatalog`] part.
#[async_trait]
pub trait Catalog:
    AccessCatalog
    + AuditCopyCatalog
    + ByokCatalog
    + IdentityCatalog
    + JiraCatalog
    + LinkCatalog
    + RequestCatalog
    + ScimCatalog
    + SsoCatalog
    + StorageCatalog
    + StorageHealthCatalog
    + UploadCatalog
    + WebCatalog
    + WebhookCatalog
    + Send
    + Sync
    + 'static
{
    /// Backend name (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;

    /// Creates `org`, the person `owner` as its owner, and `token` (the owner's, in `org`), with
    /// their audit events, only if the catalog has no org at all. Returns false (and changes
    /// nothing) otherwise. Safe to race: exactly one caller creates. (The operator is seated
    /// separately: [`IdentityCatalog::seat_operator`].)
    async fn bootstrap(
        &self,
        org: NewOrg,
        owner: UserRecord,
        token: TokenRecord,
        audit: Vec<AuditDraft>,
    ) -> Result<bool>;

    /// Creates an org with key version 1. `AlreadyExists` if the slug is taken.
    async fn create_org(&self, org: NewOrg, audit: AuditDraft) -> Result<OrgRecord>;
    /// An org by slug.
    async fn org_by_slug(&self, slug: &OrgSlug) -> Result<OrgRecord>;
    /// An org by id.
    async fn org_by_id(&self, id: OrgId) -> Result<OrgRecord>;
    /// Every org, by slug.
    async fn list_orgs(&self) -> Result<Vec<OrgRecord>>;
    /// Sets status and reason (suspension and restore).
    async fn set_org_status(
        &self,
        org: OrgId,
        status: OrgStatus,
        reason: Option<String>,
        audit: AuditDraft,
    ) -> Result<()>;

    /// The wraps of one org-key version.
    async fn org_key_wraps(&self, org: OrgId, version: u32) -> Result<Vec<OrgKeyWrap>>;
    /// Adds org-key version `version`, which must be current + 1 (else `Conflict`), and makes
    /// it current. `Refused` if the wraps are not from the org's current key provider (`local`
    /// or `aws-kms`): a rotation racing the switch to BYOK must not add a local wrap after it.
    async fn add_org_key(
        &self,
        org: OrgId,
        version: u32,
        wraps: Vec<OrgKeyWrap>,
        audit: AuditDraft,
    ) -> Result<()>;
    /// How many data keys org-key `version` has wrapped.
    async fn org_key_encryptions(&self, org: OrgId, version: u32) -> Result<u64>;

    /// Members of an org (people and service accounts), by name.
    async fn list_members(&self, org: OrgId) -> Result<Vec<MemberRecord>>;

    /// Stores a new token. `AlreadyExists` on a hash collision; `Refused` if the token's scope
    /// does not fit its identity (an operator token scoped to an org, a member's without one).
    async fn create_token(&self, token: TokenRecord, audit: Option<AuditDraft>) -> Result<()>;
    /// Resolves a token hash (whatever its expiry or revocation; the caller judges).
    async fn authenticate(&self, hash: &[u8; 32]) -> Result<Option<Principal>>;
    /// Tokens of an org, newest first (the operator's, which have no org, with `None`).
    async fn list_tokens(&self, org: Option<OrgId>) -> Result<Vec<TokenRecord>>;
    /// One token of an org (`None`: one of the operator's).
    async fn token(&self, org: Option<OrgId>, id: TokenId) -> Result<TokenRecord>;
    /// Revokes a token of `org` (idempotent: keeps the first revocation time). An operator
    /// token (`org` `None`) has no chain to record in, so `audit` is `None` for it.
    async fn revoke_token(
        &self,
        org: Option<OrgId>,
        id: TokenId,
        at: Timestamp,
        audit: Option<AuditDraft>,
    ) -> Result<TokenRecord>;

    /// A live (not destroyed) secret, deleted or not.
    async fn secret(&self, org: OrgId, scope: &Scope, name: &SecretName) -> Result<SecretRecord>;
    /// Live secrets matching `filter`, ordered by project, issue, name.
    async fn list_secrets(&self, org: OrgId, filter: &SecretFilter) -> Result<Vec<SecretRecord>>;
    /// One version of a secret.
    async fn version(&self, secret: SecretId, version: u32) -> Result<VersionRecord>;
    /// The org `slug`, its secret at `scope`/`name` and that secret's `version` (default: its
    /// current one) in one call — a reveal's reads, from one snapshot where the backend can.
    /// `NotFound` only when the org does not exist; a missing secret or version is `None`.
    async fn reveal_target(
        &self,
        slug: &OrgSlug,
        scope: &Scope,
        name: &SecretName,
        version: Option<u32>,
    ) -> Result<RevealTarget>;
    /// A bearer-token reveal's reads in one call: [`Self::authenticate`] of `hash` and
    /// [`Self::reveal_target`], whose own result (a missing org is `NotFound`) is inside. The
    /// target is read whatever the token turns out to be: the caller judges the principal
    /// before it looks at the target. A backend that groups its reads answers both with one
    /// lookup; the default makes the two calls.
    async fn authenticate_reveal(
        &self,
        hash: &[u8; 32],
        slug: &OrgSlug,
        scope: &Scope,
        name: &SecretName,
        version: Option<u32>,
    ) -> Result<(Option<Principal>, Result<RevealTarget>)> {
        let principal = self.authenticate(hash).await?;
        Ok((
            principal,
            self.reveal_target(slug, scope, name, version).await,
        ))
    }
    /// All versions, newest first.
    async fn versions(&self, secret: SecretId) -> Result<Vec<VersionRecord>>;
    /// Appends a version atomically: check-and-set on the current version (`Conflict`),
    /// refuses a deleted secret (`Deleted`), counts the org-key encryption (`KeyExhausted` at
    /// the maximum), updates the secret, appends the event.
    async fn put_version(&self, v: NewVersion, audit: AuditDraft) -> Result<SecretRecord>;
    /// Counts one reveal atomically (`ViewLimitReached` if none left, `NotFound` if the secret
    /// is gone) and appends the event; returns the count after it.
    async fn record_view(&self, secret: SecretId, audit: AuditDraft) -> Result<Views>;
    /// Soft-deletes (`Some(time)`) or restores (`None`) a secret.
    async fn set_deleted(
        &self,
        secret: SecretId,
        at: Option<Timestamp>,
        audit: AuditDraft,
    ) -> Result<SecretRecord>;
    /// Destroys a secret: forgets its versions and wrapped data keys, frees its name, and
    /// returns the blobs to delete.
    async fn destroy(&self, secret: SecretId, audit: AuditDraft) -> Result<Vec<StoredBlob>>;
    /// Whether any version points at `blob` — that key *in that store* (the orphan sweeper asks;
    /// a copy left behind in the old store by an interrupted migration is not referenced).
    async fn blob_referenced(&self, blob: &StoredBlob) -> Result<bool>;

    /// Appends an event on its own (reveals without a view limit, failed sign-ins).
    async fn append_audit(&self, audit: AuditDraft) -> Result<()>;
    /// Events of an org in chain order.
    async fn audit_events(&self, org: OrgId, filter: &AuditFilter) -> Result<Vec<AuditRecord>>;
    /// The head of an org's chain: its last event's sequence number and hash (`None`: no event).
    async fn audit_head(&self, org: OrgId) -> Result<Option<(u64, [u8; 32])>>;
    /// An org's signed checkpoints, in order of their number.
    async fn audit_checkpoints(&self, org: OrgId) -> Result<Vec<Checkpoint>>;
    /// Stores checkpoint `c`. `AlreadyExists` if the org has checkpoint `c.n` (another node
    /// signed first); `Refused` if it has no checkpoint `c.n - 1` (for `c.n` > 1).
    async fn add_audit_checkpoint(&self, c: Checkpoint) -> Result<()>;

    /// Writes a copy of the whole catalog as of one moment into `dest`, a new or empty file
    /// (`coffer backup`). Only the embedded catalog makes one; any other answers `Refused`
    /// (PostgreSQL is backed up with its own tools: docs/operations.md).
    async fn snapshot_into(&self, dest: &std::path::Path) -> Result<()> {
        let _ = dest;
        Err(CatalogError::Refused(format!(
            "the {} catalog is backed up with its own tools (docs/operations.md)",
            self.backend()
        )))
    }
}

/// Which catalog backend. Tagged by `kind` in `coffer.toml`.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum CatalogSettings {
    /// SQLite file (default `DATA_DIR/catalog.db`).
    Sqlite {
        /// Database file; relative paths resolve against the data directory.
        #[serde(default)]
        path: Option<std::path::PathBuf>,
        /// Read connections.
        #[serde(default = "default_readers")]
        readers: usize,
        /// Entries of the in-memory read cache for tokens and for reveal targets (each); 0
        /// turns it off.
        #[serde(default = "default_cache_entries")]
        cache_entries: u64,
    },
    /// PostgreSQL server. Prefer `PGPASSWORD` or `~/.pgpass` (both honoured) to a password in
    /// the URL, which would sit in the config file.
    Postgres {
        /// Connection URL, e.g. `postgres://coffer@db.internal:5432/coffer`.
        url: String,
        /// Pooled connections.
        #[serde(default = "default_pool_size")]
        pool_size: u32,
        /// How long start-up keeps retrying an unreachable server before giving up.
        #[serde(default = "default_connect_timeout", with = "humantime_serde")]
        connect_timeout: std::time::Duration,
    },
}

fn default_readers() -> usize {
    4
}

fn default_cache_entries() -> u64 {
    sqlite::DEFAULT_CACHE_ENTRIES
}

fn default_pool_size() -> u32 {
    16
}

fn default_connect_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(10)
}

impl Default for CatalogSettings {
    fn default() -> Self {
        CatalogSettings::Sqlite {
            path: None,
            readers: default_readers(),
            cache_entries: default_cache_entries(),
        }
    }
}

/// Builds the configured catalog and runs its migrations.
pub async fn open_catalog(
    settings: &CatalogSettings,
    data_dir: &std::path::Path,
    metrics: Arc<crate::metrics::Metrics>,
) -> Result<Arc<dyn Catalog>> {
    match settings {
        CatalogSettings::Sqlite {
            path,
            readers,
            cache_entries,
        } => {
            let file = data_dir.join(path.clone().unwrap_or_else(|| "catalog.db".into()));
            Ok(Arc::new(
                sqlite::SqliteCatalog::open_measured(&file, *readers, *cache_entries, metrics)
                    .await?,
            ))
        }
        CatalogSettings::Postgres {
            url,
            pool_size,
            connect_timeout,
        } => Ok(Arc::new(
            postgres::PostgresCatalog::open_measured(url, *pool_size, *connect_timeout, metrics)
                .await?,
        )),
    }
}
