//! What Coffer does when its bucket misbehaves, each fault made by the test support's fault proxy
//! (`coffer_server::testing::fault_proxy`) between a real app and a real S3 API (moto): an org
//! saves its bucket through the proxy, and the test switches the link's fault while secrets are
//! written and revealed.
//!
//! What must hold under every fault (docs/reliability.md): the client gets `503` with
//! `Retry-After` — never a wrong value and never an acknowledged write whose envelope is missing;
//! the SDK's bounded attempts mean a handful of requests per call, not a storm; when the fault
//! goes, the same app works again without a restart; and what failed writes left in the bucket
//! is removed by the orphan sweeper, leaving exactly the envelopes (and manifests) of
//! acknowledged versions. The envelope cache is off here, so every reveal reads the bucket.
//!
//! `pg_restart`: the catalog's PostgreSQL crashes under load on two nodes.

#[path = "../support/app.rs"]
#[allow(dead_code)]
mod helpers;
#[path = "../support/mod.rs"]
mod support;

use base64::Engine as _;
use coffer_server::aws::{AwsCredentials, AwsSettings, SecretString};
use coffer_server::testing::fault_proxy::{Fault, FaultProxy, HttpAnswer};
use helpers::*;
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};
use support::moto::{Moto, unique};

mod pg_restart;

const REGION: &str = "eu-central-1";
/// What the app's S3 clients are allowed per call: the bound every fault must respect.
const ATTEMPTS: u32 = 2;

fn app_aws() -> AwsSettings {
    AwsSettings {
        credentials: AwsCredentials::Static {
            access_key_id: "test".into(),
            secret_access_key: SecretString::new("test"),
            session_token: None,
        },
        connect_timeout: Duration::from_millis(500),
        operation_timeout: Duration::from_secs(2),
        max_attempts: ATTEMPTS,
        ..AwsSettings::default()
    }
}

async fn bucket(moto: &Moto) -> String {
    let name = unique("faulty");
    let client = coffer_server::aws::s3_client(&moto.settings(REGION))
        .await
        .unwrap();
    client
        .create_bucket()
        .bucket(&name)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(REGION.into())
                .build(),
        )
        .send()
        .await
        .unwrap();
    name
}

async fn bucket_keys(moto: &Moto, bucket: &str) -> Vec<String> {
    let client = coffer_server::aws::s3_client(&moto.settings(REGION))
        .await
        .unwrap();
    let listed = client
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

async fn write(app: &TestApp, token: &str, name: &str, value: &str) -> Resp {
    app.call(
        token,
        Method::PUT,
        &format!("/api/v1/orgs/acme/secrets/OPS-1/{name}"),
        Some(json!({"value": base64::engine::general_purpose::STANDARD.encode(value)})),
    )
    .await
}

async fn reveal(app: &TestApp, token: &str, name: &str) -> Resp {
    app.reveal_as(token, "acme", "OPS-1", name).await
}

fn value_of(r: &Resp) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(r.body["value"].as_str().unwrap())
        .unwrap()
}

/// `r` is the answer a client must get while the bucket is failing.
fn assert_unavailable(r: &Resp, what: &str) {
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (503, "unavailable"),
        "{what}: {}",
        r.body
    );
    assert!(r.body.get("value").is_none(), "{what}: no value");
}

