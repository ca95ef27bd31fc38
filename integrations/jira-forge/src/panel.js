// The issue panel (and issue glance): the issue's secrets from the customer's Coffer, Reveal,
// and "Add secret".
//
// * The list comes from POST /integrations/forge/panel through invokeRemote: Coffer takes the
//   issue from the signed Forge invocation token, never from this page, and checks the user's
//   Jira permission on it with the user's token that Forge adds.
// * Reveal: a one-time ticket through invokeRemote, then the value straight from Coffer with
//   requestRemote, so the plaintext never crosses Atlassian's proxy.
// * Add: a one-time write ticket through invokeRemote; the upload grant (with the data key), the
//   sealed envelope and the commit go with requestRemote. The envelope is sealed here with the
//   web UI's own WebCrypto code (crates/server/web/js/envelope.js, bundled from that very file),
//   as the web UI's issue page does: the plaintext never leaves the browser.
import { view, router } from '@forge/bridge';
import { seal, sha256Hex, fromBase64 } from '../../../crates/server/web/js/envelope.js';
import { callCoffer, requestCoffer, remotePath, CofferError } from './coffer.js';
import { h, fill, message, when } from './dom.js';
import './style.css';

const PATHS = {
  panel: '/integrations/forge/panel',
  tickets: '/integrations/forge/tickets',
  reveal: '/integrations/forge/reveal',
  uploads: '/integrations/forge/uploads',
};
const KINDS = ['password', 'note', 'kv'];
// A revealed value is hidden again after this long.
const REVEAL_MS = 60_000;
// Coffer's secret names (crates/server/src/domain/names.rs).
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const root = document.getElementById('app');
const hideTimers = new Map();

// The server never sees a browser-sealed value, so the shape of a `kv` secret is checked here,
// as the web UI and the CLI do before sending.
function checkKv(text) {
  let v;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CofferError(`A kv secret must be a JSON object like {"user": "deploy"}; this is not JSON (${e.message}).`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw new CofferError('A kv secret must be a JSON object of string values, like {"user": "deploy", "pass": "s3cret"}.');
  }
}

async function openLink(url) {
  try {
    await router.open(url);
  } catch {
    window.open(url, '_blank', 'noopener');
  }
}

// ---- Reveal ---------------------------------------------------------------------------------

async function reveal(secret) {
  const { ticket } = await callCoffer(PATHS.tickets, { purpose: 'reveal', name: secret.name, version: secret.version }, ['ticket']);
  const out = await requestCoffer(PATHS.reveal, { headers: { 'X-Coffer-Ticket': ticket }, body: {} });
  if (typeof out.value !== 'string') throw new CofferError('Coffer’s answer had no value.', { code: 'bad_answer' });
  const bytes = fromBase64(out.value);
  try {
    return { text: new TextDecoder().decode(bytes), version: out.version ?? secret.version, kind: out.kind ?? secret.kind };
  } finally {
    bytes.fill(0);
  }
}

async function copy(text, status) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // The Custom UI iframe may not be allowed the async clipboard: copy through a selection.
    const area = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true' });
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.value = '';
    area.remove();
    if (!ok) throw new Error('the browser refused to copy; select the value and copy it by hand');
  }
  status.textContent = 'Copied.';
}

