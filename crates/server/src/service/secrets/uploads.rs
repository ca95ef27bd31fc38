//! Client-side encryption: the client seals a version's envelope itself and Coffer only checks
//! and files it (issue 3, "Presigned browser path").
//!
//! `create_upload` does put_secret's checks (size, kind, check-and-set), wraps a fresh data key
//! under the org key for the version's binding, records a [`PendingUpload`] (never the data key)
//! and answers where to `PUT` the envelope: a presigned URL into the org's bucket, or Coffer's
//! own `…/uploads/{id}/envelope` for the default store. `commit_upload` reads the object back and
//! believes nothing the client said: SHA-256, header structure (bounded), binding, wrapped key,
//! declared size, then a full open with the org key (integrity and key commitment) and the
//! kind's value rules; the plaintext is dropped (zeroized) at once. A refused upload is deleted
//! with its grant, so nothing becomes visible. An accepted one is written again, from the
//! verified bytes, under a fresh key that only Coffer writes — a presigned PUT stays usable until
//! it expires, so the uploaded object itself must never be what a version points at — and then
//! becomes the version through `put_version` (check-and-set, audit event).

use crate::blob::{BlobError, BlobKey};
use crate::catalog::{OrgRecord, PendingUpload, StoredBlob};
use crate::domain::policy::{Action, Actor};
use crate::domain::{OrgSlug, Scope, SecretKind, SecretName, Timestamp, UploadId};
use crate::service::secrets::{binding, blob_error, check_restriction, check_write_options, label};
use crate::service::{Coffer, Error, Result, event};
use bytes::Bytes;
use coffer_envelope::{DataKey, Key32, OVERHEAD};
use std::time::Duration;

/// Grant lifetime when no presign TTL is configured.
const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// A request to start a client-side write.
pub struct NewUpload {
    /// Where.
    pub scope: Scope,
    /// Name.
    pub name: SecretName,
    /// Kind (defaults to the existing kind, or `password`).
    pub kind: Option<SecretKind>,
    /// Check-and-set on the current version (0: must not exist).
    pub expect_version: Option<u32>,
    /// Expiry of the new version.
    pub expires_at: Option<Timestamp>,
    /// View limit of the new version.
    pub view_limit: Option<u32>,
    /// Declared plaintext size.
    pub size: u64,
    /// Create the secret restricted to its shares (its creator gets `manage`); on an existing
    /// secret it must match.
    pub restricted: Option<bool>,
}

/// What the client needs to seal and upload: the grant, the data key (handed out once, never
/// stored; its `Debug` is redacted) and where to put the envelope.
pub struct Grant {
    /// The recorded grant.
    pub upload: PendingUpload,
    /// The fresh data key.
    pub data_key: DataKey,
    /// Where to `PUT` the envelope (a path under `/api/v1` unless presigned).
    pub put_url: String,
    /// Whether `put_url` is presigned.
    pub presigned: bool,
}

impl Coffer {
    /// How long grants and presigned URLs live.
    pub(in crate::service) fn presign_ttl(&self) -> Duration {
        Some(self.stores.settings().presign_ttl)
            .filter(|t| !t.is_zero())
            .unwrap_or(DEFAULT_TTL)
    }

