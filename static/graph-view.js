// meshlock's graph view: Cytoscape.js draws the snapshot, and a padlock
// button per drawn edge sits over the canvas at the edge's midpoint. It
// follows the store's snapshot, selection, idle toggle, breaks, grouping
// and theme (the palette of graph-model.mjs); taps select through the
// store, and so do Enter and Space on the keyboard's cursor
// (graph-keys.js). Idle edges are drawn only when asked for, when selected
// (a finding may name one), or when the open enforce plan would cut them.
//
// A big mesh (overview.mjs's threshold) opens collapsed: a node per
// namespace with its padlock (a button over it, which expands it) and one
// edge per pair of ends for the edges between collapsed namespaces; a
// namespace expands on a tap or a click of its padlock, and the namespace
// filter's namespaces open expanded.
//
// With several clusters the namespaces are grouped by cluster first: a box
// per cluster holds its namespaces' (each namespace known by its key,
// "<cluster>/<namespace>": the same name in two clusters is two
// namespaces), its name a button over the canvas (graph-badges.js).
//
// The layout runs once and is kept: a delta restyles what changed (one
// Cytoscape batch, only the elements whose look changed) and places a new
// node beside its namespace's, never laying the graph out again. A whole
// layout runs for the first snapshot, when the drawn graph is replaced (a
// mesh that crosses the threshold, most nodes new) and on Re-layout; an
// expanded namespace lays out its own services only. Small meshes use dagre,
// bigger ones layout.mjs (dagre takes seconds there); a small mesh is also
// laid out again when its set of services changes, as before, since dagre
// costs milliseconds there.

import { $, h } from './dom.js';
import { createBadges } from './graph-badges.js';
import { createGraphKeys } from './graph-keys.js';
import { createGraphLayout } from './graph-layout.js';
import { clusterElement, clusterOfElement, edgeElement, graphStyle, groupElements, linkElement, namespaceElement, nodeElement } from './graph-model.mjs';
import { bounds } from './layout.mjs';
import { clusterGroupOf, isIdle, namespaceKeysFor, shownEdges, staleClusters } from './model.mjs';
import { principalMismatchEdges } from './trust.mjs';
import { NS_PREFIX, fitsDagre, namespacesToShow, opensCollapsed, overview } from './overview.mjs';

