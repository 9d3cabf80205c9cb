// Unit tests of the page's words (static/format.mjs): every case of the
// table shared with web/page_test.go (testdata/formatting.json), then the
// texts only the script writes. node --test static/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { authzDecision, authzText, deniedText } from '../access.mjs';
import { NOW, edge, base, history, lookback, serverPosture, withLookback } from './fixtures.mjs';
import {
  GATEWAY_PEER_AUTH_TEXT,
  ago,
  badgeFor,
  dataPlaneText,
  refusedText,
  callerTLSText,
  destinationRuleText,
  displayName,
  emptyMessage,
  formatAgo,
  formatBytes,
  formatCount,
  formatFreshness,
  formatPercent,
  formatRate,
  formatSpan,
  formatVolume,
  formatWhen,
  historyView,
  isTime,
  lookbackSpan,
  lookbackView,
  mtlsText,
  nodeName,
  nodeRow,
  portText,
  postureView,
  tlsFailureText,
  volumeShare,
} from '../format.mjs';
import { groupOf, normalizeLookback } from '../model.mjs';

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
    dataPlane: 'in the mesh',
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
  assert.match(b.label, /open, plain text; failing at TLS handshake: 2\.0 req\/s$/);
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

// ---- the look-back's words (not shared with Go: the plain view has no look-back) ----

// Times as HH:MM in UTC: texts that do not depend on the test machine.
const when = (iso) => iso.slice(5, 16).replace('T', ' ');

test('times: the viewer\'s clock, coarse ages, Go\'s zero time is none', () => {
  assert.equal(formatWhen('2026-11-24T12:00:00Z', { locale: 'en-GB', timeZone: 'UTC' }), '24 Nov, 12:00');
  for (const bad of ['', undefined, 'soon', '0001-01-01T00:00:00Z']) {
    assert.equal(formatWhen(bad), '—', String(bad));
    assert.equal(isTime(bad), false, String(bad));
    assert.equal(ago(bad, NOW), '—', String(bad));
  }
  assert.deepEqual(
    [0, 59999, 60000, 3599999, 3600000, 47 * 3600000 + 3599999, 48 * 3600000, 9 * 86400000, -5000, NaN].map(formatAgo),
    ['<1 min ago', '<1 min ago', '1 min ago', '59 min ago', '1 h ago', '47 h ago', '2 d ago', '9 d ago', '<1 min ago', '—'],
  );
  assert.equal(ago('2026-12-01T09:00:00Z', NOW), '3 h ago');
});

test('spans, counts, bytes and volumes', () => {
  assert.deepEqual(
    [0, 59499, 60000, 90 * 60000, 7 * 86400000, 7 * 86400000 - 3600000, 86400000 + 2 * 3600000 + 5 * 60000, -1].map(formatSpan),
    ['0s', '59s', '1m', '1h 30m', '7d', '6d 23h', '1d 2h', '—'],
  );
  assert.deepEqual(
    [0, 0.4, 1, 999.4, 999.6, 1234, 12345, 123456, 1234567, 5e12, -2000, NaN].map(formatCount),
    ['0', '<1', '1', '999', '1.0k', '1.2k', '12.3k', '123k', '1.2M', '5.0T', '-2.0k', '—'],
  );
  assert.deepEqual([512, 2500, 3.2e6].map(formatBytes), ['512 B', '2.5 kB', '3.2 MB']);
  assert.equal(formatVolume(1, 'requests'), '1 request');
  assert.equal(formatVolume(1234, 'requests'), '1.2k requests');
  assert.equal(formatVolume(3.4e6, 'bytes'), '3.4 MB');
  assert.equal(formatVolume(12, 'connections'), '12 connections');
  assert.equal(formatVolume(NaN, 'bytes'), '—');
  assert.equal(volumeShare(history()), 1200 / 1234);
  assert.equal(volumeShare(history({ volume: 0, mtlsVolume: 0 })), null);
  assert.equal(volumeShare(history({ mtlsVolume: 2000 })), 1);
  assert.equal(volumeShare(undefined), null);
});

test('the header\'s look-back: ready, loading (since), off, an error, none', () => {
  const ready = lookbackView(normalizeLookback(lookback()), when);
  assert.deepEqual([ready.state, ready.text, ready.warn, ready.hidden], ['ready', 'Look-back 7d', false, false]);
  assert.equal(ready.title, 'Callers of the last 7d are known (from 11-24 12:00 to 12-01 12:00), idle ones too.');
  const loading = lookbackView(normalizeLookback(lookback({ state: 'loading', from: '2026-11-29T00:00:00Z' })), when);
  assert.equal(loading.text, 'Look-back loading (since 11-29 00:00)…');
  assert.match(loading.title, /^Reading the last 7d of traffic; covered so far: from 11-29 00:00 to 12-01 12:00\. Older callers may be missing/);
  assert.equal(lookbackView(normalizeLookback(lookback({ state: 'loading', from: null, to: null })), when).text, 'Look-back loading…');
  const off = lookbackView(normalizeLookback({ window: '0s', state: 'off', from: null, to: null }), when);
  assert.deepEqual([off.state, off.text, off.hidden], ['off', 'Look-back off', false]);
  const failing = lookbackView(normalizeLookback(lookback({ state: 'loading', error: 'prometheus: query timed out' })), when);
  assert.equal(failing.warn, true);
  assert.match(failing.title, /Look-back error: prometheus: query timed out$/);
  assert.equal(lookbackView(null).hidden, true);
  // How far back: the window when ready, the part read while loading.
  assert.equal(lookbackSpan(normalizeLookback(lookback())), '7d');
  assert.equal(lookbackSpan(normalizeLookback(lookback({ state: 'loading', from: '2026-11-29T09:00:00Z' }))), '2d 3h');
  assert.equal(lookbackSpan(normalizeLookback({ window: '0s', state: 'off' })), '');
  assert.equal(lookbackSpan(null), '');
});

