// meshlock's graph in Cytoscape.js's terms, with no DOM: the stylesheet in
// the light or the dark theme's colours (status by colour and line style,
// idle edges dashed and light, a principal mismatch outlined in violet
// with a diamond at the caller's end, kinds by shape, the keyboard's
// cursor, several clusters' compounds, edges between clusters doubled with
// a hollow square at the caller's end, a cluster's stale part faded) and
// the elements for a snapshot's clusters, namespaces, nodes and edges.
// graph-view.js hands them to Cytoscape; static/test/graph-model.test.mjs
// checks them under Node.

import { CLUSTER_PREFIX, OUTSIDE_GROUP, STATUSES, clusterGroupOf, groupOf, isCrossCluster, isIdle, isStale } from './model.mjs';
import { displayName, refusedText, tlsFailureText } from './format.mjs';

// GRAPH_PALETTES: the graph's colours in each theme (theme.mjs), for
// Cytoscape draws on a canvas and reads no CSS. The status colours are
// app.css's --locked, --mixed, --open and --unknown of the same theme
// (static/test/theme.test.mjs holds them equal, and to AA contrast against
// the canvas, the pane's --panel). mismatch: a principal that is not the
// workload's own (a principal-mismatch finding); cursor: the keyboard's
// place in the graph (graph-keys.js).
export const GRAPH_PALETTES = Object.freeze({
  light: Object.freeze({
    canvas: '#ffffff',
    locked: '#1a7431',
    mixed: '#9a5200',
    open: '#c0262d',
    unknown: '#5f6672',
    mismatch: '#7c3aed',
    select: '#1f5bd8',
    cursor: '#b45309',
    edge: '#6b7280',
    nodeBg: '#ffffff',
    nodeBorder: '#334155',
    nodeText: '#0f172a',
    gateway: '#6d28d9',
    gatewayBg: '#f5f3ff',
    nosidecarBg: '#f8fafc',
    unknownNode: '#a16207',
    unknownNodeBg: '#fef9c3',
    groupBg: '#eef3f9',
    groupBorder: '#b8c7da',
    groupText: '#475569',
    outsideBg: '#fdf8e4',
    outsideBorder: '#e2c25a',
    outsideText: '#7a5600',
    ambient: '#0f766e',
    waypointBg: '#ecfdf5',
    collapsedBg: '#eef3f9',
    collapsedText: '#334155',
  }),
  dark: Object.freeze({
    canvas: '#172133',
    locked: '#4ccb73',
    mixed: '#f0a23b',
    open: '#ff7b7b',
    unknown: '#a3acb9',
    mismatch: '#b79cff',
    select: '#6aa8ff',
    cursor: '#fbbf24',
    edge: '#8d97a6',
    nodeBg: '#1f2b40',
    nodeBorder: '#94a3b8',
    nodeText: '#e6edf6',
    gateway: '#b79cff',
    gatewayBg: '#2a2446',
    nosidecarBg: '#1a2436',
    unknownNode: '#d9b13b',
    unknownNodeBg: '#3a3216',
    groupBg: '#1c273a',
    groupBorder: '#3d4c66',
    groupText: '#b9c4d3',
    outsideBg: '#2d2918',
    outsideBorder: '#8c7634',
    outsideText: '#e8c76a',
    ambient: '#3fd1bd',
    waypointBg: '#133833',
    collapsedBg: '#1c273a',
    collapsedText: '#d3dbe6',
  }),
});

// paletteOf: the palette of a theme ('light' for anything unknown).
export const paletteOf = (theme) => GRAPH_PALETTES[theme] || GRAPH_PALETTES.light;


