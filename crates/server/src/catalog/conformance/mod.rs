//! The catalog conformance suite: the [`Catalog`] contract as executable checks, written only
//! against the trait so every backend (SQLite and PostgreSQL) runs it unchanged. It
//! expects an empty catalog. Concurrency checks fire real concurrent calls, because check-and-set
//! and view limits are exactly where backends differ.

mod access;
mod audit_copy;
pub mod byok;
mod fresh;
mod health;
pub mod identity;
mod jira;
mod links;
mod scim;
mod sso;
mod storage;
mod storage_health;
mod uploads;
pub mod web;
pub(crate) mod webhooks;

use crate::audit::{AuditDraft, Verifier};
use crate::blob::BlobKey;
use crate::catalog::{
    AuditFilter, Catalog, CatalogError, NewOrg, NewVersion, SecretFilter, StoredBlob, TokenRecord,
    UserRecord, Views,
};
use crate::domain::{
    IdentityKind, Location, OrgId, OrgSlug, OrgStatus, ProjectKey, Role, Scope, SecretId,
    SecretKind, SecretName, StorageId, Timestamp, TokenId, UserId, UserName,
};
use crate::keys::OrgKeyWrap;

fn wrap() -> Vec<OrgKeyWrap> {
    vec![OrgKeyWrap {
        provider: "local".into(),
        key_ref: "master".into(),
        bytes: vec![7; 61],
    }]
}

fn event(org: OrgId, action: &'static str) -> AuditDraft {
    AuditDraft::new(org, None, "tester", action, "t", serde_json::json!({}))
}

pub(crate) fn new_org(slug: &str) -> NewOrg {
    NewOrg {
        id: OrgId::new(),
        slug: OrgSlug::parse(slug).unwrap(),
        name: slug.into(),
        location: Location::local(),
        created_at: Timestamp::now(),
        key_wraps: wrap(),
    }
}

pub(crate) fn token(org: OrgId, user: UserId, byte: u8) -> TokenRecord {
    TokenRecord {
        id: TokenId::new(),
        hash: [byte; 32],
        user,
        user_name: UserName::parse("ignored").unwrap(),
        org: Some(org),
        name: "t".into(),
        created_at: Timestamp::now(),
        expires_at: None,
        revoked_at: None,
    }
}

pub(crate) fn version(org: OrgId, secret: SecretId, scope: &str, name: &str, v: u32) -> NewVersion {
    NewVersion {
        org,
        secret,
        scope: Scope::parse(scope).unwrap(),
        name: SecretName::parse(name).unwrap(),
        kind: SecretKind::Password,
        version: v,
        key_version: 1,
        max_encryptions: u64::MAX >> 1,
        blob_key: BlobKey::for_version(org, secret, v),
        storage: None,
        wrapped_key: vec![1; 60],
        size: 10,
        at: Timestamp::now(),
        by: "tester".into(),
        expires_at: None,
        view_limit: None,
        restricted_to: None,
    }
}

/// Runs every check against an empty `catalog`.
pub async fn run_all(catalog: &dyn Catalog) {
    let org = bootstrap_happens_once(catalog).await;
    orgs_and_keys(catalog).await;
    members_and_tokens(catalog, org).await;
    secret_versions(catalog, org).await;
    concurrent_writers_one_winner(catalog, org).await;
    view_limits_are_atomic(catalog, org).await;
    key_exhaustion(catalog, org).await;
    listing(catalog, org).await;
    audit_chain_verifies(catalog, org).await;
    byok::run_all(catalog).await;
    storage::run_all(catalog).await;
    storage_health::run_all(catalog).await;
    audit_copy::run_all(catalog).await;
    uploads::run_all(catalog).await;
    fresh::run_all(catalog).await;
    identity::run_all(catalog).await;
    web::run_all(catalog).await;
    access::run_all(catalog).await;
    sso::run_all(catalog).await;
    jira::run_all(catalog).await;
    scim::run_all(catalog).await;
    links::run_all(catalog).await;
    webhooks::run_all(catalog).await;
}

