//! The [`IdentityCatalog`] contract as executable checks, run by
//! [`super::conformance::run_all`] on every backend: invitations are used once and only while
//! pending; an existing person keeps their identity; the operator and other orgs' service
//! accounts can never become members (the database refuses the row even when asked directly);
//! an org never loses its last owner; removing a member revokes their credentials in that org
//! only; a credential reset revokes everything and its code works once.

use super::byok::{count, event, org};
use crate::catalog::{
    Acceptance, Catalog, CatalogError, InvitationRecord, Invitee, LAST_OWNER, MemberRecord,
    Redemption, ResetRecord, TokenRecord, UserRecord,
};
use crate::domain::{
    IdentityKind, InvitationId, OrgId, ResetId, Role, Timestamp, TokenId, UserId, UserName,
};
use std::time::Duration;

/// An invitation of `name` to `org` with `role`, stored, with code hash `[byte; 32]`.
pub(crate) async fn invite(
    c: &dyn Catalog,
    org: OrgId,
    name: &str,
    role: Role,
    byte: u8,
) -> InvitationRecord {
    let now = Timestamp::now();
    let inv = InvitationRecord {
        id: InvitationId::new(),
        hash: [byte; 32],
        org,
        name: UserName::parse(name).unwrap(),
        role,
        created_by: "tester".into(),
        created_at: now,
        expires_at: now.plus(Duration::from_secs(3600)),
        accepted_at: None,
        revoked_at: None,
    };
    c.create_invitation(inv.clone(), event(org, "member.invite"))
        .await
        .unwrap();
    inv
}

/// A token of `user` in `org` whose hash is `[byte; 32]`.
pub(crate) fn token(org: Option<OrgId>, user: &UserRecord, byte: u8) -> TokenRecord {
    TokenRecord {
        id: TokenId::new(),
        hash: [byte; 32],
        user: user.id,
        user_name: user.name.clone(),
        org,
        name: "t".into(),
        created_at: Timestamp::now(),
        expires_at: None,
        revoked_at: None,
    }
}

fn acceptance(inv: &InvitationRecord, invitee: Invitee, user: &UserRecord, byte: u8) -> Acceptance {
    Acceptance {
        invitation: inv.id,
        invitee,
        password: None,
        token: Some(token(Some(inv.org), user, byte)),
        at: Timestamp::now(),
    }
}

/// A new person `name`, a member of `org` with `role` through an accepted invitation, and the
/// token the acceptance minted (hash `[byte; 32]`).
pub(crate) async fn person(
    c: &dyn Catalog,
    org: OrgId,
    name: &str,
    role: Role,
    byte: u8,
) -> (MemberRecord, TokenRecord) {
    let inv = invite(c, org, name, role, byte).await;
    let user = UserRecord::person(inv.name.clone(), Timestamp::now());
    let a = acceptance(&inv, Invitee::New(user.clone()), &user, byte);
    let t = a.token.clone().expect("asked for");
    let m = c
        .accept_invitation(a, vec![event(org, "member.join")])
        .await
        .unwrap();
    assert_eq!((m.user.id, m.role), (user.id, role));
    (m, t)
}

/// Runs every check; creates its own orgs and identities.
pub async fn run_all(c: &dyn Catalog) {
    let a = org(c, "idn-a").await;
    let b = org(c, "idn-b").await;
    invitations_admit_once(c, a, b).await;
    operator_is_never_a_member(c, a).await;
    service_accounts_stay_in_their_org(c, a, b).await;
    last_owner_stays(c, a).await;
    removal_revokes_credentials_in_that_org(c, a, b).await;
    resets_revoke_everything_and_work_once(c, a, b).await;
}

