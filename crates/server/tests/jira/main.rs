//! Coffer inside Jira, black-box (docs/jira.md): a real `coffer serve` on port 0 against the
//! stateful Jira fake of `coffer_server::testing::jira` (no real Jira can run here: the fake
//! follows Atlassian's documentation, named endpoint by endpoint in its README), on both
//! catalogs. The test plays the person's browser through the account link, and Jira's admin
//! through the fake's controls and signed webhooks.
//!
//! What must hold: a person sees an issue's secrets only if Jira says they may browse the issue
//! (AND Coffer's own access), asked with their own token; a no hides names too; revoking browse in
//! Jira hides secrets within the TTL, at once after a webhook; Jira down, throttling or a broken
//! link fail closed with a sentence saying which; a forged webhook changes nothing; lifecycle
//! events delete and move secrets, repeatably; the remote link on the issue follows the count; and,
//! as an attacker works across two orgs, nobody reaches another org's link or links someone
//! else's Jira account to their own user.

#[path = "../support/backend.rs"]
mod backend;
#[path = "../support/browser.rs"]
#[allow(dead_code)]
mod browser;
#[path = "../support/app.rs"]
#[allow(dead_code)]
mod helpers;

mod forge;

use backend::{Backend, catalog, free_port};
use browser::Browser;
use coffer_server::testing::jira::{Flavor, JiraFake};
use coffer_server::testing::pg::TestDb;
use helpers::{B64, Engine, PASSWORD, TestApp, spawn_with};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const CLIENT_ID: &str = "coffer-app";
const CLIENT_SECRET: &str = "jira-client-secret-5d1e";

struct World {
    app: TestApp,
    jira: JiraFake,
    _db: Option<TestDb>,
    /// Owner of `alpha`.
    aowner: String,
    /// Owner of `bravo`.
    bowner: String,
    /// A member of `alpha` with a grant of read on project OPS.
    alice: String,
    /// Another member of `alpha`, with the same grant.
    mallory: String,
    /// `alpha`'s webhook secret.
    hook: String,
}

impl World {
    async fn start(backend: Backend, flavor: Flavor, ttl: Duration) -> World {
        World::start_with(backend, flavor, ttl, |_| {}).await
    }

