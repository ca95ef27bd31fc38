// Admin → Jira (`/orgs/{org}/admin/jira`; docs/jira.md): the org's link to a Jira site. Owners
// connect it, change it and disconnect it; admins see it, check it and look for orphans (issues
// that hold secrets but that Jira no longer shows). Connecting has the server ask the site first;
// the first connect (or a rotation) answers the webhook secret, shown here once, to paste into
// Jira's webhook with the webhook URL.
import { api, seg } from '../api.js';
import { h, fill, message, when, showError, copyButton } from '../ui.js';

const KINDS = [['cloud', 'Jira Cloud'], ['data-center', 'Jira Data Center']];
const kindName = (k) => (KINDS.find(([v]) => v === k) ?? [k, k])[1];
const ORPHAN_PAGE = 50;

/** The link as it is now, or that there is none. */
function summary(s, org) {
  if (!s) return message('warn', `${org} is not linked to Jira: Coffer’s own access decides who sees which secrets.`);
  const row = (k, v) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v));
  return h('table', { id: 'jira-settings' }, h('tbody', {},
    row('Site', h('code', {}, s.site)),
    row('Kind', kindName(s.kind)),
    s.cloud_id ? row('Cloud id', h('code', {}, s.cloud_id)) : null,
    row('Client id', h('code', {}, s.client_id)),
    row('Client secret', 'stored (never shown)'),
    row('Webhook URL', h('span', {}, h('code', { id: 'jira-webhook-url' }, s.webhook_url), ' ', copyButton('Copy', () => s.webhook_url))),
    row('Redirect URI', h('span', {}, h('code', { id: 'jira-redirect-uri' }, s.redirect_uri), ' ', copyButton('Copy', () => s.redirect_uri))),
    row('Linked accounts', String(s.linked_accounts)),
    row('Secret names on issues', s.expose_names ? 'shown: the links Coffer puts on issues name their secrets' : 'hidden: the links on issues give only the number of secrets'),
    row('Retention', `${s.retention_days} day${s.retention_days === 1 ? '' : 's'}: the secrets of an issue Jira deleted stay restorable that long, then are destroyed`),
    row('Last change', `${when(s.updated_at)} by ${s.updated_by}`)));
}

/** The webhook secret of a connect, shown once, with a copy button. */
function webhookSecretBox(secret, webhookUrl) {
  return h('div', { class: 'msg msg-warn', role: 'status', id: 'jira-webhook-secret' },
    h('h3', {}, 'Webhook secret: shown once'),
    h('p', {}, h('code', { class: 'value', 'data-testid': 'jira-webhook-secret' }, secret), ' ', copyButton('Copy', () => secret)),
    h('p', { class: 'small' },
      'In Jira, add a webhook (System → WebHooks) with the URL ', h('code', {}, webhookUrl),
      ' and paste this secret into its “Secret” field. It is not shown again: if it is lost, connect again with “Make a new webhook secret”.'));
}

function steps(check) {
  return h('div', { id: 'jira-check-steps' },
    message(check.ok ? 'ok' : 'error', check.ok ? 'Every step passed.' : 'A step failed: see below.'),
    h('table', { class: 'checks' },
      h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'Step'), h('th', {}, 'Detail'))),
      h('tbody', {}, check.steps.map((s) => h('tr', { class: s.ok ? 'outcome-ok' : 'outcome-failed' },
        h('td', { 'aria-label': s.ok ? 'passed' : 'failed' }, s.ok ? '✓' : '✗'), h('td', {}, s.step), h('td', {}, s.detail))))));
}