// createGraphView draws into #graph and #badges; isDrawn(id) tells whether
// an edge has its padlock on the graph.
export function createGraphView(store) {
  const { state } = store;
  const graphEl = $('#graph');
  const badges = createBadges(store, {
    graphEl,
    badgesEl: $('#badges'),
    onNamespace: (ns, open) => (open ? openNamespace(ns) : closeNamespace(ns)),
    onCluster: (cluster) => showCluster(cluster),
    crowded: () => layoutMode === 'blocks',
  });
  let cy = null;
  let layout = null;
  // drawn: element id → the signature of what it was drawn with, so that a
  // delta touches only what changed.
  const drawn = new Map();
  let layoutMode = null; // 'dagre' or 'blocks'
  let rebuild = false; // the next draw replaces the graph and lays it out whole
  let drawing = false;
  let collapsedDrawn = new Set(); // namespace node ids drawn collapsed
  let laidOutWithoutEdges = false; // the last whole layout knew no edge
  let filterChanged = false; // the namespace filter changed since the last whole snapshot
  let userMovedViewport = false;
  const scheduleBadges = () => badges.schedule();

  function init() {
    if (typeof window.cytoscape !== 'function' || !graphEl) {
      graphEl?.append(h('p', { class: 'graph-missing', text: 'The graph library did not load; the table below shows the same edges.' }));
      return;
    }
    cy = window.cytoscape({
      container: graphEl,
      style: graphStyle(state.theme.resolved),
      elements: [],
      minZoom: 0.05,
      maxZoom: 3,
      boxSelectionEnabled: false,
      selectionType: 'single',
      autoungrabify: false,
    });
    graphEl.dataset.theme = state.theme.resolved;
    layout = createGraphLayout(cy, graphEl, state);
    badges.attach(cy);
    cy.on('tap', 'node, edge', (ev) => activate(ev.target));
    cy.on('tap', (ev) => {
      if (ev.target === cy) store.select(null);
    });
    cy.on('viewport resize position layoutstop add remove', scheduleBadges);
    cy.on('data', 'edge', scheduleBadges);
    $('#fit')?.addEventListener('click', () => {
      userMovedViewport = false;
      fitGraph();
    });
    $('#relayout')?.addEventListener('click', () => {
      layout.layoutAll(layoutMode);
      fitGraph();
      scheduleBadges();
    });
    $('#collapse-all')?.addEventListener('click', () => {
      if (state.expanded) store.setExpanded(new Set());
    });
    // Until the user pans or zooms, the graph keeps fitting its box.
    for (const type of ['wheel', 'pointerdown', 'touchstart']) {
      graphEl.addEventListener(type, () => (userMovedViewport = true), { passive: true });
    }
    new ResizeObserver(() => {
      if (!cy) return;
      cy.resize();
      if (!userMovedViewport) fitGraph();
      scheduleBadges();
    }).observe(graphEl);
  }

  // activate does what a tap (or Enter, graph-keys.js) on an element does:
  // a collapsed namespace expands, a namespace's box, a node or an edge is selected.
  function activate(el) {
    if (el.isEdge()) {
      store.select({ kind: el.hasClass('link') ? 'link' : 'edge', id: el.id() });
      return;
    }
    if (el.hasClass('ns-collapsed')) {
      openNamespace(el.id().slice(NS_PREFIX.length));
      return;
    }
    if (el.isParent()) {
      if (el.id().startsWith(NS_PREFIX)) store.select({ kind: 'namespace', id: el.id().slice(NS_PREFIX.length) });
      else if (clusterOfElement(el.id())) store.select({ kind: 'cluster', id: clusterOfElement(el.id()) });
      return;
    }
    store.select({ kind: 'node', id: el.id() });
  }

  function closeNamespace(ns) {
    store.toggleNamespace(ns, false);
    store.select({ kind: 'namespace', id: ns });
  }

  // showCluster shows a cluster in the side panel and brings its box into view.
  function showCluster(cluster) {
    store.select({ kind: 'cluster', id: cluster });
    bringIntoView(clusterGroupOf(cluster));
  }

  // openNamespace expands a collapsed namespace, shows it in the side
  // panel, and brings it into view.
  function openNamespace(ns) {
    store.toggleNamespace(ns, true);
    store.select({ kind: 'namespace', id: ns });
    bringIntoView(NS_PREFIX + ns);
  }

  function bringIntoView(id) {
    const box = cy?.getElementById(id);
    if (!box || box.empty()) return;
    userMovedViewport = true;
    cy.fit(box, 40);
    if (cy.zoom() > 1.4) cy.zoom({ level: 1.4, renderedPosition: box.renderedPosition() });
  }

  // decideMode picks, for a whole snapshot, whether the graph is collapsed
  // and how it is laid out; a change replaces what is drawn.
  function decideMode(snapshot) {
    const collapse = opensCollapsed(snapshot);
    const mode = collapse || !fitsDagre(snapshot) ? 'blocks' : 'dagre';
    const wasCollapsed = state.expanded !== null;
    // The namespace filter's namespaces open expanded (those the user
    // opened stay open across reconnects, until the filter changes).
    if (collapse && (!wasCollapsed || filterChanged)) store.setExpanded(new Set(namespaceKeysFor(snapshot, state.namespaces)));
    else if (!collapse && wasCollapsed) store.setExpanded(null);
    filterChanged = false;
    if (layoutMode !== null && (mode !== layoutMode || collapse !== wasCollapsed)) rebuild = true;
    layoutMode = mode;
  }

  // draw brings Cytoscape to the snapshot, touching only what changed.
  function draw({ fresh = false } = {}) {
    if (!cy || !state.snapshot || drawing) return;
    drawing = true;
    try {
      drawNow(fresh);
    } finally {
      drawing = false;
    }
  }

  function drawNow(fresh) {
    const snapshot = state.snapshot;
    if (fresh || layoutMode === null) decideMode(snapshot);
    if (rebuild) {
      cy.elements().remove();
      drawn.clear();
      layout.forget();
      collapsedDrawn = new Set();
    }
    const firstDraw = drawn.size === 0;
    const edges = shownEdges(snapshot.edges, state.showIdle, keptEdges());
    const ov = overview(snapshot, edges, state.expanded, state.nodesById);

    // What to draw: parents before their children, nodes before edges;
    // with several clusters, their boxes first.
    const want = new Map();
    const nowCollapsed = new Set();
    const stale = new Set(staleClusters(snapshot));
    for (const g of ov.namespaces) {
      if (!g.cluster || want.has(clusterGroupOf(g.cluster))) continue;
      const el = clusterElement(g.cluster, stale.has(g.cluster));
      want.set(el.data.id, el);
    }
    for (const g of ov.namespaces) {
      if (!g.collapsed) continue;
      want.set(g.id, namespaceElement(g, stale.has(g.cluster)));
      nowCollapsed.add(g.id);
    }
    for (const g of groupElements({ nodes: ov.nodes }, stale)) want.set(g.data.id, g);
    for (const n of ov.nodes) want.set(n.id, nodeElement(n));
    const mismatch = principalMismatchEdges(snapshot.findings);
    for (const e of ov.edges) want.set(e.id, edgeElement(e, state.breakEdges, mismatch));
    for (const l of ov.links) want.set(l.id, linkElement(l, state.breakEdges, mismatch));

    // The namespaces that open and close now: a closing one keeps its
    // services' places for when it opens again.
    const opened = [...collapsedDrawn].filter((id) => !nowCollapsed.has(id) && want.has(id));
    const closed = [...nowCollapsed].filter((id) => drawn.has(id) && !collapsedDrawn.has(id));
    for (const id of closed) layout.saveBlock(id);

    const added = [];
    const toAdd = [];
    let removedNodes = 0;
    cy.batch(() => {
      for (const id of drawn.keys()) {
        if (want.has(id)) continue;
        drawn.delete(id);
        const x = cy.getElementById(id);
        if (x.nonempty() && x.isNode()) removedNodes++;
        if (x.nonempty()) x.remove();
      }
      for (const [id, def] of want) {
        const sig = signature(def);
        const old = drawn.get(id);
        if (old === sig) continue;
        drawn.set(id, sig);
        const el = cy.getElementById(id);
        if (el.empty()) {
          toAdd.push(def);
          if (def.group === 'nodes') added.push(id);
          continue;
        }
        if (def.group === 'nodes' && (el.data('parent') ?? null) !== (def.data.parent ?? null)) el.move({ parent: def.data.parent ?? null });
        if (def.data.w === undefined && el.data('w') !== undefined) el.removeData('w h');
        el.data(def.data);
        el.classes(def.classes || '');
      }
      // One add for all (parents come before their children in want).
      if (toAdd.length) cy.add(toAdd);
    });
    collapsedDrawn = nowCollapsed;

    // Places: a whole layout when the graph is new, the services of the
    // namespaces that opened, beside their namespace for new nodes.
    // (The services of a namespace that opened are not new to the graph.)
    const isGroup = (d) => /(^| )(group|cluster)( |$)/.test(d.classes || '');
    const openedSet = new Set(opened);
    const newNodes = added.filter((id) => !isGroup(want.get(id)) && !openedSet.has(want.get(id).data.parent));
    const wantNodes = [...want.values()].filter((d) => d.group === 'nodes' && !isGroup(d)).length;
    // A small mesh (dagre) is laid out again when its set of nodes changes,
    // as it always was: dagre takes milliseconds there and places a new
    // service where it belongs. A big one never is: its layout is kept.
    // So is one laid out before any edge was known (services come before
    // their traffic): ranks need edges.
    const drawnEdges = ov.edges.length + ov.links.length;
    const dagreAgain = layoutMode === 'dagre' && (newNodes.length > 0 || removedNodes > 0 || (laidOutWithoutEdges && drawnEdges > 0));
    if (rebuild || firstDraw || dagreAgain || newNodes.length > wantNodes / 2) {
      rebuild = false;
      laidOutWithoutEdges = drawnEdges === 0;
      layout.layoutAll(layoutMode);
      userMovedViewport = false;
      fitGraph();
    } else if (opened.length || closed.length) {
      layout.packAll(new Set(opened));
    } else if (added.length) {
      layout.placeNew(added);
    }
    badges.sync(ov);
    syncSelection();
  }

  // signature is what a drawn element's look depends on.
  function signature(def) {
    if (def.group === 'edges') return `${def.data.source}>${def.data.target}|${def.data.width}|${def.classes}`;
    return `${def.data.parent ?? ''}|${def.data.label ?? ''}|${def.data.w ?? ''}|${def.classes ?? ''}`;
  }

  // keptEdges: the idle edges drawn whatever the toggle says.
  function keptEdges() {
    const keep = new Set(state.breakEdges);
    if (state.selected?.kind === 'edge') keep.add(state.selected.id);
    return keep;
  }

  // fitGraph shows the whole graph, not larger than life for small ones.
  // The bounds come from the nodes' places and sizes, which are known:
  // Cytoscape's fit would measure every edge's curve first, a few hundred
  // milliseconds for the few hundred edges between collapsed namespaces.
  function fitGraph() {
    if (!cy || cy.nodes().empty()) return;
    const w = graphEl.clientWidth;
    const hgt = graphEl.clientHeight;
    const leaves = cy.nodes().filter((n) => !n.isParent());
    const b = bounds(new Map(leaves.map((n) => [n.id(), n.position()])), (id) => {
      const n = cy.getElementById(id);
      return { w: n.data('w') || 70, h: n.data('h') || 40 };
    });
    if (!w || !hgt || !b.w) return;
    // Room for the namespaces' boxes around their services (in the
    // graph's units), and 30 pixels around it all.
    const box = 40;
    const pad = 30;
    const zoom = Math.min(Math.max(Math.min((w - 2 * pad) / (b.w + 2 * box), (hgt - 2 * pad) / (b.h + 2 * box)), cy.minZoom()), 1.4);
    cy.viewport({ zoom, pan: { x: w / 2 - (zoom * (b.x1 + b.x2)) / 2, y: hgt / 2 - (zoom * (b.y1 + b.y2)) / 2 } });
  }

  // ---- selection ----

  function selectedElementID(sel) {
    if (!sel) return null;
    if (sel.kind === 'edge' || sel.kind === 'node' || sel.kind === 'link') return sel.id;
    if (sel.kind === 'namespace') return NS_PREFIX + sel.id;
    if (sel.kind === 'cluster') return clusterGroupOf(sel.id);
    return null;
  }

  // syncSelection keeps Cytoscape's selection equal to the store's
  // (elements are re-added when the filter changes).
  function syncSelection() {
    if (!cy) return;
    const id = selectedElementID(state.selected);
    const want = id ? cy.getElementById(id).filter((el) => el.selectable()) : cy.collection();
    cy.elements(':selected').difference(want).unselect();
    if (want.nonempty() && !want.selected()) want.select();
  }

  function showSelection({ center }) {
    const target = state.selected;
    // What is selected elsewhere (the table, a finding) is drawn by itself.
    if (state.expanded && (target?.kind === 'edge' || target?.kind === 'node') && cy?.getElementById(target.id).empty()) {
      store.expandNamespaces(namespacesToShow(target, state));
    }
    if (cy) {
      cy.elements(':selected').unselect();
      const id = selectedElementID(target);
      const el = id ? cy.getElementById(id) : cy.collection();
      if (el.nonempty()) {
        if (el.selectable()) el.select();
        if (center && target.kind !== 'namespace' && target.kind !== 'cluster') cy.animate({ center: { eles: el }, duration: 200 });
      }
    }
    badges.showSelection();
  }

  // The collapse-all button shows on a collapsed graph only.
  function renderCollapseAll() {
    const btn = $('#collapse-all');
    if (btn) btn.hidden = !state.expanded;
  }

  // The idle toggle (in the graph's toolbar) shows idle edges in the graph
  // and the table alike; it works without the graph library too.
  const idleToggle = $('#toggle-idle');
  idleToggle?.addEventListener('change', () => store.setShowIdle(idleToggle.checked));

  function renderIdleToggle() {
    if (!idleToggle) return;
    const lb = state.snapshot?.lookback;
    const n = state.snapshot ? state.snapshot.edges.filter(isIdle).length : 0;
    const label = idleToggle.closest('label');
    if (label) label.hidden = !lb && n === 0; // a server without a look-back
    idleToggle.checked = state.showIdle;
    idleToggle.disabled = lb?.state === 'off' && n === 0;
    const count = $('#idle-count');
    if (count) count.textContent = `(${n})`;
    if (label) {
      label.title = idleToggle.disabled
        ? 'The look-back is off: no caller is known beyond the rate window.'
        : `Show the ${n} edge${n === 1 ? '' : 's'} with no traffic now that the look-back${lb?.window ? ` (${lb.window})` : ''} has seen, dashed`;
    }
  }

  init();
  store.subscribe('snapshot', (_, detail) => draw(detail));
  store.subscribe('snapshot', renderIdleToggle);
  store.subscribe('idle', renderIdleToggle);
  let drawnSelectedIdle = false; // the selection drew an idle edge the toggle hides
  store.subscribe('selection', (_, detail) => {
    const sel = state.selected;
    const idleNow = sel?.kind === 'edge' && isIdle(state.edgesById.get(sel.id));
    if (!state.showIdle && (idleNow || drawnSelectedIdle)) draw();
    drawnSelectedIdle = idleNow;
    showSelection(detail);
  });
  // The edges a plan would cut are highlighted, idle ones drawn for the
  // preview even while the toggle hides them: both redraw.
  store.subscribe('breaks', () => draw());
  store.subscribe('idle', () => draw());
  store.subscribe('grouping', () => draw());
  store.subscribe('grouping', renderCollapseAll);
  // A new namespace filter: the stream's next snapshot is of those
  // namespaces, which then open expanded if it is still big.
  store.subscribe('namespaces', () => (filterChanged = true));
  store.subscribe('clusters', () => (filterChanged = true));
  // The theme's colours: Cytoscape draws on a canvas, so it gets the palette anew.
  store.subscribe('theme', () => {
    if (!cy) return;
    cy.style(graphStyle(state.theme.resolved));
    graphEl.dataset.theme = state.theme.resolved;
  });
  // The keyboard (after the redraws above: it marks what they drew).
  const keys = createGraphKeys(store, { graphEl, badgesEl: $('#badges'), activate });
  if (cy) keys.attach(cy);
  return { isDrawn: badges.isDrawn };
}
