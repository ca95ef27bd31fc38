//! The SCIM filters Coffer serves (RFC 7644 §3.4.2.2), and nothing more: comparisons with `eq`
//! joined by `and`, on the attributes [`Attr`] names — what identity providers look people and
//! groups up by (`userName eq "alice@acme.com"`, `externalId eq "00u1…"`, `displayName eq
//! "Platform"`). Anything else — another operator, `or`, `not`, brackets, another attribute — is
//! refused with `invalidFilter` and a sentence saying what is served, never half-understood.
//!
//! A filter is evaluated on the resource as it is rendered, so it sees exactly what a client
//! reads. Attribute names are case-insensitive and may carry their schema's URN; values compare
//! as the schemas say — `userName` and `displayName` ignoring case, `id` and `externalId`
//! exactly.

use serde_json::Value;

/// An attribute a filter may compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attr {
    /// `id`.
    Id,
    /// `externalId`.
    ExternalId,
    /// `userName` (Users).
    UserName,
    /// `displayName`.
    DisplayName,
    /// `active` (Users).
    Active,
}

impl Attr {
    /// The attribute's name in a resource.
    fn key(self) -> &'static str {
        match self {
            Attr::Id => "id",
            Attr::ExternalId => "externalId",
            Attr::UserName => "userName",
            Attr::DisplayName => "displayName",
            Attr::Active => "active",
        }
    }

    /// Whether values compare exactly (`caseExact` in the schema).
    fn case_exact(self) -> bool {
        matches!(self, Attr::Id | Attr::ExternalId)
    }

    fn named(name: &str) -> Option<Attr> {
        [
            Attr::Id,
            Attr::ExternalId,
            Attr::UserName,
            Attr::DisplayName,
            Attr::Active,
        ]
        .into_iter()
        .find(|a| a.key().eq_ignore_ascii_case(name))
    }
}

/// What each resource type may be filtered on.
pub const USER_ATTRS: &[Attr] = &[
    Attr::Id,
    Attr::ExternalId,
    Attr::UserName,
    Attr::DisplayName,
    Attr::Active,
];
/// What Groups may be filtered on.
pub const GROUP_ATTRS: &[Attr] = &[Attr::Id, Attr::ExternalId, Attr::DisplayName];

/// A parsed filter: every comparison must hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter(Vec<(Attr, Value)>);

fn served(allowed: &[Attr]) -> String {
    let names: Vec<&str> = allowed.iter().map(|a| a.key()).collect();
    format!(
        "Coffer's SCIM filters compare with `eq`, joined by `and`, on {}",
        names.join(", ")
    )
}

/// The attribute name without its schema URN (`urn:…:User:userName` → `userName`).
pub fn bare(path: &str) -> &str {
    if path.starts_with("urn:") {
        path.rsplit(':').next().unwrap_or(path)
    } else {
        path
    }
}

/// Splits the next token off `s` (after whitespace): a quoted string whole, else a run of
/// characters up to whitespace.
fn token(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('"') {
        let mut escaped = false;
        for (i, c) in rest.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => return Some((&s[..i + 2], &rest[i + 1..])),
                _ => escaped = false,
            }
        }
        return Some((s, ""));
    }
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    Some((&s[..end], &s[end..]))
}

impl Filter {
    /// Parses `text`, allowing only the attributes in `allowed`. The error is the sentence for
    /// an `invalidFilter` answer.
    pub fn parse(text: &str, allowed: &[Attr]) -> Result<Filter, String> {
        let refuse = |what: String| Err(format!("{what}; {}", served(allowed)));
        let mut terms = vec![];
        let mut rest = text;
        loop {
            let Some((path, after)) = token(rest) else {
                return refuse("the filter is empty or ends after `and`".into());
            };
            if path.starts_with('(') || path.eq_ignore_ascii_case("not") {
                return refuse(format!("`{path}` is not served"));
            }
            let Some(attr) = Attr::named(bare(path)).filter(|a| allowed.contains(a)) else {
                return refuse(format!("`{path}` cannot be filtered on here"));
            };
            let Some((op, after)) = token(after) else {
                return refuse(format!("`{path}` has no operator"));
            };
            if !op.eq_ignore_ascii_case("eq") {
                return refuse(format!("the operator `{op}` is not served"));
            }
            let Some((raw, after)) = token(after) else {
                return refuse(format!("`{path} eq` has no value"));
            };
            let Ok(value) = serde_json::from_str::<Value>(raw) else {
                return refuse(format!(
                    "{raw} is not a value (strings are in double quotes)"
                ));
            };
            if !(value.is_string() || value.is_boolean() || value.is_null()) {
                return refuse(format!("{raw} is not a string, true, false or null"));
            }
            terms.push((attr, value));
            match token(after) {
                None => return Ok(Filter(terms)),
                Some((and, after)) if and.eq_ignore_ascii_case("and") => rest = after,
                Some((other, _)) => return refuse(format!("`{other}` is not served")),
            }
        }
    }

    /// Whether `resource` (as rendered) passes.
    pub fn matches(&self, resource: &Value) -> bool {
        self.0.iter().all(|(attr, want)| {
            let have = resource.get(attr.key()).unwrap_or(&Value::Null);
            match (have, want) {
                (Value::String(h), Value::String(w)) if !attr.case_exact() => {
                    h.to_lowercase() == w.to_lowercase()
                }
                (h, w) => h == w,
            }
        })
    }

    /// The comparisons, in order: attribute name and value (for `testing::fuzz`).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn terms(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.0.iter().map(|(attr, value)| (attr.key(), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({"id": "u1", "userName": "alice@acme.com", "externalId": "X1", "active": true})
    }

    #[test]
    fn eq_and_and_on_the_served_attributes() {
        for (text, hit) in [
            (r#"userName eq "alice@acme.com""#, true),
            (r#"userName eq "ALICE@acme.com""#, true),
            (r#"USERNAME Eq "alice@acme.com""#, true),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "alice@acme.com""#,
                true,
            ),
            (r#"externalId eq "x1""#, false),
            (r#"externalId eq "X1" and active eq true"#, true),
            (r#"externalId eq "X1" AND userName eq "bob""#, false),
            (r#"displayName eq null"#, true),
            (r#"userName eq "a \"quoted\" name""#, false),
        ] {
            let f = Filter::parse(text, USER_ATTRS).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(f.matches(&user()), hit, "{text}");
        }
    }

    #[test]
    fn everything_else_is_refused_with_what_is_served() {
        for text in [
            "",
            r#"userName co "a""#,
            r#"userName eq "a" or userName eq "b""#,
            r#"(userName eq "a")"#,
            r#"not (userName eq "a")"#,
            r#"emails.value eq "a""#,
            r#"userName eq"#,
            r#"userName eq "a" and"#,
            r#"userName eq 42"#,
            r#"userName pr"#,
            r#"members eq "x""#,
        ] {
            let e = Filter::parse(text, USER_ATTRS).unwrap_err();
            assert!(e.contains("`eq`"), "{text}: {e}");
        }
        assert!(Filter::parse(r#"userName eq "a""#, GROUP_ATTRS).is_err());
    }
}