    /// [`World::start`] with more of the app's configuration set by `tweak`.
    async fn start_with(
        backend: Backend,
        flavor: Flavor,
        ttl: Duration,
        tweak: impl FnOnce(&mut coffer_server::config::Config) + Send + 'static,
    ) -> World {
        let (settings, db) = catalog(backend).await;
        let jira = JiraFake::start(flavor).await;
        let port = free_port();
        let origin = format!("http://127.0.0.1:{port}");
        jira.register_client(
            CLIENT_ID,
            CLIENT_SECRET,
            &format!("{origin}/integrations/jira/callback"),
        );
        let base = jira.base();
        let app = spawn_with(move |c| {
            c.listen = format!("127.0.0.1:{port}");
            c.storage.public_origin = Some(origin);
            c.jira.allow_loopback_sites = true;
            c.jira.cloud_auth_url = base.clone();
            c.jira.cloud_api_url = base;
            c.jira.allow_ttl = ttl;
            if let Some(s) = settings {
                c.catalog = s;
            }
            tweak(c);
        })
        .await;
        for login in ["aowner", "alice", "mallory"] {
            jira.add_user(login);
        }
        jira.add_project("OPS");
        jira.add_project("SEC");
        for key in ["OPS-1", "OPS-2", "OPS-3"] {
            jira.add_issue(key);
        }
        jira.add_issue("SEC-1");
        for login in ["aowner", "alice", "mallory"] {
            jira.grant_browse(login, "OPS");
        }
        jira.grant_browse("aowner", "SEC");
        // OPS-2 sits behind an issue security level only the owner passes.
        jira.restrict_issue("OPS-2", Some(&["aowner"]));
        let aowner = app.org_with_owner("alpha", "aowner").await;
        let bowner = app.org_with_owner("bravo", "bowner").await;
        let alice = app.member_as(&aowner, "alpha", "alice", "member").await;
        let mallory = app.member_as(&aowner, "alpha", "mallory", "member").await;
        for who in ["user:alice", "user:mallory"] {
            let r = app.grant_as(&aowner, "alpha", "OPS", who, "read").await;
            assert_eq!(r.status, 201, "{}", r.body);
        }
        let mut w = World {
            app,
            jira,
            _db: db,
            aowner,
            bowner,
            alice,
            mallory,
            hook: String::new(),
        };
        let r = w.connect(&w.aowner, "alpha", flavor, json!({})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        w.hook = r.body["webhook_secret"]
            .as_str()
            .expect("the first connect shows the webhook secret")
            .to_owned();
        w
    }

    async fn connect(&self, token: &str, org: &str, flavor: Flavor, extra: Value) -> helpers::Resp {
        let kind = match flavor {
            Flavor::Cloud => "cloud",
            Flavor::DataCenter => "data-center",
        };
        let mut body = json!({
            "kind": kind,
            "site": self.jira.base(),
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap_or_default());
        self.app
            .call(
                token,
                Method::PUT,
                &format!("/api/v1/orgs/{org}/jira"),
                Some(body),
            )
            .await
    }

    /// A browser signed in to `org` with `user`'s password.
    async fn browser(&self, org: &str, user: &str) -> Browser {
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/session", self.app.base))
            .json(&json!({"org": org, "user": user, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        let (k, v) = cookie.split(';').next().unwrap().split_once('=').unwrap();
        let mut b = Browser::default();
        b.jar.insert(k.into(), v.into());
        b
    }

    /// Starts a link in `b` (signed in to `org`); the URL of Jira's consent page.
    async fn start_link(&self, b: &mut Browser, org: &str) -> String {
        let hop = b
            .get(&format!("{}/integrations/jira/{org}/link", self.app.base))
            .await;
        assert_eq!(hop.status, 303, "{}", hop.location);
        assert!(
            hop.location.starts_with(&self.jira.base()),
            "sent to {}",
            hop.location
        );
        hop.location
    }

    /// `user` of alpha links their Jira account `login` through the whole browser flow.
    async fn link(&self, user: &str, login: &str) {
        let mut b = self.browser("alpha", user).await;
        let consent = self.start_link(&mut b, "alpha").await;
        let back = self.jira.consent(&consent, login).await;
        let hop = b.get(&back).await;
        assert_eq!(hop.status, 303);
        assert_eq!(hop.location, "/orgs/alpha/jira?linked=1", "linking {user}");
    }

    async fn put(&self, token: &str, scope: &str, name: &str) -> helpers::Resp {
        self.app
            .put_secret_as(token, "alpha", scope, name, name.as_bytes(), json!({}))
            .await
    }

    async fn reveal(&self, token: &str, scope: &str, name: &str) -> helpers::Resp {
        self.app.reveal_as(token, "alpha", scope, name).await
    }

    /// `token`'s list of alpha's secrets.
    async fn list(&self, token: &str) -> helpers::Resp {
        self.app
            .call(token, Method::GET, "/api/v1/orgs/alpha/secrets", None)
            .await
    }

    /// The names `token` lists in alpha, as `SCOPE/name`; the list must succeed.
    async fn names(&self, token: &str) -> Vec<String> {
        let r = self.list(token).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                format!(
                    "{}/{}",
                    s["scope"].as_str().unwrap(),
                    s["name"].as_str().unwrap()
                )
            })
            .collect()
    }

    /// Posts a webhook to `org`'s endpoint signed with `secret`.
    async fn hook(&self, org: &str, secret: Option<&str>, payload: &Value) -> reqwest::Response {
        JiraFake::deliver_webhook(
            &format!("{}/integrations/jira/{org}/webhook", self.app.base),
            secret,
            payload,
        )
        .await
    }

    async fn audit(&self, action: &str) -> Vec<Value> {
        let r = self
            .app
            .call(
                &self.aowner,
                Method::GET,
                &format!("/api/v1/orgs/alpha/audit?action={action}"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["events"].as_array().unwrap().clone()
    }
}

async fn access_follows_the_issue(backend: Backend, flavor: Flavor) {
    let w = World::start(backend, flavor, Duration::from_secs(60)).await;
    w.link("aowner", "aowner").await;
    for (scope, name) in [("OPS-1", "db"), ("OPS-2", "root-key"), ("OPS", "shared")] {
        let r = w.put(&w.aowner, scope, name).await;
        assert_eq!(r.status, 201, "{scope}/{name}: {}", r.body);
    }
    // Without a linked account, a Jira-linked org shows alice nothing and says why.
    let r = w.reveal(&w.alice, "OPS-1", "db").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.code(), "jira_account_required");
    assert!(
        r.message().contains("link your Jira account"),
        "{}",
        r.message()
    );
    let r = w.list(&w.alice).await;
    assert_eq!(r.code(), "jira_account_required");
    // Whatever the list would hold: no oracle for names through filters.
    for query in [
        "?issue=OPS-2&prefix=roo",
        "?issue=OPS-2&prefix=zzz",
        "?project=SEC",
    ] {
        let r = w
            .app
            .call(
                &w.alice,
                Method::GET,
                &format!("/api/v1/orgs/alpha/secrets{query}"),
                None,
            )
            .await;
        assert_eq!(r.code(), "jira_account_required", "{query}: {}", r.body);
        assert!(!r.message().contains("OPS-2"), "{query}: {}", r.message());
    }

    w.link("alice", "alice").await;
    let r = w.reveal(&w.alice, "OPS-1", "db").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        B64.decode(r.body["value"].as_str().unwrap()).unwrap(),
        b"db"
    );
    // OPS-2 is behind a security level alice does not pass: not found, and its name never shows.
    let r = w.reveal(&w.alice, "OPS-2", "root-key").await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.message().contains("Jira says"), "{}", r.message());
    let missing = w.reveal(&w.alice, "OPS-2", "no-such-secret").await;
    assert_eq!(
        (missing.status, missing.message()),
        (r.status, r.message()),
        "a refusal does not tell whether the secret exists"
    );
    let mut names = w.names(&w.alice).await;
    names.sort();
    assert_eq!(names, ["OPS-1/db", "OPS/shared"]);
    // Jira's yes does not replace Coffer's access: alice has no grant on SEC and sees nothing
    // there even where Jira would let her browse.
    w.jira.grant_browse("alice", "SEC");
    let r = w.put(&w.aowner, "SEC-1", "cert").await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(w.reveal(&w.alice, "SEC-1", "cert").await.status, 404);
    // The owner, whom Jira lets browse everything, sees everything.
    assert_eq!(w.names(&w.aowner).await.len(), 4);
    // Every reveal records Jira's answer; refused ones too.
    let reveals = w.audit("secret.reveal").await;
    assert!(
        reveals
            .iter()
            .any(|e| e["details"]["jira"] == "allowed" && e["actor"] == "alice"),
        "{reveals:?}"
    );
    let refused = w.audit("secret.reveal_refused").await;
    assert!(
        refused
            .iter()
            .any(|e| e["details"]["jira"] == "denied" && e["target"] == "OPS-2/root-key"),
        "{refused:?}"
    );
    assert!(refused.iter().any(|e| e["details"]["jira"] == "no_account"));
    // A service account has no Jira identity: its grants alone decide.
    let r = w
        .app
        .call(
            &w.aowner,
            Method::POST,
            "/api/v1/orgs/alpha/service-accounts",
            Some(json!({"name": "ci", "role": "member"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = w
        .app
        .call(
            &w.aowner,
            Method::POST,
            "/api/v1/orgs/alpha/tokens",
            Some(json!({"service_account": "ci"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let ci = r.body["token"].as_str().unwrap().to_owned();
    assert_eq!(
        w.app
            .grant_as(&w.aowner, "alpha", "OPS-2", "svc:ci", "read")
            .await
            .status,
        201
    );
    assert_eq!(w.reveal(&ci, "OPS-2", "root-key").await.status, 200);
    // And its role alone reaches nothing: an admin cannot step around Jira by minting an admin
    // service account.
    let r = w
        .app
        .call(
            &w.aowner,
            Method::POST,
            "/api/v1/orgs/alpha/service-accounts",
            Some(json!({"name": "robot", "role": "admin"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = w
        .app
        .call(
            &w.aowner,
            Method::POST,
            "/api/v1/orgs/alpha/tokens",
            Some(json!({"service_account": "robot"})),
        )
        .await;
    let robot = r.body["token"].as_str().unwrap().to_owned();
    assert_eq!(w.reveal(&robot, "OPS-2", "root-key").await.status, 404);
    assert_eq!(w.reveal(&robot, "OPS-1", "db").await.status, 404);
    assert_eq!(w.names(&robot).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_follows_the_issue_dc_sqlite() {
    access_follows_the_issue(Backend::Sqlite, Flavor::DataCenter).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_follows_the_issue_cloud_postgres() {
    access_follows_the_issue(Backend::Postgres, Flavor::Cloud).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_browse_hides_within_the_ttl_and_at_once_after_a_webhook() {
    let ttl = Duration::from_secs(2);
    let w = World::start(Backend::Sqlite, Flavor::DataCenter, ttl).await;
    w.link("aowner", "aowner").await;
    w.link("alice", "alice").await;
    assert_eq!(w.put(&w.aowner, "OPS-1", "db").await.status, 201);
    assert_eq!(w.reveal(&w.alice, "OPS-1", "db").await.status, 200);
    let asked = w.jira.calls("mypermissions");
    // A cached yes serves within the TTL without asking Jira...
    assert_eq!(w.reveal(&w.alice, "OPS-1", "db").await.status, 200);
    assert_eq!(w.jira.calls("mypermissions"), asked, "the yes was cached");
    // ...so a revocation with no event shows once the TTL has passed.
    w.jira.revoke_browse("alice", "OPS");
    tokio::time::sleep(ttl + Duration::from_millis(500)).await;
    assert_eq!(w.reveal(&w.alice, "OPS-1", "db").await.status, 404);
    assert_eq!(w.names(&w.alice).await, Vec::<String>::new());
    // A no is never cached: browse back, visible at the next request.
    w.jira.grant_browse("alice", "OPS");
    assert_eq!(w.reveal(&w.alice, "OPS-1", "db").await.status, 200);
    // With a webhook (a permission change Jira announces), at once.
    w.jira.revoke_browse("alice", "OPS");
    let r = w
        .hook(
            "alpha",
            Some(&w.hook),
            &json!({"webhookEvent": "user_updated", "timestamp": 1}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(w.reveal(&w.alice, "OPS-1", "db").await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_down_throttling_or_a_dead_link_fail_closed_with_a_sentence() {
    let w = World::start(Backend::Sqlite, Flavor::Cloud, Duration::ZERO).await;
    w.link("aowner", "aowner").await;
    w.link("alice", "alice").await;
    assert_eq!(w.put(&w.aowner, "OPS-1", "db").await.status, 201);
    w.jira.set_down(true);
    let r = w.reveal(&w.alice, "OPS-1", "db").await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        r.message().contains("Jira could not confirm"),
        "{}",
        r.message()
    );
    let r = w.list(&w.alice).await;
    assert_eq!(r.status, 503, "{}", r.body);
    w.jira.set_down(false);
    w.jira.throttle(1, 7);
    let r = w.reveal(&w.alice, "OPS-1", "db").await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.message().contains("retry in 7s"), "{}", r.message());
    assert_eq!(w.reveal(&w.alice, "OPS-1", "db").await.status, 200);
    // An expired access token is refreshed (the refresh token rotates).
    let issued = w.jira.tokens_issued("alice");
    w.jira.expire_access_tokens("alice");
    assert_eq!(w.reveal(&w.alice, "OPS-1", "db").await.status, 200);
    assert_eq!(w.jira.tokens_issued("alice"), issued + 1);
    // A grant revoked at Jira: the link is dead, and the sentence says to link again.
    w.jira.revoke_grant("alice");
    let r = w.reveal(&w.alice, "OPS-1", "db").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.code(), "jira_account_required");
    assert!(
        r.message().contains("link your Jira account again"),
        "{}",
        r.message()
    );
    // Writes fail closed the same way, and nothing is written.
    w.jira.set_down(true);
    let r = w.put(&w.aowner, "OPS-3", "new").await;
    assert_eq!(r.status, 503, "{}", r.body);
    w.jira.set_down(false);
    assert_eq!(w.reveal(&w.aowner, "OPS-3", "new").await.status, 404);
}

async fn lifecycle(backend: Backend) {
    let w = World::start(backend, Flavor::DataCenter, Duration::from_secs(60)).await;
    w.link("aowner", "aowner").await;
    for (scope, name) in [
        ("OPS-1", "db"),
        ("OPS-1", "api"),
        ("OPS-3", "tls"),
        ("OPS", "shared"),
    ] {
        assert_eq!(w.put(&w.aowner, scope, name).await.status, 201);
    }
    // Forged: unsigned, wrong secret, another org's secret, a tampered body. Nothing changes.
    let deleted = w.jira.issue_deleted_event("OPS-1");
    let r = w.hook("alpha", None, &deleted).await;
    assert_eq!(r.status(), 401);
    let r = w.hook("alpha", Some("cjw_not-the-secret"), &deleted).await;
    assert_eq!(r.status(), 401);
    let r = w
        .connect(&w.bowner, "bravo", Flavor::DataCenter, json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let bravo_hook = r.body["webhook_secret"].as_str().unwrap().to_owned();
    assert_ne!(bravo_hook, w.hook);
    assert_eq!(
        w.hook("alpha", Some(&bravo_hook), &deleted).await.status(),
        401
    );
    let body = serde_json::to_vec(&deleted).unwrap();
    let signed_other = JiraFake::sign_webhook(&w.hook, b"{}");
    let r = reqwest::Client::new()
        .post(format!("{}/integrations/jira/alpha/webhook", w.app.base))
        .header("x-hub-signature", signed_other)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a signature over another body");
    assert_eq!(
        w.hook("nosuchorg", Some(&w.hook), &deleted).await.status(),
        401
    );
    assert_eq!(
        w.reveal(&w.aowner, "OPS-1", "db").await.status,
        200,
        "nothing changed"
    );
    // Issue deleted: its secrets are soft-deleted (restorable), twice is once.
    w.jira.delete_issue("OPS-1");
    for _ in 0..2 {
        let r = w.hook("alpha", Some(&w.hook), &deleted).await;
        assert_eq!(r.status(), 200);
    }
    let r = w.reveal(&w.aowner, "OPS-3", "tls").await;
    assert_eq!(r.status, 200);
    let deletes = w.audit("secret.delete").await;
    assert_eq!(
        deletes.iter().filter(|e| e["actor"] == "jira").count(),
        2,
        "one event per secret, not per delivery: {deletes:?}"
    );
    // Issue moved: secrets follow the new key, twice is once.
    w.jira.move_issue("OPS-3", "SEC-9");
    let moved = w.jira.issue_moved_event("OPS-3", "SEC-9");
    for _ in 0..2 {
        assert_eq!(w.hook("alpha", Some(&w.hook), &moved).await.status(), 200);
    }
    // The project changed, so the secret is restricted: the new project's access does not reach
    // it (not even the owner's role) until someone who manages it shares it.
    assert_eq!(w.reveal(&w.aowner, "SEC-9", "tls").await.status, 404);
    assert_eq!(w.reveal(&w.aowner, "OPS-3", "tls").await.status, 404);
    let moves = w.audit("jira.issue_moved").await;
    assert_eq!(moves.len(), 1, "once: {moves:?}");
    assert_eq!(moves[0]["details"]["restricted"], true);
    let r = w
        .app
        .call(
            &w.aowner,
            Method::PUT,
            "/api/v1/orgs/alpha/secrets/SEC-9/tls/shares",
            Some(json!({"with": "user:aowner", "level": "manage"})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = w.reveal(&w.aowner, "SEC-9", "tls").await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Project deleted: what is left on it goes too.
    w.jira.delete_project("OPS");
    let r = w
        .hook("alpha", Some(&w.hook), &w.jira.project_deleted_event("OPS"))
        .await;
    assert_eq!(r.status(), 200);
    let r = w
        .app
        .call(
            &w.aowner,
            Method::GET,
            "/api/v1/orgs/alpha/secrets?deleted=true",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let live: Vec<&Value> = r.body["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["scope"].as_str().unwrap().starts_with("OPS") && s["deleted_at"].is_null())
        .collect();
    assert!(live.is_empty(), "{}", r.body);
    // A list filtered to the deleted project asks Jira first, which no longer knows it: empty.
    let r = w
        .app
        .call(
            &w.aowner,
            Method::GET,
            "/api/v1/orgs/alpha/secrets?project=OPS&deleted=true",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["secrets"].as_array().unwrap().len(), 0, "{}", r.body);
    // An event Coffer does not act on is acknowledged and counted.
    let r = w
        .hook(
            "alpha",
            Some(&w.hook),
            &json!({"webhookEvent": "comment_created"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["outcome"], "ignored");
    assert_eq!(
        w.app
            .metric("coffer_jira_webhooks_total", &[("event", "unknown")])
            .await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_events_sqlite() {
    lifecycle(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_events_postgres() {
    lifecycle(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_remote_link_follows_the_issue_and_unknown_issues_are_refused() {
    let w = World::start(Backend::Sqlite, Flavor::DataCenter, Duration::from_secs(60)).await;
    w.link("aowner", "aowner").await;
    assert_eq!(w.put(&w.aowner, "OPS-1", "db").await.status, 201);
    assert_eq!(w.put(&w.aowner, "OPS-1", "api").await.status, 201);
    let links = w.jira.remote_links("OPS-1");
    assert_eq!(links.len(), 1, "updated, not duplicated: {links:?}");
    assert_eq!(links[0]["object"]["title"], "Secrets (2) in Coffer");
    assert!(
        links[0]["object"]["summary"].is_null(),
        "names stay in Coffer"
    );
    assert!(
        links[0]["object"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/orgs/alpha/issues/OPS-1")
    );
    // Opting in names them.
    let r = w
        .connect(
            &w.aowner,
            "alpha",
            Flavor::DataCenter,
            json!({"expose_names": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body["webhook_secret"].is_null(),
        "the secret is shown only when made"
    );
    assert_eq!(w.put(&w.aowner, "OPS-1", "tls").await.status, 201);
    // A restricted secret is neither named nor counted: Jira shows the link to everyone who
    // browses the issue.
    let r = w
        .app
        .put_secret_as(
            &w.aowner,
            "alpha",
            "OPS-1",
            "hsm-pin",
            b"1234",
            json!({"restricted": true}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let links = w.jira.remote_links("OPS-1");
    assert_eq!(links[0]["object"]["summary"], "api, db, tls");
    assert_eq!(links[0]["object"]["title"], "Secrets (3) in Coffer");
    for name in ["db", "api", "tls", "hsm-pin"] {
        let r = w
            .app
            .call(
                &w.aowner,
                Method::DELETE,
                &format!("/api/v1/orgs/alpha/secrets/OPS-1/{name}"),
                None,
            )
            .await;
        assert!(r.status.is_success(), "{}", r.body);
    }
    assert!(
        w.jira.remote_links("OPS-1").is_empty(),
        "removed with the last secret"
    );
    // An issue Jira does not know is refused on write, and nothing is stored.
    let r = w.put(&w.aowner, "OPS-99", "x").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.code(), "jira_issue_not_visible");
    assert!(r.message().contains("OPS-99"), "{}", r.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_on_cloud_costs_a_bounded_number_of_jira_calls() {
    let w = World::start(Backend::Sqlite, Flavor::Cloud, Duration::from_secs(60)).await;
    w.link("aowner", "aowner").await;
    for n in 10..40 {
        let key = format!("OPS-{n}");
        w.jira.add_issue(&key);
        assert_eq!(w.put(&w.aowner, &key, "pw").await.status, 201);
    }
    w.jira.restrict_issue("OPS-11", Some(&["aowner"]));
    w.link("alice", "alice").await;
    let (bulk, single) = (
        w.jira.calls("permissions/check"),
        w.jira.calls("mypermissions"),
    );
    let names = w.names(&w.alice).await;
    assert_eq!(names.len(), 29, "all but OPS-11: {names:?}");
    assert!(!names.contains(&"OPS-11/pw".to_owned()));
    assert_eq!(
        w.jira.calls("permissions/check"),
        bulk + 1,
        "one bulk check"
    );
    assert_eq!(w.jira.calls("mypermissions"), single, "no call per issue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chains_across_orgs_and_people() {
    let w = World::start(Backend::Sqlite, Flavor::DataCenter, Duration::from_secs(60)).await;
    // Another org's owner, the operator, an admin and a member cannot change alpha's link.
    let r = w
        .connect(&w.bowner, "alpha", Flavor::DataCenter, json!({}))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = w
        .connect(&w.app.operator, "alpha", Flavor::DataCenter, json!({}))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let admin = w.app.member_as(&w.aowner, "alpha", "adam", "admin").await;
    assert_eq!(
        w.connect(&admin, "alpha", Flavor::DataCenter, json!({}))
            .await
            .status,
        403
    );
    assert_eq!(
        w.connect(&w.alice, "alpha", Flavor::DataCenter, json!({}))
            .await
            .status,
        403
    );
    for token in [&w.bowner, &w.app.operator] {
        let r = w
            .app
            .call(token, Method::DELETE, "/api/v1/orgs/alpha/jira", None)
            .await;
        assert_eq!(r.status, 404, "{}", r.body);
        let r = w
            .app
            .call(token, Method::GET, "/api/v1/orgs/alpha/jira", None)
            .await;
        assert_eq!(r.status, 404, "{}", r.body);
    }
    // Nothing secret is ever shown again: not the client secret, not the webhook secret.
    let r = w
        .app
        .call(&w.aowner, Method::GET, "/api/v1/orgs/alpha/jira", None)
        .await;
    let text = r.body.to_string();
    assert!(
        !text.contains(CLIENT_SECRET) && !text.contains(&w.hook),
        "{text}"
    );
    // Changing the client id without its secret is refused (the stored secret would go to it).
    let r = w
        .app
        .call(
            &w.aowner,
            Method::PUT,
            "/api/v1/orgs/alpha/jira",
            Some(json!({"kind": "data-center", "site": w.jira.base(), "client_id": "other"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // A site on this machine is only for tests; a metadata address never.
    let r = w
        .connect(
            &w.aowner,
            "alpha",
            Flavor::DataCenter,
            json!({"site": "http://169.254.169.254"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);

    // Mallory starts a link in her browser and gets alice to consent on that URL: alice's
    // browser lacks mallory's cookie, so the callback finds nothing and links nobody.
    let mut mb = w.browser("alpha", "mallory").await;
    let consent = w.start_link(&mut mb, "alpha").await;
    let back = w.jira.consent(&consent, "alice").await;
    let mut ab = w.browser("alpha", "alice").await;
    let hop = ab.get(&back).await;
    assert_eq!(hop.location, "/account?jira=failed");
    for token in [&w.mallory, &w.alice] {
        let r = w
            .app
            .call(token, Method::GET, "/api/v1/orgs/alpha/jira/account", None)
            .await;
        assert_eq!(r.status, 404, "nobody is linked: {}", r.body);
    }
    // Replaying the callback in mallory's own browser (with her cookie) after alice's attempt: the
    // code was consented by alice, and the consent is spent. (A code is one-time at Jira too.)
    let hop = mb.get(&back).await;
    assert_eq!(hop.location, "/account?jira=failed");
    // Alice links her own account; mallory cannot link the same Jira account to herself.
    w.link("alice", "alice").await;
    let mut mb = w.browser("alpha", "mallory").await;
    let consent = w.start_link(&mut mb, "alpha").await;
    let back = w.jira.consent(&consent, "alice").await;
    let hop = mb.get(&back).await;
    assert_eq!(
        hop.location, "/account?jira=failed",
        "the same Jira account twice"
    );
    // A link is started only from Coffer's own pages.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/integrations/jira/alpha/link", w.app.base))
        .header(
            "cookie",
            format!("coffer_session={}", mb.session().unwrap()),
        )
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/account?jira=failed");
    // Bravo's owner cannot start a link in alpha; a service account cannot link at all.
    let mut bb = w.browser("bravo", "bowner").await;
    let hop = bb
        .get(&format!("{}/integrations/jira/alpha/link", w.app.base))
        .await;
    assert_eq!(hop.location, "/account?jira=failed");
    // Removing alice from alpha forgets her link (a credential of hers).
    let r = w
        .app
        .call(
            &w.aowner,
            Method::DELETE,
            "/api/v1/orgs/alpha/users/alice",
            None,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = w
        .app
        .call(&w.aowner, Method::GET, "/api/v1/orgs/alpha/jira", None)
        .await;
    assert_eq!(r.body["linked_accounts"], 0, "{}", r.body);
    // Disconnecting is audited, and the webhook endpoint then refuses everything.
    let r = w
        .app
        .call(&w.aowner, Method::DELETE, "/api/v1/orgs/alpha/jira", None)
        .await;
    assert_eq!(r.status, 204);
    let r = w
        .hook(
            "alpha",
            Some(&w.hook),
            &json!({"webhookEvent": "user_updated"}),
        )
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(w.audit("jira.disconnect").await.len(), 1);
    assert_eq!(w.audit("jira.connect").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_orphans() {
    let w = World::start(Backend::Sqlite, Flavor::DataCenter, Duration::from_secs(60)).await;
    let r = w
        .app
        .call(
            &w.aowner,
            Method::POST,
            "/api/v1/orgs/alpha/jira/check",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["ok"], false,
        "the owner has not linked yet: {}",
        r.body
    );
    w.link("aowner", "aowner").await;
    let r = w
        .app
        .call(
            &w.aowner,
            Method::POST,
            "/api/v1/orgs/alpha/jira/check",
            None,
        )
        .await;
    assert_eq!(r.body["ok"], true, "{}", r.body);
    assert_eq!(w.put(&w.aowner, "OPS-1", "db").await.status, 201);
    assert_eq!(w.put(&w.aowner, "OPS-3", "tls").await.status, 201);
    w.jira.delete_issue("OPS-3"); // no webhook: the orphan check finds it
    let r = w
        .app
        .call(
            &w.aowner,
            Method::GET,
            "/api/v1/orgs/alpha/jira/orphans?limit=1",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["total"], 2);
    assert_eq!(r.body["orphans"].as_array().unwrap().len(), 0);
    let next = r.body["next"].as_str().unwrap().to_owned();
    let r = w
        .app
        .call(
            &w.aowner,
            Method::GET,
            &format!("/api/v1/orgs/alpha/jira/orphans?limit=1&after={next}"),
            None,
        )
        .await;
    assert_eq!(r.body["orphans"][0]["issue"], "OPS-3", "{}", r.body);
    assert_eq!(r.body["orphans"][0]["secrets"][0], "tls");
    assert!(r.body["next"].is_null());
    // Members may not run it.
    let r = w
        .app
        .call(
            &w.alice,
            Method::GET,
            "/api/v1/orgs/alpha/jira/orphans",
            None,
        )
        .await;
    assert_eq!(r.status, 403);
    // The per-issue sentence the web UI shows.
    let r = w
        .app
        .call(
            &w.aowner,
            Method::GET,
            "/api/v1/orgs/alpha/jira/access/OPS-1",
            None,
        )
        .await;
    assert_eq!(r.body["jira"], "allowed", "{}", r.body);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("Jira says you may browse")
    );
}

/// The same remote-link and issue-exists calls against a second, independent peer: PyPI's
/// jira820 (a Jira Data Center 8.20 mock; it has no OAuth or permission endpoints, so only these
/// paths run against it). Its quirks exercise Coffer's tolerance: every POST answers 201, and it
/// has no delete-by-global-id (405), so Coffer finds the link's own id and deletes that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_links_and_issue_lookups_against_jira820() {
    use coffer_server::catalog::JiraKind;
    use coffer_server::service::jira::api::{Endpoints, JiraHttp};
    use coffer_server::testing::jira820::Jira820;
    let peer =
        tokio::task::spawn_blocking(|| Jira820::start(&[("OPS-1", "db host"), ("OPS-2", "vpn")]))
            .await
            .unwrap();
    let base = peer.base().to_owned();
    let ep = Endpoints {
        kind: JiraKind::DataCenter,
        site_url: base.clone(),
        api_base: base.clone(),
        auth_base: format!("{base}/rest/oauth2/latest"),
        gateway: base.clone(),
    };
    let http = JiraHttp::new();
    let token = peer.token().to_owned();
    // Issue exists / does not.
    let (id, _project) = http
        .issue(&ep, &token, "OPS-1")
        .await
        .unwrap()
        .expect("OPS-1 exists");
    assert_eq!(id, peer.issue_id("OPS-1").await);
    assert_eq!(http.issue(&ep, &token, "OPS-99").await.unwrap(), None);
    // A link with a global id is updated, not duplicated.
    let list = |key: &'static str| {
        let base = base.clone();
        async move {
            reqwest::get(format!("{base}/rest/api/2/issue/{key}/remotelink"))
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    for n in [1, 2] {
        let link = json!({
            "globalId": "coffer=test&org=o&issue=OPS-1",
            "object": {"url": "https://coffer.example/orgs/alpha/issues/OPS-1", "title": format!("Secrets ({n}) in Coffer")},
        });
        http.put_remote_link(&ep, &token, "OPS-1", &link)
            .await
            .unwrap();
    }
    let links = list("OPS-1").await;
    assert_eq!(links.as_array().unwrap().len(), 1, "{links}");
    assert_eq!(links[0]["object"]["title"], "Secrets (2) in Coffer");
    // Another issue's link is left alone when OPS-1's goes.
    let other = json!({"globalId": "coffer=test&org=o&issue=OPS-2", "object": {"url": "https://coffer.example/x", "title": "Secrets (1) in Coffer"}});
    http.put_remote_link(&ep, &token, "OPS-2", &other)
        .await
        .unwrap();
    http.delete_remote_link(&ep, &token, "OPS-1", "coffer=test&org=o&issue=OPS-1")
        .await
        .unwrap();
    assert_eq!(list("OPS-1").await.as_array().unwrap().len(), 0);
    assert_eq!(list("OPS-2").await.as_array().unwrap().len(), 1);
    // Deleting again, or on an issue without the link, is fine.
    http.delete_remote_link(&ep, &token, "OPS-1", "coffer=test&org=o&issue=OPS-1")
        .await
        .unwrap();
}
