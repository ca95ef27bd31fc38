//! PostgreSQL crashes under load: two nodes share a private cluster (`testing::pg_cluster`, never
//! the machine's shared server), take concurrent writes and reveals of a view-limited secret,
//! and the cluster is stopped with `-m immediate` (no checkpoint; WAL redo on the next start),
//! then started again. In-flight requests fail cleanly (`503`, never a `500` or a hang), both
//! nodes reconnect without a restart, every acknowledged write reveals with its value on both
//! nodes, the view limit is exact across nodes (never one view more), and the org's audit chain
//! still verifies.

use crate::helpers::*;
use coffer_server::blob::BlobSettings;
use coffer_server::catalog::CatalogSettings;
use coffer_server::config::Config;
use coffer_server::startup::RunningApp;
use coffer_server::testing::pg_cluster::PgCluster;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const VIEW_LIMIT: u64 = 6;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Default)]
struct Seen {
    /// Acknowledged writes: name → value.
    acknowledged: BTreeMap<String, String>,
    /// Status codes of every answer.
    statuses: BTreeMap<u16, u64>,
    /// Reveals of the limited secret that answered its value.
    limited_views: u64,
}

async fn load(
    node: String,
    token: String,
    tag: &'static str,
    seen: Arc<Mutex<Seen>>,
    until: Instant,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut i = 0;
    while Instant::now() < until {
        i += 1;
        let name = format!("w-{tag}-{i}");
        let value = format!("value of {name}");
        let r = client
            .put(format!("{node}/api/v1/orgs/default/secrets/OPS-1/{name}"))
            .bearer_auth(&token)
            .json(&json!({"value": B64.encode(&value)}))
            .send()
            .await
            .expect("the node answers (a timeout here is a hang)");
        let status = r.status().as_u16();
        {
            let mut s = seen.lock().unwrap();
            *s.statuses.entry(status).or_default() += 1;
            if status == 201 {
                s.acknowledged.insert(name, value);
            }
        }
        let r = client
            .post(format!(
                "{node}/api/v1/orgs/default/secrets/OPS-1/limited/reveal"
            ))
            .bearer_auth(&token)
            .send()
            .await
            .expect("the node answers");
        let status = r.status().as_u16();
        let mut s = seen.lock().unwrap();
        *s.statuses.entry(status).or_default() += 1;
        if status == 200 {
            s.limited_views += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_crash_under_load_on_two_nodes_loses_nothing_and_keeps_view_limits_exact() {
    let cluster = Arc::new(PgCluster::start());
    let url = cluster.url();
    let shared = tempfile::tempdir().unwrap();
    let setup = |c: &mut Config| {
        c.catalog = CatalogSettings::Postgres {
            url: url.clone(),
            pool_size: 4,
            connect_timeout: Duration::from_secs(10),
        };
        c.keys.master_key_file = Some(shared.path().join("master.key"));
        c.blobs = BlobSettings::Fs {
            path: Some(shared.path().join("blobs")),
        };
    };
    let node1 = spawn_with(setup).await;
    let dir2 = tempfile::tempdir().unwrap();
    let mut c2 = Config::load(None, Default::default()).unwrap();
    c2.data_dir = dir2.path().join("data");
    c2.listen = "127.0.0.1:0".into();
    setup(&mut c2);
    let node2 = RunningApp::start(&c2).await.expect("second node starts");
    let node2_base = format!("http://{}", node2.addr);
    let r = node1
        .put_secret_as(
            &node1.token,
            "default",
            "OPS-1",
            "limited",
            b"limited value",
            json!({"view_limit": VIEW_LIMIT}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    let seen = Arc::new(Mutex::new(Seen::default()));
    let until = Instant::now() + Duration::from_secs(6);
    let loads = [
        tokio::spawn(load(
            node1.base.clone(),
            node1.token.clone(),
            "a",
            seen.clone(),
            until,
        )),
        tokio::spawn(load(
            node1.base.clone(),
            node1.token.clone(),
            "b",
            seen.clone(),
            until,
        )),
        tokio::spawn(load(
            node2_base.clone(),
            node1.token.clone(),
            "c",
            seen.clone(),
            until,
        )),
        tokio::spawn(load(
            node2_base.clone(),
            node1.token.clone(),
            "d",
            seen.clone(),
            until,
        )),
    ];
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let crashing = cluster.clone();
    tokio::task::spawn_blocking(move || {
        crashing.crash();
        std::thread::sleep(Duration::from_secs(1));
        crashing.start_again();
    })
    .await
    .unwrap();
    for l in loads {
        l.await.unwrap();
    }
    let seen = Arc::try_unwrap(seen).ok().unwrap().into_inner().unwrap();
    let log = cluster.log();
    assert!(
        log.contains("database system was not properly shut down") || log.contains("redo"),
        "the cluster crashed and recovered:\n{log}"
    );
    assert!(
        seen.statuses
            .keys()
            .all(|s| [200, 201, 410, 503].contains(s)),
        "only clean answers: {:?}",
        seen.statuses
    );
    assert!(
        seen.statuses.get(&503).copied().unwrap_or(0) > 0,
        "the crash was seen by requests: {:?}",
        seen.statuses
    );
    assert!(!seen.acknowledged.is_empty());
    eprintln!(
        "answers during the crash: {:?}; {} writes acknowledged; {} views of the limited secret",
        seen.statuses,
        seen.acknowledged.len(),
        seen.limited_views
    );

    // Both nodes reconnected: every acknowledged write reveals, with its value, on both.
    let client = reqwest::Client::new();
    for (name, value) in &seen.acknowledged {
        for base in [&node1.base, &node2_base] {
            let r = client
                .post(format!(
                    "{base}/api/v1/orgs/default/secrets/OPS-1/{name}/reveal"
                ))
                .bearer_auth(&node1.token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "`{name}` on {base}");
            let body: serde_json::Value = r.json().await.unwrap();
            let got = B64.decode(body["value"].as_str().unwrap()).unwrap();
            assert_eq!(got, value.as_bytes(), "`{name}` on {base}");
        }
    }
    // The view limit is exact: never more views than allowed, and the rest are still there.
    assert!(
        seen.limited_views <= VIEW_LIMIT,
        "{} views",
        seen.limited_views
    );
    let mut views = seen.limited_views;
    for base in [&node1.base, &node2_base]
        .into_iter()
        .cycle()
        .take(2 * VIEW_LIMIT as usize)
    {
        let r = client
            .post(format!(
                "{base}/api/v1/orgs/default/secrets/OPS-1/limited/reveal"
            ))
            .bearer_auth(&node1.token)
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            views += 1;
        } else {
            assert_eq!(r.status(), 410);
        }
    }
    // A view whose commit the crash cut may or may not have counted; none is ever counted twice.
    assert!(
        views <= VIEW_LIMIT && views + 4 >= VIEW_LIMIT,
        "{views} views of a secret limited to {VIEW_LIMIT}"
    );
    let v = node1.get("/api/v1/orgs/default/audit/verify").await;
    assert_eq!(
        v.body["ok"], true,
        "the chain verifies after the crash: {}",
        v.body
    );
    node2.stop().await;
}
