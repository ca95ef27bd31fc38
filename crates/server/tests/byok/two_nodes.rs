//! Two nodes sharing one PostgreSQL catalog (and master key and blob directory) both run the health probe every
//! 200 ms: a revoked key suspends the org once and a restored one restores it once — one audit
//! event and one counted transition each across the deployment — because the transition is a
//! check-and-set inside the catalog transaction. Needs PostgreSQL on 127.0.0.1:5432 (or
//! `COFFER_TEST_PG_URL`), like the catalog's own tests.

use crate::*;
use coffer_server::blob::BlobSettings;
use coffer_server::catalog::CatalogSettings;
use coffer_server::startup::RunningApp;
use sqlx::Connection;
use std::time::{Duration, Instant};

const PROBE: Duration = Duration::from_millis(200);

async fn fresh_database() -> (String, String) {
    let server = std::env::var("COFFER_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("coffer_byok_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&server)
        .await
        .expect("PostgreSQL on 127.0.0.1:5432 (or COFFER_TEST_PG_URL) is needed");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = format!("{}/{name}", server.rsplit_once('/').unwrap().0);
    (server, url)
}

/// The second node, spoken to over plain HTTP.
struct Node(RunningApp);

impl Node {
    async fn reveal_status(&self, token: &str) -> (u16, String) {
        let url = format!(
            "http://{}/api/v1/orgs/acme/secrets/OPS-1/db/reveal",
            self.0.addr
        );
        let r = reqwest::Client::new()
            .post(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn transitions(&self, t: &str) -> f64 {
        let text = reqwest::get(format!("http://{}/metrics", self.0.addr))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let label = format!("coffer_org_key_transitions_total{{transition=\"{t}\"}}");
        text.lines()
            .filter(|l| l.starts_with(&label))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

async fn transitions(e: &Env, node2: &Node, t: &str) -> f64 {
    let name = "coffer_org_key_transitions_total";
    e.app.metric(name, &[("transition", t)]).await + node2.transitions(t).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_probing_nodes_suspend_and_restore_exactly_once() {
    let (server, url) = fresh_database().await;
    let shared = tempfile::tempdir().unwrap();
    let master = shared.path().join("master.key");
    let moto = Moto::shared();
    let setup = |c: &mut Config| {
        c.catalog = CatalogSettings::Postgres {
            url: url.clone(),
            pool_size: 4,
            connect_timeout: Duration::from_secs(10),
        };
        c.keys.master_key_file = Some(master.clone());
        c.blobs = BlobSettings::Fs {
            path: Some(shared.path().join("blobs")),
        };
        c.keys.key_cache_ttl = Duration::from_millis(300);
        c.keys.probe_interval = PROBE;
    };
    let e = env(moto, setup).await;
    e.enable().await;
    assert_eq!(e.put("OPS-1", "db", b"v").await.status, 201);
    let dir2 = tempfile::tempdir().unwrap();
    let mut c2 = Config::load(None, Default::default()).unwrap();
    c2.data_dir = dir2.path().join("data");
    c2.listen = "127.0.0.1:0".into();
    c2.byok.principal_arn = Some(PRINCIPAL.into());
    c2.byok.aws = AwsSettings {
        region: None,
        ..moto.settings(REGIONS[0])
    };
    setup(&mut c2);
    let node2 = RunningApp::start(&c2).await.expect("second node starts");
    assert!(node2.admin_token.is_none(), "the deployment already exists");
    let node2 = Node(node2);

    e.disable_key(0).await;
    let start = Instant::now();
    while e.reveal("OPS-1", "db").await.status != 423 {
        assert!(start.elapsed() < Duration::from_secs(5), "not suspended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(PROBE * 5).await; // both nodes keep probing the revoked key
    assert_eq!(
        e.audit_count("org.suspend").await,
        1,
        "one event for the deployment"
    );
    assert_eq!(transitions(&e, &node2, "suspend").await, 1.0);
    let (status, body) = node2.reveal_status(&e.owner).await;
    assert!(
        status == 423 && body.contains("org_suspended"),
        "the other node refuses too: {body}"
    );

    e.enable_key(0).await;
    let start = Instant::now();
    loop {
        let (status, body) = node2.reveal_status(&e.owner).await;
        if status == 200 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "not restored: {status} {body}\n{}",
            e.keys_view().await.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(PROBE * 5).await;
    assert_eq!(e.audit_count("org.restore").await, 1);
    assert_eq!(transitions(&e, &node2, "restore").await, 1.0);
    node2.0.stop().await;
    drop(dir2);
    let mut conn = sqlx::PgConnection::connect(&server).await.unwrap();
    let db = url.rsplit('/').next().unwrap();
    let drop = format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)");
    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
        .execute(&mut conn)
        .await;
}
