// Unit tests of the enforce logic (static/plan.mjs): node --test static/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  actionSummary,
  applyState,
  breakEdgeId,
  breakUnit,
  breaksText,
  breakView,
  canUndo,
  diffStats,
  enforceRequest,
  enforceTarget,
  enforceTitle,
  foldDiff,
  lineDiff,
  modeFits,
  modeLabel,
  planSummary,
  scopeLabel,
  undoURL,
} from '../plan.mjs';
import { NOW, history, lookback } from './fixtures.mjs';
import { normalizeLookback } from '../model.mjs';

test('enforceTarget reads a button and scopeLabel names it', () => {
  assert.deepEqual(enforceTarget('mesh', 'x', 'y'), { scope: 'mesh', namespace: '', service: '' });
  assert.deepEqual(enforceTarget('namespace', 'default'), { scope: 'namespace', namespace: 'default', service: '' });
  assert.deepEqual(enforceTarget('service', 'default', 'reviews'), { scope: 'service', namespace: 'default', service: 'reviews' });
  assert.equal(enforceTarget('service', 'default', ''), null);
  assert.equal(enforceTarget('namespace', ''), null);
  assert.equal(enforceTarget('galaxy'), null);
  assert.equal(scopeLabel(enforceTarget('mesh')), 'mesh');
  assert.equal(scopeLabel(enforceTarget('namespace', 'default')), 'namespace default');
  assert.equal(scopeLabel(enforceTarget('service', 'default', 'reviews')), 'service default/reviews');
});

test('enforceRequest sends only the fields the scope uses', () => {
  assert.deepEqual(enforceRequest(enforceTarget('mesh'), 'peerauthentication', true), { scope: 'mesh', mode: 'peerauthentication', dryRun: true });
  assert.deepEqual(enforceRequest(enforceTarget('namespace', 'default'), 'destinationrule', false), {
    scope: 'namespace',
    mode: 'destinationrule',
    dryRun: false,
    namespace: 'default',
  });
  assert.deepEqual(enforceRequest(enforceTarget('service', 'shop', 'cart'), 'destinationrule', 1), {
    scope: 'service',
    mode: 'destinationrule',
    dryRun: true,
    namespace: 'shop',
    service: 'cart',
  });
  assert.equal(JSON.stringify(enforceRequest(enforceTarget('mesh'), 'destinationrule', true)), '{"scope":"mesh","mode":"destinationrule","dryRun":true}');
});

test('mode authorization: for a service or a namespace, policyDryRun only with it and only when on', () => {
  const svc = enforceTarget('service', 'default', 'reviews');
  assert.equal(modeFits('authorization', svc), true);
  assert.equal(modeFits('authorization', enforceTarget('namespace', 'default')), true);
  assert.equal(modeFits('authorization', enforceTarget('mesh')), false);
  assert.equal(modeFits('destinationrule', enforceTarget('mesh')), true);
  assert.deepEqual(enforceRequest(svc, 'authorization', true, { policyDryRun: true }), {
    scope: 'service',
    mode: 'authorization',
    dryRun: true,
    namespace: 'default',
    service: 'reviews',
    policyDryRun: true,
  });
  assert.equal('policyDryRun' in enforceRequest(svc, 'authorization', true), false);
  assert.equal('policyDryRun' in enforceRequest(svc, 'peerauthentication', true, { policyDryRun: true }), false);
  assert.equal(modeLabel('authorization'), 'Allow only these callers');
  assert.equal(enforceTitle('authorization'), 'Allow only the callers seen');
  assert.equal(enforceTitle('destinationrule'), 'Enforce mTLS');
  const same = { action: 'unchanged', kind: 'AuthorizationPolicy', namespace: 'default', name: 'reviews' };
  assert.match(applyState({ plan: plan(same), mode: 'authorization' }).reason, /already allows these callers/);
});

test('modeLabel', () => {
  assert.equal(modeLabel('destinationrule'), 'DestinationRule ISTIO_MUTUAL (client side)');
  assert.equal(modeLabel('peerauthentication'), 'PeerAuthentication STRICT (server side)');
  assert.equal(modeLabel('other'), 'other');
});

