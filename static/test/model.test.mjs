// Unit tests of the dashboard's pure logic: node --test static/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  actionSummary,
  applyDelta,
  applyState,
  breakEdgeId,
  canUndo,
  diffStats,
  enforceRequest,
  enforceTarget,
  errorText,
  foldDiff,
  lineDiff,
  modeLabel,
  planSummary,
  scopeLabel,
  undoURL,
  backoffDelay,
  badgeFor,
  GATEWAY_PEER_AUTH_TEXT,
  callerTLSText,
  destinationRuleText,
  displayName,
  nodeName,
  nodeRow,
  normalizePosture,
  portText,
  postureOf,
  postureView,
  tlsFailureText,
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

// A posture as the server sends it (graph.ComputePosture).
const serverPosture = (http, tcp, counts = { locked: 2, mixed: 1, open: 0, unknown: 3 }) => ({
  http: { unit: 'req/s', rate: 0, mtlsRate: 0, ratio: null, unknownRate: 0, ...http },
  tcp: { unit: 'B/s', rate: 0, mtlsRate: 0, ratio: null, unknownRate: 0, ...tcp },
  counts,
});

test('postureView words the server posture as web/page.go does: requests and bytes apart', () => {
  // The same cases as web/page_test.go's TestPostureView.
  const both = postureView(serverPosture({ rate: 100, mtlsRate: 87, ratio: 0.87 }, { rate: 2500, mtlsRate: 2500, ratio: 1 }));
  assert.equal(both.text, '87% of requests · 100% of TCP bytes');
  assert.equal(both.share, '0.870000');
  assert.deepEqual(both.parts.map((x) => [x.key, x.percent, x.label, x.share]), [
    ['http', '87%', 'of requests', '0.870000'],
    ['tcp', '100%', 'of TCP bytes', '1.000000'],
  ]);
  assert.match(both.parts[1].title, /of 2\.5 kB\/s is mutual TLS/);
  assert.deepEqual(both.counts, { locked: 2, mixed: 1, open: 0, unknown: 3 });

  const tcpOnly = postureView(serverPosture({}, { rate: 4000, mtlsRate: 1000, ratio: 0.25 }));
  assert.equal(tcpOnly.text, '25% of TCP bytes');
  assert.equal(tcpOnly.share, '0.250000');
  assert.equal(postureView(serverPosture({ rate: 1000, mtlsRate: 999, ratio: 0.999 }, { unknownRate: 5000 })).text, '99% of requests');
  const none = postureView(serverPosture({ unknownRate: 3 }, {}));
  assert.deepEqual([none.text, none.share, none.parts], ['—', '', []]);
  // A snapshot without a posture (the zero one): nothing claimed, zero counts.
  assert.deepEqual(postureView(undefined), { parts: [], text: '—', share: '', counts: { locked: 0, mixed: 0, open: 0, unknown: 0 } });
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

test('nodes: gateways, ServiceAccounts, ports, callers that differ', () => {
  const sa = { id: 'shop/sa:checkout', namespace: 'shop', name: 'sa:checkout', kind: 'serviceaccount', inMesh: true };
  assert.equal(displayName(sa), 'sa:checkout');
  assert.equal(displayName({ ...sa, name: 'checkout' }), 'sa:checkout');
  assert.equal(nodeName('shop/sa:checkout', new Map([[sa.id, { ...sa, name: 'checkout' }]])), 'sa:checkout');

  // The same texts as web/page_test.go's TestPageNodeTable.
  assert.equal(portText({ port: 9080, targetPort: 8080, protocol: 'http', peerAuthentication: 'STRICT' }), '9080 → 8080 http STRICT');
  assert.equal(portText({ port: 9090, targetPort: 0, protocol: '', peerAuthentication: 'PERMISSIVE' }), '9090 → ? auto PERMISSIVE');
  assert.equal(portText({ port: 443, targetPort: 8443, protocol: 'https', peerAuthentication: 'STRICT' }, true), '443 → 8443 https');
  assert.equal(callerTLSText({ caller: 'default/productpage', tls: 'ISTIO_MUTUAL', rule: 'default/reviews' }), 'default/productpage: ISTIO_MUTUAL (default/reviews)');
  assert.equal(callerTLSText({ caller: 'default/legacy', tls: '' }), 'default/legacy: no TLS setting');
  assert.match(destinationRuleText('VARIES'), /different modes/);

  const reviews = nodeRow({
    id: 'default/reviews',
    namespace: 'default',
    name: 'reviews',
    kind: 'service',
    inMesh: true,
    peerAuthentication: 'UNSET',
    destinationRuleTLS: 'VARIES',
    callerTLS: [
      { caller: 'default/productpage', tls: 'ISTIO_MUTUAL', rule: 'default/reviews' },
      { caller: 'default/legacy', tls: '' },
    ],
    ports: [{ port: 9080, targetPort: 8080, protocol: 'http', peerAuthentication: 'STRICT' }],
  });
  assert.deepEqual(reviews, {
    id: 'default/reviews',
    namespace: 'default',
    name: 'reviews',
    kind: 'service',
    sidecar: 'yes',
    peerAuth: 'UNSET',
    drTLS: 'varies by caller',
    callers: ['default/productpage: ISTIO_MUTUAL (default/reviews)', 'default/legacy: no TLS setting'],
    ports: ['9080 → 8080 http STRICT'],
  });
  const gw = nodeRow({ id: 'istio-system/gw', namespace: 'istio-system', name: 'gw', kind: 'gateway', inMesh: true, peerAuthentication: 'STRICT', ports: [{ port: 443, targetPort: 8443, protocol: 'https', peerAuthentication: 'STRICT' }] });
  assert.equal(gw.peerAuth, GATEWAY_PEER_AUTH_TEXT);
  assert.equal(GATEWAY_PEER_AUTH_TEXT, "does not apply to a gateway's listeners");
  assert.deepEqual(gw.ports, ['443 → 8443 https']);
  assert.deepEqual([nodeRow(sa).name, nodeRow(sa).drTLS, nodeRow(sa).ports], ['sa:checkout', 'none', []]);
  assert.equal(groupOf({ id: 'istio-system/gw', kind: 'gateway', namespace: 'istio-system' }), 'ns:istio-system');
});

test('edges failing at the TLS handshake', () => {
  const failing = { ...edge('a->b:http', 'open', 3, 0), tlsFailureRate: 2 };
  assert.equal(tlsFailureText(failing), 'failing at TLS handshake: 2.0 req/s');
  assert.equal(tlsFailureText({ ...edge('a->b:tcp', 'unknown', 0, 0, 'tcp'), tlsFailureRate: 0.5 }), 'failing at TLS handshake: 0.50 conn/s');
  assert.equal(tlsFailureText(edge('a->b:http', 'locked', 3, 1)), '');
  assert.equal(tlsFailureText({ ...edge('a->b:http', 'locked', 3, 1), tlsFailureRate: 0 }), '');
  const b = badgeFor(failing);
  assert.equal(b.tlsFailing, true);
  assert.match(b.label, /open, plaintext; failing at TLS handshake: 2\.0 req\/s$/);
  assert.equal(badgeFor(edge('a->b:http', 'open', 1, 0)).tlsFailing, false);
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

// ---- enforcing mTLS ----

test('enforceTarget reads a button and scopeLabel names it', () => {
  assert.deepEqual(enforceTarget('mesh', 'x', 'y'), { scope: 'mesh', namespace: '', service: '' });
  assert.deepEqual(enforceTarget('namespace', 'default'), { scope: 'namespace', namespace: 'default', service: '' });
  assert.deepEqual(enforceTarget('service', 'default', 'reviews'), { scope: 'service', namespace: 'default', service: 'reviews' });
  assert.equal(enforceTarget('service', 'default', ''), null);
  assert.equal(enforceTarget('namespace', ''), null);
  assert.equal(enforceTarget('galaxy'), null);
  assert.equal(scopeLabel(enforceTarget('mesh')), 'mesh');
  assert.equal(scopeLabel(enforceTarget('namespace', 'default')), 'namespace default');
  assert.equal(scopeLabel(enforceTarget('service', 'default', 'reviews')), 'service default/reviews');
});

test('enforceRequest sends only the fields the scope uses', () => {
  assert.deepEqual(enforceRequest(enforceTarget('mesh'), 'peerauthentication', true), { scope: 'mesh', mode: 'peerauthentication', dryRun: true });
  assert.deepEqual(enforceRequest(enforceTarget('namespace', 'default'), 'destinationrule', false), {
    scope: 'namespace',
    mode: 'destinationrule',
    dryRun: false,
    namespace: 'default',
  });
  assert.deepEqual(enforceRequest(enforceTarget('service', 'shop', 'cart'), 'destinationrule', 1), {
    scope: 'service',
    mode: 'destinationrule',
    dryRun: true,
    namespace: 'shop',
    service: 'cart',
  });
  assert.equal(JSON.stringify(enforceRequest(enforceTarget('mesh'), 'destinationrule', true)), '{"scope":"mesh","mode":"destinationrule","dryRun":true}');
});

test('modeLabel', () => {
  assert.equal(modeLabel('destinationrule'), 'DestinationRule ISTIO_MUTUAL (client side)');
  assert.equal(modeLabel('peerauthentication'), 'PeerAuthentication STRICT (server side)');
  assert.equal(modeLabel('other'), 'other');
});

test('lineDiff marks added and removed lines', () => {
  const prev = 'spec:\n  host: reviews\n  subsets:\n  - name: v1\n';
  const next = 'spec:\n  host: reviews\n  subsets:\n  - name: v1\n  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTUAL\n';
  const d = lineDiff(prev, next);
  assert.deepEqual(d.map((l) => l.op).join(''), '    +++');
  assert.equal(d[6].text, '      mode: ISTIO_MUTUAL');
  assert.deepEqual(diffStats(d), { added: 3, removed: 0 });

  // A changed line: removed then added.
  const c = lineDiff('a\nmode: DISABLE\nz', 'a\nmode: ISTIO_MUTUAL\nz');
  assert.deepEqual(c, [
    { op: ' ', text: 'a' },
    { op: '-', text: 'mode: DISABLE' },
    { op: '+', text: 'mode: ISTIO_MUTUAL' },
    { op: ' ', text: 'z' },
  ]);
  // A create: everything added; no previous text is not a line.
  assert.deepEqual(lineDiff('', 'a\nb\n'), [
    { op: '+', text: 'a' },
    { op: '+', text: 'b' },
  ]);
  assert.deepEqual(lineDiff(undefined, 'a'), [{ op: '+', text: 'a' }]);
  // Unchanged: every line kept.
  assert.deepEqual(diffStats(lineDiff('a\nb', 'a\nb\n')), { added: 0, removed: 0 });
  // Deleted lines, CRLF.
  assert.deepEqual(lineDiff('a\r\nb\r\nc', 'a\nc').map((l) => l.op + l.text), [' a', '-b', ' c']);
  assert.deepEqual(lineDiff('', ''), []);
});

test('foldDiff keeps context around changes', () => {
  const lines = Array.from({ length: 20 }, (_, i) => `l${i}`);
  const d = lineDiff(lines.join('\n'), [...lines.slice(0, 10), 'new', ...lines.slice(10)].join('\n'));
  const f = foldDiff(d, 2);
  assert.deepEqual(f.map((l) => (l.op === '…' ? `…${l.count}` : l.op + l.text)), ['…8', ' l8', ' l9', '+new', ' l10', ' l11', '…8']);
  // A single hidden line is shown rather than folded.
  const g = foldDiff(lineDiff('a\nb\nc\nd', 'a\nb\nc\nd\ne'), 3);
  assert.deepEqual(g.map((l) => l.op + (l.text ?? l.count)), [' a', ' b', ' c', ' d', '+e']);
  // No change: kept whole.
  const same = lineDiff(lines.join('\n'), lines.join('\n'));
  assert.equal(foldDiff(same, 2).length, 20);
});

const plan = (...changes) => ({ dryRun: true, changes, breaks: [], serverValidated: true });

test('planSummary and applyState: Apply only for a loaded plan that changes something without conflicts', () => {
  const upd = { action: 'update', kind: 'DestinationRule', namespace: 'default', name: 'reviews' };
  const same = { action: 'unchanged', kind: 'DestinationRule', namespace: 'default', name: 'ratings' };
  const conflict = { ...upd, conflict: 'subset v1 sets tls DISABLE' };
  assert.deepEqual(planSummary(plan(upd, same, { action: 'create' })), { total: 3, create: 1, update: 1, unchanged: 1, conflicts: 0, changing: 2 });
  assert.equal(applyState({ plan: plan(upd, same) }).enabled, true);
  assert.equal(applyState({ loading: true, plan: plan(upd) }).enabled, false);
  assert.equal(applyState({ applying: true, plan: plan(upd) }).enabled, false);
  assert.equal(applyState({}).enabled, false);
  assert.match(applyState({ error: 'x' }).reason, /error/);
  const c = applyState({ plan: plan(upd, conflict) });
  assert.equal(c.enabled, false);
  assert.match(c.reason, /1 conflict/);
  const u = applyState({ plan: plan(same) });
  assert.equal(u.enabled, false);
  assert.match(u.reason, /already enforced/);
  assert.equal(applyState({ plan: plan() }).enabled, false);
});

test('breakEdgeId matches the graph edge ids', () => {
  assert.equal(breakEdgeId({ source: 'unknown', target: 'default/ratings', protocol: 'http', rate: 0.5 }), 'unknown->default/ratings:http');
});

test('actions: summary, undo permission and URL', () => {
  const a = { id: '20261126-214500-0a1b2c3d', scope: 'service', namespace: 'default', service: 'reviews', mode: 'peerauthentication' };
  assert.equal(actionSummary(a), 'service default/reviews · PeerAuthentication STRICT (server side)');
  assert.equal(actionSummary({ scope: 'mesh', mode: 'destinationrule' }), 'mesh · DestinationRule ISTIO_MUTUAL (client side)');
  assert.equal(canUndo(a, true), true);
  assert.equal(canUndo(a, false), false);
  assert.equal(canUndo({ ...a, undoneAt: '2026-11-26T22:00:00Z' }, true), false);
  assert.equal(undoURL(a.id), 'api/actions/20261126-214500-0a1b2c3d/undo');
  assert.equal(undoURL('a/b'), 'api/actions/a%2Fb/undo');
});

test('errorText shows the server message with the status', () => {
  assert.equal(errorText(409, { error: 'DestinationRule default/reviews changed since' }), 'Conflict (409): DestinationRule default/reviews changed since');
  assert.equal(errorText(403, '{"error":"forbidden by RBAC"}'), 'Forbidden (403): forbidden by RBAC');
  assert.equal(errorText(502, 'Bad Gateway'), 'Error 502: Bad Gateway');
  assert.equal(errorText(500, ''), 'Error 500');
  assert.equal(errorText(0, ''), 'The server could not be reached.');
});
