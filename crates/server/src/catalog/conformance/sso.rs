//! The [`SsoCatalog`](crate::catalog::SsoCatalog) conformance suite: providers, one-time pending
//! sign-ins, per-org one-to-one links that only ever name members, links forgotten with a new
//! issuer, a removed provider or a removed member, and people created with their link.

use super::byok::{count, event, org};
use super::identity::person;
use crate::catalog::{
    Catalog, CatalogError, SealedValue, SsoLink, SsoPending, SsoPurpose, SsoRecord, UserRecord,
};
use crate::domain::{OrgId, Role, SecretId, Timestamp, UserId, UserName};
use std::time::Duration;

fn provider(org: OrgId, issuer: &str) -> SsoRecord {
    SsoRecord {
        org,
        issuer: issuer.into(),
        client_id: "coffer".into(),
        client_secret: Some(SealedValue {
            id: SecretId::new(),
            key_version: 1,
            envelope: vec![7; 80],
        }),
        groups_claim: Some("groups".into()),
        create_people: false,
        require_sso: true,
        updated_at: Timestamp::from_millis(Timestamp::now().millis()),
        updated_by: "tester".into(),
    }
}

fn link(org: OrgId, subject: &str, user: UserId) -> SsoLink {
    SsoLink {
        org,
        issuer: "https://id.example".into(),
        subject: subject.into(),
        user,
        created_at: Timestamp::from_millis(Timestamp::now().millis()),
    }
}

fn pending(org: OrgId, byte: u8, purpose: SsoPurpose, ttl: Duration) -> SsoPending {
    SsoPending {
        hash: [byte; 32],
        org,
        purpose,
        nonce: "nonce".into(),
        verifier: "verifier".into(),
        browser: [byte ^ 0xff; 32],
        expires_at: Timestamp::from_millis(Timestamp::now().plus(ttl).millis()),
    }
}

/// Runs every check; creates its own orgs and people.
pub async fn run_all(c: &dyn Catalog) {
    let a = org(c, "sso-a").await;
    let b = org(c, "sso-b").await;
    providers(c, a).await;
    pending_rows_are_one_time(c, a).await;
    links(c, a, b).await;
    created_people(c, a, b).await;
}

async fn providers(c: &dyn Catalog, a: OrgId) {
    assert_eq!(c.sso(a).await.unwrap(), None);
    assert!(!c.delete_sso(a, event(a, "sso.delete")).await.unwrap());
    let p = provider(a, "https://id.example");
    c.put_sso(p.clone(), event(a, "sso.set")).await.unwrap();
    assert_eq!(c.sso(a).await.unwrap(), Some(p.clone()));
    let public = SsoRecord {
        client_secret: None,
        groups_claim: None,
        ..p.clone()
    };
    c.put_sso(public.clone(), event(a, "sso.set"))
        .await
        .unwrap();
    assert_eq!(c.sso(a).await.unwrap(), Some(public));
    assert_eq!(count(c, a, "sso.set").await, 2);
    assert_eq!(
        c.put_sso(provider(OrgId::new(), "https://x"), event(a, "sso.set"))
            .await,
        Err(CatalogError::NotFound)
    );
    assert!(c.delete_sso(a, event(a, "sso.delete")).await.unwrap());
    assert_eq!(c.sso(a).await.unwrap(), None);
    assert_eq!(count(c, a, "sso.delete").await, 1);
}

