// meshlock dashboard: follows the stream (api/stream, relative to the page)
// and draws the graph, the padlocks, the table, the findings and the side
// panel. The pure logic is in model.mjs. No inline script or style: data
// comes from data- attributes and the #initial-snapshot JSON block.

import {
  STATUSES,
  OUTSIDE_GROUP,
  actionSummary,
  applyDelta,
  applyState,
  backoffDelay,
  badgeFor,
  breakEdgeId,
  canUndo,
  diffStats,
  enforceRequest,
  enforceTarget,
  errorText,
  foldDiff,
  lineDiff,
  planSummary,
  scopeLabel,
  undoURL,
  GATEWAY_PEER_AUTH_TEXT,
  SHARE_SEPARATOR,
  callerTLSText,
  destinationRuleText,
  displayName,
  nodeRow,
  portText,
  postureOf,
  postureView,
  tlsFailureText,
  emptyMessage,
  filterEdges,
  findingTarget,
  findingsForEdge,
  findingsForNode,
  formatFreshness,
  formatPercent,
  formatRate,
  groupOf,
  hasTime,
  layoutKey,
  mtlsText,
  namespacesOf,
  nodeName,
  normalizeSnapshot,
  parseNamespaces,
  peerAuthText,
  sortEdges,
  statusPhrase,
  streamURL,
  traffic,
  withNamespaces,
} from './model.mjs';

const $ = (sel, root = document) => root.querySelector(sel);
const body = document.body;
const ICONS = body.dataset.icons || 'static/icons/';
// Enforcing is offered only when the server says so (--allow-enforce); the
// server refuses writes otherwise anyway.
const ALLOW_ENFORCE = body.dataset.allowEnforce === 'true';

// h builds an element: h('button', {class: 'x', dataset: {id}}, 'text', child).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const icon = (status, size = 14) =>
  h('img', { src: `${ICONS}lock-${status}.svg`, alt: '', width: size, height: size });

// ---- state ----------------------------------------------------------------

const state = {
  snapshot: null, // current snapshot (normalized)
  nodesById: new Map(),
  edgesById: new Map(),
  namespaces: parseNamespaces(location.search),
  selected: null, // {kind: 'edge'|'node', id}
  sort: { key: 'source', dir: 'ascending' },
  statusFilter: new Set(STATUSES),
  connected: false,
  ready: false,
  fromStream: false,
  knownNamespaces: new Set(),
  attempt: 0,
  ws: null,
  reconnectTimer: 0,
  reconnectAt: 0,
  breakEdges: new Set(), // edges the open enforce plan would cut
};

// The read-only hook for browser tests.
const loads = (() => {
  try {
    const n = Number(sessionStorage.getItem('meshlock.loads') || 0) + 1;
    sessionStorage.setItem('meshlock.loads', String(n));
    return n;
  } catch {
    return 1;
  }
})();
let reconnects = 0;
Object.defineProperty(window, 'meshlock', {
  value: Object.freeze({
    get ready() {
      return state.ready;
    },
    get connected() {
      return state.connected;
    },
    get snapshot() {
      return state.snapshot;
    },
    get loads() {
      return loads;
    },
    get reconnects() {
      return reconnects;
    },
    get selected() {
      return state.selected ? { ...state.selected } : null;
    },
  }),
  configurable: false,
  writable: false,
});

for (const opt of $('#namespace-select')?.options || []) state.knownNamespaces.add(opt.value);

// ---- the graph ------------------------------------------------------------

const graphEl = $('#graph');
const badgesEl = $('#badges');
let cy = null;
let currentLayoutKey = null;
let userMovedViewport = false;
let badgeFrame = 0;
const badgeEls = new Map(); // edge id → button

const COLORS = { locked: '#1e7b34', mixed: '#b35c00', open: '#c0262d', unknown: '#6b7280' };

function graphStyle() {
  return [
    {
      selector: 'node',
      style: {
        shape: 'round-rectangle',
        'background-color': '#ffffff',
        'border-width': 1.5,
        'border-color': '#334155',
        label: 'data(label)',
        'text-wrap': 'wrap',
        'text-valign': 'center',
        'text-halign': 'center',
        'font-family': 'system-ui, sans-serif',
        'font-size': 12,
        color: '#0f172a',
      },
    },
    { selector: 'node[w]', style: { width: 'data(w)', height: 'data(h)' } },
    { selector: 'node.workload', style: { shape: 'rectangle' } },
    // Several workloads known only by their ServiceAccount: a workload with a double border.
    { selector: 'node.serviceaccount', style: { 'border-style': 'double', 'border-width': 4 } },
    // A gateway: its own shape, since PeerAuthentication does not govern it.
    {
      selector: 'node.gateway',
      style: { shape: 'cut-rectangle', 'border-color': '#6d28d9', 'border-width': 2.5, 'background-color': '#f5f3ff' },
    },
    { selector: 'node.nosidecar', style: { 'border-style': 'dashed', 'background-color': '#f8fafc' } },
    {
      selector: 'node.unknown',
      style: {
        shape: 'barrel',
        'border-color': '#a16207',
        'border-width': 2,
        'border-style': 'dashed',
        'background-color': '#fef9c3',
      },
    },
    {
      selector: ':parent',
      style: {
        shape: 'round-rectangle',
        'background-color': '#eef3f9',
        'background-opacity': 1,
        'border-color': '#b8c7da',
        'border-width': 1,
        label: 'data(label)',
        'text-valign': 'top',
        'text-halign': 'center',
        'font-size': 12,
        'font-weight': 'bold',
        color: '#475569',
        padding: 18,
      },
    },
    {
      selector: `node[id = "${OUTSIDE_GROUP}"]`,
      style: { 'background-color': '#fdf8e4', 'border-color': '#e2c25a', color: '#8a6100' },
    },
    {
      selector: 'edge',
      style: {
        'curve-style': 'bezier',
        'target-arrow-shape': 'triangle',
        'arrow-scale': 1,
        width: 'data(width)',
        'line-color': '#6b7280',
        'target-arrow-color': '#6b7280',
      },
    },
    { selector: 'edge.locked', style: { 'line-color': COLORS.locked, 'target-arrow-color': COLORS.locked, 'line-style': 'solid' } },
    {
      selector: 'edge.mixed',
      style: { 'line-color': COLORS.mixed, 'target-arrow-color': COLORS.mixed, 'line-style': 'dashed', 'line-dash-pattern': [8, 4] },
    },
    {
      selector: 'edge.open',
      style: { 'line-color': COLORS.open, 'target-arrow-color': COLORS.open, 'line-style': 'dotted' },
    },
    {
      selector: 'edge.unknown',
      style: { 'line-color': COLORS.unknown, 'target-arrow-color': COLORS.unknown, 'line-style': 'solid', opacity: 0.75 },
    },
    {
      // Handshakes failing: a red outline around whatever the status line is.
      selector: 'edge.tlsfail',
      style: { 'line-outline-width': 2, 'line-outline-color': COLORS.open, 'target-arrow-color': COLORS.open },
    },
    {
      selector: 'node:selected',
      style: { 'border-color': '#2563eb', 'border-width': 3, 'border-style': 'solid' },
    },
    {
      selector: 'edge:selected',
      style: { 'underlay-color': '#2563eb', 'underlay-opacity': 0.25, 'underlay-padding': 5 },
    },
    {
      // An edge the enforce plan in the dialog would cut.
      selector: 'edge.breaks',
      style: { 'underlay-color': '#c0262d', 'underlay-opacity': 0.4, 'underlay-padding': 7, 'z-index': 20 },
    },
  ];
}

