//! The catalog's storage-health part: what the background drift checks last saw of each org's
//! own bucket (`ok` or `degraded` with the failing step, since when, last checked, warnings).
//!
//! A narrow supertrait of the catalog, like [`StorageCatalog`](super::StorageCatalog), so each
//! backend implements it in a file of its own and `conformance::storage_health` holds both to
//! it. The status changes only by a check-and-set inside the transaction that appends the
//! transition's audit event (`storage.degraded` / `storage.recovered`), so any number of nodes
//! probing the same bucket record each transition — and write its event — exactly once. The
//! rule itself ([`next_health`]) is shared by the backends; each only reads the row under a lock
//! and writes what the rule says.

use super::Result;
use crate::audit::AuditDraft;
use crate::domain::{OrgId, StorageId, Timestamp};
use async_trait::async_trait;

/// Whether a bucket works for Coffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageStatus {
    /// Every required step passed (warnings may remain).
    Ok,
    /// A required step failed; writes keep trying, the org is never suspended for it.
    Degraded,
}

impl StorageStatus {
    /// `ok` or `degraded`: the stored and the wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageStatus::Ok => "ok",
            StorageStatus::Degraded => "degraded",
        }
    }

    /// The stored form back; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ok" => Some(StorageStatus::Ok),
            "degraded" => Some(StorageStatus::Degraded),
            _ => None,
        }
    }
}

/// A step of the drift check that did not pass, or a warning.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HealthFinding {
    /// The step (`bucket_exists`, `put`, `get`, `compare`, `delete`, `confirm_gone`, `endpoint`;
    /// for warnings `cors`, `object_lock`, …).
    pub step: String,
    /// What was seen and what to do, in a sentence (never a transport error).
    pub detail: String,
}

/// A bucket's health as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageHealth {
    /// The storage location.
    pub storage: StorageId,
    /// The status.
    pub status: StorageStatus,
    /// While `degraded`: the failing step and the fix.
    pub failure: Option<HealthFinding>,
    /// When the current status began.
    pub since: Timestamp,
    /// When it was last checked.
    pub checked_at: Timestamp,
    /// What works but should be fixed (never degrades the bucket).
    pub warnings: Vec<HealthFinding>,
}

/// One drift check of one org's bucket, to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageHealthReport {
    /// The org.
    pub org: OrgId,
    /// The location checked (recorded only while it is still the org's storage).
    pub storage: StorageId,
    /// When the check started (an older report than the recorded one is ignored).
    pub at: Timestamp,
    /// The first required step that failed; `None`: the bucket works.
    pub failure: Option<HealthFinding>,
    /// Warnings.
    pub warnings: Vec<HealthFinding>,
}

/// A status change [`StorageHealthCatalog::record_storage_health`] made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageTransition {
    /// Ok (or never checked) → degraded.
    Degraded,
    /// Degraded → ok.
    Recovered,
}

/// Per-bucket health. See each method for its contract; `conformance::storage_health` checks
/// them.
#[async_trait]
pub trait StorageHealthCatalog: Send + Sync {
    /// The recorded health of a location; `None` if it was never checked.
    async fn storage_health(&self, storage: StorageId) -> Result<Option<StorageHealth>>;

    /// Records `report` as the location's health and applies [`next_health`] as a check-and-set
    /// in one transaction: `audit` (the event of the transition the report asks for) is appended
    /// only if the status really changes, so concurrent callers produce one transition and one
    /// event. Nothing is recorded (`Ok(None)`) if the location is no longer the org's storage
    /// or a newer check is already recorded. `NotFound`: no such org.
    async fn record_storage_health(
        &self,
        report: StorageHealthReport,
        audit: AuditDraft,
    ) -> Result<Option<StorageTransition>>;
}

