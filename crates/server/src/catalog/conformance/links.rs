//! The [`LinkCatalog`] and [`RequestCatalog`] contracts as executable checks, run by
//! [`super::run_all`] on every backend: a link round-trips and is audited; racing opens of a
//! link with N views succeed exactly N times and the copy is gone after the last; an expired,
//! revoked or used-up link changes nothing when opened; a deleted secret's link refuses and a
//! restored one opens again; destroying the secret deletes its links; another org cannot revoke;
//! a request is fulfilled exactly once by racing outsiders, its version written in the same
//! transaction, and a revoked or expired one takes nothing.

use super::byok::event;
use super::{new_org, version};
use crate::catalog::{
    AuditFilter, Catalog, CatalogError, LinkOpen, LinkRecord, LinkRefusal, LinkState,
    RequestRecord, RequestState, request_state,
};
use crate::domain::{LinkId, OrgId, RequestId, Scope, SecretId, SecretName, Timestamp};

fn link(org: OrgId, secret: SecretId, max_views: u32, ttl_ms: i64) -> LinkRecord {
    let now = Timestamp::now();
    LinkRecord {
        id: LinkId::unguessable(),
        org,
        secret,
        version: 1,
        target: "LNK-1/db".into(),
        open_hash: [3; 32],
        created_by_id: None,
        created_by: "tester".into(),
        created_with: None,
        created_at: now,
        expires_at: Timestamp::from_millis(now.millis() + ttl_ms),
        max_views,
        views: 0,
        revoked_at: None,
    }
}

fn request(org: OrgId, name: &str, ttl_ms: i64) -> RequestRecord {
    let now = Timestamp::now();
    RequestRecord {
        id: RequestId::unguessable(),
        org,
        scope: Scope::parse("LNK-2").unwrap(),
        name: SecretName::parse(name).unwrap(),
        note: "the sandbox key".into(),
        token_hash: [4; 32],
        created_by_id: None,
        created_by: "tester".into(),
        created_with: None,
        created_at: now,
        expires_at: Timestamp::from_millis(now.millis() + ttl_ms),
        public_key: vec![4; 65],
        key_version: 1,
        wrapped_key: vec![5; 61],
        revoked_at: None,
        fulfilled_at: None,
        fulfilled_version: None,
    }
}

async fn open(c: &dyn Catalog, org: OrgId, id: LinkId) -> Result<LinkOpen, CatalogError> {
    c.open_link(id, Timestamp::now(), event(org, "link.open"))
        .await
}

