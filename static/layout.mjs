// meshlock's own layouts, pure and fast (no DOM, no Cytoscape): a layered
// layout left to right for the services of one namespace, and the packing
// of namespace blocks in rows. dagre (vendored) is kept for small meshes
// only: on a random graph of 50 services and 175 edges it takes over a
// second, and on 300 services and 1,000 edges half a minute, on this
// project's 2-core machine; these take milliseconds for the same.
// static/test/layout.test.mjs runs them under Node.

// layered places ids in ranks from left to right along edges ([source,
// target] pairs; pairs with an end not in ids are ignored), as dagre's
// rankDir LR does: cycles broken by a depth-first search, ranks by longest
// path, the order within a rank by a few barycentre sweeps, a rank wider
// than wrap nodes split into columns, and a graph of more ranks than its
// box would hold at aspect (width ÷ height) folded into a grid. size(id)
// is {w, h}. The result maps
// each id to its centre, the whole centred on (0, 0).
export function layered(ids, edges, size, { rankSep = 90, nodeSep = 30, sweeps = 4, wrap, aspect = 1.6 } = {}) {
  const n = ids.length;
  const pos = new Map();
  if (n === 0) return pos;
  const index = new Map(ids.map((id, i) => [id, i]));
  const out = Array.from({ length: n }, () => []);
  const seen = new Set();
  for (const [s, t] of edges) {
    const a = index.get(s);
    const b = index.get(t);
    if (a === undefined || b === undefined || a === b) continue;
    const key = a * n + b;
    if (seen.has(key)) continue;
    seen.add(key);
    out[a].push(b);
  }

  // Cycles: an edge back to a node on the search's stack is turned round.
  const state = new Uint8Array(n); // 0 new, 1 on the stack, 2 done
  const dagOut = Array.from({ length: n }, () => []);
  const dagIn = Array.from({ length: n }, () => []);
  for (let root = 0; root < n; root++) {
    if (state[root]) continue;
    const stack = [[root, 0]];
    state[root] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1];
      const v = top[0];
      if (top[1] >= out[v].length) {
        state[v] = 2;
        stack.pop();
        continue;
      }
      const w = out[v][top[1]++];
      if (state[w] === 1) {
        dagOut[w].push(v);
        dagIn[v].push(w);
      } else {
        dagOut[v].push(w);
        dagIn[w].push(v);
        if (state[w] === 0) {
          state[w] = 1;
          stack.push([w, 0]);
        }
      }
    }
  }

  // Ranks: the longest path from a source (Kahn's order).
  const rank = new Int32Array(n);
  const indeg = dagIn.map((x) => x.length);
  const queue = [];
  for (let v = 0; v < n; v++) if (indeg[v] === 0) queue.push(v);
  for (let qi = 0; qi < queue.length; qi++) {
    const v = queue[qi];
    for (const w of dagOut[v]) {
      if (rank[v] + 1 > rank[w]) rank[w] = rank[v] + 1;
      if (--indeg[w] === 0) queue.push(w);
    }
  }
  let ranks = [];
  for (let v = 0; v < n; v++) (ranks[rank[v]] ||= []).push(v);
  ranks = ranks.filter(Boolean);

  // Order within ranks: barycentres of the neighbours, down then up.
  const order = new Float64Array(n);
  const renumber = (r) => r.forEach((v, i) => (order[v] = i));
  ranks.forEach(renumber);
  const bary = (v, nbrs) => {
    if (!nbrs.length) return order[v];
    let sum = 0;
    for (const w of nbrs) sum += order[w];
    return sum / nbrs.length;
  };
  for (let s = 0; s < sweeps; s++) {
    const down = s % 2 === 0;
    const seq = down ? ranks.slice(1) : ranks.slice(0, -1).reverse();
    for (const r of seq) {
      const key = new Map(r.map((v) => [v, bary(v, down ? dagIn[v] : dagOut[v])]));
      r.sort((a, b) => key.get(a) - key.get(b) || a - b);
      renumber(r);
    }
  }

  // Coordinates: columns left to right, each centred vertically. Many
  // ranks of few nodes (a dense graph's long paths) would make a strip far
  // wider than high: then the nodes, in their ranks' order, fill a grid
  // about aspect times wider than high, which keeps the flow left to right.
  const perColumn = wrap ?? Math.max(8, Math.ceil(Math.sqrt(n) * 1.5));
  let columns = [];
  for (const r of ranks) for (let i = 0; i < r.length; i += perColumn) columns.push(r.slice(i, i + perColumn));
  let colW = 0; // the mean column's width and row's height
  let rowH = 0;
  for (const id of ids) {
    const z = size(id);
    colW += (z.w + rankSep) / n;
    rowH += (z.h + nodeSep) / n;
  }
  const tallest = Math.max(...columns.map((c) => c.length));
  if (columns.length >= 6 && columns.length * colW > 2 * aspect * tallest * rowH) {
    const rows = Math.max(1, Math.round(Math.sqrt((n * colW) / (rowH * aspect))));
    const flat = columns.flat();
    columns = [];
    for (let i = 0; i < flat.length; i += rows) columns.push(flat.slice(i, i + rows));
  }
  let x = 0;
  for (const col of columns) {
    const sizes = col.map((v) => size(ids[v]));
    const w = Math.max(...sizes.map((z) => z.w));
    const total = sizes.reduce((acc, z) => acc + z.h, 0) + nodeSep * (col.length - 1);
    let y = -total / 2;
    col.forEach((v, i) => {
      pos.set(ids[v], { x: x + w / 2, y: y + sizes[i].h / 2 });
      y += sizes[i].h + nodeSep;
    });
    x += w + rankSep;
  }
  return centred(pos, size);
}

