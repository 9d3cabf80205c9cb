// meshlock's graph in Cytoscape.js's terms, with no DOM: the stylesheet
// (status by colour and line style, idle edges dashed and light, a
// principal mismatch outlined in violet with a diamond at the caller's end,
// kinds by shape) and the elements for a
// snapshot's namespaces, nodes and edges. graph-view.js hands them to
// Cytoscape; static/test/graph-model.test.mjs checks them under Node.

import { OUTSIDE_GROUP, STATUSES, groupOf, isIdle } from './model.mjs';
import { displayName, refusedText, tlsFailureText } from './format.mjs';

const COLORS = { locked: '#1e7b34', mixed: '#b35c00', open: '#c0262d', unknown: '#6b7280' };
// A principal that is not the workload's own (a principal-mismatch finding).
export const MISMATCH_COLOR = '#7c3aed';

export function graphStyle() {
  return [
    {
      selector: 'node',
      style: {
        shape: 'round-rectangle',
        'background-color': '#ffffff',
        'border-width': 1.5,
        'border-color': '#334155',
        label: 'data(label)',
        'text-wrap': 'wrap',
        'text-valign': 'center',
        'text-halign': 'center',
        'font-family': 'system-ui, sans-serif',
        'font-size': 12,
        color: '#0f172a',
      },
    },
    { selector: 'node[w]', style: { width: 'data(w)', height: 'data(h)' } },
    { selector: 'node.workload', style: { shape: 'rectangle' } },
    // Several workloads known only by their ServiceAccount: a workload with a double border.
    { selector: 'node.serviceaccount', style: { 'border-style': 'double', 'border-width': 4 } },
    // A gateway: its own shape, since PeerAuthentication does not govern it.
    {
      selector: 'node.gateway',
      style: { shape: 'cut-rectangle', 'border-color': '#6d28d9', 'border-width': 2.5, 'background-color': '#f5f3ff' },
    },
    { selector: 'node.nosidecar', style: { 'border-style': 'dashed', 'background-color': '#f8fafc' } },
    {
      selector: 'node.unknown',
      style: {
        shape: 'barrel',
        'border-color': '#a16207',
        'border-width': 2,
        'border-style': 'dashed',
        'background-color': '#fef9c3',
      },
    },
    {
      selector: ':parent',
      style: {
        shape: 'round-rectangle',
        'background-color': '#eef3f9',
        'background-opacity': 1,
        'border-color': '#b8c7da',
        'border-width': 1,
        label: 'data(label)',
        'text-valign': 'top',
        'text-halign': 'center',
        'font-size': 12,
        'font-weight': 'bold',
        color: '#475569',
        padding: 18,
      },
    },
    {
      selector: `node[id = "${OUTSIDE_GROUP}"]`,
      style: { 'background-color': '#fdf8e4', 'border-color': '#e2c25a', color: '#8a6100' },
    },
    {
      selector: 'edge',
      style: {
        'curve-style': 'bezier',
        'target-arrow-shape': 'triangle',
        'arrow-scale': 1,
        width: 'data(width)',
        'line-color': '#6b7280',
        'target-arrow-color': '#6b7280',
      },
    },
    { selector: 'edge.locked', style: { 'line-color': COLORS.locked, 'target-arrow-color': COLORS.locked, 'line-style': 'solid' } },
    {
      selector: 'edge.mixed',
      style: { 'line-color': COLORS.mixed, 'target-arrow-color': COLORS.mixed, 'line-style': 'dashed', 'line-dash-pattern': [8, 4] },
    },
    {
      selector: 'edge.open',
      style: { 'line-color': COLORS.open, 'target-arrow-color': COLORS.open, 'line-style': 'dotted' },
    },
    {
      selector: 'edge.unknown',
      style: { 'line-color': COLORS.unknown, 'target-arrow-color': COLORS.unknown, 'line-style': 'solid', opacity: 0.75 },
    },
    {
      // Idle (seen in the look-back only): dashed and light whatever the
      // status, which the colour still tells.
      selector: 'edge.idle',
      style: { 'line-style': 'dashed', 'line-dash-pattern': [3, 6], opacity: 0.45, width: 1.5 },
    },
    {
      // A principal on it is not its workload's (a principal-mismatch
      // finding): a violet outline and a diamond at the caller's end, which
      // a failing handshake's red outline (below) may cover, not the diamond.
      selector: 'edge.principal-mismatch',
      style: {
        'line-outline-width': 2,
        'line-outline-color': MISMATCH_COLOR,
        'source-arrow-shape': 'diamond',
        'source-arrow-color': MISMATCH_COLOR,
        'source-arrow-fill': 'filled',
      },
    },
    {
      // Handshakes failing: a red outline around whatever the status line is.
      selector: 'edge.tlsfail',
      style: { 'line-outline-width': 2, 'line-outline-color': COLORS.open, 'target-arrow-color': COLORS.open },
    },
    {
      // Refused by the destination's policy: a dotted line ending in a bar.
      selector: 'edge.refused',
      style: { 'line-style': 'dotted', 'target-arrow-shape': 'tee', 'line-outline-width': 2, 'line-outline-color': COLORS.open },
    },
    // Ambient workloads: a double border (no sidecar, ztunnel carries them);
    // a waypoint: its own shape.
    { selector: 'node.ambient', style: { 'border-style': 'double', 'border-width': 4, 'border-color': '#0f766e' } },
    {
      selector: 'node.waypoint',
      style: { shape: 'hexagon', 'border-color': '#0f766e', 'border-width': 2.5, 'background-color': '#ecfdf5' },
    },
    {
      selector: 'node:selected',
      style: { 'border-color': '#2563eb', 'border-width': 3, 'border-style': 'solid' },
    },
    {
      selector: 'edge:selected',
      style: { 'underlay-color': '#2563eb', 'underlay-opacity': 0.25, 'underlay-padding': 5 },
    },
    {
      // An edge the enforce plan in the dialog would cut.
      selector: 'edge.breaks',
      style: { 'underlay-color': '#c0262d', 'underlay-opacity': 0.4, 'underlay-padding': 7, 'z-index': 20 },
    },
    // An idle caller the plan would cut must stand out as much as a live one.
    { selector: 'edge.idle.breaks', style: { opacity: 0.9 } },
    // A collapsed namespace (a big mesh): one node, its border saying its
    // padlock's status in colour and line style, as the edges do.
    {
      selector: 'node.ns-collapsed',
      style: {
        shape: 'round-rectangle',
        'background-color': '#eef3f9',
        'border-width': 3,
        // The name at the top; the padlock button (graph-badges.js) below it.
        'text-valign': 'top',
        'text-margin-y': 44,
        'font-size': 16,
        'font-weight': 'bold',
        color: '#334155',
      },
    },
    { selector: 'node.ns-collapsed.locked', style: { 'border-color': COLORS.locked, 'border-style': 'solid' } },
    { selector: 'node.ns-collapsed.mixed', style: { 'border-color': COLORS.mixed, 'border-style': 'dashed' } },
    { selector: 'node.ns-collapsed.open', style: { 'border-color': COLORS.open, 'border-style': 'dotted', 'border-width': 4 } },
    { selector: 'node.ns-collapsed.unknown', style: { 'border-color': COLORS.unknown, 'border-style': 'solid' } },
    { selector: 'node.ns-collapsed:selected', style: { 'border-color': '#2563eb', 'border-width': 4 } },
    // The edges between a collapsed namespace and anything else, bundled:
    // the status classes above colour them; thicker for more edges. Haystack
    // lines, the cheapest Cytoscape draws (a few hundred of them cost half
    // the first frame as curves), with the direction as an arrow midway.
    {
      selector: 'edge.link',
      style: { 'curve-style': 'haystack', 'haystack-radius': 0, 'target-arrow-shape': 'none', 'mid-target-arrow-shape': 'triangle', opacity: 0.7 },
    },
    { selector: 'edge.link.locked', style: { 'mid-target-arrow-color': COLORS.locked } },
    { selector: 'edge.link.mixed', style: { 'mid-target-arrow-color': COLORS.mixed } },
    { selector: 'edge.link.open', style: { 'mid-target-arrow-color': COLORS.open } },
    { selector: 'edge.link.unknown', style: { 'mid-target-arrow-color': COLORS.unknown } },
  ];
}