/// Runs every check against `c` (other checks may have left rows behind).
pub async fn run_all(c: &dyn Catalog) {
    let create = async |slug: &str| {
        let o = new_org(slug);
        let id = o.id;
        c.create_org(o, event(id, "org.create")).await.unwrap().id
    };
    let org = create("links").await;
    let other = create("links-other").await;
    let secret = SecretId::new();
    c.put_version(
        version(org, secret, "LNK-1", "db", 1),
        event(org, "secret.write"),
    )
    .await
    .unwrap();

    // A link round-trips and is audited with its creation.
    let l = link(org, secret, 3, 60_000);
    c.create_link(l.clone(), vec![1, 2, 3], event(org, "link.create"))
        .await
        .unwrap();
    assert_eq!(c.link(l.id).await.unwrap(), l);
    assert_eq!(
        c.create_link(l.clone(), vec![1], event(org, "link.create"))
            .await,
        Err(CatalogError::AlreadyExists)
    );
    assert!(c.list_links(org, None, 100).await.unwrap().contains(&l));
    assert!(!c.list_links(other, None, 100).await.unwrap().contains(&l));

    // Racing opens: exactly max_views succeed, each with the copy; the rest refuse.
    let results = futures::future::join_all((0..12).map(|_| open(c, org, l.id))).await;
    let opened: Vec<_> = results
        .iter()
        .filter_map(|r| match r {
            Ok(LinkOpen::Opened { link, envelope }) => Some((link.views, envelope.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(opened.len(), 3, "{results:?}");
    assert!(opened.iter().all(|(_, e)| e == &vec![1, 2, 3]));
    let mut counts: Vec<u32> = opened.iter().map(|(v, _)| *v).collect();
    counts.sort_unstable();
    assert_eq!(counts, vec![1, 2, 3]);
    assert!(results.iter().all(|r| matches!(
        r,
        Ok(LinkOpen::Opened { .. })
            | Ok(LinkOpen::Refused(LinkRefusal::Inactive(LinkState::UsedUp)))
    )));
    assert_eq!(c.link(l.id).await.unwrap().views, 3);
    let opens = c
        .audit_events(
            org,
            &AuditFilter {
                action: Some("link.open".into()),
                limit: 100,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        opens.len(),
        3,
        "one event per counted open, none for refusals"
    );

    // Revoked, expired: refused, nothing changes; another org cannot revoke.
    let r = link(org, secret, 5, 60_000);
    c.create_link(r.clone(), vec![9], event(org, "link.create"))
        .await
        .unwrap();
    assert_eq!(
        c.revoke_link(other, r.id, Timestamp::now(), event(other, "link.revoke"))
            .await,
        Err(CatalogError::NotFound)
    );
    let revoked = c
        .revoke_link(org, r.id, Timestamp::now(), event(org, "link.revoke"))
        .await
        .unwrap();
    let first = revoked.revoked_at.unwrap();
    let again = c
        .revoke_link(
            org,
            r.id,
            Timestamp::from_millis(first.millis() + 5),
            event(org, "link.revoke"),
        )
        .await
        .unwrap();
    assert_eq!(
        again.revoked_at,
        Some(first),
        "the first revocation's time is kept"
    );
    assert_eq!(
        open(c, org, r.id).await,
        Ok(LinkOpen::Refused(LinkRefusal::Inactive(LinkState::Revoked)))
    );
    let e = link(org, secret, 5, -1);
    c.create_link(e.clone(), vec![9], event(org, "link.create"))
        .await
        .unwrap();
    assert_eq!(
        open(c, org, e.id).await,
        Ok(LinkOpen::Refused(LinkRefusal::Inactive(LinkState::Expired)))
    );
    assert_eq!(c.link(e.id).await.unwrap().views, 0);
    assert_eq!(
        open(c, org, LinkId::unguessable()).await,
        Err(CatalogError::NotFound)
    );

    // Purged (a node whose clock runs ahead dropped the copy): refused as expired, not an error.
    let p = link(org, secret, 5, 60_000);
    c.create_link(p.clone(), vec![8], event(org, "link.create"))
        .await
        .unwrap();
    let later = Timestamp::from_millis(Timestamp::now().millis() + 120_000);
    assert!(c.purge_outside_shares(later).await.unwrap() >= 1);
    assert_eq!(
        open(c, org, p.id).await,
        Ok(LinkOpen::Refused(LinkRefusal::Inactive(LinkState::Expired)))
    );
    assert_eq!(c.link(p.id).await.unwrap().views, 0);
    // Listing by creator.
    let mine = link(org, secret, 1, 60_000);
    let me = crate::domain::UserId::new();
    c.create_link(
        LinkRecord {
            created_by_id: Some(me),
            ..mine.clone()
        },
        vec![1],
        event(org, "link.create"),
    )
    .await
    .unwrap();
    let listed = c.list_links(org, Some(me), 100).await.unwrap();
    assert_eq!(
        listed.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![mine.id]
    );

    // A deleted secret's link refuses; restored, it opens; destroyed, the link is gone.
    let d = link(org, secret, 5, 60_000);
    c.create_link(d.clone(), vec![7], event(org, "link.create"))
        .await
        .unwrap();
    c.set_deleted(secret, Some(Timestamp::now()), event(org, "secret.delete"))
        .await
        .unwrap();
    assert_eq!(
        open(c, org, d.id).await,
        Ok(LinkOpen::Refused(LinkRefusal::SecretDeleted))
    );
    c.set_deleted(secret, None, event(org, "secret.restore"))
        .await
        .unwrap();
    assert!(matches!(
        open(c, org, d.id).await,
        Ok(LinkOpen::Opened { .. })
    ));
    c.destroy(secret, event(org, "secret.destroy"))
        .await
        .unwrap();
    assert_eq!(c.link(d.id).await, Err(CatalogError::NotFound));
    assert_eq!(open(c, org, d.id).await, Err(CatalogError::NotFound));

    requests(c, org, other).await;
}

async fn requests(c: &dyn Catalog, org: OrgId, other: OrgId) {
    let r = request(org, "vendor-key", 60_000);
    c.create_request(r.clone(), event(org, "request.create"))
        .await
        .unwrap();
    assert_eq!(c.request(r.id).await.unwrap(), r);
    assert!(c.list_requests(org, None, 10).await.unwrap().contains(&r));
    assert!(!c.list_requests(other, None, 10).await.unwrap().contains(&r));
    assert_eq!(
        c.revoke_request(
            other,
            r.id,
            Timestamp::now(),
            event(other, "request.revoke")
        )
        .await,
        Err(CatalogError::NotFound)
    );

    // Racing outsiders: one version is written, the request is fulfilled with it.
    let secret = SecretId::new();
    let attempts = (0..6).map(|_| {
        c.fulfil_request(
            r.id,
            version(org, secret, "LNK-2", "vendor-key", 1),
            event(org, "secret.write"),
            event(org, "request.fulfil"),
        )
    });
    let results = futures::future::join_all(attempts).await;
    let won = results.iter().filter(|x| x.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|x| matches!(x, Ok(_) | Err(CatalogError::Refused(_)))),
        "{results:?}"
    );
    let done = c.request(r.id).await.unwrap();
    assert_eq!(done.fulfilled_version, Some(1));
    assert!(
        done.wrapped_key.is_empty(),
        "a used request's key is dropped"
    );
    assert_eq!(
        request_state(&done, Timestamp::now()),
        RequestState::Fulfilled
    );
    let s = c
        .secret(
            org,
            &Scope::parse("LNK-2").unwrap(),
            &SecretName::parse("vendor-key").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(s.version, 1);
    // A fulfilled request is not revoked.
    let kept = c
        .revoke_request(org, r.id, Timestamp::now(), event(org, "request.revoke"))
        .await
        .unwrap();
    assert_eq!(kept.revoked_at, None);

    // A request for an existing secret appends the next version.
    let next = request(org, "vendor-key", 60_000);
    c.create_request(next.clone(), event(org, "request.create"))
        .await
        .unwrap();
    let s2 = c
        .fulfil_request(
            next.id,
            version(org, secret, "LNK-2", "vendor-key", 2),
            event(org, "secret.write"),
            event(org, "request.fulfil"),
        )
        .await
        .unwrap();
    assert_eq!(s2.version, 2);

    // Revoked or expired: nothing is written.
    let gone = request(org, "never", 60_000);
    c.create_request(gone.clone(), event(org, "request.create"))
        .await
        .unwrap();
    let revoked = c
        .revoke_request(org, gone.id, Timestamp::now(), event(org, "request.revoke"))
        .await
        .unwrap();
    assert!(revoked.revoked_at.is_some() && revoked.wrapped_key.is_empty());
    let late = request(org, "never", -1);
    c.create_request(late.clone(), event(org, "request.create"))
        .await
        .unwrap();
    for id in [gone.id, late.id] {
        let r = c
            .fulfil_request(
                id,
                version(org, SecretId::new(), "LNK-2", "never", 1),
                event(org, "secret.write"),
                event(org, "request.fulfil"),
            )
            .await;
        assert!(matches!(r, Err(CatalogError::Refused(_))), "{r:?}");
    }
    assert_eq!(
        c.secret(
            org,
            &Scope::parse("LNK-2").unwrap(),
            &SecretName::parse("never").unwrap()
        )
        .await,
        Err(CatalogError::NotFound)
    );
    // The purge drops the keys of expired requests.
    assert!(!c.request(late.id).await.unwrap().wrapped_key.is_empty());
    c.purge_outside_shares(Timestamp::now()).await.unwrap();
    assert!(c.request(late.id).await.unwrap().wrapped_key.is_empty());
    // Destroying a secret revokes the open requests for its name.
    let again = request(org, "vendor-key", 60_000);
    c.create_request(again.clone(), event(org, "request.create"))
        .await
        .unwrap();
    c.destroy(secret, event(org, "secret.destroy"))
        .await
        .unwrap();
    let after = c.request(again.id).await.unwrap();
    assert_eq!(
        request_state(&after, Timestamp::now()),
        RequestState::Revoked
    );
    // A version for another secret than the request names is refused.
    let wrong = request(org, "right-name", 60_000);
    c.create_request(wrong.clone(), event(org, "request.create"))
        .await
        .unwrap();
    let r = c
        .fulfil_request(
            wrong.id,
            version(org, SecretId::new(), "LNK-2", "wrong-name", 1),
            event(org, "secret.write"),
            event(org, "request.fulfil"),
        )
        .await;
    assert!(matches!(r, Err(CatalogError::Refused(_))), "{r:?}");
}
