// meshlock's overview of a big mesh, pure (no DOM): which meshes open
// collapsed by namespace, the padlock of a namespace and of the bundle of
// edges between two collapsed ends, and what the graph draws for a set of
// expanded namespaces. graph-view.js draws it; static/test/overview.test.mjs
// tests it under Node.

import { isIdle, namespaceKey, namespaceKeyOfID, parseNamespaceKey, postureOf } from './model.mjs';

// A mesh of more than COLLAPSE_NODES nodes or COLLAPSE_EDGES edges opens
// collapsed: one node per namespace. Below that every service is drawn,
// with a padlock per edge, as for the demo's bookinfo; above it a graph of
// every service is unreadable at any zoom that fits it, and its thousands
// of elements and padlock buttons cost seconds and gigabytes to draw.
export const COLLAPSE_NODES = 300;
export const COLLAPSE_EDGES = 1000;

// DAGRE_NODES and DAGRE_EDGES bound the meshes laid out by dagre, whose
// cost grows much faster than the graph (a second for 50 services and 175
// edges here); bigger ones get layout.mjs's per-namespace layout.
export const DAGRE_NODES = 60;
export const DAGRE_EDGES = 120;

export function opensCollapsed(snapshot) {
  return snapshot.nodes.length > COLLAPSE_NODES || snapshot.edges.length > COLLAPSE_EDGES;
}

export function fitsDagre(snapshot) {
  return snapshot.nodes.length <= DAGRE_NODES && snapshot.edges.length <= DAGRE_EDGES;
}

export const NS_PREFIX = 'ns:';
export const LINK_PREFIX = 'link:';
// nsID is a namespace's node on the graph, by its key (model.mjs's
// namespaceKey: the namespace, or "<cluster>/<namespace>" with several
// clusters).
export const nsID = (key) => NS_PREFIX + key;

// representative is what stands for a node on the graph: the node itself,
// or its namespace's node when that namespace is collapsed. expanded is
// null when nothing is collapsed (a small mesh), else the keys of the
// expanded namespaces. Nodes outside any namespace (the unknown caller,
// the hidden node) always stand for themselves.
export function representative(node, expanded) {
  const key = namespaceKey(node);
  if (!expanded || !key) return node?.id;
  return expanded.has(key) ? node.id : nsID(key);
}

// endNamespace is the namespace key of a node id the snapshot may not hold
// (an edge's end): its own, else the part before the last "/".
function endNamespace(id, nodesById) {
  const n = nodesById.get(id);
  if (n) return namespaceKey(n);
  return namespaceKeyOfID(id);
}

function endRepresentative(id, nodesById, expanded) {
  const n = nodesById.get(id);
  if (n) return representative(n, expanded);
  const ns = endNamespace(id, nodesById);
  return !expanded || !ns || expanded.has(ns) ? id : nsID(ns);
}

// statusCounts counts edges per status.
export function statusCounts(edges) {
  const c = { locked: 0, mixed: 0, open: 0, unknown: 0 };
  for (const e of edges) c[e.status in c ? e.status : 'unknown']++;
  return c;
}

// aggregateStatus is the padlock of a set of edges from their statuses:
// locked only when every edge is locked, unknown when every edge is
// unknown, open when none carries mTLS (open and unknown only), mixed
// otherwise; null for no edge. An unknown edge keeps a set from "locked":
// nothing proves it.
export function aggregateStatus(counts) {
  const total = counts.locked + counts.mixed + counts.open + counts.unknown;
  if (total === 0) return null;
  if (counts.unknown === total) return 'unknown';
  if (counts.locked === total) return 'locked';
  if (counts.locked === 0 && counts.mixed === 0) return 'open';
  return 'mixed';
}

// summary is the padlock and share of a set of edges: {edges, counts,
// status, posture} (the posture leaves idle edges out, as the server's).
export function summary(edges) {
  const counts = statusCounts(edges);
  return { edges: edges.length, counts, status: aggregateStatus(counts), posture: postureOf(edges), idle: edges.length > 0 && edges.every(isIdle) };
}

export const linkID = (source, target) => `${LINK_PREFIX}${source}->${target}`;

// parseLinkID: the two representatives of a link's id.
export function parseLinkID(id) {
  if (!id.startsWith(LINK_PREFIX)) return null;
  const rest = id.slice(LINK_PREFIX.length);
  const i = rest.indexOf('->');
  return i < 0 ? null : { source: rest.slice(0, i), target: rest.slice(i + 2) };
}

