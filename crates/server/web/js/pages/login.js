// Sign-in: org, user name, password. The answer sets the session cookie; errors are shown as
// the server words them (wrong credentials, too many attempts with the wait). "Sign in with SSO"
// goes to the org's OpenID provider instead (`/sso/{org}/login`); when single sign-on fails the
// server sends the browser back here with `?sso=failed` and its sentence in the short-lived
// `coffer_sso_error` cookie (never in the URL, so a link from elsewhere cannot put words on this
// page), shown in the same place and then forgotten.
import { api } from '../api.js';
import { h, fill, message } from '../ui.js';

export async function render(main, { session }) {
  const query = new URLSearchParams(location.search);
  const next = query.get('next');
  const target = next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
  const out = h('div', { id: 'login-result' });
  const asked = query.get('org');
  const org = h('input', { id: 'org', name: 'org', value: asked ?? session?.org ?? 'default', autocomplete: 'organization' });
  const user = h('input', { id: 'user', name: 'user', required: true, autocomplete: 'username', autofocus: true });
  const password = h('input', { id: 'password', name: 'password', type: 'password', required: true, autocomplete: 'current-password' });
  const button = h('button', { type: 'submit' }, 'Sign in');
  // A top-level navigation (not a form submission: the server answers with a redirect to the
  // provider, which `form-action 'self'` would block).
  const sso = h('button', {
    type: 'button',
    id: 'sso-login',
    class: 'secondary',
    onclick: () => {
      const slug = org.value.trim();
      if (!slug) {
        fill(out, message('error', 'Type your organization first: single sign-on goes through your org’s own provider.'));
        org.focus();
        return;
      }
      location.assign(`/sso/${encodeURIComponent(slug)}/login`);
    },
  }, 'Sign in with SSO');
  const form = h('form', {
    class: 'card narrow',
    onsubmit: async (ev) => {
      ev.preventDefault();
      button.disabled = true;
      fill(out);
      try {
        await api('POST', '/session', { org: org.value.trim(), user: user.value.trim(), password: password.value });
        location.assign(target);
      } catch (e) {
        fill(out, message('error', e.message));
        password.value = '';
        button.disabled = false;
      }
    },
  },
  h('h1', {}, 'Sign in to Coffer'),
  h('label', { for: 'org' }, 'Organization (empty for the operator)'), org,
  h('label', { for: 'user' }, 'User name'), user,
  h('label', { for: 'password' }, 'Password'), password,
  button,
  h('p', { class: 'muted small' }, 'or, if your org uses single sign-on:'),
  sso, out,
  h('p', { class: 'muted small' }, 'No account yet? Ask an admin of your org for an invitation link. Lost your password? Ask the operator for a reset code (',
    h('code', {}, 'coffer passwd --reset-code'), ').'));
  fill(main, form);
  if (query.get('sso') === 'failed') {
    const kv = document.cookie.split('; ').find((c) => c.startsWith('coffer_sso_error='));
    document.cookie = 'coffer_sso_error=; Max-Age=0; Path=/login; SameSite=Strict';
    let said = 'Single sign-on did not complete; try again.';
    if (kv) {
      try { said = decodeURIComponent(kv.slice('coffer_sso_error='.length)); } catch { /* keep the generic sentence */ }
    }
    fill(out, message('error', said));
  }
}
