// /orgs/{org}/shared: the one-time links and "send me a secret" requests you made (every
// member's, for admins), their state, and revoking them (docs/links-and-requests.md).
import { api, seg } from '../api.js';
import { h, fill, message, when } from '../ui.js';

function revokeButton(label, run) {
  return h('button', { type: 'button', class: 'danger', onclick: run }, label);
}

export async function render(main, { params }) {
  const [org] = params;
  const status = h('div');
  const links = h('tbody', { id: 'links' });
  const requests = h('tbody', { id: 'requests' });
  const refresh = async () => {
    try {
      const [l, r] = await Promise.all([api('GET', `/orgs/${seg(org)}/links`), api('GET', `/orgs/${seg(org)}/requests`)]);
      fill(links, l.links.length ? l.links.map((x) => h('tr', { 'data-link': x.id },
        h('td', {}, x.target, h('span', { class: 'muted small' }, ` v${x.version}`)),
        h('td', {}, x.created_by), h('td', {}, `${x.views} of ${x.max_views}`), h('td', {}, when(x.expires_at)),
        h('td', { 'data-testid': 'link-state' }, x.state.replace('_', ' ')),
        h('td', {}, x.state === 'active' ? revokeButton('Revoke', () => act(() => api('DELETE', `/orgs/${seg(org)}/links/${seg(x.id)}`), 'Link revoked.')) : null)))
        : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No links.')));
      fill(requests, r.requests.length ? r.requests.map((x) => h('tr', { 'data-request': x.id },
        h('td', {}, x.target), h('td', {}, x.created_by), h('td', {}, when(x.expires_at)),
        h('td', { 'data-testid': 'request-state' }, x.state === 'fulfilled' ? `fulfilled as v${x.fulfilled_version}` : x.state),
        h('td', {}, x.state === 'open' ? revokeButton('Withdraw', () => act(() => api('DELETE', `/orgs/${seg(org)}/requests/${seg(x.id)}`), 'Request withdrawn.')) : null)))
        : h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No requests.')));
    } catch (e) {
      fill(status, message('error', e.message));
    }
  };
  const act = async (fn, ok) => {
    try {
      await fn();
      fill(status, message('ok', ok));
      await refresh();
    } catch (e) {
      fill(status, message('error', e.message));
    }
  };
  fill(main,
    h('h1', {}, 'Shared outside Coffer', h('span', { class: 'muted' }, ` · ${org}`)),
    status,
    h('h2', {}, 'One-time links'),
    h('table', {}, h('thead', {}, h('tr', {}, ['Secret', 'By', 'Views', 'Expires', 'State', ''].map((t) => h('th', {}, t)))), links),
    h('h2', {}, 'Requests for a secret'),
    h('table', {}, h('thead', {}, h('tr', {}, ['Secret', 'By', 'Expires', 'State', ''].map((t) => h('th', {}, t)))), requests));
  await refresh();
}