function initGraph() {
  if (typeof window.cytoscape !== 'function' || !graphEl) {
    if (graphEl) {
      graphEl.append(h('p', { class: 'graph-missing', text: 'The graph library did not load; the table below shows the same edges.' }));
    }
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
      if (n.id().startsWith('ns:')) select({ kind: 'namespace', id: n.id().slice(3) }, { center: false });
      return;
    }
    select({ kind: 'node', id: n.id() }, { center: false });
  });
  cy.on('tap', 'edge', (ev) => select({ kind: 'edge', id: ev.target.id() }, { center: false }));
  cy.on('tap', (ev) => {
    if (ev.target === cy) select(null);
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

function nodeLabel(n) {
  if (n.kind === 'unknown') return 'unknown\n(outside the mesh)';
  if (n.kind === 'hidden') return 'hidden\n(a namespace you cannot see)';
  let second;
  if (n.kind === 'gateway') second = 'gateway';
  else if (!n.inMesh) second = 'no sidecar';
  else if (n.kind === 'workload') second = 'workload';
  else if (n.kind === 'serviceaccount') second = 'service account';
  else second = n.peerAuthentication === 'UNSET' || !n.peerAuthentication ? 'PA unset' : n.peerAuthentication;
  return `${displayName(n)}\n${second}`;
}

function nodeElement(n) {
  const label = nodeLabel(n);
  const longest = Math.max(...label.split('\n').map((l) => l.length));
  const kindClasses = { unknown: 'unknown', hidden: 'unknown', workload: 'workload', serviceaccount: 'workload serviceaccount', gateway: 'gateway' };
  const outside = n.kind === 'unknown' || n.kind === 'hidden';
  const classes = [kindClasses[n.kind] || '', !n.inMesh && !outside ? 'nosidecar' : ''].filter(Boolean).join(' ');
  return {
    group: 'nodes',
    data: { id: n.id, parent: groupOf(n), label, w: Math.max(70, longest * 7 + 20), h: 40 },
    classes,
  };
}

function edgeWidth(e) {
  const r = Number.isFinite(e.rate) && e.rate > 0 ? e.rate : 0;
  const scaled = e.protocol === 'tcp' ? r / 1000 : r;
  // Open edges are a little thicker so that their dots read as dots.
  return (e.status === 'open' ? 2.5 : 1.5) + Math.min(3.5, Math.log10(1 + scaled) * 1.5);
}

function edgeElement(e) {
  return {
    group: 'edges',
    data: { id: e.id, source: e.source, target: e.target, width: edgeWidth(e) },
    classes: `${STATUSES.includes(e.status) ? e.status : 'unknown'}${tlsFailureText(e) ? ' tlsfail' : ''}${state.breakEdges.has(e.id) ? ' breaks' : ''}`,
  };
}

function groupElements(snapshot) {
  const groups = new Map();
  for (const n of snapshot.nodes) {
    const g = groupOf(n);
    if (!groups.has(g)) groups.set(g, g === OUTSIDE_GROUP ? 'outside the mesh' : n.namespace);
  }
  return [...groups].map(([id, label]) => ({ group: 'nodes', data: { id, label }, selectable: false, grabbable: false }));
}

// drawGraph brings Cytoscape to the snapshot. The layout runs only when the
// set of nodes changes; status and rate changes restyle in place.
function drawGraph(snapshot) {
  if (!cy) return;
  const key = layoutKey(snapshot);
  const relayout = key !== currentLayoutKey;
  const endpoints = new Set(snapshot.nodes.map((n) => n.id));
  const edges = snapshot.edges.filter((e) => endpoints.has(e.source) && endpoints.has(e.target));
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
      const def = edgeElement(e);
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
  if (relayout) {
    currentLayoutKey = key;
    runLayout(true);
  }
  syncBadges(snapshot, edges);
}

function runLayout(fit) {
  if (!cy || cy.nodes().empty()) return;
  cy.layout({
    name: 'dagre',
    rankDir: 'LR',
    nodeSep: 30,
    rankSep: 90,
    edgeSep: 12,
    padding: 30,
    fit: false,
    animate: false,
  }).run();
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

// ---- padlock badges (HTML over the canvas) ----------------------------------

function syncBadges(snapshot, edges) {
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
        onclick: () => select({ kind: 'edge', id: e.id }, { center: false }),
      });
      badgeEls.set(e.id, el);
      badgesEl.append(el);
    }
    if (el.dataset.status !== b.status || el.dataset.text !== b.text || el.getAttribute('aria-label') !== b.label) {
      el.dataset.status = b.status;
      el.dataset.text = b.text;
      el.dataset.tlsFailing = String(b.tlsFailing);
      el.className = `padlock padlock-${b.status}${b.tlsFailing ? ' tlsfail' : ''}`;
      el.setAttribute('aria-label', b.label);
      el.title = b.label;
      el.replaceChildren(
        icon(b.status, 16),
        b.text ? h('span', { class: 'padlock-text', text: b.text }) : '',
        b.tlsFailing ? h('span', { class: 'tls-warn', 'aria-hidden': 'true', text: '⚠' }) : '',
      );
    }
    el.classList.toggle('selected', state.selected?.kind === 'edge' && state.selected.id === e.id);
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

// ---- header ---------------------------------------------------------------

function renderHeader(snapshot) {
  // The server computed the posture (graph.ComputePosture); it is shown as
  // web/page.templ shows it.
  const p = postureView(snapshot.posture);
  const share = $('[data-testid="posture-mtls-share"]');
  if (share) {
    share.dataset.share = p.share;
    share.replaceChildren(
      ...(p.parts.length ? [] : [p.text]),
      ...p.parts.flatMap((x, i) => [
        ...(i ? [h('span', { class: 'share-sep', text: SHARE_SEPARATOR })] : []),
        h(
          'span',
          { class: 'share-part', title: x.title, dataset: { testid: `posture-${x.key}-share`, share: x.share } },
          h('span', { class: 'pct', text: x.percent }),
          ' ',
          h('span', { class: 'share-unit', text: x.label }),
        ),
      ]),
    );
  }
  for (const s of STATUSES) {
    const chip = $(`[data-testid="count-${s}"]`);
    if (!chip) continue;
    chip.dataset.count = String(p.counts[s]);
    const n = $('.n', chip);
    if (n) n.textContent = String(p.counts[s]);
  }
  const time = $('[data-testid="data-time"]');
  if (time) {
    if (hasTime(snapshot.generatedAt)) {
      const d = new Date(snapshot.generatedAt);
      time.dateTime = snapshot.generatedAt;
      time.textContent = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
      time.title = `${d.toString()} (window ${snapshot.window})`;
    } else {
      time.dateTime = '';
      time.textContent = 'no data yet';
    }
  }
  tickFreshness();
  renderBanners();
  renderNamespaceOptions(snapshot);
}

function tickFreshness() {
  const el = $('[data-testid="freshness"]');
  if (!el || !state.snapshot) return;
  if (!hasTime(state.snapshot.generatedAt)) {
    el.textContent = 'waiting for the first refresh';
    return;
  }
  const age = Date.now() - Date.parse(state.snapshot.generatedAt);
  el.textContent = formatFreshness(age);
  el.classList.toggle('old', age > 60000);
}

function renderBanners() {
  const box = $('#banners');
  if (!box) return;
  const s = state.snapshot;
  let stale = $('[data-testid="stale-banner"]', box);
  if (s && s.stale) {
    const reason = s.error || 'the last refresh failed';
    if (!stale) {
      stale = h('div', { class: 'banner banner-stale', role: 'alert', dataset: { testid: 'stale-banner' } });
      box.prepend(stale);
    }
    if ($('.reason', stale)?.textContent !== reason) {
      stale.replaceChildren(h('strong', { text: 'Data is stale:' }), ' ', h('span', { class: 'reason', text: reason }), '. Showing the last good graph.');
    }
  } else if (stale) {
    stale.remove();
  }
  let disc = $('[data-testid="disconnected-banner"]', box);
  const down = !state.connected && state.reconnectAt > 0;
  if (down) {
    const secs = Math.max(0, Math.ceil((state.reconnectAt - Date.now()) / 1000));
    const msg = secs > 0 ? `reconnecting in ${secs}s…` : 'reconnecting…';
    if (!disc) {
      disc = h(
        'div',
        { class: 'banner banner-disconnected', role: 'status', dataset: { testid: 'disconnected-banner' } },
        h('strong', { text: 'Disconnected from the server:' }),
        ' ',
        h('span', { class: 'msg' }),
        ' The data shown may be out of date. ',
        h('button', { type: 'button', class: 'tool', text: 'Reconnect now', onclick: () => reconnectNow() }),
      );
      box.append(disc);
    }
    $('.msg', disc).textContent = msg;
  } else if (disc) {
    disc.remove();
  }
  const conn = $('#conn');
  if (conn) {
    const st = state.connected ? 'live' : down ? 'down' : 'connecting';
    conn.dataset.state = st;
    conn.textContent = st === 'live' ? 'live' : st === 'down' ? 'reconnecting…' : 'connecting…';
  }
}

// The selector lists what the page was rendered with plus any namespace
// seen since (with no filter, the stream shows them all).
function renderNamespaceOptions(snapshot) {
  const select = $('#namespace-select');
  if (!select) return;
  let added = false;
  for (const ns of [...namespacesOf(snapshot), ...state.namespaces]) {
    if (!state.knownNamespaces.has(ns)) {
      state.knownNamespaces.add(ns);
      added = true;
    }
  }
  if (added) {
    const names = [...state.knownNamespaces].sort();
    select.replaceChildren(...names.map((ns) => h('option', { value: ns, text: ns })));
    select.size = Math.min(Math.max(names.length, 2), 3);
  }
  for (const opt of select.options) opt.selected = state.namespaces.includes(opt.value);
  const summary = $('#ns-summary');
  if (summary) {
    const n = state.namespaces;
    summary.textContent = n.length === 0 ? 'all' : n.length === 1 ? n[0] : `${n[0]} +${n.length - 1}`;
  }
}

// ---- findings ---------------------------------------------------------------

const SEV_ICON = { critical: '✖', warning: '⚠', info: 'ℹ' };

function findingButton(f, snapshot) {
  const target = findingTarget(f, snapshot);
  return h(
    'button',
    {
      type: 'button',
      class: `finding sev-${f.severity}`,
      dataset: { testid: 'finding', findingId: f.id, severity: f.severity, target: target?.id || '', targetKind: target?.kind || '' },
      onclick: () => selectFinding(f.id),
    },
    h('span', { class: 'sev' }, h('span', { 'aria-hidden': 'true', text: SEV_ICON[f.severity] || 'ℹ' }), ` ${f.severity}`),
    ' ',
    h('span', { class: 'msg', text: f.message }),
  );
}

function renderFindings(snapshot) {
  const list = $('#findings');
  if (!list) return;
  list.replaceChildren(...snapshot.findings.map((f) => h('li', {}, findingButton(f, snapshot))));
  $('#findings-count').textContent = String(snapshot.findings.length);
  $('#findings-none').hidden = snapshot.findings.length > 0;
}

function selectFinding(id) {
  const s = state.snapshot;
  const f = s?.findings.find((x) => x.id === id);
  if (!f) return;
  const target = findingTarget(f, s);
  if (target) select(target, { center: true });
  else select({ kind: 'finding', id }, { center: false });
}

// ---- the edge table -----------------------------------------------------------

function endpointCell(id) {
  const n = state.nodesById.get(id);
  const ns = n ? n.namespace : id.includes('/') ? id.slice(0, id.indexOf('/')) : '';
  return h('td', { class: 'ep' }, ns ? h('span', { class: 'ns-part', text: `${ns}/` }) : '', h('span', { class: 'name-part', text: nodeName(id, state.nodesById) }));
}

function renderTable(snapshot) {
  const tbody = $('#edge-rows');
  if (!tbody) return;
  const focusedID = document.activeElement?.closest?.('[data-testid="edge-row"]')?.dataset.edgeId;
  const rows = sortEdges(filterEdges(snapshot.edges, state.statusFilter), state.sort.key, state.sort.dir, state.nodesById);
  tbody.replaceChildren(
    ...rows.map((e) => {
      const b = badgeFor(e, state.nodesById);
      const tr = h(
        'tr',
        {
          tabindex: '0',
          'aria-label': `${nodeName(e.source, state.nodesById)} → ${nodeName(e.target, state.nodesById)}, ${e.protocol}, ${statusPhrase(e)}`,
          dataset: { testid: 'edge-row', edgeId: e.id, status: b.status },
          class: state.selected?.kind === 'edge' && state.selected.id === e.id ? 'selected' : '',
        },
        endpointCell(e.source),
        endpointCell(e.target),
        h('td', { text: e.protocol }),
        h('td', { class: 'num', text: formatRate(e.rate, e.protocol) }),
        h('td', { class: 'num', text: mtlsText(e) }),
        h('td', { class: `status status-${b.status}` }, icon(b.status), ` ${b.status}`),
      );
      return tr;
    }),
  );
  if (focusedID) {
    const again = [...tbody.rows].find((r) => r.dataset.edgeId === focusedID);
    again?.focus({ preventScroll: true });
  }
  $('#edges-count').textContent =
    rows.length === snapshot.edges.length ? String(rows.length) : `${rows.length} of ${snapshot.edges.length}`;
  const none = $('#edges-none');
  none.hidden = rows.length > 0;
  none.textContent = snapshot.edges.length ? 'No edge has the statuses picked above.' : 'No traffic between the services shown.';
  for (const th of document.querySelectorAll('#edge-table th[data-sort-key]')) {
    th.setAttribute('aria-sort', th.dataset.sortKey === state.sort.key ? state.sort.dir : 'none');
  }
  for (const input of document.querySelectorAll('#status-filter input[name="status"]')) {
    input.checked = state.statusFilter.has(input.value);
  }
  for (const s of STATUSES) {
    const chip = $(`[data-testid="count-${s}"]`);
    chip?.setAttribute('aria-pressed', String(state.statusFilter.size === 1 && state.statusFilter.has(s)));
  }
}

// renderNodeTable redraws the node table as web/page.templ's nodeTable
// first rendered it (model.mjs nodeRow words each row alike).
function renderNodeTable(snapshot) {
  const tbody = $('#node-rows');
  if (!tbody) return;
  const focusedID = document.activeElement?.closest?.('[data-testid="node-row"]')?.dataset.nodeId;
  const rows = snapshot.nodes.filter((n) => n.kind !== 'unknown' && n.kind !== 'hidden').map(nodeRow);
  tbody.replaceChildren(
    ...rows.map((r) =>
      h(
        'tr',
        {
          tabindex: '0',
          dataset: { testid: 'node-row', nodeId: r.id, kind: r.kind },
          class: state.selected?.kind === 'node' && state.selected.id === r.id ? 'selected' : '',
        },
        h('td', { class: 'ep' }, r.namespace ? h('span', { class: 'ns-part', text: `${r.namespace}/` }) : '', h('span', { class: 'name-part', text: r.name })),
        h('td', { text: r.kind }),
        h('td', { text: r.sidecar }),
        h('td', { dataset: { testid: 'node-peerauth' }, text: r.peerAuth }),
        h(
          'td',
          { dataset: { testid: 'node-drtls' } },
          r.drTLS,
          r.callers.length ? h('ul', { class: 'plain-list', dataset: { testid: 'caller-tls' } }, r.callers.map((c) => h('li', { text: c }))) : '',
        ),
        h('td', {}, h('ul', { class: 'plain-list', dataset: { testid: 'node-ports' } }, r.ports.map((x) => h('li', { dataset: { testid: 'node-port' }, text: x })))),
      ),
    ),
  );
  if (focusedID) [...tbody.rows].find((r) => r.dataset.nodeId === focusedID)?.focus({ preventScroll: true });
  const count = $('#nodes-count');
  if (count) count.textContent = String(rows.length);
}

function initNodeTable() {
  const table = $('#node-table');
  if (!table) return;
  table.addEventListener('click', (ev) => {
    const row = ev.target.closest('tr[data-node-id]');
    if (row) select({ kind: 'node', id: row.dataset.nodeId }, { center: true });
  });
  table.addEventListener('keydown', (ev) => {
    const row = ev.target.closest?.('tr[data-node-id]');
    if (!row) return;
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      select({ kind: 'node', id: row.dataset.nodeId }, { center: true });
    } else if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      (ev.key === 'ArrowDown' ? row.nextElementSibling : row.previousElementSibling)?.focus();
    }
  });
}

