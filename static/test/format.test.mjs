// Unit tests of the page's words (static/format.mjs): every case of the
// table shared with web/page_test.go (testdata/formatting.json), then the
// texts only the script writes. node --test static/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { edge, base, serverPosture } from './fixtures.mjs';
import {
  GATEWAY_PEER_AUTH_TEXT,
  badgeFor,
  callerTLSText,
  destinationRuleText,
  displayName,
  emptyMessage,
  formatFreshness,
  formatPercent,
  formatRate,
  mtlsText,
  nodeName,
  nodeRow,
  portText,
  postureView,
  tlsFailureText,
} from '../format.mjs';
import { groupOf } from '../model.mjs';

const shared = JSON.parse(readFileSync(new URL('../../testdata/formatting.json', import.meta.url), 'utf8'));
// JSON has no NaN: the table writes it null.
const nan = (x) => (x === null ? NaN : x);

test('the formatting rules shared with web/page.go (testdata/formatting.json)', () => {
  const rules = {
    percent: (c) => formatPercent(nan(c.share)),
    rate: (c) => formatRate(nan(c.rate), c.protocol),
    freshness: (c) => formatFreshness(c.ageMs),
    mtls: (c) => mtlsText({ status: c.status, mtlsRatio: c.mtlsRatio }),
    posture: (c) => postureView(c.posture).text,
    displayName: (c) => displayName(c.node),
    emptyMessage: (c) => emptyMessage(c.namespaces, { generatedAt: c.generatedAt }),
  };
  for (const [rule, format] of Object.entries(rules)) {
    assert.ok(shared[rule]?.length, `no cases for ${rule}`);
    for (const c of shared[rule]) assert.equal(format(c), c.text, `${rule} ${JSON.stringify(c)}`);
  }
  // Every rule of the table is checked here.
  assert.deepEqual(Object.keys(shared).filter((k) => k !== 'about').sort(), Object.keys(rules).sort());
});

test('postureView words the server posture: requests and bytes apart', () => {
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

test('nodes: gateways, ServiceAccounts, ports, callers that differ', () => {
  const sa = { id: 'shop/sa:checkout', namespace: 'shop', name: 'sa:checkout', kind: 'serviceaccount', inMesh: true };
  assert.equal(displayName(sa), 'sa:checkout');
  assert.equal(displayName({ ...sa, name: 'checkout' }), 'sa:checkout');
  assert.equal(nodeName('shop/sa:checkout', new Map([[sa.id, { ...sa, name: 'checkout' }]])), 'sa:checkout');

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
