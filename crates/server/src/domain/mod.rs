//! Parsed domain values shared by every layer: ids, names, issue keys, roles, and the pure
//! authorization policy. "Parse, don't validate": each newtype can only be built through a
//! constructor that enforces its invariant, so code holding one never re-checks it. Nothing here
//! does I/O or knows about any backend.

mod aws;
mod ids;
mod names;
pub mod policy;
mod scope;
mod storage;
mod time;
#[cfg(test)]
mod wire_patterns;

pub use aws::{AwsRegion, ExternalId, KmsKeyArn, Locations, RoleArn, default_locations};
pub use ids::{InvitationId, OrgId, ResetId, SecretId, StorageId, TokenId, UploadId, UserId};
pub use names::{OrgSlug, SecretName, UserName};
pub use policy::IdentityKind;
pub use scope::{IssueKey, ProjectKey, Scope};
pub use storage::{BucketName, KeyPrefix};
pub use time::{Lifetime, Timestamp};

pub use coffer_api::{Location, OrgStatus, Role, SecretKind};

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
