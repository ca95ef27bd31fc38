//! A stateful fake of Jira, Cloud and Data Center flavours, for the tests of Coffer's Jira
//! integration: an in-process axum server on `127.0.0.1:0` that plays, for Cloud, the site,
//! `auth.atlassian.com` (3LO authorize and token) and `api.atlassian.com` (accessible resources
//! and the REST API under `/ex/jira/{cloudId}`) on different paths of one port; for Data Center,
//! the instance with its OAuth 2.0 provider (`/rest/oauth2/latest/...`) and REST v2.
//!
//! No open-source emulator implements Jira's permission endpoints (research: jira.md §6), so this
//! one models exactly what Coffer relies on and nothing more: users, projects, issues, the
//! BROWSE_PROJECTS grant per user and project, issue security levels, moves (the issue keeps
//! its id and its old key keeps resolving) and deletes; the authorization-code flow (PKCE,
//! one-time codes, rotating refresh tokens); `mypermissions`, `permissions/check`, `GET issue`
//! and remote issue links, with Jira's status codes and error bodies; and the failures a client
//! must survive, switched on by the test: expired and revoked tokens (401), rate limiting (429
//! with `Retry-After`) and a dead Jira behind its proxy (503 with an HTML page). Jira's webhook
//! payloads are built here too, with the `X-Hub-Signature` a secret gives them, for the test to
//! deliver to Coffer. `README.md` next to this file names the Atlassian document each endpoint
//! follows and what the fake simplifies.
//!
//! Tests drive the world through methods (`add_user`, `grant_browse`, `move_issue`, …) rather
//! than through HTTP, and play the user's consent with [`JiraFake::consent`]; the server counts
//! every request it gets so a test can assert that Coffer did (or did not) ask Jira.

mod http;
mod state;
#[cfg(test)]
mod tests;

use http::{Shared, lock};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::{Value, json};
use state::{Access, Code, Issue, Project, State, User};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which Jira the fake plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Jira Cloud through OAuth 2.0 (3LO): `auth.atlassian.com` and `api.atlassian.com`.
    Cloud,
    /// Jira Data Center with its OAuth 2.0 provider (an incoming application link).
    DataCenter,
}

