//! Secrets: write a version, list, history, delete, restore, destroy (here), reveal
//! ([`reveal`], with the envelope cache of [`envelope_cache`]), the client-side write of an
//! envelope the client sealed ([`uploads`] grants it, [`upload_commit`] records it), and
//! presigned envelope URLs for client-side reads ([`envelope_url`]).
//!
//! Write order: seal with a fresh data key → put the envelope blob and its manifest
//! ([`manifests`]; create-if-absent, durable) → append the version row and its audit event in one catalog transaction. A crash between the
//! two leaves an orphan blob that the sweeper removes, never a row pointing at nothing.

mod envelope_cache;
mod envelope_url;
mod manifests;
mod reveal;
mod upload_commit;
mod uploads;

use crate::blob::{BlobError, BlobKey};
use crate::catalog::{
    CatalogError, NewVersion, OrgRecord, SecretFilter, SecretRecord, StoredBlob, VersionRecord,
};
use crate::domain::policy::{Action, Actor, SecretAction};
use crate::domain::{OrgId, OrgSlug, Scope, SecretId, SecretKind, SecretName, Timestamp};
use crate::service::jira::{Use, usage_of};
use crate::service::{Coffer, Error, Result, event};
use bytes::Bytes;
use coffer_envelope::{Binding, Plaintext};

pub(in crate::service) use manifests::{Filing, put_with_manifest};

pub use envelope_cache::EnvelopeCache;
pub use reveal::{Revealed, unavailable_reason};
pub use uploads::{Grant, NewUpload};

/// Attempts at a write without an explicit expected version before giving up on a hot secret.
const WRITE_ATTEMPTS: usize = 5;

/// A request to write a new version.
pub struct PutSecret {
    /// Where.
    pub scope: Scope,
    /// Name.
    pub name: SecretName,
    /// The value (zeroized on drop; never logged).
    pub value: Plaintext,
    /// Kind (defaults to the existing kind, or `password`).
    pub kind: Option<SecretKind>,
    /// Check-and-set on the current version (0: must not exist).
    pub expect_version: Option<u32>,
    /// Expiry.
    pub expires_at: Option<Timestamp>,
    /// View limit.
    pub view_limit: Option<u32>,
    /// Create the secret restricted to its shares (its creator gets `manage`); on an existing
    /// secret it must match.
    pub restricted: Option<bool>,
}

pub(in crate::service) fn label(scope: &Scope, name: &SecretName) -> String {
    format!("{scope}/{name}")
}

pub(in crate::service) fn binding(
    org: OrgId,
    secret: SecretId,
    version: u32,
    key_version: u32,
) -> Binding {
    Binding {
        org: org.to_bytes(),
        secret: secret.to_bytes(),
        version,
        key_version,
    }
}

pub(in crate::service) fn check_value(kind: SecretKind, value: &[u8], max: usize) -> Result<()> {
    if value.len() > max {
        return Err(Error::TooLarge(format!(
            "the value is {} bytes; the limit is {max} bytes",
            value.len()
        )));
    }
    match kind {
        SecretKind::Password | SecretKind::Note if std::str::from_utf8(value).is_err() => {
            Err(Error::InvalidInput(
                "a password or note must be UTF-8 text; store binary data with kind `file`".into(),
            ))
        }
        SecretKind::Kv => {
            let parsed: Result<std::collections::BTreeMap<String, String>, _> =
                serde_json::from_slice(value);
            // The parse error is not echoed: it could quote part of the value.
            parsed.map(drop).map_err(|_| {
                Error::InvalidInput("a kv secret must be a JSON object of string keys to string values, e.g. {\"user\":\"u\",\"pass\":\"p\"}".into())
            })
        }
        _ => Ok(()),
    }
}

/// Refuses write options that can never be valid (checked once, before any work).
pub(in crate::service) fn check_write_options(
    expires_at: Option<Timestamp>,
    view_limit: Option<u32>,
    now: Timestamp,
) -> Result<()> {
    if expires_at.is_some_and(|t| t <= now) {
        return Err(Error::InvalidInput(
            "expires_at is in the past; give a future time".into(),
        ));
    }
    if view_limit == Some(0) {
        return Err(Error::InvalidInput("view_limit must be at least 1".into()));
    }
    Ok(())
}

