// Jira (`/orgs/{org}/jira`, every member; docs/jira.md): whether the org is linked to a Jira
// site, and the signed-in person's own Jira account link. In a linked org a person sees an
// issue's secrets only if Jira lets them browse the issue, asked with their own Jira account, so
// each person links it once: "Link my Jira account" is a plain link (a top-level navigation that
// carries the session cookie) to `/integrations/jira/{org}/link`, which sends the browser to
// Jira's consent page; Jira sends it back here with `?linked=1`. A failed consent lands on the
// account page with the reason.
import { api, seg } from '../api.js';
import { h, fill, message, when, showError } from '../ui.js';

const KINDS = { cloud: 'Jira Cloud', 'data-center': 'Jira Data Center' };

export async function render(main, { org, session }) {
  const base = `/orgs/${seg(org)}/jira`;
  const admin = session.org === org && (session.role === 'admin' || session.role === 'owner');
  const result = h('div', { id: 'jira-result' });
  const site = h('section', { class: 'card', id: 'jira-site' });
  const mine = h('section', { class: 'card', id: 'jira-account' });
  const justLinked = new URLSearchParams(location.search).get('linked') === '1';
  let settings = null;

  const load = async () => {
    try {
      settings = await api('GET', base);
    } catch (e) {
      // 404 in one's own org: not linked (elsewhere a 404 is the org itself, said as it is).
      if (!(e.status === 404 && session.org === org)) throw e;
      settings = null;
    }
  };

  const show = () => {
    if (!settings) {
      fill(site, h('h2', {}, 'Jira'),
        message('warn', `${org} is not linked to Jira: Coffer’s own access decides who sees which secrets.`),
        admin ? h('p', {}, h('a', { href: `/orgs/${seg(org)}/admin/jira` }, 'Link the org to a Jira site')) : null);
      fill(mine);
      mine.hidden = true;
      return;
    }
    fill(site, h('h2', {}, 'Jira site'),
      h('p', {}, `${org} is linked to `, h('a', { href: settings.site, rel: 'noopener noreferrer', id: 'jira-site-url' }, settings.site),
        ` (${KINDS[settings.kind] ?? settings.kind}).`),
      h('p', { class: 'muted small' },
        'You see an issue’s secrets only if Coffer gives you access to them and Jira lets you browse the issue. ',
        'Coffer asks Jira as you, with your own Jira account: link it below.'),
      admin ? h('p', { class: 'small' }, h('a', { href: `/orgs/${seg(org)}/admin/jira` }, 'Jira settings of the org')) : null);
    mine.hidden = false;
    const me = settings.me;
    if (!me) {
      fill(mine, h('h2', {}, 'Your Jira account'),
        h('p', { id: 'jira-me' }, 'Your Jira account is not linked: until it is, you see no issue’s secrets in this org.'),
        h('p', { class: 'muted small' }, 'Jira asks you to allow Coffer to see what you may browse, then sends you back here.'),
        // A plain link: a top-level navigation that carries the session cookie to the server,
        // which sends the browser on to Jira.
        h('a', { href: `/integrations/jira/${seg(org)}/link`, id: 'jira-link', class: 'button' }, 'Link my Jira account'));
      return;
    }
    const unlink = h('button', {
      type: 'button',
      id: 'jira-unlink',
      class: 'danger',
      onclick: async () => {
        if (!confirm(`Unlink your Jira account from ${org}? Until you link it again you see no issue’s secrets in this org.`)) return;
        unlink.disabled = true;
        try {
          await api('DELETE', `${base}/account`);
          fill(result, message('ok', 'Your Jira account is unlinked.'));
          await load();
          show();
        } catch (e) {
          showError(result, e);
          unlink.disabled = false;
        }
      },
    }, 'Unlink');
    const row = (k, v) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v));
    fill(mine, h('h2', {}, 'Your Jira account'),
      justLinked ? message('ok', 'Your Jira account is linked.') : null,
      h('table', { id: 'jira-me' }, h('tbody', {},
        row('Display name', me.display_name),
        row('Account id', h('code', {}, me.account_id)),
        row('Linked', when(me.linked_at)))),
      h('div', { class: 'toolbar' },
        h('a', { href: `/integrations/jira/${seg(org)}/link`, id: 'jira-relink', class: 'button' }, 'Link another account'), ' ',
        unlink));
  };

  try {
    await load();
  } catch (e) {
    fill(main, h('h1', {}, 'Jira'), message('error', e.message));
    return;
  }
  fill(main, h('h1', {}, `Jira for ${org}`), result, site, mine);
  show();
}