// bounds of positioned boxes: {x1, y1, x2, y2, w, h}.
export function bounds(pos, size) {
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  for (const [id, p] of pos) {
    const z = size(id);
    x1 = Math.min(x1, p.x - z.w / 2);
    y1 = Math.min(y1, p.y - z.h / 2);
    x2 = Math.max(x2, p.x + z.w / 2);
    y2 = Math.max(y2, p.y + z.h / 2);
  }
  if (x1 === Infinity) return { x1: 0, y1: 0, x2: 0, y2: 0, w: 0, h: 0 };
  return { x1, y1, x2, y2, w: x2 - x1, h: y2 - y1 };
}

// centred moves positions so that their bounds are centred on (0, 0).
export function centred(pos, size) {
  const b = bounds(pos, size);
  const dx = (b.x1 + b.x2) / 2;
  const dy = (b.y1 + b.y2) / 2;
  for (const p of pos.values()) {
    p.x -= dx;
    p.y -= dy;
  }
  return pos;
}

// packBlocks places blocks ({id, w, h}, in the order given) in rows, left
// to right and top to bottom, a row as wide as makes the whole about
// aspect times wider than high; the result maps each id to its centre.
export function packBlocks(blocks, { gap = 60, aspect = 1.6 } = {}) {
  const out = new Map();
  if (!blocks.length) return out;
  const area = blocks.reduce((acc, b) => acc + (b.w + gap) * (b.h + gap), 0);
  const rowWidth = Math.max(Math.sqrt(area * aspect), ...blocks.map((b) => b.w + gap));
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  for (const b of blocks) {
    if (x > 0 && x + b.w > rowWidth) {
      x = 0;
      y += rowHeight + gap;
      rowHeight = 0;
    }
    out.set(b.id, { x: x + b.w / 2, y: y + b.h / 2 });
    x += b.w + gap;
    rowHeight = Math.max(rowHeight, b.h);
  }
  return out;
}

// placeBelow is where a new box of size z goes among boxes already placed
// (a namespace's services): below the lowest of them, at the left; or, when
// there are none, right of everything in all (the whole graph's bounds).
export function placeBelow(siblings, z, all, gap = 30) {
  if (siblings && siblings.w > 0) return { x: siblings.x1 + z.w / 2, y: siblings.y2 + gap + z.h / 2 };
  if (all && all.w > 0) return { x: all.x2 + 2 * gap + z.w / 2, y: all.y1 + z.h / 2 };
  return { x: 0, y: 0 };
}

