// Unit tests of identity and trust (static/trust.mjs): time left and its
// colour thresholds, the words of a root certificate, which observed
// principals are a mismatch, the edges principal-mismatch findings name,
// and the policy that loads api/identity once per refresh. node --test static/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { edgeElement, graphStyle, linkElement } from '../graph-model.mjs';
import { createStore } from '../state.mjs';
import {
  DAY_MS,
  HOUR_MS,
  MINUTE_MS,
  certLeftView,
  createIdentityLoader,
  daysLeft,
  expiryLevel,
  expiryView,
  formatDuration,
  keyText,
  mismatchEnds,
  namespacesView,
  normalizeIdentity,
  parsePrincipal,
  principalMarks,
  principalMismatchEdges,
  ROOT_CRITICAL_MS,
  ROOT_WARN_MS,
  WORKLOAD_WARN_MS,
  rootLimits,
  shortFingerprint,
  soonestRoot,
  soonestWorkloadCert,
  workloadLimits,
  worstSeverity,
} from '../trust.mjs';

const NOW = Date.parse('2026-12-07T10:00:00Z');
const at = (ms) => new Date(NOW + ms).toISOString();

test('formatDuration: the two largest units', () => {
  assert.equal(formatDuration(11 * HOUR_MS + 20 * MINUTE_MS + 59_000), '11 h 20 min');
  assert.equal(formatDuration(3 * DAY_MS + 4 * HOUR_MS + 5 * MINUTE_MS), '3 d 4 h');
  assert.equal(formatDuration(2 * DAY_MS + 7 * MINUTE_MS), '2 d');
  assert.equal(formatDuration(45 * MINUTE_MS), '45 min');
  assert.equal(formatDuration(5 * HOUR_MS), '5 h');
  assert.equal(formatDuration(30_000), '<1 min');
  assert.equal(formatDuration(-90 * MINUTE_MS), '1 h 30 min');
  assert.equal(formatDuration(NaN), '—');
});

test('expiryLevel: warning within 30 days, critical within 7 or expired', () => {
  const root = (ms) => expiryLevel(ms, 30 * DAY_MS, 7 * DAY_MS);
  assert.equal(root(31 * DAY_MS), 'ok');
  assert.equal(root(30 * DAY_MS + 1), 'ok');
  assert.equal(root(30 * DAY_MS), 'warning');
  assert.equal(root(19 * DAY_MS), 'warning');
  assert.equal(root(7 * DAY_MS + 1), 'warning');
  assert.equal(root(7 * DAY_MS), 'critical');
  assert.equal(root(1), 'critical');
  assert.equal(root(0), 'critical');
  assert.equal(root(-DAY_MS), 'critical');
  assert.equal(root(undefined), '');
});

test('expiryView: days left in words, short for the badge, coloured at 30 and 7 days', () => {
  const v = (ms) => expiryView(at(ms), NOW);
  assert.deepEqual(v(19 * DAY_MS + 20 * HOUR_MS), { known: true, level: 'warning', days: 19, expired: false, short: '19 d', text: 'expires in 19 days' });
  assert.equal(v(400 * DAY_MS).level, 'ok');
  assert.equal(v(400 * DAY_MS).text, 'expires in 400 days');
  assert.equal(v(DAY_MS + HOUR_MS).text, 'expires in 1 day');
  assert.equal(v(6 * DAY_MS).level, 'critical');
  const soon = v(5 * HOUR_MS + 10 * MINUTE_MS);
  assert.deepEqual([soon.text, soon.short, soon.level, soon.days], ['expires in 5 h 10 min', '5 h', 'critical', 0]);
  const gone = v(-3 * DAY_MS - HOUR_MS);
  assert.deepEqual([gone.text, gone.short, gone.level, gone.expired, gone.days], ['expired 3 days ago', 'expired', 'critical', true, -4]);
  assert.equal(v(-2 * HOUR_MS).text, 'expired 2 h ago');
  assert.deepEqual(expiryView(null, NOW), { known: false, level: '', text: 'unknown', short: '?', days: null, expired: false });
  assert.equal(expiryView('0001-01-01T00:00:00Z', NOW).known, false);
  // Other thresholds (the server's flags) are honoured.
  assert.equal(expiryView(at(19 * DAY_MS), NOW, { warnMs: 10 * DAY_MS, criticalMs: DAY_MS }).level, 'ok');
  assert.equal(daysLeft(at(DAY_MS - 1), NOW), 0);
  assert.equal(daysLeft('nope', NOW), null);
});

