// meshlock's graph layouts on Cytoscape's elements (graph-view.js decides
// when): dagre over the whole of a small mesh (with several clusters, over
// each cluster's box on its own, the boxes then placed side by side by
// layout.mjs's placeClusters, as dagre's nested compounds overlap); for a
// bigger one, each expanded namespace's services laid out by layout.mjs
// within their block and the blocks (collapsed namespaces are one node
// each) packed in rows, with several clusters each cluster's blocks packed
// together in its box; and a node a delta adds placed beside its
// namespace's services, moving nothing else. Every whole layout and every
// packing counts in state.layouts (window.meshlock.layouts).

import { NAMESPACE_NODE } from './graph-model.mjs';
import { bounds, clusterOrder, layered, packBlocks, placeBelow, placeClusters } from './layout.mjs';
import { OUTSIDE_GROUP, clusterGroupOf, clustersOf } from './model.mjs';

// A compound node's padding and label, as graphStyle draws them.
const GROUP_PAD = 18;
const GROUP_LABEL = 20;
// A cluster's box (several clusters): its padding and label.
const CLUSTER_PAD = 26;
const CLUSTER_LABEL = 22;
const DAGRE = { name: 'dagre', rankDir: 'LR', nodeSep: 30, rankSep: 90, edgeSep: 12, padding: 30, fit: false, animate: false };

