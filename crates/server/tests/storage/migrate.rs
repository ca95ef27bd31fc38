//! Moving existing envelopes into a newly saved bucket: everything arrives verified, nothing is
//! left in the old store, reads keep working throughout, and a restart midway resumes.

use super::*;
use coffer_server::config::{Config, Overrides};
use coffer_server::startup::RunningApp;

const SECRETS: usize = 30;

#[tokio::test]
async fn existing_secrets_move_to_the_bucket_and_a_restart_midway_resumes() {
    let moto = Moto::shared();
    let (app, owner) = env(moto, moto.settings("eu-central-1")).await;
    write_numbered(&app, &owner, SECRETS).await;
    let bucket = bucket_in(moto, &moto.settings("eu-central-1"), "eu-central-1").await;
    // Slow the mover down so the restart lands midway: 20 envelopes per second.
    let data_dir = app.data_dir();
    let restarted_config = |listen: &str| {
        let mut c = Config::load(
            None,
            Overrides {
                data_dir: Some(data_dir.clone()),
                listen: Some(listen.into()),
            },
        )
        .unwrap();
        c.byok.principal_arn = Some(PRINCIPAL.into());
        c.storage.allow_custom_endpoints = true;
        c.storage.aws = moto.settings("eu-central-1");
        c.storage.migration_interval = std::time::Duration::from_millis(100);
        c
    };
    let slow = {
        let mut c = restarted_config("127.0.0.1:0");
        c.storage.migration_rate = 20;
        c
    };
    let TestApp {
        app: first, dir, ..
    } = app;
    first.stop().await;
    let slow_app = RunningApp::start(&slow).await.unwrap();
    let base = format!("http://{}", slow_app.addr);
    let client = reqwest::Client::new();
    let call = async |method: Method, path: &str, body: Option<Value>| {
        let mut req = client
            .request(method, format!("{base}{path}"))
            .bearer_auth(&owner);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        (
            r.status().as_u16(),
            r.json::<Value>().await.unwrap_or(Value::Null),
        )
    };
    let (status, saved) = call(
        Method::PUT,
        "/api/v1/orgs/acme/storage",
        Some(json!({"bucket": bucket, "region": "eu-central-1", "endpoint": moto.endpoint()})),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    // Midway: some moved, some not; reads work for both.
    let mut midway = None;
    for _ in 0..100 {
        let (_, s) = call(Method::GET, "/api/v1/orgs/acme/storage", None).await;
        let done = s["migration"]["done"].as_u64().unwrap();
        if done >= 3 {
            midway = Some(done);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let midway = midway.expect("the migration started");
    assert!(
        midway < SECRETS as u64,
        "stopped midway, not after: {midway}"
    );
    for i in [0, SECRETS - 1] {
        let (status, r) = call(
            Method::POST,
            &format!("/api/v1/orgs/acme/secrets/OPS-1/s{i}/reveal"),
            Some(json!({})),
        )
        .await;
        assert_eq!(status, 200, "{r}");
    }
    slow_app.stop().await;

    // A fresh start resumes at full speed and finishes.
    let app = RunningApp::start(&restarted_config("127.0.0.1:0"))
        .await
        .unwrap();
    let resumed = TestApp::attach(app, owner.clone(), dir);
    let s = wait_migrated(&resumed, &owner).await;
    assert_eq!(s["migration"]["done"].as_u64(), Some(SECRETS as u64));
    let stored = objects(moto, &bucket).await;
    assert_eq!(
        stored.len(),
        2 * SECRETS,
        "one envelope per secret and its manifest, no leftovers"
    );
    assert!(
        stored.iter().all(|(k, _)| k.ends_with(".cfm")
            || stored.iter().any(|(m, _)| *m == k.replace(".cfr", ".cfm"))),
        "every copied envelope got its manifest"
    );
    let blobs = resumed.data_dir().join("blobs");
    let left: Vec<_> = files_under(&blobs)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "cfr" || e == "cfm"))
        .collect();
    assert!(left.is_empty(), "old copies deleted: {left:?}");
    reveal_numbered(&resumed, &owner, SECRETS).await;
    assert_eq!(migrated_events(&resumed, &owner).await, 1);

    // Back to the default store: everything moves home again.
    let r = resumed
        .call(&owner, Method::DELETE, "/api/v1/orgs/acme/storage", None)
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["kind"].as_str()),
        (200, Some("default")),
        "{}",
        r.body
    );
    wait_migrated(&resumed, &owner).await;
    let left = objects(moto, &bucket).await;
    let left: Vec<&String> = left.iter().map(|(k, _)| k).collect();
    assert!(
        left.is_empty(),
        "the bucket was emptied: {left:?} {}",
        storage(&resumed, &owner).await
    );
    let r = resumed.reveal_as(&owner, "acme", "OPS-1", "s3").await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Secrets written before the switch: three of the mover's catalog batches (`BATCH` is 100).
const MANY: usize = 300;