export async function render(main, { org, session }) {
  const base = `/orgs/${seg(org)}/jira`;
  const mine = session.org === org;
  const owner = mine && session.role === 'owner';
  const admin = mine && (owner || session.role === 'admin');
  let current = null;
  try {
    current = await api('GET', base);
  } catch (e) {
    // 404 in one's own org: not linked (elsewhere a 404 is the org itself, said as it is).
    if (!(e.status === 404 && mine)) {
      fill(main, h('h1', {}, 'Jira'), message('error', e.message));
      return;
    }
  }
  const now = h('div', { id: 'jira-now' });
  const register = h('div', { id: 'jira-register' });
  const result = h('div', { id: 'jira-result' });
  const shown = h('div', { id: 'jira-secret-once' });
  const show = () => {
    fill(now, summary(current, org));
    // Before the first connect: what to register in Jira (the server says it once linked).
    const redirect = `${location.origin}/integrations/jira/callback`;
    fill(register, current ? null : h('p', { class: 'small' },
      'Redirect URI to register in the Jira OAuth app (Cloud) or incoming application link (Data Center): ',
      h('code', { id: 'jira-redirect-uri' }, redirect), ' ', copyButton('Copy', () => redirect)));
    remove.hidden = !current || !owner;
    tools.hidden = !current || !admin;
    rotateRow.hidden = !current;
    form.querySelector('h2').textContent = current ? 'Change the link' : 'Connect to Jira';
  };

  // The connect / change form (owners).
  const input = (id, attrs = {}) => h('input', { id, name: id, autocomplete: 'off', disabled: !owner, ...attrs });
  const kind = h('select', { id: 'jira-kind', name: 'jira-kind', disabled: !owner },
    KINDS.map(([v, label]) => h('option', { value: v, selected: (current?.kind ?? 'cloud') === v }, label)));
  const site = input('jira-site', { required: true, type: 'url', placeholder: 'https://acme.atlassian.net', value: current?.site ?? '' });
  const clientId = input('jira-client-id', { required: true, value: current?.client_id ?? '' });
  const secret = input('jira-client-secret', { type: 'password', autocomplete: 'new-password' });
  const exposeNames = input('jira-expose-names', { type: 'checkbox', checked: current?.expose_names ?? false });
  const retention = input('jira-retention', { type: 'number', min: 1, max: 3650, required: true, value: current?.retention_days ?? 30 });
  const rotate = input('jira-rotate', { type: 'checkbox' });
  const rotateRow = h('div', {}, h('label', { for: 'jira-rotate', class: 'inline' }, rotate, ' Make a new webhook secret (the old one stops working at once)'));
  const syncSecret = () => {
    secret.placeholder = current ? 'stored: leave blank to keep it' : 'the secret Jira gave Coffer’s OAuth client';
  };

  const save = h('button', { type: 'submit' }, 'Save');
  const remove = h('button', {
    type: 'button',
    id: 'jira-disconnect',
    class: 'danger',
    onclick: async () => {
      if (!confirm(`Disconnect ${org} from Jira? Every person’s Jira account link goes with it, and Coffer’s own access decides alone again.`)) return;
      remove.disabled = true;
      try {
        await api('DELETE', base);
        current = null;
        fill(shown);
        fill(toolOut);
        fill(result, message('ok', 'Disconnected from Jira. Remove Coffer’s webhook in Jira too: its secret no longer works.'));
        show();
        syncSecret();
      } catch (e) {
        showError(result, e);
      } finally {
        remove.disabled = false;
      }
    },
  }, 'Disconnect');

  const form = h('form', {
    class: 'card',
    id: 'jira-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const body = {
        kind: kind.value,
        site: site.value.trim(),
        client_id: clientId.value.trim(),
        expose_names: exposeNames.checked,
        retention_days: Number(retention.value),
        rotate_webhook_secret: rotate.checked,
      };
      if (secret.value) body.client_secret = secret.value;
      else if (!current) {
        fill(result, message('error', 'Type the client secret of the OAuth client (Cloud: the 3LO app’s; Data Center: the incoming link’s).'));
        return;
      }
      save.disabled = true;
      fill(result, h('span', { class: 'muted' }, 'Asking the Jira site…'));
      try {
        const answer = await api('PUT', base, body);
        const once = answer.webhook_secret;
        delete answer.webhook_secret;
        current = answer;
        secret.value = '';
        rotate.checked = false;
        fill(result, message('ok', 'Saved: the Jira site answered.'));
        fill(shown, once ? webhookSecretBox(once, current.webhook_url) : null);
        show();
        syncSecret();
      } catch (e) {
        showError(result, e);
      } finally {
        save.disabled = false;
      }
    },
  },
  h('h2', {}, 'Connect to Jira'),
  h('div', { class: 'grid' },
    h('label', { for: 'jira-kind' }, 'Kind'), kind,
    h('label', { for: 'jira-site' }, 'Site URL'), site,
    h('label', { for: 'jira-client-id' }, 'Client id'), clientId,
    h('label', { for: 'jira-client-secret' }, 'Client secret'), secret,
    h('label', { for: 'jira-retention' }, 'Retention (days)'), retention),
  h('div', {}, h('label', { for: 'jira-expose-names', class: 'inline' }, exposeNames, ' Name the secrets in the links Coffer puts on issues')),
  rotateRow,
  owner ? h('div', { class: 'toolbar' }, save, ' ', remove) : h('p', { class: 'muted small' }, 'Only the org’s owners connect, change or disconnect Jira.'),
  result);

  // Check and orphans (admins).
  const toolOut = h('div', { id: 'jira-tools-result' });
  const checkButton = h('button', {
    type: 'button',
    id: 'jira-check',
    class: 'secondary',
    onclick: async () => {
      checkButton.disabled = true;
      fill(toolOut, h('span', { class: 'muted' }, 'Asking Jira…'));
      try {
        fill(toolOut, steps(await api('POST', `${base}/check`)));
      } catch (e) {
        showError(toolOut, e);
      } finally {
        checkButton.disabled = false;
      }
    },
  }, 'Check');
  const orphanButton = h('button', {
    type: 'button',
    id: 'jira-orphans',
    class: 'secondary',
    onclick: async () => {
      orphanButton.disabled = true;
      const bar = h('progress', { max: 1, value: 0 });
      const status = h('span', { id: 'jira-orphans-status' }, 'Asking Jira…');
      fill(toolOut, h('div', {}, bar, ' ', status));
      const found = [];
      let checked = 0;
      let after = null;
      try {
        for (;;) {
          const q = `limit=${ORPHAN_PAGE}${after ? `&after=${encodeURIComponent(after)}` : ''}`;
          const page = await api('GET', `${base}/orphans?${q}`);
          checked += page.checked;
          found.push(...page.orphans);
          const total = Math.max(page.total, checked);
          bar.max = total || 1;
          bar.value = checked;
          status.textContent = `${checked} of ${total} issues checked, ${found.length} orphaned`;
          if (!page.next) break;
          after = page.next;
        }
        fill(toolOut, found.length
          ? h('div', { id: 'jira-orphan-list' },
            message('warn', `${found.length} of ${checked} issues with secrets are orphans: Jira, asked as you, does not show them (deleted, moved without a webhook reaching Coffer, or hidden from you). Move or delete their secrets.`),
            h('table', {},
              h('thead', {}, h('tr', {}, h('th', {}, 'Issue'), h('th', {}, 'Secrets'))),
              h('tbody', {}, found.map((o) => h('tr', {},
                h('td', {}, h('a', { href: `/orgs/${seg(org)}/issues/${seg(o.issue)}` }, o.issue)),
                h('td', {}, o.secrets.join(', ')))))))
          : message('ok', `No orphans: Jira shows you each of the ${checked} issues that hold secrets.`));
      } catch (e) {
        showError(toolOut, e);
      } finally {
        orphanButton.disabled = false;
      }
    },
  }, 'Find orphans');
  const tools = h('section', { class: 'card', id: 'jira-tools' },
    h('h2', {}, 'Check the link'),
    h('p', { class: 'muted small' }, '“Check” asks the site and tries your own Jira account link. “Find orphans” asks Jira, as you, about every issue that holds secrets: link your own Jira account first.'),
    h('div', { class: 'toolbar' }, checkButton, ' ', orphanButton),
    toolOut);

  fill(main, h('h1', {}, `Jira for ${org}`),
    h('p', { class: 'muted small' },
      'Linked to a Jira site, Coffer lets a person see an issue’s secrets only if Jira lets them browse the issue, asked with their own Jira account (each person links it on the ',
      h('a', { href: `/orgs/${seg(org)}/jira` }, 'Jira page'),
      '). Jira’s webhooks tell Coffer when issues are deleted or moved.'),
    now, register, shown, form, tools);
  show();
  syncSecret();
}
