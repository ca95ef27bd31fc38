//! `/Users`, `/Groups` and `/.search`: rendering the org's people and groups as SCIM resources,
//! listing them (filter, `startIndex` / `count`, `attributes` / `excludedAttributes`), and the
//! handlers that create, read, replace, patch and delete them through `service::scim`.

use super::discovery::{GROUP_SCHEMA, LIST_SCHEMA, MAX_RESULTS, USER_SCHEMA, base_url};
use super::filter::{Attr, Filter, GROUP_ATTRS, USER_ATTRS, bare};
use super::patch::{self, Kind, Refusal};
use super::{ScimFailure, answer};
use crate::domain::{GroupId, UserId};
use crate::http::AppState;
use crate::service::scim::{ScimActor, ScimGroup, ScimGroupInput, ScimPerson, ScimUserInput};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// What a handler answers: a response, or a SCIM error.
type R = Result<Response, ScimFailure>;

impl From<Refusal> for ScimFailure {
    fn from(r: Refusal) -> ScimFailure {
        ScimFailure::new(StatusCode::BAD_REQUEST, Some(r.scim_type), r.detail)
    }
}

fn failed(e: crate::service::Error) -> ScimFailure {
    ScimFailure::from(e)
}

fn user_json(base: &str, p: &ScimPerson) -> Value {
    let mut v = json!({
        "schemas": [USER_SCHEMA],
        "id": p.user.id.to_string(),
        "userName": p.user.name.as_str(),
        "meta": {
            "resourceType": "User",
            "created": p.user.created_at.to_string(),
            "location": format!("{base}/Users/{}", p.user.id),
        },
    });
    if let Some(x) = p.external_id() {
        v["externalId"] = json!(x);
    }
    if let Some(d) = p.display_name() {
        v["displayName"] = json!(d);
    }
    if let Some(a) = p.active() {
        v["active"] = json!(a);
    }
    v
}

fn group_json(base: &str, g: &ScimGroup) -> Value {
    let mut v = json!({
        "schemas": [GROUP_SCHEMA],
        "id": g.group.id.to_string(),
        "displayName": g.display_name(),
        "meta": {
            "resourceType": "Group",
            "created": g.group.created_at.to_string(),
            "location": format!("{base}/Groups/{}", g.group.id),
        },
    });
    if let Some(x) = g.external_id() {
        v["externalId"] = json!(x);
    }
    if !g.people.is_empty() {
        v["members"] = g
            .people
            .iter()
            .map(|u| json!({"value": u.to_string(), "$ref": format!("{base}/Users/{u}"), "type": "User"}))
            .collect();
    }
    v
}

/// The writable attributes of a rendered resource (what a PATCH applies to).
fn writable(kind: Kind, rendered: &Value) -> Map<String, Value> {
    patch::resource(kind, rendered).expect("a rendered resource reads back")
}

fn text_at(doc: &Map<String, Value>, key: &str) -> Option<String> {
    doc.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn user_input(doc: &Map<String, Value>) -> ScimUserInput {
    ScimUserInput {
        user_name: text_at(doc, "userName"),
        display_name: text_at(doc, "displayName"),
        external_id: text_at(doc, "externalId"),
        active: doc.get("active").and_then(Value::as_bool),
    }
}

fn group_input(doc: &Map<String, Value>) -> ScimGroupInput {
    ScimGroupInput {
        display_name: text_at(doc, "displayName"),
        external_id: text_at(doc, "externalId"),
        members: doc
            .get("members")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_owned))
            .collect(),
    }
}

/// `attributes` / `excludedAttributes`: which top-level attributes an answer keeps (`id` and
/// `schemas` always).
#[derive(Clone, Debug, Default)]
struct Projection {
    only: Option<Vec<String>>,
    without: Vec<String>,
}

fn names(list: &str) -> Vec<String> {
    list.split(',')
        .map(|a| bare(a.trim()))
        .map(|a| a.split('.').next().unwrap_or(a).to_ascii_lowercase())
        .filter(|a| !a.is_empty())
        .collect()
}

