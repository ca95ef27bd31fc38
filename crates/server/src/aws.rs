//! Shared AWS SDK plumbing for the `s3` blob backend and the `aws-kms` key provider: one
//! [`AwsSettings`] type (region, optional endpoint, path-style, credentials from the default
//! chain, static keys or an assumed role with an external id, timeouts, retries) turned into an
//! [`SdkConfig`] by [`sdk_config`], plus the error classification both backends share.
//!
//! Settings are passed explicitly rather than read from process-global state so that tests can
//! run many differently-configured clients in one process; what is left unset falls back to the
//! SDK's own environment handling (`AWS_REGION`, `AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_<SERVICE>`, profiles, the default credential chain). Assumed-role sessions
//! are cached by the SDK's lazy identity cache and refreshed [`REFRESH_BEFORE_EXPIRY`] before
//! they expire. Tenant-supplied endpoints go through [`check_endpoint`] (the SSRF guard).

mod dns_guard;
mod endpoint;
mod failure;

pub(crate) use dns_guard::GuardedResolver;
pub use endpoint::check_endpoint;
pub(crate) use endpoint::is_forbidden;
pub(crate) use failure::{Failure, classify};

use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use std::fmt;
use std::time::Duration;
use zeroize::Zeroizing;

/// How long before an assumed-role session expires it is refreshed.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// A credential string: redacted in `Debug`, wiped on drop, never serialized.
#[derive(Clone)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(Zeroizing::new(s.into()))
    }
}

impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::new)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

/// Where the SDK gets credentials.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AwsCredentials {
    /// Environment, profile, web identity, ECS/EC2 metadata: the SDK's default chain.
    #[default]
    DefaultChain,
    /// Fixed keys (tests, S3-compatible stores).
    Static {
        /// Access key id.
        access_key_id: String,
        /// Secret access key.
        secret_access_key: SecretString,
        /// Session token, for temporary keys.
        #[serde(default)]
        session_token: Option<SecretString>,
    },
    /// Assume `role_arn` (with `external_id`, the confused-deputy guard) using `source`.
    AssumeRole {
        /// The role to assume.
        role_arn: String,
        /// External id the role's trust policy requires.
        #[serde(default)]
        external_id: Option<String>,
        /// Session name shown in the role owner's CloudTrail (default `coffer`).
        #[serde(default)]
        session_name: Option<String>,
        /// Credentials that call `sts:AssumeRole`.
        #[serde(default)]
        source: Box<AwsCredentials>,
    },
}

/// Everything needed to build SDK clients for one AWS account (or S3-compatible store).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSettings {
    /// Region; `None` uses `AWS_REGION` / the profile / instance metadata.
    #[serde(default)]
    pub region: Option<String>,
    /// Custom endpoint (S3-compatible store, moto); `None` uses AWS's (or `AWS_ENDPOINT_URL*`).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// S3 path-style addressing (`https://host/bucket/key`); needed by most custom endpoints.
    #[serde(default)]
    pub force_path_style: bool,
    /// Credentials.
    #[serde(default)]
    pub credentials: AwsCredentials,
    /// TCP connect timeout.
    #[serde(default = "default_connect", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Bound on one operation including retries.
    #[serde(default = "default_operation", with = "humantime_serde")]
    pub operation_timeout: Duration,
    /// Attempts per operation (1 = no retry) for transient failures.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
}

fn default_connect() -> Duration {
    Duration::from_secs(3)
}
fn default_operation() -> Duration {
    Duration::from_secs(30)
}
fn default_attempts() -> u32 {
    3
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            region: None,
            endpoint: None,
            force_path_style: false,
            credentials: AwsCredentials::DefaultChain,
            connect_timeout: default_connect(),
            operation_timeout: default_operation(),
            max_attempts: default_attempts(),
        }
    }
}

/// The settings could not be turned into a working SDK configuration.
#[derive(Debug, thiserror::Error)]
#[error("invalid AWS configuration: {0}")]
pub struct AwsConfigError(pub String);

/// Builds the shared SDK configuration: region, endpoint, timeouts, retries and credentials
/// (assumed roles are wrapped innermost-first around their source).
pub async fn sdk_config(s: &AwsSettings) -> Result<SdkConfig, AwsConfigError> {
    let mut roles = Vec::new();
    let mut base = &s.credentials;
    while let AwsCredentials::AssumeRole { source, .. } = base {
        roles.push(base);
        base = source;
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .identity_cache(
            IdentityCache::lazy()
                .buffer_time(REFRESH_BEFORE_EXPIRY)
                .build(),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(s.connect_timeout)
                .operation_timeout(s.operation_timeout)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(s.max_attempts.max(1)));
    if let Some(region) = &s.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &s.endpoint {
        loader = loader.endpoint_url(endpoint.clone());
    }
    if let AwsCredentials::Static {
        access_key_id,
        secret_access_key,
        session_token,
    } = base
    {
        loader = loader.credentials_provider(Credentials::new(
            access_key_id.clone(),
            secret_access_key.0.as_str(),
            session_token.as_ref().map(|t| t.0.to_string()),
            None,
            "coffer-static",
        ));
    }
    let mut config = loader.load().await;
    if config.region().is_none() {
        return Err(AwsConfigError(
            "no AWS region: set one in the settings or AWS_REGION".into(),
        ));
    }
    for role in roles.into_iter().rev() {
        let AwsCredentials::AssumeRole {
            role_arn,
            external_id,
            session_name,
            ..
        } = role
        else {
            unreachable!("only assume-role entries were collected")
        };
        let mut builder = AssumeRoleProvider::builder(role_arn.clone())
            .session_name(session_name.clone().unwrap_or_else(|| "coffer".into()))
            .configure(&config);
        if let Some(id) = external_id {
            builder = builder.external_id(id.clone());
        }
        let provider = builder.build().await;
        config = config
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
    }
    Ok(config)
}

/// An S3 client for `s` (path-style as configured; checksums only where S3 requires them, which
/// S3-compatible stores accept), resolving names through the SSRF guard's resolver.
pub async fn s3_client(s: &AwsSettings) -> Result<aws_sdk_s3::Client, AwsConfigError> {
    use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
    let sdk = sdk_config(s).await?;
    let mut conf = aws_sdk_s3::config::Builder::from(&sdk)
        .http_client(dns_guard::guarded_http_client())
        .force_path_style(s.force_path_style)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    if let Some(endpoint) = &s.endpoint {
        conf = conf.endpoint_url(endpoint.clone()); // explicit beats AWS_ENDPOINT_URL_S3
    }
    Ok(aws_sdk_s3::Client::from_conf(conf.build()))
}

/// A KMS client in `region` sharing `sdk`'s credentials (and their cache).
pub fn kms_client(sdk: &SdkConfig, s: &AwsSettings, region: &str) -> aws_sdk_kms::Client {
    let mut conf = aws_sdk_kms::config::Builder::from(sdk).region(Region::new(region.to_owned()));
    if let Some(endpoint) = &s.endpoint {
        conf = conf.endpoint_url(endpoint.clone());
    }
    aws_sdk_kms::Client::from_conf(conf.build())
}