function secretRows(secret) {
  const name = secret.name;
  const value = h('pre', { class: 'value', 'data-testid': `value-${name}` });
  const status = h('span', { class: 'muted small', 'data-testid': `status-${name}`, role: 'status' });
  const hideValue = () => {
    clearTimeout(hideTimers.get(name));
    hideTimers.delete(name);
    value.textContent = '';
    valueRow.hidden = true;
    revealButton.hidden = false;
    revealButton.disabled = false;
  };
  const copyButton = h('button', {
    type: 'button',
    class: 'secondary',
    'data-testid': `copy-${name}`,
    onclick: () => copy(value.textContent, status).catch((e) => { status.textContent = `Not copied: ${e.message}`; }),
  }, 'Copy');
  const hideButton = h('button', { type: 'button', class: 'secondary', 'data-testid': `hide-${name}`, onclick: hideValue }, 'Hide');
  const valueRow = h('tr', { class: 'value-row', 'data-testid': `value-row-${name}`, hidden: true },
    h('td', { colspan: 5 }, value, h('div', { class: 'actions' }, copyButton, hideButton, status)));
  const error = h('div', { 'data-testid': `error-${name}` });
  const revealButton = h('button', {
    type: 'button',
    'data-testid': `reveal-${name}`,
    onclick: async () => {
      revealButton.disabled = true;
      fill(error);
      status.textContent = '';
      try {
        const v = await reveal(secret);
        value.textContent = v.text;
        valueRow.hidden = false;
        revealButton.hidden = true;
        clearTimeout(hideTimers.get(name));
        hideTimers.set(name, setTimeout(hideValue, REVEAL_MS));
      } catch (e) {
        fill(error, message('error', e.message));
        revealButton.disabled = false;
      }
    },
  }, 'Reveal');
  const updated = [when(secret.updated_at), secret.updated_by ? ` by ${secret.updated_by}` : ''].join('');
  const row = h('tr', { 'data-testid': 'secret-row', 'data-name': name },
    h('td', { 'data-testid': 'secret-name' }, h('code', {}, name),
      secret.restricted ? h('span', { class: 'badge', title: 'Only the people it is shared with see it' }, 'restricted') : null),
    h('td', { 'data-testid': 'secret-kind' }, secret.kind),
    h('td', { 'data-testid': 'secret-version' }, `v${secret.version}`),
    h('td', { 'data-testid': 'secret-updated', class: 'small' }, updated),
    h('td', { class: 'actions' }, revealButton, error));
  return [row, valueRow];
}

// ---- Add ------------------------------------------------------------------------------------

function checkGrant(g) {
  const missing = ['id', 'org_id', 'secret_id', 'version', 'key_version', 'data_key', 'wrapped_key', 'put_url'].filter((k) => g?.[k] === undefined);
  if (missing.length) throw new CofferError(`Coffer’s upload grant lacks ${missing.join(', ')}.`, { code: 'bad_answer' });
  if (g.presigned) {
    throw new CofferError('Coffer asked for an upload straight to the bucket, which Jira cannot do; Coffer must accept the envelope itself for Forge uploads.', { code: 'bad_answer' });
  }
}

/**
 * Seals and uploads a new version of `name`. The envelope travels as multipart/form-data with
 * one part, `file`: requestRemote passes a body through the bridge as text and would mangle
 * raw bytes; only FormData file fields (whose names must start with `file`) keep them intact.
 */
async function addSecret({ name, kind, value }) {
  if (kind === 'kv') checkKv(value);
  const plaintext = new TextEncoder().encode(value);
  let grant;
  let envelope;
  try {
    const { ticket } = await callCoffer(PATHS.tickets, { purpose: 'write', name }, ['ticket']);
    grant = await requestCoffer(PATHS.uploads, { headers: { 'X-Coffer-Ticket': ticket }, body: { kind, size: plaintext.length } });
    checkGrant(grant);
    const dataKey = fromBase64(grant.data_key);
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
    }
  } finally {
    plaintext.fill(0);
  }
  const form = new FormData();
  form.append('file', new Blob([envelope], { type: 'application/octet-stream' }), 'envelope');
  await requestCoffer(remotePath(grant.put_url), { method: 'PUT', body: form });
  const sha256 = await sha256Hex(envelope);
  return requestCoffer(`${PATHS.uploads}/${encodeURIComponent(grant.id)}/commit`, { body: { sha256 } });
}

