//! Which audit events a webhook is told about, and the body it is sent.
//!
//! The public event names ([`WebhookEvent`]) are a contract with receivers, kept apart from the
//! audit actions (an internal vocabulary that may grow or split): several actions can be one
//! event (`member.add` and `member.join` are both `member.added`), and most actions — sign-ins,
//! token and grant changes, webhook management itself — are no event at all. The body carries
//! what the audit event carries (names, ids, the target and its details), which never includes
//! a secret value, a token or a key.

use crate::audit::AuditRecord;
use crate::catalog::OrgRecord;
use crate::domain::{OrgId, WebhookEvent};

/// The public event an audit action is, if any.
pub fn public_event(action: &str) -> Option<WebhookEvent> {
    use WebhookEvent::*;
    Some(match action {
        "secret.write" | "secret.upload_commit" => SecretWritten,
        "secret.reveal" => SecretRevealed,
        "secret.delete" => SecretDeleted,
        "secret.restore" => SecretRestored,
        "secret.destroy" => SecretDestroyed,
        "secret.expiring" => SecretExpiring,
        "member.add" | "member.join" => MemberAdded,
        "member.remove" => MemberRemoved,
        "member.role" => MemberRoleChanged,
        "org.suspend" => OrgSuspended,
        "org.restore" => OrgRestored,
        "org.rotate_key" => OrgKeyRotated,
        "link.open" => LinkOpened,
        "request.fulfil" => RequestFulfilled,
        _ => return None,
    })
}

/// An event's id: its org and its place in the org's chain, `<org id>:<seq>`. The same on every
/// attempt, redelivery and webhook, so receivers can drop duplicates by it.
pub fn event_id(org: OrgId, seq: u64) -> String {
    format!("{org}:{seq}")
}

/// The JSON body of `event` (the public name of audit event `e` of `org`): `id`, `type`,
/// `occurred_at`, `org`, `actor`, `target`, `details`.
pub fn body(org: &OrgRecord, e: &AuditRecord, event: WebhookEvent) -> String {
    let details: serde_json::Value =
        serde_json::from_str(&e.details).unwrap_or_else(|_| serde_json::json!({}));
    serde_json::json!({
        "id": event_id(org.id, e.seq),
        "type": event.as_str(),
        "occurred_at": e.at.to_string(),
        "org": {"id": org.id, "slug": org.slug},
        "actor": {"name": e.actor, "id": e.actor_id},
        "target": e.target,
        "details": details,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditDraft, seal};
    use crate::domain::{Location, OrgSlug, OrgStatus, Timestamp};

    #[test]
    fn every_public_event_has_an_action_and_internal_ones_have_none() {
        for e in WebhookEvent::ALL {
            let actions = [
                "secret.write",
                "secret.upload_commit",
                "secret.reveal",
                "secret.delete",
                "secret.restore",
                "secret.destroy",
                "secret.expiring",
                "member.add",
                "member.join",
                "member.remove",
                "member.role",
                "org.suspend",
                "org.restore",
                "org.rotate_key",
                "link.open",
                "request.fulfil",
            ];
            assert!(
                actions.iter().any(|a| public_event(a) == Some(*e)),
                "{e} has no audit action"
            );
        }
        for internal in [
            "auth.failed",
            "token.create",
            "session.create",
            "webhook.create",
            "grant.create",
            "scim.token_create",
        ] {
            assert_eq!(public_event(internal), None, "{internal}");
        }
    }

    #[test]
    fn the_body_names_the_event_and_carries_the_audit_facts() {
        let org = OrgRecord {
            id: OrgId::new(),
            slug: OrgSlug::parse("acme").unwrap(),
            name: "Acme".into(),
            location: Location::local(),
            status: OrgStatus::Active,
            suspended_reason: None,
            key_version: 1,
            created_at: Timestamp::now(),
            storage: None,
        };
        let draft = AuditDraft::new(
            org.id,
            None,
            "alice",
            "secret.reveal",
            "OPS-1/db",
            serde_json::json!({"version": 2}),
        );
        let e = seal(&draft, 7, crate::audit::GENESIS);
        let v: serde_json::Value =
            serde_json::from_str(&body(&org, &e, WebhookEvent::SecretRevealed)).unwrap();
        assert_eq!(v["id"], format!("{}:7", org.id));
        assert_eq!(v["type"], "secret.revealed");
        assert_eq!(v["org"]["slug"], "acme");
        assert_eq!(v["actor"]["name"], "alice");
        assert_eq!(v["target"], "OPS-1/db");
        assert_eq!(v["details"]["version"], 2);
        assert_eq!(v["occurred_at"], e.at.to_string());
    }
}
