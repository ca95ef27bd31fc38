//! The fake's world: users, projects, issues, grants, OAuth clients, codes and tokens, and the
//! switches a test flips (down, throttle). Plain data behind one mutex; nothing here awaits.

use super::Flavor;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

/// How long an authorization code lives. Data Center's default
/// (`atlassian.oauth2.provider.max.client.delay.seconds`) is 10 s; Atlassian does not publish
/// Cloud's, so Cloud gets ten minutes.
pub(super) fn default_code_ttl(flavor: Flavor) -> Duration {
    match flavor {
        Flavor::Cloud => Duration::from_secs(600),
        Flavor::DataCenter => Duration::from_secs(10),
    }
}

/// A registered OAuth client (Cloud: a 3LO app; DC: an incoming application link).
pub(super) struct Client {
    pub secret: String,
    pub redirect_uri: String,
}

/// A Jira user.
pub(super) struct User {
    pub login: String,
    /// Cloud: `557058:<uuid>`; DC: the user name.
    pub account_id: String,
    /// DC's user key (`JIRAUSER10000`, …), which is not the name for users created since Jira 8.
    pub key: String,
    pub display_name: String,
    pub email: String,
}

/// A project.
#[derive(Clone)]
pub(super) struct Project {
    pub id: String,
    pub key: String,
    pub name: String,
}

/// An issue. Its id never changes; its key does on a move (the old keys keep resolving).
#[derive(Clone)]
pub(super) struct Issue {
    pub id: String,
    pub key: String,
    pub project_id: String,
    pub summary: String,
    /// An issue security level: `Some(logins)` = only those (with project browse) see it.
    pub restricted: Option<BTreeSet<String>>,
    /// Remote links as stored: `{"id", "globalId"?, "application"?, "relationship"?, "object"}`.
    pub links: Vec<serde_json::Value>,
    /// Keys it had before moves, oldest first.
    pub old_keys: Vec<String>,
}

/// An authorization code awaiting exchange.
pub(super) struct Code {
    pub client_id: String,
    pub redirect_uri: String,
    pub login: String,
    pub scope: String,
    /// `(method, challenge)` when the authorize request carried PKCE.
    pub pkce: Option<(String, String)>,
    pub expires: Instant,
}

/// An access token.
pub(super) struct Access {
    pub login: String,
    pub scope: String,
    pub dead: bool,
}

/// A refresh token (one live per grant: each use replaces it).
pub(super) struct Refresh {
    pub login: String,
    pub client_id: String,
    pub scope: String,
}

/// Everything the fake knows.
pub(super) struct State {
    pub flavor: Flavor,
    pub base: String,
    pub cloud_id: String,
    /// The actor of webhook events (a Jira administrator who is not one of the test's users).
    pub admin_account_id: String,
    pub clients: HashMap<String, Client>,
    pub users: BTreeMap<String, User>,
    /// By id.
    pub projects: BTreeMap<String, Project>,
    /// By id.
    pub issues: BTreeMap<String, Issue>,
    /// Every key an issue answers to (current and historical, upper case) → issue id.
    pub keys: HashMap<String, String>,
    /// (login, project id).
    pub browse: HashSet<(String, String)>,
    /// Deleted issues and projects by key, for the webhook payloads sent after the fact.
    pub gone_issues: HashMap<String, Issue>,
    pub gone_projects: HashMap<String, Project>,
    pub codes: HashMap<String, Code>,
    pub access: HashMap<String, Access>,
    pub refresh: HashMap<String, Refresh>,
    pub code_ttl: Duration,
    pub next_project: u64,
    pub next_issue: u64,
    pub next_link: u64,
    pub next_user: u64,
    pub next_event: u64,
    pub down: bool,
    pub throttle: usize,
    pub retry_after: u64,
    /// The path of every request served, in order.
    pub calls: Vec<String>,
    /// Access tokens issued by the token endpoint, by login.
    pub issued: HashMap<String, usize>,
}

