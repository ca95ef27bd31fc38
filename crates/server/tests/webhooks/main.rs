//! Org webhooks and expiry reminders (docs/webhooks.md), black-box against the real app on port 0
//! and a real receiver the test starts on the loopback (an axum server that records every request
//! — headers and the exact raw body — and can be told to fail), on the SQLite catalog and on
//! PostgreSQL: deliveries signed over the exact bytes received, a reveal arriving as
//! `secret.revealed`, retries carrying one event id until a 2xx, the dead letter and
//! redelivery, the SSRF rules on add, the tenancy of webhooks across two orgs and roles (service
//! accounts refused), exactly one `secret.expiring` per expiry, no secret value in any body, two
//! nodes on one PostgreSQL database sending each delivery once, and one org's hanging receiver,
//! suspension or unreadable webhook row never holding up another org's deliveries.

#[path = "../support/backend.rs"]
#[allow(dead_code)]
mod backend;
#[path = "../support/app.rs"]
#[allow(dead_code)]
mod helpers;

mod chains;
mod deliveries;
mod expiry;
mod isolation;
mod nodes;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
pub use backend::Backend;
use backend::catalog;
use coffer_server::testing::pg::TestDb;
use helpers::{Resp, TestApp, spawn_with};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a test waits for something the background jobs do.
const PATIENCE: Duration = Duration::from_secs(30);

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    /// The body exactly as it arrived.
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }

    /// Whether `Coffer-Signature` is the HMAC-SHA256, keyed with `secret`, of `<t>.<raw body>`
    /// — checked the way docs/webhooks.md tells receivers to.
    pub fn signed_with(&self, secret: &str) -> bool {
        let sig = self.header("coffer-signature");
        let mut t = None;
        let mut v1 = Vec::new();
        for part in sig.split(',') {
            match part.split_once('=') {
                Some(("t", v)) => t = Some(v.to_owned()),
                Some(("v1", v)) => v1.push(v.to_owned()),
                _ => {}
            }
        }
        let Some(t) = t else { return false };
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
        let mut signed = t.clone().into_bytes();
        signed.push(b'.');
        signed.extend_from_slice(&self.body);
        v1.iter().any(|hex_sig| {
            hex::decode(hex_sig)
                .is_ok_and(|mac| aws_lc_rs::hmac::verify(&key, &signed, &mac).is_ok())
        })
    }
}

#[derive(Default)]
struct ReceiverState {
    got: Vec<Received>,
    /// Answer 500 to this many more requests.
    fail_next: usize,
    /// Answer 500 to every request.
    always_fail: bool,
}

/// A webhook receiver on the loopback.
pub struct Receiver {
    /// `http://127.0.0.1:PORT/hook`.
    pub url: String,
    state: Arc<Mutex<ReceiverState>>,
    task: tokio::task::JoinHandle<()>,
}

async fn receive(
    State(state): State<Arc<Mutex<ReceiverState>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut s = state.lock().unwrap();
    s.got.push(Received { headers, body });
    if s.always_fail {
        StatusCode::INTERNAL_SERVER_ERROR
    } else if s.fail_next > 0 {
        s.fail_next -= 1;
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::NO_CONTENT
    }
}

impl Receiver {
    pub async fn start() -> Receiver {
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { url, state, task }
    }

    /// Fails the next `n` requests (503).
    pub fn fail_next(&self, n: usize) {
        self.state.lock().unwrap().fail_next = n;
    }

    /// Fails every request (500) until told otherwise.
    pub fn always_fail(&self, yes: bool) {
        self.state.lock().unwrap().always_fail = yes;
    }

    /// Everything received so far.
    pub fn got(&self) -> Vec<Received> {
        self.state.lock().unwrap().got.clone()
    }

    /// What was received for events of `kind`.
    pub fn of_type(&self, kind: &str) -> Vec<Received> {
        self.got()
            .into_iter()
            .filter(|r| r.header("coffer-event-type") == kind)
            .collect()
    }

