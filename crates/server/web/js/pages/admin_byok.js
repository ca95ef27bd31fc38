// Operator → BYOK overview: every org on its own KMS keys, its status and each key's last probe.
import { api } from '../api.js';
import { h, fill, message, when } from '../ui.js';

export async function render(main) {
  let list;
  try {
    list = await api('GET', '/admin/byok');
  } catch (e) {
    fill(main, h('h1', {}, 'BYOK overview'), message('error', e.message));
    return;
  }
  fill(main, h('h1', {}, 'BYOK overview'),
    list.orgs.length ? null : message('warn', 'No org uses its own keys yet.'),
    h('table', { id: 'byok-orgs' },
      h('thead', {}, h('tr', {}, ['Org', 'Location', 'Status', 'Keys', 'Since'].map((t) => h('th', {}, t)))),
      h('tbody', {}, list.orgs.map((o) => h('tr', { class: o.status === 'suspended' ? 'bad' : null },
        h('td', {}, o.org), h('td', {}, o.location),
        h('td', {}, o.status, o.suspended_reason ? h('div', { class: 'muted small' }, o.suspended_reason) : null),
        h('td', {}, h('ul', { class: 'plain' }, o.keys.map((k) => h('li', {},
          `${k.region}: ${k.last_probe ? `${k.last_probe.state} (${when(k.last_probe.at)})` : 'not probed yet'}`)))),
        h('td', {}, when(o.byok_since)))))));
}
