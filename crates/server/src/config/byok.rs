//! The BYOK part of the configuration: data-residency locations and their AWS regions
//! (`[locations]`), and how Coffer itself appears to and reaches AWS (`[byok]`: its principal,
//! which org roles trust, and the SDK settings its calls use). Kept apart from `config.rs` so the
//! rules that tie them together — every location has distinct regions, no region belongs to two
//! locations (so "a key in another location" is well defined), `local` is not configurable —
//! live and are tested in one place.

use super::{Config, ConfigError};
use crate::aws::AwsSettings;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `[byok]`: Coffer's side of customer-managed keys.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ByokConfig {
    /// Coffer's AWS principal (the role or user its AWS credentials belong to), e.g.
    /// `arn:aws:iam::111122223333:role/coffer`: org roles trust it. BYOK is offered only when
    /// this is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_arn: Option<String>,
    /// How Coffer reaches AWS for BYOK calls (credentials, endpoint, timeouts, retries); the
    /// org's role is assumed on top of these credentials. Never serialized (it may hold keys).
    #[serde(default, skip_serializing)]
    pub aws: AwsSettings,
}

fn bad(message: String) -> ConfigError {
    ConfigError::OutOfRange(message)
}

/// The rules of `[locations]`, `[byok]` and `keys.probe_interval`.
pub(super) fn check(c: &Config) -> Result<(), ConfigError> {
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for (location, regions) in &c.locations {
        if location.is_local() {
            return Err(bad(
                "locations.local cannot be configured: `local` means no AWS regions".into(),
            ));
        }
        if regions.is_empty() {
            return Err(bad(format!(
                "locations.{location} needs at least one region"
            )));
        }
        for r in regions {
            if let Some(other) = owner.insert(r.as_str(), location.as_str()) {
                return Err(bad(format!(
                    "region {r} is in both locations.{other} and locations.{location}: a region belongs to one location"
                )));
            }
        }
    }
    if let Some(p) = &c.byok.principal_arn {
        let ok = p.starts_with("arn:") && p.contains(":iam::") && !p.contains(char::is_whitespace);
        if !ok {
            return Err(bad(format!(
                "byok.principal_arn {p:?} is not an IAM principal ARN (e.g. arn:aws:iam::111122223333:role/coffer)"
            )));
        }
    }
    if !c.keys.probe_interval.is_zero() && c.keys.probe_interval.as_millis() < 100 {
        return Err(bad(
            "keys.probe_interval must be 0s (off) or at least 100ms".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature, not ours
mod tests {
    use crate::config::{Config, Overrides};
    use std::path::Path;
    use std::time::Duration;

    fn load(toml: &str) -> Result<Config, String> {
        let mut out = Err(String::new());
        figment::Jail::expect_with(|jail| {
            jail.create_file("coffer.toml", toml)?;
            out = Config::load(Some(Path::new("coffer.toml")), Overrides::default())
                .map_err(|e| e.to_string());
            Ok(())
        });
        out
    }

    #[test]
    fn locations_default_to_eu_and_us_and_operators_may_add_more() {
        let c = load("").unwrap();
        let names: Vec<_> = c.locations.keys().map(|l| l.as_str()).collect();
        assert_eq!(names, ["eu", "us"]);
        assert_eq!(
            c.locations.values().next().unwrap()[1].as_str(),
            "eu-west-1"
        );
        assert_eq!(c.keys.probe_interval, Duration::from_secs(30));
        assert!(c.byok.principal_arn.is_none());
        let c = load(
            "[locations]\nca = [\"ca-central-1\", \"ca-west-1\"]\n[keys]\nprobe_interval = \"200ms\"\n\
             [byok]\nprincipal_arn = \"arn:aws:iam::111122223333:role/coffer\"\n\
             [byok.aws]\nendpoint = \"http://127.0.0.1:5000\"\nmax_attempts = 1\n",
        )
        .unwrap();
        assert_eq!(c.locations.len(), 3, "added to the defaults");
        assert_eq!(c.keys.probe_interval, Duration::from_millis(200));
        assert_eq!(
            c.byok.aws.endpoint.as_deref(),
            Some("http://127.0.0.1:5000")
        );
    }

    #[test]
    fn bad_locations_and_principals_are_named() {
        for (toml, says) in [
            ("[locations]\nlocal = [\"eu-west-3\"]\n", "locations.local"),
            ("[locations]\nfr = []\n", "at least one region"),
            (
                "[locations]\nfr = [\"eu-west-1\"]\n",
                "eu-west-1 is in both",
            ),
            ("[locations]\nfr = [\"paris\"]\n", "AWS region"),
            ("[byok]\nprincipal_arn = \"coffer\"\n", "byok.principal_arn"),
            ("[keys]\nprobe_interval = \"10ms\"\n", "probe_interval"),
        ] {
            let err = load(toml).unwrap_err();
            assert!(err.contains(says), "{toml}: {err}");
        }
    }
}