/// Where a new version goes: which secret (new or existing), its number, and its kind.
pub(in crate::service) struct NextVersion {
    pub secret: SecretId,
    pub version: u32,
    pub kind: SecretKind,
    /// Whether the existing secret is restricted (`None`: the write creates it).
    pub restricted: Option<bool>,
}

impl Coffer {
    /// Reads the secret's current state and checks that the actor may write it and that a new
    /// version may follow it: its access (`write` on the secret, or on the scope to create it),
    /// check-and-set on `expect_version`, and not soft-deleted. The kind defaults to the
    /// existing kind, else `password`.
    pub(in crate::service) async fn next_version(
        &self,
        actor: &Actor,
        org: &OrgRecord,
        scope: &Scope,
        name: &SecretName,
        expect_version: Option<u32>,
        kind: Option<SecretKind>,
    ) -> Result<NextVersion> {
        let what = label(scope, name);
        self.jira_admit(actor, org, scope, Use::Write).await?;
        let existing = match self.catalog.secret(org.id, scope, name).await {
            Ok(s) => Some(s),
            Err(CatalogError::NotFound) => None,
            Err(e) => return Err(Error::catalog(e, || what.clone())),
        };
        match &existing {
            Some(s) => {
                self.check_secret(actor, org, s, SecretAction::Write)
                    .await?;
            }
            None => self.check_new_secret(actor, org, scope).await?,
        }
        let current = existing.as_ref().map_or(0, |s| s.version);
        if let Some(expected) = expect_version.filter(|e| *e != current) {
            return Err(conflict(&what, expected, current));
        }
        if existing.as_ref().is_some_and(|s| s.deleted_at.is_some()) {
            return Err(Error::SecretDeleted(format!(
                "`{what}` is deleted; restore it before writing a new version"
            )));
        }
        let kind = kind
            .or(existing.as_ref().map(|s| s.kind))
            .unwrap_or(SecretKind::Password);
        let (secret, version) = existing
            .as_ref()
            .map_or((SecretId::new(), 1), |s| (s.id, s.version + 1));
        Ok(NextVersion {
            secret,
            version,
            kind,
            restricted: existing.as_ref().map(|s| s.restricted),
        })
    }

    /// Looks up the secret the actor named for `action`. In an org linked to Jira, Jira is asked
    /// first, so a refusal never depends on whether the secret exists.
    pub(in crate::service) async fn lookup(
        &self,
        actor: &Actor,
        org: &OrgRecord,
        scope: &Scope,
        name: &SecretName,
        action: SecretAction,
    ) -> Result<SecretRecord> {
        self.jira_admit(actor, org, scope, usage_of(action)).await?;
        self.catalog
            .secret(org.id, scope, name)
            .await
            .map_err(|e| Error::catalog(e, || secret_not_found(org, scope, name)))
    }

