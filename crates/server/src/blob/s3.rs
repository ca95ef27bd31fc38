//! The `s3` blob store: a bucket (optionally under a key prefix) through the official AWS SDK,
//! the deployment's operator bucket or, later, an org's own bucket.
//!
//! The [`BlobStore`] contract maps onto S3 directly: `put_if_absent` is a conditional
//! `PutObject` with `If-None-Match: *` (a 412 means the object exists; S3's 409 "conditional
//! request conflict" means a concurrent write is in flight and is retried), `list` pages through
//! `ListObjectsV2`, and errors are mapped by meaning (missing key → not found; denied or missing
//! bucket → refused, naming the action and resource to allow; throttling, 5xx, timeouts and
//! connection failures → unavailable). Uploads always carry `Content-Type:
//! application/octet-stream` (some S3 implementations store an upload without one as empty).
//! Object bodies are never logged.

use super::{BlobError, BlobKey, BlobMeta, BlobPrefix, BlobStore};
use crate::aws::{AwsSettings, Failure, classify};
use async_trait::async_trait;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

/// Attempts at a conditional create that S3 answers with 409 (a concurrent write in flight).
const CONFLICT_ATTEMPTS: u32 = 4;

/// Blobs as objects in one S3 bucket, under an optional key prefix.
#[derive(Clone)]
pub struct S3BlobStore {
    client: aws_sdk_s3::Client,
    bucket: String,
    /// Empty, or ends with `/`.
    prefix: String,
}

impl std::fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3BlobStore")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl S3BlobStore {
    /// A store over `bucket` using `client`; `prefix` (slashes trimmed) is prepended to every
    /// key as `prefix/` and stripped from listed keys.
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        prefix: Option<&str>,
    ) -> Self {
        let prefix = prefix.map(|p| p.trim_matches('/')).unwrap_or("");
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        Self {
            client,
            bucket: bucket.into(),
            prefix,
        }
    }

    /// Builds the client from `settings`, then the store.
    pub async fn open(
        settings: &AwsSettings,
        bucket: impl Into<String>,
        prefix: Option<&str>,
    ) -> Result<Self, BlobError> {
        let client = crate::aws::s3_client(settings)
            .await
            .map_err(|e| BlobError::Refused(e.to_string()))?;
        Ok(Self::new(client, bucket, prefix))
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The object key of `key` (with the prefix).
    pub fn object_key(&self, key: &BlobKey) -> String {
        format!("{}{}", self.prefix, key.as_str())
    }

    /// The SDK client (bucket-level checks and presigning use it directly).
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    /// A presigned `GET` of `key`, valid for `ttl`.
    pub async fn presign_get(
        &self,
        key: &BlobKey,
        ttl: std::time::Duration,
    ) -> Result<String, BlobError> {
        let config = presigning(ttl)?;
        let object = self.object_key(key);
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&object)
            .presigned(config)
            .await
            .map_err(|e| self.error("s3:GetObject", Some(&object), &e))?;
        Ok(req.uri().to_owned())
    }

    /// A presigned `PUT` of `key` (`Content-Type: application/octet-stream`), valid for `ttl`.
    pub async fn presign_put(
        &self,
        key: &BlobKey,
        ttl: std::time::Duration,
    ) -> Result<String, BlobError> {
        let config = presigning(ttl)?;
        let object = self.object_key(key);
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&object)
            .content_type("application/octet-stream")
            .presigned(config)
            .await
            .map_err(|e| self.error("s3:PutObject", Some(&object), &e))?;
        Ok(req.uri().to_owned())
    }

    /// Maps an SDK error for `action` (e.g. `s3:GetObject`) on `object` (key, or `None` for the
    /// bucket itself) to a [`BlobError`].
    fn error<E>(&self, action: &str, object: Option<&str>, err: &SdkError<E>) -> BlobError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let resource = match object {
            Some(k) => format!("arn:aws:s3:::{}/{k}", self.bucket),
            None => format!("arn:aws:s3:::{}", self.bucket),
        };
        let failure = classify(err);
        tracing::warn!(bucket = %self.bucket, action, ?failure, "s3 request failed");
        match failure {
            Failure::Service { code, .. } if code == "NoSuchBucket" => BlobError::Refused(format!(
                "bucket {:?} does not exist (or is in another account); create it or fix the bucket name",
                self.bucket
            )),
            Failure::Service { code, status, .. }
                if code == "NoSuchKey" || (status == 404 && code.is_empty()) =>
            {
                BlobError::NotFound
            }
            Failure::Service { code, status, .. } if status == 403 || code == "AccessDenied" => {
                BlobError::Refused(format!(
                    "{action} on {resource} was denied; the bucket policy must allow it for Coffer's principal"
                ))
            }
            Failure::Service {
                status,
                code,
                message,
            } => BlobError::Refused(format!(
                "{action} on {resource} failed: {code} (HTTP {status}) {message}"
            )),
            Failure::RoleDenied(m) => BlobError::Refused(format!(
                "assuming the role for {action} on {resource} was denied: {m}"
            )),
            Failure::Transient(m) => BlobError::Unavailable(format!("{action} on {resource}: {m}")),
            Failure::Invalid(m) => BlobError::Refused(format!("{action} on {resource}: {m}")),
        }
    }
}

