// Unit tests of the keyboard's rules (static/keyboard.mjs): the order the
// arrow keys walk the graph in, the rows of a table, and Tab going round
// the enforce dialog. node --test static/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { GRAPH_KEYS, cursorPlace, firstCursor, graphCursorAfterKey, graphKeyModel, graphOrder, rowAfterKey, validCursor, wrapTab } from '../keyboard.mjs';
import { OUTSIDE_GROUP } from '../model.mjs';

// A small graph as dagre lays it out left to right: the unknown caller
// outside the mesh; default's productpage calls reviews and details,
// reviews calls ratings; shop's web calls default's reviews.
const nodes = [
  { id: 'default/ratings', group: 'ns:default', x: 400, y: 100 },
  { id: 'default/details', group: 'ns:default', x: 250, y: 200 },
  { id: 'default/reviews', group: 'ns:default', x: 252, y: 60 }, // the same column as details, give or take
  { id: 'default/productpage', group: 'ns:default', x: 100, y: 120 },
  { id: 'shop/web', group: 'ns:shop', x: 0, y: 0 },
  { id: 'unknown', group: OUTSIDE_GROUP, x: 600, y: 0 },
];
const edges = [
  { id: 'pp->reviews', source: 'default/productpage', target: 'default/reviews' },
  { id: 'pp->details', source: 'default/productpage', target: 'default/details' },
  { id: 'reviews->ratings', source: 'default/reviews', target: 'default/ratings' },
  { id: 'web->reviews', source: 'shop/web', target: 'default/reviews' },
  { id: 'unknown->ratings', source: 'unknown', target: 'default/ratings' },
  { id: 'dangling', source: 'default/reviews', target: 'gone' },
];

test('reading order: outside the mesh first, then namespaces by name, each left to right then top to bottom', () => {
  assert.deepEqual(graphOrder(nodes), ['unknown', 'default/productpage', 'default/reviews', 'default/details', 'default/ratings', 'shop/web']);
  // Collapsed namespaces (a big mesh) are their own group, in name order with the rest.
  assert.deepEqual(
    graphOrder([
      { id: 'ns:zeta', group: 'ns:zeta', x: 0, y: 0 },
      { id: 'ns:alpha', group: 'ns:alpha', x: 500, y: 500 },
      { id: 'ns:mid/a', group: 'ns:mid', x: 0, y: 0 },
    ]),
    ['ns:alpha', 'ns:mid/a', 'ns:zeta'],
  );
  assert.deepEqual(graphOrder([]), []);
});

test("a service's edges: the calls it makes, then those it receives, each in the order of the other end", () => {
  const m = graphKeyModel(nodes, edges);
  assert.deepEqual(
    m.edgesOf('default/reviews').map((e) => e.id),
    ['reviews->ratings', 'pp->reviews', 'web->reviews'],
  );
  assert.deepEqual(
    m.edgesOf('default/productpage').map((e) => e.id),
    ['pp->reviews', 'pp->details'],
  );
  assert.deepEqual(
    m.edgesOf('default/ratings').map((e) => e.id),
    ['unknown->ratings', 'reviews->ratings'],
  );
  assert.deepEqual(m.edgesOf('nowhere'), []);
  assert.ok(!m.edgeById.has('dangling'), 'an edge to something not drawn is not walked');
});

// walk presses keys from a cursor and answers where each one leads.
function walk(m, cursor, keys) {
  const seen = [];
  for (const k of keys) {
    cursor = graphCursorAfterKey(m, cursor, k);
    seen.push(cursor.kind === 'edge' ? `${cursor.id}@${cursor.from}` : cursor.id);
  }
  return seen;
}

