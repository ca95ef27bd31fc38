//! Enabling BYOK on an org, new or in use. Everything is checked before anything changes, in
//! this order, and each failure names its step and the fix, leaving the org as it was:
//!
//! 1. the request: one key ARN per region of the org's location, each ARN in its region (keys in
//!    another location's regions: 409, the location is fixed), a well-formed role ARN;
//! 2. AWS: assume the org's role with its external id and DescribeKey in every region (Enabled,
//!    symmetric, for encrypt/decrypt);
//! 3. an encrypt/decrypt probe in every region with the org's encryption context (which is what
//!    the key policy's `kms:EncryptionContext:coffer:org` condition must allow);
//! 4. re-wrap every org-key version under each region's key (2 KMS calls per version and region
//!    pair, 0 re-encryption of secrets), then one catalog transaction swaps the wraps, stores the
//!    keys and probe ciphertexts and sets the provider (a rotation racing it is retried).

use crate::catalog::{CatalogError, EnableByok, KeyProviderKind, NewRegionKey, OrgRecord};
use crate::domain::policy::{Action, Actor};
use crate::domain::{AwsRegion, ExternalId, KmsKeyArn, OrgSlug, RoleArn, Timestamp};
use crate::keys::{AwsKmsProvider, KeyContext, KeyError, KeyState};
use crate::service::{Coffer, Error, KeysView, Result, SetKeys, event};

/// Attempts of the re-wrap + commit step when rotations race it.
const COMMIT_ATTEMPTS: usize = 3;

fn invalid(message: String) -> Error {
    Error::InvalidInput(message)
}

fn rejected(code: &'static str, message: String) -> Error {
    Error::Rejected {
        code,
        message: format!("{message}. Nothing was changed."),
    }
}

fn transient(step: &str, m: &str) -> Error {
    tracing::warn!(error = %m, step, "AWS unavailable while enabling BYOK");
    Error::Unavailable(format!(
        "AWS could not be reached during {step} ({m}); nothing was changed: retry shortly"
    ))
}

