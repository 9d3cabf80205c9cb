// Fixtures the page's JavaScript tests share: an edge from its id, a small
// normalized snapshot, and a posture as the server sends it. Not a test.

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
