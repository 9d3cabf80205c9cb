// meshlock's edge history chart, the pure part: an answer of GET
// api/history (points of rate and mTLS share over the look-back) turned
// into what history.js draws as an inline SVG: the scales, the path
// strings (the rate as an area and a line on the left axis, the mTLS share
// as a line on a right-hand 0–100 % axis), the labels and the summary an
// aria-label says. No DOM: static/test/chart.test.mjs checks it.

import { finite } from './model.mjs';
import { formatPercent, formatRate, formatSpan, formatWhen } from './format.mjs';

// The box in SVG user units (the SVG scales to the panel's width); the
// right margin holds the share axis' labels, the top the max rate, the
// bottom the from/to times.
export const CHART_BOX = { width: 300, height: 120, left: 4, right: 30, top: 16, bottom: 18 };

const UNIT_MS = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000, w: 604800000 };

// parseDuration reads Go's time.Duration text ("1h24m0s", "90s", "1.5h")
// and the flags' days and weeks ("7d"); NaN when it is none of them.
export function parseDuration(text) {
  if (typeof text !== 'string' || !/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d|w))+$/.test(text)) return NaN;
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w)/g)) ms += Number(n) * UNIT_MS[unit];
  return ms;
}

// Coordinates with one decimal at most: short paths, stable tests.
const c = (n) => String(Math.round(n * 10) / 10);

// normalizePoints keeps the points with a time, in time order, the rate
// finite and not negative (else null: a gap), the share within 0–1 or null.
export function normalizePoints(points) {
  return (Array.isArray(points) ? points : [])
    .map((p) => ({
      t: Date.parse(p?.t ?? ''),
      rate: finite(p?.rate) ? Math.max(0, p.rate) : null,
      share: finite(p?.mtlsRatio) ? Math.min(Math.max(p.mtlsRatio, 0), 1) : null,
    }))
    .filter((p) => !Number.isNaN(p.t))
    .sort((a, b) => a.t - b.t);
}

// segments splits points into runs where value(p) is known and no step is
// missing (a gap longer than 1.5 steps is no traffic known, not a slope).
export function segments(points, value, stepMs) {
  const out = [];
  let run = [];
  let last = null;
  for (const p of points) {
    const v = value(p);
    const gap = last !== null && finite(stepMs) && stepMs > 0 && p.t - last > stepMs * 1.5;
    if (v === null || gap) {
      if (run.length) out.push(run);
      run = [];
    }
    if (v !== null) run.push(p);
    last = p.t;
  }
  if (run.length) out.push(run);
  return out;
}

// linePath: one subpath per segment; a lone point is a zero-length line,
// which a round line cap draws as a dot.
export function linePath(segs, x, y) {
  return segs
    .map((run) => (run.length === 1 ? `M${c(x(run[0]))},${c(y(run[0]))}h0` : run.map((p, i) => `${i ? 'L' : 'M'}${c(x(p))},${c(y(p))}`).join('')))
    .join('');
}

// areaPath: each segment closed down to the baseline.
export function areaPath(segs, x, y, baseline) {
  return segs
    .filter((run) => run.length > 1)
    .map((run) => `M${c(x(run[0]))},${c(baseline)}${run.map((p) => `L${c(x(p))},${c(y(p))}`).join('')}L${c(x(run[run.length - 1]))},${c(baseline)}Z`)
    .join('');
}

// shareSummary: "mTLS 100% throughout", "mTLS lowest 40%", or that no
// share is known (no traffic, or only of unknown security).
export function shareSummary(points) {
  const shares = points.map((p) => p.share).filter((s) => s !== null);
  if (!shares.length) return 'mTLS share not known';
  const min = Math.min(...shares);
  const max = Math.max(...shares);
  return min === max ? `mTLS ${formatPercent(min)} throughout` : `mTLS lowest ${formatPercent(min)}`;
}

// chartModel is everything history.js draws: {width, height, plot, rateArea,
// rateLine, mtlsLine, midY, labels, summary, caption, empty, maxRate, minShare}.
// when formats the from/to times (the viewer's clock by default).
export function chartModel(answer, { box = CHART_BOX, when = formatWhen } = {}) {
  const points = normalizePoints(answer?.points);
  const protocol = answer?.unit === 'B/s' ? 'tcp' : 'http';
  const stepMs = parseDuration(answer?.step);
  const plot = { x0: box.left, x1: box.width - box.right, y0: box.top, y1: box.height - box.bottom };

  // The time axis spans from–to, widened to any point outside it.
  let from = Date.parse(answer?.from ?? '');
  let to = Date.parse(answer?.to ?? '');
  if (points.length) {
    from = Number.isNaN(from) ? points[0].t : Math.min(from, points[0].t);
    to = Number.isNaN(to) ? points[points.length - 1].t : Math.max(to, points[points.length - 1].t);
  }
  const span = to - from;
  const x = (p) => (span > 0 ? plot.x0 + ((p.t - from) / span) * (plot.x1 - plot.x0) : (plot.x0 + plot.x1) / 2);

  // The rate axis tops at the largest rate, which its label names.
  const rates = points.map((p) => p.rate).filter((r) => r !== null);
  const maxRate = rates.length ? Math.max(...rates) : 0;
  const top = maxRate > 0 ? maxRate : 1;
  const yRate = (p) => plot.y1 - (p.rate / top) * (plot.y1 - plot.y0);
  const yShare = (p) => plot.y1 - p.share * (plot.y1 - plot.y0);

  const rateSegs = segments(points, (p) => p.rate, stepMs);
  const shareSegs = segments(points, (p) => p.share, stepMs);
  const shares = points.map((p) => p.share).filter((s) => s !== null);
  const empty = maxRate === 0 && !shares.length;
  const over = span > 0 ? ` over ${formatSpan(span)}` : '';
  const summary = empty
    ? `rate and mTLS share${over}: no traffic recorded`
    : `rate and mTLS share${over}: max ${formatRate(maxRate, protocol)}, ${shareSummary(points)}`;

  return {
    width: box.width,
    height: box.height,
    plot,
    rateArea: areaPath(rateSegs, x, yRate, plot.y1),
    rateLine: linePath(rateSegs, x, yRate),
    mtlsLine: linePath(shareSegs, x, yShare),
    midY: (plot.y0 + plot.y1) / 2,
    labels: {
      max: `max ${formatRate(maxRate, protocol)}`,
      from: Number.isNaN(from) ? '' : when(new Date(from).toISOString()),
      to: Number.isNaN(to) ? '' : when(new Date(to).toISOString()),
      shareTop: '100%',
      shareBottom: '0%',
    },
    summary,
    caption: finite(stepMs) && stepMs > 0 ? `one point per ${formatSpan(stepMs)}` : '',
    empty,
    maxRate,
    minShare: shares.length ? Math.min(...shares) : null,
  };
}
