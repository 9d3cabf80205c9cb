// meshlock's graph view: Cytoscape.js draws the snapshot (laid out again
// only when the set of nodes changes), and a padlock button per edge sits
// over the canvas at the edge's midpoint. It follows the store's snapshot,
// selection, idle toggle and breaks; taps select through the store. Idle
// edges are drawn only when asked for, when selected (a finding may name
// one), or when the open enforce plan would cut them.

import { $, h, icon } from './dom.js';
import { badgeFor } from './format.mjs';
import { edgeElement, graphStyle, groupElements, nodeElement } from './graph-model.mjs';
import { isIdle, layoutKey, shownEdges } from './model.mjs';

// createGraphView draws into #graph and #badges; isDrawn(id) tells whether
// an edge has its padlock on the graph.
export function createGraphView(store) {
  const { state } = store;
  const graphEl = $('#graph');
  const badgesEl = $('#badges');
  const badgeEls = new Map(); // edge id → button
  let cy = null;
  let currentLayoutKey = null;
  let userMovedViewport = false;
  let badgeFrame = 0;

  function init() {
    if (typeof window.cytoscape !== 'function' || !graphEl) {
      graphEl?.append(h('p', { class: 'graph-missing', text: 'The graph library did not load; the table below shows the same edges.' }));
      return;
    }
    cy = window.cytoscape({
      container: graphEl,
      style: graphStyle(),
      elements: [],
      minZoom: 0.2,
      maxZoom: 3,
      boxSelectionEnabled: false,
      selectionType: 'single',
      autoungrabify: false,
    });
    cy.on('tap', 'node', (ev) => {
      const n = ev.target;
      if (n.isParent()) {
        if (n.id().startsWith('ns:')) store.select({ kind: 'namespace', id: n.id().slice(3) });
        return;
      }
      store.select({ kind: 'node', id: n.id() });
    });
    cy.on('tap', 'edge', (ev) => store.select({ kind: 'edge', id: ev.target.id() }));
    cy.on('tap', (ev) => {
      if (ev.target === cy) store.select(null);
    });
    cy.on('viewport resize position layoutstop add remove', scheduleBadges);
    cy.on('data', 'edge', scheduleBadges);
    $('#fit')?.addEventListener('click', () => {
      userMovedViewport = false;
      fitGraph();
    });
    $('#relayout')?.addEventListener('click', () => runLayout(true));
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

  // draw brings Cytoscape to the snapshot. The layout runs only when the
  // set of nodes changes; status and rate changes restyle in place, and
  // showing or hiding idle edges (edges only) keeps the layout too.
  function draw() {
    if (!cy || !state.snapshot) return;
    const snapshot = state.snapshot;
    const key = layoutKey(snapshot);
    const endpoints = new Set(snapshot.nodes.map((n) => n.id));
    const edges = shownEdges(snapshot.edges, state.showIdle, keptEdges()).filter((e) => endpoints.has(e.source) && endpoints.has(e.target));
    cy.batch(() => {
      const want = new Set();
      for (const g of groupElements(snapshot)) {
        want.add(g.data.id);
        const el = cy.getElementById(g.data.id);
        if (el.empty()) cy.add(g);
        else el.data('label', g.data.label);
      }
      for (const n of snapshot.nodes) {
        want.add(n.id);
        const def = nodeElement(n);
        const el = cy.getElementById(n.id);
        if (el.nonempty() && el.data('parent') !== def.data.parent) el.move({ parent: def.data.parent });
        if (el.empty()) cy.add(def);
        else {
          el.data(def.data);
          el.classes(def.classes);
        }
      }
      for (const e of edges) {
        want.add(e.id);
        const def = edgeElement(e, state.breakEdges);
        const el = cy.getElementById(e.id);
        if (el.empty()) cy.add(def);
        else {
          el.data('width', def.data.width);
          el.classes(def.classes);
        }
      }
      cy.elements().forEach((el) => {
        if (!want.has(el.id())) cy.remove(el);
      });
    });
    if (key !== currentLayoutKey) {
      currentLayoutKey = key;
      runLayout(true);
    }
    syncBadges(edges);
    syncSelection();
  }

  // keptEdges: the idle edges drawn whatever the toggle says.
  function keptEdges() {
    const keep = new Set(state.breakEdges);
    if (state.selected?.kind === 'edge') keep.add(state.selected.id);
    return keep;
  }

  function runLayout(fit) {
    if (!cy || cy.nodes().empty()) return;
    cy.layout({ name: 'dagre', rankDir: 'LR', nodeSep: 30, rankSep: 90, edgeSep: 12, padding: 30, fit: false, animate: false }).run();
    if (fit) fitGraph();
    scheduleBadges();
  }

  // fitGraph shows the whole graph, not larger than life for small ones.
  function fitGraph() {
    if (!cy || cy.nodes().empty()) return;
    cy.fit(undefined, 30);
    if (cy.zoom() > 1.4) {
      cy.zoom(1.4);
      cy.center();
    }
  }

  // syncSelection keeps Cytoscape's selection equal to the store's
  // (elements are re-added when the filter changes).
  function syncSelection() {
    if (!cy) return;
    const sel = state.selected;
    const want = sel && (sel.kind === 'edge' || sel.kind === 'node') ? cy.getElementById(sel.id) : cy.collection();
    cy.elements(':selected').difference(want).unselect();
    if (want.nonempty() && !want.selected()) want.select();
  }

  function showSelection({ center }) {
    const target = state.selected;
    if (cy) {
      cy.elements(':selected').unselect();
      if (target && (target.kind === 'edge' || target.kind === 'node')) {
        const el = cy.getElementById(target.id);
        if (el.nonempty()) {
          el.select();
          if (center) cy.animate({ center: { eles: el }, duration: 200 });
        }
      }
    }
    for (const [id, el] of badgeEls) el.classList.toggle('selected', store.isSelected('edge', id));
  }

  // ---- padlock badges (HTML over the canvas) ----

  function syncBadges(edges) {
    if (!badgesEl) return;
    const want = new Set();
    for (const e of edges) {
      want.add(e.id);
      const b = badgeFor(e, state.nodesById);
      let el = badgeEls.get(e.id);
      if (!el) {
        el = h('button', {
          type: 'button',
          class: 'padlock',
          dataset: { testid: 'padlock', edgeId: e.id },
          onclick: () => store.select({ kind: 'edge', id: e.id }),
        });
        badgeEls.set(e.id, el);
        badgesEl.append(el);
      }
      if (el.dataset.status !== b.status || el.dataset.text !== b.text || el.getAttribute('aria-label') !== b.label) {
        el.dataset.status = b.status;
        el.dataset.text = b.text;
        el.dataset.tlsFailing = String(b.tlsFailing);
        el.className = `padlock padlock-${b.status}${b.tlsFailing ? ' tlsfail' : ''}${b.idle ? ' idle' : ''}`;
        el.setAttribute('aria-label', b.label);
        el.title = b.label;
        el.replaceChildren(
          icon(b.status, 16),
          b.text ? h('span', { class: 'padlock-text', text: b.text }) : '',
          b.tlsFailing ? h('span', { class: 'tls-warn', 'aria-hidden': 'true', text: '⚠' }) : '',
        );
      }
      el.classList.toggle('selected', store.isSelected('edge', e.id));
      el.classList.toggle('breaks', state.breakEdges.has(e.id));
    }
    for (const [id, el] of badgeEls) {
      if (!want.has(id)) {
        el.remove();
        badgeEls.delete(id);
      }
    }
    scheduleBadges();
  }

  function scheduleBadges() {
    if (badgeFrame) return;
    badgeFrame = requestAnimationFrame(() => {
      badgeFrame = 0;
      placeBadges();
    });
  }

  function placeBadges() {
    if (!cy) return;
    const w = graphEl.clientWidth;
    const hgt = graphEl.clientHeight;
    for (const [id, el] of badgeEls) {
      const edge = cy.getElementById(id);
      if (edge.empty()) continue;
      const p = edge.renderedMidpoint();
      const off = !Number.isFinite(p.x) || p.x < 0 || p.y < 0 || p.x > w || p.y > hgt;
      el.classList.toggle('offscreen', off);
      el.style.transform = `translate(${Math.round(p.x)}px, ${Math.round(p.y)}px) translate(-50%, -50%)`;
    }
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
  store.subscribe('snapshot', draw);
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
  store.subscribe('breaks', draw);
  store.subscribe('idle', draw);
  return { isDrawn: (id) => badgeEls.has(id) };
}