async fn pending_rows_are_one_time(c: &dyn Catalog, a: OrgId) {
    let now = Timestamp::now();
    let kinds = [
        SsoPurpose::SignIn,
        SsoPurpose::Cli {
            port: 49152,
            challenge: "c".repeat(43),
        },
    ];
    for (i, purpose) in kinds.into_iter().enumerate() {
        let p = pending(a, 0x10 + i as u8, purpose, Duration::from_secs(600));
        c.put_sso_pending(p.clone(), now).await.unwrap();
        assert_eq!(
            c.put_sso_pending(p.clone(), now).await,
            Err(CatalogError::AlreadyExists)
        );
        assert_eq!(
            c.take_sso_pending(&p.hash, now).await.unwrap(),
            Some(p.clone())
        );
        assert_eq!(c.take_sso_pending(&p.hash, now).await.unwrap(), None);
    }
    // A link's user must exist (foreign key), so link rows name a real person.
    let (m, _) = person(c, a, "sso-pending", Role::Member, 0xd1).await;
    for purpose in [
        SsoPurpose::Link(m.user.id),
        SsoPurpose::CliExchange {
            user: m.user.id,
            challenge: "d".repeat(43),
        },
    ] {
        let p = pending(a, 0x20, purpose, Duration::from_secs(60));
        c.put_sso_pending(p.clone(), now).await.unwrap();
        assert_eq!(c.take_sso_pending(&p.hash, now).await.unwrap(), Some(p));
    }
    // An expired row is never handed out, and is gone afterwards.
    let old = pending(a, 0x30, SsoPurpose::SignIn, Duration::from_secs(1));
    c.put_sso_pending(old.clone(), now).await.unwrap();
    let later = now.plus(Duration::from_secs(5));
    assert_eq!(c.take_sso_pending(&old.hash, later).await.unwrap(), None);
    assert_eq!(c.take_sso_pending(&old.hash, now).await.unwrap(), None);
    // Storing a row sweeps the expired ones.
    let stale = pending(a, 0x31, SsoPurpose::SignIn, Duration::from_secs(1));
    c.put_sso_pending(stale.clone(), now).await.unwrap();
    c.put_sso_pending(
        pending(a, 0x32, SsoPurpose::SignIn, Duration::from_secs(600)),
        later,
    )
    .await
    .unwrap();
    assert_eq!(c.take_sso_pending(&stale.hash, now).await.unwrap(), None);
}

