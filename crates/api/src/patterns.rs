//! The shapes of the names and keys in paths and bodies, as the regular expressions (ECMA-262,
//! as JSON Schema uses them) the OpenAPI document carries. The server's parsers
//! (`coffer_server::domain`) implement the same rules, and a property test there
//! (`domain/wire_patterns.rs`) holds each parser to its pattern, so a client generated from the document sends what the server takes.

/// An org slug: 2–32 of `a-z 0-9 -`, starting with a letter, no `--`, not ending with `-`.
pub const ORG_SLUG: &str = "^[a-z](-?[a-z0-9])+$";
/// Longest org slug.
pub const ORG_SLUG_MAX: usize = 32;
/// A user or service-account name: 1–64 of `a-z 0-9 . _ @ -`, starting with a letter or digit
/// (so `alice@acme.com` is one).
pub const USER_NAME: &str = "^[a-z0-9][a-z0-9._@-]{0,63}$";
/// Longest user or service-account name.
pub const USER_NAME_MAX: usize = 64;
/// A group name: 1–64 of `a-z 0-9 . _ -`, starting with a letter.
pub const GROUP_NAME: &str = "^[a-z][a-z0-9._-]{0,63}$";
/// Longest group name.
pub const GROUP_NAME_MAX: usize = 64;
/// A secret name: 1–128 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit.
pub const SECRET_NAME: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$";
/// Longest secret name.
pub const SECRET_NAME_MAX: usize = 128;
/// A scope: a project key (`OPS`) or an issue key (`OPS-123`).
pub const SCOPE: &str = "^[A-Z][A-Z0-9_]{1,9}(-[1-9][0-9]{0,8})?$";
/// A project key (`OPS`).
pub const PROJECT_KEY: &str = "^[A-Z][A-Z0-9_]{1,9}$";
/// An issue key (`OPS-123`).
pub const ISSUE_KEY: &str = "^[A-Z][A-Z0-9_]{1,9}-[1-9][0-9]{0,8}$";
/// Longest scope (a 10-character project key, a dash, 9 digits).
pub const SCOPE_MAX: usize = 20;
/// A new password: 12 or more characters, none of them a control character.
pub const PASSWORD: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]{12,}$";
/// A token label: 1–100 printable characters.
pub const LABEL: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]{1,100}$";
/// Standard base64 with padding, canonical (the unused low bits of the last character are zero,
/// so each byte string has exactly one spelling).
pub const BASE64: &str =
    "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$";
/// An S3 bucket name as the schema can say it: 3–63 of `a-z 0-9 . -`, starting and ending with a
/// letter or digit. The server also refuses `..`, IP-address shapes and AWS's reserved prefixes
/// and suffixes, and says which rule a name broke.
pub const BUCKET: &str = "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$";
/// An AWS region name (`eu-central-1`).
pub const AWS_REGION: &str = "^[a-z]+(-[a-z]+)+-[0-9]{1,2}$";
/// Whom a grant or share names: `user:NAME` or `svc:NAME` (names as [`USER_NAME`]), or
/// `group:NAME` (as [`GROUP_NAME`]).
pub const PRINCIPAL: &str =
    "^((user|svc):[a-z0-9][a-z0-9._@-]{0,63}|group:[a-z][a-z0-9._-]{0,63})$";
/// A member of a group: `user:NAME` or `svc:NAME`.
pub const MEMBER: &str = "^(user|svc):[a-z0-9][a-z0-9._@-]{0,63}$";
/// Where a grant applies: `*` (the whole org), a project key or an issue key.
pub const GRANT_SCOPE: &str = "^(\\*|[A-Z][A-Z0-9_]{1,9}(-[1-9][0-9]{0,8})?)$";