/// A random opaque token: 32 bytes, base64url.
pub(super) fn random_token() -> String {
    let mut b = [0u8; 32];
    aws_lc_rs::rand::fill(&mut b).expect("OS random generator failed");
    URL_SAFE_NO_PAD.encode(b)
}

impl State {
    pub fn new(flavor: Flavor, base: String) -> State {
        State {
            flavor,
            base,
            cloud_id: uuid::Uuid::new_v4().to_string(),
            admin_account_id: format!("557058:{}", uuid::Uuid::new_v4()),
            clients: HashMap::new(),
            users: BTreeMap::new(),
            projects: BTreeMap::new(),
            issues: BTreeMap::new(),
            keys: HashMap::new(),
            browse: HashSet::new(),
            gone_issues: HashMap::new(),
            gone_projects: HashMap::new(),
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            code_ttl: default_code_ttl(flavor),
            next_project: 10000,
            next_issue: 10100,
            next_link: 10000,
            next_user: 10001,
            next_event: 10000,
            down: false,
            throttle: 0,
            retry_after: 0,
            calls: Vec::new(),
            issued: HashMap::new(),
        }
    }

    pub fn project_by_key(&self, key: &str) -> Option<&Project> {
        let key = key.to_ascii_uppercase();
        self.projects.values().find(|p| p.key == key)
    }

    /// An issue by id (all digits) or by a current or historical key.
    pub fn issue(&self, id_or_key: &str) -> Option<&Issue> {
        if !id_or_key.is_empty() && id_or_key.bytes().all(|b| b.is_ascii_digit()) {
            return self.issues.get(id_or_key);
        }
        let id = self.keys.get(&id_or_key.to_ascii_uppercase())?;
        self.issues.get(id)
    }

    pub fn issue_mut(&mut self, id_or_key: &str) -> Option<&mut Issue> {
        let id = self.issue(id_or_key)?.id.clone();
        self.issues.get_mut(&id)
    }

    /// Whether `login` has BROWSE_PROJECTS on the project.
    pub fn browses(&self, login: &str, project_id: &str) -> bool {
        self.browse
            .contains(&(login.to_owned(), project_id.to_owned()))
    }

    /// Whether `login` sees the issue: project browse and, if it has a security level, is in it.
    pub fn sees(&self, login: &str, issue: &Issue) -> bool {
        self.browses(login, &issue.project_id)
            && issue
                .restricted
                .as_ref()
                .is_none_or(|only| only.contains(login))
    }

    /// Whether `login` browses any project (a project permission in the global context).
    pub fn browses_any(&self, login: &str) -> bool {
        self.browse.iter().any(|(l, _)| l == login)
    }

    /// The login behind a live access token.
    pub fn token_user(&self, token: &str) -> Option<&User> {
        let a = self.access.get(token).filter(|a| !a.dead)?;
        self.users.get(&a.login)
    }

    /// A fresh access token (and, when `with_refresh`, a refresh token) for `login`.
    pub fn issue_tokens(
        &mut self,
        login: &str,
        client_id: &str,
        scope: &str,
        with_refresh: bool,
    ) -> (String, Option<String>) {
        let access = random_token();
        self.access.insert(
            access.clone(),
            Access {
                login: login.to_owned(),
                scope: scope.to_owned(),
                dead: false,
            },
        );
        *self.issued.entry(login.to_owned()).or_default() += 1;
        let refresh = with_refresh.then(|| {
            let r = random_token();
            self.refresh.insert(
                r.clone(),
                Refresh {
                    login: login.to_owned(),
                    client_id: client_id.to_owned(),
                    scope: scope.to_owned(),
                },
            );
            r
        });
        (access, refresh)
    }

    /// A remote link's JSON as the API shows it: the stored fields plus `self`.
    pub fn link_json(link: &serde_json::Value, prefix: &str, issue_key: &str) -> serde_json::Value {
        let mut out = link.clone();
        out["self"] = format!("{prefix}/issue/{issue_key}/remotelink/{}", link["id"]).into();
        out
    }

    pub fn next_link_id(&mut self) -> u64 {
        let id = self.next_link;
        self.next_link += 1;
        id
    }
}
