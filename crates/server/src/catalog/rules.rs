//! The decisions both catalog backends make, as pure functions they both call: given what the
//! transaction read (and locked), may the write go ahead, and what does it answer if not? Each
//! backend keeps only how it reads and locks; the rule itself lives here once, so the two cannot
//! drift (they had: `current + 1` on one side, `checked_add` on the other).

use super::{CatalogError, SecretRecord};
use crate::domain::{SecretId, Timestamp};

/// Data keys an org key wraps for each secret version: the value's and its manifest's
/// (`crate::manifest`). A version write adds this to the key's `encryptions`.
pub const WRAPS_PER_VERSION: i64 = 2;

/// The highest `encryptions` count at which one more version may be written under an org key
/// allowed `max` wraps (`keys.max_encryptions_per_key`).
pub fn last_count_allowing_a_version(max: u64) -> i64 {
    i64::try_from(max)
        .unwrap_or(i64::MAX)
        .saturating_sub(WRAPS_PER_VERSION)
}

/// The view count after one more reveal of a secret seen `views` times, or `None` when its
/// `limit` is reached.
pub fn count_view(views: u32, limit: Option<u32>) -> Option<u32> {
    match limit {
        Some(limit) if views >= limit => None,
        _ => views.checked_add(1),
    }
}

/// What a version write does, given the live secret at its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionStep {
    /// No secret has the name: insert it with version 1.
    Create,
    /// Append the next version to the existing secret.
    Append,
}

/// The check-and-set of a version write: version `version` of secret `id` may be written only as
/// version 1 of a new name, or as exactly the next version of the live secret with that id.
pub fn version_step(
    live: Option<&SecretRecord>,
    id: SecretId,
    version: u32,
) -> Result<VersionStep, CatalogError> {
    match live {
        None if version == 1 => Ok(VersionStep::Create),
        None => Err(CatalogError::Conflict { current: 0 }),
        Some(s) if s.id != id || s.version.checked_add(1) != Some(version) => {
            Err(CatalogError::Conflict { current: s.version })
        }
        Some(s) if s.deleted_at.is_some() => Err(CatalogError::Deleted),
        Some(_) => Ok(VersionStep::Append),
    }
}

/// The check-and-set of an org-key rotation: `proposed` must be exactly the next version.
pub fn next_key_version(current: u32, proposed: u32) -> Result<(), CatalogError> {
    if current.checked_add(1) == Some(proposed) {
        Ok(())
    } else {
        Err(CatalogError::Conflict { current })
    }
}

/// An org keeps at least one owner (else nobody could ever manage its keys or owners again):
/// after demoting or removing a member who was an owner, `owners` must be at least one.
pub fn owners_left_ok(owners: u64) -> bool {
    owners >= 1
}

/// The sentence a refused last-owner change carries.
pub const LAST_OWNER: &str = "the org's last owner cannot be demoted or removed";

/// Whether a one-time code (invitation, reset) can still be used at `now`.
pub fn code_usable(
    used: Option<Timestamp>,
    revoked: Option<Timestamp>,
    expires: Timestamp,
    now: Timestamp,
) -> bool {
    used.is_none() && revoked.is_none() && expires > now
}

/// A client-supplied count or bound as the catalog's 64-bit signed integer: values past
/// `i64::MAX` saturate (so "after 2^64-1" means "after everything"), never wrap to negative.
pub fn saturating_i64(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::conformance::version;
    use crate::domain::OrgId;

    fn secret(id: SecretId, version: u32, deleted: bool) -> SecretRecord {
        let v = version_new(id);
        SecretRecord {
            id,
            org: v.org,
            scope: v.scope,
            name: v.name,
            kind: v.kind,
            version,
            deleted_at: deleted.then(Timestamp::now),
            created_at: Timestamp::now(),
            created_by: "t".into(),
            updated_at: Timestamp::now(),
            updated_by: "t".into(),
            expires_at: None,
            view_limit: None,
            views: 0,
            restricted: false,
        }
    }

    fn version_new(id: SecretId) -> crate::catalog::NewVersion {
        version(OrgId::new(), id, "OPS-1", "db", 1)
    }

    #[test]
    fn version_writes_are_check_and_set() {
        let id = SecretId::new();
        assert_eq!(version_step(None, id, 1), Ok(VersionStep::Create));
        assert_eq!(
            version_step(None, id, 2),
            Err(CatalogError::Conflict { current: 0 })
        );
        let s = secret(id, 3, false);
        assert_eq!(version_step(Some(&s), id, 4), Ok(VersionStep::Append));
        assert_eq!(
            version_step(Some(&s), id, 3),
            Err(CatalogError::Conflict { current: 3 })
        );
        assert_eq!(
            version_step(Some(&s), SecretId::new(), 4),
            Err(CatalogError::Conflict { current: 3 }),
            "another secret of the same name"
        );
        let top = secret(id, u32::MAX, false);
        assert_eq!(
            version_step(Some(&top), id, 0),
            Err(CatalogError::Conflict { current: u32::MAX }),
            "no wrap-around past u32::MAX"
        );
        assert_eq!(
            version_step(Some(&secret(id, 3, true)), id, 4),
            Err(CatalogError::Deleted)
        );
    }

    #[test]
    fn key_versions_step_by_one_without_wrapping() {
        assert_eq!(next_key_version(1, 2), Ok(()));
        assert_eq!(
            next_key_version(1, 3),
            Err(CatalogError::Conflict { current: 1 })
        );
        assert!(next_key_version(u32::MAX, 0).is_err());
    }

    #[test]
    fn codes_are_usable_once_and_before_they_expire() {
        let now = Timestamp::now();
        let later = now.plus(std::time::Duration::from_secs(1));
        assert!(code_usable(None, None, later, now));
        assert!(!code_usable(Some(now), None, later, now));
        assert!(!code_usable(None, Some(now), later, now));
        assert!(!code_usable(None, None, now, now));
        assert!(owners_left_ok(1) && !owners_left_ok(0));
    }
}
