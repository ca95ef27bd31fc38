// The issue page: the issue's secrets (or a project's own secrets) with what Jira says about the
// person and the issue (in an org linked to Jira), a banner for those that expired or expire
// soon, the search box, the form that adds a secret, and the one that asks someone outside
// Coffer for one (`outside.js`).
// Adding seals the envelope here, in the browser, with the data key from the upload API, and
// sends only the sealed envelope: straight to the org's bucket when the upload URL is
// presigned, to Coffer otherwise. The plaintext never leaves the page.
import { api, putEnvelope, seg } from '../api.js';
import { seal, fromBase64, sha256Hex } from '../envelope.js';
import { h, fill, message, when } from '../ui.js';
import { searchBox } from './home.js';
import { secretRow } from './secret_row.js';
import { requestForm } from './outside.js';

const ISSUE = /^[A-Z][A-Z0-9_]{1,9}-[1-9][0-9]{0,8}$/;

// The server never sees a browser-sealed value, so the shape of a `kv` secret (what `coffer run`
// exports as variables) is checked here, as the CLI checks it before sending.
function checkKv(text) {
  let v;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`a kv secret must be a JSON object like {"user": "deploy"}; this is not JSON (${e.message})`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw new Error('a kv secret must be a JSON object of string values, like {"user": "deploy", "pass": "s3cret"}');
  }
}

async function addSecret(org, scope, form) {
  const f = (n) => form.elements.namedItem(n);
  const name = f('name').value.trim();
  const kind = f('kind').value;
  if (kind === 'kv') checkKv(f('value').value);
  const plaintext = new TextEncoder().encode(f('value').value);
  const req = { kind, size: plaintext.length };
  if (f('expires').value) req.expires_at = new Date(f('expires').value).toISOString();
  if (f('views').value) req.view_limit = Number(f('views').value);
  if (f('restricted').checked) req.restricted = true;
  const grant = await api('POST', `/orgs/${seg(org)}/secrets/${seg(scope)}/${seg(name)}/uploads`, req);
  const dataKey = fromBase64(grant.data_key);
  let envelope;
  try {
    envelope = await seal({
      orgId: grant.org_id,
      secretId: grant.secret_id,
      version: grant.version,
      keyVersion: grant.key_version,
      dataKey,
      wrappedKey: fromBase64(grant.wrapped_key),
      plaintext,
    });
  } finally {
    dataKey.fill(0);
    plaintext.fill(0);
  }
  await putEnvelope(grant.put_url, envelope, grant.presigned);
  const sha256 = await sha256Hex(envelope);
  return api('POST', `/orgs/${seg(org)}/uploads/${seg(grant.id)}/commit`, { sha256 });
}

const DAY_MS = 24 * 60 * 60 * 1000;

// The secrets of this page that have expired or expire within the deployment's reminder window
// (`expiry_warning_days`, the window in which webhooks announce `secret.expiring`), as one
// warning banner; none when there are none.
function expiryBanner(secrets, days) {
  const now = Date.now();
  const windowMs = (days || 7) * DAY_MS;
  const live = secrets.filter((s) => s.expires_at && s.state === 'active');
  const expired = live.filter((s) => new Date(s.expires_at).getTime() <= now);
  const soon = live.filter((s) => {
    const left = new Date(s.expires_at).getTime() - now;
    return left > 0 && left <= windowMs;
  });
  if (!expired.length && !soon.length) return null;
  const names = (list) => list.map((s) => `${s.name} (${when(s.expires_at)})`).join(', ');
  return h('div', { class: 'msg msg-warn', role: 'status', id: 'expiry-banner' },
    expired.length ? h('div', {}, h('strong', {}, 'Expired: '), names(expired), '. Write a new version with a later expiry, or delete it.') : null,
    soon.length ? h('div', {}, h('strong', {}, `Expires within ${days || 7} days: `), names(soon), '.') : null);
}

