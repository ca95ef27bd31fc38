//! The catalog's Jira part (docs/jira.md): an org's link to a Jira site, each person's link to
//! their Jira account, the OAuth consents in flight, what Jira calls the org's issues and projects
//! (their ids, for bulk permission checks), and the secrets Jira's lifecycle events deleted.
//!
//! A supertrait of [`Catalog`](super::Catalog) like the other parts, one file per backend
//! (`sqlite/jira.rs`, `postgres/jira.rs`) and one suite (`conformance::jira`). Every credential
//! (the OAuth client secret, the webhook secret, a person's access and refresh tokens) is stored
//! sealed under the org key ([`SealedValue`]); the catalog never sees them in clear.
//!
//! The site row carries a **generation** that lifecycle events bump: every node keys its cache of
//! Jira's "may browse" answers by it, so one webhook delivered to one node drops the cached
//! answers of every node at their next request.

use super::{Result, SealedValue, StoredBlob};
use crate::audit::AuditDraft;
use crate::domain::{IssueKey, OrgId, SecretId, Timestamp, UserId};
use async_trait::async_trait;

/// Which Jira a site is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JiraKind {
    /// Jira Cloud (`*.atlassian.net`), through an OAuth 2.0 (3LO) app.
    Cloud,
    /// Jira Data Center (self-managed), through its OAuth 2.0 provider (an incoming link).
    DataCenter,
}

impl JiraKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            JiraKind::Cloud => "cloud",
            JiraKind::DataCenter => "data-center",
        }
    }
}

impl std::str::FromStr for JiraKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "cloud" => Ok(JiraKind::Cloud),
            "data-center" => Ok(JiraKind::DataCenter),
            other => Err(format!(
                "unknown Jira kind {other:?}: use `cloud` or `data-center`"
            )),
        }
    }
}

/// An org's link to its Jira site (at most one per org).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JiraSite {
    /// The org.
    pub org: OrgId,
    /// Cloud or Data Center.
    pub kind: JiraKind,
    /// The site's base URL as people open it (`https://acme.atlassian.net`), no trailing slash.
    pub site_url: String,
    /// Cloud: the site's cloud id (API calls go to the gateway under it). `None` for DC.
    pub cloud_id: Option<String>,
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret, sealed.
    pub client_secret: SealedValue,
    /// The secret Jira signs webhooks with (`X-Hub-Signature`), sealed.
    pub webhook_secret: SealedValue,
    /// Whether the remote link on an issue may name the issue's secrets.
    pub expose_names: bool,
    /// Days a secret deleted by a Jira event stays restorable before it is destroyed.
    pub retention_days: u32,
    /// Bumped by lifecycle events; cached permission answers of an older generation are stale.
    pub generation: u64,
    /// Last change.
    pub updated_at: Timestamp,
    /// Who made it (audit name).
    pub updated_by: String,
}

/// A person's link to their Jira account, in one org.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JiraAccount {
    /// The org.
    pub org: OrgId,
    /// The person.
    pub user: UserId,
    /// Jira's id of the account (Cloud `accountId`, DC user name).
    pub account_id: String,
    /// Jira's display name of the account.
    pub display_name: String,
    /// The OAuth tokens (access, refresh, expiry), sealed as one JSON document.
    pub tokens: SealedValue,
    /// When the person linked it.
    pub linked_at: Timestamp,
    /// When the tokens were last stored (a link or a refresh).
    pub refreshed_at: Timestamp,
}

/// A started account link: found by the SHA-256 of its OAuth `state`, one-time.
#[derive(Clone, PartialEq, Eq)]
pub struct JiraPending {
    /// SHA-256 of the `state` sent to Jira.
    pub hash: [u8; 32],
    /// The org.
    pub org: OrgId,
    /// The person who started it (the callback must come from the same person's session).
    pub user: UserId,
    /// The PKCE verifier.
    pub verifier: String,
    /// SHA-256 of the cookie that binds the consent to the browser that started it.
    pub browser: [u8; 32],
    /// After this the row is refused.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for JiraPending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JiraPending")
            .field("org", &self.org)
            .field("user", &self.user)
            .field("verifier", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A secret a Jira event deleted, destroyed once its org's retention has passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JiraTombstone {
    /// The org.
    pub org: OrgId,
    /// The secret.
    pub secret: SecretId,
    /// When the event deleted it.
    pub deleted_at: Timestamp,
}

/// The Forge app installation an org trusts (docs/jira-forge.md): Forge Invocation Tokens of this
/// app and installation act in this org, and no other org.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForgeLink {
    /// The org.
    pub org: OrgId,
    /// The Forge app's id (`ari:cloud:ecosystem::app/<uuid>`), the tokens' `aud`.
    pub app_id: String,
    /// The installation's id (the tokens' `app.installationId`).
    pub installation_id: String,
    /// When it was linked.
    pub linked_at: Timestamp,
    /// Who linked it (audit name).
    pub linked_by: String,
}

