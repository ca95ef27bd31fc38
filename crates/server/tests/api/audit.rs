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

/// One stored event: seq, org, prev_hash, at, actor_id, actor, action, target, details.
type Row = (
    i64,
    Vec<u8>,
    Vec<u8>,
    i64,
    Option<Vec<u8>>,
    String,
    String,
    String,
    String,
);

/// Recomputes every hash of the chain in the catalog file from event `from` on, the way
/// someone with write access to the database (but not the org key) would cover an edit.
fn recompute_from(db: &std::path::Path, from: i64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut rows: Vec<Row> = conn
        .prepare("SELECT seq, org_id, prev_hash, at, actor_id, actor, action, target, details FROM audit_events ORDER BY org_id, seq")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut prev: Option<[u8; 32]> = None;
    for (seq, org, stored_prev, at, actor_id, actor, action, target, details) in rows.drain(..) {
        if seq < from {
            continue;
        }
        let prev_hash: [u8; 32] = prev.unwrap_or_else(|| stored_prev.clone().try_into().unwrap());
        let org = coffer_server::domain::OrgId::from_uuid(uuid::Uuid::from_slice(&org).unwrap());
        let actor_id = actor_id
            .map(|a| coffer_server::domain::UserId::from_uuid(uuid::Uuid::from_slice(&a).unwrap()));
        let hash = coffer_server::audit::chain_hash(
            &prev_hash,
            seq as u64,
            org,
            coffer_server::domain::Timestamp::from_millis(at),
            actor_id,
            &actor,
            &action,
            &target,
            &details,
        );
        conn.execute(
            "UPDATE audit_events SET prev_hash = ?1, hash = ?2 WHERE org_id = ?3 AND seq = ?4",
            rusqlite::params![prev_hash, hash, org.to_bytes(), seq],
        )
        .unwrap();
        prev = Some(hash);
    }
}

async fn verify(app: &TestApp, expect: Option<&str>) -> serde_json::Value {
    let path = match expect {
        Some(e) => format!("/api/v1/orgs/default/audit/verify?expect={e}"),
        None => "/api/v1/orgs/default/audit/verify".to_owned(),
    };
    let v = app.get(&path).await;
    assert_eq!(v.status, 200, "{}", v.body);
    v.body
}

#[tokio::test]
async fn deleting_the_newest_events_is_detected_by_the_signed_checkpoint() {
    let app = spawn_app().await;
    for i in 0..4 {
        app.put_secret("OPS-1", &format!("s{i}"), b"v").await;
    }
    let v = verify(&app, None).await;
    assert_eq!(v["ok"], true, "{v}");
    let signed = v["checkpoint"]["seq"].as_u64().unwrap();
    assert_eq!(
        signed,
        v["events"].as_u64().unwrap(),
        "the head is signed: {v}"
    );
    assert_eq!(v["checkpoint"]["public_key"].as_str().unwrap().len(), 64);
    let db = app.data_dir().join("catalog.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "DELETE FROM audit_events WHERE seq > ?1",
        [signed as i64 - 2],
    )
    .unwrap();
    drop(conn);
    let v = verify(&app, None).await;
    assert_eq!(v["ok"], false, "{v}");
    let problem = v["checkpoint_problem"].as_str().unwrap();
    assert!(
        problem.contains(&format!("events {}..={signed} are missing", signed - 1)),
        "{problem}"
    );
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("truncated or rewritten")
    );
}

#[tokio::test]
async fn a_rewrite_with_recomputed_hashes_is_detected_by_the_signed_checkpoint() {
    let app = spawn_app().await;
    for i in 0..4 {
        app.put_secret("OPS-1", &format!("s{i}"), b"v").await;
    }
    let signed = verify(&app, None).await["checkpoint"]["seq"]
        .as_u64()
        .unwrap();
    let db = app.data_dir().join("catalog.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE audit_events SET actor = 'mallory' WHERE seq = 4",
        [],
    )
    .unwrap();
    drop(conn);
    recompute_from(&db, 4);
    let v = verify(&app, None).await;
    assert_eq!(
        v["first_bad_seq"],
        serde_json::Value::Null,
        "the hashes are consistent: {v}"
    );
    assert_eq!(v["ok"], false, "{v}");
    let problem = v["checkpoint_problem"].as_str().unwrap();
    assert!(
        problem.contains(&format!("event {signed} was rewritten")),
        "{problem}"
    );
}

#[tokio::test]
async fn removing_checkpoints_too_is_caught_by_the_node_and_by_a_kept_checkpoint() {
    let app = spawn_app().await;
    app.put_secret("OPS-1", "a", b"v").await;
    let kept = verify(&app, None).await["checkpoint"].clone();
    let expect = format!("{}:{}", kept["n"], kept["head"].as_str().unwrap());
    app.put_secret("OPS-1", "b", b"v").await;
    let newer = verify(&app, Some(&expect)).await;
    assert_eq!(newer["ok"], true, "{newer}");
    // Remove the events after the kept checkpoint's event, and every checkpoint but the first.
    let db = app.data_dir().join("catalog.db");
    let cut = |keep_seq: u64, keep_n: u64| {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute("DELETE FROM audit_events WHERE seq > ?1", [keep_seq as i64])
            .unwrap();
        conn.execute(
            "DELETE FROM audit_checkpoints WHERE n > ?1",
            [keep_n as i64],
        )
        .unwrap();
    };
    cut(kept["seq"].as_u64().unwrap(), 1);
    let v = verify(&app, None).await;
    assert_eq!(v["ok"], false, "this node saw the newer checkpoint: {v}");
    assert!(
        v["checkpoint_problem"]
            .as_str()
            .unwrap()
            .contains("missing"),
        "{v}"
    );
    // A fresh node has no such memory; the checkpoint an auditor kept catches it.
    let TestApp {
        app: running,
        token,
        dir,
        ..
    } = app;
    running.stop().await;
    let mut config = coffer_server::config::Config::load(
        None,
        coffer_server::config::Overrides {
            data_dir: Some(dir.path().join("data")),
            listen: Some("127.0.0.1:0".into()),
        },
    )
    .unwrap();
    config.audit.checkpoint_interval = std::time::Duration::ZERO;
    let restarted = TestApp::attach(
        coffer_server::startup::RunningApp::start(&config)
            .await
            .unwrap(),
        token,
        dir,
    );
    // Every checkpoint gone and the chain cut before the kept one's event: consistent on its own.
    cut(kept["seq"].as_u64().unwrap() - 1, 0);
    let v = verify(&restarted, Some(&expect)).await;
    assert_eq!(v["ok"], false, "{v}");
    let problem = v["checkpoint_problem"].as_str().unwrap();
    assert!(
        problem.contains("the checkpoint 1 you kept")
            || problem.contains("checkpoint 1 no longer vouches"),
        "{problem}"
    );
    let plain = verify(&restarted, None).await;
    assert_eq!(
        plain["ok"], true,
        "without the kept checkpoint the cut is invisible: {plain}"
    );
}
