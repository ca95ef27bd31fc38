//! What docs/deployment.md promises when PostgreSQL or S3 is briefly unavailable, checked on
//! two nodes that reach both through cuttable proxies: requests answer 503 with `Retry-After`
//! (never a wrong answer), `/readyz` fails while the catalog is unreachable (and only then), and
//! once the peer is back every node serves again with nothing acknowledged lost.

use crate::api::{Client, Resp, value};
use crate::cluster::{Cluster, Knobs};
use crate::moto::Moto;
use crate::proxy::Proxy;
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

async fn readyz(n: &Client) -> u16 {
    n.call("", Method::GET, "/readyz", None).await.status
}

fn assert_503(r: &Resp, what: &str) {
    assert_eq!(r.status, 503, "{what}: {r:?}");
    assert_eq!(r.code(), "unavailable", "{what}: {r:?}");
    assert!(r.retry_after.is_some(), "{what} has no Retry-After: {r:?}");
}

/// While a peer is down: a reveal of `reveal` and a write of `OPS-8/kept` answer 503 with
/// `Retry-After` (and the write changes nothing), and `/readyz` answers `ready`.
async fn down(n: &Client, t: &str, reveal: &str, ready: u16) {
    let (reveal, write, readiness) = tokio::join!(
        n.reveal(t, reveal, None),
        n.put(t, "OPS-8/kept", "refused", json!({})),
        readyz(n),
    );
    assert_503(&reveal, "reveal");
    assert_503(&write, "write");
    assert_eq!(readiness, ready, "/readyz");
}

/// Polls until `n` serves a reveal of `path` again; returns how long that took.
async fn until_serving(n: &Client, t: &str, path: &str, want: &str) -> Duration {
    let since = Instant::now();
    loop {
        let r = n.reveal(t, path, None).await;
        if r.status == 200 {
            assert_eq!(value(&r), want);
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(60),
            "never recovered: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brief_catalog_and_storage_outages_answer_503_and_lose_nothing() {
    let pg = Proxy::start(&crate::pg::server_addr()).await;
    let s3 = Proxy::start(Moto::shared().endpoint().trim_start_matches("http://")).await;
    let knobs = Knobs {
        pg_port: Some(pg.port),
        s3_port: Some(s3.port),
        ..Knobs::default()
    };
    let c = Cluster::start(2, knobs).await;
    let t = c.token.clone();
    let nodes = [Client::of(c.node(0)), Client::of(c.node(1))];
    let put = nodes[0].put(&t, "OPS-8/kept", "before", json!({})).await;
    assert_eq!(put.status, 201, "{put:?}");
    // Never revealed, so in no node's envelope cache: its reveal needs S3.
    let put = nodes[0].put(&t, "OPS-8/cold", "unseen", json!({})).await;
    assert_eq!(put.status, 201, "{put:?}");

    // PostgreSQL goes away. Each answer waits out the pool's connect timeout: ask all at once.
    pg.cut();
    let started = Instant::now();
    tokio::join!(
        down(&nodes[0], &t, "OPS-8/kept", 503),
        down(&nodes[1], &t, "OPS-8/kept", 503)
    );
    eprintln!(
        "catalog down: both nodes answered 503 (×2, /readyz 503) in {:?}",
        started.elapsed()
    );
    pg.restore().await;
    for (i, n) in nodes.iter().enumerate() {
        let took = until_serving(n, &t, "OPS-8/kept", "before").await;
        assert_eq!(readyz(n).await, 200);
        eprintln!("n{i}: serving again {took:?} after PostgreSQL came back");
    }

    // S3 goes away: the catalog still answers, so /readyz stays green (every node shares the
    // bucket: taking them all out of the balancer would not help). `kept`, just revealed on
    // both nodes, is served from their envelope caches; `cold` needs the bucket.
    s3.cut();
    let started = Instant::now();
    tokio::join!(
        down(&nodes[0], &t, "OPS-8/cold", 200),
        down(&nodes[1], &t, "OPS-8/cold", 200)
    );
    for n in &nodes {
        assert_eq!(value(&n.reveal(&t, "OPS-8/kept", None).await), "before");
    }
    eprintln!(
        "storage down: both nodes answered 503 (×2, /readyz 200) in {:?}",
        started.elapsed()
    );
    s3.restore().await;
    for (i, n) in nodes.iter().enumerate() {
        let took = until_serving(n, &t, "OPS-8/cold", "unseen").await;
        eprintln!("n{i}: serving again {took:?} after S3 came back");
    }

    // Nothing acknowledged was lost, no refused write half-landed, and the chain is whole.
    let history = nodes[1]
        .call(
            &t,
            Method::GET,
            "/api/v1/orgs/default/secrets/OPS-8/kept/versions",
            None,
        )
        .await;
    assert_eq!(
        history.body["versions"].as_array().map(Vec::len),
        Some(1),
        "{history:?}"
    );
    let put = nodes[1].put(&t, "OPS-8/kept", "after", json!({})).await;
    assert_eq!(put.status, 200, "{put:?}");
    assert_eq!(
        value(&nodes[0].reveal(&t, "OPS-8/kept", None).await),
        "after"
    );
    let v = nodes[0]
        .call(&t, Method::GET, "/api/v1/orgs/default/audit/verify", None)
        .await;
    assert_eq!(v.body["ok"], true, "{v:?}");
}
