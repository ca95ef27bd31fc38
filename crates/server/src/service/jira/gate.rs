//! Jira's "may browse" in every secret use case (docs/jira.md, "Who sees what"). In an org linked
//! to a Jira site, a person's access to an issue's (or project's) secrets is Coffer's own access
//! AND Jira's answer, asked with the person's own token; `domain::policy::jira_admits` is the
//! rule, this module only asks.
//!
//! - [`Coffer::jira_admit`] runs **before** a use case looks the secret up, and its refusals
//!   depend only on the caller and the issue key they named — never on whether a secret exists
//!   there — so they are no oracle for names.
//! - [`Coffer::jira_filter`] keeps, of a list, what Jira lets the caller see: Cloud sites get one
//!   `permissions/check` per 1,000 issues whose Jira ids Coffer knows, everything else one
//!   `mypermissions` per issue, at most `jira.check_concurrency` at once; a 429 stops further
//!   calls and the list fails with the wait Jira asked for.
//! - Only yeses are cached ([`JiraCache`]), for `jira.allow_ttl`, keyed by the site's generation:
//!   a lifecycle webhook bumps it, so every node drops the org's cached yeses at its next request.
//!   A no, an error or a missing link is never remembered.

use super::api::{BULK_LIMIT, CallFail, Endpoints};
use super::link::Held;
use crate::catalog::{JiraAccount, JiraKind, JiraSite, OrgRecord, SecretRecord};
use crate::domain::policy::{Actor, JiraAnswer, Right, SecretAction, jira_admits, jira_asked};
use crate::domain::{OrgId, Scope, UserId};
use crate::service::{Coffer, Error, Result, event};
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use zeroize::Zeroizing;

/// Whether a use case reads or writes (a no reads as *not found*, writes as a refused key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::service) enum Use {
    /// See, reveal, manage access.
    Read,
    /// Create, write, delete, destroy.
    Write,
}

/// How a secret action uses its scope.
pub(in crate::service) fn usage_of(action: SecretAction) -> Use {
    match action {
        SecretAction::See | SecretAction::Reveal | SecretAction::ManageAccess => Use::Read,
        SecretAction::Write | SecretAction::Delete | SecretAction::Destroy => Use::Write,
    }
}

/// (org, person, the org's link, the person's link, the site's generation, issue or project
/// key). The org's link is its webhook secret's id (new with every link of the org), the person's
/// link the time they linked: a yes given under an earlier link of either never serves a later
/// one, and a removed link is seen before the cache is.
type AllowKey = (OrgId, UserId, u128, i64, u64, String);

/// The yeses Jira gave ([`AllowKey`]).
pub struct JiraCache {
    allows: Option<moka::sync::Cache<AllowKey, ()>>,
}

impl JiraCache {
    /// A cache keeping yeses for `ttl` (`0s`: none).
    pub fn new(ttl: Duration) -> Self {
        Self {
            allows: (!ttl.is_zero()).then(|| {
                moka::sync::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(ttl)
                    .support_invalidation_closures()
                    .build()
            }),
        }
    }

    fn has(&self, k: &AllowKey) -> bool {
        self.allows.as_ref().is_some_and(|c| c.contains_key(k))
    }

    fn allow(&self, k: AllowKey) {
        if let Some(c) = &self.allows {
            c.insert(k, ());
        }
    }

    /// Drops every yes of the org (it was unlinked, or this node saw a lifecycle event).
    pub fn forget_org(&self, org: OrgId) {
        if let Some(c) = &self.allows {
            let _ = c.invalidate_entries_if(move |k, _| k.0 == org);
        }
    }

    /// Drops every yes of one person in the org (their link changed).
    pub fn forget_user(&self, org: OrgId, user: UserId) {
        if let Some(c) = &self.allows {
            let _ = c.invalidate_entries_if(move |k, _| k.0 == org && k.1 == user);
        }
    }
}

/// One scope's answer with the sentence that explains a no.
type Answered = (JiraAnswer, Option<String>);

fn scope_key(scope: &Scope) -> String {
    scope.to_string()
}

fn allow_key(
    org: &OrgRecord,
    actor: &Actor,
    site: &JiraSite,
    account: &JiraAccount,
    scope: &Scope,
) -> AllowKey {
    (
        org.id,
        actor.user,
        site.webhook_secret.id.as_uuid().as_u128(),
        account.linked_at.millis(),
        site.generation,
        scope_key(scope),
    )
}

