//! Coffer's calls to a Jira site: OAuth 2.0 token exchange and refresh, `myself`, "may I browse"
//! (`mypermissions`, and Cloud's bulk `permissions/check`), issue and project lookups, and remote
//! issue links. One function per call, each answering a typed [`CallFail`] the gate and the use
//! cases turn into their own sentences.
//!
//! Cloud and Data Center differ only in where things are ([`Endpoints`]): Cloud's authorization
//! server and API gateway are Atlassian's (`auth.atlassian.com`, `api.atlassian.com/ex/jira/
//! {cloudId}`, REST v3), Data Center's are the site itself (`/rest/oauth2/latest/…`, REST v2).
//! Every URL was checked when the org saved its site (the SSRF rules of `sso::provider`); the
//! client resolves names through the guarded resolver, follows no redirect, uses no proxy, caps
//! bodies and has a deadline. Tokens travel only in `Authorization` headers and token-endpoint
//! bodies, never in a URL, a log line or an error.

use crate::catalog::{JiraKind, JiraSite};
use crate::domain::{Scope, Timestamp};
use serde_json::Value;
use std::time::Duration;
use zeroize::Zeroizing;

/// The most an answer from Jira may weigh.
const MAX_BODY: usize = 1 << 20;
/// Deadline of one call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The wait assumed when a 429 names none.
const DEFAULT_RETRY: Duration = Duration::from_secs(30);
/// The most ids one `permissions/check` takes (Atlassian's limit).
pub const BULK_LIMIT: usize = 1000;
/// What Coffer asks a Cloud user to consent to: read issues and permissions, write remote links,
/// keep access (a refresh token).
pub const CLOUD_SCOPES: &str = "read:jira-work write:jira-work read:jira-user offline_access";
/// What Coffer asks a Data Center user to consent to (WRITE includes READ; remote links need it).
pub const DC_SCOPES: &str = "WRITE";

/// Why a call did not give an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallFail {
    /// 401 (or `invalid_grant` at the token endpoint): the token is not (or no longer) good.
    Unauthorized,
    /// 429: Jira asks Coffer to wait this long.
    Throttled(Duration),
    /// No usable answer: a connection failure, a timeout, a 5xx, an answer Coffer cannot read.
    /// The sentence names the host and what happened, never a token.
    Unreachable(String),
    /// Another 4xx: the request was refused (the sentence says Jira's status and message).
    Refused(u16, String),
}

impl std::fmt::Display for CallFail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallFail::Unauthorized => f.write_str("Jira refused the token (401)"),
            CallFail::Throttled(d) => {
                write!(
                    f,
                    "Jira asked Coffer to slow down for {}s (429)",
                    d.as_secs()
                )
            }
            CallFail::Unreachable(m) => f.write_str(m),
            CallFail::Refused(status, m) => write!(f, "Jira answered {status}: {m}"),
        }
    }
}