// overview is what the graph draws of snapshot with edges (the edges
// shown: idle ones only when asked) when expanded namespaces are drawn in
// full (expanded null: all of them):
//   namespaces  [{namespace, cluster, key, id, collapsed, members, ...summary}]
//               for every namespace with a node (a namespace per cluster
//               with several: cluster '' with one), its summary over the edges into it
//               (the traffic its services receive, what enforcing on the
//               namespace governs)
//   nodes       the nodes drawn one by one
//   edges       the edges drawn one by one (both ends drawn)
//   links       [{id, source, target, edgeIDs, ...summary}]: the edges
//               between two ends of which one at least is collapsed, one
//               link per pair of representatives (none inside a namespace)
export function overview(snapshot, edges, expanded, nodesById = new Map(snapshot.nodes.map((n) => [n.id, n]))) {
  const namespaces = new Map();
  const nodes = [];
  // Each node's namespace and representative, once (thousands of edges ask).
  const nsOf = new Map();
  const repOf = new Map();
  for (const n of snapshot.nodes) {
    const ns = namespaceKey(n);
    nsOf.set(n.id, ns);
    repOf.set(n.id, representative(n, expanded));
    if (ns) {
      let g = namespaces.get(ns);
      if (!g) {
        g = { namespace: n.namespace, cluster: n.cluster || '', key: ns, id: nsID(ns), collapsed: !!expanded && !expanded.has(ns), members: 0, inbound: [] };
        namespaces.set(ns, g);
      }
      g.members++;
      if (g.collapsed) continue;
    }
    nodes.push(n);
  }
  const drawnEdges = [];
  const links = new Map();
  for (const e of edges) {
    const tns = nsOf.get(e.target) ?? endNamespace(e.target, nodesById);
    namespaces.get(tns)?.inbound.push(e);
    if (!expanded) {
      drawnEdges.push(e);
      continue;
    }
    const s = repOf.get(e.source) ?? endRepresentative(e.source, nodesById, expanded);
    const t = repOf.get(e.target) ?? endRepresentative(e.target, nodesById, expanded);
    if (s === e.source && t === e.target) {
      drawnEdges.push(e);
      continue;
    }
    if (s === t) continue; // inside a collapsed namespace: its padlock says it
    const id = linkID(s, t);
    let l = links.get(id);
    if (!l) links.set(id, (l = { id, source: s, target: t, list: [] }));
    l.list.push(e);
  }
  // Only what has both ends on the graph is drawn.
  const drawn = new Set(nodes.map((n) => n.id));
  for (const g of namespaces.values()) if (g.collapsed) drawn.add(g.id);
  return {
    namespaces: [...namespaces.values()].map(({ inbound, ...g }) => ({ ...g, ...summary(inbound) })),
    nodes,
    edges: drawnEdges.filter((e) => drawn.has(e.source) && drawn.has(e.target)),
    links: [...links.values()]
      .filter((l) => drawn.has(l.source) && drawn.has(l.target))
      .map(({ list, ...l }) => ({ ...l, edgeIDs: list.map((e) => e.id), ...summary(list) })),
  };
}

// linkEdges are the edges a link bundles, for the side panel.
export function linkEdges(snapshot, id, expanded, nodesById = new Map(snapshot.nodes.map((n) => [n.id, n]))) {
  const ends = parseLinkID(id);
  if (!ends) return [];
  return snapshot.edges.filter(
    (e) => endRepresentative(e.source, nodesById, expanded) === ends.source && endRepresentative(e.target, nodesById, expanded) === ends.target,
  );
}

// namespacesToShow: the namespaces (keys) to expand so that an edge or a
// node is drawn by itself.
export function namespacesToShow(target, state) {
  const ids = target?.kind === 'edge' ? [state.edgesById.get(target.id)?.source, state.edgesById.get(target.id)?.target] : target?.kind === 'node' ? [target.id] : [];
  const out = [];
  for (const id of ids) {
    if (!id) continue;
    const ns = endNamespace(id, state.nodesById);
    if (ns && !out.includes(ns)) out.push(ns);
  }
  return out;
}

// namespaceName words a namespace key: "namespace shop", or with several
// clusters "namespace shop in cluster east".
export function namespaceName(key) {
  const { cluster, namespace } = parseNamespaceKey(key);
  return cluster ? `namespace ${namespace} in cluster ${cluster}` : `namespace ${namespace}`;
}
