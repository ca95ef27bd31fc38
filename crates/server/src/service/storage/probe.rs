//! Validating a bucket before an org's settings point at it — the seed's "saved and validated".
//!
//! The probe runs the steps that real use depends on, in order, and stops at the first that
//! fails with an error naming the step and the fix: the residency rule (no network), the
//! endpoint guard, the bucket's existence and actual region, then a throwaway object under a
//! random key: put → get → compare → delete → confirm gone. Then it checks, as warnings, what
//! makes a bucket safe and browser-reachable but is not needed for Coffer to work: a CORS rule
//! for Coffer's origin, default encryption, blocked public access, and S3 Object Lock (which
//! makes the org's audit copy immutable: `service::audit_log::copy`). Those bucket-level reads
//! need permissions a minimal policy may not grant; a refusal there is a warning, never a failure.

use crate::aws::{Failure, classify};
use crate::blob::{BlobError, BlobKey, BlobStore, S3BlobStore};
use crate::domain::Location;
use crate::service::storage::{AwsRegion, BucketName, KeyPrefix};
use crate::service::{Error, Result, Stores};
use bytes::Bytes;
use coffer_api::StorageCheck;

/// What to validate.
pub(in crate::service) struct Candidate<'a> {
    pub bucket: &'a BucketName,
    pub region: &'a AwsRegion,
    pub endpoint: Option<&'a str>,
    pub prefix: Option<&'a KeyPrefix>,
    /// Regions the org may store in; empty: any.
    pub allowed: &'a [AwsRegion],
    pub location: &'a Location,
    pub public_origin: &'a str,
    pub principal: &'a str,
}

fn check(step: &str, outcome: &str, detail: impl Into<String>) -> StorageCheck {
    StorageCheck {
        step: step.into(),
        outcome: outcome.into(),
        detail: detail.into(),
    }
}

fn failed(step: &'static str, message: String) -> Error {
    Error::Rejected {
        code: match step {
            "residency" => "storage_residency",
            "endpoint" => "storage_endpoint",
            "bucket_exists" => "storage_bucket_missing",
            "region" => "storage_wrong_region",
            _ => "storage_probe_failed",
        },
        message: format!("validation step `{step}` failed: {message}"),
    }
}

/// A validation step that could not reach the endpoint. The transport's own words ("Connection
/// refused (os error 111)", a TLS or DNS error) go to the log only: echoed to the caller, they
/// would let anyone who may save storage settings probe which hosts and ports Coffer's network
/// can reach.
fn unreachable(step: &'static str, detail: &str) -> Error {
    tracing::warn!(
        step,
        detail,
        "storage validation could not reach the endpoint"
    );
    Error::Unavailable(format!(
        "validation step `{step}` could not reach the endpoint; nothing was saved. Check the \
         bucket's endpoint and region, then retry"
    ))
}

