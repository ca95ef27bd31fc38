//! KMS misbehaving behind the test support's fault proxy, between the app and moto: one region
//! throttled or down fails over to the other on a cache miss; cached org keys keep serving with
//! KMS down everywhere; throttling is transient — never a suspension — and another org is not
//! affected. A rotation needs every region (each org-key version is wrapped in all of them), so
//! with one region out it is refused with 503 and changes nothing.

use crate::helpers::*;
use crate::support::kms::{REGIONS, region_keys};
use crate::support::moto::{Moto, unique};
use crate::{PRINCIPAL, byok_body};
use coffer_server::aws::AwsSettings;
use coffer_server::testing::fault_proxy::{Fault, FaultProxy, HttpAnswer};
use reqwest::Method;
use std::time::Duration;

/// Decrypt calls of `region` that succeeded, from /metrics.
async fn decrypts_ok(app: &TestApp, region: &str) -> f64 {
    app.metric(
        "coffer_kms_requests_total",
        &[
            ("operation", "decrypt"),
            ("region", region),
            ("outcome", "ok"),
        ],
    )
    .await
}

#[tokio::test]
async fn one_region_throttled_fails_over_and_kms_down_never_suspends() {
    let moto = Moto::shared();
    let proxy = FaultProxy::start(moto.endpoint().trim_start_matches("http://")).await;
    let ttl = Duration::from_millis(600);
    let app = spawn_with(|c| {
        c.byok.principal_arn = Some(PRINCIPAL.into());
        c.byok.aws = AwsSettings {
            region: None,
            endpoint: Some(proxy.url()),
            max_attempts: 2,
            operation_timeout: Duration::from_secs(2),
            ..moto.settings(REGIONS[0])
        };
        c.keys.key_cache_ttl = ttl;
        c.keys.probe_interval = Duration::from_millis(200);
    })
    .await;
    let (_, owner) = app.org_with_owner_in("acme", "eu", "alice").await;
    let (_, other) = app.org_with_owner_in("other", "eu", "olga").await;
    let (keys, _) = region_keys(&moto.settings(REGIONS[0])).await;
    let role = moto.create_role(&unique("org-role"), "{}").await;
    let body = byok_body(&role, &[(REGIONS[0], &keys[0]), (REGIONS[1], &keys[1])]);
    let r = app
        .call(&owner, Method::PUT, "/api/v1/orgs/acme/keys", Some(body))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (token, org) in [(&owner, "acme"), (&other, "other")] {
        let r = app
            .put_secret_as(token, org, "OPS-1", "db", b"value", serde_json::json!({}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }

    // The first region throttles: a cache miss is served by the second.
    let scope = format!("/{}/kms/", REGIONS[0]);
    proxy.set(Fault::RespondWhen {
        needle: scope.clone(),
        answer: HttpAnswer::kms_throttling(),
    });
    tokio::time::sleep(ttl * 2).await;
    let before = decrypts_ok(&app, REGIONS[1]).await;
    let r = app.reveal_as(&owner, "acme", "OPS-1", "db").await;
    assert_eq!(r.status, 200, "failed over to {}: {}", REGIONS[1], r.body);
    assert!(
        decrypts_ok(&app, REGIONS[1]).await > before,
        "the second region served"
    );
    // A rotation needs every region: refused while one is out, nothing changed.
    let key_version = |v: &serde_json::Value| v["key_version"].as_u64();
    let org_before = app
        .call(&owner, Method::GET, "/api/v1/orgs/acme", None)
        .await;
    let rotate = app
        .call(&owner, Method::POST, "/api/v1/orgs/acme/keys/rotate", None)
        .await;
    assert_eq!(rotate.status, 503, "{}", rotate.body);
    let org_after = app
        .call(&owner, Method::GET, "/api/v1/orgs/acme", None)
        .await;
    assert_eq!(key_version(&org_after.body), key_version(&org_before.body));

    // KMS throttles everywhere: a cached key serves, a miss is 503, the org stays active.
    proxy.set(Fault::Pass);
    assert_eq!(
        app.reveal_as(&owner, "acme", "OPS-1", "db").await.status,
        200
    ); // cached now
    proxy.set(Fault::Respond(HttpAnswer::kms_throttling()));
    assert_eq!(
        app.reveal_as(&owner, "acme", "OPS-1", "db").await.status,
        200,
        "a cache hit needs no KMS"
    );
    tokio::time::sleep(ttl * 2).await;
    let miss = app.reveal_as(&owner, "acme", "OPS-1", "db").await;
    assert_eq!(
        (miss.status.as_u16(), miss.code()),
        (503, "unavailable"),
        "{}",
        miss.body
    );
    // Another org, on Coffer's own keys, does not notice.
    assert_eq!(
        app.reveal_as(&other, "other", "OPS-1", "db").await.status,
        200
    );
    tokio::time::sleep(Duration::from_millis(800)).await; // several probes, all throttled
    let view = app
        .call(&owner, Method::GET, "/api/v1/orgs/acme/keys", None)
        .await;
    assert_eq!(
        view.body["status"], "active",
        "throttling never suspends: {}",
        view.body
    );
    let suspensions = app
        .call(
            &owner,
            Method::GET,
            "/api/v1/orgs/acme/audit?action=org.suspend",
            None,
        )
        .await;
    assert_eq!(suspensions.body["events"].as_array().map(Vec::len), Some(0));

    // KMS back: the same app serves misses again.
    proxy.set(Fault::Pass);
    tokio::time::sleep(ttl * 2).await;
    assert_eq!(
        app.reveal_as(&owner, "acme", "OPS-1", "db").await.status,
        200
    );
    let rotate = app
        .call(&owner, Method::POST, "/api/v1/orgs/acme/keys/rotate", None)
        .await;
    assert!(rotate.status.is_success(), "{}", rotate.body);
}