    /// Writes a new version (creating the secret if needed).
    pub async fn put_secret(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        req: PutSecret,
    ) -> Result<(SecretRecord, bool)> {
        let mut org = self
            .active_org_for(actor, slug, Action::WriteSecret)
            .await?;
        let now = Timestamp::now();
        check_write_options(req.expires_at, req.view_limit, now)?;
        let what = label(&req.scope, &req.name);
        let _turn = self.write_locks.lock((org.id, &req.scope, &req.name)).await;
        for _ in 0..WRITE_ATTEMPTS {
            let next = self
                .next_version(
                    actor,
                    &org,
                    &req.scope,
                    &req.name,
                    req.expect_version,
                    req.kind,
                )
                .await?;
            check_restriction(&what, req.restricted, next.restricted)?;
            let (id, version, kind) = (next.secret, next.version, next.kind);
            check_value(kind, req.value.as_bytes(), self.settings.max_secret_bytes)?;
            let key = self.org_key(org.id, org.key_version).await?;
            let sealed = coffer_envelope::seal(
                &key,
                &binding(org.id, id, version, org.key_version),
                req.value.as_bytes(),
            )
            .map_err(|e| Error::Internal(format!("sealing: {e}")))?;
            let blob_key = BlobKey::for_write(org.id, id, version);
            let filing = Filing {
                org: org.id,
                secret: id,
                version,
                scope: &req.scope,
                name: &req.name,
                kind,
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
                Bytes::from(sealed.bytes),
                manifest,
            )
            .await
            {
                Ok(()) => {}
                Err(BlobError::AlreadyExists) => continue, // only if two attempts drew one random key
                Err(e) => return Err(blob_error(e)),
            }
            let new = NewVersion {
                org: org.id,
                secret: id,
                scope: req.scope.clone(),
                name: req.name.clone(),
                kind,
                version,
                key_version: org.key_version,
                max_encryptions: self.settings.max_encryptions_per_key,
                blob_key: blob_key.clone(),
                storage: org.storage,
                wrapped_key: sealed.wrapped_key.to_bytes().to_vec(),
                size: req.value.as_bytes().len() as u64,
                at: now,
                by: actor.name.to_string(),
                expires_at: req.expires_at,
                view_limit: req.view_limit,
                restricted_to: (req.restricted == Some(true)).then_some(actor.user),
            };
            let details = serde_json::json!({"version": version, "kind": kind, "key_version": org.key_version});
            match self
                .catalog
                .put_version(new, event(actor, org.id, "secret.write", &what, details))
                .await
            {
                Ok(s) => {
                    if version == 1 {
                        self.jira_sync_issue(actor, &org, &req.scope).await;
                    }
                    return Ok((s, version == 1));
                }
                Err(e) => {
                    let blob = StoredBlob {
                        storage: org.storage,
                        key: blob_key,
                    };
                    self.discard_blob(&blob).await;
                    match e {
                        CatalogError::Conflict { current } => match req.expect_version {
                            Some(expected) => return Err(conflict(&what, expected, current)),
                            None => continue,
                        },
                        CatalogError::KeyExhausted => {
                            self.rotate_exhausted_key(actor, &org).await?;
                            org = self
                                .active_org_for(actor, slug, Action::WriteSecret)
                                .await?;
                        }
                        CatalogError::Deleted => {
                            return Err(Error::SecretDeleted(format!(
                                "`{what}` is deleted; restore it before writing a new version"
                            )));
                        }
                        other => return Err(Error::catalog(other, || what.clone())),
                    }
                }
            }
        }
        Err(Error::Unavailable(format!(
            "`{what}` is being written by others right now; retry"
        )))
    }

