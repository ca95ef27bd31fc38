// The page an outsider opens a one-time link at: /l/{id}#{key}. The key after `#` never reaches
// the server (browsers do not send the fragment); the page asks the server for the sealed copy —
// which uses one view, so it waits for a click, and link previewers that fetch the page use
// none — and opens it here with the same envelope code that seals secrets
// (docs/links-and-requests.md).
import { api } from '../api.js';
import { fromBase64, fromBase64Url, linkOpenProof, openEnvelope } from '../envelope.js';
import { h, fill, message, when, copyText } from '../ui.js';

const TEXT = new TextDecoder('utf-8', { fatal: true });

function show(value, out) {
  let text;
  try {
    text = TEXT.decode(value);
  } catch {
    text = null;
  }
  const status = h('span', { class: 'muted small', role: 'status' });
  if (text === null) {
    const url = URL.createObjectURL(new Blob([value], { type: 'application/octet-stream' }));
    fill(out, h('p', {}, `The secret is a file of ${value.length} bytes. `,
      h('a', { href: url, download: 'secret', 'data-testid': 'link-download' }, 'Save it')));
    return;
  }
  fill(out,
    h('pre', { class: 'value', 'data-testid': 'link-value' }, text),
    h('button', { type: 'button', class: 'secondary', onclick: () => copyText(text, status).catch((e) => { status.textContent = `Could not copy: ${e.message}`; }) }, 'Copy'),
    ' ', status);
}

export async function render(main, { params }) {
  const [id] = params;
  let key = null;
  try {
    key = location.hash.length > 1 ? fromBase64Url(location.hash.slice(1)) : null;
  } catch {
    key = null;
  }
  const out = h('div', { id: 'link-out' });
  fill(main, h('h1', {}, 'A secret shared with you'), out);
  if (!key || key.length !== 32) {
    fill(out, message('error', 'This link is incomplete: the part after “#” is missing or damaged. Copy the whole link and open it again.'));
    return;
  }
  let status;
  try {
    status = await api('GET', `/links/${encodeURIComponent(id)}`);
  } catch (e) {
    fill(out, message('error', e.message));
    return;
  }
  const refused = {
    used_up: 'This link has already been viewed. Ask the sender for a new one.',
    expired: 'This link has expired. Ask the sender for a new one.',
    revoked: 'This link was revoked by its sender.',
  }[status.state];
  if (refused) {
    fill(out, message('warn', refused));
    return;
  }
  const views = status.views_left === 1 ? 'once more' : `${status.views_left} more times`;
  const button = h('button', { type: 'button', 'data-testid': 'link-open' }, 'Show the secret');
  fill(out,
    h('p', {}, `It can be viewed ${views}, until ${when(status.expires_at)}. Showing it uses one view.`),
    h('p', { class: 'muted small' }, 'It is decrypted in this browser with the key in the link; Coffer never had that key. If this link says it was already viewed when you first open it, someone else opened it: tell the sender.'),
    button);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const o = await api('POST', `/links/${encodeURIComponent(id)}/open`, { proof: await linkOpenProof(key) });
      const value = await openEnvelope({
        key, orgId: o.org_id, secretId: o.secret_id, version: o.version, keyVersion: 1, envelope: fromBase64(o.envelope),
      });
      // The key has done its job: keep it out of the history and the address bar.
      history.replaceState(null, '', location.pathname);
      key.fill(0);
      const body = h('div');
      fill(out,
        h('p', {}, h('strong', {}, o.target)),
        body,
        h('p', { class: 'muted small', 'data-testid': 'link-left' }, o.views_left === 0
          ? 'That was the last view: this link no longer opens. Store the secret somewhere safe now.'
          : `This link opens ${o.views_left} more time${o.views_left === 1 ? '' : 's'}, until ${when(o.expires_at)}.`));
      show(value, body);
    } catch (e) {
      fill(out, message('error', e.message));
    }
  });
}
