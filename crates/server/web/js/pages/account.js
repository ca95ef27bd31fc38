// Account: change your own password (the current one is asked for once one is set). A new
// password signs you out everywhere, this browser included.
import { api } from '../api.js';
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
  fill(main, form);
}