function addForm(refresh) {
  const result = h('div', { 'data-testid': 'add-result' });
  const name = h('input', { id: 'add-name', name: 'name', required: true, maxlength: 128, autocomplete: 'off', placeholder: 'db-password', 'data-testid': 'add-name' });
  const kind = h('select', { id: 'add-kind', name: 'kind', 'data-testid': 'add-kind' }, KINDS.map((k) => h('option', { value: k }, k)));
  const value = h('textarea', { id: 'add-value', name: 'value', rows: 3, required: true, autocomplete: 'off', spellcheck: 'false', 'data-testid': 'add-value' });
  const submit = h('button', { type: 'submit', 'data-testid': 'add-submit' }, 'Encrypt and save');
  const form = h('form', { class: 'card', 'data-testid': 'add-form' },
    h('h2', {}, 'Add secret'),
    h('div', { class: 'grid' },
      h('label', { for: 'add-name' }, 'Name'), name,
      h('label', { for: 'add-kind' }, 'Kind'), kind,
      h('label', { for: 'add-value' }, 'Value'), value),
    h('p', { class: 'muted small' }, 'The value is encrypted in this browser and sent only to your Coffer, never through Atlassian. Saving an existing name adds a new version.'),
    submit, result);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const n = name.value.trim();
    if (!NAME.test(n)) {
      fill(result, message('error', 'A name is 1–128 letters, digits, dots, dashes or underscores, starting with a letter or digit.'));
      return;
    }
    if (!value.value) {
      fill(result, message('error', 'Enter the value to store.'));
      return;
    }
    submit.disabled = true;
    fill(result, h('span', { class: 'muted' }, 'Encrypting and uploading…'));
    try {
      const saved = await addSecret({ name: n, kind: kind.value, value: value.value });
      value.value = '';
      fill(result, message('ok', `Saved ${saved?.name ?? n} as version ${saved?.version ?? '?'}.`));
      await refresh();
    } catch (e) {
      fill(result, message('error', e.message));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// ---- Page -----------------------------------------------------------------------------------

async function main() {
  let context = null;
  try {
    // For display only: Coffer takes the issue from the signed invocation token.
    context = await view.getContext();
  } catch {
    context = null;
  }
  const title = h('h1', { 'data-testid': 'panel-title' }, 'Secrets');
  const notice = h('div');
  const list = h('div');
  const add = h('div');
  fill(root, title, notice, list, add);
  let formShown = false;

  const refresh = async () => {
    let data;
    try {
      data = await callCoffer(PATHS.panel, {}, ['secrets']);
    } catch (e) {
      fill(notice, message('error', e.message, { 'data-testid': 'panel-message' }));
      fill(list);
      return;
    }
    const issue = data.issue ?? context?.extension?.issue?.key;
    fill(title, 'Secrets', issue ? h('span', { class: 'muted' }, ` · ${issue}`) : null, data.org ? h('span', { class: 'muted small' }, ` · Coffer org ${data.org}`) : null);
    const link = data.account_linked === false && data.link_url
      ? h('button', { type: 'button', class: 'link', 'data-testid': 'link-account', onclick: () => openLink(data.link_url) }, 'Link your Jira account in Coffer')
      : null;
    fill(notice, data.message || link
      ? h('div', { class: 'msg msg-warn', role: 'status', 'data-testid': 'panel-message' }, data.message || 'Link your Jira account in Coffer to see this issue’s secrets.', link ? [' ', link] : null)
      : null);
    for (const t of hideTimers.values()) clearTimeout(t);
    hideTimers.clear();
    const secrets = Array.isArray(data.secrets) ? data.secrets : [];
    fill(list, secrets.length
      ? h('table', { class: 'secrets', 'data-testid': 'secret-list' },
        h('thead', {}, h('tr', {}, ['Name', 'Kind', 'Version', 'Updated', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, secrets.map(secretRows)))
      : data.message ? null : h('p', { class: 'muted', 'data-testid': 'panel-empty' }, 'No secrets on this issue yet.'));
    if (data.can_write && !formShown) {
      fill(add, addForm(refresh));
      formShown = true;
    } else if (!data.can_write) {
      fill(add);
      formShown = false;
    }
  };
  await refresh();
}

main().catch((e) => {
  fill(root, message('error', `The panel could not start: ${e.message}`, { 'data-testid': 'panel-message' }));
});