async fn invitations_admit_once(c: &dyn Catalog, a: OrgId, b: OrgId) {
    let (ann, _) = person(c, a, "idn-ann", Role::Admin, 0x10).await;
    let joins = count(c, b, "member.join").await;
    // The same name invited to another org: accepting as the existing person keeps one identity.
    let inv = invite(c, b, "idn-ann", Role::Member, 0x11).await;
    let found = c.invitation(&[0x11; 32]).await.unwrap().expect("stored");
    assert_eq!(found, inv);
    assert!(found.pending(Timestamp::now()));
    let accept = acceptance(&inv, Invitee::Existing(ann.user.id), &ann.user, 0x12);
    let m = c
        .accept_invitation(accept.clone(), vec![event(b, "member.join")])
        .await
        .unwrap();
    assert_eq!((m.user.id, m.role), (ann.user.id, Role::Member));
    assert_eq!(
        count(c, b, "member.join").await,
        joins + 1,
        "the join is audited"
    );
    let mut again = accept;
    again.token = Some(token(Some(b), &ann.user, 0x13));
    assert!(matches!(
        c.accept_invitation(again, vec![event(b, "x")]).await,
        Err(CatalogError::Refused(_))
    ));
    assert!(c.authenticate(&[0x13; 32]).await.unwrap().is_none());
    let mine: Vec<_> = c
        .memberships(ann.user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.org, m.role))
        .collect();
    assert_eq!(mine.len(), 2);
    assert!(mine.contains(&(a, Role::Admin)) && mine.contains(&(b, Role::Member)));

    // A new invitation to the same name replaces the pending one.
    let first = invite(c, a, "idn-newcomer", Role::Member, 0x14).await;
    let second = invite(c, a, "idn-newcomer", Role::Admin, 0x15).await;
    let listed = c.list_invitations(a, Timestamp::now()).await.unwrap();
    let state = |id| listed.iter().find(|i| i.id == id).unwrap().revoked_at;
    assert!(state(first.id).is_some() && state(second.id).is_none());
    let user = UserRecord::person(first.name.clone(), Timestamp::now());
    assert!(matches!(
        c.accept_invitation(
            acceptance(&first, Invitee::New(user.clone()), &user, 0x16),
            vec![event(a, "x")]
        )
        .await,
        Err(CatalogError::Refused(_))
    ));
    // An invitation admits only the name it was made for, and a new name only once.
    let other = UserRecord::person(UserName::parse("idn-squatter").unwrap(), Timestamp::now());
    assert!(matches!(
        c.accept_invitation(
            acceptance(&second, Invitee::New(other.clone()), &other, 0x17),
            vec![event(a, "x")]
        )
        .await,
        Err(CatalogError::Refused(_))
    ));
    let taken = invite(c, b, "idn-ann", Role::Admin, 0x18).await;
    let clash = UserRecord::person(taken.name.clone(), Timestamp::now());
    assert_eq!(
        c.accept_invitation(
            acceptance(&taken, Invitee::New(clash.clone()), &clash, 0x19),
            vec![event(b, "x")]
        )
        .await
        .unwrap_err(),
        CatalogError::AlreadyExists,
        "an existing person's name cannot be taken over by accepting as new"
    );
    // Revoked and expired invitations admit nobody; revoking twice is refused.
    let r = c
        .revoke_invitation(a, second.id, Timestamp::now(), event(a, "member.uninvite"))
        .await
        .unwrap();
    assert!(r.revoked_at.is_some());
    assert!(matches!(
        c.revoke_invitation(a, second.id, Timestamp::now(), event(a, "x"))
            .await,
        Err(CatalogError::Refused(_))
    ));
    assert_eq!(
        c.revoke_invitation(b, taken.id, Timestamp::now(), event(b, "x"))
            .await
            .map(drop),
        Ok(()),
        "its own org may revoke it"
    );
    let foreign = invite(c, b, "idn-x", Role::Member, 0x1a).await;
    assert_eq!(
        c.revoke_invitation(a, foreign.id, Timestamp::now(), event(a, "x"))
            .await
            .unwrap_err(),
        CatalogError::NotFound,
        "another org's invitation is not found"
    );
    let late = invite(c, a, "idn-late", Role::Member, 0x1b).await;
    let user = UserRecord::person(late.name.clone(), Timestamp::now());
    let mut a_late = acceptance(&late, Invitee::New(user.clone()), &user, 0x1c);
    a_late.at = late.expires_at;
    assert!(matches!(
        c.accept_invitation(a_late, vec![event(a, "x")]).await,
        Err(CatalogError::Refused(_))
    ));
}

