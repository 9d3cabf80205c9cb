// meshlock's tables: the edge table (sortable by each column, filtered by
// status, idle rows only with the idle toggle, rows selectable by click,
// Enter or Space, the arrows, Home and End between rows; one row of a
// table is in the Tab order, the one last focused, else the selected or
// the first: a roving tabindex)
// and the node table (each service and workload's policy and ports), both
// drawn from the store's snapshot into the tbodies web/page.templ renders.
// Both are paged (PAGE_SIZE rows, previous and next): a mesh of thousands
// of edges would otherwise rebuild thousands of rows for every delta. Only
// the page shown is drawn, and only again when one of its rows changed.
// With several clusters an end's cluster comes before its namespace
// ("east/ default/ reviews"), an edge between clusters says so ("crosses
// clusters west → east") and a stale row (its cluster's Kubernetes API
// not answering) is marked.

import { $, h, icon } from './dom.js';
import { ago, badgeFor, formatRate, formatWhen, isTime, mtlsText, nodeName, nodeRow, statusPhrase } from './format.mjs';
import { rowAfterKey } from './keyboard.mjs';
import { clusterOf, crossClusterText, filterEdges, isIdle, isStale, namespaceKeyOfID, parseNamespaceKey, shownEdges, sortEdges } from './model.mjs';
import { MISMATCH_LABEL, MISMATCH_TAG, principalMismatchEdges } from './trust.mjs';

// rowKeys makes a table's rows work from the keyboard: Enter or Space
// selects, Escape clears the selection (onClear), the arrows, Home and End
// move between rows (keyboard.mjs), and the row focused last is the one
// Tab comes back to.
function rowKeys(table, rowSelector, onSelect, onClear) {
  table.addEventListener('click', (ev) => {
    const row = ev.target.closest(rowSelector);
    if (row) onSelect(row);
  });
  table.addEventListener('focusin', (ev) => {
    const row = ev.target.closest?.(rowSelector);
    if (row) rove(row.parentElement, row);
  });
  table.addEventListener('keydown', (ev) => {
    const row = ev.target.closest?.(rowSelector);
    if (!row || ev.target !== row || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      onSelect(row);
      return;
    }
    if (ev.key === 'Escape' && onClear?.()) {
      ev.preventDefault();
      return;
    }
    const rows = [...row.parentElement.rows];
    const i = rowAfterKey(ev.key, rows.indexOf(row), rows.length);
    if (i < 0) return;
    ev.preventDefault();
    rows[i].focus();
  });
}

// rove leaves one row of a tbody in the Tab order: current, else the one
// that already was (if still there), else the selected one, else the first.
function rove(tbody, current) {
  const rows = [...tbody.rows];
  const keep = current || rows.find((r) => r.tabIndex === 0) || rows.find((r) => r.classList.contains('selected')) || rows[0];
  for (const r of rows) {
    const want = r === keep ? 0 : -1;
    if (r.tabIndex !== want) r.tabIndex = want;
  }
}

// redrawRows makes a tbody's rows those given (in place where they are
// already), keeping the focus on the same row and one row in the Tab order.
function redrawRows(tbody, rowTestID, key, rows) {
  const focused = document.activeElement?.closest?.(`[data-testid="${rowTestID}"]`)?.dataset[key];
  // Rows kept from the last draw stay in place: only what moved is moved.
  rows.forEach((tr, i) => {
    if (tbody.rows[i] !== tr) tbody.insertBefore(tr, tbody.rows[i] || null);
  });
  while (tbody.rows.length > rows.length) tbody.rows[rows.length].remove();
  if (focused && document.activeElement?.closest?.(`[data-testid="${rowTestID}"]`)?.dataset[key] !== focused) {
    [...tbody.rows].find((r) => r.dataset[key] === focused)?.focus({ preventScroll: true });
  }
  rove(tbody, tbody.contains(document.activeElement) ? document.activeElement.closest('tr') : null);
}

function endpointCell(state, id) {
  const n = state.nodesById.get(id);
  const ns = n ? n.namespace : parseNamespaceKey(namespaceKeyOfID(id)).namespace;
  const cluster = clusterOf(id, state.nodesById);
  return h(
    'td',
    { class: 'ep' },
    cluster ? h('span', { class: 'cl-part', dataset: { testid: 'row-cluster' }, text: `${cluster}/` }) : '',
    ns ? h('span', { class: 'ns-part', text: `${ns}/` }) : '',
    h('span', { class: 'name-part', text: nodeName(id, state.nodesById) }),
  );
}

