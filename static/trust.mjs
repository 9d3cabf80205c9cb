// meshlock's identity and trust, with no DOM (issue 22): how long a root
// or a proxy certificate has left and how urgent that is, the words of a
// root certificate (fingerprint, key, namespaces), which observed principals
// are not the workload's own, the edges a principal-mismatch finding
// names, and the policy that loads GET api/identity (once when the panel
// opens, then at most once per refresh of the graph while it is open).
// identity.js and panel.js draw it; static/test/trust.test.mjs tests it
// under Node.

import { errorText, unreachableText } from './api.mjs';
import { isTime } from './format.mjs';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

// The server's defaults (--cert-warn, --cert-critical, --workload-cert-warn):
// a root is a warning within 30 days, critical within 7 days or expired; a
// proxy certificate with less than 6 h left has stopped rotating.
export const ROOT_WARN_MS = 30 * DAY_MS;
export const ROOT_CRITICAL_MS = 7 * DAY_MS;
export const WORKLOAD_WARN_MS = 6 * HOUR_MS;

// The finding kinds of identity and trust.
export const PRINCIPAL_MISMATCH = 'principal-mismatch';
export const IDENTITY_KINDS = ['root-cert-expiring', 'root-cert-mismatch', PRINCIPAL_MISMATCH, 'workload-cert-expiring'];
export const ROOT_KINDS = ['root-cert-expiring', 'root-cert-mismatch'];

// MISMATCH_LABEL: what an edge of a principal-mismatch finding says (its
// padlock's label, the table's row); MISMATCH_TAG the short mark beside it.
export const MISMATCH_LABEL = 'principal mismatch: an identity on it is not its workload’s';
export const MISMATCH_TAG = '≠ identity';

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

// formatDuration: a span in its two largest units, "3 d 4 h", "11 h 20 min",
// "45 min", "<1 min".
export function formatDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  const min = Math.floor(Math.abs(ms) / MINUTE_MS);
  if (min < 1) return '<1 min';
  const parts = [
    [Math.floor(min / 1440), 'd'],
    [Math.floor((min % 1440) / 60), 'h'],
    [min % 60, 'min'],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, u]) => `${n} ${u}`)
    .join(' ');
}

// expiryLevel: 'critical' when expired or within criticalMs, 'warning'
// within warnMs, 'ok' otherwise ('' for no time).
export function expiryLevel(msLeft, warnMs, criticalMs = 0) {
  if (typeof msLeft !== 'number' || !Number.isFinite(msLeft)) return '';
  if (msLeft <= 0 || msLeft <= criticalMs) return 'critical';
  if (msLeft <= warnMs) return 'warning';
  return 'ok';
}

// daysLeft: the whole days until iso (19.9 days is 19), negative once past
// (a day and a half ago is -2); null for no time.
export function daysLeft(iso, nowMs) {
  if (!isTime(iso)) return null;
  return Math.floor((Date.parse(iso) - nowMs) / DAY_MS);
}

// expiryView words when a root (or istiod's CA) expires: text "expires in
// 19 days" / "expires in 5 h 10 min" / "expired 3 days ago", short "19 d"
// (the header's badge), level by the root thresholds, days as daysLeft.
export function expiryView(iso, nowMs, { warnMs = ROOT_WARN_MS, criticalMs = ROOT_CRITICAL_MS } = {}) {
  if (!isTime(iso)) return { known: false, level: '', text: 'unknown', short: '?', days: null, expired: false };
  const ms = Date.parse(iso) - nowMs;
  const level = expiryLevel(ms, warnMs, criticalMs);
  const days = daysLeft(iso, nowMs);
  if (ms <= 0) {
    const ago = Math.floor(-ms / DAY_MS);
    return { known: true, level, days, expired: true, short: 'expired', text: ago >= 1 ? `expired ${plural(ago, 'day')} ago` : `expired ${formatDuration(-ms)} ago` };
  }
  if (days >= 1) return { known: true, level, days, expired: false, short: `${days} d`, text: `expires in ${plural(days, 'day')}` };
  return { known: true, level, days, expired: false, short: formatDuration(ms).split(' ').slice(0, 2).join(' '), text: `expires in ${formatDuration(ms)}` };
}

