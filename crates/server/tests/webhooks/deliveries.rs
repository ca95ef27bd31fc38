//! Deliveries as a receiver sees them: a reveal arrives as `secret.revealed`, signed over the
//! exact bytes received with the secret shown once, under the headers and body docs/webhooks.md
//! promises, and never with a secret value in it; a receiver failing twice gets the same event
//! (same id, same bytes) three times and it is delivered once; one failing always sees every
//! attempt, then the delivery is dead-lettered, listed as failed, and redelivered on request; a
//! new signing secret signs from then on.

use crate::{Backend, Receiver, World};
use reqwest::Method;
use serde_json::json;
use std::collections::HashSet;

const VALUE: &[u8] = b"hunter2-never-in-a-webhook";

async fn a_reveal_arrives_signed_over_the_raw_body(b: Backend) {
    let w = World::start(b).await;
    let rx = Receiver::start().await;
    let (id, secret) = w
        .webhook(
            &w.aowner,
            "alpha",
            &rx.url,
            &["secret.revealed", "secret.written"],
        )
        .await;
    assert!(
        secret.starts_with("whsec_") && secret.len() == 6 + 43,
        "{secret}"
    );

    // The secret is never shown again: not in the list, not in one webhook.
    let list = w
        .call(&w.aowner, Method::GET, "/api/v1/orgs/alpha/webhooks", None)
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body["webhooks"][0]["id"], id.as_str());
    assert_eq!(list.body["webhooks"][0]["url"], rx.url.as_str());
    let one = w
        .call(
            &w.aowner,
            Method::GET,
            &format!("/api/v1/orgs/alpha/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(one.status, 200, "{}", one.body);
    for body in [&list.body, &one.body] {
        assert!(!body.to_string().contains(&secret), "the secret came back");
    }

    w.put(&w.aowner, "alpha", "OPS-1", "db-password", VALUE, json!({}))
        .await;
    let r = w
        .app
        .reveal_as(&w.aowner, "alpha", "OPS-1", "db-password")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let got = rx.wait_for("secret.revealed", 1).await;
    let d = &got[0];
    assert!(d.signed_with(&secret), "bad signature: {:?}", d.headers);
    assert!(!d.signed_with("whsec_not-the-secret"));
    let body = d.json();
    assert_eq!(body["type"], "secret.revealed");
    assert_eq!(body["target"], "OPS-1/db-password");
    assert_eq!(body["org"]["slug"], "alpha");
    assert_eq!(body["actor"]["name"], "aowner");
    assert_eq!(body["details"]["version"], 1);
    assert!(body["occurred_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(d.header("coffer-event-id"), body["id"].as_str().unwrap());
    assert_eq!(d.header("coffer-webhook-id"), id);
    assert_eq!(d.header("content-type"), "application/json");
    assert_eq!(d.header("coffer-delivery-attempt"), "1");
    assert!(!d.header("coffer-delivery-id").is_empty());
    // The timestamp signed is now-ish (a receiver's replay window relies on it).
    let t: i64 = d.header("coffer-signature")[2..]
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((now - t).abs() < 60, "t={t} now={now}");

    let written = rx.wait_for("secret.written", 1).await;
    assert!(written[0].signed_with(&secret));
    // Events before the webhook existed are not sent, and the webhook's own creation is no event.
    assert_eq!(rx.got().len(), 2);

    // The list says delivered, with the event id the receiver saw.
    let list = w
        .deliveries_until(&w.aowner, "alpha", &id, "two delivered", |l| {
            l.len() == 2 && l.iter().all(|d| d["state"] == "delivered")
        })
        .await;
    assert!(list.iter().any(|x| x["event_id"] == body["id"]));
    assert_eq!(list[0]["event"], "secret.revealed", "newest first");
    assert_eq!(list[0]["last_status"], 204);

    // A new signing secret signs from then on; the old one no longer verifies.
    let r = w
        .call(
            &w.aowner,
            Method::POST,
            &format!("/api/v1/orgs/alpha/webhooks/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let fresh = r.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(fresh, secret);
    assert!(r.body["webhook"]["secret_rotated_at"].is_string());
    w.app
        .reveal_as(&w.aowner, "alpha", "OPS-1", "db-password")
        .await;
    let got = rx.wait_for("secret.revealed", 2).await;
    assert!(got[1].signed_with(&fresh) && !got[1].signed_with(&secret));

    // No body, header or listing ever carries the value (raw, or base64 as the API sends it).
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, VALUE);
    for d in rx.got() {
        let raw = String::from_utf8_lossy(&d.body).into_owned();
        let headers = format!("{:?}", d.headers);
        for text in [&raw, &headers] {
            assert!(
                !text.contains("hunter2") && !text.contains(&b64),
                "a secret value was delivered: {text}"
            );
        }
    }
    let audit = w.events(&w.aowner, "alpha", "webhook.create").await;
    assert_eq!(audit.len(), 1);
    let details = audit[0]["details"].to_string();
    assert!(
        details.contains("127.0.0.1") && !details.contains("/hook"),
        "{details}"
    );
    assert_eq!(
        w.events(&w.aowner, "alpha", "webhook.rotate_secret")
            .await
            .len(),
        1
    );
}

async fn retries_carry_one_event_id_until_delivered(b: Backend) {
    let w = World::start(b).await;
    let rx = Receiver::start().await;
    rx.fail_next(2);
    let (id, secret) = w
        .webhook(&w.aowner, "alpha", &rx.url, &["secret.revealed"])
        .await;
    w.put(&w.aowner, "alpha", "OPS-2", "api-key", VALUE, json!({}))
        .await;
    w.app
        .reveal_as(&w.aowner, "alpha", "OPS-2", "api-key")
        .await;

    let got = rx.wait_for("secret.revealed", 3).await;
    let list = w
        .deliveries_until(&w.aowner, "alpha", &id, "delivered", |l| {
            l.first().is_some_and(|d| d["state"] == "delivered")
        })
        .await;
    assert_eq!(list.len(), 1, "one delivery: {list:?}");
    assert_eq!(list[0]["attempts"], 3);
    assert_eq!(list[0]["last_status"], 204);
    let got = {
        // Nothing more arrives once it is delivered.
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        let again = rx.got();
        assert_eq!(again.len(), got.len(), "sent again after a 2xx");
        again
    };
    assert_eq!(got.len(), 3);
    let ids: HashSet<&str> = got.iter().map(|d| d.header("coffer-event-id")).collect();
    assert_eq!(ids.len(), 1, "the same idempotency key on every attempt");
    let deliveries: HashSet<&str> = got.iter().map(|d| d.header("coffer-delivery-id")).collect();
    assert_eq!(deliveries.len(), 1);
    assert!(
        got.iter().all(|d| d.body == got[0].body),
        "the same bytes each time"
    );
    assert!(got.iter().all(|d| d.signed_with(&secret)));
    let attempts: Vec<&str> = got
        .iter()
        .map(|d| d.header("coffer-delivery-attempt"))
        .collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    assert_eq!(got[0].json()["id"], list[0]["event_id"]);
}

async fn always_failing_is_dead_lettered_then_redelivered(b: Backend) {
    let w = World::start(b).await;
    let rx = Receiver::start().await;
    rx.always_fail(true);
    let (id, secret) = w
        .webhook(&w.aowner, "alpha", &rx.url, &["secret.revealed"])
        .await;
    w.put(&w.aowner, "alpha", "OPS-3", "token", VALUE, json!({}))
        .await;
    w.app.reveal_as(&w.aowner, "alpha", "OPS-3", "token").await;

    // max_attempts is 4 in these tests.
    let list = w
        .deliveries_until(&w.aowner, "alpha", &id, "dead-lettered", |l| {
            l.first().is_some_and(|d| d["state"] == "failed")
        })
        .await;
    assert_eq!(list[0]["attempts"], 4);
    assert_eq!(list[0]["last_status"], 500);
    assert_eq!(list[0]["last_error"], "answered HTTP 500");
    assert!(list[0]["next_attempt_at"].is_null());
    assert_eq!(rx.got().len(), 4, "every attempt reached the receiver");
    let metric = "coffer_webhook_attempts_total";
    assert_eq!(w.app.metric(metric, &[("outcome", "retried")]).await, 3.0);
    assert_eq!(w.app.metric(metric, &[("outcome", "failed")]).await, 1.0);
    let failed = w.deliveries(&w.aowner, "alpha", &id, true).await;
    assert_eq!(failed.len(), 1);
    let delivery = failed[0]["id"].as_str().unwrap().to_owned();

    // Redelivered on request; a member may not, another org cannot even see it.
    let path = format!("/api/v1/orgs/alpha/webhooks/deliveries/{delivery}/redeliver");
    let r = w.call(&w.amember, Method::POST, &path, None).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = w
        .call(
            &w.badmin,
            Method::POST,
            &format!("/api/v1/orgs/bravo/webhooks/deliveries/{delivery}/redeliver"),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    rx.always_fail(false);
    let r = w.call(&w.aowner, Method::POST, &path, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["state"], "pending");
    assert_eq!(r.body["attempts"], 0);
    let list = w
        .deliveries_until(&w.aowner, "alpha", &id, "redelivered", |l| {
            l.first().is_some_and(|d| d["state"] == "delivered")
        })
        .await;
    assert_eq!(list[0]["attempts"], 1);
    let got = rx.got();
    assert_eq!(got.len(), 5);
    assert_eq!(
        got[4].header("coffer-event-id"),
        got[0].header("coffer-event-id"),
        "a redelivery is the same event"
    );
    assert!(got[4].signed_with(&secret));
    assert!(w.deliveries(&w.aowner, "alpha", &id, true).await.is_empty());
    // Redelivering what is still pending is refused; a delivered one may be sent again.
    let r = w.call(&w.aowner, Method::POST, &path, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = w.call(&w.aowner, Method::POST, &path, None).await;
    assert!(
        r.status == 409 && r.code() == "delivery_pending" || r.status == 200,
        "{} {}",
        r.status,
        r.body
    );
    assert!(
        !w.events(&w.aowner, "alpha", "webhook.redeliver")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_reveal_arrives_signed_over_the_raw_body_sqlite() {
    a_reveal_arrives_signed_over_the_raw_body(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_reveal_arrives_signed_over_the_raw_body_postgres() {
    a_reveal_arrives_signed_over_the_raw_body(Backend::Postgres).await;
}

#[tokio::test]
async fn retries_carry_one_event_id_until_delivered_sqlite() {
    retries_carry_one_event_id_until_delivered(Backend::Sqlite).await;
}

#[tokio::test]
async fn retries_carry_one_event_id_until_delivered_postgres() {
    retries_carry_one_event_id_until_delivered(Backend::Postgres).await;
}

#[tokio::test]
async fn always_failing_is_dead_lettered_then_redelivered_sqlite() {
    always_failing_is_dead_lettered_then_redelivered(Backend::Sqlite).await;
}

#[tokio::test]
async fn always_failing_is_dead_lettered_then_redelivered_postgres() {
    always_failing_is_dead_lettered_then_redelivered(Backend::Postgres).await;
}
