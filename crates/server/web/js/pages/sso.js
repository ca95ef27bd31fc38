// Admin → Single sign-on (`/orgs/{org}/admin/sso`): the org's OpenID provider (docs/sso.md).
// Owners set it up, change it and remove it; admins see it; the server refuses everyone else,
// and the page says so. The redirect URI to register at the provider is shown with a copy button.
import { api, seg } from '../api.js';
import { h, fill, message, when, showError, copyButton } from '../ui.js';

/** What the org's single sign-on does now, or that it is not set up. */
function ssoSummary(s) {
  if (!s) return message('warn', 'Single sign-on is not set up for this org: people sign in with their passwords.');
  const row = (k, v) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v));
  return h('table', { id: 'sso-settings' }, h('tbody', {},
    row('Issuer', h('code', {}, s.issuer)),
    row('Client id', h('code', {}, s.client_id)),
    row('Client secret', s.client_secret_set ? 'stored (never shown)' : 'none: a public client (PKCE only)'),
    row('Groups', s.groups_claim ? `set from the ID token’s “${s.groups_claim}” claim at every sign-in` : 'not synced'),
    row('New people', s.create_people ? 'created as members on their first sign-in' : 'not created: only people who linked their account sign in'),
    row('Passwords', s.require_sso ? 'refused: people sign in through single sign-on only' : 'still accepted'),
    row('Last change', `${when(s.updated_at)} by ${s.updated_by}`)));
}

/**
 * Admin → Single sign-on: the org's OpenID provider. Admins see it; owners set, change and
 * remove it. Saving has the server fetch and check the provider's discovery document first.
 */
export async function render(main, { org, session }) {
  const base = `/orgs/${seg(org)}/sso`;
  const owner = session.role === 'owner' && session.org === org;
  let current = null;
  try {
    current = await api('GET', base);
  } catch (e) {
    // 404 in one's own org: not set up (elsewhere a 404 is the org itself, said as it is).
    if (!(e.status === 404 && session.org === org)) {
      fill(main, h('h1', {}, 'Single sign-on'), message('error', e.message));
      return;
    }
  }
  const summary = h('div', { id: 'sso-now' });
  const redirect = h('div', { id: 'sso-redirect' });
  const result = h('div', { id: 'sso-result' });
  const show = () => {
    fill(summary, ssoSummary(current));
    const uri = current?.redirect_uri ?? `${location.origin}/sso/callback`;
    fill(redirect, h('p', {}, 'Redirect URI to register at the provider: ', h('code', { id: 'sso-redirect-uri' }, uri), ' ',
      copyButton('Copy', () => uri)));
  };

  const input = (id, attrs = {}) => h('input', { id, name: id, autocomplete: 'off', disabled: !owner, ...attrs });
  const issuer = input('sso-issuer', { required: true, placeholder: 'https://login.example.com', value: current?.issuer ?? '' });
  const clientId = input('sso-client-id', { required: true, value: current?.client_id ?? '' });
  const secret = input('sso-client-secret', { type: 'password', autocomplete: 'new-password' });
  const publicClient = input('sso-public', { type: 'checkbox' });
  const groupsClaim = input('sso-groups-claim', { placeholder: 'groups (blank: groups are not synced)', value: current?.groups_claim ?? '' });
  const createPeople = input('sso-create-people', { type: 'checkbox', checked: current?.create_people ?? false });
  const requireSso = input('sso-require', { type: 'checkbox', checked: current?.require_sso ?? false });
  const syncSecret = () => {
    secret.disabled = !owner || publicClient.checked;
    secret.placeholder = publicClient.checked ? 'none: a public client'
      : current?.client_secret_set ? 'stored: leave blank to keep it' : 'the secret the provider gave Coffer';
  };
  publicClient.checked = current ? !current.client_secret_set : false;
  publicClient.addEventListener('change', syncSecret);

  const save = h('button', { type: 'submit' }, 'Save');
  const remove = h('button', {
    type: 'button',
    id: 'sso-remove',
    class: 'danger',
    onclick: async () => {
      if (!confirm(`Remove single sign-on from ${org}? People it created have no password: they cannot sign in until the operator gives them a reset code.`)) return;
      remove.disabled = true;
      try {
        await api('DELETE', base);
        current = null;
        fill(result, message('ok', 'Single sign-on is removed: people sign in with their passwords.'));
        show();
        syncSecret();
      } catch (e) {
        showError(result, e);
      } finally {
        remove.disabled = false;
        remove.hidden = !current;
      }
    },
  }, 'Remove');
  remove.hidden = !current;

  const form = h('form', {
    class: 'card',
    id: 'sso-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const body = {
        issuer: issuer.value.trim(),
        client_id: clientId.value.trim(),
        create_people: createPeople.checked,
        require_sso: requireSso.checked,
      };
      if (publicClient.checked) body.client_secret = '';
      else if (secret.value) body.client_secret = secret.value;
      else if (!current?.client_secret_set) {
        fill(result, message('error', 'Type the client secret the provider gave Coffer, or check “public client (no secret)”.'));
        return;
      }
      const claim = groupsClaim.value.trim();
      if (claim) body.groups_claim = claim;
      if (body.require_sso && !current?.require_sso
        && !confirm(`Refuse passwords in ${org}? Everyone, you included, then signs in through the provider only; link your own account first (Account → Link single sign-on).`)) return;
      save.disabled = true;
      fill(result, h('span', { class: 'muted' }, 'Checking the provider…'));
      try {
        current = await api('PUT', base, body);
        secret.value = '';
        publicClient.checked = !current.client_secret_set;
        fill(result, message('ok', 'Saved and checked against the provider.'));
        show();
        syncSecret();
        remove.hidden = false;
      } catch (e) {
        showError(result, e);
      } finally {
        save.disabled = false;
      }
    },
  },
  h('h2', {}, current ? 'Change the provider' : 'Set up single sign-on'),
  h('div', { class: 'grid' },
    h('label', { for: 'sso-issuer' }, 'Issuer URL'), issuer,
    h('label', { for: 'sso-client-id' }, 'Client id'), clientId,
    h('label', { for: 'sso-client-secret' }, 'Client secret'), secret,
    h('label', { for: 'sso-groups-claim' }, 'Groups claim'), groupsClaim),
  h('div', {}, h('label', { for: 'sso-public', class: 'inline' }, publicClient, ' Public client (no secret)')),
  h('div', {}, h('label', { for: 'sso-create-people', class: 'inline' }, createPeople, ' Create people on first sign-in')),
  h('div', {}, h('label', { for: 'sso-require', class: 'inline' }, requireSso, ' Require single sign-on (passwords refused)')),
  owner ? h('div', { class: 'toolbar' }, save, ' ', remove) : h('p', { class: 'muted small' }, 'Only the org’s owners change single sign-on.'),
  result);

  fill(main, h('h1', {}, `Single sign-on for ${org}`),
    h('p', { class: 'muted small' }, 'People sign in through the org’s OpenID provider. A provider account counts in this org only: it is linked to a person when they confirm it from their account page, or becomes a new member on its first sign-in when the org allows that. With a groups claim, each sign-in sets the person’s membership of the org’s groups of those names.'),
    summary, redirect, form);
  show();
  syncSecret();
}
