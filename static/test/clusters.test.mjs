// Unit tests of several clusters on the page (issue 24): the snapshot's
// clusters and sources, grouping by cluster then namespace (the graph's
// compounds, a big mesh's collapsed namespaces), the cluster filter in the
// URL, edges between clusters and a cluster's stale part, and the enforce
// request's cluster; a single cluster's output as it always was.
// node --test static/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { WEST_DOWN_SINCE, base, edge, twoClusters } from './fixtures.mjs';
import { clusterStaleText, sourceView, staleTexts } from '../cluster-words.mjs';
import { badgeFor, nodeName, nodeRow } from '../format.mjs';
import { clusterElement, edgeElement, graphStyle, groupElements, namespaceElement, nodeElement } from '../graph-model.mjs';
import {
  applyDelta,
  clusterOf,
  clusterSource,
  clustersOf,
  crossClusterText,
  filterQuery,
  groupOf,
  isCrossCluster,
  isMultiCluster,
  isStale,
  namespaceClusters,
  namespaceKey,
  namespaceKeyOfID,
  namespaceKeysFor,
  normalizeSnapshot,
  parseClusters,
  parseNamespaceKey,
  parseNamespaces,
  staleClusters,
  streamURL,
  withClusters,
  withNamespaces,
} from '../model.mjs';
import { linkID, namespaceName, namespacesToShow, overview, representative } from '../overview.mjs';
import { enforceRequest, enforceTarget, scopeLabel } from '../plan.mjs';
import { createStore } from '../state.mjs';

const when = (iso) => iso.slice(11, 16); // a fixed clock for the texts

test('one cluster: the snapshot, the groups, the elements and the rows are as they always were', () => {
  const s = base();
  assert.deepEqual([s.clusters, s.sources], [[], []]);
  assert.equal(isMultiCluster(s), false);
  assert.deepEqual(clustersOf(s), []);
  assert.deepEqual(staleClusters(s), []);
  // Grouped by namespace only: no cluster box, no parent above a namespace.
  assert.deepEqual(
    groupElements(s).map((g) => [g.data.id, g.data.label, g.data.parent, g.classes]),
    [
      ['ns:default', 'default', undefined, 'group'],
      ['group:outside', 'outside the mesh', undefined, 'group'],
    ],
  );
  const [ratings] = s.nodes;
  assert.equal(namespaceKey(ratings), 'default');
  assert.deepEqual(nodeElement(ratings).data.parent, 'ns:default');
  assert.equal(nodeElement(ratings).classes, '');
  assert.equal(edgeElement(s.edges[0]).classes, 'mixed');
  // A collapsed namespace's node has no parent; namespaces keyed by name.
  const ov = overview(s, s.edges, new Set());
  assert.deepEqual(ov.namespaces.map((g) => [g.key, g.namespace, g.cluster, g.id]), [['default', 'default', '', 'ns:default']]);
  assert.equal(namespaceElement(ov.namespaces[0]).data.parent, undefined);
  assert.equal(namespaceName('default'), 'namespace default');
  // The node table's rows, the padlock's words, the ends' names.
  assert.deepEqual(Object.keys(nodeRow(ratings)), ['id', 'namespace', 'name', 'kind', 'dataPlane', 'peerAuth', 'drTLS', 'callers', 'ports']);
  assert.equal(badgeFor(s.edges[0], new Map(s.nodes.map((n) => [n.id, n]))).label, 'reviews → ratings (http): mixed, 40% mTLS');
  assert.equal(crossClusterText(s.edges[0]), '');
  assert.equal(nodeName('default/reviews'), 'reviews');
  assert.equal(clusterOf('default/reviews'), '');
  assert.equal(namespaceKeyOfID('default/reviews'), 'default');
  assert.deepEqual(namespaceKeysFor(s, ['default']), ['default']);
  // The enforce request names no cluster.
  assert.deepEqual(enforceRequest(enforceTarget('service', 'default', 'reviews'), 'destinationrule', true), {
    scope: 'service',
    mode: 'destinationrule',
    dryRun: true,
    namespace: 'default',
    service: 'reviews',
  });
  assert.equal(scopeLabel(enforceTarget('namespace', 'default')), 'namespace default');
});

