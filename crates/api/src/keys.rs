//! Org key settings (BYOK): the setup documents an admin applies in AWS, the request that switches
//! an org to its own KMS keys, and the status views for org admins and the operator. One module
//! because these types are one flow: setup → enable → show/check → (operator) list.

use crate::{Location, OrgStatus};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Who holds an org's root keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum KeyProviderKind {
    /// The deployment's own root key (Coffer-managed).
    Local,
    /// The org's customer-managed AWS KMS keys, one per region of its location (BYOK).
    AwsKms,
}

/// `GET /api/v1/orgs/{org}/keys/setup`: what to create in AWS before enabling BYOK.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeySetup {
    /// Org slug.
    pub org: String,
    /// Org id (the value of the `coffer:org` encryption-context key).
    pub org_id: Uuid,
    /// The org's location (fixed).
    pub location: Location,
    /// The regions of that location, in failover order: one KMS key is needed in each.
    pub regions: Vec<String>,
    /// The external id Coffer generated for this org; the role's trust policy must require it.
    pub external_id: String,
    /// Coffer's AWS principal, which the role must trust.
    pub coffer_principal: String,
    /// The role name the documents below suggest (any name works).
    pub suggested_role_name: String,
    /// The encryption context Coffer sends with every KMS call for this org.
    pub encryption_context: serde_json::Value,
    /// The role's trust policy (IAM policy JSON).
    pub trust_policy: serde_json::Value,
    /// Statements to add to each key's policy (IAM policy statements JSON).
    pub key_policy_statements: Vec<serde_json::Value>,
    /// A CloudFormation template (JSON) creating the role and one key; deploy it in each region.
    pub cloudformation_template: serde_json::Value,
    /// How to apply the documents, step by step.
    pub instructions: Vec<String>,
}

/// One region's key in an enable request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionKeyInput {
    /// AWS region, e.g. `eu-central-1`.
    pub region: String,
    /// KMS key ARN in that region (`arn:aws:kms:REGION:ACCOUNT:key/ID`; aliases are refused).
    pub key_arn: String,
}

/// `PUT /api/v1/orgs/{org}/keys`: choose the org's key provider.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetOrgKeysRequest {
    /// `aws-kms` enables BYOK; `local` is refused once BYOK is on (it cannot be turned off).
    pub provider: KeyProviderKind,
    /// The IAM role Coffer assumes (with the org's external id). Required for `aws-kms`.
    #[serde(default)]
    pub role_arn: Option<String>,
    /// One key per region of the org's location. Required for `aws-kms`.
    #[serde(default)]
    pub keys: Vec<RegionKeyInput>,
}

/// What the last health probe of one region's key saw.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeyProbe {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `enabled`, `disabled`, `pending_deletion`, `not_found`, `access_denied`, `unreachable`,
    /// or another KMS key state in lowercase.
    pub state: String,
    /// Whether the key could be used (DescribeKey fine and the stored probe decrypted).
    pub ok: bool,
    /// What was wrong, in words.
    pub problem: Option<String>,
}

/// One region's key of a BYOK org.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegionKeyStatus {
    /// AWS region.
    pub region: String,
    /// KMS key ARN.
    pub key_arn: String,
    /// The last probe (none yet right after enabling on a node that has not probed).
    pub last_probe: Option<KeyProbe>,
}

/// KMS calls this node made for the org since it started.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KmsCallCount {
    /// `encrypt`, `decrypt`, `describe_key`, `probe_encrypt`, `probe_decrypt`.
    pub operation: String,
    /// `ok`, `denied`, `integrity`, `unavailable`.
    pub outcome: String,
    /// Calls.
    pub count: u64,
}

/// `GET /api/v1/orgs/{org}/keys`: an org's key settings and health.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrgKeys {
    /// Org slug.
    pub org: String,
    /// Org id.
    pub org_id: Uuid,
    /// Location (fixed).
    pub location: Location,
    /// Who holds the root keys.
    pub provider: KeyProviderKind,
    /// External id (for the role's trust policy).
    pub external_id: String,
    /// The role Coffer assumes (BYOK only).
    pub role_arn: Option<String>,
    /// When BYOK was enabled.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub byok_since: Option<OffsetDateTime>,
    /// The keys in failover order (BYOK only).
    pub keys: Vec<RegionKeyStatus>,
    /// Active or suspended.
    pub status: OrgStatus,
    /// Why it is suspended.
    pub suspended_reason: Option<String>,
    /// Org-key versions (each wrapped once per region key).
    pub key_versions: u32,
    /// KMS calls made by the answering node.
    pub kms_calls: Vec<KmsCallCount>,
}

/// `GET /api/v1/admin/byok` (operator): every BYOK org.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ByokOrgList {
    /// BYOK orgs by slug.
    pub orgs: Vec<OrgKeys>,
}
