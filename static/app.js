// meshlock dashboard, the page's entry module: creates the store, wires the
// views to it (each its own module under static/), draws the snapshot the
// server put in #initial-snapshot (a small mesh's) and follows the stream. The server only
// renders the shell (web/page.templ); everything else is drawn from the
// snapshot. No inline script or style (a strict CSP applies).

import { createActivity } from './activity.js';
import { createAPI } from './api.mjs';
import { createEnforce } from './enforce.js';
import { createFindings } from './findings.js';
import { createGraphView } from './graph-view.js';
import { createHeader } from './header.js';
import { createIdentity } from './identity.js';
import { filterQuery, normalizeSnapshot, parseClusters, parseNamespaces } from './model.mjs';
import { createPanel } from './panel.js';
import { createReport } from './report.js';
import { createStore } from './state.mjs';
import { createStream } from './stream.js';
import { createTables } from './table.js';
import { createTheme } from './theme.js';

const store = createStore({ namespaces: parseNamespaces(location.search), clusters: parseClusters(location.search) });
const { state } = store;

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
      return state.reconnects;
    },
    get selected() {
      return state.selected ? { ...state.selected } : null;
    },
    get showIdle() {
      return state.showIdle;
    },
    // The cluster filter (?cluster=a,b; several clusters only).
    get clusters() {
      return [...state.clusters];
    },
    // ms from the navigation's start to ready; the last delta's apply time.
    get readyMs() {
      return state.readyMs;
    },
    get lastApplyMs() {
      return state.lastApplyMs;
    },
    // Layouts run (whole graph or a namespace's services): a delta runs none.
    get layouts() {
      return state.layouts;
    },
    // The namespaces drawn in full when the graph is collapsed (their keys:
    // "<cluster>/<namespace>" with several clusters); null when everything
    // is drawn (a small mesh).
    get expanded() {
      return state.expanded ? [...state.expanded].sort() : null;
    },
    // The identity panel: open or not, the state of GET api/identity and
    // the refresh its answer is of ("<generatedAt>|<namespace filter>").
    get identity() {
      const { open, status, error, refresh } = state.identity;
      return { open, status, error, refresh };
    },
    // The theme: the viewer's choice (system, light, dark) and what it comes to.
    get theme() {
      return { ...state.theme };
    },
  }),
  configurable: false,
  writable: false,
});

// The views subscribe in the order they draw a snapshot; the theme comes
// first, so that the graph is drawn in its colours from the start.
const request = createAPI({ base: document.baseURI });
createTheme(store);
createHeader(store);
const graph = createGraphView(store);
createFindings(store);
createTables(store);
createPanel(store, { request });
createIdentity(store, { request });
const activity = createActivity({ request });
createEnforce(store, { request, graph, activity });
createReport();
const stream = createStream(store);

// The stream connects first: the server prepares its snapshot while the
// page draws the one it came with (its messages wait for that to finish).
stream.connect();
const initial = document.getElementById('initial-snapshot');
if (initial) {
  try {
    store.setSnapshot(normalizeSnapshot(JSON.parse(initial.textContent)), { fresh: true });
  } catch {
    /* the stream's snapshot follows */
  }
} else {
  // A big mesh's page carries no snapshot (web/page.go): the stream's first
  // message is it. Should the stream fail before that (a proxy without
  // WebSocket), the page asks api/graph once, as it would have come.
  const off = store.subscribe('connection', () => {
    if (!state.snapshot && (state.connected || !state.reconnectAt)) return; // still connecting
    off();
    if (state.snapshot) return;
    request(`api/graph${filterQuery(state.namespaces, state.clusters)}`)
      .then((res) => {
        if (res.ok && !state.snapshot) store.setSnapshot(normalizeSnapshot(res.body), { fresh: true });
      })
      .catch(() => {
        /* the stream keeps trying */
      });
  });
}