async fn bootstrap_happens_once(c: &dyn Catalog) -> OrgId {
    let attempts = (0..4u8).map(|i| {
        let org = new_org("default");
        let user = UserRecord::person(UserName::parse("admin").unwrap(), Timestamp::now());
        let t = token(org.id, user.id, 200 + i);
        let audit = vec![event(org.id, "org.create")];
        c.bootstrap(org, user, t, audit)
    });
    let results = futures::future::join_all(attempts).await;
    let created = results.iter().filter(|r| matches!(r, Ok(true))).count();
    assert_eq!(created, 1, "exactly one bootstrap creates: {results:?}");
    let orgs = c.list_orgs().await.unwrap();
    assert_eq!(orgs.len(), 1);
    let admin = c
        .user_by_name(&UserName::parse("admin").unwrap())
        .await
        .unwrap();
    assert_eq!(admin.kind, IdentityKind::Person);
    let members = c.list_members(orgs[0].id).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(
        (members[0].user.id, members[0].role),
        (admin.id, Role::Owner)
    );
    orgs[0].id
}

async fn orgs_and_keys(c: &dyn Catalog) {
    let o = new_org("conf-keys");
    let id = o.id;
    let rec = c.create_org(o, event(id, "org.create")).await.unwrap();
    assert_eq!((rec.key_version, rec.status), (1, OrgStatus::Active));
    assert_eq!(
        c.org_by_slug(&OrgSlug::parse("conf-keys").unwrap())
            .await
            .unwrap(),
        rec
    );
    assert_eq!(
        c.create_org(new_org("conf-keys"), event(id, "x"))
            .await
            .unwrap_err(),
        CatalogError::AlreadyExists
    );
    assert_eq!(
        c.org_by_slug(&OrgSlug::parse("nope").unwrap())
            .await
            .unwrap_err(),
        CatalogError::NotFound
    );
    assert_eq!(c.org_key_wraps(id, 1).await.unwrap(), wrap());
    assert_eq!(
        c.add_org_key(id, 3, wrap(), event(id, "k"))
            .await
            .unwrap_err(),
        CatalogError::Conflict { current: 1 }
    );
    c.add_org_key(id, 2, wrap(), event(id, "org.rotate_key"))
        .await
        .unwrap();
    assert_eq!(c.org_by_id(id).await.unwrap().key_version, 2);
    assert_eq!(
        c.org_key_wraps(id, 9).await.unwrap_err(),
        CatalogError::NotFound
    );
    c.set_org_status(
        id,
        OrgStatus::Suspended,
        Some("key revoked".into()),
        event(id, "org.suspend"),
    )
    .await
    .unwrap();
    let s = c.org_by_id(id).await.unwrap();
    assert_eq!(
        (s.status, s.suspended_reason.as_deref()),
        (OrgStatus::Suspended, Some("key revoked"))
    );
}

async fn members_and_tokens(c: &dyn Catalog, org: OrgId) {
    let (m, _) = identity::person(c, org, "conf-bob", Role::Member, 3).await;
    let again = c
        .change_role(org, m.user.id, Role::Admin, event(org, "member.role"))
        .await
        .unwrap();
    assert_eq!(again.user.id, m.user.id);
    assert_eq!(again.role, Role::Admin);
    assert_eq!(
        c.add_member(org, m.user.id, Role::Member, event(org, "x"))
            .await
            .unwrap_err(),
        CatalogError::AlreadyExists,
        "a member is not added twice"
    );
    assert!(
        c.list_members(org)
            .await
            .unwrap()
            .iter()
            .any(|x| x.user.name.as_str() == "conf-bob" && x.role == Role::Admin)
    );
    let t = token(org, m.user.id, 1);
    c.create_token(t.clone(), Some(event(org, "token.create")))
        .await
        .unwrap();
    assert_eq!(
        c.create_token(token(org, m.user.id, 1), Some(event(org, "x")))
            .await
            .unwrap_err(),
        CatalogError::AlreadyExists
    );
    let p = c
        .authenticate(&[1; 32])
        .await
        .unwrap()
        .expect("token resolves");
    assert_eq!(
        (p.user.id, p.role, p.token.user_name.as_str()),
        (m.user.id, Some(Role::Admin), "conf-bob")
    );
    assert!(c.authenticate(&[2; 32]).await.unwrap().is_none());
    let at = Timestamp::now();
    let r = c
        .revoke_token(Some(org), t.id, at, Some(event(org, "token.revoke")))
        .await
        .unwrap();
    assert_eq!(r.revoked_at, Some(at));
    let later = c
        .revoke_token(
            Some(org),
            t.id,
            at.plus(std::time::Duration::from_secs(5)),
            Some(event(org, "token.revoke")),
        )
        .await
        .unwrap();
    assert_eq!(
        later.revoked_at,
        Some(at),
        "the first revocation time is kept"
    );
    assert!(
        c.list_tokens(Some(org))
            .await
            .unwrap()
            .iter()
            .any(|x| x.id == t.id)
    );
    let other = OrgId::new();
    assert_eq!(
        c.token(Some(other), t.id).await.unwrap_err(),
        CatalogError::NotFound,
        "tokens are per org"
    );
}