// Sizes of a collapsed namespace's node.
export const NAMESPACE_NODE = { w: 200, h: 96 };

// namespaceElement is a collapsed namespace's node (g from overview.mjs).
export function namespaceElement(g) {
  return {
    group: 'nodes',
    data: { id: g.id, label: `${g.namespace}\n${g.members} service${g.members === 1 ? '' : 's'}`, w: NAMESPACE_NODE.w, h: NAMESPACE_NODE.h },
    classes: `ns-collapsed ${g.status || 'none'}`,
  };
}

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
  const classes = [kindClasses[n.kind] || '', !n.inMesh && !outside ? 'nosidecar' : '', planes[n.dataPlane] || ''].filter(Boolean).join(' ');
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
    classes: `${STATUSES.includes(e.status) ? e.status : 'unknown'}${isIdle(e) ? ' idle' : ''}${tlsFailureText(e) ? ' tlsfail' : ''}${refusedText(e) ? ' refused' : ''}${mismatch.has(e.id) ? ' principal-mismatch' : ''}${breaks.has(e.id) ? ' breaks' : ''}`,
  };
}

export function groupElements(snapshot) {
  const groups = new Map();
  for (const n of snapshot.nodes) {
    const g = groupOf(n);
    if (!groups.has(g)) groups.set(g, g === OUTSIDE_GROUP ? 'outside the mesh' : n.namespace);
  }
  return [...groups].map(([id, label]) => ({ group: 'nodes', data: { id, label }, selectable: false, grabbable: false, classes: 'group' }));
}
