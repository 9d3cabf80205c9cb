// meshlock's graph from the keyboard: the graph's box (#graph, one stop of
// the Tab order) takes the arrow keys, which walk its services and edges
// as keyboard.mjs says; Enter or Space does what a tap does (selects, so
// the side panel shows it; expands a collapsed namespace), Escape clears
// the selection. Where the keyboard is shows on the canvas (the
// kbd-cursor class, graphStyle's amber ring; the edge's padlock too), in
// words under the graph while it has the focus, and to screen readers
// through a polite live region (#graph-live).

import { $ } from './dom.js';
import { badgeFor, nodeName } from './format.mjs';
import { nodeLabel } from './graph-model.mjs';
import { cursorPlace, firstCursor, graphCursorAfterKey, graphKeyModel, validCursor } from './keyboard.mjs';
import { NS_PREFIX, namespaceName } from './overview.mjs';

// createGraphKeys: activate(element) is what a tap on it does.
export function createGraphKeys(store, { graphEl, badgesEl, activate }) {
  const { state } = store;
  const live = $('#graph-live');
  const caption = $('#graph-cursor');
  const captionText = $('#graph-cursor-text');
  let cy = null;
  let cursor = null; // {kind: 'node', id} or {kind: 'edge', id, from}
  let model = null; // keyboard.mjs's walk over what is drawn; null when it changed

  function attach(instance) {
    cy = instance;
    cy.on('add remove position layoutstop', () => (model = null));
    graphEl.addEventListener('focus', () => {
      cursor = validCursor(walk(), cursor) || firstCursor(walk(), state.selected);
      show({ reveal: true });
    });
    graphEl.addEventListener('blur', () => {
      mark(null);
      if (caption) caption.hidden = true;
    });
    graphEl.addEventListener('keydown', onKey);
  }

  // walk: the model of what Cytoscape draws now: its leaves (services,
  // collapsed namespaces) with their group and place, and its edges.
  function walk() {
    if (model) return model;
    const nodes = cy
      .nodes()
      .filter((n) => !n.isParent())
      .map((n) => ({ id: n.id(), group: n.data('parent') ?? n.id(), x: n.position('x'), y: n.position('y') }));
    const edges = cy.edges().map((e) => ({ id: e.id(), source: e.source().id(), target: e.target().id() }));
    model = graphKeyModel(nodes, edges);
    return model;
  }

  function onKey(ev) {
    if (!cy || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (ev.key === 'Escape') {
      if (!state.selected) return;
      ev.preventDefault();
      store.select(null);
      show();
      return;
    }
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      const c = validCursor(walk(), cursor);
      if (!c) return;
      const el = cy.getElementById(c.id);
      const collapsed = el.hasClass('ns-collapsed');
      activate(el);
      model = null;
      // An expanded namespace is a box now: the walk goes on at its first service.
      if (collapsed && !validCursor(walk(), c)) {
        const first = walk().order.find((id) => cy.getElementById(id).data('parent') === c.id);
        cursor = first ? { kind: 'node', id: first } : firstCursor(walk(), null);
      }
      show({ reveal: true });
      return;
    }
    const next = graphCursorAfterKey(walk(), cursor, ev.key);
    if (!next) return;
    ev.preventDefault();
    cursor = next;
    show({ reveal: true });
  }

  // mark puts the kbd-cursor class on the cursor's element and padlock only.
  function mark(c) {
    if (!cy) return;
    cy.elements('.kbd-cursor').removeClass('kbd-cursor');
    for (const b of badgesEl?.querySelectorAll('.kbd-cursor') || []) b.classList.remove('kbd-cursor');
    if (!c) return;
    cy.getElementById(c.id).addClass('kbd-cursor');
    if (c.kind === 'edge') badgesEl?.querySelector(`[data-edge-id="${CSS.escape(c.id)}"]`)?.classList.add('kbd-cursor');
  }

  // show draws the cursor, brings it into view when asked, and says where it is.
  function show({ reveal = false, announce = true } = {}) {
    if (!cy) return;
    cursor = validCursor(walk(), cursor);
    mark(cursor);
    if (cursor && reveal) {
      const el = cy.getElementById(cursor.id);
      const bb = el.renderedBoundingBox({ includeLabels: false });
      if (bb.x1 < 0 || bb.y1 < 0 || bb.x2 > graphEl.clientWidth || bb.y2 > graphEl.clientHeight) cy.center(el);
    }
    const text = cursor ? describe(cursor) : 'The graph shows nothing.';
    graphEl.dataset.cursor = cursor ? cursor.id : '';
    graphEl.dataset.cursorKind = cursor ? cursor.kind : '';
    if (captionText) captionText.textContent = text;
    if (caption) caption.hidden = document.activeElement !== graphEl;
    if (announce && live) live.textContent = text;
  }

  const nameOf = (id) => (id.startsWith(NS_PREFIX) && !state.nodesById.has(id) ? namespaceName(id.slice(NS_PREFIX.length)) : nodeName(id, state.nodesById));

  // describe: the cursor's element in words, with its place in the walk.
  function describe(c) {
    const m = walk();
    const el = cy.getElementById(c.id);
    const selected = el.selected() ? ', selected' : '';
    const place = cursorPlace(m, c, nameOf);
    if (c.kind === 'edge') {
      const e = state.edgesById.get(c.id);
      const what = e
        ? badgeFor(e, state.nodesById).label
        : `Edges from ${nameOf(el.source().id())} to ${nameOf(el.target().id())}, ${['locked', 'mixed', 'open', 'unknown'].find((s) => el.hasClass(s)) || 'unknown'}`;
      return `${what}${selected}. ${cap(place)}.`;
    }
    const calls = m.edgesOf(c.id);
    const out = calls.filter((e) => e.source === c.id).length;
    const counts = `${out} call${out === 1 ? '' : 's'} out, ${calls.length - out} in`;
    if (el.hasClass('ns-collapsed')) {
      const members = String(el.data('label') || '').split('\n')[1];
      return `${cap(namespaceName(c.id.slice(NS_PREFIX.length)))}, collapsed (${members || 'no services'}); ${counts}${selected}. Enter expands it. ${cap(place)}.`;
    }
    const n = state.nodesById.get(c.id);
    const label = n ? nodeLabel(n).split('\n') : [c.id];
    const kind = n?.kind === 'service' ? 'Service ' : '';
    const ns = n?.namespace ? ` in ${n.namespace}${n.cluster ? ` (cluster ${n.cluster})` : ''}${n.stale ? ', stale' : ''}` : '';
    return `${kind}${label[0]}${ns}: ${label.slice(1).join(', ') || n?.kind || ''}; ${counts}${selected}. ${cap(place)}.`;
  }

  // A redraw (a delta, a namespace expanded) keeps the cursor drawn, quietly.
  store.subscribe('snapshot', () => document.activeElement === graphEl && show({ announce: false }));
  store.subscribe('selection', () => document.activeElement === graphEl && show({ announce: false }));

  return { attach };
}

const cap = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);
