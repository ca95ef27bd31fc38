//! Presigned downloads of one version's envelope (`…/versions/{n}/envelope-url`): ciphertext
//! straight from the org's bucket, for clients that open envelopes themselves. Not a reveal (no
//! view is counted; opening still needs the org key), but it needs the reveal permission, is
//! refused for secrets that could not be revealed, and is audited as `secret.envelope_url`
//! before the URL is handed out. Envelopes in the deployment's default store have no such URL.

use crate::domain::policy::{Action, Actor, SecretAction};
use crate::domain::{OrgSlug, Scope, SecretName, Timestamp};
use crate::service::secrets::{blob_error, label};
use crate::service::{Coffer, Error, Result, event, unavailable_reason};

impl Coffer {
    /// A presigned GET of version `n`'s envelope and when it expires.
    pub async fn envelope_url(
        &self,
        actor: &Actor,
        slug: &OrgSlug,
        scope: &Scope,
        name: &SecretName,
        n: u32,
    ) -> Result<(String, Timestamp)> {
        let org = self
            .active_org_for(actor, slug, Action::RevealSecret)
            .await?;
        let what = label(scope, name);
        let secret = self
            .lookup(actor, &org, scope, name, SecretAction::Reveal)
            .await?;
        self.check_secret(actor, &org, &secret, SecretAction::Reveal)
            .await?;
        let now = Timestamp::now();
        if let Some(why) = unavailable_reason(&secret, now) {
            return Err(Error::Gone(format!("`{what}` cannot be read: {why}")));
        }
        let v = self.catalog.version(secret.id, n).await.map_err(|e| {
            Error::catalog(e, || {
                format!(
                    "`{what}` has no version {n}; the latest is {}",
                    secret.version
                )
            })
        })?;
        let Some(storage) = v.storage else {
            return Err(Error::Conflict {
                code: "envelope_in_default_store",
                message: format!(
                    "version {n} of `{what}` is in Coffer's default store, which has no presigned \
                     URLs; reveal it through the API instead, or point the org at its own bucket \
                     (`coffer org storage`) and let the migration move it there"
                ),
            });
        };
        let ttl = self.presign_ttl();
        let bucket = self.stores.bucket(self.catalog.as_ref(), storage).await?;
        let url = bucket
            .presign_get(&v.blob_key, ttl)
            .await
            .map_err(blob_error)?;
        let details = serde_json::json!({"version": n});
        self.catalog
            .append_audit(event(actor, org.id, "secret.envelope_url", &what, details))
            .await
            .map_err(|e| Error::catalog(e, || what.clone()))?;
        Ok((url, now.plus(ttl)))
    }
}
