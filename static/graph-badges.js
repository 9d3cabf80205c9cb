// meshlock's padlocks over the graph's canvas: an HTML button per edge
// drawn by itself (at its midpoint) and, on a collapsed graph, one per
// namespace (inside its node, or at the top left of an expanded one) with
// the namespace's status and mTLS share, which expands or collapses it.
// Buttons, so that they have words for screen readers and take a click;
// an edge's is out of the Tab order (tabindex -1), since the graph's box
// walks every edge from the keyboard (graph-keys.js), where a Tab stop per
// edge would make a long way past the graph. A namespace's stays in it.
// Placed once per animation frame.

import { h, icon } from './dom.js';
import { badgeFor, postureView } from './format.mjs';
import { NS_PREFIX } from './overview.mjs';
import { MISMATCH_LABEL, principalMismatchEdges } from './trust.mjs';

// Below FAR_ZOOM the edges' padlocks of a crowded graph hide; the
// namespaces' stay.
const FAR_ZOOM = 0.5;

// createBadges: onNamespace(namespace, open) is what a namespace's padlock does.
// crowded() says whether the graph is big enough for that (not a small
// mesh laid out by dagre, whose padlocks always show).
export function createBadges(store, { graphEl, badgesEl, onNamespace, crowded }) {
  const { state } = store;
  const badgeEls = new Map(); // edge id → button
  const nsBadgeEls = new Map(); // namespace node id → button
  let cy = null;
  let frame = 0;

  function sync(ov) {
    if (!badgesEl) return;
    const want = new Set();
    const mismatch = principalMismatchEdges(state.snapshot?.findings);
    for (const e of ov.edges) {
      want.add(e.id);
      const b = badgeFor(e, state.nodesById);
      // A principal on it is not its workload's: said in its label, marked ≠.
      const wrong = mismatch.has(e.id);
      if (wrong) b.label += `; ${MISMATCH_LABEL}`;
      let el = badgeEls.get(e.id);
      if (!el) {
        el = h('button', {
          type: 'button',
          class: 'padlock',
          tabindex: '-1',
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
        el.className = `padlock padlock-${b.status}${b.tlsFailing ? ' tlsfail' : ''}${b.refused ? ' refused' : ''}${b.idle ? ' idle' : ''}${wrong ? ' principal-mismatch' : ''}${el.classList.contains('kbd-cursor') ? ' kbd-cursor' : ''}`;
        el.dataset.principalMismatch = String(wrong);
        el.setAttribute('aria-label', b.label);
        el.title = b.label;
        el.replaceChildren(
          icon(b.status, 16),
          b.text ? h('span', { class: 'padlock-text', text: b.text }) : '',
          b.tlsFailing ? h('span', { class: 'tls-warn', 'aria-hidden': 'true', text: '⚠' }) : '',
          wrong ? h('span', { class: 'id-warn', 'aria-hidden': 'true', text: '≠' }) : '',
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
    syncNamespaces(ov);
    schedule();
  }

  // A namespace's padlock (collapsed graphs only): its status and share
  // over the edges into it.
  function syncNamespaces(ov) {
    const want = new Set();
    for (const g of state.expanded ? ov.namespaces : []) {
      want.add(g.id);
      const status = g.status || 'none';
      const p = postureView(g.posture);
      const share = p.parts[0]?.percent || '';
      const expanded = !g.collapsed;
      const label = `Namespace ${g.namespace}: ${g.status ? `${status}${p.parts.length ? `, ${p.text} mTLS` : ''}` : 'no traffic'}; ${g.members} service${g.members === 1 ? '' : 's'}, ${g.edges} edge${g.edges === 1 ? '' : 's'} in. ${expanded ? 'Collapse' : 'Expand'} it.`;
      let el = nsBadgeEls.get(g.id);
      if (!el) {
        el = h('button', {
          type: 'button',
          class: 'padlock ns-padlock',
          dataset: { testid: 'namespace-padlock', namespace: g.namespace },
          onclick: () => onNamespace(g.namespace, !state.expanded?.has(g.namespace)),
        });
        nsBadgeEls.set(g.id, el);
        badgesEl.append(el);
      }
      const key = `${status}|${share}|${expanded}|${label}`;
      if (el.dataset.key !== key) {
        el.dataset.key = key;
        el.dataset.status = status;
        el.dataset.share = p.share;
        el.dataset.expanded = String(expanded);
        el.setAttribute('aria-expanded', String(expanded));
        el.setAttribute('aria-label', label);
        el.title = label;
        el.className = `padlock ns-padlock padlock-${status}`;
        el.replaceChildren(
          g.status ? icon(status, 16) : '',
          h('span', { class: 'padlock-text', text: g.status ? share || '?' : 'no traffic' }),
          h('span', { class: 'ns-toggle', 'aria-hidden': 'true', text: expanded ? '−' : '+' }),
        );
      }
      el.classList.toggle('selected', store.isSelected('namespace', g.namespace));
    }
    for (const [id, el] of nsBadgeEls) {
      if (!want.has(id)) {
        el.remove();
        nsBadgeEls.delete(id);
      }
    }
  }

  function showSelection() {
    for (const [id, el] of badgeEls) el.classList.toggle('selected', store.isSelected('edge', id));
    for (const [id, el] of nsBadgeEls) el.classList.toggle('selected', store.isSelected('namespace', id.slice(NS_PREFIX.length)));
  }

  function schedule() {
    if (frame || !cy) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      place();
    });
  }

  // placeOne centres a padlock on p, scaled (a namespace's shrinks with
  // its node when zoomed out, down to half its size).
  function placeOne(el, p, w, hgt, scale = 1) {
    const off = !Number.isFinite(p.x) || p.x < 0 || p.y < 0 || p.x > w || p.y > hgt;
    el.classList.toggle('offscreen', off);
    if (!off) el.style.transform = `translate(${Math.round(p.x)}px, ${Math.round(p.y)}px) translate(-50%, -50%)${scale < 1 ? ` scale(${scale.toFixed(2)})` : ''}`;
  }

  // place puts each padlock where its edge or namespace is drawn, from the
  // model's coordinates and the viewport (Cytoscape's rendered* helpers
  // read the container's place from the DOM each time, which forces a
  // layout between every two writes).
  function place() {
    const w = graphEl.clientWidth;
    const hgt = graphEl.clientHeight;
    const zoom = cy.zoom();
    const pan = cy.pan();
    const at = (p) => ({ x: p.x * zoom + pan.x, y: p.y * zoom + pan.y });
    // Zoomed far out on a bigger mesh, edges' padlocks would pile up on one
    // another: they hide (the lines' colour and style say the same; the
    // table lists them).
    badgesEl.classList.toggle('far', crowded() && zoom < FAR_ZOOM);
    const spots = [];
    for (const [id, el] of badgeEls) {
      const edge = cy.getElementById(id);
      if (edge.nonempty()) spots.push([el, at(edge.midpoint())]);
    }
    for (const [id, el] of nsBadgeEls) {
      const n = cy.getElementById(id);
      if (n.empty()) continue;
      if (n.isParent()) {
        // Expanded: the top left corner of its box.
        const bb = n.boundingBox({ includeLabels: false });
        const p = at({ x: bb.x1, y: bb.y1 });
        spots.push([el, { x: p.x + 34, y: p.y + 12 }, true]);
      } else {
        // Collapsed: under its name, inside the node.
        const c = n.position();
        const half = (n.data('h') || 40) / 2;
        const p = at({ x: c.x, y: c.y + half });
        spots.push([el, { x: p.x, y: p.y - Math.min(18, (half * 2 * zoom) / 3) }, true]);
      }
    }
    const nsScale = Math.min(1, Math.max(0.5, zoom / 0.7));
    for (const [el, p, ns] of spots) placeOne(el, p, w, hgt, ns ? nsScale : 1);
  }

  return {
    attach: (instance) => (cy = instance),
    sync,
    schedule,
    showSelection,
    isDrawn: (id) => badgeEls.has(id),
  };
}
