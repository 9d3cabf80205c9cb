// meshlock's words: how the page writes rates, shares, ages, names and
// node policies, with no DOM. The rules web/page.go also needs (for the
// page without JavaScript) are checked against one shared table of cases,
// testdata/formatting.json, by static/test/format.test.mjs and
// web/page_test.go alike; those of the look-back (times, volumes) only the
// script writes, and format.test.mjs checks them alone.

import { STATUSES, crossClusterText, finite, isIdle, isStale, normalizePosture } from './model.mjs';
import { authzDecision, authzText, deniedText } from './access.mjs';
import { formatNumber } from './number.mjs';

export const SHARE_SEPARATOR = ' · ';

// postureView words the server's posture as the header shows it
// (web/page.go's postureText writes the same text for the page without
// JavaScript): parts for the protocols with traffic of known security,
// text "87% of requests · 100% of TCP bytes" or "—", and share, the one
// number data-share carries (HTTP's, else TCP's, else '').
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

export { formatNumber } from './number.mjs';

// formatRate: req/s for HTTP and gRPC, bytes/s (SI multiples) for TCP.
export function formatRate(rate, protocol) {
  if (!finite(rate)) return '—';
  if (protocol === 'tcp') return `${formatBytes(rate)}/s`;
  return `${formatNumber(rate)} req/s`;
}

// formatBytes: bytes with SI multiples ("512 B", "2.5 kB", "3.2 MB").
export function formatBytes(n) {
  const units = ['B', 'kB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${formatNumber(n)} ${units[i]}`;
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
      return 'open, plain text';
  }
  return 'unknown security (the server side did not report)';
}

// displayName is a node's name as shown: "sa:<name>" for a ServiceAccount
// node (the prefix is what tells it from a workload); the node standing
// for the namespaces the viewer may not see says so.
export function displayName(n) {
  if (n.kind === 'hidden') return 'hidden (a namespace you cannot see)';
  if (n.kind === 'serviceaccount' && !String(n.name).startsWith('sa:')) return `sa:${n.name}`;
  return n.name;
}

// nodeName is the short name of a node id ("default/reviews" → "reviews",
// "east/default/reviews" → "reviews").
export function nodeName(id, nodesById) {
  const n = nodesById && nodesById.get(id);
  if (n && (n.name || n.kind === 'hidden')) return displayName(n);
  const i = id.lastIndexOf('/');
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
  const refused = refusedText(edge);
  let label = `${nodeName(edge.source, nodesById)} → ${nodeName(edge.target, nodesById)} (${edge.protocol}): ${statusPhrase({ ...edge, status })}`;
  if (failing) label += `; ${failing}`;
  if (refused) label += `; ${refused}`;
  const idle = isIdle(edge);
  if (idle) label += '; idle: no traffic now, seen in the look-back';
  const cross = crossClusterText(edge, nodesById);
  if (cross) label += `; ${cross}`;
  const stale = isStale(edge);
  if (stale) label += "; stale: a cluster's Kubernetes API is not answering";
  const authz = authzDecision(edge);
  if (authz) label += `; ${authzText(edge)}`;
  const denied = deniedText(edge);
  if (denied) label += `; ${denied}`;
  return { status, icon: `lock-${status}.svg`, text, label, tlsFailing: !!failing, refused: !!refused, idle, crossCluster: !!cross, stale, authz, denied: !!denied };
}


// refusedText: "refused by policy: 2.0 conn/s" (ambient mode's STRICT
// turning plaintext away at the destination's ztunnel), or ''.
export function refusedText(edge) {
  const r = edge.refusedRate;
  if (!finite(r) || r <= 0) return '';
  return `refused by policy: ${formatNumber(r)} conn/s`;
}

