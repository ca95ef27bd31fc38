//! Arguments of `coffer org keys …` (an org's root keys: BYOK setup, enable, status, probe) and
//! `coffer admin …` (the operator's view of every BYOK org). `--key` takes `REGION=ARN` so the
//! region a key is meant for is explicit and checked against the ARN by the server.

use clap::{Subcommand, ValueEnum};

/// `coffer org keys …`.
#[derive(Subcommand)]
pub enum OrgKeysCommand {
    /// Print what to create in AWS before enabling BYOK: the external id, the role's trust
    /// policy, the key-policy statements and a CloudFormation template.
    Setup {
        /// Org slug [default: --org].
        slug: Option<String>,
        /// Print only this document, as JSON (e.g. to save the template to a file).
        #[arg(long, value_enum, value_name = "DOCUMENT")]
        print: Option<SetupDocument>,
    },
    /// Enable BYOK: wrap the org's keys with your own KMS keys, one per region of its location.
    ///
    /// Everything is validated first (role, each key's state and an encrypt/decrypt probe);
    /// nothing changes if any step fails. BYOK cannot be turned off afterwards.
    Byok {
        /// Org slug [default: --org].
        slug: Option<String>,
        /// The IAM role Coffer assumes, e.g. arn:aws:iam::111122223333:role/coffer-byok-acme.
        #[arg(long, value_name = "ARN")]
        role_arn: String,
        /// A key per region: REGION=ARN (repeat for each region of the org's location).
        #[arg(long = "key", value_name = "REGION=ARN", required = true, value_parser = parse_region_key)]
        keys: Vec<(String, String)>,
    },
    /// Go back to Coffer-managed keys: refused once BYOK is enabled (the command says why).
    Local {
        /// Org slug [default: --org].
        slug: Option<String>,
    },
    /// Show who holds the org's keys and, for BYOK, each region's key and its last probe.
    Show {
        /// Org slug [default: --org].
        slug: Option<String>,
    },
    /// Probe the org's keys now (DescribeKey and a decrypt in each region) and show the result.
    Check {
        /// Org slug [default: --org].
        slug: Option<String>,
    },
}

/// One document of `coffer org keys setup`.
#[derive(Clone, Copy, ValueEnum)]
pub enum SetupDocument {
    /// The role's trust policy.
    TrustPolicy,
    /// The statements to add to each key's policy.
    KeyPolicy,
    /// The CloudFormation template (role + key).
    Cloudformation,
}

/// `coffer admin …` (deployment operator).
#[derive(Subcommand)]
pub enum AdminCommand {
    /// List every BYOK org with its keys' state per region, last probe and KMS calls.
    Byok,
}

/// Parses `REGION=ARN`.
pub fn parse_region_key(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((region, arn)) if !region.is_empty() && !arn.is_empty() => {
            Ok((region.to_owned(), arn.to_owned()))
        }
        _ => Err(format!(
            "{s:?} is not REGION=ARN (e.g. eu-west-1=arn:aws:kms:eu-west-1:111122223333:key/ID)"
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn region_keys_parse() {
        let (r, a) = super::parse_region_key("eu-west-1=arn:aws:kms:x").unwrap();
        assert_eq!((r.as_str(), a.as_str()), ("eu-west-1", "arn:aws:kms:x"));
        for bad in ["eu-west-1", "=arn", "eu-west-1="] {
            assert!(super::parse_region_key(bad).is_err(), "{bad}");
        }
    }
}
