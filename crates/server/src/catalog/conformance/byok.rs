//! The [`ByokCatalog`] contract as executable checks, run by [`super::conformance::run_all`] on
//! every backend: settings exist for every org with distinct external ids; enabling BYOK replaces
//! every version's wraps atomically and refuses stale or foreign input without changing anything;
//! a rotation cannot add a local wrap to a BYOK org; and the health transitions are a
//! check-and-set — many concurrent reports (several nodes probing) give one change, one event.

use crate::audit::AuditDraft;
use crate::catalog::{
    AWS_KMS, AuditFilter, Catalog, CatalogError, EnableByok, KeyProviderKind, NewOrg, NewRegionKey,
};
use crate::domain::{AwsRegion, KmsKeyArn, Location, OrgId, OrgSlug, RoleArn, Timestamp};
use crate::keys::OrgKeyWrap;

fn wrap(provider: &str, key_ref: &str, byte: u8) -> OrgKeyWrap {
    OrgKeyWrap {
        provider: provider.into(),
        key_ref: key_ref.into(),
        bytes: vec![byte; 40],
    }
}

pub(crate) fn event(org: OrgId, action: &'static str) -> AuditDraft {
    AuditDraft::new(org, None, "tester", action, "t", serde_json::json!({}))
}

pub(super) fn region(s: &str) -> AwsRegion {
    AwsRegion::parse(s).unwrap()
}

fn arn(region: &str, id: &str) -> KmsKeyArn {
    KmsKeyArn::parse(&format!("arn:aws:kms:{region}:123456789012:key/{id}")).unwrap()
}

fn keys(regions: &[&str], id: &str) -> Vec<NewRegionKey> {
    regions
        .iter()
        .map(|r| NewRegionKey {
            region: region(r),
            key_arn: arn(r, id),
            probe_ciphertext: vec![9; 20],
        })
        .collect()
}

fn kms_wraps(regions: &[&str], id: &str, byte: u8) -> Vec<OrgKeyWrap> {
    regions
        .iter()
        .map(|r| wrap(AWS_KMS, arn(r, id).as_str(), byte))
        .collect()
}

pub(super) fn change(org: OrgId, versions: u32, regions: &[&str], id: &str) -> EnableByok {
    EnableByok {
        org,
        role_arn: RoleArn::parse("arn:aws:iam::123456789012:role/coffer").unwrap(),
        keys: keys(regions, id),
        rewrapped: (1..=versions)
            .map(|v| (v, kms_wraps(regions, id, v as u8)))
            .collect(),
        at: Timestamp::now(),
    }
}

pub(crate) async fn org(c: &dyn Catalog, slug: &str) -> OrgId {
    let o = NewOrg {
        id: OrgId::new(),
        slug: OrgSlug::parse(slug).unwrap(),
        name: slug.into(),
        location: Location::parse("eu").unwrap(),
        created_at: Timestamp::now(),
        key_wraps: vec![wrap("local", "master", 1)],
    };
    let id = o.id;
    c.create_org(o, event(id, "org.create")).await.unwrap();
    id
}

pub(crate) async fn count(c: &dyn Catalog, org: OrgId, action: &str) -> usize {
    let filter = AuditFilter {
        limit: 1000,
        action: Some(action.into()),
        ..Default::default()
    };
    c.audit_events(org, &filter).await.unwrap().len()
}

pub(super) const EU: [&str; 2] = ["eu-central-1", "eu-west-1"];

/// Runs every BYOK check; creates its own orgs.
pub async fn run_all(c: &dyn Catalog) {
    let a = settings_exist_per_org(c).await;
    enable_replaces_every_wrap_atomically(c, a).await;
    super::health::health_transitions_are_check_and_set(c, a).await;
    super::health::concurrent_reports_change_once(c).await;
}

async fn settings_exist_per_org(c: &dyn Catalog) -> OrgId {
    let (a, b) = (org(c, "byok-a").await, org(c, "byok-b").await);
    let (sa, sb) = (
        c.key_settings(a).await.unwrap(),
        c.key_settings(b).await.unwrap(),
    );
    assert_eq!(
        (sa.provider, sa.role_arn.as_ref()),
        (KeyProviderKind::Local, None)
    );
    assert!(sa.keys.is_empty() && !sa.suspended_by_keys && sa.byok_since.is_none());
    assert!(
        sa.external_id.as_str().starts_with("coffer-"),
        "{:?}",
        sa.external_id
    );
    assert_eq!(sa.external_id.as_str().len(), 39);
    assert_ne!(sa.external_id, sb.external_id, "external ids are per org");
    assert_eq!(
        c.key_settings(OrgId::new()).await.unwrap_err(),
        CatalogError::NotFound
    );
    assert!(c.list_byok().await.unwrap().iter().all(|s| s.org != a));
    a
}

