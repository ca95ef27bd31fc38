//! Who may touch a webhook, as an attacker tries it in chains across two orgs: bravo's admin aimed
//! at alpha's webhook and its deliveries (every operation answers 404, exactly like a webhook that
//! does not exist), alpha's member (403), a service account's token even at the admin role (403:
//! a leaked CI token must not open a channel for the org's events), an admin removed from the org
//! holding on to their token (refused), the operator (404: webhooks carry the org's events, which
//! the operator never reads); and the URLs and events refused on add, with nothing stored, and
//! the URL stored as the parser normalised it.

use crate::{Backend, Receiver, World};
use reqwest::Method;
use serde_json::json;

async fn another_org_never_reaches_a_webhook(b: Backend) {
    let w = World::start(b).await;
    let rx = Receiver::start().await;
    let (id, _) = w
        .webhook(&w.aowner, "alpha", &rx.url, &["secret.revealed"])
        .await;
    w.put(&w.aowner, "alpha", "OPS-1", "db", b"v", json!({}))
        .await;
    w.app.reveal_as(&w.aowner, "alpha", "OPS-1", "db").await;
    let list = w
        .deliveries_until(&w.aowner, "alpha", &id, "a delivery", |l| !l.is_empty())
        .await;
    let delivery = list[0]["id"].as_str().unwrap().to_owned();

    // Bravo's admin, through alpha's paths and through bravo's own.
    for org in ["alpha", "bravo"] {
        let calls = [
            (
                Method::GET,
                format!("/api/v1/orgs/{org}/webhooks/{id}"),
                None,
            ),
            (
                Method::DELETE,
                format!("/api/v1/orgs/{org}/webhooks/{id}"),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/orgs/{org}/webhooks/{id}/rotate-secret"),
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/orgs/{org}/webhooks/{id}/deliveries"),
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/orgs/{org}/webhooks/{id}/deliveries?failed=true"),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/orgs/{org}/webhooks/deliveries/{delivery}/redeliver"),
                None,
            ),
        ];
        for (method, path, body) in calls {
            let r = w.call(&w.badmin, method.clone(), &path, body).await;
            assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
            assert_eq!(r.code(), "not_found");
        }
    }
    let r = w
        .call(&w.badmin, Method::GET, "/api/v1/orgs/alpha/webhooks", None)
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = w
        .add(&w.badmin, "alpha", &rx.url, &["secret.revealed"])
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    // Bravo's own list is empty; alpha's webhook is untouched and still delivers.
    let r = w
        .call(&w.bowner, Method::GET, "/api/v1/orgs/bravo/webhooks", None)
        .await;
    assert_eq!(r.body["webhooks"], json!([]));
    let r = w
        .call(
            &w.aowner,
            Method::GET,
            &format!("/api/v1/orgs/alpha/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["secret_rotated_at"].is_null(), "bravo rotated it");
    // Bravo's events never reach alpha's webhook.
    w.put(&w.bowner, "bravo", "OPS-1", "db", b"v", json!({}))
        .await;
    w.app.reveal_as(&w.bowner, "bravo", "OPS-1", "db").await;
    w.app.reveal_as(&w.aowner, "alpha", "OPS-1", "db").await;
    let got = rx.wait_for("secret.revealed", 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(rx.got().len(), 2, "another org's event was delivered");
    assert!(got.iter().all(|d| d.json()["org"]["slug"] == "alpha"));

    // The operator never sees an org's webhooks.
    let r = w
        .call(
            &w.app.operator,
            Method::GET,
            "/api/v1/orgs/alpha/webhooks",
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = w
        .add(&w.app.operator, "alpha", &rx.url, &["secret.revealed"])
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

async fn roles_decide_who_manages_webhooks(b: Backend) {
    let w = World::start(b).await;
    let rx = Receiver::start().await;
    // A member may neither add nor list.
    let r = w
        .add(&w.amember, "alpha", &rx.url, &["secret.revealed"])
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.code(), "forbidden");
    let r = w
        .call(&w.amember, Method::GET, "/api/v1/orgs/alpha/webhooks", None)
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // A service account may not, not even at the admin role: not add, list, read, re-key, remove
    // or redeliver.
    let sa = w
        .call(
            &w.aowner,
            Method::POST,
            "/api/v1/orgs/alpha/service-accounts",
            Some(json!({"name": "ci", "role": "admin"})),
        )
        .await;
    assert_eq!(sa.status, 201, "{}", sa.body);
    let t = w
        .call(
            &w.aowner,
            Method::POST,
            "/api/v1/orgs/alpha/tokens",
            Some(json!({"service_account": "ci"})),
        )
        .await;
    assert_eq!(t.status, 201, "{}", t.body);
    let ci = t.body["token"].as_str().unwrap().to_owned();
    let r = w.add(&ci, "alpha", &rx.url, &["secret.revealed"]).await;
    assert_eq!(
        r.status, 403,
        "a service account added a webhook: {}",
        r.body
    );
    assert_eq!(r.code(), "forbidden");
    let (owned, _) = w
        .webhook(&w.aowner, "alpha", &rx.url, &["secret.revealed"])
        .await;
    for (method, path) in [
        (Method::GET, "/api/v1/orgs/alpha/webhooks".to_owned()),
        (Method::GET, format!("/api/v1/orgs/alpha/webhooks/{owned}")),
        (
            Method::GET,
            format!("/api/v1/orgs/alpha/webhooks/{owned}/deliveries"),
        ),
        (
            Method::POST,
            format!("/api/v1/orgs/alpha/webhooks/{owned}/rotate-secret"),
        ),
        (
            Method::DELETE,
            format!("/api/v1/orgs/alpha/webhooks/{owned}"),
        ),
    ] {
        let r = w.call(&ci, method.clone(), &path, None).await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
    }
    let r = w
        .call(
            &w.aowner,
            Method::DELETE,
            &format!("/api/v1/orgs/alpha/webhooks/{owned}"),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // An admin may; once removed from the org, their token adds nothing.
    let aadmin = w.app.member_as(&w.aowner, "alpha", "aadmin", "admin").await;
    let (id, _) = w
        .webhook(&aadmin, "alpha", &rx.url, &["org.key_rotated"])
        .await;
    let r = w
        .call(
            &w.aowner,
            Method::DELETE,
            "/api/v1/orgs/alpha/users/aadmin",
            None,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = w.add(&aadmin, "alpha", &rx.url, &["secret.revealed"]).await;
    assert_eq!(r.status, 401, "a removed admin added a webhook: {}", r.body);
    let r = w
        .call(
            &aadmin,
            Method::DELETE,
            &format!("/api/v1/orgs/alpha/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = w
        .call(&w.aowner, Method::GET, "/api/v1/orgs/alpha/webhooks", None)
        .await;
    assert_eq!(r.body["webhooks"].as_array().unwrap().len(), 1);
    // The owner removes it; its deliveries go with it.
    let r = w
        .call(
            &w.aowner,
            Method::DELETE,
            &format!("/api/v1/orgs/alpha/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = w
        .call(
            &w.aowner,
            Method::GET,
            &format!("/api/v1/orgs/alpha/webhooks/{id}/deliveries"),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        w.events(&w.aowner, "alpha", "webhook.delete").await.len(),
        2,
        "the one the owner added for the service account's tries, and this one"
    );
}

async fn bad_urls_and_events_are_refused_and_nothing_is_stored(b: Backend) {
    let w = World::start(b).await;
    for (url, words) in [
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("https://[fd00:ec2::254]/", "metadata"),
        ("http://hooks.example.com/coffer", "https"),
        ("https://10.0.0.1/hook", "allow_private_networks"),
        ("https://user:pass@hooks.example.com/", "credentials"),
        ("not a url", "not a URL"),
    ] {
        let r = w.add(&w.aowner, "alpha", url, &["secret.revealed"]).await;
        assert_eq!(r.status, 400, "{url}: {}", r.body);
        assert_eq!(r.code(), "invalid_input", "{url}");
        assert!(r.message().contains("url"), "{url}: {}", r.message());
        assert!(r.message().contains(words), "{url}: {}", r.message());
    }
    let rx = Receiver::start().await;
    for (url, words) in [
        (format!("{}\n", rx.url), "control characters"),
        (rx.url.replace("/hook", "/ho\tok"), "control characters"),
        (format!("{}?\u{1b}[2J", rx.url), "control characters"),
    ] {
        let r = w.add(&w.aowner, "alpha", &url, &["secret.revealed"]).await;
        assert_eq!(r.status, 400, "{url:?}: {}", r.body);
        assert!(r.message().contains(words), "{url:?}: {}", r.message());
    }
    let r = w.add(&w.aowner, "alpha", &rx.url, &["secret.peeked"]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.message().contains("secret.peeked"), "{}", r.message());
    let r = w.add(&w.aowner, "alpha", &rx.url, &[]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.message().contains("events"), "{}", r.message());
    let r = w
        .call(&w.aowner, Method::GET, "/api/v1/orgs/alpha/webhooks", None)
        .await;
    assert_eq!(r.body["webhooks"], json!([]), "something was stored");
    assert!(
        w.events(&w.aowner, "alpha", "webhook.create")
            .await
            .is_empty()
    );
    // Stored, listed and called as the parser normalised it.
    let odd = rx
        .url
        .replace("http://", "HTTP://")
        .replace("/hook", "/x/../hook");
    let (id, _) = w
        .webhook(&w.aowner, "alpha", &odd, &["secret.revealed"])
        .await;
    let r = w
        .call(
            &w.aowner,
            Method::GET,
            &format!("/api/v1/orgs/alpha/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(r.body["url"], rx.url.as_str(), "{}", r.body);
}

#[tokio::test]
async fn another_org_never_reaches_a_webhook_sqlite() {
    another_org_never_reaches_a_webhook(Backend::Sqlite).await;
}

#[tokio::test]
async fn another_org_never_reaches_a_webhook_postgres() {
    another_org_never_reaches_a_webhook(Backend::Postgres).await;
}

#[tokio::test]
async fn roles_decide_who_manages_webhooks_sqlite() {
    roles_decide_who_manages_webhooks(Backend::Sqlite).await;
}

#[tokio::test]
async fn roles_decide_who_manages_webhooks_postgres() {
    roles_decide_who_manages_webhooks(Backend::Postgres).await;
}

#[tokio::test]
async fn bad_urls_and_events_are_refused_and_nothing_is_stored_sqlite() {
    bad_urls_and_events_are_refused_and_nothing_is_stored(Backend::Sqlite).await;
}

#[tokio::test]
async fn bad_urls_and_events_are_refused_and_nothing_is_stored_postgres() {
    bad_urls_and_events_are_refused_and_nothing_is_stored(Backend::Postgres).await;
}
