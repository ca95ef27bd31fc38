//! What happens to secrets when their Jira issue changes (docs/jira.md, "Lifecycle"), and what
//! Jira shows of them.
//!
//! - [`Coffer::jira_webhook`]: a Jira admin webhook for the org, signed with the org's webhook
//!   secret (`X-Hub-Signature: sha256=<HMAC-SHA256 of the raw body>`, checked in constant time
//!   **before** the body is parsed). Issue deleted → its secrets are soft-deleted with a
//!   tombstone; project deleted → the same for the project's secrets (Jira sends no per-issue
//!   events then); issue moved → its secrets and grants follow the new key; every issue update,
//!   user, group, project or permission-scheme event bumps the site's generation, dropping every
//!   node's cached yeses. Repeats change nothing (each step is idempotent); unknown events are
//!   ignored and counted.
//! - [`Coffer::purge_jira_tombstones`] (a job): a secret Jira deleted is destroyed once the org's
//!   retention has passed, unless someone restored it meanwhile.
//! - [`Coffer::jira_sync_issue`]: after a write or delete, the issue's remote link "Secrets (n) in
//!   Coffer" is created, updated (same global id) or removed, with the acting person's token.
//!   Names go to Jira only if the org opted in. A failure is logged and counted, never the
//!   write's failure: the next change on the issue sets it right.
//! - [`Coffer::jira_orphans`]: the issues that hold secrets but that Jira no longer shows.

use super::api::CallFail;
use super::not_linked;
use crate::audit::AuditDraft;
use crate::catalog::{OrgRecord, SecretFilter, SecretRecord};
use crate::domain::policy::{Action, Actor};
use crate::domain::{IssueKey, OrgSlug, ProjectKey, Scope, Timestamp};
use crate::service::secrets::label;
use crate::service::{Coffer, Error, Result};
use serde_json::Value;

/// The largest webhook body read.
pub const MAX_WEBHOOK_BYTES: usize = 1 << 20;
/// Tombstones ended per job run.
const PURGE_BATCH: u32 = 200;
/// The most secrets one list for a lifecycle step or a remote link reads.
const MAX_LISTED: u32 = 10_000;

/// What a webhook did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// Applied; the sentence says what changed.
    Applied(String),
    /// Understood and deliberately left alone (an event Coffer does not act on).
    Ignored(String),
}

/// An issue (or project) that holds secrets but that Jira no longer shows the caller.
#[derive(Clone, Debug)]
pub struct Orphan {
    /// The issue or project key.
    pub scope: Scope,
    /// The names of its live secrets.
    pub secrets: Vec<String>,
}

/// A page of the orphan check.
#[derive(Clone, Debug)]
pub struct OrphanPage {
    /// The scopes checked in this page, in order.
    pub checked: Vec<Scope>,
    /// Those that Jira no longer shows.
    pub orphans: Vec<Orphan>,
    /// How many scopes hold secrets in all.
    pub total: usize,
    /// Where the next page starts, if any.
    pub next: Option<String>,
}

fn hook_refused() -> Error {
    Error::Unauthenticated(
        "the webhook's X-Hub-Signature does not match the org's Jira webhook secret".into(),
    )
}