/// The Jira part of the catalog. See each method for its contract; `conformance::jira` checks
/// them.
#[async_trait]
pub trait JiraCatalog: Send + Sync + 'static {
    /// The org's Jira site, if linked.
    async fn jira_site(&self, org: OrgId) -> Result<Option<JiraSite>>;

    /// Links the org to `site` or changes the link, and appends `audit`. A different site URL or
    /// kind forgets every account link, pending consent, issue id and the trusted Forge
    /// installation of the org (they belong to the old site). The stored generation is the old one plus one. `NotFound`: no such org.
    async fn put_jira_site(&self, site: JiraSite, audit: AuditDraft) -> Result<()>;

    /// Unlinks the org from Jira with its account links, pending consents, issue ids and trusted
    /// Forge installation, and appends `audit`. Returns whether there was a link (nothing changes and nothing is appended
    /// otherwise). Tombstones stay: what Jira deleted is still destroyed in time.
    async fn delete_jira_site(&self, org: OrgId, audit: AuditDraft) -> Result<bool>;

    /// Bumps the site's generation (a lifecycle event may have changed who sees what) and
    /// returns the new one; `None` if the org has no site.
    async fn bump_jira_generation(&self, org: OrgId) -> Result<Option<u64>>;

    /// Stores a started account link, dropping rows that expired before `now` on the way.
    async fn put_jira_pending(&self, p: JiraPending, now: Timestamp) -> Result<()>;

    /// Takes (deletes and returns) the pending row with this hash, if it exists and has not
    /// expired at `now`. Of two racing callers at most one gets it.
    async fn take_jira_pending(
        &self,
        hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<Option<JiraPending>>;

    /// Stores the person's account link (replacing theirs in that org) and appends `audit` if
    /// given (a link is audited, a token refresh is not). `Refused` if the org has no Jira site
    /// or the user is not a member of it; `AlreadyExists` if another member of the org already
    /// linked this Jira account.
    async fn put_jira_account(&self, a: JiraAccount, audit: Option<AuditDraft>) -> Result<()>;

    /// Replaces the sealed tokens of a link only if they are still `expected` (compare-and-set on
    /// the sealed value's id), so two nodes refreshing at once cannot both store; returns whether
    /// it stored. No audit event.
    async fn refresh_jira_tokens(
        &self,
        org: OrgId,
        user: UserId,
        expected: SecretId,
        tokens: SealedValue,
        at: Timestamp,
    ) -> Result<bool>;

    /// The person's account link in the org.
    async fn jira_account(&self, org: OrgId, user: UserId) -> Result<Option<JiraAccount>>;

    /// How many people of the org linked their Jira account.
    async fn count_jira_accounts(&self, org: OrgId) -> Result<u64>;

    /// Forgets the person's account link and appends `audit`; whether there was one.
    async fn delete_jira_account(
        &self,
        org: OrgId,
        user: UserId,
        audit: AuditDraft,
    ) -> Result<bool>;

    /// Remembers Jira's ids of issues and projects of the org (`key` → id), replacing earlier
    /// ones for the same keys. Ignored for an org without a site.
    async fn put_jira_refs(&self, org: OrgId, refs: &[(String, String)]) -> Result<()>;

    /// Jira's ids for those keys that have one, as (key, id).
    async fn jira_refs(&self, org: OrgId, keys: &[String]) -> Result<Vec<(String, String)>>;

    /// Soft-deletes each of `secrets` of the org that is still live and not deleted at `at`,
    /// records a tombstone for it and appends its event, all in one transaction; the others are
    /// skipped with their events. Returns the secrets it deleted (none when repeated).
    async fn jira_bury(
        &self,
        org: OrgId,
        secrets: Vec<(SecretId, AuditDraft)>,
        at: Timestamp,
    ) -> Result<Vec<SecretId>>;

    /// Moves the live secrets and the grants on issue `from` to issue `to` (an issue moved or
    /// renamed in Jira) and appends `audit` if anything moved, in one transaction. A secret whose
    /// name is already taken on `to` stays where it is. A move to another project also makes the
    /// moved secrets restricted (only their shares reach them): the new project's grants must not
    /// reach secrets they did not reach before, until someone with the right decides. Returns how many secrets moved (none when
    /// repeated).
    async fn jira_rekey(
        &self,
        org: OrgId,
        from: &IssueKey,
        to: &IssueKey,
        audit: AuditDraft,
    ) -> Result<u64>;

    /// Tombstones whose retention has passed at `now` (deleted at least the retention of their
    /// org's site ago, 30 days if the org has no site any more), oldest first, at most `limit`.
    async fn jira_due_tombstones(&self, now: Timestamp, limit: u32) -> Result<Vec<JiraTombstone>>;

    /// Trusts a Forge installation for the org (replacing the org's earlier one) and appends
    /// `audit`. `Refused` if the org has no Jira site; `AlreadyExists` if another org trusts this
    /// installation.
    async fn put_forge_link(&self, link: ForgeLink, audit: AuditDraft) -> Result<()>;

    /// The Forge installation the org trusts.
    async fn forge_link(&self, org: OrgId) -> Result<Option<ForgeLink>>;

    /// The org that trusts this Forge installation, if any.
    async fn forge_link_by_installation(&self, installation: &str) -> Result<Option<ForgeLink>>;

    /// Stops trusting the org's Forge installation and appends `audit`; whether there was one.
    /// (Unlinking or changing the org's Jira site forgets it too.)
    async fn delete_forge_link(&self, org: OrgId, audit: AuditDraft) -> Result<bool>;

    /// The account link of the member of the org whose Jira account id is `account_id`.
    async fn jira_account_by_id(&self, org: OrgId, account_id: &str)
    -> Result<Option<JiraAccount>>;

    /// Ends a tombstone: if its secret is still deleted by that event (a person who restored it
    /// and deleted it again made it theirs), destroys it exactly as `destroy` does
    /// (appending `audit`) and returns its blobs to delete; if it was restored or destroyed
    /// meanwhile, returns `None` and appends nothing. The tombstone is forgotten either way, in the
    /// same transaction.
    async fn jira_destroy_buried(
        &self,
        secret: SecretId,
        audit: AuditDraft,
    ) -> Result<Option<Vec<StoredBlob>>>;
}
