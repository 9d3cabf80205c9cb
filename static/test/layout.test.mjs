// Unit tests of the page's own layouts (static/layout.mjs): ranks along
// edges, cycles, folding, packing blocks, placing a new node. node --test static/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { bounds, layered, packBlocks, placeBelow } from '../layout.mjs';

const size = () => ({ w: 100, h: 40 });

// overlaps: the pairs of boxes that overlap.
function overlaps(pos, sz = size) {
  const out = [];
  const list = [...pos];
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      const [a, p] = list[i];
      const [b, q] = list[j];
      const za = sz(a);
      const zb = sz(b);
      if (Math.abs(p.x - q.x) < (za.w + zb.w) / 2 && Math.abs(p.y - q.y) < (za.h + zb.h) / 2) out.push([a, b]);
    }
  }
  return out;
}

test('layered: callers left of what they call, a cycle broken, nothing overlapping, centred', () => {
  const ids = ['productpage', 'reviews', 'ratings', 'details', 'loner'];
  const edges = [
    ['productpage', 'reviews'],
    ['productpage', 'details'],
    ['reviews', 'ratings'],
    ['ratings', 'reviews'], // a cycle
    ['reviews', 'gone'], // an end not in ids: ignored
    ['details', 'details'], // a loop: ignored
  ];
  const pos = layered(ids, edges, size);
  assert.deepEqual([...pos.keys()].sort(), [...ids].sort());
  assert.ok(pos.get('productpage').x < pos.get('reviews').x);
  assert.ok(pos.get('productpage').x < pos.get('details').x);
  assert.ok(pos.get('reviews').x < pos.get('ratings').x);
  assert.deepEqual(overlaps(pos), []);
  const b = bounds(pos, size);
  assert.ok(Math.abs(b.x1 + b.x2) < 1e-9 && Math.abs(b.y1 + b.y2) < 1e-9, JSON.stringify(b));
  // The same input, the same places.
  assert.deepEqual(layered(ids, edges, size), pos);
  assert.equal(layered([], [], size).size, 0);
});

test('layered: a dense graph of many ranks folds into a box of about the aspect asked', () => {
  const ids = Array.from({ length: 50 }, (_, i) => `s${String(i).padStart(2, '0')}`);
  const edges = ids.slice(1).map((id, i) => [ids[i], id]); // one long chain: 50 ranks
  const pos = layered(ids, edges, size, { aspect: 1.6 });
  assert.deepEqual(overlaps(pos), []);
  const b = bounds(pos, size);
  assert.ok(b.w / b.h < 4 && b.w / b.h > 0.6, `aspect ${b.w / b.h}`);
  // Still left to right down the chain's first column.
  assert.ok(pos.get('s00').x < pos.get('s49').x);
});

test('layered: a wide rank wraps into columns', () => {
  const ids = ['hub', ...Array.from({ length: 30 }, (_, i) => `leaf${i}`)];
  const edges = ids.slice(1).map((id) => ['hub', id]);
  const pos = layered(ids, edges, size, { wrap: 10 });
  const xs = new Set(ids.slice(1).map((id) => pos.get(id).x));
  assert.equal(xs.size, 3);
  assert.deepEqual(overlaps(pos), []);
});

test('packBlocks: rows in the order given, no overlap, about the aspect asked', () => {
  const blocks = Array.from({ length: 20 }, (_, i) => ({ id: `ns:${i}`, w: 200, h: 96 }));
  blocks[3] = { id: 'ns:3', w: 900, h: 400 }; // an expanded one
  const pos = packBlocks(blocks, { gap: 60, aspect: 2 });
  const sz = (id) => blocks.find((b) => b.id === id);
  assert.deepEqual(overlaps(pos, sz), []);
  // Reading order: the first at the top left, the next right of it, same top.
  assert.deepEqual(pos.get('ns:0'), { x: 100, y: 48 });
  assert.deepEqual(pos.get('ns:1'), { x: 360, y: 48 });
  const top = (id) => pos.get(id).y - sz(id).h / 2;
  assert.ok(top('ns:19') > top('ns:0'));
  const b = bounds(pos, sz);
  assert.ok(b.w / b.h > 1 && b.w / b.h < 4, `aspect ${b.w / b.h}`);
  assert.equal(packBlocks([]).size, 0);
});

test('placeBelow: under its namespace, else right of the graph', () => {
  const siblings = { x1: 0, y1: 0, x2: 300, y2: 100, w: 300, h: 100 };
  assert.deepEqual(placeBelow(siblings, { w: 100, h: 40 }, siblings), { x: 50, y: 150 });
  assert.deepEqual(placeBelow(null, { w: 100, h: 40 }, siblings), { x: 410, y: 20 });
  assert.deepEqual(placeBelow(null, { w: 100, h: 40 }, null), { x: 0, y: 0 });
});
