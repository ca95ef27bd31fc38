//! Revocation and restore at runtime: a disabled or deletion-scheduled key suspends the org
//! within `key_cache_ttl + probe_interval` (423 `org_suspended` naming the region and reason on
//! reads and writes, admin endpoints still answering), re-enabling the key restores it on the
//! next probe, and an unreachable KMS never suspends (cache hits keep serving, misses get 503).

use crate::*;
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_millis(300);
const PROBE: Duration = Duration::from_millis(200);
/// Scheduling slack on a loaded 2-core machine, on top of the bound being proven.
const SLACK: Duration = Duration::from_millis(1500);

/// Polls `reveal` until its status is `want`; returns the time it took and the last answer.
async fn until_status(e: &Env, want: u16, within: Duration) -> (Duration, Resp) {
    let start = Instant::now();
    loop {
        let r = e.reveal("OPS-1", "db").await;
        if r.status == want || start.elapsed() > within {
            return (start.elapsed(), r);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn revocable_env(moto: &Moto) -> Env {
    let e = env(moto, |c| {
        c.keys.key_cache_ttl = TTL;
        c.keys.probe_interval = PROBE;
    })
    .await;
    e.enable().await;
    assert_eq!(e.put("OPS-1", "db", b"v").await.status, 201);
    assert_eq!(e.reveal("OPS-1", "db").await.status, 200);
    e
}

#[tokio::test]
async fn a_disabled_key_suspends_within_ttl_plus_probe_and_enabling_it_restores() {
    let e = revocable_env(Moto::shared()).await;
    e.disable_key(1).await;
    let (took, r) = until_status(&e, 423, TTL + PROBE + SLACK).await;
    eprintln!(
        "suspended {took:?} after DisableKey (bound {:?})",
        TTL + PROBE
    );
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (423, "org_suspended"),
        "{}",
        r.body
    );
    assert!(
        r.message().contains(REGIONS[1]) && r.message().contains("Disabled"),
        "{}",
        r.message()
    );
    assert!(took <= TTL + PROBE + SLACK, "{took:?}");
    let w = e.put("OPS-1", "db", b"w").await;
    assert_eq!(
        (w.status.as_u16(), w.code()),
        (423, "org_suspended"),
        "writes too"
    );
    let view = e.keys_view().await;
    assert_eq!(
        (view.status.as_u16(), view.body["status"].as_str()),
        (200, Some("suspended")),
        "admin views keep working"
    );
    let probe = &view.body["keys"][1]["last_probe"];
    assert_eq!(
        (probe["state"].as_str(), probe["ok"].as_bool()),
        (Some("disabled"), Some(false)),
        "{probe}"
    );
    assert_eq!(view.body["keys"][0]["last_probe"]["ok"], true);
    assert_eq!(
        e.app
            .call(&e.app.operator, Method::GET, "/api/v1/admin/byok", None)
            .await
            .body["orgs"][0]["status"],
        "suspended"
    );
    let audit = e
        .call(Method::GET, "/api/v1/orgs/acme/audit?limit=1000", None)
        .await;
    assert_eq!(audit.status, 200, "the audit trail stays readable");

    e.enable_key(1).await;
    let (took, r) = until_status(&e, 200, PROBE + SLACK).await;
    eprintln!("restored {took:?} after EnableKey");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(e.put("OPS-1", "db", b"w").await.status, 200);
    tokio::time::sleep(PROBE * 3).await; // more probes: no further transitions
    assert_eq!(
        (
            e.audit_count("org.suspend").await,
            e.audit_count("org.restore").await
        ),
        (1, 1)
    );
    let name = "coffer_org_key_transitions_total";
    let suspends = e.app.metric(name, &[("transition", "suspend")]).await;
    let restores = e.app.metric(name, &[("transition", "restore")]).await;
    assert_eq!((suspends, restores), (1.0, 1.0));
}

#[tokio::test]
async fn a_key_scheduled_for_deletion_suspends_the_org() {
    let e = revocable_env(Moto::shared()).await;
    e.admin[0]
        .schedule_key_deletion()
        .key_id(support::kms::key_id(&e.keys[0]))
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let (took, r) = until_status(&e, 423, TTL + PROBE + SLACK).await;
    eprintln!("suspended {took:?} after ScheduleKeyDeletion");
    assert_eq!(r.code(), "org_suspended", "{}", r.body);
    assert!(
        r.message().contains(REGIONS[0]) && r.message().contains("PendingDeletion"),
        "{}",
        r.message()
    );
    let view = e.keys_view().await;
    assert_eq!(
        view.body["keys"][0]["last_probe"]["state"],
        "pending_deletion"
    );
    assert_eq!(e.audit_count("org.suspend").await, 1);
}

#[tokio::test]
async fn an_unreachable_kms_never_suspends_cache_hits_serve_and_misses_get_503() {
    let moto = Moto::start();
    let ttl = Duration::from_secs(4); // long enough for moto.stop() and one reveal on a loaded machine
    let e = env(&moto, |c| {
        c.keys.key_cache_ttl = ttl;
        c.keys.probe_interval = PROBE;
    })
    .await;
    e.enable().await;
    assert_eq!(e.put("OPS-1", "db", b"v").await.status, 201); // the org key is cached now
    let warmed = Instant::now();
    moto.stop();
    let hit = e.reveal("OPS-1", "db").await;
    assert!(
        warmed.elapsed() < ttl,
        "the check must run while the key is cached"
    );
    assert_eq!(hit.status, 200, "a cache hit needs no KMS: {}", hit.body);
    tokio::time::sleep(ttl + PROBE * 3).await; // the key expired; several probes failed
    let miss = e
        .app
        .call(
            &e.owner,
            Method::POST,
            "/api/v1/orgs/acme/secrets/OPS-1/db/reveal",
            None,
        )
        .await;
    assert_eq!(
        (miss.status.as_u16(), miss.code()),
        (503, "unavailable"),
        "{}",
        miss.body
    );
    let retry = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/orgs/acme/secrets/OPS-1/db/reveal",
            e.app.base
        ))
        .bearer_auth(&e.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), 503);
    assert!(retry.headers().contains_key("retry-after"));
    let view = e.keys_view().await;
    assert_eq!(view.body["status"], "active", "{}", view.body);
    assert_eq!(view.body["keys"][0]["last_probe"]["state"], "unreachable");
    assert_eq!(e.audit_count("org.suspend").await, 0);
    let inconclusive = e
        .app
        .metric("coffer_key_probes_total", &[("verdict", "inconclusive")])
        .await;
    assert!(inconclusive >= 2.0, "{inconclusive}");
}
