//! The audit chain over HTTP.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn mixed_operations_leave_a_verifiable_chain_without_values() {
    let app = spawn_app().await;
    app.put_secret("OPS-1", "db", b"s3cr3t-value").await;
    app.reveal("OPS-1", "db").await;
    app.put_secret("OPS-1", "db", b"s3cr3t-value-2").await;
    app.call(
        &app.token,
        Method::DELETE,
        "/api/v1/orgs/default/secrets/OPS-1/db",
        None,
    )
    .await;
    app.post("/api/v1/orgs/default/secrets/OPS-1/db/restore", json!({}))
        .await;
    app.post("/api/v1/orgs/default/keys/rotate", json!({}))
        .await;
    app.post(
        "/api/v1/orgs/default/users",
        json!({"name": "bob", "role": "member"}),
    )
    .await;
    app.post("/api/v1/orgs/default/secrets/OPS-1/db/destroy", json!({}))
        .await;
    let v = app.get("/api/v1/orgs/default/audit/verify").await;
    assert_eq!(v.body["ok"], true, "{}", v.body);
    let events = app.get("/api/v1/orgs/default/audit?limit=1000").await;
    let actions: Vec<_> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for a in [
        "org.create",
        "secret.write",
        "secret.reveal",
        "secret.delete",
        "secret.restore",
        "org.rotate_key",
        "member.add",
        "secret.destroy",
    ] {
        assert!(actions.iter().any(|x| x == a), "missing {a} in {actions:?}");
    }
    assert_eq!(v.body["events"].as_u64().unwrap() as usize, actions.len());
    assert!(
        !events.body.to_string().contains("s3cr3t"),
        "events never contain values"
    );
}

#[tokio::test]
async fn editing_the_stored_chain_is_detected() {
    let app = spawn_app().await;
    for i in 0..3 {
        app.put_secret("OPS-1", &format!("s{i}"), b"v").await;
    }
    let db = app.data_dir().join("catalog.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE audit_events SET actor = 'mallory' WHERE seq = 4",
        [],
    )
    .unwrap();
    drop(conn);
    let v = app.get("/api/v1/orgs/default/audit/verify").await;
    assert_eq!(
        (v.body["ok"].as_bool(), v.body["first_bad_seq"].as_u64()),
        (Some(false), Some(4)),
        "{}",
        v.body
    );
    assert!(v.body["message"].as_str().unwrap().contains("modified"));
}
