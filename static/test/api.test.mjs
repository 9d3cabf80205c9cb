// Unit tests of the API client (static/api.mjs) with a fake fetch:
// node --test static/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { createAPI, errorText, unreachableText } from '../api.mjs';

test('errorText shows the server message with the status', () => {
  assert.equal(errorText(409, { error: 'DestinationRule default/reviews changed since' }), 'Conflict (409): DestinationRule default/reviews changed since');
  assert.equal(errorText(403, '{"error":"forbidden by RBAC"}'), 'Forbidden (403): forbidden by RBAC');
  assert.equal(errorText(502, 'Bad Gateway'), 'Error 502: Bad Gateway');
  assert.equal(errorText(500, ''), 'Error 500');
  assert.equal(errorText(0, ''), 'The server could not be reached.');
});

test('createAPI resolves paths against the page, sends and reads JSON', async () => {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    if (url.endsWith('/plain')) return { ok: false, status: 502, text: async () => 'Bad Gateway' };
    if (url.endsWith('/empty')) return { ok: true, status: 204, text: async () => '' };
    return { ok: true, status: 200, text: async () => '{"planId":"p1"}' };
  };
  const request = createAPI({ fetch, base: 'https://portal.example/tools/meshlock/?embed=1' });
  const res = await request('api/enforce', { method: 'POST', payload: { scope: 'mesh' } });
  assert.deepEqual(res, { ok: true, status: 200, body: { planId: 'p1' } });
  assert.equal(calls[0].url, 'https://portal.example/tools/meshlock/api/enforce');
  assert.equal(calls[0].init.method, 'POST');
  assert.equal(calls[0].init.body, '{"scope":"mesh"}');
  assert.equal(calls[0].init.headers['Content-Type'], 'application/json');
  assert.equal(calls[0].init.cache, 'no-store');
  // Not JSON: the text, for errorText.
  const plain = await request('api/plain');
  assert.deepEqual(plain, { ok: false, status: 502, body: 'Bad Gateway' });
  assert.equal(errorText(plain.status, plain.body), 'Error 502: Bad Gateway');
  assert.equal((await request('api/empty')).body, null);
  assert.equal(calls[1].init.method, 'GET');
  assert.equal(calls[1].init.body, undefined);
  // No base: the path as given (the browser resolves it against the page).
  await createAPI({ fetch })('api/actions');
  assert.equal(calls.at(-1).url, 'api/actions');
});

test('an unreachable server throws, and says so', async () => {
  const request = createAPI({
    fetch: async () => {
      throw new TypeError('Failed to fetch');
    },
  });
  await assert.rejects(request('api/actions'), TypeError);
  assert.equal(unreachableText(new TypeError('Failed to fetch')), 'The server could not be reached: Failed to fetch');
});
