// Account: change your own password (the current one is asked for once one is set). A new
// password signs you out everywhere, this browser included. Below: link your account to the
// org's single sign-on (`/sso/{org}/link`: you confirm at the org's provider, which sends you
// back here with `?org={org}&sso=linked`). A failed Jira account link lands here too, with
// `?jira=failed` and the reason in a cookie (see `jiraFailure`).
import { api, seg } from '../api.js';
import { h, fill, message } from '../ui.js';

export async function render(main, { session }) {
  const out = h('div', { id: 'password-result' });
  const field = (id, label, autocomplete) => [
    h('label', { for: id }, label),
    h('input', { id, name: id, type: 'password', autocomplete, required: id !== 'current' }),
  ];
  const button = h('button', { type: 'submit' }, 'Change password');
  const form = h('form', {
    class: 'card narrow',
    id: 'password-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const v = (k) => form.elements.namedItem(k).value;
      if (v('new') !== v('again')) {
        fill(out, message('error', 'The two new passwords differ; type the same one twice.'));
        return;
      }
      button.disabled = true;
      try {
        await api('PUT', '/me/password', { password: v('new'), current_password: v('current') || null });
        fill(out, message('ok', 'Password changed. You were signed out everywhere; sign in again with the new one.'),
          h('a', { href: '/login' }, 'Sign in'));
        form.reset();
      } catch (e) {
        fill(out, message('error', e.message));
        button.disabled = false;
      }
    },
  },
  h('h1', {}, `Your account: ${session.user}`),
  field('current', 'Current password', 'current-password'),
  field('new', 'New password (at least 12 characters)', 'new-password'),
  field('again', 'Repeat the new password', 'new-password'),
  button, out);
  fill(main, jiraFailure(), form, session.operator ? null : ssoSection(session));
}

/**
 * A failed Jira account link lands here with `?jira=failed`; the server's sentence is in the
 * short-lived `coffer_jira_notice` cookie (never in the URL, so a link from elsewhere cannot put
 * words on this page). It is shown once: the cookie is cleared as it is read.
 */
function jiraFailure() {
  if (new URLSearchParams(location.search).get('jira') !== 'failed') return null;
  const raw = document.cookie.split('; ').find((c) => c.startsWith('coffer_jira_notice='));
  if (raw === undefined) return null;
  document.cookie = 'coffer_jira_notice=; Max-Age=0; Path=/account; SameSite=Lax';
  let text;
  try {
    text = decodeURIComponent(raw.slice('coffer_jira_notice='.length));
  } catch {
    text = 'the Jira account could not be linked';
  }
  if (!text) return null;
  return h('div', { class: 'narrow', id: 'jira-link-failed' },
    message('error', `Linking your Jira account failed: ${text}`));
}

/** Linking the signed-in person to the org's OpenID provider (the operator belongs to no org). */
function ssoSection(session) {
  const query = new URLSearchParams(location.search);
  const linked = query.get('sso') === 'linked' && query.get('org') === session.org;
  return h('section', { class: 'card narrow', id: 'sso-link-section' },
    h('h2', {}, 'Single sign-on'),
    linked ? message('ok', "Your account is linked to the org's single sign-on.") : null,
    h('p', { class: 'muted small' },
      `If ${session.org} signs people in through its OpenID provider, link your account once: you confirm at the provider, `,
      'and afterwards "Sign in with SSO" signs you in as yourself.'),
    // A plain link: a top-level navigation that carries the session cookie to the server, which
    // sends the browser on to the provider.
    h('a', { href: `/sso/${seg(session.org)}/link`, id: 'sso-link', class: 'button' }, 'Link single sign-on'));
}
