//! Two nodes on one PostgreSQL database, both running the delivery job every 100 ms against the
//! same webhook: every event is enqueued once and sent once (each event id arrives exactly once,
//! on its first attempt), whichever node the change was made on.

use crate::helpers::TestApp;
use crate::{Backend, Receiver, World, fast_webhooks};
use coffer_server::catalog::CatalogSettings;
use coffer_server::config::{Config, Overrides};
use coffer_server::startup::RunningApp;
use reqwest::Method;
use serde_json::json;
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;

/// A second node of `w`'s deployment: its own data directory with the first node's master key,
/// the same database.
async fn second_node(w: &World) -> TestApp {
    let db = w.db.as_ref().expect("a PostgreSQL world");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let key = data.join("master.key");
    std::fs::copy(w.app.data_dir().join("master.key"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut config = Config::load(
        None,
        Overrides {
            data_dir: Some(data),
            listen: Some("127.0.0.1:0".into()),
        },
    )
    .unwrap();
    config.catalog = CatalogSettings::Postgres {
        url: db.url.clone(),
        pool_size: 8,
        connect_timeout: std::time::Duration::from_secs(10),
    };
    fast_webhooks(&mut config);
    let app = RunningApp::start(&config)
        .await
        .expect("the second node starts");
    TestApp::attach(app, w.aowner.clone(), dir)
}

#[tokio::test]
async fn two_nodes_send_each_delivery_once_postgres() {
    let w = World::start(Backend::Postgres).await;
    let other = second_node(&w).await;
    let rx = Receiver::start().await;
    w.webhook(
        &w.aowner,
        "alpha",
        &rx.url,
        &["secret.written", "secret.revealed"],
    )
    .await;
    const N: usize = 12;
    for i in 0..N {
        let node = if i % 2 == 0 { &w.app } else { &other };
        let name = format!("key-{i}");
        let r = node
            .put_secret_as(&w.aowner, "alpha", "OPS-4", &name, b"v", json!({}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let r = node
            .call(
                &w.aowner,
                Method::POST,
                &format!("/api/v1/orgs/alpha/secrets/OPS-4/{name}/reveal"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    rx.wait_for("secret.written", N).await;
    rx.wait_for("secret.revealed", N).await;
    // Both nodes keep polling: give them time to send anything twice.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let got = rx.got();
    assert_eq!(got.len(), 2 * N, "an event was sent more than once");
    let mut seen: HashMap<String, usize> = HashMap::new();
    for d in &got {
        *seen
            .entry(d.header("coffer-event-id").to_owned())
            .or_default() += 1;
        assert_eq!(d.header("coffer-delivery-attempt"), "1");
    }
    assert_eq!(seen.len(), 2 * N);
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
}
