// Unit tests of the page's snapshot logic (static/model.mjs): node --test static/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { edge, base, lookback, serverPosture, withLookback } from './fixtures.mjs';
import { postureView, peerAuthText, emptyMessage, hasTime } from '../format.mjs';
import {
  applyDelta,
  backoffDelay,
  filterEdges,
  findingTarget,
  groupOf,
  idleCount,
  isIdle,
  normalizeLookback,
  normalizePosture,
  normalizeSnapshot,
  parseNamespaces,
  postureOf,
  shownEdges,
  sortEdges,
  streamURL,
  traffic,
  withNamespaces,
} from '../model.mjs';

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

test('postureOf sums a subset of edges as graph.ComputePosture does', () => {
  const p = postureOf([
    edge('a->b:http', 'locked', 3, 1),
    edge('b->c:grpc', 'mixed', 2, 0.25, 'grpc'),
    edge('c->d:tcp', 'unknown', 2500, 0, 'tcp'),
    edge('d->e:tcp', 'locked', 1000, 1, 'tcp'),
    edge('u->c:http', 'open', 1, 0),
  ]);
  assert.deepEqual(p.counts, { locked: 2, mixed: 1, open: 1, unknown: 1 });
  assert.equal(p.http.rate, 6);
  assert.ok(Math.abs(p.http.ratio - 3.5 / 6) < 1e-12);
  assert.deepEqual([p.tcp.rate, p.tcp.ratio, p.tcp.unknownRate], [1000, 1, 2500]);
  // Bytes are never added to requests.
  assert.equal(postureView(p).text, '58% of requests · 100% of TCP bytes');
  assert.equal(postureView(postureOf([])).text, '—');
  assert.equal(postureOf([edge('a->b:http', 'unknown', 5, 0)]).http.ratio, null);
  assert.equal(postureOf([edge('a->b:http', 'locked', 0, 1)]).http.ratio, null);
  assert.equal(postureView(postureOf([edge('a->b:http', 'locked', 999, 1), edge('b->c:http', 'open', 1, 0)])).text, '99% of requests');
  // An invalid rate is left out.
  assert.equal(postureOf([edge('a->b:http', 'locked', NaN, 1), edge('b->c:http', 'open', 1, 0)]).http.ratio, 0);
});

test('the posture comes with the snapshot and, whole, with every delta', () => {
  const s = normalizeSnapshot({ ...base(), posture: serverPosture({ rate: 3, mtlsRate: 0.8, ratio: 0.8 / 3 }, {}) });
  assert.equal(postureView(s.posture).text, '27% of requests');
  const next = applyDelta(s, { generatedAt: 'later', posture: serverPosture({ rate: 3, mtlsRate: 3, ratio: 1 }, {}, { locked: 2, mixed: 0, open: 0, unknown: 0 }) });
  assert.equal(postureView(next.posture).text, '100% of requests');
  assert.equal(next.posture.counts.locked, 2);
  // A delta without one (an older server) keeps the last.
  assert.deepEqual(applyDelta(s, { generatedAt: 'later' }).posture, s.posture);
  assert.deepEqual(normalizePosture({ counts: { locked: 1 } }).counts, { locked: 1, mixed: 0, open: 0, unknown: 0 });
});

test('applyDelta keeps a list nothing changed, and updates in place without reordering', () => {
  const s = base();
  const statusOnly = applyDelta(s, { generatedAt: 'later', edges: [edge('default/reviews->default/ratings:http', 'locked', 9, 1)] });
  // The views skip what did not change: the same arrays.
  assert.equal(statusOnly.nodes, s.nodes);
  assert.equal(statusOnly.findings, s.findings);
  assert.notEqual(statusOnly.edges, s.edges);
  assert.deepEqual(statusOnly.edges.map((e) => [e.id, e.status]), [
    ['default/reviews->default/ratings:http', 'locked'],
    ['unknown->default/ratings:http', 'open'],
  ]);
  assert.equal(s.edges[0].status, 'mixed');
  // A new edge is sorted in.
  const added = applyDelta(s, { generatedAt: 'later', edges: [edge('a/x->default/ratings:http', 'open', 1, 0)] });
  assert.deepEqual(added.edges.map((e) => e.id), ['a/x->default/ratings:http', 'default/reviews->default/ratings:http', 'unknown->default/ratings:http']);
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

test('the look-back comes with the snapshot and, whole, with every delta', () => {
  const s = withLookback();
  assert.deepEqual(s.lookback, { window: '7d', state: 'ready', from: '2026-11-24T12:00:00Z', to: '2026-12-01T12:00:00Z', error: '' });
  // A server without one: null, and a delta without one keeps the last.
  assert.equal(base().lookback, null);
  assert.deepEqual(applyDelta(s, { generatedAt: 'later' }).lookback, s.lookback);
  const next = applyDelta(s, { generatedAt: 'later', lookback: lookback({ state: 'loading', from: '2026-11-30T00:00:00Z', error: 'x' }) });
  assert.deepEqual([next.lookback.state, next.lookback.from, next.lookback.error], ['loading', '2026-11-30T00:00:00Z', 'x']);
  // Off, with Go's nil and zero times; an unknown state claims nothing.
  assert.deepEqual(normalizeLookback({ window: '0s', state: 'off', from: null, to: '0001-01-01T00:00:00Z' }), { window: '0s', state: 'off', from: null, to: null, error: '' });
  assert.equal(normalizeLookback({ window: '7d', state: 'exploded' }).state, 'off');
  assert.equal(normalizeLookback('7d'), null);
});

test('idle edges: hidden unless asked for or kept, out of the posture and the traffic', () => {
  const s = withLookback();
  const idle = s.edges.filter(isIdle).map((e) => e.id);
  assert.deepEqual(idle, ['default/ratings->default/reviews:http']);
  assert.equal(shownEdges(s.edges, false).length, 2);
  assert.equal(shownEdges(s.edges, true).length, 3);
  // The callers an enforce plan would cut show during its preview.
  assert.deepEqual(shownEdges(s.edges, false, new Set(idle)).map((e) => e.id), s.edges.map((e) => e.id));
  // Counted as the server counts: the idle open edge is no open edge now.
  assert.deepEqual(postureOf(s.edges).counts, { locked: 0, mixed: 1, open: 1, unknown: 0 });
  assert.deepEqual(traffic(s, 'default/reviews', 'in'), []);
  assert.equal(traffic(s, 'default/ratings', 'out').length, 0);
  assert.equal(idleCount(s, 'default/reviews', 'in'), 1);
  assert.equal(idleCount(s, 'default/ratings', 'in'), 0);
  // By rate, idle edges come after every live one (a live 0 too).
  const zero = edge('z->y:http', 'locked', 0, 1);
  assert.deepEqual(sortEdges([...s.edges, zero], 'rate', 'descending').map((e) => e.rate + (e.idle ? ' idle' : '')), ['2', '1', '0', '0 idle']);
});
