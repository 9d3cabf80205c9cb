// meshlock's several clusters (issue 24), pure: a namespace's key (the
// same namespace in two clusters is two namespaces), a node's cluster, the
// configured clusters and their Kubernetes sources, edges between clusters
// and a cluster's stale part (its Kubernetes API not answering). With one
// cluster the server sends none of it, and all of this answers as if there
// were no clusters. model.mjs re-exports it; static/test/clusters.test.mjs
// tests it under Node.

const compareStrings = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

// normalizeClusters: the configured clusters' names, sorted, each once;
// [] with one cluster (the server then sends none).
export function normalizeClusters(list) {
  if (!Array.isArray(list)) return [];
  return [...new Set(list.filter((c) => typeof c === 'string' && c))].sort(compareStrings);
}

// normalizeSources: the inputs of the graph ({name, ok, error,
// lastSuccess, cluster}); with several clusters one Kubernetes source per
// cluster ("kubernetes/<cluster>", its cluster named).
export function normalizeSources(list) {
  if (!Array.isArray(list)) return [];
  return list
    .filter((x) => x && typeof x === 'object' && typeof x.name === 'string')
    .map((x) => ({
      name: x.name,
      ok: x.ok !== false,
      error: typeof x.error === 'string' ? x.error : '',
      lastSuccess: typeof x.lastSuccess === 'string' && !x.lastSuccess.startsWith('0001-') ? x.lastSuccess : null,
      cluster: typeof x.cluster === 'string' ? x.cluster : x.name.startsWith('kubernetes/') ? x.name.slice('kubernetes/'.length) : '',
    }));
}

export const CLUSTER_PREFIX = 'cl:';

// namespaceKey is what tells a node's namespace from every other: its
// name, or with several clusters "<cluster>/<namespace>" (the same
// namespace in two clusters is two namespaces); '' outside any (the
// unknown caller, the hidden node).
export function namespaceKey(node) {
  if (!node || node.kind === 'unknown' || node.kind === 'hidden' || !node.namespace) return '';
  return node.cluster ? `${node.cluster}/${node.namespace}` : node.namespace;
}

// parseNamespaceKey: the cluster ('' with one cluster) and the namespace of
// a namespace key (a namespace has no "/"; the cluster is what comes before
// the last one).
export function parseNamespaceKey(key) {
  const i = key.lastIndexOf('/');
  return i < 0 ? { cluster: '', namespace: key } : { cluster: key.slice(0, i), namespace: key.slice(i + 1) };
}

// namespaceKeyOfID is the namespace key of a node id the snapshot may not
// hold (an edge's end): what comes before its last "/" ("<namespace>/<name>",
// or "<cluster>/<namespace>/<name>"); '' for the unknown node.
export function namespaceKeyOfID(id) {
  const i = id.lastIndexOf('/');
  return i < 0 ? '' : id.slice(0, i);
}

// clusterOf is the cluster of a node, from the snapshot when it holds it,
// else from its id (three parts with several clusters); '' with one cluster.
export function clusterOf(id, nodesById) {
  const n = nodesById?.get(id);
  if (n) return n.cluster || '';
  const parts = id.split('/');
  return parts.length >= 3 ? parts[0] : '';
}

// clusterGroupOf is the compound a namespace group sits in with several
// clusters ("cl:<cluster>"), null with one.
export const clusterGroupOf = (cluster) => (cluster ? CLUSTER_PREFIX + cluster : null);

// isCrossCluster: an edge whose ends are in different clusters.
export const isCrossCluster = (e) => e?.crossCluster === true;

// isStale: a node or an edge of a cluster whose Kubernetes API is not
// answering (its part of the graph is the last good one).
export const isStale = (x) => x?.stale === true;

// isMultiCluster: meshlock watches several clusters (the snapshot names
// them, or its nodes carry one).
export function isMultiCluster(snapshot) {
  return (snapshot?.clusters?.length || 0) > 1 || !!snapshot?.nodes?.some((n) => n.cluster);
}

// clustersOf: the configured clusters, else those of the nodes, sorted.
export function clustersOf(snapshot) {
  if (snapshot?.clusters?.length) return snapshot.clusters;
  const set = new Set();
  for (const n of snapshot?.nodes || []) if (n.cluster) set.add(n.cluster);
  return [...set].sort(compareStrings);
}

// clusterSource: the Kubernetes source of a cluster in the snapshot's
// sources, null when it has none.
export function clusterSource(snapshot, cluster) {
  if (!cluster) return null;
  return (snapshot?.sources || []).find((x) => x.cluster === cluster || x.name === `kubernetes/${cluster}`) || null;
}

// staleClusters: the clusters whose Kubernetes API is not answering, from
// the sources, else from the nodes marked stale.
export function staleClusters(snapshot) {
  const out = new Set();
  for (const x of snapshot?.sources || []) if (x.cluster && !x.ok) out.add(x.cluster);
  for (const n of snapshot?.nodes || []) if (isStale(n) && n.cluster) out.add(n.cluster);
  return [...out].sort(compareStrings);
}

// namespaceClusters: each namespace name of the nodes with the clusters it
// is in (sorted), for the namespace filter (which filters by name, in
// every cluster).
export function namespaceClusters(snapshot) {
  const out = new Map();
  for (const n of snapshot.nodes) {
    if (!n.namespace || n.kind === 'unknown' || n.kind === 'hidden') continue;
    if (!out.has(n.namespace)) out.set(n.namespace, new Set());
    if (n.cluster) out.get(n.namespace).add(n.cluster);
  }
  return new Map([...out].map(([ns, set]) => [ns, [...set].sort(compareStrings)]));
}

// namespaceKeysFor: the namespace keys of the snapshot's nodes whose
// namespace is among names (the namespace filter's, which names a
// namespace in every cluster).
export function namespaceKeysFor(snapshot, names) {
  const want = new Set(names);
  const out = new Set();
  for (const n of snapshot.nodes) if (want.has(n.namespace)) out.add(namespaceKey(n) || n.namespace);
  for (const ns of names) if (!snapshot.nodes.some((n) => n.namespace === ns)) out.add(ns);
  return [...out].sort(compareStrings);
}

// crossClusterText: "crosses clusters west → east" for an edge whose ends
// are in different clusters, '' for any other.
export function crossClusterText(edge, nodesById) {
  if (!isCrossCluster(edge)) return '';
  const from = clusterOf(edge.source, nodesById);
  const to = clusterOf(edge.target, nodesById);
  return from && to ? `crosses clusters ${from} → ${to}` : 'crosses clusters';
}
