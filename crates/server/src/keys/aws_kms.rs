//! The `aws-kms` key provider (BYOK): one org's customer-managed KMS keys, one per region,
//! reached through the org's IAM role assumed with the external id Coffer generated for it.
//!
//! `wrap` encrypts the org key under every region's key (one wrap per region; Coffer does not
//! rely on multi-region-key replication) and succeeds only if every region does, so a new org
//! key (enabling BYOK, a rotation) fails while any region is unavailable. `unwrap` tries the
//! regions in order and moves to the next one when a region is unavailable or its wrap fails
//! its integrity check, so one region's outage does not stop an org whose key must be
//! unwrapped: that unwrap first waits out the failing region's timeouts and retries (the
//! `[byok.aws]` settings), and an org key still in the keyring's cache needs no call at all. A
//! refusal (denied, disabled, gone) ends the unwrap without trying further regions.
//!
//! Every call carries the encryption context `{coffer:org, coffer:purpose, coffer:key-version}`,
//! which binds each wrap to its org and version. KMS logs each call in the key owner's
//! CloudTrail with that context and the assumed role's session name (`coffer-byok`), so the
//! customer can see which org, purpose and key version every call to their keys served. What
//! CloudTrail sees is the KMS calls only: org-key wraps, unwraps on a keyring miss (about one
//! per org-key version per node per `keys.key_cache_ttl`), health probes and DescribeKey — not
//! individual reveals or writes, nor the users behind them; those are in Coffer's own audit
//! log.
//!
//! Errors are split by meaning because they drive suspension: a key that is denied, disabled,
//! pending deletion or gone is [`KeyError::Denied`] (the org is suspended); timeouts, throttling
//! and 5xx are [`KeyError::Unavailable`] (fail over, retry, never suspend). Some KMS
//! implementations keep decrypting with a disabled key, so [`AwsKmsProvider::describe`]
//! (DescribeKey) is the health check that detects revocation. No key material reaches logs,
//! errors or `Debug`.

use super::{KeyContext, KeyError, KeyProvider, OrgKeyWrap};
use crate::aws::{AwsConfigError, AwsCredentials, AwsSettings};
use async_trait::async_trait;
use coffer_envelope::OrgKey;

mod arn;
mod health;
mod region;

pub use arn::key_region;
pub use health::{KeyHealth, KeyState};
pub use region::{KmsCall, KmsObserver};
use region::{Outcome, RegionKey, context};

const PROVIDER: &str = "aws-kms";

/// One org's BYOK setup.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
pub struct ByokSettings {
    /// The org's role that grants Coffer use of its keys.
    pub role_arn: String,
    /// The external id Coffer generated for this org (the role's trust policy requires it).
    pub external_id: String,
    /// One key ARN per region, in the order regions are tried.
    pub key_arns: Vec<String>,
}

/// Wraps org keys under an org's own KMS keys.
pub struct AwsKmsProvider {
    keys: Vec<RegionKey>,
    role_arn: String,
}

impl std::fmt::Debug for AwsKmsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<_> = self.keys.iter().map(|k| &k.arn).collect();
        f.debug_struct("AwsKmsProvider")
            .field("role_arn", &self.role_arn)
            .field("keys", &keys)
            .finish()
    }
}

impl AwsKmsProvider {
    /// A provider for one org: `base` says how Coffer itself reaches AWS (its credentials,
    /// optional endpoint, timeouts); the org's role is assumed on top of it.
    pub async fn open(base: &AwsSettings, byok: &ByokSettings) -> Result<Self, AwsConfigError> {
        if byok.key_arns.is_empty() {
            return Err(AwsConfigError("BYOK needs at least one KMS key ARN".into()));
        }
        if !(2..=1224).contains(&byok.external_id.len()) {
            return Err(AwsConfigError(
                "the external id must be 2 to 1224 characters (STS's limits)".into(),
            ));
        }
        let mut regions = Vec::new();
        for arn in &byok.key_arns {
            let region = key_region(arn).map_err(AwsConfigError)?;
            if regions.contains(&region) {
                return Err(AwsConfigError(format!(
                    "two keys in region {region}: give one per region"
                )));
            }
            regions.push(region);
        }
        let settings = AwsSettings {
            region: base.region.clone().or_else(|| Some(regions[0].to_owned())),
            credentials: AwsCredentials::AssumeRole {
                role_arn: byok.role_arn.clone(),
                external_id: Some(byok.external_id.clone()),
                session_name: Some("coffer-byok".into()),
                source: Box::new(base.credentials.clone()),
            },
            ..base.clone()
        };
        let sdk = crate::aws::sdk_config(&settings).await?;
        let keys = byok
            .key_arns
            .iter()
            .zip(regions)
            .map(|(arn, region)| RegionKey {
                arn: arn.clone(),
                role_arn: byok.role_arn.clone(),
                region: region.to_owned(),
                client: crate::aws::kms_client(&sdk, &settings, region),
                observer: None,
            })
            .collect();
        Ok(Self {
            keys,
            role_arn: byok.role_arn.clone(),
        })
    }

