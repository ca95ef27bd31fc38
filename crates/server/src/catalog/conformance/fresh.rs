//! Reads follow answered writes, run by [`super::conformance::run_all`] on every backend: once a
//! write is answered, the next `authenticate` and `reveal_target` see it, however often they
//! were read before. A backend that caches those reads (SQLite does) must invalidate before it
//! answers; a reveal (`record_view`) must leave the rest of the target as it was.

use super::byok::event;
use super::identity::person;
use super::{new_org, version};
use crate::catalog::{Catalog, Principal, RevealTarget, SecretRecord};
use crate::domain::{OrgId, OrgSlug, OrgStatus, Role, Scope, SecretId, SecretName, Timestamp};

/// Runs every check against `c` (other checks may have left rows behind).
pub async fn run_all(c: &dyn Catalog) {
    let o = new_org("fresh-reads");
    let (org, slug) = (o.id, o.slug.clone());
    c.create_org(o, event(org, "org.create")).await.unwrap();
    principals_follow_writes(c, org).await;
    targets_follow_writes(c, org, &slug).await;
}

/// Reads `authenticate` twice (so a cache would be warm) and returns what it said.
async fn principal(c: &dyn Catalog, hash: &[u8; 32]) -> Principal {
    c.authenticate(hash).await.unwrap().expect("known token");
    c.authenticate(hash).await.unwrap().expect("known token")
}

async fn principals_follow_writes(c: &dyn Catalog, org: OrgId) {
    let (m, t) = person(c, org, "fresh-ann", Role::Member, 0xf1).await;
    assert_eq!(principal(c, &t.hash).await.role, Some(Role::Member));
    c.change_role(org, m.user.id, Role::Admin, event(org, "member.role"))
        .await
        .unwrap();
    assert_eq!(
        principal(c, &t.hash).await.role,
        Some(Role::Admin),
        "a role change is seen at once"
    );
    let at = Timestamp::now();
    c.revoke_token(Some(org), t.id, at, Some(event(org, "token.revoke")))
        .await
        .unwrap();
    assert_eq!(
        principal(c, &t.hash).await.token.revoked_at,
        Some(at),
        "a revocation is seen at once"
    );
    let (rob, rt) = person(c, org, "fresh-rob", Role::Member, 0xf2).await;
    assert_eq!(principal(c, &rt.hash).await.role, Some(Role::Member));
    c.remove_member(
        org,
        rob.user.id,
        Timestamp::now(),
        event(org, "member.remove"),
    )
    .await
    .unwrap();
    let gone = principal(c, &rt.hash).await;
    assert!(
        gone.role.is_none() && gone.token.revoked_at.is_some(),
        "a removal is seen at once"
    );
}

/// Reads `reveal_target` twice (so a cache would be warm) and returns what it said.
async fn target(c: &dyn Catalog, slug: &OrgSlug, scope: &Scope, name: &SecretName) -> RevealTarget {
    c.reveal_target(slug, scope, name, None).await.unwrap();
    c.reveal_target(slug, scope, name, None).await.unwrap()
}

async fn targets_follow_writes(c: &dyn Catalog, org: OrgId, slug: &OrgSlug) {
    let (scope, name) = (
        Scope::parse("FR-1").unwrap(),
        SecretName::parse("db").unwrap(),
    );
    let absent = target(c, slug, &scope, &name).await;
    assert_eq!(absent.secret, None);
    let id = SecretId::new();
    let put = |v| {
        c.put_version(
            version(org, id, "FR-1", "db", v),
            event(org, "secret.write"),
        )
    };
    put(1).await.unwrap();
    let first = target(c, slug, &scope, &name).await;
    assert_eq!(
        first.version.as_ref().map(|v| v.version),
        Some(1),
        "a new secret is seen at once"
    );
    let views = c
        .record_view(id, event(org, "secret.reveal"))
        .await
        .unwrap();
    assert_eq!(views.count, 1, "the count after the first reveal");
    let viewed = target(c, slug, &scope, &name).await;
    // The reveal answers with this record and the returned count (service/secrets/reveal.rs), so
    // nothing else about the secret may change.
    let views_aside = |t: &RevealTarget| t.secret.clone().map(|s| SecretRecord { views: 0, ..s });
    assert_eq!(
        (views_aside(&viewed), viewed.org, viewed.version),
        (views_aside(&first), first.org, first.version),
        "a reveal changes nothing but the view count"
    );
    put(2).await.unwrap();
    let second = target(c, slug, &scope, &name).await;
    assert_eq!(
        second.version.map(|v| v.version),
        Some(2),
        "a new version is seen at once"
    );
    let at = Timestamp::now();
    c.set_deleted(id, Some(at), event(org, "secret.delete"))
        .await
        .unwrap();
    let deleted = target(c, slug, &scope, &name).await;
    assert_eq!(deleted.secret.and_then(|s| s.deleted_at), Some(at));
    c.set_org_status(
        org,
        OrgStatus::Suspended,
        Some("key revoked".into()),
        event(org, "org.suspend"),
    )
    .await
    .unwrap();
    let suspended = target(c, slug, &scope, &name).await;
    assert_eq!(
        suspended.org.status,
        OrgStatus::Suspended,
        "a suspension is seen at once"
    );
    c.destroy(id, event(org, "secret.destroy")).await.unwrap();
    let gone = target(c, slug, &scope, &name).await;
    assert_eq!(gone.secret, None, "a destroyed secret is gone at once");
}
