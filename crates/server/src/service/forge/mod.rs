//! Coffer as the Forge Remote of its Jira Cloud app (docs/jira-forge.md): the issue panel lists,
//! reveals and adds an issue's secrets, the admin page is the Configure page, and Jira's events
//! reach the Jira lifecycle.
//!
//! Every call carries a Forge Invocation Token ([`fit`]). A FIT proves only "some installation
//! of this app", so an org trusts exactly one installation of one app (`coffer org jira
//! forge-link`): a valid token of another installation is *not found*, like another org's
//! object. The acting person is the FIT's `principal`, mapped to the member of that org who
//! linked that Jira account (docs/jira.md); the issue is the FIT's context, never the request's
//! body, and the token must come from the very Jira Cloud site the org is linked to (its cloud id).
//! From there every call is an ordinary use case of that person, so Coffer's access and Jira's
//! "may browse" (asked with the person's own linked token) decide exactly as everywhere else.
//! Jira's events are accepted only from the app's trigger (a token with no user and no context,
//! naming the events endpoint).
//!
//! Values and data keys never go through Atlassian's proxy: a panel call through the proxy
//! (`invokeRemote`) gets metadata or a **ticket** — 30 seconds, sealed under the org key, bound to
//! the installation, the person, the issue, the purpose and the secret's name — and the browser
//! then calls Coffer directly (`requestRemote`) with the ticket for the value or the upload grant.
//! The envelope is sealed in the browser (the web UI's own code), so Coffer's direct endpoint
//! receives ciphertext only.

pub mod fit;

use crate::catalog::{ForgeLink, OrgRecord, SecretFilter, SecretRecord};
use crate::domain::policy::{Action, Actor, Membership};
use crate::domain::{
    IdentityKind, IssueKey, OrgSlug, Scope, SecretKind, SecretName, Timestamp, TokenId, UploadId,
};
use crate::service::jira::WebhookOutcome;
use crate::service::secrets::{Grant, NewUpload, Revealed};
use crate::service::{Coffer, Error, Result, event};
use fit::{Fit, FitVerifier};
use std::time::Duration;
use zeroize::Zeroizing;

/// The manifest's keys of the trigger and of the endpoint it calls: the module an event's token
/// names (integrations/jira-forge/manifest.yml).
pub const EVENT_MODULES: [&str; 2] = ["coffer-events", "coffer-jira-events"];

/// How long a ticket is good.
pub const TICKET_LIFETIME: Duration = Duration::from_secs(30);

/// The deployment's Forge settings.
pub struct ForgeParts {
    verifier: FitVerifier,
}

impl ForgeParts {
    /// From `[jira.forge]`.
    pub fn new(c: &crate::config::ForgeConfig) -> Self {
        Self {
            verifier: FitVerifier::new(&c.jwks_url, c.leeway),
        }
    }
}

/// What a verified call is: the token's facts, the org that trusts the installation, and that
/// org's link.
pub struct ForgeCall {
    /// The token.
    pub fit: Fit,
    /// The org.
    pub org: OrgRecord,
}

/// What the issue panel shows.
pub struct Panel {
    /// The org.
    pub org: OrgSlug,
    /// The issue.
    pub issue: IssueKey,
    /// Whether the person has linked their Jira account in the org.
    pub account_linked: bool,
    /// Where they link it.
    pub link_url: String,
    /// Whether they may add secrets here.
    pub can_write: bool,
    /// The secrets they may see.
    pub secrets: Vec<SecretRecord>,
    /// Why nothing is shown, if so.
    pub message: Option<String>,
}

/// What a ticket is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// Reveal one secret's value.
    Reveal,
    /// Write a new version (an upload grant).
    Write,
}

/// The Configure page's view.
pub struct AdminView {
    /// The org.
    pub org: OrgSlug,
    /// The org's storage.
    pub storage: crate::service::StorageState,
    /// The regions its bucket may be in (for an org pinned to a location, that location's; else
    /// every region the deployment knows).
    pub regions: Vec<crate::domain::AwsRegion>,
    /// Whether the org uses BYOK, and its status.
    pub byok: (bool, String),
}

fn refused(e: fit::FitRefused) -> Error {
    Error::Unauthenticated(e.to_string())
}

fn not_trusted() -> Error {
    Error::NotFound(
        "no org of this Coffer trusts this Forge installation; an owner links it with `coffer org jira forge-link`"
            .into(),
    )
}

/// What a ticket holds (sealed under the org key).
#[derive(serde::Serialize, serde::Deserialize)]
struct TicketBody {
    installation: String,
    principal: String,
    issue: String,
    purpose: Purpose,
    name: String,
    version: Option<u32>,
    expires_at: i64,
}