// placeClusters places several clusters' boxes ({id, w, h}, in the order
// given, each laid out on its own) so that none overlaps another: in rows
// of the same number of boxes, left to right then top to bottom, as many
// rows (one: side by side) as let the whole fill a box aspect (width ÷
// height) wide at the largest scale, fewer on a tie; each row centred. The
// box of what is outside every cluster (the callers outside the mesh;
// null: none) goes left of them all, centred on their height. The result
// maps each id to its box's centre, the whole centred on (0, 0); one
// cluster and nothing outside stays where it is, at (0, 0). When the
// whole is less wide than the aspect would allow (its height limits the
// scale), the gaps across widen, up to maxGap, for the edges between the
// boxes and their padlocks: the scale is the same.
export function placeClusters(clusters, outside = null, { gap = 80, aspect = 1.6, maxGap = 4 * gap } = {}) {
  const out = new Map();
  const n = clusters.length;
  let best = null;
  for (let rows = 1; rows <= Math.max(1, n); rows++) {
    const cols = Math.ceil(n / rows);
    if (rows > 1 && Math.ceil(n / (rows - 1)) === cols) continue; // the same grid as fewer rows
    const lines = [];
    for (let i = 0; i < n; i += cols) {
      const row = clusters.slice(i, i + cols);
      lines.push({ row, w: row.reduce((acc, b) => acc + b.w, 0) + gap * (row.length - 1), h: Math.max(...row.map((b) => b.h)) });
    }
    const cw = Math.max(0, ...lines.map((l) => l.w));
    const ch = lines.reduce((acc, l) => acc + l.h, 0) + gap * Math.max(0, lines.length - 1);
    const w = outside ? outside.w + (n ? gap + cw : 0) : cw;
    const h = Math.max(ch, outside ? outside.h : 0);
    const scale = Math.min(aspect / (w || 1), 1 / (h || 1));
    if (!best || scale > best.scale * (1 + 1e-9)) best = { scale, lines, cw, ch, w, h };
  }
  // The gaps across: as wide as the aspect leaves room for, within maxGap.
  const slots = (best.lines.length ? Math.max(...best.lines.map((l) => l.row.length)) - 1 : 0) + (outside && n ? 1 : 0);
  const gx = slots ? gap + Math.max(0, Math.min(maxGap - gap, (aspect * best.h - best.w) / slots)) : gap;
  const cw = best.cw + (gx - gap) * Math.max(0, ...best.lines.map((l) => l.row.length - 1));
  const x0 = outside ? outside.w + gx : 0;
  let y = 0;
  for (const line of best.lines) {
    const lw = line.w + (gx - gap) * (line.row.length - 1);
    let x = x0 + (cw - lw) / 2;
    for (const b of line.row) {
      out.set(b.id, { x: x + b.w / 2, y: y + line.h / 2 });
      x += b.w + gx;
    }
    y += line.h + gap;
  }
  if (outside) out.set(outside.id, { x: outside.w / 2, y: best.ch / 2 });
  const all = [...clusters, ...(outside ? [outside] : [])];
  const size = new Map(all.map((b) => [b.id, b]));
  return centred(out, (id) => size.get(id));
}

// clusterOrder orders clusters' boxes (ids, in their default order) so that
// traffic reads left to right, as dagre's ranks do: first those that call
// the others (and those the callers outside the mesh call) more than they
// are called, by (calls out + calls from outside − calls in), ties in the
// order given. links: [from, to] pairs of box ids, one per edge, outside
// the id of what is outside every cluster.
export function clusterOrder(ids, links, outside = 'outside') {
  const score = new Map(ids.map((id) => [id, 0]));
  for (const [from, to] of links) {
    if (from === to || !score.has(to)) continue;
    if (from === outside) score.set(to, score.get(to) + 1);
    else if (score.has(from)) {
      score.set(from, score.get(from) + 1);
      score.set(to, score.get(to) - 1);
    }
  }
  return ids.map((id, i) => [id, i]).sort((a, b) => score.get(b[0]) - score.get(a[0]) || a[1] - b[1]).map(([id]) => id);
}