test('two clusters: the snapshot names them sorted, with a Kubernetes source each', () => {
  const s = twoClusters();
  assert.deepEqual(s.clusters, ['east', 'west']);
  assert.equal(isMultiCluster(s), true);
  assert.deepEqual(clustersOf(s), ['east', 'west']);
  assert.deepEqual(
    s.sources.map((x) => [x.name, x.cluster, x.ok]),
    [
      ['prometheus', '', true],
      ['kubernetes/east', 'east', true],
      ['kubernetes/west', 'west', false],
    ],
  );
  assert.equal(clusterSource(s, 'west').lastSuccess, WEST_DOWN_SINCE);
  // A cluster named by its source's name alone still counts.
  assert.equal(normalizeSnapshot({ sources: [{ name: 'kubernetes/north', ok: false }] }).sources[0].cluster, 'north');
  // Nodes without a snapshot's clusters but with a cluster each are several clusters too.
  assert.deepEqual(clustersOf({ nodes: s.nodes }), ['east', 'west']);
  // A delta keeps the clusters and takes the sources whole.
  const next = applyDelta(s, { generatedAt: 'later', sources: [{ name: 'prometheus', ok: true }, { name: 'kubernetes/west', cluster: 'west', ok: true }] });
  assert.deepEqual(next.clusters, ['east', 'west']);
  assert.deepEqual(staleClusters({ ...next, nodes: [] }), []);
  assert.deepEqual(applyDelta(s, { generatedAt: 'later' }).sources, s.sources);
});

test('two clusters are grouped by cluster, then namespace: a box per cluster holds its namespaces', () => {
  const s = twoClusters();
  const groups = groupElements(s, new Set(staleClusters(s)));
  assert.deepEqual(
    groups.map((g) => [g.data.id, g.data.label, g.data.parent, g.classes]),
    [
      ['cl:east', 'cluster east', undefined, 'cluster'],
      ['cl:west', 'cluster west (API not answering)', undefined, 'cluster stale'],
      ['ns:east/default', 'default', 'cl:east', 'group'],
      ['group:outside', 'outside the mesh', undefined, 'group'],
      ['ns:west/default', 'default', 'cl:west', 'group'],
      ['ns:west/shop', 'shop', 'cl:west', 'group'],
    ],
  );
  // Parents come before their children (Cytoscape adds them in that order).
  const index = new Map(groups.map((g, i) => [g.data.id, i]));
  for (const g of groups) if (g.data.parent) assert.ok(index.get(g.data.parent) < index.get(g.data.id), g.data.id);
  assert.equal(nodeElement(s.nodes.find((n) => n.id === 'east/default/reviews')).data.parent, 'ns:east/default');
  assert.equal(groupOf({ kind: 'unknown', namespace: '' }), 'group:outside');
  assert.deepEqual(clusterElement('east'), {
    group: 'nodes',
    data: { id: 'cl:east', label: 'cluster east' },
    selectable: false,
    grabbable: false,
    classes: 'cluster',
  });
  // A collapsed namespace sits in its cluster's box.
  const ov = overview(s, s.edges, new Set());
  const westDefault = ov.namespaces.find((g) => g.key === 'west/default');
  const el = namespaceElement(westDefault, true);
  assert.deepEqual([el.data.id, el.data.parent, el.data.label, el.classes], ['ns:west/default', 'cl:west', 'default\n1 service', 'ns-collapsed mixed stale']);
  assert.ok(graphStyle().some((r) => r.selector === 'node.cluster') && graphStyle().some((r) => r.selector === 'node.cluster.stale'));
});

