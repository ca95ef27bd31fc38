// The UI's entry point: finds the session, draws the header and the suspension banner, and
// hands the page to the module for the path. Routes (all served as this same shell):
//   /login · /invite · /l/{id} (one-time link) · /r/{id} (request) · /account
//   /orgs/{org} · /orgs/{org}/issues/{KEY} · /orgs/{org}/shared · /orgs/{org}/jira
//   /orgs/{org}/admin/{members,access,sso,jira,storage,keys,audit} · /admin/byok (operator)
import { api, setCsrf, ApiError } from './api.js';
import { h, fill, message } from './ui.js';

const main = document.getElementById('main');

const routes = [
  [/^\/login$/, () => import('./pages/login.js'), false],
  [/^\/invite$/, () => import('./pages/invite.js'), false],
  [/^\/l\/([^/]+)$/, () => import('./pages/link.js'), false],
  [/^\/r\/([^/]+)$/, () => import('./pages/request.js'), false],
  [/^\/account$/, () => import('./pages/account.js'), true],
  [/^\/orgs\/([^/]+)$/, () => import('./pages/home.js'), true],
  [/^\/orgs\/([^/]+)\/issues\/([^/]+)$/, () => import('./pages/issue.js'), true],
  [/^\/orgs\/([^/]+)\/shared$/, () => import('./pages/shared.js'), true],
  [/^\/orgs\/([^/]+)\/jira$/, () => import('./pages/jira.js'), true],
  [/^\/orgs\/([^/]+)\/admin\/members$/, () => import('./pages/members.js'), true],
  [/^\/orgs\/([^/]+)\/admin\/access$/, () => import('./pages/access.js'), true],
  // Single sign-on's page is in access.js (the server embeds a fixed list of UI files).
  [/^\/orgs\/([^/]+)\/admin\/sso$/, () => import('./pages/sso.js'), true],
  [/^\/orgs\/([^/]+)\/admin\/jira$/, () => import('./pages/admin_jira.js'), true],
  [/^\/orgs\/([^/]+)\/admin\/storage$/, () => import('./pages/storage.js'), true],
  [/^\/orgs\/([^/]+)\/admin\/keys$/, () => import('./pages/keys.js'), true],
  [/^\/orgs\/([^/]+)\/admin\/audit$/, () => import('./pages/audit.js'), true],
  [/^\/admin\/byok$/, () => import('./pages/admin_byok.js'), true],
];

function nav(session, org) {
  const link = (href, text) => h('a', { href, 'aria-current': location.pathname === href ? 'page' : null }, text);
  const o = encodeURIComponent(org);
  // Jira's settings are for the org's admins and owners (the server refuses anyone else).
  const admin = session.org === org && (session.role === 'admin' || session.role === 'owner');
  // The operator belongs to no org: it sees the deployment's pages only.
  const links = session.operator ? [link('/admin/byok', 'BYOK overview')] : [
    link(`/orgs/${o}`, 'Secrets'),
    link(`/orgs/${o}/shared`, 'Shared'),
    link(`/orgs/${o}/jira`, 'Jira'),
    link(`/orgs/${o}/admin/members`, 'Members'),
    link(`/orgs/${o}/admin/access`, 'Access'),
    link(`/orgs/${o}/admin/sso`, 'Single sign-on'),
    admin ? link(`/orgs/${o}/admin/jira`, 'Jira settings') : null,
    link(`/orgs/${o}/admin/storage`, 'Storage'),
    link(`/orgs/${o}/admin/keys`, 'Encryption keys'),
    link(`/orgs/${o}/admin/audit`, 'Audit'),
  ];
  fill(document.getElementById('nav'), links);
  const out = h('button', {
    type: 'button',
    class: 'link',
    onclick: async () => {
      await api('DELETE', '/session').catch(() => {});
      location.assign('/login');
    },
  }, 'Sign out');
  const who = session.operator ? `${session.user} · operator` : `${session.user} · ${session.org} · ${session.role}`;
  fill(document.getElementById('who'), h('a', { href: '/account', class: 'muted' }, who), ' ', out);
}

/** The permanent banner while the org is suspended: why, and how to restore it. */
async function banner(org) {
  const el = document.getElementById('banner');
  try {
    const info = await api('GET', `/orgs/${encodeURIComponent(org)}`);
    if (info.status !== 'suspended') {
      el.hidden = true;
      return;
    }
    fill(el,
      h('strong', {}, `Org “${info.slug}” is suspended. `),
      `Why: ${info.suspended_reason || 'no reason recorded'}. `,
      'Secrets cannot be read or written until its encryption keys work again. ',
      'To restore: re-enable the KMS key (or give Coffer’s role access to it again) in your AWS account; Coffer checks the keys regularly and restores the org by itself, or ',
      h('a', { href: `/orgs/${encodeURIComponent(org)}/admin/keys` }, 'check the keys now'),
      '.');
    el.hidden = false;
  } catch {
    el.hidden = true;
  }
}

async function start() {
  const path = location.pathname.replace(/\/+$/, '') || '/';
  let session = null;
  try {
    session = await api('GET', '/session');
    setCsrf(session.csrf_token);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) {
      fill(main, message('error', e.message));
      return;
    }
  }
  if (path === '/') {
    const home = session?.operator ? '/admin/byok' : `/orgs/${encodeURIComponent(session?.org ?? '')}`;
    location.replace(session ? home : '/login');
    return;
  }
  const route = routes.find(([re]) => re.test(path));
  if (!route) {
    fill(main, message('error', `There is no page at ${path}.`));
    return;
  }
  const [re, load, needsSession] = route;
  if (needsSession && !session) {
    location.replace(`/login?next=${encodeURIComponent(path)}`);
    return;
  }
  const params = path.match(re).slice(1).map(decodeURIComponent);
  const org = params[0] && path.startsWith('/orgs/') ? params[0] : session?.org;
  if (session) {
    nav(session, org);
    if (org) await banner(org);
  }
  const page = await load();
  fill(main);
  try {
    await page.render(main, { session, params, org });
  } catch (e) {
    main.append(message('error', e.message || String(e)));
  }
}

start();
