//! Records the catalog stores and returns. They hold parsed domain types, so a row that does not
//! parse is reported as corrupt at the catalog boundary instead of leaking into the service.

use crate::blob::BlobKey;
use crate::domain::{
    IdentityKind, Location, OrgId, OrgSlug, OrgStatus, ProjectKey, Role, Scope, SecretId,
    SecretKind, SecretName, StorageId, Timestamp, TokenId, UserId, UserName,
};
use crate::keys::OrgKeyWrap;

/// An organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgRecord {
    /// Id.
    pub id: OrgId,
    /// Slug.
    pub slug: OrgSlug,
    /// Display name.
    pub name: String,
    /// Residency location (immutable).
    pub location: Location,
    /// Active or suspended.
    pub status: OrgStatus,
    /// Why it is suspended.
    pub suspended_reason: Option<String>,
    /// Org-key version new writes use.
    pub key_version: u32,
    /// Creation time.
    pub created_at: Timestamp,
    /// Where new envelopes go (`None`: the deployment's default store).
    pub storage: Option<StorageId>,
}

/// An identity: a person (one across the deployment; roles are per org), a service account of
/// one org, or the deployment's operator (never a member of any org).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    /// Id.
    pub id: UserId,
    /// Name: unique among people and the operator; a service account's is unique in its org.
    pub name: UserName,
    /// Person, service account or operator.
    pub kind: IdentityKind,
    /// The org a service account belongs to (`None` for people and the operator).
    pub org: Option<OrgId>,
    /// Creation time.
    pub created_at: Timestamp,
}

impl UserRecord {
    /// A new person.
    pub fn person(name: UserName, at: Timestamp) -> Self {
        Self::new(name, IdentityKind::Person, None, at)
    }

    /// A new service account of `org`.
    pub fn service(org: OrgId, name: UserName, at: Timestamp) -> Self {
        Self::new(name, IdentityKind::Service, Some(org), at)
    }

    /// The deployment's operator.
    pub fn operator(name: UserName, at: Timestamp) -> Self {
        Self::new(name, IdentityKind::Operator, None, at)
    }

    fn new(name: UserName, kind: IdentityKind, org: Option<OrgId>, at: Timestamp) -> Self {
        Self {
            id: UserId::new(),
            name,
            kind,
            org,
            created_at: at,
        }
    }
}

/// A user's role in one org.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRecord {
    /// The user.
    pub user: UserRecord,
    /// Their role.
    pub role: Role,
}

/// An API token (only its hash is stored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    /// Id.
    pub id: TokenId,
    /// SHA-256 of the token value.
    pub hash: [u8; 32],
    /// User it acts as.
    pub user: UserId,
    /// That user's name (joined for display).
    pub user_name: UserName,
    /// Org it is scoped to (`None`: an operator token, which acts deployment-wide).
    pub org: Option<OrgId>,
    /// Label.
    pub name: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// Expiry.
    pub expires_at: Option<Timestamp>,
    /// Revocation time.
    pub revoked_at: Option<Timestamp>,
}

/// What a token hash resolves to.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The token.
    pub token: TokenRecord,
    /// Its user.
    pub user: UserRecord,
    /// The user's current role in the token's org (none if membership was removed, and for
    /// the operator, who has no org).
    pub role: Option<Role>,
}

/// A secret (the metadata; values live in blobs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretRecord {
    /// Id.
    pub id: SecretId,
    /// Org.
    pub org: OrgId,
    /// Issue or project it is attached to.
    pub scope: Scope,
    /// Name.
    pub name: SecretName,
    /// Kind.
    pub kind: SecretKind,
    /// Current version.
    pub version: u32,
    /// Soft-deletion time.
    pub deleted_at: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Creator's name.
    pub created_by: String,
    /// Time of the current version.
    pub updated_at: Timestamp,
    /// Writer of the current version.
    pub updated_by: String,
    /// Expiry.
    pub expires_at: Option<Timestamp>,
    /// Allowed reveals.
    pub view_limit: Option<u32>,
    /// Reveals so far.
    pub views: u32,
    /// Whether only its shares give access to it.
    pub restricted: bool,
}

/// What a reveal reads, fetched in one catalog call ([`super::Catalog::reveal_target`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevealTarget {
    /// The org named by the request.
    pub org: OrgRecord,
    /// Its live (not destroyed) secret at the scope and name, deleted or not, if any.
    pub secret: Option<SecretRecord>,
    /// That secret's requested version (its current one if none was asked for), if any.
    pub version: Option<VersionRecord>,
    /// The org's Jira link, if it has one: a reveal asks Jira before it uses the secret, and
    /// reading the link here saves the reveal a read of its own.
    pub jira: Option<super::jira::JiraSite>,
}

