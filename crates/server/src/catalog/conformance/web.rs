//! The [`WebCatalog`] contract as executable checks, run on every backend (from
//! `sqlite/web.rs` and `postgres/web.rs`): passwords are set, replaced and refused for unknown
//! users; a new password revokes the user's sessions in the same transaction; sessions resolve
//! with the user's current role in their org; revocation is recorded once however often (or
//! however concurrently) it is asked for; expired sessions are pruned at the next sign-in.

use super::byok::{count, event, org};
use crate::catalog::{Catalog, CatalogError, SessionRecord};
use crate::domain::{OrgId, Role, Timestamp, TokenId, UserId};

async fn user(c: &dyn Catalog, org: OrgId, name: &str, role: Role, byte: u8) -> UserId {
    super::identity::person(c, org, name, role, byte)
        .await
        .0
        .user
        .id
}

fn session(user: UserId, org: OrgId, byte: u8, expires_in_ms: i64) -> SessionRecord {
    let now = Timestamp::now();
    SessionRecord {
        id: TokenId::new(),
        hash: [byte; 32],
        user,
        org: Some(org),
        created_at: now,
        expires_at: Timestamp::from_millis(now.millis() + expires_in_ms),
        revoked_at: None,
    }
}

/// Runs every web check; creates its own orgs and users.
pub async fn run_all(c: &dyn Catalog) {
    let o = org(c, "web-a").await;
    let other = org(c, "web-b").await;
    let alice = user(c, o, "web-alice", Role::Member, 0xa1).await;
    passwords(c, o, alice).await;
    sessions_resolve_with_role(c, o, other, alice).await;
    revocation_is_recorded_once(c, o, alice).await;
    new_password_signs_out_everywhere(c, o, alice).await;
    expired_sessions_are_pruned(c, o).await;
}

async fn passwords(c: &dyn Catalog, o: OrgId, alice: UserId) {
    assert_eq!(c.password_hash(alice).await.unwrap(), None);
    assert_eq!(
        c.set_password(
            UserId::new(),
            "x".into(),
            Timestamp::now(),
            vec![event(o, "user.passwd")]
        )
        .await
        .unwrap_err(),
        CatalogError::NotFound
    );
    for phc in ["$argon2id$first", "$argon2id$second"] {
        c.set_password(
            alice,
            phc.into(),
            Timestamp::now(),
            vec![event(o, "user.passwd")],
        )
        .await
        .unwrap();
        assert_eq!(c.password_hash(alice).await.unwrap().as_deref(), Some(phc));
    }
    assert_eq!(count(c, o, "user.passwd").await, 2, "one event per change");
}

async fn sessions_resolve_with_role(c: &dyn Catalog, o: OrgId, other: OrgId, alice: UserId) {
    let s = session(alice, o, 1, 60_000);
    c.create_session(s.clone(), Some(event(o, "session.create")))
        .await
        .unwrap();
    let p = c.session(&s.hash).await.unwrap().expect("stored");
    assert_eq!(p.session, s);
    assert_eq!((p.user.id, p.role), (alice, Some(Role::Member)));
    assert!(c.session(&[0xEE; 32]).await.unwrap().is_none());
    // Same hash again: refused, nothing appended.
    let dup = SessionRecord {
        id: TokenId::new(),
        ..s.clone()
    };
    let before = count(c, o, "session.create").await;
    assert_eq!(
        c.create_session(dup, Some(event(o, "session.create")))
            .await
            .unwrap_err(),
        CatalogError::AlreadyExists
    );
    assert_eq!(count(c, o, "session.create").await, before);
    // A session in an org the user is not a member of resolves without a role.
    let s2 = session(alice, other, 2, 60_000);
    c.create_session(s2.clone(), Some(event(other, "session.create")))
        .await
        .unwrap();
    assert_eq!(c.session(&s2.hash).await.unwrap().unwrap().role, None);
}

async fn revocation_is_recorded_once(c: &dyn Catalog, o: OrgId, alice: UserId) {
    let s = session(alice, o, 3, 60_000);
    c.create_session(s.clone(), Some(event(o, "session.create")))
        .await
        .unwrap();
    let before = count(c, o, "session.revoke").await;
    let at = Timestamp::now();
    let tries = (0..8).map(|_| c.revoke_session(&s.hash, at, Some(event(o, "session.revoke"))));
    let changed = futures::future::join_all(tries).await;
    let changed = changed.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(changed, 1, "exactly one revocation wins");
    assert_eq!(count(c, o, "session.revoke").await, before + 1);
    let p = c.session(&s.hash).await.unwrap().unwrap();
    assert_eq!(p.session.revoked_at, Some(at));
    assert!(
        !c.revoke_session(&[0xAB; 32], at, Some(event(o, "session.revoke")))
            .await
            .unwrap()
    );
}

async fn new_password_signs_out_everywhere(c: &dyn Catalog, o: OrgId, alice: UserId) {
    let bob = user(c, o, "web-bob", Role::Admin, 0xa2).await;
    let (a1, a2, b1) = (
        session(alice, o, 4, 60_000),
        session(alice, o, 5, 60_000),
        session(bob, o, 6, 60_000),
    );
    for s in [&a1, &a2, &b1] {
        c.create_session(s.clone(), Some(event(o, "session.create")))
            .await
            .unwrap();
    }
    let at = Timestamp::now();
    c.set_password(
        alice,
        "$argon2id$third".into(),
        at,
        vec![event(o, "user.passwd")],
    )
    .await
    .unwrap();
    for s in [&a1, &a2] {
        let p = c.session(&s.hash).await.unwrap().unwrap();
        assert_eq!(p.session.revoked_at, Some(at), "alice's sessions end");
    }
    let p = c.session(&b1.hash).await.unwrap().unwrap();
    assert_eq!(p.session.revoked_at, None, "bob's session is untouched");
}

async fn expired_sessions_are_pruned(c: &dyn Catalog, o: OrgId) {
    let carol = user(c, o, "web-carol", Role::Auditor, 0xa3).await;
    let old = session(carol, o, 7, -1_000);
    c.create_session(old.clone(), Some(event(o, "session.create")))
        .await
        .unwrap();
    assert!(c.session(&old.hash).await.unwrap().is_some());
    let fresh = session(carol, o, 8, 60_000);
    c.create_session(fresh.clone(), Some(event(o, "session.create")))
        .await
        .unwrap();
    assert!(c.session(&old.hash).await.unwrap().is_none(), "pruned");
    assert!(c.session(&fresh.hash).await.unwrap().is_some());
}
