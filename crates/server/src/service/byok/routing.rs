//! Which key provider holds each org's root key: the deployment's provider for `local` orgs, an
//! [`AwsKmsProvider`] on the org's own keys for BYOK orgs. [`OrgKeyProviders`] is the keyring's
//! [`ProviderRouter`]; it lives in the service layer because it reads the catalog (the keys seam
//! must not). A BYOK org's provider is built once and reused until the org's settings change
//! (compared on every keyring miss, i.e. at most once per org per cache TTL), and every KMS call it
//! makes is counted in `coffer_kms_requests_total{org,region,operation,outcome}` and in a per-org
//! tally the admin views show.

use crate::aws::AwsSettings;
use crate::catalog::{Catalog, CatalogError, KeyProviderKind, OrgKeySettings};
use crate::domain::{ExternalId, KmsKeyArn, OrgId, RoleArn};
use crate::keys::{
    AwsKmsProvider, ByokSettings, KeyError, KeyProvider, KeyringError, KmsObserver, ProviderRouter,
};
use crate::metrics::{KmsLabels, Metrics};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Tally = HashMap<(OrgId, &'static str, &'static str), u64>;

/// Per-org key providers (see the module doc).
pub struct OrgKeyProviders {
    deployment: Arc<dyn KeyProvider>,
    catalog: Arc<dyn Catalog>,
    aws: Option<AwsSettings>,
    metrics: Arc<Metrics>,
    built: Mutex<HashMap<OrgId, (String, Arc<AwsKmsProvider>)>>,
    tally: Arc<Mutex<Tally>>,
}

fn fingerprint(role: &RoleArn, external_id: &ExternalId, keys: &[&KmsKeyArn]) -> String {
    let keys: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
    format!("{role}|{external_id}|{}", keys.join(","))
}

impl OrgKeyProviders {
    /// `deployment` serves local orgs; `aws` (None: BYOK is not configured on this node) is how
    /// Coffer reaches AWS for BYOK orgs.
    pub fn new(
        deployment: Arc<dyn KeyProvider>,
        catalog: Arc<dyn Catalog>,
        aws: Option<AwsSettings>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            deployment,
            catalog,
            aws,
            metrics,
            built: Mutex::new(HashMap::new()),
            tally: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Whether this node can reach AWS for BYOK.
    pub fn byok_configured(&self) -> bool {
        self.aws.is_some()
    }

    fn observer(&self, org: OrgId) -> KmsObserver {
        let (metrics, tally) = (self.metrics.clone(), self.tally.clone());
        let label = org.to_string();
        Arc::new(move |call| {
            metrics
                .kms_calls
                .get_or_create(&KmsLabels {
                    org: label.clone(),
                    region: call.region.to_owned(),
                    operation: call.operation,
                    outcome: call.outcome,
                })
                .inc();
            let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
            *t.entry((org, call.operation, call.outcome)).or_default() += 1;
        })
    }

    /// A new provider on these keys for `org` (not cached): what enabling BYOK validates with.
    pub async fn build(
        &self,
        org: OrgId,
        role: &RoleArn,
        external_id: &ExternalId,
        keys: &[&KmsKeyArn],
    ) -> Result<AwsKmsProvider, KeyError> {
        let base = self.aws.as_ref().ok_or_else(|| {
            KeyError::Unavailable("BYOK is not configured on this node (byok.principal_arn)".into())
        })?;
        let settings = ByokSettings {
            role_arn: role.to_string(),
            external_id: external_id.to_string(),
            key_arns: keys.iter().map(|k| k.to_string()).collect(),
        };
        let provider = AwsKmsProvider::open(base, &settings)
            .await
            .map_err(|e| KeyError::Unavailable(e.to_string()))?;
        Ok(provider.with_observer(self.observer(org)))
    }

    /// The provider of a BYOK org's current `settings`, reused while they stay the same.
    pub async fn kms(&self, s: &OrgKeySettings) -> Result<Arc<AwsKmsProvider>, KeyError> {
        let role = s
            .role_arn
            .as_ref()
            .ok_or_else(|| KeyError::Unavailable("the org's BYOK settings have no role".into()))?;
        let keys: Vec<&KmsKeyArn> = s.keys.iter().map(|k| &k.key_arn).collect();
        let print = fingerprint(role, &s.external_id, &keys);
        if let Some((p, provider)) = self.built.lock().expect("poisoned").get(&s.org)
            && *p == print
        {
            return Ok(provider.clone());
        }
        let provider = Arc::new(self.build(s.org, role, &s.external_id, &keys).await?);
        self.built
            .lock()
            .expect("poisoned")
            .insert(s.org, (print, provider.clone()));
        Ok(provider)
    }

    /// KMS calls this node made for `org`: (operation, outcome, count), sorted.
    pub fn kms_calls(&self, org: OrgId) -> Vec<(&'static str, &'static str, u64)> {
        let t = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<_> = t
            .iter()
            .filter(|((o, _, _), _)| *o == org)
            .map(|((_, op, outcome), n)| (*op, *outcome, *n))
            .collect();
        out.sort_unstable();
        out
    }
}

#[async_trait]
impl ProviderRouter for OrgKeyProviders {
    async fn provider_for(&self, org: OrgId) -> Result<Arc<dyn KeyProvider>, KeyringError> {
        let settings = match self.catalog.key_settings(org).await {
            Ok(s) => s,
            // An org being created has no row yet, and new orgs always start on `local`.
            Err(CatalogError::NotFound) => return Ok(self.deployment.clone()),
            Err(e) => return Err(KeyringError::Load(format!("org key settings: {e}"))),
        };
        match settings.provider {
            KeyProviderKind::Local => Ok(self.deployment.clone()),
            KeyProviderKind::AwsKms => {
                let p: Arc<dyn KeyProvider> =
                    self.kms(&settings).await.map_err(KeyringError::Key)?;
                Ok(p)
            }
        }
    }
}