async fn secret_versions(c: &dyn Catalog, org: OrgId) {
    let id = SecretId::new();
    assert_eq!(
        c.put_version(version(org, id, "OPS-1", "db", 2), event(org, "w"))
            .await
            .unwrap_err(),
        CatalogError::Conflict { current: 0 }
    );
    let s1 = c
        .put_version(
            version(org, id, "OPS-1", "db", 1),
            event(org, "secret.write"),
        )
        .await
        .unwrap();
    assert_eq!((s1.version, s1.views), (1, 0));
    let stale = c
        .put_version(
            version(org, id, "OPS-1", "db", 2),
            event(org, "secret.write"),
        )
        .await
        .unwrap();
    assert_eq!(stale.version, 2);
    assert_eq!(
        c.put_version(version(org, id, "OPS-1", "db", 2), event(org, "w"))
            .await
            .unwrap_err(),
        CatalogError::Conflict { current: 2 }
    );
    let intruder = SecretId::new();
    assert_eq!(
        c.put_version(version(org, intruder, "OPS-1", "db", 1), event(org, "w"))
            .await
            .unwrap_err(),
        CatalogError::Conflict { current: 2 }
    );
    let v1 = c.version(id, 1).await.unwrap();
    assert_eq!((v1.key_version, v1.wrapped_key.len()), (1, 60));
    assert_eq!(
        c.versions(id)
            .await
            .unwrap()
            .iter()
            .map(|v| v.version)
            .collect::<Vec<_>>(),
        [2, 1]
    );
    assert!(c.blob_referenced(&v1.stored_blob()).await.unwrap());
    let elsewhere = StoredBlob {
        storage: Some(StorageId::new()),
        key: v1.blob_key.clone(),
    };
    assert!(
        !c.blob_referenced(&elsewhere).await.unwrap(),
        "the same key in another store is not this version's envelope"
    );
    let scope = Scope::parse("OPS-1").unwrap();
    let name = SecretName::parse("db").unwrap();
    reveal_targets(c, org, id, &scope, &name).await;
    c.set_deleted(id, Some(Timestamp::now()), event(org, "secret.delete"))
        .await
        .unwrap();
    assert_eq!(
        c.put_version(version(org, id, "OPS-1", "db", 3), event(org, "w"))
            .await
            .unwrap_err(),
        CatalogError::Deleted
    );
    assert!(
        c.secret(org, &scope, &name)
            .await
            .unwrap()
            .deleted_at
            .is_some()
    );
    c.set_deleted(id, None, event(org, "secret.restore"))
        .await
        .unwrap();
    let keys = c.destroy(id, event(org, "secret.destroy")).await.unwrap();
    assert_eq!(keys.len(), 2);
    assert!(
        !c.blob_referenced(&v1.stored_blob()).await.unwrap(),
        "destroyed versions are forgotten"
    );
    assert_eq!(
        c.secret(org, &scope, &name).await.unwrap_err(),
        CatalogError::NotFound
    );
    assert_eq!(
        c.destroy(id, event(org, "x")).await.unwrap_err(),
        CatalogError::NotFound
    );
    let fresh = SecretId::new();
    c.put_version(
        version(org, fresh, "OPS-1", "db", 1),
        event(org, "secret.write"),
    )
    .await
    .expect("a destroyed name is free again");
    let other_org = OrgId::new();
    assert_eq!(
        c.secret(other_org, &scope, &name).await.unwrap_err(),
        CatalogError::NotFound
    );
}