fn regions_text(allowed: &[AwsRegion]) -> String {
    allowed
        .iter()
        .map(AwsRegion::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn residency(c: &Candidate<'_>, region: &AwsRegion) -> Result<()> {
    if c.allowed.is_empty() || c.allowed.contains(region) {
        return Ok(());
    }
    Err(failed(
        "residency",
        format!(
            "region {region} is outside the org's data-residency location `{}` (allowed: {}); \
             use a bucket in one of those regions — an org's location never changes",
            c.location,
            regions_text(c.allowed)
        ),
    ))
}

/// Runs the probe; `Ok` carries every step's outcome (ok or warning).
pub(in crate::service) async fn validate(
    stores: &Stores,
    c: &Candidate<'_>,
) -> Result<Vec<StorageCheck>> {
    let mut checks = Vec::new();
    residency(c, c.region)?;
    checks.push(check("residency", "ok", format!("{} is allowed", c.region)));
    let store = stores
        .open_bucket(
            c.bucket.as_str(),
            c.region.as_str(),
            c.endpoint,
            c.prefix.map(KeyPrefix::as_str),
        )
        .await
        .map_err(|e| failed("endpoint", e.to_string()))?;
    checks.extend(bucket_and_region(&store, c).await?);
    checks.extend(object_round_trip(&store, c).await?);
    checks.push(cors(&store, c).await);
    checks.push(encryption(&store, c).await);
    checks.push(public_access(&store, c).await);
    checks.push(object_lock(&store, c).await);
    Ok(checks)
}

async fn bucket_and_region(store: &S3BlobStore, c: &Candidate<'_>) -> Result<Vec<StorageCheck>> {
    let b = c.bucket;
    let answer = store.client().head_bucket().bucket(b.as_str()).send().await;
    let actual = match &answer {
        Ok(out) => out.bucket_region().map(str::to_owned),
        Err(err) => {
            let header = err
                .raw_response()
                .and_then(|r| r.headers().get("x-amz-bucket-region"))
                .map(str::to_owned);
            match classify(err) {
                Failure::Service { status: 404, .. } => {
                    return Err(failed(
                        "bucket_exists",
                        format!(
                            "bucket {b} does not exist (or not at this endpoint); create it first: \
                             `coffer org storage setup ORG --bucket {b}` prints the commands"
                        ),
                    ));
                }
                Failure::Service { .. } | Failure::RoleDenied(_) => header,
                Failure::Transient(m) => return Err(unreachable("bucket_exists", &m)),
                Failure::Invalid(m) => return Err(failed("bucket_exists", m)),
            }
        }
    };
    let mut out = vec![check("bucket_exists", "ok", format!("bucket {b} exists"))];
    match actual.and_then(|r| AwsRegion::parse(&r).ok()) {
        Some(actual) if &actual != c.region => {
            residency(c, &actual)?;
            return Err(failed(
                "region",
                format!(
                    "bucket {b} is in {actual}, not {}: save again with region {actual}",
                    c.region
                ),
            ));
        }
        Some(actual) => out.push(check("region", "ok", format!("bucket {b} is in {actual}"))),
        None => out.push(check(
            "region",
            "warning",
            format!(
                "the bucket's region could not be read; the object probe below confirms {} works",
                c.region
            ),
        )),
    }
    Ok(out)
}

async fn object_round_trip(store: &S3BlobStore, c: &Candidate<'_>) -> Result<Vec<StorageCheck>> {
    let id = uuid::Uuid::new_v4().simple();
    let key = BlobKey::parse(&format!("coffer-probe/{id}.probe")).expect("probe keys are safe");
    let object = format!("arn:aws:s3:::{}/{}", c.bucket, store.object_key(&key));
    let fix = |action: &str| {
        format!(
            "the bucket policy must allow {action} on arn:aws:s3:::{}/* for {} \
             (`coffer org storage setup` prints it)",
            c.bucket, c.principal
        )
    };
    let step_error = |step: &'static str, action: &str, e: BlobError| match e {
        BlobError::Unavailable(m) => unreachable(step, &m),
        other => failed(
            step,
            format!("{action} on {object}: {other}; {}", fix(action)),
        ),
    };
    let body = Bytes::from(format!("coffer storage probe {id}\n"));
    store
        .put_if_absent(&key, body.clone())
        .await
        .map_err(|e| step_error("put", "s3:PutObject", e))?;
    let mut out = vec![check("put", "ok", format!("wrote {object}"))];
    let read = store.get(&key).await;
    let read = match read {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = store.delete(&key).await;
            return Err(step_error("get", "s3:GetObject", e));
        }
    };
    out.push(check("get", "ok", "read it back"));
    if read != body {
        let _ = store.delete(&key).await;
        return Err(failed(
            "compare",
            format!(
                "{object} came back different from what was written; something between Coffer and \
                 the bucket changes objects (a proxy or a transforming endpoint): use the bucket directly"
            ),
        ));
    }
    out.push(check("compare", "ok", "identical bytes"));
    store
        .delete(&key)
        .await
        .map_err(|e| step_error("delete", "s3:DeleteObject", e))?;
    out.push(check("delete", "ok", "deleted it"));
    match store.get(&key).await {
        Err(BlobError::NotFound) => out.push(check("confirm_gone", "ok", "it is gone")),
        Ok(_) => {
            return Err(failed(
                "confirm_gone",
                format!(
                    "{object} is still readable after DeleteObject: Coffer must be able to delete \
                     envelopes (destroying a secret relies on it); remove Object Lock or any rule \
                     that keeps deleted objects readable"
                ),
            ));
        }
        Err(e) => return Err(step_error("confirm_gone", "s3:GetObject", e)),
    }
    Ok(out)
}

/// A bucket-level read that a minimal policy may refuse: a refusal becomes a warning.
fn unreadable(what: &str, action: &str, e: Failure) -> StorageCheck {
    let detail = match e {
        Failure::Service { code, .. } => format!(
            "could not check {what} ({code}); allow {action} in the bucket policy to let Coffer check"
        ),
        Failure::Transient(m) => {
            tracing::warn!(what, detail = %m, "storage validation could not read a bucket setting");
            format!("could not check {what}: the endpoint did not answer")
        }
        Failure::RoleDenied(_) | Failure::Invalid(_) => format!("could not check {what}"),
    };
    check(what, "warning", detail)
}

