//! Audit use cases: list events and verify an org's chain.

use super::*;
use crate::audit::{AuditRecord, Verification, Verifier};
use crate::catalog::AuditFilter;

/// Events fetched per page while verifying.
const VERIFY_PAGE: u32 = 5_000;

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

    /// Walks the whole chain of an org and reports the first broken event, if any.
    pub async fn verify_audit(&self, actor: &Actor, slug: &OrgSlug) -> Result<Verification> {
        let org = self.org_for(actor, slug, Action::ReadAudit).await?;
        let mut verifier = Verifier::default();
        let mut after = 0;
        loop {
            let filter = AuditFilter {
                after_seq: after,
                limit: VERIFY_PAGE,
                ..Default::default()
            };
            let page = self
                .catalog
                .audit_events(org.id, &filter)
                .await
                .map_err(|e| Error::catalog(e, || "audit".into()))?;
            page.iter().for_each(|e| verifier.push(e));
            match page.last() {
                Some(last) if page.len() == VERIFY_PAGE as usize => after = last.seq,
                _ => break,
            }
        }
        Ok(verifier.finish())
    }
}