async fn concurrent_writers_one_winner(c: &dyn Catalog, org: OrgId) {
    let id = SecretId::new();
    c.put_version(
        version(org, id, "OPS-2", "race", 1),
        event(org, "secret.write"),
    )
    .await
    .unwrap();
    let racers = (0..10).map(|_| {
        c.put_version(
            version(org, id, "OPS-2", "race", 2),
            event(org, "secret.write"),
        )
    });
    let results = futures::future::join_all(racers).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| *e == CatalogError::Conflict { current: 2 })
    );
}

async fn view_limits_are_atomic(c: &dyn Catalog, org: OrgId) {
    let id = SecretId::new();
    c.put_version(
        NewVersion {
            view_limit: Some(3),
            ..version(org, id, "OPS-3", "once", 1)
        },
        event(org, "secret.write"),
    )
    .await
    .unwrap();
    let reveals = (0..10).map(|_| c.record_view(id, event(org, "secret.reveal")));
    let results = futures::future::join_all(reveals).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        3,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| *e == CatalogError::ViewLimitReached)
    );
    // Each counted reveal is told its own count, and the limit.
    let mut counted: Vec<Views> = results.iter().filter_map(|r| r.clone().ok()).collect();
    counted.sort_by_key(|v| v.count);
    let one_to_three = (1..=3).map(|count| Views {
        count,
        limit: Some(3),
    });
    assert_eq!(counted, one_to_three.collect::<Vec<_>>());
    assert_eq!(
        c.secret(
            org,
            &Scope::parse("OPS-3").unwrap(),
            &SecretName::parse("once").unwrap()
        )
        .await
        .unwrap()
        .views,
        3
    );
}

async fn key_exhaustion(c: &dyn Catalog, org: OrgId) {
    let before = c.org_key_encryptions(org, 1).await.unwrap();
    let id = SecretId::new();
    let v = NewVersion {
        max_encryptions: before,
        ..version(org, id, "OPS-4", "k", 1)
    };
    assert_eq!(
        c.put_version(v, event(org, "w")).await.unwrap_err(),
        CatalogError::KeyExhausted
    );
    assert_eq!(
        c.org_key_encryptions(org, 1).await.unwrap(),
        before,
        "a refused write counts nothing"
    );
    assert_eq!(
        c.secret(
            org,
            &Scope::parse("OPS-4").unwrap(),
            &SecretName::parse("k").unwrap()
        )
        .await
        .unwrap_err(),
        CatalogError::NotFound,
        "nothing of it remains"
    );
    c.put_version(version(org, id, "OPS-4", "k", 1), event(org, "w"))
        .await
        .unwrap();
    assert_eq!(
        c.org_key_encryptions(org, 1).await.unwrap(),
        before + crate::catalog::rules::WRAPS_PER_VERSION as u64,
        "a version counts its value's and its manifest's data keys"
    );
}

