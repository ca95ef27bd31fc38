// The Configure page (jira:adminPage, useAsConfig): which Coffer this Jira site talks to, the
// connection and BYOK status Coffer reports, and the seed's storage form ("Store encrypted
// secrets in a custom S3 bucket", bucket, region, Save), all answered by Coffer through
// invokeRemote. No secret value or key passes through this page.
import { permissions } from '@forge/bridge';
import { callCoffer, REMOTE_KEY } from './coffer.js';
import { h, fill, message } from './dom.js';
import './style.css';

const PATHS = {
  admin: '/integrations/forge/admin',
  storage: '/integrations/forge/admin/storage',
};

const root = document.getElementById('app');

// ---- Which Coffer (the customer-managed remote) ---------------------------------------------

async function currentRemote() {
  const res = await permissions.remote.get({ keys: [REMOTE_KEY] });
  const mine = (res?.results ?? []).find((r) => r.key === REMOTE_KEY);
  return mine?.configured?.endpoint ?? null;
}

function remoteSection(onChange) {
  const current = h('p', { 'data-testid': 'remote-current' }, 'Reading the Coffer address…');
  const url = h('input', { id: 'remote-url', type: 'url', placeholder: 'https://coffer.example.com', autocomplete: 'off', 'data-testid': 'remote-url' });
  const save = h('button', { type: 'submit', 'data-testid': 'remote-save' }, 'Connect');
  const result = h('div', { 'data-testid': 'remote-result' });
  const show = async () => {
    try {
      const endpoint = await currentRemote();
      fill(current, endpoint ? ['This site talks to the Coffer at ', h('code', {}, endpoint), '.'] : 'No Coffer address is set for this site yet.');
      if (endpoint && !url.value) url.value = endpoint;
    } catch (e) {
      fill(current, `The Coffer address could not be read here (${e?.message ?? e}); it is also shown in Atlassian Administration → Connected apps → Coffer → Data management.`);
    }
  };
  const form = h('form', { class: 'card', 'data-testid': 'remote-form' },
    h('h2', {}, 'Coffer server'),
    current,
    h('div', { class: 'grid' }, h('label', { for: 'remote-url' }, 'Coffer URL'), url),
    h('p', { class: 'muted small' }, 'Jira asks you to confirm the address. Issue panels then call this Coffer, and secret values travel only between the browser and it.'),
    save, result);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let endpoint;
    try {
      const u = new URL(url.value.trim());
      if (u.protocol !== 'https:') throw new Error('not https');
      endpoint = u.origin + u.pathname.replace(/\/+$/, '');
    } catch {
      fill(result, message('error', 'Enter the HTTPS address of your Coffer, like https://coffer.example.com.'));
      return;
    }
    save.disabled = true;
    fill(result, h('span', { class: 'muted' }, 'Waiting for your confirmation…'));
    try {
      await permissions.remote.set({ remotes: [{ key: REMOTE_KEY, configured: { endpoint } }] });
      fill(result, message('ok', `Saved: this site now talks to ${endpoint}.`));
      await show();
      await onChange();
    } catch (e) {
      fill(result, message('error', `The address was not saved (${e?.message ?? e}).`));
    } finally {
      save.disabled = false;
    }
  });
  show();
  return form;
}

// ---- What Coffer says ------------------------------------------------------------------------

const yesNo = (b) => (b ? 'yes' : 'no');