pub(in crate::service) async fn cors(store: &S3BlobStore, c: &Candidate<'_>) -> StorageCheck {
    let answer = store
        .client()
        .get_bucket_cors()
        .bucket(c.bucket.as_str())
        .send()
        .await;
    let origin = c.public_origin;
    let missing = || {
        check(
            "cors",
            "warning",
            format!(
                "no CORS rule allows GET and PUT from {origin}: browsers cannot upload or fetch \
                 envelopes directly; apply the CORS configuration from `coffer org storage setup`"
            ),
        )
    };
    match answer {
        Ok(out) => {
            let ok = out.cors_rules().iter().any(|r| {
                let origin_ok = r.allowed_origins().iter().any(|o| o == origin || o == "*");
                let methods = r.allowed_methods();
                origin_ok
                    && ["GET", "PUT"]
                        .iter()
                        .all(|m| methods.iter().any(|x| x == m))
            });
            if ok {
                check(
                    "cors",
                    "ok",
                    format!("a CORS rule allows GET and PUT from {origin}"),
                )
            } else {
                missing()
            }
        }
        Err(e) => match classify(&e) {
            Failure::Service { code, .. } if code == "NoSuchCORSConfiguration" => missing(),
            other => unreadable("cors", "s3:GetBucketCORS", other),
        },
    }
}

async fn encryption(store: &S3BlobStore, c: &Candidate<'_>) -> StorageCheck {
    let answer = store
        .client()
        .get_bucket_encryption()
        .bucket(c.bucket.as_str())
        .send()
        .await;
    match answer {
        Ok(out) => {
            let rules = out
                .server_side_encryption_configuration()
                .map(|c| c.rules().len())
                .unwrap_or(0);
            if rules > 0 {
                check("encryption", "ok", "default encryption is on")
            } else {
                no_encryption(c)
            }
        }
        Err(e) => match classify(&e) {
            Failure::Service { code, .. }
                if code == "ServerSideEncryptionConfigurationNotFoundError" =>
            {
                no_encryption(c)
            }
            other => unreadable("encryption", "s3:GetEncryptionConfiguration", other),
        },
    }
}

fn no_encryption(c: &Candidate<'_>) -> StorageCheck {
    check(
        "encryption",
        "warning",
        format!(
            "bucket {} has no default encryption; envelopes are already encrypted by Coffer, but \
             turn it on as defence in depth (`aws s3api put-bucket-encryption`, see the setup)",
            c.bucket
        ),
    )
}

async fn public_access(store: &S3BlobStore, c: &Candidate<'_>) -> StorageCheck {
    let answer = store
        .client()
        .get_public_access_block()
        .bucket(c.bucket.as_str())
        .send()
        .await;
    let open = || {
        check(
            "public_access",
            "warning",
            format!(
                "public access to bucket {} is not fully blocked; block it \
                 (`aws s3api put-public-access-block`, see the setup)",
                c.bucket
            ),
        )
    };
    match answer {
        Ok(out) => {
            let all = out.public_access_block_configuration().is_some_and(|p| {
                p.block_public_acls() == Some(true)
                    && p.ignore_public_acls() == Some(true)
                    && p.block_public_policy() == Some(true)
                    && p.restrict_public_buckets() == Some(true)
            });
            if all {
                check("public_access", "ok", "public access is blocked")
            } else {
                open()
            }
        }
        Err(e) => match classify(&e) {
            Failure::Service { code, .. } if code == "NoSuchPublicAccessBlockConfiguration" => {
                open()
            }
            other => unreadable("public_access", "s3:GetBucketPublicAccessBlock", other),
        },
    }
}

/// Object Lock: on, the audit copies in this bucket are locked (COMPLIANCE mode); off, they are
/// still written, but whoever may delete objects in the bucket can remove them. A default
/// retention rule is a warning too: it would lock every envelope as well, so destroying a
/// secret could not remove its envelope until the retention ends.
pub(in crate::service) async fn object_lock(
    store: &S3BlobStore,
    c: &Candidate<'_>,
) -> StorageCheck {
    let b = c.bucket;
    match crate::service::audit_log::copy::lock_state(store).await {
        Ok(l) if l.enabled => match l.default_rule {
            None => check(
                "object_lock",
                "ok",
                "Object Lock is on: the audit copy in this bucket is locked in COMPLIANCE mode",
            ),
            Some(rule) => check(
                "object_lock",
                "warning",
                format!(
                    "Object Lock is on, with a default retention ({rule}) that locks every \
                     envelope too, so a destroyed secret's envelope stays in the bucket until it \
                     ends; remove the default rule (`aws s3api put-object-lock-configuration \
                     --bucket {b} --object-lock-configuration '{{\"ObjectLockEnabled\":\"Enabled\"}}'`): \
                     Coffer locks each audit copy itself"
                ),
            ),
        },
        Ok(_) => check(
            "object_lock",
            "warning",
            format!(
                "bucket {b} does not have Object Lock on: Coffer copies the audit trail here \
                 unlocked, so anyone who may delete objects in it can remove the copy; turn it on \
                 (`aws s3api put-bucket-versioning --bucket {b} --versioning-configuration \
                 Status=Enabled`, then `aws s3api put-object-lock-configuration --bucket {b} \
                 --object-lock-configuration '{{\"ObjectLockEnabled\":\"Enabled\"}}'`, see the setup)"
            ),
        ),
        Err(e) => unreadable("object_lock", "s3:GetBucketObjectLockConfiguration", e),
    }
}