function initTable() {
  const table = $('#edge-table');
  if (!table) return;
  table.addEventListener('click', (ev) => {
    const sortBtn = ev.target.closest('button[data-sort]');
    if (sortBtn) {
      const key = sortBtn.dataset.sort;
      state.sort =
        state.sort.key === key
          ? { key, dir: state.sort.dir === 'ascending' ? 'descending' : 'ascending' }
          : { key, dir: key === 'rate' ? 'descending' : 'ascending' };
      if (state.snapshot) renderTable(state.snapshot);
      return;
    }
    const row = ev.target.closest('tr[data-edge-id]');
    if (row) select({ kind: 'edge', id: row.dataset.edgeId }, { center: true });
  });
  table.addEventListener('keydown', (ev) => {
    const row = ev.target.closest?.('tr[data-edge-id]');
    if (!row) return;
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      select({ kind: 'edge', id: row.dataset.edgeId }, { center: true });
    } else if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      const next = ev.key === 'ArrowDown' ? row.nextElementSibling : row.previousElementSibling;
      next?.focus();
    }
  });
  $('#status-filter')?.addEventListener('change', () => {
    state.statusFilter = new Set(
      [...document.querySelectorAll('#status-filter input[name="status"]')].filter((i) => i.checked).map((i) => i.value),
    );
    if (state.snapshot) renderTable(state.snapshot);
  });
  for (const s of STATUSES) {
    $(`[data-testid="count-${s}"]`)?.addEventListener('click', () => {
      const only = state.statusFilter.size === 1 && state.statusFilter.has(s);
      state.statusFilter = only ? new Set(STATUSES) : new Set([s]);
      if (state.snapshot) renderTable(state.snapshot);
    });
  }
}

