//! Names people type: org slugs, user names and secret names. Each has a small, documented
//! alphabet so it is safe in URLs, shell commands and environment-variable names, and never needs
//! escaping in logs.

use super::ParseError;

fn check(
    field: &'static str,
    s: &str,
    max: usize,
    first: fn(char) -> bool,
    rest: fn(char) -> bool,
    shape: &str,
) -> Result<(), ParseError> {
    let bad = || ParseError::new(field, format!("{s:?} is not valid: {shape}"));
    if s.is_empty() || s.len() > max {
        return Err(ParseError::new(
            field,
            format!("must be 1 to {max} characters long ({shape})"),
        ));
    }
    let mut chars = s.chars();
    if !chars.next().is_some_and(first) || !chars.all(rest) {
        return Err(bad());
    }
    Ok(())
}

text_type!(
    /// An org slug: 2–32 of `a-z 0-9 -`, starting with a letter, not ending with `-`.
    OrgSlug
);
text_type!(
    /// A user name: 1–64 of `a-z 0-9 . _ -`, starting with a letter.
    UserName
);
text_type!(
    /// A group name: 1–64 of `a-z 0-9 . _ -`, starting with a letter (the user-name alphabet, so
    /// an SSO or SCIM group maps onto it).
    GroupName
);
text_type!(
    /// A secret name: 1–128 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit.
    SecretName
);

impl OrgSlug {
    /// Parses a slug.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let shape =
            "use 2-32 lowercase letters, digits or '-', starting with a letter (e.g. `acme-eu`)";
        check(
            "org slug",
            s,
            32,
            |c| c.is_ascii_lowercase(),
            |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
            shape,
        )?;
        if s.len() < 2 || s.ends_with('-') || s.contains("--") {
            return Err(ParseError::new(
                "org slug",
                format!("{s:?} is not valid: {shape}"),
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl UserName {
    /// Parses a user name.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        check(
            "user name",
            s,
            64,
            |c| c.is_ascii_lowercase(),
            |c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'),
            "use lowercase letters, digits, '.', '_' or '-', starting with a letter (e.g. `bob`)",
        )?;
        Ok(Self(s.to_owned()))
    }
}

impl GroupName {
    /// Parses a group name.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        check(
            "group name",
            s,
            64,
            |c| c.is_ascii_lowercase(),
            |c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'),
            "use lowercase letters, digits, '.', '_' or '-', starting with a letter (e.g. `dba`)",
        )?;
        Ok(Self(s.to_owned()))
    }
}

impl SecretName {
    /// Parses a secret name.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        check(
            "secret name",
            s,
            128,
            |c| c.is_ascii_alphanumeric(),
            |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'),
            "use letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. `db-password`)",
        )?;
        Ok(Self(s.to_owned()))
    }

    /// True if this name starts with `prefix` (used by list-by-prefix).
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.0.starts_with(prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slugs() {
        for ok in ["default", "ab", "acme-eu", "a1"] {
            assert!(OrgSlug::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "Acme",
            "1abc",
            "acme-",
            "ac--me",
            "acme_eu",
            &"a".repeat(33),
        ] {
            let err = OrgSlug::parse(bad).unwrap_err();
            assert_eq!(err.field, "org slug");
        }
    }

    #[test]
    fn user_and_secret_names() {
        assert!(UserName::parse("bob.smith_2").is_ok());
        assert!(UserName::parse("Bob").is_err());
        assert!(SecretName::parse("db-password").is_ok());
        assert!(SecretName::parse("AWS_KEY.v2").is_ok());
        for bad in ["", "-x", "a b", "a/b", "ü", &"x".repeat(129)] {
            assert!(SecretName::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn parsed_secret_names_round_trip(s in "[A-Za-z0-9][A-Za-z0-9._-]{0,127}") {
            let n = SecretName::parse(&s).unwrap();
            prop_assert_eq!(n.as_str(), s.as_str());
        }

        #[test]
        fn secret_names_never_contain_path_or_shell_chars(s in "\\PC{0,40}") {
            if let Ok(n) = SecretName::parse(&s) {
                prop_assert!(!n.as_str().contains(['/', ' ', '$', '\'', '"', '\\']));
            }
        }
    }
}