test('certLeftView: a proxy certificate’s time left, coloured under 6 h and once expired', () => {
  assert.deepEqual(certLeftView(at(11 * HOUR_MS + 20 * MINUTE_MS), NOW), { known: true, level: 'ok', text: '11 h 20 min left', expired: false });
  assert.deepEqual(certLeftView(at(6 * HOUR_MS), NOW).level, 'ok');
  assert.deepEqual(certLeftView(at(6 * HOUR_MS - 1), NOW), { known: true, level: 'warning', text: '5 h 59 min left', expired: false });
  assert.deepEqual(certLeftView(at(-2 * HOUR_MS), NOW), { known: true, level: 'critical', text: 'expired 2 h ago', expired: true });
  assert.deepEqual(certLeftView(undefined, NOW), { known: false, level: '', text: 'unknown', expired: false });
  assert.equal(certLeftView(at(3 * HOUR_MS), NOW, { warnMs: 2 * HOUR_MS }).level, 'ok');
});

test('a root in words: short fingerprint, key, namespaces collapsed past five', () => {
  const fp = 'ab12cd34ef56a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6';
  assert.equal(shortFingerprint(fp), 'ab:12:cd:34:ef:56:a7:b8…');
  assert.equal(shortFingerprint('AB:12'), 'ab:12');
  assert.equal(shortFingerprint(''), '?');
  assert.equal(keyText({ keyAlgorithm: 'RSA', keySize: 2048 }), 'RSA 2048-bit');
  assert.equal(keyText({ keyAlgorithm: 'ECDSA', keySize: 256 }), 'ECDSA P-256');
  assert.equal(keyText({ keyAlgorithm: 'ECDSA', keySize: 384 }), 'ECDSA P-384');
  assert.equal(keyText({ keyAlgorithm: 'Ed25519', keySize: 256 }), 'Ed25519');
  assert.equal(keyText({}), 'unknown');
  assert.deepEqual(namespacesView(['shop', 'default', 'istio-system']), { count: 3, names: ['default', 'istio-system', 'shop'], collapsed: false, text: 'default, istio-system, shop' });
  const many = Array.from({ length: 42 }, (_, i) => `ns-${String(i).padStart(2, '0')}`);
  const v = namespacesView(many);
  assert.deepEqual([v.count, v.collapsed, v.text, v.names.length], [42, true, '42 namespaces', 42]);
  assert.equal(namespacesView([]).text, 'no namespace');
  assert.equal(namespacesView(['a', 'b', 'c', 'd', 'e']).collapsed, false);
  assert.equal(namespacesView(['a', 'b', 'c', 'd', 'e', 'f']).text, '6 namespaces');
});

const answer = () => ({
  trustDomain: 'cluster.local',
  trustDomainAliases: ['old.local'],
  roots: [
    { fingerprint: 'bb', subject: 'O=new', notBefore: '2026-12-01T00:00:00Z', notAfter: '2036-12-01T00:00:00Z', keyAlgorithm: 'RSA', keySize: 2048, selfSigned: true, namespaces: ['default'] },
    { fingerprint: 'aa', subject: 'O=old', notBefore: '2016-12-01T00:00:00Z', notAfter: '2026-12-27T00:00:00Z', keyAlgorithm: 'ECDSA', keySize: 256, selfSigned: false, namespaces: null },
  ],
  ca: { rootExpiry: '2026-12-27T00:00:00Z', chainExpiry: null },
  workloads: [
    { id: 'default/reviews-v1', certExpiry: '2026-12-07T21:00:00Z' },
    { id: 'default/ratings-v1', certExpiry: '2026-12-07T13:00:00Z' },
    { id: 'shop/cart', certExpiry: null },
  ],
});

