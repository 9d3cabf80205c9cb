// meshlock's store: the one place the page's state lives (the snapshot and
// its indexes, the selection, the table's sort and status filter, whether
// idle edges show, the namespace filter, the connection, the edges an
// enforce plan would cut, the trust inventory of the identity panel)
// and the topics the views subscribe to. No DOM: static/test/state.test.mjs
// runs it under Node.
//
// Topics, each notified after the state changed:
//   snapshot    a new snapshot (from the page or the stream); detail {fresh}:
//               a whole snapshot (not a delta applied)
//   selection   state.selected changed; detail {center}: centre the graph on it
//   table       the sort or the status filter changed
//   idle        showIdle changed (the graph and the table show idle edges or not)
//   namespaces  the namespace filter changed (the stream restarts)
//   clusters    the cluster filter changed (the stream restarts; several
//               clusters only)
//   connection  connected, ready or reconnectAt changed
//   reconnect   someone asked to reconnect now
//   breaks      the edges the open enforce plan would cut changed
//   grouping    state.expanded changed (which namespaces a big mesh draws in
//               full: their keys, "<cluster>/<namespace>" with several clusters)
//   identity    state.identity changed: the identity panel opened or closed
//               (detail {opened} or {closed}), or GET api/identity answered
//   theme       state.theme changed: the viewer's choice or the theme it
//               comes to (the system's preference changed)

import { STATUSES } from './model.mjs';

export function createStore({ namespaces = [], clusters = [] } = {}) {
  const state = {
    snapshot: null, // the current snapshot (normalized)
    nodesById: new Map(),
    edgesById: new Map(),
    namespaces: [...namespaces],
    // The cluster filter (?cluster=a,b), with several clusters only.
    clusters: [...clusters],
    // {kind: 'edge'|'node'|'namespace'|'cluster'|'link'|'finding', id}; a
    // namespace's id is its key (namespaceKey: "<cluster>/<namespace>" with
    // several clusters), a cluster's its name.
    selected: null,
    sort: { key: 'source', dir: 'ascending' },
    statusFilter: new Set(STATUSES),
    // Idle edges (known from the look-back only) are hidden until asked for.
    showIdle: false,
    connected: false,
    ready: false, // a snapshot from the stream has been drawn
    reconnectAt: 0, // when the next attempt is due (0: not waiting)
    reconnects: 0,
    breakEdges: new Set(),
    // A big mesh's graph is collapsed by namespace: expanded holds the keys
    // of the namespaces drawn in full; null when every namespace is (a
    // small mesh).
    expanded: null,
    // The identity panel and what GET api/identity answered (trust.mjs's
    // loader): status idle, loading, ready or error; data the inventory
    // (normalizeIdentity), kept when a later load fails; refresh the
    // refresh it was loaded for (the snapshot's generatedAt and the
    // namespace filter, "<generatedAt>|<a,b>"), at when (ms).
    identity: { open: false, status: 'idle', data: null, error: '', refresh: null, at: 0 },
    // The theme (theme.js): the viewer's choice (system, light or dark) and
    // the theme it comes to, light or dark (the graph's palette follows it).
    theme: { choice: 'system', resolved: 'light' },
    // Measures for the browser tests (window.meshlock): when the page
    // became ready (ms since navigation), how long the last delta took to
    // apply (parse, store and every view's synchronous update), and how
    // many layouts ran.
    readyMs: null,
    lastApplyMs: null,
    layouts: 0,
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

    // setSnapshot: fresh for a whole snapshot, not a delta. Lists a delta
    // left as they were (the same array) keep their index.
    setSnapshot(snapshot, { fresh = false } = {}) {
      const prev = state.snapshot;
      state.snapshot = snapshot;
      if (prev?.nodes !== snapshot.nodes) state.nodesById = new Map(snapshot.nodes.map((n) => [n.id, n]));
      if (prev?.edges !== snapshot.edges) state.edgesById = new Map(snapshot.edges.map((e) => [e.id, e]));
      notify('snapshot', { fresh });
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

    setClusters(list) {
      state.clusters = [...list];
      notify('clusters');
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

    // setExpanded: the namespaces a collapsed graph draws in full (a Set),
    // or null for a graph drawn in full.
    setExpanded(expanded) {
      state.expanded = expanded ? new Set(expanded) : null;
      notify('grouping');
    },

    // toggleNamespace expands a collapsed namespace or collapses an
    // expanded one (open: force either); nothing on a graph drawn in full.
    toggleNamespace(namespace, open = !state.expanded?.has(namespace)) {
      if (!state.expanded || state.expanded.has(namespace) === open) return;
      const next = new Set(state.expanded);
      if (open) next.add(namespace);
      else next.delete(namespace);
      state.expanded = next;
      notify('grouping');
    },

    // setIdentityOpen opens or closes the identity panel.
    setIdentityOpen(open) {
      if (state.identity.open === !!open) return;
      state.identity = { ...state.identity, open: !!open };
      notify('identity', open ? { opened: true } : { closed: true });
    },

    // setIdentity takes what the identity loader says (status, data, error, refresh, at).
    setIdentity(patch) {
      state.identity = { ...state.identity, ...patch };
      notify('identity', {});
    },

    // setTheme takes the viewer's choice and the theme it comes to; the
    // same again notifies nothing.
    setTheme({ choice, resolved }) {
      if (state.theme.choice === choice && state.theme.resolved === resolved) return;
      state.theme = { choice, resolved };
      notify('theme');
    },

    // expandNamespaces expands the given namespaces (to show what is in them).
    expandNamespaces(list) {
      if (!state.expanded || list.every((ns) => state.expanded.has(ns))) return;
      state.expanded = new Set([...state.expanded, ...list]);
      notify('grouping');
    },
  };
}