// certLeftView words a proxy certificate's remaining life: "11 h 20 min
// left" (warning under warnMs), "expired 2 h ago" (critical), or unknown.
export function certLeftView(iso, nowMs, { warnMs = WORKLOAD_WARN_MS } = {}) {
  if (!isTime(iso)) return { known: false, level: '', text: 'unknown', expired: false };
  const ms = Date.parse(iso) - nowMs;
  if (ms <= 0) return { known: true, level: 'critical', text: `expired ${formatDuration(-ms)} ago`, expired: true };
  return { known: true, level: ms < warnMs ? 'warning' : 'ok', text: `${formatDuration(ms)} left`, expired: false };
}

// LEVEL_WORDS: what a level says besides its colour.
export const LEVEL_WORDS = { ok: '', warning: 'expiring soon', critical: 'critical' };
export const LEVEL_ICON = { ok: '', warning: '⚠', critical: '✖' };

// shortFingerprint: the first 8 bytes of a hex fingerprint, colon-separated
// ("ab:cd:…"), as certificate tools print them; the whole one goes in a title.
export function shortFingerprint(fp) {
  const hex = String(fp || '').toLowerCase().replace(/[^0-9a-f]/g, '');
  if (!hex) return '?';
  const pairs = hex.slice(0, 16).match(/.{1,2}/g).join(':');
  return hex.length > 16 ? `${pairs}…` : pairs;
}

const CURVES = { 256: 'P-256', 384: 'P-384', 521: 'P-521', 224: 'P-224' };

// keyText: "RSA 2048-bit", "ECDSA P-256", "Ed25519".
export function keyText(root) {
  const alg = root?.keyAlgorithm || '';
  const size = Number.isInteger(root?.keySize) && root.keySize > 0 ? root.keySize : 0;
  if (!alg) return size ? `${size}-bit` : 'unknown';
  if (alg === 'ECDSA' && CURVES[size]) return `ECDSA ${CURVES[size]}`;
  if (alg === 'Ed25519' || !size) return alg;
  return `${alg} ${size}-bit`;
}

// namespacesView: the namespaces that hold a root, named when there are
// at most max of them, else counted ("42 namespaces") with the list kept
// for a disclosure.
export function namespacesView(list, max = 5) {
  const names = [...new Set((list || []).filter((x) => typeof x === 'string'))].sort();
  const count = names.length;
  if (!count) return { count, names, collapsed: false, text: 'no namespace' };
  return { count, names, collapsed: count > max, text: count > max ? plural(count, 'namespace') : names.join(', ') };
}

const timeOrNull = (x) => (isTime(x) ? x : null);
const strings = (x) => (Array.isArray(x) ? x.filter((s) => typeof s === 'string') : []);

// normalizeIdentity: GET api/identity's answer with every field present,
// the roots soonest to expire first; null when it is no trust inventory.
export function normalizeIdentity(body) {
  if (!body || typeof body !== 'object' || Array.isArray(body) || (body.roots != null && !Array.isArray(body.roots))) return null;
  const roots = (body.roots || [])
    .filter((r) => r && typeof r === 'object')
    .map((r) => ({
      fingerprint: String(r.fingerprint || ''),
      subject: String(r.subject || ''),
      issuer: String(r.issuer || ''),
      serial: String(r.serial || ''),
      notBefore: timeOrNull(r.notBefore),
      notAfter: timeOrNull(r.notAfter),
      keyAlgorithm: String(r.keyAlgorithm || ''),
      keySize: Number.isInteger(r.keySize) ? r.keySize : 0,
      selfSigned: r.selfSigned === true,
      namespaces: strings(r.namespaces),
    }));
  const at = (r) => (r.notAfter ? Date.parse(r.notAfter) : Infinity);
  roots.sort((a, b) => at(a) - at(b) || (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0));
  return {
    trustDomain: typeof body.trustDomain === 'string' ? body.trustDomain : '',
    trustDomainAliases: strings(body.trustDomainAliases),
    roots,
    ca: { rootExpiry: timeOrNull(body.ca?.rootExpiry), chainExpiry: timeOrNull(body.ca?.chainExpiry) },
    workloads: (Array.isArray(body.workloads) ? body.workloads : []).filter((w) => w && typeof w === 'object'),
    thresholds: thresholdsOf(body.thresholds),
  };
}