// ---- the side panel -----------------------------------------------------------

function row(label, ...value) {
  return [h('dt', { text: label }), h('dd', {}, ...value)];
}

function nodeLink(id) {
  return h('button', {
    type: 'button',
    class: 'link',
    text: nodeName(id, state.nodesById),
    title: id,
    onclick: () => select({ kind: 'node', id }, { center: true }),
  });
}

function findingsBlock(list, snapshot) {
  if (!list.length) return h('p', { class: 'none', text: 'No findings name it.' });
  return h('ul', { class: 'findings findings-inline' }, list.map((f) => h('li', {}, findingButton(f, snapshot))));
}

function shareText(share) {
  return share === null ? 'security not known' : `${formatPercent(share)} mTLS`;
}

// enforceButton opens the enforce dialog for a namespace or a service.
function enforceButton(scope, namespace, service, text) {
  const dataset = { testid: `enforce-${scope}`, enforce: scope, namespace, focusKey: `enforce:${scope}:${namespace}/${service || ''}` };
  if (service) dataset.service = service;
  return h('button', { type: 'button', class: 'enforce-btn', 'aria-haspopup': 'dialog', dataset }, icon('locked'), text);
}

// enforceBlock offers enforcing mTLS on a node's service and namespace
// (nothing without --allow-enforce, for the unknown caller, or outside a namespace).
function enforceBlock(n, { service = true } = {}) {
  if (!ALLOW_ENFORCE || !n || n.kind === 'unknown' || !n.namespace) return '';
  return h(
    'div',
    { class: 'enforce-actions' },
    service && n.kind === 'service' ? enforceButton('service', n.namespace, n.name, `Enforce mTLS on ${n.name}`) : '',
    enforceButton('namespace', n.namespace, '', `Enforce mTLS on namespace ${n.namespace}`),
  );
}

// edgeClientTLS is what the edge's caller sends: the target's mode, or, when
// its callers differ (VARIES), this caller's entry.
function edgeClientTLS(e, dst) {
  if (dst?.destinationRuleTLS !== 'VARIES') return destinationRuleText(dst?.destinationRuleTLS);
  const c = (dst.callerTLS || []).find((x) => x.caller === e.source);
  if (!c) return 'varies by caller (see the target)';
  return c.rule ? `${destinationRuleText(c.tls)} (${c.rule})` : destinationRuleText(c.tls);
}

