// Admin → Audit: the chain verification result, and events filtered by actor, action, issue
// and time (newest first).
import { api, seg } from '../api.js';
import { h, fill, message, when } from '../ui.js';

export async function render(main, { org }) {
  const verify = h('div', { id: 'verify' });
  const list = h('div', { id: 'events' });
  const input = (id, label, attrs = {}) => [h('label', { for: id }, label), h('input', { id, name: id, ...attrs })];
  const form = h('form', { class: 'card filters', id: 'audit-filters' },
    h('div', { class: 'grid' },
      input('actor', 'Actor', { placeholder: 'alice' }),
      input('action', 'Action', { placeholder: 'secret.reveal' }),
      input('issue', 'Issue or project', { placeholder: 'OPS-123' }),
      input('since', 'From', { type: 'datetime-local' }),
      input('until', 'Until', { type: 'datetime-local' })),
    h('button', { type: 'submit' }, 'Filter'));
  const load = async () => {
    const q = new URLSearchParams();
    for (const k of ['actor', 'action', 'issue']) {
      const v = form.elements.namedItem(k).value.trim();
      if (v) q.set(k, k === 'issue' ? v.toUpperCase() : v);
    }
    for (const k of ['since', 'until']) {
      const v = form.elements.namedItem(k).value;
      if (v) q.set(k, new Date(v).toISOString());
    }
    try {
      const r = await api('GET', `/orgs/${seg(org)}/audit/search?${q}`);
      fill(list,
        r.truncated ? message('warn', 'Only the newest part of the trail was searched; narrow the time range to see older events.') : null,
        r.events.length ? null : message('warn', 'No events match these filters.'),
        h('table', { class: 'audit' },
          h('thead', {}, h('tr', {}, ['#', 'When', 'Actor', 'Action', 'Target', 'Details'].map((t) => h('th', {}, t)))),
          h('tbody', {}, r.events.map((e) => h('tr', {},
            h('td', {}, e.seq), h('td', {}, when(e.at)), h('td', {}, e.actor), h('td', {}, e.action), h('td', {}, e.target),
            h('td', { class: 'small' }, JSON.stringify(e.details)))))));
    } catch (e) {
      fill(list, message('error', e.message));
    }
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  fill(main, h('h1', {}, 'Audit trail'), verify, form, list);
  try {
    const v = await api('GET', `/orgs/${seg(org)}/audit/verify`);
    fill(verify, message(v.ok ? 'ok' : 'error', v.message), h('p', { class: 'muted small' }, `Chain head: ${v.head}`));
  } catch (e) {
    fill(verify, message('error', e.message));
  }
  await load();
}
