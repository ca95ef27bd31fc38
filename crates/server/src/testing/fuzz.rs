//! Entry points for the cargo-fuzz targets (`fuzz/`, docs/reliability.md "Fuzzing"): the
//! parsers and verifiers the API runs on untrusted bytes that are private to their modules —
//! the JSON body extractor's object-only rule, the Jira webhook's signature check, the SCIM
//! filter and PATCH readers — reached here so the fuzzers run the real code, not a copy of it.
//! Thin wrappers only; what is public elsewhere (the domain parsers, token shapes, the Forge
//! token verifier, the stored formats) the targets call directly.

use crate::http::extract::Object;
use crate::http::scim::{filter, patch};
use serde_json::{Map, Value};

/// What a request body of type `T` becomes, exactly as the `Body<T>` extractor reads it
/// (a JSON object only, nothing after it), without the size limit and content type checks
/// that come before it. The error is the text of the `400` answer.
pub fn json_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    axum::Json::<Object<T>>::from_bytes(bytes)
        .map(|axum::Json(Object(v))| v)
        .map_err(|e| e.body_text())
}

/// Whether `header` (an `X-Hub-Signature` value) signs `body` under the org's Jira webhook
/// secret: the check `Coffer::jira_webhook` makes before it reads the body.
pub fn jira_signature_ok(secret: &[u8], header: Option<&str>, body: &[u8]) -> bool {
    crate::service::jira::lifecycle::signature_ok(secret, header, body)
}

/// The SCIM resource types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScimKind {
    /// `/scim/v2/Users`.
    User,
    /// `/scim/v2/Groups`.
    Group,
}

impl ScimKind {
    fn patch_kind(self) -> patch::Kind {
        match self {
            ScimKind::User => patch::Kind::User,
            ScimKind::Group => patch::Kind::Group,
        }
    }

    /// The attributes a filter on this type may compare, by their schema names.
    pub fn filter_attributes(self) -> &'static [&'static str] {
        match self {
            ScimKind::User => &["id", "externalId", "userName", "displayName", "active"],
            ScimKind::Group => &["id", "externalId", "displayName"],
        }
    }

    /// The attributes Coffer stores for this type, by their schema names.
    pub fn writable_attributes(self) -> &'static [&'static str] {
        match self {
            ScimKind::User => &["userName", "displayName", "externalId", "active"],
            ScimKind::Group => &["displayName", "externalId", "members"],
        }
    }
}

/// A parsed SCIM `filter`.
#[derive(Clone, Debug, PartialEq)]
pub struct ScimFilter(filter::Filter);

impl ScimFilter {
    /// Parses `text` as the list endpoint of `kind` does; the error is the `invalidFilter` text.
    pub fn parse(text: &str, kind: ScimKind) -> Result<Self, String> {
        let allowed = match kind {
            ScimKind::User => filter::USER_ATTRS,
            ScimKind::Group => filter::GROUP_ATTRS,
        };
        filter::Filter::parse(text, allowed).map(ScimFilter)
    }

    /// The comparisons, in order: the attribute's schema name and the value.
    pub fn terms(&self) -> Vec<(&'static str, Value)> {
        self.0.terms().map(|(k, v)| (k, v.clone())).collect()
    }

    /// Whether the rendered `resource` passes.
    pub fn matches(&self, resource: &Value) -> bool {
        self.0.matches(resource)
    }
}

/// The writable attributes of a SCIM POST or PUT body; the error is its `scimType`.
pub fn scim_resource(kind: ScimKind, body: &Value) -> Result<Map<String, Value>, &'static str> {
    patch::resource(kind.patch_kind(), body).map_err(|r| r.scim_type)
}

/// Applies a SCIM PatchOp body to `doc` (writable attributes as they are now); the error is
/// its `scimType`.
pub fn scim_patch(
    kind: ScimKind,
    doc: &mut Map<String, Value>,
    body: &Value,
) -> Result<(), &'static str> {
    patch::apply(kind.patch_kind(), doc, body).map_err(|r| r.scim_type)
}
