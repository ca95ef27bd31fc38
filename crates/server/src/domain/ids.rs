//! Typed ids. All are UUIDs; new ones are v7 (time-ordered) so catalog B-tree inserts stay local.
//! Distinct types make it impossible to pass a secret id where an org id is expected.

use std::fmt;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            /// Wraps an existing UUID (e.g. read from the catalog).
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            /// The UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
            /// The 16 raw bytes (what envelopes bind to).
            pub fn to_bytes(&self) -> [u8; 16] {
                *self.0.as_bytes()
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

id_type!(
    /// An organization (tenant).
    OrgId
);
id_type!(
    /// A secret (all its versions share it).
    SecretId
);
id_type!(
    /// A user (global; roles are per org).
    UserId
);
id_type!(
    /// A saved storage location of an org (its own bucket); `None` where one is optional means
    /// the deployment's default blob store.
    StorageId
);
id_type!(
    /// A pending client-side upload (a grant to write one secret version's envelope).
    UploadId
);
id_type!(
    /// An API token (its value is never stored, only its SHA-256).
    TokenId
);
id_type!(
    /// An invitation to join an org (its code is never stored, only its SHA-256).
    InvitationId
);
id_type!(
    /// A credential reset the operator issued (its code is never stored, only its SHA-256).
    ResetId
);
id_type!(
    /// A group of an org's members.
    GroupId
);
id_type!(
    /// A grant of access to a scope.
    GrantId
);
id_type!(
    /// An org's SCIM token (its value is never stored, only its SHA-256).
    ScimTokenId
);
id_type!(
    /// A one-time link to a copy of a secret. Its id is in the link's URL, so it is made by
    /// [`LinkId::unguessable`], never [`LinkId::new`].
    LinkId
);
id_type!(
    /// A "send me a secret" request. Its id is in the upload URL, so it is made by
    /// [`RequestId::unguessable`], never [`RequestId::new`].
    RequestId
);

macro_rules! unguessable {
    ($name:ident) => {
        impl $name {
            /// A fresh id with 122 random bits (UUID v4): it travels in a URL an outsider is
            /// given, so it must not be guessable from the time it was made (v7 ids carry it).
            pub fn unguessable() -> Self {
                Self(Uuid::new_v4())
            }
        }
    };
}
unguessable!(LinkId);
unguessable!(RequestId);
id_type!(
    /// An org's webhook (its signing secret is stored sealed under the org key).
    WebhookId
);
id_type!(
    /// One delivery of one audit event to one webhook.
    DeliveryId
);
