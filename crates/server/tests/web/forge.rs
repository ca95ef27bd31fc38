//! The Jira Forge app's Custom UI (integrations/jira-forge, issue #21) in a real browser: Debian's
//! chromium (headless) driven through playwright-core, loading the app's committed bundles
//! (`static/panel/`, `static/admin/`) from a page server of this test — its own origin, so the
//! direct calls exercise Coffer's CORS for `jira.forge.ui_origins` — against a real server linked
//! to the Jira fake (Cloud flavour) and to moto (S3).
//!
//! Jira's side of `@forge/bridge` is the app's own `testing/fake-host.js` (installed with
//! Playwright's `addInitScript`, so `window.__bridge` exists before the bundle loads). Its FITs
//! come from this test's page server (`/fit`), signed with an RSA key the test generated and
//! published at the JWKS URL Coffer is configured with. As in Forge, `invokeRemote` travels
//! server to server — the page server's `/proxy`, standing in for Atlassian's proxy, which also
//! records what it carried — while `requestRemote` goes straight from the page to Coffer.
//!
//! The owner (Jira account linked, may browse OPS-1) lists the issue's secret, reveals it, adds a
//! secret sealed in the browser (which the API then reveals with the same value); alice, on an
//! issue the fake's security level hides from her (OPS-2), sees no secret; on the Configure page
//! the owner saves a moto bucket and gets the seed's sentence. Never skipped: without chromium or
//! node it fails saying what to install.

#[path = "../support/browser.rs"]
#[allow(dead_code)]
mod link_browser;
#[path = "../support/moto.rs"]
#[allow(dead_code)]
mod moto;

use super::helpers::{self, B64, Engine as _, TestApp, spawn_with};
use super::{chromium, playwright_dir};
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, Method as HttpMethod, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coffer_server::testing::jira::{Flavor, JiraFake};
use openidconnect::core::{CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey};
use openidconnect::{JsonWebKeyId, PrivateSigningKey};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const APP: &str = "ari:cloud:ecosystem::app/0b6c2a4e-7d1f-4c3b-9e8a-5f4d3c2b1a09";
const INSTALLATION: &str = "ari:cloud:ecosystem::installation/aaaa1111-2222-4333-8444-555566667777";
const CLIENT_ID: &str = "coffer-forge-ui-test";
const CLIENT_SECRET: &str = "fake-jira-client-secret-forge";
const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const DB_VALUE: &str = "db-password-0f3a";
const NEW_VALUE: &str = "sk_live_sealed_in_chromium_7d21";
const REGION: &str = "eu-central-1";
const SENTENCE: &str = "Your custom S3 settings have been saved and validated.";

/// The Forge app's directory.
fn forge_app() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../integrations/jira-forge")
}

/// The page server: Forge's CDN (the app's static resources), Forge's signing side (JWKS and
/// FITs) and Atlassian's invokeRemote proxy.
struct Pages {
    key: CoreRsaPrivateSigningKey,
    jwks: Value,
    coffer: String,
    /// The Jira site's cloud id (the fake's).
    cloud_id: String,
    /// Issue key → the fake's issue id.
    issue_ids: HashMap<String, String>,
    /// Every request and answer body the proxy carried, with its path.
    proxied: Mutex<Vec<(String, String)>>,
    http: reqwest::Client,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl Pages {
    /// A FIT as Forge signs it for a UI module: the issue panel on `issue`, or (no issue) the
    /// Configure page.
    fn fit(&self, principal: &str, issue: Option<&str>) -> String {
        let t = now();
        let (module, extension) = match issue {
            Some(key) => (
                json!({"type": "jira:issuePanel", "key": "coffer-issue-panel"}),
                json!({
                    "type": "jira:issuePanel",
                    "issue": {"key": key, "id": self.issue_ids[key], "type": "Task"},
                    "project": {"key": key.split('-').next().unwrap(), "type": "software"},
                }),
            ),
            None => (
                json!({"type": "jira:adminPage", "key": "coffer-config"}),
                json!({"type": "jira:adminPage"}),
            ),
        };
        let claims = json!({
            "iss": "forge/invocation-token",
            "aud": APP,
            "iat": t,
            "nbf": t,
            "exp": t + 25,
            "jti": uuid::Uuid::new_v4().to_string(),
            "app": {
                "id": APP,
                "installationId": INSTALLATION,
                "apiBaseUrl": format!("https://api.atlassian.com/ex/jira/{}", self.cloud_id),
                "environment": {"type": "PRODUCTION", "id": "env"},
                "module": module,
            },
            "context": {"cloudId": self.cloud_id, "moduleKey": module["key"], "extension": extension},
            "principal": principal,
        });
        let input = format!(
            "{}.{}",
            B64URL.encode(json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}).to_string()),
            B64URL.encode(claims.to_string())
        );
        let sig = self
            .key
            .sign(
                &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                input.as_bytes(),
            )
            .unwrap();
        format!("{input}.{}", B64URL.encode(sig))
    }
}

