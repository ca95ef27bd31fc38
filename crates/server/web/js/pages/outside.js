// Sharing with people outside Coffer from the issue page (docs/links-and-requests.md): the panel
// that makes a one-time link to a secret, and the form that asks someone for a secret. A link's
// copy is sealed here under a fresh key that goes only into the link's `#` fragment; the server
// stores a copy it cannot open.
import { api, seg } from '../api.js';
import { fromBase64, sealForLink, toBase64, toBase64Url } from '../envelope.js';
import { h, fill, message, when, copyButton } from '../ui.js';

const LIFETIMES = [['1 hour', 3600], ['1 day', 86400], ['7 days', 7 * 86400], ['30 days', 30 * 86400]];

function lifetimeSelect(name) {
  return h('select', { name, 'aria-label': 'Expires after' }, LIFETIMES.map(([t, s], i) => h('option', { value: s, selected: i === 1 }, t)));
}

/** The one-time link panel of secret `s` (shown in the row's detail cell `into`). */
export function linkPanel(org, base, s, into) {
  const expires = lifetimeSelect('link-expires');
  const views = h('input', { name: 'link-views', type: 'number', min: 1, max: 100, value: 1, 'aria-label': 'Views' });
  const result = h('div', { role: 'status' });
  const form = h('form', { class: 'inline', 'data-testid': 'link-form' },
    'Link opens ', views, ' time(s), expires after ', expires, ' ',
    h('button', { type: 'submit' }, 'Create link'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    let plaintext;
    let linkKey;
    try {
      const [orgInfo, r] = await Promise.all([api('GET', `/orgs/${seg(org)}`), api('POST', `${base}/reveal`)]);
      plaintext = fromBase64(r.value);
      const sealed = await sealForLink({ orgId: orgInfo.id, secretId: r.secret.id, version: r.version, plaintext });
      linkKey = sealed.linkKey;
      const link = await api('POST', `${base}/links`, {
        version: r.version,
        envelope: toBase64(sealed.envelope),
        open_hash: sealed.openHash,
        expires_in_seconds: Number(expires.value),
        max_views: Number(views.value),
      });
      const url = `${link.url}#${toBase64Url(linkKey)}`;
      fill(result,
        message('ok', `Link created: it opens ${link.max_views} time(s) until ${when(link.expires_at)}. Send it to the person; Coffer cannot show it again.`),
        h('code', { class: 'value', 'data-testid': 'link-url' }, url), ' ', copyButton('Copy link', () => url));
    } catch (e) {
      fill(result, message('error', e.message));
    } finally {
      if (plaintext) plaintext.fill(0);
      if (linkKey) linkKey.fill(0);
      button.disabled = false;
    }
  });
  fill(into, h('div', { class: 'card', 'data-testid': 'link-panel' },
    h('h3', {}, `One-time link to ${s.name}`),
    h('p', { class: 'muted small' }, 'For someone without a Coffer account. The value is encrypted in this browser with a key that only the link carries; every opening is in the audit trail. Manage your links under “Shared”.'),
    form, result));
}

/** The form that asks someone outside Coffer for a secret on `scope`. */
export function requestForm(org, scope) {
  const name = h('input', { name: 'request-name', required: true, placeholder: 'vendor-api-key', autocomplete: 'off', 'aria-label': 'Secret name' });
  const note = h('input', { name: 'request-note', placeholder: 'What to send (shown to them)', maxlength: 500, autocomplete: 'off', 'aria-label': 'Note' });
  const expires = lifetimeSelect('request-expires');
  const result = h('div', { role: 'status' });
  const form = h('form', { class: 'card', id: 'request-secret', 'data-testid': 'request-create' },
    h('h2', {}, 'Ask someone for a secret'),
    h('p', { class: 'muted small' }, 'Gives a one-time page where someone without an account (a vendor, a customer) types the secret; it is encrypted in their browser and lands here as a new version.'),
    h('div', { class: 'grid' },
      h('label', {}, 'Name'), name,
      h('label', {}, 'Note'), note,
      h('label', {}, 'Expires after'), expires),
    h('button', { type: 'submit' }, 'Create request'), result);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const r = await api('POST', `/orgs/${seg(org)}/secrets/${seg(scope)}/${seg(name.value.trim())}/requests`, {
        note: note.value,
        expires_in_seconds: Number(expires.value),
      });
      fill(result,
        message('ok', `Request created until ${when(r.expires_at)}. Send this page to the person; Coffer cannot show it again:`),
        h('code', { class: 'value', 'data-testid': 'request-url' }, r.url), ' ', copyButton('Copy link', () => r.url));
    } catch (e) {
      fill(result, message('error', e.message));
    }
  });
  return form;
}
