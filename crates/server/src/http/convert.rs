//! Records → wire types. The only place that knows both shapes.

use crate::audit::AuditRecord;
use crate::catalog::{
    InvitationRecord, MemberRecord, OrgRecord, SecretRecord, TokenRecord, VersionRecord,
};
use crate::domain::{IdentityKind, Timestamp};
use crate::service::unavailable_reason;
use coffer_api as api;

pub fn org(o: &OrgRecord) -> api::Org {
    api::Org {
        id: o.id.as_uuid(),
        slug: o.slug.to_string(),
        name: o.name.clone(),
        location: o.location.clone(),
        status: o.status,
        suspended_reason: o.suspended_reason.clone(),
        key_version: o.key_version,
        created_at: o.created_at.to_datetime(),
    }
}

pub fn secret(s: &SecretRecord) -> api::Secret {
    api::Secret {
        id: s.id.as_uuid(),
        scope: s.scope.to_string(),
        name: s.name.to_string(),
        kind: s.kind,
        version: s.version,
        state: if s.deleted_at.is_some() {
            api::SecretState::Deleted
        } else {
            api::SecretState::Active
        },
        created_by: s.created_by.clone(),
        created_at: s.created_at.to_datetime(),
        updated_by: s.updated_by.clone(),
        updated_at: s.updated_at.to_datetime(),
        expires_at: s.expires_at.map(Timestamp::to_datetime),
        view_limit: s.view_limit,
        views: s.views,
        unavailable: unavailable_reason(s, Timestamp::now()),
        restricted: s.restricted,
    }
}

pub fn version(v: &VersionRecord) -> api::SecretVersion {
    api::SecretVersion {
        version: v.version,
        created_by: v.created_by.clone(),
        created_at: v.created_at.to_datetime(),
        key_version: v.key_version,
        size: v.size,
    }
}

pub fn kind(k: IdentityKind) -> api::IdentityKind {
    match k {
        IdentityKind::Person => api::IdentityKind::Person,
        IdentityKind::Service => api::IdentityKind::Service,
        IdentityKind::Operator => api::IdentityKind::Operator,
    }
}

pub fn member(m: &MemberRecord) -> api::Member {
    api::Member {
        id: m.user.id.as_uuid(),
        name: m.user.name.to_string(),
        kind: kind(m.user.kind),
        role: m.role,
        created_at: m.user.created_at.to_datetime(),
    }
}

pub fn invitation(i: &InvitationRecord, org_slug: &str) -> api::Invitation {
    let state = if i.accepted_at.is_some() {
        api::InvitationState::Accepted
    } else if i.revoked_at.is_some() {
        api::InvitationState::Revoked
    } else if i.expires_at <= Timestamp::now() {
        api::InvitationState::Expired
    } else {
        api::InvitationState::Pending
    };
    api::Invitation {
        id: i.id.as_uuid(),
        org: org_slug.to_owned(),
        name: i.name.to_string(),
        role: i.role,
        created_by: i.created_by.clone(),
        created_at: i.created_at.to_datetime(),
        expires_at: i.expires_at.to_datetime(),
        state,
    }
}

pub fn token(t: &TokenRecord, org_slug: Option<&str>) -> api::TokenInfo {
    api::TokenInfo {
        id: t.id.as_uuid(),
        user: t.user_name.to_string(),
        org: org_slug.map(str::to_owned),
        name: t.name.clone(),
        created_at: t.created_at.to_datetime(),
        expires_at: t.expires_at.map(Timestamp::to_datetime),
        revoked_at: t.revoked_at.map(Timestamp::to_datetime),
    }
}

pub fn audit(e: &AuditRecord) -> api::AuditEvent {
    api::AuditEvent {
        seq: e.seq,
        at: e.at.to_datetime(),
        actor_id: e.actor_id.map(|u| u.as_uuid()),
        actor: e.actor.clone(),
        action: e.action.clone(),
        target: e.target.clone(),
        details: serde_json::from_str(&e.details).unwrap_or(serde_json::Value::Null),
        prev_hash: hex::encode(e.prev_hash),
        hash: hex::encode(e.hash),
    }
}

/// The wire form of a recovery kit: org keys base64, KMS wraps exactly as stored.
pub fn recovery_kit(k: &crate::service::RecoveryKitContents) -> api::RecoveryKit {
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| super::B64.encode(bytes);
    let storage = match &k.storage {
        None => api::RecoveryStorage {
            kind: "default".into(),
            bucket: None,
            region: None,
            endpoint: None,
            prefix: None,
        },
        Some(l) => api::RecoveryStorage {
            kind: "bucket".into(),
            bucket: Some(l.bucket.to_string()),
            region: Some(l.region.to_string()),
            endpoint: l.endpoint.clone(),
            prefix: l.prefix.as_ref().map(|p| p.to_string()),
        },
    };
    api::RecoveryKit {
        format: api::RECOVERY_KIT_FORMAT.into(),
        version: api::RECOVERY_KIT_VERSION,
        org_id: k.org.id.as_uuid(),
        slug: k.org.slug.to_string(),
        location: k.org.location.to_string(),
        created_at: k.created_at.to_datetime(),
        created_by: k.created_by.clone(),
        storage,
        root_key: k.root_key,
        role_arn: k.role_arn.clone(),
        org_keys: k
            .keys
            .iter()
            .map(|key| api::RecoveryOrgKey {
                version: key.version,
                key: key.key.as_ref().map(|k| b64(k.expose())),
                wraps: key
                    .wraps
                    .iter()
                    .map(|(w, region)| api::RecoveryKeyWrap {
                        provider: w.provider.clone(),
                        key_arn: w.key_ref.clone(),
                        region: region.clone(),
                        wrapped: b64(&w.bytes),
                    })
                    .collect(),
            })
            .collect(),
    }
}
