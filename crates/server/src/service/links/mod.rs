//! Sharing with people outside Coffer (docs/links-and-requests.md): one-time links (here) and
//! "send me a secret" requests ([`requests`]).
//!
//! A link is a copy of one secret version that its creator's client sealed, with the envelope
//! format, under a fresh key it puts only in the link's URL fragment — which browsers never send
//! — so Coffer stores a copy it cannot open, checks only that the copy is bound to the secret
//! version it claims to be, and hands it out `max_views` times until it expires. Making a link
//! takes the right to reveal the secret (the creator has the value anyway); a secret with a view
//! limit gets no link, which would hand out views past its limit. Opening takes a proof derived
//! from the key (`coffer_envelope::link_open_proof`; only its SHA-256 is stored), so whoever knows
//! only a link's id — from the audit trail, say — cannot even use up its views. Every open is
//! counted and audited (source address and user agent) in one transaction
//! (`LinkCatalog::open_link`). Members see and revoke their own links; admins everyone's. Links
//! carry their key in the URL, so Coffer makes them only for an `https://` public origin (or a
//! loopback one, for local use).

pub mod requests;

use crate::audit::AuditDraft;
use crate::catalog::{LinkOpen, LinkRecord, LinkRefusal, LinkState, OrgRecord, link_state};
use crate::domain::policy::{Action, Actor, Decision, Resource, SecretAction, authorize};
use crate::domain::{LinkId, OrgSlug, OrgStatus, Scope, SecretName, Timestamp};
use crate::service::secrets::{binding, label};
use crate::service::{Coffer, Error, Result, event, unavailable_reason};
use std::time::Duration;

/// The most views one link may have.
pub const MAX_LINK_VIEWS: u32 = 100;
/// The longest a link may live.
pub const MAX_LINK_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// The shortest a link may live.
pub const MIN_LINK_LIFETIME: Duration = Duration::from_secs(60);
/// Links listed at most.
const LIST_LIMIT: u32 = 1000;
/// Active links (and open requests) one member may have at a time.
pub const MAX_ACTIVE_PER_MEMBER: usize = 200;
/// Characters of a user agent kept in an audit event.
const MAX_USER_AGENT: usize = 256;

/// What a creator asks for.
pub struct NewLink {
    /// The version copied (`None`: the current one).
    pub version: Option<u32>,
    /// The copy, sealed by the client (envelope v1, key version 1, under the fragment key).
    pub envelope: Vec<u8>,
    /// SHA-256 of the open proof the client derived from the fragment key.
    pub open_hash: [u8; 32],
    /// How long it opens.
    pub lifetime: Duration,
    /// How many times it opens.
    pub max_views: u32,
}

/// Where an outsider's request came from, for the audit trail.
#[derive(Clone, Debug)]
pub struct Visitor {
    /// The source address (`server.trusted_proxies` decide which).
    pub source: String,
    /// The browser's user agent.
    pub user_agent: String,
}

impl Visitor {
    fn details(&self) -> serde_json::Value {
        let ua: String = self.user_agent.chars().take(MAX_USER_AGENT).collect();
        serde_json::json!({"ip": self.source, "user_agent": ua})
    }
}

/// An opened link: the link after the view, and the copy.
pub struct OpenedLink {
    /// The link.
    pub link: LinkRecord,
    /// The sealed copy.
    pub envelope: Vec<u8>,
}

/// Checks a link's options.
fn check_link_options(max_views: u32, lifetime: Duration) -> Result<()> {
    if !(1..=MAX_LINK_VIEWS).contains(&max_views) {
        return Err(Error::InvalidInput(format!(
            "max_views {max_views} is out of range: give 1 to {MAX_LINK_VIEWS}"
        )));
    }
    if lifetime < MIN_LINK_LIFETIME || lifetime > MAX_LINK_LIFETIME {
        return Err(Error::InvalidInput(format!(
            "a link lives 1 minute to {} days; {} seconds is out of range",
            MAX_LINK_LIFETIME.as_secs() / 86_400,
            lifetime.as_secs()
        )));
    }
    Ok(())
}

/// The sentence for a link that did not open.
fn refusal_message(r: LinkRefusal) -> String {
    match r {
        LinkRefusal::Inactive(LinkState::UsedUp) => {
            "this link has already been viewed; ask the sender for a new one".into()
        }
        LinkRefusal::Inactive(LinkState::Expired) => {
            "this link has expired; ask the sender for a new one".into()
        }
        LinkRefusal::Inactive(LinkState::Revoked) => "this link was revoked by its sender".into(),
        LinkRefusal::Inactive(LinkState::Active)
        | LinkRefusal::SecretDeleted
        | LinkRefusal::SecretExpired => "the secret behind this link is no longer available".into(),
    }
}

const NO_LINK: &str = "no such link: check that the whole link was copied";

