//! The key hierarchy seen from outside: rotation, forced rotation, and key-provider calls kept
//! off the hot path (counted from /metrics).

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn rotation_keeps_old_versions_readable_and_new_writes_use_the_new_key() {
    let app = spawn_app().await;
    app.put_secret("OPS-1", "db", b"before").await;
    let r = app
        .post("/api/v1/orgs/default/keys/rotate", json!({}))
        .await;
    assert_eq!(
        (
            r.body["key_version"].as_u64(),
            r.body["previous_version"].as_u64()
        ),
        (Some(2), Some(1))
    );
    app.put_secret("OPS-1", "db", b"after").await;
    let h = app
        .get("/api/v1/orgs/default/secrets/OPS-1/db/versions")
        .await;
    let kv: Vec<u64> = h.body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["key_version"].as_u64().unwrap())
        .collect();
    assert_eq!(kv, [2, 1]);
    assert_eq!(app.reveal("OPS-1", "db").await, b"after");
    let old = app
        .call(
            &app.token,
            Method::POST,
            "/api/v1/orgs/default/secrets/OPS-1/db/reveal?version=1",
            None,
        )
        .await;
    assert_eq!(
        B64.decode(old.body["value"].as_str().unwrap()).unwrap(),
        b"before"
    );
}

#[tokio::test]
async fn the_encryption_counter_forces_rotation_at_its_limit() {
    // Each version wraps two data keys (its value's and its manifest's): 3 versions per key.
    let app = spawn_with(|c| c.keys.max_encryptions_per_key = 6).await;
    for i in 0..7 {
        assert!(
            app.put_secret("OPS-1", &format!("s{i}"), b"v")
                .await
                .status
                .is_success()
        );
    }
    let org = app.get("/api/v1/orgs/default").await;
    assert_eq!(
        org.body["key_version"], 3,
        "7 writes at 3 per key need 3 key versions"
    );
    for i in 0..7 {
        assert_eq!(app.reveal("OPS-1", &format!("s{i}")).await, b"v");
    }
}

#[tokio::test]
async fn writes_make_no_provider_calls_and_cold_reveals_share_one() {
    // Long enough for 20 writes on a loaded machine, short enough to wait out below.
    let ttl = Duration::from_secs(3);
    let app = spawn_with(|c| c.keys.key_cache_ttl = ttl).await;
    app.put_secret("OPS-1", "db", b"v").await; // warms the cache
    let unwraps = || {
        app.metric(
            "coffer_key_provider_requests_total",
            &[("operation", "unwrap")],
        )
    };
    let wraps = || {
        app.metric(
            "coffer_key_provider_requests_total",
            &[("operation", "wrap")],
        )
    };
    let (u0, w0) = (unwraps().await, wraps().await);
    for i in 0..20 {
        app.put_secret("OPS-1", &format!("w{i}"), b"v").await;
    }
    assert_eq!(
        (unwraps().await, wraps().await),
        (u0, w0),
        "20 warm writes: zero provider calls"
    );
    tokio::time::sleep(ttl + Duration::from_millis(300)).await; // let the cached key expire
    let reveals = futures::future::join_all(
        (0..50).map(|_| app.reveal_as(&app.token, "default", "OPS-1", "db")),
    )
    .await;
    assert!(reveals.iter().all(|r| r.status == 200));
    assert_eq!(
        unwraps().await,
        u0 + 1.0,
        "50 concurrent cold reveals: one unwrap"
    );
    assert!(
        app.metric("coffer_key_cache_lookups_total", &[("result", "hit")])
            .await
            >= 20.0
    );
}
