//! Blob keys. A key is a relative, `/`-separated path of safe characters with no `.`/`..`
//! segments, so it maps one-to-one onto a file path and an S3 object key without escaping, and
//! can never climb out of the store's root. Keys hold ids only, never secret names or issue keys:
//! a bucket listing reveals nothing about what is stored.

use crate::domain::{OrgId, SecretId};
use std::fmt;

/// A validated object key, e.g. `orgs/{org}/secrets/{secret}/v3.cfr`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct BlobKey(String);

/// A validated key prefix (may be empty, or end with `/`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BlobPrefix(String);

fn valid_path(s: &str, allow_trailing_slash: bool) -> bool {
    let body = if allow_trailing_slash {
        s.strip_suffix('/').unwrap_or(s)
    } else {
        s
    };
    s.len() <= 512
        && !body.is_empty()
        && body.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && !seg.starts_with(".tmp")
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
}

impl BlobKey {
    /// Parses a key; `None` if it is not a safe relative path.
    pub fn parse(s: &str) -> Option<Self> {
        valid_path(s, false).then(|| Self(s.to_owned()))
    }
    /// The key of one secret version's envelope.
    pub fn for_version(org: OrgId, secret: SecretId, version: u32) -> Self {
        Self(format!("orgs/{org}/secrets/{secret}/v{version}.cfr"))
    }
    /// A fresh key for one attempt at writing `version`: `v{version}-{32 hex}.cfr`. Each attempt
    /// owns its object, so writers racing for one version (on several nodes) never meet in the
    /// store — the catalog's check-and-set alone decides, and the loser deletes only its own
    /// object — and an attempt that died before its catalog row leaves an orphan that blocks
    /// no later write (the sweeper removes it). It also keeps correctness independent of how
    /// atomic a store's conditional create is.
    pub fn for_write(org: OrgId, secret: SecretId, version: u32) -> Self {
        let attempt = uuid::Uuid::new_v4().simple();
        Self(format!(
            "orgs/{org}/secrets/{secret}/v{version}-{attempt}.cfr"
        ))
    }
    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The key of the manifest that names this envelope (`crate::manifest`): the same key with
    /// `.cfm` for `.cfr`, so an envelope and its manifest sit side by side, are listed together
    /// and are referenced together. `None` if this is not an envelope's key.
    pub fn manifest_key(&self) -> Option<Self> {
        self.0
            .strip_suffix(ENVELOPE_SUFFIX)
            .map(|stem| Self(format!("{stem}{MANIFEST_SUFFIX}")))
    }
    /// The envelope a manifest key names; `None` if this is not a manifest's key.
    pub fn envelope_of_manifest(&self) -> Option<Self> {
        self.0
            .strip_suffix(MANIFEST_SUFFIX)
            .map(|stem| Self(format!("{stem}{ENVELOPE_SUFFIX}")))
    }
}

/// How an envelope's key ends.
pub const ENVELOPE_SUFFIX: &str = ".cfr";
/// How a manifest's key ends.
pub const MANIFEST_SUFFIX: &str = ".cfm";

impl BlobPrefix {
    /// Parses a prefix; the empty prefix matches everything.
    pub fn parse(s: &str) -> Option<Self> {
        (s.is_empty() || valid_path(s, true)).then(|| Self(s.to_owned()))
    }
    /// Everything stored for one org.
    pub fn for_org(org: OrgId) -> Self {
        Self(format!("orgs/{org}/"))
    }
    /// The prefix as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// True if `key` is under this prefix.
    pub fn matches(&self, key: &BlobKey) -> bool {
        key.0.starts_with(&self.0)
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_safe_relative_paths() {
        assert!(BlobKey::parse("orgs/a/secrets/b/v1.cfr").is_some());
        for bad in [
            "",
            "/abs",
            "a//b",
            "a/../b",
            "..",
            "a/./b",
            "a/b/",
            "a b",
            "a\\b",
            "a/.tmp-x",
            &"a".repeat(513),
        ] {
            assert!(BlobKey::parse(bad).is_none(), "{bad:?}");
        }
        assert!(BlobPrefix::parse("").is_some());
        assert!(BlobPrefix::parse("orgs/").is_some());
        assert!(BlobPrefix::parse("../").is_none());
    }

    #[test]
    fn version_keys_hold_ids_only() {
        let k = BlobKey::for_version(OrgId::new(), SecretId::new(), 7);
        assert!(BlobKey::parse(k.as_str()).is_some());
        assert!(k.as_str().ends_with("/v7.cfr"));
        let (org, secret) = (OrgId::new(), SecretId::new());
        let (a, b) = (
            BlobKey::for_write(org, secret, 7),
            BlobKey::for_write(org, secret, 7),
        );
        assert_ne!(a, b, "every write attempt gets its own object");
        assert!(BlobKey::parse(a.as_str()).is_some());
        assert!(a.as_str().contains("/v7-") && a.as_str().ends_with(".cfr"));
    }

    #[test]
    fn manifests_sit_beside_their_envelopes() {
        let envelope = BlobKey::for_write(OrgId::new(), SecretId::new(), 3);
        let manifest = envelope.manifest_key().unwrap();
        assert!(BlobKey::parse(manifest.as_str()).is_some());
        assert_eq!(
            manifest.as_str().strip_suffix(".cfm"),
            envelope.as_str().strip_suffix(".cfr")
        );
        assert_eq!(manifest.envelope_of_manifest(), Some(envelope.clone()));
        assert_eq!(manifest.manifest_key(), None);
        assert_eq!(envelope.envelope_of_manifest(), None);
    }
}