function renderSidePanel() {
  const panel = $('#side-panel');
  if (!panel) return;
  // The panel is redrawn with every snapshot: keep the focus on the same button.
  const focusKey = panel.contains(document.activeElement) ? document.activeElement.dataset?.focusKey : undefined;
  const s = state.snapshot;
  const sel = state.selected;
  const title = h('h2', { id: 'side-title' });
  const parts = [title];
  panel.dataset.kind = sel?.kind || '';
  panel.dataset.id = sel?.id || '';
  if (!sel || !s) {
    title.textContent = 'Details';
    parts.push(h('p', { class: 'hint', text: 'Select an edge or a service in the graph, the table or the findings to see how its traffic is secured.' }));
  } else if (sel.kind === 'edge') {
    const e = state.edgesById.get(sel.id);
    if (!e) {
      title.textContent = 'Details';
      parts.push(h('p', { class: 'hint', text: `${sel.id} is no longer in the graph.` }));
    } else {
      const b = badgeFor(e, state.nodesById);
      title.append(`${nodeName(e.source, state.nodesById)} → ${nodeName(e.target, state.nodesById)} `, h('span', { class: 'tag', text: e.protocol.toUpperCase() }));
      const src = state.nodesById.get(e.source);
      const dst = state.nodesById.get(e.target);
      const failing = tlsFailureText(e);
      parts.push(
        failing
          ? h('p', { class: 'tls-failure', role: 'alert', dataset: { testid: 'edge-tls-failure' } }, h('span', { 'aria-hidden': 'true', text: '⚠ ' }), failing)
          : '',
        h(
          'dl',
          { class: 'facts' },
          row('Status', h('span', { class: `status status-${b.status}` }, icon(b.status), ` ${statusPhrase(e)}`)),
          row('Rate', `${formatRate(e.rate, e.protocol)} (window ${s.window || '?'})`, e.protocol === 'tcp' ? h('span', { class: 'muted', text: ' bytes sent and received' }) : ''),
          row('mTLS share', mtlsText(e)),
          row('Protocol', e.protocol),
          row('From', nodeLink(e.source)),
          row('To', nodeLink(e.target)),
          row('Client', h('code', { text: e.sourcePrincipal || 'no identity (plaintext or unknown)' })),
          row('Server', h('code', { text: e.destinationPrincipal || 'no identity (plaintext or unknown)' })),
          row('Client TLS', edgeClientTLS(e, dst)),
          row('Server PeerAuth', !dst ? '—' : dst.kind === 'gateway' ? GATEWAY_PEER_AUTH_TEXT : peerAuthText(dst.peerAuthentication)),
        ),
        h('h3', { text: 'Findings' }),
        findingsBlock(findingsForEdge(s, e.id), s),
        enforceBlock(dst),
      );
      void src;
    }
  } else if (sel.kind === 'node') {
    const n = state.nodesById.get(sel.id);
    if (!n) {
      title.textContent = 'Details';
      parts.push(h('p', { class: 'hint', text: `${sel.id} is no longer in the graph.` }));
    } else {
      title.append(`${displayName(n)} `, h('span', { class: 'tag', text: n.kind }));
      const facts = [];
      if (n.kind === 'unknown') {
        facts.push(row('What', 'Callers Istio could not identify: from outside the mesh, or without a sidecar.'));
      } else {
        const gateway = n.kind === 'gateway';
        const callers = n.destinationRuleTLS === 'VARIES' ? n.callerTLS || [] : [];
        facts.push(
          row('Namespace', n.namespace),
          row('PeerAuthentication', h('span', { dataset: { testid: 'node-peerauth' }, text: gateway ? GATEWAY_PEER_AUTH_TEXT : peerAuthText(n.peerAuthentication) })),
          row('Sidecar', n.inMesh ? 'yes: every pod has one' : 'no: not every pod has a sidecar'),
          row(
            'DestinationRule TLS',
            destinationRuleText(n.destinationRuleTLS),
            callers.length ? h('ul', { class: 'plain-list', dataset: { testid: 'caller-tls' } }, callers.map((c) => h('li', { text: callerTLSText(c) }))) : '',
          ),
        );
        if ((n.ports || []).length) {
          facts.push(
            row('Ports', h('ul', { class: 'plain-list', dataset: { testid: 'node-ports' } }, n.ports.map((p) => h('li', { dataset: { testid: 'node-port' }, text: portText(p, gateway) })))),
          );
        }
      }
      for (const [dir, label] of [
        ['in', 'Inbound'],
        ['out', 'Outbound'],
      ]) {
        const t = traffic(s, n.id, dir);
        facts.push(
          row(label, t.length ? t.map((x, i) => [i ? '; ' : '', `${formatRate(x.rate, x.protocol)}, ${shareText(x.share)} (${x.edges} edge${x.edges === 1 ? '' : 's'})`]) : 'none'),
        );
      }
      parts.push(h('dl', { class: 'facts' }, facts), h('h3', { text: 'Findings' }), findingsBlock(findingsForNode(s, n.id), s), enforceBlock(n));
    }
  } else if (sel.kind === 'namespace') {
    const ns = sel.id;
    const nodes = s.nodes.filter((n) => n.namespace === ns && n.kind !== 'unknown');
    title.append(`${ns} `, h('span', { class: 'tag', text: 'namespace' }));
    if (!nodes.length) {
      parts.push(h('p', { class: 'hint', text: `No service of namespace ${ns} is in the graph.` }));
    } else {
      const ids = new Set(nodes.map((n) => n.id));
      const inbound = postureView(postureOf(s.edges.filter((e) => ids.has(e.target))));
      parts.push(
        h(
          'dl',
          { class: 'facts' },
          row('Services', nodes.map((n, i) => [i ? ', ' : '', nodeLink(n.id)])),
          row('Inbound mTLS', inbound.parts.length ? inbound.text : 'no traffic of known security'),
        ),
      );
    }
    if (ALLOW_ENFORCE) parts.push(h('div', { class: 'enforce-actions' }, enforceButton('namespace', ns, '', `Enforce mTLS on namespace ${ns}`)));
  } else if (sel.kind === 'finding') {
    const f = s.findings.find((x) => x.id === sel.id);
    title.textContent = 'Finding';
    if (!f) parts.push(h('p', { class: 'hint', text: 'This finding no longer applies.' }));
    else {
      parts.push(
        h('p', { class: `sev-line sev-${f.severity}` }, h('span', { class: 'sev', text: `${SEV_ICON[f.severity] || 'ℹ'} ${f.severity}` }), ' ', f.message),
        (f.objects || []).length ? h('dl', { class: 'facts' }, row('Objects', (f.objects || []).join(', '))) : '',
      );
    }
  }
  panel.replaceChildren(...parts);
  if (focusKey) panel.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus({ preventScroll: true });
}

// syncGraphSelection keeps Cytoscape's selection equal to state.selected
// (elements are re-added when the filter changes).
function syncGraphSelection() {
  if (!cy) return;
  const sel = state.selected;
  const want = sel && (sel.kind === 'edge' || sel.kind === 'node') ? cy.getElementById(sel.id) : cy.collection();
  cy.elements(':selected').difference(want).unselect();
  if (want.nonempty() && !want.selected()) want.select();
}

// select shows an edge, a node or a finding in the side panel, highlights it
// and, when asked, centres the graph on it.
function select(target, { center = false } = {}) {
  state.selected = target;
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
  for (const [id, el] of badgeEls) el.classList.toggle('selected', target?.kind === 'edge' && target.id === id);
  for (const tr of document.querySelectorAll('#edge-rows tr')) {
    tr.classList.toggle('selected', target?.kind === 'edge' && target.id === tr.dataset.edgeId);
  }
  for (const tr of document.querySelectorAll('#node-rows tr')) {
    tr.classList.toggle('selected', target?.kind === 'node' && target.id === tr.dataset.nodeId);
  }
  renderSidePanel();
  if (target && window.matchMedia('(max-width: 899px)').matches) {
    $('#side-panel')?.scrollIntoView({ block: 'nearest' });
  }
}

// ---- rendering a snapshot -----------------------------------------------------