impl Projection {
    fn new(only: Option<String>, without: Option<String>) -> Result<Projection, ScimFailure> {
        if only.is_some() && without.is_some() {
            return Err(ScimFailure::new(
                StatusCode::BAD_REQUEST,
                Some("invalidSyntax"),
                "attributes and excludedAttributes cannot be given together",
            ));
        }
        Ok(Projection {
            only: only.as_deref().map(names),
            without: without.as_deref().map(names).unwrap_or_default(),
        })
    }

    fn apply(&self, mut v: Value) -> Value {
        if let Some(obj) = v.as_object_mut() {
            obj.retain(|k, _| {
                let k = k.to_ascii_lowercase();
                k == "id"
                    || k == "schemas"
                    || (self.only.as_ref().is_none_or(|o| o.contains(&k))
                        && !self.without.contains(&k))
            });
        }
        v
    }
}

/// What a list or search asks for.
#[derive(Clone, Debug, Default)]
struct ListQuery {
    filter: Option<String>,
    start: Option<i64>,
    count: Option<i64>,
    projection: Projection,
}

fn number(name: &str, raw: &str) -> Result<i64, ScimFailure> {
    raw.trim().parse().map_err(|_| {
        ScimFailure::new(
            StatusCode::BAD_REQUEST,
            Some("invalidValue"),
            format!("{name} must be a whole number"),
        )
    })
}

fn unsorted() -> ScimFailure {
    ScimFailure::new(
        StatusCode::BAD_REQUEST,
        Some("invalidValue"),
        "sorting is not supported (ServiceProviderConfig: sort.supported is false)",
    )
}

impl ListQuery {
    /// From a query string (parameter names are case-insensitive).
    fn from_query(raw: Option<&str>) -> Result<ListQuery, ScimFailure> {
        let (mut q, mut only, mut without) = (ListQuery::default(), None, None);
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match k.to_ascii_lowercase().as_str() {
                "filter" => q.filter = Some(v.into_owned()),
                "startindex" => q.start = Some(number("startIndex", &v)?),
                "count" => q.count = Some(number("count", &v)?),
                "attributes" => only = Some(v.into_owned()),
                "excludedattributes" => without = Some(v.into_owned()),
                "sortby" | "sortorder" => return Err(unsorted()),
                _ => {}
            }
        }
        q.projection = Projection::new(only, without)?;
        Ok(q)
    }

    /// From a `POST …/.search` body.
    fn from_body(body: &Value) -> Result<ListQuery, ScimFailure> {
        let Some(obj) = body.as_object() else {
            return Err(ScimFailure::new(
                StatusCode::BAD_REQUEST,
                Some("invalidSyntax"),
                "the body must be a JSON object",
            ));
        };
        let list = |v: &Value| -> Option<String> {
            match v {
                Value::Array(a) => Some(
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                Value::String(s) => Some(s.clone()),
                _ => None,
            }
        };
        let (mut q, mut only, mut without) = (ListQuery::default(), None, None);
        for (k, v) in obj {
            match k.to_ascii_lowercase().as_str() {
                "filter" => q.filter = v.as_str().map(str::to_owned),
                "startindex" => q.start = Some(number("startIndex", &v.to_string())?),
                "count" => q.count = Some(number("count", &v.to_string())?),
                "attributes" => only = list(v),
                "excludedattributes" => without = list(v),
                "sortby" | "sortorder" if !v.is_null() => return Err(unsorted()),
                _ => {}
            }
        }
        q.projection = Projection::new(only, without)?;
        Ok(q)
    }

    /// The list answer for `all` (rendered resources): filtered, then the page asked for, each
    /// projected.
    fn answer(&self, all: Vec<Value>, attrs: &[Attr]) -> R {
        let filter = match &self.filter {
            Some(text) => Some(Filter::parse(text, attrs).map_err(|m| {
                ScimFailure::new(StatusCode::BAD_REQUEST, Some("invalidFilter"), m)
            })?),
            None => None,
        };
        let found: Vec<Value> = all
            .into_iter()
            .filter(|r| filter.as_ref().is_none_or(|f| f.matches(r)))
            .collect();
        let start = self.start.unwrap_or(1).max(1);
        let count = self
            .count
            .unwrap_or(MAX_RESULTS as i64)
            .clamp(0, MAX_RESULTS as i64) as usize;
        let page: Vec<Value> = found
            .iter()
            .skip((start - 1) as usize)
            .take(count)
            .map(|r| self.projection.apply(r.clone()))
            .collect();
        Ok(answer(
            StatusCode::OK,
            json!({
                "schemas": [LIST_SCHEMA],
                "totalResults": found.len(),
                "startIndex": start,
                "itemsPerPage": page.len(),
                "Resources": page,
            }),
        ))
    }
}

