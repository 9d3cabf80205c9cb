// Unit tests of a big mesh's overview (static/overview.mjs): the threshold,
// a namespace's padlock from its edges, what a collapsed graph draws, the
// links between collapsed ends. node --test static/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { edge } from './fixtures.mjs';
import { linkElement, namespaceElement } from '../graph-model.mjs';
import { normalizeSnapshot } from '../model.mjs';
import {
  COLLAPSE_EDGES,
  COLLAPSE_NODES,
  aggregateStatus,
  fitsDagre,
  linkEdges,
  linkID,
  namespacesToShow,
  opensCollapsed,
  overview,
  parseLinkID,
  representative,
} from '../overview.mjs';
import { createStore } from '../state.mjs';

const svc = (ns, name) => ({ id: `${ns}/${name}`, namespace: ns, name, kind: 'service', inMesh: true, peerAuthentication: 'UNSET' });

// Two namespaces and the unknown caller: shop calls pay, pay calls itself,
// unknown calls shop.
const mesh = () =>
  normalizeSnapshot({
    generatedAt: '2026-12-01T12:00:00Z',
    nodes: [svc('shop', 'cart'), svc('shop', 'web'), svc('pay', 'api'), svc('pay', 'db'), { id: 'unknown', name: 'unknown', kind: 'unknown', namespace: '' }],
    edges: [
      edge('shop/web->shop/cart:http', 'locked', 2, 1),
      edge('shop/cart->pay/api:http', 'locked', 1, 1),
      edge('shop/web->pay/api:http', 'mixed', 1, 0.5),
      edge('pay/api->pay/db:tcp', 'open', 100, 0, 'tcp'),
      edge('unknown->shop/web:http', 'unknown', 1, 0),
    ],
  });

test('the threshold: more than 300 nodes or 1,000 edges open collapsed; dagre only for small ones', () => {
  const nodes = (n) => Array.from({ length: n }, (_, i) => svc('a', `s${i}`));
  const edges = (n) => Array.from({ length: n }, (_, i) => edge(`a/s0->a/s1:e${i}`, 'locked', 1, 1));
  assert.equal(opensCollapsed({ nodes: nodes(COLLAPSE_NODES), edges: edges(COLLAPSE_EDGES) }), false);
  assert.equal(opensCollapsed({ nodes: nodes(COLLAPSE_NODES + 1), edges: [] }), true);
  assert.equal(opensCollapsed({ nodes: nodes(3), edges: edges(COLLAPSE_EDGES + 1) }), true);
  assert.equal(fitsDagre(mesh()), true);
  assert.equal(fitsDagre({ nodes: nodes(200), edges: [] }), false);
});

test("a namespace's padlock: locked only if all are, unknown if all are, open if none carries mTLS, else mixed", () => {
  const c = (locked, mixed, open, unknown) => ({ locked, mixed, open, unknown });
  assert.equal(aggregateStatus(c(3, 0, 0, 0)), 'locked');
  assert.equal(aggregateStatus(c(0, 0, 0, 2)), 'unknown');
  assert.equal(aggregateStatus(c(0, 0, 2, 1)), 'open');
  assert.equal(aggregateStatus(c(0, 0, 1, 0)), 'open');
  assert.equal(aggregateStatus(c(3, 0, 1, 0)), 'mixed');
  assert.equal(aggregateStatus(c(0, 1, 0, 0)), 'mixed');
  // Nothing proves an unknown edge: a locked set with one is not locked.
  assert.equal(aggregateStatus(c(3, 0, 0, 1)), 'mixed');
  assert.equal(aggregateStatus(c(0, 0, 0, 0)), null);
});

test('overview of a small mesh: everything drawn, nothing bundled; each namespace summed over the edges into it', () => {
  const s = mesh();
  const ov = overview(s, s.edges, null);
  assert.equal(ov.nodes.length, 5);
  assert.equal(ov.edges.length, 5);
  assert.deepEqual(ov.links, []);
  const byNS = Object.fromEntries(ov.namespaces.map((g) => [g.namespace, g]));
  assert.deepEqual(Object.keys(byNS).sort(), ['pay', 'shop']);
  assert.equal(byNS.pay.collapsed, false);
  assert.equal(byNS.pay.members, 2);
  // Into pay: locked, mixed (requests), open (bytes).
  assert.deepEqual([byNS.pay.edges, byNS.pay.status], [3, 'mixed']);
  assert.equal(byNS.pay.posture.http.ratio, 0.75);
  assert.equal(byNS.pay.posture.tcp.ratio, 0);
  // Into shop: locked and unknown.
  assert.deepEqual([byNS.shop.edges, byNS.shop.status], [2, 'mixed']);
});