// graphStyle: Cytoscape's stylesheet in a theme's colours ('light' or
// 'dark'); graph-view.js sets it again when the theme changes.
export function graphStyle(theme = 'light') {
  const c = paletteOf(theme);
  return [
    {
      selector: 'node',
      style: {
        shape: 'round-rectangle',
        'background-color': c.nodeBg,
        'border-width': 1.5,
        'border-color': c.nodeBorder,
        label: 'data(label)',
        'text-wrap': 'wrap',
        'text-valign': 'center',
        'text-halign': 'center',
        'font-family': 'system-ui, sans-serif',
        'font-size': 12,
        color: c.nodeText,
      },
    },
    { selector: 'node[w]', style: { width: 'data(w)', height: 'data(h)' } },
    { selector: 'node.workload', style: { shape: 'rectangle' } },
    // Several workloads known only by their ServiceAccount: a workload with a double border.
    { selector: 'node.serviceaccount', style: { 'border-style': 'double', 'border-width': 4 } },
    // A gateway: its own shape, since PeerAuthentication does not govern it.
    {
      selector: 'node.gateway',
      style: { shape: 'cut-rectangle', 'border-color': c.gateway, 'border-width': 2.5, 'background-color': c.gatewayBg },
    },
    { selector: 'node.nosidecar', style: { 'border-style': 'dashed', 'background-color': c.nosidecarBg } },
    {
      selector: 'node.unknown',
      style: {
        shape: 'barrel',
        'border-color': c.unknownNode,
        'border-width': 2,
        'border-style': 'dashed',
        'background-color': c.unknownNodeBg,
      },
    },
    {
      selector: ':parent',
      style: {
        shape: 'round-rectangle',
        'background-color': c.groupBg,
        'background-opacity': 1,
        'border-color': c.groupBorder,
        'border-width': 1,
        label: 'data(label)',
        'text-valign': 'top',
        'text-halign': 'center',
        'font-size': 12,
        'font-weight': 'bold',
        color: c.groupText,
        padding: 18,
      },
    },
    {
      // A cluster (several clusters only): a box round its namespaces' boxes,
      // open (the canvas shows through), with a double border and its name.
      selector: 'node.cluster',
      style: {
        'background-opacity': 0,
        'border-style': 'double',
        'border-width': 5,
        'border-color': c.nodeBorder,
        'font-size': 14,
        padding: 26,
      },
    },
    // A cluster whose Kubernetes API is not answering: a dashed border (its
    // nodes and edges fade, below; its label says so).
    { selector: 'node.cluster.stale', style: { 'border-style': 'dashed', 'border-width': 2.5 } },
    {
      selector: `node[id = "${OUTSIDE_GROUP}"]`,
      style: { 'background-color': c.outsideBg, 'border-color': c.outsideBorder, color: c.outsideText },
    },
    {
      selector: 'edge',
      style: {
        'curve-style': 'bezier',
        'target-arrow-shape': 'triangle',
        'arrow-scale': 1,
        width: 'data(width)',
        'line-color': c.edge,
        'target-arrow-color': c.edge,
      },
    },
    { selector: 'edge.locked', style: { 'line-color': c.locked, 'target-arrow-color': c.locked, 'line-style': 'solid' } },
    {
      selector: 'edge.mixed',
      style: { 'line-color': c.mixed, 'target-arrow-color': c.mixed, 'line-style': 'dashed', 'line-dash-pattern': [8, 4] },
    },
    {
      selector: 'edge.open',
      style: { 'line-color': c.open, 'target-arrow-color': c.open, 'line-style': 'dotted' },
    },
    {
      selector: 'edge.unknown',
      style: { 'line-color': c.unknown, 'target-arrow-color': c.unknown, 'line-style': 'solid', opacity: 0.75 },
    },
    {
      // Idle (seen in the look-back only): dashed and light whatever the
      // status, which the colour still tells.
      selector: 'edge.idle',
      style: { 'line-style': 'dashed', 'line-dash-pattern': [3, 6], opacity: 0.45, width: 1.5 },
    },
    {
      // Between two clusters: a second line beside it (a ghost) and a
      // hollow square at the caller's end, whatever the status line is.
      selector: 'edge.cross-cluster',
      style: {
        ghost: 'yes',
        'ghost-offset-x': 3,
        'ghost-offset-y': 3,
        'ghost-opacity': 0.45,
        'source-arrow-shape': 'square',
        'source-arrow-fill': 'hollow',
        'source-arrow-color': c.nodeBorder,
      },
    },
    {
      // A principal on it is not its workload's (a principal-mismatch
      // finding): a violet outline and a diamond at the caller's end, which
      // a failing handshake's red outline (below) may cover, not the diamond.
      selector: 'edge.principal-mismatch',
      style: {
        'line-outline-width': 2,
        'line-outline-color': c.mismatch,
        'source-arrow-shape': 'diamond',
        'source-arrow-color': c.mismatch,
        'source-arrow-fill': 'filled',
      },
    },
    {
      // Handshakes failing: a red outline around whatever the status line is.
      selector: 'edge.tlsfail',
      style: { 'line-outline-width': 2, 'line-outline-color': c.open, 'target-arrow-color': c.open },
    },
    {
      // Refused by the destination's policy: a dotted line ending in a bar.
      selector: 'edge.refused',
      style: { 'line-style': 'dotted', 'target-arrow-shape': 'tee', 'line-outline-width': 2, 'line-outline-color': c.open },
    },
    // A cluster's part whose Kubernetes API is not answering (the last good
    // one): faded, nodes and edges alike.
    { selector: 'node.stale', style: { opacity: 0.45 } },
    { selector: 'edge.stale', style: { opacity: 0.35 } },
    // Ambient workloads: a double border (no sidecar, ztunnel carries them);
    // a waypoint: its own shape.
    { selector: 'node.ambient', style: { 'border-style': 'double', 'border-width': 4, 'border-color': c.ambient } },
    {
      selector: 'node.waypoint',
      style: { shape: 'hexagon', 'border-color': c.ambient, 'border-width': 2.5, 'background-color': c.waypointBg },
    },
    {
      selector: 'node:selected',
      style: { 'border-color': c.select, 'border-width': 3, 'border-style': 'solid' },
    },
    {
      selector: 'edge:selected',
      style: { 'underlay-color': c.select, 'underlay-opacity': 0.3, 'underlay-padding': 5 },
    },
    {
      // An edge the enforce plan in the dialog would cut.
      selector: 'edge.breaks',
      style: { 'underlay-color': c.open, 'underlay-opacity': 0.4, 'underlay-padding': 7, 'z-index': 20 },
    },
    // An idle caller the plan would cut must stand out as much as a live one.
    { selector: 'edge.idle.breaks', style: { opacity: 0.9 } },
    // A collapsed namespace (a big mesh): one node, its border saying its
    // padlock's status in colour and line style, as the edges do.
    {
      selector: 'node.ns-collapsed',
      style: {
        shape: 'round-rectangle',
        'background-color': c.collapsedBg,
        'border-width': 3,
        // The name at the top; the padlock button (graph-badges.js) below it.
        'text-valign': 'top',
        'text-margin-y': 44,
        'font-size': 16,
        'font-weight': 'bold',
        color: c.collapsedText,
      },
    },
    { selector: 'node.ns-collapsed.locked', style: { 'border-color': c.locked, 'border-style': 'solid' } },
    { selector: 'node.ns-collapsed.mixed', style: { 'border-color': c.mixed, 'border-style': 'dashed' } },
    { selector: 'node.ns-collapsed.open', style: { 'border-color': c.open, 'border-style': 'dotted', 'border-width': 4 } },
    { selector: 'node.ns-collapsed.unknown', style: { 'border-color': c.unknown, 'border-style': 'solid' } },
    { selector: 'node.ns-collapsed:selected', style: { 'border-color': c.select, 'border-width': 4 } },
    // The edges between a collapsed namespace and anything else, bundled:
    // the status classes above colour them; thicker for more edges. Haystack
    // lines, the cheapest Cytoscape draws (a few hundred of them cost half
    // the first frame as curves), with the direction as an arrow midway.
    {
      selector: 'edge.link',
      style: { 'curve-style': 'haystack', 'haystack-radius': 0, 'target-arrow-shape': 'none', 'mid-target-arrow-shape': 'triangle', opacity: 0.7 },
    },
    { selector: 'edge.link.locked', style: { 'mid-target-arrow-color': c.locked } },
    { selector: 'edge.link.mixed', style: { 'mid-target-arrow-color': c.mixed } },
    { selector: 'edge.link.open', style: { 'mid-target-arrow-color': c.open } },
    { selector: 'edge.link.unknown', style: { 'mid-target-arrow-color': c.unknown } },
    // The keyboard's place in the graph (graph-keys.js), over the selection:
    // an outline around a node, a wide underlay under an edge.
    {
      selector: 'node.kbd-cursor',
      style: { 'outline-width': 3, 'outline-color': c.cursor, 'outline-offset': 3, 'outline-opacity': 1 },
    },
    {
      selector: 'edge.kbd-cursor',
      style: { 'underlay-color': c.cursor, 'underlay-opacity': 0.55, 'underlay-padding': 6, 'z-index': 30 },
    },
  ];
}

