//! The UI's files, embedded in the binary at build time (`crates/server/web/`): no build step,
//! no CDN, nothing fetched at run time. Every page route answers the same HTML shell; the ES
//! modules read the path and draw the page. Static files are served with their exact type and
//! `nosniff`; the shell is never cached (it must pick up a new binary's modules).

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::super::error::error_response;

macro_rules! web {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../../web/", $path)))),*]
    };
}

/// (path under `/static/`, contents).
const FILES: &[(&str, &str)] = web![
    "app.css",
    "js/api.js",
    "js/app.js",
    "js/envelope.js",
    "js/ui.js",
    "js/pages/access.js",
    "js/pages/account.js",
    "js/pages/admin_byok.js",
    "js/pages/admin_jira.js",
    "js/pages/audit.js",
    "js/pages/home.js",
    "js/pages/invite.js",
    "js/pages/issue.js",
    "js/pages/jira.js",
    "js/pages/keys.js",
    "js/pages/link.js",
    "js/pages/login.js",
    "js/pages/members.js",
    "js/pages/outside.js",
    "js/pages/request.js",
    "js/pages/shared.js",
    "js/pages/sso.js",
    "js/pages/storage.js",
    "js/pages/secret_row.js",
];

const SHELL: &str = include_str!("../../../web/index.html");

/// The HTML shell of every page.
pub async fn shell() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        SHELL,
    )
        .into_response()
}

/// One static file.
pub async fn file(Path(path): Path<String>) -> Response {
    let Some((_, body)) = FILES.iter().find(|(p, _)| *p == path) else {
        return error_response(StatusCode::NOT_FOUND, "not_found", "no such file");
    };
    let kind = if path.ends_with(".css") {
        "text/css; charset=utf-8"
    } else {
        "text/javascript; charset=utf-8"
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        *body,
    )
        .into_response()
}
