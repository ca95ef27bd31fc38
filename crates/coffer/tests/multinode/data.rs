//! Two nodes, one database, one bucket: data written through either node is one service's data.
//! A secret written on A is revealed on B (also in an org, and under an org-key version, that
//! only A created); check-and-set races between writers on both nodes answer 409 and lose no
//! version; view-limited reveals racing on both nodes never exceed the limit; the audit chain
//! of an org stays one verifiable chain whichever node appended each event.

use crate::api::{Client, SECRETS, member_token_in, value};
use crate::cluster::{Cluster, Knobs};
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeMap;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_written_on_one_node_is_revealed_on_the_other() {
    let c = Cluster::start(2, Knobs::default()).await;
    let (a, b, t) = (Client::of(c.node(0)), Client::of(c.node(1)), &c.token);

    let r = a
        .put(t, "OPS-1/db-password", "written on A", json!({}))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(
        value(&b.reveal(t, "OPS-1/db-password", None).await),
        "written on A"
    );
    let r = b
        .put(
            t,
            "OPS-1/db-password",
            "written on B",
            json!({"expect_version": 1}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        value(&a.reveal(t, "OPS-1/db-password", None).await),
        "written on B"
    );
    assert_eq!(
        value(&b.reveal(t, "OPS-1/db-password", Some(1)).await),
        "written on A"
    );

    // An org-key version created on A (rotation) is used and read by B.
    let rotated = a
        .call(t, Method::POST, "/api/v1/orgs/default/keys/rotate", None)
        .await;
    assert_eq!(rotated.status, 200, "{rotated:?}");
    assert_eq!(rotated.body["key_version"], 2);
    let r = b
        .put(t, "OPS-1/db-password", "after rotation", json!({}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let history = a
        .call(
            t,
            Method::GET,
            &format!("{SECRETS}/OPS-1/db-password/versions"),
            None,
        )
        .await;
    assert_eq!(history.body["versions"][0]["key_version"], 2, "{history:?}");
    assert_eq!(
        value(&a.reveal(t, "OPS-1/db-password", None).await),
        "after rotation"
    );
    assert_eq!(
        value(&b.reveal(t, "OPS-1/db-password", Some(1)).await),
        "written on A"
    );

    // An org whose key only A ever wrapped: B unwraps it with the shared master key.
    let org = a
        .call(
            &c.operator,
            Method::POST,
            "/api/v1/orgs",
            Some(json!({"slug": "acme"})),
        )
        .await;
    assert_eq!(org.status, 201, "{org:?}");
    let (_, alice) = member_token_in(c.node(0), &c.operator, "acme", "alice", "owner").await;
    let path = "/api/v1/orgs/acme/secrets/ACME-7/api-key";
    let put = b
        .call(
            &alice,
            Method::PUT,
            path,
            Some(json!({"value": "YWNtZSBrZXk="})), // "acme key"
        )
        .await;
    assert_eq!(put.status, 201, "{put:?}");
    let shown = a
        .call(&alice, Method::POST, &format!("{path}/reveal"), None)
        .await;
    assert_eq!(value(&shown), "acme key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_set_races_across_nodes_answer_409_and_lose_no_version() {
    const WRITERS_PER_NODE: usize = 4;
    const LAST: u64 = 40;
    let c = Cluster::start(2, Knobs::default()).await;
    let t = c.token.clone();
    let first = Client::of(c.node(0))
        .put(&t, "OPS-2/hot", "initial", json!({"expect_version": 0}))
        .await;
    assert_eq!(first.status, 201, "{first:?}");

    let mut writers = Vec::new();
    for w in 0..2 * WRITERS_PER_NODE {
        let (client, t) = (Client::of(c.node(w % 2)), t.clone());
        writers.push(tokio::spawn(async move {
            let (mut acked, mut conflicts, mut other) = (Vec::new(), 0, Vec::new());
            for n in 0.. {
                let current = client.get(&t, "OPS-2/hot").await.body["version"]
                    .as_u64()
                    .expect("version");
                if current >= LAST {
                    break;
                }
                let val = format!("writer {w} attempt {n}");
                let r = client
                    .put(&t, "OPS-2/hot", &val, json!({"expect_version": current}))
                    .await;
                match (r.status, r.code()) {
                    (200, _) => acked.push((r.body["version"].as_u64().unwrap(), val)),
                    (409, "version_conflict") => conflicts += 1,
                    _ => other.push(r),
                }
            }
            (acked, conflicts, other)
        }));
    }
    let mut acked = BTreeMap::from([(1, "initial".to_owned())]);
    let mut conflicts = 0;
    for w in writers {
        let (mine, c409, other) = w.await.expect("writer task");
        assert!(
            other.is_empty(),
            "answers other than 200 and 409: {other:?}"
        );
        conflicts += c409;
        for (version, val) in mine {
            let clash = acked.insert(version, val);
            assert!(clash.is_none(), "version {version} was acknowledged twice");
        }
    }
    assert!(
        conflicts > 0,
        "8 racing writers never conflicted: the race did not happen"
    );
    let want: Vec<u64> = (1..=LAST).collect();
    assert_eq!(acked.keys().copied().collect::<Vec<_>>(), want);
    for node in 0..2 {
        let path = format!("{SECRETS}/OPS-2/hot/versions");
        let history = Client::of(c.node(node))
            .call(&t, Method::GET, &path, None)
            .await;
        let mut listed: Vec<u64> = history.body["versions"]
            .as_array()
            .expect("versions")
            .iter()
            .map(|v| v["version"].as_u64().unwrap())
            .collect();
        listed.sort_unstable();
        assert_eq!(listed, want, "node {node} lists every version exactly once");
    }
    for (version, val) in &acked {
        let node = Client::of(c.node(*version as usize % 2));
        let shown = node.reveal(&t, "OPS-2/hot", Some(*version as u32)).await;
        assert_eq!(&value(&shown), val, "version {version}");
    }
    eprintln!(
        "{LAST} versions from {} writers on 2 nodes, {conflicts} answered 409",
        2 * WRITERS_PER_NODE
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_reveals_on_both_nodes_never_exceed_the_view_limit() {
    const LIMIT: u64 = 5;
    let c = Cluster::start(2, Knobs::default()).await;
    let t = c.token.clone();
    let put = Client::of(c.node(0))
        .put(&t, "OPS-3/once", "few eyes", json!({"view_limit": LIMIT}))
        .await;
    assert_eq!(put.status, 201, "{put:?}");
    let mut reveals = Vec::new();
    for i in 0..20 {
        let (client, t) = (Client::of(c.node(i % 2)), t.clone());
        reveals.push(tokio::spawn(async move {
            client.reveal(&t, "OPS-3/once", None).await
        }));
    }
    let mut shown = 0;
    for r in reveals {
        let r = r.await.expect("reveal task");
        match (r.status, r.code()) {
            (200, _) => {
                assert_eq!(value(&r), "few eyes");
                shown += 1;
            }
            (410, "secret_unavailable") => {}
            _ => panic!("unexpected answer to a racing reveal: {r:?}"),
        }
    }
    assert_eq!(shown, LIMIT, "exactly the view limit of reveals succeed");
    let meta = Client::of(c.node(1)).get(&t, "OPS-3/once").await;
    assert_eq!(meta.body["views"], LIMIT, "{meta:?}");
    let reveal_events =
        c.db.count("SELECT count(*) FROM audit_events WHERE action = 'secret.reveal'")
            .await;
    assert_eq!(reveal_events as u64, LIMIT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_chain_stays_one_verifiable_chain_across_nodes() {
    let c = Cluster::start(2, Knobs::default()).await;
    let t = c.token.clone();
    let mut writers = Vec::new();
    for w in 0..8 {
        let (client, t) = (Client::of(c.node(w % 2)), t.clone());
        writers.push(tokio::spawn(async move {
            for k in 0..5 {
                let name = format!("OPS-4/n{}-w{w}-k{k}", w % 2);
                let r = client.put(&t, &name, "v", json!({})).await;
                assert_eq!(r.status, 201, "{name}: {r:?}");
                assert_eq!(value(&client.reveal(&t, &name, None).await), "v");
            }
        }));
    }
    for w in writers {
        w.await.expect("writer task");
    }
    let mut heads = Vec::new();
    for node in 0..2 {
        let v = Client::of(c.node(node))
            .call(&t, Method::GET, "/api/v1/orgs/default/audit/verify", None)
            .await;
        assert_eq!(v.body["ok"], true, "node {node}: {v:?}");
        heads.push((v.body["events"].clone(), v.body["head"].clone()));
    }
    assert_eq!(heads[0], heads[1], "both nodes verify the same chain");

    let (mut events, mut after) = (Vec::new(), 0);
    loop {
        let path = format!("/api/v1/orgs/default/audit?after={after}&limit=50");
        let page = Client::of(c.node(after as usize % 2))
            .call(&t, Method::GET, &path, None)
            .await;
        let batch = page.body["events"].as_array().expect("events").clone();
        let Some(last) = batch.last() else { break };
        after = last["seq"].as_u64().unwrap();
        events.extend(batch);
    }
    assert_eq!(json!(events.len()), heads[0].0);
    for (i, pair) in events.windows(2).enumerate() {
        assert_eq!(pair[1]["seq"].as_u64(), Some(i as u64 + 2), "seq gap");
        assert_eq!(
            pair[1]["prev_hash"],
            pair[0]["hash"],
            "broken link at {}",
            i + 2
        );
    }
    for node in 0..2 {
        let written = events
            .iter()
            .filter(|e| e["action"] == "secret.write")
            .filter(|e| {
                e["target"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("/n{node}-"))
            })
            .count();
        assert_eq!(written, 20, "node {node}'s writes are all in the one chain");
    }
}
