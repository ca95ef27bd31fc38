//! The per-version manifest: what lets an org's bucket alone — with the org's recovery kit, and
//! no catalog — say which secret each envelope is. Every secret version's envelope
//! (`…/v{n}-{hex}.cfr`) has a manifest beside it (`…/v{n}-{hex}.cfm`, [`BlobKey::manifest_key`])
//! naming the envelope's scope, name, kind, version and writer. Names are as sensitive as the
//! catalog keeps them, so the manifest is sealed like a value: an [envelope v1] under the org key.
//! Its binding is the org, the **manifest id** of the secret ([`manifest_id`]: derived from the
//! secret id, a version-8 UUID no secret ever has, as Coffer gives secrets version-7 ids) and
//! the secret version. So a manifest opens only as the manifest of that secret version: it can
//! never pass for a value (a value's binding carries the secret's own id), a value never passes
//! for a manifest (no value is sealed under a manifest id, whatever its plaintext), and a
//! manifest moved onto another version's envelope is refused by its binding before its content
//! is read. Its content repeats the ids and version, and the scope and name it gives are parsed
//! like the API's before anyone uses them.
//!
//! Format v1 (docs/formats.md "Version manifests"): one UTF-8 JSON object, sealed. Pure: no I/O;
//! the write path, the storage migration and `coffer recover` call it.
//!
//! [envelope v1]: ../../../docs/envelope-format.md

use crate::blob::BlobKey;
use crate::domain::{OrgId, Scope, SecretId, SecretName, Timestamp};
use aws_lc_rs::digest;
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

/// The id a secret's manifests are bound to in place of the secret id: the first 16 bytes of
/// SHA-256(`coffer-manifest-v1\0` ‖ secret id), marked as a version-8 (custom) RFC 9562 UUID.
pub fn manifest_id(secret: SecretId) -> [u8; 16] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"coffer-manifest-v1\0");
    ctx.update(&secret.to_bytes());
    let d = ctx.finish();
    let mut id = [0u8; 16];
    id.copy_from_slice(&d.as_ref()[..16]);
    id[6] = (id[6] & 0x0f) | 0x80; // version 8
    id[8] = (id[8] & 0x3f) | 0x80; // RFC 9562 variant
    id
}