test('an edge\'s look-back in the side panel', () => {
  const s = withLookback();
  const live = s.edges.find((e) => e.id === 'default/reviews->default/ratings:http');
  const idle = s.edges.find((e) => e.idle);
  const v = historyView(live, s.lookback, NOW, when);
  assert.deepEqual(v.lastSeen, { text: '<1 min ago', title: '12-01 11:59', datetime: '2026-12-01T11:59:30Z' });
  assert.equal(v.plaintext.text, '<1 min ago');
  assert.equal(v.volume, '1.2k requests, 97% mTLS over 7d');
  assert.equal(v.idle, false);
  const i = historyView(idle, s.lookback, NOW, when);
  assert.deepEqual([i.lastSeen.text, i.plaintext.text, i.volume, i.idle], ['3 h ago', '3 h ago', '40 requests, 0% mTLS over 7d', true]);
  // No plaintext in the look-back: said with how far back it looked.
  const clean = { ...live, history: history({ unit: 'bytes', volume: 3.4e6, mtlsVolume: 3.4e6 }) };
  assert.equal(historyView(clean, s.lookback, NOW, when).plaintext.text, 'no plaintext in the look-back (7d)');
  assert.equal(historyView(clean, s.lookback, NOW, when).volume, '3.4 MB, 100% mTLS over 7d');
  const partial = normalizeLookback(lookback({ state: 'loading', from: '2026-11-29T09:00:00Z' }));
  assert.equal(historyView(clean, partial, NOW, when).plaintext.text, 'no plaintext in the look-back so far (since 11-29 09:00)');
  // Go's zero time for a last seen the server could not tell; nothing moved: no share.
  const zero = historyView({ ...live, history: history({ lastSeen: '0001-01-01T00:00:00Z', volume: 0, mtlsVolume: 0 }) }, s.lookback, NOW, when);
  assert.deepEqual([zero.lastSeen.text, zero.volume], ['not known', '0 requests over 7d']);
  assert.equal(historyView(edge('a->b:http', 'locked', 1, 1), s.lookback, NOW, when), null);
});

test('an idle edge\'s badge says so', () => {
  const s = withLookback();
  const b = badgeFor(s.edges.find((e) => e.idle), s.nodesById);
  assert.equal(b.idle, true);
  assert.equal(b.status, 'open');
  assert.match(b.label, /open, plain text; idle: no traffic now, seen in the look-back$/);
  assert.equal(badgeFor(s.edges.find((e) => !e.idle)).idle, false);
});

test('ambient mode: data planes in words, refusals on an edge', () => {
  assert.equal(dataPlaneText({ dataPlane: 'sidecar', inMesh: true }), 'sidecar');
  assert.equal(dataPlaneText({ dataPlane: 'ambient', inMesh: true }), 'ambient (ztunnel)');
  assert.equal(dataPlaneText({ dataPlane: 'waypoint', inMesh: true }), 'waypoint');
  assert.equal(dataPlaneText({ inMesh: true }), 'in the mesh');
  assert.equal(dataPlaneText({ dataPlane: 'none', inMesh: false }), 'none');
  assert.equal(refusedText({ refusedRate: 2 }), 'refused by policy: 2.0 conn/s');
  assert.equal(refusedText({}), '');
  const b = badgeFor({ ...edge('default/legacy->default/ratings:tcp', 'unknown', 0, 0, 'tcp'), refusedRate: 2 }, new Map());
  assert.ok(b.refused && b.label.includes('refused by policy'), b.label);
});

test('access policy words: decision, shares, policies, denials now', () => {
  const deny = { source: 'default/productpage', target: 'default/ratings', protocol: 'http', status: 'open', mtlsRatio: 0, rate: 1,
    authorization: { decision: 'deny', policies: ['default/ratings-callers'] } };
  assert.equal(authzText(deny), 'access denied by default/ratings-callers');
  assert.equal(authzDecision(deny), 'deny');
  const mixed = { authorization: { decision: 'conditional', mutualTls: 'allow', plaintext: 'deny', policies: ['default/p'] } };
  assert.equal(authzText(mixed), 'access conditional (mTLS allowed, plaintext denied) by default/p');
  assert.equal(authzDecision(mixed), 'conditional');
  assert.equal(authzText({ authorization: { decision: 'allow' } }), 'access allowed (no policy selects it)');
  assert.equal(authzDecision({ authorization: { decision: 'allow' } }), '');
  assert.equal(authzText({}), '');
  assert.equal(deniedText({ deniedRate: 0.5, protocol: 'http' }), 'denied by access policy: 0.50 req/s');
  assert.equal(deniedText({ deniedRate: 2, protocol: 'tcp' }), 'denied by access policy: 2.0 conn/s');
  assert.equal(deniedText({}), '');
  const b = badgeFor(deny, new Map());
  assert.equal(b.authz, 'deny');
  assert.match(b.label, /access denied by default\/ratings-callers/);
});
