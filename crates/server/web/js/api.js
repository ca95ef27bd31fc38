// The one way pages talk to Coffer's JSON API: same-origin fetch with the session cookie, the
// CSRF token on every request that changes something, and every error turned into an ApiError
// whose message is the server's sentence (it names what was wrong and what to do).

let csrf = null;

/** Remembers the session's CSRF token (from sign-in or GET /api/v1/session). */
export function setCsrf(token) {
  csrf = token;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function failure(res) {
  let code = 'http_' + res.status;
  let message = `the server answered ${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && body.error) {
      code = body.error.code;
      message = body.error.message;
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, code, message);
}

/**
 * Calls `/api/v1` + `path`; resolves to the JSON answer (or null for 204). `extra` adds headers
 * (a request's token on the outsider's page).
 */
export async function api(method, path, body, extra = {}) {
  const headers = { Accept: 'application/json', ...extra };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch('/api/v1' + path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'unreachable', `Coffer could not be reached (${e.message}); check your connection and retry`);
  }
  if (!res.ok) throw await failure(res);
  if (res.status === 204) return null;
  return res.json();
}

/** PUTs envelope bytes: to Coffer (session + CSRF) or to a presigned bucket URL (no credentials). */
export async function putEnvelope(url, bytes, presigned) {
  const headers = { 'Content-Type': 'application/octet-stream' };
  if (!presigned && csrf) headers['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch(url, {
      method: 'PUT',
      headers,
      body: bytes,
      credentials: presigned ? 'omit' : 'same-origin',
      mode: presigned ? 'cors' : 'same-origin',
    });
  } catch (e) {
    throw new ApiError(0, 'upload_failed', presigned
      ? `the browser could not upload to the org's bucket (${e.message}); check the bucket's CORS configuration on Admin → Storage`
      : `the upload failed (${e.message}); retry`);
  }
  if (!res.ok) {
    if (presigned) throw new ApiError(res.status, 'upload_failed', `the org's bucket refused the upload (${res.status}); check the bucket policy on Admin → Storage`);
    throw await failure(res);
  }
}

/** Path segment, percent-encoded. */
export const seg = (s) => encodeURIComponent(s);
