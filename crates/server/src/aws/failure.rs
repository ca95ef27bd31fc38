//! What a failed AWS SDK call means, for the `s3` and `aws-kms` backends to map onto their
//! seams' errors. The SDK reports transport problems, service answers and credential failures
//! in different shapes (an assumed role that is refused surfaces as a dispatch failure wrapping
//! the STS error); this module walks those shapes once so both backends agree on what is
//! transient (retry, fail over, never suspend) and what is a refusal (tell the admin).

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use std::error::Error as StdError;

/// What a failed SDK call means, for the backends to map onto their seam's errors.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The service answered with an error that retrying will not fix.
    Service {
        /// HTTP status.
        status: u16,
        /// AWS error code, e.g. `AccessDenied`.
        code: String,
        /// AWS error message.
        message: String,
    },
    /// The role's owner refused `sts:AssumeRole` (trust policy, external id, deleted role).
    RoleDenied(String),
    /// Timeouts, throttling, 5xx, connection failures, credentials that could not be loaded.
    Transient(String),
    /// The request could not be built (a bug or invalid input).
    Invalid(String),
}

const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "SlowDown",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "KMSInternalException",
    "DependencyTimeoutException",
    "KeyUnavailableException",
];

fn find_in_chain<'a, T: StdError + 'static>(
    mut e: Option<&'a (dyn StdError + 'static)>,
) -> Option<&'a T> {
    while let Some(err) = e {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        e = err.source();
    }
    None
}

fn chain_text(e: &(dyn StdError + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(err) = next {
        text.push_str(": ");
        text.push_str(&err.to_string());
        next = err.source();
    }
    text
}

/// Classifies an SDK error by meaning.
pub(crate) fn classify<E>(err: &SdkError<E>) -> Failure
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    match err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let code = ctx.err().code().unwrap_or("").to_owned();
            let message = ctx.err().message().unwrap_or("").to_owned();
            if status >= 500 || status == 429 || TRANSIENT_CODES.contains(&code.as_str()) {
                Failure::Transient(format!("{code} (HTTP {status}) {message}"))
            } else {
                Failure::Service {
                    status,
                    code,
                    message,
                }
            }
        }
        SdkError::ConstructionFailure(_) => Failure::Invalid(chain_text(err)),
        _ => {
            let source = StdError::source(err);
            if let Some(SdkError::ServiceError(ctx)) =
                find_in_chain::<SdkError<AssumeRoleError>>(source)
            {
                let status = ctx.raw().status().as_u16();
                let code = ctx.err().code();
                if status == 403 || code == Some("AccessDenied") {
                    let code = code.unwrap_or("AccessDenied");
                    let message = ctx.err().message().unwrap_or("").trim();
                    let text = format!("{code} (HTTP {status}) {message}");
                    return Failure::RoleDenied(text.trim().to_owned());
                }
            }
            if find_in_chain::<CredentialsError>(source).is_some() {
                return Failure::Transient(format!("AWS credentials: {}", chain_text(err)));
            }
            Failure::Transient(chain_text(err))
        }
    }
}
