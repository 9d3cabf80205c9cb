// Unit tests of the edge history chart's pure part (static/chart.mjs): the
// scales, the path strings, the labels and the summary. node --test static/
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { historyAnswer } from './fixtures.mjs';
import { CHART_BOX, chartModel, linePath, normalizePoints, parseDuration, segments, shareSummary } from '../chart.mjs';

// Times as HH:MM in UTC: labels that do not depend on the test machine.
const when = (iso) => iso.slice(11, 16);

test('parseDuration reads Go durations and the flags days', () => {
  assert.equal(parseDuration('1h24m0s'), 84 * 60000);
  assert.equal(parseDuration('1h24m'), 84 * 60000);
  assert.equal(parseDuration('90s'), 90000);
  assert.equal(parseDuration('1.5h'), 5400000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('7d'), 7 * 86400000);
  for (const bad of ['', 'x', '5', '1h x', '-1h', undefined, 3]) assert.ok(Number.isNaN(parseDuration(bad)), String(bad));
});

test('the plot: time across from–to, the rate up to its max, the share 0–100 % on the right', () => {
  const m = chartModel(historyAnswer(), { when });
  const { x0, x1, y0, y1 } = m.plot;
  assert.deepEqual([x0, x1, y0, y1], [CHART_BOX.left, CHART_BOX.width - CHART_BOX.right, CHART_BOX.top, CHART_BOX.height - CHART_BOX.bottom]);
  // Hourly points over 4 h: x steps of (270 - 4) / 4; 3.2 req/s (the max) at the top, 0 on the baseline.
  assert.equal(m.rateLine, 'M4,75.1L70.5,16L137,102L203.5,59L270,48.3');
  assert.equal(m.rateArea, 'M4,102L4,75.1L70.5,16L137,102L203.5,59L270,48.3L270,102Z');
  // No share where there was no traffic: the mTLS line breaks there; 40 % sits at 0.4 of the height.
  assert.equal(m.mtlsLine, 'M4,16L70.5,67.6M203.5,16L270,16');
  assert.equal(m.midY, (y0 + y1) / 2);
  assert.deepEqual(m.labels, { max: 'max 3.2 req/s', from: '08:00', to: '12:00', shareTop: '100%', shareBottom: '0%' });
  assert.equal(m.caption, 'one point per 1h');
  assert.deepEqual([m.maxRate, m.minShare, m.empty], [3.2, 0.4, false]);
});

test('the summary the aria-label says', () => {
  assert.equal(chartModel(historyAnswer(), { when }).summary, 'rate and mTLS share over 4h: max 3.2 req/s, mTLS lowest 40%');
  const all = historyAnswer({
    from: '2026-11-24T12:00:00Z',
    to: '2026-12-01T12:00:00Z',
    step: '1h24m0s',
    unit: 'B/s',
    points: [
      { t: '2026-11-25T00:00:00Z', rate: 2500, mtlsRatio: 1 },
      { t: '2026-11-25T01:24:00Z', rate: 3200000, mtlsRatio: 1 },
    ],
  });
  const m = chartModel(all, { when });
  assert.equal(m.summary, 'rate and mTLS share over 7d: max 3.2 MB/s, mTLS 100% throughout');
  assert.equal(m.labels.max, 'max 3.2 MB/s');
  assert.equal(m.caption, 'one point per 1h 24m');
  assert.equal(shareSummary(normalizePoints([{ t: '2026-12-01T08:00:00Z', rate: 1, mtlsRatio: 0 }])), 'mTLS 0% throughout');
  assert.equal(shareSummary(normalizePoints([{ t: '2026-12-01T08:00:00Z', rate: 1, mtlsRatio: null }])), 'mTLS share not known');
  // Nothing at all: said so, and no path to draw.
  const none = chartModel(historyAnswer({ points: [] }), { when });
  assert.equal(none.summary, 'rate and mTLS share over 4h: no traffic recorded');
  assert.deepEqual([none.empty, none.rateLine, none.rateArea, none.mtlsLine, none.minShare], [true, '', '', '', null]);
});

test('gaps longer than a step, lone points and bad points', () => {
  const pts = normalizePoints([
    { t: '2026-12-01T11:00:00Z', rate: 2, mtlsRatio: 1.5 },
    { t: 'not a time', rate: 9, mtlsRatio: 1 },
    { t: '2026-12-01T08:00:00Z', rate: 1, mtlsRatio: 1 },
    { t: '2026-12-01T09:00:00Z', rate: -3, mtlsRatio: -1 },
    { t: '2026-12-01T12:00:00Z', rate: NaN, mtlsRatio: 'x' },
  ]);
  // In time order, the bad time dropped, a negative rate as 0, shares clamped, NaN a gap.
  assert.deepEqual(
    pts.map((p) => [new Date(p.t).toISOString().slice(11, 13), p.rate, p.share]),
    [
      ['08', 1, 1],
      ['09', 0, 0],
      ['11', 2, 1],
      ['12', null, null],
    ],
  );
  // 09:00 → 11:00 misses a step: two runs.
  const runs = segments(pts, (p) => p.rate, 3600000);
  assert.deepEqual(runs.map((r) => r.length), [2, 1]);
  // Without a known step nothing splits but the unknown values.
  assert.deepEqual(segments(pts, (p) => p.rate, NaN).map((r) => r.length), [3]);
  // A lone point is a dot: a zero-length line the round cap draws.
  assert.equal(linePath([[pts[2]]], () => 10, () => 20), 'M10,20h0');
  const m = chartModel({ from: '2026-12-01T08:00:00Z', to: '2026-12-01T12:00:00Z', step: '1h0m0s', unit: 'req/s', points: [{ t: '2026-12-01T11:00:00Z', rate: 2, mtlsRatio: 1 }] }, { when });
  assert.equal(m.rateArea, '');
  assert.match(m.rateLine, /^M203\.5,16h0$/);
});

test('a single moment and points outside from–to', () => {
  const one = chartModel({ from: '2026-12-01T08:00:00Z', to: '2026-12-01T08:00:00Z', unit: 'req/s', points: [{ t: '2026-12-01T08:00:00Z', rate: 1, mtlsRatio: 1 }] }, { when });
  // No span: the point in the middle, no "over" in the summary, no caption without a step.
  assert.equal(one.rateLine, `M${(one.plot.x0 + one.plot.x1) / 2},16h0`);
  assert.equal(one.summary, 'rate and mTLS share: max 1.0 req/s, mTLS 100% throughout');
  assert.equal(one.caption, '');
  // A point after to widens the axis rather than leaving the box.
  const wide = chartModel(historyAnswer({ to: '2026-12-01T10:00:00Z' }), { when });
  assert.equal(wide.labels.to, '12:00');
  assert.match(wide.rateLine, /L270,48\.3$/);
  // No from/to at all: the points' own span.
  const bare = chartModel({ unit: 'req/s', points: historyAnswer().points }, { when });
  assert.deepEqual([bare.labels.from, bare.labels.to], ['08:00', '12:00']);
  assert.equal(chartModel(null).empty, true);
});
