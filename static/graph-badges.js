// meshlock's padlocks over the graph's canvas: an HTML button per edge
// drawn by itself (at its midpoint) and, on a collapsed graph, one per
// namespace (inside its node, or at the top left of an expanded one) with
// the namespace's status and mTLS share, which expands or collapses it.
// Buttons, so that they have words for screen readers and take a click;
// an edge's is out of the Tab order (tabindex -1), since the graph's box
// walks every edge from the keyboard (graph-keys.js), where a Tab stop per
// edge would make a long way past the graph. A namespace's stays in it.
// With several clusters, a cluster's name is a button too, at the top left
// of its box (data-testid cluster-group), which shows it in the side panel;
// an edge between clusters has ⇄ on its padlock, a stale one is faded.
// Placed once per animation frame.

import { h, icon } from './dom.js';
import { clusterStaleText } from './cluster-words.mjs';
import { badgeFor, postureView } from './format.mjs';
import { clusterGroupOf, staleClusters } from './model.mjs';
import { NS_PREFIX, namespaceName } from './overview.mjs';
import { MISMATCH_LABEL, principalMismatchEdges } from './trust.mjs';

// Below FAR_ZOOM the edges' padlocks of a crowded graph hide; the
// namespaces' stay.
const FAR_ZOOM = 0.5;

// createBadges: onNamespace(namespace, open) is what a namespace's padlock does.
// crowded() says whether the graph is big enough for that (not a small
// mesh laid out by dagre, whose padlocks always show).
export function createBadges(store, { graphEl, badgesEl, onNamespace, onCluster, crowded }) {
  const { state } = store;
  const badgeEls = new Map(); // edge id → button
  const nsBadgeEls = new Map(); // namespace node id → button
  const clusterEls = new Map(); // cluster box id → button
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
        el.className = `padlock padlock-${b.status}${b.tlsFailing ? ' tlsfail' : ''}${b.refused ? ' refused' : ''}${b.idle ? ' idle' : ''}${b.crossCluster ? ' cross-cluster' : ''}${b.stale ? ' stale' : ''}${wrong ? ' principal-mismatch' : ''}${b.authz ? ` authz-${b.authz}` : ''}${el.classList.contains('kbd-cursor') ? ' kbd-cursor' : ''}`;
        el.dataset.principalMismatch = String(wrong);
        if (b.authz) el.dataset.authz = b.authz;
        else delete el.dataset.authz;
        if (b.crossCluster) el.dataset.crossCluster = 'true';
        else delete el.dataset.crossCluster;
        if (b.stale) el.dataset.stale = 'true';
        else delete el.dataset.stale;
        el.setAttribute('aria-label', b.label);
        el.title = b.label;
        el.replaceChildren(
          icon(b.status, 16),
          b.text ? h('span', { class: 'padlock-text', text: b.text }) : '',
          b.tlsFailing ? h('span', { class: 'tls-warn', 'aria-hidden': 'true', text: '⚠' }) : '',
          wrong ? h('span', { class: 'id-warn', 'aria-hidden': 'true', text: '≠' }) : '',
          // Denied by access policy ⊘, or decided by what meshlock cannot see ◐.
          b.authz ? h('span', { class: `authz-mark authz-mark-${b.authz}`, 'aria-hidden': 'true', text: b.authz === 'deny' ? '⊘' : '◐' }) : '',
          b.crossCluster ? h('span', { class: 'cross-mark', 'aria-hidden': 'true', text: '⇄' }) : '',
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
    syncClusters(ov);
    schedule();
  }

  // A cluster's name (several clusters only): a button at the top left of
  // its box that shows the cluster in the side panel; it says when the
  // cluster's Kubernetes API is not answering.
  function syncClusters(ov) {
    const want = new Set();
    const stale = new Set(staleClusters(state.snapshot));
    const clusters = [...new Set(ov.namespaces.map((g) => g.cluster).filter(Boolean))];
    for (const cluster of clusters) {
      const id = clusterGroupOf(cluster);
      want.add(id);
      const down = stale.has(cluster);
      const members = ov.namespaces.filter((g) => g.cluster === cluster).length;
      const label = `Cluster ${cluster}: ${members} namespace${members === 1 ? '' : 's'}${down ? `; ${clusterStaleText(cluster, state.snapshot)}, its part of the graph is the last good one` : ''}. Show it.`;
      let el = clusterEls.get(id);
      if (!el) {
        el = h('button', {
          type: 'button',
          class: 'cluster-label',
          dataset: { testid: 'cluster-group', cluster, focusKey: `cluster:${cluster}` },
          onclick: () => onCluster?.(cluster),
        });
        clusterEls.set(id, el);
        badgesEl.append(el);
      }
      const key = `${down}|${label}`;
      if (el.dataset.key !== key) {
        el.dataset.key = key;
        el.dataset.stale = String(down);
        el.className = `cluster-label${down ? ' stale' : ''}`;
        el.setAttribute('aria-label', label);
        el.title = label;
        el.replaceChildren(
          h('span', { class: 'cluster-name', text: `cluster ${cluster}` }),
          down ? h('span', { class: 'cluster-stale', text: ' · API not answering' }) : '',
        );
      }
      el.classList.toggle('selected', store.isSelected('cluster', cluster));
    }
    for (const [id, el] of clusterEls) {
      if (!want.has(id)) {
        el.remove();
        clusterEls.delete(id);
      }
    }
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
      const label = `${cap(namespaceName(g.key))}: ${g.status ? `${status}${p.parts.length ? `, ${p.text} mTLS` : ''}` : 'no traffic'}; ${g.members} service${g.members === 1 ? '' : 's'}, ${g.edges} edge${g.edges === 1 ? '' : 's'} in. ${expanded ? 'Collapse' : 'Expand'} it.`;
      let el = nsBadgeEls.get(g.id);
      if (!el) {
        el = h('button', {
          type: 'button',
          class: 'padlock ns-padlock',
          dataset: { testid: 'namespace-padlock', namespace: g.namespace, ...(g.cluster ? { cluster: g.cluster } : {}) },
          onclick: () => onNamespace(g.key, !state.expanded?.has(g.key)),
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
      el.classList.toggle('selected', store.isSelected('namespace', g.key));
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
    for (const [id, el] of clusterEls) el.classList.toggle('selected', store.isSelected('cluster', el.dataset.cluster));
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

  // placeCorner puts a cluster's name with its top left corner at p (kept
  // inside the graph's box while any of its cluster shows).
  function placeCorner(el, p, w, hgt) {
    const off = !Number.isFinite(p.x) || p.x > w || p.y > hgt;
    el.classList.toggle('offscreen', off);
    if (!off) el.style.transform = `translate(${Math.round(Math.max(p.x, 0))}px, ${Math.round(Math.max(p.y, 0))}px)`;
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
    for (const [id, el] of clusterEls) {
      const n = cy.getElementById(id);
      if (n.empty()) continue;
      // Its name's place: the top left corner of its box, on its border
      // (as a fieldset's legend), so it covers little of what is inside.
      const bb = n.boundingBox({ includeLabels: false });
      const p = at({ x: bb.x1, y: bb.y1 });
      placeCorner(el, { x: p.x + 8, y: p.y - 12 }, w, hgt);
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

const cap = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);