test('the arrows: ↓↑ between services, → into their calls and along one, ← back', () => {
  const m = graphKeyModel(nodes, edges);
  const start = firstCursor(m, null);
  assert.deepEqual(start, { kind: 'node', id: 'unknown' });
  assert.deepEqual(walk(m, start, ['ArrowUp', 'ArrowDown', 'ArrowDown', 'End', 'ArrowDown', 'Home']), [
    'unknown', // the first stays the first
    'default/productpage',
    'default/reviews',
    'shop/web',
    'shop/web', // the last stays the last
    'unknown',
  ]);
  const pp = { kind: 'node', id: 'default/productpage' };
  assert.deepEqual(walk(m, pp, ['ArrowRight', 'ArrowDown', 'ArrowDown', 'ArrowUp', 'ArrowRight', 'ArrowRight', 'ArrowDown', 'ArrowDown', 'ArrowLeft', 'ArrowLeft']), [
    'pp->reviews@default/productpage',
    'pp->details@default/productpage',
    'pp->details@default/productpage', // its last call
    'pp->reviews@default/productpage',
    'default/reviews', // along the call to its target
    'reviews->ratings@default/reviews',
    'pp->reviews@default/reviews', // the calls it receives come after those it makes
    'web->reviews@default/reviews',
    'default/reviews', // back to the service the edge was reached from
    'default/reviews', // ← on a service goes nowhere
  ]);
  // → along a received call goes to its caller; Home and End within a service's calls.
  assert.deepEqual(walk(m, { kind: 'edge', id: 'web->reviews', from: 'default/reviews' }, ['Home', 'End', 'ArrowRight']), [
    'reviews->ratings@default/reviews',
    'web->reviews@default/reviews',
    'shop/web',
  ]);
  // A service without calls: → stays.
  const lone = graphKeyModel([{ id: 'a', group: 'ns:x', x: 0, y: 0 }], []);
  assert.deepEqual(walk(lone, { kind: 'node', id: 'a' }, ['ArrowRight', 'ArrowDown']), ['a', 'a']);
  // Keys the walk does not take.
  for (const k of ['Enter', ' ', 'Escape', 'Tab', 'a']) assert.equal(graphCursorAfterKey(m, pp, k), null, k);
  assert.deepEqual([...GRAPH_KEYS].sort(), ['ArrowDown', 'ArrowLeft', 'ArrowRight', 'ArrowUp', 'End', 'Home']);
});

test('where the walk starts, and a cursor on what is no longer drawn', () => {
  const m = graphKeyModel(nodes, edges);
  assert.deepEqual(firstCursor(m, { kind: 'node', id: 'default/details' }), { kind: 'node', id: 'default/details' });
  assert.deepEqual(firstCursor(m, { kind: 'edge', id: 'reviews->ratings' }), { kind: 'edge', id: 'reviews->ratings', from: 'default/reviews' });
  assert.deepEqual(firstCursor(m, { kind: 'edge', id: 'gone' }), { kind: 'node', id: 'unknown' });
  assert.equal(firstCursor(graphKeyModel([], []), null), null);
  assert.equal(validCursor(m, { kind: 'node', id: 'gone' }), null);
  assert.equal(validCursor(m, { kind: 'edge', id: 'reviews->ratings', from: 'default/details' }), null);
  assert.deepEqual(graphCursorAfterKey(m, { kind: 'node', id: 'gone' }, 'ArrowDown'), { kind: 'node', id: 'unknown' });
  assert.equal(graphCursorAfterKey(graphKeyModel([], []), null, 'ArrowDown'), null);
});

test('the cursor\'s place in words', () => {
  const m = graphKeyModel(nodes, edges);
  const name = (id) => id.split('/').pop();
  assert.equal(cursorPlace(m, { kind: 'node', id: 'default/reviews' }, name), '3 of 6 in the graph');
  assert.equal(cursorPlace(m, { kind: 'edge', id: 'reviews->ratings', from: 'default/reviews' }, name), 'call 1 of 1 made by reviews');
  assert.equal(cursorPlace(m, { kind: 'edge', id: 'web->reviews', from: 'default/reviews' }, name), 'call 2 of 2 received by reviews');
  assert.equal(cursorPlace(m, null), '');
});

test('table rows: the arrows one row, Home and End the ends, never past them', () => {
  assert.equal(rowAfterKey('ArrowDown', 0, 3), 1);
  assert.equal(rowAfterKey('ArrowDown', 2, 3), 2);
  assert.equal(rowAfterKey('ArrowUp', 0, 3), 0);
  assert.equal(rowAfterKey('ArrowUp', 2, 3), 1);
  assert.equal(rowAfterKey('Home', 2, 3), 0);
  assert.equal(rowAfterKey('End', 0, 3), 2);
  assert.equal(rowAfterKey('ArrowLeft', 1, 3), -1);
  assert.equal(rowAfterKey('ArrowDown', 0, 0), -1);
});

test('Tab in the dialog goes round: from the last to the first, Shift+Tab from the first to the last', () => {
  assert.equal(wrapTab(4, 5, false), 0);
  assert.equal(wrapTab(2, 5, false), -1); // the browser's own Tab moves on inside
  assert.equal(wrapTab(0, 5, true), 4);
  assert.equal(wrapTab(3, 5, true), -1);
  // The focus on none of them (the dialog itself): Tab to the first, Shift+Tab to the last.
  assert.equal(wrapTab(-1, 5, false), 0);
  assert.equal(wrapTab(-1, 5, true), 4);
  assert.equal(wrapTab(0, 1, false), 0);
  assert.equal(wrapTab(-1, 0, false), -1);
});