/// The check-and-set rule of [`StorageHealthCatalog::record_storage_health`], shared by the
/// backends: given the recorded health (if any), the row to write and the transition it is, or
/// `None` to write nothing (the report is older than what is recorded).
///
/// Never checked counts as `ok` (saving validated the bucket), so a first failing check is a
/// transition and a first passing one is not. A degraded bucket that fails at another step stays
/// degraded since the first failure, with the new step.
pub(crate) fn next_health(
    before: Option<&StorageHealth>,
    report: &StorageHealthReport,
) -> Option<(StorageHealth, Option<StorageTransition>)> {
    if before.is_some_and(|b| report.at < b.checked_at) {
        return None;
    }
    let was = before.map_or(StorageStatus::Ok, |b| b.status);
    let now = if report.failure.is_some() {
        StorageStatus::Degraded
    } else {
        StorageStatus::Ok
    };
    let transition = match (was, now) {
        (StorageStatus::Ok, StorageStatus::Degraded) => Some(StorageTransition::Degraded),
        (StorageStatus::Degraded, StorageStatus::Ok) => Some(StorageTransition::Recovered),
        _ => None,
    };
    let since = match (before, transition) {
        (Some(b), None) => b.since,
        _ => report.at,
    };
    let row = StorageHealth {
        storage: report.storage,
        status: now,
        failure: report.failure.clone(),
        since,
        checked_at: report.at,
        warnings: report.warnings.clone(),
    };
    Some((row, transition))
}

/// The stored form of warnings (a JSON array).
pub(crate) fn warnings_json(w: &[HealthFinding]) -> String {
    serde_json::to_string(w).expect("findings serialize")
}

/// Warnings back from their stored form; `Err` names what is wrong.
pub(crate) fn parse_warnings(s: &str) -> std::result::Result<Vec<HealthFinding>, String> {
    serde_json::from_str(s).map_err(|e| format!("storage_health.warnings: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(at: i64, failing: Option<&str>) -> StorageHealthReport {
        StorageHealthReport {
            org: OrgId::new(),
            storage: StorageId::new(),
            at: Timestamp::from_millis(at),
            failure: failing.map(|s| HealthFinding {
                step: s.into(),
                detail: "d".into(),
            }),
            warnings: vec![],
        }
    }

    #[test]
    fn transitions_follow_the_status_and_keep_since() {
        let (first, t) = next_health(None, &report(10, None)).unwrap();
        assert_eq!(
            (first.status, t, first.since.millis()),
            (StorageStatus::Ok, None, 10)
        );
        let (ok, t) = next_health(Some(&first), &report(20, None)).unwrap();
        assert_eq!(
            (t, ok.since.millis(), ok.checked_at.millis()),
            (None, 10, 20)
        );
        let (bad, t) = next_health(Some(&ok), &report(30, Some("put"))).unwrap();
        assert_eq!(
            (bad.status, t),
            (StorageStatus::Degraded, Some(StorageTransition::Degraded))
        );
        assert_eq!(bad.since.millis(), 30);
        let (worse, t) = next_health(Some(&bad), &report(40, Some("bucket_exists"))).unwrap();
        assert_eq!((t, worse.since.millis()), (None, 30));
        assert_eq!(worse.failure.as_ref().unwrap().step, "bucket_exists");
        assert!(
            next_health(Some(&worse), &report(35, None)).is_none(),
            "stale"
        );
        let (back, t) = next_health(Some(&worse), &report(50, None)).unwrap();
        assert_eq!(
            (back.status, t, back.failure),
            (StorageStatus::Ok, Some(StorageTransition::Recovered), None)
        );
        let (_, t) = next_health(None, &report(1, Some("get"))).unwrap();
        assert_eq!(
            t,
            Some(StorageTransition::Degraded),
            "never checked counts as ok"
        );
    }

    #[test]
    fn warnings_round_trip_and_bad_ones_are_named() {
        let w = vec![HealthFinding {
            step: "cors".into(),
            detail: "no \"rule\"".into(),
        }];
        assert_eq!(parse_warnings(&warnings_json(&w)).unwrap(), w);
        assert!(
            parse_warnings("nope")
                .unwrap_err()
                .contains("storage_health.warnings")
        );
    }
}
