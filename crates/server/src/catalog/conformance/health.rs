//! The health half of the [`ByokCatalog`] conformance suite (run from `conformance/byok.rs`):
//! probe results are recorded, `Revoked` suspends and `Healthy` restores only what the keys
//! suspended, `Inconclusive` never changes a status, and concurrent reports — several nodes
//! probing at once — make exactly one transition and one audit event.

use super::byok::{EU, change, count, event, org, region};
use crate::catalog::{Catalog, CatalogError, KeyHealthReport, KeyVerdict, ProbeResult, Transition};
use crate::domain::{OrgId, OrgStatus, Timestamp};

fn report(org: OrgId, verdict: KeyVerdict, ok: bool) -> KeyHealthReport {
    let probe = ProbeResult {
        at: Timestamp::now(),
        state: if ok { "enabled" } else { "disabled" }.into(),
        ok,
        problem: (!ok).then(|| "key state is Disabled".to_owned()),
    };
    KeyHealthReport {
        org,
        regions: vec![(region(EU[1]), probe), (region("ap-south-1"), probe_ok())],
        verdict,
    }
}

fn probe_ok() -> ProbeResult {
    ProbeResult {
        at: Timestamp::now(),
        state: "enabled".into(),
        ok: true,
        problem: None,
    }
}

fn revoked() -> KeyVerdict {
    KeyVerdict::Revoked {
        reason: "key in eu-west-1 is Disabled".into(),
    }
}

pub(super) async fn health_transitions_are_check_and_set(c: &dyn Catalog, a: OrgId) {
    let r = c
        .record_key_health(report(a, KeyVerdict::Inconclusive, true), event(a, "x"))
        .await;
    assert_eq!(r.unwrap(), None);
    let r = c
        .record_key_health(report(a, revoked(), false), event(a, "org.suspend"))
        .await;
    assert_eq!(r.unwrap(), Some(Transition::Suspended));
    let o = c.org_by_id(a).await.unwrap();
    assert_eq!(o.status, OrgStatus::Suspended);
    assert_eq!(
        o.suspended_reason.as_deref(),
        Some("key in eu-west-1 is Disabled")
    );
    let s = c.key_settings(a).await.unwrap();
    assert!(s.suspended_by_keys);
    let p = s.keys[1].last_probe.as_ref().expect("probe recorded");
    assert_eq!((p.state.as_str(), p.ok), ("disabled", false));
    assert!(
        s.keys[0].last_probe.is_none(),
        "only reported regions are recorded"
    );
    let r = c
        .record_key_health(report(a, revoked(), false), event(a, "org.suspend"))
        .await;
    assert_eq!(r.unwrap(), None, "already suspended");
    let r = c
        .record_key_health(report(a, KeyVerdict::Inconclusive, true), event(a, "x"))
        .await;
    assert_eq!(r.unwrap(), None, "inconclusive never restores");
    let r = c
        .record_key_health(
            report(a, KeyVerdict::Healthy, true),
            event(a, "org.restore"),
        )
        .await;
    assert_eq!(r.unwrap(), Some(Transition::Restored));
    let o = c.org_by_id(a).await.unwrap();
    assert_eq!((o.status, o.suspended_reason), (OrgStatus::Active, None));
    assert!(!c.key_settings(a).await.unwrap().suspended_by_keys);
    assert_eq!(
        (
            count(c, a, "org.suspend").await,
            count(c, a, "org.restore").await
        ),
        (1, 1)
    );
    assert_eq!(count(c, a, "x").await, 0, "no event without a change");

    // Suspended for another reason: a healthy probe does not lift it.
    c.set_org_status(
        a,
        OrgStatus::Suspended,
        Some("billing".into()),
        event(a, "org.suspend"),
    )
    .await
    .unwrap();
    let r = c
        .record_key_health(
            report(a, KeyVerdict::Healthy, true),
            event(a, "org.restore"),
        )
        .await;
    assert_eq!(r.unwrap(), None);
    assert_eq!(c.org_by_id(a).await.unwrap().status, OrgStatus::Suspended);

    // A local org is left alone; an unknown org is not found.
    let local = org(c, "byok-local").await;
    let r = c
        .record_key_health(report(local, revoked(), false), event(local, "x"))
        .await;
    assert_eq!(r.unwrap(), None);
    assert_eq!(c.org_by_id(local).await.unwrap().status, OrgStatus::Active);
    let r = c
        .record_key_health(report(OrgId::new(), revoked(), false), event(local, "x"))
        .await;
    assert_eq!(r.unwrap_err(), CatalogError::NotFound);
}

pub(super) async fn concurrent_reports_change_once(c: &dyn Catalog) {
    let o = org(c, "byok-race").await;
    c.enable_byok(change(o, 1, &EU, "r"), event(o, "org.byok_enable"))
        .await
        .unwrap();
    for (verdict, action, want) in [
        (revoked(), "org.suspend", Transition::Suspended),
        (KeyVerdict::Healthy, "org.restore", Transition::Restored),
    ] {
        let racers =
            (0..8).map(|_| c.record_key_health(report(o, verdict.clone(), true), event(o, action)));
        let results = futures::future::join_all(racers).await;
        let changed: Vec<_> = results
            .iter()
            .filter(|r| matches!(r, Ok(Some(_))))
            .collect();
        assert_eq!(changed.len(), 1, "{results:?}");
        assert_eq!(*changed[0], Ok(Some(want)));
        assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
        assert_eq!(count(c, o, action).await, 1, "one event per real change");
    }
}
