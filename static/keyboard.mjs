// meshlock's keyboard rules, with no DOM: the order in which the arrow keys
// walk the graph (graph-keys.js), a table's rows (table.js) and the enforce
// dialog's controls (enforce.js). static/test/keyboard.test.mjs runs them
// under Node.
//
// The graph is walked like a tree: its services (and collapsed
// namespaces) are the top level, in reading order (the callers outside the
// mesh first, then namespace by namespace in name order, within one from
// left to right as the traffic flows, then top to bottom); a service's
// edges are its children, the calls it makes first, then those it receives.
//
//   ↓ ↑         the next or previous service; on an edge, the service's next or previous edge
//   →           on a service, its first edge; on an edge, along it to its other end
//   ←           on an edge, back to the service it was reached from
//   Home End    the first or last service (on an edge, the service's first or last edge)

import { OUTSIDE_GROUP } from './model.mjs';

// Nodes within this many graph units of one another across count as one
// column (dagre places a rank's nodes on the same x; small drifts happen).
const COLUMN = 10;

// graphOrder: the ids of nodes ({id, group, x, y}) in reading order.
export function graphOrder(nodes) {
  const groupRank = (g) => (g === OUTSIDE_GROUP ? 0 : 1);
  return [...nodes]
    .sort(
      (a, b) =>
        groupRank(a.group) - groupRank(b.group) ||
        cmp(a.group || '', b.group || '') ||
        Math.round(a.x / COLUMN) - Math.round(b.x / COLUMN) ||
        a.y - b.y ||
        cmp(a.id, b.id),
    )
    .map((n) => n.id);
}

const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

// graphKeyModel: the walk over nodes ({id, group, x, y}) and edges ({id,
// source, target}) as drawn: order (node ids), index (id → place in
// order), and edgesOf(id): a node's edges, out then in, each in the order
// of the node at its other end.
export function graphKeyModel(nodes, edges) {
  const order = graphOrder(nodes);
  const index = new Map(order.map((id, i) => [id, i]));
  const out = new Map();
  const into = new Map();
  const edgeById = new Map();
  for (const e of edges) {
    if (!index.has(e.source) || !index.has(e.target)) continue;
    edgeById.set(e.id, e);
    if (!out.has(e.source)) out.set(e.source, []);
    out.get(e.source).push(e);
    if (e.source === e.target) continue; // a loop: once, as a call it makes
    if (!into.has(e.target)) into.set(e.target, []);
    into.get(e.target).push(e);
  }
  const by = (end) => (a, b) => index.get(a[end]) - index.get(b[end]) || cmp(a.id, b.id);
  const cache = new Map();
  function edgesOf(id) {
    if (!cache.has(id)) cache.set(id, [...(out.get(id) || [])].sort(by('target')).concat([...(into.get(id) || [])].sort(by('source'))));
    return cache.get(id);
  }
  return { order, index, edgeById, edgesOf };
}

// validCursor: the cursor if what it is on is still drawn (an edge still
// one of its service's), else null.
export function validCursor(model, cursor) {
  if (!cursor) return null;
  if (cursor.kind === 'node') return model.index.has(cursor.id) ? cursor : null;
  if (cursor.kind === 'edge') return model.edgeById.has(cursor.id) && model.edgesOf(cursor.from).some((e) => e.id === cursor.id) ? cursor : null;
  return null;
}

// firstCursor: where the walk starts: on what is selected when it is drawn
// (an edge as reached from its source), else on the first service.
export function firstCursor(model, selected) {
  if (selected?.id && model.index.has(selected.id)) return { kind: 'node', id: selected.id };
  const e = selected?.id && model.edgeById.get(selected.id);
  if (e) return { kind: 'edge', id: e.id, from: e.source };
  return model.order.length ? { kind: 'node', id: model.order[0] } : null;
}

// GRAPH_KEYS are the keys the walk takes (Enter, Space and Escape are the
// view's: they select and clear the selection).
export const GRAPH_KEYS = ['ArrowDown', 'ArrowUp', 'ArrowRight', 'ArrowLeft', 'Home', 'End'];

// graphCursorAfterKey: where key moves the cursor ({kind: 'node', id} or
// {kind: 'edge', id, from}); the same cursor where it goes nowhere (the
// ends of a list, → on a service without edges); null for a key it does
// not take. A cursor on nothing drawn starts over at the first service.
export function graphCursorAfterKey(model, cursor, key) {
  if (!GRAPH_KEYS.includes(key)) return null;
  const c = validCursor(model, cursor);
  if (!c) return firstCursor(model, null);
  if (c.kind === 'node') {
    const i = model.index.get(c.id);
    const last = model.order.length - 1;
    switch (key) {
      case 'ArrowDown':
        return { kind: 'node', id: model.order[Math.min(i + 1, last)] };
      case 'ArrowUp':
        return { kind: 'node', id: model.order[Math.max(i - 1, 0)] };
      case 'Home':
        return { kind: 'node', id: model.order[0] };
      case 'End':
        return { kind: 'node', id: model.order[last] };
      case 'ArrowRight': {
        const first = model.edgesOf(c.id)[0];
        return first ? { kind: 'edge', id: first.id, from: c.id } : c;
      }
      default:
        return c;
    }
  }
  const list = model.edgesOf(c.from);
  const i = list.findIndex((e) => e.id === c.id);
  const at = (j) => ({ kind: 'edge', id: list[j].id, from: c.from });
  switch (key) {
    case 'ArrowDown':
      return at(Math.min(i + 1, list.length - 1));
    case 'ArrowUp':
      return at(Math.max(i - 1, 0));
    case 'Home':
      return at(0);
    case 'End':
      return at(list.length - 1);
    case 'ArrowRight': {
      const e = list[i];
      return { kind: 'node', id: e.source === c.from ? e.target : e.source };
    }
    default:
      return { kind: 'node', id: c.from };
  }
}

// cursorPlace: where the cursor is, in words: "3 of 9 services", or "call
// 2 of 3 of reviews" / "caller 1 of 2 of reviews" (name: id → name).
export function cursorPlace(model, cursor, name = (id) => id) {
  if (cursor?.kind === 'node') return `${model.index.get(cursor.id) + 1} of ${model.order.length} in the graph`;
  if (cursor?.kind !== 'edge') return '';
  const list = model.edgesOf(cursor.from);
  const i = list.findIndex((e) => e.id === cursor.id);
  const outgoing = list.filter((e) => e.source === cursor.from).length;
  const e = list[i];
  return e.source === cursor.from
    ? `call ${i + 1} of ${outgoing} made by ${name(cursor.from)}`
    : `call ${i - outgoing + 1} of ${list.length - outgoing} received by ${name(cursor.from)}`;
}

// rowAfterKey: the row a key moves to in a list of count rows from index
// (the arrows one row, Home and End to the ends), -1 for a key it does not take.
export function rowAfterKey(key, index, count) {
  if (count <= 0) return -1;
  switch (key) {
    case 'ArrowDown':
      return Math.min(index + 1, count - 1);
    case 'ArrowUp':
      return Math.max(index - 1, 0);
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
  }
  return -1;
}

// wrapTab: in a dialog whose count controls take the focus in turn, the
// one Tab (Shift+Tab: back) from index must wrap round to, or -1 where the
// browser's own Tab stays inside (index -1: the focus is on none of them).
export function wrapTab(index, count, shift) {
  if (count <= 0) return -1;
  if (shift) return index <= 0 ? count - 1 : -1;
  return index === -1 || index >= count - 1 ? 0 : -1;
}
