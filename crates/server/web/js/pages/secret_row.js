// One secret on the issue page: its facts, and the actions on it — reveal (audited by the
// reveal API; hidden again after 30 s), copy (the clipboard is cleared after 30 s), history
// with older versions, delete and restore.
import { api, seg } from '../api.js';
import { fromBase64 } from '../envelope.js';
import { h, fill, message, when, copyText } from '../ui.js';

const HIDE_AFTER_MS = 30_000;

function viewsLeft(s) {
  if (s.view_limit === null || s.view_limit === undefined) return 'unlimited';
  return String(Math.max(0, s.view_limit - s.views));
}

function decode(b64, kind) {
  const bytes = fromBase64(b64);
  if (kind === 'file') return `(${bytes.length} bytes of file content; use \`coffer secret get\` to save it)`;
  return new TextDecoder().decode(bytes);
}

/** A revealed value, hidden again after 30 s, with a copy button. */
function revealed(value, version, into) {
  const status = h('span', { class: 'muted small', role: 'status' });
  const code = h('code', { class: 'value', 'data-testid': 'revealed-value' }, value);
  const box = h('div', { class: 'revealed' },
    h('span', { class: 'muted small' }, `version ${version}: `), code, ' ',
    h('button', { type: 'button', class: 'secondary', onclick: () => copyText(value, status).catch((e) => { status.textContent = `Could not copy: ${e.message}`; }) }, 'Copy'),
    ' ', h('button', { type: 'button', class: 'link', onclick: () => box.remove() }, 'Hide'),
    h('div', { class: 'muted small' }, 'Hidden again in 30 seconds. This reveal is in the audit trail.'));
  // The copy status lives outside the value's box: it still reports the clipboard being
  // cleared after the value is hidden.
  fill(into, box, status);
  setTimeout(() => {
    if (box.isConnected) {
      box.remove();
      into.prepend(h('div', { class: 'muted small' }, 'Hidden again.'));
    }
  }, HIDE_AFTER_MS);
}

export function secretRow(org, s, refresh) {
  const base = `/orgs/${seg(org)}/secrets/${seg(s.scope)}/${seg(s.name)}`;
  const out = h('div', { class: 'row-out' });
  const reveal = async (version) => {
    try {
      const q = version ? `?version=${version}` : '';
      const r = await api('POST', `${base}/reveal${q}`);
      revealed(decode(r.value, s.kind), r.version, out);
    } catch (e) {
      fill(out, message('error', e.message));
    }
  };
  const history = async () => {
    try {
      const hist = await api('GET', `${base}/versions`);
      fill(out, h('table', { class: 'history' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Version'), h('th', {}, 'Written by'), h('th', {}, 'When'), h('th', {}, 'Size'), h('th', {}, ''))),
        h('tbody', {}, hist.versions.map((v) => h('tr', {},
          h('td', {}, `v${v.version}`), h('td', {}, v.created_by), h('td', {}, when(v.created_at)), h('td', {}, `${v.size} B`),
          h('td', {}, h('button', { type: 'button', class: 'secondary', onclick: () => reveal(v.version) }, `Reveal v${v.version}`)))))));
    } catch (e) {
      fill(out, message('error', e.message));
    }
  };
  const toggle = async () => {
    try {
      if (s.state === 'deleted') await api('POST', `${base}/restore`);
      else await api('DELETE', base);
      await refresh();
    } catch (e) {
      fill(out, message('error', e.message));
    }
  };
  const deleted = s.state === 'deleted';
  const row = h('tr', { 'data-secret': s.name, class: deleted ? 'deleted' : null },
    h('td', {}, h('strong', {}, s.name), s.unavailable ? h('div', { class: 'muted small' }, s.unavailable) : null),
    h('td', {}, s.kind),
    h('td', {}, `v${s.version}`),
    h('td', {}, s.updated_by, h('div', { class: 'muted small' }, when(s.updated_at))),
    h('td', {}, s.expires_at ? when(s.expires_at) : 'never'),
    h('td', {}, viewsLeft(s)),
    h('td', { class: 'actions' },
      deleted ? null : h('button', { type: 'button', onclick: () => reveal(null) }, 'Reveal'),
      h('button', { type: 'button', class: 'secondary', onclick: history }, 'History'),
      h('button', { type: 'button', class: deleted ? 'secondary' : 'danger', onclick: toggle }, deleted ? 'Restore' : 'Delete')));
  const detail = h('tr', { class: 'detail' }, h('td', { colspan: 7 }, out));
  return [row, detail];
}
