// Unit tests of the page's store (static/state.mjs): what each action
// changes and which topic it notifies. node --test static/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { base } from './fixtures.mjs';
import { STATUSES } from '../model.mjs';
import { createStore } from '../state.mjs';

// record subscribes to every topic and lists what was notified.
function record(store) {
  const seen = [];
  for (const topic of ['snapshot', 'selection', 'table', 'idle', 'namespaces', 'connection', 'reconnect', 'breaks']) {
    store.subscribe(topic, (_, detail) => seen.push([topic, detail]));
  }
  return seen;
}

test('setSnapshot indexes nodes and edges and notifies snapshot', () => {
  const store = createStore();
  const seen = record(store);
  store.setSnapshot(base());
  assert.deepEqual(seen.map(([t]) => t), ['snapshot']);
  assert.equal(store.state.nodesById.get('default/ratings').peerAuthentication, 'STRICT');
  assert.equal(store.state.edgesById.get('unknown->default/ratings:http').status, 'open');
  assert.deepEqual(seen[0][1], { fresh: false });
});

test('setSnapshot says a whole snapshot from a delta, and keeps the index of a list a delta left', () => {
  const store = createStore();
  const seen = record(store);
  const s = base();
  store.setSnapshot(s, { fresh: true });
  const nodesIndex = store.state.nodesById;
  const edgesIndex = store.state.edgesById;
  store.setSnapshot({ ...s, edges: [...s.edges] });
  assert.equal(store.state.nodesById, nodesIndex);
  assert.notEqual(store.state.edgesById, edgesIndex);
  assert.deepEqual(seen.map(([, d]) => d.fresh), [true, false]);
});

test('select keeps a copy of the target and passes center on', () => {
  const store = createStore();
  const seen = record(store);
  const target = { kind: 'edge', id: 'a->b:http', extra: 1 };
  store.select(target, { center: true });
  assert.deepEqual(store.state.selected, { kind: 'edge', id: 'a->b:http' });
  assert.equal(store.isSelected('edge', 'a->b:http'), true);
  assert.equal(store.isSelected('node', 'a->b:http'), false);
  store.select(null);
  assert.equal(store.state.selected, null);
  assert.deepEqual(seen, [
    ['selection', { center: true }],
    ['selection', { center: false }],
  ]);
});

test('the sort turns round on the same column; rate starts descending', () => {
  const store = createStore();
  assert.deepEqual(store.state.sort, { key: 'source', dir: 'ascending' });
  store.sortBy('source');
  assert.deepEqual(store.state.sort, { key: 'source', dir: 'descending' });
  store.sortBy('rate');
  assert.deepEqual(store.state.sort, { key: 'rate', dir: 'descending' });
  store.sortBy('status');
  assert.deepEqual(store.state.sort, { key: 'status', dir: 'ascending' });
});

test('the status filter: a set, one status only, and back to all', () => {
  const store = createStore();
  const seen = record(store);
  assert.deepEqual([...store.state.statusFilter], STATUSES);
  store.onlyStatus('open');
  assert.deepEqual([...store.state.statusFilter], ['open']);
  store.onlyStatus('open');
  assert.deepEqual([...store.state.statusFilter], STATUSES);
  store.setStatusFilter(['locked', 'mixed']);
  assert.deepEqual([...store.state.statusFilter], ['locked', 'mixed']);
  assert.deepEqual(seen.map(([t]) => t), ['table', 'table', 'table']);
});

test('idle edges are hidden until asked for; the toggle notifies idle once per change', () => {
  const store = createStore();
  const seen = record(store);
  assert.equal(store.state.showIdle, false);
  store.setShowIdle(true);
  store.setShowIdle(true);
  assert.equal(store.state.showIdle, true);
  store.setShowIdle(false);
  assert.deepEqual(seen.map(([t]) => t), ['idle', 'idle']);
});

test('namespaces, connection, reconnect and breaks each notify their topic', () => {
  const store = createStore({ namespaces: ['default'] });
  assert.deepEqual(store.state.namespaces, ['default']);
  const seen = record(store);
  store.setNamespaces(['a', 'b']);
  store.setConnection({ connected: true, reconnectAt: 0 });
  store.requestReconnect();
  store.setBreaks(['unknown->default/ratings:http']);
  assert.deepEqual(seen.map(([t]) => t), ['namespaces', 'connection', 'reconnect', 'breaks']);
  assert.deepEqual(store.state.namespaces, ['a', 'b']);
  assert.equal(store.state.connected, true);
  assert.equal(store.state.breakEdges.has('unknown->default/ratings:http'), true);
});

test('subscribers run in the order they subscribed, and may leave', () => {
  const store = createStore();
  const order = [];
  store.subscribe('snapshot', () => order.push('header'));
  const leave = store.subscribe('snapshot', () => order.push('graph'));
  store.subscribe('snapshot', () => order.push('table'));
  store.setSnapshot(base());
  leave();
  store.setSnapshot(base());
  assert.deepEqual(order, ['header', 'graph', 'table', 'header', 'table']);
});

test('setTheme keeps the choice and the theme it comes to, and notifies theme on a change only', () => {
  const store = createStore();
  const seen = [];
  store.subscribe('theme', (state) => seen.push({ ...state.theme }));
  assert.deepEqual(store.state.theme, { choice: 'system', resolved: 'light' });
  store.setTheme({ choice: 'system', resolved: 'light' });
  store.setTheme({ choice: 'system', resolved: 'dark' }); // the system's preference changed
  store.setTheme({ choice: 'light', resolved: 'light' });
  store.setTheme({ choice: 'light', resolved: 'light' });
  assert.deepEqual(seen, [
    { choice: 'system', resolved: 'dark' },
    { choice: 'light', resolved: 'light' },
  ]);
});
