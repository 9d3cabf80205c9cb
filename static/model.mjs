// meshlock's pure dashboard logic: no DOM, no network. app.js imports it;
// model.test.mjs tests it (`node --test static/`). The formats match
// web/page.go, which renders the first page on the server.

export const STATUSES = ['locked', 'mixed', 'open', 'unknown'];

const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 };

// Byte-wise string order, as Go's strings.Compare (ids are ASCII).
export function compareStrings(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byID(a, b) {
  return compareStrings(a.id, b.id);
}

export function compareFindings(a, b) {
  const ra = SEVERITY_RANK[a.severity] ?? 3;
  const rb = SEVERITY_RANK[b.severity] ?? 3;
  return ra - rb || compareStrings(a.id, b.id);
}

// normalizeSnapshot returns a snapshot with every list present and in the
// server's order (nodes and edges by id, findings by severity then id).
export function normalizeSnapshot(s) {
  s = s || {};
  return {
    generatedAt: s.generatedAt ?? '',
    window: s.window ?? '',
    stale: !!s.stale,
    error: s.error ?? '',
    posture: normalizePosture(s.posture),
    nodes: [...(s.nodes || [])].sort(byID),
    edges: [...(s.edges || [])].sort(byID),
    findings: [...(s.findings || [])].sort(compareFindings),
  };
}

function applyList(current, changed, removed, compare) {
  const drop = new Set(removed || []);
  for (const item of changed || []) drop.add(item.id);
  const out = current.filter((item) => !drop.has(item.id));
  out.push(...(changed || []));
  return out.sort(compare);
}

// applyDelta returns the snapshot that delta turns s into, as the server's
// graph.Apply does: upsert nodes, edges and findings by id, delete the
// removed ids, take the header (the posture comes whole with every delta).
// s is not modified.
export function applyDelta(s, d) {
  return {
    generatedAt: d.generatedAt ?? s.generatedAt,
    window: d.window ?? s.window,
    stale: !!d.stale,
    error: d.error ?? '',
    posture: d.posture ? normalizePosture(d.posture) : s.posture,
    nodes: applyList(s.nodes, d.nodes, d.removedNodes, byID),
    edges: applyList(s.edges, d.edges, d.removedEdges, byID),
    findings: applyList(s.findings, d.findings, d.removedFindings, compareFindings),
  };
}

const finite = (x) => typeof x === 'number' && Number.isFinite(x);

const num = (x) => (finite(x) ? x : 0);

function normalizeShare(sh, unit) {
  return {
    unit: sh?.unit || unit,
    rate: num(sh?.rate),
    mtlsRate: num(sh?.mtlsRate),
    ratio: finite(sh?.ratio) ? sh.ratio : null,
    unknownRate: num(sh?.unknownRate),
  };
}

// normalizePosture fills what a posture lacks (an older server, the zero
// snapshot): no ratio, zero counts.
export function normalizePosture(p) {
  const counts = {};
  for (const st of STATUSES) counts[st] = Number.isInteger(p?.counts?.[st]) ? p.counts[st] : 0;
  return { http: normalizeShare(p?.http, 'req/s'), tcp: normalizeShare(p?.tcp, 'B/s'), counts };
}

// postureOf sums edges as graph.ComputePosture does on the server, for a
// subset of the snapshot's edges (the whole snapshot's comes computed):
// HTTP and gRPC in requests/s, TCP in bytes/s, never added together; an
// edge of unknown status counts in unknownRate only.
export function postureOf(edges) {
  const p = normalizePosture(null);
  for (const e of edges) {
    const status = STATUSES.includes(e.status) ? e.status : 'unknown';
    p.counts[status]++;
    // Invalid rates are left out rather than poisoning the sums.
    if (!finite(e.rate) || e.rate < 0) continue;
    const sh = e.protocol === 'tcp' ? p.tcp : p.http;
    if (status === 'unknown') {
      sh.unknownRate += e.rate;
      continue;
    }
    sh.rate += e.rate;
    sh.mtlsRate += e.rate * (finite(e.mtlsRatio) ? e.mtlsRatio : 0);
  }
  for (const sh of [p.http, p.tcp]) {
    if (sh.rate > 0) sh.ratio = Math.min(Math.max(sh.mtlsRate / sh.rate, 0), 1);
  }
  return p;
}

export const SHARE_SEPARATOR = ' · ';

// postureView words a posture as the header shows it (web/page.go's
// newPostureView says the same): parts for the protocols with traffic of
// known security, text "87% of requests · 100% of TCP bytes" or "—", and
// share, the one number data-share carries (HTTP's, else TCP's, else '').
export function postureView(posture) {
  const p = normalizePosture(posture);
  const parts = [];
  for (const [key, label, protocol] of [
    ['http', 'of requests', 'http'],
    ['tcp', 'of TCP bytes', 'tcp'],
  ]) {
    const sh = p[key];
    if (sh.ratio === null) continue;
    const percent = formatPercent(sh.ratio);
    const rate = formatRate(sh.rate, protocol);
    parts.push({
      key,
      percent,
      label,
      share: sh.ratio.toFixed(6),
      rate,
      title: `${percent} of ${rate} is mutual TLS, over the edges whose security is known`,
    });
  }
  return {
    parts,
    text: parts.length ? parts.map((x) => `${x.percent} ${x.label}`).join(SHARE_SEPARATOR) : '—',
    share: parts.length ? parts[0].share : '',
    counts: p.counts,
  };
}

// formatPercent: a whole percentage that never claims 100% or 0% when the
// share is not exactly that.
export function formatPercent(share) {
  if (!finite(share)) return '—';
  share = Math.min(Math.max(share, 0), 1);
  let pct = Math.round(share * 100);
  if (pct >= 100 && share < 1) pct = 99;
  else if (pct <= 0 && share > 0) pct = 1;
  return `${pct}%`;
}

export function formatNumber(v) {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a < 0.01) return '<0.01';
  if (a < 1) return v.toFixed(2);
  if (a < 100) return v.toFixed(1);
  return v.toFixed(0);
}

