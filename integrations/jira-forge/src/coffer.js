// The two ways the Custom UI reaches the customer's Coffer (the `coffer` remote in manifest.yml):
//
// * callCoffer: invokeRemote, proxied by Forge, which adds the user's Jira token for Coffer's
//   permission checks. Metadata and one-time tickets only: never a secret value or a key.
// * requestCoffer: requestRemote, browser → Coffer without Atlassian's proxy (and without the
//   user's Jira token). Values, data keys and sealed envelopes travel only here, each request
//   authorised by a ticket from callCoffer.
//
// Both carry a Forge Invocation Token that Coffer verifies. Coffer's errors are
// `{"error": {"code", "message"}}` with a non-401 status; 401 only means the token was refused.
import { invokeRemote, requestRemote } from '@forge/bridge';

export const REMOTE_KEY = 'coffer';

export class CofferError extends Error {
  constructor(message, { code = 'error', status = 0 } = {}) {
    super(message);
    this.name = 'CofferError';
    this.code = code;
    this.status = status;
  }
}

const FIT_REFUSED =
  'Coffer did not accept the request from Jira (it refused the Forge invocation token). A Jira admin should check on Apps → Coffer → Configure that this site is connected to Coffer.';

function parseMaybeJson(v) {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

function fromBody(body, status) {
  const e = body && typeof body === 'object' ? body.error : null;
  if (status === 401) return new CofferError(FIT_REFUSED, { code: 'fit_refused', status });
  if (e && typeof e === 'object' && (e.message || e.code)) {
    return new CofferError(String(e.message || e.code), { code: String(e.code || 'error'), status });
  }
  if (typeof e === 'string') return new CofferError(e, { status });
  return new CofferError(`Coffer answered HTTP ${status || 'error'} without an explanation.`, { code: 'http_error', status });
}

// invokeRemote rejects on a non-2xx answer. What the rejection carries is up to Jira; look for
// Coffer's JSON error in the usual places before falling back to the rejection's own text.
function fromRejection(err) {
  const text = String(err?.message ?? err ?? '');
  const status = Number(err?.status ?? err?.statusCode ?? err?.response?.status ?? 0) || 0;
  if (status === 401 || /could not verify the Forge Invocation Token/i.test(text)) {
    return new CofferError(FIT_REFUSED, { code: 'fit_refused', status: 401 });
  }
  for (const candidate of [err?.body, err?.response?.body, err?.payload, err?.data]) {
    const body = parseMaybeJson(candidate);
    if (body && typeof body === 'object' && body.error) return fromBody(body, status);
  }
  const at = text.indexOf('{');
  if (at >= 0) {
    const body = parseMaybeJson(text.slice(at));
    if (body && typeof body === 'object' && body.error) return fromBody(body, status);
  }
  return new CofferError(
    `Coffer could not be reached through Jira (${text || 'no answer'}). If this persists, a Jira admin should check the Coffer URL on Apps → Coffer → Configure.`,
    { code: 'unreachable', status },
  );
}

// The bridge resolves invokeRemote with `{status, headers, body}`; the documentation also
// describes resolving with the JSON body itself. Accept both.
function unwrapInvoke(res) {
  if (res && typeof res === 'object' && typeof res.status === 'number' && 'body' in res) {
    const body = parseMaybeJson(res.body);
    if (res.status < 200 || res.status >= 300 || (body && typeof body === 'object' && body.error)) {
      throw fromBody(body, res.status);
    }
    return body ?? {};
  }
  const body = parseMaybeJson(res);
  if (body && typeof body === 'object' && body.error) throw fromBody(body, 0);
  return body ?? {};
}

/**
 * POSTs `body` (JSON) to `path` on Coffer through invokeRemote and returns Coffer's JSON answer.
 * `required` lists the fields the answer must have; a missing one is an error (shown with the
 * answer's own `message` when it has one).
 */
export async function callCoffer(path, body = {}, required = []) {
  let res;
  try {
    res = await invokeRemote({ path, method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  } catch (err) {
    throw fromRejection(err);
  }
  const out = unwrapInvoke(res);
  if (!out || typeof out !== 'object' || required.some((k) => !(k in out))) {
    const why = out && typeof out === 'object' && typeof out.message === 'string' ? out.message : 'Coffer’s answer was not understood.';
    throw new CofferError(why, { code: 'bad_answer' });
  }
  return out;
}

/** A path on the remote from a path or an absolute URL Coffer handed out (e.g. a `put_url`). */
export function remotePath(pathOrUrl) {
  const s = String(pathOrUrl ?? '');
  if (s.startsWith('/')) return s;
  let u;
  try {
    u = new URL(s);
  } catch {
    throw new CofferError(`Coffer handed out an unusable address: ${s}`, { code: 'bad_answer' });
  }
  return `${u.pathname}${u.search}`;
}

/**
 * Sends a request to Coffer with requestRemote and returns its JSON answer (null for 204).
 * `body` is a JSON-able object (sent as JSON) or a FormData (sent as multipart/form-data).
 */
export async function requestCoffer(path, { method = 'POST', headers = {}, body } = {}) {
  const init = { path: remotePath(path), method, headers: { ...headers } };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await requestRemote(REMOTE_KEY, init);
  } catch (err) {
    throw new CofferError(
      `The browser could not reach Coffer directly (${err?.message ?? err}). Coffer must be reachable from this browser over HTTPS and allow requests from Jira (CORS).`,
      { code: 'unreachable' },
    );
  }
  if (res.status === 204) return null;
  const text = await res.text();
  const json = parseMaybeJson(text);
  if (!res.ok) throw fromBody(json, res.status);
  if (!json || typeof json !== 'object') throw new CofferError('Coffer’s answer was not understood.', { code: 'bad_answer', status: res.status });
  return json;
}
