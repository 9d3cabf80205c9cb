// meshlock's live stream: a WebSocket to api/stream (relative to the page,
// ws: or wss: as the page) with the namespace and cluster filters; the first message is
// a snapshot, then deltas. On a close it reconnects with backoff (0.5 s
// doubling to 10 s), at once when asked or when the browser is back
// online; a close with 4001 (the token stopped passing) reloads the page.

import { applyDelta, backoffDelay, normalizeSnapshot, streamURL } from './model.mjs';

export function createStream(store) {
  const { state } = store;
  let ws = null;
  let attempt = 0;
  let timer = 0;
  let fromStream = false; // the snapshot shown came from this connection

  function connect() {
    clearTimeout(timer);
    timer = 0;
    let sock;
    try {
      sock = new WebSocket(streamURL(location.href, state.namespaces, state.clusters));
    } catch {
      scheduleReconnect();
      return;
    }
    ws = sock;
    sock.addEventListener('message', (ev) => {
      if (ws !== sock) return;
      const started = performance.now();
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg.type === 'snapshot' && msg.graph) {
        attempt = 0;
        fromStream = true;
        store.setConnection({ connected: true, reconnectAt: 0 });
        store.setSnapshot(normalizeSnapshot(msg.graph), { fresh: true });
        if (!state.ready) {
          // performance.now() counts from the navigation's start.
          state.readyMs = performance.now();
          store.setConnection({ ready: true });
          document.body.dataset.ready = 'true';
        }
      } else if (msg.type === 'delta' && msg.delta && fromStream && state.snapshot) {
        store.setSnapshot(applyDelta(state.snapshot, msg.delta));
        // Every view updates synchronously: this is the delta's whole cost
        // but the canvas' repaint, which Cytoscape does at the next frame.
        state.lastApplyMs = performance.now() - started;
      }
    });
    sock.addEventListener('close', (ev) => {
      if (ws !== sock) return;
      // 4001: the token stopped passing (token mode). Reloading lets the
      // server answer its sign-in explanation, or the page for a fresh token.
      if (ev.code === 4001) {
        location.reload();
        return;
      }
      ws = null;
      fromStream = false;
      store.setConnection({ connected: false });
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    const delay = backoffDelay(attempt++);
    clearTimeout(timer);
    timer = setTimeout(connect, delay);
    store.setConnection({ reconnects: state.reconnects + 1, reconnectAt: Date.now() + delay });
  }

  function reconnectNow() {
    if (ws) return;
    store.setConnection({ reconnectAt: Date.now() });
    connect();
  }

  // restart reconnects at once with the current filter (after a change).
  function restart() {
    const old = ws;
    ws = null;
    if (old) old.close(1000, 'filter changed');
    fromStream = false;
    attempt = 0;
    state.connected = false;
    connect();
  }

  store.subscribe('namespaces', restart);
  store.subscribe('clusters', restart);
  store.subscribe('reconnect', reconnectNow);
  window.addEventListener('online', reconnectNow);
  return { connect };
}