// formatRate: req/s for HTTP and gRPC, bytes/s (SI multiples) for TCP.
export function formatRate(rate, protocol) {
  if (!finite(rate)) return '—';
  if (protocol === 'tcp') {
    const units = ['B/s', 'kB/s', 'MB/s', 'GB/s'];
    let i = 0;
    while (rate >= 1000 && i < units.length - 1) {
      rate /= 1000;
      i++;
    }
    return `${formatNumber(rate)} ${units[i]}`;
  }
  return `${formatNumber(rate)} req/s`;
}

export function mtlsText(edge) {
  return edge.status === 'unknown' ? '—' : formatPercent(edge.mtlsRatio);
}

// formatFreshness: "updated 3s ago" for an age in milliseconds.
export function formatFreshness(ageMs) {
  const s = Math.max(0, Math.round(ageMs / 1000));
  if (s < 60) return `updated ${s}s ago`;
  if (s < 3600) return `updated ${Math.floor(s / 60)}m ${s % 60}s ago`;
  return `updated ${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ago`;
}

export function statusPhrase(edge) {
  switch (edge.status) {
    case 'locked':
      return 'locked, all mTLS';
    case 'mixed':
      return `mixed, ${formatPercent(edge.mtlsRatio)} mTLS`;
    case 'open':
      return 'open, plaintext';
  }
  return 'unknown security (the server side did not report)';
}

// displayName is a node's name as shown: "sa:<name>" for a ServiceAccount
// node (the prefix is what tells it from a workload).
export function displayName(n) {
  if (n.kind === 'serviceaccount' && !String(n.name).startsWith('sa:')) return `sa:${n.name}`;
  return n.name;
}

// nodeName is the short name of a node id ("default/reviews" → "reviews").
export function nodeName(id, nodesById) {
  const n = nodesById && nodesById.get(id);
  if (n && n.name) return displayName(n);
  const i = id.indexOf('/');
  return i < 0 ? id : id.slice(i + 1);
}

// badgeFor says how an edge's padlock looks: the icon file, the text next
// to it, and the accessible label.
export function badgeFor(edge, nodesById) {
  const status = STATUSES.includes(edge.status) ? edge.status : 'unknown';
  let text = '';
  if (status === 'mixed') text = formatPercent(edge.mtlsRatio);
  else if (status === 'open') text = 'plain';
  else if (status === 'unknown') text = '?';
  const failing = tlsFailureText(edge);
  let label = `${nodeName(edge.source, nodesById)} → ${nodeName(edge.target, nodesById)} (${edge.protocol}): ${statusPhrase({ ...edge, status })}`;
  if (failing) label += `; ${failing}`;
  return { status, icon: `lock-${status}.svg`, text, label, tlsFailing: !!failing };
}