/// Checks `X-Hub-Signature: sha256=<hex>` over the raw body, in constant time.
pub(crate) fn signature_ok(secret: &[u8], header: Option<&str>, body: &[u8]) -> bool {
    let Some(hex_sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    aws_lc_rs::hmac::verify(&key, body, &sig).is_ok()
}

fn jira_event(
    org: crate::domain::OrgId,
    action: &'static str,
    target: String,
    details: Value,
) -> AuditDraft {
    AuditDraft::new(org, None, "jira", action, target, details)
}

impl Coffer {
    /// Handles a Jira webhook for org `slug`: the signature first, then the event.
    pub async fn jira_webhook(
        &self,
        slug: &str,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<WebhookOutcome> {
        // Any failure before the signature is checked looks the same: no oracle for which orgs
        // exist or are linked.
        let refused = || {
            self.metrics.jira_webhook("unsigned", "refused");
            hook_refused()
        };
        let Ok(slug) = OrgSlug::parse(slug) else {
            return Err(refused());
        };
        let Ok(org) = self.catalog.org_by_slug(&slug).await else {
            return Err(refused());
        };
        let Some(site) = self.jira_site_of(org.id).await? else {
            return Err(refused());
        };
        let secret = self
            .open_setting(org.id, &site.webhook_secret, "Jira webhook secret")
            .await?;
        if !signature_ok(&secret, signature, body) {
            return Err(refused());
        }
        let doc: Value = serde_json::from_slice(body)
            .map_err(|e| Error::InvalidInput(format!("the webhook body is not JSON: {e}")))?;
        let kind = doc["webhookEvent"].as_str().unwrap_or_default().to_owned();
        self.apply_jira_event(&org, &kind, &doc).await
    }

    /// Applies one Jira event (`kind` as Jira's admin webhooks name it) to `org`: from the org's
    /// webhook, or from the Forge app's trigger (`service::forge`).
    pub(in crate::service) async fn apply_jira_event(
        &self,
        org: &OrgRecord,
        kind: &str,
        doc: &Value,
    ) -> Result<WebhookOutcome> {
        let outcome = match kind {
            "jira:issue_deleted" => {
                let key = issue_key(&doc["issue"])?;
                let n = self
                    .jira_bury_scope(org, &Scope::Issue(key.clone()), kind)
                    .await?;
                self.jira_bump(org).await?;
                self.metrics.jira_webhook("issue_deleted", "applied");
                WebhookOutcome::Applied(format!("{n} secrets of {key} deleted"))
            }
            // A project in Jira's trash comes back on restore: only a deletion buries.
            "project_deleted" => {
                let key = project_key(&doc["project"])?;
                let n = self
                    .jira_bury_scope(org, &Scope::Project(key.clone()), kind)
                    .await?;
                self.jira_bump(org).await?;
                self.metrics.jira_webhook("project_deleted", "applied");
                WebhookOutcome::Applied(format!("{n} secrets of project {key} deleted"))
            }
            "jira:issue_updated" => {
                let moved = self.jira_follow_move(org, doc).await?;
                if let (Some(id), Ok(key)) = (doc["issue"]["id"].as_str(), issue_key(&doc["issue"]))
                {
                    self.remember_ref(org, key.to_string(), id).await;
                }
                self.jira_bump(org).await?;
                self.metrics.jira_webhook("issue_updated", "applied");
                WebhookOutcome::Applied(moved.unwrap_or_else(|| "cached answers dropped".into()))
            }
            k if k.starts_with("user_")
                || k.starts_with("group_")
                || k.starts_with("project_")
                || k.starts_with("permission_")
                || k.contains("security") =>
            {
                self.jira_bump(org).await?;
                self.metrics.jira_webhook("permissions", "applied");
                WebhookOutcome::Applied("cached answers dropped".into())
            }
            _ => {
                self.metrics.jira_webhook("unknown", "ignored");
                WebhookOutcome::Ignored(format!(
                    "Coffer does not act on {:?}",
                    kind.chars().take(60).collect::<String>()
                ))
            }
        };
        Ok(outcome)
    }

    async fn jira_bump(&self, org: &OrgRecord) -> Result<()> {
        self.catalog
            .bump_jira_generation(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "Jira link".into()))?;
        self.jira.cache.forget_org(org.id);
        Ok(())
    }

    async fn remember_ref(&self, org: &OrgRecord, key: String, id: &str) {
        if let Err(e) = self
            .catalog
            .put_jira_refs(org.id, &[(key, id.to_owned())])
            .await
        {
            tracing::warn!(org = %org.slug, error = %e, "could not remember a Jira issue id");
        }
    }

    /// The org's live secrets on `scope` (a project: its own and its issues').
    async fn live_on(&self, org: &OrgRecord, scope: &Scope) -> Result<Vec<SecretRecord>> {
        let filter = SecretFilter {
            project: Some(scope.project().clone()),
            issue: match scope {
                Scope::Issue(k) => Some(k.number()),
                Scope::Project(_) => None,
            },
            limit: MAX_LISTED,
            ..Default::default()
        };
        self.catalog
            .list_secrets(org.id, &filter)
            .await
            .map_err(|e| Error::catalog(e, || "secrets".into()))
    }

    /// Soft-deletes the secrets on `scope` with tombstones; how many.
    async fn jira_bury_scope(&self, org: &OrgRecord, scope: &Scope, why: &str) -> Result<usize> {
        let secrets = self.live_on(org, scope).await?;
        let items = secrets
            .iter()
            .filter(|s| s.deleted_at.is_none())
            .map(|s| {
                let details = serde_json::json!({"by": "jira", "event": why});
                (
                    s.id,
                    jira_event(org.id, "secret.delete", label(&s.scope, &s.name), details),
                )
            })
            .collect();
        let done = self
            .catalog
            .jira_bury(org.id, items, Timestamp::now())
            .await
            .map_err(|e| Error::catalog(e, || "secrets".into()))?;
        Ok(done.len())
    }

    /// An issue's key change (moved to another project, or renamed): its secrets follow.
    async fn jira_follow_move(&self, org: &OrgRecord, doc: &Value) -> Result<Option<String>> {
        let items = doc["changelog"]["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let Some(change) = items.iter().find(|i| {
            i["field"]
                .as_str()
                .is_some_and(|f| f.eq_ignore_ascii_case("key"))
                || i["fieldId"].as_str() == Some("issuekey")
        }) else {
            return Ok(None);
        };
        let (Some(from), Some(to)) = (change["fromString"].as_str(), change["toString"].as_str())
        else {
            return Ok(None);
        };
        let from = IssueKey::parse(from)
            .map_err(|e| Error::InvalidInput(format!("the webhook's old issue key: {e}")))?;
        let to = IssueKey::parse(to)
            .map_err(|e| Error::InvalidInput(format!("the webhook's new issue key: {e}")))?;
        // When Coffer knows the old key's Jira id, the event must be about that very issue.
        if let Some(id) = doc["issue"]["id"].as_str() {
            let known = self
                .catalog
                .jira_refs(org.id, &[from.to_string()])
                .await
                .map_err(|e| Error::catalog(e, || "Jira ids".into()))?;
            if known.first().is_some_and(|(_, k)| k != id) {
                return Ok(Some(format!(
                    "{from} is not issue {id} as far as Coffer knows; nothing moved"
                )));
            }
        }
        let across = from.project() != to.project();
        let details = serde_json::json!({
            "by": "jira",
            "from": from.to_string(),
            "to": to.to_string(),
            "restricted": across,
        });
        let moved = self
            .catalog
            .jira_rekey(
                org.id,
                &from,
                &to,
                jira_event(
                    org.id,
                    "jira.issue_moved",
                    format!("{from} → {to}"),
                    details,
                ),
            )
            .await
            .map_err(|e| Error::catalog(e, || "secrets".into()))?;
        Ok(Some(if across && moved > 0 {
            format!(
                "{moved} secrets moved from {from} to {to} and restricted: the project changed, so only their shares reach them until someone who manages them decides"
            )
        } else {
            format!("{moved} secrets moved from {from} to {to}")
        }))
    }

    /// Destroys what Jira deleted once its org's retention has passed; how many were destroyed.
    pub async fn purge_jira_tombstones(&self) -> Result<usize> {
        let due = self
            .catalog
            .jira_due_tombstones(Timestamp::now(), PURGE_BATCH)
            .await
            .map_err(|e| Error::catalog(e, || "Jira tombstones".into()))?;
        let mut destroyed = 0;
        for t in due {
            let details =
                serde_json::json!({"by": "jira retention", "deleted_at": t.deleted_at.millis()});
            let audit = jira_event(t.org, "secret.destroy", t.secret.to_string(), details);
            let blobs = self
                .catalog
                .jira_destroy_buried(t.secret, audit)
                .await
                .map_err(|e| Error::catalog(e, || "secret".into()))?;
            if let Some(blobs) = blobs {
                destroyed += 1;
                for b in blobs {
                    self.discard_blob(&b).await;
                }
            }
        }
        Ok(destroyed)
    }

    /// Brings the remote link on `scope`'s issue in line with its live secrets (best effort).
    pub(in crate::service) async fn jira_sync_issue(
        &self,
        actor: &Actor,
        org: &OrgRecord,
        scope: &Scope,
    ) {
        let Scope::Issue(key) = scope else {
            return;
        };
        if let Err(e) = self.try_sync_issue(actor, org, key).await {
            self.metrics.jira_remote_link_failures.inc();
            tracing::warn!(org = %org.slug, issue = %key, error = %e, "could not update the issue's remote link in Jira");
        }
    }

    async fn try_sync_issue(&self, actor: &Actor, org: &OrgRecord, key: &IssueKey) -> Result<()> {
        let Some(site) = self.jira_site_of(org.id).await? else {
            return Ok(());
        };
        let Some(token) = self.jira_token(&site, actor.user).await? else {
            return Ok(());
        };
        let scope = Scope::Issue(key.clone());
        // Restricted secrets are not counted or named: Jira shows the link to everyone who can
        // browse the issue.
        let live: Vec<SecretRecord> = self
            .live_on(org, &scope)
            .await?
            .into_iter()
            .filter(|s| s.deleted_at.is_none() && !s.restricted)
            .collect();
        let ep = self.jira.endpoints(&site);
        if site.kind == crate::catalog::JiraKind::Cloud && !live.is_empty() {
            // Learn the issue's and project's ids once, for bulk permission checks of lists.
            let keys = [key.to_string(), key.project().to_string()];
            let known = self
                .catalog
                .jira_refs(org.id, &keys)
                .await
                .map_err(|e| Error::catalog(e, || "Jira ids".into()))?;
            if known.len() < keys.len()
                && let Ok(Some((issue, project))) =
                    self.jira.http.issue(&ep, &token, &key.to_string()).await
            {
                let refs = [(keys[0].clone(), issue), (keys[1].clone(), project)];
                if let Err(e) = self.catalog.put_jira_refs(org.id, &refs).await {
                    tracing::warn!(org = %org.slug, error = %e, "could not remember Jira ids");
                }
            }
        }
        let global_id = format!(
            "coffer={}&org={}&issue={key}",
            self.jira.settings.origin, org.id
        );
        let call = if live.is_empty() {
            self.jira
                .http
                .delete_remote_link(&ep, &token, &key.to_string(), &global_id)
                .await
        } else {
            let mut object = serde_json::json!({
                "url": format!("{}/orgs/{}/issues/{key}", self.jira.settings.origin, org.slug),
                "title": format!("Secrets ({}) in Coffer", live.len()),
                "icon": {"url16x16": format!("{}/static/icon-16.png", self.jira.settings.origin), "title": "Coffer"},
            });
            if site.expose_names {
                let names: Vec<String> = live.iter().map(|s| s.name.to_string()).collect();
                object["summary"] =
                    Value::from(names.join(", ").chars().take(255).collect::<String>());
            }
            let link = serde_json::json!({
                "globalId": global_id,
                "application": {"type": "com.coffer.secrets", "name": "Coffer"},
                "relationship": "secrets",
                "object": object,
            });
            self.jira
                .http
                .put_remote_link(&ep, &token, &key.to_string(), &link)
                .await
        };
        call.map_err(|e: CallFail| Error::Unavailable(e.to_string()))
    }

    /// One page of the orphan check (admins): the issues holding secrets the caller's Coffer
    /// access reaches, after `after`, that Jira no longer shows the caller (with the caller's own token: an issue they may not browse
    /// looks the same as a deleted one, so run it as someone who sees every project).
    pub async fn jira_orphans(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        after: Option<&str>,
        limit: usize,
    ) -> Result<OrphanPage> {
        let org = self.org_for(actor, slug, Action::ReconcileJira).await?;
        let site = self
            .jira_site_of(org.id)
            .await?
            .ok_or_else(|| not_linked(slug))?;
        let token = self.jira_token(&site, actor.user).await?.ok_or_else(|| Error::ProofRequired {
            code: "jira_account_required",
            message: "the orphan check asks Jira as you: link your Jira account first (web UI → Jira)".into(),
        })?;
        let filter = SecretFilter {
            limit: MAX_LISTED,
            ..Default::default()
        };
        let listed = self
            .catalog
            .list_secrets(org.id, &filter)
            .await
            .map_err(|e| Error::catalog(e, || "secrets".into()))?;
        // Only what Coffer's own access shows the caller: the orphans are by construction issues
        // Jira does not show them, so Jira cannot be the filter here.
        let all: Vec<SecretRecord> = self
            .coffer_visible(actor, &org, listed)
            .await?
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        let mut by_issue: std::collections::BTreeMap<String, (Scope, Vec<String>)> =
            std::collections::BTreeMap::new();
        for s in all.iter().filter(|s| s.deleted_at.is_none()) {
            if let Scope::Issue(_) = s.scope {
                by_issue
                    .entry(s.scope.to_string())
                    .or_insert_with(|| (s.scope.clone(), Vec::new()))
                    .1
                    .push(s.name.to_string());
            }
        }
        let total = by_issue.len();
        let page: Vec<(String, (Scope, Vec<String>))> = by_issue
            .into_iter()
            .filter(|(k, _)| after.is_none_or(|a| k.as_str() > a))
            .take(limit.clamp(1, 200) + 1)
            .collect();
        let more = page.len() > limit.clamp(1, 200);
        let page = &page[..page.len().min(limit.clamp(1, 200))];
        let ep = self.jira.endpoints(&site);
        let mut orphans = Vec::new();
        let mut checked = Vec::new();
        for (key, (scope, names)) in page {
            match self.jira.http.issue(&ep, &token, key).await {
                Ok(Some((id, _project))) => self.remember_ref(&org, key.clone(), &id).await,
                Ok(None) => orphans.push(Orphan {
                    scope: scope.clone(),
                    secrets: names.clone(),
                }),
                Err(e) => {
                    return Err(Error::Unavailable(format!(
                        "asking Jira about {key} failed: {e}; run the check again"
                    )));
                }
            }
            checked.push(scope.clone());
        }
        Ok(OrphanPage {
            next: more.then(|| page.last().map(|(k, _)| k.clone())).flatten(),
            checked,
            orphans,
            total,
        })
    }
}

