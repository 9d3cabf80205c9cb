// meshlock's findings: the list in the side column and the finding buttons
// the side panel reuses. Selecting a finding shows its first edge, else its
// first node, else the finding itself. A redraw keeps the focus on the
// same finding (its data-focus-key).

import { $, h, keepFocus } from './dom.js';
import { findingTarget } from './model.mjs';

export const SEV_ICON = { critical: '✖', warning: '⚠', info: 'ℹ' };

// findingButton is one finding as a button that selects its target.
export function findingButton(store, f) {
  const target = findingTarget(f, store.state.snapshot, { edges: store.state.edgesById, nodes: store.state.nodesById });
  return h(
    'button',
    {
      type: 'button',
      class: `finding sev-${f.severity}`,
      dataset: { testid: 'finding', findingId: f.id, severity: f.severity, target: target?.id || '', targetKind: target?.kind || '', focusKey: `finding:${f.id}` },
      onclick: () => selectFinding(store, f.id),
    },
    h('span', { class: 'sev' }, h('span', { 'aria-hidden': 'true', text: SEV_ICON[f.severity] || 'ℹ' }), ` ${f.severity}`),
    ' ',
    h('span', { class: 'msg', text: f.message }),
  );
}

function selectFinding(store, id) {
  const s = store.state.snapshot;
  const f = s?.findings.find((x) => x.id === id);
  if (!f) return;
  const target = findingTarget(f, s, { edges: store.state.edgesById, nodes: store.state.nodesById });
  if (target) store.select(target, { center: true });
  else store.select({ kind: 'finding', id });
}

export function createFindings(store) {
  let shown = null; // what the list says, to skip a redraw that changes nothing
  store.subscribe('snapshot', ({ snapshot, edgesById, nodesById }) => {
    const list = $('#findings');
    if (!list) return;
    // Most snapshots (a delta, the stream's first) leave the findings as they were.
    const key = snapshot.findings.map((f) => [f.id, f.severity, f.message, findingTarget(f, snapshot, { edges: edgesById, nodes: nodesById })?.id ?? ''].join('|')).join('\n');
    if (shown === key) return;
    shown = key;
    keepFocus(list, () => list.replaceChildren(...snapshot.findings.map((f) => h('li', {}, findingButton(store, f)))));
    $('#findings-count').textContent = String(snapshot.findings.length);
    $('#findings-none').hidden = snapshot.findings.length > 0;
  });
}
