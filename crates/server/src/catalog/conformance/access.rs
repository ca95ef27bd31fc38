//! The [`AccessCatalog`] conformance suite: groups, grants, shares, restriction and the access
//! set, with the rules the trait's docs name (one grant per scope and principal, cascades on
//! group deletion and member removal, nothing written when nothing changes, other orgs refused).

use super::byok::{count, event, org};
use super::identity::person;
use super::version;
use crate::catalog::{Catalog, CatalogError, GrantRecord, GroupRecord, PrincipalId, ShareRecord};
use crate::domain::policy::{HeldGrant, HeldShare};
use crate::domain::{
    AccessLevel, GrantId, GrantScope, GroupId, GroupName, OrgId, Role, Scope, SecretId, SecretName,
    Timestamp,
};

fn group(org: OrgId, name: &str) -> GroupRecord {
    GroupRecord {
        id: GroupId::new(),
        org,
        name: GroupName::parse(name).unwrap(),
        created_at: Timestamp::now(),
        created_by: "tester".into(),
        members: vec![],
    }
}

fn grant(org: OrgId, scope: &str, to: PrincipalId, level: AccessLevel) -> GrantRecord {
    GrantRecord {
        id: GrantId::new(),
        org,
        scope: GrantScope::parse(scope).unwrap(),
        principal: to,
        level,
        created_at: Timestamp::now(),
        created_by: "tester".into(),
    }
}

fn share(secret: SecretId, to: PrincipalId, level: AccessLevel) -> ShareRecord {
    ShareRecord {
        secret,
        principal: to,
        level,
        created_at: Timestamp::now(),
        created_by: "tester".into(),
    }
}