// tlsFailureText: "failing at TLS handshake: 2.0 req/s" (connections/s for
// TCP, which counts connections, not bytes, here), or '' when none fail.
export function tlsFailureText(edge) {
  const r = edge.tlsFailureRate;
  if (!finite(r) || r <= 0) return '';
  return `failing at TLS handshake: ${formatNumber(r)} ${edge.protocol === 'tcp' ? 'conn/s' : 'req/s'}`;
}

export const OUTSIDE_GROUP = 'group:outside';

// groupOf is the compound parent of a node: its namespace, or the
// "outside the mesh" group for the unknown caller (and anything without a
// namespace).
export function groupOf(node) {
  if (node.kind === 'unknown' || !node.namespace) return OUTSIDE_GROUP;
  return `ns:${node.namespace}`;
}

// layoutKey changes exactly when the set of nodes (or their grouping)
// changes: the only time the graph is laid out again.
export function layoutKey(snapshot) {
  return snapshot.nodes
    .map((n) => `${n.id}@${groupOf(n)}`)
    .sort(compareStrings)
    .join('\n');
}

// parseNamespaces reads ?namespace=a,b (also repeated) from a search string.
export function parseNamespaces(search) {
  const params = new URLSearchParams(search);
  const out = [];
  for (const value of params.getAll('namespace')) {
    for (let ns of value.split(',')) {
      ns = ns.trim();
      if (ns && !out.includes(ns)) out.push(ns);
    }
  }
  return out;
}

// withNamespaces returns search with the namespace filter replaced (one
// comma-separated parameter, or none for all), other parameters kept.
export function withNamespaces(search, namespaces) {
  const params = new URLSearchParams(search);
  params.delete('namespace');
  const out = params.toString();
  // Commas stay readable: ?namespace=a,b rather than a%2Cb.
  const ns = namespaces.length ? `namespace=${namespaces.map(encodeURIComponent).join(',')}` : '';
  const all = [out, ns].filter(Boolean).join('&');
  return all ? `?${all}` : '';
}

// streamURL is the WebSocket address of the stream, relative to the page:
// ws: or wss: as the page, same host, path and base.
export function streamURL(pageHref, namespaces) {
  const url = new URL('api/stream', pageHref);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = withNamespaces('', namespaces);
  url.hash = '';
  return url.toString();
}

// backoffDelay: 0.5 s doubling to 10 s, by attempt (0, 1, 2, ...).
export function backoffDelay(attempt) {
  return Math.min(10000, 500 * 2 ** Math.min(attempt, 10));
}

const STATUS_RANK = { open: 0, mixed: 1, unknown: 2, locked: 3 };

// sortEdges orders table rows by a column; ties by edge id.
export function sortEdges(edges, key, dir, nodesById) {
  const sign = dir === 'descending' ? -1 : 1;
  const value = {
    source: (e) => e.source,
    target: (e) => e.target,
    protocol: (e) => e.protocol,
    rate: (e) => (finite(e.rate) ? e.rate : -1),
    mtls: (e) => (e.status === 'unknown' || !finite(e.mtlsRatio) ? -1 : e.mtlsRatio),
    status: (e) => STATUS_RANK[e.status] ?? 4,
  }[key] || ((e) => e.id);
  void nodesById;
  return [...edges].sort((a, b) => {
    const va = value(a);
    const vb = value(b);
    const c = typeof va === 'number' ? va - vb : compareStrings(va, vb);
    return sign * c || compareStrings(a.id, b.id);
  });
}

export function filterEdges(edges, statuses) {
  return edges.filter((e) => statuses.has(STATUSES.includes(e.status) ? e.status : 'unknown'));
}

// findingTarget is what selecting a finding shows: its first edge in the
// snapshot, else its first node there, else null.
export function findingTarget(finding, snapshot) {
  const edges = new Set(snapshot.edges.map((e) => e.id));
  const nodes = new Set(snapshot.nodes.map((n) => n.id));
  for (const id of finding.edges || []) if (edges.has(id)) return { kind: 'edge', id };
  for (const id of finding.nodes || []) if (nodes.has(id)) return { kind: 'node', id };
  return null;
}

