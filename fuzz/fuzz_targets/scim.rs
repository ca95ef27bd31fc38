//! Fuzz target: what an identity provider sends to `/scim/v2` — `filter` query strings and
//! the bodies of POST/PUT (a whole resource) and PATCH (a PatchOp) — read for Users and Groups.
//! A filter that parses compares only attributes its type serves, with strings, booleans or
//! null; written back out (`attr eq <json> and …`) it parses to the same filter; a resource made
//! of its own terms passes it and a resource with one string changed does not. A body that reads
//! as a resource, and a resource after a PATCH that applies, holds only the type's writable
//! attributes, normalized (strings, a boolean `active`, members as `{"value": id}`, unique after a
//! PATCH), keeps its required attribute through a PATCH, and reads back as the same resource when
//! PUT: "a PATCH is exactly a PUT of the patched resource".
#![no_main]

use std::collections::HashSet;

use coffer_server::testing::fuzz::{ScimFilter, ScimKind, scim_patch, scim_resource};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

const KINDS: [ScimKind; 2] = [ScimKind::User, ScimKind::Group];

fn case_exact(attr: &str) -> bool {
    matches!(attr, "id" | "externalId")
}

fn check_filter(text: &str, kind: ScimKind) {
    let Ok(f) = ScimFilter::parse(text, kind) else {
        return;
    };
    let terms = f.terms();
    assert!(!terms.is_empty());
    for (attr, value) in &terms {
        assert!(kind.filter_attributes().contains(attr), "{attr}");
        assert!(value.is_string() || value.is_boolean() || value.is_null());
    }
    let written: Vec<String> = terms.iter().map(|(a, v)| format!("{a} eq {v}")).collect();
    let written = written.join(" and ");
    assert_eq!(
        ScimFilter::parse(&written, kind).as_ref(),
        Ok(&f),
        "{text:?} written as {written:?}"
    );

    // A resource made of the terms passes, unless two terms want different values.
    let same = |attr: &str, a: &Value, b: &Value| match (a, b) {
        (Value::String(a), Value::String(b)) if !case_exact(attr) => {
            a.to_lowercase() == b.to_lowercase()
        }
        _ => a == b,
    };
    let consistent = terms.iter().all(|(attr, value)| {
        terms
            .iter()
            .filter(|(a, _)| a == attr)
            .all(|(_, other)| same(attr, value, other))
    });
    let mut resource = Map::new();
    for (attr, value) in &terms {
        if !value.is_null() && !resource.contains_key(*attr) {
            resource.insert((*attr).to_owned(), value.clone());
        }
    }
    let resource = Value::Object(resource);
    assert_eq!(f.matches(&resource), consistent, "{text:?} on {resource}");
    if consistent {
        for (attr, _) in &terms {
            if let Some(Value::String(s)) = resource.get(*attr) {
                let mut other = resource.clone();
                other[*attr] = Value::String(format!("{s}\u{1}"));
                assert!(!f.matches(&other), "{text:?} on {other}");
            }
        }
    }
}

/// The shape every stored SCIM resource has.
fn normalized(kind: ScimKind, doc: &Map<String, Value>) {
    for (k, v) in doc {
        assert!(kind.writable_attributes().contains(&k.as_str()), "{k}");
        match (k.as_str(), v) {
            ("active", Value::Bool(_)) => {}
            ("members", Value::Array(list)) => {
                for m in list {
                    assert!(m["value"].is_string(), "a member is {{\"value\": id}}: {m}");
                    assert_eq!(m.as_object().map(Map::len), Some(1), "{m}");
                }
            }
            (_, Value::String(_)) if k != "active" && k != "members" => {}
            _ => panic!("{k} holds {v}"),
        }
    }
    // A stored resource, PUT again, is itself.
    assert_eq!(
        scim_resource(kind, &Value::Object(doc.clone())).as_ref(),
        Ok(doc)
    );
}

fn start(kind: ScimKind) -> Map<String, Value> {
    let rendered = match kind {
        ScimKind::User => json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "0190b3d2-0000-7000-8000-000000000001",
            "userName": "alice@acme.com",
            "displayName": "Alice",
            "externalId": "00u1",
            "active": true,
            "meta": {"resourceType": "User"}
        }),
        ScimKind::Group => json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "0190b3d2-0000-7000-8000-000000000002",
            "displayName": "Platform",
            "externalId": "g1",
            "members": [{"value": "u1"}, {"value": "u2", "display": "Bob"}]
        }),
    };
    scim_resource(kind, &rendered).expect("a rendered resource reads")
}

fn check_bodies(body: &Value, kind: ScimKind) {
    if let Ok(doc) = scim_resource(kind, body) {
        normalized(kind, &doc);
    }
    let before = start(kind);
    let mut doc = before.clone();
    if scim_patch(kind, &mut doc, body).is_ok() {
        normalized(kind, &doc);
        let required = match kind {
            ScimKind::User => "userName",
            ScimKind::Group => "displayName",
        };
        assert!(doc.contains_key(required), "{required} removed by {body}");
        if let Some(Value::Array(list)) = doc.get("members") {
            let ids: HashSet<&str> = list.iter().filter_map(|m| m["value"].as_str()).collect();
            assert_eq!(ids.len(), list.len(), "duplicate members after {body}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        for kind in KINDS {
            check_filter(text, kind);
        }
        if let Ok(f) = ScimFilter::parse(text, ScimKind::Group) {
            assert_eq!(ScimFilter::parse(text, ScimKind::User), Ok(f));
        }
    }
    if let Ok(body) = serde_json::from_slice::<Value>(data) {
        for kind in KINDS {
            check_bodies(&body, kind);
            // Any resource, however odd, can be tested against a filter.
            if let Ok(f) = ScimFilter::parse(r#"userName eq "alice" and active eq true"#, kind) {
                let _ = f.matches(&body);
            }
        }
    }
});
