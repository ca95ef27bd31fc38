//! [`IdentityCatalog`] on SQLite: `users`, `memberships`, `invitations` and `credential_resets`
//! (migration 6). Reads run on the read pool; every write is one request to the group-commit
//! writer, so each is atomic with its audit events, and the rules it keeps (last owner, one use
//! per code) are checked against every earlier write.

use super::tx::Tx;
use super::{SqliteCatalog, map_err as e, reads, rows, web, writes};
use crate::audit::AuditDraft;
use crate::catalog::{
    Acceptance, CatalogError, ENDED_INVITATIONS_LISTED_MS, IdentityCatalog, InvitationRecord,
    Invitee, LAST_OWNER, MemberRecord, MembershipRecord, Redemption, ResetRecord, TokenRecord,
    UserRecord, rules,
};
use crate::domain::{
    IdentityKind, InvitationId, OrgId, ResetId, Role, Timestamp, UserId, UserName,
};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

type R<T> = Result<T, CatalogError>;

fn owners(conn: &Connection, org: OrgId) -> R<u64> {
    conn.query_row(
        "SELECT count(*) FROM memberships WHERE org_id = ?1 AND role = 'owner'",
        [org.to_bytes()],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
    .map_err(e)
}

/// After a change to a member who was `before`: refuses if it took the org's last owner away.
fn keep_an_owner(conn: &Connection, org: OrgId, before: Role) -> R<()> {
    if before != Role::Owner || rules::owners_left_ok(owners(conn, org)?) {
        Ok(())
    } else {
        Err(CatalogError::Refused(LAST_OWNER.into()))
    }
}

/// Revokes every token and session of `user` in `org` (`None`: everywhere), and the one-time
/// links and requests they made there.
pub(super) fn revoke_credentials(
    conn: &Connection,
    user: UserId,
    org: Option<OrgId>,
    at: Timestamp,
) -> R<()> {
    let org_bytes = org.map(|o| o.to_bytes());
    conn.execute(
        "UPDATE tokens SET revoked_at = ?3 WHERE user_id = ?1 AND (?2 IS NULL OR org_id = ?2) \
         AND revoked_at IS NULL",
        params![user.to_bytes(), org_bytes, at.millis()],
    )
    .map_err(e)?;
    conn.execute(
        "UPDATE web_sessions SET revoked_at = ?3 WHERE user_id = ?1 AND (?2 IS NULL OR org_id = ?2) \
         AND revoked_at IS NULL",
        params![user.to_bytes(), org_bytes, at.millis()],
    )
    .map_err(e)?;
    // A Jira account link is the person's credential at Jira: it goes with the others, and so do
    // the consents they have in flight.
    for table in ["jira_accounts", "jira_pending"] {
        conn.execute(
            &format!("DELETE FROM {table} WHERE user_id = ?1 AND (?2 IS NULL OR org_id = ?2)"),
            params![user.to_bytes(), org_bytes],
        )
        .map_err(e)?;
    }
    super::links::revoke_outside_shares(conn, Some((user, org)), None, at)
}

fn seat_operator(conn: &Tx, user: &UserRecord, token: &TokenRecord) -> R<bool> {
    let existing: Option<[u8; 16]> = conn
        .query_row("SELECT id FROM users WHERE kind = 'operator'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(e)?;
    let operator = match existing {
        None => {
            writes::insert_user(conn, user)?;
            user.id
        }
        Some(id) => {
            let id = UserId::from_uuid(uuid::Uuid::from_bytes(id));
            let has_token: bool = conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM tokens WHERE user_id = ?1)",
                    [id.to_bytes()],
                    |r| r.get(0),
                )
                .map_err(e)?;
            if has_token {
                return Ok(false);
            }
            id
        }
    };
    writes::insert_token(
        conn,
        &TokenRecord {
            user: operator,
            ..token.clone()
        },
    )?;
    Ok(true)
}

fn add_member(conn: &Tx, org: OrgId, user: UserId, role: Role, a: &AuditDraft) -> R<MemberRecord> {
    writes::insert_member(conn, org, user, role)?;
    writes::append_audit(conn, a)?;
    reads::member(conn, org, user)
}

fn change_role(conn: &Tx, org: OrgId, user: UserId, role: Role, a: &AuditDraft) -> R<MemberRecord> {
    let before = reads::member(conn, org, user)?.role;
    conn.execute(
        "UPDATE memberships SET role = ?3 WHERE org_id = ?1 AND user_id = ?2",
        params![org.to_bytes(), user.to_bytes(), role.as_str()],
    )
    .map_err(e)?;
    keep_an_owner(conn, org, before)?;
    writes::append_audit(conn, a)?;
    reads::member(conn, org, user)
}

