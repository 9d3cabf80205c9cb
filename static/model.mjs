// meshlock's pure snapshot logic: no DOM, no network. The snapshot as the
// server sends it (normalized, deltas applied in the server's order), the
// posture of a subset of edges, grouping, URLs, sorting and filtering, the
// look-back and its idle edges.
// format.mjs words what this computes; static/test/ tests both with
// `node --test static/`.

import { namespaceKey, normalizeClusters, normalizeSources } from './clusters.mjs';

// Several clusters' logic lives in clusters.mjs; the views get it from here too.
export * from './clusters.mjs';

export const finite = (x) => typeof x === 'number' && Number.isFinite(x);

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
    lookback: normalizeLookback(s.lookback),
    clusters: normalizeClusters(s.clusters),
    sources: normalizeSources(s.sources),
    nodes: [...(s.nodes || [])].sort(byID),
    edges: [...(s.edges || [])].sort(byID),
    findings: [...(s.findings || [])].sort(compareFindings),
  };
}

// applyList upserts changed and drops removed. A list nothing changed is
// returned as it was, so that the views can skip it; one whose items were
// only updated in place keeps its order without a sort: the common delta
// (a few edges change status) costs a copy, not a sort of thousands.
function applyList(current, changed, removed, compare) {
  changed = changed || [];
  removed = removed || [];
  if (!changed.length && !removed.length) return current;
  if (!removed.length) {
    const at = new Map();
    for (const item of changed) at.set(item.id, -1);
    let found = 0;
    current.forEach((item, i) => {
      if (at.has(item.id)) {
        at.set(item.id, i);
        found++;
      }
    });
    if (found === at.size && found === changed.length && compare !== compareFindings) {
      const out = current.slice();
      for (const item of changed) out[at.get(item.id)] = item;
      return out;
    }
  }
  const drop = new Set(removed);
  for (const item of changed) drop.add(item.id);
  const out = current.filter((item) => !drop.has(item.id));
  out.push(...changed);
  return out.sort(compare);
}

// applyDelta returns the snapshot that delta turns s into, as the server's
// graph.Apply does: upsert nodes, edges and findings by id, delete the
// removed ids, take the header (the posture and the look-back come whole
// with every delta).
// s is not modified.
export function applyDelta(s, d) {
  return {
    generatedAt: d.generatedAt ?? s.generatedAt,
    window: d.window ?? s.window,
    stale: !!d.stale,
    error: d.error ?? '',
    posture: d.posture ? normalizePosture(d.posture) : s.posture,
    lookback: d.lookback ? normalizeLookback(d.lookback) : s.lookback,
    // The configured clusters do not change while meshlock runs: a delta
    // without them keeps the last; the sources come whole with every delta.
    clusters: Array.isArray(d.clusters) ? normalizeClusters(d.clusters) : s.clusters || [],
    sources: Array.isArray(d.sources) ? normalizeSources(d.sources) : s.sources || [],
    nodes: applyList(s.nodes, d.nodes, d.removedNodes, byID),
    edges: applyList(s.edges, d.edges, d.removedEdges, byID),
    findings: applyList(s.findings, d.findings, d.removedFindings, compareFindings),
  };
}

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

export const LOOKBACK_STATES = ['loading', 'ready', 'off'];

// normalizeLookback: the look-back the snapshot (or an enforce plan)
// reports, null from a server without one. An unknown state counts as off,
// so that the page never claims callers it may not have looked for.
export function normalizeLookback(lb) {
  if (!lb || typeof lb !== 'object') return null;
  const time = (x) => (typeof x === 'string' && !x.startsWith('0001-') && !Number.isNaN(Date.parse(x)) ? x : null);
  return {
    window: typeof lb.window === 'string' ? lb.window : '',
    state: LOOKBACK_STATES.includes(lb.state) ? lb.state : 'off',
    from: time(lb.from),
    to: time(lb.to),
    error: typeof lb.error === 'string' ? lb.error : '',
  };
}

// isIdle: an edge known from the look-back only (no traffic in the rate window).
export const isIdle = (e) => e?.idle === true;

// shownEdges: the edges the graph and the table show, idle ones only when
// asked (or when kept, as the callers an enforce plan would cut).
export function shownEdges(edges, showIdle, keep = new Set()) {
  return showIdle ? edges : edges.filter((e) => !isIdle(e) || keep.has(e.id));
}