/// A person's OAuth tokens at Jira. Sealed as JSON under the org key when stored
/// (`{"access": …, "refresh": …, "expires_at": ms}`, docs/formats.md).
#[derive(Clone)]
pub struct Tokens {
    /// The access token.
    pub access: Zeroizing<String>,
    /// The refresh token (Cloud gives one with `offline_access`, Data Center always).
    pub refresh: Option<Zeroizing<String>>,
    /// When the access token expires (Unix milliseconds).
    pub expires_at: i64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access", &"[redacted]")
            .field("refresh", &self.refresh.as_ref().map(|_| "[redacted]"))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Tokens {
    /// The JSON document that is sealed.
    pub fn to_json(&self) -> Zeroizing<Vec<u8>> {
        let doc = serde_json::json!({
            "access": self.access.as_str(),
            "refresh": self.refresh.as_ref().map(|r| r.as_str()),
            "expires_at": self.expires_at,
        });
        Zeroizing::new(serde_json::to_vec(&doc).expect("JSON of strings serializes"))
    }

    /// Reads [`Tokens::to_json`]'s document.
    pub fn from_json(bytes: &[u8]) -> Option<Tokens> {
        let doc: Value = serde_json::from_slice(bytes).ok()?;
        Some(Tokens {
            access: Zeroizing::new(doc["access"].as_str()?.to_owned()),
            refresh: doc["refresh"]
                .as_str()
                .map(|r| Zeroizing::new(r.to_owned())),
            expires_at: doc["expires_at"].as_i64()?,
        })
    }

    /// Whether the access token is within a minute of its expiry at `now`.
    pub fn stale(&self, now: Timestamp) -> bool {
        self.expires_at - 60_000 <= now.millis()
    }
}

/// Where a site's calls go.
#[derive(Clone, Debug)]
pub struct Endpoints {
    /// Cloud or Data Center.
    pub kind: JiraKind,
    /// The site as people open it.
    pub site_url: String,
    /// REST calls go under this (Cloud: the gateway's `/ex/jira/{cloudId}`; DC: the site).
    pub api_base: String,
    /// Authorization and token endpoints go under this (Cloud: the authorization server).
    pub auth_base: String,
    /// Cloud's API gateway (for `accessible-resources`); the site for DC.
    pub gateway: String,
}

impl Endpoints {
    /// The endpoints of `site`, with Atlassian's Cloud servers at `cloud_auth` and `cloud_api`.
    pub fn of(site: &JiraSite, cloud_auth: &str, cloud_api: &str) -> Endpoints {
        match site.kind {
            JiraKind::Cloud => Endpoints {
                kind: site.kind,
                site_url: site.site_url.clone(),
                api_base: format!(
                    "{cloud_api}/ex/jira/{}",
                    site.cloud_id.as_deref().unwrap_or_default()
                ),
                auth_base: cloud_auth.to_owned(),
                gateway: cloud_api.to_owned(),
            },
            JiraKind::DataCenter => Endpoints {
                kind: site.kind,
                site_url: site.site_url.clone(),
                api_base: site.site_url.clone(),
                auth_base: format!("{}/rest/oauth2/latest", site.site_url),
                gateway: site.site_url.clone(),
            },
        }
    }

    /// A REST URL of the site's main API version (Cloud v3, DC v2).
    fn rest(&self, path: &str) -> String {
        let v = match self.kind {
            JiraKind::Cloud => 3,
            JiraKind::DataCenter => 2,
        };
        format!("{}/rest/api/{v}/{path}", self.api_base)
    }

    /// A REST v2 URL (remote links are documented there for both).
    fn rest2(&self, path: &str) -> String {
        format!("{}/rest/api/2/{path}", self.api_base)
    }

    /// Where a person is sent to consent. Data Center's provider takes PKCE (S256); Atlassian's
    /// Cloud authorization server documents none, so Cloud relies on the client secret and the
    /// browser-bound `state`.
    pub fn authorize_url(
        &self,
        client_id: &str,
        redirect_uri: &str,
        state: &str,
        challenge: &str,
    ) -> String {
        let mut url = url::Url::parse(&format!("{}/authorize", self.auth_base))
            .expect("checked when the site was saved");
        {
            let mut q = url.query_pairs_mut();
            match self.kind {
                JiraKind::Cloud => {
                    q.append_pair("audience", "api.atlassian.com")
                        .append_pair("client_id", client_id)
                        .append_pair("scope", CLOUD_SCOPES)
                        .append_pair("redirect_uri", redirect_uri)
                        .append_pair("state", state)
                        .append_pair("response_type", "code")
                        .append_pair("prompt", "consent");
                }
                JiraKind::DataCenter => {
                    q.append_pair("client_id", client_id)
                        .append_pair("redirect_uri", redirect_uri)
                        .append_pair("response_type", "code")
                        .append_pair("scope", DC_SCOPES)
                        .append_pair("state", state)
                        .append_pair("code_challenge", challenge)
                        .append_pair("code_challenge_method", "S256");
                }
            }
        }
        url.into()
    }

    fn token_url(&self) -> String {
        match self.kind {
            JiraKind::Cloud => format!("{}/oauth/token", self.auth_base),
            JiraKind::DataCenter => format!("{}/token", self.auth_base),
        }
    }
}

/// The HTTP client for Jira sites (a clone shares its connections).
#[derive(Clone)]
pub struct JiraHttp {
    http: reqwest::Client,
}

/// An answer: status and JSON body (`Null` when empty or not JSON).
struct Answer {
    status: u16,
    body: Value,
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "the Jira site".into())
}

fn retry_after(res: &reqwest::Response) -> Duration {
    res.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.clamp(1, 3600)))
        .unwrap_or(DEFAULT_RETRY)
}

