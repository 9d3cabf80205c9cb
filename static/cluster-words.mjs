// meshlock's words for several clusters (issue 24), with no DOM: a
// cluster's Kubernetes API not answering (since its last good fetch), what
// a stale node or edge says of it, and each source's state for the header.
// static/test/clusters.test.mjs tests them under Node.

import { clusterOf, clusterSource, isStale } from './clusters.mjs';
import { formatWhen } from './format.mjs';

// clusterStaleText: "cluster east: Kubernetes API not answering since
// Dec 1, 11:58" (since its last good fetch; the source's error after it),
// from the snapshot's source of that cluster.
export function clusterStaleText(cluster, snapshot, when = formatWhen) {
  const src = clusterSource(snapshot, cluster);
  const since = src?.lastSuccess ? ` since ${when(src.lastSuccess)}` : '';
  return `cluster ${cluster}: Kubernetes API not answering${since}`;
}

// staleTexts: what a stale node or edge says of its clusters' APIs (for an
// edge either end's cluster may be the one down), [] for a fresh one.
export function staleTexts(x, snapshot, nodesById, when = formatWhen) {
  if (!isStale(x)) return [];
  const ids = x.source !== undefined ? [x.source, x.target] : [x.id];
  const down = new Set((snapshot?.sources || []).filter((s) => s.cluster && !s.ok).map((s) => s.cluster));
  const clusters = [...new Set(ids.map((id) => clusterOf(id, nodesById)).filter(Boolean))];
  const named = clusters.filter((c) => down.has(c) || !down.size);
  if (!named.length) return ["its cluster's Kubernetes API is not answering"];
  return named.map((c) => clusterStaleText(c, snapshot, when));
}

// sourceView words one source of the snapshot for the header: "prometheus
// ok", "east: not answering since …".
export function sourceView(src, when = formatWhen) {
  const label = src.cluster ? src.cluster : src.name;
  const state = src.ok ? 'ok' : 'down';
  const since = !src.ok && src.lastSuccess ? ` since ${when(src.lastSuccess)}` : '';
  const what = src.cluster ? `Kubernetes API of cluster ${src.cluster}` : src.name;
  const text = src.ok ? `${label} ok` : `${label}: not answering${since}`;
  const title = src.ok ? `${what}: answering` : `${what}: not answering${since}${src.error ? ` (${src.error})` : ''}`;
  return { label, state, text, title };
}