/// A secret's view count right after a reveal was counted ([`super::Catalog::record_view`]).
/// The rest of the secret is what the reveal's [`RevealTarget`] read: a reveal changes nothing
/// else, so nothing else is read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Views {
    /// Reveals counted, this one included.
    pub count: u32,
    /// The secret's view limit, if it has one.
    pub limit: Option<u32>,
}

/// One stored version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionRecord {
    /// The secret.
    pub secret: SecretId,
    /// Version number.
    pub version: u32,
    /// Org-key version wrapping its data key.
    pub key_version: u32,
    /// The envelope's key in its store.
    pub blob_key: BlobKey,
    /// The store holding it (`None`: the deployment's default store).
    pub storage: Option<StorageId>,
    /// The wrapped data key (also in the envelope header; must match it).
    pub wrapped_key: Vec<u8>,
    /// Plaintext size.
    pub size: u64,
    /// Creation time.
    pub created_at: Timestamp,
    /// Writer's name.
    pub created_by: String,
}

/// Where one envelope is: a store and its key there.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StoredBlob {
    /// The store (`None`: the deployment's default store).
    pub storage: Option<StorageId>,
    /// The key in that store.
    pub key: BlobKey,
}

impl VersionRecord {
    /// Where this version's envelope is.
    pub fn stored_blob(&self) -> StoredBlob {
        StoredBlob {
            storage: self.storage,
            key: self.blob_key.clone(),
        }
    }
}

/// A new org with its first org-key version (1).
#[derive(Clone, Debug)]
pub struct NewOrg {
    /// Id.
    pub id: OrgId,
    /// Slug.
    pub slug: OrgSlug,
    /// Display name.
    pub name: String,
    /// Location.
    pub location: Location,
    /// Creation time.
    pub created_at: Timestamp,
    /// Wraps of org-key version 1.
    pub key_wraps: Vec<OrgKeyWrap>,
}

/// A new version to append (check-and-set on the current version).
#[derive(Clone, Debug)]
pub struct NewVersion {
    /// Org.
    pub org: OrgId,
    /// Secret id (a fresh one when `version == 1`).
    pub secret: SecretId,
    /// Scope.
    pub scope: Scope,
    /// Name.
    pub name: SecretName,
    /// Kind.
    pub kind: SecretKind,
    /// The new version number: must be exactly current + 1 (1 for a new secret).
    pub version: u32,
    /// Org-key version used; its encryption counter is incremented.
    pub key_version: u32,
    /// Refuse if the org key has already wrapped this many data keys.
    pub max_encryptions: u64,
    /// Blob with the envelope (already durable).
    pub blob_key: BlobKey,
    /// The store the blob is in (`None`: the deployment's default store).
    pub storage: Option<StorageId>,
    /// Wrapped data key.
    pub wrapped_key: Vec<u8>,
    /// Plaintext size.
    pub size: u64,
    /// Time.
    pub at: Timestamp,
    /// Writer's name.
    pub by: String,
    /// New expiry, if given.
    pub expires_at: Option<Timestamp>,
    /// New view limit, if given.
    pub view_limit: Option<u32>,
    /// Creates the secret restricted to its shares, shared with this identity (its creator) at
    /// `manage`, so someone can reach it. Ignored when appending a version.
    pub restricted_to: Option<UserId>,
}

/// Which secrets to list.
#[derive(Clone, Debug, Default)]
pub struct SecretFilter {
    /// Only this project (its project-level and issue secrets).
    pub project: Option<ProjectKey>,
    /// Only this issue (requires `project`).
    pub issue: Option<u32>,
    /// Only names starting with this.
    pub name_prefix: Option<String>,
    /// Include soft-deleted secrets.
    pub include_deleted: bool,
    /// At most this many.
    pub limit: u32,
}

/// Which audit events to list.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only events with `seq` greater than this.
    pub after_seq: u64,
    /// At most this many.
    pub limit: u32,
    /// Only this action.
    pub action: Option<String>,
    /// Only this actor name.
    pub actor: Option<String>,
    /// Only events about this target (e.g. a secret's `OPS-123/db-password`).
    pub target: Option<String>,
}