fn unreachable(e: &CallFail) -> Answered {
    let why = match e {
        CallFail::Throttled(d) => format!(
            "Jira asked Coffer to slow down; retry in {}s",
            d.as_secs().max(1)
        ),
        other => format!("{other}; retry shortly"),
    };
    (JiraAnswer::Unreachable, Some(why))
}

impl Coffer {
    /// The site Jira questions go to for this actor in `org`, if any are asked.
    async fn jira_site_for(&self, actor: &Actor, org: &OrgRecord) -> Result<Option<JiraSite>> {
        let site = self.jira_site_of(org.id).await?;
        Ok(site.filter(|_| jira_asked(actor.kind(), true)))
    }

    /// Jira's answer about the actor and `scope`, without caching or errors.
    async fn ask_jira(
        &self,
        actor: &Actor,
        site: &JiraSite,
        ep: &Endpoints,
        scope: &Scope,
    ) -> Result<Answered> {
        let mut refreshed = false;
        let mut token = match self.jira_token_held(site, actor.user).await? {
            Held::Token(t) => t,
            Held::NotLinked => return Ok((JiraAnswer::NoAccount, None)),
            Held::Broken(m) => return Ok((JiraAnswer::NoAccount, Some(m))),
            Held::Unreachable(e) => return Ok(unreachable(&e)),
        };
        loop {
            match self.jira.http.may_browse(ep, &token, scope).await {
                Ok(true) => return Ok((JiraAnswer::Allowed, None)),
                Ok(false) => return Ok((JiraAnswer::Denied, None)),
                Err(CallFail::Unauthorized) if !refreshed => {
                    refreshed = true;
                    token = match self.refresh_jira(site, actor.user, None).await? {
                        Held::Token(t) => t,
                        Held::NotLinked => return Ok((JiraAnswer::NoAccount, None)),
                        Held::Broken(m) => return Ok((JiraAnswer::NoAccount, Some(m))),
                        Held::Unreachable(e) => return Ok(unreachable(&e)),
                    };
                }
                Err(CallFail::Unauthorized) => {
                    return Ok((
                        JiraAnswer::NoAccount,
                        Some("Jira refuses your token even after a refresh; link your Jira account again from the Jira page of the web UI".into()),
                    ));
                }
                Err(e) => return Ok(unreachable(&e)),
            }
        }
    }

    /// The actor's own Jira account link in `org`.
    async fn linked_account(&self, org: &OrgRecord, actor: &Actor) -> Result<Option<JiraAccount>> {
        self.catalog
            .jira_account(org.id, actor.user)
            .await
            .map_err(|e| Error::catalog(e, || "Jira account".into()))
    }

    /// Checks, before a list is read, what Jira's answer for the list cannot depend on: the
    /// person has a Jira link, and Jira answers for the issue or project the list is filtered to.
    /// So whether a refusal comes never depends on what the list would hold. `false`: Jira does
    /// not let the person browse the filter's issue or project, so the list is empty.
    pub(in crate::service) async fn jira_admit_list(
        &self,
        actor: &Actor,
        org: &OrgRecord,
        filtered_to: Option<&Scope>,
    ) -> Result<bool> {
        if self.jira_site_for(actor, org).await?.is_none() {
            return Ok(true);
        }
        if self.linked_account(org, actor).await?.is_none() {
            return Err(refusal(org, None, JiraAnswer::NoAccount, None, Use::Read));
        }
        let Some(scope) = filtered_to else {
            return Ok(true);
        };
        match self.jira_answer(actor, org, scope).await? {
            (JiraAnswer::Allowed, _) => Ok(true),
            (JiraAnswer::Denied, _) => Ok(false),
            (other, why) => Err(refusal(org, Some(scope), other, why, Use::Read)),
        }
    }

    /// Jira's answer about the actor and `scope` in `org` (yeses cached).
    pub(in crate::service) async fn jira_answer(
        &self,
        actor: &Actor,
        org: &OrgRecord,
        scope: &Scope,
    ) -> Result<Answered> {
        let site = self.jira_site_of(org.id).await?;
        self.jira_answer_for(actor, org, scope, site).await
    }