    /// A provider for recovering an org from its kit (`coffer recover`), used by the key's owner
    /// with their own credentials (`base`, usually the SDK's default chain): no role is assumed,
    /// since the role in the kit trusts Coffer's principal, not the owner's. Unwraps only.
    pub async fn for_recovery(
        base: &AwsSettings,
        key_arns: &[String],
    ) -> Result<Self, AwsConfigError> {
        let mut keys = Vec::new();
        for arn in key_arns {
            let region = key_region(arn).map_err(AwsConfigError)?;
            let settings = AwsSettings {
                region: Some(region.to_owned()),
                ..base.clone()
            };
            let sdk = crate::aws::sdk_config(&settings).await?;
            keys.push(RegionKey {
                arn: arn.clone(),
                role_arn: String::new(),
                region: region.to_owned(),
                client: crate::aws::kms_client(&sdk, &settings, region),
                observer: None,
            });
        }
        if keys.is_empty() {
            return Err(AwsConfigError("the kit names no KMS key".into()));
        }
        Ok(Self {
            keys,
            role_arn: String::new(),
        })
    }

    /// Reports every KMS call this provider makes to `observer` (metrics; see [`KmsCall`]).
    pub fn with_observer(mut self, observer: KmsObserver) -> Self {
        for k in &mut self.keys {
            k.observer = Some(observer.clone());
        }
        self
    }

    /// The (key ARN, region) pairs, in the order regions are tried.
    pub fn keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.keys
            .iter()
            .map(|k| (k.arn.as_str(), k.region.as_str()))
    }
}

#[async_trait]
impl KeyProvider for AwsKmsProvider {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn wrap(&self, ctx: KeyContext, key: &OrgKey) -> Result<Vec<OrgKeyWrap>, KeyError> {
        let kctx = context(ctx.org, "org-key", ctx.key_version);
        let results = futures::future::join_all(self.keys.iter().map(|k| async {
            let bytes = k
                .encrypt("encrypt", &kctx, key)
                .await
                .map_err(|o| k.error(o))?;
            Ok(OrgKeyWrap {
                provider: PROVIDER.into(),
                key_ref: k.arn.clone(),
                bytes,
            })
        }))
        .await;
        results.into_iter().collect()
    }

    async fn unwrap(&self, ctx: KeyContext, wraps: &[OrgKeyWrap]) -> Result<OrgKey, KeyError> {
        let kctx = context(ctx.org, "org-key", ctx.key_version);
        let (mut tried, mut integrity, mut transient) = (0, false, Vec::new());
        for k in &self.keys {
            let Some(w) = wraps
                .iter()
                .find(|w| w.provider == PROVIDER && w.key_ref == k.arn)
            else {
                continue;
            };
            tried += 1;
            match k.decrypt("decrypt", &kctx, &w.bytes).await {
                Ok(key) => {
                    tracing::debug!(org = %ctx.org, region = %k.region, "kms unwrap served");
                    return Ok(key);
                }
                Err(Outcome::Integrity) => {
                    tracing::warn!(org = %ctx.org, region = %k.region, "kms wrap failed its integrity check");
                    integrity = true;
                }
                Err(Outcome::Transient(m)) => {
                    tracing::warn!(org = %ctx.org, region = %k.region, error = %m, "kms unavailable, failing over");
                    transient.push(format!("{}: {m}", k.region));
                }
                Err(denied) => return Err(k.error(denied)),
            }
        }
        if tried == 0 {
            Err(KeyError::NoUsableWrap(
                "no copy wrapped by this org's KMS keys".into(),
            ))
        } else if !transient.is_empty() {
            Err(KeyError::Unavailable(format!(
                "KMS unavailable in every region ({})",
                transient.join("; ")
            )))
        } else {
            debug_assert!(integrity);
            Err(KeyError::Integrity)
        }
    }
}