async fn jwks(State(p): State<Arc<Pages>>) -> axum::Json<Value> {
    axum::Json(p.jwks.clone())
}

async fn fit(State(p): State<Arc<Pages>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(principal) = q.get("principal") else {
        return (StatusCode::BAD_REQUEST, "principal?").into_response();
    };
    let issue = q.get("issue").map(String::as_str).filter(|i| !i.is_empty());
    if issue.is_some_and(|i| !p.issue_ids.contains_key(i)) {
        return (StatusCode::BAD_REQUEST, "unknown issue").into_response();
    }
    p.fit(principal, issue).into_response()
}

/// Atlassian's proxy for invokeRemote: the request goes on to Coffer from here (no CORS), with
/// the FIT and the user's token the page's bridge put on it.
async fn proxy(
    State(p): State<Arc<Pages>>,
    method: HttpMethod,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !path.starts_with("integrations/forge/") {
        return (StatusCode::NOT_FOUND, "not a Forge path").into_response();
    }
    let mut req = p
        .http
        .request(method, format!("{}/{path}", p.coffer))
        .body(body.to_vec());
    for h in [
        "authorization",
        "content-type",
        "x-forge-oauth-user",
        "x-forge-oauth-system",
    ] {
        if let Some(v) = headers.get(h) {
            req = req.header(h, v.as_bytes());
        }
    }
    let res = match req.send().await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_else(|| "application/json".into());
    let answer = res.bytes().await.unwrap_or_default();
    p.proxied.lock().unwrap().push((
        path,
        format!(
            "{} => {}",
            String::from_utf8_lossy(&body),
            String::from_utf8_lossy(&answer)
        ),
    ));
    (status, [(header::CONTENT_TYPE, ct)], answer.to_vec()).into_response()
}