async fn enable_replaces_every_wrap_atomically(c: &dyn Catalog, a: OrgId) {
    c.add_org_key(
        a,
        2,
        vec![wrap("local", "master", 2)],
        event(a, "org.rotate_key"),
    )
    .await
    .unwrap();
    let before = c.all_org_key_wraps(a).await.unwrap();
    assert_eq!(before.iter().map(|(v, _)| *v).collect::<Vec<_>>(), [1, 2]);
    let ext = c.key_settings(a).await.unwrap().external_id;

    // Stale (a version missing) or foreign input changes nothing.
    let stale = change(a, 1, &EU, "k1");
    let err = c.enable_byok(stale, event(a, "x")).await.unwrap_err();
    assert_eq!(err, CatalogError::Conflict { current: 2 });
    let mut foreign = change(a, 2, &EU, "k1");
    foreign.rewrapped[1].1[0].provider = "local".into();
    let err = c.enable_byok(foreign, event(a, "x")).await.unwrap_err();
    assert!(matches!(err, CatalogError::Refused(_)), "{err:?}");
    let no_keys = EnableByok {
        keys: vec![],
        ..change(a, 2, &EU, "k1")
    };
    let err = c.enable_byok(no_keys, event(a, "x")).await.unwrap_err();
    assert!(matches!(err, CatalogError::Refused(_)), "{err:?}");
    let err = c
        .enable_byok(change(OrgId::new(), 1, &EU, "k"), event(a, "x"))
        .await;
    assert_eq!(err.unwrap_err(), CatalogError::NotFound);
    assert_eq!(c.all_org_key_wraps(a).await.unwrap(), before);
    assert_eq!(
        c.key_settings(a).await.unwrap().provider,
        KeyProviderKind::Local
    );
    assert_eq!(count(c, a, "org.byok_enable").await, 0);

    let s = c
        .enable_byok(change(a, 2, &EU, "k1"), event(a, "org.byok_enable"))
        .await
        .unwrap();
    assert_eq!(s.provider, KeyProviderKind::AwsKms);
    assert_eq!(s.external_id, ext, "the external id never changes");
    assert_eq!(
        s.role_arn.unwrap().as_str(),
        "arn:aws:iam::123456789012:role/coffer"
    );
    let since = s.byok_since.expect("byok_since is set");
    let got: Vec<_> = s
        .keys
        .iter()
        .map(|k| (k.region.as_str(), k.key_arn.clone()))
        .collect();
    assert_eq!(got, [(EU[0], arn(EU[0], "k1")), (EU[1], arn(EU[1], "k1"))]);
    assert!(
        s.keys
            .iter()
            .all(|k| k.probe_ciphertext == [9; 20] && k.last_probe.is_none())
    );
    let after = c.all_org_key_wraps(a).await.unwrap();
    assert_eq!(
        after,
        [(1, kms_wraps(&EU, "k1", 1)), (2, kms_wraps(&EU, "k1", 2))]
    );
    assert_eq!(
        c.org_key_wraps(a, 2).await.unwrap(),
        kms_wraps(&EU, "k1", 2)
    );
    assert_eq!(count(c, a, "org.byok_enable").await, 1);
    assert!(c.list_byok().await.unwrap().iter().any(|x| x.org == a));

    // A rotation racing the switch cannot add a local wrap; an aws-kms one is fine.
    let err = c
        .add_org_key(a, 3, vec![wrap("local", "master", 3)], event(a, "k"))
        .await;
    assert!(matches!(err, Err(CatalogError::Refused(_))), "{err:?}");
    c.add_org_key(a, 3, kms_wraps(&EU, "k1", 3), event(a, "org.rotate_key"))
        .await
        .unwrap();

    // Other regions are refused; new keys in the same regions replace the old ones.
    let err = c
        .enable_byok(
            change(a, 3, &["us-east-1", "us-west-2"], "k2"),
            event(a, "x"),
        )
        .await;
    assert!(matches!(err, Err(CatalogError::Refused(_))), "{err:?}");
    let err = c
        .enable_byok(change(a, 3, &EU[..1], "k2"), event(a, "x"))
        .await;
    assert!(matches!(err, Err(CatalogError::Refused(_))), "{err:?}");
    let s = c
        .enable_byok(change(a, 3, &EU, "k2"), event(a, "org.byok_enable"))
        .await
        .unwrap();
    assert_eq!(s.keys[1].key_arn, arn(EU[1], "k2"));
    assert_eq!(s.byok_since, Some(since), "the first enable time is kept");
    assert_eq!(
        c.org_key_wraps(a, 1).await.unwrap(),
        kms_wraps(&EU, "k2", 1)
    );
}
