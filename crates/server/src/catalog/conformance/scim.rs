//! The [`ScimCatalog`](crate::catalog::ScimCatalog) conformance suite: SCIM tokens (one org,
//! hashed, revoked once), people SCIM creates (new names only, nothing half-written),
//! deactivation as removal (credentials revoked, groups forgotten, the record kept) and its
//! undoing for people SCIM deactivated only, records forgotten when a member is removed any other
//! way, only people as SCIM users, and groups with members of their org only.

use super::byok::{count, event, org};
use super::identity::{person, token};
use crate::catalog::{
    Catalog, CatalogError, GroupRecord, LAST_OWNER, ScimGroupRecord, ScimMembership,
    ScimTokenRecord, ScimUserRecord, UserRecord,
};
use crate::domain::{GroupId, GroupName, OrgId, Role, ScimTokenId, Timestamp, UserId, UserName};

fn now() -> Timestamp {
    Timestamp::from_millis(Timestamp::now().millis())
}

fn scim_token(org: OrgId, byte: u8) -> ScimTokenRecord {
    ScimTokenRecord {
        id: ScimTokenId::new(),
        hash: [byte; 32],
        org,
        name: format!("idp-{byte}"),
        created_at: now(),
        created_by: "tester".into(),
        revoked_at: None,
    }
}

fn record(org: OrgId, user: UserId, provisioned: bool) -> ScimUserRecord {
    ScimUserRecord {
        org,
        user,
        external_id: Some(format!("ext-{user}")),
        display_name: Some("Someone".into()),
        active: None,
        provisioned,
    }
}

async fn is_member(c: &dyn Catalog, org: OrgId, user: UserId) -> bool {
    c.list_members(org)
        .await
        .unwrap()
        .iter()
        .any(|m| m.user.id == user)
}

/// Runs every check; creates its own orgs and people.
pub async fn run_all(c: &dyn Catalog) {
    let a = org(c, "scim-a").await;
    let b = org(c, "scim-b").await;
    tokens(c, a, b).await;
    provisioned_people(c, a, b).await;
    deactivation(c, a, b).await;
    groups(c, a, b).await;
}

