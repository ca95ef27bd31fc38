// Admin → Encryption keys: the org's key provider and, with BYOK, each region's key, its state
// and last probe; "Check now"; the setup documents to apply in AWS; and the form that switches
// the org to its own keys (irreversible, so it says so).
import { api, seg } from '../api.js';
import { h, fill, message, when, documentBlock } from '../ui.js';

function statusTable(keys) {
  return h('table', { id: 'key-status' },
    h('thead', {}, h('tr', {}, ['Region', 'Key ARN', 'State', 'Last probe', 'Problem'].map((t) => h('th', {}, t)))),
    h('tbody', {}, keys.map((k) => h('tr', { class: k.last_probe && !k.last_probe.ok ? 'bad' : null },
      h('td', {}, k.region), h('td', {}, h('code', {}, k.key_arn)),
      h('td', {}, k.last_probe ? k.last_probe.state : 'not probed yet'),
      h('td', {}, k.last_probe ? when(k.last_probe.at) : '—'),
      h('td', {}, k.last_probe?.problem ?? '')))));
}

function enableForm(base, setup, out, reload) {
  const role = h('input', { id: 'role-arn', name: 'role_arn', required: true, placeholder: `arn:aws:iam::123456789012:role/${setup.suggested_role_name}` });
  const keyInputs = setup.regions.map((r) => [r, h('input', { id: `key-${r}`, name: `key-${r}`, required: true, placeholder: `arn:aws:kms:${r}:123456789012:key/…` })]);
  const button = h('button', { type: 'submit' }, 'Enable BYOK');
  return h('form', {
    class: 'card',
    id: 'byok-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      button.disabled = true;
      fill(out, h('span', { class: 'muted' }, 'Checking the role and every key…'));
      try {
        await api('PUT', base, { provider: 'aws-kms', role_arn: role.value.trim(), keys: keyInputs.map(([region, i]) => ({ region, key_arn: i.value.trim() })) });
        fill(out, message('ok', 'BYOK is enabled: the org key is now wrapped by your KMS keys.'));
        await reload();
      } catch (e) {
        fill(out, message('error', e.message));
      } finally {
        button.disabled = false;
      }
    },
  },
  h('h2', {}, 'Use your own AWS KMS keys (BYOK)'),
  h('p', { class: 'muted small' }, 'This cannot be undone: once on BYOK the org stays on BYOK, in this location. Revoking the keys suspends the org.'),
  h('div', { class: 'grid' }, h('label', { for: 'role-arn' }, 'IAM role ARN'), role,
    keyInputs.flatMap(([r, i]) => [h('label', { for: `key-${r}` }, `KMS key in ${r}`), i])),
  button);
}

export async function render(main, { org }) {
  const base = `/orgs/${seg(org)}/keys`;
  const out = h('div', { id: 'keys-result' });
  const reload = async () => render(main, { org });
  let keys;
  try {
    keys = await api('GET', base);
  } catch (e) {
    fill(main, h('h1', {}, 'Encryption keys'), message('error', e.message));
    return;
  }
  const check = h('button', {
    type: 'button',
    id: 'check-keys',
    onclick: async () => {
      try {
        await api('POST', `${base}/check`);
        await reload();
      } catch (e) {
        fill(out, message('error', e.message));
      }
    },
  }, 'Check keys now');
  const byok = keys.provider === 'aws-kms';
  const parts = [
    h('h1', {}, 'Encryption keys'),
    keys.status === 'suspended' ? message('error', `Suspended: ${keys.suspended_reason ?? 'no reason recorded'}`) : message('ok', 'The org is active.'),
    h('p', {}, byok
      ? `Root keys: your AWS KMS keys (BYOK since ${when(keys.byok_since)}), role ${keys.role_arn}. Location: ${keys.location}.`
      : `Root keys: Coffer’s own (${keys.provider}). Location: ${keys.location}.`),
    byok ? statusTable(keys.keys) : null,
    byok ? check : null,
    out,
  ];
  if (keys.kms_calls?.length) {
    parts.push(h('details', {}, h('summary', {}, 'KMS calls made'),
      h('ul', {}, keys.kms_calls.map((c) => h('li', {}, `${c.operation} ${c.outcome}: ${c.count}`)))));
  }
  fill(main, parts);
  if (byok) return;
  try {
    const setup = await api('GET', `${base}/setup`);
    main.append(
      h('h2', {}, 'Set up BYOK'),
      h('ol', {}, setup.instructions.map((i) => h('li', {}, i))),
      h('p', {}, 'External id for the role’s trust policy: ', h('code', { id: 'external-id' }, setup.external_id)),
      documentBlock('Trust policy', setup.trust_policy),
      documentBlock('Key policy statements', setup.key_policy_statements),
      documentBlock('CloudFormation template', setup.cloudformation_template),
      enableForm(base, setup, out, reload));
  } catch (e) {
    main.append(message('warn', e.message));
  }
}
