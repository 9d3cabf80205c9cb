// A number as the page writes it: two decimals under 1, one under 100, none above; "<0.01" for
// what would round to nothing. Its own module so that format.mjs and access.mjs share it.
export function formatNumber(v) {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a < 0.01) return '<0.01';
  if (a < 1) return v.toFixed(2);
  if (a < 100) return v.toFixed(1);
  return v.toFixed(0);
}