    /// Waits until `n` requests for events of `kind` arrived; returns them.
    pub async fn wait_for(&self, kind: &str, n: usize) -> Vec<Received> {
        eventually(&format!("{n} {kind} deliveries"), || {
            let got = self.of_type(kind);
            (got.len() >= n).then_some(got)
        })
        .await
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Polls `check` until it gives a value, failing after [`PATIENCE`].
pub async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Webhooks allowed on the loopback, with jobs and retries fast enough for a test.
pub fn fast_webhooks(c: &mut coffer_server::config::Config) {
    let w = &mut c.webhooks;
    w.allow_loopback = true;
    w.interval = Duration::from_millis(100);
    w.expiry_interval = Duration::from_millis(200);
    w.timeout = Duration::from_secs(5);
    w.max_attempts = 4;
    w.backoff_base = Duration::from_millis(100);
    w.backoff_max = Duration::from_millis(300);
}

/// Org `alpha` (owner `aowner`, member `amember`) and org `bravo` (owner `bowner`, admin
/// `badmin`), on one catalog, with webhooks allowed on the loopback and fast retries.
pub struct World {
    pub app: TestApp,
    /// The PostgreSQL database, kept alive as long as the app (`None` on SQLite).
    pub db: Option<TestDb>,
    pub aowner: String,
    pub amember: String,
    pub bowner: String,
    pub badmin: String,
}

impl World {
    pub async fn start(backend: Backend) -> World {
        World::start_with(backend, |_| {}).await
    }

    /// Like [`World::start`], with `tweak` applied to the config after the fast webhooks.
    pub async fn start_with(
        backend: Backend,
        tweak: impl FnOnce(&mut coffer_server::config::Config) + Send + 'static,
    ) -> World {
        let (settings, db) = catalog(backend).await;
        let app = spawn_with(move |c| {
            if let Some(s) = settings {
                c.catalog = s;
            }
            fast_webhooks(c);
            tweak(c);
        })
        .await;
        let aowner = app.org_with_owner("alpha", "aowner").await;
        let amember = app.member_as(&aowner, "alpha", "amember", "member").await;
        let bowner = app.org_with_owner("bravo", "bowner").await;
        let badmin = app.member_as(&bowner, "bravo", "badmin", "admin").await;
        World {
            app,
            db,
            aowner,
            amember,
            bowner,
            badmin,
        }
    }

    pub async fn call(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.app.call(token, method, path, body).await
    }

    /// `token` adds a webhook to `org` for `events` at `url`; returns the answer.
    pub async fn add(&self, token: &str, org: &str, url: &str, events: &[&str]) -> Resp {
        self.call(
            token,
            Method::POST,
            &format!("/api/v1/orgs/{org}/webhooks"),
            Some(json!({"url": url, "events": events, "description": "test receiver"})),
        )
        .await
    }

    /// Like [`World::add`], which must succeed; returns (id, signing secret).
    pub async fn webhook(
        &self,
        token: &str,
        org: &str,
        url: &str,
        events: &[&str],
    ) -> (String, String) {
        let r = self.add(token, org, url, events).await;
        assert_eq!(r.status, 201, "{}", r.body);
        (
            r.body["webhook"]["id"].as_str().unwrap().to_owned(),
            r.body["secret"].as_str().unwrap().to_owned(),
        )
    }

    /// The deliveries of `org`'s webhook `id` as `token` lists them.
    pub async fn deliveries(&self, token: &str, org: &str, id: &str, failed: bool) -> Vec<Value> {
        let r = self
            .call(
                token,
                Method::GET,
                &format!("/api/v1/orgs/{org}/webhooks/{id}/deliveries?failed={failed}"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["deliveries"].as_array().unwrap().clone()
    }

    /// Waits until the webhook's deliveries satisfy `check`; returns them.
    pub async fn deliveries_until(
        &self,
        token: &str,
        org: &str,
        id: &str,
        what: &str,
        check: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let list = self.deliveries(token, org, id, false).await;
            if check(&list) {
                return list;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: {list:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `token` writes `value` to `org`'s `scope`/`name`, with extra request fields.
    pub async fn put(
        &self,
        token: &str,
        org: &str,
        scope: &str,
        name: &str,
        value: &[u8],
        extra: Value,
    ) {
        let r = self
            .app
            .put_secret_as(token, org, scope, name, value, extra)
            .await;
        assert!(r.status.is_success(), "{}", r.body);
    }

    /// The events of `org` with `action`, as `owner` reads them.
    pub async fn events(&self, owner: &str, org: &str, action: &str) -> Vec<Value> {
        let r = self
            .call(
                owner,
                Method::GET,
                &format!("/api/v1/orgs/{org}/audit?action={action}&limit=1000"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["events"].as_array().unwrap().clone()
    }
}
