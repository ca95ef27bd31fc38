//! The service's public error, named by meaning. Each variant carries a sentence for the user
//! (what was wrong and what to do) and never a secret value, token or key. The HTTP edge maps
//! variants to status codes and stable codes; backend details were logged where they happened.

use crate::catalog::CatalogError;
use crate::domain::ParseError;

/// Why a use case failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// The request was malformed (bad issue key, name, value shape).
    #[error("{0}")]
    InvalidInput(String),
    /// No usable token.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller may see the object but lacks the role for this action.
    #[error("{0}")]
    Forbidden(String),
    /// The caller is who they say, but a proof the action needs is missing or wrong (403), e.g.
    /// the current password; `code` is the stable error code.
    #[error("{message}")]
    ProofRequired {
        /// Stable snake_case code, e.g. `current_password_required`.
        code: &'static str,
        /// Sentence: what is missing and what to do.
        message: String,
    },
    /// No such object, or it belongs to another org.
    #[error("{0}")]
    NotFound(String),
    /// A name is taken.
    #[error("{0}")]
    AlreadyExists(String),
    /// Check-and-set failed.
    #[error("{message}")]
    VersionConflict {
        /// The version that is current.
        current: u32,
        /// Sentence.
        message: String,
    },
    /// The secret is soft-deleted and must be restored first.
    #[error("{0}")]
    SecretDeleted(String),
    /// The secret exists but can no longer be revealed (expired, view limit used up).
    #[error("{0}")]
    Gone(String),
    /// A client-side upload grant has expired; start a new upload.
    #[error("{0}")]
    UploadExpired(String),
    /// A value or body is over its size cap.
    #[error("{0}")]
    TooLarge(String),
    /// The org is suspended.
    #[error("{0}")]
    Suspended(String),
    /// The request contradicts the state of things and repeating it will not help (409), e.g.
    /// turning BYOK off; `code` is the stable error code.
    #[error("{message}")]
    Conflict {
        /// Stable snake_case code, e.g. `byok_irreversible`.
        code: &'static str,
        /// Sentence: why, and what to do instead.
        message: String,
    },
    /// A check the request asked for failed (400), e.g. a BYOK key that is disabled; `code` is
    /// the stable error code and the message names the failing step and the fix.
    #[error("{message}")]
    Rejected {
        /// Stable snake_case code, e.g. `byok_key_not_enabled`.
        code: &'static str,
        /// Sentence: which step failed, and how to fix it.
        message: String,
    },
    /// A dependency is briefly unavailable; retry.
    #[error("{0}")]
    Unavailable(String),
    /// Stored data failed an integrity check (tampered or corrupted); never wrong plaintext.
    #[error("{0}")]
    Integrity(String),
    /// Anything else; details were logged.
    #[error("internal error")]
    Internal(String),
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::InvalidInput(e.to_string())
    }
}

impl Error {
    /// Maps a catalog error that the caller did not handle specifically.
    pub(crate) fn catalog(e: CatalogError, what: impl FnOnce() -> String) -> Self {
        match e {
            CatalogError::NotFound => Error::NotFound(what()),
            CatalogError::AlreadyExists => {
                Error::AlreadyExists(format!("{} already exists", what()))
            }
            CatalogError::Unavailable(m) => {
                tracing::error!(error = %m, "catalog unavailable");
                Error::Unavailable("the catalog database is unavailable; retry shortly".into())
            }
            CatalogError::Halted => Error::Unavailable(
                "this server stopped accepting writes after its disk failed to save data (a \
                 failed fsync); reads still work, and nothing it acknowledged is lost. An \
                 operator must check the disk and restart it; retrying here will not help"
                    .into(),
            ),
            CatalogError::Refused(m) => Error::Conflict {
                code: "conflict",
                message: format!("{}: {m}", what()),
            },
            other => Error::Internal(format!("catalog: {other}")),
        }
    }
}
