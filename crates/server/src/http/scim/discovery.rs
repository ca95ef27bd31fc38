//! SCIM discovery (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas`.
//!
//! The schemas are honest and minimal: they publish exactly what Coffer stores, because clients
//! (and `scim2-tester`) fill and patch every attribute a schema publishes. A User is a person:
//! `userName` (required, unique, case-insensitive, and immutable — a person's name is theirs in
//! every org), `displayName` and `active`. A Group is an org's group: `displayName` (required)
//! and `members` (`value`, `$ref`, `type` of Users; the sub-attributes RFC 7643 §8.7.1 gives
//! them). `id`, `externalId` and `meta` are the common attributes every resource has.

use super::{BASE, answer, error};
use crate::http::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;

/// The schema of a User.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The schema of a Group.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The schema of a list answer.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// Most resources one answer holds (`filter.maxResults`); `count` asks for fewer.
pub const MAX_RESULTS: usize = 200;

/// The absolute URL of SCIM's base (`<public origin>/scim/v2`).
pub(super) fn base_url(state: &AppState) -> String {
    format!("{}{BASE}", state.public_origin.trim_end_matches('/'))
}

fn attribute(name: &str, kind: &str, description: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": description,
        "required": false,
        "caseExact": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    })
}

fn user_schema(base: &str) -> Value {
    let mut user_name = attribute(
        "userName",
        "string",
        "The person's Coffer name, lowercased: letters, digits, '.', '_', '@' or '-', starting with a letter or digit, at most 64 characters. Unique in the deployment; it cannot change.",
    );
    user_name["required"] = json!(true);
    user_name["mutability"] = json!("immutable");
    user_name["uniqueness"] = json!("server");
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "A person who is a member of the org (active), or whom SCIM deactivated (inactive).",
        "attributes": [
            user_name,
            attribute("displayName", "string", "The name shown for the person, as the client sets it."),
            attribute("active", "boolean", "Whether the person is a member of the org. false ends the membership (their tokens and sessions in the org stop at once); true brings back a person SCIM deactivated. Absent means true."),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{USER_SCHEMA}")},
    })
}

fn group_schema(base: &str) -> Value {
    let mut display = attribute(
        "displayName",
        "string",
        "The group's name as the client sets it; the Coffer group is named after it.",
    );
    display["required"] = json!(true);
    let sub = |name: &str, kind: &str, description: &str| {
        let mut a = attribute(name, kind, description);
        a["mutability"] = json!("immutable");
        a
    };
    let mut value = sub("value", "string", "The id of a User of the org.");
    value["caseExact"] = json!(true);
    let mut reference = sub("$ref", "reference", "The URI of that User.");
    reference["caseExact"] = json!(true);
    reference["referenceTypes"] = json!(["User"]);
    let mut kind = sub("type", "string", "The kind of member: always User.");
    kind["canonicalValues"] = json!(["User"]);
    let mut members = attribute(
        "members",
        "complex",
        "The org's people in the group. Service accounts in a Coffer group are not Users and are left alone.",
    );
    members["multiValued"] = json!(true);
    members["subAttributes"] = json!([value, reference, kind]);
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": GROUP_SCHEMA,
        "name": "Group",
        "description": "A group of the org's members; grants and shares to it give to each member.",
        "attributes": [display, members],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{GROUP_SCHEMA}")},
    })
}

fn resource_type_of(base: &str, name: &str) -> Option<Value> {
    let (endpoint, schema, description) = match name {
        "User" => ("/Users", USER_SCHEMA, "The org's people"),
        "Group" => ("/Groups", GROUP_SCHEMA, "The org's groups"),
        _ => return None,
    };
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": name,
        "name": name,
        "endpoint": endpoint,
        "description": description,
        "schema": schema,
        "schemaExtensions": [],
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{name}")},
    }))
}

fn schema_of(base: &str, id: &str) -> Option<Value> {
    match id {
        USER_SCHEMA => Some(user_schema(base)),
        GROUP_SCHEMA => Some(group_schema(base)),
        _ => None,
    }
}

/// A list answer holding everything in `resources`.
pub(super) fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

pub(super) async fn config(State(s): State<Arc<AppState>>) -> Response {
    let base = base_url(&s);
    answer(
        StatusCode::OK,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": MAX_RESULTS},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": false},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "SCIM token",
                "description": "The org's SCIM token (coffer_scim_…) as a bearer token; an owner creates it with POST /api/v1/orgs/{org}/scim/tokens.",
                "primary": true,
            }],
            "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
        }),
    )
}

pub(super) async fn resource_types(State(s): State<Arc<AppState>>) -> Response {
    let base = base_url(&s);
    let all = ["User", "Group"]
        .iter()
        .filter_map(|n| resource_type_of(&base, n))
        .collect();
    answer(StatusCode::OK, list(all))
}

pub(super) async fn resource_type(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Response {
    match resource_type_of(&base_url(&s), &id) {
        Some(rt) => answer(StatusCode::OK, rt),
        None => error(
            StatusCode::NOT_FOUND,
            None,
            format!("no resource type {id:?}; Coffer serves User and Group"),
        ),
    }
}

pub(super) async fn schemas(State(s): State<Arc<AppState>>) -> Response {
    let base = base_url(&s);
    answer(
        StatusCode::OK,
        list(vec![user_schema(&base), group_schema(&base)]),
    )
}

pub(super) async fn schema(State(s): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match schema_of(&base_url(&s), &id) {
        Some(schema) => answer(StatusCode::OK, schema),
        None => error(
            StatusCode::NOT_FOUND,
            None,
            format!("no schema {id:?}; Coffer serves {USER_SCHEMA} and {GROUP_SCHEMA}"),
        ),
    }
}