    /// Grants a client-side write of the next version of a secret.
    pub async fn create_upload(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        req: NewUpload,
    ) -> Result<Grant> {
        let org = self
            .active_org_for(actor, slug, Action::WriteSecret)
            .await?;
        let now = Timestamp::now();
        check_write_options(req.expires_at, req.view_limit, now)?;
        let max = self.settings.max_secret_bytes;
        if req.size > max as u64 {
            return Err(Error::TooLarge(format!(
                "the value is {} bytes; the limit is {max} bytes",
                req.size
            )));
        }
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
        let what = label(&req.scope, &req.name);
        check_restriction(&what, req.restricted, next.restricted)?;
        let (secret, version, kind) = (next.secret, next.version, next.kind);
        let key = self.org_key(org.id, org.key_version).await?;
        let internal = |e: coffer_envelope::EnvelopeError| Error::Internal(format!("wrap: {e}"));
        let data_key = Key32::try_generate().map_err(internal)?;
        let wrapped = coffer_envelope::try_wrap_data_key(
            &key,
            &binding(org.id, secret, version, org.key_version),
            &data_key,
        )
        .map_err(internal)?;
        let id = UploadId::new();
        let blob_key = BlobKey::for_write(org.id, secret, version);
        let ttl = self.presign_ttl();
        let (put_url, presigned) = match org.storage {
            Some(sid) => {
                let bucket = self.stores.bucket(self.catalog.as_ref(), sid).await?;
                let url = bucket.presign_put(&blob_key, ttl).await;
                (url.map_err(blob_error)?, true)
            }
            None => (
                format!(
                    "{}/orgs/{}/uploads/{id}/envelope",
                    coffer_api::API_PREFIX,
                    org.slug
                ),
                false,
            ),
        };
        let upload = PendingUpload {
            id,
            org: org.id,
            secret,
            scope: req.scope,
            name: req.name,
            kind,
            version,
            key_version: org.key_version,
            wrapped_key: wrapped.to_bytes().to_vec(),
            blob_key,
            storage: org.storage,
            size: req.size,
            expires_at: now.plus(ttl),
            created_at: now,
            created_by: actor.name.to_string(),
            secret_expires_at: req.expires_at,
            view_limit: req.view_limit,
            restricted: version == 1 && req.restricted == Some(true),
        };
        let details = serde_json::json!({"upload": id.to_string(), "version": version,
            "kind": kind, "key_version": org.key_version, "size": req.size, "presigned": presigned});
        let audit = event(actor, org.id, "secret.upload_create", &what, details);
        self.catalog
            .create_upload(upload.clone(), audit)
            .await
            .map_err(|e| Error::catalog(e, || format!("upload {id}")))?;
        Ok(Grant {
            upload,
            data_key,
            put_url,
            presigned,
        })
    }

    /// A grant of `org` to `actor` that has not expired (an expired one is cleaned up: 410).
    /// A grant belongs to the user who asked for it: to anyone else it is not found.
    pub(in crate::service) async fn live_upload(
        &self,
        actor: &Actor,
        org: &OrgRecord,
        id: UploadId,
    ) -> Result<PendingUpload> {
        let not_found = || format!("no upload {id} of yours in org `{}`", org.slug);
        let u = self
            .catalog
            .upload(org.id, id)
            .await
            .map_err(|e| Error::catalog(e, not_found))?;
        if u.created_by != actor.name.as_str() {
            return Err(Error::NotFound(not_found()));
        }
        if u.expires_at <= Timestamp::now() {
            self.abandon(&u).await;
            return Err(Error::UploadExpired(format!(
                "upload {id} expired at {}; start a new upload",
                u.expires_at.to_datetime()
            )));
        }
        Ok(u)
    }

    /// Deletes a grant's uploaded object and the grant (best effort; the sweeper catches
    /// objects, later grants purge expired rows).
    pub(in crate::service) async fn abandon(&self, u: &PendingUpload) {
        let blob = StoredBlob {
            storage: u.storage,
            key: u.blob_key.clone(),
        };
        self.discard_blob(&blob).await;
        if let Err(e) = self.catalog.delete_upload(u.org, u.id).await {
            tracing::warn!(upload = %u.id, error = %e, "could not forget an upload grant");
        }
    }

    /// Stores the envelope of a default-store upload (what the grant's own `put_url` does).
    pub async fn put_upload_envelope(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        id: UploadId,
        bytes: Bytes,
    ) -> Result<()> {
        let org = self
            .active_org_for(actor, slug, Action::WriteSecret)
            .await?;
        let u = self.live_upload(actor, &org, id).await?;
        if u.storage.is_some() {
            return Err(Error::Conflict {
                code: "upload_presigned",
                message: format!(
                    "upload {id} goes straight to the org's bucket: PUT the envelope to the grant's presigned put_url"
                ),
            });
        }
        let expected = u.size + OVERHEAD as u64;
        if bytes.len() as u64 != expected {
            return Err(Error::InvalidInput(format!(
                "the envelope is {} bytes, but the envelope of a {}-byte value is {expected} bytes",
                bytes.len(),
                u.size
            )));
        }
        match self
            .stores
            .default_store()
            .put_if_absent(&u.blob_key, bytes)
            .await
        {
            Ok(()) => Ok(()),
            Err(BlobError::AlreadyExists) => Err(Error::Conflict {
                code: "upload_exists",
                message: format!(
                    "an envelope was already uploaded for upload {id}; commit it, or start a new upload"
                ),
            }),
            Err(e) => Err(blob_error(e)),
        }
    }
}
