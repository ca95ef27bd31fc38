//! The service layer: Coffer's use cases, and the only place that combines the seams.
//!
//! Every use case follows the same steps: resolve the org and ask the pure policy whether the
//! actor may act (another org's object becomes *not found*), check the org is active for secret
//! reads and writes, do the work in the documented order (blob before catalog row, audit event
//! in the same transaction as the change), and return records. HTTP, the CLI and tests all drive
//! the app through here, so the rules live in one place.

mod access;
mod audit_log;
mod backup;
mod byok;
mod error;
pub mod forge;
pub mod jira;
mod links;
mod orgs;
mod people;
mod recovery;
pub mod scim;
mod sealed;
mod secrets;
pub mod sso;
mod storage;
pub mod tokens;
pub mod web;
pub mod webhooks;

use crate::audit::AuditDraft;
use crate::blob::BlobStore;
use crate::catalog::{Catalog, OrgRecord};
use crate::domain::policy::{Action, Actor, Decision, Resource, authorize};
use crate::domain::{IdentityKind, OrgId, OrgSlug, OrgStatus, Role};
use crate::keys::{KeyContext, KeyError, Keyring, KeyringError};
use crate::metrics::Metrics;
use coffer_envelope::OrgKey;
use std::sync::Arc;

pub use access::{AccessHolder, AccessReport, principal_text};
pub use audit_log::{AuditCheck, BucketCheck};
pub use backup::BackupParts;
pub use byok::routing::OrgKeyProviders;
pub use byok::{ByokParts, KeysView, ProbeSummary, SetKeys};
pub use error::{Error, Result};
pub use links::requests::{CreatedRequest, MAX_NOTE_CHARS, NewRequest, RequestView};
pub use links::{
    MAX_LINK_LIFETIME, MAX_LINK_VIEWS, MIN_LINK_LIFETIME, NewLink, OpenedLink, Visitor,
};
pub use orgs::Bootstrapped;
pub use people::{Accepted, Invited, MAX_CODE_LIFETIME, MemberRef, TokenHolder};
pub use recovery::{KitKey, RecoveryKitContents};
pub use secrets::{Grant, NewUpload, PutSecret, Revealed, unavailable_reason};
pub use storage::{DriftSummary, SetStorage, StorageSettings, StorageState, Stores};

/// Tunables of the use cases (from `coffer.toml`).
#[derive(Clone, Debug)]
pub struct ServiceSettings {
    /// Largest secret value accepted, in bytes.
    pub max_secret_bytes: usize,
    /// Data keys one org-key version may wrap before it must be rotated (below 2^32).
    pub max_encryptions_per_key: u64,
    /// Memory for envelopes kept to serve reveals without a blob-store read (0: none).
    pub envelope_cache_bytes: u64,
}

/// The application: seams plus settings.
pub struct Coffer {
    catalog: Arc<dyn Catalog>,
    stores: Stores,
    envelopes: secrets::EnvelopeCache,
    keyring: Keyring,
    metrics: Arc<Metrics>,
    settings: ServiceSettings,
    write_locks: WriteLocks,
    byok: Option<ByokParts>,
    /// Failed authentications counted since the last flush (`failed_auth`).
    failed_auth: audit_log::FailedAuth,
    /// The highest audit checkpoint this node has seen of each org (`audit_log`).
    seen_checkpoints: audit_log::SeenCheckpoints,
    /// The last audit-copy failure logged for each org (`audit_log::copy`).
    audit_copy_failures: audit_log::copy::CopyFailures,
    /// Password hashing and the sign-in limiter of this node.
    sign_in_guard: web::guard::SignInGuard,
    /// Set when the node is stopping: background passes end at the next envelope.
    stopping: std::sync::atomic::AtomicBool,
    /// Single sign-on's redirect URI and provider client.
    sso: sso::SsoParts,
    /// Webhook settings and their HTTP client.
    webhooks: webhooks::WebhookParts,
    /// Jira settings, HTTP client and the cache of Jira's yeses.
    jira: jira::JiraParts,
    /// The Forge Invocation Token verifier.
    forge: forge::ForgeParts,
    /// What `coffer backup` needs besides the seams (`None`: backups refused).
    backup: Option<backup::BackupParts>,
}

/// Striped locks that queue this node's writers of the same secret, so they take turns instead
/// of racing each other into check-and-set conflicts (which stay the guard across nodes).
struct WriteLocks(Vec<tokio::sync::Mutex<()>>);

impl WriteLocks {
    fn new() -> Self {
        Self((0..1024).map(|_| tokio::sync::Mutex::new(())).collect())
    }

    async fn lock(&self, key: impl std::hash::Hash) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let stripe =
            BuildHasherDefault::<DefaultHasher>::default().hash_one(key) as usize % self.0.len();
        self.0[stripe].lock().await
    }
}