export const PAGE_SIZE = 100;

// pageCount: the pages n rows make (one at least); clampPage keeps a page
// index among them.
export const pageCount = (n) => Math.max(1, Math.ceil(n / PAGE_SIZE));
const clampPage = (page, n) => Math.min(Math.max(page, 0), pageCount(n) - 1);

// createPager wires a pager's buttons (web/page.templ renders it hidden)
// to go(delta), and returns render(page, total): "Rows 101–200 of 5,000".
function createPager(prefix, go) {
  const nav = $(`#${prefix}-pager`);
  $(`#${prefix}-prev`)?.addEventListener('click', () => go(-1));
  $(`#${prefix}-next`)?.addEventListener('click', () => go(1));
  return (page, total) => {
    if (!nav) return;
    nav.hidden = total <= PAGE_SIZE;
    const first = total ? page * PAGE_SIZE + 1 : 0;
    const last = Math.min(total, (page + 1) * PAGE_SIZE);
    const status = $(`#${prefix}-page`);
    if (status) status.textContent = `Rows ${first}–${last} of ${total.toLocaleString('en')} (page ${page + 1} of ${pageCount(total)})`;
    nav.dataset.page = String(page + 1);
    nav.dataset.pages = String(pageCount(total));
    const prev = $(`#${prefix}-prev`);
    const next = $(`#${prefix}-next`);
    if (prev) prev.disabled = page === 0;
    if (next) next.disabled = page >= pageCount(total) - 1;
  };
}

