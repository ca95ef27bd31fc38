//! Revocation and restore. A BYOK org is suspended when its keys are revoked — seen by the health
//! probe (DescribeKey in every region, then a decrypt of the probe ciphertext stored at enable
//! time) or by a KMS denial during an unwrap — and restored automatically when the probe succeeds
//! in every region again. Transient failures (KMS unreachable, throttled, 5xx) never change the
//! status. Each transition is a check-and-set inside the catalog transaction
//! ([`ByokCatalog::record_key_health`](crate::catalog::ByokCatalog::record_key_health)), so any
//! number of nodes may probe the same org at once: one suspension, one audit event, one metric.
//! On suspension the org's cached keys are dropped at once; reads and writes then answer 423 from
//! the org status every request checks. Bound: a revocation is seen within `probe_interval` by
//! the probe even where KMS would keep decrypting, and within `key_cache_ttl` by the next unwrap
//! where KMS refuses — so within `key_cache_ttl + probe_interval`.

use crate::audit::AuditDraft;
use crate::catalog::{
    KeyHealthReport, KeyVerdict, OrgKeySettings, OrgRecord, ProbeResult, Transition,
};
use crate::domain::{KmsKeyArn, OrgId, Timestamp};
use crate::keys::{KeyError, KeyState};
use crate::metrics::{ProbeLabels, TransitionLabels};
use crate::service::{Coffer, Error, Result};

/// What one pass over every BYOK org found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProbeSummary {
    /// Orgs probed.
    pub probed: usize,
    /// Orgs suspended by this pass.
    pub suspended: usize,
    /// Orgs restored by this pass.
    pub restored: usize,
}

fn state_text(s: &KeyState) -> String {
    match s {
        KeyState::Enabled => "enabled".into(),
        KeyState::Disabled => "disabled".into(),
        KeyState::PendingDeletion => "pending_deletion".into(),
        KeyState::NotFound => "not_found".into(),
        KeyState::AccessDenied => "access_denied".into(),
        KeyState::Unreachable => "unreachable".into(),
        KeyState::Other(o) => o.to_ascii_lowercase(),
    }
}

/// A region's probe result and whether it is a revocation (`Some(reason)`), fine, or unknown.
enum RegionVerdict {
    Fine,
    Revoked(String),
    Unknown,
}

impl Coffer {
    /// Probes one BYOK org's keys, records the results and applies the verdict. Returns the
    /// verdict and the transition it caused, if any.
    pub(in crate::service) async fn probe_org(
        &self,
        org: &OrgRecord,
        settings: &OrgKeySettings,
    ) -> Result<(KeyVerdict, Option<Transition>)> {
        let parts = self.byok_parts()?;
        let kms = match parts.providers.kms(settings).await {
            Ok(k) => k,
            Err(e) => return Err(Error::Unavailable(format!("KMS provider: {e}"))),
        };
        let health = kms.describe().await;
        let mut regions = Vec::new();
        let (mut revoked, mut unknown) = (Vec::new(), false);
        for key in &settings.keys {
            let h = health.iter().find(|h| h.key_arn == key.key_arn.as_str());
            let (state, mut problem) = match h {
                Some(h) => (state_text(&h.state), h.problem.clone()),
                None => ("unreachable".into(), Some("not described".into())),
            };
            let verdict = match h.map(|h| (&h.state, h.usable)) {
                Some((KeyState::Enabled, true)) => {
                    let opened = kms
                        .open_probe(org.id, key.key_arn.as_str(), &key.probe_ciphertext)
                        .await;
                    match opened {
                        Ok(()) => RegionVerdict::Fine,
                        Err(KeyError::Denied { reason, .. }) => {
                            problem = Some(format!("decrypting the probe was refused: {reason}"));
                            RegionVerdict::Revoked(reason)
                        }
                        Err(e) => {
                            problem = Some(format!("decrypting the probe failed: {e}"));
                            RegionVerdict::Unknown
                        }
                    }
                }
                Some((KeyState::Unreachable, _)) | None => RegionVerdict::Unknown,
                Some((s, _)) => RegionVerdict::Revoked(format!(
                    "DescribeKey says {s:?}{}",
                    problem
                        .as_deref()
                        .map(|p| format!(": {p}"))
                        .unwrap_or_default()
                )),
            };
            let ok = matches!(verdict, RegionVerdict::Fine);
            match verdict {
                RegionVerdict::Revoked(why) => revoked.push(format!(
                    "the KMS key {} in {} is revoked ({why})",
                    key.key_arn, key.region
                )),
                RegionVerdict::Unknown => unknown = true,
                RegionVerdict::Fine => {}
            }
            let at = Timestamp::now();
            let result = ProbeResult {
                at,
                state,
                ok,
                problem,
            };
            regions.push((key.region.clone(), result));
        }
        let verdict = if !revoked.is_empty() {
            KeyVerdict::Revoked {
                reason: revoked.join("; "),
            }
        } else if unknown {
            KeyVerdict::Inconclusive
        } else {
            KeyVerdict::Healthy
        };
        let label = match verdict {
            KeyVerdict::Healthy => "healthy",
            KeyVerdict::Revoked { .. } => "revoked",
            KeyVerdict::Inconclusive => "inconclusive",
        };
        self.metrics
            .key_probes
            .get_or_create(&ProbeLabels { verdict: label })
            .inc();
        let report = KeyHealthReport {
            org: org.id,
            regions,
            verdict: verdict.clone(),
        };
        let transition = self
            .record_health(org.id, org.slug.as_str(), report)
            .await?;
        Ok((verdict, transition))
    }

