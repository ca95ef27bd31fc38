//! The documents that prepare a bucket for an org — what the seed makes an admin write by hand:
//! a bucket policy granting Coffer's principal object Get/Put/Delete (plus the read-only bucket
//! settings the validation checks), a CORS rule for Coffer's origin, and the `aws s3api`
//! commands that create the bucket non-public, encrypted and with S3 Object Lock on, and apply
//! both. Object Lock is on from creation (on AWS it can also be turned on later, with
//! versioning) but with no default retention: Coffer locks only the org's audit copy, each
//! object for `audit.bucket_retention`, because a default rule would lock envelopes too and keep
//! destroyed secrets' envelopes in the bucket. Pure: no I/O.

use crate::catalog::OrgRecord;
use crate::domain::{AwsRegion, BucketName};
use coffer_api::StorageSetup;
use serde_json::{Value, json};

/// Coffer's bucket policy for `bucket`.
pub fn bucket_policy(bucket: &BucketName, principal: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CofferEnvelopes",
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": format!("arn:aws:s3:::{bucket}/*"),
            },
            {
                "Sid": "CofferChecksBucketSettings",
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": [
                    "s3:ListBucket",
                    "s3:GetBucketLocation",
                    "s3:GetBucketCORS",
                    "s3:GetEncryptionConfiguration",
                    "s3:GetBucketPublicAccessBlock",
                    "s3:GetBucketObjectLockConfiguration",
                ],
                "Resource": format!("arn:aws:s3:::{bucket}"),
            },
            {
                "Sid": "CofferLocksItsAuditCopy",
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": ["s3:PutObjectRetention"],
                "Resource": format!("arn:aws:s3:::{bucket}/*"),
            },
        ],
    })
}

/// The CORS configuration letting browsers on `origin` upload and fetch envelopes.
pub fn cors_configuration(origin: &str) -> Value {
    json!({
        "CORSRules": [{
            "AllowedOrigins": [origin],
            "AllowedMethods": ["GET", "PUT"],
            "AllowedHeaders": ["content-type"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 3000,
        }]
    })
}

/// Everything `GET …/storage/setup` answers.
pub fn documents(
    org: &OrgRecord,
    bucket: &BucketName,
    region: &str,
    principal: &str,
    origin: &str,
    allowed: &[AwsRegion],
) -> StorageSetup {
    let policy = bucket_policy(bucket, principal);
    let cors = cors_configuration(origin);
    let location = if region == "us-east-1" {
        String::new()
    } else {
        format!(" --create-bucket-configuration LocationConstraint={region}")
    };
    let commands = vec![
        format!(
            "aws s3api create-bucket --bucket {bucket} --region {region}{location} --object-lock-enabled-for-bucket"
        ),
        format!(
            "aws s3api put-public-access-block --bucket {bucket} --public-access-block-configuration \
             BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"
        ),
        format!(
            "aws s3api put-bucket-encryption --bucket {bucket} --server-side-encryption-configuration \
             '{{\"Rules\":[{{\"ApplyServerSideEncryptionByDefault\":{{\"SSEAlgorithm\":\"AES256\"}}}}]}}'"
        ),
        format!("aws s3api put-bucket-policy --bucket {bucket} --policy '{policy}'"),
        format!("aws s3api put-bucket-cors --bucket {bucket} --cors-configuration '{cors}'"),
    ];
    let instructions = vec![
        format!(
            "Create bucket {bucket} in {region}, with S3 Object Lock on (no default retention: Coffer locks each audit copy object itself, in COMPLIANCE mode), public access blocked and default encryption on (commands 1-3)."
        ),
        format!(
            "Apply the bucket policy: it lets Coffer ({principal}) read, write and delete envelopes, lock the org's audit copy, and read the bucket settings it checks (command 4)."
        ),
        format!(
            "Apply the CORS configuration so browsers on {origin} can upload and fetch envelopes directly (command 5)."
        ),
        format!(
            "Save: `coffer org storage set {} --bucket {bucket} --region {region}`. Coffer validates the bucket before switching, then moves existing secrets in the background.",
            org.slug
        ),
    ];
    StorageSetup {
        org: org.slug.to_string(),
        bucket: bucket.to_string(),
        coffer_principal: principal.to_owned(),
        public_origin: origin.to_owned(),
        allowed_regions: allowed.iter().map(|r| r.to_string()).collect(),
        bucket_policy: policy,
        cors_configuration: cors,
        commands,
        instructions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_grants_object_access_on_this_bucket_to_the_principal_only() {
        let b = BucketName::parse("acme-secrets").unwrap();
        let p = bucket_policy(&b, "arn:aws:iam::111122223333:role/coffer");
        let s = &p["Statement"][0];
        assert_eq!(s["Resource"], "arn:aws:s3:::acme-secrets/*");
        assert_eq!(
            s["Principal"]["AWS"],
            "arn:aws:iam::111122223333:role/coffer"
        );
        assert_eq!(
            s["Action"],
            json!(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
        );
        assert_eq!(p["Statement"][1]["Resource"], "arn:aws:s3:::acme-secrets");
        assert_eq!(
            p["Statement"][2]["Action"],
            json!(["s3:PutObjectRetention"])
        );
        let d = documents(
            &OrgRecord {
                id: crate::domain::OrgId::new(),
                slug: crate::domain::OrgSlug::parse("acme").unwrap(),
                name: "Acme".into(),
                location: crate::domain::Location::local(),
                status: crate::domain::OrgStatus::Active,
                suspended_reason: None,
                key_version: 1,
                created_at: crate::domain::Timestamp::now(),
                storage: None,
            },
            &b,
            "eu-west-1",
            "arn:aws:iam::111122223333:role/coffer",
            "https://coffer.example.com",
            &[],
        );
        assert!(
            d.commands[0].ends_with("--object-lock-enabled-for-bucket"),
            "{}",
            d.commands[0]
        );
        let c = cors_configuration("https://coffer.example.com");
        assert_eq!(
            c["CORSRules"][0]["AllowedOrigins"],
            json!(["https://coffer.example.com"])
        );
    }
}
