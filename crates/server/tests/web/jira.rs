//! Jira in the web UI, in a real browser: Debian's chromium (headless), driven through
//! playwright-core (installed from `crates/coffer/tests/browser/package-lock.json`, the browser
//! tests' own), against a real server linked to the Jira fake (Data Center flavour,
//! `coffer_server::testing::jira`). The owner connects the org on Admin → Jira and sees the
//! webhook secret once; links their Jira account (the fake's consent screen is played by the test
//! with `JiraFake::consent`, the browser carrying the answer back to Coffer); sees why a consent
//! failed on the account page; checks the link and looks for orphans; and the issue pages say
//! what Jira says: the secrets of an issue Jira lets them browse are listed with "Jira says you
//! may browse", those of one it does not are not.
//!
//! The browser's steps are a module run by node; it prints `AUTHORIZE=<url>` and `LINKED` and
//! waits on stdin for the test's answer (the callback URL, then `GO` once the test has stored a
//! secret through the API as the linked person). Never skipped: without chromium or node it
//! fails saying what to install (scripts/test.sh installs both).

use super::*;
use coffer_server::testing::jira::{Flavor, JiraFake};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

const CLIENT_ID: &str = "coffer-web-test";
const CLIENT_SECRET: &str = "fake-jira-client-secret";