fn presigning(
    ttl: std::time::Duration,
) -> Result<aws_sdk_s3::presigning::PresigningConfig, BlobError> {
    aws_sdk_s3::presigning::PresigningConfig::expires_in(ttl)
        .map_err(|e| BlobError::Refused(format!("presigning: {e}")))
}

#[async_trait]
impl BlobStore for S3BlobStore {
    fn backend(&self) -> &'static str {
        "s3"
    }

    async fn put_if_absent(&self, key: &BlobKey, bytes: Bytes) -> Result<(), BlobError> {
        let object = self.object_key(key);
        let mut attempt = 1;
        loop {
            let result = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&object)
                .if_none_match("*")
                .content_type("application/octet-stream")
                .content_length(bytes.len() as i64)
                .body(ByteStream::from(bytes.clone()))
                .send()
                .await;
            let Err(err) = result else { return Ok(()) };
            if let Failure::Service { status, code, .. } = classify(&err) {
                if status == 412 || code == "PreconditionFailed" {
                    return Err(BlobError::AlreadyExists);
                }
                if status == 409 && attempt < CONFLICT_ATTEMPTS {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(attempt)))
                        .await;
                    continue;
                }
            }
            return Err(self.error("s3:PutObject", Some(&object), &err));
        }
    }

    async fn get(&self, key: &BlobKey) -> Result<Bytes, BlobError> {
        let object = self.object_key(key);
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&object)
            .send()
            .await
            .map_err(|e| self.error("s3:GetObject", Some(&object), &e))?;
        let body = out.body.collect().await.map_err(|e| {
            BlobError::Unavailable(format!("reading s3://{}/{object}: {e}", self.bucket))
        })?;
        Ok(body.into_bytes())
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        let object = self.object_key(key);
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(&object)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match self.error("s3:DeleteObject", Some(&object), &e) {
                BlobError::NotFound => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn list(&self, prefix: &BlobPrefix) -> Result<Vec<BlobMeta>, BlobError> {
        let full = format!("{}{}", self.prefix, prefix.as_str());
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&full)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error("s3:ListBucket", None, &e))?;
            for object in page.contents() {
                let Some(name) = object.key() else { continue };
                let Some(key) = name
                    .strip_prefix(self.prefix.as_str())
                    .and_then(BlobKey::parse)
                else {
                    tracing::debug!(bucket = %self.bucket, object = name, "skipping a foreign object");
                    continue;
                };
                out.push(BlobMeta {
                    key,
                    size: object.size().unwrap_or(0).max(0) as u64,
                    modified_ms: object
                        .last_modified()
                        .and_then(|t| t.to_millis().ok())
                        .unwrap_or(0),
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BlobSettings, open_blob_store};
    use figment::providers::{Format, Toml};

    fn parse(toml: &str) -> BlobSettings {
        figment::Figment::from(Toml::string(toml))
            .extract()
            .expect("valid settings")
    }

    #[tokio::test]
    async fn s3_settings_parse_and_metadata_endpoints_are_refused() {
        let s = parse("kind = \"s3\"\nbucket = \"b\"\nregion = \"eu-west-1\"\n");
        assert!(matches!(
            &s,
            BlobSettings::S3 { bucket, endpoint: None, force_path_style: false, .. } if bucket == "b"
        ));
        let s = parse(
            "kind = \"s3\"\nbucket = \"b\"\nregion = \"eu-west-1\"\n\
             endpoint = \"http://169.254.169.254\"\nforce_path_style = true\n",
        );
        let err = open_blob_store(&s, std::path::Path::new("/nonexistent"))
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("link-local"), "{err}");
    }
}
