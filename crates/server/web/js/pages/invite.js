// /invite#CODE: accepting an invitation. The code is in the URL fragment, which the browser
// never sends to a server (so it stays out of access logs and Referer headers); the page reads
// it and posts it in a JSON body. A new person chooses their password here and is signed in; a
// person who already has an account accepts while signed in as themselves.
import { api, setCsrf } from '../api.js';
import { h, fill, message } from '../ui.js';

export async function render(main, { session }) {
  const code = decodeURIComponent(location.hash.slice(1));
  const out = h('div', { id: 'accept-result' });
  if (!code.startsWith('coffer_i_')) {
    fill(main, h('div', { class: 'card narrow' }, h('h1', {}, 'Accept an invitation'),
      message('error', 'This link has no invitation code; open the whole link you were sent.')));
    return;
  }
  const button = h('button', { type: 'submit' }, 'Accept invitation');
  if (session) {
    // Signed in: accept as this person (their existing account keeps its password).
    const form = h('form', {
      class: 'card narrow',
      id: 'accept-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        button.disabled = true;
        try {
          const r = await api('POST', '/invitations/accept', { code, token: false });
          history.replaceState(null, '', '/invite');
          fill(out, message('ok', `You joined ${r.org} as ${r.role}.`),
            h('p', {}, 'Sign in to it: ', h('a', { href: `/login?org=${encodeURIComponent(r.org)}` }, `sign in to ${r.org}`)));
        } catch (e) {
          fill(out, message('error', e.message));
          button.disabled = false;
        }
      },
    },
    h('h1', {}, 'Accept an invitation'),
    h('p', {}, `You are signed in as ${session.user}. Accepting adds this account to the org that invited it.`),
    button, out);
    fill(main, form);
    return;
  }
  const password = h('input', { id: 'password', name: 'password', type: 'password', required: true, autocomplete: 'new-password', minlength: 12 });
  const again = h('input', { id: 'password-again', name: 'password-again', type: 'password', required: true, autocomplete: 'new-password' });
  const form = h('form', {
    class: 'card narrow',
    id: 'accept-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      fill(out);
      if (password.value !== again.value) {
        fill(out, message('error', 'The two passwords differ; type the same one twice.'));
        return;
      }
      button.disabled = true;
      try {
        const r = await api('POST', '/invitations/accept', { code, password: password.value, token: false });
        history.replaceState(null, '', '/invite');
        const s = await api('POST', '/session', { org: r.org, user: r.user, password: password.value });
        setCsrf(s.csrf_token);
        location.assign(`/orgs/${encodeURIComponent(r.org)}`);
      } catch (e) {
        fill(out, message('error', e.message));
        password.value = '';
        again.value = '';
        button.disabled = false;
      }
    },
  },
  h('h1', {}, 'Accept an invitation'),
  h('p', { class: 'muted small' }, 'Choose the password for your new Coffer account (at least 12 characters). If you already have an account, sign in first and open this link again.'),
  h('label', { for: 'password' }, 'New password'), password,
  h('label', { for: 'password-again' }, 'Repeat it'), again,
  button, out);
  fill(main, form);
}
