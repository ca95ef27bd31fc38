//! Drift checks: every node re-checks each org's own bucket every `storage.probe_interval`, the
//! way the key prober re-checks BYOK keys, because a bucket that validated when it was saved can
//! later be deleted, lose its policy, or move behind an endpoint Coffer cannot reach.
//!
//! The required steps are the ones writes and reads depend on — the endpoint guard, HeadBucket
//! (exists, still in its region), then a throwaway object: put → get → compare → delete →
//! confirm gone. The first that fails makes the bucket `degraded` with that step and a sentence
//! naming the fix; a pass makes it `ok` again. Warnings — the CORS rule for Coffer's public
//! origin missing or changed, Object Lock off or with a default retention rule — are recorded
//! but never degrade (see [`warnings`]).
//!
//! Degraded never suspends the org and never blocks anything: writes keep trying the bucket (a
//! transient failure may already be gone by the next write), reads keep working where they can.
//! What it changes is what admins and operators see: `org storage show`, the web UI, `/metrics`,
//! and one audit event per transition (`storage.degraded`, `storage.recovered`, actor `coffer`),
//! recorded by a check-and-set in the catalog so any number of nodes probing the same bucket
//! write each transition once.
//!
//! Like save-time validation (`probe::unreachable`), a step that cannot reach the endpoint is
//! reported without the transport's own words — those go to the log only — so the stored detail,
//! which every org admin may read, cannot be used to map which hosts Coffer's network reaches.

use super::probe::{Candidate, cors, object_lock};
use crate::audit::AuditDraft;
use crate::aws::{Failure, classify};
use crate::blob::{BlobError, BlobKey, BlobStore, S3BlobStore};
use crate::catalog::{
    HealthFinding, OrgRecord, StorageHealthReport, StorageLocation, StorageStatus,
    StorageTransition,
};
use crate::domain::{AwsRegion, Timestamp};
use crate::metrics::{StepLabels, StorageOrgLabels};
use crate::service::{Coffer, Error, Result};
use bytes::Bytes;

/// What one pass over every org's bucket found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DriftSummary {
    /// Buckets checked.
    pub probed: usize,
    /// Buckets this pass found failing (degraded before or not).
    pub failing: usize,
    /// Transitions to `degraded` this node recorded.
    pub degraded: usize,
    /// Transitions to `ok` this node recorded.
    pub recovered: usize,
}

/// The first required step that failed.
struct Broken {
    step: &'static str,
    detail: String,
}

fn broken(step: &'static str, detail: String) -> Broken {
    Broken { step, detail }
}

/// A step that could not reach the endpoint: the transport's words go to the log only.
fn unreachable(loc: &StorageLocation, step: &'static str, detail: &str) -> Broken {
    tracing::warn!(bucket = %loc.bucket, step, detail, "storage drift check could not reach the bucket");
    broken(
        step,
        format!(
            "the endpoint of bucket {} did not answer; writes to it fail while this lasts. \
             Coffer checks again every storage.probe_interval; if it persists, check that the \
             bucket's endpoint and region are right and that Coffer's network can reach them",
            loc.bucket
        ),
    )
}

fn setup_hint(loc: &StorageLocation) -> String {
    format!(
        "`coffer org storage setup ORG --bucket {} --region {}` prints the policy and commands",
        loc.bucket, loc.region
    )
}

/// HeadBucket: the bucket still exists, in its region. A refusal (a policy without
/// `s3:ListBucket`) is not a failure: the object steps decide.
async fn bucket(store: &S3BlobStore, loc: &StorageLocation) -> Result<(), Broken> {
    let b = &loc.bucket;
    match store.client().head_bucket().bucket(b.as_str()).send().await {
        Ok(out) => match out.bucket_region().and_then(|r| AwsRegion::parse(r).ok()) {
            Some(actual) if actual != loc.region => Err(broken(
                "region",
                format!(
                    "bucket {b} is now in {actual}, not {} where it was saved (it was deleted and \
                     re-created elsewhere); re-create it in {} or save the storage again with a \
                     bucket in the org's location",
                    loc.region, loc.region
                ),
            )),
            _ => Ok(()),
        },
        Err(err) => match classify(&err) {
            Failure::Service { status: 404, .. } => Err(broken(
                "bucket_exists",
                format!(
                    "bucket {b} no longer exists (or not at this endpoint); writes to it fail. \
                     Re-create it in {} — {} — or point the org at another bucket",
                    loc.region,
                    setup_hint(loc)
                ),
            )),
            Failure::Service { .. } | Failure::RoleDenied(_) => Ok(()),
            Failure::Transient(m) => Err(unreachable(loc, "bucket_exists", &m)),
            Failure::Invalid(m) => {
                tracing::warn!(bucket = %b, detail = %m, "HeadBucket could not be sent");
                Err(broken(
                    "bucket_exists",
                    format!(
                        "HeadBucket on {b} could not be sent; check the bucket's saved settings"
                    ),
                ))
            }
        },
    }
}