/// A running fake Jira. It stops serving (and drops its open connections) on drop.
pub struct JiraFake {
    flavor: Flavor,
    base: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for JiraFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl JiraFake {
    /// Starts a fake on `127.0.0.1:0`, served by a task spawned on the caller's runtime.
    pub async fn start(flavor: Flavor) -> JiraFake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding 127.0.0.1:0");
        let port = listener.local_addr().expect("a local address").port();
        let base = format!("http://127.0.0.1:{port}");
        let shared: Shared = Arc::new(Mutex::new(State::new(flavor, base.clone())));
        let app = http::router(flavor, shared.clone());
        // Connections live in a JoinSet owned by the accept task, so aborting that task (on
        // drop) also ends the kept-alive connections.
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let app = app.clone();
                        conns.spawn(async move {
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app))
                                .await;
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        JiraFake {
            flavor,
            base,
            shared,
            task,
        }
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.shared)
    }

    /// The flavour it plays.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// `http://127.0.0.1:PORT`: the site URL. For Cloud the same origin also plays
    /// `https://auth.atlassian.com` and `https://api.atlassian.com` (their paths do not clash).
    pub fn base(&self) -> String {
        self.base.clone()
    }

    /// The site's cloud id (Cloud; a random uuid fixed for this fake's life).
    pub fn cloud_id(&self) -> String {
        self.st().cloud_id.clone()
    }

    /// The REST prefix a client calls: Cloud `{base}/ex/jira/{cloudId}/rest/api/{version}`,
    /// Data Center `{base}/rest/api/{version}` (`version` 2 or 3; DC has 2 only).
    pub fn rest_base(&self, version: u8) -> String {
        match self.flavor {
            Flavor::Cloud => format!(
                "{}/ex/jira/{}/rest/api/{version}",
                self.base,
                self.cloud_id()
            ),
            Flavor::DataCenter => format!("{}/rest/api/{version}", self.base),
        }
    }

    /// The browser's authorize URL without a query: Cloud `{base}/authorize`, DC
    /// `{base}/rest/oauth2/latest/authorize`.
    pub fn authorize_url(&self) -> String {
        match self.flavor {
            Flavor::Cloud => format!("{}/authorize", self.base),
            Flavor::DataCenter => format!("{}/rest/oauth2/latest/authorize", self.base),
        }
    }

    /// The token endpoint: Cloud `{base}/oauth/token`, DC `{base}/rest/oauth2/latest/token`.
    pub fn token_url(&self) -> String {
        match self.flavor {
            Flavor::Cloud => format!("{}/oauth/token", self.base),
            Flavor::DataCenter => format!("{}/rest/oauth2/latest/token", self.base),
        }
    }

    /// Registers an OAuth client (Cloud: a 3LO app in the developer console; DC: an incoming
    /// application link) with its one redirect URL. Registering an id again replaces it.
    pub fn register_client(&self, client_id: &str, client_secret: &str, redirect_uri: &str) {
        self.st().clients.insert(
            client_id.to_owned(),
            state::Client {
                secret: client_secret.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
            },
        );
    }

    /// Adds a user and returns the Jira account id: Cloud `557058:<uuid>`, DC the user name
    /// (= `login`). Display name: the login capitalised; email `<login>@example.com`. Adding a
    /// login twice returns the same id.
    pub fn add_user(&self, login: &str) -> String {
        let mut st = self.st();
        if let Some(u) = st.users.get(login) {
            return u.account_id.clone();
        }
        let account_id = match self.flavor {
            Flavor::Cloud => format!("557058:{}", uuid::Uuid::new_v4()),
            Flavor::DataCenter => login.to_owned(),
        };
        let key = format!("JIRAUSER{}", st.next_user);
        st.next_user += 1;
        let mut display_name: Vec<char> = login.chars().collect();
        if let Some(c) = display_name.first_mut() {
            *c = c.to_ascii_uppercase();
        }
        st.users.insert(
            login.to_owned(),
            User {
                login: login.to_owned(),
                account_id: account_id.clone(),
                key,
                display_name: display_name.into_iter().collect(),
                email: format!("{login}@example.com"),
            },
        );
        account_id
    }

    /// Adds a project (name: "Project <KEY>") and returns its id ("10000", "10001", …).
    /// Panics if the key is taken.
    pub fn add_project(&self, key: &str) -> String {
        let mut st = self.st();
        let key = key.to_ascii_uppercase();
        assert!(
            st.project_by_key(&key).is_none(),
            "JiraFake: project {key} already exists"
        );
        let id = st.next_project.to_string();
        st.next_project += 1;
        st.projects.insert(
            id.clone(),
            Project {
                id: id.clone(),
                key: key.clone(),
                name: format!("Project {key}"),
            },
        );
        id
    }

    /// Adds issue `key` (summary "Issue <KEY>") and returns its id ("10100", …). Its project is
    /// the part before the last `-` and must exist. Panics if the key is taken, including as a
    /// moved issue's old key (Jira never reuses those).
    pub fn add_issue(&self, key: &str) -> String {
        self.add_issue_with(key, &format!("Issue {}", key.to_ascii_uppercase()))
    }

    /// [`add_issue`](Self::add_issue) with a summary.
    pub fn add_issue_with(&self, key: &str, summary: &str) -> String {
        let mut st = self.st();
        let key = key.to_ascii_uppercase();
        let project_id = project_of(&st, &key).id.clone();
        assert!(
            !st.keys.contains_key(&key),
            "JiraFake: issue key {key} is taken (or was an issue's key before a move)"
        );
        let id = st.next_issue.to_string();
        st.next_issue += 1;
        st.keys.insert(key.clone(), id.clone());
        st.issues.insert(
            id.clone(),
            Issue {
                id: id.clone(),
                key,
                project_id,
                summary: summary.to_owned(),
                restricted: None,
                links: Vec::new(),
                old_keys: Vec::new(),
            },
        );
        id
    }

    /// Gives `login` BROWSE_PROJECTS on the project (so on its issues, bar security levels).
    pub fn grant_browse(&self, login: &str, project_key: &str) {
        let mut st = self.st();
        assert!(st.users.contains_key(login), "JiraFake: no user {login}");
        let id = project(&st, project_key).id.clone();
        st.browse.insert((login.to_owned(), id));
    }

    /// Takes BROWSE_PROJECTS on the project away from `login`.
    pub fn revoke_browse(&self, login: &str, project_key: &str) {
        let mut st = self.st();
        let id = project(&st, project_key).id.clone();
        st.browse.remove(&(login.to_owned(), id));
    }

    /// Sets an issue security level: `Some(logins)`: only those users see the issue (and still
    /// need browse on its project); `None`: lifts it.
    pub fn restrict_issue(&self, issue_key: &str, only: Option<&[&str]>) {
        let mut st = self.st();
        let i = st
            .issue_mut(issue_key)
            .unwrap_or_else(|| panic!("JiraFake: no issue {issue_key}"));
        i.restricted = only.map(|l| l.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>());
    }

    /// Deletes the issue (its id and every key it had stop resolving).
    pub fn delete_issue(&self, key: &str) {
        let mut st = self.st();
        let id = st
            .issue(key)
            .unwrap_or_else(|| panic!("JiraFake: no issue {key}"))
            .id
            .clone();
        bury_issue(&mut st, &id);
    }

    /// Deletes the project and its issues, with no per-issue events (as Jira), and the grants on
    /// it.
    pub fn delete_project(&self, key: &str) {
        let mut st = self.st();
        let p = project(&st, key).clone();
        let ids: Vec<String> = st
            .issues
            .values()
            .filter(|i| i.project_id == p.id)
            .map(|i| i.id.clone())
            .collect();
        for id in ids {
            bury_issue(&mut st, &id);
        }
        st.browse.retain(|(_, pid)| *pid != p.id);
        st.projects.remove(&p.id);
        st.gone_projects.insert(p.key.clone(), p);
    }

    /// Moves an issue to key `new_key` (its project, the part before the last `-`, must exist):
    /// the issue keeps its id, remote links and security level, and `old_key` keeps resolving
    /// to it in GET issue (Jira keeps historical keys).
    pub fn move_issue(&self, old_key: &str, new_key: &str) {
        let mut st = self.st();
        let new_key = new_key.to_ascii_uppercase();
        let project_id = project_of(&st, &new_key).id.clone();
        assert!(
            !st.keys.contains_key(&new_key),
            "JiraFake: issue key {new_key} is taken"
        );
        let id = st
            .issue(old_key)
            .unwrap_or_else(|| panic!("JiraFake: no issue {old_key}"))
            .id
            .clone();
        st.keys.insert(new_key.clone(), id.clone());
        let i = st.issues.get_mut(&id).expect("found above");
        let previous = std::mem::replace(&mut i.key, new_key);
        i.old_keys.push(previous);
        i.project_id = project_id;
    }

    /// Plays the user `login` approving the consent screen at `authorize_url` (Coffer's
    /// redirect): checks the request as Jira would (client id, redirect URI, `response_type`,
    /// Cloud's `audience`, scopes, PKCE parameters when present) and returns the URL the browser
    /// is sent to, `redirect_uri?code=…&state=…` (not visited). Panics with the reason when the
    /// authorize URL is malformed or refused; see [`try_consent`](Self::try_consent).
    pub async fn consent(&self, authorize_url: &str, login: &str) -> String {
        self.try_consent(authorize_url, login)
            .unwrap_or_else(|e| panic!("JiraFake::consent refused {authorize_url}: {e}"))
    }

    /// [`consent`](Self::consent) that returns why the authorize request is refused instead of
    /// panicking (a real Jira shows an error page then, and redirects nowhere).
    pub fn try_consent(&self, authorize_url: &str, login: &str) -> Result<String, String> {
        let url = url::Url::parse(authorize_url).map_err(|e| format!("not a URL: {e}"))?;
        let want_path = match self.flavor {
            Flavor::Cloud => "/authorize",
            Flavor::DataCenter => "/rest/oauth2/latest/authorize",
        };
        if url.path() != want_path {
            return Err(format!("the path is {}, expected {want_path}", url.path()));
        }
        let mut q: HashMap<String, String> = HashMap::new();
        for (k, v) in url.query_pairs() {
            if q.insert(k.to_string(), v.to_string()).is_some() {
                return Err(format!("parameter {k} is repeated"));
            }
        }
        let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let mut st = self.st();
        let client_id = get("client_id").ok_or("client_id is missing")?;
        let client = st
            .clients
            .get(client_id)
            .ok_or_else(|| format!("no client {client_id} is registered"))?;
        let redirect_uri = get("redirect_uri").ok_or("redirect_uri is missing")?;
        if redirect_uri != client.redirect_uri {
            return Err(format!(
                "redirect_uri {redirect_uri} is not the registered {}",
                client.redirect_uri
            ));
        }
        if get("response_type") != Some("code") {
            return Err("response_type must be code".into());
        }
        let scope = get("scope").ok_or("scope is missing")?.to_owned();
        match self.flavor {
            Flavor::Cloud => {
                if get("audience") != Some("api.atlassian.com") {
                    return Err("audience must be api.atlassian.com".into());
                }
                if get("state").is_none() {
                    return Err("state is missing (Atlassian requires it)".into());
                }
            }
            Flavor::DataCenter => {
                if let Some(bad) = scope
                    .split_whitespace()
                    .find(|s| !matches!(*s, "READ" | "WRITE" | "ADMIN" | "SYSTEM_ADMIN"))
                {
                    return Err(format!(
                        "scope {bad} is not one of READ, WRITE, ADMIN, SYSTEM_ADMIN"
                    ));
                }
            }
        }
        let pkce = match (get("code_challenge"), get("code_challenge_method")) {
            (None, None) => None,
            (None, Some(_)) => return Err("code_challenge_method without code_challenge".into()),
            (Some(c), method) => {
                let method = method.unwrap_or("plain");
                if !matches!(method, "S256" | "plain") {
                    return Err(format!(
                        "code_challenge_method {method} is not S256 or plain"
                    ));
                }
                let ok_len = (43..=128).contains(&c.len());
                let ok_chars = c
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
                if !ok_len || !ok_chars {
                    return Err(format!("code_challenge {c} is malformed (RFC 7636 §4.2)"));
                }
                Some((method.to_owned(), c.to_owned()))
            }
        };
        if !st.users.contains_key(login) {
            return Err(format!("no user {login} (add_user first)"));
        }
        let code = http::new_code();
        let ttl = st.code_ttl;
        st.codes.insert(
            code.clone(),
            Code {
                client_id: client_id.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                login: login.to_owned(),
                scope,
                pkce,
                expires: Instant::now() + ttl,
            },
        );
        let mut back =
            url::Url::parse(redirect_uri).map_err(|e| format!("redirect_uri is not a URL: {e}"))?;
        back.query_pairs_mut().append_pair("code", &code);
        if let Some(s) = get("state") {
            back.query_pairs_mut().append_pair("state", s);
        }
        Ok(back.into())
    }

    /// How long authorization codes live from now on (default: Cloud 10 min, DC 10 s, DC's
    /// documented default).
    pub fn set_code_ttl(&self, ttl: Duration) {
        self.st().code_ttl = ttl;
    }

    /// An access token for `login` as if the OAuth dance had happened (or a DC personal access
    /// token): for tests that are not about OAuth. Not counted by
    /// [`tokens_issued`](Self::tokens_issued).
    pub fn access_token(&self, login: &str) -> String {
        let mut st = self.st();
        assert!(st.users.contains_key(login), "JiraFake: no user {login}");
        let t = state::random_token();
        let scope = match self.flavor {
            Flavor::Cloud => "read:jira-work write:jira-work read:jira-user offline_access",
            Flavor::DataCenter => "READ WRITE",
        };
        st.access.insert(
            t.clone(),
            Access {
                login: login.to_owned(),
                scope: scope.to_owned(),
                dead: false,
            },
        );
        t
    }

    /// How many access tokens the token endpoint issued for `login` (code exchanges and
    /// refreshes).
    pub fn tokens_issued(&self, login: &str) -> usize {
        self.st().issued.get(login).copied().unwrap_or(0)
    }

    /// While `down`, every request (OAuth, REST, everything) answers 503 with an HTML body, like
    /// the reverse proxy in front of a dead Jira.
    pub fn set_down(&self, down: bool) {
        self.st().down = down;
    }

    /// The next `n` token and REST calls answer 429 with `Retry-After: retry_after_secs`; Cloud
    /// adds `RateLimit-Reason: jira-burst-based` and `X-RateLimit-Reset`, Data Center its
    /// `X-RateLimit-*` headers (each flavour's documented set).
    pub fn throttle(&self, n: usize, retry_after_secs: u64) {
        let mut st = self.st();
        st.throttle = n;
        st.retry_after = retry_after_secs;
    }

    /// Every access token `login` holds now answers 401 (as after its hour); refreshing still
    /// works.
    pub fn expire_access_tokens(&self, login: &str) {
        for a in self.st().access.values_mut().filter(|a| a.login == login) {
            a.dead = true;
        }
    }

    /// The user revokes the app (Cloud: Connected apps; DC: Authorized applications): their
    /// access tokens answer 401, refresh tokens and pending codes are refused (`invalid_grant`:
    /// Cloud 403, DC 400).
    pub fn revoke_grant(&self, login: &str) {
        let mut st = self.st();
        for a in st.access.values_mut().filter(|a| a.login == login) {
            a.dead = true;
        }
        st.refresh.retain(|_, r| r.login != login);
        st.codes.retain(|_, c| c.login != login);
    }

    /// How many requests whose path (without the query) contains `path_contains` the server
    /// got, whatever it answered (404, 401, 429 and 503 included).
    pub fn calls(&self, path_contains: &str) -> usize {
        self.st()
            .calls
            .iter()
            .filter(|p| p.contains(path_contains))
            .count()
    }

    /// The remote links on the issue (by current or old key), as stored: `{"id", "globalId"?,
    /// "application"?, "relationship"?, "object": {"url", "title", "summary"?, "icon"?, …}}`.
    /// Empty for an unknown issue.
    pub fn remote_links(&self, issue_key: &str) -> Vec<Value> {
        self.st()
            .issue(issue_key)
            .map(|i| i.links.clone())
            .unwrap_or_default()
    }

    /// Jira's `jira:issue_deleted` webhook payload for the issue (live or already deleted):
    /// `{"timestamp", "webhookEvent", "issue_event_type_name": "issue_deleted", "user",
    /// "issue": {"id", "self", "key", "fields": {"summary", "project": {"self", "id", "key",
    /// "name"}}}}`. The `user` is the fake's administrator.
    pub fn issue_deleted_event(&self, key: &str) -> Value {
        let st = self.st();
        let key = key.to_ascii_uppercase();
        let i = st
            .issue(&key)
            .or_else(|| st.gone_issues.get(&key))
            .unwrap_or_else(|| panic!("JiraFake: issue {key} never existed"));
        let p = any_project(&st, &i.project_id);
        json!({
            "timestamp": now_ms(),
            "webhookEvent": "jira:issue_deleted",
            "issue_event_type_name": "issue_deleted",
            "user": actor(&st),
            "issue": issue_payload(&st, i, &i.key, &p),
        })
    }

    /// Jira's `jira:issue_updated` payload for a move (after [`move_issue`](Self::move_issue)):
    /// `"issue_event_type_name": "issue_moved"`, the issue under its new key and project, and
    /// `changelog.items` for `Key` (`fromString`/`toString` the keys) and `project`
    /// (`from`/`to` the ids, `fromString`/`toString` the names).
    pub fn issue_moved_event(&self, old_key: &str, new_key: &str) -> Value {
        let mut st = self.st();
        let (old_key, new_key) = (old_key.to_ascii_uppercase(), new_key.to_ascii_uppercase());
        let i = st
            .issue(&new_key)
            .filter(|i| i.key == new_key && i.old_keys.contains(&old_key))
            .unwrap_or_else(|| {
                panic!(
                    "JiraFake: no issue was moved from {old_key} to {new_key} (move_issue first)"
                )
            })
            .clone();
        let old_prefix = old_key.rsplit_once('-').map(|(p, _)| p).unwrap_or_default();
        let from = st
            .project_by_key(old_prefix)
            .or_else(|| st.gone_projects.get(old_prefix))
            .unwrap_or_else(|| panic!("JiraFake: project {old_prefix} never existed"))
            .clone();
        let to = any_project(&st, &i.project_id);
        let changelog_id = st.next_event.to_string();
        st.next_event += 1;
        let cloud = self.flavor == Flavor::Cloud;
        let mut key_item = json!({"field": "Key", "fieldtype": "jira", "from": null, "fromString": old_key, "to": null, "toString": new_key});
        let mut project_item = json!({"field": "project", "fieldtype": "jira", "from": from.id, "fromString": from.name, "to": to.id, "toString": to.name});
        if cloud {
            key_item["fieldId"] = "issuekey".into();
            project_item["fieldId"] = "project".into();
        }
        json!({
            "timestamp": now_ms(),
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_moved",
            "user": actor(&st),
            "issue": issue_payload(&st, &i, &new_key, &to),
            "changelog": {"id": changelog_id, "items": [project_item, key_item]},
        })
    }

    /// Jira's `project_deleted` webhook payload (live or already deleted project):
    /// `{"timestamp", "webhookEvent": "project_deleted", "project": {"self", "id" (a number, as
    /// Jira sends it in project events), "key", "name", "projectTypeKey"}}`.
    pub fn project_deleted_event(&self, key: &str) -> Value {
        let st = self.st();
        let key = key.to_ascii_uppercase();
        let p = st
            .project_by_key(&key)
            .or_else(|| st.gone_projects.get(&key))
            .unwrap_or_else(|| panic!("JiraFake: project {key} never existed"));
        let id: u64 = p.id.parse().expect("numeric project id");
        json!({
            "timestamp": now_ms(),
            "webhookEvent": "project_deleted",
            "user": actor(&st),
            "project": {
                "self": format!("{}/rest/api/2/project/{id}", st.base),
                "id": id,
                "key": p.key,
                "name": p.name,
                "projectTypeKey": "software",
            },
        })
    }

    /// The `X-Hub-Signature` header value Jira sends for a webhook with a secret:
    /// `sha256=<lowercase hex HMAC-SHA256(secret, raw body)>`.
    pub fn sign_webhook(secret: &str, body: &[u8]) -> String {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
        let tag = aws_lc_rs::hmac::sign(&key, body);
        format!("sha256={}", hex::encode(tag.as_ref()))
    }

    /// Delivers `payload` as Jira would: a POST of its JSON to `url` with
    /// `X-Atlassian-Webhook-Identifier` and, with a `secret`, `X-Hub-Signature` over the exact
    /// bytes sent. Returns the receiver's answer.
    pub async fn deliver_webhook(
        url: &str,
        secret: Option<&str>,
        payload: &Value,
    ) -> reqwest::Response {
        let body = serde_json::to_vec(payload).expect("JSON");
        let mut req = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json; charset=UTF-8")
            .header(
                "x-atlassian-webhook-identifier",
                uuid::Uuid::new_v4().as_u128().to_string(),
            );
        if let Some(s) = secret {
            req = req.header("x-hub-signature", Self::sign_webhook(s, &body));
        }
        req.body(body)
            .send()
            .await
            .expect("the webhook receiver answers")
    }
}

