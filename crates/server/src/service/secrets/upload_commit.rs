//! Committing a client-side upload (see [`super::uploads`] for the flow): read the uploaded
//! object back, verify it against the grant without believing anything the client said, then
//! file the verified bytes under a key only Coffer writes, with their manifest, and append the
//! version.

use crate::blob::{BlobError, BlobKey};
use crate::catalog::{
    CatalogError, NewVersion, OrgRecord, PendingUpload, SecretRecord, StoredBlob,
};
use crate::domain::policy::{Action, Actor, SecretAction};
use crate::domain::{OrgSlug, Timestamp, UploadId};
use crate::service::secrets::manifests::{Filing, put_with_manifest};
use crate::service::secrets::{binding, blob_error, check_value, conflict, label};
use crate::service::{Coffer, Error, Result, event};
use coffer_envelope::OVERHEAD;

fn refused(id: UploadId, what: &str, why: &str) -> Error {
    Error::Rejected {
        code: "upload_rejected",
        message: format!(
            "upload {id} for `{what}` was refused and discarded: {why}; nothing was stored, start a new upload"
        ),
    }
}

impl Coffer {
    /// Checks the uploaded envelope and makes it the secret's next version. Returns the secret
    /// and whether it was created.
    pub async fn commit_upload(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        id: UploadId,
        sha256: &str,
    ) -> Result<(SecretRecord, bool)> {
        let org = self
            .active_org_for(actor, slug, Action::WriteSecret)
            .await?;
        let want = hex::decode(sha256.trim())
            .ok()
            .filter(|h| h.len() == 32)
            .ok_or_else(|| {
                Error::InvalidInput(
                    "`sha256` must be 64 hex digits: the SHA-256 of the uploaded envelope".into(),
                )
            })?;
        let u = self.live_upload(actor, &org, id).await?;
        let what = label(&u.scope, &u.name);
        // Access may have changed since the grant: the commit is a write like any other, Jira
        // asked first.
        self.jira_admit(actor, &org, &u.scope, crate::service::jira::Use::Write)
            .await?;
        match self.catalog.secret(org.id, &u.scope, &u.name).await {
            Ok(s) => {
                self.check_secret(actor, &org, &s, SecretAction::Write)
                    .await?;
            }
            Err(CatalogError::NotFound) => self.check_new_secret(actor, &org, &u.scope).await?,
            Err(e) => return Err(Error::catalog(e, || what.clone())),
        }
        let store = self.stores.get(self.catalog.as_ref(), u.storage).await?;
        let bytes = match store.get(&u.blob_key).await {
            Ok(b) => b,
            Err(BlobError::NotFound) => {
                return Err(Error::Conflict {
                    code: "upload_missing",
                    message: format!(
                        "no envelope has been uploaded for upload {id} yet: PUT it to the grant's put_url, then commit"
                    ),
                });
            }
            Err(e) => return Err(blob_error(e)),
        };
        if let Err(why) = self.verify_upload(&org, &u, &bytes, &want).await? {
            self.abandon(&u).await;
            tracing::warn!(upload = %id, reason = %why, "refused a client-side upload");
            return Err(refused(id, &what, &why));
        }
        let blob_key = BlobKey::for_write(org.id, u.secret, u.version);
        let at = Timestamp::now();
        let filing = Filing {
            org: org.id,
            secret: u.secret,
            version: u.version,
            scope: &u.scope,
            name: &u.name,
            kind: u.kind,
            at,
            by: actor.name.as_str(),
        };
        let manifest = self
            .seal_manifest(&filing, &blob_key, u.key_version)
            .await?;
        put_with_manifest(store.as_ref(), &blob_key, bytes, manifest)
            .await
            .map_err(blob_error)?;
        let new = NewVersion {
            org: org.id,
            secret: u.secret,
            scope: u.scope.clone(),
            name: u.name.clone(),
            kind: u.kind,
            version: u.version,
            key_version: u.key_version,
            max_encryptions: self.settings.max_encryptions_per_key,
            blob_key: blob_key.clone(),
            storage: u.storage,
            wrapped_key: u.wrapped_key.clone(),
            size: u.size,
            at,
            by: actor.name.to_string(),
            expires_at: u.secret_expires_at,
            view_limit: u.view_limit,
            restricted_to: u.restricted.then_some(actor.user),
        };
        let details = serde_json::json!({"upload": id.to_string(), "version": u.version,
            "kind": u.kind, "key_version": u.key_version});
        let audit = event(actor, org.id, "secret.upload_commit", &what, details);
        match self.catalog.put_version(new, audit).await {
            Ok(s) => {
                self.abandon(&u).await;
                Ok((s, u.version == 1))
            }
            Err(e) => {
                let filed = StoredBlob {
                    storage: u.storage,
                    key: blob_key,
                };
                self.discard_blob(&filed).await;
                if !matches!(e, CatalogError::Unavailable(_)) {
                    self.abandon(&u).await;
                }
                Err(match e {
                    CatalogError::Conflict { current } => conflict(&what, u.version - 1, current),
                    CatalogError::Deleted => Error::SecretDeleted(format!(
                        "`{what}` is deleted; restore it before writing a new version"
                    )),
                    CatalogError::KeyExhausted => {
                        self.rotate_exhausted_key(actor, &org).await?;
                        Error::Unavailable(format!(
                            "the org key had to be rotated; start a new upload for `{what}`"
                        ))
                    }
                    other => Error::catalog(other, || what.clone()),
                })
            }
        }
    }

    /// `Ok(Err(why))` if the uploaded bytes are not exactly what the grant allows; `Err` only
    /// for failures that are not the upload's fault (the org key is unavailable).
    async fn verify_upload(
        &self,
        org: &OrgRecord,
        u: &PendingUpload,
        bytes: &[u8],
        want: &[u8],
    ) -> Result<Result<(), String>> {
        let got = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
        if got.as_ref() != want {
            return Ok(Err(format!(
                "the stored object's SHA-256 is {}, not the {} given at commit",
                hex::encode(got.as_ref()),
                hex::encode(want)
            )));
        }
        let max = self.settings.max_secret_bytes + OVERHEAD;
        let envelope = match coffer_envelope::parse(bytes, max) {
            Ok(e) => e,
            Err(e) => return Ok(Err(format!("the object is not a valid envelope ({e})"))),
        };
        let expected = binding(org.id, u.secret, u.version, u.key_version);
        if let Some(field) = envelope.binding.first_mismatch(&expected) {
            return Ok(Err(format!(
                "the envelope header binds another {field} than the grant"
            )));
        }
        if envelope.wrapped_key.to_bytes()[..] != u.wrapped_key[..] {
            return Ok(Err(
                "the envelope carries another wrapped data key than the one granted".into(),
            ));
        }
        if envelope.plaintext_len() as u64 != u.size {
            return Ok(Err(format!(
                "the envelope holds a {}-byte value, but {} bytes were declared",
                envelope.plaintext_len(),
                u.size
            )));
        }
        let key = self.org_key(org.id, u.key_version).await?;
        let Ok(value) = coffer_envelope::open(&key, &expected, bytes, max) else {
            return Ok(Err("the envelope failed its integrity check (tampered, corrupted, or sealed with another data key)".into()));
        };
        Ok(
            check_value(u.kind, value.as_bytes(), self.settings.max_secret_bytes)
                .map_err(|e| e.to_string()),
        )
    }
}
