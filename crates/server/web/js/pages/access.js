// Admin → Access: the org's groups (create, add and remove members, delete) and its grants (a
// level on every secret of the org, a project or an issue, to a person, service account or
// group; revoke). docs/access.md explains the model. Owners and admins see this page; the server
// refuses everyone else, and the page says so.
import { api, seg } from '../api.js';
import { h, fill, message, when, showError } from '../ui.js';

const LEVELS = ['read', 'write', 'manage'];

function levelSelect(id) {
  return h('select', { id, name: id }, LEVELS.map((l) => h('option', { value: l }, l)));
}

export async function render(main, { org }) {
  const base = `/orgs/${seg(org)}`;
  const status = h('div', { id: 'access-status', role: 'status' });
  const groups = h('div', { id: 'groups' });
  const grants = h('div', { id: 'grants' });

  const act = async (fn, ok) => {
    try {
      await fn();
      fill(status, message('ok', ok));
    } catch (e) {
      showError(status, e);
    }
    await load();
  };

  const load = async () => {
    try {
      const [{ groups: gs }, { grants: list }] = await Promise.all([
        api('GET', `${base}/groups`),
        api('GET', `${base}/grants`),
      ]);
      fill(groups, gs.length ? h('table', {},
        h('thead', {}, h('tr', {}, ['Group', 'Members', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, gs.map((g) => {
          const add = h('input', { name: `add-${g.name}`, placeholder: 'user:alice or svc:ci', autocomplete: 'off', 'aria-label': `Add to ${g.name}` });
          return h('tr', { 'data-group': g.name },
            h('td', {}, g.name),
            h('td', {}, g.members.map((m) => h('span', { class: 'chip' }, m, ' ', h('button', {
              type: 'button',
              class: 'link',
              'aria-label': `Remove ${m} from ${g.name}`,
              onclick: () => act(() => api('DELETE', `${base}/groups/${seg(g.name)}/members/${seg(m)}`), `Removed ${m} from ${g.name}.`),
            }, '×'))), h('form', {
              class: 'inline',
              onsubmit: (ev) => {
                ev.preventDefault();
                const who = add.value.trim().includes(':') ? add.value.trim() : `user:${add.value.trim()}`;
                return act(() => api('PUT', `${base}/groups/${seg(g.name)}/members/${seg(who)}`), `Added ${who} to ${g.name}.`);
              },
            }, add, h('button', { type: 'submit', class: 'secondary' }, 'Add'))),
            h('td', { class: 'actions' }, h('button', {
              type: 'button',
              class: 'danger',
              onclick: () => confirm(`Delete group ${g.name} with its grants and shares?`)
                && act(() => api('DELETE', `${base}/groups/${seg(g.name)}`), `Deleted ${g.name}.`),
            }, 'Delete')));
        }))) : h('p', { class: 'muted' }, 'No groups yet.'));
      fill(grants, list.length ? h('table', { id: 'grant-list' },
        h('thead', {}, h('tr', {}, ['Scope', 'To', 'Level', 'By', 'Since', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, list.map((g) => h('tr', { 'data-grant': `${g.scope} ${g.principal}` },
          h('td', {}, g.scope === '*' ? 'the whole org' : g.scope), h('td', {}, g.principal), h('td', {}, g.level),
          h('td', {}, g.created_by), h('td', {}, when(g.created_at)),
          h('td', { class: 'actions' }, h('button', {
            type: 'button',
            class: 'danger',
            onclick: () => act(() => api('DELETE', `${base}/grants/${seg(g.id)}`), `Revoked ${g.principal}'s ${g.level} on ${g.scope}.`),
          }, 'Revoke')))))) : h('p', { class: 'muted' }, 'No grants: members see only what is shared with them.'));
    } catch (e) {
      fill(groups, message('error', e.message));
      fill(grants);
    }
  };

  const groupForm = h('form', {
    class: 'card',
    id: 'group-form',
    onsubmit: (ev) => {
      ev.preventDefault();
      const name = groupForm.elements.namedItem('group-name').value.trim();
      groupForm.reset();
      return act(() => api('POST', `${base}/groups`, { name }), `Created group ${name}.`);
    },
  },
  h('div', { class: 'grid' },
    h('label', { for: 'group-name' }, 'New group'), h('input', { id: 'group-name', name: 'group-name', required: true, placeholder: 'dba', autocomplete: 'off' })),
  h('button', { type: 'submit' }, 'Create group'));

  const grantForm = h('form', {
    class: 'card',
    id: 'grant-form',
    onsubmit: (ev) => {
      ev.preventDefault();
      const f = (n) => grantForm.elements.namedItem(n).value.trim();
      const req = { scope: f('grant-scope'), to: f('grant-to'), level: f('grant-level') };
      return act(() => api('POST', `${base}/grants`, req), `Granted ${req.to} ${req.level} on ${req.scope}.`);
    },
  },
  h('div', { class: 'grid' },
    h('label', { for: 'grant-scope' }, 'Scope'), h('input', { id: 'grant-scope', name: 'grant-scope', required: true, placeholder: 'OPS, OPS-123, or * for the whole org', autocomplete: 'off' }),
    h('label', { for: 'grant-to' }, 'To'), h('input', { id: 'grant-to', name: 'grant-to', required: true, placeholder: 'user:alice, svc:ci or group:dba', autocomplete: 'off' }),
    h('label', { for: 'grant-level' }, 'Level'), levelSelect('grant-level')),
  h('button', { type: 'submit' }, 'Grant'));

  fill(main, h('h1', {}, `Access in ${org}`),
    h('p', { class: 'muted small' }, 'Owners and admins see every secret that is not restricted. Members and service accounts see only what grants here and shares on each secret give them. read: list and reveal · write: also change · manage: also share and grant.'),
    status, h('h2', {}, 'Groups'), groups, groupForm, h('h2', {}, 'Grants'), grants, grantForm);
  await load();
}
