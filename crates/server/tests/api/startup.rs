//! Startup checks, bootstrap, and the operational endpoints.

use crate::helpers::*;
use coffer_server::config::{Config, Overrides};
use coffer_server::startup::RunningApp;
use std::os::unix::fs::PermissionsExt;

#[tokio::test]
async fn first_start_bootstraps_once_and_writes_a_private_admin_token() {
    let app = spawn_app().await;
    let path = app.data_dir().join("admin.token");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), app.token);
    let config = Config::load(
        None,
        Overrides {
            data_dir: Some(app.data_dir()),
            listen: Some("127.0.0.1:0".into()),
        },
    )
    .unwrap();
    let TestApp { app: running, .. } = app;
    running.stop().await;
    let again = RunningApp::start(&config).await.unwrap();
    assert!(
        again.admin_token.is_none(),
        "a second start does not bootstrap again"
    );
    again.stop().await;
}

#[tokio::test]
async fn refuses_a_data_dir_or_master_key_others_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = Config::load(
        None,
        Overrides {
            data_dir: Some(data.clone()),
            listen: Some("127.0.0.1:0".into()),
        },
    )
    .unwrap();
    RunningApp::start(&config).await.unwrap().stop().await;
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = RunningApp::start(&config)
        .await
        .err()
        .expect("loose data dir refused");
    assert!(err.to_string().contains("chmod 700"), "{err}");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(
        data.join("master.key"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let err = RunningApp::start(&config)
        .await
        .err()
        .expect("loose master key refused");
    assert!(err.to_string().contains("chmod 600"), "{err}");
}

#[tokio::test]
async fn health_readiness_metrics_and_openapi() {
    let app = spawn_app().await;
    let get = |p: &str| reqwest::get(format!("{}{p}", app.base));
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    app.put_secret("OPS-1", "db", b"v").await;
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(metrics.contains("coffer_http_requests_total{route=\"/api/v1/orgs/{org}/secrets/{scope}/{name}\",method=\"PUT\",status=\"201\"} 1"), "{metrics}");
    assert!(
        metrics.contains(
            "coffer_blob_requests_total{backend=\"fs\",operation=\"put\",outcome=\"ok\"} 2"
        ),
        "one put for the envelope, one for its manifest: {metrics}"
    );
    assert!(metrics.contains("coffer_http_request_duration_seconds_bucket"));
    let doc: serde_json::Value = get("/api/v1/openapi.json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/api/v1/orgs/{org}/secrets/{scope}/{name}/reveal"]["post"].is_object());
    assert!(doc["components"]["schemas"]["PutSecretRequest"].is_object());
}

#[tokio::test]
async fn the_sweeper_removes_orphans_but_never_referenced_blobs() {
    let app = spawn_app().await;
    app.put_secret("OPS-1", "db", b"v").await;
    let orphan = app.data_dir().join("blobs/orgs/x/secrets/y/v1.cfr");
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"orphan").unwrap();
    let removed = coffer_server::sweeper::sweep_once(app.app.coffer(), std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert!(!orphan.exists());
    assert_eq!(app.reveal("OPS-1", "db").await, b"v");
}