function addForm(org, scope, refresh) {
  const out = h('div', { id: 'add-result' });
  const form = h('form', { class: 'card', id: 'add-secret' },
    h('h2', {}, 'Add a secret'),
    h('div', { class: 'grid' },
      h('label', { for: 'name' }, 'Name'), h('input', { id: 'name', name: 'name', required: true, placeholder: 'db-password', autocomplete: 'off' }),
      h('label', { for: 'kind' }, 'Kind'), h('select', { id: 'kind', name: 'kind' }, ['password', 'note', 'kv'].map((k) => h('option', { value: k }, k))),
      h('label', { for: 'value' }, 'Value'), h('textarea', { id: 'value', name: 'value', rows: 2, required: true, autocomplete: 'off', spellcheck: 'false' }),
      h('label', { for: 'expires' }, 'Expires (optional)'), h('input', { id: 'expires', name: 'expires', type: 'datetime-local' }),
      h('label', { for: 'views' }, 'View limit (optional)'), h('input', { id: 'views', name: 'views', type: 'number', min: 1 }),
      h('span', {}), h('label', { for: 'restricted', class: 'inline' }, h('input', { id: 'restricted', name: 'restricted', type: 'checkbox' }),
        ' Restricted: only the people you share it with see it, not admins or grants (you manage it)')),
    h('p', { class: 'muted small' }, 'The value is encrypted in this browser before it is sent; Coffer and the storage only ever see the sealed envelope. Writing an existing name adds a new version.'),
    h('button', { type: 'submit' }, 'Encrypt and save'), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    fill(out, h('span', { class: 'muted' }, 'Encrypting and uploading…'));
    try {
      const s = await addSecret(org, scope, form);
      form.elements.namedItem('value').value = '';
      fill(out, message('ok', `Saved ${s.name} as version ${s.version}.`));
      await refresh();
    } catch (e) {
      fill(out, message('error', e.message));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

// What Jira says about the signed-in person and this issue, in an org linked to Jira: why they
// see its secrets, or why not. Nothing when the org is not linked (or the question fails: the
// list below says what the server refused).
async function jiraNotice(org, scope) {
  let access;
  try {
    access = await api('GET', `/orgs/${seg(org)}/jira/access/${seg(scope)}`);
  } catch {
    return null;
  }
  if (!access || access.jira === 'not_linked') return null;
  return h('div', {
    class: `msg small ${access.admitted ? 'msg-ok' : 'msg-warn'}`,
    role: 'status',
    id: 'jira-access',
    'data-admitted': String(access.admitted),
  }, h('strong', {}, 'Jira: '), access.message,
  access.jira === 'no_account' ? [' ', h('a', { href: `/orgs/${seg(org)}/jira` }, 'Link your Jira account')] : null);
}

export async function render(main, { params }) {
  const [org, raw] = params;
  const scope = raw.toUpperCase();
  const jira = h('div');
  const table = h('tbody', { id: 'secrets' });
  const status = h('div');
  const expiry = h('div');
  const showDeleted = h('input', { type: 'checkbox', id: 'show-deleted' });
  const refresh = async () => {
    try {
      const filter = ISSUE.test(scope) ? `issue=${seg(scope)}` : `project=${seg(scope)}`;
      const { secrets, expiry_warning_days: days } = await api('GET', `/orgs/${seg(org)}/secrets?${filter}&deleted=${showDeleted.checked}`);
      const mine = secrets.filter((s) => s.scope === scope);
      fill(expiry, expiryBanner(mine, days));
      fill(status, mine.length ? null : message('warn', `No secrets on ${scope} that you can see. Add one below.`));
      fill(table, mine.map((s) => secretRow(org, s, refresh)));
    } catch (e) {
      fill(status, message('error', e.message));
    }
  };
  showDeleted.addEventListener('change', refresh);
  fill(main,
    h('h1', {}, `${scope}`, h('span', { class: 'muted' }, ` · ${org}`)),
    jira,
    searchBox(org),
    expiry,
    h('div', { class: 'toolbar' }, h('label', { for: 'show-deleted', class: 'inline' }, showDeleted, ' Show deleted secrets')),
    status,
    h('table', { class: 'secrets' },
      h('thead', {}, h('tr', {}, ['Name', 'Kind', 'Version', 'Changed', 'Expires', 'Views left', ''].map((t) => h('th', {}, t)))),
      table),
    addForm(org, scope, refresh),
    requestForm(org, scope));
  await Promise.all([refresh(), jiraNotice(org, scope).then((n) => fill(jira, n))]);
}
