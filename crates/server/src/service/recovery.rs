//! The org recovery kit (docs/operations.md "Recovery from the bucket alone"): what an owner takes
//! away so the org's envelopes open without the catalog or the server — the org's id, where its
//! envelopes are, and every org-key version. For an org on the deployment's master key the kit
//! holds the org keys themselves; for a BYOK org it holds the KMS-wrapped org keys exactly as
//! stored, so recovering still needs the customer's KMS keys, which is the point of BYOK.
//!
//! Because a kit is the org's keys, taking one is the owners' alone (never the operator's, whose
//! answer is *not found* like any org action it may not do), needs the caller's current password
//! again (a stolen session or token alone is not enough), and is audited (`org.recovery_kit`).
//! People without a Coffer password (single sign-on only, or never set) are refused: a fresh
//! SSO proof would need a browser round trip this API does not have, and an owner with a password
//! can take the kit.

use crate::catalog::{AWS_KMS, KeyProviderKind, OrgRecord, StorageLocation};
use crate::domain::policy::{Action, Actor};
use crate::domain::{IdentityKind, OrgSlug, Timestamp};
use crate::keys::{OrgKeyWrap, key_region};
use crate::service::{Coffer, Error, Result, event};
use coffer_envelope::OrgKey;
use std::sync::Arc;
use zeroize::Zeroizing;

/// What a recovery kit holds, before the HTTP edge encodes it.
pub struct RecoveryKitContents {
    /// The org.
    pub org: OrgRecord,
    /// Its own bucket (`None`: the deployment's default store).
    pub storage: Option<StorageLocation>,
    /// Who holds the org's root keys.
    pub root_key: KeyProviderKind,
    /// BYOK: the role Coffer assumes.
    pub role_arn: Option<String>,
    /// Every org-key version, oldest first.
    pub keys: Vec<KitKey>,
    /// When it was made.
    pub created_at: Timestamp,
    /// Who made it.
    pub created_by: String,
}

/// One org-key version of a kit: the key itself (local root key), or its KMS wraps (BYOK), each
/// with the region of its key.
pub struct KitKey {
    /// The org-key version.
    pub version: u32,
    /// The org key (root key `local`).
    pub key: Option<Arc<OrgKey>>,
    /// The KMS wraps, with their regions (root key `aws-kms`).
    pub wraps: Vec<(OrgKeyWrap, String)>,
}

impl Coffer {
    /// The recovery kit of the org `slug` (owners only; `current_password` re-authenticates).
    pub async fn recovery_kit(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        current_password: Option<Zeroizing<String>>,
    ) -> Result<RecoveryKitContents> {
        let org = self.org_for(actor, slug, Action::MakeRecoveryKit).await?;
        self.reauthenticate(actor, current_password).await?;
        let catalog = |e| Error::catalog(e, || format!("org `{slug}`"));
        let settings = self.catalog.key_settings(org.id).await.map_err(catalog)?;
        let versions = self
            .catalog
            .all_org_key_wraps(org.id)
            .await
            .map_err(catalog)?;
        let mut keys = Vec::with_capacity(versions.len());
        for (version, wraps) in versions {
            let kit_key = match settings.provider {
                KeyProviderKind::Local => KitKey {
                    version,
                    key: Some(self.org_key(org.id, version).await?),
                    wraps: Vec::new(),
                },
                _ => {
                    let mut kms = Vec::new();
                    for wrap in wraps.into_iter().filter(|w| w.provider == AWS_KMS) {
                        let region = key_region(&wrap.key_ref)
                            .map_err(|e| {
                                Error::Internal(format!("stored key ARN of org `{slug}`: {e}"))
                            })?
                            .to_owned();
                        kms.push((wrap, region));
                    }
                    if kms.is_empty() {
                        return Err(Error::Internal(format!(
                            "org `{slug}` uses its own KMS keys but org-key version {version} has no KMS wrap"
                        )));
                    }
                    KitKey {
                        version,
                        key: None,
                        wraps: kms,
                    }
                }
            };
            keys.push(kit_key);
        }
        let storage = match org.storage {
            Some(id) => Some(self.catalog.storage_location(id).await.map_err(catalog)?),
            None => None,
        };
        let versions: Vec<u32> = keys.iter().map(|k| k.version).collect();
        let details = serde_json::json!({
            "root_key": settings.provider,
            "key_versions": versions,
            "storage": storage.as_ref().map_or("default".to_owned(), |l| l.bucket.to_string()),
        });
        // The event commits before the keys leave: a kit nobody can see in the trail is never
        // handed out.
        self.catalog
            .append_audit(event(
                actor,
                org.id,
                "org.recovery_kit",
                org.slug.as_str(),
                details,
            ))
            .await
            .map_err(catalog)?;
        tracing::info!(org = %org.slug, by = %actor.name, "recovery kit taken");
        Ok(RecoveryKitContents {
            org,
            storage,
            root_key: settings.provider,
            role_arn: settings.role_arn.map(|r| r.to_string()),
            keys,
            created_at: Timestamp::now(),
            created_by: actor.audit_name(),
        })
    }

    /// Checks the caller's current password, as changing it does; refuses people without one.
    async fn reauthenticate(
        &self,
        actor: &Actor,
        current: Option<Zeroizing<String>>,
    ) -> Result<()> {
        if actor.kind() != IdentityKind::Person {
            return Err(Error::Forbidden(
                "a recovery kit is taken by a person who proves their password again; service accounts cannot".into(),
            ));
        }
        let stored = self
            .catalog
            .password_hash(actor.user)
            .await
            .map_err(|e| Error::catalog(e, || "password".into()))?;
        if stored.is_none() {
            return Err(Error::Forbidden(
                "a recovery kit needs your current Coffer password, and you have none (you sign in through single sign-on, or never set one): an owner with a password must take the kit; a person without SSO sets one with `coffer passwd`".into(),
            ));
        }
        let Some(current) = current else {
            return Err(Error::ProofRequired {
                code: "current_password_required",
                message: "give your current password (current_password): a recovery kit holds the org's keys".into(),
            });
        };
        if !self.sign_in_guard.verify(stored, current).await? {
            return Err(Error::ProofRequired {
                code: "current_password_wrong",
                message: "the current password is wrong; no kit was made".into(),
            });
        }
        Ok(())
    }
}
