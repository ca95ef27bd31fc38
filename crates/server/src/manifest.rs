//! The per-version manifest: what lets an org's bucket alone — with the org's recovery kit, and
//! no catalog — say which secret each envelope is. Every secret version's envelope
//! (`…/v{n}-{hex}.cfr`) has a manifest beside it (`…/v{n}-{hex}.cfm`, [`BlobKey::manifest_key`])
//! naming the envelope's scope, name, kind, version and writer. Names are as sensitive as the
//! catalog keeps them, so the manifest is sealed like a value: an [envelope v1] under the org key,
//! bound to the org and to a fresh id of its own (as sealed settings are), so that a manifest can
//! never pass for a value — a reader that checks a value's binding refuses it — and a value never
//! parses as a manifest. What ties a manifest to its envelope is its authenticated content: the
//! envelope's object key, secret id and version, which a reader compares with the envelope's own
//! key and header.
//!
//! Format v1 (docs/formats.md "Version manifests"): one UTF-8 JSON object, sealed. Pure: no I/O;
//! the write path, the storage migration and `coffer recover` call it.
//!
//! [envelope v1]: ../../../docs/envelope-format.md

use crate::blob::BlobKey;
use crate::domain::{OrgId, SecretId, Timestamp};
use coffer_api::SecretKind;
use coffer_envelope::{Binding, OrgKey};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The `format` field of every manifest.
pub const FORMAT: &str = "coffer-manifest";
/// The manifest format this code writes and reads.
pub const VERSION: u32 = 1;
/// The largest manifest a reader opens (a real one is well under 1 KiB).
pub const MAX_SEALED: usize = 64 * 1024;

/// One secret version, as its manifest names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The org (the envelope header's org id).
    pub org_id: OrgId,
    /// The secret (the envelope header's secret id).
    pub secret_id: SecretId,
    /// The secret version (the envelope header's version).
    pub secret_version: u32,
    /// The envelope's object key within the store, without the store's prefix.
    pub object: String,
    /// The scope when the version was written: a project key (`OPS`) or an issue key (`OPS-123`).
    pub scope: String,
    /// The secret's name when the version was written.
    pub name: String,
    /// The secret's kind.
    pub kind: SecretKind,
    /// When the version was written.
    #[serde(with = "time::serde::rfc3339")]
    pub written_at: OffsetDateTime,
    /// Who wrote it (a user or service account name).
    pub written_by: String,
}

/// What a manifest describes, to build one.
pub struct Describes<'a> {
    /// The org.
    pub org: OrgId,
    /// The secret.
    pub secret: SecretId,
    /// Its version.
    pub version: u32,
    /// The envelope's key.
    pub object: &'a BlobKey,
    /// Scope text.
    pub scope: String,
    /// Name text.
    pub name: String,
    /// Kind.
    pub kind: SecretKind,
    /// When written.
    pub at: Timestamp,
    /// By whom.
    pub by: &'a str,
}

/// Why a manifest could not be read. Names what is wrong; never holds key material or values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    /// Not an envelope, or it does not open with the given key (altered, or another org's).
    #[error("the manifest does not open: {0}")]
    Sealed(String),
    /// It opened but is not a manifest this code reads.
    #[error("the manifest is not a Coffer manifest v1: {0}")]
    Format(String),
    /// It is a valid manifest of something else than the envelope beside it.
    #[error("the manifest describes {0}")]
    Mismatch(String),
}

impl Manifest {
    /// The manifest of a version about to be written.
    pub fn new(d: Describes<'_>) -> Self {
        Self {
            format: FORMAT.into(),
            version: VERSION,
            org_id: d.org,
            secret_id: d.secret,
            secret_version: d.version,
            object: d.object.as_str().to_owned(),
            scope: d.scope,
            name: d.name,
            kind: d.kind,
            written_at: d.at.to_datetime(),
            written_by: d.by.to_owned(),
        }
    }

    /// Seals the manifest under `org_key` (org-key version `key_version`), bound to a fresh id.
    pub fn seal(&self, org_key: &OrgKey, key_version: u32) -> Result<Vec<u8>, ManifestError> {
        let json = serde_json::to_vec(self).map_err(|e| ManifestError::Format(e.to_string()))?;
        let binding = Binding {
            org: self.org_id.to_bytes(),
            secret: SecretId::new().to_bytes(),
            version: 1,
            key_version,
        };
        coffer_envelope::seal(org_key, &binding, &json)
            .map(|s| s.bytes)
            .map_err(|e| ManifestError::Sealed(e.to_string()))
    }

