// Unit tests of the graph's elements (static/graph-model.mjs): classes by
// status, kind and sidecar, labels, groups. node --test static/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { base, edge } from './fixtures.mjs';
import { edgeElement, edgeWidth, graphStyle, groupElements, nodeElement, nodeLabel } from '../graph-model.mjs';

test('edges: the status, a failing handshake and a planned cut are classes', () => {
  const e = edge('a->b:http', 'mixed', 2, 0.5);
  assert.deepEqual(edgeElement(e), { group: 'edges', data: { id: 'a->b:http', source: 'a', target: 'b', width: edgeWidth(e) }, classes: 'mixed' });
  assert.equal(edgeElement({ ...e, status: 'surprise' }).classes, 'unknown');
  assert.equal(edgeElement({ ...e, tlsFailureRate: 1 }, new Set(['a->b:http'])).classes, 'mixed tlsfail breaks');
  // Idle: its look-back status, and the class that draws it dashed and light.
  assert.equal(edgeElement({ ...e, idle: true, rate: 0 }, new Set(['a->b:http'])).classes, 'mixed idle breaks');
  // Open edges are thicker, and widths grow with the rate (bytes counted in thousands).
  assert.ok(edgeWidth(edge('a->b:http', 'open', 0, 0)) > edgeWidth(edge('a->b:http', 'locked', 0, 1)));
  assert.ok(edgeWidth(edge('a->b:http', 'locked', 100, 1)) > edgeWidth(edge('a->b:http', 'locked', 1, 1)));
  assert.equal(edgeWidth(edge('a->b:tcp', 'locked', 1000, 1, 'tcp')), edgeWidth(edge('a->b:http', 'locked', 1, 1)));
});

test('nodes: kind and sidecar as classes, the label in two lines, the namespace as parent', () => {
  const [ratings, reviews, unknown] = base().nodes;
  assert.equal(nodeLabel(ratings), 'ratings\nSTRICT');
  assert.equal(nodeLabel(reviews), 'reviews\nPA unset');
  assert.equal(nodeLabel(unknown), 'unknown\n(outside the mesh)');
  assert.equal(nodeLabel({ kind: 'hidden' }), 'hidden\n(a namespace you cannot see)');
  assert.equal(nodeLabel({ ...ratings, inMesh: false }), 'ratings\nnot in mesh');
  assert.equal(nodeLabel({ ...ratings, kind: 'workload', dataPlane: 'ambient' }), 'ratings\nambient');
  assert.equal(nodeLabel({ ...ratings, kind: 'workload', dataPlane: 'waypoint' }), 'ratings\nwaypoint');
  assert.equal(nodeElement({ ...ratings, dataPlane: 'ambient' }).classes, 'ambient');
  assert.equal(nodeElement({ ...ratings, kind: 'workload', dataPlane: 'waypoint' }).classes, 'workload waypoint');
  assert.equal(nodeLabel({ ...ratings, kind: 'gateway' }), 'ratings\ngateway');
  const el = nodeElement(ratings);
  assert.deepEqual([el.data.parent, el.classes], ['ns:default', '']);
  assert.equal(nodeElement({ ...ratings, inMesh: false }).classes, 'nosidecar');
  assert.equal(nodeElement({ id: 'shop/sa:x', namespace: 'shop', name: 'sa:x', kind: 'serviceaccount', inMesh: true }).classes, 'workload serviceaccount');
  assert.equal(nodeElement(unknown).classes, 'unknown');
  assert.deepEqual(
    groupElements(base()).map((g) => [g.data.id, g.data.label]),
    [
      ['ns:default', 'default'],
      ['group:outside', 'outside the mesh'],
    ],
  );
});

test('the stylesheet has a rule per status', () => {
  const selectors = graphStyle().map((r) => r.selector);
  for (const s of ['edge.locked', 'edge.mixed', 'edge.open', 'edge.unknown', 'edge.idle', 'edge.tlsfail', 'edge.breaks', 'edge.idle.breaks', 'node.gateway']) {
    assert.ok(selectors.includes(s), s);
  }
  // Idle comes after the statuses, so that its dashes win over theirs.
  assert.ok(selectors.indexOf('edge.idle') > selectors.indexOf('edge.unknown'));
  assert.equal(graphStyle().find((r) => r.selector === 'edge.idle').style['line-style'], 'dashed');
});

test('edges refused by policy have their own class', () => {
  const e = { ...edge('default/legacy->default/ratings:tcp', 'unknown', 0, 0, 'tcp'), refusedRate: 1.5 };
  assert.ok(edgeElement(e).classes.split(' ').includes('refused'));
  assert.ok(!edgeElement(edge('default/legacy->default/ratings:tcp', 'open', 1, 0, 'tcp')).classes.split(' ').includes('refused'));
  assert.ok(graphStyle().some((r) => r.selector === 'edge.refused') && graphStyle().some((r) => r.selector === 'node.waypoint'));
});