// Sizes of a collapsed namespace's node.
export const NAMESPACE_NODE = { w: 200, h: 96 };

// namespaceElement is a collapsed namespace's node (g from overview.mjs);
// with several clusters, inside its cluster's box (stale: that cluster's
// Kubernetes API is not answering).
export function namespaceElement(g, stale = false) {
  const data = { id: g.id, label: `${g.namespace}\n${g.members} service${g.members === 1 ? '' : 's'}`, w: NAMESPACE_NODE.w, h: NAMESPACE_NODE.h };
  if (g.cluster) data.parent = clusterGroupOf(g.cluster);
  return { group: 'nodes', data, classes: `ns-collapsed ${g.status || 'none'}${stale ? ' stale' : ''}` };
}

// clusterElement is a cluster's box (several clusters only): stale when
// its Kubernetes API is not answering.
export function clusterElement(cluster, stale = false) {
  return {
    group: 'nodes',
    data: { id: clusterGroupOf(cluster), label: stale ? `cluster ${cluster} (API not answering)` : `cluster ${cluster}` },
    selectable: false,
    grabbable: false,
    classes: stale ? 'cluster stale' : 'cluster',
  };
}

// clusterOfElement: the cluster a cluster box's id names, '' for another.
export const clusterOfElement = (id) => (id.startsWith(CLUSTER_PREFIX) ? id.slice(CLUSTER_PREFIX.length) : '');