/// Whether an envelope header's binding is a manifest's (a version-8 id), not a value's.
pub fn is_manifest_binding(binding: &Binding) -> bool {
    binding.secret[6] >> 4 == 8
}

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
    /// The envelope's object key within the store (without the store's prefix) when the manifest
    /// was written; a storage migration copies the manifest unchanged beside a copy with another
    /// key, so this is informative, not a check.
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

    /// The binding of this manifest's envelope under org-key version `key_version`.
    pub fn binding(&self, key_version: u32) -> Binding {
        Binding {
            org: self.org_id.to_bytes(),
            secret: manifest_id(self.secret_id),
            version: self.secret_version,
            key_version,
        }
    }

    /// Seals the manifest under `org_key` (org-key version `key_version`).
    pub fn seal(&self, org_key: &OrgKey, key_version: u32) -> Result<Vec<u8>, ManifestError> {
        let json = serde_json::to_vec(self).map_err(|e| ManifestError::Format(e.to_string()))?;
        let binding = self.binding(key_version);
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

    /// Opens the sealed manifest of the envelope whose header binds `value` (org, secret,
    /// version), with `org_key`: the key of the org-key version its own header names
    /// ([`Manifest::sealed_under`]). Anything but that secret version's manifest is refused.
    pub fn open(sealed: &[u8], value: &Binding, org_key: &OrgKey) -> Result<Self, ManifestError> {
        let envelope = coffer_envelope::parse(sealed, MAX_SEALED)
            .map_err(|e| ManifestError::Sealed(e.to_string()))?;
        let binding = envelope.binding;
        let secret = SecretId::from_uuid(uuid::Uuid::from_bytes(value.secret));
        if binding.org != value.org
            || binding.secret != manifest_id(secret)
            || binding.version != value.version
        {
            return Err(ManifestError::Mismatch(format!(
                "another envelope than this one (its binding is not the manifest binding of secret {secret} version {})",
                value.version
            )));
        }
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
        if m.org_id != org || m.secret_id != secret || m.secret_version != value.version {
            return Err(ManifestError::Mismatch(format!(
                "secret {} version {} of org {}, but is sealed as the manifest of secret {secret} version {} of org {org}",
                m.secret_id, m.secret_version, m.org_id, value.version
            )));
        }
        Scope::parse(&m.scope).map_err(|e| ManifestError::Format(format!("its scope: {e}")))?;
        SecretName::parse(&m.name).map_err(|e| ManifestError::Format(format!("its name: {e}")))?;
        Ok(m)
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

    fn value_binding(org: OrgId, secret: SecretId, version: u32) -> Binding {
        Binding {
            org: org.to_bytes(),
            secret: secret.to_bytes(),
            version,
            key_version: 3,
        }
    }

    #[test]
    fn manifest_ids_are_version_8_and_never_a_secrets() {
        let secret = SecretId::new();
        let id = manifest_id(secret);
        assert_eq!(id, manifest_id(secret), "derived, not drawn");
        assert_ne!(id, manifest_id(SecretId::new()));
        assert_eq!(uuid::Uuid::from_bytes(id).get_version_num(), 8);
        assert_eq!(secret.as_uuid().get_version_num(), 7);
        assert!(is_manifest_binding(&Binding {
            secret: id,
            ..value_binding(OrgId::new(), secret, 1)
        }));
        assert!(!is_manifest_binding(&value_binding(
            OrgId::new(),
            secret,
            1
        )));
    }

    #[test]
    fn seals_and_opens_only_as_its_own_versions_manifest() {
        let (org, secret) = (OrgId::new(), SecretId::new());
        let object = BlobKey::for_write(org, secret, 2);
        let m = sample(org, &object, secret);
        let key = OrgKey::generate();
        let sealed = m.seal(&key, 3).unwrap();
        assert_eq!(Manifest::sealed_under(&sealed).unwrap(), (org, 3));
        let opened = Manifest::open(&sealed, &value_binding(org, secret, 2), &key).unwrap();
        assert_eq!(opened, m);
        for other in [
            value_binding(org, secret, 3),
            value_binding(org, SecretId::new(), 2),
            value_binding(OrgId::new(), secret, 2),
        ] {
            assert!(matches!(
                Manifest::open(&sealed, &other, &key),
                Err(ManifestError::Mismatch(_))
            ));
        }
    }

    #[test]
    fn refuses_another_key_an_altered_byte_a_value_and_a_bad_name() {
        let (org, secret) = (OrgId::new(), SecretId::new());
        let object = BlobKey::for_write(org, secret, 2);
        let key = OrgKey::generate();
        let v = value_binding(org, secret, 2);
        let mut sealed = sample(org, &object, secret).seal(&key, 3).unwrap();
        assert!(matches!(
            Manifest::open(&sealed, &v, &OrgKey::generate()),
            Err(ManifestError::Sealed(_))
        ));
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(Manifest::open(&sealed, &v, &key).is_err());
        // A value whose plaintext is a manifest's JSON is still a value: refused by its binding.
        let json = serde_json::to_vec(&sample(org, &object, secret)).unwrap();
        let value = coffer_envelope::seal(&key, &v, &json).unwrap();
        assert!(matches!(
            Manifest::open(&value.bytes, &v, &key),
            Err(ManifestError::Mismatch(_))
        ));
        // A manifest naming a path, sealed with the right key, is still refused.
        let mut evil = sample(org, &object, secret);
        evil.scope = "../../etc".into();
        let sealed = evil.seal(&key, 3).unwrap();
        assert!(matches!(
            Manifest::open(&sealed, &v, &key),
            Err(ManifestError::Format(_))
        ));
    }
}