test('the same namespace in two clusters is two namespaces', () => {
  const s = twoClusters();
  const byId = new Map(s.nodes.map((n) => [n.id, n]));
  assert.equal(namespaceKey(byId.get('east/default/ratings')), 'east/default');
  assert.equal(namespaceKey(byId.get('west/default/ratings')), 'west/default');
  assert.equal(namespaceKey(byId.get('unknown')), '');
  assert.deepEqual(parseNamespaceKey('west/default'), { cluster: 'west', namespace: 'default' });
  assert.deepEqual(parseNamespaceKey('default'), { cluster: '', namespace: 'default' });
  assert.equal(namespaceKeyOfID('west/shop/sa:checkout'), 'west/shop');
  assert.equal(namespaceName('west/default'), 'namespace default in cluster west');

  const ov = overview(s, s.edges, null);
  assert.deepEqual(
    ov.namespaces.map((g) => [g.key, g.cluster, g.namespace, g.members]),
    [
      ['east/default', 'east', 'default', 2],
      ['west/default', 'west', 'default', 1],
      ['west/shop', 'west', 'shop', 2],
    ],
  );
  // Inbound to each default apart: east's from its own reviews, west's from east and from shop.
  const inbound = Object.fromEntries(ov.namespaces.map((g) => [g.key, g.edges]));
  assert.deepEqual(inbound, { 'east/default': 1, 'west/default': 2, 'west/shop': 1 });

  // Collapsed: the edge between the two defaults is a link between two namespaces.
  const collapsed = overview(s, s.edges, new Set());
  const links = collapsed.links.map((l) => l.id).sort();
  assert.ok(links.includes(linkID('ns:east/default', 'ns:west/default')), links.join(' '));
  assert.ok(links.includes(linkID('ns:west/shop', 'ns:west/default')));
  // One default expanded leaves the other collapsed.
  const eastOpen = overview(s, s.edges, new Set(['east/default']));
  assert.deepEqual(eastOpen.namespaces.filter((g) => g.collapsed).map((g) => g.key), ['west/default', 'west/shop']);
  assert.equal(representative(byId.get('west/default/ratings'), new Set(['east/default'])), 'ns:west/default');
  assert.equal(representative(byId.get('east/default/ratings'), new Set(['east/default'])), 'east/default/ratings');

  // The namespace filter names a namespace in every cluster: both open.
  assert.deepEqual(namespaceKeysFor(s, ['default']), ['east/default', 'west/default']);
  assert.deepEqual([...namespaceClusters(s)], [
    ['default', ['east', 'west']],
    ['shop', ['west']],
  ]);
  const store = createStore();
  store.setSnapshot(s);
  assert.deepEqual(namespacesToShow({ kind: 'edge', id: 'east/default/reviews->west/default/ratings:http' }, store.state), ['east/default', 'west/default']);
  // A node the snapshot no longer holds: its key from its id.
  assert.deepEqual(namespacesToShow({ kind: 'node', id: 'gone/x/y' }, store.state), ['gone/x']);
  // A collapsed graph's store expands and collapses one of them only.
  store.setExpanded(new Set());
  store.toggleNamespace('west/default');
  assert.deepEqual([...store.state.expanded], ['west/default']);
});

test('the cluster filter: ?cluster=a,b read and written like ?namespace=, passed to the stream and api/graph', () => {
  assert.deepEqual(parseClusters('?cluster=east,west&cluster=north&namespace=a'), ['east', 'west', 'north']);
  assert.deepEqual(parseClusters('?cluster= east ,,east'), ['east']);
  assert.deepEqual(parseClusters(''), []);
  assert.equal(withClusters('?embed=1&namespace=a,b', ['east', 'west']), '?embed=1&namespace=a,b&cluster=east,west');
  assert.equal(withClusters('?cluster=x&namespace=a,b', []), '?namespace=a,b');
  // Either filter written keeps the other's commas as they were.
  assert.equal(withNamespaces('?cluster=east,west', ['a']), '?cluster=east,west&namespace=a');
  assert.deepEqual(parseNamespaces(withNamespaces('?cluster=east,west', ['a'])), ['a']);
  assert.equal(withClusters('', ['a b', 'c/d']), '?cluster=a%20b,c%2Fd');
  assert.deepEqual(parseClusters(withClusters('', ['a b', 'c/d'])), ['a b', 'c/d']);
  assert.equal(filterQuery(['a'], ['east']), '?namespace=a&cluster=east');
  assert.equal(filterQuery([], []), '');
  assert.equal(streamURL('https://portal.example/m/?embed=1', ['a', 'b'], ['east', 'west']), 'wss://portal.example/m/api/stream?namespace=a,b&cluster=east,west');
  assert.equal(streamURL('http://127.0.0.1:8080/', [], ['east']), 'ws://127.0.0.1:8080/api/stream?cluster=east');
  assert.equal(streamURL('http://127.0.0.1:8080/', ['a']), 'ws://127.0.0.1:8080/api/stream?namespace=a');
  // The store keeps the filter and says so (the stream restarts on it).
  const store = createStore({ clusters: ['east'] });
  const seen = [];
  store.subscribe('clusters', (st) => seen.push(st.clusters.join(',')));
  store.setClusters(['east', 'west']);
  store.setClusters([]);
  assert.deepEqual(seen, ['east,west', '']);
});

