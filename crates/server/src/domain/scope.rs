//! Where a secret is attached: an issue (`OPS-123`) or a whole project (`OPS`). Coffer does not
//! own issues; it only parses their keys. The shape follows Jira's: a project key of 2–10
//! characters `[A-Z][A-Z0-9_]+`, a dash, and an issue number without leading zeros.

use super::ParseError;
use std::fmt;

text_type!(
    /// A project key: `^[A-Z][A-Z0-9_]{1,9}$`.
    ProjectKey
);

/// An issue key: `^[A-Z][A-Z0-9_]{1,9}-[1-9][0-9]{0,8}$`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct IssueKey {
    project: ProjectKey,
    number: u32,
}

/// The thing a secret is attached to.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Scope {
    /// A whole project (project-level secrets).
    Project(ProjectKey),
    /// One issue.
    Issue(IssueKey),
}

const PROJECT_SHAPE: &str = "a project key is 2-10 characters: an uppercase letter, then uppercase letters, digits or '_' (e.g. `OPS`)";
const ISSUE_SHAPE: &str =
    "an issue key looks like `OPS-123`: a project key, a dash, and a number without leading zeros";

impl ProjectKey {
    /// Parses a project key.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let mut chars = s.chars();
        let ok = (2..=10).contains(&s.len())
            && chars.next().is_some_and(|c| c.is_ascii_uppercase())
            && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError::new(
                "project key",
                format!("{s:?} is not valid: {PROJECT_SHAPE}"),
            ))
        }
    }
}

impl IssueKey {
    /// Parses an issue key.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let err = || ParseError::new("issue key", format!("{s:?} is not valid: {ISSUE_SHAPE}"));
        let (project, number) = s.rsplit_once('-').ok_or_else(err)?;
        let project = ProjectKey::parse(project).map_err(|_| err())?;
        let digits_ok = (1..=9).contains(&number.len())
            && !number.starts_with('0')
            && number.bytes().all(|b| b.is_ascii_digit());
        if !digits_ok {
            return Err(err());
        }
        let number = number.parse().map_err(|_| err())?;
        Ok(Self { project, number })
    }
    /// The project part.
    pub fn project(&self) -> &ProjectKey {
        &self.project
    }
    /// The issue number (>= 1).
    pub fn number(&self) -> u32 {
        self.number
    }
}

impl Scope {
    /// Parses `OPS-123` as an issue and `OPS` as a project.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.contains('-') {
            IssueKey::parse(s).map(Scope::Issue)
        } else {
            ProjectKey::parse(s).map(Scope::Project).map_err(|e| {
                ParseError::new("issue key", format!("{}; or {ISSUE_SHAPE}", e.message))
            })
        }
    }
    /// Rebuilds a scope from its catalog columns (`issue` 0 means project-level).
    pub fn from_parts(project: &str, issue: u32) -> Result<Self, ParseError> {
        let project = ProjectKey::parse(project)?;
        Ok(if issue == 0 {
            Scope::Project(project)
        } else {
            Scope::Issue(IssueKey {
                project,
                number: issue,
            })
        })
    }
    /// The project this scope belongs to.
    pub fn project(&self) -> &ProjectKey {
        match self {
            Scope::Project(p) => p,
            Scope::Issue(i) => &i.project,
        }
    }
    /// The issue number, or 0 for project-level.
    pub fn issue_number(&self) -> u32 {
        match self {
            Scope::Project(_) => 0,
            Scope::Issue(i) => i.number,
        }
    }
}

impl fmt::Display for IssueKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.project, self.number)
    }
}
impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Project(p) => p.fmt(f),
            Scope::Issue(i) => i.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn issue_keys() {
        let k = IssueKey::parse("OPS-123").unwrap();
        assert_eq!((k.project().as_str(), k.number()), ("OPS", 123));
        assert_eq!(k.to_string(), "OPS-123");
        for ok in ["AB-1", "A_1-999999999", "ABCDEFGHIJ-5"] {
            assert!(IssueKey::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "OPS",
            "ops-1",
            "OPS-0",
            "OPS-01",
            "O-1",
            "OPS-",
            "-1",
            "OPS-1a",
            "OPS-1234567890",
            "ABCDEFGHIJK-1",
            "OPS--1",
            "1PS-1",
        ] {
            let e = IssueKey::parse(bad).unwrap_err();
            assert_eq!(e.field, "issue key", "{bad}");
            assert!(
                e.to_string().contains("OPS-123"),
                "error explains the shape"
            );
        }
    }

    #[test]
    fn scopes() {
        assert_eq!(
            Scope::parse("OPS").unwrap(),
            Scope::Project(ProjectKey::parse("OPS").unwrap())
        );
        assert!(matches!(Scope::parse("OPS-7").unwrap(), Scope::Issue(_)));
        assert!(Scope::parse("ops").is_err());
        let s = Scope::parse("OPS-7").unwrap();
        assert_eq!(
            Scope::from_parts(s.project().as_str(), s.issue_number()).unwrap(),
            s
        );
    }

    proptest! {
        #[test]
        fn issue_keys_round_trip(p in "[A-Z][A-Z0-9_]{1,9}", n in 1u32..999_999_999) {
            let text = format!("{p}-{n}");
            let k = IssueKey::parse(&text).unwrap();
            prop_assert_eq!(k.to_string(), text);
        }

        #[test]
        fn anything_parsed_matches_the_documented_shape(s in "\\PC{0,16}") {
            if let Ok(k) = IssueKey::parse(&s) {
                let (p, n) = s.rsplit_once('-').unwrap();
                prop_assert!(p.len() >= 2 && p.len() <= 10 && !n.starts_with('0'));
                prop_assert_eq!(k.to_string(), s);
            }
        }
    }
}
