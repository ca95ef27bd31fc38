//! Org settings that are credentials (an OpenID client secret, a Jira OAuth client secret, a Jira
//! webhook secret, a person's Jira tokens): sealed under the current org key like a secret value
//! (envelope format v1, bound to a fresh id and the key version, version 1; docs/formats.md), so
//! the catalog holds them only as ciphertext and they rotate with nothing else to do.

use crate::catalog::SealedValue;
use crate::domain::{OrgId, SecretId};
use crate::service::{Coffer, Error, Result};
use zeroize::Zeroizing;

/// The largest setting that is opened.
const MAX_SETTING: usize = 64 * 1024;

impl Coffer {
    /// Seals `plain` under the org's current key.
    pub(in crate::service) async fn seal_setting(
        &self,
        org: OrgId,
        key_version: u32,
        plain: &[u8],
        what: &str,
    ) -> Result<SealedValue> {
        let id = SecretId::new();
        let key = self.org_key(org, key_version).await?;
        let sealed = coffer_envelope::seal(
            &key,
            &crate::service::secrets::binding(org, id, 1, key_version),
            plain,
        )
        .map_err(|e| Error::Internal(format!("sealing {what}: {e}")))?;
        Ok(SealedValue {
            id,
            key_version,
            envelope: sealed.bytes,
        })
    }

    /// Opens a sealed setting of `org`; `what` names it in the error.
    pub(in crate::service) async fn open_setting(
        &self,
        org: OrgId,
        sealed: &SealedValue,
        what: &str,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let key = self.org_key(org, sealed.key_version).await?;
        let plain = coffer_envelope::open(
            &key,
            &crate::service::secrets::binding(org, sealed.id, 1, sealed.key_version),
            &sealed.envelope,
            MAX_SETTING,
        )
        .map_err(|e| Error::Integrity(format!("the stored {what} cannot be opened: {e}")))?;
        Ok(Zeroizing::new(plain.as_bytes().to_vec()))
    }

    /// [`Coffer::open_setting`] for a text setting.
    pub(in crate::service) async fn open_text_setting(
        &self,
        org: OrgId,
        sealed: &SealedValue,
        what: &str,
    ) -> Result<Zeroizing<String>> {
        let bytes = self.open_setting(org, sealed, what).await?;
        String::from_utf8(bytes.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| Error::Integrity(format!("the stored {what} is not text")))
    }
}
