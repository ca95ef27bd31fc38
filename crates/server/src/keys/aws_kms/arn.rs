//! KMS key ARNs: the only form BYOK accepts (not aliases or bare ids), because the ARN carries
//! the key's region (which decides the KMS endpoint and is checked against the org's residency)
//! and its account, and names exactly one key in DescribeKey, CloudTrail and the wraps' `key_ref`.

/// The region of a KMS key ARN (`arn:PARTITION:kms:REGION:ACCOUNT:key/ID`).
pub fn key_region(arn: &str) -> Result<&str, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "kms", region, account, resource]
            if partition.starts_with("aws")
                && !region.is_empty()
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource
                    .strip_prefix("key/")
                    .is_some_and(|id| !id.is_empty()) =>
        {
            Ok(region)
        }
        _ => Err(format!(
            "{arn:?} is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::key_region;

    #[test]
    fn only_kms_key_arns_have_a_region() {
        for (arn, region) in [
            ("arn:aws:kms:eu-west-1:123456789012:key/abc", "eu-west-1"),
            (
                "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/a",
                "us-gov-west-1",
            ),
            ("arn:aws-cn:kms:cn-north-1:123456789012:key/a", "cn-north-1"),
        ] {
            assert_eq!(key_region(arn), Ok(region));
        }
        for bad in [
            "arn:aws:kms:eu-west-1:123456789012:alias/abc",
            "arn:aws:s3:eu-west-1:123456789012:key/abc",
            "arn:aws:kms::123456789012:key/abc",
            "arn:aws:kms:eu-west-1:1234:key/abc",
            "arn:aws:kms:eu-west-1:123456789012:key/",
            "arn:other:kms:eu-west-1:123456789012:key/abc",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "alias/coffer",
        ] {
            assert!(key_region(bad).is_err(), "{bad}");
        }
    }
}
