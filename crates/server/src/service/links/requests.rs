//! "Send me a secret" requests: a member asks someone without an account for a value, and it
//! lands as a new version of a secret on the issue.
//!
//! Each request has its own ECDH P-256 key pair (request sealing v1, `coffer_envelope::request`);
//! the private half is stored only wrapped under the org key (AAD `coffer/v1/request-key` ‖ org
//! ‖ request id), so the catalog alone cannot open what an outsider sends, and the public half is
//! what the outsider's browser seals to — the value crosses proxies and the server's logs only
//! as ciphertext. On arrival the server opens it and writes the version exactly as a member's
//! write would, *as the requester*: their membership and their right to write the secret are
//! checked again then (a requester who left the org or lost access gets nothing), and the
//! version and the request's fulfilment are one transaction (`RequestCatalog::fulfil_request`),
//! so a request is used once and an acknowledged upload is a version.
//!
//! The request's id is not enough to answer it: its URL carries a token in the fragment
//! (`/r/{id}#{token}`), shown once to the requester and stored only as its SHA-256, so people
//! who see the id — in the audit trail, in the list of requests — cannot write through it.

use super::{
    MAX_ACTIVE_PER_MEMBER, MAX_LINK_LIFETIME, MIN_LINK_LIFETIME, Visitor, check_link_origin,
    same_hash, sha256,
};
use crate::audit::AuditDraft;
use crate::blob::{BlobError, BlobKey};
use crate::catalog::{
    CatalogError, NewVersion, OrgRecord, RequestRecord, RequestState, SecretRecord, StoredBlob,
    request_state,
};
use crate::domain::policy::{Action, Actor, Decision, Membership, Resource, authorize};
use crate::domain::{OrgSlug, OrgStatus, RequestId, Scope, SecretName, Timestamp, TokenId};
use crate::service::secrets::{Filing, binding, blob_error, check_value, label, put_with_manifest};
use crate::service::{Coffer, Error, Result, event};
use base64::Engine;
use bytes::Bytes;
use coffer_envelope::{Key32, RequestKeyPair};
use std::time::Duration;

/// Characters a request's note may have.
pub const MAX_NOTE_CHARS: usize = 500;
/// Requests listed at most.
const LIST_LIMIT: u32 = 1000;
/// The label of the private key's wrap.
const KEY_AAD: &[u8] = b"coffer/v1/request-key";

fn key_aad(r: &RequestRecord) -> Vec<u8> {
    [KEY_AAD, &r.org.to_bytes()[..], &r.id.to_bytes()[..]].concat()
}

/// A request just made, with the token of its URL (shown once).
pub struct CreatedRequest {
    /// The request.
    pub record: RequestRecord,
    /// The token that goes into the URL's fragment (43 base64url characters).
    pub token: zeroize::Zeroizing<String>,
}

/// What a requester asks for.
pub struct NewRequest {
    /// The issue or project the secret goes to.
    pub scope: Scope,
    /// The secret's name.
    pub name: SecretName,
    /// A sentence for the outsider ("the production API key for …").
    pub note: String,
    /// How long it accepts a value.
    pub lifetime: Duration,
}

/// The org behind a request, as an outsider's page shows it.
pub struct RequestView {
    /// The request.
    pub request: RequestRecord,
    /// Its state now.
    pub state: RequestState,
    /// The asking org's slug.
    pub org: OrgSlug,
}

fn check_note(note: &str) -> Result<()> {
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(Error::InvalidInput(format!(
            "the note has more than {MAX_NOTE_CHARS} characters; shorten it"
        )));
    }
    if note.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::InvalidInput(
            "the note may not hold control characters other than line breaks".into(),
        ));
    }
    Ok(())
}

fn refusal(state: RequestState) -> Error {
    Error::Gone(
        match state {
            RequestState::Fulfilled => {
                "this request has already been answered; nothing was changed"
            }
            RequestState::Expired => "this request has expired; ask the requester for a new one",
            RequestState::Revoked => "this request was withdrawn by the requester",
            RequestState::Open => "this request is not open",
        }
        .into(),
    )
}

const NO_REQUEST: &str = "no such request: check that the whole link was copied";

