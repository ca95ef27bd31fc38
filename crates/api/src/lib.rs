//! Coffer's wire contract: every JSON body that crosses `/api/v1`, shared by the server (which
//! serializes it and documents it in OpenAPI) and the CLI (which deserializes it). Keeping the
//! types in one crate with no server code means the client cannot drift from the server, and a
//! third-party client can depend on just this crate.
//!
//! Conventions: ids are UUIDs, timestamps are RFC 3339, secret values are base64 (standard,
//! padded) so binary files and text travel the same way, and every error is an [`ErrorBody`].

#![forbid(unsafe_code)]

/// The text forms of a wire enum whose variants serialize as lowercase names: `ALL`, `as_str`,
/// `Display` and `FromStr`, so the server stores and the CLI parses exactly what serde writes
/// (a test holds each to serde's form).
macro_rules! text_enum {
    ($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The wire and stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $ty::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| {
                        let all: Vec<&str> = $ty::ALL.iter().map(|v| v.as_str()).collect();
                        format!("{s:?} is not one of: {}", all.join(", "))
                    })
            }
        }
    };
}

mod access;
mod audit;
mod jira;
mod keys;
mod links;
mod orgs;
pub mod patterns;
mod recovery;
mod scim;
mod secrets;
mod sso;
mod storage;
mod uploads;
mod users;
mod web;
mod webhooks;
pub(crate) mod whole;

pub use access::*;
pub use audit::*;
pub use jira::*;
pub use keys::*;
pub use links::*;
pub use orgs::*;
pub use recovery::*;
pub use scim::*;
pub use secrets::*;
pub use sso::*;
pub use storage::*;
pub use uploads::*;
pub use users::*;
pub use web::*;
pub use webhooks::*;

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

#[cfg(test)]
mod text_enum_tests {
    use super::*;

    fn same_as_serde<
        T: serde::Serialize + std::str::FromStr + PartialEq + std::fmt::Debug + Copy,
    >(
        all: &[T],
        text: impl Fn(T) -> &'static str,
    ) {
        for v in all {
            assert_eq!(serde_json::to_value(v).unwrap(), text(*v));
            assert_eq!(text(*v).parse::<T>().ok(), Some(*v));
        }
    }

    #[test]
    fn text_forms_are_serdes() {
        same_as_serde(Role::ALL, Role::as_str);
        same_as_serde(SecretKind::ALL, SecretKind::as_str);
        same_as_serde(OrgStatus::ALL, OrgStatus::as_str);
        same_as_serde(WebhookEvent::ALL, WebhookEvent::as_str);
        same_as_serde(DeliveryState::ALL, DeliveryState::as_str);
        assert!("admins".parse::<Role>().unwrap_err().contains("owner"));
    }
}
