//! BYOK fixtures on a moto server: an org's role and one ordinary (single-region) KMS key per
//! region, plus the admin clients a test uses to revoke them. Ordinary keys, because moto cannot
//! decrypt ciphertext made under a multi-region (`mrk-`) key, and Coffer wraps once per region
//! key anyway.

use super::moto::{Moto, unique, xml_field};
use coffer_server::aws::{AwsCredentials, AwsSettings, SecretString};
use coffer_server::keys::{AwsKmsProvider, ByokSettings};

/// The two regions of the test location.
pub const REGIONS: [&str; 2] = ["eu-central-1", "eu-west-1"];

/// A BYOK org: its provider, key ARNs (region order) and admin clients per region.
pub struct Byok {
    pub provider: AwsKmsProvider,
    pub settings: ByokSettings,
    pub keys: Vec<String>,
    pub admin: Vec<aws_sdk_kms::Client>,
}

/// Coffer's own settings for `moto` (region left to the provider: the first key's).
pub fn base(moto: &Moto) -> AwsSettings {
    AwsSettings {
        region: None,
        ..moto.settings(REGIONS[0])
    }
}

/// A KMS client in `region` with `settings`' credentials.
pub async fn kms_client(settings: &AwsSettings, region: &str) -> aws_sdk_kms::Client {
    let sdk = coffer_server::aws::sdk_config(settings).await.unwrap();
    coffer_server::aws::kms_client(&sdk, settings, region)
}

/// Creates a key and returns its ARN.
pub async fn create_key(
    kms: &aws_sdk_kms::Client,
    usage: aws_sdk_kms::types::KeyUsageType,
    spec: aws_sdk_kms::types::KeySpec,
) -> String {
    let out = kms
        .create_key()
        .key_usage(usage)
        .key_spec(spec)
        .description("coffer test key")
        .send()
        .await
        .expect("create key");
    out.key_metadata.unwrap().arn.unwrap()
}

/// One symmetric encrypt/decrypt key per region, created with `settings`.
pub async fn region_keys(settings: &AwsSettings) -> (Vec<String>, Vec<aws_sdk_kms::Client>) {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    let (mut keys, mut admin) = (Vec::new(), Vec::new());
    for region in REGIONS {
        let regional = AwsSettings {
            region: Some(region.into()),
            ..settings.clone()
        };
        let kms = kms_client(&regional, region).await;
        keys.push(
            create_key(
                &kms,
                KeyUsageType::EncryptDecrypt,
                KeySpec::SymmetricDefault,
            )
            .await,
        );
        admin.push(kms);
    }
    (keys, admin)
}

/// A BYOK org on `moto` in its default mode (no policy checks).
pub async fn byok(moto: &Moto) -> Byok {
    let role_arn = moto
        .create_role(
            &unique("coffer-byok"),
            r#"{"Version":"2012-10-17","Statement":[]}"#,
        )
        .await;
    let (keys, admin) = region_keys(&moto.settings(REGIONS[0])).await;
    let settings = ByokSettings {
        role_arn,
        external_id: unique("ext"),
        key_arns: keys.clone(),
    };
    let provider = AwsKmsProvider::open(&base(moto), &settings).await.unwrap();
    Byok {
        provider,
        settings,
        keys,
        admin,
    }
}

/// The key id part of an ARN. moto's DisableKey, EnableKey and ScheduleKeyDeletion answer 500
/// when given the ARN (5.2.5), so the tests' admin calls use the bare id.
pub fn key_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap()
}

/// Number of unauthenticated requests [`coffer_identity_with_role`] makes on an auth-mode moto.
pub const SETUP_ACTIONS: &str = "5";

/// On a moto started with `INITIAL_NO_AUTH_ACTION_COUNT=`[`SETUP_ACTIONS`]: Coffer's IAM user
/// (allowed only `sts:AssumeRole` and `kms:CreateKey`), and an org role that trusts it only with
/// `external_id` and may use KMS. Returns Coffer's settings and the role ARN.
pub async fn coffer_identity_with_role(moto: &Moto, external_id: &str) -> (AwsSettings, String) {
    let user = "coffer-service";
    let created = moto
        .iam(&[("Action", "CreateUser"), ("UserName", user)])
        .await;
    let user_arn = xml_field(&created, "Arn");
    let key = moto
        .iam(&[("Action", "CreateAccessKey"), ("UserName", user)])
        .await;
    let allow = |actions: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{actions},"Resource":"*"}}]}}"#
        )
    };
    let user_policy = allow(r#"["sts:AssumeRole","kms:CreateKey"]"#);
    moto.iam(&[
        ("Action", "PutUserPolicy"),
        ("UserName", user),
        ("PolicyName", "coffer"),
        ("PolicyDocument", &user_policy),
    ])
    .await;
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{user_arn}"}},"Action":"sts:AssumeRole","Condition":{{"StringEquals":{{"sts:ExternalId":"{external_id}"}}}}}}]}}"#
    );
    let role_arn = moto.create_role("org-byok", &trust).await;
    let role_policy = allow(r#""kms:*""#);
    moto.iam(&[
        ("Action", "PutRolePolicy"),
        ("RoleName", "org-byok"),
        ("PolicyName", "kms"),
        ("PolicyDocument", &role_policy),
    ])
    .await;
    let settings = AwsSettings {
        credentials: AwsCredentials::Static {
            access_key_id: xml_field(&key, "AccessKeyId"),
            secret_access_key: SecretString::new(xml_field(&key, "SecretAccessKey")),
            session_token: None,
        },
        ..base(moto)
    };
    (settings, role_arn)
}
