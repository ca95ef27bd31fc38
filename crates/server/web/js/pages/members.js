// Admin → Members: who is in the org with which role, invitations, and service accounts.
// People join by invitation: the page shows a one-time link (/invite#CODE — the code travels in
// the fragment, which browsers never send to a server) to hand to the person. Nobody sets another
// person's password or mints their token here; tokens minted here are service accounts'.
import { api, seg } from '../api.js';
import { h, fill, message, when, copyButton, showError } from '../ui.js';

const ROLES = ['auditor', 'member', 'admin', 'owner'];
const SERVICE_ROLES = ['auditor', 'member', 'admin'];

function roleSelect(id, roles, value) {
  return h('select', { id, name: id }, roles.map((r) => h('option', { value: r, selected: r === value }, r)));
}

export async function render(main, { org, session }) {
  const base = `/orgs/${seg(org)}`;
  const status = h('div', { id: 'members-status' });
  const people = h('div', { id: 'members' });
  const services = h('div', { id: 'service-accounts' });
  const invitations = h('div', { id: 'invitations' });
  const inviteResult = h('div', { id: 'invite-result' });
  const serviceResult = h('div', { id: 'service-result' });

  const load = async () => {
    let users;
    let invites;
    try {
      [{ users }, { invitations: invites }] = await Promise.all([
        api('GET', `${base}/users`),
        api('GET', `${base}/invitations`),
      ]);
    } catch (e) {
      fill(people, message('error', e.message));
      return;
    }
    const row = (m, path) => {
      const select = roleSelect(`role-${m.kind}-${m.name}`, m.kind === 'service' ? SERVICE_ROLES : ROLES, m.role);
      select.addEventListener('change', async () => {
        try {
          await api('PUT', path, { role: select.value });
          fill(status, message('ok', `${m.name} is now ${select.value}.`));
        } catch (e) {
          showError(status, e);
        }
        await load();
      });
      const remove = h('button', {
        type: 'button',
        class: 'danger',
        onclick: async () => {
          if (!confirm(`Remove ${m.name} from ${org}? Their tokens and sessions here stop working at once.`)) return;
          try {
            await api('DELETE', path);
            fill(status, message('ok', `Removed ${m.name}.`));
          } catch (e) {
            showError(status, e);
          }
          await load();
        },
      }, 'Remove');
      const mint = m.kind === 'service' ? h('button', {
        type: 'button',
        class: 'secondary',
        onclick: async () => {
          try {
            const t = await api('POST', `${base}/tokens`, { service_account: m.name, name: 'web' });
            fill(serviceResult,
              message('ok', `New token for ${m.name} (shown only this once; store it now):`),
              h('pre', { id: 'service-token' }, t.token),
              copyButton('Copy token', () => t.token));
          } catch (e) {
            showError(serviceResult, e);
          }
        },
      }, 'New token') : null;
      return h('tr', { 'data-member': m.name, 'data-kind': m.kind },
        h('td', {}, m.name), h('td', {}, select), h('td', {}, when(m.created_at)),
        h('td', { class: 'actions' }, mint, remove));
    };
    const table = (list, pathOf, empty) => list.length
      ? h('table', {},
        h('thead', {}, h('tr', {}, ['Name', 'Role', 'Since', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, list.map((m) => row(m, pathOf(m)))))
      : h('p', { class: 'muted' }, empty);
    fill(people, table(users.filter((m) => m.kind === 'person'), (m) => `${base}/users/${seg(m.name)}`, 'No people yet.'));
    fill(services, table(users.filter((m) => m.kind === 'service'), (m) => `${base}/service-accounts/${seg(m.name)}`, 'No service accounts yet.'));
    fill(invitations, invites.length ? h('table', { id: 'invitation-list' },
      h('thead', {}, h('tr', {}, ['Name', 'Role', 'State', 'Invited by', 'Expires', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, invites.map((i) => h('tr', { 'data-invitation': i.name },
        h('td', {}, i.name), h('td', {}, i.role), h('td', {}, i.state), h('td', {}, i.created_by), h('td', {}, when(i.expires_at)),
        h('td', { class: 'actions' }, i.state === 'pending' ? h('button', {
          type: 'button',
          class: 'danger',
          onclick: async () => {
            try {
              await api('DELETE', `${base}/invitations/${seg(i.id)}`);
              fill(status, message('ok', `Revoked the invitation for ${i.name}.`));
            } catch (e) {
              showError(status, e);
            }
            await load();
          },
        }, 'Revoke') : null))))) : h('p', { class: 'muted' }, 'No invitations in the last 30 days.'));
  };

  const inviteForm = h('form', {
    class: 'card',
    id: 'invite-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const name = inviteForm.elements.namedItem('invite-name').value.trim();
      const role = inviteForm.elements.namedItem('invite-role').value;
      try {
        const r = await api('POST', `${base}/invitations`, { name, role });
        const link = `${location.origin}/invite#${r.code}`;
        fill(inviteResult,
          message('ok', `Invited ${name} as ${role}. Send them this link; it works once, until ${when(r.info.expires_at)}. If they already have a Coffer account they accept it signed in as themselves.`),
          h('pre', { id: 'invite-link' }, link),
          copyButton('Copy link', () => link));
        inviteForm.reset();
      } catch (e) {
        showError(inviteResult, e);
      }
      await load();
    },
  },
  h('h2', {}, 'Invite someone'),
  h('div', { class: 'grid' },
    h('label', { for: 'invite-name' }, 'User name'), h('input', { id: 'invite-name', name: 'invite-name', required: true, placeholder: 'bob', autocomplete: 'off' }),
    h('label', { for: 'invite-role' }, 'Role'), roleSelect('invite-role', ROLES, 'member')),
  h('button', { type: 'submit' }, 'Create invitation'),
  inviteResult);

  const serviceForm = h('form', {
    class: 'card',
    id: 'service-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const name = serviceForm.elements.namedItem('service-name').value.trim();
      const role = serviceForm.elements.namedItem('service-role').value;
      try {
        await api('POST', `${base}/service-accounts`, { name, role });
        fill(serviceResult, message('ok', `Created service account ${name} (${role}). Mint its token with “New token”.`));
        serviceForm.reset();
      } catch (e) {
        showError(serviceResult, e);
      }
      await load();
    },
  },
  h('h2', {}, 'Service accounts'),
  h('p', { class: 'muted small' }, 'Non-human identities of this org for CI and scripts. Their tokens are minted here; people mint their own.'),
  services,
  h('div', { class: 'grid' },
    h('label', { for: 'service-name' }, 'Name'), h('input', { id: 'service-name', name: 'service-name', required: true, placeholder: 'ci', autocomplete: 'off' }),
    h('label', { for: 'service-role' }, 'Role'), roleSelect('service-role', SERVICE_ROLES, 'member')),
  h('button', { type: 'submit' }, 'Create service account'),
  serviceResult);

  fill(main, h('h1', {}, `Members of ${org}`),
    h('p', { class: 'muted small' }, session.operator
      ? 'You are the operator: you can invite, add, change and remove members of any org.'
      : `You are ${session.role}: you can invite, change and remove people up to that role.`),
    status, people, inviteForm, h('h2', {}, 'Invitations'), invitations, serviceForm);
  await load();
}