fn json_body(body: &Bytes) -> Result<Value, ScimFailure> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body).map_err(|e| {
        ScimFailure::new(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            format!("the body is not JSON: {e}"),
        )
    })
}

fn user_id(raw: &str) -> Result<UserId, ScimFailure> {
    uuid::Uuid::parse_str(raw)
        .map(UserId::from_uuid)
        .map_err(|_| {
            ScimFailure::new(
                StatusCode::NOT_FOUND,
                None,
                format!("no User {raw:?} in this org"),
            )
        })
}

fn group_id(raw: &str) -> Result<GroupId, ScimFailure> {
    uuid::Uuid::parse_str(raw)
        .map(GroupId::from_uuid)
        .map_err(|_| {
            ScimFailure::new(
                StatusCode::NOT_FOUND,
                None,
                format!("no Group {raw:?} in this org"),
            )
        })
}

/// One resource, projected as the query asks; `201 Created` with its `Location` if `created`.
fn one(v: Value, query: Option<&str>, created: bool) -> R {
    let q = ListQuery::from_query(query)?;
    let location = v["meta"]["location"].as_str().map(str::to_owned);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut res = answer(status, q.projection.apply(v));
    if created && let Some(l) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        res.headers_mut().insert(header::LOCATION, l);
    }
    Ok(res)
}

async fn all_users(s: &AppState, actor: &ScimActor) -> Result<Vec<Value>, ScimFailure> {
    let base = base_url(s);
    let people = s.coffer.scim_people(actor).await.map_err(failed)?;
    Ok(people.iter().map(|p| user_json(&base, p)).collect())
}

async fn all_groups(s: &AppState, actor: &ScimActor) -> Result<Vec<Value>, ScimFailure> {
    let base = base_url(s);
    let groups = s.coffer.scim_groups(actor).await.map_err(failed)?;
    Ok(groups.iter().map(|g| group_json(&base, g)).collect())
}

pub(super) async fn list_users(
    State(s): State<Arc<AppState>>,
    Extension(actor): Extension<ScimActor>,
    RawQuery(query): RawQuery,
) -> R {
    let q = ListQuery::from_query(query.as_deref())?;
    q.answer(all_users(&s, &actor).await?, USER_ATTRS)
}

pub(super) async fn search_users(
    State(s): State<Arc<AppState>>,
    Extension(actor): Extension<ScimActor>,
    body: Bytes,
) -> R {
    let q = ListQuery::from_body(&json_body(&body)?)?;
    q.answer(all_users(&s, &actor).await?, USER_ATTRS)
}

pub(super) async fn list_groups(
    State(s): State<Arc<AppState>>,
    Extension(actor): Extension<ScimActor>,
    RawQuery(query): RawQuery,
) -> R {
    let q = ListQuery::from_query(query.as_deref())?;
    q.answer(all_groups(&s, &actor).await?, GROUP_ATTRS)
}

pub(super) async fn search_groups(
    State(s): State<Arc<AppState>>,
    Extension(actor): Extension<ScimActor>,
    body: Bytes,
) -> R {
    let q = ListQuery::from_body(&json_body(&body)?)?;
    q.answer(all_groups(&s, &actor).await?, GROUP_ATTRS)
}

/// `POST /.search`: Users and Groups together; a filter applies to both (a Group has no
/// `userName`, so a filter on it finds only Users).
pub(super) async fn search_all(
    State(s): State<Arc<AppState>>,
    Extension(actor): Extension<ScimActor>,
    body: Bytes,
) -> R {
    let q = ListQuery::from_body(&json_body(&body)?)?;
    let mut all = all_users(&s, &actor).await?;
    all.extend(all_groups(&s, &actor).await?);
    q.answer(all, USER_ATTRS)
}

