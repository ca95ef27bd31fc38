//! The fake's HTTP side: one axum router per flavour, a gate in front of it that counts every
//! request and plays the dead proxy (503) and the rate limiter (429), and the handlers. Each
//! handler takes the state lock once, never across an await.

// Helpers return `Result<_, Response>` so a handler can answer early with Jira's error; boxing
// the response would buy nothing in a test fake.
#![allow(clippy::result_large_err)]

use super::Flavor;
use super::state::{Issue, State, random_token};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State as Axum};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// The state as the handlers share it.
pub(super) type Shared = Arc<Mutex<State>>;

pub(super) fn lock(s: &Shared) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// Jira's body for an issue that does not exist or that the caller may not see (one wording for
/// both, so that a 404 says nothing about existence).
pub(super) const NO_ISSUE: &str = "Issue does not exist or you do not have permission to see it.";

/// The app for `flavor`, serving `shared`.
pub(super) fn router(flavor: Flavor, shared: Shared) -> Router {
    let rest = |r: Router<Shared>, prefix: &str| {
        r.route(&format!("{prefix}/myself"), get(myself))
            .route(&format!("{prefix}/mypermissions"), get(mypermissions))
            .route(&format!("{prefix}/issue/{{issue}}"), get(get_issue))
            .route(
                &format!("{prefix}/issue/{{issue}}/remotelink"),
                get(list_links)
                    .post(put_link)
                    .delete(delete_link_by_global_id),
            )
            .route(
                &format!("{prefix}/issue/{{issue}}/remotelink/{{link}}"),
                get(get_link).delete(delete_link_by_id),
            )
    };
    let app = match flavor {
        Flavor::Cloud => {
            let r = Router::new()
                .route("/authorize", get(authorize_page))
                .route("/oauth/token", post(token))
                .route(
                    "/oauth/token/accessible-resources",
                    get(accessible_resources),
                )
                .route("/_edge/tenant_info", get(tenant_info))
                .route(
                    "/ex/jira/{cloud}/rest/api/{ver}/permissions/check",
                    post(permissions_check),
                )
                // 3LO tokens are good on api.atlassian.com only, never on the site's own URL.
                .route("/rest/api/{*rest}", any(site_refuses_3lo));
            rest(r, "/ex/jira/{cloud}/rest/api/{ver}")
        }
        Flavor::DataCenter => {
            let r = Router::new()
                .route("/rest/oauth2/latest/authorize", get(authorize_page))
                .route("/rest/oauth2/latest/token", post(token))
                .route("/rest/api/{ver}/serverInfo", get(server_info));
            rest(r, "/rest/api/{ver}")
        }
    };
    app.fallback(fallback)
        .layer(from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

fn json(status: StatusCode, v: Value) -> Response {
    (status, Json(v)).into_response()
}

fn errors(status: StatusCode, message: &str) -> Response {
    json(status, json!({"errorMessages": [message], "errors": {}}))
}

fn no_issue() -> Response {
    errors(StatusCode::NOT_FOUND, NO_ISSUE)
}

fn unauthorized(flavor: Flavor) -> Response {
    match flavor {
        Flavor::Cloud => json(
            StatusCode::UNAUTHORIZED,
            json!({"code": 401, "message": "Unauthorized"}),
        ),
        Flavor::DataCenter => json(
            StatusCode::UNAUTHORIZED,
            json!({"message": "Client must be authenticated to access this resource.", "status-code": 401}),
        ),
    }
}

fn not_found(flavor: Flavor) -> Response {
    match flavor {
        Flavor::Cloud => json(
            StatusCode::NOT_FOUND,
            json!({"code": 404, "message": "Not Found"}),
        ),
        Flavor::DataCenter => json(
            StatusCode::NOT_FOUND,
            json!({"message": "null for uri", "status-code": 404}),
        ),
    }
}

fn query_map(q: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// Counts the request, then answers 503 when down, 429 when throttled (token and REST calls
/// only), else passes it on.
async fn gate(Axum(s): Axum<Shared>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let (down, throttled, flavor) = {
        let mut st = lock(&s);
        st.calls.push(path.clone());
        let limited = match st.flavor {
            Flavor::Cloud => path.starts_with("/oauth/token") || path.starts_with("/ex/jira/"),
            Flavor::DataCenter => {
                path.starts_with("/rest/oauth2/latest/token") || path.starts_with("/rest/api/")
            }
        };
        let throttled = (!st.down && limited && st.throttle > 0).then(|| {
            st.throttle -= 1;
            st.retry_after
        });
        (st.down, throttled, st.flavor)
    };
    if down {
        let page = "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
        return (StatusCode::SERVICE_UNAVAILABLE, Html(page)).into_response();
    }
    if let Some(secs) = throttled {
        let mut res = errors(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded.");
        let h = res.headers_mut();
        h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        match flavor {
            Flavor::Cloud => {
                // developer.atlassian.com/cloud/jira/platform/rate-limiting
                h.insert(
                    "ratelimit-reason",
                    HeaderValue::from_static("jira-burst-based"),
                );
                let at = time::OffsetDateTime::now_utc()
                    + time::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 2));
                let reset = format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}Z",
                    at.year(),
                    u8::from(at.month()),
                    at.day(),
                    at.hour(),
                    at.minute()
                );
                h.insert(
                    "x-ratelimit-reset",
                    HeaderValue::from_str(&reset).expect("ascii"),
                );
            }
            Flavor::DataCenter => {
                // confluence.atlassian.com/adminjiraserver/adjusting-your-code-for-rate-limiting-987143384.html
                h.insert("x-ratelimit-limit", HeaderValue::from_static("100"));
                h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
                h.insert(
                    "x-ratelimit-interval-seconds",
                    HeaderValue::from(secs.max(1)),
                );
                h.insert("x-ratelimit-fillrate", HeaderValue::from_static("10"));
            }
        }
        return res;
    }
    next.run(req).await
}