function setSnapshot(snapshot) {
  state.snapshot = snapshot;
  state.nodesById = new Map(snapshot.nodes.map((n) => [n.id, n]));
  state.edgesById = new Map(snapshot.edges.map((e) => [e.id, e]));
  renderHeader(snapshot);
  renderEmpty(snapshot);
  drawGraph(snapshot);
  syncGraphSelection();
  renderFindings(snapshot);
  renderTable(snapshot);
  renderNodeTable(snapshot);
  renderSidePanel();
}

function renderEmpty(snapshot) {
  const wrap = $('.graph-wrap');
  let el = $('[data-testid="empty-message"]');
  if (snapshot.nodes.length === 0) {
    if (!el) {
      el = h('p', { class: 'empty', id: 'empty-message', dataset: { testid: 'empty-message' } });
      wrap?.append(el);
    }
    el.textContent = emptyMessage(state.namespaces, snapshot);
  } else if (el) {
    el.remove();
  }
}

// ---- the stream -----------------------------------------------------------------

function connect() {
  clearTimeout(state.reconnectTimer);
  state.reconnectTimer = 0;
  let ws;
  try {
    ws = new WebSocket(streamURL(location.href, state.namespaces));
  } catch {
    scheduleReconnect();
    return;
  }
  state.ws = ws;
  ws.addEventListener('message', (ev) => {
    if (state.ws !== ws) return;
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (msg.type === 'snapshot' && msg.graph) {
      state.attempt = 0;
      state.reconnectAt = 0;
      state.connected = true;
      state.fromStream = true;
      setSnapshot(normalizeSnapshot(msg.graph));
      state.ready = true;
      body.dataset.ready = 'true';
    } else if (msg.type === 'delta' && msg.delta && state.fromStream && state.snapshot) {
      setSnapshot(applyDelta(state.snapshot, msg.delta));
    }
  });
  ws.addEventListener('close', (ev) => {
    if (state.ws !== ws) return;
    // 4001: the token stopped passing (token mode). Reloading lets the
    // server answer its sign-in explanation, or the page for a fresh token.
    if (ev.code === 4001) {
      location.reload();
      return;
    }
    state.ws = null;
    state.connected = false;
    state.fromStream = false;
    scheduleReconnect();
  });
}

function scheduleReconnect() {
  const delay = backoffDelay(state.attempt++);
  reconnects++;
  state.reconnectAt = Date.now() + delay;
  clearTimeout(state.reconnectTimer);
  state.reconnectTimer = setTimeout(connect, delay);
  renderBanners();
}

function reconnectNow() {
  if (state.ws) return;
  state.reconnectAt = Date.now();
  renderBanners();
  connect();
}

// restart reconnects at once with the current filter (after a change).
function restart() {
  const old = state.ws;
  state.ws = null;
  if (old) old.close(1000, 'namespace filter changed');
  state.connected = false;
  state.fromStream = false;
  state.attempt = 0;
  connect();
}

// ---- the namespace selector -----------------------------------------------------

function initNamespaces() {
  const form = $('#ns-form');
  const select = $('#namespace-select');
  if (!form || !select) return;
  const apply = (namespaces) => {
    state.namespaces = namespaces;
    history.replaceState(history.state, '', `${location.pathname}${withNamespaces(location.search, namespaces)}${location.hash}`);
    renderNamespaceOptions(state.snapshot || { nodes: [] });
    restart();
  };
  // A plain click toggles one option, as a list of checkboxes would.
  select.addEventListener('mousedown', (ev) => {
    const opt = ev.target.closest?.('option');
    if (!opt || ev.shiftKey || ev.ctrlKey || ev.metaKey) return;
    ev.preventDefault();
    opt.selected = !opt.selected;
    select.focus();
    select.dispatchEvent(new Event('change', { bubbles: true }));
  });
  select.addEventListener('change', () => apply([...select.selectedOptions].map((o) => o.value)));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    apply([...select.selectedOptions].map((o) => o.value));
  });
  $('#ns-all')?.addEventListener('click', (ev) => {
    ev.preventDefault();
    apply([]);
  });
  const applyBtn = $('#ns-apply');
  if (applyBtn) applyBtn.hidden = true; // changes apply at once
}

// ---- enforcing mTLS: the plan dialog ---------------------------------------------

// api calls a JSON endpoint relative to the page: {ok, status, body}.
async function api(path, { method = 'GET', payload, signal } = {}) {
  const init = { method, signal, headers: { Accept: 'application/json' }, cache: 'no-store' };
  if (payload !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(payload);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON: errorText shows the text */
  }
  return { ok: res.ok, status: res.status, body: parsed };
}

const enforce = {
  dialog: null,
  target: null, // {scope, namespace, service}
  mode: 'destinationrule',
  openerKey: '', // data-focus-key of the button that opened the dialog
  seq: 0, // the newest plan request; older answers are dropped
  controller: null,
  loading: false,
  applying: false,
  plan: null,
  error: '',
};

function openEnforce(button) {
  const d = enforce.dialog;
  const target = enforceTarget(button.dataset.enforce, button.dataset.namespace || '', button.dataset.service || '');
  if (!d || !target || d.open) return;
  enforce.target = target;
  enforce.openerKey = button.dataset.focusKey || '';
  enforce.mode = d.querySelector('input[name="enforce-mode"]:checked')?.value || 'destinationrule';
  $('#enforce-scope').textContent = `Scope: ${scopeLabel(target)}`;
  d.dataset.scope = target.scope;
  d.dataset.namespace = target.namespace;
  d.dataset.service = target.service;
  d.showModal();
  d.querySelector('input[name="enforce-mode"]:checked')?.focus();
  loadPlan();
}

async function loadPlan() {
  const seq = ++enforce.seq;
  enforce.controller?.abort();
  const controller = new AbortController();
  enforce.controller = controller;
  Object.assign(enforce, { loading: true, plan: null, error: '' });
  setBreaks([]);
  renderEnforce();
  let plan = null;
  let error = '';
  try {
    const res = await api('api/enforce', { method: 'POST', payload: enforceRequest(enforce.target, enforce.mode, true), signal: controller.signal });
    if (res.ok && res.body && typeof res.body === 'object') plan = res.body;
    else error = errorText(res.status, res.body);
  } catch (err) {
    if (err?.name === 'AbortError') return;
    error = `The server could not be reached: ${err?.message || err}`;
  }
  if (seq !== enforce.seq || !enforce.dialog?.open) return;
  Object.assign(enforce, { loading: false, plan, error, controller: null });
  setBreaks(plan?.breaks || []);
  renderEnforce();
}

async function applyPlan() {
  if (!applyState(enforce).enabled) return;
  const seq = enforce.seq;
  enforce.applying = true;
  enforce.error = '';
  renderEnforce();
  let error = '';
  let result = null;
  try {
    // The planId makes the server apply exactly the plan shown, or refuse.
    const payload = { ...enforceRequest(enforce.target, enforce.mode, false), planId: enforce.plan?.planId || '' };
    const res = await api('api/enforce', { method: 'POST', payload });
    if (res.ok) result = res.body;
    else error = errorText(res.status, res.body);
    // 409 with a planId: the cluster changed, and this is the new plan to review.
    if (res.status === 409 && res.body?.planId && seq === enforce.seq) {
      enforce.plan = res.body;
      setBreaks(res.body.breaks || []);
    }
  } catch (err) {
    error = `The server could not be reached: ${err?.message || err}`;
  }
  enforce.applying = false;
  if (result) {
    activity.reveal = result.actionId || '';
    activity.flash = { at: Date.now(), text: `Applied to ${scopeLabel(enforce.target)}: the padlocks follow within a refresh or two.` };
    if (seq === enforce.seq && enforce.dialog.open) enforce.dialog.close();
    loadActivity();
    return;
  }
  if (seq === enforce.seq && enforce.dialog.open) {
    enforce.error = error;
    renderEnforce();
  }
}