async fn operator_is_never_a_member(c: &dyn Catalog, a: OrgId) {
    let op = UserRecord::operator(UserName::parse("idn-op").unwrap(), Timestamp::now());
    let t = token(None, &op, 0x20);
    // Either this catalog has no operator yet (seated now), or it has one with a token.
    let seated = c.seat_operator(op.clone(), t.clone()).await.unwrap();
    let op = if seated {
        assert!(
            !c.seat_operator(op.clone(), token(None, &op, 0x21))
                .await
                .unwrap(),
            "seated once"
        );
        c.user_by_name(&op.name).await.unwrap()
    } else {
        let p = c.authenticate(&[0x20; 32]).await.unwrap();
        assert!(p.is_none(), "nothing written");
        let found = c
            .list_tokens(None)
            .await
            .unwrap()
            .into_iter()
            .next()
            .expect("the seated operator has a token");
        c.user_by_id(found.user).await.unwrap()
    };
    assert_eq!(op.kind, IdentityKind::Operator);
    assert!(matches!(
        c.add_member(a, op.id, Role::Owner, event(a, "member.add"))
            .await,
        Err(CatalogError::Refused(_))
    ));
    assert!(matches!(
        c.create_token(token(Some(a), &op, 0x22), None).await,
        Err(CatalogError::Refused(_))
    ));
    let inv = invite(c, a, op.name.as_str(), Role::Member, 0x23).await;
    assert!(matches!(
        c.accept_invitation(
            acceptance(&inv, Invitee::Existing(op.id), &op, 0x24),
            vec![event(a, "x")]
        )
        .await,
        Err(CatalogError::Refused(_))
    ));
    assert!(c.memberships(op.id).await.unwrap().is_empty());
}

async fn service_accounts_stay_in_their_org(c: &dyn Catalog, a: OrgId, b: OrgId) {
    let name = UserName::parse("idn-ci").unwrap();
    let sa = UserRecord::service(a, name.clone(), Timestamp::now());
    let m = c
        .create_service_account(sa.clone(), Role::Member, event(a, "service.create"))
        .await
        .unwrap();
    assert_eq!(
        (m.user.kind, m.user.org, m.role),
        (IdentityKind::Service, Some(a), Role::Member)
    );
    assert_eq!(c.service_account(a, &name).await.unwrap(), m.user);
    assert_eq!(
        c.service_account(b, &name).await.unwrap_err(),
        CatalogError::NotFound
    );
    assert_eq!(
        c.user_by_name(&name).await.unwrap_err(),
        CatalogError::NotFound,
        "service accounts are not found by person name"
    );
    // The same name in another org is another account; twice in one org is refused.
    let in_b = UserRecord::service(b, name.clone(), Timestamp::now());
    c.create_service_account(in_b, Role::Member, event(b, "service.create"))
        .await
        .unwrap();
    let twice = UserRecord::service(a, name.clone(), Timestamp::now());
    assert_eq!(
        c.create_service_account(twice, Role::Member, event(a, "x"))
            .await
            .unwrap_err(),
        CatalogError::AlreadyExists
    );
    let owner = UserRecord::service(a, UserName::parse("idn-boss").unwrap(), Timestamp::now());
    assert!(matches!(
        c.create_service_account(owner, Role::Owner, event(a, "x"))
            .await,
        Err(CatalogError::Refused(_))
    ));
    assert!(matches!(
        c.add_member(b, sa.id, Role::Member, event(b, "x")).await,
        Err(CatalogError::Refused(_))
    ));
    assert!(matches!(
        c.change_role(a, sa.id, Role::Owner, event(a, "x")).await,
        Err(CatalogError::Refused(_))
    ));
    assert!(matches!(
        c.create_token(token(Some(b), &sa, 0x30), Some(event(b, "x")))
            .await,
        Err(CatalogError::Refused(_))
    ));
    c.create_token(token(Some(a), &sa, 0x31), Some(event(a, "token.create")))
        .await
        .unwrap();
    let p = c.authenticate(&[0x31; 32]).await.unwrap().unwrap();
    assert_eq!(
        (p.user.kind, p.role),
        (IdentityKind::Service, Some(Role::Member))
    );
}

