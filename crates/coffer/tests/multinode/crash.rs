//! A node dies (SIGKILL) in the middle of writes — a crash, the OOM killer, a rolling upgrade
//! gone wrong. The other node must carry on at once: it writes the same secret immediately (a
//! half-done write's orphan blob blocks nobody), and every write the dead node acknowledged
//! reads back with its exact value from the survivor, versions contiguous, audit chain whole.

use crate::api::{Client, value};
use crate::cluster::{Cluster, Knobs};
use coffer_server::blob::{BlobPrefix, BlobStore};
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_write_blocks_nobody_and_loses_no_acknowledged_write() {
    let mut c = Cluster::start(2, Knobs::default()).await;
    let t = c.token.clone();
    let (a, b) = (Client::of(c.node(0)), Client::of(c.node(1)));
    let first = b.put(&t, "OPS-7/hot", "v1 from B", json!({})).await;
    assert_eq!(first.status, 201, "{first:?}");

    // Four writers on A, each writing new versions of the one secret until A is gone.
    let mut writers = Vec::new();
    for w in 0..4 {
        let (a, t) = (a.clone(), t.clone());
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for n in 0.. {
                let val = format!("writer {w} write {n}");
                match a.try_put(&t, "OPS-7/hot", &val, json!({})).await {
                    Ok(r) if r.status == 200 => {
                        acked.push((r.body["version"].as_u64().expect("version"), val));
                    }
                    Ok(r) => panic!("unexpected answer before the kill: {r:?}"),
                    Err(_) => break, // the node is gone
                }
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    c.nodes[0].kill();
    let mut acked = BTreeMap::from([(1, "v1 from B".to_owned())]);
    for w in writers {
        for (version, val) in w.await.expect("writer task") {
            assert!(
                acked.insert(version, val).is_none(),
                "v{version} acknowledged twice"
            );
        }
    }
    assert!(
        acked.len() > 5,
        "A wrote too little before the kill: {}",
        acked.len()
    );

    // The survivor writes the same secret at once: nothing A left behind is in the way.
    for i in 0..3 {
        let val = format!("after the crash {i}");
        let r = b.put(&t, "OPS-7/hot", &val, json!({})).await;
        assert_eq!(r.status, 200, "B could not write after A died: {r:?}");
        acked.insert(r.body["version"].as_u64().unwrap(), val);
    }
    let last = *acked.keys().last().unwrap();
    let history = b
        .call(
            &t,
            Method::GET,
            "/api/v1/orgs/default/secrets/OPS-7/hot/versions",
            None,
        )
        .await;
    let mut listed: Vec<u64> = history.body["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        (1..=last).collect::<Vec<_>>(),
        "versions are contiguous"
    );
    for (version, val) in &acked {
        let shown = b.reveal(&t, "OPS-7/hot", Some(*version as u32)).await;
        assert_eq!(&value(&shown), val, "acknowledged v{version} reads back");
    }
    let verify = b
        .call(&t, Method::GET, "/api/v1/orgs/default/audit/verify", None)
        .await;
    assert_eq!(verify.body["ok"], true, "{verify:?}");
    let prefix = BlobPrefix::parse("orgs/").unwrap();
    let objects = c.bucket_store().await.list(&prefix).await.unwrap().len();
    eprintln!(
        "{} acknowledged versions survived A's SIGKILL; {} committed unanswered; {} orphan blobs",
        acked.len(),
        last as usize - acked.len(),
        objects - last as usize
    );
}
