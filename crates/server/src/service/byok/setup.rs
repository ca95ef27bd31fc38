//! The documents an org admin applies in AWS before enabling BYOK, generated from the org's id,
//! location and external id and Coffer's principal: the role's trust policy (Coffer may assume
//! it only with this org's external id — the confused-deputy guard), the key-policy statements
//! (the role may use the key only with this org's `coffer:org` encryption context), and a
//! CloudFormation template that creates both. Pure: no I/O, so the shapes are unit-tested here.

use crate::catalog::OrgRecord;
use crate::domain::{AwsRegion, ExternalId};
use serde_json::{Value, json};

fn role_name(org: &OrgRecord) -> String {
    format!("coffer-byok-{}", org.slug)
}

/// The statements each key's policy needs for `role` (an ARN, or a CloudFormation expression).
fn key_statements(org: &OrgRecord, role: Value) -> Vec<Value> {
    vec![
        json!({
            "Sid": "CofferWrapsOrgKeys",
            "Effect": "Allow",
            "Principal": {"AWS": role},
            "Action": ["kms:Encrypt", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:coffer:org": org.id.to_string()}}
        }),
        json!({
            "Sid": "CofferChecksKeyHealth",
            "Effect": "Allow",
            "Principal": {"AWS": role},
            "Action": "kms:DescribeKey",
            "Resource": "*"
        }),
    ]
}

fn trust_policy(principal: &str, external_id: &ExternalId) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "CofferAssumesThisRole",
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": external_id.as_str()}}
        }]
    })
}

fn template(org: &OrgRecord, primary: &AwsRegion, principal: &str, ext: &ExternalId) -> Value {
    let role = role_name(org);
    let role_arn =
        json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{role}")});
    let mut statements = vec![json!({
        "Sid": "AccountAdministersTheKey",
        "Effect": "Allow",
        "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
        "Action": "kms:*",
        "Resource": "*"
    })];
    statements.extend(key_statements(org, role_arn.clone()));
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!(
            "Coffer BYOK for org {} (location {}): deploy in {primary} first (it creates the role), then in each other region of the location", org.slug, org.location
        ),
        "Conditions": {"CreateRole": {"Fn::Equals": [{"Ref": "AWS::Region"}, primary.as_str()]}},
        "Resources": {
            "CofferRole": {
                "Type": "AWS::IAM::Role",
                "Condition": "CreateRole",
                "Properties": {
                    "RoleName": role,
                    "Description": format!("Lets Coffer wrap org {}'s keys", org.slug),
                    "AssumeRolePolicyDocument": trust_policy(principal, ext)
                }
            },
            "CofferKey": {
                "Type": "AWS::KMS::Key",
                "DeletionPolicy": "Retain",
                "Properties": {
                    "Description": format!("Coffer BYOK key for org {}", org.slug),
                    "KeySpec": "SYMMETRIC_DEFAULT",
                    "KeyUsage": "ENCRYPT_DECRYPT",
                    "MultiRegion": false,
                    "EnableKeyRotation": true,
                    "PendingWindowInDays": 30,
                    "KeyPolicy": {"Version": "2012-10-17", "Statement": statements}
                }
            }
        },
        "Outputs": {
            "KeyArn": {"Value": {"Fn::GetAtt": ["CofferKey", "Arn"]}},
            "RoleArn": {"Value": role_arn}
        }
    })
}