/// Ends `user`'s membership of `org`: revokes their tokens and sessions there and forgets their
/// groups, grants, shares, SSO link and SCIM record, refusing to take the org's last owner.
/// Returns the role they had; `NotFound` if they were not a member. Removing a member and SCIM's
/// deactivation both end a membership through here, so they cannot differ.
pub(super) fn end_membership(
    conn: &Connection,
    org: OrgId,
    user: UserId,
    at: Timestamp,
) -> R<Role> {
    let before = reads::member(conn, org, user)?.role;
    conn.execute(
        "DELETE FROM memberships WHERE org_id = ?1 AND user_id = ?2",
        params![org.to_bytes(), user.to_bytes()],
    )
    .map_err(e)?;
    keep_an_owner(conn, org, before)?;
    revoke_credentials(conn, user, Some(org), at)?;
    super::access::forget_member(conn, org, user)?;
    super::sso::forget_member(conn, org, user)?;
    super::scim::forget_member(conn, org, user)?;
    Ok(before)
}

fn remove_member(conn: &Tx, org: OrgId, user: UserId, at: Timestamp, a: &AuditDraft) -> R<()> {
    end_membership(conn, org, user, at)?;
    writes::append_audit(conn, a)
}

fn create_service_account(
    conn: &Tx,
    user: &UserRecord,
    role: Role,
    a: &AuditDraft,
) -> R<MemberRecord> {
    let org = user
        .org
        .filter(|_| user.kind == IdentityKind::Service)
        .ok_or_else(|| CatalogError::Refused("not a service account of an org".into()))?;
    writes::insert_user(conn, user)?;
    writes::insert_member(conn, org, user.id, role)?;
    writes::append_audit(conn, a)?;
    reads::member(conn, org, user.id)
}

const INVITATION_COLS: &str = "id, hash, org_id, name, role, created_by, created_at, expires_at, \
     accepted_at, revoked_at";

fn invitation_row(r: &Row) -> rusqlite::Result<InvitationRecord> {
    Ok(InvitationRecord {
        id: InvitationId::from_uuid(rows::uuid_at(r, 0)?),
        hash: r.get(1)?,
        org: OrgId::from_uuid(rows::uuid_at(r, 2)?),
        name: rows::parse_at(r, 3, |s| UserName::parse(s).ok())?,
        role: rows::role_at(r, 4)?,
        created_by: r.get(5)?,
        created_at: Timestamp::from_millis(r.get(6)?),
        expires_at: Timestamp::from_millis(r.get(7)?),
        accepted_at: rows::opt_ts(r, 8)?,
        revoked_at: rows::opt_ts(r, 9)?,
    })
}

fn invitation_by_id(conn: &Connection, id: InvitationId) -> R<InvitationRecord> {
    conn.query_row(
        &format!("SELECT {INVITATION_COLS} FROM invitations WHERE id = ?1"),
        [id.to_bytes()],
        invitation_row,
    )
    .map_err(e)
}

fn create_invitation(conn: &Tx, i: &InvitationRecord, a: &AuditDraft) -> R<()> {
    conn.execute(
        "UPDATE invitations SET revoked_at = ?3 WHERE org_id = ?1 AND name = ?2 \
         AND accepted_at IS NULL AND revoked_at IS NULL",
        params![i.org.to_bytes(), i.name.as_str(), i.created_at.millis()],
    )
    .map_err(e)?;
    conn.execute(
        &format!("INSERT INTO invitations ({INVITATION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, NULL)"),
        params![
            i.id.to_bytes(),
            i.hash,
            i.org.to_bytes(),
            i.name.as_str(),
            i.role.as_str(),
            i.created_by,
            i.created_at.millis(),
            i.expires_at.millis()
        ],
    )
    .map_err(e)?;
    writes::append_audit(conn, a)
}

fn revoke_invitation(
    conn: &Tx,
    org: OrgId,
    id: InvitationId,
    at: Timestamp,
    a: &AuditDraft,
) -> R<InvitationRecord> {
    let found = invitation_by_id(conn, id)?;
    if found.org != org {
        return Err(CatalogError::NotFound);
    }
    if !found.pending(at) {
        return Err(CatalogError::Refused(
            "the invitation is no longer pending".into(),
        ));
    }
    conn.execute(
        "UPDATE invitations SET revoked_at = ?2 WHERE id = ?1",
        params![id.to_bytes(), at.millis()],
    )
    .map_err(e)?;
    writes::append_audit(conn, a)?;
    invitation_by_id(conn, id)
}

