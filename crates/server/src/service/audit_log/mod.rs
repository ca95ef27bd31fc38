//! Audit use cases: list events, sign checkpoints of each org's chain, verify a chain together
//! with its checkpoints (`audit::checkpoint` says what each catches), and turn failed
//! authentications into periodic summary events (`failed_auth`), and keep a copy of the
//! checkpoints and events in the org's own bucket, compared with the catalog on demand (`copy`).
//!
//! A checkpoint is signed by the background job whenever an org's chain has grown since its last
//! one (`audit.checkpoint_interval`), and by every verification that finds the chain intact, so
//! an auditor who keeps the checkpoint a verification returns can later prove that nothing
//! before it was truncated or rewritten. This node also remembers the highest checkpoint it has
//! seen of each org: a catalog that loses checkpoints while the node runs fails verification.

pub(in crate::service) mod copy;
pub(in crate::service) mod failed_auth;

use crate::audit::checkpoint::{self, Checkpoint, SigningKey};
use crate::audit::{AuditRecord, Verification};
use crate::catalog::{AuditFilter, OrgRecord, walk_audit_chain};
use crate::domain::policy::{Action, Actor};
use crate::domain::{OrgId, OrgSlug, OrgStatus, Timestamp};
use crate::service::{Coffer, Error, Result};
use std::collections::{HashMap, HashSet};

pub use copy::BucketCheck;
pub use failed_auth::{FailedAuth, Failure};

/// A verification: the chain's, and its checkpoints'.
#[derive(Clone, Debug)]
pub struct AuditCheck {
    /// The hash chain's verdict.
    pub chain: Verification,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// What is wrong with the checkpoints, if anything.
    pub checkpoint_failure: Option<String>,
    /// The newest checkpoint (signed by this verification when the chain had grown), with the
    /// public key that verifies it.
    pub latest: Option<(Checkpoint, [u8; 32])>,
}

impl AuditCheck {
    /// Whether chain and checkpoints are intact.
    pub fn ok(&self) -> bool {
        self.chain.failure.is_none() && self.checkpoint_failure.is_none()
    }
}

/// The highest checkpoint number this node has seen, per org.
#[derive(Default)]
pub(in crate::service) struct SeenCheckpoints(std::sync::Mutex<HashMap<OrgId, u64>>);

impl SeenCheckpoints {
    fn saw(&self, org: OrgId, n: u64) {
        let mut seen = self.0.lock().expect("poisoned");
        let e = seen.entry(org).or_insert(0);
        *e = (*e).max(n);
    }

    fn highest(&self, org: OrgId) -> u64 {
        self.0
            .lock()
            .expect("poisoned")
            .get(&org)
            .copied()
            .unwrap_or(0)
    }
}

impl Coffer {
    /// Events of an org in chain order.
    pub async fn audit_events(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        mut filter: AuditFilter,
    ) -> Result<Vec<AuditRecord>> {
        let org = self.org_for(actor, slug, Action::ReadAudit).await?;
        filter.limit = filter.limit.clamp(1, 10_000);
        self.catalog
            .audit_events(org.id, &filter)
            .await
            .map_err(|e| Error::catalog(e, || "audit".into()))
    }

    async fn signing_key(&self, org: OrgId, version: u32) -> Result<SigningKey> {
        let key = self.org_key(org, version).await?;
        Ok(SigningKey::derive(&key, org, version))
    }

    /// Signs a checkpoint of `org`'s chain head if the chain grew since its last checkpoint.
    /// Returns the newest checkpoint either way (`None`: no events yet).
    pub async fn checkpoint_audit(&self, org: &OrgRecord) -> Result<Option<Checkpoint>> {
        let catalog = |e| Error::catalog(e, || "audit".into());
        let Some((seq, head)) = self.catalog.audit_head(org.id).await.map_err(catalog)? else {
            return Ok(None);
        };
        let stored = self
            .catalog
            .audit_checkpoints(org.id)
            .await
            .map_err(catalog)?;
        let last = stored.last();
        if let Some(last) = last {
            self.seen_checkpoints.saw(org.id, last.n);
            if last.seq >= seq {
                return Ok(Some(last.clone()));
            }
        }
        let key = self.signing_key(org.id, org.key_version).await?;
        let c = key.sign(org.id, org.key_version, seq, head, Timestamp::now(), last);
        match self.catalog.add_audit_checkpoint(c.clone()).await {
            Ok(()) => {
                self.seen_checkpoints.saw(org.id, c.n);
                Ok(Some(c))
            }
            // Another node signed this number first: its checkpoint is as good as ours.
            Err(crate::catalog::CatalogError::AlreadyExists) => Ok(last.cloned()),
            Err(e) => Err(catalog(e)),
        }
    }