async fn tokens(c: &dyn Catalog, a: OrgId, b: OrgId) {
    let first = scim_token(a, 0xe1);
    c.create_scim_token(first.clone(), event(a, "scim.token_create"))
        .await
        .unwrap();
    let second = scim_token(a, 0xe2);
    c.create_scim_token(second.clone(), event(a, "scim.token_create"))
        .await
        .unwrap();
    assert_eq!(
        c.create_scim_token(scim_token(b, 0xe1), event(b, "scim.token_create"))
            .await,
        Err(CatalogError::AlreadyExists),
        "a hash collision"
    );
    assert_eq!(
        c.create_scim_token(scim_token(OrgId::new(), 0xe3), event(a, "x"))
            .await,
        Err(CatalogError::NotFound)
    );
    assert_eq!(
        c.scim_token(&[0xe1; 32]).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(c.scim_token(&[0xe4; 32]).await.unwrap(), None);
    assert_eq!(
        c.scim_tokens(a).await.unwrap(),
        vec![second.clone(), first.clone()],
        "newest first"
    );
    assert!(c.scim_tokens(b).await.unwrap().is_empty());
    // Another org's token is not found there; a revocation keeps its first time and event.
    assert_eq!(
        c.revoke_scim_token(b, first.id, now(), event(b, "scim.token_revoke"))
            .await,
        Err(CatalogError::NotFound)
    );
    let at = now();
    let revoked = c
        .revoke_scim_token(a, first.id, at, event(a, "scim.token_revoke"))
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    let later = Timestamp::from_millis(at.millis() + 5000);
    let again = c
        .revoke_scim_token(a, first.id, later, event(a, "scim.token_revoke"))
        .await
        .unwrap();
    assert_eq!(again.revoked_at, Some(at));
    assert_eq!(count(c, a, "scim.token_revoke").await, 1);
    assert_eq!(count(c, a, "scim.token_create").await, 2);
    assert_eq!(
        c.scim_token(&[0xe1; 32]).await.unwrap().unwrap().revoked_at,
        Some(at)
    );
}

async fn provisioned_people(c: &dyn Catalog, a: OrgId, b: OrgId) {
    let dora = UserRecord::person(UserName::parse("scim-dora@acme.com").unwrap(), now());
    let r = record(a, dora.id, true);
    c.provision_person(
        dora.clone(),
        r.clone(),
        Role::Member,
        vec![event(a, "member.add")],
    )
    .await
    .unwrap();
    assert!(is_member(c, a, dora.id).await);
    assert_eq!(c.scim_user(a, dora.id).await.unwrap(), Some(r.clone()));
    assert_eq!(c.scim_user(b, dora.id).await.unwrap(), None);
    assert_eq!(c.scim_users(a).await.unwrap(), vec![r]);
    assert_eq!(count(c, a, "member.add").await, 1);
    // A taken name — whoever holds it, in whichever org — creates nothing.
    let (carol, _) = person(c, b, "scim-carol", Role::Owner, 0xe5).await;
    for taken in ["scim-dora@acme.com", "scim-carol"] {
        let again = UserRecord::person(UserName::parse(taken).unwrap(), now());
        assert_eq!(
            c.provision_person(
                again.clone(),
                record(a, again.id, true),
                Role::Member,
                vec![event(a, "member.add")]
            )
            .await,
            Err(CatalogError::AlreadyExists),
            "{taken}"
        );
        assert_eq!(c.scim_user(a, again.id).await.unwrap(), None);
    }
    assert_eq!(count(c, a, "member.add").await, 1, "nothing half-written");
    assert!(!is_member(c, a, carol.user.id).await);
    // Created deactivated: a record, no membership.
    let ed = UserRecord::person(UserName::parse("scim-ed").unwrap(), now());
    let off = ScimUserRecord {
        active: Some(false),
        ..record(a, ed.id, true)
    };
    c.provision_person(ed.clone(), off.clone(), Role::Member, vec![])
        .await
        .unwrap();
    assert!(!is_member(c, a, ed.id).await);
    assert_eq!(c.scim_user(a, ed.id).await.unwrap(), Some(off));
    // Only new people, with their own provisioned record.
    let svc = UserRecord::service(a, UserName::parse("scim-svc").unwrap(), now());
    assert!(matches!(
        c.provision_person(svc.clone(), record(a, svc.id, true), Role::Member, vec![])
            .await,
        Err(CatalogError::Refused(_))
    ));
    let fay = UserRecord::person(UserName::parse("scim-fay").unwrap(), now());
    for wrong in [record(a, dora.id, true), record(a, fay.id, false)] {
        assert!(matches!(
            c.provision_person(fay.clone(), wrong, Role::Member, vec![])
                .await,
            Err(CatalogError::Refused(_))
        ));
    }
}

async fn deactivation(c: &dyn Catalog, a: OrgId, b: OrgId) {
    let (gus, gus_token) = person(c, a, "scim-gus", Role::Member, 0xe6).await;
    let gus = gus.user;
    // Gus belongs to b too, with a token there.
    c.add_member(b, gus.id, Role::Member, event(b, "member.add"))
        .await
        .unwrap();
    c.create_token(token(Some(b), &gus, 0xe7), None)
        .await
        .unwrap();
    let dba = GroupRecord {
        id: GroupId::new(),
        org: a,
        name: GroupName::parse("scim-dba").unwrap(),
        created_at: now(),
        created_by: "tester".into(),
        members: vec![],
    };
    c.create_group(dba.clone(), event(a, "group.create"))
        .await
        .unwrap();
    c.set_group_member(a, dba.id, gus.id, true, event(a, "group.member_add"))
        .await
        .unwrap();
    // Attributes of a member SCIM did not create: stored, but never `provisioned`.
    let mut r = record(a, gus.id, true);
    c.put_scim_user(r.clone(), ScimMembership::Keep, now(), vec![])
        .await
        .unwrap();
    r.provisioned = false;
    assert_eq!(c.scim_user(a, gus.id).await.unwrap(), Some(r.clone()));
    // Bringing back someone who is a member, or whom SCIM never deactivated, is refused.
    assert!(matches!(
        c.put_scim_user(
            r.clone(),
            ScimMembership::Restore(Role::Member),
            now(),
            vec![]
        )
        .await,
        Err(CatalogError::Refused(_))
    ));
    // Deactivation is removal: membership, credentials and groups there; b is untouched.
    let off = ScimUserRecord {
        active: Some(false),
        ..r.clone()
    };
    c.put_scim_user(
        off.clone(),
        ScimMembership::End,
        now(),
        vec![event(a, "member.remove")],
    )
    .await
    .unwrap();
    assert!(!is_member(c, a, gus.id).await);
    assert!(is_member(c, b, gus.id).await);
    assert_eq!(c.scim_user(a, gus.id).await.unwrap(), Some(off.clone()));
    let revoked = c.authenticate(&gus_token.hash).await.unwrap().unwrap();
    assert!(revoked.token.revoked_at.is_some());
    let elsewhere = c.authenticate(&[0xe7; 32]).await.unwrap().unwrap();
    assert!(elsewhere.token.revoked_at.is_none());
    let groups = c.groups(a).await.unwrap();
    let g = groups.iter().find(|g| g.id == dba.id).unwrap();
    assert!(g.members.is_empty());
    assert!(matches!(
        c.put_scim_user(off.clone(), ScimMembership::End, now(), vec![])
            .await,
        Err(CatalogError::Refused(_))
    ));
    // Brought back as a member, with none of the old credentials.
    let on = ScimUserRecord {
        active: Some(true),
        ..off.clone()
    };
    c.put_scim_user(
        on.clone(),
        ScimMembership::Restore(Role::Member),
        now(),
        vec![event(a, "member.add")],
    )
    .await
    .unwrap();
    assert!(is_member(c, a, gus.id).await);
    let still = c.authenticate(&gus_token.hash).await.unwrap().unwrap();
    assert!(still.token.revoked_at.is_some());
    // Removing a member any other way forgets their record.
    c.remove_member(a, gus.id, now(), event(a, "member.remove"))
        .await
        .unwrap();
    assert_eq!(c.scim_user(a, gus.id).await.unwrap(), None);
    assert_eq!(
        c.put_scim_user(on.clone(), ScimMembership::Keep, now(), vec![])
            .await,
        Err(CatalogError::NotFound),
        "neither a member nor a record"
    );
    // Another org's person is not found in a; nor may a's records name service accounts.
    let (hal, _) = person(c, b, "scim-hal", Role::Member, 0xe8).await;
    assert_eq!(
        c.put_scim_user(
            record(a, hal.user.id, false),
            ScimMembership::Keep,
            now(),
            vec![]
        )
        .await,
        Err(CatalogError::NotFound)
    );
    let svc = UserRecord::service(a, UserName::parse("scim-bot").unwrap(), now());
    c.create_service_account(svc.clone(), Role::Member, event(a, "service.create"))
        .await
        .unwrap();
    assert!(matches!(
        c.put_scim_user(
            record(a, svc.id, false),
            ScimMembership::Keep,
            now(),
            vec![]
        )
        .await,
        Err(CatalogError::Refused(_))
    ));
    // The last owner stays, and nothing is written when refused.
    let (owner, _) = person(c, a, "scim-owner", Role::Owner, 0xe9).await;
    let before = count(c, a, "member.remove").await;
    assert_eq!(
        c.put_scim_user(
            ScimUserRecord {
                active: Some(false),
                ..record(a, owner.user.id, false)
            },
            ScimMembership::End,
            now(),
            vec![event(a, "member.remove")]
        )
        .await,
        Err(CatalogError::Refused(LAST_OWNER.into()))
    );
    assert!(is_member(c, a, owner.user.id).await);
    assert_eq!(count(c, a, "member.remove").await, before);
    // Nor any other owner: refused in the transaction itself, whatever the caller checked.
    let (olga, _) = person(c, a, "scim-olga", Role::Owner, 0xe3).await;
    assert!(matches!(
        c.put_scim_user(
            ScimUserRecord {
                active: Some(false),
                ..record(a, olga.user.id, false)
            },
            ScimMembership::End,
            now(),
            vec![event(a, "member.remove")]
        )
        .await,
        Err(CatalogError::Refused(_))
    ));
    assert!(is_member(c, a, olga.user.id).await);
    assert_eq!(count(c, a, "member.remove").await, before);
    // Deleting: the membership and the record go; then there is nothing to delete.
    let (ivy, _) = person(c, a, "scim-ivy", Role::Member, 0xea).await;
    c.put_scim_user(
        record(a, ivy.user.id, false),
        ScimMembership::Keep,
        now(),
        vec![],
    )
    .await
    .unwrap();
    c.delete_scim_user(a, ivy.user.id, now(), vec![event(a, "member.remove")])
        .await
        .unwrap();
    assert!(!is_member(c, a, ivy.user.id).await);
    assert_eq!(c.scim_user(a, ivy.user.id).await.unwrap(), None);
    assert_eq!(
        c.delete_scim_user(a, ivy.user.id, now(), vec![]).await,
        Err(CatalogError::NotFound)
    );
    // Someone SCIM deactivated is deleted by forgetting their record.
    let (max, _) = person(c, a, "scim-max", Role::Member, 0xe0).await;
    let off = ScimUserRecord {
        active: Some(false),
        ..record(a, max.user.id, false)
    };
    c.put_scim_user(off, ScimMembership::End, now(), vec![])
        .await
        .unwrap();
    c.delete_scim_user(a, max.user.id, now(), vec![event(a, "scim.user_delete")])
        .await
        .unwrap();
    assert_eq!(c.scim_user(a, max.user.id).await.unwrap(), None);
    assert_eq!(count(c, a, "scim.user_delete").await, 1);
}

async fn groups(c: &dyn Catalog, a: OrgId, b: OrgId) {
    let (jo, _) = person(c, a, "scim-jo", Role::Member, 0xeb).await;
    let (kim, _) = person(c, a, "scim-kim", Role::Member, 0xec).await;
    let (lou, _) = person(c, b, "scim-lou", Role::Member, 0xed).await;
    let (jo, kim, lou) = (jo.user.id, kim.user.id, lou.user.id);
    let group = |name: &str, members: Vec<UserId>| GroupRecord {
        id: GroupId::new(),
        org: a,
        name: GroupName::parse(name).unwrap(),
        created_at: now(),
        created_by: "scim:idp".into(),
        members,
    };
    let rec = |g: &GroupRecord, display: &str| ScimGroupRecord {
        group: g.id,
        org: g.org,
        display_name: display.into(),
        external_id: Some("ext-1".into()),
    };
    // A member of another org creates nothing.
    let bad = group("scim-bad", vec![jo, lou]);
    assert!(matches!(
        c.create_scim_group(
            bad.clone(),
            rec(&bad, "Bad"),
            vec![event(a, "group.create")]
        )
        .await,
        Err(CatalogError::Refused(_))
    ));
    assert!(c.groups(a).await.unwrap().iter().all(|g| g.id != bad.id));
    assert!(c.scim_groups(a).await.unwrap().is_empty());
    let eng = group("engineering", vec![jo]);
    let r = rec(&eng, "Engineering");
    c.create_scim_group(eng.clone(), r.clone(), vec![event(a, "group.create")])
        .await
        .unwrap();
    assert_eq!(c.scim_groups(a).await.unwrap(), vec![r.clone()]);
    assert!(c.scim_groups(b).await.unwrap().is_empty());
    let stored = c.groups(a).await.unwrap();
    let g = stored.iter().find(|g| g.id == eng.id).unwrap();
    assert_eq!(
        (g.name.as_str(), g.members.clone()),
        ("engineering", vec![jo])
    );
    assert!(matches!(
        c.create_scim_group(
            group("engineering-2", vec![]),
            rec(&group("x", vec![]), "x"),
            vec![]
        )
        .await,
        Err(CatalogError::Refused(_))
    ));
    // Renamed, one member out and one in; a name taken by another group is refused.
    let platform = ScimGroupRecord {
        display_name: "Platform".into(),
        external_id: None,
        ..r.clone()
    };
    c.put_scim_group(
        platform.clone(),
        GroupName::parse("platform").unwrap(),
        vec![kim],
        vec![jo],
        vec![event(a, "group.rename")],
    )
    .await
    .unwrap();
    let stored = c.groups(a).await.unwrap();
    let g = stored.iter().find(|g| g.id == eng.id).unwrap();
    assert_eq!(
        (g.name.as_str(), g.members.clone()),
        ("platform", vec![kim])
    );
    assert_eq!(c.scim_groups(a).await.unwrap(), vec![platform.clone()]);
    let other = group("other", vec![]);
    c.create_group(other.clone(), event(a, "group.create"))
        .await
        .unwrap();
    assert_eq!(
        c.put_scim_group(
            platform.clone(),
            GroupName::parse("other").unwrap(),
            vec![],
            vec![],
            vec![]
        )
        .await,
        Err(CatalogError::AlreadyExists)
    );
    assert!(matches!(
        c.put_scim_group(
            platform.clone(),
            GroupName::parse("platform").unwrap(),
            vec![lou],
            vec![],
            vec![]
        )
        .await,
        Err(CatalogError::Refused(_))
    ));
    assert_eq!(
        c.put_scim_group(
            ScimGroupRecord {
                org: b,
                ..platform.clone()
            },
            GroupName::parse("platform").unwrap(),
            vec![],
            vec![],
            vec![]
        )
        .await,
        Err(CatalogError::NotFound),
        "another org's group"
    );
    // Deleting the group forgets its record.
    c.delete_group(a, eng.id, event(a, "group.delete"))
        .await
        .unwrap();
    assert!(c.scim_groups(a).await.unwrap().is_empty());
}
