//! `--s3-endpoint URL`: blobs in a bucket on an S3-compatible server (the moto server in our
//! runs). The bench creates a fresh bucket there with static dummy credentials; each app of the
//! run gets its own key prefix in it, and the same static credentials in its `[blobs]` settings
//! (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` if set, else dummy keys moto accepts).

use anyhow::{Context, Result};
use coffer_server::aws::{AwsCredentials, AwsSettings, SecretString};
use std::time::Duration;

/// The region buckets are created in (no location constraint needed).
pub const REGION: &str = "us-east-1";
/// Used when `AWS_ACCESS_KEY_ID` is unset; moto accepts any keys.
pub const DUMMY_KEY: &str = "test";

/// A bucket on an S3-compatible endpoint.
#[derive(Clone, Debug)]
pub struct Bucket {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Its name.
    pub name: String,
}

/// Static keys from the environment, or dummy ones.
pub fn credentials() -> AwsCredentials {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| DUMMY_KEY.into());
    AwsCredentials::Static {
        access_key_id: var("AWS_ACCESS_KEY_ID"),
        secret_access_key: SecretString::new(var("AWS_SECRET_ACCESS_KEY")),
        session_token: None,
    }
}

fn settings(endpoint: &str) -> AwsSettings {
    AwsSettings {
        region: Some(REGION.into()),
        endpoint: Some(endpoint.to_owned()),
        force_path_style: true,
        credentials: credentials(),
        connect_timeout: Duration::from_secs(5),
        operation_timeout: Duration::from_secs(30),
        max_attempts: 3,
    }
}

impl Bucket {
    /// Creates `coffer-bench-<random>` on `endpoint`.
    pub async fn create(endpoint: &str) -> Result<Bucket> {
        let client = coffer_server::aws::s3_client(&settings(endpoint))
            .await
            .with_context(|| format!("S3 client for {endpoint}"))?;
        let name = format!("coffer-bench-{}", uuid::Uuid::new_v4().simple());
        client
            .create_bucket()
            .bucket(&name)
            .send()
            .await
            .with_context(|| format!("creating bucket {name} on {endpoint}"))?;
        Ok(Bucket {
            endpoint: endpoint.to_owned(),
            name,
        })
    }
}
