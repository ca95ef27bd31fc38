//! The OpenAPI 3.1 document at `/api/v1/openapi.json`: generated from the handlers' annotations
//! and the wire types, so it cannot drift from the code, then made precise in one place
//! ([`constrain`]) with what the annotations do not say:
//!
//! - every path parameter's shape (`coffer_api::patterns`, the same rules the server's parsers
//!   enforce, held to them by a property test in `domain`);
//! - the request body fields that carry a name, a password or a lifetime, with their shapes;
//! - every error status an operation can answer, each with the one error schema
//!   (`{"error": {"code", "message"}}`).
//!
//! schemathesis checks the result against the running server (`crates/server/tests/contract.rs`).

use super::{
    access, audit, backup, jira, keys, links, orgs, people, scim_tokens, secrets, sso, storage,
    uploads, webhooks,
};
use axum::Json;
use coffer_api::patterns;
use serde_json::{Value, json};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Coffer",
        description = "Team secrets attached to issue keys. Authenticate with `Authorization: Bearer <token>`."
    ),
    paths(
        orgs::whoami,
        orgs::create,
        orgs::list,
        orgs::show,
        orgs::rotate_key,
        orgs::recovery_kit,
        keys::setup,
        keys::show,
        keys::set,
        keys::disable,
        keys::check,
        keys::admin_list,
        backup::backup,
        storage::show,
        storage::set,
        storage::reset,
        storage::setup,
        people::list_users,
        people::add_user,
        people::set_user_role,
        people::remove_user,
        people::create_service_account,
        people::set_service_role,
        people::remove_service_account,
        people::invite,
        people::list_invitations,
        people::revoke_invitation,
        people::accept_invitation,
        people::create_token,
        people::list_tokens,
        people::revoke_token,
        people::create_operator_token,
        people::list_operator_tokens,
        people::revoke_operator_token,
        people::set_own_password,
        people::reset_credentials,
        people::redeem_reset,
        secrets::list,
        secrets::put,
        secrets::get,
        secrets::reveal,
        secrets::history,
        secrets::delete,
        secrets::restore,
        secrets::destroy,
        uploads::create,
        uploads::put_envelope,
        uploads::commit,
        uploads::envelope_url,
        access::list_groups,
        access::create_group,
        access::delete_group,
        access::add_group_member,
        access::remove_group_member,
        access::list_grants,
        access::create_grant,
        access::delete_grant,
        access::secret_access,
        access::share,
        access::unshare,
        access::set_restricted,
        jira::show,
        jira::connect,
        jira::disconnect,
        jira::check,
        jira::orphans,
        jira::access,
        jira::my_account,
        jira::unlink_account,
        jira::webhook,
        sso::show,
        sso::set,
        sso::remove,
        sso::cli_token,
        scim_tokens::create,
        scim_tokens::list,
        scim_tokens::revoke,
        webhooks::create,
        webhooks::list,
        webhooks::show,
        webhooks::remove,
        webhooks::rotate_secret,
        webhooks::deliveries,
        webhooks::redeliver,
        links::create_link,
        links::list_links,
        links::revoke_link,
        links::link_status,
        links::open_link,
        links::create_request,
        links::list_requests,
        links::revoke_request,
        links::request_status,
        links::fulfil_request,
        audit::list,
        audit::verify
    )
)]
struct ApiDoc;

/// The document, generated once and made precise.
fn build() -> Value {
    let doc = ApiDoc::openapi().merge_from(<super::web::WebApiDoc as OpenApi>::openapi());
    let mut doc = serde_json::to_value(doc).expect("the document serializes");
    constrain(&mut doc);
    doc
}

/// Serves the document.
pub async fn document() -> Json<Value> {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    Json(DOC.get_or_init(build).clone())
}

fn string(pattern: &str, max: usize) -> Value {
    json!({"type": "string", "pattern": pattern, "maxLength": max})
}

/// The schema of a path parameter named `name` in `path`.
fn path_param(path: &str, name: &str) -> Option<Value> {
    Some(match name {
        "org" => string(patterns::ORG_SLUG, patterns::ORG_SLUG_MAX),
        "scope" => string(patterns::SCOPE, patterns::SCOPE_MAX),
        "name" if path.contains("/secrets/") => {
            string(patterns::SECRET_NAME, patterns::SECRET_NAME_MAX)
        }
        "name" if path.contains("/groups/") => {
            string(patterns::GROUP_NAME, patterns::GROUP_NAME_MAX)
        }
        "name" => string(patterns::USER_NAME, patterns::USER_NAME_MAX),
        "id" => json!({"type": "string", "format": "uuid"}),
        "member" => string(patterns::MEMBER, 68),
        "principal" => string(patterns::PRINCIPAL, 70),
        "n" => json!({"type": "integer", "minimum": 1, "maximum": u32::MAX}),
        _ => return None,
    })
}