impl Coffer {
    /// Opens a request for a value of `scope`/`name` (the requester must be able to write it).
    pub async fn create_request(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        req: NewRequest,
    ) -> Result<CreatedRequest> {
        check_note(&req.note)?;
        check_link_origin(&self.stores.settings().public_origin)?;
        if req.lifetime < MIN_LINK_LIFETIME || req.lifetime > MAX_LINK_LIFETIME {
            return Err(Error::InvalidInput(format!(
                "a request lives 1 minute to {} days; {} seconds is out of range",
                MAX_LINK_LIFETIME.as_secs() / 86_400,
                req.lifetime.as_secs()
            )));
        }
        let org = self
            .active_org_for(actor, slug, Action::ShareOutside)
            .await?;
        // The same checks as a write now; repeated when the value arrives.
        self.next_version(actor, &org, &req.scope, &req.name, None, None)
            .await?;
        let now = Timestamp::now();
        let open = self
            .catalog
            .list_requests(org.id, Some(actor.user), LIST_LIMIT)
            .await
            .map_err(|e| Error::catalog(e, || "requests".into()))?
            .iter()
            .filter(|r| request_state(r, now) == RequestState::Open)
            .count();
        if open >= MAX_ACTIVE_PER_MEMBER {
            return Err(Error::Conflict {
                code: "too_many_requests",
                message: format!(
                    "you have {open} open requests; withdraw some (`coffer request list`) first"
                ),
            });
        }
        let pair = RequestKeyPair::generate()
            .map_err(|e| Error::Internal(format!("request key pair: {e}")))?;
        let key = self.org_key(org.id, org.key_version).await?;
        let mut secret = [0u8; 32];
        aws_lc_rs::rand::fill(&mut secret)
            .map_err(|_| Error::Internal("the random number generator failed".into()))?;
        let token = zeroize::Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
        );
        zeroize::Zeroize::zeroize(&mut secret);
        let mut record = RequestRecord {
            id: RequestId::unguessable(),
            org: org.id,
            scope: req.scope,
            name: req.name,
            note: req.note,
            token_hash: sha256(token.as_bytes()),
            created_by_id: Some(actor.user),
            created_by: actor.name.to_string(),
            created_with: Some(actor.token),
            created_at: now,
            expires_at: now.plus(req.lifetime),
            public_key: pair.public.clone(),
            key_version: org.key_version,
            wrapped_key: Vec::new(),
            revoked_at: None,
            fulfilled_at: None,
            fulfilled_version: None,
        };
        record.wrapped_key = coffer_envelope::try_wrap_key(&key, &key_aad(&record), &pair.private)
            .map_err(|e| Error::Internal(format!("wrapping a request key: {e}")))?;
        let what = label(&record.scope, &record.name);
        let details = serde_json::json!({
            "request": record.id, "expires_at": record.expires_at.to_string(),
        });
        self.catalog
            .create_request(
                record.clone(),
                event(actor, org.id, "request.create", &what, details),
            )
            .await
            .map_err(|e| Error::catalog(e, || what.clone()))?;
        Ok(CreatedRequest { record, token })
    }

    /// The org's requests `actor` may see: all of them for admins, else its own.
    pub async fn requests(&self, actor: &Actor, slug: &OrgSlug) -> Result<Vec<RequestRecord>> {
        let org = self.org_for(actor, slug, Action::ShareOutside).await?;
        let by = (!Self::manages_outside_shares(actor, &org)).then_some(actor.user);
        self.catalog
            .list_requests(org.id, by, LIST_LIMIT)
            .await
            .map_err(|e| Error::catalog(e, || "requests".into()))
    }

    /// Withdraws a request: its requester's, or any for admins (another member's is *not
    /// found* to a member).
    pub async fn revoke_request(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        id: RequestId,
    ) -> Result<RequestRecord> {
        let org = self.org_for(actor, slug, Action::ShareOutside).await?;
        let not_found = || format!("org `{slug}` has no request {id}");
        let r = match self.catalog.request(id).await {
            Ok(r) if r.org == org.id => r,
            Ok(_) => return Err(Error::NotFound(not_found())),
            Err(e) => return Err(Error::catalog(e, not_found)),
        };
        if r.created_by_id != Some(actor.user) && !Self::manages_outside_shares(actor, &org) {
            return Err(Error::NotFound(not_found()));
        }
        let what = label(&r.scope, &r.name);
        let audit = event(
            actor,
            org.id,
            "request.revoke",
            &what,
            serde_json::json!({"request": id}),
        );
        self.catalog
            .revoke_request(org.id, id, Timestamp::now(), audit)
            .await
            .map_err(|e| Error::catalog(e, not_found))
    }

    /// The request `id` for whoever holds the token of its URL (else *not found*).
    async fn request_for(&self, id: RequestId, token: &str) -> Result<RequestRecord> {
        let r = self
            .catalog
            .request(id)
            .await
            .map_err(|e| Error::catalog(e, || NO_REQUEST.into()))?;
        if !same_hash(&sha256(token.as_bytes()), &r.token_hash) {
            return Err(Error::NotFound(NO_REQUEST.into()));
        }
        Ok(r)
    }

    /// What the outsider's page shows before they send a value.
    pub async fn request_status(&self, id: RequestId, token: &str) -> Result<RequestView> {
        let request = self.request_for(id, token).await?;
        let org = self
            .catalog
            .org_by_id(request.org)
            .await
            .map_err(|e| Error::catalog(e, || NO_REQUEST.into()))?;
        Ok(RequestView {
            state: request_state(&request, Timestamp::now()),
            org: org.slug,
            request,
        })
    }

    /// The requester, acting again: a member of the request's org with their current role,
    /// credited to the request (the credential the outsider used).
    async fn requester(&self, r: &RequestRecord, org: &OrgRecord) -> Result<Actor> {
        let gone = || {
            Error::Gone(
                "the person who asked for this secret can no longer receive it; nothing was stored"
                    .into(),
            )
        };
        let user_id = r.created_by_id.ok_or_else(gone)?;
        let user = match self.catalog.user_by_id(user_id).await {
            Ok(u) => u,
            Err(CatalogError::NotFound) => return Err(gone()),
            Err(e) => return Err(Error::catalog(e, || "the requester".into())),
        };
        let memberships = self
            .catalog
            .memberships(user_id)
            .await
            .map_err(|e| Error::catalog(e, || "the requester".into()))?;
        let m = memberships
            .iter()
            .find(|m| m.org == org.id)
            .ok_or_else(gone)?;
        Actor::member(
            user.id,
            user.name,
            user.kind,
            Membership {
                org: org.id,
                role: m.role,
            },
            TokenId::from_uuid(r.id.as_uuid()),
        )
        .ok_or_else(gone)
    }

    /// Takes an outsider's value for request `id`, sealed to its public key, and writes it as a
    /// new version of the requested secret.
    pub async fn fulfil_request(
        &self,
        id: RequestId,
        token: &str,
        sealed: &[u8],
        visitor: &Visitor,
    ) -> Result<SecretRecord> {
        let r = self.request_for(id, token).await?;
        let now = Timestamp::now();
        let state = request_state(&r, now);
        if state != RequestState::Open {
            return Err(refusal(state));
        }
        let org = self
            .catalog
            .org_by_id(r.org)
            .await
            .map_err(|e| Error::catalog(e, || NO_REQUEST.into()))?;
        if org.status == OrgStatus::Suspended {
            return Err(Error::Suspended(
                "the organization that asked is suspended; try again once it is restored".into(),
            ));
        }
        let actor = self.requester(&r, &org).await?;
        if authorize(&actor, Action::ShareOutside, Resource::Org(org.id)) != Decision::Allow {
            return Err(refusal_no_right());
        }
        // Opening first: a value that does not open changes nothing.
        let wrap_key = self.org_key(org.id, r.key_version).await?;
        let private = coffer_envelope::unwrap_key(&wrap_key, &key_aad(&r), &r.wrapped_key)
            .map_err(|_| {
                Error::Integrity(format!("request {id}'s key failed its integrity check"))
            })?;
        let max = self.settings.max_secret_bytes + coffer_envelope::REQUEST_SEAL_OVERHEAD;
        let value = open_sealed(&r, &private, sealed, max)?;
        drop(private);
        let what = label(&r.scope, &r.name);
        let _turn = self.write_locks.lock((org.id, &r.scope, &r.name)).await;
        let next = self
            .next_version(&actor, &org, &r.scope, &r.name, None, None)
            .await
            .map_err(|e| match e {
                // Jira's refusals (a missing link, Jira down) are the requester's business; the
                // outsider learns only that this request cannot be fulfilled now.
                Error::NotFound(_)
                | Error::Forbidden(_)
                | Error::ProofRequired { .. }
                | Error::Rejected { .. }
                | Error::Unavailable(_) => refusal_no_right(),
                Error::SecretDeleted(_) => Error::Gone(
                    "the secret this request is for was deleted; ask the requester what to do"
                        .into(),
                ),
                other => other,
            })?;
        check_value(next.kind, value.as_bytes(), self.settings.max_secret_bytes)?;
        let key = self.org_key(org.id, org.key_version).await?;
        let sealed_value = coffer_envelope::seal(
            &key,
            &binding(org.id, next.secret, next.version, org.key_version),
            value.as_bytes(),
        )
        .map_err(|e| Error::Internal(format!("sealing: {e}")))?;
        let blob_key = BlobKey::for_write(org.id, next.secret, next.version);
        let filing = Filing {
            org: org.id,
            secret: next.secret,
            version: next.version,
            scope: &r.scope,
            name: &r.name,
            kind: next.kind,
            at: now,
            by: actor.name.as_str(),
        };
        let manifest = self
            .seal_manifest(&filing, &blob_key, org.key_version)
            .await?;
        let store = self.stores.get(self.catalog.as_ref(), org.storage).await?;
        match put_with_manifest(
            store.as_ref(),
            &blob_key,
            Bytes::from(sealed_value.bytes),
            manifest,
        )
        .await
        {
            Ok(()) => {}
            Err(BlobError::AlreadyExists) => {
                return Err(Error::Unavailable(format!(
                    "`{what}` is being written right now; send the value again"
                )));
            }
            Err(e) => return Err(blob_error(e)),
        }
        let new = NewVersion {
            org: org.id,
            secret: next.secret,
            scope: r.scope.clone(),
            name: r.name.clone(),
            kind: next.kind,
            version: next.version,
            key_version: org.key_version,
            max_encryptions: self.settings.max_encryptions_per_key,
            blob_key: blob_key.clone(),
            storage: org.storage,
            wrapped_key: sealed_value.wrapped_key.to_bytes().to_vec(),
            size: value.as_bytes().len() as u64,
            at: now,
            by: actor.name.to_string(),
            expires_at: None,
            view_limit: None,
            restricted_to: None,
        };
        let mut put_details = visitor.details();
        put_details["version"] = serde_json::json!(next.version);
        put_details["kind"] = serde_json::json!(next.kind);
        put_details["key_version"] = serde_json::json!(org.key_version);
        put_details["request"] = serde_json::json!(id);
        let by = format!("{} (via request)", actor.audit_name());
        let put_audit = AuditDraft::new(
            org.id,
            Some(actor.user),
            by.clone(),
            "secret.write",
            &what,
            put_details,
        );
        let mut details = visitor.details();
        details["request"] = serde_json::json!(id);
        details["version"] = serde_json::json!(next.version);
        let fulfil_audit = AuditDraft::new(
            org.id,
            Some(actor.user),
            by,
            "request.fulfil",
            &what,
            details,
        );
        match self
            .catalog
            .fulfil_request(id, new, put_audit, fulfil_audit)
            .await
        {
            Ok(s) => Ok(s),
            Err(e) => {
                self.discard_blob(&StoredBlob {
                    storage: org.storage,
                    key: blob_key,
                })
                .await;
                Err(match e {
                    CatalogError::Refused(_) => {
                        let now = self.catalog.request(id).await.ok();
                        refusal(now.map_or(RequestState::Fulfilled, |r| {
                            request_state(&r, Timestamp::now())
                        }))
                    }
                    CatalogError::Conflict { .. } => Error::Unavailable(format!(
                        "`{what}` was written by someone else at the same moment; send the value again"
                    )),
                    CatalogError::Deleted => refusal_no_right(),
                    CatalogError::KeyExhausted => {
                        // The next write (this one, sent again) uses the new key version.
                        self.rotate_exhausted_key(&actor, &org).await?;
                        Error::Unavailable(
                            "the organization's key was just rotated; send the value again".into(),
                        )
                    }
                    other => Error::catalog(other, || what.clone()),
                })
            }
        }
    }
}

fn refusal_no_right() -> Error {
    Error::Gone(
        "the person who asked for this secret can no longer write it; nothing was stored".into(),
    )
}

/// Opens the outsider's sealed value with the request's private key.
fn open_sealed(
    r: &RequestRecord,
    private: &Key32,
    sealed: &[u8],
    max: usize,
) -> Result<coffer_envelope::Plaintext> {
    coffer_envelope::open_from_request(&r.id.to_bytes(), private, &r.public_key, sealed, max)
        .map_err(|e| match e {
            coffer_envelope::EnvelopeError::TooLarge { max, .. } => Error::TooLarge(format!(
                "the sealed value is larger than {max} bytes; the value is too large"
            )),
            _ => Error::InvalidInput(format!(
                "the sealed value could not be opened ({e}): it must be request sealing v1 to \
                 this request's key (docs/links-and-requests.md)"
            )),
        })
}