// setBreaks highlights on the graph the edges the plan would cut.
function setBreaks(breaks) {
  state.breakEdges = new Set(breaks.map(breakEdgeId));
  if (cy) {
    cy.batch(() => {
      cy.edges().forEach((e) => {
        e.toggleClass('breaks', state.breakEdges.has(e.id()));
      });
    });
  }
  for (const [id, el] of badgeEls) el.classList.toggle('breaks', state.breakEdges.has(id));
}

function endpointText(id) {
  return id === 'unknown' ? 'unknown (outside the mesh)' : id;
}

function renderBreaks(plan) {
  const box = $('#enforce-breaks');
  if (!box) return;
  if (!plan) {
    box.replaceChildren();
    return;
  }
  const breaks = plan.breaks || [];
  if (!breaks.length) {
    box.replaceChildren(h('p', { class: 'breaks-none', dataset: { testid: 'enforce-no-breaks' } }, h('span', { 'aria-hidden': 'true', text: '✓ ' }), 'No live caller would be cut.'));
    return;
  }
  const onGraph = breaks.some((b) => badgeEls.has(breakEdgeId(b)));
  box.replaceChildren(
    h(
      'p',
      { class: 'breaks-warn' },
      h('span', { 'aria-hidden': 'true', text: '⚠ ' }),
      `${breaks.length} live caller${breaks.length === 1 ? '' : 's'} would be cut off`,
      onGraph ? ' (marked ✂ on the graph):' : ':',
    ),
    h(
      'ul',
      { class: 'breaks' },
      breaks.map((b) =>
        h(
          'li',
          { dataset: { testid: 'enforce-break', edgeId: breakEdgeId(b) } },
          h('span', { class: 'break-edge' }, `${endpointText(b.source)} → ${endpointText(b.target)}`),
          ' ',
          h('span', { class: 'tag', text: b.protocol || '?' }),
          ' ',
          h('span', { class: 'break-rate', text: formatRate(b.rate, b.protocol) }),
          b.reason ? h('span', { class: 'break-reason', text: ` — ${b.reason}` }) : '',
        ),
      ),
    ),
  );
}

// renderWarnings lists where the plan will not do what one may expect
// (a mesh rule that more specific rules shadow).
function renderWarnings(plan) {
  const list = $('#enforce-warnings');
  if (!list) return;
  list.replaceChildren(
    ...(plan?.warnings || []).map((w) =>
      h('li', { class: 'warning', dataset: { testid: 'enforce-warning' } }, h('span', { 'aria-hidden': 'true', text: '⚠ ' }), w),
    ),
  );
}

const DIFF_MARK = { '+': '+', '-': '−', ' ': ' ' };

function renderChange(c) {
  const diff = lineDiff(c.action === 'create' ? '' : c.previous || (c.action === 'unchanged' ? c.yaml : ''), c.yaml);
  const stats = diffStats(diff);
  const lines = foldDiff(diff, 3).map((l) =>
    l.op === '…'
      ? h('span', { class: 'dl dl-fold' }, h('span', { class: 'dm', text: '⋯' }), `${l.count} unchanged line${l.count === 1 ? '' : 's'}`)
      : h(
          'span',
          { class: `dl ${l.op === '+' ? 'dl-add' : l.op === '-' ? 'dl-del' : 'dl-same'}` },
          h('span', { class: 'dm', 'aria-label': l.op === '+' ? 'added' : l.op === '-' ? 'removed' : undefined, text: DIFF_MARK[l.op] }),
          l.text,
        ),
  );
  const open = c.action !== 'unchanged' || !!c.conflict;
  return h(
    'details',
    {
      class: `change change-${c.action}${c.conflict ? ' change-conflict' : ''}`,
      open,
      dataset: { testid: 'enforce-change', action: c.action, kind: c.kind, namespace: c.namespace, name: c.name, conflict: c.conflict ? 'true' : 'false' },
    },
    h(
      'summary',
      {},
      h('span', { class: `act act-${c.action}`, text: c.action }),
      ' ',
      h('span', { class: 'kind', text: c.kind }),
      ' ',
      h('code', { text: `${c.namespace}/${c.name}` }),
      c.action === 'unchanged' ? '' : h('span', { class: 'stats', text: ` +${stats.added} −${stats.removed}` }),
    ),
    c.conflict ? h('p', { class: 'conflict', role: 'alert', dataset: { testid: 'enforce-conflict' } }, h('strong', { text: '✖ Conflict: ' }), c.conflict) : '',
    h('pre', { class: 'diff', 'aria-label': `${c.kind} ${c.namespace}/${c.name}, line diff` }, lines),
  );
}

function renderEnforce() {
  const d = enforce.dialog;
  if (!d) return;
  const { loading, applying, plan, error } = enforce;
  d.dataset.state = loading ? 'loading' : applying ? 'applying' : error ? 'error' : plan ? 'ready' : 'idle';
  d.dataset.mode = enforce.mode;
  d.setAttribute('aria-busy', String(loading || applying));
  for (const r of d.querySelectorAll('input[name="enforce-mode"]')) r.disabled = applying;
  const status = $('#enforce-status');
  const s = planSummary(plan);
  if (loading) status.textContent = 'Computing the plan (dry run)…';
  else if (applying) status.textContent = 'Applying…';
  else if (plan) {
    const parts = [];
    if (s.create) parts.push(`${s.create} to create`);
    if (s.update) parts.push(`${s.update} to update`);
    if (s.unchanged) parts.push(`${s.unchanged} unchanged`);
    status.replaceChildren(
      `Plan: ${parts.join(', ') || 'no object'}${s.conflicts ? `; ${s.conflicts} conflict${s.conflicts === 1 ? '' : 's'}` : ''}.`,
      plan.serverValidated
        ? h('span', { class: 'validated', text: ' Validated by the Kubernetes API (server-side dry run).' })
        : h('span', { class: 'validated-local', dataset: { testid: 'enforce-local-validation' }, text: ' Validated locally: this API cannot dry-run.' }),
    );
  } else status.textContent = '';
  const errEl = $('#enforce-error');
  errEl.hidden = !error;
  errEl.textContent = error;
  renderBreaks(plan);
  renderWarnings(plan);
  const changes = $('#enforce-changes');
  if (!plan) changes.replaceChildren();
  else if (!(plan.changes || []).length) changes.replaceChildren(h('p', { class: 'none', text: 'No object to write: no service in this scope.' }));
  else changes.replaceChildren(...plan.changes.map(renderChange));
  const st = applyState(enforce);
  const apply = $('#enforce-apply');
  apply.disabled = !st.enabled;
  apply.textContent = applying ? 'Applying…' : s.changing ? `Apply ${s.changing} change${s.changing === 1 ? '' : 's'}` : 'Apply';
  $('#enforce-apply-reason').textContent = st.reason;
}