/// The browser's part. Every step names itself, so a failure says where it stopped.
const SCRIPT: &str = r###"
import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';
import { strict as assert } from 'node:assert';

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} is not set`); return v; };
const BASE = env('COFFER_URL');
const SITE = env('JIRA_SITE');
const ORG = env('ORG');
const input = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(line) {
  console.log(line);
  const { value, done } = await input.next();
  if (done) throw new Error('the test closed stdin');
  return value;
}

const browser = await chromium.launch({ executablePath: env('CHROMIUM'), args: ['--no-sandbox'] });
const context = await browser.newContext({ baseURL: BASE });
await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
const page = await context.newPage();
page.setDefaultTimeout(15_000);
page.on('dialog', (d) => d.accept());
const problems = [];
page.on('console', (m) => {
  if (m.type() === 'error' && !/status of 4\d\d/.test(m.text()) && page.url().startsWith(BASE)) problems.push(m.text());
});
page.on('pageerror', (e) => problems.push(String(e)));
const text = (sel) => page.locator(sel).innerText();
let step = 'start';
try {
  step = 'sign in as the owner';
  await page.goto(`/orgs/${ORG}/admin/jira`);
  await page.waitForURL((u) => u.pathname === '/login');
  await page.fill('#org', ORG);
  await page.fill('#user', env('USER'));
  await page.fill('#password', env('PASSWORD'));
  await page.click('button[type=submit]');
  await page.waitForURL((u) => u.pathname === `/orgs/${ORG}/admin/jira`);
  await page.locator('#jira-form').waitFor();
  assert.match(await text('#jira-now'), /not linked to Jira/);
  assert.equal(await page.locator('#nav a', { hasText: 'Jira settings' }).count(), 1, 'the owner sees Jira settings in the nav');

  step = 'connect the org (Data Center) on Admin → Jira';
  await page.selectOption('#jira-kind', 'data-center');
  await page.fill('#jira-site', SITE);
  await page.fill('#jira-client-id', env('CLIENT_ID'));
  await page.fill('#jira-client-secret', env('CLIENT_SECRET'));
  await page.fill('#jira-retention', '14');
  await page.click('#jira-form button[type=submit]');
  await page.locator('#jira-result .msg-ok').waitFor();
  const secret = await text('[data-testid=jira-webhook-secret]');
  assert.match(secret, /^cjw_\S+$/, `the webhook secret is shown: ${secret}`);
  assert.match(await text('#jira-webhook-secret'), /not shown again/);
  const settings = await text('#jira-settings');
  assert.ok(settings.includes(SITE) && settings.includes('Jira Data Center') && settings.includes('14 days'), settings);
  assert.equal(await text('#jira-webhook-url'), `${BASE}/integrations/jira/${ORG}/webhook`);
  assert.equal(await text('#jira-redirect-uri'), `${BASE}/integrations/jira/callback`);
  await page.screenshot({ path: `${env('ARTIFACTS')}/jira-1-connected.png`, fullPage: true });

  step = 'the webhook secret is shown once';
  await page.reload();
  await page.locator('#jira-settings').waitFor();
  assert.equal(await page.locator('#jira-webhook-secret').count(), 0, 'no webhook secret after a reload');
  assert.equal(await page.locator('#jira-form h2').innerText(), 'Change the link');

  step = 'link my Jira account from the Jira page';
  await page.click('#nav a:text-is("Jira")');
  await page.waitForURL((u) => u.pathname === `/orgs/${ORG}/jira`);
  assert.match(await text('#jira-me'), /not linked/);
  await page.click('#jira-link');
  await page.waitForURL((u) => u.href.startsWith(SITE));
  const callback = await ask(`AUTHORIZE=${page.url()}`);
  assert.ok(callback.startsWith(`${BASE}/integrations/jira/callback?`), callback);
  await page.goto(callback);
  await page.waitForURL((u) => u.pathname === `/orgs/${ORG}/jira` && u.search === '?linked=1');
  await page.locator('#jira-me').waitFor();
  assert.match(await text('#jira-account'), /Your Jira account is linked\./);
  assert.match(await text('#jira-me'), /Alice/);
  await page.screenshot({ path: `${env('ARTIFACTS')}/jira-2-linked.png`, fullPage: true });

  step = 'a consent Jira ended lands on the account page with a fixed sentence, once';
  // Only the browser that started a consent gets a sentence, and never Jira's (or anyone's) words.
  await page.goto('/integrations/jira/callback?error=Session_expired:_sign_in_at_https://evil.example');
  await page.waitForURL((u) => u.pathname === '/account' && u.search === '');
  assert.equal(await page.locator('#jira-link-failed').count(), 0, 'no sentence for a consent not started here');
  await page.goto(`/integrations/jira/${ORG}/link`);
  await page.goto('/integrations/jira/callback?error=access_denied');
  await page.waitForURL((u) => u.pathname === '/account' && u.search === '?jira=failed');
  assert.match(await text('#jira-link-failed'), /Jira ended the consent without linking your account; nothing was linked/);
  assert.ok(!(await page.evaluate(() => document.cookie)).includes('coffer_jira_notice'), 'the notice cookie is cleared');
  await page.reload();
  await page.locator('#password-form').waitFor();
  assert.equal(await page.locator('#jira-link-failed').count(), 0, 'the reason is shown once');

  step = 'check the link and find orphans on Admin → Jira';
  await page.goto(`/orgs/${ORG}/admin/jira`);
  await page.click('#jira-check');
  await page.locator('#jira-check-steps').waitFor();
  assert.match(await text('#jira-check-steps'), /Every step passed/);
  await page.click('#jira-orphans');
  await page.locator('#jira-orphan-list').waitFor();
  const orphans = await text('#jira-orphan-list');
  assert.ok(orphans.includes('OPS-9') && orphans.includes('gone-key') && !orphans.includes('OPS-1'), orphans);

  step = 'an issue Jira lets me browse';
  assert.equal(await ask('LINKED'), 'GO');
  await page.goto(`/orgs/${ORG}/issues/OPS-1`);
  await page.locator('#jira-access').waitFor();
  assert.equal(await page.locator('#jira-access').getAttribute('data-admitted'), 'true');
  assert.match(await text('#jira-access'), /Jira says you may browse/);
  await page.locator('tr[data-secret="db-password"]').waitFor();
  await page.screenshot({ path: `${env('ARTIFACTS')}/jira-3-allowed.png`, fullPage: true });

  step = 'an issue Jira does not let me browse';
  await page.goto(`/orgs/${ORG}/issues/SEC-1`);
  await page.locator('#jira-access').waitFor();
  assert.equal(await page.locator('#jira-access').getAttribute('data-admitted'), 'false');
  await page.locator('.msg', { hasText: 'No secrets on SEC-1 that you can see' }).waitFor();
  assert.equal(await page.locator('#secrets tr').count(), 0, 'no secret of SEC-1 is listed');
  await page.screenshot({ path: `${env('ARTIFACTS')}/jira-4-denied.png`, fullPage: true });

  assert.deepEqual(problems, [], 'no script errors on the pages');
  console.log('jira browser scenario passed');
} catch (e) {
  await page.screenshot({ path: `${env('ARTIFACTS')}/jira-failed.png`, fullPage: true }).catch(() => {});
  console.error(`step "${step}" failed at ${page.url()}: ${e.stack ?? e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  process.exit();
}
"###;

