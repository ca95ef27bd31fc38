// The page an outsider answers a "send me a secret" request at: /r/{id}. The value is sealed in
// this browser to the request's own public key (request sealing v1, docs/links-and-requests.md),
// so it travels — through proxies and into the server — only as ciphertext until Coffer opens
// it and stores it encrypted like any secret.
import { api } from '../api.js';
import { fromBase64, sealToRequest, toBase64 } from '../envelope.js';
import { h, fill, message, when } from '../ui.js';

export async function render(main, { params }) {
  const [id] = params;
  const out = h('div', { id: 'request-out' });
  fill(main, h('h1', {}, 'Send a secret'), out);
  // The token after `#` is what lets this page answer the request; it is sent in a header, never
  // in the URL of a request.
  const token = location.hash.slice(1);
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) {
    fill(out, message('error', 'This link is incomplete: the part after “#” is missing or damaged. Copy the whole link and open it again.'));
    return;
  }
  const auth = { 'X-Coffer-Request-Token': token };
  let r;
  try {
    r = await api('GET', `/requests/${encodeURIComponent(id)}`, undefined, auth);
  } catch (e) {
    fill(out, message('error', e.message));
    return;
  }
  const closed = {
    fulfilled: 'This request has already been answered. Thank you.',
    expired: 'This request has expired. Ask the person who sent it for a new one.',
    revoked: 'This request was withdrawn by the person who sent it.',
  }[r.state];
  if (closed) {
    fill(out, message('warn', closed));
    return;
  }
  const value = h('textarea', { id: 'request-value', name: 'value', rows: 4, cols: 60, required: true, autocomplete: 'off', spellcheck: 'false', 'aria-label': 'The secret' });
  const result = h('div', { role: 'status' });
  const form = h('form', { class: 'card', 'data-testid': 'request-form' },
    h('p', {}, h('strong', {}, r.requested_by), ` of ${r.org} asks you for `, h('strong', {}, r.target), '.'),
    r.note ? h('blockquote', { 'data-testid': 'request-note' }, r.note) : null,
    h('p', {}, h('label', { for: 'request-value' }, 'The secret')), h('div', {}, value),
    h('p', { class: 'muted small' }, `It is encrypted in this browser before it is sent. This page works once, until ${when(r.expires_at)}.`),
    h('button', { type: 'submit' }, 'Encrypt and send'), result);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    const plaintext = new TextEncoder().encode(value.value);
    try {
      const sealed = await sealToRequest({ requestId: id, publicKey: fromBase64(r.public_key), plaintext });
      await api('POST', `/requests/${encodeURIComponent(id)}/fulfil`, { sealed: toBase64(sealed) }, auth);
      value.value = '';
      fill(out, message('ok', `Sent. ${r.requested_by} can now use it; this page no longer accepts a value.`));
    } catch (e) {
      fill(result, message('error', e.message));
      button.disabled = false;
    } finally {
      plaintext.fill(0);
    }
  });
  fill(out, form);
}