/// The project a new key belongs to (the part before the last '-'); panics if none.
fn project_of<'a>(st: &'a State, key: &str) -> &'a Project {
    let Some((prefix, number)) = key.rsplit_once('-') else {
        panic!("JiraFake: {key} is not an issue key (PROJECT-123)");
    };
    assert!(
        !prefix.is_empty() && !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()),
        "JiraFake: {key} is not an issue key (PROJECT-123)"
    );
    st.project_by_key(prefix)
        .unwrap_or_else(|| panic!("JiraFake: no project {prefix} (add_project first)"))
}

fn project<'a>(st: &'a State, key: &str) -> &'a Project {
    st.project_by_key(key)
        .unwrap_or_else(|| panic!("JiraFake: no project {key}"))
}

/// A project by id, live or deleted.
fn any_project(st: &State, id: &str) -> Project {
    st.projects
        .get(id)
        .or_else(|| st.gone_projects.values().find(|p| p.id == id))
        .cloned()
        .unwrap_or_else(|| panic!("JiraFake: project {id} never existed"))
}

/// Removes an issue, keeping it under each key it had for the events sent afterwards.
fn bury_issue(st: &mut State, id: &str) {
    let i = st.issues.remove(id).expect("a live issue");
    for k in i.old_keys.iter().chain(std::iter::once(&i.key)) {
        st.keys.remove(k);
        st.gone_issues.insert(k.clone(), i.clone());
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The webhook's `user`: the fake's administrator.
fn actor(st: &State) -> Value {
    match st.flavor {
        Flavor::Cloud => json!({
            "self": format!("{}/rest/api/2/user?accountId={}", st.base, st.admin_account_id),
            "accountId": st.admin_account_id,
            "accountType": "atlassian",
            "displayName": "Jira Administrator",
            "active": true,
            "timeZone": "Etc/UTC",
        }),
        Flavor::DataCenter => json!({
            "self": format!("{}/rest/api/2/user?username=admin", st.base),
            "name": "admin",
            "key": "JIRAUSER10000",
            "displayName": "Jira Administrator",
            "active": true,
            "timeZone": "Etc/UTC",
        }),
    }
}

fn issue_payload(st: &State, i: &Issue, key: &str, p: &Project) -> Value {
    json!({
        "id": i.id,
        "self": format!("{}/rest/api/2/issue/{}", st.base, i.id),
        "key": key,
        "fields": {
            "summary": i.summary,
            "project": {
                "self": format!("{}/rest/api/2/project/{}", st.base, p.id),
                "id": p.id,
                "key": p.key,
                "name": p.name,
                "projectTypeKey": "software",
            },
        },
    })
}
