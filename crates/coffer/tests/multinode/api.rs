//! The few API calls the multi-node tests make, over plain HTTP with JSON bodies, plus a cheap
//! `Send + Clone` [`Client`] for tasks that hammer one node concurrently, and [`until`], which
//! measures how long a condition takes to hold (the 1 s propagation bounds).

use crate::node::Node;
use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Secrets of the `default` org.
pub const SECRETS: &str = "/api/v1/orgs/default/secrets";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A response: status, JSON body (or `Null`) and `Retry-After`.
#[derive(Debug)]
pub struct Resp {
    /// HTTP status.
    pub status: u16,
    /// Parsed body.
    pub body: Value,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
}

impl Resp {
    /// The stable error code, or "".
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// A node's address and an HTTP client: what a spawned task needs to call it.
#[derive(Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    /// A client of `node`.
    pub fn of(node: &Node) -> Client {
        Client {
            base: node.base.clone(),
            http: reqwest::Client::new(),
        }
    }

    /// One API call with `token`; panics if the node cannot be reached.
    pub async fn call(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.try_call(token, method, path, body)
            .await
            .unwrap_or_else(|e| panic!("{} {path}: {e}", self.base))
    }

    /// One API call with `token`; `Err` if the node could not be reached or answer.
    pub async fn try_call(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Resp, reqwest::Error> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await?;
        let status = r.status().as_u16();
        let retry_after = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = serde_json::from_str(&r.text().await?).unwrap_or(Value::Null);
        Ok(Resp {
            status,
            body,
            retry_after,
        })
    }

    /// `PUT` a new version of secret `path` (under [`SECRETS`]) with `value` and the `extra`
    /// request fields (`expect_version`, `view_limit`).
    pub async fn put(&self, token: &str, path: &str, value: &str, extra: Value) -> Resp {
        self.try_put(token, path, value, extra)
            .await
            .unwrap_or_else(|e| panic!("{} PUT {path}: {e}", self.base))
    }

    /// [`Client::put`], `Err` if the node could not be reached or answer.
    pub async fn try_put(
        &self,
        token: &str,
        path: &str,
        value: &str,
        extra: Value,
    ) -> Result<Resp, reqwest::Error> {
        let mut body = json!({ "value": B64.encode(value) });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let url = format!("{SECRETS}/{path}");
        self.try_call(token, Method::PUT, &url, Some(body)).await
    }

    /// Reveals secret `path` (its current version, or `version`).
    pub async fn reveal(&self, token: &str, path: &str, version: Option<u32>) -> Resp {
        let query = version.map_or(String::new(), |v| format!("?version={v}"));
        let url = format!("{SECRETS}/{path}/reveal{query}");
        self.call(token, Method::POST, &url, None).await
    }

    /// The value of one Prometheus sample (0 if absent), e.g.
    /// `coffer_blob_requests_total{backend="s3",operation="list",outcome="ok"}`.
    pub async fn metric(&self, sample: &str) -> f64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics body");
        text.lines()
            .filter_map(|l| l.strip_prefix(sample))
            .find_map(|rest| rest.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// The secret's metadata.
    pub async fn get(&self, token: &str, path: &str) -> Resp {
        let url = format!("{SECRETS}/{path}");
        self.call(token, Method::GET, &url, None).await
    }
}

/// The revealed value of a 200 reveal answer.
pub fn value(r: &Resp) -> String {
    assert_eq!(r.status, 200, "reveal failed: {r:?}");
    let b64 = r.body["value"].as_str().expect("value");
    String::from_utf8(B64.decode(b64).expect("base64")).expect("utf-8")
}

/// `admin` invites the new person `user` to `org` with `role`, who accepts; returns (token id,
/// token) of the token the acceptance gave them.
pub async fn member_token_in(
    node: &Node,
    admin: &str,
    org: &str,
    user: &str,
    role: &str,
) -> (String, String) {
    let c = Client::of(node);
    let invited = c
        .call(
            admin,
            Method::POST,
            &format!("/api/v1/orgs/{org}/invitations"),
            Some(json!({"name": user, "role": role})),
        )
        .await;
    assert!(invited.status < 300, "inviting {user}: {invited:?}");
    let code = invited.body["code"].as_str().expect("code");
    let made = c
        .call(
            "",
            Method::POST,
            "/api/v1/invitations/accept",
            Some(json!({"code": code})),
        )
        .await;
    assert!(made.status < 300, "{user} accepting: {made:?}");
    let id = made.body["token"]["info"]["id"]
        .as_str()
        .expect("token id")
        .to_owned();
    let token = made.body["token"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    (id, token)
}

/// [`member_token_in`] org `default`.
pub async fn member_token(node: &Node, admin: &str, user: &str, role: &str) -> (String, String) {
    member_token_in(node, admin, "default", user, role).await
}

/// Polls `check` (every 5 ms) until it holds, giving up after 10 s; returns how long it took
/// from `since`.
pub async fn until<F, Fut>(since: Instant, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let limit = Duration::from_secs(10);
    while !check().await {
        assert!(
            since.elapsed() < limit,
            "{what}: still not true after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    since.elapsed()
}