pub(super) async fn create_user(
    State(s): State<Arc<AppState>>,
    Extension(actor): Extension<ScimActor>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> R {
    let doc = patch::resource(Kind::User, &json_body(&body)?)?;
    let p = s
        .coffer
        .scim_create_person(&actor, user_input(&doc))
        .await
        .map_err(failed)?;
    one(user_json(&base_url(&s), &p), query.as_deref(), true)
}

pub(super) async fn get_user(
    State(s): State<Arc<AppState>>,
    Extension(actor): Extension<ScimActor>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> R {
    let p = s
        .coffer
        .scim_person(&actor, user_id(&id)?)
        .await
        .map_err(failed)?;
    one(user_json(&base_url(&s), &p), query.as_deref(), false)
}

pub(super) async fn replace_user(
    State(s): State<Arc<AppState>>,
    Extension(actor): Extension<ScimActor>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> R {
    let id = user_id(&id)?;
    let doc = patch::resource(Kind::User, &json_body(&body)?)?;
    if !doc.contains_key("userName") {
        return Err(ScimFailure::new(
            StatusCode::BAD_REQUEST,
            Some("invalidValue"),
            "userName is required in a replaced User",
        ));
    }
    let p = s
        .coffer
        .scim_replace_person(&actor, id, user_input(&doc))
        .await
        .map_err(failed)?;
    one(user_json(&base_url(&s), &p), query.as_deref(), false)
}

pub(super) async fn patch_user(
    State(s): State<Arc<AppState>>,
    Extension(actor): Extension<ScimActor>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> R {
    let id = user_id(&id)?;
    let ops = json_body(&body)?;
    let base = base_url(&s);
    let now = s.coffer.scim_person(&actor, id).await.map_err(failed)?;
    let mut doc = writable(Kind::User, &user_json(&base, &now));
    patch::apply(Kind::User, &mut doc, &ops)?;
    let p = s
        .coffer
        .scim_replace_person(&actor, id, user_input(&doc))
        .await
        .map_err(failed)?;
    one(user_json(&base, &p), query.as_deref(), false)
}

pub(super) async fn delete_user(
    State(s): State<Arc<AppState>>,
    Extension(actor): Extension<ScimActor>,
    Path(id): Path<String>,
) -> R {
    s.coffer
        .scim_delete_person(&actor, user_id(&id)?)
        .await
        .map_err(failed)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn create_group(
    State(s): State<Arc<AppState>>,
    Extension(actor): Extension<ScimActor>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> R {
    let doc = patch::resource(Kind::Group, &json_body(&body)?)?;
    let g = s
        .coffer
        .scim_create_group(&actor, group_input(&doc))
        .await
        .map_err(failed)?;
    one(group_json(&base_url(&s), &g), query.as_deref(), true)
}

pub(super) async fn get_group(
    State(s): State<Arc<AppState>>,
    Extension(actor): Extension<ScimActor>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> R {
    let g = s
        .coffer
        .scim_group(&actor, group_id(&id)?)
        .await
        .map_err(failed)?;
    one(group_json(&base_url(&s), &g), query.as_deref(), false)
}

pub(super) async fn replace_group(
    State(s): State<Arc<AppState>>,
    Extension(actor): Extension<ScimActor>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> R {
    let id = group_id(&id)?;
    let doc = patch::resource(Kind::Group, &json_body(&body)?)?;
    let g = s
        .coffer
        .scim_replace_group(&actor, id, group_input(&doc))
        .await
        .map_err(failed)?;
    one(group_json(&base_url(&s), &g), query.as_deref(), false)
}

pub(super) async fn patch_group(
    State(s): State<Arc<AppState>>,
    Extension(actor): Extension<ScimActor>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> R {
    let id = group_id(&id)?;
    let ops = json_body(&body)?;
    let base = base_url(&s);
    let now = s.coffer.scim_group(&actor, id).await.map_err(failed)?;
    let mut doc = writable(Kind::Group, &group_json(&base, &now));
    patch::apply(Kind::Group, &mut doc, &ops)?;
    let g = s
        .coffer
        .scim_replace_group(&actor, id, group_input(&doc))
        .await
        .map_err(failed)?;
    one(group_json(&base, &g), query.as_deref(), false)
}

pub(super) async fn delete_group(
    State(s): State<Arc<AppState>>,
    Extension(actor): Extension<ScimActor>,
    Path(id): Path<String>,
) -> R {
    s.coffer
        .scim_delete_group(&actor, group_id(&id)?)
        .await
        .map_err(failed)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