// postureOf sums edges as graph.ComputePosture does on the server, for a
// subset of the snapshot's edges (the whole snapshot's comes computed):
// HTTP and gRPC in requests/s, TCP in bytes/s, never added together; an
// edge of unknown status counts in unknownRate only. Idle edges are left
// out, as the server leaves them out.
export function postureOf(edges) {
  const p = normalizePosture(null);
  for (const e of edges) {
    if (isIdle(e)) continue;
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

export const OUTSIDE_GROUP = 'group:outside';
// groupOf is the compound parent of a node: its namespace (with several
// clusters, its cluster's namespace), or the "outside the mesh" group for
// the unknown caller (and anything without a namespace).
export function groupOf(node) {
  const key = namespaceKey(node);
  return key ? `ns:${key}` : OUTSIDE_GROUP;
}

// parseList reads ?<name>=a,b (also repeated) from a search string.
export function parseList(search, name) {
  const params = new URLSearchParams(search);
  const out = [];
  for (const value of params.getAll(name)) {
    for (let x of value.split(',')) {
      x = x.trim();
      if (x && !out.includes(x)) out.push(x);
    }
  }
  return out;
}

function paramName(part) {
  const raw = part.split('=')[0].replace(/\+/g, ' ');
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

// withList returns search with the parameter name replaced (one
// comma-separated parameter, or none for all), other parameters kept.
export function withList(search, name, list) {
  // Other parameters stay as they were written (another filter's commas too).
  const out = String(search || '')
    .replace(/^\?/, '')
    .split('&')
    .filter((part) => part && paramName(part) !== name)
    .join('&');
  // Commas stay readable: ?namespace=a,b rather than a%2Cb.
  const value = list.length ? `${name}=${list.map(encodeURIComponent).join(',')}` : '';
  const all = [out, value].filter(Boolean).join('&');
  return all ? `?${all}` : '';
}

// parseNamespaces reads ?namespace=a,b (also repeated) from a search string.
export const parseNamespaces = (search) => parseList(search, 'namespace');

// withNamespaces returns search with the namespace filter replaced.
export const withNamespaces = (search, namespaces) => withList(search, 'namespace', namespaces);

// parseClusters reads ?cluster=a,b (also repeated), as parseNamespaces.
export const parseClusters = (search) => parseList(search, 'cluster');

// withClusters returns search with the cluster filter replaced.
export const withClusters = (search, clusters) => withList(search, 'cluster', clusters);

// filterQuery: the query of api/graph and the stream for the namespace and
// the cluster filters ('' for everything).
export const filterQuery = (namespaces, clusters = []) => withClusters(withNamespaces('', namespaces), clusters);

// streamURL is the WebSocket address of the stream, relative to the page:
// ws: or wss: as the page, same host, path and base.
export function streamURL(pageHref, namespaces, clusters = []) {
  const url = new URL('api/stream', pageHref);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = filterQuery(namespaces, clusters);
  url.hash = '';
  return url.toString();
}

// backoffDelay: 0.5 s doubling to 10 s, by attempt (0, 1, 2, ...).
export function backoffDelay(attempt) {
  return Math.min(10000, 500 * 2 ** Math.min(attempt, 10));
}

const STATUS_RANK = { open: 0, mixed: 1, unknown: 2, locked: 3 };

// sortEdges orders table rows by a column; ties by edge id. Idle edges
// rank below every live rate. Each row's key is computed once (thousands
// of rows are sorted for each delta).
export function sortEdges(edges, key, dir) {
  const sign = dir === 'descending' ? -1 : 1;
  const value = {
    source: (e) => e.source,
    target: (e) => e.target,
    protocol: (e) => e.protocol,
    rate: (e) => (isIdle(e) ? -2 : finite(e.rate) ? e.rate : -1),
    mtls: (e) => (e.status === 'unknown' || !finite(e.mtlsRatio) ? -1 : e.mtlsRatio),
    status: (e) => STATUS_RANK[e.status] ?? 4,
  }[key] || ((e) => e.id);
  const keyed = edges.map((e) => ({ v: value(e), e }));
  const numeric = keyed.length > 0 && typeof keyed[0].v === 'number';
  keyed.sort((a, b) => {
    const c = numeric ? a.v - b.v : a.v < b.v ? -1 : a.v > b.v ? 1 : 0;
    return sign * c || compareStrings(a.e.id, b.e.id);
  });
  return keyed.map((x) => x.e);
}

export function filterEdges(edges, statuses) {
  return edges.filter((e) => statuses.has(STATUSES.includes(e.status) ? e.status : 'unknown'));
}

// findingTarget is what selecting a finding shows: its first edge in the
// snapshot, else its first node there, else null. index holds the
// snapshot's ids ({edges, nodes}: Sets or Maps, the store's indexes); made
// from the snapshot when not given (for each finding of thousands of edges
// that would cost more than drawing them).
export function findingTarget(finding, snapshot, index = null) {
  const edges = index?.edges ?? new Set(snapshot.edges.map((e) => e.id));
  const nodes = index?.nodes ?? new Set(snapshot.nodes.map((n) => n.id));
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

// traffic sums the live edges into (direction "in") or out of a node per
// unit, with the mTLS share of each: [{unit: 'req/s', rate, share, known}].
export function traffic(snapshot, nodeID, direction) {
  const groups = new Map();
  for (const e of snapshot.edges) {
    if ((direction === 'in' ? e.target : e.source) !== nodeID || isIdle(e)) continue;
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

// idleCount counts the idle edges into (direction "in") or out of a node.
export function idleCount(snapshot, nodeID, direction) {
  return snapshot.edges.filter((e) => isIdle(e) && (direction === 'in' ? e.target : e.source) === nodeID).length;
}

// namespacesOf lists the namespaces of the nodes, sorted.
export function namespacesOf(snapshot) {
  const set = new Set();
  for (const n of snapshot.nodes) if (n.namespace) set.add(n.namespace);
  return [...set].sort(compareStrings);
}