// thresholdsOf reads the server's thresholds (--cert-warn, --cert-critical,
// --workload-cert-warn, in seconds), the defaults where one is missing.
function thresholdsOf(t) {
  const ms = (v, def) => (Number.isFinite(v) && v > 0 ? v * 1000 : def);
  return {
    root: { warnMs: ms(t?.rootWarnSeconds, ROOT_WARN_MS), criticalMs: ms(t?.rootCriticalSeconds, ROOT_CRITICAL_MS) },
    workload: { warnMs: ms(t?.workloadWarnSeconds, WORKLOAD_WARN_MS) },
  };
}

// rootLimits and workloadLimits: the thresholds the identity answer
// (normalized) gives, the defaults without one.
export function rootLimits(identity) {
  return identity?.thresholds?.root || { warnMs: ROOT_WARN_MS, criticalMs: ROOT_CRITICAL_MS };
}
export function workloadLimits(identity) {
  return identity?.thresholds?.workload || { warnMs: WORKLOAD_WARN_MS };
}

// soonestRoot: the root that expires first (normalizeIdentity sorts them so).
export function soonestRoot(identity) {
  return identity?.roots?.find((r) => r.notAfter) || null;
}

// soonestWorkloadCert: the workload whose proxy certificate expires first.
export function soonestWorkloadCert(identity) {
  let best = null;
  for (const w of identity?.workloads || []) {
    if (isTime(w.certExpiry) && (!best || Date.parse(w.certExpiry) < Date.parse(best.certExpiry))) best = w;
  }
  return best;
}

// parsePrincipal: spiffe://<trust domain>/ns/<ns>/sa/<sa> in parts, null
// for anything else.
export function parsePrincipal(p) {
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(String(p || ''));
  return m ? { trustDomain: m[1], namespace: m[2], serviceAccount: m[3] } : null;
}

// principalMarks says of each principal a node's workloads were seen
// presenting whether it is one expected of them: 'expected'; 'alias' (the
// same namespace and ServiceAccount under one of the mesh's trust domain
// aliases, when those are known); 'mismatch' (any other); 'unchecked' when
// nothing is expected of the node (nothing to compare with).
export function principalMarks(node, { trustDomain = '', aliases = [] } = {}) {
  const expected = strings(node?.expectedPrincipals);
  const domains = new Set([trustDomain, ...aliases].filter(Boolean));
  const expectedParts = expected.map(parsePrincipal).filter(Boolean);
  const observed = strings(node?.observedPrincipals).map((principal) => {
    if (!expected.length) return { principal, match: 'unchecked' };
    if (expected.includes(principal)) return { principal, match: 'expected' };
    const p = parsePrincipal(principal);
    const alias =
      p && domains.has(p.trustDomain) && expectedParts.some((x) => x.namespace === p.namespace && x.serviceAccount === p.serviceAccount);
    return { principal, match: alias ? 'alias' : 'mismatch' };
  });
  return { expected, observed, mismatches: observed.filter((o) => o.match === 'mismatch').length };
}

const mismatchCache = new WeakMap();

// principalMismatchEdges: the ids of the edges a principal-mismatch finding
// names (kept per findings list: a delta that leaves the findings keeps it).
export function principalMismatchEdges(findings) {
  if (!Array.isArray(findings)) return new Set();
  let ids = mismatchCache.get(findings);
  if (!ids) {
    ids = new Set(findings.filter((f) => f?.kind === PRINCIPAL_MISMATCH).flatMap((f) => f.edges || []));
    mismatchCache.set(findings, ids);
  }
  return ids;
}