test('lineDiff marks added and removed lines', () => {
  const prev = 'spec:\n  host: reviews\n  subsets:\n  - name: v1\n';
  const next = 'spec:\n  host: reviews\n  subsets:\n  - name: v1\n  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTUAL\n';
  const d = lineDiff(prev, next);
  assert.deepEqual(d.map((l) => l.op).join(''), '    +++');
  assert.equal(d[6].text, '      mode: ISTIO_MUTUAL');
  assert.deepEqual(diffStats(d), { added: 3, removed: 0 });

  // A changed line: removed then added.
  const c = lineDiff('a\nmode: DISABLE\nz', 'a\nmode: ISTIO_MUTUAL\nz');
  assert.deepEqual(c, [
    { op: ' ', text: 'a' },
    { op: '-', text: 'mode: DISABLE' },
    { op: '+', text: 'mode: ISTIO_MUTUAL' },
    { op: ' ', text: 'z' },
  ]);
  // A create: everything added; no previous text is not a line.
  assert.deepEqual(lineDiff('', 'a\nb\n'), [
    { op: '+', text: 'a' },
    { op: '+', text: 'b' },
  ]);
  assert.deepEqual(lineDiff(undefined, 'a'), [{ op: '+', text: 'a' }]);
  // Unchanged: every line kept.
  assert.deepEqual(diffStats(lineDiff('a\nb', 'a\nb\n')), { added: 0, removed: 0 });
  // Deleted lines, CRLF.
  assert.deepEqual(lineDiff('a\r\nb\r\nc', 'a\nc').map((l) => l.op + l.text), [' a', '-b', ' c']);
  assert.deepEqual(lineDiff('', ''), []);
});

test('foldDiff keeps context around changes', () => {
  const lines = Array.from({ length: 20 }, (_, i) => `l${i}`);
  const d = lineDiff(lines.join('\n'), [...lines.slice(0, 10), 'new', ...lines.slice(10)].join('\n'));
  const f = foldDiff(d, 2);
  assert.deepEqual(f.map((l) => (l.op === '…' ? `…${l.count}` : l.op + l.text)), ['…8', ' l8', ' l9', '+new', ' l10', ' l11', '…8']);
  // A single hidden line is shown rather than folded.
  const g = foldDiff(lineDiff('a\nb\nc\nd', 'a\nb\nc\nd\ne'), 3);
  assert.deepEqual(g.map((l) => l.op + (l.text ?? l.count)), [' a', ' b', ' c', ' d', '+e']);
  // No change: kept whole.
  const same = lineDiff(lines.join('\n'), lines.join('\n'));
  assert.equal(foldDiff(same, 2).length, 20);
});

const plan = (...changes) => ({ dryRun: true, changes, breaks: [], serverValidated: true });

test('planSummary and applyState: Apply only for a loaded plan that changes something without conflicts', () => {
  const upd = { action: 'update', kind: 'DestinationRule', namespace: 'default', name: 'reviews' };
  const same = { action: 'unchanged', kind: 'DestinationRule', namespace: 'default', name: 'ratings' };
  const conflict = { ...upd, conflict: 'subset v1 sets tls DISABLE' };
  assert.deepEqual(planSummary(plan(upd, same, { action: 'create' })), { total: 3, create: 1, update: 1, unchanged: 1, conflicts: 0, changing: 2 });
  assert.equal(applyState({ plan: plan(upd, same) }).enabled, true);
  assert.equal(applyState({ loading: true, plan: plan(upd) }).enabled, false);
  assert.equal(applyState({ applying: true, plan: plan(upd) }).enabled, false);
  assert.equal(applyState({}).enabled, false);
  assert.match(applyState({ error: 'x' }).reason, /error/);
  const c = applyState({ plan: plan(upd, conflict) });
  assert.equal(c.enabled, false);
  assert.match(c.reason, /1 conflict/);
  const u = applyState({ plan: plan(same) });
  assert.equal(u.enabled, false);
  assert.match(u.reason, /already enforced/);
  assert.equal(applyState({ plan: plan() }).enabled, false);
});

test('breakEdgeId matches the graph edge ids', () => {
  assert.equal(breakEdgeId({ source: 'unknown', target: 'default/ratings', protocol: 'http', rate: 0.5 }), 'unknown->default/ratings:http');
});