fn accept_invitation(conn: &Tx, x: &Acceptance, audit: &[AuditDraft]) -> R<MemberRecord> {
    let inv = invitation_by_id(conn, x.invitation)?;
    if !inv.pending(x.at) {
        return Err(CatalogError::Refused(
            "the invitation was already used, revoked, or has expired".into(),
        ));
    }
    let person = match &x.invitee {
        Invitee::New(u) => {
            if u.kind != IdentityKind::Person || u.name != inv.name {
                return Err(CatalogError::Refused(
                    "the invitation is for another name".into(),
                ));
            }
            writes::insert_user(conn, u)?;
            u.id
        }
        Invitee::Existing(id) => {
            let u = reads::user_by_id(conn, *id)?;
            if u.kind != IdentityKind::Person || u.name != inv.name {
                return Err(CatalogError::Refused(
                    "the invitation is for another person".into(),
                ));
            }
            u.id
        }
    };
    if x.token
        .as_ref()
        .is_some_and(|t| t.user != person || t.org != Some(inv.org))
    {
        return Err(CatalogError::Refused(
            "the token does not belong to the invitation".into(),
        ));
    }
    conn.execute(
        "UPDATE invitations SET accepted_at = ?2 WHERE id = ?1",
        params![inv.id.to_bytes(), x.at.millis()],
    )
    .map_err(e)?;
    writes::insert_member(conn, inv.org, person, inv.role)?;
    if let Some(phc) = &x.password {
        web::store_password(conn, person, phc, x.at)?;
    }
    if let Some(t) = &x.token {
        writes::insert_token(conn, t)?;
    }
    audit
        .iter()
        .try_for_each(|d| writes::append_audit(conn, d))?;
    reads::member(conn, inv.org, person)
}

const RESET_COLS: &str = "id, hash, user_id, created_at, expires_at, used_at";

fn reset_row(r: &Row) -> rusqlite::Result<ResetRecord> {
    Ok(ResetRecord {
        id: ResetId::from_uuid(rows::uuid_at(r, 0)?),
        hash: r.get(1)?,
        user: UserId::from_uuid(rows::uuid_at(r, 2)?),
        created_at: Timestamp::from_millis(r.get(3)?),
        expires_at: Timestamp::from_millis(r.get(4)?),
        used_at: rows::opt_ts(r, 5)?,
    })
}

fn reset_credentials(conn: &Tx, reset: &ResetRecord, audit: &[AuditDraft]) -> R<()> {
    let user = reads::user_by_id(conn, reset.user)?;
    if user.kind != IdentityKind::Person {
        return Err(CatalogError::NotFound);
    }
    revoke_credentials(conn, user.id, None, reset.created_at)?;
    conn.execute(
        "DELETE FROM user_passwords WHERE user_id = ?1",
        [user.id.to_bytes()],
    )
    .map_err(e)?;
    conn.execute(
        "DELETE FROM credential_resets WHERE user_id = ?1 AND used_at IS NULL",
        [user.id.to_bytes()],
    )
    .map_err(e)?;
    conn.execute(
        &format!("INSERT INTO credential_resets ({RESET_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, NULL)"),
        params![
            reset.id.to_bytes(),
            reset.hash,
            user.id.to_bytes(),
            reset.created_at.millis(),
            reset.expires_at.millis()
        ],
    )
    .map_err(e)?;
    audit.iter().try_for_each(|d| writes::append_audit(conn, d))
}

fn redeem_reset(conn: &Tx, x: &Redemption, audit: &[AuditDraft]) -> R<UserRecord> {
    let reset = conn
        .query_row(
            &format!("SELECT {RESET_COLS} FROM credential_resets WHERE id = ?1"),
            [x.reset.to_bytes()],
            reset_row,
        )
        .map_err(e)?;
    if !rules::code_usable(reset.used_at, None, reset.expires_at, x.at) {
        return Err(CatalogError::Refused(
            "the reset code was already used or has expired".into(),
        ));
    }
    conn.execute(
        "UPDATE credential_resets SET used_at = ?2 WHERE id = ?1",
        params![reset.id.to_bytes(), x.at.millis()],
    )
    .map_err(e)?;
    web::store_password(conn, reset.user, &x.password, x.at)?;
    if let Some(t) = &x.token {
        let member = t
            .org
            .map(|org| reads::member(conn, org, reset.user))
            .transpose()
            .map_err(|_| CatalogError::Refused("not a member of that org".into()))?;
        if t.user != reset.user || member.is_none() {
            return Err(CatalogError::Refused(
                "the token does not belong to the reset".into(),
            ));
        }
        writes::insert_token(conn, t)?;
    }
    audit
        .iter()
        .try_for_each(|d| writes::append_audit(conn, d))?;
    reads::user_by_id(conn, reset.user)
}

