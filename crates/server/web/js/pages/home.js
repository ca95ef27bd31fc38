// The org's start page: the search box and every issue or project that has secrets.
import { api, seg } from '../api.js';
import { h, fill, message } from '../ui.js';

const ISSUE = /^[A-Z][A-Z0-9_]{1,9}-[1-9][0-9]{0,8}$/;
const PROJECT = /^[A-Z][A-Z0-9_]{1,9}$/;

function scopeLink(org, scope, extra) {
  return h('li', {}, h('a', { href: `/orgs/${seg(org)}/issues/${seg(scope)}` }, scope), extra ? h('span', { class: 'muted' }, ` — ${extra}`) : null);
}

/** A search box across the org's issues and projects (used here and on the issue page). */
export function searchBox(org) {
  const results = h('div', { class: 'search-results', id: 'search-results' });
  const input = h('input', { type: 'search', id: 'search', name: 'q', placeholder: 'Search issues, projects and secret names (e.g. OPS-123 or db-)', 'aria-label': 'Search' });
  const form = h('form', {
    class: 'search',
    role: 'search',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const q = input.value.trim();
      if (!q) return;
      const upper = q.toUpperCase();
      const direct = ISSUE.test(upper) || PROJECT.test(upper)
        ? scopeLink(org, upper, 'open this issue or project') : null;
      try {
        const { hits } = await api('GET', `/orgs/${seg(org)}/search?q=${encodeURIComponent(q)}`);
        const items = hits.map((hit) => scopeLink(org, hit.scope, hit.names.join(', ')));
        if (!items.length && !direct) {
          fill(results, message('warn', `Nothing in ${org} matches “${q}”.`));
        } else {
          fill(results, h('ul', { class: 'plain' }, direct, items));
        }
      } catch (e) {
        fill(results, direct ? h('ul', { class: 'plain' }, direct) : null, message('error', e.message));
      }
    },
  }, input, h('button', { type: 'submit' }, 'Search'));
  return h('div', {}, form, results);
}

export async function render(main, { org }) {
  const list = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  fill(main, h('h1', {}, `Secrets of ${org}`), searchBox(org), h('h2', {}, 'Issues and projects with secrets'), list);
  try {
    const { secrets } = await api('GET', `/orgs/${seg(org)}/secrets?limit=1000`);
    const by = new Map();
    for (const s of secrets) by.set(s.scope, (by.get(s.scope) ?? 0) + 1);
    if (!by.size) {
      fill(list, message('warn', 'No secrets yet. Open an issue (search for its key, e.g. OPS-123) and add one.'));
      return;
    }
    fill(list, h('ul', { class: 'plain' }, [...by].map(([scope, n]) => scopeLink(org, scope, `${n} secret${n === 1 ? '' : 's'}`))));
  } catch (e) {
    fill(list, message('error', e.message));
  }
}
