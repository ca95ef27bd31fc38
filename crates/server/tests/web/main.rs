//! The web UI's server side over real HTTP: sign-in and its cookie, the session acting on the
//! JSON API with its CSRF rules, sign-out and password changes revoking, the rate limit, another
//! org's objects answering 404, the search and audit filters, and the security headers and
//! embedded files. (The pages themselves are driven in chromium by crates/coffer/tests/browser.rs;
//! the Jira pages and the Forge app's pages, which need the Jira fake of this crate's test support,
//! by `jira` and `forge`, with [`chromium`] and [`playwright_dir`].)

#[path = "../support/app.rs"]
#[allow(dead_code)]
mod helpers;

mod forge;
mod jira;
mod pages;
mod sessions;

use helpers::*;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

pub const PASSWORD: &str = "a long enough passphrase";

use std::path::{Path, PathBuf};

/// The Chromium binary the in-browser tests drive (`COFFER_CHROMIUM`, else Debian's).
pub fn chromium() -> String {
    let path = std::env::var("COFFER_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&path).is_file(),
        "chromium is missing at {path}: scripts/test.sh installs it (apt-get install -y chromium), \
         or set COFFER_CHROMIUM to a Chromium binary"
    );
    path
}

/// The browser tests' node project (playwright-core), `npm ci`-ed when missing.
pub fn playwright_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../coffer/tests/browser");
    if !dir
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        let out = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "npm is needed for the browser tests ({e}); scripts/test.sh installs Node.js"
                )
            });
        assert!(
            out.status.success(),
            "npm ci in {} failed:\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

/// A signed-in browser: its cookie header value and CSRF token.
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
}

/// Sets the password of the person `token` belongs to (`current`: the one they have, if any).
pub async fn set_password(
    app: &TestApp,
    token: &str,
    password: &str,
    current: Option<&str>,
) -> Resp {
    app.call(
        token,
        Method::PUT,
        "/api/v1/me/password",
        Some(json!({"password": password, "current_password": current})),
    )
    .await
}

/// Raw sign-in.
pub async fn sign_in_raw(
    app: &TestApp,
    org: &str,
    user: &str,
    password: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"org": org, "user": user, "password": password}));
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

pub async fn sign_in(app: &TestApp, org: &str, user: &str, password: &str) -> Browser {
    let r = sign_in_raw(app, org, user, password, &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let set = r.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    Browser {
        cookie: set.split(';').next().unwrap().to_owned(),
        csrf: body["csrf_token"].as_str().unwrap().to_owned(),
    }
}

impl Browser {
    /// A request with the session cookie; `csrf` adds the header.
    pub async fn call(
        &self,
        app: &TestApp,
        method: Method,
        path: &str,
        body: Option<Value>,
        csrf: bool,
    ) -> Resp {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}{path}", app.base))
            .header(header::COOKIE, &self.cookie);
        if csrf {
            req = req.header("X-CSRF-Token", &self.csrf);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        Resp {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }
}