#[async_trait]
impl IdentityCatalog for SqliteCatalog {
    async fn user_by_id(&self, id: UserId) -> R<UserRecord> {
        self.point_read(move |c| reads::user_by_id(c, id)).await
    }
    async fn user_by_name(&self, name: &UserName) -> R<UserRecord> {
        let name = name.clone();
        self.point_read(move |c| reads::user_by_name(c, &name))
            .await
    }
    async fn service_account(&self, org: OrgId, name: &UserName) -> R<UserRecord> {
        let name = name.clone();
        self.point_read(move |c| reads::service_account(c, org, &name))
            .await
    }
    async fn memberships(&self, user: UserId) -> R<Vec<MembershipRecord>> {
        self.read(move |c| reads::memberships(c, user)).await
    }
    async fn seat_operator(&self, user: UserRecord, token: TokenRecord) -> R<bool> {
        self.writer
            .write(move |c| seat_operator(c, &user, &token))
            .await
    }
    async fn add_member(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
        a: AuditDraft,
    ) -> R<MemberRecord> {
        self.writer
            .write(move |c| add_member(c, org, user, role, &a))
            .await
    }
    async fn change_role(
        &self,
        org: OrgId,
        user: UserId,
        role: Role,
        a: AuditDraft,
    ) -> R<MemberRecord> {
        self.writer
            .write(move |c| change_role(c, org, user, role, &a))
            .await
    }
    async fn remove_member(&self, org: OrgId, user: UserId, at: Timestamp, a: AuditDraft) -> R<()> {
        self.writer
            .write(move |c| remove_member(c, org, user, at, &a))
            .await
    }
    async fn create_service_account(
        &self,
        user: UserRecord,
        role: Role,
        a: AuditDraft,
    ) -> R<MemberRecord> {
        self.writer
            .write(move |c| create_service_account(c, &user, role, &a))
            .await
    }
    async fn create_invitation(&self, i: InvitationRecord, a: AuditDraft) -> R<()> {
        self.writer
            .write(move |c| create_invitation(c, &i, &a))
            .await
    }
    async fn invitation(&self, hash: &[u8; 32]) -> R<Option<InvitationRecord>> {
        let hash = *hash;
        self.point_read(move |c| {
            c.query_row(
                &format!("SELECT {INVITATION_COLS} FROM invitations WHERE hash = ?1"),
                [hash],
                invitation_row,
            )
            .optional()
            .map_err(e)
        })
        .await
    }
    async fn list_invitations(&self, org: OrgId, now: Timestamp) -> R<Vec<InvitationRecord>> {
        let since = now.millis() - ENDED_INVITATIONS_LISTED_MS;
        self.read(move |c| {
            let mut s = c
                .prepare_cached(&format!(
                    "SELECT {INVITATION_COLS} FROM invitations WHERE org_id = ?1 \
                     AND max(expires_at, coalesce(accepted_at, 0), coalesce(revoked_at, 0)) > ?2 \
                     ORDER BY created_at DESC"
                ))
                .map_err(e)?;
            s.query_map(params![org.to_bytes(), since], invitation_row)
                .and_then(|it| it.collect())
                .map_err(e)
        })
        .await
    }
    async fn revoke_invitation(
        &self,
        org: OrgId,
        id: InvitationId,
        at: Timestamp,
        a: AuditDraft,
    ) -> R<InvitationRecord> {
        self.writer
            .write(move |c| revoke_invitation(c, org, id, at, &a))
            .await
    }
    async fn accept_invitation(&self, x: Acceptance, audit: Vec<AuditDraft>) -> R<MemberRecord> {
        self.writer
            .write(move |c| accept_invitation(c, &x, &audit))
            .await
    }
    async fn reset_credentials(&self, reset: ResetRecord, audit: Vec<AuditDraft>) -> R<()> {
        self.writer
            .write(move |c| reset_credentials(c, &reset, &audit))
            .await
    }
    async fn reset(&self, hash: &[u8; 32]) -> R<Option<ResetRecord>> {
        let hash = *hash;
        self.point_read(move |c| {
            c.query_row(
                &format!("SELECT {RESET_COLS} FROM credential_resets WHERE hash = ?1"),
                [hash],
                reset_row,
            )
            .optional()
            .map_err(e)
        })
        .await
    }
    async fn redeem_reset(&self, x: Redemption, audit: Vec<AuditDraft>) -> R<UserRecord> {
        self.writer
            .write(move |c| redeem_reset(c, &x, &audit))
            .await
    }
}