fn issue_key(issue: &Value) -> Result<IssueKey> {
    let raw = issue["key"]
        .as_str()
        .ok_or_else(|| Error::InvalidInput("the webhook names no issue key (issue.key)".into()))?;
    IssueKey::parse(raw).map_err(|e| Error::InvalidInput(format!("the webhook's issue key: {e}")))
}

fn project_key(project: &Value) -> Result<ProjectKey> {
    let raw = project["key"].as_str().ok_or_else(|| {
        Error::InvalidInput("the webhook names no project key (project.key)".into())
    })?;
    ProjectKey::parse(raw)
        .map_err(|e| Error::InvalidInput(format!("the webhook's project key: {e}")))
}

#[cfg(test)]
mod tests {
    use super::signature_ok;

    #[test]
    fn the_signature_is_an_hmac_of_the_raw_body() {
        // RFC 4231, test case 2.
        let good = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let body = b"what do ya want for nothing?";
        assert!(signature_ok(b"Jefe", Some(good), body));
        assert!(!signature_ok(
            b"Jefe",
            Some(good),
            b"what do ya want for nothing!"
        ));
        assert!(!signature_ok(b"jefe", Some(good), body));
        assert!(!signature_ok(b"Jefe", None, body));
        assert!(
            !signature_ok(b"Jefe", Some(&good[7..]), body),
            "the sha256= prefix is required"
        );
        assert!(!signature_ok(b"Jefe", Some("sha256=zz"), body));
    }
}
