//! The names of access: whom a grant or share is for (`user:alice`, `svc:deploy`, `group:dba`)
//! and where a grant applies (`*`, `OPS`, `OPS-123`). Parsed once at the edge; the policy
//! (`policy::secret_right`) works on ids.

use super::{GroupName, IssueKey, ParseError, ProjectKey, Scope, UserName};
use std::fmt;

/// Whom a grant or share names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PrincipalName {
    /// A person (`user:NAME`).
    Person(UserName),
    /// A service account of the org (`svc:NAME`).
    Service(UserName),
    /// A group of the org (`group:NAME`).
    Group(GroupName),
}

const PRINCIPAL_SHAPE: &str =
    "write `user:NAME` for a person, `svc:NAME` for a service account or `group:NAME` for a group";

impl PrincipalName {
    /// Parses `user:NAME`, `svc:NAME` or `group:NAME`.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let bad = || {
            ParseError::new(
                "principal",
                format!("{s:?} is not valid: {PRINCIPAL_SHAPE}"),
            )
        };
        let (kind, name) = s.split_once(':').ok_or_else(bad)?;
        let named = |e: ParseError| ParseError::new("principal", e.to_string());
        match kind {
            "user" => UserName::parse(name).map(Self::Person).map_err(named),
            "svc" => UserName::parse(name).map(Self::Service).map_err(named),
            "group" => GroupName::parse(name).map(Self::Group).map_err(named),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for PrincipalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Person(n) => write!(f, "user:{n}"),
            Self::Service(n) => write!(f, "svc:{n}"),
            Self::Group(n) => write!(f, "group:{n}"),
        }
    }
}

/// Where a grant applies.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantScope {
    /// Every secret of the org (`*`).
    Org,
    /// Every secret of a project and of its issues (`OPS`).
    Project(ProjectKey),
    /// Every secret of one issue (`OPS-123`).
    Issue(IssueKey),
}

impl GrantScope {
    /// Parses `*`, a project key or an issue key.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s == "*" {
            return Ok(Self::Org);
        }
        match Scope::parse(s) {
            Ok(scope) => Ok(Self::from(scope)),
            Err(e) => Err(ParseError::new(
                "grant scope",
                format!("{}; or `*` for the whole org", e.message),
            )),
        }
    }

    /// Rebuilds a scope from its catalog columns (no project: the whole org; issue 0: the
    /// project).
    pub fn from_parts(project: Option<&str>, issue: u32) -> Result<Self, ParseError> {
        match project {
            None => Ok(Self::Org),
            Some(p) => Scope::from_parts(p, issue).map(Self::from),
        }
    }

    /// The project column (`None`: the whole org).
    pub fn project(&self) -> Option<&ProjectKey> {
        match self {
            Self::Org => None,
            Self::Project(p) => Some(p),
            Self::Issue(i) => Some(i.project()),
        }
    }

    /// The issue column (0: not one issue).
    pub fn issue_number(&self) -> u32 {
        match self {
            Self::Issue(i) => i.number(),
            _ => 0,
        }
    }

    /// Whether a secret attached to `scope` is covered: an org grant covers everything, a
    /// project grant its project and every issue of it, an issue grant that issue.
    pub fn covers(&self, scope: &Scope) -> bool {
        match self {
            Self::Org => true,
            Self::Project(p) => scope.project() == p,
            Self::Issue(i) => matches!(scope, Scope::Issue(s) if s == i),
        }
    }
}

impl From<Scope> for GrantScope {
    fn from(s: Scope) -> Self {
        match s {
            Scope::Project(p) => Self::Project(p),
            Scope::Issue(i) => Self::Issue(i),
        }
    }
}

impl fmt::Display for GrantScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Org => f.write_str("*"),
            Self::Project(p) => p.fmt(f),
            Self::Issue(i) => i.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_and_scopes_round_trip_and_refuse_clearly() {
        for ok in ["user:alice", "svc:deploy", "group:dba"] {
            assert_eq!(PrincipalName::parse(ok).unwrap().to_string(), ok);
        }
        for bad in ["alice", "team:x", "user:", "group:DBA", "user:a b"] {
            let e = PrincipalName::parse(bad).unwrap_err();
            assert_eq!(e.field, "principal", "{bad}");
        }
        for ok in ["*", "OPS", "OPS-12"] {
            assert_eq!(GrantScope::parse(ok).unwrap().to_string(), ok);
        }
        assert!(
            GrantScope::parse("ops")
                .unwrap_err()
                .message
                .contains("`*`")
        );
    }

    #[test]
    fn grants_cover_their_scope_and_below() {
        let s = |t: &str| Scope::parse(t).unwrap();
        let g = |t: &str| GrantScope::parse(t).unwrap();
        assert!(g("*").covers(&s("OPS-1")));
        assert!(g("OPS").covers(&s("OPS")) && g("OPS").covers(&s("OPS-1")));
        assert!(!g("OPS").covers(&s("OPSX-1")));
        assert!(g("OPS-1").covers(&s("OPS-1")));
        assert!(!g("OPS-1").covers(&s("OPS")) && !g("OPS-1").covers(&s("OPS-12")));
    }
}