function initEnforce() {
  const d = $('#enforce-dialog');
  if (!ALLOW_ENFORCE || !d) {
    // Read-only: no button opens anything.
    for (const b of document.querySelectorAll('[data-enforce]')) b.remove();
    return;
  }
  enforce.dialog = d;
  document.addEventListener('click', (ev) => {
    const b = ev.target.closest?.('button[data-enforce]');
    if (b) openEnforce(b);
  });
  d.addEventListener('change', (ev) => {
    if (ev.target.name !== 'enforce-mode' || !ev.target.checked) return;
    enforce.mode = ev.target.value;
    loadPlan();
  });
  $('#enforce-cancel').addEventListener('click', () => d.close());
  $('#enforce-apply').addEventListener('click', applyPlan);
  d.addEventListener('close', () => {
    // The close event is queued: the dialog may have been opened again
    // (for another scope) before it runs, and that plan must live.
    if (d.open) return;
    enforce.seq++;
    enforce.controller?.abort();
    Object.assign(enforce, { controller: null, loading: false, plan: null, error: '' });
    setBreaks([]);
    renderEnforce();
    d.dataset.state = 'closed';
    // The opener may have been redrawn meanwhile (the side panel follows the stream).
    const key = enforce.openerKey;
    const opener = key && document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
    if (opener) opener.focus();
    else $('#side-panel')?.focus();
  });
}

// ---- the activity list (audit trail) ------------------------------------------------

const activity = {
  actions: [],
  loaded: false,
  loading: false,
  error: '',
  itemErrors: new Map(), // action id → message of a failed undo
  busy: new Set(), // action ids with an undo in flight
  flash: null, // {text, at}: what the last apply or undo did
  again: false,
  lastJSON: '',
  reveal: '', // the id of an action to scroll into view once listed
};

const FLASH_MS = 20000;

async function loadActivity() {
  if (activity.loading) {
    activity.again = true;
    return;
  }
  activity.loading = true;
  let redraw = true;
  try {
    const res = await api('api/actions');
    if (res.ok && Array.isArray(res.body)) {
      const json = JSON.stringify(res.body);
      const same = activity.loaded && !activity.error && json === activity.lastJSON;
      activity.actions = res.body;
      activity.lastJSON = json;
      activity.loaded = true;
      activity.error = '';
      redraw = !same || !!(activity.flash && Date.now() - activity.flash.at > FLASH_MS);
    } else {
      activity.error = `Could not load the activity: ${errorText(res.status, res.body)}`;
    }
  } catch (err) {
    activity.error = `Could not load the activity: the server could not be reached (${err?.message || err}).`;
  } finally {
    activity.loading = false;
  }
  if (redraw) renderActivity();
  if (activity.again) {
    activity.again = false;
    loadActivity();
  }
}

function formatWhen(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return iso || '?';
  return d.toLocaleString([], { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

async function undoAction(id) {
  if (activity.busy.has(id)) return;
  activity.busy.add(id);
  activity.itemErrors.delete(id);
  renderActivity();
  try {
    const res = await api(undoURL(id), { method: 'POST' });
    if (!res.ok) activity.itemErrors.set(id, errorText(res.status, res.body));
    else activity.flash = { at: Date.now(), text: `Undone: ${scopeLabel(res.body || {})}.` };
  } catch (err) {
    activity.itemErrors.set(id, `The server could not be reached: ${err?.message || err}`);
  } finally {
    activity.busy.delete(id);
  }
  renderActivity();
  loadActivity();
}

function activityItem(a) {
  const undone = !!a.undoneAt;
  const err = activity.itemErrors.get(a.id);
  const busy = activity.busy.has(a.id);
  return h(
    'li',
    { class: `activity-item${undone ? ' undone' : ''}`, dataset: { testid: 'activity-item', actionId: a.id, undone: String(undone) } },
    h('div', { class: 'act-head' }, h('strong', { class: 'act-scope', text: scopeLabel(a) }), h('span', { class: 'act-mode', text: actionSummary(a).split(' · ')[1] })),
    h('div', { class: 'act-meta' }, h('time', { datetime: a.at, title: a.at, text: formatWhen(a.at) }), ' by ', h('span', { class: 'act-who', text: a.who || '?' })),
    h(
      'ul',
      { class: 'act-objects' },
      (a.objects || []).map((o) => h('li', {}, h('span', { class: `act act-${o.action}`, text: o.action }), ` ${o.kind} `, h('code', { text: `${o.namespace}/${o.name}` }))),
    ),
    undone
      ? h('p', { class: 'act-undone', dataset: { testid: 'activity-undone' } }, `↶ undone by ${a.undoneBy || '?'} at `, h('time', { datetime: a.undoneAt, text: formatWhen(a.undoneAt) }))
      : canUndo(a, ALLOW_ENFORCE)
        ? h('button', {
            type: 'button',
            class: 'btn btn-small',
            text: busy ? 'Undoing…' : 'Undo',
            disabled: busy,
            title: 'Put every object back exactly as it was before this action',
            dataset: { testid: 'undo', actionId: a.id, focusKey: `undo:${a.id}` },
            onclick: () => undoAction(a.id),
          })
        : '',
    err ? h('p', { class: 'act-error', role: 'alert', dataset: { testid: 'activity-error' }, text: err }) : '',
  );
}

function renderActivity() {
  const list = $('#activity');
  const status = $('#activity-status');
  if (!list || !status) return;
  const focusKey = list.contains(document.activeElement) ? document.activeElement.dataset?.focusKey : undefined;
  list.replaceChildren(...activity.actions.map(activityItem));
  if (focusKey) list.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus({ preventScroll: true });
  if (activity.reveal) {
    // Show the action just applied, where the person can undo it.
    const item = list.querySelector(`[data-action-id="${CSS.escape(activity.reveal)}"]`);
    if (item) {
      item.scrollIntoView({ block: 'nearest' });
      activity.reveal = '';
    }
  }
  const lines = [];
  if (activity.flash && Date.now() - activity.flash.at > FLASH_MS) activity.flash = null;
  if (activity.flash) lines.push(activity.flash.text);
  if (activity.error) lines.push(activity.error);
  else if (!activity.loaded) lines.push('Loading the enforce actions…');
  else if (!activity.actions.length) lines.push(ALLOW_ENFORCE ? 'No enforce action yet.' : 'No enforce action yet. This dashboard is read-only.');
  status.textContent = lines.join(' ');
  status.hidden = lines.length === 0;
  status.classList.toggle('act-error', !!activity.error);
  const count = $('#activity-count');
  if (count) count.textContent = activity.loaded ? String(activity.actions.length) : '';
}

function initActivity() {
  if (!$('#activity')) return;
  loadActivity();
  // Other people's actions show up too, cheaply.
  setInterval(() => {
    if (document.visibilityState === 'visible') loadActivity();
  }, 15000);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') loadActivity();
  });
}

// ---- start ----------------------------------------------------------------------

function start() {
  initGraph();
  initTable();
  initNodeTable();
  initNamespaces();
  initEnforce();
  initActivity();
  const initial = document.getElementById('initial-snapshot');
  if (initial) {
    try {
      setSnapshot(normalizeSnapshot(JSON.parse(initial.textContent)));
    } catch {
      /* the stream's snapshot follows */
    }
  }
  connect();
  setInterval(() => {
    tickFreshness();
    if (!state.connected && state.reconnectAt) renderBanners();
  }, 1000);
  window.addEventListener('online', reconnectNow);
}

start();
