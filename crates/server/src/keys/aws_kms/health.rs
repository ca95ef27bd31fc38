//! Health of an org's BYOK keys: [`AwsKmsProvider::describe`] (DescribeKey per region) and
//! [`AwsKmsProvider::probe`] (an encrypt/decrypt round trip per region with the org's context).
//! The enable and health-probe flows use them to decide whether an org may use its keys and when
//! to suspend or restore it. DescribeKey is what detects a disabled or pending-deletion key even
//! where Decrypt would still succeed (moto does that), and an unreachable KMS is reported as
//! [`KeyState::Unreachable`] so callers never mistake an outage for a revocation.

use super::AwsKmsProvider;
use super::region::context;
use crate::aws::{Failure, classify};
use crate::domain::OrgId;
use crate::keys::KeyError;
use coffer_envelope::Key32;

/// The state DescribeKey reports, or why it could not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// Usable.
    Enabled,
    /// Disabled by its owner.
    Disabled,
    /// Scheduled for deletion.
    PendingDeletion,
    /// Any other KMS state (`PendingImport`, `Unavailable`, `Creating`, ...).
    Other(String),
    /// The key does not exist (or is in another account).
    NotFound,
    /// KMS or STS refused access.
    AccessDenied,
    /// Transient: KMS could not be asked (timeout, throttling, 5xx). Not a revocation.
    Unreachable,
}

/// One region key's health, from [`AwsKmsProvider::describe`].
#[derive(Clone, Debug)]
pub struct KeyHealth {
    /// The key.
    pub key_arn: String,
    /// Its region.
    pub region: String,
    /// What KMS said.
    pub state: KeyState,
    /// Enabled, symmetric (`SYMMETRIC_DEFAULT`) and for `ENCRYPT_DECRYPT`.
    pub usable: bool,
    /// Why it is not usable, in words.
    pub problem: Option<String>,
}

impl AwsKmsProvider {
    /// DescribeKey in every region: state, and whether the key is usable for wrapping.
    pub async fn describe(&self) -> Vec<KeyHealth> {
        futures::future::join_all(self.keys.iter().map(|k| async move {
            let sent = k.client.describe_key().key_id(&k.arn).send().await;
            let label = match &sent {
                Ok(_) => "ok",
                Err(e) => match classify(e) {
                    Failure::Service { code, .. }
                        if code == "NotFoundException" || code == "AccessDeniedException" =>
                    {
                        "denied"
                    }
                    Failure::RoleDenied(_) => "denied",
                    _ => "unavailable",
                },
            };
            k.observe("describe_key", label);
            let (state, problem) = match sent {
                Ok(out) => describe_metadata(out.key_metadata.as_ref()),
                Err(e) => match classify(&e) {
                    Failure::Service { code, message, .. } if code == "NotFoundException" => {
                        (KeyState::NotFound, Some(message))
                    }
                    Failure::Service { code, message, .. } if code == "AccessDeniedException" => {
                        (KeyState::AccessDenied, Some(message))
                    }
                    Failure::RoleDenied(m) => (
                        KeyState::AccessDenied,
                        Some(format!("sts:AssumeRole denied: {m}")),
                    ),
                    other => (KeyState::Unreachable, Some(format!("{other:?}"))),
                },
            };
            tracing::debug!(region = %k.region, ?state, "kms describe-key");
            KeyHealth {
                key_arn: k.arn.clone(),
                region: k.region.clone(),
                usable: problem.is_none(),
                state,
                problem,
            }
        }))
        .await
    }

    /// Encrypts and decrypts a random key in every region with the org's context (purpose
    /// `probe`, key version 0): proves the role, the key policy and the key all work today.
    pub async fn probe(&self, org: OrgId) -> Result<(), KeyError> {
        self.seal_probes(org).await.map(drop)
    }

    /// Like [`AwsKmsProvider::probe`], and returns each region's probe ciphertext (key order):
    /// stored when BYOK is enabled, then decrypted by every health probe
    /// ([`AwsKmsProvider::open_probe`]), which proves Decrypt still works without writing.
    pub async fn seal_probes(&self, org: OrgId) -> Result<Vec<Vec<u8>>, KeyError> {
        let ctx = context(org, "probe", 0);
        let results = futures::future::join_all(self.keys.iter().map(|k| async {
            let sample = Key32::generate();
            let wrapped = k
                .encrypt("probe_encrypt", &ctx, &sample)
                .await
                .map_err(|o| k.error(o))?;
            let back = k
                .decrypt("probe_decrypt", &ctx, &wrapped)
                .await
                .map_err(|o| k.error(o))?;
            if back.expose() != sample.expose() {
                return Err(KeyError::Integrity);
            }
            tracing::debug!(region = %k.region, "kms probe ok");
            Ok(wrapped)
        }))
        .await;
        results.into_iter().collect()
    }

    /// Decrypts a stored probe ciphertext with the key `key_arn` (one of this provider's).
    pub async fn open_probe(
        &self,
        org: OrgId,
        key_arn: &str,
        ciphertext: &[u8],
    ) -> Result<(), KeyError> {
        let k = self.keys.iter().find(|k| k.arn == key_arn).ok_or_else(|| {
            KeyError::NoUsableWrap(format!("{key_arn} is not one of this org's keys"))
        })?;
        k.decrypt("probe_decrypt", &context(org, "probe", 0), ciphertext)
            .await
            .map(drop)
            .map_err(|o| k.error(o))
    }
}

fn describe_metadata(m: Option<&aws_sdk_kms::types::KeyMetadata>) -> (KeyState, Option<String>) {
    use aws_sdk_kms::types::{KeySpec, KeyState as S, KeyUsageType};
    let Some(m) = m else {
        return (
            KeyState::Unreachable,
            Some("DescribeKey returned no metadata".into()),
        );
    };
    let state = match m.key_state() {
        Some(S::Enabled) => KeyState::Enabled,
        Some(S::Disabled) => KeyState::Disabled,
        Some(S::PendingDeletion) => KeyState::PendingDeletion,
        other => KeyState::Other(other.map_or("unknown", |s| s.as_str()).to_owned()),
    };
    let problem = if state != KeyState::Enabled {
        Some(format!("key state is {state:?}, not Enabled"))
    } else if m.key_spec() != Some(&KeySpec::SymmetricDefault) {
        Some(format!(
            "key spec is {:?}, not SYMMETRIC_DEFAULT",
            m.key_spec()
        ))
    } else if m
        .key_usage()
        .is_some_and(|u| *u != KeyUsageType::EncryptDecrypt)
    {
        // AWS always reports KeyUsage; moto only when it was given at creation. A
        // SYMMETRIC_DEFAULT key can only be ENCRYPT_DECRYPT, so absence is not a problem.
        Some(format!(
            "key usage is {:?}, not ENCRYPT_DECRYPT",
            m.key_usage()
        ))
    } else {
        None
    };
    (state, problem)
}