function statusSection(admin) {
  const byok = admin.byok ?? {};
  return h('div', { class: 'card', 'data-testid': 'admin-status' },
    h('h2', {}, 'Connection'),
    h('dl', { class: 'grid' },
      h('dt', {}, 'Coffer org'), h('dd', { 'data-testid': 'status-org' }, admin.org ?? '—'),
      h('dt', {}, 'Org linked to this Jira site'), h('dd', { 'data-testid': 'status-jira-linked', 'data-value': String(Boolean(admin.jira_linked)) }, yesNo(admin.jira_linked)),
      h('dt', {}, 'This Forge app connected to the org'), h('dd', { 'data-testid': 'status-forge-linked', 'data-value': String(Boolean(admin.forge_linked)) }, yesNo(admin.forge_linked)),
      h('dt', {}, 'Customer-managed key (BYOK)'), h('dd', { 'data-testid': 'status-byok', 'data-value': String(Boolean(byok.enabled)) },
        byok.enabled ? `enabled${byok.status ? ` (${byok.status})` : ''}` : `not enabled${byok.status ? ` (${byok.status})` : ''}`)));
}

function storageSection(admin) {
  const storage = admin.storage ?? {};
  const regions = Array.isArray(admin.regions) ? [...admin.regions] : [];
  if (storage.region && !regions.includes(storage.region)) regions.unshift(storage.region);
  const custom = h('input', { type: 'checkbox', id: 'storage-custom', checked: Boolean(storage.custom), 'data-testid': 'storage-custom' });
  const bucket = h('input', { id: 'storage-bucket', name: 'bucket', value: storage.bucket ?? '', placeholder: 'my-team-secrets', autocomplete: 'off', 'data-testid': 'storage-bucket' });
  const region = h('select', { id: 'storage-region', name: 'region', 'data-testid': 'storage-region' },
    regions.map((r) => h('option', { value: r, selected: r === storage.region }, r)));
  const fields = h('div', { class: 'grid', 'data-testid': 'storage-fields' },
    h('label', { for: 'storage-bucket' }, 'Bucket name'), bucket,
    h('label', { for: 'storage-region' }, 'Region'), region);
  const showFields = () => { fields.hidden = !custom.checked; };
  custom.addEventListener('change', showFields);
  showFields();
  const save = h('button', { type: 'submit', 'data-testid': 'storage-save' }, 'Save');
  const result = h('div', { 'data-testid': 'storage-result' });
  const form = h('form', { class: 'card', 'data-testid': 'storage-form' },
    h('h2', {}, 'Storage'),
    h('label', { for: 'storage-custom', class: 'inline' }, custom, ' Store encrypted secrets in a custom S3 bucket'),
    fields,
    h('p', { class: 'muted small' }, 'Coffer checks that it can use the bucket before saving; the bucket policy and CORS settings to apply are on Coffer’s Admin → Storage page.'),
    save, result);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { custom: custom.checked, bucket: bucket.value.trim(), region: region.value };
    if (body.custom && !body.bucket) {
      fill(result, message('error', 'Enter the bucket name.'));
      return;
    }
    if (body.custom && !body.region) {
      fill(result, message('error', 'Choose the bucket’s region.'));
      return;
    }
    save.disabled = true;
    fill(result, h('span', { class: 'muted' }, 'Saving and validating…'));
    try {
      const res = await callCoffer(PATHS.storage, body);
      if (res.ok === false) throw new Error(res.message || 'Coffer did not save the settings.');
      fill(result, message('ok', res.message || 'Saved.'));
    } catch (e) {
      fill(result, message('error', e.message));
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

// ---- Page -----------------------------------------------------------------------------------

async function main() {
  const status = h('div');
  const storage = h('div');
  const load = async () => {
    fill(status, h('p', { class: 'muted', 'data-testid': 'admin-loading' }, 'Asking Coffer…'));
    let admin;
    try {
      admin = await callCoffer(PATHS.admin, {}, ['storage']);
    } catch (e) {
      fill(status, message('error', e.message, { 'data-testid': 'admin-message' }));
      fill(storage);
      return;
    }
    fill(status, statusSection(admin));
    fill(storage, storageSection(admin));
  };
  fill(root, h('h1', {}, 'Coffer'), remoteSection(load), status, storage);
  await load();
}

main().catch((e) => {
  fill(root, message('error', `The page could not start: ${e.message}`, { 'data-testid': 'admin-message' }));
});
