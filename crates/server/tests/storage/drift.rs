//! Drift checks against moto: an org's saved bucket is re-checked every `storage.probe_interval`.
//! Deleting the bucket makes it `degraded` at the `bucket_exists` step — in `GET …/storage`, in
//! `/metrics`, with exactly one `storage.degraded` event however many checks follow — without
//! suspending the org or touching another org; re-creating it recovers it by itself with one
//! `storage.recovered` event. A CORS rule missing (or Object Lock off) is a warning that never
//! degrades; the CORS one clears once the rule is applied. An endpoint that stops answering
//! degrades the bucket with a sentence free of the transport's words. Two nodes on one
//! PostgreSQL catalog probing the same bucket record each transition once.

use super::*;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule, CreateBucketConfiguration};
use coffer_server::blob::BlobSettings;
use coffer_server::catalog::CatalogSettings;
use coffer_server::config::Config;
use coffer_server::startup::RunningApp;
use coffer_server::testing::pg::TestDb;
use std::time::{Duration, Instant};

const PROBE: Duration = Duration::from_millis(200);
const REGION: &str = "eu-central-1";

/// The storage settings every node of these tests uses: tenant buckets on moto, checked often.
fn storage_config(c: &mut Config, moto: &Moto) {
    c.byok.principal_arn = Some(PRINCIPAL.into());
    c.storage.allow_custom_endpoints = true;
    c.storage.aws = moto.settings(REGION);
    c.storage.migration_interval = Duration::from_millis(100);
    c.storage.public_origin = Some("https://coffer.example.com".into());
    c.storage.probe_interval = PROBE;
}

async fn s3(moto: &Moto) -> aws_sdk_s3::Client {
    coffer_server::aws::s3_client(&AwsSettings {
        region: Some(REGION.into()),
        endpoint: Some(moto.endpoint().into()),
        force_path_style: true,
        ..moto.settings(REGION)
    })
    .await
    .unwrap()
}

async fn create_bucket(moto: &Moto, bucket: &str) {
    let config = CreateBucketConfiguration::builder()
        .location_constraint(REGION.into())
        .build();
    s3(moto)
        .await
        .create_bucket()
        .bucket(bucket)
        .create_bucket_configuration(config)
        .send()
        .await
        .expect("create bucket");
}

