// meshlock's store: the one place the page's state lives (the snapshot and
// its indexes, the selection, the table's sort and status filter, whether
// idle edges show, the namespace filter, the connection, the edges an
// enforce plan would cut)
// and the topics the views subscribe to. No DOM: static/test/state.test.mjs
// runs it under Node.
//
// Topics, each notified after the state changed:
//   snapshot    a new snapshot (from the page or the stream)
//   selection   state.selected changed; detail {center}: centre the graph on it
//   table       the sort or the status filter changed
//   idle        showIdle changed (the graph and the table show idle edges or not)
//   namespaces  the namespace filter changed (the stream restarts)
//   connection  connected, ready or reconnectAt changed
//   reconnect   someone asked to reconnect now
//   breaks      the edges the open enforce plan would cut changed

import { STATUSES } from './model.mjs';

export function createStore({ namespaces = [] } = {}) {
  const state = {
    snapshot: null, // the current snapshot (normalized)
    nodesById: new Map(),
    edgesById: new Map(),
    namespaces: [...namespaces],
    selected: null, // {kind: 'edge'|'node'|'namespace'|'finding', id}
    sort: { key: 'source', dir: 'ascending' },
    statusFilter: new Set(STATUSES),
    // Idle edges (known from the look-back only) are hidden until asked for.
    showIdle: false,
    connected: false,
    ready: false, // a snapshot from the stream has been drawn
    reconnectAt: 0, // when the next attempt is due (0: not waiting)
    reconnects: 0,
    breakEdges: new Set(),
  };
  const subscribers = new Map(); // topic → Set of functions

  function subscribe(topic, fn) {
    if (!subscribers.has(topic)) subscribers.set(topic, new Set());
    subscribers.get(topic).add(fn);
    return () => subscribers.get(topic).delete(fn);
  }

  function notify(topic, detail = {}) {
    for (const fn of [...(subscribers.get(topic) || [])]) fn(state, detail);
  }

  return {
    state,
    subscribe,
    notify,

    setSnapshot(snapshot) {
      state.snapshot = snapshot;
      state.nodesById = new Map(snapshot.nodes.map((n) => [n.id, n]));
      state.edgesById = new Map(snapshot.edges.map((e) => [e.id, e]));
      notify('snapshot');
    },

    // select shows an edge, a node, a namespace or a finding (null: none);
    // center asks the graph to centre on it.
    select(target, { center = false } = {}) {
      state.selected = target ? { kind: target.kind, id: target.id } : null;
      notify('selection', { center });
    },

    isSelected(kind, id) {
      return state.selected?.kind === kind && state.selected.id === id;
    },

    // sortBy sorts the table by a column: again on the same column turns
    // the order round; a new column starts ascending (rate: descending).
    sortBy(key) {
      state.sort =
        state.sort.key === key
          ? { key, dir: state.sort.dir === 'ascending' ? 'descending' : 'ascending' }
          : { key, dir: key === 'rate' ? 'descending' : 'ascending' };
      notify('table');
    },

    setStatusFilter(statuses) {
      state.statusFilter = new Set(statuses);
      notify('table');
    },

    // onlyStatus shows only one status, or all again when it already was so.
    onlyStatus(status) {
      const only = state.statusFilter.size === 1 && state.statusFilter.has(status);
      state.statusFilter = only ? new Set(STATUSES) : new Set([status]);
      notify('table');
    },

    setShowIdle(on) {
      if (state.showIdle === !!on) return;
      state.showIdle = !!on;
      notify('idle');
    },

    setNamespaces(list) {
      state.namespaces = [...list];
      notify('namespaces');
    },

    setConnection(patch) {
      Object.assign(state, patch);
      notify('connection');
    },

    requestReconnect() {
      notify('reconnect');
    },

    setBreaks(ids) {
      state.breakEdges = new Set(ids);
      notify('breaks');
    },
  };
}