export function findingsForEdge(snapshot, edgeID) {
  return snapshot.findings.filter((f) => (f.edges || []).includes(edgeID));
}

export function findingsForNode(snapshot, nodeID) {
  return snapshot.findings.filter((f) => (f.nodes || []).includes(nodeID));
}

// traffic sums the edges into (direction "in") or out of a node per unit,
// with the mTLS share of each: [{unit: 'req/s', rate, share, known}].
export function traffic(snapshot, nodeID, direction) {
  const groups = new Map();
  for (const e of snapshot.edges) {
    if ((direction === 'in' ? e.target : e.source) !== nodeID) continue;
    const unit = e.protocol === 'tcp' ? 'tcp' : 'req';
    const g = groups.get(unit) || { unit, rate: 0, knownRate: 0, secure: 0, edges: 0 };
    g.edges++;
    if (finite(e.rate) && e.rate > 0) {
      g.rate += e.rate;
      if (e.status !== 'unknown' && finite(e.mtlsRatio)) {
        g.knownRate += e.rate;
        g.secure += e.rate * Math.min(Math.max(e.mtlsRatio, 0), 1);
      }
    }
    groups.set(unit, g);
  }
  return [...groups.values()].map((g) => ({
    protocol: g.unit === 'tcp' ? 'tcp' : 'http',
    rate: g.rate,
    edges: g.edges,
    share: g.knownRate > 0 ? g.secure / g.knownRate : null,
  }));
}

// GATEWAY_PEER_AUTH_TEXT replaces a gateway's PeerAuthentication mode:
// Istio applies PeerAuthentication to sidecars' inbound listeners only.
export const GATEWAY_PEER_AUTH_TEXT = "does not apply to a gateway's listeners";

// portText: "9080 → 8080 http STRICT" (as web/page.go's portText); "?" for
// a target port that could not be resolved; no mode on a gateway.
export function portText(p, gateway = false) {
  const target = p.targetPort ? String(p.targetPort) : '?';
  const s = `${p.port} → ${target} ${p.protocol || 'auto'}`;
  return gateway ? s : `${s} ${p.peerAuthentication || 'UNSET'}`;
}

// callerTLSText: "default/productpage: ISTIO_MUTUAL (default/reviews)", what
// one caller's DestinationRule sets when the callers differ.
export function callerTLSText(c) {
  const s = `${c.caller}: ${c.tls || 'no TLS setting'}`;
  return c.rule ? `${s} (${c.rule})` : s;
}

// nodeRow is a row of the node table, as web/page.go's newNodeRow makes it.
export function nodeRow(n) {
  const gateway = n.kind === 'gateway';
  const varies = n.destinationRuleTLS === 'VARIES';
  return {
    id: n.id,
    namespace: n.namespace || '',
    name: displayName(n),
    kind: n.kind,
    sidecar: n.inMesh ? 'yes' : 'no',
    peerAuth: gateway ? GATEWAY_PEER_AUTH_TEXT : n.peerAuthentication || 'UNSET',
    drTLS: varies ? 'varies by caller' : n.destinationRuleTLS || 'none',
    callers: varies ? (n.callerTLS || []).map(callerTLSText) : [],
    ports: (n.ports || []).map((p) => portText(p, gateway)),
  };
}

// peerAuthText explains a node's effective PeerAuthentication mode.
export function peerAuthText(mode) {
  switch (mode) {
    case 'STRICT':
      return 'STRICT: only mTLS is accepted';
    case 'PERMISSIVE':
      return 'PERMISSIVE: mTLS and plaintext are accepted';
    case 'DISABLE':
      return 'DISABLE: mTLS is not accepted';
    case 'UNSET':
    case '':
    case undefined:
      return 'UNSET: no PeerAuthentication applies, so Istio treats it as PERMISSIVE';
  }
  return mode;
}

// destinationRuleText explains the client-side TLS mode towards a node.
export function destinationRuleText(mode) {
  switch (mode) {
    case 'ISTIO_MUTUAL':
      return 'ISTIO_MUTUAL: clients send mTLS';
    case 'DISABLE':
      return 'DISABLE: clients send plaintext';
    case 'SIMPLE':
      return 'SIMPLE: clients originate TLS, without a client certificate';
    case 'MUTUAL':
      return 'MUTUAL: clients originate mTLS with their own certificates';
    case 'VARIES':
      return 'VARIES: the callers get different modes';
    case '':
    case undefined:
      return 'none set: auto mTLS decides, if enabled';
  }
  return mode;
}