async fn fallback(Axum(s): Axum<Shared>) -> Response {
    let flavor = lock(&s).flavor;
    not_found(flavor)
}

async fn site_refuses_3lo() -> Response {
    unauthorized(Flavor::Cloud)
}

/// The browser's consent page. The test plays the user with `JiraFake::consent`.
async fn authorize_page() -> Html<&'static str> {
    Html(
        "<!doctype html><html><head><title>Authorize app</title></head><body>\
         <h1>Allow this app to access your Jira account?</h1>\
         <p>(JiraFake: tests approve with JiraFake::consent.)</p></body></html>",
    )
}

async fn tenant_info(Axum(s): Axum<Shared>) -> Response {
    let st = lock(&s);
    json(StatusCode::OK, json!({"cloudId": st.cloud_id}))
}

async fn server_info(Axum(s): Axum<Shared>, Path(p): Path<HashMap<String, String>>) -> Response {
    let st = lock(&s);
    if !matches!(p.get("ver").map(String::as_str), Some("2" | "latest")) {
        return not_found(st.flavor);
    }
    json(
        StatusCode::OK,
        json!({
            "baseUrl": st.base,
            "version": "9.12.0",
            "versionNumbers": [9, 12, 0],
            "deploymentType": "Server",
            "buildNumber": 912000,
            "buildDate": "2023-11-01T00:00:00.000+0000",
            "serverTime": time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            "scmInfo": "jira-fake",
            "serverTitle": "Jira (JiraFake)",
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// OAuth token endpoint

/// The token endpoint's error body, with the status each flavour uses for it: Cloud answers
/// `invalid_grant` with 403 and a bad client with 401 `access_denied`
/// (developer.atlassian.com/cloud/oauth/getting-started/refresh-tokens); Data Center follows
/// RFC 6749 §5.2 (400, and 401 `invalid_client`).
fn oauth_error(flavor: Flavor, error: &str, description: &str) -> Response {
    let (status, error) = match (flavor, error) {
        (Flavor::Cloud, "invalid_grant") => (StatusCode::FORBIDDEN, error),
        (Flavor::Cloud, "invalid_client") => (StatusCode::UNAUTHORIZED, "access_denied"),
        (Flavor::DataCenter, "invalid_client") => (StatusCode::UNAUTHORIZED, error),
        _ => (StatusCode::BAD_REQUEST, error),
    };
    let mut res = json(
        status,
        json!({"error": error, "error_description": description}),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The body's parameters: form-encoded (both flavours), or JSON (Cloud, as its docs show).
fn token_params(
    flavor: Flavor,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<HashMap<String, String>, Response> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ctype.starts_with("application/x-www-form-urlencoded") {
        return Ok(url::form_urlencoded::parse(body).into_owned().collect());
    }
    if flavor == Flavor::Cloud && ctype.starts_with("application/json") {
        let v: Value = serde_json::from_slice(body)
            .map_err(|_| oauth_error(flavor, "invalid_request", "The body is not valid JSON."))?;
        let obj = v.as_object().ok_or_else(|| {
            oauth_error(flavor, "invalid_request", "The body is not a JSON object.")
        })?;
        return Ok(obj
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
            .collect());
    }
    Err(oauth_error(
        flavor,
        "invalid_request",
        match flavor {
            Flavor::Cloud => "Expected an application/json or form-encoded body.",
            Flavor::DataCenter => "Expected an application/x-www-form-urlencoded body.",
        },
    ))
}

/// PKCE (RFC 7636 §4.6): S256 compares base64url(SHA-256(verifier)); plain compares as is.
pub(super) fn pkce_ok(method: &str, challenge: &str, verifier: &str) -> bool {
    match method {
        "S256" => {
            let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
            URL_SAFE_NO_PAD.encode(d.as_ref()) == challenge
        }
        "plain" => verifier == challenge,
        _ => false,
    }
}

async fn token(Axum(s): Axum<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut st = lock(&s);
    let flavor = st.flavor;
    let p = match token_params(flavor, &headers, &body) {
        Ok(p) => p,
        Err(res) => return res,
    };
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or_default();
    let grant_type = get("grant_type");
    if !matches!(grant_type, "authorization_code" | "refresh_token") {
        return oauth_error(
            flavor,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token.",
        );
    }
    let client_id = get("client_id");
    match st.clients.get(client_id) {
        Some(c) if !get("client_secret").is_empty() && c.secret == get("client_secret") => {}
        _ => return oauth_error(flavor, "invalid_client", "Unauthorized"),
    }
    let (login, scope) = if grant_type == "authorization_code" {
        // One-time: whatever happens next, this code is spent.
        let Some(code) = st.codes.remove(get("code")) else {
            return oauth_error(flavor, "invalid_grant", "Invalid authorization code");
        };
        if code.client_id != client_id {
            return oauth_error(flavor, "invalid_grant", "Invalid authorization code");
        }
        if Instant::now() > code.expires {
            return oauth_error(flavor, "invalid_grant", "Authorization code expired");
        }
        if code.redirect_uri != get("redirect_uri") {
            return oauth_error(flavor, "invalid_grant", "redirect_uri does not match");
        }
        if let Some((method, challenge)) = &code.pkce
            && !pkce_ok(method, challenge, get("code_verifier"))
        {
            return oauth_error(flavor, "invalid_grant", "PKCE verification failed");
        }
        (code.login, code.scope)
    } else {
        let old = get("refresh_token");
        match st.refresh.get(old) {
            Some(r) if r.client_id == client_id => {}
            _ => {
                return oauth_error(flavor, "invalid_grant", "Unknown or invalid refresh token.");
            }
        }
        // Rotation: the refresh token used is disabled, a new one comes back.
        let r = st.refresh.remove(old).expect("checked above");
        (r.login, r.scope)
    };
    // Cloud hands out a refresh token only for the offline_access scope; DC always does.
    let with_refresh = match flavor {
        Flavor::Cloud => scope.split_whitespace().any(|s| s == "offline_access"),
        Flavor::DataCenter => true,
    };
    let (access, refresh) = st.issue_tokens(&login, client_id, &scope, with_refresh);
    let mut out = json!({
        "access_token": access,
        "expires_in": 3600,
        "scope": scope,
        "token_type": "Bearer",
    });
    if let Some(r) = refresh {
        out["refresh_token"] = r.into();
    }
    let mut res = json(StatusCode::OK, out);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

async fn accessible_resources(Axum(s): Axum<Shared>, headers: HeaderMap) -> Response {
    let st = lock(&s);
    let Some(a) = bearer(&headers)
        .and_then(|t| st.access.get(t))
        .filter(|a| !a.dead)
    else {
        return unauthorized(st.flavor);
    };
    let scopes: Vec<&str> = a.scope.split_whitespace().collect();
    json(
        StatusCode::OK,
        json!([{
            "id": st.cloud_id,
            "url": st.base,
            "name": "acme",
            "scopes": scopes,
            "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png",
        }]),
    )
}

// ---------------------------------------------------------------------------------------------
// REST

/// An authenticated REST call: who is calling, and the REST prefix for `self` links.
struct Ctx {
    login: String,
    account_id: String,
    prefix: String,
}

/// Checks the API version and (Cloud) the cloud id of the path and the bearer token.
fn rest_ctx(st: &State, p: &HashMap<String, String>, headers: &HeaderMap) -> Result<Ctx, Response> {
    let ver = p.get("ver").map(String::as_str).unwrap_or_default();
    let ver_ok = match st.flavor {
        Flavor::Cloud => matches!(ver, "2" | "3"),
        Flavor::DataCenter => matches!(ver, "2" | "latest"),
    };
    if !ver_ok {
        return Err(not_found(st.flavor));
    }
    let Some(user) = bearer(headers).and_then(|t| st.token_user(t)) else {
        return Err(unauthorized(st.flavor));
    };
    let prefix = match st.flavor {
        Flavor::Cloud => {
            if p.get("cloud") != Some(&st.cloud_id) {
                return Err(not_found(st.flavor));
            }
            format!("{}/ex/jira/{}/rest/api/{ver}", st.base, st.cloud_id)
        }
        Flavor::DataCenter => format!("{}/rest/api/{ver}", st.base),
    };
    Ok(Ctx {
        login: user.login.clone(),
        account_id: user.account_id.clone(),
        prefix,
    })
}

macro_rules! ctx_or_return {
    ($st:expr, $p:expr, $h:expr) => {
        match rest_ctx(&$st, &$p, &$h) {
            Ok(c) => c,
            Err(res) => return res,
        }
    };
}

async fn myself(
    Axum(s): Axum<Shared>,
    Path(p): Path<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let st = lock(&s);
    let ctx = ctx_or_return!(st, p, headers);
    let u = &st.users[&ctx.login];
    let v = match st.flavor {
        Flavor::Cloud => json!({
            "self": format!("{}/user?accountId={}", ctx.prefix, u.account_id),
            "accountId": u.account_id,
            "accountType": "atlassian",
            "emailAddress": u.email,
            "displayName": u.display_name,
            "active": true,
            "timeZone": "Etc/UTC",
            "locale": "en_US",
        }),
        Flavor::DataCenter => json!({
            "self": format!("{}/user?username={}", ctx.prefix, u.login),
            "key": u.key,
            "name": u.login,
            "emailAddress": u.email,
            "displayName": u.display_name,
            "active": true,
            "deleted": false,
            "timeZone": "Etc/UTC",
            "locale": "en_US",
        }),
    };
    json(StatusCode::OK, v)
}

/// The permissions the fake knows: (key, id, type, name, description). BROWSE_PROJECTS is the
/// one it models; LINK_ISSUES, EDIT_ISSUES and ADD_COMMENTS follow it (whoever sees an issue may
/// link it here); the global admin permissions are held by nobody.
const PERMISSIONS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "BROWSE_PROJECTS",
        "10",
        "PROJECT",
        "Browse Projects",
        "Ability to browse projects and the issues within them.",
    ),
    (
        "LINK_ISSUES",
        "21",
        "PROJECT",
        "Link Issues",
        "Ability to link issues together and create linked issues. Only useful if issue linking is turned on.",
    ),
    (
        "EDIT_ISSUES",
        "12",
        "PROJECT",
        "Edit Issues",
        "Ability to edit issues.",
    ),
    (
        "ADD_COMMENTS",
        "15",
        "PROJECT",
        "Add Comments",
        "Ability to comment on issues.",
    ),
    (
        "ADMINISTER",
        "0",
        "GLOBAL",
        "Administer Jira",
        "Create and administer projects, issue types, fields, workflows, and schemes for all projects. Users with this permission can perform most administration tasks, except: managing users, importing data, and editing system email settings.",
    ),
    (
        "SYSTEM_ADMIN",
        "44",
        "GLOBAL",
        "Jira System Administrators",
        "Ability to perform all administration functions. There must be at least one group with this permission.",
    ),
];

fn permission(
    key: &str,
) -> Option<&'static (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
)> {
    PERMISSIONS.iter().find(|p| p.0 == key)
}

async fn mypermissions(
    Axum(s): Axum<Shared>,
    Path(p): Path<HashMap<String, String>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let st = lock(&s);
    let ctx = ctx_or_return!(st, p, headers);
    let q = query_map(q.as_deref());
    let keys: Vec<&str> = q
        .get("permissions")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if keys.is_empty() {
        return errors(
            StatusCode::BAD_REQUEST,
            "The 'permissions' query parameter is required.",
        );
    }
    if let Some(bad) = keys.iter().find(|k| permission(k).is_none()) {
        return errors(
            StatusCode::BAD_REQUEST,
            &format!("Invalid permission key: {bad}"),
        );
    }
    let nonempty = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    // issueId wins over issueKey, projectId over projectKey; an issue context wins over a
    // project one.
    let browse = if let Some(id) = nonempty("issueId") {
        match st.issues.get(id) {
            Some(i) => st.sees(&ctx.login, i),
            None => return no_issue(),
        }
    } else if let Some(key) = nonempty("issueKey") {
        match st
            .issue(key)
            .filter(|_| !key.bytes().all(|b| b.is_ascii_digit()))
        {
            Some(i) => st.sees(&ctx.login, i),
            None => return no_issue(),
        }
    } else if let Some(id) = nonempty("projectId") {
        match st.projects.get(id) {
            Some(pr) => st.browses(&ctx.login, &pr.id),
            None => return no_issue(),
        }
    } else if let Some(key) = nonempty("projectKey") {
        match st.project_by_key(key) {
            Some(pr) => st.browses(&ctx.login, &pr.id),
            None => return no_issue(),
        }
    } else {
        st.browses_any(&ctx.login)
    };
    let mut out = serde_json::Map::new();
    for k in keys {
        let (key, id, kind, name, description) = *permission(k).expect("checked above");
        let have = kind == "PROJECT" && browse;
        out.insert(
            key.to_owned(),
            json!({"id": id, "key": key, "name": name, "type": kind, "description": description, "havePermission": have}),
        );
    }
    json(StatusCode::OK, json!({"permissions": out}))
}

/// The ids in `v` (an array of integers), or None when it is not one.
fn id_list(v: Option<&Value>) -> Option<Vec<u64>> {
    match v {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(a)) => a.iter().map(Value::as_u64).collect(),
        Some(_) => None,
    }
}

async fn permissions_check(
    Axum(s): Axum<Shared>,
    Path(p): Path<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let st = lock(&s);
    let ctx = ctx_or_return!(st, p, headers);
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(&body) else {
        return errors(
            StatusCode::BAD_REQUEST,
            "The request body is not a JSON object.",
        );
    };
    if let Some(account) = req.get("accountId").filter(|v| !v.is_null())
        && account.as_str() != Some(ctx.account_id.as_str())
    {
        return errors(
            StatusCode::FORBIDDEN,
            "You need the Administer Jira global permission to check the permissions of other users.",
        );
    }
    let entries = match req.get("projectPermissions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => {
            return errors(
                StatusCode::BAD_REQUEST,
                "projectPermissions must be an array.",
            );
        }
    };
    let mut parsed = Vec::new();
    let (mut n_issues, mut n_projects) = (0usize, 0usize);
    for e in &entries {
        let perms: Option<Vec<&str>> = e
            .get("permissions")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_str).collect());
        let (Some(perms), Some(issues), Some(projects)) =
            (perms, id_list(e.get("issues")), id_list(e.get("projects")))
        else {
            return errors(
                StatusCode::BAD_REQUEST,
                "Each projectPermissions entry needs permissions (strings), and issues and projects as arrays of ids.",
            );
        };
        if let Some(bad) = perms
            .iter()
            .find(|k| permission(k).is_none_or(|p| p.2 != "PROJECT"))
        {
            return errors(
                StatusCode::BAD_REQUEST,
                &format!("Invalid project permission key: {bad}"),
            );
        }
        n_issues += issues.len();
        n_projects += projects.len();
        parsed.push((perms, issues, projects));
    }
    if n_issues > 1000 || n_projects > 1000 {
        return errors(
            StatusCode::BAD_REQUEST,
            "You can check at most 1000 issues and 1000 projects.",
        );
    }
    let mut out = Vec::new();
    for (perms, issues, projects) in parsed {
        let seen: Vec<u64> = issues
            .iter()
            .copied()
            .filter(|id| {
                st.issues
                    .get(&id.to_string())
                    .is_some_and(|i| st.sees(&ctx.login, i))
            })
            .collect();
        let browsed: Vec<u64> = projects
            .iter()
            .copied()
            .filter(|id| {
                st.browses(&ctx.login, &id.to_string()) && st.projects.contains_key(&id.to_string())
            })
            .collect();
        for perm in perms {
            out.push(json!({"permission": perm, "issues": seen, "projects": browsed}));
        }
    }
    json(
        StatusCode::OK,
        json!({"globalPermissions": [], "projectPermissions": out}),
    )
}