    /// The background job: checkpoints every active org whose chain grew. Returns how many
    /// checkpoints it signed. An org whose key cannot be reached is skipped and logged.
    pub async fn checkpoint_all(&self) -> Result<usize> {
        let orgs = self
            .catalog
            .list_orgs()
            .await
            .map_err(|e| Error::catalog(e, || "orgs".into()))?;
        let mut signed = 0;
        for org in orgs.iter().filter(|o| o.status == OrgStatus::Active) {
            let before = self.seen_checkpoints.highest(org.id);
            match self.checkpoint_audit(org).await {
                Ok(Some(c)) if c.n > before => signed += 1,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(org = %org.slug, error = %e, "could not checkpoint the audit chain")
                }
            }
        }
        Ok(signed)
    }

    /// Checkpoint `n` of the org, if it has one.
    pub async fn audit_checkpoint(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        n: u64,
    ) -> Result<Option<Checkpoint>> {
        let org = self.org_for(actor, slug, Action::ReadAudit).await?;
        let stored = self
            .catalog
            .audit_checkpoints(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "audit".into()))?;
        Ok(stored.into_iter().find(|c| c.n == n))
    }

    /// Walks the whole chain of an org and its checkpoints; reports the first broken event and
    /// the first checkpoint problem, if any; signs a checkpoint of the head if all is intact.
    pub async fn verify_audit(&self, actor: &Actor, slug: &OrgSlug) -> Result<AuditCheck> {
        let org = self.org_for(actor, slug, Action::ReadAudit).await?;
        // What this node had seen *before* the catalog is read: a checkpoint signed while the
        // chain is walked (by the background job) is newer than the read, not missing from it.
        let remembered = self.seen_checkpoints.highest(org.id);
        let stored = self
            .catalog
            .audit_checkpoints(org.id)
            .await
            .map_err(|e| Error::catalog(e, || "audit".into()))?;
        let wanted: HashSet<u64> = stored.iter().map(|c| c.seq).collect();
        let (chain, hashes) = walk_audit_chain(self.catalog.as_ref(), org.id, &wanted)
            .await
            .map_err(|e| Error::catalog(e, || "audit".into()))?;
        let mut keys = HashMap::new();
        for v in stored.iter().map(|c| c.key_version).collect::<HashSet<_>>() {
            if let Ok(k) = self.signing_key(org.id, v).await {
                keys.insert(v, k.public_key());
            }
        }
        let mut checkpoint_failure = checkpoint::check_run(
            &stored,
            chain.events,
            |seq| hashes.get(&seq).copied(),
            |v| keys.get(&v).copied(),
        )
        .err();
        let highest = stored.last().map_or(0, |c| c.n);
        if checkpoint_failure.is_none() && remembered > highest {
            checkpoint_failure = Some(format!(
                "checkpoints {}..={remembered} are missing: this server saw them, the catalog no longer has them",
                highest + 1
            ));
        }
        self.seen_checkpoints.saw(org.id, highest);
        let latest = if chain.failure.is_none() && checkpoint_failure.is_none() {
            match self.checkpoint_audit(&org).await {
                Ok(Some(c)) => {
                    let key = self.signing_key(org.id, c.key_version).await?;
                    Some((c, key.public_key()))
                }
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(org = %org.slug, error = %e, "could not sign a checkpoint while verifying");
                    None
                }
            }
        } else {
            None
        };
        Ok(AuditCheck {
            chain,
            checkpoints: if checkpoint_failure.is_none() {
                stored.len() as u64
            } else {
                0
            },
            checkpoint_failure,
            latest,
        })
    }
}
