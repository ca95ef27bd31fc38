//! AWS names BYOK handles — regions, KMS key ARNs, IAM role ARNs and the per-org external id — as
//! parsed newtypes. They come from org admins (request bodies, CLI flags) and the operator
//! (config), travel through the catalog and end up in STS/KMS calls and policy documents, so each
//! is checked once at the edge and is then known-good everywhere: a `KmsKeyArn` always carries
//! its region and account, a `RoleArn` its account, an `ExternalId` only characters STS accepts.
//! None of them is secret (they appear in the customer's own policies), so `Debug` shows them.

use super::{Location, ParseError};
use std::collections::BTreeMap;

text_type!(
    /// An AWS region name, e.g. `eu-central-1`, `us-gov-west-1`.
    AwsRegion
);
text_type!(
    /// A KMS key ARN, `arn:PARTITION:kms:REGION:ACCOUNT:key/ID` (aliases and bare ids are refused:
    /// only an ARN names its region and account and exactly one key).
    KmsKeyArn
);
text_type!(
    /// An IAM role ARN, `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`.
    RoleArn
);
text_type!(
    /// The external id Coffer generates per org: the role's trust policy requires it, so another
    /// Coffer customer cannot make Coffer use this org's role (confused-deputy protection).
    ExternalId
);

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_partition(s: &str) -> bool {
    matches!(s, "aws" | "aws-cn" | "aws-us-gov" | "aws-iso" | "aws-iso-b")
}

impl AwsRegion {
    /// Parses a region: lowercase groups joined by `-`, the last one a number.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let parts: Vec<&str> = s.split('-').collect();
        let ok = s.len() <= 32
            && parts.len() >= 3
            && parts[..parts.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
            && (1..=2).contains(&parts[parts.len() - 1].len())
            && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError::new(
                "AWS region",
                format!("{s:?} is not an AWS region name (e.g. `eu-central-1`)"),
            ))
        }
    }
}

impl KmsKeyArn {
    /// Parses a KMS key ARN.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let ok = match parts.as_slice() {
            ["arn", partition, "kms", region, account, resource] => {
                is_partition(partition)
                    && AwsRegion::parse(region).is_ok()
                    && is_account(account)
                    && resource.strip_prefix("key/").is_some_and(|id| {
                        (1..=128).contains(&id.len())
                            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    })
            }
            _ => false,
        };
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError::new(
                "KMS key ARN",
                format!(
                    "{s:?} is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID; aliases and bare key ids are not accepted)"
                ),
            ))
        }
    }

    fn part(&self, i: usize) -> &str {
        self.0.splitn(6, ':').nth(i).expect("checked when parsed")
    }

    /// The key's region.
    pub fn region(&self) -> AwsRegion {
        AwsRegion(self.part(3).to_owned())
    }

    /// The 12-digit account that owns the key.
    pub fn account(&self) -> &str {
        self.part(4)
    }

    /// The key id (what some KMS admin APIs want instead of the ARN).
    pub fn key_id(&self) -> &str {
        self.part(5).trim_start_matches("key/")
    }
}

impl RoleArn {
    /// Parses an IAM role ARN.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let name_ok = |n: &str| {
            (1..=64).contains(&n.len())
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
        };
        let ok = match parts.as_slice() {
            ["arn", partition, "iam", "", account, resource] => {
                is_partition(partition)
                    && is_account(account)
                    && resource.len() <= 512
                    && resource.strip_prefix("role/").is_some_and(|path| {
                        let segments: Vec<&str> = path.split('/').collect();
                        segments.iter().all(|seg| name_ok(seg))
                    })
            }
            _ => false,
        };
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError::new(
                "role ARN",
                format!("{s:?} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"),
            ))
        }
    }

    /// The 12-digit account that owns the role.
    pub fn account(&self) -> &str {
        self.0.split(':').nth(4).expect("checked when parsed")
    }
}

