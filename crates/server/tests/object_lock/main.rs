//! The audit copy under S3 Object Lock, end to end against SeaweedFS — a real S3 server that
//! enforces Object Lock (moto does not): an org saves a bucket, validation reports whether
//! Object Lock is on, the background job copies each signed checkpoint with its events into the
//! bucket (locked in COMPLIANCE mode where it can be: neither deleted nor shortened, even with
//! the bucket owner's keys), `audit verify --against-bucket` matches, and each way someone with
//! write access to the catalog (or to an unlocked bucket) could cover their tracks is named:
//! the catalog truncated, an event rewritten under recomputed hashes, a copy deleted. Two nodes
//! on one PostgreSQL catalog copying side by side write each object exactly once.
//!
//! The app reaches SeaweedFS as if it were AWS (`[storage.aws]` with SeaweedFS's keys) and
//! tenant endpoints are allowed (`storage.allow_custom_endpoints`), as loopback needs.

#[path = "../support/app.rs"]
#[allow(dead_code)]
mod helpers;
#[path = "../support/mod.rs"]
mod support;

use aws_sdk_s3::types::{ObjectLockMode, ObjectLockRetention, ObjectLockRetentionMode};
use helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use support::moto::unique;
use support::seaweed::Seaweed;

/// An app whose tenant buckets live on SeaweedFS, checkpointing and copying every 100 ms, with
/// an org `acme` (location `local`, so any region) and its owner; returns the app, the org's id
/// and the owner's token.
async fn env(weed: &Seaweed) -> (TestApp, String, String) {
    let app = spawn_with(|c| {
        c.byok.principal_arn = Some("arn:aws:iam::123456789012:user/coffer-service".into());
        c.storage.allow_custom_endpoints = true;
        c.storage.aws = weed.settings();
        c.audit.checkpoint_interval = Duration::from_millis(100);
        c.audit.bucket_copy_interval = Duration::from_millis(100);
    })
    .await;
    let (org, owner) = app.org_with_owner_in("acme", "local", "alice").await;
    (app, org, owner)
}

/// A new bucket, with Object Lock on or not.
async fn bucket(weed: &Seaweed, locked: bool) -> String {
    let name = unique("acme-audit");
    weed.client()
        .await
        .create_bucket()
        .bucket(&name)
        .object_lock_enabled_for_bucket(locked)
        .send()
        .await
        .expect("create bucket");
    name
}

