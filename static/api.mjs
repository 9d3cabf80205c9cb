// meshlock's client of its own JSON API: requests relative to the page (so
// the base path of a proxy or a port-forward is kept), JSON in and out, and
// the words for a failed call. No DOM: the fetch function is passed in, so
// static/test/api.test.mjs runs it under Node.

// createAPI returns request(path, {method, payload, signal}), which answers
// {ok, status, body} (body parsed from JSON, else the text, else null) and
// throws only when the server cannot be reached (or the call is aborted).
// base is the URL relative paths resolve against: the page's own
// (document.baseURI) in the browser.
export function createAPI({ fetch = globalThis.fetch, base } = {}) {
  return async function request(path, { method = 'GET', payload, signal } = {}) {
    const init = { method, signal, headers: { Accept: 'application/json' }, cache: 'no-store' };
    if (payload !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(payload);
    }
    const res = await fetch(base ? new URL(path, base).toString() : path, init);
    const text = await res.text();
    let parsed = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON: errorText shows the text */
    }
    return { ok: res.ok, status: res.status, body: parsed };
  };
}

// unreachableText is what a call that never got an answer says.
export function unreachableText(err) {
  return `The server could not be reached: ${err?.message || err}`;
}

// errorText is what a failed API call says: the server's {"error": ...},
// else the HTTP status.
export function errorText(status, body) {
  let msg = '';
  if (body && typeof body === 'object' && typeof body.error === 'string') msg = body.error;
  else if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body);
      if (parsed && typeof parsed.error === 'string') msg = parsed.error;
    } catch {
      msg = body.trim().slice(0, 300);
    }
  }
  const prefix = { 400: 'Bad request', 401: 'Not signed in', 403: 'Forbidden', 404: 'Not found', 409: 'Conflict', 413: 'Too large' }[status];
  if (!status) return msg || 'The server could not be reached.';
  const head = prefix ? `${prefix} (${status})` : `Error ${status}`;
  return msg ? `${head}: ${msg}` : head;
}
