//! One region's key of a BYOK org: its KMS client, the three KMS calls Coffer makes (Encrypt,
//! Decrypt, DescribeKey), what a failure means (the [`Outcome`] that drives suspension versus
//! failover), and the report of every call to the provider's [`KmsObserver`] — the narrow seam
//! through which `coffer_kms_requests_total{org,region,operation,outcome}` is counted without the
//! provider knowing about metrics.

use crate::aws::{Failure, classify};
use crate::domain::OrgId;
use crate::keys::KeyError;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use coffer_envelope::Key32;
use std::sync::Arc;

/// One KMS call, as reported to a [`KmsObserver`]. Carries no key material.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KmsCall<'a> {
    /// Region the call went to.
    pub region: &'a str,
    /// `encrypt` / `decrypt` (org-key wrap and unwrap), `describe_key`, and `probe_encrypt` /
    /// `probe_decrypt` (health probes with the `probe` purpose).
    pub operation: &'static str,
    /// `ok`, `denied`, `integrity` or `unavailable`.
    pub outcome: &'static str,
}

/// Told about every KMS call a provider makes (after it returns). Must be cheap: it runs inline.
pub type KmsObserver = Arc<dyn Fn(KmsCall<'_>) + Send + Sync>;

/// The encryption context of every call: `{coffer:org, coffer:purpose, coffer:key-version}`.
pub(super) fn context(org: OrgId, purpose: &str, key_version: u32) -> [(&'static str, String); 3] {
    [
        ("coffer:org", org.to_string()),
        ("coffer:purpose", purpose.to_owned()),
        ("coffer:key-version", key_version.to_string()),
    ]
}

/// What one KMS call's failure means.
pub(super) enum Outcome {
    Denied(String),
    RoleDenied(String),
    Integrity,
    Transient(String),
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Denied(_) | Outcome::RoleDenied(_) => "denied",
            Outcome::Integrity => "integrity",
            Outcome::Transient(_) => "unavailable",
        }
    }
}

fn outcome<E: ProvideErrorMetadata + std::error::Error + 'static>(err: &SdkError<E>) -> Outcome {
    match classify(err) {
        Failure::Service { code, message, .. } => match code.as_str() {
            "AccessDeniedException"
            | "DisabledException"
            | "KMSInvalidStateException"
            | "NotFoundException"
            | "InvalidKeyUsageException" => Outcome::Denied(format!("{code}: {message}")),
            // The ciphertext, not the key, is wrong (corrupted, other context, other key): try
            // the next region's wrap rather than suspend.
            "InvalidCiphertextException" | "IncorrectKeyException" => Outcome::Integrity,
            _ => Outcome::Transient(format!("{code}: {message}")),
        },
        Failure::RoleDenied(m) => Outcome::RoleDenied(m),
        Failure::Transient(m) | Failure::Invalid(m) => Outcome::Transient(m),
    }
}

pub(super) struct RegionKey {
    pub(super) arn: String,
    pub(super) role_arn: String,
    pub(super) region: String,
    pub(super) client: aws_sdk_kms::Client,
    pub(super) observer: Option<KmsObserver>,
}

impl RegionKey {
    /// Reports one call to the observer, if any.
    pub(super) fn observe(&self, operation: &'static str, outcome: &'static str) {
        if let Some(o) = &self.observer {
            o(KmsCall {
                region: &self.region,
                operation,
                outcome,
            });
        }
    }

    fn report<T>(&self, operation: &'static str, r: Result<T, Outcome>) -> Result<T, Outcome> {
        self.observe(operation, r.as_ref().map_or_else(Outcome::label, |_| "ok"));
        r
    }

    /// KMS Encrypt of `key` with `ctx`; `operation` is its metric name.
    pub(super) async fn encrypt(
        &self,
        operation: &'static str,
        ctx: &[(&'static str, String); 3],
        key: &Key32,
    ) -> Result<Vec<u8>, Outcome> {
        let mut req = self.client.encrypt().key_id(&self.arn);
        for (k, v) in ctx {
            req = req.encryption_context(*k, v);
        }
        let sent = req.plaintext(Blob::new(key.expose().to_vec())).send().await;
        let r = match sent {
            Ok(out) => out
                .ciphertext_blob
                .map(Blob::into_inner)
                .ok_or_else(|| Outcome::Transient("Encrypt returned no ciphertext".into())),
            Err(e) => Err(outcome(&e)),
        };
        self.report(operation, r)
    }

    /// KMS Decrypt of `wrapped` with `ctx` (`KeyId` set, so another key's ciphertext fails).
    pub(super) async fn decrypt(
        &self,
        operation: &'static str,
        ctx: &[(&'static str, String); 3],
        wrapped: &[u8],
    ) -> Result<Key32, Outcome> {
        let mut req = self.client.decrypt().key_id(&self.arn);
        for (k, v) in ctx {
            req = req.encryption_context(*k, v);
        }
        let sent = req
            .ciphertext_blob(Blob::new(wrapped.to_vec()))
            .send()
            .await;
        let r = match sent {
            Ok(out) => match out.plaintext {
                Some(p) => {
                    let plain = zeroize::Zeroizing::new(p.into_inner());
                    Key32::try_from_slice(&plain).map_err(|_| Outcome::Integrity)
                }
                None => Err(Outcome::Integrity),
            },
            Err(e) => Err(outcome(&e)),
        };
        self.report(operation, r)
    }

    /// The [`KeyError`] a failed call means for this key.
    pub(super) fn error(&self, o: Outcome) -> KeyError {
        match o {
            Outcome::Denied(reason) => KeyError::Denied {
                key_ref: self.arn.clone(),
                reason: format!("KMS in {}: {reason}", self.region),
            },
            Outcome::RoleDenied(m) => KeyError::Denied {
                key_ref: self.arn.clone(),
                reason: format!(
                    "sts:AssumeRole on {} was denied ({m}): the role must trust Coffer's \
                     principal with this org's external id",
                    self.role_arn
                ),
            },
            Outcome::Integrity => KeyError::Integrity,
            Outcome::Transient(m) => KeyError::Unavailable(format!("KMS in {}: {m}", self.region)),
        }
    }
}