// linkElement is the bundle of edges between two representatives (l from
// overview.mjs); breaks and mismatch as for edgeElement.
export function linkElement(l, breaks = new Set(), mismatch = new Set()) {
  const cut = l.edgeIDs.some((id) => breaks.has(id));
  const wrong = mismatch.size > 0 && l.edgeIDs.some((id) => mismatch.has(id));
  return {
    group: 'edges',
    data: { id: l.id, source: l.source, target: l.target, width: 1.5 + Math.min(5, Math.log2(l.edges)) },
    classes: `link ${l.status || 'unknown'}${l.idle ? ' idle' : ''}${wrong ? ' principal-mismatch' : ''}${cut ? ' breaks' : ''}`,
  };
}

export function nodeLabel(n) {
  if (n.kind === 'unknown') return 'unknown\n(outside the mesh)';
  if (n.kind === 'hidden') return 'hidden\n(a namespace you cannot see)';
  let second;
  if (n.kind === 'gateway') second = 'gateway';
  else if (n.dataPlane === 'waypoint') second = 'waypoint';
  else if (!n.inMesh) second = 'not in mesh';
  else if (n.dataPlane === 'ambient' && n.kind === 'workload') second = 'ambient';
  else if (n.kind === 'workload') second = 'workload';
  else if (n.kind === 'serviceaccount') second = 'service account';
  else second = n.peerAuthentication === 'UNSET' || !n.peerAuthentication ? 'PA unset' : n.peerAuthentication;
  return `${displayName(n)}\n${second}`;
}

export function nodeElement(n) {
  const label = nodeLabel(n);
  const longest = Math.max(...label.split('\n').map((l) => l.length));
  const kindClasses = { unknown: 'unknown', hidden: 'unknown', workload: 'workload', serviceaccount: 'workload serviceaccount', gateway: 'gateway' };
  const outside = n.kind === 'unknown' || n.kind === 'hidden';
  const planes = { ambient: 'ambient', waypoint: 'waypoint' };
  const classes = [kindClasses[n.kind] || '', !n.inMesh && !outside ? 'nosidecar' : '', planes[n.dataPlane] || '', isStale(n) ? 'stale' : ''].filter(Boolean).join(' ');
  return {
    group: 'nodes',
    data: { id: n.id, parent: groupOf(n), label, w: Math.max(70, longest * 7 + 20), h: 40 },
    classes,
  };
}

export function edgeWidth(e) {
  const r = Number.isFinite(e.rate) && e.rate > 0 ? e.rate : 0;
  const scaled = e.protocol === 'tcp' ? r / 1000 : r;
  // Open edges are a little thicker so that their dots read as dots.
  return (e.status === 'open' ? 2.5 : 1.5) + Math.min(3.5, Math.log10(1 + scaled) * 1.5);
}

// edgeElement: breaks are the ids of the edges the open enforce plan would
// cut, mismatch those a principal-mismatch finding names (trust.mjs's
// principalMismatchEdges).
export function edgeElement(e, breaks = new Set(), mismatch = new Set()) {
  return {
    group: 'edges',
    data: { id: e.id, source: e.source, target: e.target, width: edgeWidth(e) },
    classes: `${STATUSES.includes(e.status) ? e.status : 'unknown'}${isIdle(e) ? ' idle' : ''}${tlsFailureText(e) ? ' tlsfail' : ''}${refusedText(e) ? ' refused' : ''}${isCrossCluster(e) ? ' cross-cluster' : ''}${isStale(e) ? ' stale' : ''}${mismatch.has(e.id) ? ' principal-mismatch' : ''}${breaks.has(e.id) ? ' breaks' : ''}`,
  };
}

// groupElements: the compounds of the nodes: a namespace's box each (and
// the callers outside the mesh); with several clusters a cluster's box
// first, holding its namespaces' (staleClusters: the names of those whose
// Kubernetes API is not answering). With one cluster, as it always was.
export function groupElements(snapshot, staleClusters = new Set()) {
  const clusters = new Map();
  const groups = new Map();
  for (const n of snapshot.nodes) {
    const g = groupOf(n);
    if (groups.has(g)) continue;
    const data = { id: g, label: g === OUTSIDE_GROUP ? 'outside the mesh' : n.namespace };
    if (g !== OUTSIDE_GROUP && n.cluster) {
      data.parent = clusterGroupOf(n.cluster);
      if (!clusters.has(n.cluster)) clusters.set(n.cluster, clusterElement(n.cluster, staleClusters.has(n.cluster)));
    }
    groups.set(g, data);
  }
  return [
    ...clusters.values(),
    ...[...groups.values()].map((data) => ({ group: 'nodes', data, selectable: false, grabbable: false, classes: 'group' })),
  ];
}