/// Jira's own words from an error body (`errorMessages`, `message`, `error_description`), short.
fn jira_words(body: &Value) -> String {
    let words = body["errorMessages"]
        .as_array()
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .or_else(|| body["message"].as_str())
        .or_else(|| body["error_description"].as_str())
        .or_else(|| body["error"].as_str())
        .unwrap_or("no details");
    words.chars().take(200).collect()
}

/// What a request carries besides its URL.
enum Body<'a> {
    None,
    Json(&'a Value),
    Form(&'a [(&'a str, &'a str)]),
}

impl JiraHttp {
    /// A client that follows the rules in the module docs.
    pub fn new() -> Self {
        Self {
            http: crate::service::sso::provider::guarded_http(CALL_TIMEOUT, "coffer-jira"),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        token: Option<&str>,
        body: Body<'_>,
    ) -> Result<Answer, CallFail> {
        let host = host_of(url);
        let mut req = self
            .http
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req = match body {
            Body::None => req,
            Body::Json(v) => req.json(v),
            Body::Form(f) => {
                let encoded = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(f.iter())
                    .finish();
                req.header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(encoded)
            }
        };
        let mut res = req.send().await.map_err(|e| {
            tracing::info!(%host, error = %crate::service::sso::provider::without_url(&e), "a Jira call failed");
            CallFail::Unreachable(format!(
                "{host} could not be reached{}",
                if e.is_timeout() { " in time" } else { "" }
            ))
        })?;
        let status = res.status().as_u16();
        if status == 429 {
            return Err(CallFail::Throttled(retry_after(&res)));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = res
            .chunk()
            .await
            .map_err(|_| CallFail::Unreachable(format!("{host}'s answer broke off")))?
        {
            if bytes.len() + chunk.len() > MAX_BODY {
                return Err(CallFail::Unreachable(format!(
                    "{host}'s answer is larger than {MAX_BODY} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        match status {
            401 => Err(CallFail::Unauthorized),
            s if s >= 500 => Err(CallFail::Unreachable(format!("{host} answered {s}"))),
            s if (300..400).contains(&s) => Err(CallFail::Unreachable(format!(
                "{host} answered a redirect ({s}); give the site's own base URL"
            ))),
            _ => Ok(Answer { status, body }),
        }
    }

    /// A 2xx answer's body, or the failure.
    fn ok(a: Answer) -> Result<Value, CallFail> {
        if (200..300).contains(&a.status) {
            Ok(a.body)
        } else {
            Err(CallFail::Refused(a.status, jira_words(&a.body)))
        }
    }

    /// Cloud: the site's cloud id (`/_edge/tenant_info`, public).
    pub async fn tenant_info(&self, site: &str) -> Result<String, CallFail> {
        let url = format!("{site}/_edge/tenant_info");
        let body = Self::ok(
            self.call(reqwest::Method::GET, &url, None, Body::None)
                .await?,
        )?;
        body["cloudId"].as_str().map(str::to_owned).ok_or_else(|| {
            CallFail::Unreachable(format!(
                "{} did not name its cloud id; is it a Jira Cloud site?",
                host_of(site)
            ))
        })
    }

    /// Data Center: the server's version (`/rest/api/2/serverInfo`, public).
    pub async fn server_info(&self, site: &str) -> Result<String, CallFail> {
        let url = format!("{site}/rest/api/2/serverInfo");
        let body = Self::ok(
            self.call(reqwest::Method::GET, &url, None, Body::None)
                .await?,
        )?;
        body["version"].as_str().map(str::to_owned).ok_or_else(|| {
            CallFail::Unreachable(format!(
                "{} did not say its version; is it a Jira Data Center site?",
                host_of(site)
            ))
        })
    }

    fn tokens(body: &Value, now: Timestamp) -> Result<Tokens, CallFail> {
        let access = body["access_token"].as_str().ok_or_else(|| {
            CallFail::Unreachable("Jira's token endpoint answered without an access token".into())
        })?;
        let ttl = body["expires_in"]
            .as_i64()
            .unwrap_or(3600)
            .clamp(60, 86_400 * 30);
        Ok(Tokens {
            access: Zeroizing::new(access.to_owned()),
            refresh: body["refresh_token"]
                .as_str()
                .map(|r| Zeroizing::new(r.to_owned())),
            expires_at: now.millis() + ttl * 1000,
        })
    }

    async fn token_call(
        &self,
        ep: &Endpoints,
        fields: &[(&str, &str)],
    ) -> Result<Tokens, CallFail> {
        let now = Timestamp::now();
        let answer = match ep.kind {
            JiraKind::Cloud => {
                let body: serde_json::Map<String, Value> = fields
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
                    .collect();
                let body = Value::Object(body);
                self.call(
                    reqwest::Method::POST,
                    &ep.token_url(),
                    None,
                    Body::Json(&body),
                )
                .await?
            }
            JiraKind::DataCenter => {
                self.call(
                    reqwest::Method::POST,
                    &ep.token_url(),
                    None,
                    Body::Form(fields),
                )
                .await?
            }
        };
        if (200..300).contains(&answer.status) {
            return Self::tokens(&answer.body, now);
        }
        if answer.body["error"].as_str() == Some("invalid_grant") || answer.status == 403 {
            return Err(CallFail::Unauthorized);
        }
        Err(CallFail::Refused(answer.status, jira_words(&answer.body)))
    }

    /// Redeems an authorization code.
    pub async fn exchange_code(
        &self,
        ep: &Endpoints,
        client_id: &str,
        client_secret: &str,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<Tokens, CallFail> {
        let mut fields = vec![
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ];
        if ep.kind == JiraKind::DataCenter {
            fields.push(("code_verifier", verifier));
        }
        self.token_call(ep, &fields).await
    }

    /// Trades a refresh token for new tokens (both providers rotate the refresh token).
    pub async fn refresh(
        &self,
        ep: &Endpoints,
        client_id: &str,
        client_secret: &str,
        refresh: &str,
    ) -> Result<Tokens, CallFail> {
        let fields = [
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("client_secret", client_secret),
            ("refresh_token", refresh),
        ];
        self.token_call(ep, &fields).await
    }

    /// Cloud: the sites the token may act on (their cloud ids).
    pub async fn accessible_sites(
        &self,
        ep: &Endpoints,
        token: &str,
    ) -> Result<Vec<String>, CallFail> {
        let url = format!("{}/oauth/token/accessible-resources", ep.gateway);
        let body = Self::ok(
            self.call(reqwest::Method::GET, &url, Some(token), Body::None)
                .await?,
        )?;
        Ok(body
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The token's user: (account id — Cloud `accountId`, DC `name` — and display name).
    pub async fn myself(&self, ep: &Endpoints, token: &str) -> Result<(String, String), CallFail> {
        let body = Self::ok(
            self.call(
                reqwest::Method::GET,
                &ep.rest("myself"),
                Some(token),
                Body::None,
            )
            .await?,
        )?;
        let id = match ep.kind {
            JiraKind::Cloud => body["accountId"].as_str(),
            JiraKind::DataCenter => body["name"].as_str().or_else(|| body["key"].as_str()),
        }
        .ok_or_else(|| CallFail::Unreachable("Jira's `myself` named no account".into()))?;
        let name = body["displayName"].as_str().unwrap_or(id);
        Ok((id.to_owned(), name.chars().take(200).collect()))
    }

    /// Whether the token's user may browse `scope` (an issue, or a project). Jira answers 404 for
    /// an issue that does not exist or that the user cannot see: that is a no.
    pub async fn may_browse(
        &self,
        ep: &Endpoints,
        token: &str,
        scope: &Scope,
    ) -> Result<bool, CallFail> {
        let mut url = url::Url::parse(&ep.rest("mypermissions")).expect("a URL");
        {
            let mut q = url.query_pairs_mut();
            match scope {
                Scope::Issue(k) => q.append_pair("issueKey", &k.to_string()),
                Scope::Project(p) => q.append_pair("projectKey", p.as_str()),
            };
            q.append_pair("permissions", "BROWSE_PROJECTS");
        }
        let a = self
            .call(reqwest::Method::GET, url.as_str(), Some(token), Body::None)
            .await?;
        if a.status == 404 {
            return Ok(false);
        }
        let body = Self::ok(a)?;
        body["permissions"]["BROWSE_PROJECTS"]["havePermission"]
            .as_bool()
            .ok_or_else(|| {
                CallFail::Unreachable("Jira's `mypermissions` answer has no BROWSE_PROJECTS".into())
            })
    }

    /// Cloud: which of these issue and project ids the token's user may browse, in one call
    /// (at most [`BULK_LIMIT`] of each).
    pub async fn bulk_browse(
        &self,
        ep: &Endpoints,
        token: &str,
        issues: &[u64],
        projects: &[u64],
    ) -> Result<(Vec<u64>, Vec<u64>), CallFail> {
        let body = serde_json::json!({
            "projectPermissions": [{
                "permissions": ["BROWSE_PROJECTS"],
                "issues": issues,
                "projects": projects,
            }]
        });
        let answer = Self::ok(
            self.call(
                reqwest::Method::POST,
                &ep.rest("permissions/check"),
                Some(token),
                Body::Json(&body),
            )
            .await?,
        )?;
        let mut granted = (Vec::new(), Vec::new());
        for p in answer["projectPermissions"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if p["permission"].as_str() != Some("BROWSE_PROJECTS") {
                continue;
            }
            let ids = |v: &Value| -> Vec<u64> {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_u64().or_else(|| x.as_str()?.parse().ok()))
                    .collect()
            };
            granted.0.extend(ids(&p["issues"]));
            granted.1.extend(ids(&p["projects"]));
        }
        Ok(granted)
    }

    /// An issue as the token's user sees it: (issue id, project id), or `None` if it does not
    /// exist or the user cannot see it.
    pub async fn issue(
        &self,
        ep: &Endpoints,
        token: &str,
        key: &str,
    ) -> Result<Option<(String, String)>, CallFail> {
        let url = ep.rest(&format!("issue/{key}?fields=project"));
        let a = self
            .call(reqwest::Method::GET, &url, Some(token), Body::None)
            .await?;
        if a.status == 404 {
            return Ok(None);
        }
        let body = Self::ok(a)?;
        let id = body["id"].as_str().map(str::to_owned);
        let project = body["fields"]["project"]["id"].as_str().map(str::to_owned);
        match (id, project) {
            (Some(i), Some(p)) => Ok(Some((i, p))),
            _ => Err(CallFail::Unreachable(
                "Jira's issue answer has no id or project".into(),
            )),
        }
    }

    /// Creates or updates (same `global_id`) the remote link on issue `key`.
    pub async fn put_remote_link(
        &self,
        ep: &Endpoints,
        token: &str,
        key: &str,
        link: &Value,
    ) -> Result<(), CallFail> {
        let url = ep.rest2(&format!("issue/{key}/remotelink"));
        Self::ok(
            self.call(reqwest::Method::POST, &url, Some(token), Body::Json(link))
                .await?,
        )
        .map(drop)
    }

    /// Removes the remote link with `global_id` from issue `key` (gone already is fine).
    pub async fn delete_remote_link(
        &self,
        ep: &Endpoints,
        token: &str,
        key: &str,
        global_id: &str,
    ) -> Result<(), CallFail> {
        let mut url =
            url::Url::parse(&ep.rest2(&format!("issue/{key}/remotelink"))).expect("a URL");
        url.query_pairs_mut().append_pair("globalId", global_id);
        let a = self
            .call(
                reqwest::Method::DELETE,
                url.as_str(),
                Some(token),
                Body::None,
            )
            .await?;
        match a.status {
            404 => Ok(()),
            // A server without delete-by-global-id (older Jira, some mocks): find the link's
            // own id in the issue's list and delete that.
            405 => {
                let list_url = ep.rest2(&format!("issue/{key}/remotelink"));
                let list = Self::ok(
                    self.call(reqwest::Method::GET, &list_url, Some(token), Body::None)
                        .await?,
                )?;
                let ids: Vec<String> = list
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|l| l["globalId"].as_str() == Some(global_id))
                    .filter_map(|l| {
                        l["id"]
                            .as_u64()
                            .map(|i| i.to_string())
                            .or_else(|| l["id"].as_str().map(str::to_owned))
                    })
                    .collect();
                for id in ids {
                    let one = ep.rest2(&format!("issue/{key}/remotelink/{id}"));
                    let a = self
                        .call(reqwest::Method::DELETE, &one, Some(token), Body::None)
                        .await?;
                    if a.status != 404 {
                        Self::ok(a)?;
                    }
                }
                Ok(())
            }
            _ => Self::ok(a).map(drop),
        }
    }
}

impl Default for JiraHttp {
    fn default() -> Self {
        Self::new()
    }
}