impl Coffer {
    /// Verifies a FIT and finds the org that trusts its installation and app.
    pub async fn forge_call(&self, token: &str) -> Result<ForgeCall> {
        let fit = self.forge.verifier.verify(token).await.map_err(refused)?;
        let link = self
            .catalog
            .forge_link_by_installation(&fit.installation_id)
            .await
            .map_err(|e| Error::catalog(e, || "Forge link".into()))?
            .ok_or_else(not_trusted)?;
        if link.app_id != fit.app_id {
            // Signed by Forge for this installation but addressed to another app: refused like
            // any token whose audience is wrong.
            return Err(Error::Unauthenticated(
                "the Forge Invocation Token was refused: its audience is not the app this org trusts"
                    .into(),
            ));
        }
        // The token must come from the very site the org is linked to: an installation id names
        // no site by itself, and claiming one proves nothing.
        let site = self.jira_site_of(link.org).await?;
        let same_site = site.as_ref().is_some_and(|s| {
            s.kind == crate::catalog::JiraKind::Cloud
                && s.cloud_id.is_some()
                && s.cloud_id == fit.cloud_id
        });
        if !same_site {
            return Err(not_trusted());
        }
        let org = self
            .catalog
            .org_by_id(link.org)
            .await
            .map_err(|e| Error::catalog(e, || "org".into()))?;
        Ok(ForgeCall { fit, org })
    }

    /// The member of the call's org who linked the token's Jira account, acting.
    async fn forge_person(&self, call: &ForgeCall) -> Result<Option<Actor>> {
        let principal = call.fit.principal.as_deref().ok_or_else(|| {
            Error::InvalidInput("this Forge call carries no user (principal)".into())
        })?;
        let Some(account) = self
            .catalog
            .jira_account_by_id(call.org.id, principal)
            .await
            .map_err(|e| Error::catalog(e, || "Jira account".into()))?
        else {
            return Ok(None);
        };
        let user = self
            .catalog
            .user_by_id(account.user)
            .await
            .map_err(|e| Error::catalog(e, || "person".into()))?;
        let role = self
            .catalog
            .memberships(account.user)
            .await
            .map_err(|e| Error::catalog(e, || "memberships".into()))?
            .into_iter()
            .find(|m| m.org == call.org.id)
            .map(|m| m.role);
        Ok(role.and_then(|role| {
            Actor::member(
                user.id,
                user.name,
                IdentityKind::Person,
                Membership {
                    org: call.org.id,
                    role,
                },
                TokenId::new(),
            )
        }))
    }

    fn forge_issue(call: &ForgeCall) -> Result<IssueKey> {
        let key = call.fit.issue_key.as_deref().ok_or_else(|| {
            Error::InvalidInput(
                "this Forge call is not from an issue (no issue in its context)".into(),
            )
        })?;
        IssueKey::parse(key).map_err(Error::from)
    }

    fn link_url(&self, org: &OrgRecord) -> String {
        format!(
            "{}/integrations/jira/{}/link",
            self.jira.settings.origin, org.slug
        )
    }

    /// The issue panel: the secrets of the token's issue the person may see.
    pub async fn forge_panel(&self, token: &str) -> Result<Panel> {
        let call = self.forge_call(token).await?;
        let issue = Self::forge_issue(&call)?;
        let link_url = self.link_url(&call.org);
        let mut panel = Panel {
            org: call.org.slug.clone(),
            issue: issue.clone(),
            account_linked: false,
            link_url,
            can_write: false,
            secrets: Vec::new(),
            message: None,
        };
        let Some(actor) = self.forge_person(&call).await? else {
            panel.message = Some(format!(
                "Link your Jira account to Coffer (org `{}`) to see this issue's secrets.",
                call.org.slug
            ));
            return Ok(panel);
        };
        panel.account_linked = true;
        let scope = Scope::Issue(issue.clone());
        // Say why when Jira hides the issue (the person names it by opening it in Jira: no
        // oracle), rather than an empty list that looks like "no secrets here".
        if let Err(e) = self
            .jira_admit(&actor, &call.org, &scope, crate::service::jira::Use::Read)
            .await
        {
            panel.message = Some(e.to_string());
            return Ok(panel);
        }
        let listed = async {
            let filter = SecretFilter {
                project: Some(issue.project().clone()),
                issue: Some(issue.number()),
                limit: 1000,
                ..Default::default()
            };
            let secrets = self.list_secrets(&actor, &call.org.slug, filter).await?;
            let can_write = self
                .check_new_secret(&actor, &call.org, &scope)
                .await
                .is_ok();
            Ok::<_, Error>((secrets, can_write))
        }
        .await;
        match listed {
            Ok((secrets, can_write)) => {
                panel.secrets = secrets;
                // Adding from Jira needs the default store (see `forge_upload`).
                panel.can_write = can_write && call.org.storage.is_none();
            }
            Err(e @ (Error::ProofRequired { .. } | Error::Unavailable(_) | Error::NotFound(_))) => {
                panel.message = Some(e.to_string());
            }
            Err(other) => return Err(other),
        }
        Ok(panel)
    }