/// Refuses to make a URL that carries a key for an origin reached over plain HTTP (anyone on the
/// way could read the page, or change its script to send the key away), unless it is loopback.
pub(in crate::service) fn check_link_origin(origin: &str) -> Result<()> {
    let url = url::Url::parse(origin).ok();
    let loopback = url.as_ref().is_some_and(|u| match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    });
    if url.as_ref().is_some_and(|u| u.scheme() == "https") || loopback {
        return Ok(());
    }
    Err(Error::Conflict {
        code: "public_origin_not_https",
        message: format!(
            "links and requests are sent to people as URLs of this server, and {origin} is not \
             https: set storage.public_origin to the https:// address people reach Coffer at"
        ),
    })
}
impl Coffer {
    /// Whether `actor` may see and revoke every link and request of `org`, or only its own.
    fn manages_outside_shares(actor: &Actor, org: &OrgRecord) -> bool {
        authorize(actor, Action::ManageOutsideShares, Resource::Org(org.id)) == Decision::Allow
    }

    /// Makes a one-time link to a copy of the secret at `scope`/`name`.
    pub async fn create_link(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        scope: &Scope,
        name: &SecretName,
        req: NewLink,
    ) -> Result<LinkRecord> {
        check_link_options(req.max_views, req.lifetime)?;
        check_link_origin(&self.stores.settings().public_origin)?;
        let org = self
            .active_org_for(actor, slug, Action::ShareOutside)
            .await?;
        let what = label(scope, name);
        let secret = self
            .lookup(actor, &org, scope, name, SecretAction::Reveal)
            .await?;
        self.check_secret(actor, &org, &secret, SecretAction::Reveal)
            .await?;
        let now = Timestamp::now();
        if let Some(why) = unavailable_reason(&secret, now) {
            return Err(Error::Gone(format!("`{what}` cannot be shared: {why}")));
        }
        if let Some(limit) = secret.view_limit {
            return Err(Error::Conflict {
                code: "link_view_limited",
                message: format!(
                    "`{what}` has a view limit of {limit}; a link would hand out views past it. \
                     Share it with a member instead, or write it without a view limit"
                ),
            });
        }
        let version = req.version.unwrap_or(secret.version);
        self.catalog
            .version(secret.id, version)
            .await
            .map_err(|e| Error::catalog(e, || format!("`{what}` has no version {version}")))?;
        let max = self.settings.max_secret_bytes + coffer_envelope::OVERHEAD;
        let expected = binding(org.id, secret.id, version, 1);
        let parsed = coffer_envelope::parse(&req.envelope, max).map_err(|e| {
            Error::InvalidInput(format!(
                "the sealed copy is not an envelope v1 of at most {max} bytes ({e}); \
                 see docs/links-and-requests.md"
            ))
        })?;
        if let Some(field) = parsed.binding.first_mismatch(&expected) {
            return Err(Error::InvalidInput(format!(
                "the sealed copy's {field} does not match: it must bind org {}, secret {}, \
                 version {version} and key version 1 (docs/links-and-requests.md)",
                org.id, secret.id
            )));
        }
        let now_active = self
            .catalog
            .list_links(org.id, Some(actor.user), LIST_LIMIT)
            .await
            .map_err(|e| Error::catalog(e, || "links".into()))?
            .iter()
            .filter(|l| link_state(l, now) == LinkState::Active)
            .count();
        if now_active >= MAX_ACTIVE_PER_MEMBER {
            return Err(Error::Conflict {
                code: "too_many_links",
                message: format!(
                    "you have {now_active} active links; revoke some (`coffer link list`) first"
                ),
            });
        }
        // A link never outlives the secret's own expiry.
        let mut expires_at = now.plus(req.lifetime);
        if let Some(end) = secret.expires_at.filter(|end| *end < expires_at) {
            expires_at = end;
        }
        let link = LinkRecord {
            id: LinkId::unguessable(),
            org: org.id,
            secret: secret.id,
            version,
            target: what.clone(),
            open_hash: req.open_hash,
            created_by_id: Some(actor.user),
            created_by: actor.name.to_string(),
            created_with: Some(actor.token),
            created_at: now,
            expires_at,
            max_views: req.max_views,
            views: 0,
            revoked_at: None,
        };
        let details = serde_json::json!({
            "link": link.id, "version": version, "max_views": link.max_views,
            "expires_at": expires_at.to_string(),
        });
        self.catalog
            .create_link(
                link.clone(),
                req.envelope,
                event(actor, org.id, "link.create", &what, details),
            )
            .await
            .map_err(|e| Error::catalog(e, || what.clone()))?;
        Ok(link)
    }

    /// The org's links `actor` may see: all of them for admins, else its own.
    pub async fn links(&self, actor: &Actor, slug: &OrgSlug) -> Result<Vec<LinkRecord>> {
        let org = self.org_for(actor, slug, Action::ShareOutside).await?;
        let by = (!Self::manages_outside_shares(actor, &org)).then_some(actor.user);
        self.catalog
            .list_links(org.id, by, LIST_LIMIT)
            .await
            .map_err(|e| Error::catalog(e, || "links".into()))
    }