test('actions: summary, undo permission and URL', () => {
  const a = { id: '20261126-214500-0a1b2c3d', scope: 'service', namespace: 'default', service: 'reviews', mode: 'peerauthentication' };
  assert.equal(actionSummary(a), 'service default/reviews · PeerAuthentication STRICT (server side)');
  assert.equal(actionSummary({ scope: 'mesh', mode: 'destinationrule' }), 'mesh · DestinationRule ISTIO_MUTUAL (client side)');
  assert.equal(canUndo(a, true), true);
  assert.equal(canUndo(a, false), false);
  assert.equal(canUndo({ ...a, undoneAt: '2026-11-26T22:00:00Z' }, true), false);
  assert.equal(undoURL(a.id), 'api/actions/20261126-214500-0a1b2c3d/undo');
  assert.equal(undoURL('a/b'), 'api/actions/a%2Fb/undo');
});

// Times as MM-DD HH:MM in UTC: texts that do not depend on the test machine.
const when = (iso) => iso.slice(5, 16).replace('T', ' ');

test('breakView: a live caller by its rate now, an idle one by when it was last seen', () => {
  const lb = normalizeLookback(lookback());
  const live = { source: 'unknown', target: 'default/ratings', protocol: 'http', rate: 0.5, lastSeen: '2026-12-01T11:59:50Z', volume: 1234, idle: false };
  assert.deepEqual(breakView(live, { lookback: lb, now: NOW, when }), { idle: false, rate: 'now 0.50 req/s', lastSeen: null, volume: '1.2k requests over 7d' });
  const idle = { source: 'default/legacy', target: 'default/ratings', protocol: 'tcp', rate: 0, lastSeen: '2026-11-28T12:00:00Z', volume: 3.4e6, idle: true };
  assert.deepEqual(breakView(idle, { lookback: lb, now: NOW, when }), {
    idle: true,
    rate: '',
    lastSeen: { text: 'last seen 3 d ago', when: '11-28 12:00', datetime: '2026-11-28T12:00:00Z' },
    volume: '3.4 MB over 7d',
  });
  // The unit of the snapshot's edge wins (TCP that moved no bytes counts connections).
  assert.equal(breakView(idle, { edge: { history: history({ unit: 'connections' }) }, lookback: lb, now: NOW, when }).volume, '3.4M connections over 7d');
  assert.equal(breakUnit({ protocol: 'grpc' }), 'requests');
  assert.equal(breakUnit({ protocol: 'tcp', unit: 'connections' }, { history: history({ unit: 'bytes' }) }), 'connections');
  // An older server: no volume, no look-back, no last seen.
  assert.deepEqual(breakView({ ...live, volume: undefined, lastSeen: undefined }, { now: NOW, when }), { idle: false, rate: 'now 0.50 req/s', lastSeen: null, volume: '' });
  assert.equal(breakView({ ...idle, lastSeen: '0001-01-01T00:00:00Z' }, { lookback: lb, now: NOW, when }).lastSeen.text, 'last seen: not known');
});

test('breaksText says how far back the plan looked for callers', () => {
  const breaks = [{ idle: false }, { idle: true }, { idle: true }];
  const ready = breaksText(breaks, normalizeLookback(lookback()), when);
  assert.deepEqual(ready, {
    scope: 'Callers seen in the last 7d (since 11-24 12:00).',
    warn: '',
    headline: '3 callers would be cut off (1 live, 2 idle)',
    none: 'No caller seen in the last 7d would be cut.',
    state: 'ready',
  });
  assert.equal(breaksText([{ idle: false }], normalizeLookback(lookback()), when).headline, '1 caller would be cut off');
  const loading = breaksText(breaks, normalizeLookback(lookback({ state: 'loading', from: '2026-11-29T00:00:00Z', error: 'prometheus: timeout' })), when);
  assert.equal(loading.scope, 'Callers seen since 11-29 00:00: the look-back so far.');
  assert.equal(loading.warn, 'The look-back (7d) is still loading: older callers may be missing. Look-back error: prometheus: timeout');
  assert.equal(loading.none, 'No caller seen so far would be cut.');
  const off = breaksText([{}], normalizeLookback({ window: '0s', state: 'off' }), when);
  assert.deepEqual([off.scope, off.headline, off.none, off.warn], ['Live callers only (look-back off).', '1 live caller would be cut off', 'No live caller would be cut.', '']);
  assert.equal(breaksText([], null, when).scope, 'Live callers only.');
});

test('the mesh of one cluster of several: the request names it', () => {
  const t = enforceTarget('mesh', '', '', 'east');
  assert.equal(scopeLabel(t), 'mesh in cluster east');
  assert.deepEqual(enforceRequest(t, 'peerauthentication', true), { scope: 'mesh', mode: 'peerauthentication', dryRun: true, cluster: 'east' });
});
