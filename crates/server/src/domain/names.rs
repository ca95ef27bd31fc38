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
    /// A user name: 1–64 of `a-z 0-9 . _ @ -`, starting with a letter or digit — so an email
    /// address (`alice@acme.com`) or a directory's id (SCIM userNames) is one.
    UserName
);
text_type!(
    /// A group name: 1–64 of `a-z 0-9 . _ -`, starting with a letter. An SSO groups claim names
    /// a group by it; a SCIM group's free-text displayName maps onto it ([`GroupName::from_display`]).
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
            |c| c.is_ascii_lowercase() || c.is_ascii_digit(),
            |c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '@' | '-'),
            "use lowercase letters, digits, '.', '_', '@' or '-', starting with a letter or digit (e.g. `bob` or `bob@acme.com`)",
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

    /// The group name for a free-text display name (a SCIM group's `displayName`): the text
    /// itself if it is a group name, else its slug — lowercase, every run of other characters
    /// turned into one `-`, trimmed of `-`, `group-` in front unless it starts with a letter,
    /// and cut to 64 characters. (`Platform Team` → `platform-team`, `42` → `group-42`.)
    pub fn from_display(text: &str) -> GroupName {
        if let Ok(name) = GroupName::parse(text) {
            return name;
        }
        let mut slug = String::new();
        for c in text.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_') {
                slug.push(c);
            } else if !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let slug = slug.trim_matches('-');
        let mut name = if slug.starts_with(|c: char| c.is_ascii_lowercase()) {
            slug.to_owned()
        } else {
            format!("group-{slug}").trim_end_matches('-').to_owned()
        };
        name.truncate(64);
        let name = name.trim_end_matches('-');
        GroupName::parse(name).expect("a slug is a group name")
    }

    /// This name with `-{n}` at the end, shortened to stay within 64 characters (the next
    /// candidate when a name is taken).
    pub fn numbered(&self, n: u32) -> GroupName {
        let suffix = format!("-{n}");
        let mut base = self.0.clone();
        base.truncate(64 - suffix.len());
        let base = base.trim_end_matches('-');
        GroupName::parse(&format!("{base}{suffix}")).expect("a numbered name is a group name")
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
        assert!(UserName::parse("alice@acme.com").is_ok());
        assert!(UserName::parse("3f2a9c1e-0b7d-4c2a-9d5e-1f0a2b3c4d5e").is_ok());
        for bad in [
            "Bob",
            "@acme.com",
            ".bob",
            "-bob",
            "bob smith",
            "bob/x",
            "bob:x",
        ] {
            assert!(UserName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(GroupName::parse("1dba").is_err() && GroupName::parse("d@ba").is_err());
        assert!(SecretName::parse("db-password").is_ok());
        assert!(SecretName::parse("AWS_KEY.v2").is_ok());
        for bad in ["", "-x", "a b", "a/b", "ü", &"x".repeat(129)] {
            assert!(SecretName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn group_names_from_display_names() {
        for (text, want) in [
            ("dba", "dba"),
            ("Platform Team", "platform-team"),
            ("  R&D / Ops  ", "r-d-ops"),
            ("42", "group-42"),
            ("---", "group"),
            ("", "group"),
            ("Équipe", "quipe"),
            ("3f2a9c1e-0b7d", "group-3f2a9c1e-0b7d"),
        ] {
            assert_eq!(GroupName::from_display(text).as_str(), want, "{text:?}");
        }
        let long = GroupName::from_display(&"x".repeat(100));
        assert_eq!(long.as_str().len(), 64);
        assert_eq!(long.numbered(12).as_str().len(), 64);
        assert!(long.numbered(12).as_str().ends_with("x-12"));
        assert_eq!(
            GroupName::parse("dba").unwrap().numbered(2).as_str(),
            "dba-2"
        );
    }

    proptest! {
        #[test]
        fn any_display_name_maps_to_a_group_name(s in "\\PC{0,80}") {
            let n = GroupName::from_display(&s);
            prop_assert!(GroupName::parse(n.as_str()).is_ok());
            prop_assert!(GroupName::parse(n.numbered(999).as_str()).is_ok());
        }

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