/// Runs every check; creates its own orgs and people.
pub async fn run_all(c: &dyn Catalog) {
    let a = org(c, "acc-a").await;
    let b = org(c, "acc-b").await;
    let (alice, _) = person(c, a, "acc-alice", Role::Member, 0xc1).await;
    let (bob, _) = person(c, a, "acc-bob", Role::Member, 0xc2).await;
    let (other, _) = person(c, b, "acc-other", Role::Member, 0xc3).await;
    let (alice, bob, other) = (alice.user.id, bob.user.id, other.user.id);

    // Groups: unique names per org, members only from the org, no-op changes write nothing.
    let dba = group(a, "dba");
    c.create_group(dba.clone(), event(a, "group.create"))
        .await
        .unwrap();
    assert_eq!(
        c.create_group(group(a, "dba"), event(a, "group.create"))
            .await,
        Err(CatalogError::AlreadyExists)
    );
    c.create_group(group(b, "dba"), event(b, "group.create"))
        .await
        .unwrap();
    let adds = count(c, a, "group.member_add").await;
    assert!(
        c.set_group_member(a, dba.id, alice, true, event(a, "group.member_add"))
            .await
            .unwrap()
    );
    assert!(
        !c.set_group_member(a, dba.id, alice, true, event(a, "group.member_add"))
            .await
            .unwrap()
    );
    assert_eq!(
        count(c, a, "group.member_add").await,
        adds + 1,
        "a no-op writes nothing"
    );
    assert!(matches!(
        c.set_group_member(a, dba.id, other, true, event(a, "x"))
            .await,
        Err(CatalogError::Refused(_))
    ));
    assert_eq!(
        c.set_group_member(b, dba.id, other, true, event(b, "x"))
            .await,
        Err(CatalogError::NotFound),
        "another org's group"
    );
    let listed = c.groups(a).await.unwrap();
    assert_eq!((listed.len(), listed[0].members.clone()), (1, vec![alice]));

    // Grants: one per scope and principal (again: a new level, the same id), org-scoped.
    let g1 = c
        .put_grant(
            grant(a, "OPS", PrincipalId::User(bob), AccessLevel::Read),
            event(a, "grant.create"),
        )
        .await
        .unwrap();
    let g2 = c
        .put_grant(
            grant(a, "OPS", PrincipalId::User(bob), AccessLevel::Write),
            event(a, "grant.create"),
        )
        .await
        .unwrap();
    assert_eq!((g2.id, g2.level), (g1.id, AccessLevel::Write));
    c.put_grant(
        grant(a, "*", PrincipalId::Group(dba.id), AccessLevel::Read),
        event(a, "grant.create"),
    )
    .await
    .unwrap();
    assert!(matches!(
        c.put_grant(
            grant(a, "OPS", PrincipalId::User(other), AccessLevel::Read),
            event(a, "x")
        )
        .await,
        Err(CatalogError::Refused(_))
    ));
    assert_eq!(c.grants(a).await.unwrap().len(), 2);
    assert_eq!(
        c.delete_grant(b, g1.id, event(b, "x")).await,
        Err(CatalogError::NotFound),
        "another org's grant"
    );

    // Shares and restriction.
    let secret = SecretId::new();
    c.put_version(
        version(a, secret, "OPS-1", "db", 1),
        event(a, "secret.write"),
    )
    .await
    .unwrap();
    c.put_share(
        share(secret, PrincipalId::User(bob), AccessLevel::Read),
        event(a, "secret.share"),
    )
    .await
    .unwrap();
    c.put_share(
        share(secret, PrincipalId::User(bob), AccessLevel::Manage),
        event(a, "secret.share"),
    )
    .await
    .unwrap();
    c.put_share(
        share(secret, PrincipalId::Group(dba.id), AccessLevel::Read),
        event(a, "secret.share"),
    )
    .await
    .unwrap();
    let shares = c.shares(secret).await.unwrap();
    assert_eq!(shares.len(), 2, "one share per principal");
    assert!(matches!(
        c.put_share(
            share(secret, PrincipalId::User(other), AccessLevel::Read),
            event(a, "x")
        )
        .await,
        Err(CatalogError::Refused(_))
    ));
    assert_eq!(
        c.put_share(
            share(SecretId::new(), PrincipalId::User(bob), AccessLevel::Read),
            event(a, "x")
        )
        .await,
        Err(CatalogError::NotFound)
    );
    assert!(
        c.set_restricted(secret, true, event(a, "secret.restrict"))
            .await
            .unwrap()
    );
    assert!(
        !c.set_restricted(secret, true, event(a, "secret.restrict"))
            .await
            .unwrap()
    );
    let (scope, name) = (
        Scope::parse("OPS-1").unwrap(),
        SecretName::parse("db").unwrap(),
    );
    assert!(c.secret(a, &scope, &name).await.unwrap().restricted);

    // The access set: direct and through groups, with the group named.
    let mut set = c.access_set(a, alice).await.unwrap();
    set.grants.sort_by_key(|g| g.scope.clone());
    assert_eq!(
        set.grants,
        [HeldGrant {
            scope: GrantScope::Org,
            level: AccessLevel::Read,
            via: Some(dba.name.clone())
        }]
    );
    assert_eq!(
        set.shares,
        [HeldShare {
            secret,
            level: AccessLevel::Read,
            via: Some(dba.name.clone())
        }]
    );
    let bobs = c.access_set(a, bob).await.unwrap();
    assert_eq!(bobs.granted(&scope), Some(AccessLevel::Write));
    assert_eq!(bobs.shared(secret), Some(AccessLevel::Manage));
    assert_eq!(
        c.access_set(b, bob).await.unwrap(),
        Default::default(),
        "nothing in another org"
    );

    // Deleting a group takes its grants and shares; unsharing reports whether there was one.
    c.delete_group(a, dba.id, event(a, "group.delete"))
        .await
        .unwrap();
    assert_eq!(c.access_set(a, alice).await.unwrap(), Default::default());
    assert_eq!(c.shares(secret).await.unwrap().len(), 1);
    assert!(
        c.delete_share(secret, PrincipalId::User(bob), event(a, "secret.unshare"))
            .await
            .unwrap()
    );
    assert!(
        !c.delete_share(secret, PrincipalId::User(bob), event(a, "secret.unshare"))
            .await
            .unwrap()
    );

    // Removing a member forgets what they held in that org.
    let ops = group(a, "ops");
    c.create_group(ops.clone(), event(a, "group.create"))
        .await
        .unwrap();
    c.set_group_member(a, ops.id, bob, true, event(a, "x"))
        .await
        .unwrap();
    c.put_share(
        share(secret, PrincipalId::User(bob), AccessLevel::Read),
        event(a, "x"),
    )
    .await
    .unwrap();
    c.remove_member(a, bob, Timestamp::now(), event(a, "member.remove"))
        .await
        .unwrap();
    assert_eq!(c.access_set(a, bob).await.unwrap(), Default::default());
    assert!(
        c.groups(a)
            .await
            .unwrap()
            .iter()
            .all(|g| g.members.is_empty())
    );
    assert!(c.shares(secret).await.unwrap().is_empty());
    assert!(
        c.grants(a)
            .await
            .unwrap()
            .iter()
            .all(|g| g.principal != PrincipalId::User(bob))
    );
    assert_eq!(
        count(c, a, "grant.create").await,
        3,
        "every change was audited"
    );
}
