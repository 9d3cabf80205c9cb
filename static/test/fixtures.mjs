// Fixtures the page's JavaScript tests share: an edge from its id, a small
// normalized snapshot, the same with a look-back (an idle edge, histories),
// a posture as the server sends it and an answer of api/history. Not a test.

import { normalizeSnapshot } from '../model.mjs';

export const edge = (id, status, rate, mtlsRatio, protocol = 'http') => {
  const [source, rest] = id.split('->');
  const target = rest.split(':')[0];
  return { id, source, target, protocol, rate, mtlsRatio, status };
};

export const base = () =>
  normalizeSnapshot({
    generatedAt: '2026-11-26T21:00:00Z',
    window: '1m',
    stale: false,
    error: '',
    nodes: [
      { id: 'default/reviews', namespace: 'default', name: 'reviews', kind: 'service', inMesh: true, peerAuthentication: 'UNSET' },
      { id: 'default/ratings', namespace: 'default', name: 'ratings', kind: 'service', inMesh: true, peerAuthentication: 'STRICT' },
      { id: 'unknown', namespace: '', name: 'unknown', kind: 'unknown', inMesh: false, peerAuthentication: '' },
    ],
    edges: [
      edge('default/reviews->default/ratings:http', 'mixed', 2, 0.4),
      edge('unknown->default/ratings:http', 'open', 1, 0),
    ],
    findings: [
      { id: 'ready-for-strict:default/reviews', severity: 'info', message: 'i', nodes: ['default/reviews'] },
      { id: 'strict-would-cut:default/ratings', severity: 'warning', message: 'w', nodes: ['default/ratings'], edges: ['unknown->default/ratings:http'] },
    ],
  });

// A posture as the server sends it (graph.ComputePosture).
export const serverPosture = (http, tcp, counts = { locked: 2, mixed: 1, open: 0, unknown: 3 }) => ({
  http: { unit: 'req/s', rate: 0, mtlsRate: 0, ratio: null, unknownRate: 0, ...http },
  tcp: { unit: 'B/s', rate: 0, mtlsRate: 0, ratio: null, unknownRate: 0, ...tcp },
  counts,
});

// The look-back of a ready 7d; NOW is when these fixtures happen.
export const NOW = Date.parse('2026-12-01T12:00:00Z');
export const lookback = (patch = {}) => ({ window: '7d', state: 'ready', from: '2026-11-24T12:00:00Z', to: '2026-12-01T12:00:00Z', ...patch });

// history as the server puts it on an edge.
export const history = (patch = {}) => ({ unit: 'requests', volume: 1234, mtlsVolume: 1200, lastSeen: '2026-12-01T11:59:30Z', ...patch });

// withLookback: base() and its look-back: the live mixed edge with its
// history, and an idle open caller last seen 3 h ago (plaintext then too).
export const withLookback = (lb = lookback()) =>
  normalizeSnapshot({
    ...base(),
    lookback: lb,
    edges: [
      { ...edge('default/reviews->default/ratings:http', 'mixed', 2, 0.4), history: history({ plaintextLastSeen: '2026-12-01T11:59:30Z' }) },
      edge('unknown->default/ratings:http', 'open', 1, 0),
      {
        ...edge('default/ratings->default/reviews:http', 'open', 0, 0),
        idle: true,
        history: history({ volume: 40, mtlsVolume: 0, lastSeen: '2026-12-01T09:00:00Z', plaintextLastSeen: '2026-12-01T09:00:00Z' }),
      },
    ],
  });

// An answer of GET api/history: four hourly points, the third with no
// traffic (no share), mTLS dipping to 40%.
export const historyAnswer = (patch = {}) => ({
  edge: 'default/reviews->default/ratings:http',
  from: '2026-12-01T08:00:00Z',
  to: '2026-12-01T12:00:00Z',
  step: '1h0m0s',
  unit: 'req/s',
  points: [
    { t: '2026-12-01T08:00:00Z', rate: 1, mtlsRatio: 1 },
    { t: '2026-12-01T09:00:00Z', rate: 3.2, mtlsRatio: 0.4 },
    { t: '2026-12-01T10:00:00Z', rate: 0, mtlsRatio: null },
    { t: '2026-12-01T11:00:00Z', rate: 1.6, mtlsRatio: 1 },
    { t: '2026-12-01T12:00:00Z', rate: 2, mtlsRatio: 1 },
  ],
  ...patch,
});

// twoClusters: a mesh over two clusters, east and west, as the server sends
// it when it watches several (issue 24): the clusters named, each node's
// cluster in its id, the same namespace (default) in both, an edge between
// the clusters, and west's Kubernetes API not answering since 20:58 (its
// nodes and the edges touching them stale, the snapshot not stale as a whole).
export const WEST_DOWN_SINCE = '2026-11-26T20:58:00Z';
const node = (cluster, namespace, name, patch = {}) => ({
  id: `${cluster}/${namespace}/${name}`,
  cluster,
  namespace,
  name,
  kind: 'service',
  inMesh: true,
  peerAuthentication: 'UNSET',
  ...patch,
});
export const twoClusters = () =>
  normalizeSnapshot({
    generatedAt: '2026-11-26T21:00:00Z',
    window: '1m',
    stale: false,
    error: 'kubernetes/west: connection refused',
    clusters: ['west', 'east'],
    sources: [
      { name: 'prometheus', ok: true, lastSuccess: '2026-11-26T21:00:00Z' },
      { name: 'kubernetes/east', cluster: 'east', ok: true, lastSuccess: '2026-11-26T21:00:00Z' },
      { name: 'kubernetes/west', cluster: 'west', ok: false, error: 'connection refused', lastSuccess: WEST_DOWN_SINCE },
    ],
    nodes: [
      node('east', 'default', 'reviews'),
      node('east', 'default', 'ratings', { peerAuthentication: 'STRICT' }),
      node('west', 'default', 'ratings', { stale: true }),
      node('west', 'shop', 'cart', { stale: true }),
      node('west', 'shop', 'sa:checkout', { kind: 'serviceaccount', name: 'checkout', stale: true }),
      { id: 'unknown', namespace: '', name: 'unknown', kind: 'unknown', inMesh: false, peerAuthentication: '' },
    ],
    edges: [
      edge('east/default/reviews->east/default/ratings:http', 'locked', 3, 1),
      { ...edge('east/default/reviews->west/default/ratings:http', 'mixed', 2, 0.5), crossCluster: true, stale: true },
      { ...edge('west/shop/cart->west/default/ratings:http', 'open', 1, 0), stale: true },
      { ...edge('unknown->west/shop/cart:http', 'open', 1, 0), stale: true },
    ],
    findings: [],
  });