    /// Revokes a link: its creator's, or any for admins. Another member's link is *not found*
    /// to a member, like another org's.
    pub async fn revoke_link(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        id: LinkId,
    ) -> Result<LinkRecord> {
        let org = self.org_for(actor, slug, Action::ShareOutside).await?;
        let not_found = || Error::NotFound(format!("org `{slug}` has no link {id}"));
        let link = match self.catalog.link(id).await {
            Ok(l) if l.org == org.id => l,
            Ok(_) => return Err(not_found()),
            Err(e) => return Err(Error::catalog(e, not_found_text(slug, id))),
        };
        if link.created_by_id != Some(actor.user) && !Self::manages_outside_shares(actor, &org) {
            return Err(not_found());
        }
        let audit = event(
            actor,
            org.id,
            "link.revoke",
            &link.target,
            serde_json::json!({"link": id}),
        );
        self.catalog
            .revoke_link(org.id, id, Timestamp::now(), audit)
            .await
            .map_err(|e| Error::catalog(e, not_found_text(slug, id)))
    }

    /// What an outsider holding the link may know before opening it: its state (opening it
    /// would use a view, so the page asks first).
    pub async fn link_status(&self, id: LinkId) -> Result<(LinkRecord, LinkState)> {
        let link = self
            .catalog
            .link(id)
            .await
            .map_err(|e| Error::catalog(e, || NO_LINK.into()))?;
        let state = link_state(&link, Timestamp::now());
        Ok((link, state))
    }

    /// Opens a link for an outsider who proves they hold its key: counts the view and audits
    /// it, then hands out the copy.
    pub async fn open_link(
        &self,
        id: LinkId,
        proof: &[u8; 32],
        visitor: &Visitor,
    ) -> Result<OpenedLink> {
        let link = self
            .catalog
            .link(id)
            .await
            .map_err(|e| Error::catalog(e, || NO_LINK.into()))?;
        if !same_hash(&sha256(proof), &link.open_hash) {
            return Err(Error::NotFound(NO_LINK.into()));
        }
        let org = self
            .catalog
            .org_by_id(link.org)
            .await
            .map_err(|e| Error::catalog(e, || NO_LINK.into()))?;
        if org.status == OrgStatus::Suspended {
            return Err(Error::Suspended(
                "the organization that shared this link is suspended; its secrets cannot be \
                 opened until it is restored"
                    .into(),
            ));
        }
        let mut details = visitor.details();
        details["link"] = serde_json::json!(id);
        let audit = AuditDraft::new(
            org.id,
            None,
            "anonymous (one-time link)",
            "link.open",
            link.target.clone(),
            details,
        );
        match self
            .catalog
            .open_link(id, Timestamp::now(), audit)
            .await
            .map_err(|e| Error::catalog(e, || NO_LINK.into()))?
        {
            LinkOpen::Opened { link, envelope } => Ok(OpenedLink {
                link: *link,
                envelope,
            }),
            LinkOpen::Refused(r) => Err(Error::Gone(refusal_message(r))),
        }
    }
}

impl Coffer {
    /// Empties the copies of links that expired, and the wrapped keys of requests that were
    /// used, revoked or expired, more than [`PURGE_MARGIN`] ago (the margin covers nodes whose
    /// clocks differ); returns how many rows it emptied.
    pub async fn purge_outside_shares(&self) -> Result<u64> {
        let before =
            Timestamp::from_millis(Timestamp::now().millis() - PURGE_MARGIN.as_millis() as i64);
        self.catalog
            .purge_outside_shares(before)
            .await
            .map_err(|e| Error::catalog(e, || "links".into()))
    }
}

/// How long after expiring a link's copy is kept (clock differences between nodes).
pub const PURGE_MARGIN: Duration = Duration::from_secs(600);

/// SHA-256 of `bytes`.
pub(in crate::service) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    d.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// Compares two hashes in constant time.
pub(in crate::service) fn same_hash(a: &[u8; 32], b: &[u8; 32]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

fn not_found_text(slug: &OrgSlug, id: LinkId) -> impl FnOnce() -> String {
    let slug = slug.clone();
    move || format!("org `{slug}` has no link {id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_bounded() {
        assert!(check_link_options(1, Duration::from_secs(3600)).is_ok());
        assert!(check_link_options(0, Duration::from_secs(3600)).is_err());
        assert!(check_link_options(MAX_LINK_VIEWS + 1, Duration::from_secs(3600)).is_err());
        assert!(check_link_options(1, Duration::from_secs(59)).is_err());
        assert!(check_link_options(1, MAX_LINK_LIFETIME + Duration::from_secs(1)).is_err());
        let msg = check_link_options(1, Duration::from_secs(5))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("1 minute to 30 days"), "{msg}");
    }

    #[test]
    fn links_need_an_https_or_loopback_origin() {
        for ok in [
            "https://coffer.example.com",
            "http://127.0.0.1:8420",
            "http://localhost:1",
            "http://[::1]:8",
        ] {
            assert!(check_link_origin(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://coffer.example.com",
            "http://0.0.0.0:8420",
            "http://10.0.0.1",
            "nonsense",
        ] {
            assert!(check_link_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_used_link_says_it_was_viewed() {
        let m = refusal_message(LinkRefusal::Inactive(LinkState::UsedUp));
        assert!(m.contains("already been viewed"), "{m}");
    }
}