// mismatchEnds: which end of an edge presented a principal that is not its
// workload's, as its principal-mismatch findings say: 'client' when a
// finding names the edge's source (or its client principal), 'server' when
// it names its target (or its server principal).
export function mismatchEnds(edge, findings) {
  const ends = new Set();
  for (const f of findings || []) {
    if (f?.kind !== PRINCIPAL_MISMATCH || !(f.edges || []).includes(edge.id)) continue;
    const nodes = f.nodes || [];
    const msg = String(f.message || '');
    if (nodes.includes(edge.source) || (edge.sourcePrincipal && msg.includes(edge.sourcePrincipal))) ends.add('client');
    if (nodes.includes(edge.target) || (edge.destinationPrincipal && msg.includes(edge.destinationPrincipal))) ends.add('server');
  }
  return ends;
}

// worstSeverity of the findings of kinds: 'critical', 'warning', 'info' or ''.
export function worstSeverity(findings, kinds = ROOT_KINDS) {
  let worst = '';
  const rank = { critical: 3, warning: 2, info: 1, '': 0 };
  for (const f of findings || []) {
    if (kinds.includes(f?.kind) && (rank[f.severity] || 0) > rank[worst]) worst = f.severity;
  }
  return worst;
}

// createIdentityLoader loads GET api/identity with the page's API client
// (request, api.mjs) and says each change to onChange(patch): {status:
// 'loading'} then {status: 'ready', data, refresh, at} or {status:
// 'error', error} (the inventory held before is kept). refresh names a
// refresh of the graph (its generatedAt, and the namespace filter); path()
// is the URL asked for (the filter in its query). The policy:
//   open(refresh)       the panel opened: load, unless the answer of this
//                       refresh is held or on its way (a failed one is
//                       asked again);
//   refreshed(refresh)  a snapshot came while it is open: load at most once
//                       per refresh, never two at a time (one asked while a
//                       load is on its way follows it, for the last refresh);
//   retry(refresh)      the person asks again (not while a load is on its way);
//   close()             the panel closed: a load that waits is dropped.
// Each returns whether it asked the server now; settled() waits for the
// loads on their way and those that follow them.
export function createIdentityLoader({ request, path = () => 'api/identity', onChange = () => {}, now = () => Date.now() }) {
  let asked; // the refresh the last load was asked for
  let held; // the refresh whose inventory is held
  let busy = false;
  let queued; // a refresh asked for while busy
  let hasQueued = false;
  let current = Promise.resolve();

  async function run(refresh) {
    asked = refresh;
    busy = true;
    onChange({ status: 'loading' });
    let patch;
    try {
      const res = await request(path());
      const data = res.ok ? normalizeIdentity(res.body) : null;
      if (data) patch = { status: 'ready', data, error: '', refresh, at: now() };
      else if (res.ok) patch = { status: 'error', error: 'The server’s answer was not a trust inventory.' };
      else patch = { status: 'error', error: errorText(res.status, res.body) };
    } catch (err) {
      patch = { status: 'error', error: unreachableText(err) };
    }
    busy = false;
    if (patch.status === 'ready') held = refresh;
    onChange(patch);
    if (hasQueued) {
      const next = queued;
      hasQueued = false;
      queued = undefined;
      if (next !== asked) await run(next);
    }
  }

  function load(refresh) {
    if (busy) {
      if (refresh === asked) hasQueued = false; // the load on its way is of this refresh
      else [queued, hasQueued] = [refresh, true];
      return false;
    }
    current = run(refresh);
    return true;
  }

  return {
    open(refresh) {
      if (held === refresh) return false;
      return load(refresh);
    },
    refreshed(refresh) {
      if (!busy && refresh === asked) return false;
      return load(refresh);
    },
    retry(refresh) {
      return busy ? false : load(refresh);
    },
    close() {
      hasQueued = false;
      queued = undefined;
    },
    settled: () => current,
  };
}
