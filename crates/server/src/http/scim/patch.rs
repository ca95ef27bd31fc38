//! Reading what a client writes: a whole resource (POST, PUT) and a PatchOp (RFC 7644 §3.5.2)
//! applied to the resource as it is now. Both end as the resource's writable attributes in one
//! JSON object, which `resources` turns into the service's input — so a PATCH is exactly a PUT
//! of the patched resource, and the two cannot disagree.
//!
//! Paths are an attribute name (case-insensitive, with or without its schema's URN), and for
//! `members` also `members[value eq "…"]` (what Okta and Entra ID send to remove one member).
//! `add` and `replace` set a single-valued attribute; on `members`, `add` adds and `replace`
//! replaces. `remove` unassigns, or removes the members named by its filter or its value.
//! Without a path, the value's attributes are set one by one. `active` may be sent as the
//! strings `"True"`/`"False"`, as Entra ID does. Attributes Coffer does not store are ignored;
//! read-only ones (`id`, `meta`, `schemas`) cannot be set, and neither can `userName` change or
//! a required attribute be removed.

use super::filter::bare;
use serde_json::{Map, Value};

/// The schema of a PatchOp body.
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// What a body was wrong with: the `scimType` and the sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// RFC 7644 §3.12 `scimType`.
    pub scim_type: &'static str,
    /// What was wrong.
    pub detail: String,
}

fn refuse<T>(scim_type: &'static str, detail: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        scim_type,
        detail: detail.into(),
    })
}

/// The writable attributes of a resource type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `userName` (required, immutable), `displayName`, `externalId`, `active`.
    User,
    /// `displayName` (required), `externalId`, `members`.
    Group,
}

impl Kind {
    fn attributes(self) -> &'static [&'static str] {
        match self {
            Kind::User => &["userName", "displayName", "externalId", "active"],
            Kind::Group => &["displayName", "externalId", "members"],
        }
    }

    fn required(self, attr: &str) -> bool {
        matches!(
            (self, attr),
            (Kind::User, "userName") | (Kind::Group, "displayName")
        )
    }

    /// The attribute's name as the schema spells it; `Ok(None)` for one Coffer does not store.
    fn attribute(self, name: &str) -> Result<Option<&'static str>, Refusal> {
        let name = bare(name);
        if ["id", "meta", "schemas"]
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name))
        {
            return refuse("mutability", format!("`{name}` is read-only"));
        }
        Ok(self
            .attributes()
            .iter()
            .copied()
            .find(|a| a.eq_ignore_ascii_case(name)))
    }
}

/// The writable attributes of `body` (a POST or PUT), by their schema names, with `active` as a
/// boolean and `members` as a list of `{"value": id}`; the rest is ignored.
pub fn resource(kind: Kind, body: &Value) -> Result<Map<String, Value>, Refusal> {
    let Some(obj) = body.as_object() else {
        return refuse("invalidSyntax", "the body must be a JSON object");
    };
    let mut out = Map::new();
    for (key, value) in obj {
        // Read-only attributes in a whole resource are ignored (RFC 7644 §3.5.1).
        let Ok(Some(attr)) = kind.attribute(key) else {
            continue;
        };
        if !value.is_null() {
            out.insert(attr.into(), normalize(attr, value)?);
        }
    }
    Ok(out)
}