test('overview collapsed: a node per collapsed namespace, links between ends, none inside a namespace', () => {
  const s = mesh();
  const ov = overview(s, s.edges, new Set());
  // The unknown caller stands for itself; both namespaces are collapsed.
  assert.deepEqual(ov.nodes.map((n) => n.id), ['unknown']);
  assert.deepEqual(ov.edges, []);
  assert.ok(ov.namespaces.every((g) => g.collapsed));
  const links = Object.fromEntries(ov.links.map((l) => [l.id, l]));
  assert.deepEqual(Object.keys(links).sort(), [linkID('ns:shop', 'ns:pay'), linkID('unknown', 'ns:shop')].sort());
  const shopPay = links[linkID('ns:shop', 'ns:pay')];
  assert.deepEqual([shopPay.source, shopPay.target, shopPay.edges, shopPay.status], ['ns:shop', 'ns:pay', 2, 'mixed']);
  assert.deepEqual(shopPay.edgeIDs.sort(), ['shop/cart->pay/api:http', 'shop/web->pay/api:http']);
  assert.deepEqual(parseLinkID(shopPay.id), { source: 'ns:shop', target: 'ns:pay' });
  assert.equal(parseLinkID('shop/web->pay/api:http'), null);

  // shop expanded: its services and the edges among them (and from the
  // unknown caller) by themselves, their edges to pay bundled per service.
  const open = overview(s, s.edges, new Set(['shop']));
  assert.deepEqual(open.nodes.map((n) => n.id).sort(), ['shop/cart', 'shop/web', 'unknown']);
  assert.deepEqual(open.edges.map((e) => e.id).sort(), ['shop/web->shop/cart:http', 'unknown->shop/web:http']);
  assert.deepEqual(open.links.map((l) => l.id).sort(), [linkID('shop/cart', 'ns:pay'), linkID('shop/web', 'ns:pay')].sort());
  assert.deepEqual(linkEdges(s, linkID('shop/web', 'ns:pay'), new Set(['shop'])).map((e) => e.id), ['shop/web->pay/api:http']);

  assert.equal(representative(s.nodes.find((n) => n.id === 'pay/db'), new Set(['shop'])), 'ns:pay');
  assert.equal(representative(s.nodes.find((n) => n.id === 'pay/db'), null), 'pay/db');
});

test('elements of a collapsed namespace and of a link', () => {
  const s = mesh();
  const ov = overview(s, s.edges, new Set());
  const pay = ov.namespaces.find((g) => g.namespace === 'pay');
  const el = namespaceElement(pay);
  assert.deepEqual([el.data.id, el.data.label, el.classes], ['ns:pay', 'pay\n2 services', 'ns-collapsed mixed']);
  const link = ov.links.find((l) => l.target === 'ns:pay');
  assert.equal(linkElement(link).classes, 'link mixed');
  assert.equal(linkElement(link, new Set(['shop/web->pay/api:http'])).classes, 'link mixed breaks');
});

test('namespacesToShow: the namespaces of an edge’s ends or a node', () => {
  const store = createStore();
  store.setSnapshot(mesh());
  assert.deepEqual(namespacesToShow({ kind: 'edge', id: 'shop/web->pay/api:http' }, store.state), ['shop', 'pay']);
  assert.deepEqual(namespacesToShow({ kind: 'edge', id: 'unknown->shop/web:http' }, store.state), ['shop']);
  assert.deepEqual(namespacesToShow({ kind: 'node', id: 'pay/db' }, store.state), ['pay']);
  assert.deepEqual(namespacesToShow({ kind: 'finding', id: 'x' }, store.state), []);
});

test('the store: expanded namespaces (null when nothing is collapsed), notified as grouping', () => {
  const store = createStore();
  const seen = [];
  store.subscribe('grouping', (state) => seen.push(state.expanded ? [...state.expanded].sort().join(',') : null));
  store.toggleNamespace('shop'); // nothing collapsed: nothing to do
  store.setExpanded(new Set());
  store.toggleNamespace('shop');
  store.toggleNamespace('shop', true); // already: nothing
  store.expandNamespaces(['pay', 'shop']);
  store.expandNamespaces(['pay']); // already: nothing
  store.toggleNamespace('shop');
  store.setExpanded(null);
  assert.deepEqual(seen, ['', 'shop', 'pay,shop', 'pay', null]);
});
