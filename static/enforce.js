// meshlock's enforce dialog: a button with data-enforce (the mesh in the
// header, a namespace or a service in the side panel) opens it; it shows
// the plan of a server-side dry run (each object's line diff, the callers
// it would cut, live or seen in the look-back, highlighted on the graph
// through the store, idle ones drawn for the preview) and
// applies exactly that plan (its planId), or shows the new plan when the
// cluster changed meanwhile (409). It is modal: Tab and Shift+Tab go round
// its controls (keyboard.mjs's wrapTab), Escape closes it, and the focus
// goes back to the button that opened it. With several clusters a
// namespace's or a service's request names its cluster (data-cluster of
// the button). For a service or a namespace it offers a third mode, "Allow
// only these callers" (an ALLOW AuthorizationPolicy of the callers seen,
// optionally as Istio's dry run), with the same preview of breaks; for the
// mesh that choice is hidden and disabled.

import { errorText, unreachableText } from './api.mjs';
import { $, h, page, tabbables } from './dom.js';
import { wrapTab } from './keyboard.mjs';
import { isMultiCluster, normalizeLookback } from './model.mjs';
import {
  applyState,
  breakEdgeId,
  breaksText,
  breakView,
  diffStats,
  enforceRequest,
  enforceTarget,
  enforceTitle,
  foldDiff,
  lineDiff,
  modeFits,
  planSummary,
  scopeLabel,
} from './plan.mjs';

