//! The app harness of the server's black-box tests: one isolated app per test (temp data dir,
//! port 0) and a small JSON client. Every test binary that runs the app includes this file.

pub use base64::Engine;
use coffer_server::config::{Config, Overrides};
use coffer_server::startup::RunningApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The password test people choose when they accept an invitation.
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub app: RunningApp,
    pub base: String,
    /// The token of `admin`, the first owner of org `default`.
    pub token: String,
    /// The deployment operator's token.
    pub operator: String,
    pub dir: tempfile::TempDir,
    client: reqwest::Client,
}

/// A response: status and JSON body (or `Null`).
pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

/// Starts an app whose config `tweak` may adjust.
pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::load(
        None,
        Overrides {
            data_dir: Some(dir.path().join("data")),
            listen: Some("127.0.0.1:0".into()),
        },
    )
    .unwrap();
    tweak(&mut config);
    let app = RunningApp::start(&config).await.expect("app starts");
    let token = app
        .admin_token
        .as_ref()
        .expect("fresh data dir bootstraps")
        .to_string();
    let operator = app
        .operator_token
        .as_ref()
        .expect("fresh data dir seats the operator")
        .to_string();
    let mut t = TestApp::attach(app, token, dir);
    t.operator = operator;
    t
}

impl TestApp {
    /// Wraps an app started by the test itself (e.g. restarted on `dir`'s data).
    pub fn attach(app: RunningApp, token: String, dir: tempfile::TempDir) -> TestApp {
        let base = format!("http://{}", app.addr);
        TestApp {
            app,
            base,
            token,
            operator: String::new(),
            dir,
            client: reqwest::Client::new(),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// One call with `token` (none if empty).
    pub async fn call(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request sent");
        let status = r.status();
        let text = r.text().await.unwrap();
        Resp {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(&self.token, Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(&self.token, Method::POST, path, Some(body)).await
    }

    /// Writes `value` to `default/{scope}/{name}` with extra request fields.
    pub async fn put_secret_as(
        &self,
        token: &str,
        org: &str,
        scope: &str,
        name: &str,
        value: &[u8],
        extra: Value,
    ) -> Resp {
        let mut body = json!({"value": B64.encode(value)});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap_or_default());
        self.call(
            token,
            Method::PUT,
            &format!("/api/v1/orgs/{org}/secrets/{scope}/{name}"),
            Some(body),
        )
        .await
    }

    pub async fn put_secret(&self, scope: &str, name: &str, value: &[u8]) -> Resp {
        self.put_secret_as(&self.token, "default", scope, name, value, json!({}))
            .await
    }

    /// Reveals and decodes; panics unless 200.
    pub async fn reveal_as(&self, token: &str, org: &str, scope: &str, name: &str) -> Resp {
        self.call(
            token,
            Method::POST,
            &format!("/api/v1/orgs/{org}/secrets/{scope}/{name}/reveal"),
            None,
        )
        .await
    }

    pub async fn reveal(&self, scope: &str, name: &str) -> Vec<u8> {
        let r = self.reveal_as(&self.token, "default", scope, name).await;
        assert_eq!(r.status, 200, "reveal failed: {}", r.body);
        B64.decode(r.body["value"].as_str().unwrap()).unwrap()
    }

    /// The operator creates org `slug` and invites `user` (a new person) as its owner, who
    /// accepts; returns that person's token.
    pub async fn org_with_owner(&self, slug: &str, user: &str) -> String {
        self.org_with_owner_in(slug, "local", user).await.1
    }

    /// Like [`Self::org_with_owner`] with a location; returns the org's id and the owner's token.
    pub async fn org_with_owner_in(
        &self,
        slug: &str,
        location: &str,
        user: &str,
    ) -> (String, String) {
        let r = self
            .call(
                &self.operator,
                Method::POST,
                "/api/v1/orgs",
                Some(json!({"slug": slug, "location": location})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        (
            id,
            self.member_as(&self.operator, slug, user, "owner").await,
        )
    }

    /// `inviter` invites the new person `user` to `org` with `role`, who accepts (with a
    /// password); returns their token.
    pub async fn member_as(&self, inviter: &str, org: &str, user: &str, role: &str) -> String {
        let code = self.invite_as(inviter, org, user, role).await;
        let r = self.accept(None, &code, Some(PASSWORD)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["token"]["token"].as_str().unwrap().to_owned()
    }

    /// Like [`Self::member_as`], invited by `admin` of `default`.
    pub async fn member(&self, user: &str, role: &str) -> String {
        self.member_as(&self.token, "default", user, role).await
    }

    /// `granter` grants `to` (`user:NAME`, `svc:NAME`, `group:NAME`) `level` on `scope` of
    /// `org`; returns the answer.
    pub async fn grant_as(
        &self,
        granter: &str,
        org: &str,
        scope: &str,
        to: &str,
        level: &str,
    ) -> Resp {
        self.call(
            granter,
            Method::POST,
            &format!("/api/v1/orgs/{org}/grants"),
            Some(json!({"scope": scope, "to": to, "level": level})),
        )
        .await
    }

    /// `admin` of `default` grants `to` `level` on `scope`; the grant must succeed.
    pub async fn grant(&self, scope: &str, to: &str, level: &str) {
        let r = self
            .grant_as(&self.token, "default", scope, to, level)
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }

    /// `inviter` invites `user` to `org` with `role`; returns the code.
    pub async fn invite_as(&self, inviter: &str, org: &str, user: &str, role: &str) -> String {
        let r = self
            .call(
                inviter,
                Method::POST,
                &format!("/api/v1/orgs/{org}/invitations"),
                Some(json!({"name": user, "role": role})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["code"].as_str().unwrap().to_owned()
    }

    /// Accepts an invitation, signed in with `token` (or not at all).
    pub async fn accept(&self, token: Option<&str>, code: &str, password: Option<&str>) -> Resp {
        let mut req = self
            .client
            .post(format!("{}/api/v1/invitations/accept", self.base))
            .json(&json!({"code": code, "password": password}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.expect("request sent");
        let status = r.status();
        let text = r.text().await.unwrap();
        Resp {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// Writes the failed authentications counted so far to the audit chains (the background job
    /// does it every `server.failed_auth_flush_interval`).
    pub async fn flush_failed_auth(&self) -> usize {
        self.app.coffer().flush_failed_auth().await
    }

    /// A counter's value from /metrics, summed over label sets containing every `labels` pair.
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let text = reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| {
                l.starts_with(name)
                    && labels
                        .iter()
                        .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}
