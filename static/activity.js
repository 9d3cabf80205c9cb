// meshlock's activity list: the audit trail of enforce actions (GET
// api/actions, polled every 15 s while the page is visible), each with who
// and when, the objects it wrote and, with --allow-enforce, an Undo.

import { errorText, unreachableText } from './api.mjs';
import { $, h, keepFocus, page } from './dom.js';
import { actionSummary, canUndo, scopeLabel, undoURL } from './plan.mjs';

// createActivity draws #activity with the API client request; announce(text,
// actionId) says what an apply did and scrolls its action into view.
export function createActivity({ request }) {
  const activity = {
    actions: [],
    loaded: false,
    loading: false,
    error: '',
    itemErrors: new Map(), // action id → message of a failed undo
    busy: new Set(), // action ids with an undo in flight
    flash: null, // {text, at}: what the last apply or undo did
    again: false,
    lastJSON: '',
    reveal: '', // the id of an action to scroll into view once listed
  };

  const FLASH_MS = 20000;

  async function loadActivity() {
    if (activity.loading) {
      activity.again = true;
      return;
    }
    activity.loading = true;
    let redraw = true;
    try {
      const res = await request('api/actions');
      if (res.ok && Array.isArray(res.body)) {
        const json = JSON.stringify(res.body);
        const same = activity.loaded && !activity.error && json === activity.lastJSON;
        activity.actions = res.body;
        activity.lastJSON = json;
        activity.loaded = true;
        activity.error = '';
        redraw = !same || !!(activity.flash && Date.now() - activity.flash.at > FLASH_MS);
      } else {
        activity.error = `Could not load the activity: ${errorText(res.status, res.body)}`;
      }
    } catch (err) {
      activity.error = `Could not load the activity: the server could not be reached (${err?.message || err}).`;
    } finally {
      activity.loading = false;
    }
    if (redraw) renderActivity();
    if (activity.again) {
      activity.again = false;
      loadActivity();
    }
  }

  function formatWhen(iso) {
    const d = new Date(iso);
    if (!iso || Number.isNaN(d.getTime())) return iso || '?';
    return d.toLocaleString([], { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  async function undoAction(id) {
    if (activity.busy.has(id)) return;
    activity.busy.add(id);
    activity.itemErrors.delete(id);
    renderActivity();
    try {
      const res = await request(undoURL(id), { method: 'POST' });
      if (!res.ok) activity.itemErrors.set(id, errorText(res.status, res.body));
      else activity.flash = { at: Date.now(), text: `Undone: ${scopeLabel(res.body || {})}.` };
    } catch (err) {
      activity.itemErrors.set(id, unreachableText(err));
    } finally {
      activity.busy.delete(id);
    }
    renderActivity();
    loadActivity();
  }

  function activityItem(a) {
    const undone = !!a.undoneAt;
    const err = activity.itemErrors.get(a.id);
    const busy = activity.busy.has(a.id);
    return h(
      'li',
      { class: `activity-item${undone ? ' undone' : ''}`, dataset: { testid: 'activity-item', actionId: a.id, undone: String(undone) } },
      h('div', { class: 'act-head' }, h('strong', { class: 'act-scope', text: scopeLabel(a) }), h('span', { class: 'act-mode', text: actionSummary(a).split(' · ')[1] })),
      h('div', { class: 'act-meta' }, h('time', { datetime: a.at, title: a.at, text: formatWhen(a.at) }), ' by ', h('span', { class: 'act-who', text: a.who || '?' })),
      h(
        'ul',
        { class: 'act-objects' },
        (a.objects || []).map((o) => h('li', {}, h('span', { class: `act act-${o.action}`, text: o.action }), ` ${o.kind} `, h('code', { text: `${o.namespace}/${o.name}` }))),
      ),
      undone
        ? h('p', { class: 'act-undone', dataset: { testid: 'activity-undone' } }, `↶ undone by ${a.undoneBy || '?'} at `, h('time', { datetime: a.undoneAt, text: formatWhen(a.undoneAt) }))
        : canUndo(a, page.allowEnforce)
          ? h('button', {
              type: 'button',
              class: 'btn btn-small',
              text: busy ? 'Undoing…' : 'Undo',
              disabled: busy,
              title: 'Put every object back exactly as it was before this action',
              dataset: { testid: 'undo', actionId: a.id, focusKey: `undo:${a.id}` },
              onclick: () => undoAction(a.id),
            })
          : '',
      err ? h('p', { class: 'act-error', role: 'alert', dataset: { testid: 'activity-error' }, text: err }) : '',
    );
  }

  function renderActivity() {
    const list = $('#activity');
    const status = $('#activity-status');
    if (!list || !status) return;
    keepFocus(list, () => list.replaceChildren(...activity.actions.map(activityItem)));
    if (activity.reveal) {
      // Show the action just applied, where the person can undo it.
      const item = list.querySelector(`[data-action-id="${CSS.escape(activity.reveal)}"]`);
      if (item) {
        item.scrollIntoView({ block: 'nearest' });
        activity.reveal = '';
      }
    }
    const lines = [];
    if (activity.flash && Date.now() - activity.flash.at > FLASH_MS) activity.flash = null;
    if (activity.flash) lines.push(activity.flash.text);
    if (activity.error) lines.push(activity.error);
    else if (!activity.loaded) lines.push('Loading the enforce actions…');
    else if (!activity.actions.length) lines.push(page.allowEnforce ? 'No enforce action yet.' : 'No enforce action yet. This dashboard is read-only.');
    status.textContent = lines.join(' ');
    status.hidden = lines.length === 0;
    status.classList.toggle('act-error', !!activity.error);
    const count = $('#activity-count');
    if (count) count.textContent = activity.loaded ? String(activity.actions.length) : '';
  }

  function init() {
    if (!$('#activity')) return;
    loadActivity();
    // Other people's actions show up too, cheaply.
    setInterval(() => {
      if (document.visibilityState === 'visible') loadActivity();
    }, 15000);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') loadActivity();
    });
  }

  init();
  return {
    announce(text, actionId = '') {
      activity.reveal = actionId;
      activity.flash = { at: Date.now(), text };
      loadActivity();
    },
  };
}