export function createTables(store) {
  const { state } = store;
  let edgePage = 0;
  let rowsCache = [];
  let rowEls = new Map(); // edge id → {key, tr} drawn (rowKey)

  const renderEdgePager = createPager('edge', (delta) => {
    edgePage = clampPage(edgePage + delta, rowsCache.length);
    renderEdges();
  });

  function edgeRows() {
    const byStatus = filterEdges(state.snapshot.edges, state.statusFilter);
    return { byStatus, rows: sortEdges(shownEdges(byStatus, state.showIdle), state.sort.key, state.sort.dir) };
  }

  function renderEdges() {
    const tbody = $('#edge-rows');
    const snapshot = state.snapshot;
    if (!tbody || !snapshot) return;
    const { byStatus, rows } = edgeRows();
    rowsCache = rows;
    edgePage = clampPage(edgePage, rows.length);
    const page = rows.slice(edgePage * PAGE_SIZE, (edgePage + 1) * PAGE_SIZE);
    renderEdgePager(edgePage, rows.length);
    renderEdgeMeta(snapshot, byStatus, rows);
    // A row is built again only when what it says changed: a delta, or the
    // stream's first snapshot (the page's again), leaves most rows as they
    // were, and rebuilding a hundred rows is most of a delta's cost.
    const now = Date.now();
    const kept = rowEls;
    rowEls = new Map();
    redrawRows(
      tbody,
      'edge-row',
      'edgeId',
      page.map((e) => {
        const key = rowKey(e, now);
        const old = kept.get(e.id);
        if (old && old.key === key) {
          old.tr.classList.toggle('selected', store.isSelected('edge', e.id));
          rowEls.set(e.id, old);
          return old.tr;
        }
        const tr = edgeRow(e, now);
        rowEls.set(e.id, { key, tr });
        return tr;
      }),
    );
  }

  // rowKey is everything an edge's row shows (idle rows say how long ago).
  function rowKey(e, now) {
    const seen = isIdle(e) && isTime(e.history?.lastSeen) ? ago(e.history.lastSeen, now) : '';
    const wrong = principalMismatchEdges(state.snapshot.findings).has(e.id);
    return [e.status, e.rate, e.mtlsRatio, e.protocol, e.tlsFailureRate, isIdle(e), seen, wrong, nodeName(e.source, state.nodesById), nodeName(e.target, state.nodesById), crossClusterText(e, state.nodesById), isStale(e)].join('|');
  }

  // edgeRow is an edge's row: its ends, protocol, rate (or when an idle
  // one was last seen), mTLS share and status (marked when a principal on
  // it is not its workload's).
  function edgeRow(e, now) {
    const b = badgeFor(e, state.nodesById);
    const idle = isIdle(e);
    const wrong = principalMismatchEdges(state.snapshot.findings).has(e.id);
    const seen = idle && isTime(e.history?.lastSeen) ? `last seen ${ago(e.history.lastSeen, now)}` : '';
    const cross = crossClusterText(e, state.nodesById);
    const stale = isStale(e);
    const extra = `${cross ? `; ${cross}` : ''}${stale ? "; stale: a cluster's Kubernetes API is not answering" : ''}`;
    return h(
      'tr',
      {
        tabindex: '-1',
        'aria-label': `${nodeName(e.source, state.nodesById)} → ${nodeName(e.target, state.nodesById)}, ${e.protocol}, ${idle ? `idle${seen ? `, ${seen}` : ''}, ` : ''}${statusPhrase(e)}${wrong ? `; ${MISMATCH_LABEL}` : ''}${extra}`,
        dataset: {
          testid: 'edge-row',
          edgeId: e.id,
          status: b.status,
          ...(idle ? { idle: 'true' } : {}),
          ...(wrong ? { principalMismatch: 'true' } : {}),
          ...(cross ? { crossCluster: 'true' } : {}),
          ...(stale ? { stale: 'true' } : {}),
        },
        class: [store.isSelected('edge', e.id) ? 'selected' : '', idle ? 'idle' : '', stale ? 'stale' : ''].filter(Boolean).join(' '),
      },
      endpointCell(state, e.source),
      endpointCell(state, e.target),
      h('td', { text: e.protocol }),
      // Where an idle edge's rate would be (0): when it was last seen.
      idle
        ? h(
            'td',
            { class: 'num', dataset: { testid: 'edge-idle' }, title: seen ? `Last seen ${formatWhen(e.history.lastSeen)}` : undefined },
            h('span', { class: 'tag tag-idle', text: 'idle' }),
            seen ? ` ${seen}` : '',
          )
        : h('td', { class: 'num', text: formatRate(e.rate, e.protocol) }),
      h('td', { class: 'num', text: mtlsText(e) }),
      h(
        'td',
        { class: `status status-${b.status}` },
        icon(b.status),
        ` ${b.status}`,
        wrong ? [' ', h('span', { class: 'tag tag-mismatch', title: MISMATCH_LABEL, dataset: { testid: 'edge-principal-mismatch' }, text: MISMATCH_TAG })] : '',
        cross ? [' ', h('span', { class: 'tag tag-cross', title: cross, dataset: { testid: 'edge-cross-cluster' }, text: cross })] : '',
        stale ? [' ', h('span', { class: 'tag tag-stale', title: "Its cluster's Kubernetes API is not answering: the last good state", dataset: { testid: 'edge-stale' }, text: 'stale' })] : '',
      ),
    );
  }

  function renderEdgeMeta(snapshot, byStatus, rows) {
    $('#edges-count').textContent = rows.length === snapshot.edges.length ? String(rows.length) : `${rows.length} of ${snapshot.edges.length}`;
    const none = $('#edges-none');
    none.hidden = rows.length > 0;
    const hiddenIdle = byStatus.length - shownEdges(byStatus, false).length;
    none.textContent = !snapshot.edges.length
      ? 'No traffic between the services shown.'
      : byStatus.length && hiddenIdle
        ? `No live traffic here: ${hiddenIdle} idle edge${hiddenIdle === 1 ? ' is' : 's are'} hidden ("Show idle callers" shows them).`
        : 'No edge has the statuses picked above.';
    for (const th of document.querySelectorAll('#edge-table th[data-sort-key]')) {
      th.setAttribute('aria-sort', th.dataset.sortKey === state.sort.key ? state.sort.dir : 'none');
    }
    for (const input of document.querySelectorAll('#status-filter input[name="status"]')) {
      input.checked = state.statusFilter.has(input.value);
    }
  }

  let nodePage = 0;
  let nodesDrawn = null; // [nodes, page] drawn
  const nodeCount = () => state.snapshot.nodes.filter((n) => n.kind !== 'unknown' && n.kind !== 'hidden').length;
  const renderNodePager = createPager('node', (delta) => {
    nodePage = clampPage(nodePage + delta, nodeCount());
    renderNodes();
  });
  const nodesBlock = $('#nodes-block');
  nodesBlock?.addEventListener('toggle', () => renderNodes());

  // renderNodes draws the node table's page while it is open (a closed
  // <details> shows nothing of it), again only when the nodes changed.
  function renderNodes() {
    const tbody = $('#node-rows');
    if (!tbody || !state.snapshot) return;
    const all = state.snapshot.nodes.filter((n) => n.kind !== 'unknown' && n.kind !== 'hidden');
    const count = $('#nodes-count');
    if (count) count.textContent = String(all.length);
    nodePage = clampPage(nodePage, all.length);
    renderNodePager(nodePage, all.length);
    if (nodesBlock && !nodesBlock.open) return;
    if (nodesDrawn && nodesDrawn[0] === state.snapshot.nodes && nodesDrawn[1] === nodePage) return;
    nodesDrawn = [state.snapshot.nodes, nodePage];
    const rows = all.slice(nodePage * PAGE_SIZE, (nodePage + 1) * PAGE_SIZE).map(nodeRow);
    redrawRows(
      tbody,
      'node-row',
      'nodeId',
      rows.map((r) =>
        h(
          'tr',
          {
            tabindex: '-1',
            dataset: { testid: 'node-row', nodeId: r.id, kind: r.kind, ...(r.cluster ? { cluster: r.cluster } : {}), ...(r.stale ? { stale: 'true' } : {}) },
            class: [store.isSelected('node', r.id) ? 'selected' : '', r.stale ? 'stale' : ''].filter(Boolean).join(' '),
          },
          h(
            'td',
            { class: 'ep' },
            r.cluster ? h('span', { class: 'cl-part', dataset: { testid: 'row-cluster' }, text: `${r.cluster}/` }) : '',
            r.namespace ? h('span', { class: 'ns-part', text: `${r.namespace}/` }) : '',
            h('span', { class: 'name-part', text: r.name }),
            r.stale ? [' ', h('span', { class: 'tag tag-stale', dataset: { testid: 'node-stale' }, text: 'stale' })] : '',
          ),
          h('td', { text: r.kind }),
          h('td', { dataset: { testid: 'node-dataplane' }, text: r.dataPlane }),
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
    showSelection();
  }

  // showEdgeOnPage turns to the page with the selected edge (selected in
  // the graph or a finding).
  function showEdgeOnPage() {
    const sel = state.selected;
    if (sel?.kind !== 'edge' || !state.snapshot) return;
    const i = rowsCache.findIndex((e) => e.id === sel.id);
    if (i < 0 || Math.floor(i / PAGE_SIZE) === edgePage) return;
    edgePage = Math.floor(i / PAGE_SIZE);
    renderEdges();
  }

  function showSelection() {
    for (const tr of document.querySelectorAll('#edge-rows tr')) tr.classList.toggle('selected', store.isSelected('edge', tr.dataset.edgeId));
    for (const tr of document.querySelectorAll('#node-rows tr')) tr.classList.toggle('selected', store.isSelected('node', tr.dataset.nodeId));
  }

  // Escape on a row clears the side panel (true: there was something to clear).
  const clearSelection = () => {
    if (!state.selected) return false;
    store.select(null);
    return true;
  };
  const edgeTable = $('#edge-table');
  if (edgeTable) {
    edgeTable.addEventListener('click', (ev) => {
      const sortBtn = ev.target.closest('button[data-sort]');
      if (sortBtn) store.sortBy(sortBtn.dataset.sort);
    });
    rowKeys(edgeTable, 'tr[data-edge-id]', (row) => store.select({ kind: 'edge', id: row.dataset.edgeId }, { center: true }), clearSelection);
  }
  const nodeTable = $('#node-table');
  if (nodeTable) rowKeys(nodeTable, 'tr[data-node-id]', (row) => store.select({ kind: 'node', id: row.dataset.nodeId }, { center: true }), clearSelection);
  $('#status-filter')?.addEventListener('change', () => {
    store.setStatusFilter([...document.querySelectorAll('#status-filter input[name="status"]')].filter((i) => i.checked).map((i) => i.value));
  });

  store.subscribe('snapshot', () => {
    renderEdges();
    renderNodes();
  });
  // A new order or filter starts at the first page.
  const fromFirstPage = () => {
    edgePage = 0;
    renderEdges();
  };
  store.subscribe('table', fromFirstPage);
  store.subscribe('idle', fromFirstPage);
  store.subscribe('selection', () => {
    showEdgeOnPage();
    showSelection();
  });
}
