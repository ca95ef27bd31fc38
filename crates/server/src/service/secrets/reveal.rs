//! Revealing a secret: check availability → read the envelope from the envelope cache or the
//! store its version row names (following the row if a storage migration moved it meanwhile)
//! → open it (integrity, binding and key commitment checked before any plaintext exists) →
//! count the view and commit its audit event → only then return the value.

use crate::blob::BlobError;
use crate::catalog::{
    CatalogError, OrgRecord, RevealTarget, SecretRecord, StoredBlob, VersionRecord,
};
use crate::domain::policy::{Action, Actor, JiraAnswer, SecretAction};
use crate::domain::{OrgSlug, Scope, SecretName, Timestamp};
use crate::service::jira::Use;
use crate::service::secrets::{binding, blob_error, label, secret_not_found};
use crate::service::{Coffer, Error, Result, admit, event, org_not_found, require_active};
use bytes::Bytes;
use coffer_envelope::Plaintext;

/// A revealed value with the metadata after the reveal was counted.
pub struct Revealed {
    /// Metadata.
    pub secret: SecretRecord,
    /// The version revealed.
    pub version: u32,
    /// The value.
    pub value: Plaintext,
}

/// Why a secret cannot be revealed now, if it cannot.
pub fn unavailable_reason(s: &SecretRecord, now: Timestamp) -> Option<String> {
    if let Some(at) = s.deleted_at {
        return Some(format!("deleted at {at}; restore it to use it again"));
    }
    if let Some(at) = s.expires_at.filter(|at| *at <= now) {
        return Some(format!("expired at {at}"));
    }
    match s.view_limit {
        Some(limit) if s.views >= limit => {
            Some(format!("its view limit of {limit} has been reached"))
        }
        _ => None,
    }
}

impl Coffer {
    /// Reveals the current (or a given) version, counting the view and auditing it first.
    pub async fn reveal_secret(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        scope: &Scope,
        name: &SecretName,
        version: Option<u32>,
    ) -> Result<Revealed> {
        // One catalog call for the org, the secret, the version and the Jira link.
        let target = self.catalog.reveal_target(slug, scope, name, version).await;
        self.reveal_in(actor, target, slug, scope, name, version)
            .await
    }

    /// [`Coffer::reveal_secret`] for a bearer token: the token and the reveal's reads are
    /// looked up together ([`crate::catalog::Catalog::authenticate_reveal`]), and the token is
    /// judged, exactly as [`Coffer::authenticate`] judges it, before the target is used.
    /// `hash` is a well-formed token's ([`Coffer::presented`]); `path_org` is the org the
    /// request path names, against which an unknown token's refusal is recorded.
    pub async fn reveal_secret_with_token(
        &self,
        hash: &[u8; 32],
        path_org: Option<&str>,
        slug: &OrgSlug,
        scope: &Scope,
        name: &SecretName,
        version: Option<u32>,
    ) -> Result<Revealed> {
        let (principal, target) = self
            .catalog
            .authenticate_reveal(hash, slug, scope, name, version)
            .await
            .map_err(|e| Error::catalog(e, || "token".into()))?;
        let actor = self.admit_principal(principal, path_org)?;
        self.reveal_in(&actor, target, slug, scope, name, version)
            .await
    }

