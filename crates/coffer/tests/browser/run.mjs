// Drives Debian's chromium (headless, through playwright-core) through Coffer's web UI as a
// person would, against a real `coffer serve` and moto that crates/coffer/tests/browser.rs
// started. Every step asserts what the page shows; every page is saved as a screenshot in
// $ARTIFACTS. Exits non-zero (with the failing step) on the first failure.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { strict as assert } from 'node:assert';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run through crates/coffer/tests/browser.rs)`);
  return v;
};
const BASE = env('COFFER_URL');
const ARTIFACTS = env('ARTIFACTS');
const SCENARIOS = env('SCENARIOS').split(',');
mkdirSync(ARTIFACTS, { recursive: true });

const browser = await chromium.launch({ executablePath: env('CHROMIUM'), args: ['--no-sandbox'] });
const context = await browser.newContext({ baseURL: BASE });
await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
const page = await context.newPage();
const problems = [];
// The OpenID provider's own pages (scenario sso) are not Coffer's: what they log is not a problem.
const PROVIDER = process.env.PROVIDER_URL;
const foreign = (m) => PROVIDER && !(m.location()?.url ?? '').startsWith(BASE) && !page.url().startsWith(BASE);
page.on('console', (m) => { if (m.type() === 'error' && !/status of 4\d\d/.test(m.text()) && !foreign(m)) problems.push(m.text()); });
page.on('pageerror', (e) => problems.push(String(e)));
page.setDefaultTimeout(15_000);

let step = 'start';
const shot = (name) => page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
const text = (sel) => page.locator(sel).innerText();

async function signIn(org, user, password, expectPath) {
  await page.fill('#org', org);
  await page.fill('#user', user);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  if (expectPath) await page.waitForURL((u) => u.pathname === expectPath);
}

/**
 * At the OpenID provider (oidc-provider's development pages): signs in as `login` with any
 * password, then confirms the consent page. The provider then sends the browser back to Coffer.
 */
async function atProvider(login, shotName) {
  await page.waitForURL((u) => u.origin === PROVIDER, { waitUntil: 'commit' });
  const name = page.locator('input[name=login]');
  await name.waitFor();
  await name.fill(login);
  await page.fill('input[name=password]', 'any password will do');
  if (shotName) await shot(shotName);
  await page.click('button[type=submit]');
  await name.waitFor({ state: 'detached' });
  await page.locator('input[name=prompt][value=consent]').waitFor({ state: 'attached' });
  await page.click('button[type=submit]');
}

async function kms(action, body) {
  const region = body.KeyId.split(':')[3];
  const res = await fetch(`${env('MOTO_URL')}/`, {
    method: 'POST',
    headers: {
      Authorization: `AWS4-HMAC-SHA256 Credential=test/20260101/${region}/kms/aws4_request, SignedHeaders=host, Signature=00`,
      'X-Amz-Target': `TrentService.${action}`,
      'Content-Type': 'application/x-amz-json-1.1',
    },
    body: JSON.stringify({ KeyId: body.KeyId.split('/').pop() }),
  });
  assert.ok(res.ok, `moto ${action}: ${res.status}`);
}

const puts = [];
page.on('request', (r) => { if (r.method() === 'PUT') puts.push(r.url()); });

/** Signs in as the org's owner (fresh cookies) and adds a secret on OPS-7 in the browser. */
async function addInBrowser(name, value) {
  const org = env('ORG');
  await page.context().clearCookies();
  await page.goto('/orgs/' + org + '/issues/OPS-7');
  await page.waitForURL((u) => u.pathname === '/login');
  await signIn(org, env('USER'), env('PASSWORD'), '/orgs/' + org + '/issues/OPS-7');
  await page.locator('#add-secret').waitFor();
  puts.length = 0;
  await page.fill('#name', name);
  await page.fill('#value', value);
  await page.click('#add-secret button[type=submit]');
  await page.locator('#add-result .msg').waitFor({ timeout: 30_000 });
  assert.equal(await text('#add-result'), `Saved ${name} as version 1.`);
  const row = page.locator(`tr[data-secret="${name}"]`);
  await row.waitFor();
  await row.getByRole('button', { name: 'Reveal', exact: true }).click();
  await page.locator('[data-testid=revealed-value]').waitFor();
  assert.equal(await page.locator('[data-testid=revealed-value]').innerText(), value);
  assert.equal(puts.length, 1, `one envelope upload: ${puts.join(', ')}`);
  return puts[0];
}