async fn last_owner_stays(c: &dyn Catalog, a: OrgId) {
    let (olga, _) = person(c, a, "idn-olga", Role::Owner, 0x40).await;
    let (oscar, _) = person(c, a, "idn-oscar", Role::Owner, 0x41).await;
    // Two owners demoted at once: exactly one demotion goes through, the other owner stays.
    let (x, y) = futures::join!(
        c.change_role(a, olga.user.id, Role::Admin, event(a, "member.role")),
        c.change_role(a, oscar.user.id, Role::Admin, event(a, "member.role")),
    );
    assert_eq!(
        [&x, &y].iter().filter(|r| r.is_ok()).count(),
        1,
        "{x:?} {y:?}"
    );
    let refused = if x.is_ok() { &y } else { &x };
    assert_eq!(
        refused.as_ref().unwrap_err(),
        &CatalogError::Refused(LAST_OWNER.into())
    );
    let survivor = if x.is_ok() {
        oscar.user.id
    } else {
        olga.user.id
    };
    assert_eq!(
        c.remove_member(a, survivor, Timestamp::now(), event(a, "x"))
            .await
            .unwrap_err(),
        CatalogError::Refused(LAST_OWNER.into())
    );
    assert_eq!(
        c.change_role(a, UserId::new(), Role::Admin, event(a, "x"))
            .await
            .unwrap_err(),
        CatalogError::NotFound
    );
}

async fn removal_revokes_credentials_in_that_org(c: &dyn Catalog, a: OrgId, b: OrgId) {
    let (rita, in_a) = person(c, a, "idn-rita", Role::Member, 0x50).await;
    let inv = invite(c, b, "idn-rita", Role::Member, 0x51).await;
    let accept = acceptance(&inv, Invitee::Existing(rita.user.id), &rita.user, 0x52);
    c.accept_invitation(accept, vec![event(b, "member.join")])
        .await
        .unwrap();
    c.remove_member(a, rita.user.id, Timestamp::now(), event(a, "member.remove"))
        .await
        .unwrap();
    let gone = c.authenticate(&in_a.hash).await.unwrap().unwrap();
    assert!(gone.token.revoked_at.is_some() && gone.role.is_none());
    let kept = c.authenticate(&[0x52; 32]).await.unwrap().unwrap();
    assert!(kept.token.revoked_at.is_none() && kept.role == Some(Role::Member));
    assert_eq!(
        c.remove_member(a, rita.user.id, Timestamp::now(), event(a, "x"))
            .await
            .unwrap_err(),
        CatalogError::NotFound
    );
    // Back through a new invitation: the old token stays revoked.
    let inv = invite(c, a, "idn-rita", Role::Member, 0x53).await;
    let accept = acceptance(&inv, Invitee::Existing(rita.user.id), &rita.user, 0x54);
    c.accept_invitation(accept, vec![event(a, "member.join")])
        .await
        .unwrap();
    let old = c.authenticate(&in_a.hash).await.unwrap().unwrap();
    assert!(
        old.token.revoked_at.is_some(),
        "an old credential never comes back"
    );
}

async fn resets_revoke_everything_and_work_once(c: &dyn Catalog, a: OrgId, b: OrgId) {
    let (sam, in_a) = person(c, a, "idn-sam", Role::Member, 0x60).await;
    c.set_password(sam.user.id, "old".into(), Timestamp::now(), vec![])
        .await
        .unwrap();
    let now = Timestamp::now();
    let reset = ResetRecord {
        id: ResetId::new(),
        hash: [0x61; 32],
        user: sam.user.id,
        created_at: now,
        expires_at: now.plus(Duration::from_secs(3600)),
        used_at: None,
    };
    c.reset_credentials(reset.clone(), vec![event(a, "user.reset")])
        .await
        .unwrap();
    assert_eq!(count(c, a, "user.reset").await, 1);
    assert_eq!(c.password_hash(sam.user.id).await.unwrap(), None);
    let p = c.authenticate(&in_a.hash).await.unwrap().unwrap();
    assert!(p.token.revoked_at.is_some());
    assert_eq!(c.reset(&[0x61; 32]).await.unwrap(), Some(reset.clone()));
    // A token for an org the person is not in is refused, and nothing is used up.
    let wrong = Redemption {
        reset: reset.id,
        password: "new".into(),
        token: Some(token(Some(b), &sam.user, 0x62)),
        at: Timestamp::now(),
    };
    assert!(matches!(
        c.redeem_reset(wrong, vec![]).await,
        Err(CatalogError::Refused(_))
    ));
    let right = Redemption {
        reset: reset.id,
        password: "new".into(),
        token: Some(token(Some(a), &sam.user, 0x63)),
        at: Timestamp::now(),
    };
    let u = c
        .redeem_reset(right.clone(), vec![event(a, "user.redeem")])
        .await
        .unwrap();
    assert_eq!(u.id, sam.user.id);
    assert_eq!(
        c.password_hash(sam.user.id).await.unwrap().as_deref(),
        Some("new")
    );
    assert!(c.authenticate(&[0x63; 32]).await.unwrap().is_some());
    let mut twice = right;
    twice.token = None;
    assert!(matches!(
        c.redeem_reset(twice, vec![]).await,
        Err(CatalogError::Refused(_))
    ));
    // Only people have credentials to reset.
    let op_or_service = c
        .service_account(a, &UserName::parse("idn-ci").unwrap())
        .await
        .unwrap();
    let r = ResetRecord {
        id: ResetId::new(),
        hash: [0x64; 32],
        user: op_or_service.id,
        ..reset
    };
    assert_eq!(
        c.reset_credentials(r, vec![]).await.unwrap_err(),
        CatalogError::NotFound
    );
}

