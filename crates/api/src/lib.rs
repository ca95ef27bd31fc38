//! Coffer's wire contract: every JSON body that crosses `/api/v1`, shared by the server (which
//! serializes it and documents it in OpenAPI) and the CLI (which deserializes it). Keeping the
//! types in one crate with no server code means the client cannot drift from the server, and a
//! third-party client can depend on just this crate.
//!
//! Conventions: ids are UUIDs, timestamps are RFC 3339, secret values are base64 (standard,
//! padded) so binary files and text travel the same way, and every error is an [`ErrorBody`].

#![forbid(unsafe_code)]

mod audit;
mod keys;
mod orgs;
mod secrets;
mod storage;
mod uploads;
mod users;
mod web;

pub use audit::*;
pub use keys::*;
pub use orgs::*;
pub use secrets::*;
pub use storage::*;
pub use uploads::*;
pub use users::*;
pub use web::*;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Path prefix of every API route.
pub const API_PREFIX: &str = "/api/v1";

/// The body of every error response: `{"error": {"code": …, "message": …}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error itself.
    pub error: ErrorDetail,
}

/// A stable machine-readable code plus a sentence for humans saying what was wrong and what to do.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code, e.g. `not_found`, `version_conflict`, `org_suspended`.
    pub code: String,
    /// Human sentence: what was wrong and what to try.
    pub message: String,
}

/// Who the presented token belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    /// User name.
    pub user: String,
    /// Person, service account or operator.
    pub kind: IdentityKind,
    /// Slug of the org the token is scoped to (none for the operator, whose tokens act
    /// deployment-wide).
    pub org: Option<String>,
    /// The user's role in that org (none for the operator).
    pub role: Option<Role>,
    /// Whether the user is the deployment's operator (creates orgs, seats members, resets
    /// credentials; never a member of an org).
    pub operator: bool,
    /// Id of the token used.
    pub token_id: uuid::Uuid,
}