/// `value` as stored for `attr`: strings, a boolean `active`, members as `{"value": id}`.
fn normalize(attr: &str, value: &Value) -> Result<Value, Refusal> {
    match (attr, value) {
        ("active", Value::Bool(_)) => Ok(value.clone()),
        ("active", Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
        ("active", Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
        ("active", _) => refuse("invalidValue", "active must be true or false"),
        ("members", Value::Array(list)) => list
            .iter()
            .map(member)
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        ("members", one @ Value::Object(_)) => Ok(Value::Array(vec![member(one)?])),
        ("members", _) => refuse("invalidValue", "members must be a list of {\"value\": id}"),
        (_, Value::String(_)) => Ok(value.clone()),
        (attr, _) => refuse("invalidValue", format!("{attr} must be a string")),
    }
}

/// One member as `{"value": id}`, from its `value` or else the last segment of its `$ref`.
fn member(m: &Value) -> Result<Value, Refusal> {
    let value = m.get("value").and_then(Value::as_str).or_else(|| {
        m.get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.rsplit('/').next())
    });
    match value {
        Some(v) => Ok(serde_json::json!({"value": v})),
        None => refuse("invalidValue", "each member needs a value (a User id)"),
    }
}

fn member_ids(members: &Value) -> Vec<String> {
    members
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// A parsed path: the attribute, and for `members[value eq "…"]` the member's id.
fn path(kind: Kind, raw: &str) -> Result<(Option<&'static str>, Option<String>), Refusal> {
    let Some((attr, rest)) = raw.split_once('[') else {
        return Ok((kind.attribute(raw)?, None));
    };
    // An attribute Coffer does not store is ignored, filter and all (Entra ID sends
    // `emails[type eq "work"].value`).
    let Some(attr) = kind.attribute(attr)? else {
        return Ok((None, None));
    };
    let filter = rest.strip_suffix(']').ok_or_else(|| Refusal {
        scim_type: "invalidPath",
        detail: format!("{raw:?} is not a path Coffer serves (after `]` nothing may follow)"),
    })?;
    let id = filter
        .trim()
        .strip_prefix("value")
        .map(str::trim_start)
        .and_then(|f| {
            f.get(..2)
                .filter(|op| op.eq_ignore_ascii_case("eq"))
                .map(|_| &f[2..])
        })
        .and_then(|v| serde_json::from_str::<String>(v.trim()).ok());
    match (attr, id) {
        ("members", Some(id)) => Ok((Some("members"), Some(id))),
        _ => refuse(
            "invalidPath",
            format!(
                "{raw:?} is not a path Coffer serves; a filtered path is `members[value eq \"<id>\"]`"
            ),
        ),
    }
}

/// The most operations one PATCH may carry.
const MAX_OPERATIONS: usize = 1_000;
/// The most members a group may be given through SCIM in one request.
const MAX_MEMBERS: usize = 10_000;

/// Applies the PatchOp `body` to `doc`, the resource's writable attributes as they are now.
pub fn apply(kind: Kind, doc: &mut Map<String, Value>, body: &Value) -> Result<(), Refusal> {
    let schemas_ok = body
        .get("schemas")
        .and_then(Value::as_array)
        .is_none_or(|s| s.iter().any(|x| x == PATCH_SCHEMA));
    if !schemas_ok {
        return refuse(
            "invalidSyntax",
            format!("a PATCH body's schemas are [{PATCH_SCHEMA:?}]"),
        );
    }
    let ops = body
        .get("Operations")
        .or_else(|| body.get("operations"))
        .and_then(Value::as_array)
        .ok_or_else(|| Refusal {
            scim_type: "invalidSyntax",
            detail: "a PATCH body has a list of Operations".into(),
        })?;
    if ops.len() > MAX_OPERATIONS {
        return refuse(
            "invalidValue",
            format!("a PATCH carries at most {MAX_OPERATIONS} operations; split it"),
        );
    }
    for op in ops {
        let name = op.get("op").and_then(Value::as_str).unwrap_or("");
        let name = name.to_ascii_lowercase();
        let value = op.get("value");
        match op.get("path").and_then(Value::as_str) {
            Some(p) => {
                let (attr, member) = path(kind, p)?;
                let Some(attr) = attr else { continue };
                one(kind, doc, &name, attr, member, value)?;
            }
            None if name == "remove" => {
                return refuse("noTarget", "a remove operation needs a path");
            }
            None => {
                let Some(fields) = value.and_then(Value::as_object) else {
                    return refuse(
                        "invalidValue",
                        "an operation without a path needs an object value",
                    );
                };
                for (key, v) in fields {
                    // A client may echo read-only attributes (Okta sends `id`): ignored.
                    let Ok(Some(attr)) = kind.attribute(key) else {
                        continue;
                    };
                    one(kind, doc, &name, attr, None, Some(v))?;
                }
            }
        }
    }
    Ok(())
}

/// One operation `op` on `attr` (for `members`, on the one member `member` if given).
fn one(
    kind: Kind,
    doc: &mut Map<String, Value>,
    op: &str,
    attr: &'static str,
    member: Option<String>,
    value: Option<&Value>,
) -> Result<(), Refusal> {
    let value = value.filter(|v| !v.is_null());
    match (op, attr, member) {
        ("add" | "replace", "members", None) => {
            let Some(v) = value else {
                return refuse("invalidValue", format!("{op} members needs a value"));
            };
            let mut ids = if op == "add" {
                doc.get("members").map(member_ids).unwrap_or_default()
            } else {
                vec![]
            };
            let mut seen: std::collections::HashSet<String> = ids.iter().cloned().collect();
            for id in member_ids(&normalize("members", v)?) {
                if seen.insert(id.clone()) {
                    ids.push(id);
                }
            }
            if ids.len() > MAX_MEMBERS {
                return refuse(
                    "invalidValue",
                    format!("a group takes at most {MAX_MEMBERS} members through SCIM"),
                );
            }
            set_members(doc, ids);
        }
        ("remove", "members", Some(id)) => {
            let ids = doc.get("members").map(member_ids).unwrap_or_default();
            set_members(doc, ids.into_iter().filter(|m| *m != id).collect());
        }
        ("remove", "members", None) => {
            let gone: std::collections::HashSet<String> = match value {
                Some(v) => member_ids(&normalize("members", v)?).into_iter().collect(),
                None => doc
                    .get("members")
                    .map(member_ids)
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
            };
            let ids = doc.get("members").map(member_ids).unwrap_or_default();
            set_members(doc, ids.into_iter().filter(|m| !gone.contains(m)).collect());
        }
        (_, _, Some(_)) => {
            return refuse("invalidPath", "only members can be filtered in a path");
        }
        ("remove", attr, None) if kind.required(attr) => {
            return refuse(
                "mutability",
                format!("{attr} is required and cannot be removed"),
            );
        }
        ("remove", attr, None) => {
            doc.remove(attr);
        }
        ("add" | "replace", attr, None) => match value {
            Some(v) => {
                doc.insert(attr.into(), normalize(attr, v)?);
            }
            None if kind.required(attr) => {
                return refuse(
                    "mutability",
                    format!("{attr} is required and cannot be removed"),
                );
            }
            None => {
                doc.remove(attr);
            }
        },
        (other, _, _) => {
            return refuse(
                "invalidSyntax",
                format!("{other:?} is not an operation; use add, replace or remove"),
            );
        }
    }
    Ok(())
}

fn set_members(doc: &mut Map<String, Value>, ids: Vec<String>) {
    let list = ids
        .into_iter()
        .map(|id| serde_json::json!({"value": id}))
        .collect();
    doc.insert("members".into(), Value::Array(list));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(kind: Kind, doc: Value, ops: Value) -> Result<Value, Refusal> {
        let mut doc = doc.as_object().unwrap().clone();
        apply(
            kind,
            &mut doc,
            &json!({"schemas": [PATCH_SCHEMA], "Operations": ops}),
        )?;
        Ok(Value::Object(doc))
    }

    #[test]
    fn user_attributes_are_set_and_removed() {
        let user = json!({"userName": "alice", "active": true});
        let got = patch(
            Kind::User,
            user.clone(),
            json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:User:displayName", "value": "Alice"},
                {"op": "replace", "value": {"externalId": "x", "id": "ignored", "nickName": "ignored"}},
            ]),
        )
        .unwrap();
        assert_eq!(
            got,
            json!({"userName": "alice", "active": false, "displayName": "Alice", "externalId": "x"})
        );
        let got = patch(Kind::User, got, json!([{"op": "remove", "path": "active"}])).unwrap();
        assert!(got.get("active").is_none());
        // What Coffer does not store is ignored, however it is addressed.
        let same = patch(
            Kind::User,
            got.clone(),
            json!([
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "a@b.c"},
                {"op": "add", "path": "name.givenName", "value": "Alice"},
                {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"},
            ]),
        )
        .unwrap();
        assert_eq!(same, got);
        for (ops, scim_type) in [
            (json!([{"op": "remove", "path": "userName"}]), "mutability"),
            (
                json!([{"op": "replace", "path": "id", "value": "x"}]),
                "mutability",
            ),
            (json!([{"op": "remove"}]), "noTarget"),
            (
                json!([{"op": "replace", "path": "active", "value": 3}]),
                "invalidValue",
            ),
            (
                json!([{"op": "copy", "path": "active", "value": true}]),
                "invalidSyntax",
            ),
            (
                json!([{"op": "remove", "path": "displayName[value eq \"x\"]"}]),
                "invalidPath",
            ),
        ] {
            let e = patch(Kind::User, user.clone(), ops.clone()).unwrap_err();
            assert_eq!(e.scim_type, scim_type, "{ops}");
        }
    }

    #[test]
    fn members_are_added_replaced_and_removed() {
        let group = json!({"displayName": "dba", "members": [{"value": "a"}, {"value": "b"}]});
        let ids = |v: Value| member_ids(&v["members"]);
        let add = patch(
            Kind::Group,
            group.clone(),
            json!([{"op": "add", "path": "members", "value": [{"value": "c", "display": "C"}, {"value": "a"}]}]),
        )
        .unwrap();
        assert_eq!(ids(add), ["a", "b", "c"]);
        let replace = patch(
            Kind::Group,
            group.clone(),
            json!([{"op": "replace", "path": "members", "value": [{"$ref": "https://x/scim/v2/Users/d"}]}]),
        )
        .unwrap();
        assert_eq!(ids(replace), ["d"]);
        let one = patch(
            Kind::Group,
            group.clone(),
            json!([{"op": "remove", "path": "members[value eq \"a\"]"}]),
        )
        .unwrap();
        assert_eq!(ids(one), ["b"]);
        let listed = patch(
            Kind::Group,
            group.clone(),
            json!([{"op": "remove", "path": "members", "value": [{"value": "b"}]}]),
        )
        .unwrap();
        assert_eq!(ids(listed), ["a"]);
        let all = patch(
            Kind::Group,
            group.clone(),
            json!([{"op": "remove", "path": "members"}]),
        )
        .unwrap();
        assert!(ids(all).is_empty());
        let e = patch(
            Kind::Group,
            group,
            json!([{"op": "remove", "path": "displayName"}]),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, "mutability");
    }

    #[test]
    fn whole_resources_keep_what_coffer_stores() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "ignored", "meta": {}, "UserName": "Alice", "active": "true",
            "name": {"givenName": "Alice"}, "emails": [], "displayName": null,
        });
        assert_eq!(
            Value::Object(resource(Kind::User, &body).unwrap()),
            json!({"userName": "Alice", "active": true})
        );
        assert_eq!(
            resource(Kind::User, &json!([])).unwrap_err().scim_type,
            "invalidSyntax"
        );
    }
}