// namespacesOf lists the namespaces of the nodes, sorted.
export function namespacesOf(snapshot) {
  const set = new Set();
  for (const n of snapshot.nodes) if (n.namespace) set.add(n.namespace);
  return [...set].sort(compareStrings);
}

// emptyMessage says why the graph is empty.
export function emptyMessage(namespaces, snapshot) {
  if (namespaces.length === 1) return `No services in namespace ${namespaces[0]}`;
  if (namespaces.length > 1) return `No services in namespaces ${namespaces.join(', ')}`;
  if (!snapshot.generatedAt || snapshot.generatedAt.startsWith('0001-')) {
    return 'No services yet: waiting for the first refresh';
  }
  return 'No services found in the mesh';
}

// hasTime is false for Go's zero time, which the first stale snapshot carries.
export function hasTime(generatedAt) {
  return !!generatedAt && !generatedAt.startsWith('0001-');
}

// ---- enforcing mTLS ---------------------------------------------------------

export const ENFORCE_MODES = [
  { value: 'destinationrule', label: 'DestinationRule ISTIO_MUTUAL (client side)' },
  { value: 'peerauthentication', label: 'PeerAuthentication STRICT (server side)' },
];

export function modeLabel(mode) {
  return ENFORCE_MODES.find((m) => m.value === mode)?.label || mode || '';
}

// enforceTarget reads the scope of an enforce button's dataset: the mesh,
// a namespace or a service (null when the dataset is incomplete).
export function enforceTarget(scope, namespace = '', service = '') {
  if (scope === 'mesh') return { scope: 'mesh', namespace: '', service: '' };
  if (scope === 'namespace' && namespace) return { scope: 'namespace', namespace, service: '' };
  if (scope === 'service' && namespace && service) return { scope: 'service', namespace, service };
  return null;
}

// scopeLabel names what an action covers: "mesh", "namespace default",
// "service default/reviews" (an enforce target or a recorded action).
export function scopeLabel(t) {
  switch (t?.scope) {
    case 'mesh':
      return 'mesh';
    case 'namespace':
      return `namespace ${t.namespace}`;
    case 'service':
      return `service ${t.namespace}/${t.service}`;
  }
  return t?.scope || '';
}

// enforceRequest is the body of POST api/enforce. Fields a scope does not
// use are left out: the server refuses them rather than widen the scope.
export function enforceRequest(target, mode, dryRun) {
  const req = { scope: target.scope, mode, dryRun: !!dryRun };
  if (target.scope === 'namespace' || target.scope === 'service') req.namespace = target.namespace;
  if (target.scope === 'service') req.service = target.service;
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
export function applyState({ loading = false, applying = false, plan = null, error = '' } = {}) {
  if (loading) return { enabled: false, reason: 'Computing the plan…' };
  if (applying) return { enabled: false, reason: 'Applying…' };
  if (!plan) return { enabled: false, reason: error ? 'No plan: see the error above.' : 'No plan yet.' };
  const s = planSummary(plan);
  if (s.conflicts) return { enabled: false, reason: `${s.conflicts} conflict${s.conflicts === 1 ? '' : 's'}: resolve ${s.conflicts === 1 ? 'it' : 'them'} in the cluster first.` };
  if (s.changing === 0) return { enabled: false, reason: s.total ? 'Nothing to change: mTLS is already enforced here.' : 'Nothing to change: no service in scope.' };
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

// errorText is what a failed API call says: the server's {"error": ...},
// else the HTTP status.
export function errorText(status, body) {
  let msg = '';
  if (body && typeof body === 'object' && typeof body.error === 'string') msg = body.error;
  else if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body);
      if (parsed && typeof parsed.error === 'string') msg = parsed.error;
    } catch {
      msg = body.trim().slice(0, 300);
    }
  }
  const prefix = { 400: 'Bad request', 401: 'Not signed in', 403: 'Forbidden', 404: 'Not found', 409: 'Conflict', 413: 'Too large' }[status];
  if (!status) return msg || 'The server could not be reached.';
  const head = prefix ? `${prefix} (${status})` : `Error ${status}`;
  return msg ? `${head}: ${msg}` : head;
}
