// A stand-in for Jira around the Custom UI pages, for browser tests only (outside static/, so
// never deployed). In Jira the page around the app's iframe provides `window.__bridge`, and
// @forge/bridge sends every call through `__bridge.callBridge(name, payload)`; this file
// provides one that does what Jira does with the calls the pages make, against a real Coffer.
//
// Load it before the page's bundle, after a config object (Playwright:
//   await context.addInitScript(() => { window.__FORGE_FAKE__ = { remoteUrl: 'https://…', fit: … } });
//   await context.addInitScript({ path: 'integrations/jira-forge/testing/fake-host.js' });
// ). The config is read at every call, so a test may change it between steps:
//   remoteUrl       the Coffer (the `coffer` remote's configured URL)
//   fit             the Forge invocation token: a string, or a function
//                   ({ via: 'invokeRemote'|'requestRemote', path, method }) => string | Promise
//                   (e.g. one exposed with page.exposeFunction that signs with the test key)
//   userToken       optional; sent as x-forge-oauth-user on invokeRemote only, as Forge does
//   systemToken     optional; sent as x-forge-oauth-system on invokeRemote only
//   context         what view.getContext() answers (default: an issue panel on TEST-1)
//   remoteEndpoint  what permissions.remote.get answers for `coffer` (set by permissions.remote.set)
//   fetch           optional fetch to use instead of window.fetch (e.g. to avoid CORS in tests)
// Every call is recorded in window.__FORGE_FAKE__.calls as { name, payload }.
//
// What is emulated, and how faithfully (Jira's host code is not public):
// * invoke (invokeRemote): POST/PUT… of the JSON body to remoteUrl + path with the FIT and the
//   OAuth headers; answers { success: true, payload: { status, headers, body } } (the shape
//   @forge/bridge 7's typings give), whatever the status. Real Jira may instead reject on a
//   non-2xx answer; the pages handle both.
// * fetchRemote (requestRemote): the request as @forge/bridge serialised it (body as text, or,
//   for FormData, a JSON object whose `file…` fields are data: URLs, rebuilt here into
//   multipart/form-data) with the FIT and no OAuth headers; answers { body: text, headers,
//   status, statusText }.
// * getContext, navigate (router.open), __permission__remoteGet / __permission__remoteSet.
(() => {
  const cfg = () => {
    const c = window.__FORGE_FAKE__;
    if (!c || !c.remoteUrl) throw new Error('fake-host.js: set window.__FORGE_FAKE__ = { remoteUrl, fit, … } first');
    c.calls ??= [];
    return c;
  };
  const value = async (v, arg) => (typeof v === 'function' ? v(arg) : v);
  const url = (c, path) => c.remoteUrl.replace(/\/+$/, '') + path;
  const doFetch = (c, ...a) => (c.fetch ?? window.fetch.bind(window))(...a);

  async function invoke(c, { path, method = 'POST', headers = {}, body }) {
    const h = new Headers(headers);
    h.set('Content-Type', 'application/json');
    h.set('Authorization', `Bearer ${await value(c.fit, { via: 'invokeRemote', path, method })}`);
    const user = await value(c.userToken);
    if (user) h.set('x-forge-oauth-user', user);
    const system = await value(c.systemToken);
    if (system) h.set('x-forge-oauth-system', system);
    const res = await doFetch(c, url(c, path), { method, headers: h, body: method === 'GET' ? undefined : JSON.stringify(body ?? {}) });
    const text = await res.text();
    let json;
    try { json = text ? JSON.parse(text) : {}; } catch { json = text; }
    const resHeaders = {};
    res.headers.forEach((v, k) => { resHeaders[k] = [v]; });
    return { success: true, payload: { status: res.status, headers: resHeaders, body: json } };
  }

  async function fetchRemote(c, { remoteKey, fetchRequestInit, isMultipartFormData }) {
    if (remoteKey !== 'coffer') throw new Error(`fake-host.js: unknown remote ${remoteKey}`);
    const { path, method = 'GET', headers = [] } = fetchRequestInit;
    const h = new Headers(headers);
    h.set('Authorization', `Bearer ${await value(c.fit, { via: 'requestRemote', path, method })}`);
    let body = fetchRequestInit.body ?? undefined;
    if (isMultipartFormData) {
      const fields = JSON.parse(body);
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) {
        if (k.startsWith('__')) continue;
        if (k.startsWith('file')) {
          const bin = atob(String(v).split(',')[1] ?? '');
          form.append(k, new Blob([Uint8Array.from(bin, (ch) => ch.charCodeAt(0))], { type: fields[`__${k}Type`] }), fields[`__${k}Name`]);
        } else {
          form.append(k, v);
        }
      }
      body = form;
      h.delete('content-type');
    }
    const res = await doFetch(c, url(c, path), { method, headers: h, body: method === 'GET' ? undefined : body });
    const resHeaders = {};
    res.headers.forEach((v, k) => { resHeaders[k] = v; });
    return { body: await res.text(), headers: resHeaders, status: res.status, statusText: res.statusText };
  }

  const DEFAULT_CONTEXT = {
    moduleKey: 'coffer-issue-panel',
    extension: { type: 'jira:issuePanel', issue: { id: '10001', key: 'TEST-1', type: 'Task' }, project: { id: '10000', key: 'TEST', type: 'software' } },
    locale: 'en-US',
  };

  window.__bridge = {
    callBridge: async (name, payload) => {
      const c = cfg();
      c.calls.push({ name, payload });
      switch (name) {
        case 'getContext': return c.context ?? DEFAULT_CONTEXT;
        case 'invoke': return invoke(c, payload);
        case 'fetchRemote': return fetchRemote(c, payload);
        case 'navigate': return true;
        case '__permission__remoteGet': return { results: [{ key: 'coffer', configured: { endpoint: c.remoteEndpoint ?? null } }] };
        case '__permission__remoteSet':
          c.remoteEndpoint = payload?.remotes?.find((r) => r.key === 'coffer')?.configured?.endpoint ?? null;
          return undefined;
        default: return undefined;
      }
    },
  };
})();