// createEnforce wires the dialog; request is the API client, graph the
// graph view (isDrawn), activity the activity list (announce).
export function createEnforce(store, { request, graph, activity }) {
  const enforce = {
    dialog: null,
    target: null, // {scope, namespace, service}
    mode: 'destinationrule',
    policyDryRun: false, // mode authorization: write it with istio.io/dry-run
    openerKey: '', // data-focus-key of the button that opened the dialog
    seq: 0, // the newest plan request; older answers are dropped
    controller: null,
    loading: false,
    applying: false,
    plan: null,
    error: '',
  };

  function openEnforce(button) {
    const d = enforce.dialog;
    let cluster = button.dataset.cluster || '';
    // The mesh of one cluster at a time: the one the cluster filter selects.
    const needsCluster = button.dataset.enforce === 'mesh' && isMultiCluster(store.state.snapshot);
    if (needsCluster && store.state.clusters.length === 1) cluster = store.state.clusters[0];
    const target = enforceTarget(button.dataset.enforce, button.dataset.namespace || '', button.dataset.service || '', cluster);
    if (!d || !target || d.open) return;
    enforce.target = target;
    enforce.openerKey = button.dataset.focusKey || '';
    // A mode that does not fit the scope (authorization for the mesh) is
    // hidden and disabled; if it was the one chosen, the first mode is.
    for (const r of d.querySelectorAll('input[name="enforce-mode"]')) {
      const fits = modeFits(r.value, target);
      r.closest('label').hidden = !fits;
      if (!fits && r.checked) d.querySelector('input[name="enforce-mode"]').checked = true;
    }
    enforce.mode = d.querySelector('input[name="enforce-mode"]:checked')?.value || 'destinationrule';
    $('#enforce-scope').textContent = `Scope: ${scopeLabel(target)}`;
    d.dataset.scope = target.scope;
    d.dataset.namespace = target.namespace;
    d.dataset.service = target.service;
    if (target.cluster) d.dataset.cluster = target.cluster;
    else delete d.dataset.cluster;
    d.showModal();
    d.querySelector('input[name="enforce-mode"]:checked')?.focus();
    if (needsCluster && !cluster) {
      Object.assign(enforce, { loading: false, plan: null, error: 'Several clusters are shown, and a change is made in one at a time: choose one cluster in the cluster filter to enforce mesh-wide in it.' });
      renderEnforce();
      return;
    }
    loadPlan();
  }

  async function loadPlan() {
    const seq = ++enforce.seq;
    enforce.controller?.abort();
    const controller = new AbortController();
    enforce.controller = controller;
    Object.assign(enforce, { loading: true, plan: null, error: '' });
    store.setBreaks([]);
    renderEnforce();
    let plan = null;
    let error = '';
    try {
      const res = await request('api/enforce', { method: 'POST', payload: enforceRequest(enforce.target, enforce.mode, true, enforce), signal: controller.signal });
      if (res.ok && res.body && typeof res.body === 'object') plan = res.body;
      else error = errorText(res.status, res.body);
    } catch (err) {
      if (err?.name === 'AbortError') return;
      error = unreachableText(err);
    }
    if (seq !== enforce.seq || !enforce.dialog?.open) return;
    Object.assign(enforce, { loading: false, plan, error, controller: null });
    store.setBreaks((plan?.breaks || []).map(breakEdgeId));
    renderEnforce();
  }

  async function applyPlan() {
    if (!applyState(enforce).enabled) return;
    const seq = enforce.seq;
    enforce.applying = true;
    enforce.error = '';
    renderEnforce();
    let error = '';
    let result = null;
    try {
      // The planId makes the server apply exactly the plan shown, or refuse.
      const payload = { ...enforceRequest(enforce.target, enforce.mode, false, enforce), planId: enforce.plan?.planId || '' };
      const res = await request('api/enforce', { method: 'POST', payload });
      if (res.ok) result = res.body;
      else error = errorText(res.status, res.body);
      // 409 with a planId: the cluster changed, and this is the new plan to review.
      if (res.status === 409 && res.body?.planId && seq === enforce.seq) {
        enforce.plan = res.body;
        store.setBreaks((res.body.breaks || []).map(breakEdgeId));
      }
    } catch (err) {
      error = unreachableText(err);
    }
    enforce.applying = false;
    if (result) {
      if (seq === enforce.seq && enforce.dialog.open) enforce.dialog.close();
      const follow = enforce.mode === 'authorization' ? 'the edges it denies are marked' : 'the padlocks follow';
      activity.announce(`Applied to ${scopeLabel(enforce.target)}: ${follow} within a refresh or two.`, result.actionId || '');
      return;
    }
    if (seq === enforce.seq && enforce.dialog.open) {
      enforce.error = error;
      renderEnforce();
    }
  }

  function endpointText(id) {
    return id === 'unknown' ? 'unknown (outside the mesh)' : id;
  }

  // breakItem: one caller, "now <rate>" or idle with when it was last seen,
  // and what it sent over the look-back.
  function breakItem(b, lookback) {
    const id = breakEdgeId(b);
    const v = breakView(b, { edge: store.state.edgesById.get(id), lookback });
    return h(
      'li',
      { class: v.idle ? 'break-idle-row' : '', dataset: { testid: 'enforce-break', edgeId: id, idle: String(v.idle) } },
      h('span', { class: 'break-edge' }, `${endpointText(b.source)} → ${endpointText(b.target)}`),
      ' ',
      h('span', { class: 'tag', text: b.protocol || '?' }),
      ' ',
      v.idle
        ? [
            h('span', { class: 'badge-idle', dataset: { testid: 'break-idle' }, title: 'Sends nothing now; seen in the look-back', text: 'idle' }),
            h(
              'span',
              { class: 'break-seen', dataset: { testid: 'break-last-seen' } },
              ' — ',
              v.lastSeen.datetime ? h('time', { datetime: v.lastSeen.datetime, title: v.lastSeen.when, text: v.lastSeen.text }) : v.lastSeen.text,
              v.lastSeen.when ? ` (${v.lastSeen.when})` : '',
            ),
          ]
        : h('span', { class: 'break-rate', text: v.rate }),
      v.volume ? h('span', { class: 'break-volume', dataset: { testid: 'break-volume' }, text: ` · ${v.volume}` }) : '',
      b.reason ? h('span', { class: 'break-reason', text: ` — ${b.reason}` }) : '',
    );
  }

  function renderBreaks(plan) {
    const box = $('#enforce-breaks');
    if (!box) return;
    if (!plan) {
      box.replaceChildren();
      return;
    }
    const breaks = plan.breaks || [];
    // The plan says how far back the server looked; an older one does not,
    // and the snapshot's look-back is the next best guess.
    const lookback = plan.lookback ? normalizeLookback(plan.lookback) : store.state.snapshot?.lookback || null;
    const t = breaksText(breaks, lookback);
    const head = [
      h('p', { class: 'enforce-lookback', dataset: { testid: 'enforce-lookback', state: t.state } }, t.scope),
      t.warn
        ? h('p', { class: 'lookback-warning', role: 'status', dataset: { testid: 'enforce-lookback-warning' } }, h('span', { 'aria-hidden': 'true', text: '⚠ ' }), t.warn)
        : '',
    ];
    if (!breaks.length) {
      box.replaceChildren(...head, h('p', { class: 'breaks-none', dataset: { testid: 'enforce-no-breaks' } }, h('span', { 'aria-hidden': 'true', text: '✓ ' }), t.none));
      return;
    }
    const onGraph = breaks.some((b) => graph.isDrawn(breakEdgeId(b)));
    box.replaceChildren(
      ...head,
      h('p', { class: 'breaks-warn' }, h('span', { 'aria-hidden': 'true', text: '⚠ ' }), t.headline, onGraph ? ' (marked ✂ on the graph):' : ':'),
      h(
        'ul',
        { class: 'breaks' },
        breaks.map((b) => breakItem(b, lookback)),
      ),
    );
  }

  // renderWarnings lists where the plan will not do what one may expect
  // (a mesh rule that more specific rules shadow).
  function renderWarnings(plan) {
    const list = $('#enforce-warnings');
    if (!list) return;
    list.replaceChildren(
      ...(plan?.warnings || []).map((w) =>
        h('li', { class: 'warning', dataset: { testid: 'enforce-warning' } }, h('span', { 'aria-hidden': 'true', text: '⚠ ' }), w),
      ),
    );
  }

  const DIFF_MARK = { '+': '+', '-': '−', ' ': ' ' };

  function renderChange(c) {
    const diff = lineDiff(c.action === 'create' ? '' : c.previous || (c.action === 'unchanged' ? c.yaml : ''), c.yaml);
    const stats = diffStats(diff);
    const lines = foldDiff(diff, 3).map((l) =>
      l.op === '…'
        ? h('span', { class: 'dl dl-fold' }, h('span', { class: 'dm', text: '⋯' }), `${l.count} unchanged line${l.count === 1 ? '' : 's'}`)
        : h(
            'span',
            { class: `dl ${l.op === '+' ? 'dl-add' : l.op === '-' ? 'dl-del' : 'dl-same'}` },
            h('span', { class: 'dm', 'aria-label': l.op === '+' ? 'added' : l.op === '-' ? 'removed' : undefined, text: DIFF_MARK[l.op] }),
            l.text,
          ),
    );
    const open = c.action !== 'unchanged' || !!c.conflict;
    return h(
      'details',
      {
        class: `change change-${c.action}${c.conflict ? ' change-conflict' : ''}`,
        open,
        dataset: { testid: 'enforce-change', action: c.action, kind: c.kind, namespace: c.namespace, name: c.name, conflict: c.conflict ? 'true' : 'false' },
      },
      h(
        'summary',
        {},
        h('span', { class: `act act-${c.action}`, text: c.action }),
        ' ',
        h('span', { class: 'kind', text: c.kind }),
        ' ',
        h('code', { text: `${c.namespace}/${c.name}` }),
        c.action === 'unchanged' ? '' : h('span', { class: 'stats', text: ` +${stats.added} −${stats.removed}` }),
      ),
      c.conflict ? h('p', { class: 'conflict', role: 'alert', dataset: { testid: 'enforce-conflict' } }, h('strong', { text: '✖ Conflict: ' }), c.conflict) : '',
      h('pre', { class: 'diff', 'aria-label': `${c.kind} ${c.namespace}/${c.name}, line diff` }, lines),
    );
  }

  function renderEnforce() {
    const d = enforce.dialog;
    if (!d) return;
    const { loading, applying, plan, error } = enforce;
    d.dataset.state = loading ? 'loading' : applying ? 'applying' : error ? 'error' : plan ? 'ready' : 'idle';
    d.dataset.mode = enforce.mode;
    d.setAttribute('aria-busy', String(loading || applying));
    for (const r of d.querySelectorAll('input[name="enforce-mode"]')) r.disabled = applying || !modeFits(r.value, enforce.target);
    $('#enforce-title').textContent = enforceTitle(enforce.mode);
    const dry = $('#enforce-policy-dry-run');
    if (dry) {
      dry.closest('label').hidden = enforce.mode !== 'authorization';
      dry.disabled = applying;
      dry.checked = enforce.policyDryRun;
    }
    const status = $('#enforce-status');
    const s = planSummary(plan);
    if (loading) status.textContent = 'Computing the plan (dry run)…';
    else if (applying) status.textContent = 'Applying…';
    else if (plan) {
      const parts = [];
      if (s.create) parts.push(`${s.create} to create`);
      if (s.update) parts.push(`${s.update} to update`);
      if (s.unchanged) parts.push(`${s.unchanged} unchanged`);
      status.replaceChildren(
        `Plan: ${parts.join(', ') || 'no object'}${s.conflicts ? `; ${s.conflicts} conflict${s.conflicts === 1 ? '' : 's'}` : ''}.`,
        plan.serverValidated
          ? h('span', { class: 'validated', text: ' Validated by the Kubernetes API (server-side dry run).' })
          : h('span', { class: 'validated-local', dataset: { testid: 'enforce-local-validation' }, text: ' Validated locally: this API cannot dry-run.' }),
      );
    } else status.textContent = '';
    const errEl = $('#enforce-error');
    errEl.hidden = !error;
    errEl.textContent = error;
    renderBreaks(plan);
    renderWarnings(plan);
    const changes = $('#enforce-changes');
    if (!plan) changes.replaceChildren();
    else if (!(plan.changes || []).length) changes.replaceChildren(h('p', { class: 'none', text: 'No object to write: no service in this scope.' }));
    else changes.replaceChildren(...plan.changes.map(renderChange));
    const st = applyState(enforce);
    const apply = $('#enforce-apply');
    apply.disabled = !st.enabled;
    apply.textContent = applying ? 'Applying…' : s.changing ? `Apply ${s.changing} change${s.changing === 1 ? '' : 's'}` : 'Apply';
    $('#enforce-apply-reason').textContent = st.reason;
  }

  function init() {
    const d = $('#enforce-dialog');
    if (!page.allowEnforce || !d) {
      // Read-only: no button opens anything.
      for (const b of document.querySelectorAll('[data-enforce]')) b.remove();
      return;
    }
    enforce.dialog = d;
    document.addEventListener('click', (ev) => {
      const b = ev.target.closest?.('button[data-enforce]');
      if (b) openEnforce(b);
    });
    d.addEventListener('change', (ev) => {
      if (ev.target.id === 'enforce-policy-dry-run') {
        enforce.policyDryRun = ev.target.checked;
        loadPlan();
        return;
      }
      if (ev.target.name !== 'enforce-mode' || !ev.target.checked) return;
      enforce.mode = ev.target.value;
      loadPlan();
    });
    $('#enforce-cancel').addEventListener('click', () => d.close());
    // The focus stays in the dialog: from its last control Tab goes to its
    // first (the page behind is inert; the browser's own controls are not).
    d.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Tab' || ev.altKey || ev.ctrlKey || ev.metaKey) return;
      const stops = tabbables(d);
      const i = wrapTab(stops.indexOf(document.activeElement), stops.length, ev.shiftKey);
      if (i < 0) return;
      ev.preventDefault();
      stops[i].focus();
    });
    $('#enforce-apply').addEventListener('click', applyPlan);
    d.addEventListener('close', () => {
      // The close event is queued: the dialog may have been opened again
      // (for another scope) before it runs, and that plan must live.
      if (d.open) return;
      enforce.seq++;
      enforce.controller?.abort();
      Object.assign(enforce, { controller: null, loading: false, plan: null, error: '' });
      store.setBreaks([]);
      renderEnforce();
      d.dataset.state = 'closed';
      // The opener may have been redrawn meanwhile (the side panel follows the stream).
      const key = enforce.openerKey;
      const opener = key && document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
      if (opener) opener.focus();
      else $('#side-panel')?.focus();
    });
  }

  init();
}
