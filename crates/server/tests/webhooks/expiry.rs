//! Expiry reminders: a secret expiring within the window (`webhooks.expiry_reminder_days`, 7 by
//! default) gets exactly one `secret.expiring` audit event and delivery, however many times the
//! job runs; one expiring later gets none; changing the expiry announces the new one; and the
//! secret list tells the web UI the window, so the issue page can warn.

use crate::{Backend, Receiver, World};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

fn in_days(days: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::days(days);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

async fn an_expiring_secret_is_announced_once(b: Backend) {
    let w = World::start(b).await;
    let rx = Receiver::start().await;
    let (_, secret) = w
        .webhook(&w.aowner, "alpha", &rx.url, &["secret.expiring"])
        .await;
    w.put(
        &w.aowner,
        "alpha",
        "OPS-9",
        "cert",
        b"-----BEGIN PRIVATE KEY-----",
        json!({"expires_at": in_days(2)}),
    )
    .await;
    w.put(
        &w.aowner,
        "alpha",
        "OPS-9",
        "later",
        b"v",
        json!({"expires_at": in_days(30)}),
    )
    .await;
    w.put(
        &w.bowner,
        "bravo",
        "OPS-9",
        "cert",
        b"v",
        json!({"expires_at": in_days(1)}),
    )
    .await;

    let got = rx.wait_for("secret.expiring", 1).await;
    // The job runs every 200 ms here: give it many more runs to repeat itself.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got_after = rx.of_type("secret.expiring");
    assert_eq!(
        got_after.len(),
        1,
        "announced more than once: {got_after:?}"
    );
    let body = got[0].json();
    assert!(got[0].signed_with(&secret));
    assert_eq!(body["type"], "secret.expiring");
    assert_eq!(body["target"], "OPS-9/cert");
    assert_eq!(body["org"]["slug"], "alpha");
    assert_eq!(body["actor"]["name"], "coffer");
    assert_eq!(body["details"]["expired"], false);
    assert!(body["details"]["expires_at"].is_string());
    assert!(!String::from_utf8_lossy(&got[0].body).contains("PRIVATE KEY"));
    let events = w.events(&w.aowner, "alpha", "secret.expiring").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        w.events(&w.bowner, "bravo", "secret.expiring").await.len(),
        1
    );

    // A new expiry is announced again, once.
    w.put(
        &w.aowner,
        "alpha",
        "OPS-9",
        "cert",
        b"-----BEGIN PRIVATE KEY-----2",
        json!({"expires_at": in_days(3)}),
    )
    .await;
    rx.wait_for("secret.expiring", 2).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(rx.of_type("secret.expiring").len(), 2);
    assert_eq!(
        w.events(&w.aowner, "alpha", "secret.expiring").await.len(),
        2
    );

    // The list carries the window the web UI warns within.
    let r = w
        .call(
            &w.aowner,
            Method::GET,
            "/api/v1/orgs/alpha/secrets?issue=OPS-9",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["expiry_warning_days"], 7);
}

#[tokio::test]
async fn an_expiring_secret_is_announced_once_sqlite() {
    an_expiring_secret_is_announced_once(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_expiring_secret_is_announced_once_postgres() {
    an_expiring_secret_is_announced_once(Backend::Postgres).await;
}
