// meshlock's edge history in the side panel: GET api/history?edge=<id>
// when an edge's panel opens, drawn as a small inline SVG from
// chart.mjs's model. The panel is redrawn with every snapshot and reuses
// this one element, so the history is asked for again only for another
// edge, or when the person presses its refresh button.

import { errorText, unreachableText } from './api.mjs';
import { chartModel } from './chart.mjs';
import { h } from './dom.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

// svg builds an SVG element (h builds HTML ones).
function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === '') continue;
    if (k === 'text') el.textContent = v;
    else el.setAttribute(k, String(v));
  }
  el.append(...children);
  return el;
}

// chartElement draws the model: the grid, the rate's area and line (left
// axis), the mTLS share's line (right axis, 0–100 %) and the labels.
function chartElement(m) {
  const { x0, x1, y0, y1 } = m.plot;
  return svg(
    'svg',
    {
      class: 'history-chart',
      viewBox: `0 0 ${m.width} ${m.height}`,
      role: 'img',
      'aria-label': m.summary,
      'data-testid': 'edge-history-chart',
      'data-max-rate': m.maxRate,
      'data-min-share': m.minShare ?? '',
    },
    svg('line', { class: 'h-grid', x1: x0, x2: x1, y1: y0, y2: y0 }),
    svg('line', { class: 'h-grid h-grid-mid', x1: x0, x2: x1, y1: m.midY, y2: m.midY }),
    svg('line', { class: 'h-axis', x1: x0, x2: x1, y1: y1, y2: y1 }),
    svg('line', { class: 'h-axis h-axis-share', x1: x1, x2: x1, y1: y0, y2: y1 }),
    svg('path', { class: 'h-area', d: m.rateArea }),
    svg('path', { class: 'h-rate', d: m.rateLine }),
    svg('path', { class: 'h-mtls', d: m.mtlsLine }),
    svg('text', { class: 'h-label h-max', x: x0, y: y0 - 4, text: m.labels.max }),
    svg('text', { class: 'h-label h-share', x: x1 + 3, y: y0 + 3, text: m.labels.shareTop }),
    svg('text', { class: 'h-label h-share', x: x1 + 3, y: y1 + 3, text: m.labels.shareBottom }),
    svg('text', { class: 'h-label', x: x0, y: m.height - 4, text: m.labels.from }),
    svg('text', { class: 'h-label', x: x1, y: m.height - 4, 'text-anchor': 'end', text: m.labels.to }),
  );
}

// createHistory returns element(edgeId, {title}): the history block of an
// edge, loading it when edgeId is not the last one asked for.
export function createHistory({ request }) {
  const cur = { edgeId: '', seq: 0, controller: null, state: 'idle', answer: null, error: '' };
  const title = h('h3', { id: 'edge-history-title', text: 'Over the look-back' });
  const body = h('div', { class: 'history-body' });
  const refresh = h('button', {
    type: 'button',
    class: 'tool tool-small',
    title: 'Ask the server for this edge’s history again',
    'aria-label': 'Refresh the history of this edge',
    dataset: { testid: 'edge-history-refresh', focusKey: 'edge-history-refresh' },
    text: '↻ refresh',
    onclick: () => load(cur.edgeId),
  });
  const root = h(
    'section',
    { class: 'edge-history', 'aria-labelledby': 'edge-history-title', 'aria-busy': 'false', dataset: { testid: 'edge-history', state: 'idle' } },
    h('div', { class: 'history-head' }, title, refresh),
    body,
  );

  async function load(edgeId) {
    const seq = ++cur.seq;
    cur.controller?.abort();
    const controller = new AbortController();
    Object.assign(cur, { edgeId, controller, state: 'loading', answer: null, error: '' });
    render();
    let answer = null;
    let error = '';
    try {
      const res = await request(`api/history?edge=${encodeURIComponent(edgeId)}`, { signal: controller.signal });
      if (res.ok && res.body && typeof res.body === 'object' && Array.isArray(res.body.points)) answer = res.body;
      else if (res.ok) error = 'The server’s answer was not a history.';
      else error = errorText(res.status, res.body);
    } catch (err) {
      if (err?.name === 'AbortError') return;
      error = unreachableText(err);
    }
    if (seq !== cur.seq) return;
    Object.assign(cur, { controller: null, state: answer ? 'ready' : 'error', answer, error });
    render();
  }

  function render() {
    root.dataset.state = cur.state;
    root.dataset.edgeId = cur.edgeId;
    root.setAttribute('aria-busy', String(cur.state === 'loading'));
    if (cur.state === 'loading') {
      body.replaceChildren(h('p', { class: 'hint', text: 'Loading the history…' }));
    } else if (cur.state === 'error') {
      body.replaceChildren(h('p', { class: 'history-error', role: 'alert', dataset: { testid: 'edge-history-error' }, text: cur.error }));
    } else if (cur.state === 'ready') {
      const m = chartModel(cur.answer);
      body.replaceChildren(
        m.empty
          ? h('p', { class: 'none', dataset: { testid: 'edge-history-empty' }, text: 'No traffic recorded over this period.' })
          : chartElement(m),
        h(
          'p',
          { class: 'history-legend', 'aria-hidden': 'true' },
          h('span', { class: 'key key-rate' }),
          ' rate (left) ',
          h('span', { class: 'key key-mtls' }),
          ' mTLS share (right)',
          m.caption ? ` · ${m.caption}` : '',
        ),
      );
    } else {
      body.replaceChildren();
    }
  }

  return {
    element(edgeId, { heading = 'Over the look-back' } = {}) {
      title.textContent = heading;
      if (edgeId !== cur.edgeId) load(edgeId);
      return root;
    },
  };
}
