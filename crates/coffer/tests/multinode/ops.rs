//! Operating several nodes: the orphan sweepers of both nodes run against one bucket and are
//! safe to (a blob younger than the grace period — a write in flight — is never swept; a real
//! orphan is removed once it is older; referenced blobs are never touched); a node given a
//! master key of its own refuses to start; and `coffer serve` with an unreachable catalog
//! retries with backoff, then exits non-zero naming the URL without its password.

use crate::api::{Client, value};
use crate::cluster::{Cluster, Knobs};
use crate::node::Node;
use coffer_server::blob::{BlobError, BlobKey, BlobPrefix, BlobStore};
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

const LISTS: &str = r#"coffer_blob_requests_total{backend="s3",operation="list",outcome="ok"}"#;
const DELETES: &str = r#"coffer_blob_requests_total{backend="s3",operation="delete",outcome="ok"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_sweepers_spare_young_and_referenced_blobs_and_remove_a_real_orphan() {
    const GRACE: Duration = Duration::from_secs(8);
    let knobs = Knobs {
        sweep_interval: "300ms",
        sweep_grace: "8s",
        ..Knobs::default()
    };
    let c = Cluster::start(2, knobs).await;
    let t = c.token.clone();
    let nodes = [Client::of(c.node(0)), Client::of(c.node(1))];
    let org = nodes[0]
        .call(&t, Method::GET, "/api/v1/orgs/default", None)
        .await;
    let org = org.body["id"].as_str().expect("org id").to_owned();
    let store = c.bucket_store().await;
    // Exactly what a write leaves between its blob and its catalog row (or a crash leaves for
    // good): an object under a version key that no row references.
    let orphan = format!("orgs/{org}/secrets/{}/v1.cfr", uuid::Uuid::new_v4());
    let orphan = BlobKey::parse(&orphan).expect("blob key");
    let planted = Instant::now();
    store
        .put_if_absent(&orphan, b"no row points here".to_vec().into())
        .await
        .expect("plant the orphan");

    // Both sweepers run (twice or more) while writes land on both nodes.
    let before = [nodes[0].metric(LISTS).await, nodes[1].metric(LISTS).await];
    let mut writers = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let (n, t) = (n.clone(), t.clone());
        writers.push(tokio::spawn(async move {
            for k in 0..10 {
                let r = n
                    .put(&t, &format!("OPS-6/n{i}-{k}"), "kept", json!({}))
                    .await;
                assert_eq!(r.status, 201, "{r:?}");
            }
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }
    loop {
        let now = [nodes[0].metric(LISTS).await, nodes[1].metric(LISTS).await];
        if now[0] >= before[0] + 2.0 && now[1] >= before[1] + 2.0 {
            break;
        }
        assert!(
            planted.elapsed() < GRACE,
            "sweepers did not run: {before:?} → {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let young = planted.elapsed();
    // S3 keeps whole seconds of LastModified, so a blob may look up to 1 s older than it is.
    assert!(
        young < GRACE - Duration::from_secs(2),
        "inconclusive: sweeps took {young:?}, too close to the grace period {GRACE:?}"
    );
    let present = store.get(&orphan).await;
    assert!(
        present.is_ok(),
        "a blob {young:?} old (grace {GRACE:?}) was swept: {present:?}"
    );
    // Then, older than the grace period, it goes — once, and stays gone.
    loop {
        match store.get(&orphan).await {
            Err(BlobError::NotFound) => break,
            Ok(_) => {}
            Err(e) => panic!("reading the bucket: {e}"),
        }
        assert!(
            planted.elapsed() < GRACE + Duration::from_secs(30),
            "the orphan is still there after {:?}",
            planted.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let removed_after = planted.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await; // a few more sweeps on both nodes
    let deletes = [
        nodes[0].metric(DELETES).await,
        nodes[1].metric(DELETES).await,
    ];
    eprintln!(
        "orphan kept while young ({young:?}), gone after {removed_after:?}; deletes per node {deletes:?}"
    );
    // Both nodes may race to delete it (S3 deletes are idempotent: safe); neither does twice.
    assert!(
        deletes[0] + deletes[1] >= 1.0,
        "nobody deleted it? {deletes:?}"
    );
    assert!(
        deletes.iter().all(|&d| d <= 1.0),
        "a node deleted it again: {deletes:?}"
    );
    // Every referenced blob survived both sweepers: the bucket holds exactly the 20 versions'
    // envelopes and their manifests, and each reads back on both nodes.
    let listed = store
        .list(&BlobPrefix::parse("orgs/").unwrap())
        .await
        .unwrap();
    assert_eq!(listed.len(), 40, "{listed:?}");
    let envelopes = listed
        .iter()
        .filter(|b| b.key.as_str().ends_with(".cfr"))
        .count();
    assert_eq!(envelopes, 20, "{listed:?}");
    for i in 0..2 {
        for k in 0..10 {
            let path = format!("OPS-6/n{i}-{k}");
            assert_eq!(value(&nodes[1 - i].reveal(&t, &path, None).await), "kept");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_a_master_key_of_its_own_refuses_to_start() {
    let c = Cluster::start(2, Knobs::default()).await;
    // The classic mistake: the key file was not copied, so the new node creates its own.
    let own = c.dir().join("forgotten.key");
    let mut node = c.spawn_node("n2", &own);
    let status = node
        .wait_exit(Duration::from_secs(60))
        .expect("a node that cannot read the deployment's org keys exits");
    let log = node.stderr();
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("every node of a deployment must use the same master key file"),
        "the message says what to do:\n{log}"
    );
    assert!(
        node.stdout().is_empty(),
        "it never listened: {:?}",
        node.stdout()
    );
}

#[test]
fn an_unreachable_catalog_is_retried_then_serve_exits_without_printing_the_password() {
    // A port nothing listens on: bound, read, released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("coffer.toml");
    let toml = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n\n[catalog]\nkind = \"postgres\"\n\
         url = \"postgres://coffer:hunter2@127.0.0.1:{port}/coffer\"\nconnect_timeout = \"2s\"\n",
        dir.path().join("data").display()
    );
    std::fs::write(&config, toml).unwrap();
    let mut node = Node::spawn("pg-down", &config, dir.path());
    let status = node
        .wait_exit(Duration::from_secs(60))
        .expect("coffer serve gives up on an unreachable catalog and exits");
    let log = node.stderr();
    assert!(!status.success(), "exit status {status:?}; stderr:\n{log}");
    let shown = format!("postgres://coffer:***@127.0.0.1:{port}/coffer");
    assert!(log.contains(&shown), "the message names {shown}:\n{log}");
    assert!(!log.contains("hunter2"), "the password leaked:\n{log}");
    let retries = log.matches("not reachable yet, retrying").count();
    assert!(
        retries >= 2,
        "it retried with backoff before giving up:\n{log}"
    );
    assert!(
        node.stdout().is_empty(),
        "it never listened: {:?}",
        node.stdout()
    );
    eprintln!("gave up after {retries} retries; it said:\n{log}");
}
