// Unit tests of the page's own layouts (static/layout.mjs): ranks along
// edges, cycles, folding, packing blocks, placing a new node. node --test static/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { bounds, clusterOrder, layered, packBlocks, placeBelow, placeClusters } from '../layout.mjs';

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

// gapBetween: the least distance, along x or y, between two placed boxes
// that do not overlap (negative when they do).
function gapBetween(p, a, q, b) {
  return Math.max(Math.abs(p.x - q.x) - (a.w + b.w) / 2, Math.abs(p.y - q.y) - (a.h + b.h) / 2);
}

test('placeClusters: two clusters of different sizes side by side, in order, the outside on the left', () => {
  const west = { id: 'cl:west', w: 700, h: 420 };
  const east = { id: 'cl:east', w: 260, h: 150 };
  const outside = { id: 'outside', w: 160, h: 80 };
  const all = [west, east, outside];
  const sz = (id) => all.find((b) => b.id === id);
  const pos = placeClusters([west, east], outside, { gap: 80, aspect: 2.5 });
  assert.deepEqual([...pos.keys()].sort(), ['cl:east', 'cl:west', 'outside']);
  assert.deepEqual(overlaps(pos, sz), []);
  for (const [a, b] of [[west, east], [west, outside], [east, outside]]) {
    assert.ok(gapBetween(pos.get(a.id), a, pos.get(b.id), b) >= 80 - 1e-9, `${a.id} and ${b.id} too close`);
  }
  // Side by side in the order given, the outside left of both.
  assert.ok(pos.get('outside').x < pos.get('cl:west').x);
  assert.ok(pos.get('cl:west').x + west.w / 2 < pos.get('cl:east').x - east.w / 2);
  const b = bounds(pos, sz);
  assert.ok(Math.abs(b.x1 + b.x2) < 1e-9 && Math.abs(b.y1 + b.y2) < 1e-9, 'centred on (0, 0)');
  // A tall box's pane (a narrow aspect) stacks them instead, still apart.
  const tall = placeClusters([west, east], null, { gap: 80, aspect: 0.5 });
  assert.deepEqual(overlaps(tall, sz), []);
  assert.ok(tall.get('cl:west').y < tall.get('cl:east').y);
});

test('placeClusters: three clusters of different sizes never overlap, whatever the aspect', () => {
  const boxes = [
    { id: 'cl:a', w: 900, h: 300 },
    { id: 'cl:b', w: 200, h: 600 },
    { id: 'cl:c', w: 400, h: 120 },
  ];
  const outside = { id: 'outside', w: 150, h: 700 };
  const all = [...boxes, outside];
  const sz = (id) => all.find((b) => b.id === id);
  for (const aspect of [0.3, 1, 1.6, 3, 8]) {
    for (const out of [null, outside]) {
      const pos = placeClusters(boxes, out, { gap: 60, aspect });
      assert.equal(pos.size, out ? 4 : 3);
      assert.deepEqual(overlaps(pos, sz), [], `aspect ${aspect}`);
      for (let i = 0; i < all.length; i++) {
        for (let j = i + 1; j < all.length; j++) {
          const [a, c] = [all[i], all[j]];
          if (!pos.has(a.id) || !pos.has(c.id)) continue;
          assert.ok(gapBetween(pos.get(a.id), a, pos.get(c.id), c) >= 60 - 1e-9, `aspect ${aspect}: ${a.id} and ${c.id}`);
        }
      }
      if (out) for (const b of boxes) assert.ok(pos.get('outside').x + outside.w / 2 <= pos.get(b.id).x - b.w / 2 - 60 + 1e-9);
    }
  }
  // A wide pane: one row, in the order given.
  const row = placeClusters(boxes, null, { gap: 60, aspect: 8 });
  assert.ok(row.get('cl:a').x < row.get('cl:b').x && row.get('cl:b').x < row.get('cl:c').x);
});

test('placeClusters: one cluster stays as it was laid out; none, nothing', () => {
  const one = placeClusters([{ id: 'cl:only', w: 640, h: 300 }], null, { aspect: 1.6 });
  assert.deepEqual([...one], [['cl:only', { x: 0, y: 0 }]]);
  assert.equal(placeClusters([], null).size, 0);
  assert.deepEqual([...placeClusters([], { id: 'outside', w: 100, h: 50 })], [['outside', { x: 0, y: 0 }]]);
});

test('placeClusters: a pane wider than the boxes widens the gaps across, not the scale', () => {
  const west = { id: 'cl:west', w: 700, h: 420 };
  const east = { id: 'cl:east', w: 260, h: 150 };
  const outside = { id: 'outside', w: 160, h: 80 };
  const sz = (id) => [west, east, outside].find((b) => b.id === id);
  // 160 + 700 + 260 = 1120 wide, two gaps; 4 × 420 = 1680 wide allowed: 280 each.
  const pos = placeClusters([west, east], outside, { gap: 80, aspect: 4 });
  assert.ok(Math.abs(gapBetween(pos.get('cl:west'), west, pos.get('cl:east'), east) - 280) < 1e-9);
  assert.ok(Math.abs(gapBetween(pos.get('outside'), outside, pos.get('cl:west'), west) - 280) < 1e-9);
  assert.equal(bounds(pos, sz).h, 420);
  // Never wider than maxGap.
  const wide = placeClusters([west, east], outside, { gap: 80, aspect: 20, maxGap: 200 });
  assert.ok(Math.abs(gapBetween(wide.get('cl:west'), west, wide.get('cl:east'), east) - 200) < 1e-9);
});

test('clusterOrder: callers first, ties in the order given', () => {
  const links = [
    ['outside', 'cl:west'],
    ['outside', 'cl:west'],
    ['cl:west', 'cl:east'],
    ['cl:west', 'cl:east'],
    ['cl:east', 'cl:west'],
    ['cl:east', 'cl:east'],
  ];
  assert.deepEqual(clusterOrder(['cl:east', 'cl:west'], links), ['cl:west', 'cl:east']);
  assert.deepEqual(clusterOrder(['cl:east', 'cl:west'], []), ['cl:east', 'cl:west']);
  assert.deepEqual(clusterOrder(['cl:a', 'cl:b', 'cl:c'], [['cl:c', 'cl:b'], ['cl:b', 'cl:a']]), ['cl:c', 'cl:b', 'cl:a']);
});
