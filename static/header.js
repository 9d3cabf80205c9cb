// meshlock's header: the mTLS shares and the counts of the server's
// posture, the data's time and freshness, the look-back's state, the
// banners (stale data, a cluster's Kubernetes API not answering, a lost
// stream), the empty-graph message, the namespace selector and, with
// several clusters only, the cluster selector (?cluster=a,b) and each
// cluster's source state, drawn into the skeleton web/page.templ renders.

import { $, h } from './dom.js';
import { clusterStaleText, sourceView } from './cluster-words.mjs';
import { emptyMessage, formatFreshness, hasTime, lookbackView, postureView, SHARE_SEPARATOR } from './format.mjs';
import { STATUSES, clustersOf, isMultiCluster, namespaceClusters, namespacesOf, staleClusters, withClusters, withNamespaces } from './model.mjs';

// One formatter for the data's time (toLocaleTimeString makes one per call).
const timeFormat = new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export function createHeader(store) {
  const { state } = store;
  // The selector lists what the page was rendered with plus any namespace
  // seen since (with no filter, the stream shows them all).
  const knownNamespaces = new Set([...($('#namespace-select')?.options || [])].map((o) => o.value));

  function render() {
    const snapshot = state.snapshot;
    // The server computed the posture (graph.ComputePosture): it is only worded here.
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
        time.textContent = timeFormat.format(d);
        time.title = `${d.toString()} (window ${snapshot.window})`;
      } else {
        time.dateTime = '';
        time.textContent = 'no data yet';
      }
    }
    tickFreshness();
    renderLookback();
    renderBanners();
    renderNamespaceOptions();
    renderClusterOptions();
    renderSources();
    renderLegend();
    renderEmpty();
  }

  // The legend's marks of several clusters show only with several clusters.
  function renderLegend() {
    const multi = isMultiCluster(state.snapshot);
    for (const li of document.querySelectorAll('.legend .legend-cluster')) li.hidden = !multi;
  }

  // renderSources lists each input's state beside the data's time, with
  // several clusters only: Prometheus, and each cluster's Kubernetes API.
  function renderSources() {
    const el = $('[data-testid="source-status"]');
    if (!el) return;
    const s = state.snapshot;
    const list = isMultiCluster(s) ? s.sources || [] : [];
    el.hidden = list.length === 0;
    const views = list.map((src) => ({ src, v: sourceView(src) }));
    const key = views.map(({ v }) => `${v.state}|${v.text}|${v.title}`).join('\n');
    if (el.dataset.key === key) return;
    el.dataset.key = key;
    el.replaceChildren(
      h('span', { class: 'sr-only', text: 'Sources: ' }),
      ...views.map(({ src, v }, i) =>
        h(
          'span',
          { class: `source source-${v.state}`, title: v.title, dataset: { testid: 'source', source: src.name, state: v.state, ...(src.cluster ? { cluster: src.cluster } : {}) } },
          i ? h('span', { class: 'source-sep', 'aria-hidden': 'true', text: ' · ' }) : '',
          v.state === 'down' ? h('span', { class: 'source-warn', 'aria-hidden': 'true', text: '⚠ ' }) : '',
          v.text,
        ),
      ),
    );
  }

  // renderLookback: "Look-back 7d", "Look-back loading (since …)…" or off;
  // the period covered and any error in its title, the error also in words
  // for screen readers behind a ⚠.
  function renderLookback() {
    const el = $('[data-testid="lookback"]');
    if (!el) return;
    const v = lookbackView(state.snapshot.lookback);
    const error = state.snapshot.lookback?.error || '';
    el.hidden = v.hidden;
    el.dataset.state = v.state;
    el.title = v.title;
    el.classList.toggle('warn', v.warn);
    if (el.dataset.text === v.text && el.dataset.error === error) return;
    el.dataset.text = v.text;
    el.dataset.error = error;
    el.replaceChildren(
      v.text,
      v.warn ? h('span', { class: 'lookback-warn', 'aria-hidden': 'true', text: ' ⚠' }) : '',
      v.warn ? h('span', { class: 'sr-only', text: ` (look-back error: ${error})` }) : '',
    );
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
    // Some clusters' Kubernetes APIs not answering (the snapshot is not
    // stale as a whole): their part of the graph is the last good one.
    let part = $('[data-testid="cluster-stale-banner"]', box);
    const down = s && !s.stale ? staleClusters(s) : [];
    if (down.length) {
      const text = down.map((c) => clusterStaleText(c, s)).join('; ');
      if (!part) {
        part = h('div', { class: 'banner banner-stale banner-clusters', role: 'status', dataset: { testid: 'cluster-stale-banner' } });
        box.prepend(part);
      }
      if (part.dataset.text !== text) {
        part.dataset.text = text;
        part.dataset.clusters = down.join(',');
        part.replaceChildren(
          h('strong', { text: down.length === 1 ? 'A cluster is not answering:' : 'Clusters not answering:' }),
          ' ',
          h('span', { class: 'reason', text }),
          `. ${down.length === 1 ? 'Its' : 'Their'} part of the graph is the last good one, drawn faded.`,
        );
      }
    } else if (part) {
      part.remove();
    }
    let disc = $('[data-testid="disconnected-banner"]', box);
    const lost = !state.connected && state.reconnectAt > 0;
    if (lost) {
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
          h('button', { type: 'button', class: 'tool', text: 'Reconnect now', onclick: () => store.requestReconnect() }),
        );
        box.append(disc);
      }
      $('.msg', disc).textContent = msg;
    } else if (disc) {
      disc.remove();
    }
    const conn = $('#conn');
    if (conn) {
      const st = state.connected ? 'live' : lost ? 'down' : 'connecting';
      conn.dataset.state = st;
      conn.textContent = st === 'live' ? 'live' : st === 'down' ? 'reconnecting…' : 'connecting…';
    }
  }

  function renderEmpty() {
    const wrap = $('.graph-wrap');
    let el = $('[data-testid="empty-message"]');
    if (state.snapshot.nodes.length === 0) {
      if (!el) {
        el = h('p', { class: 'empty', id: 'empty-message', dataset: { testid: 'empty-message' } });
        wrap?.append(el);
      }
      el.textContent = emptyMessage(state.namespaces, state.snapshot);
    } else if (el) {
      el.remove();
    }
  }

  function renderNamespaceOptions() {
    const select = $('#namespace-select');
    if (!select) return;
    let added = false;
    for (const ns of [...namespacesOf(state.snapshot || { nodes: [] }), ...state.namespaces]) {
      if (!knownNamespaces.has(ns)) {
        knownNamespaces.add(ns);
        added = true;
      }
    }
    if (added) {
      const names = [...knownNamespaces].sort();
      select.replaceChildren(...names.map((ns) => h('option', { value: ns, text: ns })));
      select.size = Math.min(Math.max(names.length, 2), 3);
    }
    for (const opt of select.options) opt.selected = state.namespaces.includes(opt.value);
    // With several clusters the filter still names namespaces (in every
    // cluster): each option says which clusters have it.
    if (state.snapshot && isMultiCluster(state.snapshot)) {
      const where = namespaceClusters(state.snapshot);
      for (const opt of select.options) {
        const clusters = where.get(opt.value) || [];
        const text = clusters.length ? `${opt.value} (${clusters.join(', ')})` : opt.value;
        if (opt.textContent !== text) opt.textContent = text;
        opt.title = clusters.length ? `Namespace ${opt.value} in cluster${clusters.length === 1 ? '' : 's'} ${clusters.join(', ')}` : '';
      }
    }
    const summary = $('#ns-summary');
    if (summary) {
      const n = state.namespaces;
      summary.textContent = n.length === 0 ? 'all' : n.length === 1 ? n[0] : `${n[0]} +${n.length - 1}`;
    }
  }

  // renderClusterOptions: the cluster selector, shown with several clusters
  // only (the snapshot names them), its options the configured clusters.
  function renderClusterOptions() {
    const form = $('#cluster-form');
    const select = $('#cluster-select');
    if (!form || !select) return;
    const s = state.snapshot;
    const names = [...new Set([...(s ? clustersOf(s) : []), ...state.clusters])].sort();
    form.hidden = !(s && isMultiCluster(s)) || names.length < 2;
    if ([...select.options].map((o) => o.value).join('\n') !== names.join('\n')) {
      select.replaceChildren(...names.map((c) => h('option', { value: c, text: c })));
      select.size = Math.min(Math.max(names.length, 2), 3);
    }
    const down = new Set(s ? staleClusters(s) : []);
    for (const opt of select.options) {
      opt.selected = state.clusters.includes(opt.value);
      const text = down.has(opt.value) ? `${opt.value} (API not answering)` : opt.value;
      if (opt.textContent !== text) opt.textContent = text;
    }
    const summary = $('#cluster-summary');
    if (summary) {
      const c = state.clusters;
      summary.textContent = c.length === 0 ? 'all' : c.length === 1 ? c[0] : `${c[0]} +${c.length - 1}`;
    }
  }

  // The count chips filter the table to their status (and press again for all).
  function renderChipsPressed() {
    for (const s of STATUSES) {
      const chip = $(`[data-testid="count-${s}"]`);
      chip?.setAttribute('aria-pressed', String(state.statusFilter.size === 1 && state.statusFilter.has(s)));
    }
  }

  // initFilter wires a multiple select (namespaces, clusters): a plain
  // click toggles one option, as a list of checkboxes would, and a change
  // applies at once, kept in the page's URL.
  function initFilter({ form, select, all, applyButton, apply }) {
    if (!form || !select) return;
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
    all?.addEventListener('click', (ev) => {
      ev.preventDefault();
      apply([]);
    });
    if (applyButton) applyButton.hidden = true; // changes apply at once
  }

  function initNamespaces() {
    initFilter({
      form: $('#ns-form'), select: $('#namespace-select'), all: $('#ns-all'), applyButton: $('#ns-apply'),
      apply: (namespaces) => {
        history.replaceState(history.state, '', `${location.pathname}${withNamespaces(location.search, namespaces)}${location.hash}`);
        store.setNamespaces(namespaces);
      },
    });
  }

  // initClusters: ?cluster=a,b, as the namespaces' ?namespace=.
  function initClusters() {
    initFilter({
      form: $('#cluster-form'), select: $('#cluster-select'), all: $('#cluster-all'), applyButton: $('#cluster-apply'),
      apply: (clusters) => {
        history.replaceState(history.state, '', `${location.pathname}${withClusters(location.search, clusters)}${location.hash}`);
        store.setClusters(clusters);
      },
    });
  }

  initNamespaces();
  initClusters();
  for (const s of STATUSES) $(`[data-testid="count-${s}"]`)?.addEventListener('click', () => store.onlyStatus(s));
  store.subscribe('snapshot', render);
  store.subscribe('connection', renderBanners);
  store.subscribe('namespaces', renderNamespaceOptions);
  store.subscribe('clusters', renderClusterOptions);
  store.subscribe('table', renderChipsPressed);
  setInterval(() => {
    tickFreshness();
    if (!state.connected && state.reconnectAt) renderBanners();
  }, 1000);
  renderChipsPressed();
}