#[tokio::test]
async fn a_failing_bucket_answers_503_in_bounded_time_loses_nothing_and_recovers() {
    let moto = Moto::shared();
    let bucket = bucket(moto).await;
    let proxy = FaultProxy::start(moto.endpoint().trim_start_matches("http://")).await;
    let app = spawn_with(|c| {
        c.byok.principal_arn = Some("arn:aws:iam::123456789012:user/coffer".into());
        c.storage.allow_custom_endpoints = true;
        c.storage.aws = app_aws();
        c.storage.probe_interval = Duration::ZERO;
        c.limits.envelope_cache_bytes = 0;
        c.sweeper.interval = Duration::ZERO; // swept by the test, below
    })
    .await;
    let (_, owner) = app.org_with_owner_in("acme", "eu", "alice").await;
    let saved = app
        .call(
            &owner,
            Method::PUT,
            "/api/v1/orgs/acme/storage",
            Some(json!({"bucket": bucket, "region": REGION, "endpoint": proxy.url()})),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.body);

    assert_eq!(
        write(&app, &owner, "before", "value-before").await.status,
        201
    );
    assert_eq!(
        value_of(&reveal(&app, &owner, "before").await),
        b"value-before"
    );

    let faults = [
        ("503 SlowDown", Fault::Respond(HttpAnswer::s3_slow_down())),
        (
            "500 InternalError",
            Fault::Respond(HttpAnswer::s3_internal_error()),
        ),
        ("a stall", Fault::Blackhole),
        ("a reset mid-answer", Fault::ResetAfter(40)),
        ("refused connections", Fault::Refuse),
        ("a truncated body", Fault::TruncateBody(20)),
    ];
    for (i, (what, fault)) in faults.into_iter().enumerate() {
        let truncating = matches!(fault, Fault::TruncateBody(_));
        proxy.set(fault);
        let requests = proxy.requests() + proxy.connections();
        let started = Instant::now();
        let w = write(&app, &owner, &format!("during-{i}"), "never acknowledged").await;
        if truncating {
            // Request bodies pass untouched: a write's answers (ETags) have no body to cut.
            assert!(
                w.status.is_success() || w.status == 503,
                "{what}: {}",
                w.body
            );
        } else {
            assert_unavailable(&w, &format!("a write during {what}"));
        }
        let r = reveal(&app, &owner, "before").await;
        assert_unavailable(&r, &format!("a reveal during {what}"));
        let took = started.elapsed();
        // Two calls, each at most ATTEMPTS attempts of at most the operation timeout (and the
        // write's cleanup): a bound, not a speed claim.
        assert!(
            took < Duration::from_secs(30),
            "{what}: answered after {took:?}"
        );
        let seen = proxy.requests() + proxy.connections() - requests;
        assert!(
            seen <= 40,
            "{what}: {seen} requests and connections for two calls: a retry storm"
        );
        proxy.set(Fault::Pass);
        // Recovery without a restart.
        assert_eq!(
            value_of(&reveal(&app, &owner, "before").await),
            b"value-before",
            "after {what}"
        );
    }

    assert_eq!(
        write(&app, &owner, "after", "value-after").await.status,
        201
    );
    assert_eq!(
        value_of(&reveal(&app, &owner, "after").await),
        b"value-after"
    );

    // Every acknowledged version's envelope and manifest are there; what failed writes left is
    // swept, and nothing else.
    let listed = app
        .call(
            &owner,
            Method::GET,
            "/api/v1/orgs/acme/secrets?project=OPS",
            None,
        )
        .await;
    let acknowledged: Vec<String> = listed.body["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    for name in &acknowledged {
        let r = reveal(&app, &owner, name).await;
        assert_eq!(r.status, 200, "acknowledged `{name}` reveals: {}", r.body);
    }
    let want = 2 * acknowledged.len();
    let before = bucket_keys(moto, &bucket).await;
    assert!(
        before.len() > want,
        "a write whose answer was cut after the bucket stored it leaves orphans: {before:?}"
    );
    let removed = coffer_server::sweeper::sweep_once(app.app.coffer(), Duration::ZERO)
        .await
        .unwrap();
    let keys = bucket_keys(moto, &bucket).await;
    assert_eq!(removed, before.len() - want, "{before:?}");
    assert_eq!(
        keys.len(),
        want,
        "the envelope and manifest of each of {acknowledged:?}, orphans swept: {keys:?}"
    );
    for name in &acknowledged {
        let r = reveal(&app, &owner, name).await;
        assert_eq!(
            r.status, 200,
            "`{name}` still reveals after the sweep: {}",
            r.body
        );
    }
}