test('normalizeIdentity: the soonest root first, every field present; null for no inventory', () => {
  const id = normalizeIdentity(answer());
  assert.deepEqual(id.roots.map((r) => r.fingerprint), ['aa', 'bb']);
  assert.deepEqual(id.roots[0].namespaces, []);
  assert.deepEqual(id.ca, { rootExpiry: '2026-12-27T00:00:00Z', chainExpiry: null });
  assert.equal(soonestRoot(id).subject, 'O=old');
  assert.equal(soonestWorkloadCert(id).id, 'default/ratings-v1');
  assert.deepEqual(normalizeIdentity({}), {
    trustDomain: '', trustDomainAliases: [], roots: [], ca: { rootExpiry: null, chainExpiry: null }, workloads: [],
    thresholds: { root: { warnMs: ROOT_WARN_MS, criticalMs: ROOT_CRITICAL_MS }, workload: { warnMs: WORKLOAD_WARN_MS } },
  });
  assert.equal(soonestRoot(normalizeIdentity({})), null);
  for (const bad of [null, 'text', [], { roots: 'x' }]) assert.equal(normalizeIdentity(bad), null);
});

test('principalMarks: an observed principal not among the expected is a mismatch', () => {
  assert.deepEqual(parsePrincipal('spiffe://cluster.local/ns/shop/sa/cart'), { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'cart' });
  assert.equal(parsePrincipal('cluster.local/ns/shop/sa/cart'), null);
  const node = {
    expectedPrincipals: ['spiffe://cluster.local/ns/shop/sa/cart'],
    observedPrincipals: ['spiffe://cluster.local/ns/shop/sa/cart', 'spiffe://cluster.local/ns/shop/sa/default', 'spiffe://old.local/ns/shop/sa/cart', 'spiffe://evil.example/ns/shop/sa/cart'],
  };
  const m = principalMarks(node);
  assert.deepEqual(m.observed.map((o) => o.match), ['expected', 'mismatch', 'mismatch', 'mismatch']);
  assert.equal(m.mismatches, 3);
  // With the inventory's aliases, the same ServiceAccount under an alias is no mismatch.
  const a = principalMarks(node, { trustDomain: 'cluster.local', aliases: ['old.local'] });
  assert.deepEqual(a.observed.map((o) => o.match), ['expected', 'mismatch', 'alias', 'mismatch']);
  assert.equal(a.mismatches, 2);
  // Nothing expected: nothing to compare with.
  assert.deepEqual(principalMarks({ observedPrincipals: ['spiffe://x/ns/a/sa/b'] }).observed, [{ principal: 'spiffe://x/ns/a/sa/b', match: 'unchecked' }]);
  assert.deepEqual(principalMarks({}), { expected: [], observed: [], mismatches: 0 });
});

const mismatchFinding = {
  id: 'principal-mismatch:shop/cart',
  kind: 'principal-mismatch',
  severity: 'warning',
  message: 'shop/cart presents spiffe://cluster.local/ns/shop/sa/default, not spiffe://cluster.local/ns/shop/sa/cart.',
  nodes: ['shop/cart'],
  edges: ['shop/cart->shop/orders:http'],
};

test('principalMismatchEdges: the edges principal-mismatch findings name, kept per findings list', () => {
  const findings = [mismatchFinding, { id: 'x', kind: 'strict-would-cut', severity: 'warning', edges: ['a->b:http'] }];
  const ids = principalMismatchEdges(findings);
  assert.deepEqual([...ids], ['shop/cart->shop/orders:http']);
  assert.equal(principalMismatchEdges(findings), ids);
  assert.equal(principalMismatchEdges(undefined).size, 0);
  const e = { id: 'shop/cart->shop/orders:http', source: 'shop/cart', target: 'shop/orders', sourcePrincipal: 'spiffe://cluster.local/ns/shop/sa/default' };
  assert.deepEqual([...mismatchEnds(e, findings)], ['client']);
  // Named by its principal only (the finding's node is a workload behind the target service).
  const byPrincipal = { ...mismatchFinding, nodes: ['shop/orders-v1'], message: 'presents spiffe://cluster.local/ns/x/sa/y' };
  assert.deepEqual([...mismatchEnds({ ...e, sourcePrincipal: '', destinationPrincipal: 'spiffe://cluster.local/ns/x/sa/y' }, [byPrincipal])], ['server']);
  assert.equal(mismatchEnds({ ...e, id: 'other' }, findings).size, 0);
});