    /// Records a health report and acts on a transition: drops the org's cached keys, counts,
    /// logs. The audit event is the system's (`coffer`), appended only on a real change.
    async fn record_health(
        &self,
        org: OrgId,
        slug: &str,
        report: KeyHealthReport,
    ) -> Result<Option<Transition>> {
        let (action, details) = match &report.verdict {
            KeyVerdict::Revoked { reason } => (
                "org.suspend",
                serde_json::json!({"reason": reason, "cause": "keys"}),
            ),
            _ => ("org.restore", serde_json::json!({"cause": "keys"})),
        };
        let audit = AuditDraft::new(org, None, "coffer", action, slug, details);
        let transition = self
            .catalog
            .record_key_health(report, audit)
            .await
            .map_err(|e| Error::catalog(e, || format!("org `{slug}`")))?;
        match transition {
            Some(Transition::Suspended) => {
                self.keyring.forget_org(org);
                self.metrics
                    .org_key_transitions
                    .get_or_create(&TransitionLabels {
                        transition: "suspend",
                    })
                    .inc();
                tracing::warn!(org = %slug, "org suspended: its BYOK keys were revoked");
            }
            Some(Transition::Restored) => {
                self.keyring.forget_org(org);
                self.metrics
                    .org_key_transitions
                    .get_or_create(&TransitionLabels {
                        transition: "restore",
                    })
                    .inc();
                tracing::info!(org = %slug, "org restored: its BYOK keys work again");
            }
            None => {}
        }
        Ok(transition)
    }

    /// A KMS denial during an unwrap: the org is suspended at once (its cached keys dropped).
    /// Best effort — the caller answers 423 either way, and the probe repeats the check.
    pub(in crate::service) async fn suspend_for_denial(
        &self,
        org: OrgId,
        key_ref: &str,
        reason: &str,
    ) {
        self.keyring.forget_org(org);
        let record = match self.catalog.org_by_id(org).await {
            Ok(r) => r,
            Err(e) => return tracing::error!(%org, error = %e, "cannot suspend: org not readable"),
        };
        let region = KmsKeyArn::parse(key_ref).map(|a| a.region());
        let regions = match region {
            Ok(region) => vec![(
                region,
                ProbeResult {
                    at: Timestamp::now(),
                    state: "access_denied".into(),
                    ok: false,
                    problem: Some(reason.to_owned()),
                },
            )],
            Err(_) => vec![],
        };
        let reason = format!("the KMS key {key_ref} refused access ({reason})");
        let report = KeyHealthReport {
            org,
            regions,
            verdict: KeyVerdict::Revoked { reason },
        };
        if let Err(e) = self.record_health(org, record.slug.as_str(), report).await {
            tracing::error!(%org, error = %e, "could not record the suspension; the probe will retry");
        }
    }

    /// One pass of the background health probe over every BYOK org. Errors of one org are
    /// logged and do not stop the others.
    pub async fn probe_byok_orgs(&self) -> Result<ProbeSummary> {
        let mut summary = ProbeSummary::default();
        if self.byok_parts().is_err() {
            return Ok(summary);
        }
        let fail = |e| Error::catalog(e, || "orgs".into());
        let all = self.catalog.list_byok().await.map_err(fail)?;
        for settings in all {
            let org = match self.catalog.org_by_id(settings.org).await {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!(org = %settings.org, error = %e, "probe: org unreadable");
                    continue;
                }
            };
            summary.probed += 1;
            match self.probe_org(&org, &settings).await {
                Ok((_, Some(Transition::Suspended))) => summary.suspended += 1,
                Ok((_, Some(Transition::Restored))) => summary.restored += 1,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(org = %org.slug, error = %e, "key probe failed; will retry")
                }
            }
        }
        Ok(summary)
    }
}