/// Every setup document for `org`, whose location has `regions` (failover order).
pub(in crate::service) fn documents(
    org: &OrgRecord,
    regions: &[AwsRegion],
    external_id: &ExternalId,
    principal: &str,
) -> coffer_api::KeySetup {
    let role = role_name(org);
    // The customer fills in their own account id when pasting the key policy (the CloudFormation
    // template below resolves it with `AWS::AccountId` instead).
    let role_arn_template = format!("arn:aws:iam::ACCOUNT_ID:role/{role}");
    let primary = &regions[0];
    let rest: Vec<&str> = regions[1..].iter().map(AwsRegion::as_str).collect();
    let keys: Vec<String> = regions
        .iter()
        .map(|r| {
            format!(
                "--key {r}=KEY_ARN_IN_{}",
                r.as_str().replace('-', "_").to_uppercase()
            )
        })
        .collect();
    coffer_api::KeySetup {
        org: org.slug.to_string(),
        org_id: org.id.as_uuid(),
        location: org.location.clone(),
        regions: regions.iter().map(|r| r.to_string()).collect(),
        external_id: external_id.to_string(),
        coffer_principal: principal.to_owned(),
        suggested_role_name: role.clone(),
        encryption_context: json!({"coffer:org": org.id.to_string(), "coffer:purpose": "org-key | probe", "coffer:key-version": "<n>"}),
        trust_policy: trust_policy(principal, external_id),
        key_policy_statements: key_statements(org, Value::String(role_arn_template)),
        cloudformation_template: template(org, primary, principal, external_id),
        instructions: vec![
            format!("Use an AWS account you control. Deploy the CloudFormation template in {primary} first (it creates the role {role} and a key), then in {} (a key each); or create the role with the trust policy and one symmetric ENCRYPT_DECRYPT key per region with the key-policy statements.", rest.join(", ")),
            format!("Read the KeyArn output of each stack and the RoleArn output of the {primary} stack."),
            format!("Run: coffer org keys byok {} --role-arn ROLE_ARN {}", org.slug, keys.join(" ")),
            "BYOK cannot be turned off afterwards, and the keys must stay in these regions. Disabling a key or removing Coffer's access suspends the org until access is restored.".into(),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::*;

    #[test]
    fn documents_bind_the_org_the_external_id_and_the_principal() {
        let org = OrgRecord {
            id: OrgId::new(),
            slug: OrgSlug::parse("acme").unwrap(),
            name: "Acme".into(),
            location: Location::parse("eu").unwrap(),
            status: OrgStatus::Active,
            suspended_reason: None,
            key_version: 1,
            created_at: Timestamp::now(),
            storage: None,
        };
        let regions = [
            AwsRegion::parse("eu-central-1").unwrap(),
            AwsRegion::parse("eu-west-1").unwrap(),
        ];
        let ext = ExternalId::generate();
        let p = "arn:aws:iam::111122223333:role/coffer";
        let d = documents(&org, &regions, &ext, p);
        let trust = &d.trust_policy["Statement"][0];
        assert_eq!(trust["Principal"]["AWS"], p);
        assert_eq!(
            trust["Condition"]["StringEquals"]["sts:ExternalId"],
            ext.as_str()
        );
        let use_key = &d.key_policy_statements[0];
        assert_eq!(
            use_key["Condition"]["StringEquals"]["kms:EncryptionContext:coffer:org"],
            org.id.to_string()
        );
        assert_eq!(use_key["Action"], json!(["kms:Encrypt", "kms:Decrypt"]));
        let t = &d.cloudformation_template;
        assert_eq!(
            t["Conditions"]["CreateRole"]["Fn::Equals"][1],
            "eu-central-1"
        );
        assert_eq!(
            t["Resources"]["CofferKey"]["Properties"]["KeySpec"],
            "SYMMETRIC_DEFAULT"
        );
        let stmts = t["Resources"]["CofferKey"]["Properties"]["KeyPolicy"]["Statement"]
            .as_array()
            .unwrap();
        assert_eq!(stmts.len(), 3, "account admin + the two Coffer statements");
        assert_eq!(
            t["Resources"]["CofferRole"]["Properties"]["AssumeRolePolicyDocument"],
            d.trust_policy
        );
        assert!(
            d.instructions[2].contains("--key eu-west-1=KEY_ARN_IN_EU_WEST_1"),
            "{}",
            d.instructions[2]
        );
        assert_eq!(d.regions, ["eu-central-1", "eu-west-1"]);
    }
}