async fn listing(c: &dyn Catalog, org: OrgId) {
    for (scope, name) in [
        ("LST", "proj-level"),
        ("LST-1", "db-a"),
        ("LST-1", "db-b"),
        ("LST-2", "api"),
        ("LSX-1", "other"),
    ] {
        c.put_version(
            version(org, SecretId::new(), scope, name, 1),
            event(org, "secret.write"),
        )
        .await
        .unwrap();
    }
    let names = |f: SecretFilter| async move {
        let limit = if f.limit == 0 { 100 } else { f.limit };
        let list = c
            .list_secrets(org, &SecretFilter { limit, ..f })
            .await
            .unwrap();
        list.into_iter()
            .map(|s| format!("{}/{}", s.scope, s.name))
            .collect::<Vec<_>>()
    };
    let lst = Some(ProjectKey::parse("LST").unwrap());
    assert_eq!(
        names(SecretFilter {
            project: lst.clone(),
            ..Default::default()
        })
        .await,
        ["LST/proj-level", "LST-1/db-a", "LST-1/db-b", "LST-2/api"]
    );
    assert_eq!(
        names(SecretFilter {
            project: lst.clone(),
            issue: Some(1),
            ..Default::default()
        })
        .await,
        ["LST-1/db-a", "LST-1/db-b"]
    );
    assert_eq!(
        names(SecretFilter {
            project: lst.clone(),
            name_prefix: Some("db-".into()),
            ..Default::default()
        })
        .await,
        ["LST-1/db-a", "LST-1/db-b"]
    );
    assert_eq!(
        names(SecretFilter {
            project: lst,
            limit: 2,
            ..Default::default()
        })
        .await,
        ["LST/proj-level", "LST-1/db-a"]
    );
    assert!(
        c.list_secrets(
            OrgId::new(),
            &SecretFilter {
                limit: 100,
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .is_empty()
    );
}

async fn checkpoints_are_numbered_and_chained(
    c: &dyn Catalog,
    org: OrgId,
    seq: u64,
    head: [u8; 32],
) {
    use crate::audit::checkpoint::SigningKey;
    let key = SigningKey::derive(&coffer_envelope::OrgKey::generate(), org, 1);
    assert!(c.audit_checkpoints(org).await.unwrap().is_empty());
    let first = key.sign(org, 1, seq - 1, [1; 32], Timestamp::now(), None);
    let second = key.sign(org, 1, seq, head, Timestamp::now(), Some(&first));
    assert!(
        matches!(
            c.add_audit_checkpoint(second.clone()).await,
            Err(CatalogError::Refused(_))
        ),
        "checkpoint 2 needs checkpoint 1"
    );
    c.add_audit_checkpoint(first.clone()).await.unwrap();
    // Two nodes signing checkpoint 2 at once: one is stored.
    let rival = key.sign(org, 1, seq, head, Timestamp::now(), Some(&first));
    let (x, y) = futures::join!(
        c.add_audit_checkpoint(second.clone()),
        c.add_audit_checkpoint(rival.clone())
    );
    assert_eq!(
        [&x, &y].iter().filter(|r| r.is_ok()).count(),
        1,
        "{x:?} {y:?}"
    );
    assert!(
        [&x, &y]
            .iter()
            .any(|r| **r == Err(CatalogError::AlreadyExists))
    );
    let stored = c.audit_checkpoints(org).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0], first);
    assert!(stored[1] == second || stored[1] == rival);
}

