//! The errors a client command can end with, and how each is shown and which exit code it
//! gives. Display texts never contain token or secret values: server messages are shown as the
//! server wrote them (it never echoes values), and transport errors only name the address.

use std::fmt;

/// Result of a command.
pub type Result<T, E = CliError> = std::result::Result<T, E>;

/// Why a command failed.
#[derive(Debug)]
pub enum CliError {
    /// The server answered with an `{"error": {...}}` body.
    Api {
        /// HTTP status.
        status: u16,
        /// Stable machine-readable code.
        code: String,
        /// Human sentence from the server.
        message: String,
        /// Whether the request carried a token at all.
        sent_token: bool,
        /// Whether that token was the stored one of `coffer login`.
        login_token: bool,
    },
    /// The server answered an error status without a Coffer error body.
    Http {
        /// HTTP status line, e.g. `404 Not Found`.
        status: String,
        /// Start of the body, if it was text.
        body: String,
    },
    /// Nothing listens at the address.
    Unreachable {
        /// The `--addr` in use.
        addr: String,
    },
    /// The command line was valid for clap but not usable (exit 2, like clap's usage errors).
    Usage(String),
    /// Anything else (I/O, malformed responses, …), with context.
    Other(anyhow::Error),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }

    /// An extra line printed after the error, when one helps.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            CliError::Api {
                status: 401,
                login_token: true,
                ..
            } => Some(
                "the token of `coffer login` was used: it may have been revoked; run `coffer login` again",
            ),
            CliError::Api {
                status: 401,
                sent_token: true,
                ..
            } => Some(
                "check COFFER_TOKEN (or --token): the token may be mistyped, expired or revoked",
            ),
            CliError::Api {
                status: 401,
                sent_token: false,
                ..
            } => Some(
                "no token was sent: set COFFER_TOKEN, pass --token, sign in with `coffer login`, or run where ./coffer-data/admin.token exists",
            ),
            _ => None,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Api { code, message, .. } => write!(f, "{message} ({code})"),
            CliError::Http { status, body } if body.is_empty() => {
                write!(f, "server answered {status}")
            }
            CliError::Http { status, body } => write!(f, "server answered {status}: {body}"),
            CliError::Unreachable { addr } => write!(
                f,
                "cannot reach Coffer at {addr}: is `coffer serve` running? (set COFFER_ADDR or --addr)"
            ),
            CliError::Usage(message) => f.write_str(message),
            CliError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for CliError {}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::Other(e)
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Other(e.into())
    }
}
