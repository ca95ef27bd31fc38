//! Fuzz target: the parsed names the API takes from paths, queries and bodies (issue and project
//! keys, scopes, grant scopes, principals, org slugs, user/group/secret names, bucket names, key
//! prefixes, AWS names) and the blob keys read back from a store. Every input is tried with every
//! parser. Whatever parses must print back to the same text, re-parse to the same value, read
//! the same through serde as through `parse` (a JSON string is checked like a path segment), and
//! keep the invariant its type promises: no path or shell characters in names, no way out of a
//! store's root in keys and prefixes, accessors that cannot panic.
#![no_main]

use std::fmt::{Debug, Display};
use std::str::FromStr;

use coffer_server::blob::{BlobKey, BlobPrefix};
use coffer_server::domain::{
    AwsRegion, BucketName, ExternalId, GrantScope, GroupName, KeyPrefix, KmsKeyArn, OrgSlug,
    PrincipalName, ProjectKey, RoleArn, Scope, SecretName, UserName,
};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A text newtype (`domain::text_type!`): the value is its text, serde goes through `parse`.
fn text_type<T>(s: &str) -> Option<T>
where
    T: FromStr + Display + Debug + PartialEq + Serialize + DeserializeOwned,
    T::Err: Debug,
{
    let parsed = s.parse::<T>().ok();
    let json = serde_json::to_string(s).expect("a str serializes");
    let via_serde = serde_json::from_str::<T>(&json).ok();
    assert_eq!(parsed, via_serde, "parse and serde disagree on {s:?}");
    let v = parsed?;
    assert_eq!(v.to_string(), s, "the value is its text");
    assert_eq!(serde_json::to_string(&v).unwrap(), json);
    assert_eq!(v.to_string().parse::<T>().ok().as_ref(), Some(&v));
    Some(v)
}

/// Shapes shared by the names people type: short, ASCII, nothing that needs quoting in a path,
/// a shell command or a log line.
fn plain(s: &str, max: usize) {
    assert!(!s.is_empty() && s.len() <= max, "{s:?}");
    assert!(
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b)),
        "{s:?}"
    );
}

fn check(s: &str) {
    if let Some(p) = text_type::<ProjectKey>(s) {
        plain(p.as_str(), 10);
        assert!(p.as_str().starts_with(|c: char| c.is_ascii_uppercase()));
    }
    if let Ok(scope) = Scope::parse(s) {
        assert_eq!(scope.to_string(), s);
        assert_eq!(
            Scope::from_parts(scope.project().as_str(), scope.issue_number()).unwrap(),
            scope
        );
        assert!(matches!(scope, Scope::Issue(_)) == (scope.issue_number() > 0));
        assert_eq!(
            GrantScope::parse(s).unwrap(),
            GrantScope::from(scope.clone())
        );
        assert!(GrantScope::parse(s).unwrap().covers(&scope));
    }
    if let Ok(g) = GrantScope::parse(s) {
        assert_eq!(g.to_string(), s);
        assert_eq!(
            GrantScope::from_parts(g.project().map(|p| p.as_str()), g.issue_number()).unwrap(),
            g
        );
    }
    if let Ok(p) = PrincipalName::parse(s) {
        assert_eq!(p.to_string(), s);
        assert_eq!(PrincipalName::parse(&p.to_string()).unwrap(), p);
    }
    if let Some(n) = text_type::<OrgSlug>(s) {
        plain(n.as_str(), 32);
        assert!(n.as_str().len() >= 2 && !n.as_str().ends_with('-'));
    }
    if let Some(n) = text_type::<UserName>(s) {
        plain(n.as_str(), 64);
    }
    if let Some(n) = text_type::<GroupName>(s) {
        plain(n.as_str(), 64);
    }
    if let Some(n) = text_type::<SecretName>(s) {
        plain(n.as_str(), 128);
        assert!(!n.as_str().starts_with(['.', '-', '_']));
    }
    // Any display name maps to a valid group name, and so does any numbered one.
    let g = GroupName::from_display(s);
    assert!(GroupName::parse(g.as_str()).is_ok(), "{s:?} -> {g:?}");
    let n = (s.len() as u32).wrapping_mul(7919);
    assert!(GroupName::parse(g.numbered(n).as_str()).is_ok());

    if let Some(b) = text_type::<BucketName>(s) {
        assert!((3..=63).contains(&b.as_str().len()));
        assert!(!b.as_str().contains(".."));
    }
    match KeyPrefix::parse_optional(s) {
        Ok(Some(p)) => {
            let t = p.as_str();
            assert!(!t.starts_with('/') && !t.ends_with('/') && t.len() <= 200);
            assert!(
                t.split('/')
                    .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
            );
            assert_eq!(KeyPrefix::parse_optional(t).unwrap(), Some(p.clone()));
            assert_eq!(KeyPrefix::parse(s).unwrap(), p);
        }
        Ok(None) => assert!(s.trim_matches('/').is_empty() && KeyPrefix::parse(s).is_err()),
        Err(_) => assert!(KeyPrefix::parse(s).is_err()),
    }
    text_type::<AwsRegion>(s);
    if let Some(arn) = text_type::<KmsKeyArn>(s) {
        assert!(AwsRegion::parse(arn.region().as_str()).is_ok());
        assert_eq!(arn.account().len(), 12);
        assert!(!arn.key_id().is_empty() && !arn.key_id().contains([':', '/']));
    }
    if let Some(arn) = text_type::<RoleArn>(s) {
        assert_eq!(arn.account().len(), 12);
        assert!(arn.account().bytes().all(|b| b.is_ascii_digit()));
    }
    text_type::<ExternalId>(s);

    if let Some(k) = BlobKey::parse(s) {
        assert_eq!(k.as_str(), s);
        assert!(!s.starts_with('/') && !s.ends_with('/') && s.len() <= 512);
        assert!(
            s.split('/')
                .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        );
        assert!(!s.contains(['\\', '\0']));
        // An envelope's manifest sits beside it, and leads back to it.
        if let Some(m) = k.manifest_key() {
            assert!(BlobKey::parse(m.as_str()).is_some(), "{m:?}");
            assert_eq!(m.envelope_of_manifest(), Some(k.clone()));
            assert_eq!(m.as_str().len(), s.len());
        }
        if let Some(e) = k.envelope_of_manifest() {
            assert!(BlobKey::parse(e.as_str()).is_some(), "{e:?}");
            assert_eq!(e.manifest_key(), Some(k.clone()));
        }
        assert!(BlobPrefix::parse("").unwrap().matches(&k));
    }
    if let Some(p) = BlobPrefix::parse(s) {
        assert_eq!(p.as_str(), s);
        if let Some(k) = BlobKey::parse(&format!("{s}x")) {
            assert!(p.matches(&k));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        check(s);
    }
});