impl Coffer {
    /// Step 1: the keys as given, in the location's region order, or why not.
    fn match_keys(
        &self,
        org: &OrgRecord,
        regions: &[AwsRegion],
        given: &[(String, String)],
    ) -> Result<Vec<KmsKeyArn>> {
        let names = || {
            regions
                .iter()
                .map(AwsRegion::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut found: Vec<Option<KmsKeyArn>> = vec![None; regions.len()];
        for (region, arn) in given {
            let region = AwsRegion::parse(region)?;
            let arn = KmsKeyArn::parse(arn)?;
            if arn.region() != region {
                return Err(invalid(format!(
                    "the key given for {region} is in {}: {arn}; give a key created in {region}",
                    arn.region()
                )));
            }
            let Some(i) = regions.iter().position(|r| *r == region) else {
                let other = self
                    .locations()
                    .iter()
                    .find_map(|(l, rs)| rs.contains(&region).then(|| l.to_string()));
                return Err(match other {
                    Some(l) => Error::Conflict {
                        code: "location_immutable",
                        message: format!(
                            "org `{}` is in location `{}` ({}), fixed when it was created; {region} \
                             belongs to location `{l}`. Keys must be in the org's own regions",
                            org.slug,
                            org.location,
                            names()
                        ),
                    },
                    None => invalid(format!(
                        "{region} is not a region of location `{}` ({})",
                        org.location,
                        names()
                    )),
                });
            };
            if found[i].replace(arn).is_some() {
                return Err(invalid(format!(
                    "two keys given for {region}: give one per region"
                )));
            }
        }
        regions
            .iter()
            .zip(found)
            .map(|(r, k)| {
                k.ok_or_else(|| {
                    invalid(format!(
                        "no key given for {r}: BYOK needs one key in each region of location `{}` \
                         ({}); add --key {r}=arn:aws:kms:{r}:ACCOUNT:key/ID",
                        org.location,
                        names()
                    ))
                })
            })
            .collect()
    }

    /// Steps 2 and 3: DescribeKey and the probe in every region; returns the probe ciphertexts.
    async fn validate_keys(
        &self,
        org: &OrgRecord,
        kms: &AwsKmsProvider,
        role: &RoleArn,
        external_id: &ExternalId,
    ) -> Result<Vec<Vec<u8>>> {
        let principal = self.byok_parts()?.principal_arn.clone().unwrap_or_default();
        for h in kms.describe().await {
            let (arn, region) = (&h.key_arn, &h.region);
            let problem = h.problem.clone().unwrap_or_default();
            match h.state {
                KeyState::Unreachable => return Err(transient("DescribeKey", &problem)),
                KeyState::AccessDenied => {
                    return Err(rejected(
                        "byok_access_denied",
                        format!(
                            "step 2 (assume role, DescribeKey) failed in {region}: {problem}. Fix: the \
                         role {role} must trust {principal} with sts:ExternalId {external_id}, and \
                         the policy of key {arn} must allow kms:DescribeKey to the role"
                        ),
                    ));
                }
                KeyState::NotFound => {
                    return Err(rejected(
                        "byok_key_not_found",
                        format!(
                            "step 2 (DescribeKey) in {region}: key {arn} does not exist (or is in an account the role cannot see); check the ARN"
                        ),
                    ));
                }
                KeyState::Enabled if !h.usable => {
                    return Err(rejected(
                        "byok_key_unsuitable",
                        format!(
                            "step 2 (DescribeKey) in {region}: key {arn} cannot wrap keys ({problem}); \
                         create a symmetric key (KeySpec SYMMETRIC_DEFAULT, KeyUsage ENCRYPT_DECRYPT)"
                        ),
                    ));
                }
                KeyState::Enabled => {}
                state => {
                    return Err(rejected(
                        "byok_key_not_enabled",
                        format!(
                            "step 2 (DescribeKey) in {region}: key {arn} is {state:?}, not Enabled; \
                         enable it (cancel its deletion first if it is pending deletion) and retry"
                        ),
                    ));
                }
            }
        }
        kms.seal_probes(org.id).await.map_err(|e| match e {
            KeyError::Unavailable(m) => transient("the encrypt/decrypt probe", &m),
            KeyError::Denied { key_ref, reason } => rejected(
                "byok_probe_failed",
                format!(
                    "step 3 (encrypt/decrypt probe) was refused for key {key_ref}: {reason}. Fix: \
                     the key policy must allow kms:Encrypt and kms:Decrypt to {role} with the \
                     condition kms:EncryptionContext:coffer:org = {} (see `coffer org keys setup`)",
                    org.id
                ),
            ),
            other => rejected(
                "byok_probe_failed",
                format!("step 3 (encrypt/decrypt probe): {other}"),
            ),
        })
    }

    /// Step 4: every org-key version wrapped under the new keys.
    async fn rewrap_all(
        &self,
        org: &OrgRecord,
        kms: &AwsKmsProvider,
    ) -> Result<Vec<(u32, Vec<crate::keys::OrgKeyWrap>)>> {
        let versions = self
            .catalog
            .all_org_key_wraps(org.id)
            .await
            .map_err(|e| Error::catalog(e, || format!("org `{}`", org.slug)))?;
        let mut out = Vec::with_capacity(versions.len());
        for (version, _) in versions {
            let key = self.org_key(org.id, version).await?;
            let ctx = KeyContext {
                org: org.id,
                key_version: version,
            };
            let wraps = self
                .keyring
                .wrap_with(kms, ctx, &key)
                .await
                .map_err(|e| match e {
                    KeyError::Unavailable(m) => transient("re-wrapping the org keys", &m),
                    other => rejected(
                        "byok_rewrap_failed",
                        format!("step 4 (re-wrap org key version {version}): {other}"),
                    ),
                })?;
            out.push((version, wraps));
        }
        Ok(out)
    }

    /// Enables BYOK (owners): validates, re-wraps, commits atomically. See the module doc.
    pub(in crate::service) async fn enable_byok(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        req: SetKeys,
    ) -> Result<KeysView> {
        let org = self.org_for(actor, slug, Action::ManageKeys).await?;
        let providers = self.byok_parts()?.providers.clone();
        let regions = self.location_regions(&org)?;
        let role = RoleArn::parse(req.role_arn.as_deref().unwrap_or_default())?;
        let arns = self.match_keys(&org, &regions, &req.keys)?;
        let before = self.keys_view(org.clone()).await?.settings;
        let ext = before.external_id.clone();
        let kms = providers
            .build(org.id, &role, &ext, &arns.iter().collect::<Vec<_>>())
            .await
            .map_err(|e| Error::Internal(format!("building the KMS provider: {e}")))?;
        let probes = self.validate_keys(&org, &kms, &role, &ext).await?;
        let keys: Vec<NewRegionKey> = regions
            .into_iter()
            .zip(arns)
            .zip(probes)
            .map(|((region, key_arn), probe_ciphertext)| NewRegionKey {
                region,
                key_arn,
                probe_ciphertext,
            })
            .collect();
        let listed: Vec<_> = keys
            .iter()
            .map(|k| serde_json::json!({"region": k.region, "key_arn": k.key_arn}))
            .collect();
        for _ in 0..COMMIT_ATTEMPTS {
            let rewrapped = self.rewrap_all(&org, &kms).await?;
            let details = serde_json::json!({
                "role_arn": role, "keys": listed, "key_versions": rewrapped.len(),
                "replaced": before.provider == KeyProviderKind::AwsKms,
            });
            let change = EnableByok {
                org: org.id,
                role_arn: role.clone(),
                keys: keys.clone(),
                rewrapped,
                at: Timestamp::now(),
            };
            let audit = event(actor, org.id, "org.byok_enable", slug.as_str(), details);
            match self.catalog.enable_byok(change, audit).await {
                Ok(_) => {
                    tracing::info!(org = %slug, "BYOK enabled");
                    let org = self
                        .catalog
                        .org_by_id(org.id)
                        .await
                        .map_err(|e| Error::catalog(e, || format!("org `{slug}`")))?;
                    return self.keys_view(org).await;
                }
                Err(CatalogError::Conflict { .. }) => continue, // a rotation raced us: re-wrap
                Err(CatalogError::Refused(m)) => {
                    return Err(Error::Conflict {
                        code: "location_immutable",
                        message: format!("{m}; nothing was changed"),
                    });
                }
                Err(e) => return Err(Error::catalog(e, || format!("org `{slug}`"))),
            }
        }
        Err(Error::Unavailable(
            "the org key is being rotated right now; nothing was changed: retry".into(),
        ))
    }
}