test('the graph marks an edge of a principal-mismatch finding, and a bundle holding one', () => {
  const e = { id: 'a->b:http', source: 'a', target: 'b', protocol: 'http', rate: 1, mtlsRatio: 1, status: 'locked' };
  assert.equal(edgeElement(e).classes, 'locked');
  assert.equal(edgeElement(e, new Set(['a->b:http']), new Set(['a->b:http'])).classes, 'locked principal-mismatch breaks');
  const link = { id: 'link:x', source: 'ns:a', target: 'ns:b', edges: 2, status: 'locked', edgeIDs: ['a->b:http', 'c->d:http'] };
  assert.equal(linkElement(link, new Set(), new Set(['c->d:http'])).classes, 'link locked principal-mismatch');
  assert.equal(linkElement(link).classes, 'link locked');
  const style = graphStyle().find((s) => s.selector === 'edge.principal-mismatch');
  assert.ok(style && style.style['line-outline-width'] > 0 && style.style['source-arrow-shape'] === 'diamond');
});

test('worstSeverity: the worst root finding, for the header’s badge', () => {
  const f = (kind, severity) => ({ id: `${kind}:${severity}`, kind, severity });
  assert.equal(worstSeverity([f('root-cert-expiring', 'warning'), f('root-cert-mismatch', 'critical')]), 'critical');
  assert.equal(worstSeverity([f('root-cert-mismatch', 'warning'), f('strict-would-cut', 'critical')]), 'warning');
  assert.equal(worstSeverity([]), '');
});

// fakeAPI answers api/identity calls by hand: each call waits until answered.
function fakeAPI() {
  const calls = [];
  const request = (path) =>
    new Promise((resolve, reject) => {
      calls.push({ path, resolve, reject });
    });
  const answerLast = (res = { ok: true, status: 200, body: answer() }) => calls.at(-1).resolve(res);
  return { calls, request, answerLast };
}

const tick = () => new Promise((r) => setImmediate(r));

test('the loader asks once when the panel opens and at most once per refresh while it is open', async () => {
  const api = fakeAPI();
  const seen = [];
  const loader = createIdentityLoader({ request: api.request, path: () => 'api/identity?namespace=shop', onChange: (p) => seen.push(p.status), now: () => NOW });
  assert.equal(loader.open('r1'), true);
  assert.equal(api.calls[0].path, 'api/identity?namespace=shop');
  // Opened again, or the same refresh again, while it is on its way: nothing more.
  assert.equal(loader.open('r1'), false);
  assert.equal(loader.refreshed('r1'), false);
  api.answerLast();
  await loader.settled();
  assert.deepEqual(seen, ['loading', 'ready']);
  // The same refresh (the stream's first snapshot after the page's, a delta
  // of the same refresh, the panel opened again): no new call.
  assert.equal(loader.refreshed('r1'), false);
  assert.equal(loader.open('r1'), false);
  assert.equal(api.calls.length, 1);
  // A new refresh: one call.
  assert.equal(loader.refreshed('r2'), true);
  assert.equal(loader.refreshed('r2'), false);
  assert.equal(api.calls.length, 2);
  // Refreshes while that call is on its way: one call follows it, for the last.
  assert.equal(loader.refreshed('r3'), false);
  assert.equal(loader.refreshed('r4'), false);
  api.answerLast();
  await tick();
  assert.equal(api.calls.length, 3);
  api.answerLast();
  await loader.settled();
  assert.equal(api.calls.length, 3);
  assert.equal(loader.refreshed('r4'), false);
});