async fn links(c: &dyn Catalog, a: OrgId, b: OrgId) {
    let (alice, _) = person(c, a, "sso-alice", Role::Member, 0xd2).await;
    let (bob, _) = person(c, a, "sso-bob", Role::Member, 0xd3).await;
    let (carol, _) = person(c, b, "sso-carol", Role::Member, 0xd4).await;
    let (alice, bob, carol) = (alice.user.id, bob.user.id, carol.user.id);
    c.put_sso(provider(a, "https://id.example"), event(a, "sso.set"))
        .await
        .unwrap();
    assert!(
        c.link_sso(link(a, "s-alice", alice), event(a, "sso.link"))
            .await
            .unwrap()
    );
    // The same link again changes nothing and writes nothing.
    assert!(
        !c.link_sso(link(a, "s-alice", alice), event(a, "sso.link"))
            .await
            .unwrap()
    );
    assert_eq!(count(c, a, "sso.link").await, 1);
    assert_eq!(
        c.sso_user(a, "https://id.example", "s-alice")
            .await
            .unwrap(),
        Some(alice)
    );
    assert_eq!(
        c.sso_user(b, "https://id.example", "s-alice")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        c.sso_user(a, "https://other", "s-alice").await.unwrap(),
        None
    );
    // One-to-one in an org.
    assert_eq!(
        c.link_sso(link(a, "s-alice", bob), event(a, "sso.link"))
            .await,
        Err(CatalogError::AlreadyExists)
    );
    assert_eq!(
        c.link_sso(link(a, "s-alice-2", alice), event(a, "sso.link"))
            .await,
        Err(CatalogError::AlreadyExists)
    );
    // Only members of the org: another org's person is refused.
    assert!(matches!(
        c.link_sso(link(a, "s-carol", carol), event(a, "sso.link"))
            .await,
        Err(CatalogError::Refused(_))
    ));
    assert!(c.ever_linked(alice).await.unwrap());
    assert!(!c.ever_linked(carol).await.unwrap());
    // The same issuer again keeps the links and credentials.
    c.put_sso(provider(a, "https://id.example"), event(a, "sso.set"))
        .await
        .unwrap();
    let alive = |p: Option<crate::catalog::Principal>| p.unwrap().token.revoked_at.is_none();
    assert!(alive(c.authenticate(&[0xd2; 32]).await.unwrap()));
    assert_eq!(
        c.sso_user(a, "https://id.example", "s-alice")
            .await
            .unwrap(),
        Some(alice)
    );
    // A new issuer forgets the org's links and revokes the linked people's credentials there;
    // everyone else keeps theirs, and the person stays marked as once linked.
    c.put_sso(provider(a, "https://new.example"), event(a, "sso.set"))
        .await
        .unwrap();
    assert_eq!(
        c.sso_user(a, "https://id.example", "s-alice")
            .await
            .unwrap(),
        None
    );
    assert!(!alive(c.authenticate(&[0xd2; 32]).await.unwrap()));
    assert!(alive(c.authenticate(&[0xd3; 32]).await.unwrap()));
    assert!(c.ever_linked(alice).await.unwrap());
    // Removing a member forgets their link; removing the provider forgets every link.
    c.link_sso(link(a, "s-alice", alice), event(a, "sso.link"))
        .await
        .unwrap();
    c.link_sso(link(a, "s-bob", bob), event(a, "sso.link"))
        .await
        .unwrap();
    c.remove_member(a, bob, Timestamp::now(), event(a, "member.remove"))
        .await
        .unwrap();
    assert_eq!(
        c.sso_user(a, "https://id.example", "s-bob").await.unwrap(),
        None
    );
    assert!(c.delete_sso(a, event(a, "sso.delete")).await.unwrap());
    assert!(
        c.list_tokens(Some(a))
            .await
            .unwrap()
            .iter()
            .filter(|t| t.user == alice)
            .all(|t| t.revoked_at.is_some()),
        "removing the provider revokes the linked people's tokens"
    );
    assert_eq!(
        c.sso_user(a, "https://id.example", "s-alice")
            .await
            .unwrap(),
        None
    );
}

async fn created_people(c: &dyn Catalog, a: OrgId, b: OrgId) {
    let now = Timestamp::from_millis(Timestamp::now().millis());
    let dora = UserRecord::person(UserName::parse("sso-dora").unwrap(), now);
    let m = c
        .create_sso_person(
            dora.clone(),
            Role::Member,
            link(a, "s-dora", dora.id),
            vec![event(a, "member.add")],
        )
        .await
        .unwrap();
    assert_eq!((m.user.id, m.role), (dora.id, Role::Member));
    assert_eq!(
        c.sso_user(a, "https://id.example", "s-dora").await.unwrap(),
        Some(dora.id)
    );
    // A taken name, or a linked subject, creates nothing.
    let again = UserRecord::person(UserName::parse("sso-dora").unwrap(), now);
    assert_eq!(
        c.create_sso_person(
            again.clone(),
            Role::Member,
            link(b, "s-x", again.id),
            vec![]
        )
        .await
        .map(drop),
        Err(CatalogError::AlreadyExists)
    );
    let eve = UserRecord::person(UserName::parse("sso-eve").unwrap(), now);
    assert_eq!(
        c.create_sso_person(eve.clone(), Role::Member, link(a, "s-dora", eve.id), vec![])
            .await
            .map(drop),
        Err(CatalogError::AlreadyExists)
    );
    assert_eq!(
        c.user_by_name(&eve.name).await.map(drop),
        Err(CatalogError::NotFound),
        "nothing half-written"
    );
    // Only people, linked to themselves.
    let mallory = UserRecord::person(UserName::parse("sso-mallory").unwrap(), now);
    assert!(matches!(
        c.create_sso_person(mallory, Role::Member, link(a, "s-m", dora.id), vec![])
            .await,
        Err(CatalogError::Refused(_))
    ));
}