impl Coffer {
    /// Assembles the app from its seams.
    pub fn new(
        catalog: Arc<dyn Catalog>,
        blobs: Arc<dyn BlobStore>,
        keyring: Keyring,
        metrics: Arc<Metrics>,
        settings: ServiceSettings,
    ) -> Self {
        Self {
            catalog,
            stores: Stores::new(blobs, StorageSettings::default(), metrics.clone()),
            envelopes: secrets::EnvelopeCache::new(settings.envelope_cache_bytes, &metrics),
            keyring,
            metrics,
            settings,
            write_locks: WriteLocks::new(),
            byok: None,
            failed_auth: audit_log::FailedAuth::default(),
            seen_checkpoints: audit_log::SeenCheckpoints::default(),
            audit_copy_failures: audit_log::copy::CopyFailures::default(),
            sign_in_guard: web::guard::SignInGuard::new(),
            stopping: std::sync::atomic::AtomicBool::new(false),
            sso: sso::SsoParts::new("http://127.0.0.1:8420", false),
            webhooks: webhooks::WebhookParts::new(webhooks::WebhookSettings::default()),
            jira: jira::JiraParts::new(jira::JiraSettings::default()),
            forge: forge::ForgeParts::new(&crate::config::ForgeConfig::default()),
            backup: None,
        }
    }

    /// Sets how webhooks are delivered and expiries announced (`[webhooks]`).
    pub fn with_webhooks(mut self, settings: webhooks::WebhookSettings) -> Self {
        self.webhooks = webhooks::WebhookParts::new(settings);
        self
    }

    /// With the deployment's Jira settings.
    pub fn with_jira(mut self, settings: jira::JiraSettings) -> Self {
        self.jira = jira::JiraParts::new(settings);
        self
    }

    /// With the deployment's Forge settings.
    pub fn with_forge(mut self, parts: forge::ForgeParts) -> Self {
        self.forge = parts;
        self
    }

    /// Sets single sign-on's redirect URI (from the public origin) and whether loopback
    /// providers are admitted.
    pub fn with_sso(mut self, parts: sso::SsoParts) -> Self {
        self.sso = parts;
        self
    }

    /// Enables the BYOK use cases: per-org providers (the same router the keyring was built
    /// with), the configured locations and Coffer's AWS principal. Without it, orgs may only use
    /// the `eu`/`us` default locations and the BYOK endpoints answer that BYOK is not configured.
    pub fn with_byok(mut self, parts: ByokParts) -> Self {
        self.byok = Some(parts);
        self
    }

    /// Enables per-org buckets with these settings (without it, orgs may still save a bucket
    /// at AWS's endpoints with the SDK's default credentials).
    pub fn with_storage(mut self, settings: StorageSettings) -> Self {
        let default = self.stores.default_store().clone();
        self.stores = Stores::new(default, settings, self.metrics.clone());
        self
    }

    /// Asks background work (storage migration passes) to stop at the next step.
    pub fn begin_shutdown(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The catalog (the readiness probe and the sweeper use it).
    pub fn catalog(&self) -> &Arc<dyn Catalog> {
        &self.catalog
    }

    /// The deployment's default blob store.
    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        self.stores.default_store()
    }

    /// Every store envelopes may be in.
    pub fn stores(&self) -> &Stores {
        &self.stores
    }

    /// The settings.
    pub fn settings(&self) -> &ServiceSettings {
        &self.settings
    }

    /// Resolves `slug` and checks `action` on it, turning another org into *not found*.
    async fn org_for(&self, actor: &Actor, slug: &OrgSlug, action: Action) -> Result<OrgRecord> {
        let org = self
            .catalog
            .org_by_slug(slug)
            .await
            .map_err(|e| Error::catalog(e, || org_not_found(slug)))?;
        admit(actor, slug, action, org)
    }

    /// Like [`Coffer::org_for`], and the org must be active (secret reads and writes).
    async fn active_org_for(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        action: Action,
    ) -> Result<OrgRecord> {
        let org = self.org_for(actor, slug, action).await?;
        require_active(slug, org)
    }

    /// The org key for `version`, from the keyring cache or unwrapped via the provider.
    async fn org_key(&self, org: OrgId, version: u32) -> Result<Arc<OrgKey>> {
        let ctx = KeyContext {
            org,
            key_version: version,
        };
        let catalog = self.catalog.clone();
        let load = || async move {
            catalog
                .org_key_wraps(org, version)
                .await
                .map_err(|e| e.to_string())
        };
        let result = self.keyring.get(ctx, load).await;
        if let Err(KeyringError::Key(KeyError::Denied { key_ref, reason })) = &result {
            self.suspend_for_denial(org, key_ref, reason).await;
        }
        result.map_err(|e| match e {
            KeyringError::Load(m) => Error::Internal(format!("loading org key {version}: {m}")),
            KeyringError::Key(KeyError::Unavailable(m)) => {
                tracing::warn!(%org, error = %m, "key provider unavailable");
                Error::Unavailable("the key provider is unavailable; retry shortly".into())
            }
            KeyringError::Key(KeyError::Denied { key_ref, reason }) => Error::Suspended(format!(
                "the org is suspended: its key {key_ref} refused access ({reason}); secrets \
                 cannot be read or written until access is restored"
            )),
            KeyringError::Key(other) => {
                Error::Integrity(format!("org key {version} could not be unwrapped: {other}"))
            }
        })
    }
}