/// Put → get → compare → delete → confirm gone, on a throwaway object.
async fn round_trip(
    store: &S3BlobStore,
    loc: &StorageLocation,
    principal: &str,
) -> Result<(), Broken> {
    let id = uuid::Uuid::new_v4().simple();
    let key = BlobKey::parse(&format!("coffer-probe/{id}.probe")).expect("probe keys are safe");
    let object = format!("arn:aws:s3:::{}/{}", loc.bucket, store.object_key(&key));
    let step_error = |step: &'static str, action: &str, e: BlobError| match e {
        BlobError::Unavailable(m) => unreachable(loc, step, &m),
        other => broken(
            step,
            format!(
                "{action} on {object}: {other}; the bucket policy must allow {action} on \
                 arn:aws:s3:::{}/* for {principal} ({})",
                loc.bucket,
                setup_hint(loc)
            ),
        ),
    };
    let body = Bytes::from(format!("coffer drift check {id}\n"));
    store
        .put_if_absent(&key, body.clone())
        .await
        .map_err(|e| step_error("put", "s3:PutObject", e))?;
    let read = match store.get(&key).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = store.delete(&key).await;
            return Err(step_error("get", "s3:GetObject", e));
        }
    };
    if read != body {
        let _ = store.delete(&key).await;
        return Err(broken(
            "compare",
            format!(
                "{object} came back different from what was written; something between Coffer \
                 and the bucket changes objects (a proxy or a transforming endpoint): use the \
                 bucket directly"
            ),
        ));
    }
    store
        .delete(&key)
        .await
        .map_err(|e| step_error("delete", "s3:DeleteObject", e))?;
    match store.get(&key).await {
        Err(BlobError::NotFound) => Ok(()),
        Ok(_) => Err(broken(
            "confirm_gone",
            format!(
                "{object} is still readable after DeleteObject: Coffer must be able to delete \
                 envelopes (destroying a secret relies on it); remove Object Lock or any rule \
                 that keeps deleted objects readable"
            ),
        )),
        Err(e) => Err(step_error("confirm_gone", "s3:GetObject", e)),
    }
}

/// The checks that warn but never degrade — the CORS rule for Coffer's public origin, and the
/// bucket's Object Lock state (off: the audit copy there is not immutable; a default retention
/// rule: envelopes cannot be destroyed) — by the save-time checks themselves, so both say the
/// same thing. A new bucket-level warning at save time belongs here too.
async fn warnings(store: &S3BlobStore, c: &Candidate<'_>) -> Vec<HealthFinding> {
    let checks = [cors(store, c).await, object_lock(store, c).await];
    checks
        .into_iter()
        .filter(|c| c.outcome != "ok")
        .map(|c| HealthFinding {
            step: c.step,
            detail: c.detail,
        })
        .collect()
}

impl Coffer {
    /// Checks one org's bucket: the first failing required step, and the warnings. `Err` only
    /// when the catalog cannot be read (nothing about the bucket is known then).
    async fn check_bucket(
        &self,
        org: &OrgRecord,
        loc: &StorageLocation,
    ) -> Result<(Option<Broken>, Vec<HealthFinding>)> {
        let store = match self.stores.bucket(&*self.catalog, loc.id).await {
            Ok(s) => s,
            Err(e @ Error::Unavailable(_)) => {
                tracing::warn!(org = %org.slug, bucket = %loc.bucket, error = %e, "drift check: bucket cannot be opened");
                let detail = format!(
                    "Coffer cannot open bucket {}: its saved endpoint is refused or the client \
                     cannot be built under this deployment's configuration (see Coffer's log); \
                     save the storage again with an allowed endpoint",
                    loc.bucket
                );
                return Ok((Some(broken("endpoint", detail)), Vec::new()));
            }
            Err(e) => return Err(e),
        };
        let settings = self.stores.settings();
        let allowed = self.allowed_regions(org);
        let principal = self.principal_text();
        let candidate = Candidate {
            bucket: &loc.bucket,
            region: &loc.region,
            endpoint: loc.endpoint.as_deref(),
            prefix: loc.prefix.as_ref(),
            allowed: &allowed,
            location: &org.location,
            public_origin: &settings.public_origin,
            principal: &principal,
        };
        let failure = match bucket(&store, loc).await {
            Ok(()) => round_trip(&store, loc, &principal).await.err(),
            Err(b) => Some(b),
        };
        // A bucket that cannot be reached cannot be asked about its CORS rule either.
        let warnings = if failure.is_none() {
            warnings(&store, &candidate).await
        } else {
            Vec::new()
        };
        Ok((failure, warnings))
    }

