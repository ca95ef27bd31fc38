//! The web UI's two finders: the search box (which issues and projects of the org have secrets
//! matching a text) and the audit page's filters (actor, action, issue, time range).
//!
//! Both are built on the catalog's existing list queries, filtering in the service: the catalog
//! seam stays as it is (other backends' work is not disturbed), and the cost is bounded — search
//! reads at most [`SEARCH_SCAN`] secrets' metadata, the audit filter at most [`AUDIT_SCAN`]
//! events, newest matches kept, and the answer says when the scan stopped early.

use crate::audit::AuditRecord;
use crate::catalog::{AuditFilter, SecretFilter};
use crate::domain::policy::Actor;
use crate::domain::{OrgSlug, Timestamp};
use crate::service::{Coffer, Error, Result};
use std::collections::{BTreeMap, VecDeque};

/// Secrets read per search.
pub const SEARCH_SCAN: u32 = 10_000;
/// Audit events read per filtered listing.
pub const AUDIT_SCAN: u64 = 200_000;

/// One issue or project that matched, with its matching secret names.
pub struct ScopeHit {
    /// `OPS-123` or `OPS`.
    pub scope: String,
    /// Names of its secrets that matched (all of them when the scope itself matched).
    pub names: Vec<String>,
}

/// Audit filters of the web UI (the catalog's `actor`/`action` plus issue and time).
#[derive(Default)]
pub struct AuditSearch {
    /// Only this actor name.
    pub actor: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only events about this issue or project key (target `KEY` or `KEY/…`).
    pub issue: Option<String>,
    /// Only events at or after this time.
    pub since: Option<Timestamp>,
    /// Only events before this time.
    pub until: Option<Timestamp>,
    /// At most this many (the newest).
    pub limit: usize,
}

impl Coffer {
    /// Issues and projects of the org whose key or secret names contain `text` (any case).
    pub async fn search_scopes(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        text: &str,
    ) -> Result<Vec<ScopeHit>> {
        let needle = text.trim().to_lowercase();
        if needle.is_empty() || needle.len() > 100 {
            return Err(Error::InvalidInput(
                "type 1 to 100 characters to search for".into(),
            ));
        }
        let filter = SecretFilter {
            limit: SEARCH_SCAN,
            ..Default::default()
        };
        let secrets = self.list_secrets(actor, slug, filter).await?;
        let mut hits: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in &secrets {
            let scope = s.scope.to_string();
            let name = s.name.to_string();
            if scope.to_lowercase().contains(&needle) || name.to_lowercase().contains(&needle) {
                hits.entry(scope).or_default().push(name);
            }
        }
        Ok(hits
            .into_iter()
            .map(|(scope, names)| ScopeHit { scope, names })
            .collect())
    }

    /// Audit events matching every given filter, newest first, and whether the scan was cut
    /// short at [`AUDIT_SCAN`] events.
    pub async fn search_audit(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        q: AuditSearch,
    ) -> Result<(Vec<AuditRecord>, bool)> {
        let limit = q.limit.clamp(1, 1000);
        let issue = q.issue.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let prefix = issue.map(|i| format!("{i}/"));
        let mut kept: VecDeque<AuditRecord> = VecDeque::with_capacity(limit);
        let (mut after, mut scanned) = (0u64, 0u64);
        loop {
            let page = AuditFilter {
                after_seq: after,
                limit: 5_000,
                action: q.action.clone().filter(|s| !s.is_empty()),
                actor: q.actor.clone().filter(|s| !s.is_empty()),
                target: None,
            };
            let events = self.audit_events(actor, slug, page).await?;
            let Some(last) = events.last() else {
                return Ok((kept.into_iter().rev().collect(), false));
            };
            after = last.seq;
            scanned += events.len() as u64;
            for e in events {
                let in_time = q.since.is_none_or(|t| e.at >= t) && q.until.is_none_or(|t| e.at < t);
                let about = match (issue, &prefix) {
                    (Some(i), Some(p)) => e.target == i || e.target.starts_with(p.as_str()),
                    _ => true,
                };
                if in_time && about {
                    if kept.len() == limit {
                        kept.pop_front();
                    }
                    kept.push_back(e);
                }
            }
            if scanned >= AUDIT_SCAN {
                return Ok((kept.into_iter().rev().collect(), true));
            }
        }
    }
}