#[tokio::test]
async fn an_owner_links_jira_and_the_issue_pages_say_what_jira_says_in_chromium() {
    let chromium = chromium();
    let node_dir = playwright_dir();
    let fake = JiraFake::start(Flavor::DataCenter).await;
    // The redirect URI Jira sends people back to is built from the public origin, so the port
    // is chosen before the server starts.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("http://127.0.0.1:{port}");
    let app = spawn_with(|c| {
        c.listen = format!("127.0.0.1:{port}");
        c.storage.public_origin = Some(origin.clone());
        c.jira.allow_loopback_sites = true;
        c.jira.cloud_auth_url = fake.base();
        c.jira.cloud_api_url = fake.base();
    })
    .await;
    assert_eq!(app.base, origin);
    fake.register_client(
        CLIENT_ID,
        CLIENT_SECRET,
        &format!("{origin}/integrations/jira/callback"),
    );
    fake.add_user("alice");
    fake.add_project("OPS");
    fake.add_project("SEC");
    fake.add_issue("OPS-1");
    fake.add_issue("SEC-1");
    fake.grant_browse("alice", "OPS");
    // Before the org is linked, Coffer alone decides: a secret on an issue alice may not browse
    // in Jira, and one on an issue Jira does not have at all (an orphan).
    assert_eq!(
        app.put_secret("SEC-1", "vault-root", b"s3cret")
            .await
            .status,
        201
    );
    assert_eq!(
        app.put_secret("OPS-9", "gone-key", b"old").await.status,
        201
    );
    assert_eq!(
        set_password(&app, &app.token, PASSWORD, None).await.status,
        204
    );

    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target dir")
        .join("browser-artifacts/jira");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    let mut child = tokio::process::Command::new("node")
        .args(["--input-type=module", "-e", SCRIPT])
        .current_dir(&node_dir)
        .env("COFFER_URL", &app.base)
        .env("CHROMIUM", &chromium)
        .env("ARTIFACTS", &artifacts)
        .env("ORG", "default")
        .env("USER", "admin")
        .env("PASSWORD", PASSWORD)
        .env("JIRA_SITE", fake.base())
        .env("CLIENT_ID", CLIENT_ID)
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("node is needed for the browser tests ({e}); scripts/test.sh installs it")
        });
    let mut to_browser = child.stdin.take().unwrap();
    let mut from_browser = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut errors = child.stderr.take().unwrap();
    let stderr = tokio::spawn(async move {
        let mut s = String::new();
        let _ = errors.read_to_string(&mut s).await;
        s
    });
    let mut said = Vec::new();
    let drive = async {
        while let Some(line) = from_browser.next_line().await.unwrap() {
            said.push(line.clone());
            let answer = if let Some(url) = line.strip_prefix("AUTHORIZE=") {
                // alice approves Coffer on the fake's consent screen.
                assert!(url.starts_with(&fake.base()), "{url}");
                fake.consent(url, "alice").await
            } else if line == "LINKED" {
                // Linked, the owner writes to an issue Jira lets alice browse: Jira is asked.
                let r = app.put_secret("OPS-1", "db-password", b"hunter2").await;
                assert_eq!(r.status, 201, "{}", r.body);
                "GO".to_owned()
            } else {
                continue;
            };
            to_browser
                .write_all(format!("{answer}\n").as_bytes())
                .await
                .unwrap();
        }
    };
    let finished = tokio::time::timeout(Duration::from_secs(120), drive).await;
    if finished.is_err() {
        let _ = child.start_kill();
    }
    let status = child.wait().await.unwrap();
    let stderr = stderr.await.unwrap();
    let said = said.join("\n");
    assert!(
        finished.is_ok(),
        "the browser did not finish in time:\n{said}\n{stderr}"
    );
    assert!(
        status.success() && said.contains("jira browser scenario passed"),
        "the browser run failed (screenshots in {}):\n{said}\n{stderr}",
        artifacts.display()
    );
    // What the browser did is what the API says.
    let r = app.get("/api/v1/orgs/default/jira").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (
            r.body["kind"].as_str(),
            r.body["linked_accounts"].as_u64(),
            r.body["me"]["account_id"].as_str()
        ),
        (Some("data-center"), Some(1), Some("alice"))
    );
    assert!(r.body.get("webhook_secret").is_none(), "{}", r.body);
    let r = app.get("/api/v1/orgs/default/jira/access/SEC-1").await;
    assert_eq!(
        (r.body["jira"].as_str(), r.body["admitted"].as_bool()),
        (Some("denied"), Some(false)),
        "{}",
        r.body
    );
}
