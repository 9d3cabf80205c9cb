// meshlock's pure logic for enforcing mTLS (and allowing only the callers
// seen): the enforce request, the plan's summary and diff, whether Apply
// may be pressed, the callers it would cut (live or idle, over the
// look-back), the recorded actions and their undo.
// No DOM, no network: enforce.js and activity.js draw it.

import { ago, formatRate, formatVolume, formatWhen, isTime, lookbackSpan } from './format.mjs';
import { finite } from './model.mjs';

export const ENFORCE_MODES = [
  { value: 'destinationrule', label: 'DestinationRule ISTIO_MUTUAL (client side)' },
  { value: 'peerauthentication', label: 'PeerAuthentication STRICT (server side)' },
  { value: 'authorization', label: 'Allow only these callers' },
];

// modeFits: mode authorization is for a service or a namespace (the
// server refuses it for the mesh); the other modes fit every scope.
export function modeFits(mode, target) {
  return mode !== 'authorization' || target?.scope === 'service' || target?.scope === 'namespace';
}

// enforceTitle heads the dialog for a mode.
export function enforceTitle(mode) {
  return mode === 'authorization' ? 'Allow only the callers seen' : 'Enforce mTLS';
}

export function modeLabel(mode) {
  return ENFORCE_MODES.find((m) => m.value === mode)?.label || mode || '';
}

// enforceTarget reads the scope of an enforce button's dataset: the mesh,
// a namespace or a service (null when the dataset is incomplete); with
// several clusters, the cluster too (the node's, or for the mesh the one
// the cluster filter selects: a change is made in one cluster at a time;
// none with one cluster).
export function enforceTarget(scope, namespace = '', service = '', cluster = '') {
  const of = cluster ? { cluster } : {};
  if (scope === 'mesh') return { scope: 'mesh', namespace: '', service: '', ...of };
  if (scope === 'namespace' && namespace) return { scope: 'namespace', namespace, service: '', ...of };
  if (scope === 'service' && namespace && service) return { scope: 'service', namespace, service, ...of };
  return null;
}

// scopeLabel names what an action covers: "mesh", "namespace default",
// "service default/reviews" (an enforce target or a recorded action).
export function scopeLabel(t) {
  switch (t?.scope) {
    case 'mesh':
      return t.cluster ? `mesh in cluster ${t.cluster}` : 'mesh';
    case 'namespace':
      return `namespace ${t.namespace}${t.cluster ? ` in cluster ${t.cluster}` : ''}`;
    case 'service':
      return `service ${t.namespace}/${t.service}${t.cluster ? ` in cluster ${t.cluster}` : ''}`;
  }
  return t?.scope || '';
}

// enforceRequest is the body of POST api/enforce. Fields a scope does not
// use are left out: the server refuses them rather than widen the scope.
// cluster only when the target has one (several clusters); policyDryRun
// (Istio's istio.io/dry-run) only for mode authorization, and only when on.
export function enforceRequest(target, mode, dryRun, { policyDryRun = false } = {}) {
  const req = { scope: target.scope, mode, dryRun: !!dryRun };
  if (target.scope === 'namespace' || target.scope === 'service') req.namespace = target.namespace;
  if (target.scope === 'service') req.service = target.service;
  if (target.cluster) req.cluster = target.cluster;
  if (mode === 'authorization' && policyDryRun) req.policyDryRun = true;
  return req;
}

// planSummary counts a plan's changes: what would change, what is already
// so, and the conflicts that stop it.
export function planSummary(plan) {
  const changes = plan?.changes || [];
  const out = { total: changes.length, create: 0, update: 0, unchanged: 0, conflicts: 0 };
  for (const c of changes) {
    if (c.action === 'create' || c.action === 'update' || c.action === 'unchanged') out[c.action]++;
    if (c.conflict) out.conflicts++;
  }
  out.changing = out.create + out.update;
  return out;
}

// applyState says whether Apply may be pressed, and if not, why.
export function applyState({ loading = false, applying = false, plan = null, error = '', mode = '' } = {}) {
  if (loading) return { enabled: false, reason: 'Computing the plan…' };
  if (applying) return { enabled: false, reason: 'Applying…' };
  if (!plan) return { enabled: false, reason: error ? 'No plan: see the error above.' : 'No plan yet.' };
  const s = planSummary(plan);
  if (s.conflicts) return { enabled: false, reason: `${s.conflicts} conflict${s.conflicts === 1 ? '' : 's'}: resolve ${s.conflicts === 1 ? 'it' : 'them'} in the cluster first.` };
  if (s.changing === 0) {
    const done = mode === 'authorization' ? 'the policy already allows these callers' : 'mTLS is already enforced here';
    return { enabled: false, reason: s.total ? `Nothing to change: ${done}.` : 'Nothing to change: no service in scope.' };
  }
  return { enabled: true, reason: '' };
}