    /// The org and org-key version a sealed manifest's header names: which key opens it.
    pub fn sealed_under(sealed: &[u8]) -> Result<(OrgId, u32), ManifestError> {
        let envelope = coffer_envelope::parse(sealed, MAX_SEALED)
            .map_err(|e| ManifestError::Sealed(e.to_string()))?;
        let b = envelope.binding;
        Ok((
            OrgId::from_uuid(uuid::Uuid::from_bytes(b.org)),
            b.key_version,
        ))
    }

    /// Opens a sealed manifest with `org_key`, the key of the org and org-key version its header
    /// names ([`Manifest::sealed_under`]); the manifest must be of that org.
    pub fn open(sealed: &[u8], org_key: &OrgKey) -> Result<Self, ManifestError> {
        let envelope = coffer_envelope::parse(sealed, MAX_SEALED)
            .map_err(|e| ManifestError::Sealed(e.to_string()))?;
        let binding = envelope.binding;
        let org = OrgId::from_uuid(uuid::Uuid::from_bytes(binding.org));
        let plain = coffer_envelope::open(org_key, &binding, sealed, MAX_SEALED)
            .map_err(|e| ManifestError::Sealed(e.to_string()))?;
        let m: Self = serde_json::from_slice(plain.as_bytes())
            .map_err(|e| ManifestError::Format(e.to_string()))?;
        if m.format != FORMAT || m.version != VERSION {
            return Err(ManifestError::Format(format!(
                "format {:?} version {}",
                m.format, m.version
            )));
        }
        if m.org_id != org {
            return Err(ManifestError::Mismatch(format!(
                "org {} but is sealed by org {org}",
                m.org_id
            )));
        }
        Ok(m)
    }

    /// Checks that this manifest names the envelope at `object` whose header binds `binding`.
    pub fn check_describes(
        &self,
        object: &BlobKey,
        binding: &Binding,
    ) -> Result<(), ManifestError> {
        let secret = SecretId::from_uuid(uuid::Uuid::from_bytes(binding.secret));
        let org = OrgId::from_uuid(uuid::Uuid::from_bytes(binding.org));
        if self.object != object.as_str()
            || self.secret_id != secret
            || self.secret_version != binding.version
            || self.org_id != org
        {
            return Err(ManifestError::Mismatch(format!(
                "{} (secret {} version {}), not the envelope {object} beside it",
                self.object, self.secret_id, self.secret_version
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(org: OrgId, object: &BlobKey, secret: SecretId) -> Manifest {
        Manifest::new(Describes {
            org,
            secret,
            version: 2,
            object,
            scope: "OPS-123".into(),
            name: "db-password".into(),
            kind: SecretKind::Password,
            at: Timestamp::from_millis(1_700_000_000_000),
            by: "alice",
        })
    }

    #[test]
    fn seals_opens_and_describes_only_its_envelope() {
        let (org, secret) = (OrgId::new(), SecretId::new());
        let object = BlobKey::for_write(org, secret, 2);
        let m = sample(org, &object, secret);
        let key = OrgKey::generate();
        let sealed = m.seal(&key, 3).unwrap();
        assert_eq!(Manifest::sealed_under(&sealed).unwrap(), (org, 3));
        let opened = Manifest::open(&sealed, &key).unwrap();
        assert_eq!(opened, m);
        let value_binding = Binding {
            org: org.to_bytes(),
            secret: secret.to_bytes(),
            version: 2,
            key_version: 3,
        };
        opened.check_describes(&object, &value_binding).unwrap();
        let other = BlobKey::for_write(org, secret, 2);
        assert!(matches!(
            opened.check_describes(&other, &value_binding),
            Err(ManifestError::Mismatch(_))
        ));
        let v3 = Binding {
            version: 3,
            ..value_binding
        };
        assert!(opened.check_describes(&object, &v3).is_err());
    }

    #[test]
    fn refuses_another_key_an_altered_byte_and_a_sealed_value() {
        let (org, secret) = (OrgId::new(), SecretId::new());
        let object = BlobKey::for_write(org, secret, 2);
        let key = OrgKey::generate();
        let mut sealed = sample(org, &object, secret).seal(&key, 1).unwrap();
        let other = OrgKey::generate();
        assert!(matches!(
            Manifest::open(&sealed, &other),
            Err(ManifestError::Sealed(_))
        ));
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(Manifest::open(&sealed, &key).is_err());
        let value = coffer_envelope::seal(
            &key,
            &Binding {
                org: org.to_bytes(),
                secret: secret.to_bytes(),
                version: 2,
                key_version: 1,
            },
            b"hunter2",
        )
        .unwrap();
        assert!(matches!(
            Manifest::open(&value.bytes, &key),
            Err(ManifestError::Format(_))
        ));
    }
}
