// Unit tests of the dashboard's pure logic: node --test static/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  applyDelta,
  backoffDelay,
  badgeFor,
  computePosture,
  emptyMessage,
  filterEdges,
  findingTarget,
  formatFreshness,
  formatPercent,
  formatRate,
  groupOf,
  hasTime,
  layoutKey,
  normalizeSnapshot,
  parseNamespaces,
  peerAuthText,
  sortEdges,
  streamURL,
  traffic,
  withNamespaces,
} from './model.mjs';

const edge = (id, status, rate, mtlsRatio, protocol = 'http') => {
  const [source, rest] = id.split('->');
  const target = rest.split(':')[0];
  return { id, source, target, protocol, rate, mtlsRatio, status };
};

const base = () =>
  normalizeSnapshot({
    generatedAt: '2026-11-26T21:00:00Z',
    window: '1m',
    stale: false,
    error: '',
    nodes: [
      { id: 'default/reviews', namespace: 'default', name: 'reviews', kind: 'service', inMesh: true, peerAuthentication: 'UNSET' },
      { id: 'default/ratings', namespace: 'default', name: 'ratings', kind: 'service', inMesh: true, peerAuthentication: 'STRICT' },
      { id: 'unknown', namespace: '', name: 'unknown', kind: 'unknown', inMesh: false, peerAuthentication: '' },
    ],
    edges: [
      edge('default/reviews->default/ratings:http', 'mixed', 2, 0.4),
      edge('unknown->default/ratings:http', 'open', 1, 0),
    ],
    findings: [
      { id: 'ready-for-strict:default/reviews', severity: 'info', message: 'i', nodes: ['default/reviews'] },
      { id: 'strict-would-cut:default/ratings', severity: 'warning', message: 'w', nodes: ['default/ratings'], edges: ['unknown->default/ratings:http'] },
    ],
  });

test('normalizeSnapshot sorts as the server and fills missing lists', () => {
  const s = base();
  assert.deepEqual(s.nodes.map((n) => n.id), ['default/ratings', 'default/reviews', 'unknown']);
  assert.deepEqual(s.findings.map((f) => f.severity), ['warning', 'info']);
  const empty = normalizeSnapshot({ generatedAt: 'x', nodes: null });
  assert.deepEqual([empty.nodes, empty.edges, empty.findings], [[], [], []]);
});

test('applyDelta upserts, removes, takes the header, keeps the order', () => {
  const s = base();
  const next = applyDelta(s, {
    generatedAt: '2026-11-26T21:00:05Z',
    window: '1m',
    stale: true,
    error: 'prometheus: down',
    nodes: [{ id: 'default/details', namespace: 'default', name: 'details', kind: 'service', inMesh: true, peerAuthentication: 'UNSET' }],
    edges: [edge('default/reviews->default/ratings:http', 'locked', 3, 1)],
    removedEdges: ['unknown->default/ratings:http'],
    removedNodes: ['unknown'],
    findings: [{ id: 'a-critical', severity: 'critical', message: 'c' }],
    removedFindings: ['ready-for-strict:default/reviews'],
  });
  assert.equal(next.generatedAt, '2026-11-26T21:00:05Z');
  assert.equal(next.stale, true);
  assert.equal(next.error, 'prometheus: down');
  assert.deepEqual(next.nodes.map((n) => n.id), ['default/details', 'default/ratings', 'default/reviews']);
  assert.deepEqual(next.edges, [edge('default/reviews->default/ratings:http', 'locked', 3, 1)]);
  assert.deepEqual(next.findings.map((f) => f.id), ['a-critical', 'strict-would-cut:default/ratings']);
  // s is untouched.
  assert.equal(s.edges.length, 2);
  assert.equal(s.edges[0].status, 'mixed');
});

test('applyDelta with only a new time (omitted lists, error cleared)', () => {
  const s = { ...base(), stale: true, error: 'x' };
  const next = applyDelta(s, { generatedAt: '2026-11-26T21:00:10Z', window: '1m', stale: false });
  assert.equal(next.generatedAt, '2026-11-26T21:00:10Z');
  assert.equal(next.stale, false);
  assert.equal(next.error, '');
  assert.deepEqual(next.nodes, s.nodes);
  assert.deepEqual(next.edges, s.edges);
});

test('computePosture is rate-weighted over edges of known security', () => {
  const p = computePosture([
    edge('a->b:http', 'locked', 3, 1),
    edge('b->c:http', 'mixed', 2, 0.25),
    edge('c->d:tcp', 'unknown', 2500, 0, 'tcp'),
    edge('u->c:http', 'open', 1, 0),
  ]);
  assert.ok(Math.abs(p.share - 3.5 / 6) < 1e-12);
  assert.equal(p.text, '58%');
  assert.deepEqual([p.locked, p.mixed, p.open, p.unknown], [1, 1, 1, 1]);
  assert.equal(computePosture([]).text, '—');
  assert.equal(computePosture([edge('a->b:http', 'unknown', 5, 0)]).known, false);
  assert.equal(computePosture([edge('a->b:http', 'locked', 999, 1), edge('b->c:http', 'open', 1, 0)]).text, '99%');
});