    /// A ticket for one reveal or one write on the token's issue, checked now as the person.
    pub async fn forge_ticket(
        &self,
        token: &str,
        purpose: Purpose,
        name: &SecretName,
        version: Option<u32>,
    ) -> Result<String> {
        let call = self.forge_call(token).await?;
        let issue = Self::forge_issue(&call)?;
        let actor = self
            .forge_person(&call)
            .await?
            .ok_or_else(|| Error::ProofRequired {
                code: "jira_account_required",
                message: format!(
                    "link your Jira account to Coffer first: {}",
                    self.link_url(&call.org)
                ),
            })?;
        let scope = Scope::Issue(issue.clone());
        match purpose {
            Purpose::Reveal => {
                self.secret(&actor, &call.org.slug, &scope, name).await?;
            }
            Purpose::Write => {
                // Jira first, as every write: its refusal must not depend on the name existing.
                self.jira_admit(&actor, &call.org, &scope, crate::service::jira::Use::Write)
                    .await?;
                match self.catalog.secret(call.org.id, &scope, name).await {
                    Ok(existing) => {
                        self.check_secret(
                            &actor,
                            &call.org,
                            &existing,
                            crate::domain::policy::SecretAction::Write,
                        )
                        .await?;
                    }
                    Err(crate::catalog::CatalogError::NotFound) => {
                        self.check_new_secret(&actor, &call.org, &scope).await?;
                    }
                    Err(e) => return Err(Error::catalog(e, || "secret".into())),
                }
            }
        }
        let body = TicketBody {
            installation: call.fit.installation_id.clone(),
            principal: call.fit.principal.clone().unwrap_or_default(),
            issue: issue.to_string(),
            purpose,
            name: name.to_string(),
            version,
            expires_at: Timestamp::now().plus(TICKET_LIFETIME).millis(),
        };
        let json = Zeroizing::new(
            serde_json::to_vec(&body).map_err(|e| Error::Internal(format!("ticket: {e}")))?,
        );
        let sealed = self
            .seal_setting(call.org.id, call.org.key_version, &json, "Forge ticket")
            .await?;
        use base64::Engine;
        Ok(format!(
            "v1.{}.{}.{}",
            sealed.id,
            sealed.key_version,
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&sealed.envelope)
        ))
    }

    /// Opens a ticket and checks it against the direct call's own token.
    async fn forge_redeem(
        &self,
        call: &ForgeCall,
        ticket: &str,
        purpose: Purpose,
    ) -> Result<TicketBody> {
        let bad = || Error::Unauthenticated("the ticket is not valid here; get a new one".into());
        let mut parts = ticket.splitn(4, '.');
        let (Some("v1"), Some(id), Some(kv), Some(env)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        use base64::Engine;
        let sealed = crate::catalog::SealedValue {
            id: crate::domain::SecretId::from_uuid(id.parse().map_err(|_| bad())?),
            key_version: kv.parse().map_err(|_| bad())?,
            envelope: base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(env)
                .map_err(|_| bad())?,
        };
        let json = self
            .open_setting(call.org.id, &sealed, "Forge ticket")
            .await
            .map_err(|_| bad())?;
        let body: TicketBody = serde_json::from_slice(&json).map_err(|_| bad())?;
        let same = body.installation == call.fit.installation_id
            && Some(&body.principal) == call.fit.principal.as_ref()
            && Some(&body.issue) == call.fit.issue_key.as_ref()
            && body.purpose == purpose;
        if !same {
            return Err(bad());
        }
        if body.expires_at <= Timestamp::now().millis() {
            return Err(Error::Unauthenticated(
                "the ticket has expired; try again".into(),
            ));
        }
        Ok(body)
    }

    /// The person of a direct call (no proxy, so no user token: their linked one is used).
    async fn forge_direct(&self, token: &str) -> Result<(ForgeCall, Actor)> {
        let call = self.forge_call(token).await?;
        let actor = self.forge_direct_person(&call).await?;
        Ok((call, actor))
    }

    /// The person of a direct call already verified.
    async fn forge_direct_person(&self, call: &ForgeCall) -> Result<Actor> {
        self.forge_person(call)
            .await?
            .ok_or_else(|| Error::ProofRequired {
                code: "jira_account_required",
                message: "link your Jira account to Coffer first".into(),
            })
    }

    /// Reveals the ticket's secret (a direct call).
    pub async fn forge_reveal(&self, token: &str, ticket: &str) -> Result<Revealed> {
        let (call, actor) = self.forge_direct(token).await?;
        let t = self.forge_redeem(&call, ticket, Purpose::Reveal).await?;
        let scope = Scope::parse(&t.issue)?;
        let name = SecretName::parse(&t.name)?;
        self.reveal_secret(&actor, &call.org.slug, &scope, &name, t.version)
            .await
    }

    /// An upload grant for the ticket's secret (a direct call); the envelope then goes to
    /// [`Coffer::forge_put_envelope`].
    pub async fn forge_upload(
        &self,
        token: &str,
        ticket: &str,
        kind: Option<SecretKind>,
        size: u64,
    ) -> Result<Grant> {
        let (call, actor) = self.forge_direct(token).await?;
        let t = self.forge_redeem(&call, ticket, Purpose::Write).await?;
        if call.org.storage.is_some() {
            // Its grants are presigned bucket URLs, which a Forge page cannot reach.
            return Err(Error::Conflict {
                code: "forge_upload_custom_bucket",
                message: format!(
                    "org `{}` keeps its secrets in its own bucket: add this secret in Coffer's web UI (adding from Jira goes through Coffer's default store only)",
                    call.org.slug
                ),
            });
        }
        let req = NewUpload {
            scope: Scope::parse(&t.issue)?,
            name: SecretName::parse(&t.name)?,
            kind,
            expect_version: None,
            expires_at: None,
            view_limit: None,
            size,
            restricted: None,
        };
        self.create_upload(&actor, &call.org.slug, req).await
    }

    /// Stores the browser-sealed envelope of the person's upload (a direct call whose token
    /// [`Coffer::forge_call`] verified before its body was read).
    pub async fn forge_put_envelope(
        &self,
        call: &ForgeCall,
        id: UploadId,
        bytes: bytes::Bytes,
    ) -> Result<()> {
        let actor = self.forge_direct_person(call).await?;
        self.put_upload_envelope(&actor, &call.org.slug, id, bytes)
            .await
    }

    /// Commits the person's upload (a direct call).
    pub async fn forge_commit(
        &self,
        token: &str,
        id: UploadId,
        sha256: &str,
    ) -> Result<SecretRecord> {
        let (call, actor) = self.forge_direct(token).await?;
        self.commit_upload(&actor, &call.org.slug, id, sha256)
            .await
            .map(|(s, _)| s)
    }

    /// The Configure page.
    pub async fn forge_admin(&self, token: &str) -> Result<AdminView> {
        let (call, actor) = self.forge_direct(token).await?;
        let storage = self.storage(&actor, &call.org.slug).await?;
        let byok = self
            .catalog
            .key_settings(call.org.id)
            .await
            .map_err(|e| Error::catalog(e, || "key settings".into()))?
            .byok_since
            .is_some();
        let regions = if storage.allowed.is_empty() {
            let mut all: Vec<crate::domain::AwsRegion> = self
                .stores
                .settings()
                .locations
                .values()
                .flatten()
                .cloned()
                .collect();
            all.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            all.dedup();
            all
        } else {
            storage.allowed.clone()
        };
        Ok(AdminView {
            org: call.org.slug.clone(),
            regions,
            storage,
            byok: (byok, call.org.status.as_str().to_owned()),
        })
    }

    /// The Configure page's Save: validates the bucket and points the org at it (owners).
    pub async fn forge_admin_storage(
        &self,
        token: &str,
        req: Option<crate::service::SetStorage>,
    ) -> Result<String> {
        let (call, actor) = self.forge_direct(token).await?;
        match req {
            Some(req) => {
                self.set_storage(&actor, &call.org.slug, req).await?;
                Ok("Your custom S3 settings have been saved and validated.".into())
            }
            None => {
                self.reset_storage(&actor, &call.org.slug).await?;
                Ok("Secrets are stored in Coffer's default storage.".into())
            }
        }
    }

    /// A Jira event Forge delivers (a trigger): the same lifecycle as the org's webhooks.
    pub async fn forge_event(
        &self,
        token: &str,
        body: &serde_json::Value,
    ) -> Result<WebhookOutcome> {
        let call = self.forge_call(token).await?;
        // Only the app's trigger: a token a page holds (it has a user and a context) must not
        // drive deletions or moves, whose facts are the body's.
        let from_trigger = call.fit.principal.is_none()
            && call.fit.issue_key.is_none()
            && call
                .fit
                .module
                .as_deref()
                .is_some_and(|m| EVENT_MODULES.contains(&m));
        if !from_trigger {
            return Err(Error::Forbidden(
                "Jira events come only from the Coffer app's trigger".into(),
            ));
        }
        let kind = match body["eventType"].as_str().unwrap_or_default() {
            "avi:jira:deleted:issue" => "jira:issue_deleted",
            "avi:jira:updated:issue" => "jira:issue_updated",
            // A project in Jira's trash comes back on restore: only a deletion buries.
            "avi:jira:deleted:project" => "project_deleted",
            other => {
                self.metrics.jira_webhook("unknown", "ignored");
                return Ok(WebhookOutcome::Ignored(format!(
                    "Coffer does not act on {:?}",
                    other.chars().take(60).collect::<String>()
                )));
            }
        };
        self.apply_jira_event(&call.org, kind, body).await
    }

    /// Trusts a Forge installation for the org (owners).
    pub async fn set_forge_link(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        app_id: &str,
        installation_id: &str,
    ) -> Result<ForgeLink> {
        let org = self.org_for(actor, slug, Action::ManageJira).await?;
        let cloud = self
            .jira_site_of(org.id)
            .await?
            .is_some_and(|s| s.kind == crate::catalog::JiraKind::Cloud);
        if !cloud {
            return Err(Error::Conflict {
                code: "forge_needs_cloud",
                message: format!(
                    "the Forge app runs on Jira Cloud: link org `{slug}` to its Jira Cloud site first (`coffer org jira connect --kind cloud`)"
                ),
            });
        }
        let app_ok = app_id.starts_with("ari:cloud:ecosystem::app/")
            && app_id.len() <= 100
            && app_id.bytes().all(|b| b.is_ascii_graphic());
        if !app_ok {
            return Err(Error::InvalidInput(
                "app_id must be the Forge app's id, like ari:cloud:ecosystem::app/8f0e…".into(),
            ));
        }
        let inst_ok = (1..=100).contains(&installation_id.len())
            && installation_id.bytes().all(|b| b.is_ascii_graphic());
        if !inst_ok {
            return Err(Error::InvalidInput(
                "installation_id must be the installation's id as Forge shows it (`forge install list`)".into(),
            ));
        }
        let link = ForgeLink {
            org: org.id,
            app_id: app_id.to_owned(),
            installation_id: installation_id.to_owned(),
            linked_at: Timestamp::now(),
            linked_by: actor.audit_name(),
        };
        let details = serde_json::json!({"app_id": app_id, "installation_id": installation_id});
        self.catalog
            .put_forge_link(
                link.clone(),
                event(actor, org.id, "jira.forge_link", "forge", details),
            )
            .await
            .map_err(|e| match e {
                crate::catalog::CatalogError::AlreadyExists => Error::Conflict {
                    code: "forge_installation_taken",
                    message: "another org of this Coffer trusts that installation".into(),
                },
                crate::catalog::CatalogError::Refused(_) => crate::service::jira::not_linked(slug),
                other => Error::catalog(other, || "Forge link".into()),
            })?;
        Ok(link)
    }

    /// The org's trusted Forge installation (anyone in the org).
    pub async fn forge_link(&self, actor: &Actor, slug: &OrgSlug) -> Result<Option<ForgeLink>> {
        let org = self.org_for(actor, slug, Action::ReadJira).await?;
        self.catalog
            .forge_link(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "Forge link".into()))
    }

    /// Stops trusting the org's Forge installation (owners).
    pub async fn delete_forge_link(&self, actor: &Actor, slug: &OrgSlug) -> Result<()> {
        let org = self.org_for(actor, slug, Action::ManageJira).await?;
        let audit = event(
            actor,
            org.id,
            "jira.forge_unlink",
            "forge",
            serde_json::json!({}),
        );
        let removed = self
            .catalog
            .delete_forge_link(org.id, audit)
            .await
            .map_err(|e| Error::catalog(e, || "Forge link".into()))?;
        if removed {
            Ok(())
        } else {
            Err(Error::NotFound(format!(
                "org `{slug}` trusts no Forge installation"
            )))
        }
    }
}