    /// [`Self::jira_answer`] when the caller has already read the org's Jira link `site`.
    async fn jira_answer_for(
        &self,
        actor: &Actor,
        org: &OrgRecord,
        scope: &Scope,
        site: Option<JiraSite>,
    ) -> Result<Answered> {
        let Some(site) = site else {
            return Ok((JiraAnswer::NotAsked, None));
        };
        if !jira_asked(actor.kind(), true) {
            return Ok((JiraAnswer::NotAPerson, None));
        }
        let Some(account) = self.linked_account(org, actor).await? else {
            return Ok((JiraAnswer::NoAccount, None));
        };
        let key = allow_key(org, actor, &site, &account, scope);
        if self.jira.cache.has(&key) {
            return Ok((JiraAnswer::Allowed, None));
        }
        let ep = self.jira.endpoints(&site);
        let answer = self.ask_jira(actor, &site, &ep, scope).await?;
        if answer.0 == JiraAnswer::Allowed {
            self.jira.cache.allow(key);
        }
        self.metrics.jira_check(answer.0.as_str());
        Ok(answer)
    }

    /// Checks that Jira lets the actor use `scope`'s secrets; the answer (for the audit event)
    /// or an error that depends only on the actor and `scope`.
    pub(in crate::service) async fn jira_admit(
        &self,
        actor: &Actor,
        org: &OrgRecord,
        scope: &Scope,
        usage: Use,
    ) -> Result<JiraAnswer> {
        let site = self.jira_site_of(org.id).await?;
        self.jira_admit_for(actor, org, scope, usage, site).await
    }

    /// [`Self::jira_admit`] when the caller has already read the org's Jira link `site` (a
    /// reveal, whose target carries it).
    pub(in crate::service) async fn jira_admit_for(
        &self,
        actor: &Actor,
        org: &OrgRecord,
        scope: &Scope,
        usage: Use,
        site: Option<JiraSite>,
    ) -> Result<JiraAnswer> {
        let (answer, why) = self.jira_answer_for(actor, org, scope, site).await?;
        if jira_admits(answer) {
            return Ok(answer);
        }
        Err(refusal(org, Some(scope), answer, why, usage))
    }

    /// What Jira says about the caller and `scope`, with the sentence the web UI shows ("you can
    /// see this because Jira says…").
    pub async fn jira_access(
        &self,
        actor: &Actor,
        slug: &crate::domain::OrgSlug,
        scope: &Scope,
    ) -> Result<(JiraAnswer, bool, String)> {
        let org = self
            .org_for(actor, slug, crate::domain::policy::Action::ReadJira)
            .await?;
        let (answer, why) = self.jira_answer(actor, &org, scope).await?;
        let message = match answer {
            JiraAnswer::NotAsked => format!(
                "org `{slug}` is not linked to Jira: Coffer's own access decides who sees `{scope}`'s secrets"
            ),
            JiraAnswer::NotAPerson => format!(
                "service accounts have no Jira identity: their grants alone decide what they see of `{scope}`"
            ),
            JiraAnswer::Allowed => format!(
                "you can see `{scope}`'s secrets because Jira says you may browse `{scope}` (and Coffer gives you access to them)"
            ),
            other => refusal(&org, Some(scope), other, why, Use::Read).to_string(),
        };
        Ok((answer, jira_admits(answer), message))
    }

    /// Records a reveal Jira refused (what was asked and Jira's answer); a failure to record is
    /// logged, the refusal stands either way.
    pub(in crate::service) async fn audit_refused_reveal(
        &self,
        actor: &Actor,
        org: &OrgRecord,
        what: &str,
        refusal: &Error,
    ) {
        let answer = match refusal {
            Error::NotFound(_) => JiraAnswer::Denied,
            Error::ProofRequired { .. } => JiraAnswer::NoAccount,
            Error::Unavailable(_) => JiraAnswer::Unreachable,
            _ => return,
        };
        let draft = event(
            actor,
            org.id,
            "secret.reveal_refused",
            what,
            serde_json::json!({"jira": answer.as_str()}),
        );
        if let Err(e) = self.catalog.append_audit(draft).await {
            tracing::warn!(org = %org.slug, error = %e, "could not record a reveal Jira refused");
        }
    }