function splitLines(text) {
  if (!text) return [];
  const lines = String(text).replace(/\r\n?/g, '\n').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

// lineDiff compares two texts line by line (longest common subsequence):
// [{op: ' ' | '+' | '-', text}], removed lines before the added ones that
// replace them. An empty previous text makes every line added.
export function lineDiff(previous, next) {
  const a = splitLines(previous);
  const b = splitLines(next);
  const n = a.length;
  const m = b.length;
  // lcs[i][j]: the longest common subsequence of a[i:] and b[j:].
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ op: ' ', text: a[i] });
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      out.push({ op: '-', text: a[i++] });
    } else {
      out.push({ op: '+', text: b[j++] });
    }
  }
  while (i < n) out.push({ op: '-', text: a[i++] });
  while (j < m) out.push({ op: '+', text: b[j++] });
  return out;
}

export function diffStats(diff) {
  let added = 0;
  let removed = 0;
  for (const l of diff) {
    if (l.op === '+') added++;
    else if (l.op === '-') removed++;
  }
  return { added, removed };
}

// foldDiff keeps `context` unchanged lines around each change and replaces
// longer unchanged runs with {op: '…', count} (a diff without changes is
// kept whole: it is the object as it is).
export function foldDiff(diff, context = 3) {
  if (!diff.some((l) => l.op !== ' ')) return diff;
  const keep = diff.map(() => false);
  diff.forEach((l, i) => {
    if (l.op === ' ') return;
    for (let k = Math.max(0, i - context); k <= Math.min(diff.length - 1, i + context); k++) keep[k] = true;
  });
  const out = [];
  for (let i = 0; i < diff.length; ) {
    if (keep[i]) {
      out.push(diff[i++]);
      continue;
    }
    let j = i;
    while (j < diff.length && !keep[j]) j++;
    if (j - i === 1) out.push(diff[i]);
    else out.push({ op: '…', count: j - i });
    i = j;
  }
  return out;
}

// breakEdgeId is the graph's id of the edge a plan would cut.
export function breakEdgeId(b) {
  return `${b.source}->${b.target}:${b.protocol}`;
}

// breakUnit is the unit of a break's volume: its own when the server
// names it, else that of its edge's history, else the protocol's (TCP
// counts bytes).
export function breakUnit(b, edge) {
  return b.unit || edge?.history?.unit || (b.protocol === 'tcp' ? 'bytes' : 'requests');
}

// breakView words one caller a plan would cut: "now 0.5 req/s", or idle
// and when it was last seen; its volume over the look-back. edge is the
// snapshot's edge (for the unit), lookback the plan's.
export function breakView(b, { edge = null, lookback = null, now = Date.now(), when = formatWhen } = {}) {
  const idle = b.idle === true;
  const seen = isTime(b.lastSeen) ? b.lastSeen : '';
  const span = lookbackSpan(lookback);
  return {
    idle,
    rate: idle ? '' : `now ${formatRate(b.rate, b.protocol)}`,
    lastSeen: idle ? { text: seen ? `last seen ${ago(seen, now)}` : 'last seen: not known', when: seen ? when(seen) : '', datetime: seen } : null,
    volume: finite(b.volume) ? `${formatVolume(b.volume, breakUnit(b, edge))}${span ? ` over ${span}` : ''}` : '',
  };
}

// breaksText says how far back the plan looked for callers (scope), warns
// while the look-back is loading or failed (warn), and heads the list
// (headline, or none when no caller would be cut).
export function breaksText(breaks, lookback, when = formatWhen) {
  const lb = lookback;
  const n = breaks.length;
  const idle = breaks.filter((b) => b.idle === true).length;
  const callers = `${n} caller${n === 1 ? '' : 's'}`;
  let scope;
  let warn = '';
  let headline;
  let none;
  if (!lb || lb.state === 'off') {
    scope = lb ? 'Live callers only (look-back off).' : 'Live callers only.';
    headline = `${n} live caller${n === 1 ? '' : 's'} would be cut off`;
    none = 'No live caller would be cut.';
  } else if (lb.state === 'loading') {
    scope = lb.from ? `Callers seen since ${when(lb.from)}: the look-back so far.` : 'Live callers, and those the look-back has read so far.';
    warn = `The look-back (${lb.window || '?'}) is still loading: older callers may be missing.`;
    headline = `${callers} would be cut off${idle ? ` (${n - idle} live, ${idle} idle)` : ''}`;
    none = 'No caller seen so far would be cut.';
  } else {
    scope = `Callers seen in the last ${lb.window}${lb.from ? ` (since ${when(lb.from)})` : ''}.`;
    headline = `${callers} would be cut off${idle ? ` (${n - idle} live, ${idle} idle)` : ''}`;
    none = `No caller seen in the last ${lb.window} would be cut.`;
  }
  if (lb?.error) warn = [warn, `Look-back error: ${lb.error}`].filter(Boolean).join(' ');
  return { scope, warn, headline, none, state: lb?.state || '' };
}

// actionScopeLabel describes a recorded action: "namespace default · DestinationRule ISTIO_MUTUAL (client side)".
export function actionSummary(a) {
  return `${scopeLabel(a)} · ${modeLabel(a.mode)}`;
}

// canUndo: an action may be undone from the page when writes are allowed
// and nobody has undone it yet.
export function canUndo(action, allowEnforce) {
  return !!allowEnforce && !action.undoneAt;
}

export function undoURL(id) {
  return `api/actions/${encodeURIComponent(id)}/undo`;
}

