//! Failed authentications, counted in memory and written to each org's audit chain as one
//! summary event per org and reason per interval — never one event per failure.
//!
//! Why: an unauthenticated request costs the attacker nothing, and appending an event per failure
//! let anyone grow an org's chain (and the disk) without bound, and made a request aimed at an
//! existing org measurably slower than one aimed at a missing org (an fsync'd write against
//! none). Here the request path only bumps a counter under a mutex, keyed by the org *slug*
//! as the request named it — it does not look the org up — so answering costs the same whether
//! or not the org exists. A background job ([`Coffer::flush_failed_auth`]) resolves the slugs,
//! drops the ones that name no org, and appends one `auth.failed` event per (org, reason) with
//! the count, the time span, and the most frequent sources, user names and token ids (each
//! capped). Memory is bounded: past [`MAX_KEYS`] distinct keys in one interval, further failures
//! are only counted in a metric and the log.
//!
//! What this gives up: a summary reaches the chain up to one interval after the failures (a
//! `kill -9` loses at most that interval's counts), and the event says "37 failures from these
//! sources" rather than listing each one.

use crate::audit::AuditDraft;
use crate::domain::{OrgId, OrgSlug, Timestamp, TokenId};
use crate::service::Coffer;
use std::collections::HashMap;
use std::sync::Mutex;

/// Distinct (org, reason) keys kept per interval.
pub const MAX_KEYS: usize = 10_000;
/// Distinct sources, user names or token ids kept per key (the rest are counted as `other`).
const MAX_LISTED: usize = 10;
/// Characters of a user name kept (a 200 KB name is cut to this, with `…`).
pub const MAX_NAME_CHARS: usize = 64;

/// Which org a failure was aimed at.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Target {
    /// As the request named it (not looked up).
    Slug(OrgSlug),
    /// A known token's org.
    Id(OrgId),
}

/// A bounded tally: the first [`MAX_LISTED`] distinct values with their counts, and how many
/// failures had some other value.
#[derive(Default, Debug)]
struct Tally {
    top: HashMap<String, u64>,
    other: u64,
}

impl Tally {
    fn add(&mut self, value: &str) {
        if let Some(n) = self.top.get_mut(value) {
            *n += 1;
        } else if self.top.len() < MAX_LISTED {
            self.top.insert(value.to_owned(), 1);
        } else {
            self.other += 1;
        }
    }

    fn to_json(&self) -> serde_json::Value {
        let mut map: serde_json::Map<String, serde_json::Value> = self
            .top
            .iter()
            .map(|(k, v)| (k.clone(), (*v).into()))
            .collect();
        if self.other > 0 {
            map.insert("(other)".into(), self.other.into());
        }
        map.into()
    }
}

#[derive(Debug)]
struct Counts {
    count: u64,
    first: Timestamp,
    last: Timestamp,
    sources: Tally,
    users: Tally,
    tokens: Tally,
}

/// One failure, as the caller saw it.
#[derive(Default, Clone, Copy)]
pub struct Failure<'a> {
    /// Where the request came from (sign-in only).
    pub source: Option<&'a str>,
    /// The user name tried (sign-in only); capped at [`MAX_NAME_CHARS`].
    pub user: Option<&'a str>,
    /// The known token that was refused.
    pub token: Option<TokenId>,
}

/// The counters of one node.
#[derive(Default)]
pub struct FailedAuth {
    counts: Mutex<HashMap<(Target, &'static str), Counts>>,
}

/// `name` cut to [`MAX_NAME_CHARS`] characters.
pub fn cap(name: &str) -> String {
    match name.char_indices().nth(MAX_NAME_CHARS) {
        Some((at, _)) => format!("{}…", &name[..at]),
        None => name.to_owned(),
    }
}

impl FailedAuth {
    fn record(&self, target: Target, reason: &'static str, f: Failure<'_>) -> bool {
        let now = Timestamp::now();
        let mut counts = self.counts.lock().expect("failure counters poisoned");
        let len = counts.len();
        let entry = match counts.entry((target, reason)) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(_) if len >= MAX_KEYS => return false,
            std::collections::hash_map::Entry::Vacant(v) => v.insert(Counts {
                count: 0,
                first: now,
                last: now,
                sources: Tally::default(),
                users: Tally::default(),
                tokens: Tally::default(),
            }),
        };
        entry.count += 1;
        entry.last = now;
        if let Some(s) = f.source {
            entry.sources.add(&cap(s));
        }
        if let Some(u) = f.user {
            entry.users.add(&cap(u));
        }
        if let Some(t) = f.token {
            entry.tokens.add(&t.to_string());
        }
        true
    }