/// The schema of a query parameter named `name` of the operation at `path`, where the server
/// takes less than "any string".
fn query_param(path: &str, name: &str) -> Option<Value> {
    let optional = |mut v: Value| {
        v["type"] = json!(["string", "null"]);
        v
    };
    Some(match name {
        "limit" | "version" => json!({"type": "integer", "minimum": 0, "maximum": u32::MAX}),
        "after" if path.ends_with("/jira/orphans") => {
            optional(string(patterns::ISSUE_KEY, patterns::SCOPE_MAX))
        }
        "after" => json!({"type": "integer", "minimum": 0, "maximum": u64::MAX}),
        "since" | "until" => json!({"type": "string", "format": "date-time"}),
        "expect" => json!({"type": "string", "pattern": "^[0-9]{1,19}:[0-9a-fA-F]{64}$"}),
        "q" => json!({"type": "string", "pattern": "\\S", "maxLength": 100}),
        "issue" if path.ends_with("/secrets") => {
            optional(string(patterns::ISSUE_KEY, patterns::SCOPE_MAX))
        }
        "project" => optional(string(patterns::PROJECT_KEY, 10)),
        "bucket" => string(patterns::BUCKET, 63),
        "region" => optional(string(patterns::AWS_REGION, 32)),
        _ => return None,
    })
}

/// The shape of a request body field, by schema and field name.
fn body_field(schema: &str, field: &str) -> Option<Value> {
    let user = || string(patterns::USER_NAME, patterns::USER_NAME_MAX);
    let password = || {
        json!({
            "type": "string",
            "pattern": patterns::PASSWORD,
            "minLength": 12,
            "maxLength": crate::service::web::guard::MAX_PASSWORD_CHARS
        })
    };
    let lifetime = |max: u64| json!({"type": ["integer", "null"], "minimum": 1, "maximum": max});
    Some(match (schema, field) {
        ("CreateOrgRequest", "slug") => string(patterns::ORG_SLUG, patterns::ORG_SLUG_MAX),
        ("CreateOrgRequest", "name") => {
            json!({"type": ["string", "null"], "pattern": "\\S", "minLength": 1, "maxLength": 50})
        }
        ("AddUserRequest" | "InviteRequest" | "CreateServiceAccountRequest", "name") => user(),
        ("CreateTokenRequest", "user" | "service_account") => {
            json!({"type": ["string", "null"], "pattern": patterns::USER_NAME, "maxLength": patterns::USER_NAME_MAX})
        }
        ("CreateGroupRequest", "name") => string(patterns::GROUP_NAME, patterns::GROUP_NAME_MAX),
        ("CreateGrantRequest", "scope") => string(patterns::GRANT_SCOPE, patterns::SCOPE_MAX),
        ("CreateGrantRequest", "to") | ("ShareRequest", "with") => string(patterns::PRINCIPAL, 70),
        ("CreateScimTokenRequest", "name") => string(patterns::LABEL, 100),
        ("CreateWebhookRequest", "url") => {
            json!({"type": "string", "pattern": "^https?://[^\\s]+$", "maxLength": 2000})
        }
        ("CreateWebhookRequest", "description") => json!({
            "type": ["string", "null"],
            "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]{0,200}$",
            "maxLength": 200
        }),
        ("CreateWebhookRequest", "events") => json!({
            "type": "array",
            "items": {"$ref": "#/components/schemas/WebhookEvent"},
            "minItems": 1
        }),
        ("CreateTokenRequest" | "CreateOperatorTokenRequest", "name") => {
            json!({"type": ["string", "null"], "pattern": patterns::LABEL, "maxLength": 100})
        }
        ("CreateTokenRequest" | "CreateOperatorTokenRequest", "expires_in_seconds") => {
            lifetime(crate::domain::Lifetime::MAX_SECS)
        }
        ("InviteRequest" | "ResetRequest", "expires_in_seconds") => {
            lifetime(crate::service::MAX_CODE_LIFETIME.as_secs())
        }
        ("SetPasswordRequest" | "RedeemResetRequest", "password") => password(),
        ("AcceptInvitationRequest", "password") => {
            let mut p = password();
            p["type"] = json!(["string", "null"]);
            p
        }
        ("AcceptInvitationRequest", "code") => {
            json!({"type": "string", "pattern": "^coffer_i_[A-Za-z0-9_-]{43}$"})
        }
        ("RedeemResetRequest", "code") => {
            json!({"type": "string", "pattern": "^coffer_r_[A-Za-z0-9_-]{43}$"})
        }
        ("CreateServiceAccountRequest", "role") => {
            json!({"type": "string", "enum": ["auditor", "member", "admin"]})
        }
        ("PutSecretRequest" | "CreateUploadRequest", "expires_at") => json!({
            "type": ["string", "null"],
            "format": "date-time",
            "pattern": "^[1-9][0-9]{3}-"
        }),
        ("CommitUploadRequest", "sha256") => {
            json!({"type": "string", "pattern": "^[0-9a-fA-F]{64}$"})
        }
        ("PutSecretRequest", "value")
        | ("CreateLinkRequest", "envelope")
        | ("FulfilSecretRequest", "sealed") => {
            json!({"type": "string", "pattern": patterns::BASE64})
        }
        ("CreateLinkRequest" | "CreateSecretRequest", "expires_in_seconds") => json!({
            "type": "integer",
            "minimum": crate::service::MIN_LINK_LIFETIME.as_secs(),
            "maximum": crate::service::MAX_LINK_LIFETIME.as_secs()
        }),
        ("CreateLinkRequest", "open_hash") | ("OpenLinkRequest", "proof") => {
            json!({"type": "string", "pattern": "^[0-9a-fA-F]{64}$"})
        }
        ("CreateLinkRequest", "max_views") => {
            json!({"type": "integer", "minimum": 1, "maximum": crate::service::MAX_LINK_VIEWS})
        }
        ("CreateLinkRequest", "version") => {
            json!({"type": ["integer", "null"], "minimum": 1, "maximum": u32::MAX})
        }
        ("CreateSecretRequest", "note") => json!({
            "type": "string",
            "pattern": "^[^\\u0000-\\u0009\\u000b-\\u001f\\u007f-\\u009f]*$",
            "maxLength": crate::service::MAX_NOTE_CHARS
        }),
        ("RedeemResetRequest", "org") => json!({
            "type": ["string", "null"],
            "pattern": patterns::ORG_SLUG,
            "maxLength": patterns::ORG_SLUG_MAX
        }),
        _ => return None,
    })
}