fn issue_json(st: &State, prefix: &str, i: &Issue, fields: Option<&str>) -> Value {
    let pr = &st.projects[&i.project_id];
    let all = BTreeMap::from([
        ("summary", json!(i.summary)),
        (
            "project",
            json!({
                "self": format!("{prefix}/project/{}", pr.id),
                "id": pr.id,
                "key": pr.key,
                "name": pr.name,
                "projectTypeKey": "software",
            }),
        ),
        (
            "issuetype",
            json!({"id": "10001", "name": "Task", "subtask": false}),
        ),
        (
            "status",
            json!({"id": "10000", "name": "To Do", "statusCategory": {"id": 2, "key": "new", "name": "To Do"}}),
        ),
    ]);
    let wanted: Vec<&str> = fields
        .unwrap_or("*navigable")
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    let everything = wanted.is_empty() || wanted.iter().any(|f| *f == "*all" || *f == "*navigable");
    let mut out = serde_json::Map::new();
    for (k, v) in all {
        let excluded = wanted.iter().any(|f| f.strip_prefix('-') == Some(k));
        if (everything || wanted.contains(&k)) && !excluded {
            out.insert(k.to_owned(), v);
        }
    }
    json!({
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": i.id,
        "self": format!("{prefix}/issue/{}", i.id),
        "key": i.key,
        "fields": out,
    })
}