test('formats match the server', () => {
  assert.equal(formatPercent(0.4), '40%');
  assert.equal(formatPercent(0.001), '1%');
  assert.equal(formatPercent(1), '100%');
  assert.equal(formatRate(2.4, 'http'), '2.4 req/s');
  assert.equal(formatRate(0.25, 'grpc'), '0.25 req/s');
  assert.equal(formatRate(2500, 'tcp'), '2.5 kB/s');
  assert.equal(formatRate(512, 'tcp'), '512 B/s');
  assert.equal(formatFreshness(3000), 'updated 3s ago');
  assert.equal(formatFreshness(-500), 'updated 0s ago');
  assert.equal(formatFreshness(75000), 'updated 1m 15s ago');
});

test('badgeFor picks icon, text and label by status', () => {
  const nodes = new Map(base().nodes.map((n) => [n.id, n]));
  const locked = badgeFor(edge('default/reviews->default/ratings:http', 'locked', 1, 1), nodes);
  assert.deepEqual([locked.status, locked.icon, locked.text], ['locked', 'lock-locked.svg', '']);
  assert.match(locked.label, /^reviews → ratings \(http\): locked/);
  const mixed = badgeFor(edge('default/reviews->default/ratings:http', 'mixed', 1, 0.4), nodes);
  assert.deepEqual([mixed.icon, mixed.text], ['lock-mixed.svg', '40%']);
  assert.match(mixed.label, /40% mTLS/);
  assert.equal(badgeFor(edge('a->b:http', 'open', 1, 0)).icon, 'lock-open.svg');
  assert.equal(badgeFor(edge('a->b:http', 'open', 1, 0)).text, 'plain');
  assert.equal(badgeFor(edge('a->b:http', 'unknown', 1, 0)).icon, 'lock-unknown.svg');
  assert.equal(badgeFor(edge('a->b:http', 'surprise', 1, 0)).status, 'unknown');
});

test('layoutKey changes with the node set only', () => {
  const s = base();
  const statusOnly = applyDelta(s, { generatedAt: 'later', edges: [edge('default/reviews->default/ratings:http', 'locked', 9, 1)] });
  assert.equal(layoutKey(statusOnly), layoutKey(s));
  const newNode = applyDelta(s, { generatedAt: 'later', nodes: [{ id: 'shop/cart', namespace: 'shop', name: 'cart', kind: 'service' }] });
  assert.notEqual(layoutKey(newNode), layoutKey(s));
  assert.equal(groupOf({ id: 'unknown', kind: 'unknown', namespace: '' }), 'group:outside');
  assert.equal(groupOf({ id: 'shop/cart', kind: 'service', namespace: 'shop' }), 'ns:shop');
});

test('namespaces in the URL and the stream URL', () => {
  assert.deepEqual(parseNamespaces('?namespace=a,b&namespace=c&embed=1'), ['a', 'b', 'c']);
  assert.deepEqual(parseNamespaces(''), []);
  assert.equal(withNamespaces('?embed=1&namespace=x', ['a', 'b']), '?embed=1&namespace=a,b');
  assert.equal(withNamespaces('?namespace=x', []), '');
  assert.equal(withNamespaces('?embed=1', []), '?embed=1');
  assert.equal(streamURL('https://portal.example/tools/meshlock/?embed=1#x', ['a', 'b']), 'wss://portal.example/tools/meshlock/api/stream?namespace=a,b');
  assert.equal(streamURL('http://127.0.0.1:8080/', []), 'ws://127.0.0.1:8080/api/stream');
});

test('backoff doubles from 0.5s to 10s', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 50].map(backoffDelay), [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
});

test('sortEdges and filterEdges', () => {
  const edges = [edge('a->b:http', 'locked', 3, 1), edge('b->c:http', 'mixed', 1, 0.5), edge('c->d:http', 'open', 2, 0)];
  assert.deepEqual(sortEdges(edges, 'rate', 'descending').map((e) => e.rate), [3, 2, 1]);
  assert.deepEqual(sortEdges(edges, 'status', 'ascending').map((e) => e.status), ['open', 'mixed', 'locked']);
  assert.deepEqual(sortEdges(edges, 'source', 'descending').map((e) => e.source), ['c', 'b', 'a']);
  assert.deepEqual(filterEdges(edges, new Set(['open', 'mixed'])).map((e) => e.status), ['mixed', 'open']);
});

test('findingTarget prefers an edge, then a node', () => {
  const s = base();
  assert.deepEqual(findingTarget(s.findings[0], s), { kind: 'edge', id: 'unknown->default/ratings:http' });
  assert.deepEqual(findingTarget(s.findings[1], s), { kind: 'node', id: 'default/reviews' });
  assert.equal(findingTarget({ id: 'x', nodes: ['gone/x'] }, s), null);
});

test('traffic, texts, empty message', () => {
  const s = base();
  const inbound = traffic(s, 'default/ratings', 'in');
  assert.equal(inbound.length, 1);
  assert.equal(inbound[0].rate, 3);
  assert.ok(Math.abs(inbound[0].share - 0.8 / 3) < 1e-12);
  assert.match(peerAuthText('UNSET'), /PERMISSIVE/);
  assert.equal(emptyMessage(['nowhere'], s), 'No services in namespace nowhere');
  assert.equal(emptyMessage([], { generatedAt: '0001-01-01T00:00:00Z' }), 'No services yet: waiting for the first refresh');
  assert.equal(hasTime('0001-01-01T00:00:00Z'), false);
});