    /// Removes a blob no row will point at, and an envelope's manifest with it (best effort; the
    /// sweeper catches what this misses).
    pub(in crate::service) async fn discard_blob(&self, blob: &StoredBlob) {
        let deleted = match self.stores.get(self.catalog.as_ref(), blob.storage).await {
            Ok(store) => {
                let manifest = blob.key.manifest_key();
                let (envelope, manifest) = tokio::join!(store.delete(&blob.key), async {
                    match &manifest {
                        Some(m) => store.delete(m).await,
                        None => Ok(()),
                    }
                });
                envelope.and(manifest).map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = deleted {
            tracing::warn!(blob = %blob.key, error = %e, "could not remove an unreferenced blob; the sweeper will");
        }
    }

    /// Secrets of the org matching `filter` (metadata only).
    pub async fn list_secrets(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        mut filter: SecretFilter,
    ) -> Result<Vec<SecretRecord>> {
        let org = self
            .org_for(actor, slug, Action::ReadSecretMetadata)
            .await?;
        filter.limit = filter.limit.clamp(1, 10_000);
        let filtered_to = match (&filter.project, filter.issue) {
            (Some(p), Some(n)) => Scope::from_parts(p.as_str(), n).ok(),
            (Some(p), None) => Some(Scope::Project(p.clone())),
            _ => None,
        };
        if !self
            .jira_admit_list(actor, &org, filtered_to.as_ref())
            .await?
        {
            return Ok(Vec::new());
        }
        let listed = self
            .catalog
            .list_secrets(org.id, &filter)
            .await
            .map_err(|e| Error::catalog(e, || "secrets".into()))?;
        let visible = self.visible(actor, &org, listed).await?;
        Ok(visible.into_iter().map(|(s, _)| s).collect())
    }

    /// One secret's metadata.
    pub async fn secret(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        scope: &Scope,
        name: &SecretName,
    ) -> Result<SecretRecord> {
        let org = self
            .org_for(actor, slug, Action::ReadSecretMetadata)
            .await?;
        let s = self
            .lookup(actor, &org, scope, name, SecretAction::See)
            .await?;
        self.check_secret(actor, &org, &s, SecretAction::See)
            .await?;
        Ok(s)
    }

    /// A secret and its versions, newest first.
    pub async fn history(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        scope: &Scope,
        name: &SecretName,
    ) -> Result<(SecretRecord, Vec<VersionRecord>)> {
        let org = self
            .org_for(actor, slug, Action::ReadSecretMetadata)
            .await?;
        let s = self
            .lookup(actor, &org, scope, name, SecretAction::See)
            .await?;
        self.check_secret(actor, &org, &s, SecretAction::See)
            .await?;
        let versions = self
            .catalog
            .versions(s.id)
            .await
            .map_err(|e| Error::catalog(e, || label(scope, name)))?;
        Ok((s, versions))
    }

    /// Soft-deletes (`delete = true`) or restores a secret.
    pub async fn set_deleted(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        scope: &Scope,
        name: &SecretName,
        delete: bool,
    ) -> Result<SecretRecord> {
        let org = self
            .active_org_for(actor, slug, Action::DeleteSecret)
            .await?;
        let what = label(scope, name);
        let s = self
            .lookup(actor, &org, scope, name, SecretAction::Delete)
            .await?;
        self.check_secret(actor, &org, &s, SecretAction::Delete)
            .await?;
        let (at, action) = if delete {
            (Some(Timestamp::now()), "secret.delete")
        } else {
            (None, "secret.restore")
        };
        let changed = self
            .catalog
            .set_deleted(
                s.id,
                at,
                event(actor, org.id, action, &what, serde_json::json!({})),
            )
            .await
            .map_err(|e| Error::catalog(e, || format!("no secret `{what}`")))?;
        self.jira_sync_issue(actor, &org, scope).await;
        Ok(changed)
    }

    /// Destroys a secret: forgets every version's wrapped data key and deletes its blobs.
    pub async fn destroy_secret(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        scope: &Scope,
        name: &SecretName,
    ) -> Result<()> {
        let org = self
            .active_org_for(actor, slug, Action::DestroySecret)
            .await?;
        let what = label(scope, name);
        let s = self
            .lookup(actor, &org, scope, name, SecretAction::Destroy)
            .await?;
        self.check_secret(actor, &org, &s, SecretAction::Destroy)
            .await?;
        let details = serde_json::json!({"versions": s.version});
        let keys = self
            .catalog
            .destroy(s.id, event(actor, org.id, "secret.destroy", &what, details))
            .await
            .map_err(|e| Error::catalog(e, || format!("no secret `{what}`")))?;
        for blob in keys {
            self.discard_blob(&blob).await;
        }
        self.jira_sync_issue(actor, &org, scope).await;
        Ok(())
    }
}

/// A write may say `restricted` when it creates a secret; on an existing one it must agree, since
/// changing a restriction is managing access, not writing (`PUT …/restricted`).
pub(in crate::service) fn check_restriction(
    what: &str,
    wanted: Option<bool>,
    current: Option<bool>,
) -> Result<()> {
    match (wanted, current) {
        (Some(w), Some(c)) if w != c => Err(Error::InvalidInput(format!(
            "`{what}` exists and is {}restricted; change that with `coffer secret {}` (it takes \
             manage access), or leave `restricted` out of the write",
            if c { "" } else { "not " },
            if w { "restrict" } else { "unrestrict" }
        ))),
        _ => Ok(()),
    }
}

pub(in crate::service) fn conflict(what: &str, expected: u32, current: u32) -> Error {
    let now = if current == 0 {
        "it does not exist yet".to_owned()
    } else {
        format!("the current version is {current}")
    };
    Error::VersionConflict {
        current,
        message: format!(
            "`{what}`: expected version {expected} but {now}; re-read it and retry with --expect-version {current}"
        ),
    }
}

pub(in crate::service) fn blob_error(e: BlobError) -> Error {
    match e {
        BlobError::Unavailable(m) => {
            tracing::error!(error = %m, "blob store unavailable");
            Error::Unavailable("secret storage is unavailable; retry shortly".into())
        }
        BlobError::Refused(m) => Error::Unavailable(format!(
            "secret storage refused the request ({m}); if the org uses its own bucket, an org \
             admin must restore Coffer's access (see `coffer org storage setup`)"
        )),
        other => Error::Internal(format!("blob store: {other}")),
    }
}

/// The message of a secret that is not in `org`.
pub(in crate::service) fn secret_not_found(
    org: &OrgRecord,
    scope: &Scope,
    name: &SecretName,
) -> String {
    format!("no secret `{}` in org `{}`", label(scope, name), org.slug)
}