/// Saves `bucket` as acme's storage; returns the answer's body.
async fn save(app: &TestApp, token: &str, weed: &Seaweed, bucket: &str) -> Value {
    let body = json!({"bucket": bucket, "region": "us-east-1", "endpoint": weed.endpoint()});
    let r = app
        .call(token, Method::PUT, "/api/v1/orgs/acme/storage", Some(body))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// The `object_lock` validation check of a save's answer.
fn lock_check(saved: &Value) -> Value {
    saved["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["step"] == "object_lock")
        .unwrap_or_else(|| panic!("no object_lock check in {saved}"))
        .clone()
}

/// `GET …/audit/verify?against_bucket=true`.
async fn verify(app: &TestApp, token: &str) -> Value {
    let r = app
        .call(
            token,
            Method::GET,
            "/api/v1/orgs/acme/audit/verify?against_bucket=true",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// Writes `n` secrets, then waits until the catalog has a checkpoint of the new head and the
/// copy job has copied every checkpoint; returns the number of checkpoints.
async fn write_and_wait_copied(app: &TestApp, token: &str, prefix: &str, n: usize) -> u64 {
    for i in 0..n {
        let r = app
            .put_secret_as(
                token,
                "acme",
                "OPS-1",
                &format!("{prefix}{i}"),
                b"v",
                json!({}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let events = app
        .call(
            token,
            Method::GET,
            "/api/v1/orgs/acme/audit?limit=10000",
            None,
        )
        .await
        .body["events"]
        .as_array()
        .unwrap()
        .len() as u64;
    for _ in 0..200 {
        let v = verify(app, token).await;
        let b = &v["bucket"];
        let head_signed = v["checkpoint"]["seq"].as_u64() == Some(events);
        if head_signed
            && b["copied_through"].as_u64() >= Some(1)
            && b["copied_through"] == b["catalog_checkpoints"]
            && b["objects"] == b["copied_through"]
        {
            assert_eq!(v["ok"], true, "{v}");
            return b["objects"].as_u64().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the audit copy did not catch up: {}",
        verify(app, token).await
    );
}

/// Keys and bodies of acme's audit copy objects, in key order.
async fn copies(weed: &Seaweed, bucket: &str, org: &str) -> Vec<(String, Value)> {
    let client = weed.client().await;
    let listed = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(format!("orgs/{org}/audit/"))
        .send()
        .await
        .unwrap();
    let mut out = Vec::new();
    for o in listed.contents() {
        let key = o.key().unwrap().to_owned();
        let body = client
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        let bytes = body.body.collect().await.unwrap().to_vec();
        out.push((key, serde_json::from_slice(&bytes).unwrap()));
    }
    out
}

/// When `key` in `bucket` was last written (seconds).
async fn written_at(weed: &Seaweed, bucket: &str, key: &str) -> i64 {
    let head = weed
        .client()
        .await
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await;
    head.unwrap().last_modified().unwrap().secs()
}

/// One stored event: seq, org, prev_hash, at, actor_id, actor, action, target, details.
type Row = (
    i64,
    Vec<u8>,
    Vec<u8>,
    i64,
    Option<Vec<u8>>,
    String,
    String,
    String,
    String,
);

/// Recomputes every hash of acme's chain in the catalog file from event `from` on, the way
/// someone with write access to the database (but not the org key) covers an edit.
fn recompute_from(db: &std::path::Path, org: &str, from: i64) {
    let org = coffer_server::domain::OrgId::from_uuid(uuid::Uuid::parse_str(org).unwrap());
    let conn = rusqlite::Connection::open(db).unwrap();
    let rows: Vec<Row> = conn
        .prepare("SELECT seq, org_id, prev_hash, at, actor_id, actor, action, target, details FROM audit_events WHERE org_id = ?1 ORDER BY seq")
        .unwrap()
        .query_map([org.to_bytes()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut prev: Option<[u8; 32]> = None;
    for (seq, _, stored_prev, at, actor_id, actor, action, target, details) in rows {
        if seq < from {
            continue;
        }
        let prev_hash: [u8; 32] = prev.unwrap_or_else(|| stored_prev.clone().try_into().unwrap());
        let actor_id = actor_id
            .map(|a| coffer_server::domain::UserId::from_uuid(uuid::Uuid::from_slice(&a).unwrap()));
        let hash = coffer_server::audit::chain_hash(
            &prev_hash,
            seq as u64,
            org,
            coffer_server::domain::Timestamp::from_millis(at),
            actor_id,
            &actor,
            &action,
            &target,
            &details,
        );
        conn.execute(
            "UPDATE audit_events SET prev_hash = ?1, hash = ?2 WHERE org_id = ?3 AND seq = ?4",
            rusqlite::params![prev_hash, hash, org.to_bytes(), seq],
        )
        .unwrap();
        prev = Some(hash);
    }
}

#[tokio::test]
async fn a_locked_bucket_keeps_a_copy_nobody_can_remove_and_a_truncated_catalog_is_named() {
    let weed = Seaweed::shared();
    let (app, org, owner) = env(weed).await;
    let bucket = bucket(weed, true).await;
    let saved = save(&app, &owner, weed, &bucket).await;
    assert_eq!(
        saved["message"], "Your custom S3 settings have been saved and validated.",
        "SeaweedFS passes every required step: {saved}"
    );
    let check = lock_check(&saved);
    assert_eq!(check["outcome"], "ok", "{check}");

    // Two batches, each copied before the next: at least two objects.
    write_and_wait_copied(&app, &owner, "a", 3).await;
    let objects = write_and_wait_copied(&app, &owner, "b", 2).await;
    assert!(objects >= 2, "{objects}");
    let stored = copies(weed, &bucket, &org).await;
    assert_eq!(stored.len() as u64, objects);
    let mut next_seq = 1;
    for (i, (key, body)) in stored.iter().enumerate() {
        let n = i as u64 + 1;
        assert_eq!(key, &format!("orgs/{org}/audit/{n:020}.json"));
        assert_eq!(body["format"], "coffer-audit-copy");
        assert_eq!(body["version"], 1);
        assert_eq!(body["checkpoint"]["n"], n);
        let events = body["events"].as_array().unwrap();
        assert_eq!(
            events[0]["seq"], next_seq,
            "each object continues the last: {body}"
        );
        next_seq = body["checkpoint"]["seq"].as_u64().unwrap() + 1;
        assert_eq!(events.last().unwrap()["hash"], body["checkpoint"]["head"]);
    }
    let v = verify(&app, &owner).await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["bucket"]["object_lock"], true, "{v}");
    assert!(v["message"].as_str().unwrap().contains("matches"), "{v}");

    // Locked in COMPLIANCE mode for audit.bucket_retention (400 days by default): the bucket
    // owner's keys can neither delete a copy nor shorten its retention.
    let client = weed.client().await;
    let first = &stored[0].0;
    let head = client
        .head_object()
        .bucket(&bucket)
        .key(first)
        .send()
        .await
        .unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    let until = head.object_lock_retain_until_date().unwrap().secs();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (399 * 86_400..=401 * 86_400).contains(&(until - now)),
        "retained until {until}, now {now}"
    );
    let version = head.version_id().unwrap().to_owned();
    let deleted = client
        .delete_object()
        .bucket(&bucket)
        .key(first)
        .version_id(&version)
        .bypass_governance_retention(true)
        .send()
        .await;
    assert!(deleted.is_err(), "a locked copy was deleted");
    let shortened = client
        .put_object_retention()
        .bucket(&bucket)
        .key(first)
        .version_id(&version)
        .retention(
            ObjectLockRetention::builder()
                .mode(ObjectLockRetentionMode::Compliance)
                .retain_until_date(aws_sdk_s3::primitives::DateTime::from_secs(now + 60))
                .build(),
        )
        .send()
        .await;
    assert!(shortened.is_err(), "a COMPLIANCE retention was shortened");
    let still = client
        .get_object()
        .bucket(&bucket)
        .key(first)
        .version_id(&version)
        .send()
        .await;
    assert!(still.is_ok(), "the locked version is still readable");

    // Someone with write access to the catalog removes the newest events and every checkpoint
    // after the first, leaving a chain consistent on its own.
    let kept_seq = stored[0].1["checkpoint"]["seq"].as_i64().unwrap();
    let db = app.data_dir().join("catalog.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let org_bytes = uuid::Uuid::parse_str(&org).unwrap().as_bytes().to_vec();
    conn.execute(
        "DELETE FROM audit_events WHERE org_id = ?1 AND seq > ?2",
        rusqlite::params![org_bytes, kept_seq],
    )
    .unwrap();
    conn.execute(
        "DELETE FROM audit_checkpoints WHERE org_id = ?1 AND n > 1",
        rusqlite::params![org_bytes],
    )
    .unwrap();
    drop(conn);
    let v = verify(&app, &owner).await;
    assert_eq!(v["ok"], false, "{v}");
    let problem = v["bucket"]["problem"].as_str().unwrap();
    assert!(
        problem.starts_with("catalog truncated:")
            && problem.contains(&format!("events {}..=", kept_seq + 1))
            && problem.contains(&format!("chain ends at event {kept_seq}")),
        "{problem}"
    );
    assert!(v["message"].as_str().unwrap().contains(problem), "{v}");
}

#[tokio::test]
async fn a_rewritten_event_under_recomputed_hashes_is_named_at_its_seq() {
    let weed = Seaweed::shared();
    let (app, org, owner) = env(weed).await;
    let bucket = bucket(weed, true).await;
    save(&app, &owner, weed, &bucket).await;
    write_and_wait_copied(&app, &owner, "s", 3).await;
    let db = app.data_dir().join("catalog.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let org_bytes = uuid::Uuid::parse_str(&org).unwrap().as_bytes().to_vec();
    let changed = conn
        .execute(
            "UPDATE audit_events SET actor = 'mallory' WHERE org_id = ?1 AND seq = 3",
            rusqlite::params![org_bytes],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);
    recompute_from(&db, &org, 3);
    let v = verify(&app, &owner).await;
    assert_eq!(
        v["first_bad_seq"],
        Value::Null,
        "the hashes are consistent: {v}"
    );
    assert_eq!(v["ok"], false, "{v}");
    let problem = v["bucket"]["problem"].as_str().unwrap();
    assert!(
        problem.starts_with("event rewritten: event 3 in the catalog differs from the bucket copy")
            && problem.contains("actor"),
        "{problem}"
    );
}

#[tokio::test]
async fn an_unlocked_bucket_is_a_warning_and_a_deleted_copy_is_a_missing_object() {
    let weed = Seaweed::shared();
    let (app, org, owner) = env(weed).await;
    let bucket = bucket(weed, false).await;
    let saved = save(&app, &owner, weed, &bucket).await;
    let check = lock_check(&saved);
    assert_eq!(check["outcome"], "warning", "{check}");
    let detail = check["detail"].as_str().unwrap();
    assert!(
        detail.contains("does not have Object Lock on")
            && detail.contains("put-object-lock-configuration"),
        "the warning says how to fix it: {detail}"
    );
    assert_eq!(
        saved["message"], "Your custom S3 settings have been saved and validated.",
        "a warning never fails the save: {saved}"
    );

    let copied = write_and_wait_copied(&app, &owner, "s", 2).await;
    let v = verify(&app, &owner).await;
    assert_eq!(
        (v["ok"].as_bool(), v["bucket"]["object_lock"].as_bool()),
        (Some(true), Some(false)),
        "{v}"
    );
    // As if another node had written the copies without this catalog knowing: the job meets
    // its own objects (412), finds them identical and records them, writing nothing twice.
    let first = format!("orgs/{org}/audit/{:020}.json", 1);
    let before = written_at(weed, &bucket, &first).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await; // a rewrite would change the time
    let db = app.data_dir().join("catalog.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    assert_eq!(conn.execute("DELETE FROM audit_copies", []).unwrap(), 1);
    drop(conn);
    let mut again = 0;
    for _ in 0..100 {
        again = verify(&app, &owner).await["bucket"]["copied_through"]
            .as_u64()
            .unwrap();
        if again >= copied {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        again >= copied,
        "the job recorded the existing copies again"
    );
    assert_eq!(copies(weed, &bucket, &org).await.len() as u64, again);
    assert_eq!(
        written_at(weed, &bucket, &first).await,
        before,
        "not written again"
    );
    // Without the lock, whoever may delete objects in the bucket can remove the copy: verify
    // names it.
    weed.client()
        .await
        .delete_object()
        .bucket(&bucket)
        .key(&first)
        .send()
        .await
        .expect("an unlocked copy can be deleted");
    let v = verify(&app, &owner).await;
    assert_eq!(v["ok"], false, "{v}");
    let problem = v["bucket"]["problem"].as_str().unwrap();
    assert!(
        problem.starts_with("missing object:") && problem.contains(&first),
        "{problem}"
    );
}

#[tokio::test]
async fn verify_against_bucket_without_a_bucket_of_its_own_says_why() {
    let weed = Seaweed::shared();
    let (app, _, owner) = env(weed).await;
    let r = app
        .call(
            &owner,
            Method::GET,
            "/api/v1/orgs/acme/audit/verify?against_bucket=true",
            None,
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.code(), "no_custom_storage");
    assert!(r.message().contains("coffer org storage set"), "{}", r.body);
}

/// A node of a two-node deployment on one PostgreSQL catalog and one master key, copying and
/// checkpointing every 50 ms, tenant buckets on SeaweedFS.
async fn node(
    weed: &Seaweed,
    db: &coffer_server::testing::pg::TestDb,
    key: &std::path::Path,
) -> (coffer_server::startup::RunningApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = coffer_server::config::Config::load(
        None,
        coffer_server::config::Overrides {
            data_dir: Some(dir.path().join("data")),
            listen: Some("127.0.0.1:0".into()),
        },
    )
    .unwrap();
    config.catalog = coffer_server::catalog::CatalogSettings::Postgres {
        url: db.url.clone(),
        pool_size: 4,
        connect_timeout: Duration::from_secs(10),
    };
    config.keys.master_key_file = Some(key.to_owned());
    config.storage.allow_custom_endpoints = true;
    config.storage.aws = weed.settings();
    config.audit.checkpoint_interval = Duration::from_millis(50);
    config.audit.bucket_copy_interval = Duration::from_millis(50);
    let app = coffer_server::startup::RunningApp::start(&config)
        .await
        .expect("node starts");
    (app, dir)
}

#[tokio::test]
async fn two_nodes_copying_side_by_side_write_each_object_once_and_agree() {
    let weed = Seaweed::shared();
    let db = coffer_server::testing::pg::TestDb::create().await;
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("master.key");
    coffer_server::keys::LocalKeyProvider::open(&key).expect("creating the master key");
    let (first, first_dir) = node(weed, &db, &key).await;
    let (second, second_dir) = node(weed, &db, &key).await;
    let operator = first.operator_token.as_ref().unwrap().to_string();
    let admin = first.admin_token.as_ref().unwrap().to_string();
    let mut a = TestApp::attach(first, admin.clone(), first_dir);
    a.operator = operator;
    let b = TestApp::attach(second, admin, second_dir);
    let (org, owner) = a.org_with_owner_in("acme", "local", "alice").await;
    let bucket = bucket(weed, true).await;
    save(&a, &owner, weed, &bucket).await;
    // Writes through both nodes, while both copy.
    for i in 0..6 {
        let node = if i % 2 == 0 { &a } else { &b };
        let r = node
            .put_secret_as(&owner, "acme", "OPS-1", &format!("s{i}"), b"v", json!({}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let objects = write_and_wait_copied(&b, &owner, "t", 1).await;
    assert!(objects >= 2, "{objects}");
    let stored = copies(weed, &bucket, &org).await;
    assert_eq!(stored.len() as u64, objects, "one object per checkpoint");
    for node in [&a, &b] {
        let v = verify(node, &owner).await;
        assert_eq!(v["ok"], true, "{v}");
        assert_eq!(v["bucket"]["objects"].as_u64(), Some(objects), "{v}");
    }
    // Every version of every copy object is the one and only write: a second node's attempt
    // was refused (412), not stacked as a newer version in the versioned (locked) bucket.
    let versions = weed
        .client()
        .await
        .list_object_versions()
        .bucket(&bucket)
        .prefix(format!("orgs/{org}/audit/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        versions.versions().len() as u64,
        objects,
        "{:?}",
        versions.versions()
    );
    a.app.stop().await;
    b.app.stop().await;
}