async fn get_issue(
    Axum(s): Axum<Shared>,
    Path(p): Path<HashMap<String, String>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let st = lock(&s);
    let ctx = ctx_or_return!(st, p, headers);
    let q = query_map(q.as_deref());
    match st.issue(&p["issue"]).filter(|i| st.sees(&ctx.login, i)) {
        Some(i) => json(
            StatusCode::OK,
            issue_json(&st, &ctx.prefix, i, q.get("fields").map(String::as_str)),
        ),
        None => no_issue(),
    }
}

/// The visible issue's id, or the 404 every remote-link call gives for an invisible one.
fn visible_issue(st: &State, ctx: &Ctx, id_or_key: &str) -> Result<(String, String), Response> {
    st.issue(id_or_key)
        .filter(|i| st.sees(&ctx.login, i))
        .map(|i| (i.id.clone(), i.key.clone()))
        .ok_or_else(no_issue)
}

async fn list_links(
    Axum(s): Axum<Shared>,
    Path(p): Path<HashMap<String, String>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let st = lock(&s);
    let ctx = ctx_or_return!(st, p, headers);
    let (id, key) = match visible_issue(&st, &ctx, &p["issue"]) {
        Ok(v) => v,
        Err(res) => return res,
    };
    let links = &st.issues[&id].links;
    let q = query_map(q.as_deref());
    // With globalId, Jira returns that one link (not a list).
    if let Some(g) = q.get("globalId") {
        return match links.iter().find(|l| l["globalId"].as_str() == Some(g)) {
            Some(l) => json(StatusCode::OK, State::link_json(l, &ctx.prefix, &key)),
            None => errors(
                StatusCode::NOT_FOUND,
                &format!("No remote link with globalId {g} on this issue."),
            ),
        };
    }
    let all: Vec<Value> = links
        .iter()
        .map(|l| State::link_json(l, &ctx.prefix, &key))
        .collect();
    json(StatusCode::OK, Value::Array(all))
}