impl ExternalId {
    /// Parses an external id: 2 to 1224 of STS's characters (`A-Z a-z 0-9 + = , . @ : / _ -`).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let ok = (2..=1224).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/_-".contains(&b));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError::new(
                "external id",
                format!("{s:?} is not an STS external id (2-1224 of A-Z a-z 0-9 +=,.@:/_-)"),
            ))
        }
    }

    /// A fresh random id, `coffer-` and 32 hex digits (128 bits from the OS CSPRNG) — the same
    /// shape the catalog migration gives existing orgs.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        aws_lc_rs::rand::fill(&mut bytes).expect("the OS CSPRNG is available");
        Self(format!("coffer-{}", hex::encode(bytes)))
    }
}

/// Location name → its AWS regions, in failover order.
pub type Locations = BTreeMap<Location, Vec<AwsRegion>>;

/// `eu` = eu-central-1 + eu-west-1, `us` = us-east-1 + us-west-2.
pub fn default_locations() -> Locations {
    let loc = |l: &str| Location::parse(l).expect("static location name");
    let regions = |rs: [&str; 2]| {
        rs.iter()
            .map(|r| AwsRegion::parse(r).expect("static region name"))
            .collect()
    };
    BTreeMap::from([
        (loc("eu"), regions(["eu-central-1", "eu-west-1"])),
        (loc("us"), regions(["us-east-1", "us-west-2"])),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions() {
        for ok in [
            "eu-central-1",
            "us-west-2",
            "us-gov-west-1",
            "ap-southeast-12",
        ] {
            assert_eq!(AwsRegion::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "eu",
            "eu-central",
            "EU-central-1",
            "eu-central-x",
            "eu--1",
            "eu-1",
        ] {
            assert!(AwsRegion::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kms_key_arns() {
        let a = KmsKeyArn::parse("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab").unwrap();
        assert_eq!(
            (a.region().as_str(), a.account(), a.key_id()),
            ("eu-west-1", "123456789012", "1234abcd-12ab")
        );
        let mrk = "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-abc";
        assert_eq!(
            KmsKeyArn::parse(mrk).unwrap().region().as_str(),
            "us-gov-west-1"
        );
        for bad in [
            "arn:aws:kms:eu-west-1:123456789012:alias/abc",
            "arn:aws:s3:eu-west-1:123456789012:key/abc",
            "arn:aws:kms::123456789012:key/abc",
            "arn:aws:kms:eu-west-1:1234:key/abc",
            "arn:aws:kms:eu-west-1:123456789012:key/",
            "arn:aws:kms:eu-west-1:123456789012:key/a b",
            "arn:other:kms:eu-west-1:123456789012:key/abc",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "alias/coffer",
        ] {
            assert!(KmsKeyArn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn role_arns() {
        for ok in [
            "arn:aws:iam::123456789012:role/coffer-byok",
            "arn:aws:iam::123456789012:role/path/to/Name+=,.@_-",
        ] {
            assert_eq!(RoleArn::parse(ok).unwrap().account(), "123456789012");
        }
        for bad in [
            "arn:aws:iam::123456789012:user/bob",
            "arn:aws:iam:eu-west-1:123456789012:role/r",
            "arn:aws:iam::12345:role/r",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/a b",
            "arn:aws:sts::123456789012:role/r",
        ] {
            assert!(RoleArn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn external_ids() {
        let id = ExternalId::generate();
        assert!(id.as_str().starts_with("coffer-") && id.as_str().len() == 39);
        assert_ne!(id, ExternalId::generate());
        assert_eq!(ExternalId::parse(id.as_str()).unwrap(), id);
        for bad in ["", "x", "has space", "semi;colon", &"x".repeat(1225)] {
            assert!(ExternalId::parse(bad).is_err(), "{bad:.20}");
        }
        let parsed: KmsKeyArn =
            serde_json::from_value("arn:aws:kms:eu-west-1:123456789012:key/k".into()).unwrap();
        assert_eq!(parsed.region(), AwsRegion::parse("eu-west-1").unwrap());
        assert!(serde_json::from_value::<AwsRegion>("nope".into()).is_err());
    }
}
