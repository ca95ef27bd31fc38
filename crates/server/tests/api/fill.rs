//! The large-catalog filler (`coffer_server::testing::fill`, what the benchmark's million-secret
//! run uses) writes what a write leaves behind: after filling a stopped app's catalog, the
//! restarted app lists the filler, counts it, keeps the real secret revealable and verifies the
//! audit chain through the filler's events — on both catalogs.

use crate::helpers::*;
use coffer_server::catalog::CatalogSettings;
use coffer_server::config::{Config, Overrides};
use coffer_server::domain::{OrgSlug, UserName};
use coffer_server::startup::RunningApp;
use coffer_server::testing::fill::{self, PER_ISSUE, Target};
use coffer_server::testing::pg::TestDb;
use std::time::Duration;

async fn filled_catalog_reads_back(db: Option<TestDb>) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::load(
        None,
        Overrides {
            data_dir: Some(dir.path().join("data")),
            listen: Some("127.0.0.1:0".into()),
        },
    )
    .unwrap();
    if let Some(db) = &db {
        config.catalog = CatalogSettings::Postgres {
            url: db.url.clone(),
            pool_size: 4,
            connect_timeout: Duration::from_secs(10),
        };
    }
    let running = RunningApp::start(&config).await.unwrap();
    let token = running.admin_token.as_ref().unwrap().to_string();
    let app = TestApp::attach(running, token.clone(), dir);
    assert!(
        app.put_secret("OPS-1", "real", b"hunter2")
            .await
            .status
            .is_success()
    );
    let events_before = app.get("/api/v1/orgs/default/audit/verify").await.body["events"]
        .as_u64()
        .unwrap();
    let TestApp {
        app: running, dir, ..
    } = app;
    running.stop().await;

    let count = PER_ISSUE + 500;
    let sqlite = config.data_dir.join("catalog.db");
    let target = match &db {
        Some(db) => Target::Postgres(&db.url),
        None => Target::Sqlite(&sqlite),
    };
    let (org, user) = (
        OrgSlug::parse("default").unwrap(),
        UserName::parse("admin").unwrap(),
    );
    fill::fill(target, &org, &user, count).await.unwrap();
    assert_eq!(fill::count_secrets(target).await.unwrap(), count + 1);

    let app = TestApp::attach(RunningApp::start(&config).await.unwrap(), token, dir);
    let listed = app
        .get("/api/v1/orgs/default/secrets?project=FILL&limit=5000")
        .await;
    assert_eq!(
        listed.body["secrets"].as_array().unwrap().len() as u64,
        count
    );
    let second_issue = app
        .get("/api/v1/orgs/default/secrets?issue=FILL-2&limit=5000")
        .await;
    assert_eq!(second_issue.body["secrets"].as_array().unwrap().len(), 500);
    let history = app
        .get("/api/v1/orgs/default/secrets/FILL-1/f0/versions")
        .await;
    assert_eq!(history.status, 200, "{}", history.body);
    assert_eq!(history.body["versions"][0]["created_by"], "admin");
    assert_eq!(app.reveal("OPS-1", "real").await, b"hunter2");
    let verified = app.get("/api/v1/orgs/default/audit/verify").await;
    assert_eq!(verified.body["ok"], true, "{}", verified.body);
    assert_eq!(
        verified.body["events"].as_u64().unwrap(),
        events_before + count + 1,
        "the filler's events, then the reveal's, chain on from the head"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn filler_reads_back_on_sqlite() {
    filled_catalog_reads_back(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn filler_reads_back_on_postgres() {
    filled_catalog_reads_back(Some(TestDb::create().await)).await;
}