async fn audit_chain_verifies(c: &dyn Catalog, org: OrgId) {
    c.append_audit(event(org, "auth.failed")).await.unwrap();
    let all = c
        .audit_events(
            org,
            &AuditFilter {
                limit: 10_000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(all.len() > 10);
    let mut v = Verifier::default();
    all.iter().for_each(|e| v.push(e));
    let v = v.finish();
    assert_eq!(v.failure, None);
    assert_eq!(v.events, all.len() as u64);
    let page = c
        .audit_events(
            org,
            &AuditFilter {
                after_seq: 2,
                limit: 3,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4, 5]);
    for far in [i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
        let filter = AuditFilter {
            after_seq: far,
            limit: 3,
            ..Default::default()
        };
        let beyond = c.audit_events(org, &filter).await.unwrap();
        assert!(beyond.is_empty(), "nothing comes after {far}");
    }
    let last = all.last().unwrap();
    assert_eq!(
        c.audit_head(org).await.unwrap(),
        Some((last.seq, last.hash)),
        "the head is the last event"
    );
    assert_eq!(c.audit_head(OrgId::new()).await.ok().flatten(), None);
    checkpoints_are_numbered_and_chained(c, org, last.seq, last.hash).await;
    let reveals = c
        .audit_events(
            org,
            &AuditFilter {
                limit: 100,
                action: Some("secret.reveal".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        reveals.len(),
        3,
        "only the three counted reveals were recorded"
    );
    let about = |target: &str| AuditFilter {
        limit: 1000,
        target: Some(target.into()),
        ..Default::default()
    };
    for target in ["OPS-3/once", "OPS-3/other", "OPS-3/once"] {
        let about = AuditDraft::new(
            org,
            None,
            "tester",
            "secret.reveal",
            target,
            serde_json::json!({}),
        );
        c.append_audit(about).await.unwrap();
    }
    let once = c.audit_events(org, &about("OPS-3/once")).await.unwrap();
    assert_eq!(once.len(), 2);
    assert!(once.iter().all(|e| e.target == "OPS-3/once"));
    assert!(
        c.audit_events(org, &about("OPS-3/nothing"))
            .await
            .unwrap()
            .is_empty()
    );
}

/// `reveal_target` reads the org, the secret and a version together; only a missing org is
/// `NotFound`.
async fn reveal_targets(
    c: &dyn Catalog,
    org: OrgId,
    id: SecretId,
    scope: &Scope,
    name: &SecretName,
) {
    let slug = c.org_by_id(org).await.unwrap().slug;
    let current = c.reveal_target(&slug, scope, name, None).await.unwrap();
    assert_eq!(current.org.id, org);
    assert_eq!(
        current.secret.as_ref().map(|s| (s.id, s.version)),
        Some((id, 2))
    );
    assert_eq!(current.version, Some(c.version(id, 2).await.unwrap()));
    let first = c.reveal_target(&slug, scope, name, Some(1)).await.unwrap();
    assert_eq!(first.version, Some(c.version(id, 1).await.unwrap()));
    let beyond = c.reveal_target(&slug, scope, name, Some(9)).await.unwrap();
    assert_eq!((beyond.secret.is_some(), beyond.version), (true, None));
    let other = SecretName::parse("nothing-here").unwrap();
    let absent = c.reveal_target(&slug, scope, &other, None).await.unwrap();
    assert_eq!((absent.secret, absent.version), (None, None));
    let nowhere = OrgSlug::parse("no-such-org").unwrap();
    assert_eq!(
        c.reveal_target(&nowhere, scope, name, None)
            .await
            .unwrap_err(),
        CatalogError::NotFound
    );
    authenticated_reveal_targets(c, org, &slug, scope, name).await;
}

/// `authenticate_reveal` answers what `authenticate` and `reveal_target` answer, whichever of
/// the two finds nothing.
async fn authenticated_reveal_targets(
    c: &dyn Catalog,
    org: OrgId,
    slug: &OrgSlug,
    scope: &Scope,
    name: &SecretName,
) {
    let (m, t) = identity::person(c, org, "conf-reveal", Role::Auditor, 0x7d).await;
    let nowhere = OrgSlug::parse("no-such-org").unwrap();
    for (hash, at, version) in [
        (t.hash, slug, None),
        (t.hash, slug, Some(1)),
        ([0x7e; 32], slug, None),
        (t.hash, &nowhere, None),
        ([0x7e; 32], &nowhere, Some(9)),
    ] {
        let (principal, target) = c
            .authenticate_reveal(&hash, at, scope, name, version)
            .await
            .unwrap();
        let alone = c.authenticate(&hash).await.unwrap();
        assert_eq!(
            principal.map(|p| (p.token.id, p.user.id, p.role)),
            alone.map(|p| (p.token.id, p.user.id, p.role))
        );
        let target_alone = c.reveal_target(at, scope, name, version).await;
        assert_eq!(
            target.map(|t| (t.org.id, t.secret, t.version)),
            target_alone.map(|t| (t.org.id, t.secret, t.version))
        );
    }
    let (p, target) = c
        .authenticate_reveal(&t.hash, slug, scope, name, None)
        .await
        .unwrap();
    assert_eq!(
        p.map(|p| (p.user.id, p.role)),
        Some((m.user.id, Some(Role::Auditor)))
    );
    assert_eq!(target.unwrap().org.id, org);
}