test('edges between clusters and a cluster’s stale part are classified, drawn and worded', () => {
  const s = twoClusters();
  const byId = new Map(s.nodes.map((n) => [n.id, n]));
  const [inside, across, westOnly] = s.edges;
  assert.deepEqual([inside.id, across.id], ['east/default/reviews->east/default/ratings:http', 'east/default/reviews->west/default/ratings:http']);
  assert.deepEqual([isCrossCluster(inside), isCrossCluster(across), isCrossCluster(westOnly)], [false, true, false]);
  assert.deepEqual([isStale(inside), isStale(across), isStale(byId.get('west/shop/cart')), isStale(byId.get('east/default/ratings'))], [false, true, true, false]);
  assert.deepEqual(staleClusters(s), ['west']);
  // The graph: their own classes, and a rule for each.
  assert.equal(edgeElement(inside).classes, 'locked');
  assert.equal(edgeElement(across).classes, 'mixed cross-cluster stale');
  assert.equal(edgeElement(westOnly, new Set([westOnly.id])).classes, 'open stale breaks');
  assert.equal(nodeElement(byId.get('west/shop/cart')).classes, 'stale');
  assert.equal(nodeElement(byId.get('west/shop/sa:checkout')).classes, 'workload serviceaccount stale');
  const selectors = graphStyle().map((r) => r.selector);
  for (const sel of ['edge.cross-cluster', 'edge.stale', 'node.stale']) assert.ok(selectors.includes(sel), sel);
  // The words: the panel's, the table's, the padlock's.
  assert.equal(crossClusterText(across, byId), 'crosses clusters east → west');
  assert.equal(crossClusterText({ ...across, source: 'west/a/b', target: 'east/c/d' }), 'crosses clusters west → east');
  assert.equal(crossClusterText(inside, byId), '');
  assert.equal(clusterOf('west/shop/cart'), 'west');
  assert.equal(nodeName('west/shop/cart'), 'cart');
  const b = badgeFor(across, byId);
  assert.deepEqual([b.crossCluster, b.stale], [true, true]);
  assert.match(b.label, /; crosses clusters east → west; stale: a cluster's Kubernetes API is not answering$/);
  assert.equal(clusterStaleText('west', s, when), 'cluster west: Kubernetes API not answering since 20:58');
  assert.equal(clusterStaleText('north', s, when), 'cluster north: Kubernetes API not answering');
  // An edge names the cluster that is down, not the one that answers.
  assert.deepEqual(staleTexts(across, s, byId, when), ['cluster west: Kubernetes API not answering since 20:58']);
  assert.deepEqual(staleTexts(byId.get('west/shop/cart'), s, byId, when), ['cluster west: Kubernetes API not answering since 20:58']);
  assert.deepEqual(staleTexts(inside, s, byId, when), []);
  // The node table's row says its cluster and that it is stale.
  const row = nodeRow(byId.get('west/shop/cart'));
  assert.deepEqual([row.cluster, row.namespace, row.name, row.stale], ['west', 'shop', 'cart', true]);
  assert.equal(nodeRow(byId.get('east/default/ratings')).stale, undefined);
  // The header's source states.
  const [prom, east, west] = s.sources.map((x) => sourceView(x, when));
  assert.deepEqual([prom.text, prom.state], ['prometheus ok', 'ok']);
  assert.deepEqual([east.text, east.state], ['east ok', 'ok']);
  assert.deepEqual([west.text, west.state], ['west: not answering since 20:58', 'down']);
  assert.equal(west.title, 'Kubernetes API of cluster west: not answering since 20:58 (connection refused)');
  // The fixture's own builder for an edge knows nothing of clusters.
  assert.equal(isCrossCluster(edge('a->b:http', 'locked', 1, 1)), false);
});

test('enforce: the request names the cluster of the node being enforced, only when it has one', () => {
  const t = enforceTarget('service', 'default', 'ratings', 'west');
  assert.deepEqual(t, { scope: 'service', namespace: 'default', service: 'ratings', cluster: 'west' });
  assert.deepEqual(enforceRequest(t, 'peerauthentication', false), {
    scope: 'service',
    mode: 'peerauthentication',
    dryRun: false,
    namespace: 'default',
    service: 'ratings',
    cluster: 'west',
  });
  assert.equal(enforceRequest(enforceTarget('namespace', 'default', '', 'east'), 'destinationrule', true).cluster, 'east');
  assert.equal(scopeLabel(t), 'service default/ratings in cluster west');
  assert.equal(scopeLabel(enforceTarget('namespace', 'default', '', 'east')), 'namespace default in cluster east');
  // The mesh scope of one cluster (the one the cluster filter selects).
  assert.deepEqual(enforceTarget('mesh', '', '', 'east'), { scope: 'mesh', namespace: '', service: '', cluster: 'east' });
  assert.deepEqual(enforceTarget('mesh'), { scope: 'mesh', namespace: '', service: '' });
  assert.equal('cluster' in enforceRequest(enforceTarget('namespace', 'default', '', ''), 'destinationrule', true), false);
});