test('the loader: a refresh asked while its own call is on its way adds none; close drops a waiting one', async () => {
  const api = fakeAPI();
  const loader = createIdentityLoader({ request: api.request });
  loader.open('r1');
  loader.refreshed('r2'); // waits
  loader.refreshed('r1'); // the call on its way is of r1: r2 still waits
  loader.close(); // the panel closed: r2 is not asked for
  api.answerLast();
  await loader.settled();
  assert.equal(api.calls.length, 1);
  assert.equal(api.calls[0].path, 'api/identity');
});

test('the loader says a failure in the API’s words, keeps nothing new, and asks again on open or retry', async () => {
  const api = fakeAPI();
  const patches = [];
  const loader = createIdentityLoader({ request: api.request, onChange: (p) => patches.push(p), now: () => NOW });
  loader.open('r1');
  api.answerLast({ ok: false, status: 403, body: { error: 'you may not list ConfigMaps' } });
  await loader.settled();
  assert.deepEqual(patches.at(-1), { status: 'error', error: 'Forbidden (403): you may not list ConfigMaps' });
  // The same refresh is not asked again by a snapshot, but opening the panel again asks.
  assert.equal(loader.refreshed('r1'), false);
  assert.equal(loader.open('r1'), true);
  api.calls.at(-1).reject(new Error('network down'));
  await loader.settled();
  assert.equal(patches.at(-1).status, 'error');
  assert.match(patches.at(-1).error, /could not be reached: network down/);
  // Try again: asked at once.
  assert.equal(loader.retry('r1'), true);
  assert.equal(loader.retry('r1'), false); // not twice at a time
  api.answerLast();
  await loader.settled();
  const ready = patches.at(-1);
  assert.deepEqual([ready.status, ready.refresh, ready.at, ready.data.trustDomain], ['ready', 'r1', NOW, 'cluster.local']);
  // An answer that is no inventory is an error too.
  loader.refreshed('r2');
  api.answerLast({ ok: true, status: 200, body: 'hello' });
  await loader.settled();
  assert.deepEqual(patches.at(-1), { status: 'error', error: 'The server’s answer was not a trust inventory.' });
  assert.equal(api.calls.length, 4);
});

test('the store: opening and closing the identity panel, and the loader’s answers, notify identity', () => {
  const store = createStore();
  const seen = [];
  store.subscribe('identity', (s, d) => seen.push([s.identity.open, s.identity.status, d]));
  store.setIdentityOpen(true);
  store.setIdentityOpen(true); // no change, no notice
  store.setIdentity({ status: 'loading' });
  store.setIdentity({ status: 'ready', data: { roots: [] }, refresh: 'r1', at: 1 });
  store.setIdentityOpen(false);
  assert.deepEqual(seen, [
    [true, 'idle', { opened: true }],
    [true, 'loading', {}],
    [true, 'ready', {}],
    [false, 'ready', { closed: true }],
  ]);
  assert.deepEqual(store.state.identity.data, { roots: [] });
});

test('the server\'s thresholds colour roots and proxy certificates', () => {
  const id = normalizeIdentity({ thresholds: { rootWarnSeconds: 60 * 86400, rootCriticalSeconds: 14 * 86400, workloadWarnSeconds: 3 * 3600 } });
  const now = Date.parse('2026-12-07T00:00:00Z');
  // 40 days out: no finding by default, a warning under --cert-warn=60d.
  const in40 = new Date(now + 40 * DAY_MS).toISOString();
  assert.equal(expiryView(in40, now).level, 'ok');
  assert.equal(expiryView(in40, now, rootLimits(id)).level, 'warning');
  assert.equal(expiryView(new Date(now + 10 * DAY_MS).toISOString(), now, rootLimits(id)).level, 'critical');
  // 4 hours left: a warning by default (6 h), none under --workload-cert-warn=3h.
  const in4h = new Date(now + 4 * 3600 * 1000).toISOString();
  assert.equal(certLeftView(in4h, now).level, 'warning');
  assert.equal(certLeftView(in4h, now, workloadLimits(id)).level, 'ok');
  assert.deepEqual(rootLimits(null), { warnMs: ROOT_WARN_MS, criticalMs: ROOT_CRITICAL_MS });
});
