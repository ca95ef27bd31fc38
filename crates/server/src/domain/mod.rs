//! Parsed domain values shared by every layer: ids, names, issue keys, roles, and the pure
//! authorization policy. "Parse, don't validate": each newtype can only be built through a
//! constructor that enforces its invariant, so code holding one never re-checks it. Nothing here
//! does I/O or knows about any backend.

/// Declares a text newtype — the one way `domain` declares one. The type's own `parse(&str) ->
/// Result<Self, ParseError>` holds its rule; the macro gives it `as_str`, `Display`, `FromStr`
/// and serde (through `parse`, so a value read from JSON or TOML is checked like one from a
/// path), and nothing that builds one without `parse`.
macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// As text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::domain::ParseError;
            fn from_str(s: &str) -> Result<Self, $crate::domain::ParseError> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::domain::ParseError;
            fn try_from(s: String) -> Result<Self, $crate::domain::ParseError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
    };
}

mod access;
mod aws;
mod ids;
mod names;
pub mod policy;
mod scope;
mod storage;
mod time;
#[cfg(test)]
mod wire_patterns;

pub use access::{GrantScope, PrincipalName};
pub use aws::{AwsRegion, ExternalId, KmsKeyArn, Locations, RoleArn, default_locations};
pub use ids::{
    DeliveryId, GrantId, GroupId, InvitationId, LinkId, OrgId, RequestId, ResetId, ScimTokenId,
    SecretId, StorageId, TokenId, UploadId, UserId, WebhookId,
};
pub use names::{GroupName, OrgSlug, SecretName, UserName};
pub use policy::IdentityKind;
pub use scope::{IssueKey, ProjectKey, Scope};
pub use storage::{BucketName, KeyPrefix};
pub use time::{Lifetime, Timestamp};

pub use coffer_api::{
    AccessLevel, DeliveryState, Location, OrgStatus, Role, SecretKind, WebhookEvent,
};

/// Why a value could not be parsed: names the field and says what a valid one looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {message}")]
pub struct ParseError {
    /// The field that was wrong (e.g. `issue key`).
    pub field: &'static str,
    /// What is wrong and what a valid value looks like.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