    /// Keeps, of `secrets`, those whose issue or project Jira lets the actor browse.
    pub(in crate::service) async fn jira_filter(
        &self,
        actor: &Actor,
        org: &OrgRecord,
        secrets: Vec<(SecretRecord, Right)>,
    ) -> Result<Vec<(SecretRecord, Right)>> {
        if secrets.is_empty() {
            return Ok(secrets);
        }
        let Some(site) = self.jira_site_for(actor, org).await? else {
            return Ok(secrets);
        };
        let Some(account) = self.linked_account(org, actor).await? else {
            return Err(refusal(org, None, JiraAnswer::NoAccount, None, Use::Read));
        };
        let scopes: BTreeSet<Scope> = secrets.iter().map(|(s, _)| s.scope.clone()).collect();
        let mut answers: BTreeMap<Scope, JiraAnswer> = BTreeMap::new();
        let mut ask = Vec::new();
        for scope in scopes {
            let key = allow_key(org, actor, &site, &account, &scope);
            if self.jira.cache.has(&key) {
                answers.insert(scope, JiraAnswer::Allowed);
            } else {
                ask.push(scope);
            }
        }
        if !ask.is_empty() {
            let asked = self.ask_jira_many(actor, org, &site, &ask).await?;
            for (scope, (answer, why)) in asked {
                match answer {
                    JiraAnswer::Allowed => {
                        self.jira
                            .cache
                            .allow(allow_key(org, actor, &site, &account, &scope));
                    }
                    JiraAnswer::Denied => {}
                    // A list that would silently miss what Jira could not answer for is wrong:
                    // say why instead.
                    other => return Err(refusal(org, None, other, why, Use::Read)),
                }
                self.metrics.jira_check(answer.as_str());
                answers.insert(scope, answer);
            }
        }
        Ok(secrets
            .into_iter()
            .filter(|(s, _)| answers.get(&s.scope).copied().is_some_and(jira_admits))
            .collect())
    }

    /// Answers for many scopes with as few calls as the site allows. A refused token is
    /// refreshed once and the checks asked again.
    async fn ask_jira_many(
        &self,
        actor: &Actor,
        org: &OrgRecord,
        site: &JiraSite,
        scopes: &[Scope],
    ) -> Result<Vec<(Scope, Answered)>> {
        let ep = self.jira.endpoints(site);
        let first = scopes[0].clone();
        let mut held = self.jira_token_held(site, actor.user).await?;
        for attempt in 0..2 {
            let token = match held {
                Held::Token(t) => t,
                Held::NotLinked => return Ok(vec![(first, (JiraAnswer::NoAccount, None))]),
                Held::Broken(m) => return Ok(vec![(first, (JiraAnswer::NoAccount, Some(m)))]),
                Held::Unreachable(e) => return Ok(vec![(first, unreachable(&e))]),
            };
            match self.check_many(org, site, &ep, &token, scopes).await? {
                Ok(answers) => return Ok(answers),
                Err(()) if attempt == 0 => {
                    held = self.refresh_jira(site, actor.user, None).await?;
                }
                Err(()) => break,
            }
        }
        Ok(vec![(
            first,
            (
                JiraAnswer::NoAccount,
                Some("Jira refuses your token even after a refresh; link your Jira account again from the Jira page of the web UI".into()),
            ),
        )])
    }

    /// One pass of checks with one token; `Err(())` if Jira refused the token.
    async fn check_many(
        &self,
        org: &OrgRecord,
        site: &JiraSite,
        ep: &Endpoints,
        token: &Zeroizing<String>,
        scopes: &[Scope],
    ) -> Result<std::result::Result<Vec<(Scope, Answered)>, ()>> {
        let mut out = Vec::new();
        let mut rest: Vec<Scope> = scopes.to_vec();
        if site.kind == JiraKind::Cloud {
            let (bulk, left) = self.bulk_answers(org, ep, token, &rest).await?;
            out.extend(bulk);
            rest = left;
        }
        // One call per scope, a few at a time; the first failure stops the rest.
        let mut stop: Option<Answered> = None;
        for chunk in rest.chunks(self.jira.settings.concurrency) {
            if let Some(a) = &stop {
                out.extend(chunk.iter().map(|s| (s.clone(), a.clone())));
                continue;
            }
            let answers: Vec<(Scope, std::result::Result<bool, CallFail>)> =
                futures::stream::iter(chunk.iter().cloned())
                    .map(|scope| async move {
                        let a = self.jira.http.may_browse(ep, token, &scope).await;
                        (scope, a)
                    })
                    .buffer_unordered(self.jira.settings.concurrency)
                    .collect()
                    .await;
            for (scope, a) in answers {
                let answered = match a {
                    Ok(true) => (JiraAnswer::Allowed, None),
                    Ok(false) => (JiraAnswer::Denied, None),
                    Err(CallFail::Unauthorized) => return Ok(Err(())),
                    Err(e) => {
                        let u = unreachable(&e);
                        stop = Some(u.clone());
                        u
                    }
                };
                out.push((scope, answered));
            }
        }
        Ok(Ok(out))
    }