/// Empties and deletes `bucket`: what an admin cleaning up the wrong account would do. The
/// probe may put its throwaway object between the listing and the delete (`BucketNotEmpty`):
/// empty it again and retry, as the admin would.
async fn delete_bucket(moto: &Moto, bucket: &str) {
    let client = s3(moto).await;
    for _ in 0..20 {
        let listed = client
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        for o in listed.contents() {
            client
                .delete_object()
                .bucket(bucket)
                .key(o.key().unwrap())
                .send()
                .await
                .unwrap();
        }
        if client.delete_bucket().bucket(bucket).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("bucket {bucket} could not be deleted: something keeps writing to it");
}

async fn allow_cors(moto: &Moto, bucket: &str) {
    let rule = CorsRule::builder()
        .allowed_origins("https://coffer.example.com")
        .allowed_methods("GET")
        .allowed_methods("PUT")
        .allowed_headers("*")
        .build()
        .unwrap();
    let config = CorsConfiguration::builder()
        .cors_rules(rule)
        .build()
        .unwrap();
    s3(moto)
        .await
        .put_bucket_cors()
        .bucket(bucket)
        .cors_configuration(config)
        .send()
        .await
        .expect("put bucket cors");
}

async fn storage_of(base: &str, token: &str, org: &str) -> Value {
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v1/orgs/{org}/storage"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Waits until `org`'s bucket health satisfies `ok`; returns the storage view.
async fn wait_health(
    base: &str,
    token: &str,
    org: &str,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let s = storage_of(base, token, org).await;
        if ok(&s["health"]) {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{org}'s bucket never became {what}: {s}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The value of every `/metrics` line of `base` that starts with `prefix`, summed, and how many
/// there were.
async fn metric_at(base: &str, prefix: &str) -> (f64, usize) {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let values: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (values.iter().sum(), values.len())
}

fn status_is(status: &'static str) -> impl Fn(&Value) -> bool {
    move |h| h["status"] == status
}

async fn audit_count(base: &str, token: &str, org: &str, action: &str) -> usize {
    let r = reqwest::Client::new()
        .get(format!(
            "{base}/api/v1/orgs/{org}/audit?action={action}&limit=1000"
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    body["events"].as_array().map_or(0, Vec::len)
}

async fn save_bucket(app: &TestApp, token: &str, org: &str, bucket: &str, moto: &Moto) {
    let r = app
        .call(
            token,
            Method::PUT,
            &format!("/api/v1/orgs/{org}/storage"),
            Some(json!({"bucket": bucket, "region": REGION, "endpoint": moto.endpoint()})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_deleted_bucket_is_degraded_once_and_recovers_by_itself_without_suspending_anyone() {
    let moto = Moto::shared();
    let app = spawn_with(|c| storage_config(c, moto)).await;
    let (_, owner) = app.org_with_owner_in("acme", "eu", "alice").await;
    let (_, beta_owner) = app.org_with_owner_in("beta", "eu", "bob").await;
    let (ours, theirs) = (unique("acme-drift"), unique("beta-drift"));
    create_bucket(moto, &ours).await;
    create_bucket(moto, &theirs).await;
    save_bucket(&app, &owner, "acme", &ours, moto).await;
    save_bucket(&app, &beta_owner, "beta", &theirs, moto).await;
    let r = app
        .put_secret_as(&owner, "acme", "OPS-1", "db", b"before", json!({}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let base = app.base.as_str();

    // Checked and fine; a missing CORS rule is a warning, not a degradation.
    let s = wait_health(base, &owner, "acme", "ok", status_is("ok")).await;
    let h = &s["health"];
    assert_eq!(
        (h["step"].clone(), h["detail"].clone()),
        (Value::Null, Value::Null)
    );
    assert!(h["checked_at"].is_string() && h["since"].is_string(), "{h}");
    assert_eq!(h["warnings"][0]["step"], "cors", "{h}");
    assert!(
        h["warnings"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("https://coffer.example.com"),
        "{h}"
    );
    let default = storage_of(base, &app.token, "default").await;
    assert_eq!(
        (default["kind"].as_str(), &default["health"]),
        (Some("default"), &Value::Null),
        "the default store has no bucket health"
    );

    // The bucket disappears.
    delete_bucket(moto, &ours).await;
    // (A check in flight when the bucket went may first fail at `put`; the next ones fail at
    // `bucket_exists`, and the step follows while the bucket stays degraded.)
    let s = wait_health(base, &owner, "acme", "degraded at bucket_exists", |h| {
        h["status"] == "degraded" && h["step"] == "bucket_exists"
    })
    .await;
    let h = &s["health"];
    let detail = h["detail"].as_str().unwrap();
    assert!(
        detail.contains(&ours) && detail.contains("no longer exists") && detail.contains(REGION),
        "names the bucket and the fix: {detail}"
    );
    let degraded_since = h["since"].clone();
    tokio::time::sleep(PROBE * 6).await; // several more failing checks
    let s = storage_of(base, &owner, "acme").await;
    assert_eq!(s["health"]["status"], "degraded");
    assert_eq!(
        s["health"]["since"], degraded_since,
        "since the first failure"
    );
    assert_ne!(
        s["health"]["checked_at"], degraded_since,
        "still being checked"
    );
    assert_eq!(
        audit_count(base, &owner, "acme", "storage.degraded").await,
        1
    );
    let r = app
        .call(
            &owner,
            Method::GET,
            "/api/v1/orgs/acme/audit?action=storage.degraded",
            None,
        )
        .await;
    let event = &r.body["events"][0];
    assert_eq!(event["actor"], "coffer", "{event}");
    assert!(
        ["bucket_exists", "put", "get"].contains(&event["details"]["step"].as_str().unwrap()),
        "the event names the failing step: {event}"
    );
    assert!(
        !event["details"]["detail"].as_str().unwrap().is_empty(),
        "{event}"
    );
    assert_eq!(
        app.metric("coffer_storage_degraded", &[("org", "acme")])
            .await,
        1.0
    );
    assert_eq!(
        app.metric("coffer_storage_degraded", &[("org", "beta")])
            .await,
        0.0
    );
    assert!(
        app.metric(
            "coffer_storage_probe_failures_total",
            &[("step", "bucket_exists")]
        )
        .await
            >= 3.0,
        "every failing check is counted"
    );

    // Never suspended: the org is active, writes keep trying the bucket (and fail without a
    // 423), and the other org is untouched.
    let r = app
        .call(&owner, Method::GET, "/api/v1/orgs/acme", None)
        .await;
    assert_eq!(r.body["status"], "active", "{}", r.body);
    let r = app
        .put_secret_as(&owner, "acme", "OPS-2", "db", b"during", json!({}))
        .await;
    assert!(
        r.status != 423 && r.status != 201,
        "{} {}",
        r.status,
        r.body
    );
    let s = storage_of(base, &beta_owner, "beta").await;
    assert_eq!(s["health"]["status"], "ok", "{s}");
    assert_eq!(
        audit_count(base, &beta_owner, "beta", "storage.degraded").await,
        0
    );

    // Re-created (empty, the envelope is gone with it): the bucket works again by itself.
    create_bucket(moto, &ours).await;
    let s = wait_health(base, &owner, "acme", "ok again", status_is("ok")).await;
    assert_eq!(s["health"]["step"], Value::Null);
    tokio::time::sleep(PROBE * 3).await;
    assert_eq!(
        audit_count(base, &owner, "acme", "storage.recovered").await,
        1
    );
    assert_eq!(
        audit_count(base, &owner, "acme", "storage.degraded").await,
        1
    );
    assert_eq!(
        app.metric("coffer_storage_degraded", &[("org", "acme")])
            .await,
        0.0
    );
    let r = app
        .put_secret_as(&owner, "acme", "OPS-3", "db", b"after", json!({}))
        .await;
    assert_eq!(r.status, 201, "writes work again: {}", r.body);

    // A CORS rule for Coffer's origin clears that warning (Object Lock, off on moto's buckets,
    // still warns); warnings never made an event.
    allow_cors(moto, &theirs).await;
    let s = wait_health(base, &beta_owner, "beta", "free of the CORS warning", |h| {
        h["status"] == "ok" && !h["warnings"].to_string().contains("\"cors\"")
    })
    .await;
    assert_eq!(
        s["health"]["warnings"][0]["step"], "object_lock",
        "{}",
        s["health"]
    );
    assert_eq!(
        audit_count(base, &beta_owner, "beta", "storage.recovered").await,
        0
    );

    // Back to the default store: no health, and out of the gauge.
    let r = app
        .call(&owner, Method::DELETE, "/api/v1/orgs/acme/storage", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["health"], Value::Null);
    let start = Instant::now();
    while metric_at(base, "coffer_storage_degraded{org=\"acme\"}")
        .await
        .1
        > 0
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "acme stays in the gauge"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A bucket whose endpoint stops answering is degraded with a sentence that gives nothing away
/// about Coffer's network: the transport's own words stay in the log.
#[tokio::test]
async fn an_endpoint_that_stops_answering_degrades_without_the_networks_words() {
    let moto = Moto::start();
    let app = spawn_with(|c| storage_config(c, &moto)).await;
    let (_, owner) = app.org_with_owner_in("acme", "eu", "alice").await;
    let bucket = unique("acme-gone-quiet");
    create_bucket(&moto, &bucket).await;
    save_bucket(&app, &owner, "acme", &bucket, &moto).await;
    let base = app.base.as_str();
    wait_health(base, &owner, "acme", "ok", status_is("ok")).await;

    moto.stop();
    let s = wait_health(base, &owner, "acme", "degraded at bucket_exists", |h| {
        h["status"] == "degraded" && h["step"] == "bucket_exists"
    })
    .await;
    let detail = s["health"]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&bucket) && detail.contains("did not answer"),
        "{detail}"
    );
    let port = format!(":{}", moto.endpoint().rsplit(':').next().unwrap());
    let r = app
        .call(
            &owner,
            Method::GET,
            "/api/v1/orgs/acme/audit?action=storage.degraded",
            None,
        )
        .await;
    let event = r.body["events"][0]["details"].to_string();
    for text in [detail, event.as_str()] {
        for leak in [
            "refused",
            "os error",
            "dispatch",
            "connect",
            "tcp",
            "127.0.0.1",
            port.as_str(),
        ] {
            assert!(!text.to_lowercase().contains(leak), "{leak} in {text}");
        }
    }
    let r = app
        .call(&owner, Method::GET, "/api/v1/orgs/acme", None)
        .await;
    assert_eq!(r.body["status"], "active", "never suspended: {}", r.body);
}

/// Two nodes sharing one PostgreSQL catalog both check the same bucket every 200 ms: one
/// `storage.degraded` and one `storage.recovered` event for the deployment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_probing_nodes_record_each_transition_once() {
    let db = TestDb::create().await;
    let shared = tempfile::tempdir().unwrap();
    let moto = Moto::shared();
    let setup = |c: &mut Config| {
        storage_config(c, moto);
        c.catalog = CatalogSettings::Postgres {
            url: db.url.clone(),
            pool_size: 4,
            connect_timeout: Duration::from_secs(10),
        };
        c.keys.master_key_file = Some(shared.path().join("master.key"));
        c.blobs = BlobSettings::Fs {
            path: Some(shared.path().join("blobs")),
        };
    };
    let app = spawn_with(setup).await;
    let (_, owner) = app.org_with_owner_in("acme", "eu", "alice").await;
    let bucket = unique("acme-two-nodes");
    create_bucket(moto, &bucket).await;
    save_bucket(&app, &owner, "acme", &bucket, moto).await;

    let dir2 = tempfile::tempdir().unwrap();
    let mut c2 = Config::load(None, Default::default()).unwrap();
    c2.data_dir = dir2.path().join("data");
    c2.listen = "127.0.0.1:0".into();
    setup(&mut c2);
    let node2 = RunningApp::start(&c2).await.expect("second node starts");
    assert!(node2.admin_token.is_none(), "the deployment already exists");
    let base2 = format!("http://{}", node2.addr);

    wait_health(&base2, &owner, "acme", "ok", status_is("ok")).await;
    delete_bucket(moto, &bucket).await;
    wait_health(&base2, &owner, "acme", "degraded", status_is("degraded")).await;
    tokio::time::sleep(PROBE * 5).await; // both nodes keep finding it broken
    assert_eq!(
        audit_count(&base2, &owner, "acme", "storage.degraded").await,
        1,
        "one event for the deployment"
    );
    let failures = "coffer_storage_probe_failures_total{step=\"bucket_exists\"}";
    let (node2_failures, _) = metric_at(&base2, failures).await;
    let node1_failures = app
        .metric(
            "coffer_storage_probe_failures_total",
            &[("step", "bucket_exists")],
        )
        .await;
    assert!(
        node1_failures >= 1.0 && node2_failures >= 1.0,
        "both nodes probed: {node1_failures} {node2_failures}"
    );

    create_bucket(moto, &bucket).await;
    wait_health(
        app.base.as_str(),
        &owner,
        "acme",
        "ok again",
        status_is("ok"),
    )
    .await;
    tokio::time::sleep(PROBE * 5).await;
    assert_eq!(
        audit_count(&base2, &owner, "acme", "storage.recovered").await,
        1
    );
    assert_eq!(
        audit_count(&base2, &owner, "acme", "storage.degraded").await,
        1
    );
    node2.stop().await;
    app.app.stop().await;
}