/// The app's static resources, with a CSP like Forge's Custom UI.
async fn static_file(UrlPath(path): UrlPath<String>) -> Response {
    if path.split('/').any(|s| s.is_empty() || s.starts_with('.')) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let file = forge_app().join("static").join(&path);
    let Ok(bytes) = tokio::fs::read(&file).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let ct = match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    (
        [
            (header::CONTENT_TYPE, ct),
            (
                header::CONTENT_SECURITY_POLICY,
                "script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'self'",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response()
}

/// The browser's part. Every step names itself, so a failure says where it stopped.
const SCRIPT: &str = r###"
import { chromium } from 'playwright-core';
import { strict as assert } from 'node:assert';

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} is not set`); return v; };
const PAGES = env('PAGES');
const COFFER = env('COFFER_URL');

const browser = await chromium.launch({ executablePath: env('CHROMIUM'), args: ['--no-sandbox'] });
const problems = [];
const bridgeCalls = [];
let page = null;
let step = 'start';
let opened = '';

// A page of the app as Jira would frame it: the fake host's config, then the fake host itself,
// both before any script of the page (addInitScript), then the page.
async function open(which, cfg) {
  if (page) {
    await record();
    await page.context().close();
  }
  const context = await browser.newContext();
  await context.addInitScript((cfg) => {
    const fitUrl = new URL('/fit', location.origin);
    fitUrl.searchParams.set('principal', cfg.principal);
    if (cfg.issue) fitUrl.searchParams.set('issue', cfg.issue);
    // requestRemote's paths; everything else is invokeRemote, which Forge proxies.
    const direct = /^\/integrations\/forge\/(reveal|uploads)(\/|$)/;
    window.__FORGE_FAKE__ = {
      remoteUrl: cfg.coffer,
      userToken: cfg.userToken,
      context: cfg.context,
      fit: async () => {
        const r = await fetch(fitUrl);
        if (!r.ok) throw new Error(`no FIT from the test: ${r.status}`);
        return r.text();
      },
      fetch: (url, init) => {
        const u = new URL(url);
        if (u.origin !== cfg.coffer) throw new Error(`a call to ${u.origin}, not Coffer`);
        return direct.test(u.pathname) ? fetch(url, init) : fetch(`/proxy${u.pathname}${u.search}`, init);
      },
    };
  }, { ...cfg, coffer: COFFER });
  await context.addInitScript({ path: env('FAKE_HOST') });
  page = await context.newPage();
  opened = step;
  page.setDefaultTimeout(15_000);
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${which}: ${m.text()} (${m.location()?.url})`); });
  page.on('pageerror', (e) => problems.push(`${which}: ${e}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`${which}: ${r.request().method()} ${r.url()} answered ${r.status()}`); });
  await page.goto(`${PAGES}/static/${which}/index.html`);
  return page;
}

// What the bundle asked of the bridge (names and payload shapes, values cut short).
async function record() {
  const calls = await page.evaluate(() => window.__FORGE_FAKE__.calls).catch(() => []);
  const cut = (v) => (typeof v === 'string' && v.length > 60 ? `${v.slice(0, 60)}…(${v.length})` : v);
  for (const c of calls) {
    const p = c.payload && typeof c.payload === 'object'
      ? JSON.parse(JSON.stringify(c.payload, (k, v) => (k === 'body' || k === 'value' ? cut(typeof v === 'string' ? v : JSON.stringify(v)) : v)))
      : c.payload;
    bridgeCalls.push(`${opened}: ${c.name} ${JSON.stringify(p)}`);
  }
}

const text = (sel) => page.locator(sel).innerText();
const testid = (id) => `[data-testid="${id}"]`;
const panelContext = (key, id) => ({
  cloudId: env('CLOUD_ID'),
  moduleKey: 'coffer-issue-panel',
  extension: { type: 'jira:issuePanel', issue: { id, key, type: 'Task' }, project: { key: key.split('-')[0], type: 'software' } },
  locale: 'en-US',
});

try {
  step = 'the owner opens the panel on OPS-1';
  await open('panel', { principal: env('OWNER'), issue: 'OPS-1', userToken: env('OWNER_JIRA_TOKEN'), context: panelContext('OPS-1', env('OPS1_ID')) });
  await page.locator(`${testid('secret-row')}[data-name="db"]`).waitFor();
  assert.match(await text(testid('panel-title')), /OPS-1/);
  assert.match(await text(testid('panel-title')), /alpha/);
  assert.equal(await page.locator(testid('secret-row')).count(), 1, 'only OPS-1 secrets');
  assert.equal(await text(`${testid('secret-row')}[data-name="db"] ${testid('secret-version')}`), 'v1');
  assert.equal(await page.locator(testid('panel-message')).count(), 0);

  step = 'the owner reveals db';
  await page.click(testid('reveal-db'));
  await page.locator(testid('value-db')).waitFor({ state: 'visible' });
  assert.equal(await page.locator(testid('value-db')).textContent(), env('DB_VALUE'));
  await page.click(testid('hide-db'));
  await page.locator(testid('value-db')).waitFor({ state: 'hidden' });
  assert.equal(await page.locator(testid('value-db')).textContent(), '');

  step = 'the owner adds api-key, sealed in the browser';
  await page.fill(testid('add-name'), 'api-key');
  await page.selectOption(testid('add-kind'), 'password');
  await page.fill(testid('add-value'), env('NEW_VALUE'));
  await page.click(testid('add-submit'));
  await page.locator(`${testid('add-result')} .msg`).waitFor();
  const added = await text(testid('add-result'));
  assert.ok(await page.locator(`${testid('add-result')} .msg-ok`).count() === 1, `add failed: ${added}`);
  assert.equal(added, 'Saved api-key as version 1.');
  await page.locator(`${testid('secret-row')}[data-name="api-key"]`).waitFor();
  assert.equal(await page.locator(testid('secret-row')).count(), 2);
  assert.equal(await page.inputValue(testid('add-value')), '', 'the value is cleared');

  step = 'the owner reveals the new secret in the panel';
  await page.click(testid('reveal-api-key'));
  await page.locator(testid('value-api-key')).waitFor({ state: 'visible' });
  assert.equal(await page.locator(testid('value-api-key')).textContent(), env('NEW_VALUE'));
  await page.screenshot({ path: `${env('ARTIFACTS')}/forge-1-owner-panel.png`, fullPage: true });

  step = 'alice opens the panel on OPS-2, which Jira hides from her';
  await open('panel', { principal: env('ALICE'), issue: 'OPS-2', userToken: env('ALICE_JIRA_TOKEN'), context: panelContext('OPS-2', env('OPS2_ID')) });
  await page.locator(`${testid('panel-message')}, ${testid('panel-empty')}, ${testid('secret-list')}`).first().waitFor();
  assert.equal(await page.locator(testid('secret-row')).count(), 0, 'alice sees no secret on OPS-2');
  assert.equal(await page.locator(testid('secret-list')).count(), 0);
  const shown = await page.locator('#app').innerText();
  assert.ok(!shown.includes('root-key'), `the name never shows: ${shown}`);
  console.log(`ALICE_SEES=${JSON.stringify(shown)}`);
  assert.equal(await page.locator(testid('add-form')).count(), 0, 'alice (read only) gets no form');
  await page.screenshot({ path: `${env('ARTIFACTS')}/forge-2-alice-denied.png`, fullPage: true });

  step = 'the owner opens the Configure page';
  await open('admin', { principal: env('OWNER'), context: { cloudId: env('CLOUD_ID'), moduleKey: 'coffer-config', extension: { type: 'jira:adminPage' }, locale: 'en-US' } });
  await page.locator(testid('storage-custom')).waitFor();
  assert.equal(await text(testid('status-org')), 'alpha');
  assert.equal(await page.getAttribute(testid('status-forge-linked'), 'data-value'), 'true');
  assert.equal(await page.getAttribute(testid('status-jira-linked'), 'data-value'), 'true');
  assert.equal(await page.isChecked(testid('storage-custom')), false);
  assert.match(await text(testid('remote-current')), /No Coffer address/);

  step = 'the owner saves the moto bucket';
  await page.check(testid('storage-custom'));
  await page.fill(testid('storage-bucket'), env('BUCKET'));
  await page.selectOption(testid('storage-region'), env('REGION'));
  await page.click(testid('storage-save'));
  await page.locator(`${testid('storage-result')} .msg`).waitFor();
  const saved = await text(testid('storage-result'));
  assert.equal(await page.locator(`${testid('storage-result')} .msg-ok`).count(), 1, `not saved: ${saved}`);
  assert.equal(saved, env('SENTENCE'));
  await page.screenshot({ path: `${env('ARTIFACTS')}/forge-3-admin-saved.png`, fullPage: true });

  step = 'the Configure page shows the saved bucket';
  await open('admin', { principal: env('OWNER'), context: { cloudId: env('CLOUD_ID'), moduleKey: 'coffer-config', extension: { type: 'jira:adminPage' }, locale: 'en-US' } });
  await page.locator(testid('storage-custom')).waitFor();
  assert.equal(await page.isChecked(testid('storage-custom')), true);
  assert.equal(await page.inputValue(testid('storage-bucket')), env('BUCKET'));
  assert.equal(await page.inputValue(testid('storage-region')), env('REGION'));
  await record();

  assert.deepEqual(problems, [], 'no script errors on the pages');
  for (const c of bridgeCalls) console.log(`BRIDGE ${c}`);
  console.log('forge browser scenario passed');
} catch (e) {
  if (page) await page.screenshot({ path: `${env('ARTIFACTS')}/forge-failed.png`, fullPage: true }).catch(() => {});
  const app = page ? await page.locator('#app').innerText().catch(() => '?') : '';
  console.error(`step "${step}" failed at ${page?.url()}: ${e.stack ?? e}\npage says: ${app}\nproblems: ${problems.join('\n')}`);
  for (const c of bridgeCalls) console.error(`BRIDGE ${c}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  process.exit();
}
"###;

/// A person of `alpha` signs in and links their Jira account `login` through the fake's consent.
async fn link(app: &TestApp, jira: &JiraFake, user: &str, login: &str) {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"org": "alpha", "user": user, "password": helpers::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{user} signs in");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let (k, v) = cookie.split(';').next().unwrap().split_once('=').unwrap();
    let mut b = link_browser::Browser::default();
    b.jar.insert(k.into(), v.into());
    let hop = b
        .get(&format!("{}/integrations/jira/alpha/link", app.base))
        .await;
    assert_eq!(hop.status, 303, "{}", hop.location);
    let back = jira.consent(&hop.location, login).await;
    let hop = b.get(&back).await;
    assert_eq!(
        (hop.status, hop.location.as_str()),
        (303, "/orgs/alpha/jira?linked=1"),
        "linking {user}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forge_custom_ui_lists_reveals_adds_and_saves_a_bucket_in_chromium() {
    let chromium = chromium();
    let node_dir = playwright_dir();
    let fake_host = forge_app().join("testing/fake-host.js");
    assert!(fake_host.is_file(), "{}", fake_host.display());

    // moto, with the bucket the owner will save (in the org's location, eu).
    let moto = moto::Moto::start();
    let bucket = moto::unique("alpha-forge");
    let s3 = coffer_server::aws::s3_client(&moto.settings(REGION))
        .await
        .unwrap();
    s3.create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(REGION.into())
                .build(),
        )
        .send()
        .await
        .expect("create bucket");

    // Jira Cloud (the fake).
    let jira = JiraFake::start(Flavor::Cloud).await;
    let owner_account = jira.add_user("aowner");
    let alice_account = jira.add_user("alice");
    jira.add_project("OPS");
    let mut issue_ids = HashMap::new();
    for key in ["OPS-1", "OPS-2"] {
        issue_ids.insert(key.to_owned(), jira.add_issue(key));
    }
    jira.grant_browse("aowner", "OPS");
    jira.grant_browse("alice", "OPS");
    // OPS-2 sits behind an issue security level only the owner passes.
    jira.restrict_issue("OPS-2", Some(&["aowner"]));

    // The page server, on its own origin.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("http://127.0.0.1:{port}");
    let key = CoreRsaPrivateSigningKey::from_pem(
        &coffer_server::testing::rsa::pkcs1_pem(),
        Some(JsonWebKeyId::new("k1".into())),
    )
    .unwrap();
    let jwks_doc = json!({"keys": [serde_json::to_value(key.as_verification_key()).unwrap()]});
    let pages = Arc::new(Pages {
        key,
        jwks: jwks_doc,
        coffer: origin.clone(),
        cloud_id: jira.cloud_id(),
        issue_ids,
        proxied: Mutex::new(Vec::new()),
        http: reqwest::Client::new(),
    });
    let router = axum::Router::new()
        .route("/.well-known/jwks.json", axum::routing::get(jwks))
        .route("/fit", axum::routing::get(fit))
        .route("/proxy/{*path}", axum::routing::any(proxy))
        .route("/static/{*path}", axum::routing::get(static_file))
        .route(
            "/favicon.ico",
            axum::routing::get(|| async { StatusCode::NO_CONTENT }),
        )
        .with_state(pages.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page_origin = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });

    // Coffer.
    jira.register_client(
        CLIENT_ID,
        CLIENT_SECRET,
        &format!("{origin}/integrations/jira/callback"),
    );
    let (jira_base, aws, jwks_url, ui_origin) = (
        jira.base(),
        moto.settings(REGION),
        format!("{page_origin}/.well-known/jwks.json"),
        page_origin.clone(),
    );
    let app = spawn_with(|c| {
        c.listen = format!("127.0.0.1:{port}");
        c.storage.public_origin = Some(origin.clone());
        c.storage.aws = aws;
        c.jira.allow_loopback_sites = true;
        c.jira.cloud_auth_url = jira_base.clone();
        c.jira.cloud_api_url = jira_base;
        c.jira.forge.jwks_url = jwks_url;
        c.jira.forge.ui_origins = vec![ui_origin];
    })
    .await;
    assert_eq!(app.base, origin);
    let (_, owner) = app.org_with_owner_in("alpha", "eu", "aowner").await;
    app.member_as(&owner, "alpha", "alice", "member").await;
    assert_eq!(
        app.grant_as(&owner, "alpha", "OPS", "user:alice", "read")
            .await
            .status,
        201
    );
    let r = app
        .call(
            &owner,
            Method::PUT,
            "/api/v1/orgs/alpha/jira",
            Some(json!({
                "kind": "cloud",
                "site": jira.base(),
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    link(&app, &jira, "aowner", "aowner").await;
    link(&app, &jira, "alice", "alice").await;
    for (scope, name, value) in [("OPS-1", "db", DB_VALUE), ("OPS-2", "root-key", "root")] {
        let r = app
            .put_secret_as(&owner, "alpha", scope, name, value.as_bytes(), json!({}))
            .await;
        assert_eq!(r.status, 201, "{scope}/{name}: {}", r.body);
    }
    let r = app
        .call(
            &owner,
            Method::PUT,
            "/api/v1/orgs/alpha/jira/forge",
            Some(json!({"app_id": APP, "installation_id": INSTALLATION})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // CORS as the browser will meet it: Coffer admits the page's origin for the direct calls,
    // and nobody else.
    let preflight = |from: &str| {
        reqwest::Client::new()
            .request(
                Method::OPTIONS,
                format!("{}/integrations/forge/reveal", app.base),
            )
            .header("origin", from)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type,x-coffer-ticket",
            )
            .send()
    };
    let ok = preflight(&page_origin).await.unwrap();
    assert_eq!(
        ok.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some(page_origin.as_str())
    );
    let other = preflight("http://127.0.0.1:9").await.unwrap();
    assert!(
        other.headers().get("access-control-allow-origin").is_none(),
        "another origin is not admitted"
    );

    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target dir")
        .join("browser-artifacts/forge");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    let run = tokio::process::Command::new("node")
        .args(["--input-type=module", "-e", SCRIPT])
        .current_dir(&node_dir)
        .env("PAGES", &page_origin)
        .env("COFFER_URL", &app.base)
        .env("CHROMIUM", &chromium)
        .env("FAKE_HOST", &fake_host)
        .env("ARTIFACTS", &artifacts)
        .env("OWNER", &owner_account)
        .env("ALICE", &alice_account)
        .env("OWNER_JIRA_TOKEN", jira.access_token("aowner"))
        .env("ALICE_JIRA_TOKEN", jira.access_token("alice"))
        .env("CLOUD_ID", &pages.cloud_id)
        .env("OPS1_ID", &pages.issue_ids["OPS-1"])
        .env("OPS2_ID", &pages.issue_ids["OPS-2"])
        .env("DB_VALUE", DB_VALUE)
        .env("NEW_VALUE", NEW_VALUE)
        .env("BUCKET", &bucket)
        .env("REGION", REGION)
        .env("SENTENCE", SENTENCE)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the browser did not finish in 120 s")
        .unwrap_or_else(|e| {
            panic!("node is needed for the browser tests ({e}); scripts/test.sh installs it")
        });
    let said = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && said.contains("forge browser scenario passed"),
        "the browser run failed (screenshots in {}):\n{said}\n{stderr}",
        artifacts.display()
    );
    println!("{said}");

    // What the browser did is what the API says: the sealed secret reveals with its value…
    let r = app.reveal_as(&owner, "alpha", "OPS-1", "api-key").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        B64.decode(r.body["value"].as_str().unwrap()).unwrap(),
        NEW_VALUE.as_bytes()
    );
    // …the org keeps its envelopes in the saved bucket…
    let r = app
        .call(&owner, Method::GET, "/api/v1/orgs/alpha/storage", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["kind"].as_str(), r.body["bucket"].as_str()),
        (Some("custom"), Some(bucket.as_str())),
        "{}",
        r.body
    );
    // …and no value or data key ever went through Atlassian's proxy (only tickets and metadata).
    let proxied = pages.proxied.lock().unwrap().clone();
    let paths: Vec<&str> = proxied.iter().map(|(p, _)| p.as_str()).collect();
    for needed in [
        "integrations/forge/panel",
        "integrations/forge/tickets",
        "integrations/forge/admin",
        "integrations/forge/admin/storage",
    ] {
        assert!(paths.contains(&needed), "{needed} not proxied: {paths:?}");
    }
    for (path, carried) in &proxied {
        assert!(
            !path.contains("reveal") && !path.contains("uploads"),
            "a direct call went through the proxy: {path}"
        );
        for secret in [
            DB_VALUE.to_owned(),
            NEW_VALUE.to_owned(),
            B64.encode(DB_VALUE),
            B64.encode(NEW_VALUE),
        ] {
            assert!(
                !carried.contains(&secret),
                "{path} carried a value: {carried}"
            );
        }
        assert!(!carried.contains("data_key"), "{path}: {carried}");
    }
    server.abort();
}