fn action_words(action: Action) -> &'static str {
    match action {
        Action::CreateOrg => "create orgs",
        Action::ListAllOrgs => "list every org",
        Action::ResetCredentials => "reset people's credentials",
        Action::BackupDeployment => "take a backup of the deployment",
        Action::ReadOrg => "read this org",
        Action::RotateOrgKey => "rotate the org key",
        Action::ListMembers => "list members",
        Action::Invite(Role::Owner) => "invite owners",
        Action::Invite(_) => "invite people",
        Action::AddMember(_) => "add people without an invitation",
        Action::ChangeRole { .. } => "change this member's role to that role",
        Action::RemoveMember(_) => "remove this member",
        Action::CreateServiceAccount(_) => "create service accounts with that role",
        Action::CreateServiceToken(_) => "create tokens for this service account",
        Action::CreateOwnToken => "create tokens",
        Action::ListTokens => "list tokens",
        Action::RevokeToken { .. } => "revoke this token",
        Action::ReadSecretMetadata => "list secrets",
        Action::RevealSecret => "reveal secrets",
        Action::WriteSecret => "write secrets",
        Action::DeleteSecret => "delete or restore secrets",
        Action::DestroySecret => "destroy secrets",
        Action::ReadAudit => "read the audit trail",
        Action::ReadKeySettings => "see the org's key settings",
        Action::ManageKeys => "change the org's key provider",
        Action::MakeRecoveryKit => "take the org's recovery kit (it holds the org's keys)",
        Action::ReadStorage => "see the org's storage settings",
        Action::ManageStorage => "change where the org's secrets are stored",
        Action::ListGroups => "list groups",
        Action::ManageGroups => "manage groups",
        Action::ListGrants => "list the org's grants",
        Action::ReadSso => "see the org's single sign-on settings",
        Action::ManageSso => "change the org's single sign-on",
        Action::DisableSso => "turn off the org's single sign-on",
        Action::ReadScim => "see the org's SCIM tokens",
        Action::ManageScim => "create the org's SCIM tokens",
        Action::RevokeScimToken => "revoke the org's SCIM tokens",
        Action::ShareOutside => "make one-time links or requests for people outside Coffer",
        Action::ManageOutsideShares => "see or revoke other members' one-time links and requests",
        Action::ReadWebhooks => "see the org's webhooks",
        Action::ManageWebhooks => "manage the org's webhooks",
        Action::ReadJira => "see the org's Jira link",
        Action::ManageJira => "link the org to a Jira site or change that link",
        Action::LinkJiraAccount => "link a Jira account",
        Action::ReconcileJira => "look for secrets whose Jira issue is gone",
    }
}

fn forbidden(actor: &Actor, action: Action, org: &str) -> Error {
    if matches!(
        action,
        Action::CreateOrg
            | Action::ListAllOrgs
            | Action::ResetCredentials
            | Action::BackupDeployment
            | Action::AddMember(_)
    ) {
        return Error::Forbidden(format!(
            "only the deployment's operator can {} (its token is operator.token in the server's data directory)",
            action_words(action)
        ));
    }
    let who = match (actor.role(), actor.kind()) {
        (Some(_), IdentityKind::Service) => {
            format!("a service account of org `{org}` manages secrets, not people, so it cannot")
        }
        (Some(role), _) => format!("your role `{role}` in org `{org}` cannot"),
        (None, _) => "the operator cannot".to_owned(),
    };
    Error::Forbidden(format!(
        "{who} {}; nobody acts above their own role — ask an owner",
        action_words(action)
    ))
}

/// An audit event by `actor` in `org`.
fn event(
    actor: &Actor,
    org: OrgId,
    action: &'static str,
    target: impl Into<String>,
    details: serde_json::Value,
) -> AuditDraft {
    AuditDraft::new(
        org,
        Some(actor.user),
        actor.audit_name(),
        action,
        target,
        details,
    )
}

fn org_not_found(slug: &OrgSlug) -> String {
    format!("org `{slug}` not found")
}

/// Checks `action` by `actor` on `org` (named `slug` in the request): another org is *not
/// found*, a forbidden action in one's own org is *forbidden*.
fn admit(actor: &Actor, slug: &OrgSlug, action: Action, org: OrgRecord) -> Result<OrgRecord> {
    match authorize(actor, action, Resource::Org(org.id)) {
        Decision::Allow => Ok(org),
        Decision::NotFound => Err(Error::NotFound(org_not_found(slug))),
        Decision::Forbidden => Err(forbidden(actor, action, slug.as_str())),
    }
}

/// The org, if it is active (secret reads and writes need that).
fn require_active(slug: &OrgSlug, org: OrgRecord) -> Result<OrgRecord> {
    if org.status == OrgStatus::Suspended {
        let why = org
            .suspended_reason
            .as_deref()
            .unwrap_or("no reason recorded");
        return Err(Error::Suspended(format!(
            "org `{slug}` is suspended ({why}); secrets cannot be read or written until its key access is restored"
        )));
    }
    Ok(org)
}