    fn take(&self) -> HashMap<(Target, &'static str), Counts> {
        std::mem::take(&mut *self.counts.lock().expect("failure counters poisoned"))
    }
}

impl Coffer {
    /// Counts a failed authentication aimed at the org the request path names (if it names a
    /// well-formed slug; the org is not looked up).
    pub(crate) fn failed_auth(
        &self,
        path_org: Option<&str>,
        reason: &'static str,
        f: Option<Failure<'_>>,
    ) {
        let Some(slug) = path_org.and_then(|s| OrgSlug::parse(s).ok()) else {
            tracing::info!(reason, "rejected a request without a valid credential");
            return;
        };
        self.count_failure(Target::Slug(slug), reason, f.unwrap_or_default());
    }

    /// Counts a failed authentication with a known credential of `org`.
    pub(crate) fn failed_auth_in(&self, org: OrgId, reason: &'static str, token: Option<TokenId>) {
        let f = Failure {
            token,
            ..Default::default()
        };
        self.count_failure(Target::Id(org), reason, f);
    }

    fn count_failure(&self, target: Target, reason: &'static str, f: Failure<'_>) {
        self.metrics()
            .auth_failures
            .get_or_create(&crate::metrics::ReasonLabels { reason })
            .inc();
        if !self.failed_auth.record(target, reason, f) {
            self.metrics().auth_failures_unrecorded.inc();
            tracing::warn!(
                reason,
                "too many distinct failed-authentication keys this interval; counted, not recorded"
            );
        }
    }

    /// Appends one `auth.failed` event per (org, reason) counted since the last flush. Failures
    /// aimed at slugs that name no org are dropped (logged at debug). Returns how many events
    /// were appended.
    pub async fn flush_failed_auth(&self) -> usize {
        let mut appended = 0;
        for ((target, reason), c) in self.failed_auth.take() {
            let org = match target {
                Target::Id(id) => id,
                Target::Slug(slug) => match self.catalog.org_by_slug(&slug).await {
                    Ok(o) => o.id,
                    Err(_) => {
                        tracing::debug!(%slug, reason, count = c.count, "failed authentications against no org");
                        continue;
                    }
                },
            };
            let mut details = serde_json::json!({
                "reason": reason,
                "count": c.count,
                "first_at": c.first.to_string(),
                "last_at": c.last.to_string(),
            });
            for (key, tally) in [
                ("sources", &c.sources),
                ("users", &c.users),
                ("token_ids", &c.tokens),
            ] {
                if !tally.top.is_empty() || tally.other > 0 {
                    details[key] = tally.to_json();
                }
            }
            let draft = AuditDraft::new(
                org,
                None,
                "anonymous",
                "auth.failed",
                "credentials",
                details,
            );
            match self.catalog.append_audit(draft).await {
                Ok(()) => appended += 1,
                Err(e) => {
                    tracing::error!(error = %e, %org, reason, count = c.count, "could not record failed authentications")
                }
            }
        }
        appended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_capped_on_a_character_boundary() {
        assert_eq!(cap("alice"), "alice");
        let long = "é".repeat(100_000);
        let c = cap(&long);
        assert_eq!(c.chars().count(), MAX_NAME_CHARS + 1);
        assert!(c.ends_with('…'));
    }

    #[test]
    fn counters_are_bounded() {
        let f = FailedAuth::default();
        for i in 0..MAX_KEYS + 5 {
            let slug = OrgSlug::parse(&format!("org{i}")).unwrap();
            let kept = f.record(Target::Slug(slug), "unknown_token", Failure::default());
            assert_eq!(kept, i < MAX_KEYS);
        }
        let one = OrgSlug::parse("org1").unwrap();
        for i in 0..50 {
            let src = format!("10.0.0.{i}");
            let failure = Failure {
                source: Some(&src),
                ..Default::default()
            };
            assert!(f.record(Target::Slug(one.clone()), "unknown_token", failure));
        }
        let taken = f.take();
        assert_eq!(taken.len(), MAX_KEYS);
        let c = &taken[&(Target::Slug(one), "unknown_token")];
        assert_eq!(c.count, 51);
        assert_eq!(c.sources.top.len(), MAX_LISTED);
        assert_eq!(c.sources.other, 50 - MAX_LISTED as u64);
        assert!(f.take().is_empty(), "a flush starts over");
    }
}