/// Error statuses every operation may answer, with what they mean for it.
const ERRORS: &[(&str, &str)] = &[
    (
        "400",
        "The request is malformed; the message names the field and what a valid one looks like.",
    ),
    ("401", "No valid credential was presented."),
    (
        "403",
        "The caller may see the resource but its role does not allow this.",
    ),
    (
        "404",
        "No such object, or it belongs to another org (the two look alike).",
    ),
    (
        "408",
        "The request took longer than server.request_timeout.",
    ),
    (
        "409",
        "The request contradicts the current state (a name taken, a version moved on, a rule of the org).",
    ),
    (
        "410",
        "The object can no longer be used (an expired or used code, a spent secret).",
    ),
    ("413", "The body is over the size limit."),
    ("423", "The org is suspended (its keys are unreachable)."),
    (
        "429",
        "Too many attempts; retry after the Retry-After header's seconds.",
    ),
    ("503", "A dependency is briefly unavailable; retry."),
];

/// Makes `doc` say what the server does (see the module docs).
fn constrain(doc: &mut Value) {
    let error = json!({
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    });
    let paths = doc["paths"].as_object_mut().expect("paths");
    for (path, item) in paths.iter_mut() {
        for (_, op) in item.as_object_mut().expect("path item").iter_mut() {
            let Some(op) = op.as_object_mut() else {
                continue;
            };
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                for p in params.iter_mut() {
                    let name = p["name"].as_str().unwrap_or("");
                    let schema = match p["in"].as_str() {
                        Some("path") => path_param(path, name),
                        Some("query") => query_param(path, name),
                        _ => None,
                    };
                    if let Some(schema) = schema {
                        p["schema"] = schema;
                    }
                }
            }
            let responses = op
                .entry("responses")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("responses");
            for (status, description) in ERRORS {
                let entry = responses.entry(*status).or_insert_with(|| json!({}));
                entry["description"] = json!(description);
                entry["content"] = error["content"].clone();
            }
        }
    }
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("schemas");
    for (name, schema) in schemas.iter_mut() {
        if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            for (field, p) in props.iter_mut() {
                if let Some(shape) = body_field(name, field) {
                    if let Some(d) = p.get("description").cloned() {
                        *p = shape;
                        p["description"] = d;
                    } else {
                        *p = shape;
                    }
                }
            }
        }
    }
}
