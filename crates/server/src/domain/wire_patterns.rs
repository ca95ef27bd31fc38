//! Holds each parser to the pattern the OpenAPI document publishes for it
//! (`coffer_api::patterns`): every string generated from the pattern parses, and every string
//! the parser accepts matches the pattern. A client built from the document then sends exactly
//! what the server takes, and schemathesis's negative cases are exactly what it refuses.

use super::{
    AwsRegion, BucketName, GrantScope, GroupName, IssueKey, OrgSlug, ParseError, PrincipalName,
    ProjectKey, Scope, SecretName, UserName,
};
use coffer_api::patterns;
use proptest::prelude::*;
use proptest::string::string_regex;
use regex::Regex;

/// The pattern without its anchors, for generating (proptest does not take anchors).
fn body(pattern: &str) -> &str {
    pattern.trim_start_matches('^').trim_end_matches('$')
}

/// Checks that every string `parse` accepts from the `near` alphabet matches `pattern` (for
/// rules a schema pattern cannot say whole, where the parser refuses more than the pattern).
fn within(
    pattern: &str,
    parse: fn(&str) -> Result<(), ParseError>,
    near: &str,
) -> Result<(), TestCaseError> {
    let re = Regex::new(pattern).expect("the pattern compiles");
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(512));
    let nearby = string_regex(near).expect("the nearby alphabet generates");
    runner
        .run(&nearby, |s| {
            if parse(&s).is_ok() {
                prop_assert!(re.is_match(&s), "{s:?} parses but does not match {pattern}");
            }
            Ok(())
        })
        .map_err(|e| TestCaseError::fail(e.to_string()))
}

/// Checks both directions for one parser: generated-from-pattern parses, parsed matches.
fn agree(
    pattern: &str,
    max: usize,
    parse: fn(&str) -> Result<(), ParseError>,
    near: &str,
) -> Result<(), TestCaseError> {
    let re = Regex::new(pattern).expect("the pattern compiles");
    let config = ProptestConfig::with_cases(512);
    let mut runner = proptest::test_runner::TestRunner::new(config.clone());
    let valid = string_regex(body(pattern)).expect("the pattern generates");
    runner
        .run(&valid, |s| {
            if s.chars().count() <= max {
                prop_assert!(
                    parse(&s).is_ok(),
                    "{s:?} matches {pattern} but does not parse"
                );
            }
            Ok(())
        })
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    // Strings from an alphabet near the valid one, so both answers occur often.
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let nearby = string_regex(near).expect("the nearby alphabet generates");
    runner
        .run(&nearby, |s| {
            let fits = re.is_match(&s) && s.chars().count() <= max;
            prop_assert_eq!(parse(&s).is_ok(), fits, "{:?} against {}", s, pattern);
            Ok(())
        })
        .map_err(|e| TestCaseError::fail(e.to_string()))
}

#[test]
fn org_slugs_follow_their_pattern() {
    agree(
        patterns::ORG_SLUG,
        patterns::ORG_SLUG_MAX,
        |s| OrgSlug::parse(s).map(drop),
        "[a-zA-Z0-9_-]{0,34}",
    )
    .unwrap();
}

#[test]
fn user_names_follow_their_pattern() {
    agree(
        patterns::USER_NAME,
        patterns::USER_NAME_MAX,
        |s| UserName::parse(s).map(drop),
        "[a-zA-Z0-9._@ -]{0,66}",
    )
    .unwrap();
}

#[test]
fn secret_names_follow_their_pattern() {
    agree(
        patterns::SECRET_NAME,
        patterns::SECRET_NAME_MAX,
        |s| SecretName::parse(s).map(drop),
        "[a-zA-Z0-9._ /-]{0,130}",
    )
    .unwrap();
}

#[test]
fn scopes_follow_their_pattern() {
    agree(
        patterns::SCOPE,
        patterns::SCOPE_MAX,
        |s| Scope::parse(s).map(drop),
        "[A-Z0-9a_]{0,12}(-[0-9]{0,11})?",
    )
    .unwrap();
}

#[test]
fn new_passwords_follow_their_pattern() {
    use crate::service::web::guard::{MAX_PASSWORD_CHARS, check_new_password};
    agree(
        patterns::PASSWORD,
        MAX_PASSWORD_CHARS,
        |s| check_new_password(s).map_err(|e| ParseError::new("password", e.to_string())),
        "[a-z \\u0000-\\u001f\\u007f-\\u009fé]{0,20}",
    )
    .unwrap();
}

#[test]
fn project_and_issue_keys_follow_their_patterns() {
    agree(
        patterns::PROJECT_KEY,
        10,
        |s| ProjectKey::parse(s).map(drop),
        "[A-Z0-9a_]{0,12}",
    )
    .unwrap();
    agree(
        patterns::ISSUE_KEY,
        patterns::SCOPE_MAX,
        |s| IssueKey::parse(s).map(drop),
        "[A-Z0-9_]{0,11}-?[0-9+]{0,11}",
    )
    .unwrap();
}

#[test]
fn aws_regions_follow_their_pattern() {
    agree(
        patterns::AWS_REGION,
        32,
        |s| AwsRegion::parse(s).map(drop),
        "[a-z]{0,6}(-[a-z+0-9]{0,6}){0,4}",
    )
    .unwrap();
}

#[test]
fn bucket_names_stay_within_their_pattern() {
    within(
        patterns::BUCKET,
        |s| BucketName::parse(s).map(drop),
        "[a-z0-9.A_-]{0,65}",
    )
    .unwrap();
}

#[test]
fn secret_values_are_canonical_base64() {
    use base64::Engine;
    agree(
        patterns::BASE64,
        usize::MAX,
        |s| {
            crate::http::B64
                .decode(s)
                .map(drop)
                .map_err(|e| ParseError::new("value", e.to_string()))
        },
        "[A-Za-z0-9+/=_-]{0,9}",
    )
    .unwrap();
}

#[test]
fn principals_group_names_and_grant_scopes_follow_their_patterns() {
    agree(
        patterns::PRINCIPAL,
        70,
        |s| PrincipalName::parse(s).map(drop),
        "(user|svc|group|team|)[:]?[a-zA-Z0-9._@ -]{0,8}",
    )
    .unwrap();
    agree(
        patterns::GROUP_NAME,
        patterns::GROUP_NAME_MAX,
        |s| GroupName::parse(s).map(drop),
        "[a-zA-Z0-9._@ -]{0,66}",
    )
    .unwrap();
    agree(
        patterns::GRANT_SCOPE,
        patterns::SCOPE_MAX,
        |s| GrantScope::parse(s).map(drop),
        "[*]?[A-Z0-9_]{0,11}-?[0-9]{0,10}",
    )
    .unwrap();
}