/// A catalog as the model before migration 6 left it: org `default` with `admin` (the operator
/// and its owner, with a token) and `bob` (a member with a token, a password and a session), as
/// both backends' migration tests write it with their own SQL.
pub struct OldWorld {
    pub org: OrgId,
    pub admin: UserId,
    pub bob: UserId,
    pub admin_token: [u8; 32],
    pub bob_token: [u8; 32],
    pub bob_session: [u8; 32],
}

impl Default for OldWorld {
    fn default() -> Self {
        Self {
            org: OrgId::new(),
            admin: UserId::new(),
            bob: UserId::new(),
            admin_token: [0xa1; 32],
            bob_token: [0xb1; 32],
            bob_session: [0xb2; 32],
        }
    }
}

/// After migration 6: every user, role, token, password and session is still there; the old
/// operator is a person (still owner of `default`, its token still working); the deployment has
/// no operator until one is seated, which then happens exactly once.
pub async fn old_world_survives(c: &dyn Catalog, w: &OldWorld) {
    let admin = c.user_by_id(w.admin).await.unwrap();
    assert_eq!(
        (admin.name.as_str(), admin.kind),
        ("admin", IdentityKind::Person)
    );
    let members: Vec<_> = c
        .list_members(w.org)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.user.name.to_string(), m.role))
        .collect();
    assert_eq!(
        members,
        [
            ("admin".to_owned(), Role::Owner),
            ("bob".to_owned(), Role::Member)
        ]
    );
    for (hash, user, role) in [
        (w.admin_token, w.admin, Role::Owner),
        (w.bob_token, w.bob, Role::Member),
    ] {
        let p = c.authenticate(&hash).await.unwrap().expect("token kept");
        assert_eq!(
            (p.user.id, p.role, p.token.org),
            (user, Some(role), Some(w.org))
        );
    }
    assert_eq!(
        c.password_hash(w.bob).await.unwrap().as_deref(),
        Some("$argon2id$bob")
    );
    let s = c
        .session(&w.bob_session)
        .await
        .unwrap()
        .expect("session kept");
    assert_eq!(
        (s.user.id, s.role, s.session.org),
        (w.bob, Some(Role::Member), Some(w.org))
    );
    // Migration 8: a member, who had every secret by role, has an org-wide write grant in its
    // place; owners keep theirs by role and get none.
    let bobs = c.access_set(w.org, w.bob).await.unwrap();
    assert_eq!(
        bobs.grants,
        [crate::domain::policy::HeldGrant {
            scope: crate::domain::GrantScope::Org,
            level: crate::domain::AccessLevel::Write,
            via: None
        }]
    );
    assert!(
        c.access_set(w.org, w.admin)
            .await
            .unwrap()
            .grants
            .is_empty()
    );
    let op = UserRecord::operator(UserName::parse("operator").unwrap(), Timestamp::now());
    assert!(
        c.seat_operator(op.clone(), token(None, &op, 0xee))
            .await
            .unwrap()
    );
    assert!(
        !c.seat_operator(op.clone(), token(None, &op, 0xef))
            .await
            .unwrap()
    );
    let seated = c.authenticate(&[0xee; 32]).await.unwrap().unwrap();
    assert_eq!(
        (seated.user.kind, seated.token.org),
        (IdentityKind::Operator, None)
    );
    assert!(c.memberships(seated.user.id).await.unwrap().is_empty());
}