// dataPlaneText is how a node meets the mesh, in a word or two: its
// dataPlane, or for a snapshot without one whether it is in the mesh.
export function dataPlaneText(n) {
  switch (n.dataPlane) {
    case 'sidecar':
      return 'sidecar';
    case 'ambient':
      return 'ambient (ztunnel)';
    case 'waypoint':
      return 'waypoint';
  }
  return n.inMesh ? 'in the mesh' : 'none';
}

// tlsFailureText: "failing at TLS handshake: 2.0 req/s" (connections/s for
// TCP, which counts connections, not bytes, here), or '' when none fail.
export function tlsFailureText(edge) {
  const r = edge.tlsFailureRate;
  if (!finite(r) || r <= 0) return '';
  return `failing at TLS handshake: ${formatNumber(r)} ${edge.protocol === 'tcp' ? 'conn/s' : 'req/s'}`;
}

// GATEWAY_PEER_AUTH_TEXT replaces a gateway's PeerAuthentication mode:
// Istio applies PeerAuthentication to sidecars' inbound listeners only.
export const GATEWAY_PEER_AUTH_TEXT = "does not apply to a gateway's listeners";

// portText: "9080 → 8080 http STRICT"; "?" for
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

// nodeRow is a row of the node table, in words.
export function nodeRow(n) {
  const gateway = n.kind === 'gateway';
  const varies = n.destinationRuleTLS === 'VARIES';
  return {
    id: n.id,
    // With several clusters only: a single cluster's rows are as they were.
    ...(n.cluster ? { cluster: n.cluster } : {}),
    ...(isStale(n) ? { stale: true } : {}),
    namespace: n.namespace || '',
    name: displayName(n),
    kind: n.kind,
    dataPlane: dataPlaneText(n),
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

// ---- the look-back: times, spans, volumes ----

// formatWhen: a moment as the viewer's clock says it, short ("Nov 24,
// 14:00"); opts go to toLocaleString (the tests fix locale and timeZone).
export function formatWhen(iso, { locale = [], ...opts } = {}) {
  if (!isTime(iso)) return '—';
  const d = new Date(iso);
  return d.toLocaleString(locale, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', ...opts });
}

// formatAgo: how long ago, coarse on purpose (a label that changes every
// second would churn the graph's badges): "<1 min ago", "5 min ago",
// "3 h ago", "2 d ago".
export function formatAgo(ageMs) {
  if (!finite(ageMs)) return '—';
  const min = Math.floor(Math.max(0, ageMs) / 60000);
  if (min < 1) return '<1 min ago';
  if (min < 60) return `${min} min ago`;
  if (min < 48 * 60) return `${Math.floor(min / 60)} h ago`;
  return `${Math.floor(min / 1440)} d ago`;
}

// isTime: an RFC 3339 time that is not Go's zero time (a time.Time the
// server could not fill).
export const isTime = (iso) => typeof iso === 'string' && hasTime(iso) && !Number.isNaN(Date.parse(iso));

// ago: formatAgo of a time (RFC 3339) seen from nowMs; '—' when invalid.
export function ago(iso, nowMs) {
  return isTime(iso) ? formatAgo(nowMs - Date.parse(iso)) : '—';
}

// formatSpan: a duration as the flags write it, the two largest parts:
// "7d", "1d 2h", "3h 5m", "12m", "45s".
export function formatSpan(ms) {
  if (!finite(ms) || ms < 0) return '—';
  if (ms < 60000) return `${Math.round(ms / 1000)}s`;
  const min = Math.round(ms / 60000);
  const parts = [
    [Math.floor(min / 1440), 'd'],
    [Math.floor((min % 1440) / 60), 'h'],
    [min % 60, 'm'],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, u]) => `${n}${u}`)
    .join(' ');
}

// formatCount: a count with SI multiples ("950", "1.2k", "34.5M"); "<1"
// for the fractions an extrapolated increase can give.
export function formatCount(n) {
  if (!finite(n)) return '—';
  const a = Math.abs(n);
  if (a === 0) return '0';
  if (a < 1) return '<1';
  if (Math.round(a) < 1000) return String(Math.round(n));
  const units = ['k', 'M', 'G', 'T'];
  let i = 0;
  n /= 1000;
  while (Math.abs(n) >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  // 999.6 rounds up to a thousand: "1.0k", not "1.00k".
  return `${formatNumber(Math.sign(n) * Math.max(Math.abs(n), 1))}${units[i]}`;
}

// formatVolume: what an edge carried over the look-back, in its unit
// ("requests", "bytes", "connections"): "1.2k requests", "3.4 MB".
export function formatVolume(volume, unit) {
  if (!finite(volume)) return '—';
  if (unit === 'bytes') return formatBytes(volume);
  const noun = unit === 'connections' ? 'connection' : 'request';
  return `${formatCount(volume)} ${noun}${volume === 1 ? '' : 's'}`;
}

// volumeShare: the mTLS share of a look-back's volume, null when it carried nothing.
export function volumeShare(history) {
  if (!history || !finite(history.volume) || history.volume <= 0 || !finite(history.mtlsVolume)) return null;
  return Math.min(Math.max(history.mtlsVolume / history.volume, 0), 1);
}

// lookbackSpan names how far back the look-back reaches: its window when
// ready ("7d"), what it covers so far while loading ("2d 3h"), '' else.
export function lookbackSpan(lb) {
  if (!lb || lb.state === 'off') return '';
  if (lb.state === 'loading' && lb.from && lb.to) return formatSpan(Date.parse(lb.to) - Date.parse(lb.from));
  return lb.window;
}

// lookbackView is the header's look-back indicator: its text, its title
// (the period covered, the error), whether it warns, hidden without one
// (an older server).
export function lookbackView(lb, when = formatWhen) {
  if (!lb) return { state: '', text: '', title: '', warn: false, hidden: true };
  const period = lb.from && lb.to ? `from ${when(lb.from)} to ${when(lb.to)}` : '';
  let text;
  let title;
  if (lb.state === 'off') {
    text = 'Look-back off';
    title = 'No look-back (--lookback=0): only the callers of the rate window are known.';
  } else if (lb.state === 'loading') {
    text = lb.from ? `Look-back loading (since ${when(lb.from)})…` : 'Look-back loading…';
    title = `Reading the last ${lb.window || '?'} of traffic${period ? `; covered so far: ${period}` : ''}. Older callers may be missing until it is done.`;
  } else {
    text = `Look-back ${lb.window}`;
    title = `Callers of the last ${lb.window} are known${period ? ` (${period})` : ''}, idle ones too.`;
  }
  if (lb.error) title += ` Look-back error: ${lb.error}`;
  return { state: lb.state, text, title, warn: !!lb.error, hidden: false };
}

// historyView words an edge's look-back for the side panel: when it was
// last seen, when traffic not proven mTLS last was, and its volume with
// the mTLS share; null when the look-back knows nothing of it.
export function historyView(edge, lookback, nowMs, when = formatWhen) {
  const hs = edge?.history;
  if (!hs || typeof hs !== 'object') return null;
  const at = (iso) => ({ text: ago(iso, nowMs), title: when(iso), datetime: iso });
  const span = lookbackSpan(lookback);
  const share = volumeShare(hs);
  const since = lookback?.state === 'loading' && lookback.from ? ` so far (since ${when(lookback.from)})` : span ? ` (${span})` : '';
  return {
    lastSeen: isTime(hs.lastSeen) ? at(hs.lastSeen) : { text: 'not known', title: '', datetime: '' },
    plaintext: isTime(hs.plaintextLastSeen) ? at(hs.plaintextLastSeen) : { text: `no plaintext in the look-back${since}`, title: '', datetime: '' },
    volume: `${formatVolume(hs.volume, hs.unit)}${share === null ? '' : `, ${formatPercent(share)} mTLS`}${span ? ` over ${span}` : ''}`,
    idle: isIdle(edge),
  };
}