/// An admin moves the org into its bucket and, before that move finishes, back to the default
/// store. The pass moving into the bucket must give up (every flip into a store the org has
/// left is refused), so the next pass brings everything home: before the fix it copied the
/// same versions into the bucket forever and the move home never started.
#[tokio::test]
async fn switching_back_midway_moves_everything_home() {
    let moto = Moto::shared();
    // 100 envelopes a second, so the move into the bucket (300 of them) is still running when
    // the org switches back.
    let app = spawn_with(|c| {
        c.byok.principal_arn = Some(PRINCIPAL.into());
        c.storage.allow_custom_endpoints = true;
        c.storage.aws = moto.settings("eu-central-1");
        c.storage.migration_interval = std::time::Duration::from_millis(100);
        c.storage.migration_rate = 100;
    })
    .await;
    let (_, owner) = app.org_with_owner_in("acme", "eu", "alice").await;
    write_numbered(&app, &owner, MANY).await;
    let bucket = bucket_in(moto, &moto.settings("eu-central-1"), "eu-central-1").await;
    let r = save(
        &app,
        &owner,
        json!({"bucket": bucket, "region": "eu-central-1", "endpoint": moto.endpoint()}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Midway into the bucket: some versions there, most not, and the move still running.
    let mut midway = None;
    for _ in 0..200 {
        let s = storage(&app, &owner).await;
        let done = s["migration"]["done"].as_u64().unwrap();
        if done >= 5 {
            midway = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let midway = midway.expect("the move into the bucket started");
    assert_eq!(midway["kind"], "custom", "{midway}");
    assert_eq!(midway["migration"]["state"], "running", "{midway}");
    assert_eq!(midway["migration"]["total"].as_u64(), Some(MANY as u64));
    assert!(
        midway["migration"]["done"].as_u64().unwrap() < MANY as u64,
        "still moving into the bucket: {midway}"
    );

    // Back to the default store while that move runs.
    let r = app
        .call(&owner, Method::DELETE, "/api/v1/orgs/acme/storage", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["kind"], "default", "{}", r.body);
    assert_eq!(
        r.body["migration"]["state"], "running",
        "the versions already in the bucket must come home: {}",
        r.body
    );

    // The move home finishes (bounded), without an error along the way.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let idle = loop {
        let s = storage(&app, &owner).await;
        assert!(s["migration"]["last_error"].is_null(), "{s}");
        if s["migration"]["state"] == "idle" {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the move home never finished (the pass into the bucket kept going?): {s}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(idle["kind"], "default", "{idle}");
    assert_eq!(idle["migration"]["total"].as_u64(), Some(MANY as u64));
    assert_eq!(idle["migration"]["done"].as_u64(), Some(MANY as u64));

    // Every envelope is home and the bucket is empty and stays so: no pass writes into it.
    let envelopes = files_under(&app.data_dir().join("blobs"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "cfr"))
        .count();
    assert_eq!(
        envelopes, MANY,
        "one envelope per secret in the default store"
    );
    let left: Vec<String> = objects(moto, &bucket)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(left.is_empty(), "the bucket was emptied: {left:?}");
    // Several migration intervals later, nothing new has landed in the bucket.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let later: Vec<String> = objects(moto, &bucket)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(
        later.is_empty(),
        "nothing written into the bucket: {later:?}"
    );
    let s = storage(&app, &owner).await;
    assert_eq!(s["migration"]["state"], "idle", "{s}");
    assert!(s["migration"]["last_error"].is_null(), "{s}");

    reveal_numbered(&app, &owner, MANY).await;
    // Only the move home finished; the abandoned one into the bucket claims nothing.
    assert_eq!(migrated_events(&app, &owner).await, 1);
}

/// Writes `s0`…`s{n-1}` on `OPS-1` of org `acme`, each holding `value-{i}`.
async fn write_numbered(app: &TestApp, owner: &str, n: usize) {
    for i in 0..n {
        let name = format!("s{i}");
        let value = format!("value-{i}");
        let r = app
            .put_secret_as(owner, "acme", "OPS-1", &name, value.as_bytes(), json!({}))
            .await;
        assert_eq!(r.status, 201, "{name}: {}", r.body);
    }
}

/// Every secret [`write_numbered`] wrote reveals its exact value.
async fn reveal_numbered(app: &TestApp, owner: &str, n: usize) {
    for i in 0..n {
        let name = format!("s{i}");
        let r = app.reveal_as(owner, "acme", "OPS-1", &name).await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let value = B64.decode(r.body["value"].as_str().unwrap()).unwrap();
        assert_eq!(value, format!("value-{i}").as_bytes(), "{name}");
    }
}

/// How many `storage.migrated` events org `acme`'s audit trail holds.
async fn migrated_events(app: &TestApp, owner: &str) -> usize {
    let r = app
        .call(
            owner,
            Method::GET,
            "/api/v1/orgs/acme/audit?action=storage.migrated",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["events"].as_array().map_or(0, Vec::len)
}
