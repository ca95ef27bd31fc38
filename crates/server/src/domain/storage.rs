//! Names an org admin gives for its own bucket: the bucket name and the key prefix inside it.
//! Both end up in S3 requests, policy documents and object keys, so each is checked once at the
//! edge against S3's own rules (plus Coffer's: a prefix can never climb out of itself) and is
//! then known-good everywhere. Neither is secret.

use super::ParseError;

text_type!(
    /// An S3 bucket name, by AWS's general-purpose bucket naming rules: 3–63 characters of lowercase
    /// letters, digits, `.` and `-`, starting and ending with a letter or digit, no `..`, not shaped
    /// like an IP address, none of the reserved prefixes and suffixes.
    BucketName
);

impl BucketName {
    /// Parses a bucket name.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let bad = |m: &str| {
            Err(ParseError::new(
                "bucket name",
                format!(
                    "{s:?} {m} (S3 bucket names are 3-63 lowercase letters, digits, `.` and `-`)"
                ),
            ))
        };
        if !(3..=63).contains(&s.len()) {
            return bad("is not 3-63 characters long");
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            return bad("may only contain lowercase letters, digits, `.` and `-`");
        }
        let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if !edge(s.as_bytes()[0]) || !edge(s.as_bytes()[s.len() - 1]) {
            return bad("must start and end with a letter or digit");
        }
        if s.contains("..") {
            return bad("may not contain `..`");
        }
        if s.parse::<std::net::Ipv4Addr>().is_ok() {
            return bad("may not be an IP address");
        }
        if ["xn--", "sthree-", "amzn-s3-demo-"]
            .iter()
            .any(|p| s.starts_with(p))
            || ["-s3alias", "--ol-s3", "--x-s3", ".mrap"]
                .iter()
                .any(|x| s.ends_with(x))
        {
            return bad("uses a prefix or suffix AWS reserves");
        }
        Ok(Self(s.to_owned()))
    }
}

text_type!(
    /// A key prefix inside a bucket, stored without leading or trailing `/`: 1–200 characters in
    /// `/`-separated segments of letters, digits, `-`, `_` and `.`, none of them `.` or `..`.
    KeyPrefix
);

impl KeyPrefix {
    /// Parses a prefix that must be there; surrounding slashes are dropped.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Self::parse_optional(s)?.ok_or_else(|| {
            ParseError::new(
                "key prefix",
                "is empty; give one like `coffer/prod`, or none",
            )
        })
    }

    /// Parses an optional prefix; surrounding slashes are dropped. An empty prefix is `Ok(None)`.
    pub fn parse_optional(s: &str) -> Result<Option<Self>, ParseError> {
        let t = s.trim_matches('/');
        if t.is_empty() {
            return Ok(None);
        }
        let ok = t.len() <= 200
            && t.split('/').all(|seg| {
                !seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            });
        if ok {
            Ok(Some(Self(t.to_owned())))
        } else {
            Err(ParseError::new(
                "key prefix",
                format!(
                    "{s:?} must be up to 200 characters of `/`-separated segments of letters, \
                     digits, `-`, `_` and `.` (no empty, `.` or `..` segments), e.g. `coffer/prod`"
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in [
            "abc",
            "acme-secrets",
            "acme.secrets.eu",
            "a1b",
            &"a".repeat(63),
        ] {
            assert_eq!(BucketName::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "Acme",
            "acme_secrets",
            "-acme",
            "acme-",
            "ac..me",
            "192.168.1.1",
            "xn--acme",
            "acme-s3alias",
            "acme secrets",
            "",
        ] {
            let e = BucketName::parse(bad).unwrap_err();
            assert_eq!(e.field, "bucket name", "{bad}");
        }
    }

    #[test]
    fn prefixes_are_trimmed_and_cannot_escape() {
        assert_eq!(KeyPrefix::parse_optional("").unwrap(), None);
        assert_eq!(KeyPrefix::parse_optional("/").unwrap(), None);
        assert!(
            KeyPrefix::parse("/").is_err(),
            "a required prefix is not empty"
        );
        assert_eq!(
            KeyPrefix::parse("/coffer/prod/").unwrap().as_str(),
            "coffer/prod"
        );
        for bad in ["a//b", "../x", "a/./b", "a b", "a?b", &"a".repeat(201)] {
            assert!(KeyPrefix::parse_optional(bad).is_err(), "{bad}");
        }
        // Read back from JSON or TOML, a prefix is checked the same way.
        assert!(serde_json::from_str::<KeyPrefix>(r#""../x""#).is_err());
        assert_eq!(
            serde_json::from_str::<KeyPrefix>(r#""a/b""#)
                .unwrap()
                .as_str(),
            "a/b"
        );
    }
}
