// One secret on the issue page: its facts, and the actions on it — reveal (audited by the
// reveal API; hidden again after 30 s), copy (the clipboard is cleared after 30 s), history
// with older versions, a one-time link for someone outside Coffer (`outside.js`), delete and
// restore, and its access: who can see it and why, its shares
// (add, change, remove) and its restriction (docs/access.md; the server decides who may).
import { api, seg } from '../api.js';
import { fromBase64 } from '../envelope.js';
import { h, fill, message, when, copyText, showError } from '../ui.js';
import { linkPanel } from './outside.js';

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

const LEVELS = ['read', 'write', 'manage'];

/** The access panel: who can see the secret and why, its shares, and its restriction. */
async function accessPanel(base, s, into, refresh) {
  const status = h('div', { class: 'small', role: 'status' });
  const redo = async (fn, ok) => {
    try {
      await fn();
      await accessPanel(base, s, into, refresh);
      into.append(message('ok', ok));
    } catch (e) {
      showError(status, e);
    }
  };
  let a;
  try {
    a = await api('GET', `${base}/access`);
  } catch (e) {
    fill(into, message('error', e.message));
    return;
  }
  const who = h('input', { name: 'share-with', placeholder: 'user:alice or group:dba', required: true, autocomplete: 'off', 'aria-label': 'Share with' });
  const level = h('select', { name: 'share-level', 'aria-label': 'Level' }, LEVELS.map((l) => h('option', { value: l }, l)));
  const form = h('form', {
    class: 'inline',
    'data-testid': 'share-form',
    onsubmit: (ev) => {
      ev.preventDefault();
      const w = who.value.trim();
      return redo(() => api('PUT', `${base}/shares`, { with: w, level: level.value }), `Shared with ${w} (${level.value}).`);
    },
  }, who, level, h('button', { type: 'submit', class: 'secondary' }, 'Share'));
  const restrict = h('button', {
    type: 'button',
    class: 'secondary',
    onclick: () => redo(async () => {
      await api('PUT', `${base}/restricted`, { restricted: !a.restricted });
      await refresh();
    }, a.restricted ? 'No longer restricted.' : 'Restricted to its shares.'),
  }, a.restricted ? 'Lift restriction' : 'Restrict to shares');
  fill(into, h('div', { class: 'access', 'data-testid': 'access-panel' },
    h('p', { class: 'muted small' }, a.restricted
      ? 'Restricted: only its shares give access, not grants or roles.'
      : 'Owners and admins, grants on this issue or project, and its shares give access.'),
    h('table', {},
      h('thead', {}, h('tr', {}, ['Who', 'Access', 'Because'].map((t) => h('th', {}, t)))),
      h('tbody', {}, a.entries.map((e) => h('tr', { 'data-who': e.principal },
        h('td', {}, e.principal), h('td', {}, e.access), h('td', { class: 'small' }, e.because.join('; ')))))),
    h('div', {}, h('strong', {}, 'Shares: '), a.shares.length ? a.shares.map((sh) => h('span', { class: 'chip', 'data-share': sh.principal },
      `${sh.principal} (${sh.level})`, ' ',
      h('button', { type: 'button', class: 'link', 'aria-label': `Stop sharing with ${sh.principal}`, onclick: () => redo(() => api('DELETE', `${base}/shares/${seg(sh.principal)}`), `No longer shared with ${sh.principal}.`) }, '×')))
      : h('span', { class: 'muted' }, 'none')),
    form, ' ', restrict, status));
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
    h('td', {}, h('strong', {}, s.name), s.restricted ? h('span', { class: 'tag', title: 'Only its shares give access' }, 'restricted') : null,
      s.unavailable ? h('div', { class: 'muted small' }, s.unavailable) : null),
    h('td', {}, s.kind),
    h('td', {}, `v${s.version}`),
    h('td', {}, s.updated_by, h('div', { class: 'muted small' }, when(s.updated_at))),
    h('td', {}, s.expires_at ? when(s.expires_at) : 'never'),
    h('td', {}, viewsLeft(s)),
    h('td', { class: 'actions' },
      deleted ? null : h('button', { type: 'button', onclick: () => reveal(null) }, 'Reveal'),
      h('button', { type: 'button', class: 'secondary', onclick: history }, 'History'),
      h('button', { type: 'button', class: 'secondary', onclick: () => accessPanel(base, s, out, refresh) }, 'Access'),
      deleted || s.unavailable || s.view_limit != null ? null : h('button', { type: 'button', class: 'secondary', onclick: () => linkPanel(org, base, s, out) }, 'Share link'),
      h('button', { type: 'button', class: deleted ? 'secondary' : 'danger', onclick: toggle }, deleted ? 'Restore' : 'Delete')));
  const detail = h('tr', { class: 'detail' }, h('td', { colspan: 7 }, out));
  return [row, detail];
}
