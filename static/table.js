// meshlock's tables: the edge table (sortable by each column, filtered by
// status, idle rows only with the idle toggle, rows selectable by click,
// Enter or Space, arrows between rows)
// and the node table (each service and workload's policy and ports), both
// drawn from the store's snapshot into the tbodies web/page.templ renders.

import { $, h, icon } from './dom.js';
import { ago, badgeFor, formatRate, formatWhen, isTime, mtlsText, nodeName, nodeRow, statusPhrase } from './format.mjs';
import { filterEdges, isIdle, shownEdges, sortEdges } from './model.mjs';

// rowKeys makes a table's rows work from the keyboard: Enter or Space
// selects, the arrows move between rows.
function rowKeys(table, rowSelector, onSelect) {
  table.addEventListener('click', (ev) => {
    const row = ev.target.closest(rowSelector);
    if (row) onSelect(row);
  });
  table.addEventListener('keydown', (ev) => {
    const row = ev.target.closest?.(rowSelector);
    if (!row) return;
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      onSelect(row);
    } else if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      (ev.key === 'ArrowDown' ? row.nextElementSibling : row.previousElementSibling)?.focus();
    }
  });
}

// redrawRows replaces a tbody's rows, keeping the focus on the same row.
function redrawRows(tbody, rowTestID, key, rows) {
  const focused = document.activeElement?.closest?.(`[data-testid="${rowTestID}"]`)?.dataset[key];
  tbody.replaceChildren(...rows);
  if (focused) [...tbody.rows].find((r) => r.dataset[key] === focused)?.focus({ preventScroll: true });
}

function endpointCell(state, id) {
  const n = state.nodesById.get(id);
  const ns = n ? n.namespace : id.includes('/') ? id.slice(0, id.indexOf('/')) : '';
  return h('td', { class: 'ep' }, ns ? h('span', { class: 'ns-part', text: `${ns}/` }) : '', h('span', { class: 'name-part', text: nodeName(id, state.nodesById) }));
}

export function createTables(store) {
  const { state } = store;

  function renderEdges() {
    const tbody = $('#edge-rows');
    const snapshot = state.snapshot;
    if (!tbody || !snapshot) return;
    const byStatus = filterEdges(snapshot.edges, state.statusFilter);
    const rows = sortEdges(shownEdges(byStatus, state.showIdle), state.sort.key, state.sort.dir);
    const now = Date.now();
    redrawRows(
      tbody,
      'edge-row',
      'edgeId',
      rows.map((e) => {
        const b = badgeFor(e, state.nodesById);
        const idle = isIdle(e);
        const seen = idle && isTime(e.history?.lastSeen) ? `last seen ${ago(e.history.lastSeen, now)}` : '';
        return h(
          'tr',
          {
            tabindex: '0',
            'aria-label': `${nodeName(e.source, state.nodesById)} → ${nodeName(e.target, state.nodesById)}, ${e.protocol}, ${idle ? `idle${seen ? `, ${seen}` : ''}, ` : ''}${statusPhrase(e)}`,
            dataset: { testid: 'edge-row', edgeId: e.id, status: b.status, ...(idle ? { idle: 'true' } : {}) },
            class: [store.isSelected('edge', e.id) ? 'selected' : '', idle ? 'idle' : ''].filter(Boolean).join(' '),
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
          h('td', { class: `status status-${b.status}` }, icon(b.status), ` ${b.status}`),
        );
      }),
    );
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

  function renderNodes() {
    const tbody = $('#node-rows');
    if (!tbody) return;
    const rows = state.snapshot.nodes.filter((n) => n.kind !== 'unknown' && n.kind !== 'hidden').map(nodeRow);
    redrawRows(
      tbody,
      'node-row',
      'nodeId',
      rows.map((r) =>
        h(
          'tr',
          {
            tabindex: '0',
            dataset: { testid: 'node-row', nodeId: r.id, kind: r.kind },
            class: store.isSelected('node', r.id) ? 'selected' : '',
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
    const count = $('#nodes-count');
    if (count) count.textContent = String(rows.length);
  }

  function showSelection() {
    for (const tr of document.querySelectorAll('#edge-rows tr')) tr.classList.toggle('selected', store.isSelected('edge', tr.dataset.edgeId));
    for (const tr of document.querySelectorAll('#node-rows tr')) tr.classList.toggle('selected', store.isSelected('node', tr.dataset.nodeId));
  }

  const edgeTable = $('#edge-table');
  if (edgeTable) {
    edgeTable.addEventListener('click', (ev) => {
      const sortBtn = ev.target.closest('button[data-sort]');
      if (sortBtn) store.sortBy(sortBtn.dataset.sort);
    });
    rowKeys(edgeTable, 'tr[data-edge-id]', (row) => store.select({ kind: 'edge', id: row.dataset.edgeId }, { center: true }));
  }
  const nodeTable = $('#node-table');
  if (nodeTable) rowKeys(nodeTable, 'tr[data-node-id]', (row) => store.select({ kind: 'node', id: row.dataset.nodeId }, { center: true }));
  $('#status-filter')?.addEventListener('change', () => {
    store.setStatusFilter([...document.querySelectorAll('#status-filter input[name="status"]')].filter((i) => i.checked).map((i) => i.value));
  });

  store.subscribe('snapshot', () => {
    renderEdges();
    renderNodes();
  });
  store.subscribe('table', renderEdges);
  store.subscribe('idle', renderEdges);
  store.subscribe('selection', showSelection);
}
