//! Organizations (tenants) and their key versions.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Data-residency location of an org, e.g. `eu`: set at creation, never changed. `local` has no
/// constraint (the embedded default); every other location is defined in the server's config
/// (`[locations]`: `eu` = eu-central-1 + eu-west-1, `us` = us-east-1 + us-west-2, and whatever
/// the operator adds), which is why this is a name rather than a closed enum. 2–32 characters of
/// `a-z 0-9 -`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "eu")]
pub struct Location(String);

impl Location {
    /// The name of the location without residency constraints.
    pub const LOCAL: &'static str = "local";

    /// `local`: no residency constraint.
    pub fn local() -> Self {
        Self(Self::LOCAL.to_owned())
    }

    /// Parses a location name.
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = (2..=32).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && !s.ends_with('-')
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "{s:?} is not a location name: use 2-32 lowercase letters, digits or '-', starting with a letter (e.g. `eu`)"
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `local` (no residency, no AWS regions).
    pub fn is_local(&self) -> bool {
        self.0 == Self::LOCAL
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Location {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Location {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<Location> for String {
    fn from(l: Location) -> String {
        l.0
    }
}

/// Whether an org's secrets can be read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrgStatus {
    /// Normal operation.
    Active,
    /// Secret reads and writes answer 423 (e.g. its BYOK key was revoked).
    Suspended,
}

text_enum!(OrgStatus {
    Active => "active",
    Suspended => "suspended",
});

/// `POST /api/v1/orgs` (operator only).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    /// URL-safe identifier, e.g. `beta`.
    pub slug: String,
    /// Display name; defaults to the slug.
    #[serde(default)]
    pub name: Option<String>,
    /// Residency location; defaults to `local`.
    #[serde(default)]
    pub location: Option<Location>,
}

/// An organization.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Org {
    /// Id.
    pub id: Uuid,
    /// Slug used in paths.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Residency location (immutable).
    pub location: Location,
    /// Active or suspended.
    pub status: OrgStatus,
    /// Why the org is suspended, when it is.
    pub suspended_reason: Option<String>,
    /// Version of the org key new writes use.
    pub key_version: u32,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `GET /api/v1/orgs`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrgList {
    /// Orgs visible to the caller.
    pub orgs: Vec<Org>,
}

/// `POST /api/v1/orgs/{org}/keys/rotate`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RotateKeyResponse {
    /// The key version new writes now use.
    pub key_version: u32,
    /// The version it replaced (still used to decrypt older secret versions).
    pub previous_version: u32,
}

#[cfg(test)]
mod tests {
    use super::Location;

    #[test]
    fn location_names_parse_and_round_trip_as_strings() {
        for ok in ["local", "eu", "us", "ap-south", "ca2"] {
            let l = Location::parse(ok).unwrap();
            assert_eq!(serde_json::to_value(&l).unwrap(), ok);
            assert_eq!(serde_json::from_value::<Location>(ok.into()).unwrap(), l);
        }
        for bad in ["", "e", "EU", "1eu", "eu-", "eu_west", &"x".repeat(33)] {
            assert!(Location::parse(bad).is_err(), "{bad}");
            assert!(serde_json::from_value::<Location>(bad.into()).is_err());
        }
        assert!(Location::local().is_local() && !Location::parse("eu").unwrap().is_local());
    }
}