async fn put_link(
    Axum(s): Axum<Shared>,
    Path(p): Path<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut st = lock(&s);
    let ctx = ctx_or_return!(st, p, headers);
    let (id, key) = match visible_issue(&st, &ctx, &p["issue"]) {
        Ok(v) => v,
        Err(res) => return res,
    };
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(&body) else {
        return errors(
            StatusCode::BAD_REQUEST,
            "The request body is not a JSON object.",
        );
    };
    let object = req.get("object").and_then(Value::as_object);
    let has = |k: &str| {
        object
            .and_then(|o| o.get(k))
            .and_then(Value::as_str)
            .is_some_and(|v| !v.trim().is_empty())
    };
    let mut missing = serde_json::Map::new();
    if !has("url") {
        missing.insert("url".into(), "'url' is required.".into());
    }
    if !has("title") {
        missing.insert("title".into(), "'title' is required.".into());
    }
    if !missing.is_empty() {
        return json(
            StatusCode::BAD_REQUEST,
            json!({"errorMessages": [], "errors": missing}),
        );
    }
    let global_id = req
        .get("globalId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut link = serde_json::Map::new();
    for k in ["globalId", "application", "relationship", "object"] {
        if let Some(v) = req.get(k).filter(|v| !v.is_null()) {
            link.insert(k.into(), v.clone());
        }
    }
    let existing = global_id.as_deref().and_then(|g| {
        st.issues[&id]
            .links
            .iter()
            .position(|l| l["globalId"].as_str() == Some(g))
    });
    let (status, link_id) = match existing {
        Some(pos) => {
            let links = &mut st.issues.get_mut(&id).expect("visible").links;
            let link_id = links[pos]["id"].clone();
            link.insert("id".into(), link_id.clone());
            links[pos] = Value::Object(link);
            (StatusCode::OK, link_id)
        }
        None => {
            let link_id = json!(st.next_link_id());
            link.insert("id".into(), link_id.clone());
            st.issues
                .get_mut(&id)
                .expect("visible")
                .links
                .push(Value::Object(link));
            (StatusCode::CREATED, link_id)
        }
    };
    json(
        status,
        json!({"id": link_id, "self": format!("{}/issue/{key}/remotelink/{link_id}", ctx.prefix)}),
    )
}

async fn delete_link_by_global_id(
    Axum(s): Axum<Shared>,
    Path(p): Path<HashMap<String, String>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut st = lock(&s);
    let ctx = ctx_or_return!(st, p, headers);
    let (id, _) = match visible_issue(&st, &ctx, &p["issue"]) {
        Ok(v) => v,
        Err(res) => return res,
    };
    let q = query_map(q.as_deref());
    let Some(g) = q.get("globalId").filter(|g| !g.is_empty()) else {
        return errors(
            StatusCode::BAD_REQUEST,
            "The globalId query parameter is required.",
        );
    };
    let links = &mut st.issues.get_mut(&id).expect("visible").links;
    let before = links.len();
    links.retain(|l| l["globalId"].as_str() != Some(g.as_str()));
    if links.len() == before {
        return errors(
            StatusCode::NOT_FOUND,
            &format!("No remote link with globalId {g} on this issue."),
        );
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn get_link(
    Axum(s): Axum<Shared>,
    Path(p): Path<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let st = lock(&s);
    let ctx = ctx_or_return!(st, p, headers);
    let (id, key) = match visible_issue(&st, &ctx, &p["issue"]) {
        Ok(v) => v,
        Err(res) => return res,
    };
    let link_id = p["link"].as_str();
    match st.issues[&id]
        .links
        .iter()
        .find(|l| link_matches(l, link_id))
    {
        Some(l) => json(StatusCode::OK, State::link_json(l, &ctx.prefix, &key)),
        None => errors(
            StatusCode::NOT_FOUND,
            &format!("No remote link with id {link_id} on this issue."),
        ),
    }
}

async fn delete_link_by_id(
    Axum(s): Axum<Shared>,
    Path(p): Path<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut st = lock(&s);
    let ctx = ctx_or_return!(st, p, headers);
    let (id, _) = match visible_issue(&st, &ctx, &p["issue"]) {
        Ok(v) => v,
        Err(res) => return res,
    };
    let link_id = p["link"].clone();
    let links = &mut st.issues.get_mut(&id).expect("visible").links;
    let before = links.len();
    links.retain(|l| !link_matches(l, &link_id));
    if links.len() == before {
        return errors(
            StatusCode::NOT_FOUND,
            &format!("No remote link with id {link_id} on this issue."),
        );
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Whether the stored link has the id in the path.
fn link_matches(link: &Value, id: &str) -> bool {
    id.parse::<u64>()
        .ok()
        .is_some_and(|n| link["id"].as_u64() == Some(n))
}

/// A fresh authorization code for an approved authorize request (see `JiraFake::try_consent`).
pub(super) fn new_code() -> String {
    random_token()
}