const scenarios = {
  async outside() {
    const org = env('ORG');
    const value = env('LINK_VALUE');
    step = 'outside: the owner makes a one-time link to a secret';
    await page.context().clearCookies();
    await page.goto('/orgs/' + org + '/issues/OPS-7');
    await page.waitForURL((u) => u.pathname === '/login');
    await signIn(org, env('USER'), env('PASSWORD'), '/orgs/' + org + '/issues/OPS-7');
    const row = page.locator('tr[data-secret="link-secret"]');
    await row.getByRole('button', { name: 'Share link' }).click();
    await page.locator('[data-testid=link-form] button[type=submit]').click();
    await page.locator('[data-testid=link-url]').waitFor({ timeout: 30_000 });
    const url = await text('[data-testid=link-url]');
    assert.match(url, new RegExp(`^${BASE}/l/[0-9a-f-]{36}#[A-Za-z0-9_-]{43}$`), url);
    console.log(`LINK_URL=${url}`);
    await shot('60-link-created');

    step = 'outside: someone without an account opens it once';
    await page.context().clearCookies();
    await page.goto(url);
    await page.locator('[data-testid=link-open]').click();
    await page.locator('[data-testid=link-value]').waitFor();
    assert.equal(await text('[data-testid=link-value]'), value);
    assert.match(await text('[data-testid=link-left]'), /last view/);
    assert.equal(new URL(page.url()).hash, '', 'the key is gone from the address bar');
    await shot('61-link-opened');

    step = 'outside: a second open says it was already viewed';
    // A fresh load, as a new tab would be (from the same page the link is only a fragment change).
    await page.goto('about:blank');
    await page.goto(url);
    await page.locator('#link-out .msg-warn').waitFor();
    assert.match(await text('#link-out'), /already been viewed/);
    await shot('62-link-already-viewed');

    step = 'outside: the owner asks a vendor for a secret';
    await page.goto('/orgs/' + org + '/issues/OPS-7');
    await page.waitForURL((u) => u.pathname === '/login');
    await signIn(org, env('USER'), env('PASSWORD'), '/orgs/' + org + '/issues/OPS-7');
    await page.fill('input[name=request-name]', 'vendor-api-key');
    await page.fill('input[name=request-note]', 'The production API key for the payments sandbox');
    await page.click('[data-testid=request-create] button[type=submit]');
    await page.locator('[data-testid=request-url]').waitFor();
    const ask = await text('[data-testid=request-url]');
    assert.match(ask, new RegExp(`^${BASE}/r/[0-9a-f-]{36}#[A-Za-z0-9_-]{43}$`), ask);
    await shot('63-request-created');

    step = 'outside: the vendor sends the secret from their browser';
    await page.context().clearCookies();
    await page.goto(ask);
    await page.locator('[data-testid=request-note]').waitFor();
    assert.match(await text('[data-testid=request-form]'), new RegExp(`${env('USER')} of ${org} asks you for OPS-7/vendor-api-key`));
    await page.fill('#request-value', env('REQUEST_VALUE'));
    await shot('64-request-page');
    await page.click('[data-testid=request-form] button[type=submit]');
    await page.locator('#request-out .msg-ok').waitFor({ timeout: 30_000 });
    assert.match(await text('#request-out'), /^Sent\./);
    step = 'outside: the request page works once';
    await page.goto('about:blank');
    await page.goto(ask);
    await page.locator('#request-out .msg-warn').waitFor();
    assert.match(await text('#request-out'), /already been answered/);

    step = 'outside: the owner sees the link used and the request fulfilled';
    await page.goto('/orgs/' + org + '/shared');
    await page.waitForURL((u) => u.pathname === '/login');
    await signIn(org, env('USER'), env('PASSWORD'), '/orgs/' + org + '/shared');
    await page.locator('[data-testid=link-state]', { hasText: 'used up' }).waitFor();
    await page.locator('[data-testid=request-state]', { hasText: 'fulfilled as v1' }).waitFor();
    await shot('65-shared');
  },
  async members() {
    const org = env('ORG');
    step = 'members: the owner invites bob';
    await page.context().clearCookies();
    await page.goto('/orgs/' + org + '/admin/members');
    await page.waitForURL((u) => u.pathname === '/login');
    await signIn(org, env('USER'), env('PASSWORD'), '/orgs/' + org + '/admin/members');
    await page.locator(`tr[data-member="${env('USER')}"]`).waitFor();
    await page.fill('#invite-name', 'bob');
    await page.selectOption('#invite-role', 'member');
    await page.click('#invite-form button[type=submit]');
    await page.locator('#invite-link').waitFor();
    const link = await text('#invite-link');
    assert.match(link, new RegExp(`^${BASE}/invite#coffer_i_`), link);
    await page.locator('tr[data-invitation="bob"]', { hasText: 'pending' }).waitFor();
    await shot('20-members-invited');

    step = 'members: bob opens the link, chooses a password and is signed in';
    await page.context().clearCookies();
    await page.goto(link);
    await page.locator('#accept-form').waitFor();
    await page.fill('#password', 'bobs long passphrase');
    await page.fill('#password-again', 'bobs long passphrase');
    await shot('21-invitation');
    await page.click('#accept-form button[type=submit]');
    await page.waitForURL((u) => u.pathname === '/orgs/' + org);
    assert.match(await text('#who'), new RegExp(`bob · ${org} · member`));
    step = 'members: bob, a member, cannot manage members';
    await page.goto('/orgs/' + org + '/admin/members');
    await page.locator('#members .msg-error').waitFor();
    assert.match(await text('#members'), /member.*cannot list members/);
    step = 'members: the link works once';
    await page.context().clearCookies();
    await page.goto(link);
    await page.fill('#password', 'another long passphrase');
    await page.fill('#password-again', 'another long passphrase');
    await page.click('#accept-form button[type=submit]');
    await page.locator('#accept-result .msg-error').waitFor();
    assert.match(await text('#accept-result'), /already used/);

    step = 'members: the owner makes bob an admin, creates a service account and its token, removes bob';
    await page.goto('/orgs/' + org + '/admin/members');
    await page.waitForURL((u) => u.pathname === '/login');
    await signIn(org, env('USER'), env('PASSWORD'), '/orgs/' + org + '/admin/members');
    const bob = page.locator('tr[data-member="bob"]');
    await bob.waitFor();
    await page.selectOption('#role-person-bob', 'admin');
    await page.locator('#members-status .msg-ok', { hasText: 'bob is now admin' }).waitFor();
    await page.fill('#service-name', 'ci');
    await page.selectOption('#service-role', 'member');
    await page.click('#service-form button[type=submit]');
    const ci = page.locator('tr[data-member="ci"][data-kind="service"]');
    await ci.waitFor();
    await ci.getByRole('button', { name: 'New token' }).click();
    await page.locator('#service-token').waitFor();
    const token = (await text('#service-token')).trim();
    const who = await (await fetch(`${BASE}/api/v1/whoami`, { headers: { Authorization: `Bearer ${token}` } })).json();
    assert.equal(who.kind, 'service', JSON.stringify(who));
    assert.equal(who.org, org);
    await shot('22-members-service-account');
    page.once('dialog', (d) => d.accept());
    await bob.getByRole('button', { name: 'Remove' }).click();
    await page.locator('#members-status .msg-ok', { hasText: 'Removed bob' }).waitFor();
    await page.locator('tr[data-member="bob"]').waitFor({ state: 'detached' });
  },
  async upload_default() {
    step = 'a kv secret that is not a JSON object is refused before anything is sent';
    await page.context().clearCookies();
    await page.goto('/orgs/' + env('ORG') + '/issues/OPS-7');
    await page.waitForURL((u) => u.pathname === '/login');
    await signIn(env('ORG'), env('USER'), env('PASSWORD'), '/orgs/' + env('ORG') + '/issues/OPS-7');
    await page.fill('#name', 'smtp');
    await page.selectOption('#kind', 'kv');
    await page.fill('#value', 'user=deploy');
    await page.click('#add-secret button[type=submit]');
    await page.locator('#add-result .msg-error').waitFor();
    assert.match(await text('#add-result'), /JSON object/);
    assert.equal(await page.locator('tr[data-secret="smtp"]').count(), 0);
    step = 'add a secret sealed in the browser (default storage: PUT to Coffer)';
    const url = await addInBrowser('browser-secret', 'sealed-in-chromium');
    assert.ok(url.startsWith(`${BASE}/api/v1/orgs/${env('ORG')}/uploads/`), url);
    await shot('16-added-in-browser');
  },
  async upload_bucket() {
    step = 'add a secret sealed in the browser (custom bucket: presigned PUT straight to it)';
    const url = await addInBrowser('bucket-secret', 'straight-to-the-bucket');
    assert.ok(url.startsWith(env('MOTO_URL')) && url.includes(env('BUCKET_EU')), url);
    await shot('17-added-to-bucket');
  },

  async core() {
    const org = env('ORG');
    step = 'redirect to sign-in';
    await page.goto('/orgs/' + org + '/issues/OPS-7');
    await page.waitForURL((u) => u.pathname === '/login');
    await shot('01-login');
    step = 'wrong password is refused with the server sentence';
    await signIn(org, env('USER'), 'not the password at all', null);
    await page.waitForSelector('#login-result .msg-error');
    assert.match(await text('#login-result'), /wrong org, user name or password/);
    step = 'sign in';
    await signIn(org, env('USER'), env('PASSWORD'), '/orgs/' + org + '/issues/OPS-7');
    const row = page.locator('tr[data-secret="cli-secret"]');
    await row.waitFor();
    assert.match(await row.innerText(), /password[\s\S]*v2[\s\S]*alice/);
    await shot('02-issue');

    step = 'reveal and copy';
    await row.getByRole('button', { name: 'Reveal', exact: true }).click();
    const value = page.locator('[data-testid=revealed-value]');
    await value.waitFor();
    assert.equal(await value.innerText(), 'from-the-cli-2');
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    await page.getByText('Copied. The clipboard is cleared in 30 seconds.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), 'from-the-cli-2');
    await shot('03-revealed');
    step = 'the value hides and the clipboard clears after 30 s';
    await page.getByText('Hidden again.', { exact: true }).waitFor({ timeout: 40_000 });
    await page.getByText('Clipboard cleared.').waitFor({ timeout: 10_000 });
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), '');
    assert.equal(await value.count(), 0);

    step = 'history and an older version';
    await row.getByRole('button', { name: 'History' }).click();
    await page.locator('table.history').waitFor();
    assert.match(await text('table.history'), /v2[\s\S]*v1/);
    await page.getByRole('button', { name: 'Reveal v1' }).click();
    await page.locator('[data-testid=revealed-value]').waitFor();
    assert.equal(await page.locator('[data-testid=revealed-value]').innerText(), 'from-the-cli-1');
    await shot('04-history');

    step = 'delete and restore';
    await row.getByRole('button', { name: 'Delete' }).click();
    await page.locator('tr[data-secret="cli-secret"]').waitFor({ state: 'detached' });
    await page.check('#show-deleted');
    const gone = page.locator('tr[data-secret="cli-secret"].deleted');
    await gone.waitFor();
    await gone.getByRole('button', { name: 'Restore' }).click();
    await page.locator('tr[data-secret="cli-secret"]:not(.deleted)').waitFor();

    step = 'search across issues and projects';
    await page.fill('#search', 'cli');
    await page.click('form.search button');
    await page.locator('#search-results a', { hasText: 'OPS-7' }).first().waitFor();
    await shot('05-search');

    step = 'a request without the CSRF header is refused';
    const refused = await page.evaluate(async (o) => {
      const r = await fetch(`/api/v1/orgs/${o}/secrets/OPS-7/cli-secret`, { method: 'DELETE' });
      return { status: r.status, body: await r.json() };
    }, org);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'csrf_token_missing');
    await page.evaluate((o) => {
      const f = document.createElement('form');
      f.method = 'post';
      f.action = `/api/v1/orgs/${o}/secrets/OPS-7/cli-secret/destroy`;
      document.body.append(f);
      f.submit();
    }, org);
    await page.waitForURL((u) => u.pathname.endsWith('/destroy'));
    assert.match(await page.locator('body').innerText(), /csrf_token_missing/);
    await shot('06-csrf-refused');
    await page.goto('/orgs/' + org + '/issues/OPS-7');
    await page.locator('tr[data-secret="cli-secret"]:not(.deleted)').waitFor();

    step = 'audit: filters and chain verification';
    await page.goto('/orgs/' + org + '/admin/audit');
    await page.locator('#verify .msg-ok').waitFor();
    assert.match(await text('#verify'), /audit chain intact/);
    await page.fill('#issue', 'ops-7');
    await page.fill('#action', 'secret.reveal');
    await page.click('#audit-filters button');
    // The unfiltered list is already on the page: wait for the filtered one to replace it.
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('table.audit tbody tr')];
      return rows.length >= 2 && rows.every((r) => r.innerText.includes('secret.reveal'));
    });
    const rows = await page.locator('table.audit tbody tr').allInnerTexts();
    assert.ok(rows.length >= 2 && rows.every((r) => /secret\.reveal/.test(r) && /OPS-7/.test(r)), rows.join('\n'));
    await shot('07-audit');

    step = 'keys: setup documents and enabling BYOK';
    await page.goto('/orgs/' + org + '/admin/keys');
    await page.locator('#byok-form').waitFor();
    assert.match(await text('main'), /Trust policy[\s\S]*sts:ExternalId/);
    await page.fill('#role-arn', env('ROLE_ARN'));
    const keys = env('KEY_ARNS').split(',');
    await page.fill('#key-eu-central-1', keys[0]);
    await page.fill('#key-eu-west-1', keys[1]);
    await shot('08-keys-setup');
    await page.click('#byok-form button[type=submit]');
    await page.locator('#key-status').waitFor({ timeout: 30_000 });
    assert.match(await text('#key-status'), /eu-central-1[\s\S]*eu-west-1/);
    await shot('09-keys-byok');

    step = 'a disabled key suspends the org: banner on every page';
    await kms('DisableKey', { KeyId: keys[0] });
    const deadline = Date.now() + 20_000;
    for (;;) {
      await page.goto('/orgs/' + org + '/issues/OPS-7');
      await page.locator('#main table, #main .msg').first().waitFor();
      if (await page.locator('#banner').isVisible()) break;
      assert.ok(Date.now() < deadline, 'the org was not suspended within 20 s of disabling its key');
      await page.waitForTimeout(500);
    }
    assert.match(await text('#banner'), /suspended[\s\S]*Why:[\s\S]*To restore/);
    await page.locator('tr[data-secret="cli-secret"]').getByRole('button', { name: 'Reveal', exact: true }).click();
    await page.locator('.row-out .msg-error').waitFor();
    assert.match(await text('.row-out .msg-error'), /suspended/);
    await shot('10-suspended-banner');
    await page.goto('/orgs/' + org + '/admin/keys');
    await page.locator('#banner').waitFor();
    await shot('11-keys-suspended');
    step = 'the key is enabled again: the banner goes';
    await kms('EnableKey', { KeyId: keys[0] });
    const back = Date.now() + 20_000;
    for (;;) {
      await page.goto('/orgs/' + org + '/admin/keys');
      await page.locator('#key-status').waitFor();
      if (!(await page.locator('#banner').isVisible())) break;
      assert.ok(Date.now() < back, 'the org was not restored within 20 s');
      await page.waitForTimeout(500);
    }

    step = 'sign out, operator BYOK overview';
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((u) => u.pathname === '/login');
    await page.goto('/admin/byok');
    await page.waitForURL((u) => u.pathname === '/login');
    await signIn('', env('OPERATOR'), env('ADMIN_PASSWORD'), '/admin/byok');
    assert.match(await text('#who'), /operator/);
    assert.deepEqual(await page.locator('#nav a').allInnerTexts(), ['BYOK overview'], 'the operator sees no org pages');
    await page.locator('#byok-orgs tbody tr', { hasText: org }).waitFor();
    assert.match(await text('#byok-orgs'), /eu-central-1: enabled/);
    await shot('12-byok-overview');
  },
  async access() {
    const org = env('ORG');
    step = 'access: the owner creates group dba with carol';
    await page.context().clearCookies();
    await page.goto('/orgs/' + org + '/admin/access');
    await page.waitForURL((u) => u.pathname === '/login');
    await signIn(org, env('USER'), env('PASSWORD'), '/orgs/' + org + '/admin/access');
    await page.fill('#group-name', 'dba');
    await page.click('#group-form button[type=submit]');
    const dba = page.locator('tr[data-group="dba"]');
    await dba.waitFor();
    await dba.locator('input').fill('carol');
    await dba.getByRole('button', { name: 'Add' }).click();
    await page.locator('tr[data-group="dba"] .chip', { hasText: 'user:carol' }).waitFor();
    await shot('30-access-groups');

    step = 'access: carol sees no secret yet';
    const asCarol = async () => {
      await page.context().clearCookies();
      await page.goto('/orgs/' + org + '/issues/OPS-7');
      await page.waitForURL((u) => u.pathname === '/login');
      await signIn(org, 'carol', env('PASSWORD'), '/orgs/' + org + '/issues/OPS-7');
      await page.locator('#main table, #main p.muted').first().waitFor();
    };
    await asCarol();
    assert.equal(await page.locator('tr[data-secret]').count(), 0, 'carol sees secrets nobody shared');

    step = 'access: the owner shares cli-secret with dba from its row';
    await page.context().clearCookies();
    await page.goto('/orgs/' + org + '/issues/OPS-7');
    await page.waitForURL((u) => u.pathname === '/login');
    await signIn(org, env('USER'), env('PASSWORD'), '/orgs/' + org + '/issues/OPS-7');
    const row = page.locator('tr[data-secret="cli-secret"]');
    await row.getByRole('button', { name: 'Access' }).click();
    const panel = page.locator('[data-testid=access-panel]');
    await panel.waitFor();
    assert.match(await panel.locator(`tr[data-who="user:${env('USER')}"]`).innerText(), /manage[\s\S]*role owner/);
    await panel.locator('input[name=share-with]').fill('group:dba');
    await panel.locator('select[name=share-level]').selectOption('read');
    await panel.getByRole('button', { name: 'Share', exact: true }).click();
    await page.locator('[data-testid=access-panel] tr[data-who="user:carol"]').waitFor();
    assert.match(await page.locator('[data-testid=access-panel] tr[data-who="user:carol"]').innerText(), /read[\s\S]*share read via group:dba/);
    await shot('31-access-shared');

    step = 'access: carol sees and reveals cli-secret, and nothing else';
    await asCarol();
    await page.locator('tr[data-secret="cli-secret"]').waitFor();
    assert.deepEqual(await page.locator('tr[data-secret]').evaluateAll((rs) => rs.map((r) => r.dataset.secret)), ['cli-secret']);
    await page.locator('tr[data-secret="cli-secret"]').getByRole('button', { name: 'Reveal', exact: true }).click();
    await page.locator('[data-testid=revealed-value]').waitFor();
    assert.equal(await page.locator('[data-testid=revealed-value]').innerText(), 'from-the-cli-2');
    step = 'access: carol may not manage its access';
    await page.locator('tr[data-secret="cli-secret"]').getByRole('button', { name: 'Access' }).click();
    await page.locator('.row-out .msg-error').waitFor();
    assert.match(await text('.row-out .msg-error'), /cannot manage access/);
    await shot('32-access-as-carol');

    step = 'access: the owner adds a restricted secret in the browser; carol does not see it';
    await page.context().clearCookies();
    await page.goto('/orgs/' + org + '/issues/OPS-7');
    await page.waitForURL((u) => u.pathname === '/login');
    await signIn(org, env('USER'), env('PASSWORD'), '/orgs/' + org + '/issues/OPS-7');
    await page.fill('#name', 'root-pw');
    await page.fill('#value', 'only-for-alice');
    await page.check('#restricted');
    await page.click('#add-secret button[type=submit]');
    await page.locator('#add-result .msg-ok').waitFor({ timeout: 30_000 });
    await page.locator('tr[data-secret="root-pw"] .tag', { hasText: 'restricted' }).waitFor();
    await shot('33-access-restricted');
    await asCarol();
    await page.locator('tr[data-secret="cli-secret"]').waitFor();
    assert.equal(await page.locator('tr[data-secret="root-pw"]').count(), 0, 'carol sees a restricted secret');
  },
  async sso() {
    const org = env('ORG');
    const admin = `/orgs/${org}/admin/sso`;
    step = 'sso: a sign-in the server cannot start comes back to the sign-in page with its sentence';
    await page.context().clearCookies();
    await page.goto('/login');
    await page.fill('#org', 'no-such-org');
    await page.click('#sso-login');
    await page.waitForURL((u) => u.pathname === '/login' && u.searchParams.get('sso') === 'failed');
    await page.locator('#login-result .msg-error').waitFor();
    assert.match(await text('#login-result'), /single sign-on is not set up for org `no-such-org`/);
    // The sentence came in a one-minute cookie the page forgets once shown; a link that claims a
    // failure shows only the page's own generic sentence, never words from the URL.
    await page.goto('/login?sso=failed&sso_error=Call%20support%20at%20555');
    await page.locator('#login-result .msg-error').waitFor();
    assert.equal(await text('#login-result'), 'Single sign-on did not complete; try again.');
    await shot('40-sso-error');

    step = 'sso: alice signs in through the provider, a new member of the org';
    await page.context().clearCookies();
    await page.goto('/login');
    await page.fill('#org', org);
    await page.click('#sso-login');
    await atProvider('alice', '41-sso-provider-login');
    await page.waitForURL((u) => u.origin === BASE && u.pathname === `/orgs/${org}`);
    await page.locator('#who a').waitFor();
    assert.match(await text('#who'), new RegExp(`^alice · ${org} · member`));
    await shot('42-sso-signed-in');
    step = 'sso: alice, a member, is refused the settings with the server sentence';
    await page.goto(admin);
    await page.locator('#main .msg-error').waitFor();
    assert.equal(await page.locator('#sso-form').count(), 0, 'a member sees the settings form');

    step = 'sso: the owner sees the settings and the redirect URI';
    await page.context().clearCookies();
    await page.goto(admin);
    await page.waitForURL((u) => u.pathname === '/login');
    await signIn(org, env('OWNER'), env('OWNER_PASSWORD'), admin);
    // The nav is drawn once the session is read: wait for it rather than read it at once.
    await page.locator('#nav a', { hasText: 'Single sign-on' }).waitFor();
    await page.locator('#sso-settings').waitFor();
    const settings = await text('#sso-settings');
    assert.ok(settings.includes(PROVIDER), settings);
    assert.match(settings, /coffer[\s\S]*stored[\s\S]*“groups” claim[\s\S]*created as members[\s\S]*still accepted/);
    assert.equal(await text('#sso-redirect-uri'), `${BASE}/sso/callback`);
    assert.equal(await page.inputValue('#sso-issuer'), PROVIDER);
    assert.equal(await page.inputValue('#sso-groups-claim'), 'groups');
    assert.equal(await page.isChecked('#sso-create-people'), true);
    assert.equal(await page.isChecked('#sso-public'), false);
    assert.equal(await page.isChecked('#sso-require'), false);
    await shot('43-sso-settings');

    step = 'sso: a provider Coffer cannot use is refused with the server sentence, nothing changes';
    await page.fill('#sso-issuer', 'http://127.0.0.1:9');
    await page.click('#sso-form button[type=submit]');
    await page.locator('#sso-result .msg-error').waitFor({ timeout: 30_000 });
    assert.ok((await text('#sso-result')).length > 10, await text('#sso-result'));
    assert.ok((await text('#sso-settings')).includes(PROVIDER));
    await shot('44-sso-refused');

    step = 'sso: the owner links their account at the provider';
    await page.goto('/account');
    await page.click('#sso-link');
    await atProvider(env('OWNER'));
    await page.waitForURL((u) => u.origin === BASE && u.pathname === '/account' && u.searchParams.get('sso') === 'linked');
    await page.locator('#sso-link-section .msg-ok').waitFor();
    assert.equal(await text('#sso-link-section .msg-ok'), "Your account is linked to the org's single sign-on.");
    await shot('45-sso-linked');

    step = 'sso: the owner requires single sign-on (the secret kept), then passwords are refused';
    await page.goto(admin);
    await page.locator('#sso-form').waitFor();
    await page.check('#sso-require');
    page.once('dialog', (d) => d.accept());
    await page.click('#sso-form button[type=submit]');
    await page.locator('#sso-result .msg-ok').waitFor({ timeout: 30_000 });
    assert.equal(await text('#sso-result'), 'Saved and checked against the provider.');
    assert.match(await text('#sso-settings'), /stored[\s\S]*refused/);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((u) => u.pathname === '/login');
    await signIn(org, env('OWNER'), env('OWNER_PASSWORD'), null);
    await page.locator('#login-result .msg-error').waitFor();
    assert.match(await text('#login-result'), /single sign-on/);
    await shot('46-sso-password-refused');

    step = 'sso: the owner signs in with SSO as their linked self';
    await page.context().clearCookies();
    await page.goto('/login');
    await page.fill('#org', org);
    await page.click('#sso-login');
    await atProvider(env('OWNER'));
    await page.waitForURL((u) => u.origin === BASE && u.pathname === `/orgs/${org}`);
    await page.locator('#who a').waitFor();
    assert.match(await text('#who'), new RegExp(`^${env('OWNER')} · ${org} · owner`));

    step = 'sso: the owner removes single sign-on';
    await page.goto(admin);
    await page.locator('#sso-remove').waitFor();
    page.once('dialog', (d) => d.accept());
    await page.click('#sso-remove');
    await page.locator('#sso-result .msg-ok').waitFor();
    assert.match(await text('#sso-now'), /not set up/);
    assert.equal(await text('#sso-redirect-uri'), `${BASE}/sso/callback`);
    assert.ok(await page.locator('#sso-remove').isHidden(), 'Remove is offered with nothing to remove');
    await page.reload();
    await page.locator('#sso-now .msg-warn').waitFor();
    assert.match(await text('#sso-now'), /not set up/);
    assert.equal(await text('#sso-redirect-uri'), `${BASE}/sso/callback`);
    assert.equal(await page.inputValue('#sso-issuer'), '');
    await shot('47-sso-removed');

    // This run's org holds no secrets (the other run's org does), so its storage page is where
    // "nothing to move" shows: no progress bar, no "N of 0 versions".
    step = 'storage: an org without secrets has none to move';
    await page.goto(`/orgs/${org}/admin/storage`);
    await page.locator('#migration-status').waitFor();
    assert.equal(await text('#migration-status'), 'No secrets to move.');
    assert.doesNotMatch(await text('#migration'), /versions in place/);
    assert.equal(await page.locator('#migration progress').count(), 0);
    await shot('48-storage-nothing-to-move');
  },
  async storage() {
    const org = env('ORG');
    step = 'storage: sign in as the org owner';
    await page.context().clearCookies();
    await page.goto('/orgs/' + org + '/admin/storage');
    await page.waitForURL((u) => u.pathname === '/login');
    await signIn(org, env('USER'), env('PASSWORD'), '/orgs/' + org + '/admin/storage');
    step = 'storage: the form, limited to the residency location';
    await page.locator('#storage-form').waitFor();
    assert.equal(await page.isChecked('#custom'), false);
    assert.ok(await page.locator('#bucket-fields').isHidden(), 'bucket fields hidden until the box is checked');
    await page.check('#custom');
    const regions = await page.locator('#region option').allInnerTexts();
    assert.deepEqual(regions, ['eu-central-1', 'eu-west-1']);
    await shot('13-storage-form');

    step = 'storage: a bucket outside the residency location is refused with the fix';
    await page.fill('#bucket', env('BUCKET_US'));
    await page.selectOption('#region', 'eu-central-1');
    await page.click('#storage-form button[type=submit]');
    await page.locator('#storage-result .msg-error').waitFor({ timeout: 30_000 });
    const refusal = await text('#storage-result');
    assert.match(refusal, /us-east-1/);
    assert.match(refusal, /residency/);
    await shot('14-storage-residency-refused');

    step = 'storage: setup documents and the validation sentence';
    await page.fill('#bucket', env('BUCKET_EU'));
    await page.locator('#bucket').dispatchEvent('change');
    await page.locator('#storage-docs h2', { hasText: env('BUCKET_EU') }).waitFor();
    assert.match(await text('#storage-docs'), new RegExp(`arn:aws:s3:::${env('BUCKET_EU')}/\\*`));
    assert.match(await text('#storage-docs'), /CORS configuration/);
    await page.selectOption('#region', 'eu-central-1');
    await page.click('#storage-form button[type=submit]');
    await page.locator('#storage-result .msg-ok').waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('#storage-result .msg-ok').first().innerText(), 'Your custom S3 settings have been saved and validated.');
    assert.match(await text('#storage-result table.checks'), /put[\s\S]*ok[\s\S]*confirm_gone/);
    await page.locator('#migration').waitFor();
    assert.match(await text('#migration-status'), /^\d+ of [1-9]\d* versions in place/);
    assert.match(await text('#storage-now'), new RegExp(`bucket ${env('BUCKET_EU')} in eu-central-1`));
    await shot('15-storage-saved');
  },
};

try {
  for (const name of SCENARIOS) {
    if (!scenarios[name]) throw new Error(`unknown scenario ${name}`);
    await scenarios[name]();
  }
  const csp = problems.filter((p) => /Content Security Policy|Refused to/.test(p));
  assert.deepEqual(csp, [], 'the pages broke their own Content-Security-Policy');
  assert.deepEqual(problems, [], 'the pages logged errors');
  console.log(`browser scenarios passed: ${SCENARIOS.join(', ')}`);
} catch (e) {
  console.error(`FAILED at step "${step}": ${e.stack || e}`);
  await shot('failure').catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