    /// A reveal from its target as read: the actor is checked against the org before anything
    /// about the secret is used.
    async fn reveal_in(
        &self,
        actor: &Actor,
        target: std::result::Result<RevealTarget, CatalogError>,
        slug: &OrgSlug,
        scope: &Scope,
        name: &SecretName,
        version: Option<u32>,
    ) -> Result<Revealed> {
        let target = target.map_err(|e| Error::catalog(e, || org_not_found(slug)))?;
        let org = require_active(slug, admit(actor, slug, Action::RevealSecret, target.org)?)?;
        let what = label(scope, name);
        // Jira before anything about the secret: its refusals must not tell whether it exists.
        let jira = match self
            .jira_admit_for(actor, &org, scope, Use::Read, target.jira)
            .await
        {
            Ok(answer) => answer,
            Err(e) => {
                self.audit_refused_reveal(actor, &org, &what, &e).await;
                return Err(e);
            }
        };
        let secret = target
            .secret
            .ok_or_else(|| Error::NotFound(secret_not_found(&org, scope, name)))?;
        self.check_secret(actor, &org, &secret, SecretAction::Reveal)
            .await?;
        if let Some(why) = unavailable_reason(&secret, Timestamp::now()) {
            return Err(Error::Gone(format!("`{what}` cannot be revealed: {why}")));
        }
        let n = version.unwrap_or(secret.version);
        let v = target.version.ok_or_else(|| {
            Error::NotFound(format!(
                "`{what}` has no version {n}; the latest is {}",
                secret.version
            ))
        })?;
        let value = self.open_version(&org, &v).await?;
        let mut details = serde_json::json!({"version": n});
        if jira != JiraAnswer::NotAsked {
            details["jira"] = jira.as_str().into();
        }
        let views = self
            .catalog
            .record_view(
                secret.id,
                event(actor, org.id, "secret.reveal", &what, details),
            )
            .await
            .map_err(|e| match e {
                CatalogError::ViewLimitReached => Error::Gone(format!(
                    "`{what}` cannot be revealed: its view limit has been reached"
                )),
                other => Error::catalog(other, || format!("no secret `{what}`")),
            })?;
        // A reveal changes only the count: the rest is the row `reveal_target` read.
        let secret = SecretRecord {
            views: views.count,
            view_limit: views.limit,
            ..secret
        };
        Ok(Revealed {
            secret,
            version: n,
            value,
        })
    }

    /// The envelope of `v`, and where in storage it was read (`None`: from the cache). If it
    /// is gone from the store the row named, a storage migration may have moved it since the
    /// row was read: the row is read again and, if it moved, the new store is asked.
    async fn envelope(&self, v: &VersionRecord) -> Result<(Bytes, Option<StoredBlob>)> {
        let at = v.stored_blob();
        if let Some(bytes) = self.envelopes.get(&at) {
            return Ok((bytes, None));
        }
        let missing = || {
            Error::Integrity(format!(
                "the envelope of version {} is missing from storage",
                v.version
            ))
        };
        let store = self.stores.get(self.catalog.as_ref(), v.storage).await?;
        match store.get(&v.blob_key).await {
            Ok(bytes) => return Ok((bytes, Some(at))),
            Err(BlobError::NotFound) => {}
            Err(other) => return Err(blob_error(other)),
        }
        let now = self
            .catalog
            .version(v.secret, v.version)
            .await
            .map_err(|e| Error::catalog(e, || format!("version {}", v.version)))?;
        if now.stored_blob() == at {
            return Err(missing());
        }
        let store = self.stores.get(self.catalog.as_ref(), now.storage).await?;
        let bytes = store.get(&now.blob_key).await.map_err(|e| match e {
            BlobError::NotFound => missing(),
            other => blob_error(other),
        })?;
        Ok((bytes, Some(now.stored_blob())))
    }

    async fn open_version(&self, org: &OrgRecord, v: &VersionRecord) -> Result<Plaintext> {
        let (bytes, read_from) = self.envelope(v).await?;
        let max = self.settings.max_secret_bytes + coffer_envelope::OVERHEAD;
        let tampered = || {
            Error::Integrity(format!(
                "version {} failed its integrity check: the stored envelope was tampered with or corrupted",
                v.version
            ))
        };
        let envelope = coffer_envelope::parse(&bytes, max).map_err(|_| tampered())?;
        if envelope.wrapped_key.to_bytes()[..] != v.wrapped_key[..] {
            return Err(tampered());
        }
        let key = self.org_key(org.id, v.key_version).await?;
        let value = coffer_envelope::open(
            &key,
            &binding(org.id, v.secret, v.version, v.key_version),
            &bytes,
            max,
        )
        .map_err(|_| tampered())?;
        if let Some(at) = read_from {
            // Only envelopes that just opened cleanly are kept.
            self.envelopes.insert(at, bytes);
        }
        Ok(value)
    }
}