    /// Cloud: answers for the scopes whose Jira ids Coffer knows, through `permissions/check`;
    /// returns them and the scopes left to ask one by one.
    async fn bulk_answers(
        &self,
        org: &OrgRecord,
        ep: &Endpoints,
        token: &Zeroizing<String>,
        scopes: &[Scope],
    ) -> Result<(Vec<(Scope, Answered)>, Vec<Scope>)> {
        let keys: Vec<String> = scopes.iter().map(scope_key).collect();
        let refs: BTreeMap<String, u64> = self
            .catalog
            .jira_refs(org.id, &keys)
            .await
            .map_err(|e| Error::catalog(e, || "Jira ids".into()))?
            .into_iter()
            .filter_map(|(k, id)| id.parse().ok().map(|id| (k, id)))
            .collect();
        let (known, left): (Vec<Scope>, Vec<Scope>) = scopes
            .iter()
            .cloned()
            .partition(|s| refs.contains_key(&scope_key(s)));
        let mut out = Vec::new();
        for chunk in known.chunks(BULK_LIMIT) {
            let (issues, projects): (Vec<&Scope>, Vec<&Scope>) =
                chunk.iter().partition(|s| matches!(s, Scope::Issue(_)));
            let ids =
                |v: &[&Scope]| -> Vec<u64> { v.iter().map(|s| refs[&scope_key(s)]).collect() };
            match self
                .jira
                .http
                .bulk_browse(ep, token, &ids(&issues), &ids(&projects))
                .await
            {
                Ok((gi, gp)) => {
                    for s in chunk {
                        let id = refs[&scope_key(s)];
                        let yes = match s {
                            Scope::Issue(_) => gi.contains(&id),
                            Scope::Project(_) => gp.contains(&id),
                        };
                        let a = if yes {
                            JiraAnswer::Allowed
                        } else {
                            JiraAnswer::Denied
                        };
                        out.push((s.clone(), (a, None)));
                    }
                }
                // Anything but an answer: ask one by one, which refreshes tokens and reports.
                Err(_) => return Ok((out, [chunk.to_vec(), left].concat())),
            }
        }
        Ok((out, left))
    }
}

/// The error for a no, depending only on the caller, the scope and Jira's answer.
/// The error for a no about `scope` (`None`: a list, whose refusal names no issue).
fn refusal(
    org: &OrgRecord,
    scope: Option<&Scope>,
    answer: JiraAnswer,
    why: Option<String>,
    usage: Use,
) -> Error {
    let Some(scope) = scope else {
        return match answer {
            JiraAnswer::NoAccount => Error::ProofRequired {
                code: "jira_account_required",
                message: why.unwrap_or_else(|| {
                    format!(
                        "org `{}` follows Jira's permissions: link your Jira account (web UI → Jira, or `coffer jira link`) to list its secrets",
                        org.slug
                    )
                }),
            },
            _ => Error::Unavailable(format!(
                "Jira could not confirm which issues you may browse: {}",
                why.unwrap_or_else(|| "no answer; retry shortly".into())
            )),
        };
    };
    match answer {
        JiraAnswer::Denied if usage == Use::Write => Error::Rejected {
            code: "jira_issue_not_visible",
            message: format!(
                "`{scope}` does not exist in org `{}`'s Jira site, or Jira says you may not browse it; check the key",
                org.slug
            ),
        },
        JiraAnswer::Denied => Error::NotFound(format!(
            "no secrets on `{scope}` for you in org `{}`: Jira says `{scope}` does not exist or you may not browse it",
            org.slug
        )),
        JiraAnswer::NoAccount => Error::ProofRequired {
            code: "jira_account_required",
            message: why.unwrap_or_else(|| {
                format!(
                    "org `{}` follows Jira's permissions: link your Jira account (web UI → Jira, or `coffer jira link`) to use secrets on `{scope}`",
                    org.slug
                )
            }),
        },
        _ => Error::Unavailable(format!(
            "Jira could not confirm that you may browse `{scope}`: {}",
            why.unwrap_or_else(|| "no answer; retry shortly".into())
        )),
    }
}
