// meshlock's header: the mTLS shares and the counts of the server's
// posture, the data's time and freshness, the look-back's state, the
// banners (stale data, a lost stream), the empty-graph message and the
// namespace selector, drawn into the skeleton web/page.templ renders.

import { $, h } from './dom.js';
import { emptyMessage, formatFreshness, hasTime, lookbackView, postureView, SHARE_SEPARATOR } from './format.mjs';
import { STATUSES, namespacesOf, withNamespaces } from './model.mjs';

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
    renderEmpty();
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
      const st = state.connected ? 'live' : down ? 'down' : 'connecting';
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
    const summary = $('#ns-summary');
    if (summary) {
      const n = state.namespaces;
      summary.textContent = n.length === 0 ? 'all' : n.length === 1 ? n[0] : `${n[0]} +${n.length - 1}`;
    }
  }

  // The count chips filter the table to their status (and press again for all).
  function renderChipsPressed() {
    for (const s of STATUSES) {
      const chip = $(`[data-testid="count-${s}"]`);
      chip?.setAttribute('aria-pressed', String(state.statusFilter.size === 1 && state.statusFilter.has(s)));
    }
  }

  function initNamespaces() {
    const form = $('#ns-form');
    const select = $('#namespace-select');
    if (!form || !select) return;
    const apply = (namespaces) => {
      history.replaceState(history.state, '', `${location.pathname}${withNamespaces(location.search, namespaces)}${location.hash}`);
      store.setNamespaces(namespaces);
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

  initNamespaces();
  for (const s of STATUSES) $(`[data-testid="count-${s}"]`)?.addEventListener('click', () => store.onlyStatus(s));
  store.subscribe('snapshot', render);
  store.subscribe('connection', renderBanners);
  store.subscribe('namespaces', renderNamespaceOptions);
  store.subscribe('table', renderChipsPressed);
  setInterval(() => {
    tickFreshness();
    if (!state.connected && state.reconnectAt) renderBanners();
  }, 1000);
  renderChipsPressed();
}
