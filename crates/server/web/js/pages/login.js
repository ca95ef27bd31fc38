// Sign-in: org, user name, password. The answer sets the session cookie; errors are shown as
// the server words them (wrong credentials, too many attempts with the wait).
import { api } from '../api.js';
import { h, fill, message } from '../ui.js';

export async function render(main, { session }) {
  const next = new URLSearchParams(location.search).get('next');
  const target = next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
  const out = h('div', { id: 'login-result' });
  const asked = new URLSearchParams(location.search).get('org');
  const org = h('input', { id: 'org', name: 'org', value: asked ?? session?.org ?? 'default', autocomplete: 'organization' });
  const user = h('input', { id: 'user', name: 'user', required: true, autocomplete: 'username', autofocus: true });
  const password = h('input', { id: 'password', name: 'password', type: 'password', required: true, autocomplete: 'current-password' });
  const button = h('button', { type: 'submit' }, 'Sign in');
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
  button, out,
  h('p', { class: 'muted small' }, 'No account yet? Ask an admin of your org for an invitation link. Lost your password? Ask the operator for a reset code (',
    h('code', {}, 'coffer passwd --reset-code'), ').'));
  fill(main, form);
}