export function createGraphLayout(cy, graphEl, state) {
  // savedBlocks: the services' places in a namespace that was collapsed
  // (relative to its block's centre), for when it is expanded again.
  const savedBlocks = new Map();

  // aspectOf: the graph's box, width ÷ height, which the layouts fill.
  function aspectOf() {
    return graphEl.clientWidth && graphEl.clientHeight ? graphEl.clientWidth / graphEl.clientHeight : 1.6;
  }

  function sizeOf(id) {
    const n = cy.getElementById(id);
    return { w: n.data('w') || 70, h: n.data('h') || 40 };
  }

  // layoutAll lays the whole graph out: dagre for a small mesh (mode
  // 'dagre'), else blocks.
  function layoutAll(mode) {
    savedBlocks.clear();
    if (cy.nodes().empty()) return;
    if (mode === 'dagre') {
      state.layouts++;
      const clusters = cy.nodes('.cluster');
      if (clusters.nonempty()) dagreByCluster(clusters);
      else cy.layout(DAGRE).run();
      return;
    }
    packAll(null);
  }

  // dagreByCluster lays each cluster's box out by dagre on its own (its
  // namespaces and services, the edges among them), and what is outside
  // every cluster (the callers outside the mesh) likewise; placeClusters
  // then puts the boxes side by side, the outside on the left, the
  // clusters in clusterOrder's (callers first, else the snapshot's order);
  // edges between them cross over.
  function dagreByCluster(clusters) {
    const order = clustersOf(state.snapshot).map(clusterGroupOf);
    const rank = (id) => (order.includes(id) ? order.indexOf(id) : order.length);
    const byName = clusters.map((c) => c.id()).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
    const boxOf = (n) => n.ancestors('.cluster').id() || 'outside';
    const ids = clusterOrder(byName, cy.edges().map((e) => [boxOf(e.source()), boxOf(e.target())]));
    const rest = cy.nodes().orphans().not('.cluster');
    const part = (id, nodes, padX, top, bottom) => {
      if (nodes.empty()) return null;
      nodes.union(nodes.edgesWith(nodes)).layout(DAGRE).run();
      const pos = currentPlaces(nodes.filter((n) => !n.isParent()));
      const b = bounds(pos, sizeOf);
      return { id, w: b.w + 2 * padX, h: b.h + top + bottom, dy: (top - bottom) / 2, pos };
    };
    const boxes = ids
      .map((id) => part(id, cy.getElementById(id).descendants(), GROUP_PAD + CLUSTER_PAD, GROUP_PAD + GROUP_LABEL + CLUSTER_PAD + CLUSTER_LABEL, GROUP_PAD + CLUSTER_PAD))
      .filter(Boolean);
    const grouped = rest.some((n) => n.isParent());
    const outside = part('outside', rest.union(rest.descendants()), grouped ? GROUP_PAD : 0, grouped ? GROUP_PAD + GROUP_LABEL : 0, grouped ? GROUP_PAD : 0);
    const centres = placeClusters(boxes, outside, { aspect: aspectOf() });
    cy.batch(() => {
      for (const box of [...boxes, ...(outside ? [outside] : [])]) {
        const c = centres.get(box.id);
        for (const [id, p] of box.pos) cy.getElementById(id).position({ x: c.x + p.x, y: c.y + box.dy + p.y });
      }
    });
  }

  // blockIDs: the namespace nodes (collapsed or parents), in name order, the
  // callers outside the mesh first.
  function blockIDs() {
    return cy
      .nodes()
      .filter((n) => n.hasClass('ns-collapsed') || n.hasClass('group'))
      .map((n) => n.id())
      .sort((a, b) => (a === OUTSIDE_GROUP ? -1 : b === OUTSIDE_GROUP ? 1 : a < b ? -1 : a > b ? 1 : 0));
  }

  // packAll places every namespace block in rows; the services of the
  // blocks in relayout (null: all) are laid out anew (or where they were
  // before their namespace collapsed), the others keep their places.
  function packAll(relayout) {
    state.layouts++;
    const blocks = [];
    const inside = new Map(); // block id → Map(node id → position relative to its centre)
    for (const id of blockIDs()) {
      const el = cy.getElementById(id);
      if (el.hasClass('ns-collapsed')) {
        blocks.push({ id, ...NAMESPACE_NODE });
        continue;
      }
      const kids = el.children();
      const pos = !relayout || relayout.has(id) ? blockLayout(id, kids) : currentPlaces(kids);
      inside.set(id, pos);
      const b = bounds(pos, sizeOf);
      blocks.push({ id, w: b.w + 2 * GROUP_PAD, h: b.h + 2 * GROUP_PAD + GROUP_LABEL });
    }
    const centres = packNested(blocks);
    cy.batch(() => {
      for (const [id, c] of centres) {
        const pos = inside.get(id);
        if (!pos) {
          cy.getElementById(id).position(c);
          continue;
        }
        for (const [kid, p] of pos) cy.getElementById(kid).position({ x: c.x + p.x, y: c.y + p.y + GROUP_LABEL / 2 });
      }
    });
  }

  // packNested packs the blocks in rows; with several clusters, each
  // cluster's namespace blocks are packed together first, and the
  // clusters' boxes (with the callers outside the mesh) in rows after.
  function packNested(blocks) {
    const aspect = aspectOf();
    const byCluster = new Map();
    const top = [];
    for (const b of blocks) {
      const parent = cy.getElementById(b.id).parent();
      if (parent.nonempty() && parent.hasClass('cluster')) {
        const id = parent.id();
        if (!byCluster.has(id)) {
          byCluster.set(id, []);
          top.push({ id, cluster: true });
        }
        byCluster.get(id).push(b);
      } else {
        top.push(b);
      }
    }
    if (!byCluster.size) return packBlocks(blocks, { aspect });
    const inner = new Map(); // cluster id → Map(block id → centre relative to the cluster's)
    for (const t of top) {
      if (!t.cluster) continue;
      const list = byCluster.get(t.id);
      const pos = packBlocks(list, { aspect });
      const size = new Map(list.map((b) => [b.id, b]));
      const b = bounds(pos, (id) => size.get(id));
      const cx = (b.x1 + b.x2) / 2;
      const cyy = (b.y1 + b.y2) / 2;
      for (const p of pos.values()) {
        p.x -= cx;
        p.y -= cyy - CLUSTER_LABEL / 2;
      }
      inner.set(t.id, pos);
      t.w = b.w + 2 * CLUSTER_PAD;
      t.h = b.h + 2 * CLUSTER_PAD + CLUSTER_LABEL;
    }
    const out = new Map();
    for (const [id, c] of packBlocks(top, { aspect, gap: 80 })) {
      const pos = inner.get(id);
      if (!pos) {
        out.set(id, c);
        continue;
      }
      for (const [bid, p] of pos) out.set(bid, { x: c.x + p.x, y: c.y + p.y });
    }
    return out;
  }

  // blockLayout: a namespace's services where they were when it collapsed,
  // else layered along the edges among them.
  function blockLayout(id, kids) {
    const saved = savedBlocks.get(id);
    savedBlocks.delete(id);
    if (saved && kids.every((k) => saved.has(k.id()))) return new Map(kids.map((k) => [k.id(), { ...saved.get(k.id()) }]));
    const ids = kids.map((k) => k.id());
    const edges = kids
      .connectedEdges()
      .filter((e) => e.source().parent().id() === id && e.target().parent().id() === id)
      .map((e) => [e.source().id(), e.target().id()]);
    return layered(ids, edges, sizeOf, { aspect: aspectOf() });
  }

  // currentPlaces: the services of a block relative to their centre.
  function currentPlaces(kids) {
    const pos = new Map(kids.map((k) => [k.id(), { ...k.position() }]));
    const b = bounds(pos, sizeOf);
    const cx = (b.x1 + b.x2) / 2;
    const cyy = (b.y1 + b.y2) / 2;
    for (const p of pos.values()) {
      p.x -= cx;
      p.y -= cyy;
    }
    return pos;
  }

  // saveBlock keeps a namespace's places before it collapses.
  function saveBlock(id) {
    const el = cy.getElementById(id);
    if (el.nonempty() && el.isParent()) savedBlocks.set(id, currentPlaces(el.children()));
  }

  // placeNew puts nodes a delta added beside their namespace's services
  // (or, a new namespace, right of the graph) without moving anything else.
  function placeNew(ids) {
    const fresh = new Set(ids);
    const placed = (n) => !fresh.has(n.id()) && !n.isParent();
    const all = bounds(new Map(cy.nodes().filter(placed).map((n) => [n.id(), n.position()])), sizeOf);
    cy.batch(() => {
      for (const id of ids) {
        const n = cy.getElementById(id);
        if (n.isParent() || n.hasClass('group') || n.hasClass('cluster')) continue; // a parent follows its children
        const siblings = n.parent().nonempty() ? n.siblings().filter(placed) : cy.collection();
        const sib = siblings.nonempty() ? bounds(new Map(siblings.map((s) => [s.id(), s.position()])), sizeOf) : null;
        n.position(placeBelow(sib, sizeOf(id), all));
        fresh.delete(id);
      }
    });
  }

  // forget drops what was kept of the graph that is being replaced.
  const forget = () => savedBlocks.clear();

  return { layoutAll, packAll, saveBlock, placeNew, forget };
}