    /// Checks one org's bucket and records what it found. Returns the transition this call
    /// recorded, if any.
    async fn drift_check(
        &self,
        org: &OrgRecord,
        loc: &StorageLocation,
    ) -> Result<(bool, Option<StorageTransition>)> {
        let at = Timestamp::now();
        let (failure, warnings) = self.check_bucket(org, loc).await?;
        let failing = failure.is_some();
        let mut details = serde_json::json!({
            "storage_id": loc.id.to_string(),
            "bucket": loc.bucket.as_str(),
            "region": loc.region.as_str(),
        });
        let action = match &failure {
            Some(b) => {
                self.metrics
                    .storage_probe_failures
                    .get_or_create(&StepLabels { step: b.step })
                    .inc();
                details["step"] = b.step.into();
                details["detail"] = b.detail.as_str().into();
                "storage.degraded"
            }
            None => "storage.recovered",
        };
        let target = format!("s3://{}", loc.bucket);
        let audit = AuditDraft::new(org.id, None, "coffer", action, target, details);
        let report = StorageHealthReport {
            org: org.id,
            storage: loc.id,
            at,
            failure: failure.map(|b| HealthFinding {
                step: b.step.into(),
                detail: b.detail,
            }),
            warnings,
        };
        let step = report.failure.as_ref().map(|f| f.step.clone());
        let transition = self
            .catalog
            .record_storage_health(report, audit)
            .await
            .map_err(|e| Error::catalog(e, || format!("org `{}`", org.slug)))?;
        match transition {
            Some(StorageTransition::Degraded) => tracing::warn!(
                org = %org.slug, bucket = %loc.bucket, step = step.as_deref().unwrap_or_default(),
                "org's bucket is degraded (writes keep trying; see `coffer org storage show`)"
            ),
            Some(StorageTransition::Recovered) => {
                tracing::info!(org = %org.slug, bucket = %loc.bucket, "org's bucket works again")
            }
            None => {}
        }
        Ok((failing, transition))
    }

    /// Sets the degraded gauge from what the catalog records (the same on every node).
    async fn publish_health(&self, org: &OrgRecord, loc: &StorageLocation) {
        let labels = StorageOrgLabels {
            org: org.slug.to_string(),
        };
        match self.catalog.storage_health(loc.id).await {
            Ok(h) => {
                let degraded = h.is_some_and(|h| h.status == StorageStatus::Degraded);
                self.metrics
                    .storage_degraded
                    .get_or_create(&labels)
                    .set(i64::from(degraded));
            }
            Err(e) => tracing::warn!(org = %org.slug, error = %e, "storage health unreadable"),
        }
    }

    /// One pass of the drift checks over every org that stores in its own bucket. Errors of
    /// one org are logged and do not stop the others; orgs back on the default store drop out
    /// of the gauge.
    pub async fn probe_storage_once(&self) -> Result<DriftSummary> {
        let mut summary = DriftSummary::default();
        let orgs = self
            .catalog
            .list_orgs()
            .await
            .map_err(|e| Error::catalog(e, || "orgs".into()))?;
        for org in orgs {
            let Some(id) = org.storage else {
                let labels = StorageOrgLabels {
                    org: org.slug.to_string(),
                };
                self.metrics.storage_degraded.remove(&labels);
                continue;
            };
            let loc = match self.catalog.storage_location(id).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(org = %org.slug, error = %e, "drift check: location unreadable");
                    continue;
                }
            };
            summary.probed += 1;
            match self.drift_check(&org, &loc).await {
                Ok((failing, t)) => {
                    summary.failing += usize::from(failing);
                    match t {
                        Some(StorageTransition::Degraded) => summary.degraded += 1,
                        Some(StorageTransition::Recovered) => summary.recovered += 1,
                        None => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(org = %org.slug, error = %e, "drift check not recorded; will retry")
                }
            }
            self.publish_health(&org, &loc).await;
        }
        Ok(summary)
    }
}
