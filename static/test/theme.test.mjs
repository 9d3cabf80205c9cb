// Unit tests of the themes: the viewer's choice and what it comes to
// (static/theme.mjs), theme-boot.js applying a stored choice as theme.mjs
// says, app.css's dark blocks kept the same, and the colours of both
// themes, the page's and the graph's, to WCAG AA contrast with their
// status colours told apart. node --test static/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

import { contrastRatio, deltaE } from './color.mjs';
import { GRAPH_PALETTES, graphStyle } from '../graph-model.mjs';
import { THEME_CHOICES, THEME_KEY, parseChoice, resolveTheme, themeAttribute, themeTitle } from '../theme.mjs';

const read = (name) => readFileSync(new URL(`../${name}`, import.meta.url), 'utf8');

test('a choice is system, light or dark; anything else stored is system', () => {
  assert.deepEqual(THEME_CHOICES, ['system', 'light', 'dark']);
  for (const c of THEME_CHOICES) assert.equal(parseChoice(c), c);
  for (const junk of [null, undefined, '', 'Dark', 'auto', '1', 'blue']) assert.equal(parseChoice(junk), 'system', String(junk));
});

test('system follows prefers-color-scheme; light and dark override it', () => {
  assert.equal(resolveTheme('system', false), 'light');
  assert.equal(resolveTheme('system', true), 'dark');
  assert.equal(resolveTheme('light', true), 'light');
  assert.equal(resolveTheme('dark', false), 'dark');
  assert.equal(resolveTheme('nonsense', true), 'dark');
  // <html data-theme> only for an explicit choice: system is the media query's.
  assert.deepEqual(THEME_CHOICES.map(themeAttribute), [null, 'light', 'dark']);
  assert.equal(themeAttribute('junk'), null);
  assert.equal(themeTitle('system', true), "Theme: the system's (dark now)");
  assert.equal(themeTitle('light', true), 'Theme: always light');
});

// boot runs theme-boot.js with localStorage answering stored (or throwing)
// and answers the data-theme it set.
function boot(stored) {
  const attrs = {};
  const storage = {
    getItem(key) {
      if (stored instanceof Error) throw stored;
      return key === THEME_KEY ? stored : null;
    },
  };
  const context = { window: { localStorage: storage }, document: { documentElement: { setAttribute: (k, v) => (attrs[k] = v) } } };
  vm.runInNewContext(read('theme-boot.js'), context);
  return attrs['data-theme'] ?? null;
}

test('theme-boot.js sets data-theme before the page is drawn, as theme.mjs says', () => {
  for (const stored of [null, 'system', 'light', 'dark', 'junk', '']) {
    assert.equal(boot(stored), themeAttribute(stored), String(stored));
  }
  // Storage refused (a sandboxed frame): no attribute, no error.
  assert.equal(boot(new Error('SecurityError')), null);
  assert.doesNotMatch(read('theme-boot.js'), /^\s*(import|export)\b/m, 'a classic script');
});

// themes reads app.css's custom properties: light (the first :root block),
// dark (the data-theme block), and the dark block inside the media query.
function themes() {
  const css = read('app.css');
  const vars = (body) => Object.fromEntries([...body.matchAll(/--([a-z0-9-]+):\s*([^;]+);/g)].map((m) => [m[1], m[2].trim()]));
  const light = /(?:^|\n):root \{\n([\s\S]*?)\n\}/.exec(css);
  const media = /@media \(prefers-color-scheme: dark\) \{\s*:root:not\(\[data-theme="light"\]\) \{\n([\s\S]*?)\n\s*\}\s*\}/.exec(css);
  const chosen = /:root\[data-theme="dark"\] \{\n([\s\S]*?)\n\}/.exec(css);
  assert.ok(light && media && chosen, 'app.css has the light block, the media query and the data-theme block');
  return { light: vars(light[1]), media: vars(media[1]), dark: { ...vars(light[1]), ...vars(chosen[1]) }, darkOnly: vars(chosen[1]), css };
}

test('app.css: the dark theme is the same whether the system or the viewer asks for it', () => {
  const t = themes();
  assert.deepEqual(t.media, t.darkOnly);
  assert.match(t.css, /color-scheme: light;/);
  assert.match(t.css, /color-scheme: dark;/);
  // Every colour that changes is in both themes; the header's are the same in both.
  const header = ['navy', 'header-ink', 'header-muted', 'header-focus'];
  assert.deepEqual(Object.keys(t.darkOnly).sort(), Object.keys(t.light).filter((k) => !header.includes(k)).sort());
  // Every var() the stylesheet uses is defined.
  for (const m of t.css.matchAll(/var\(--([a-z0-9-]+)\)/g)) assert.ok(m[1] in t.light, `--${m[1]} is not defined`);
});

// Text (AA: 4.5 to 1) and the shapes that say something (3 to 1), on what
// they are drawn on, in each theme.
const TEXT = [
  ['ink', ['bg', 'panel', 'raised', 'surface', 'surface-2', 'hover', 'selected-bg', 'info-bg']],
  ['ink-2', ['panel', 'surface-2', 'tag-bg']],
  ['ink-3', ['panel', 'surface-3', 'diff-bg']],
  ['muted', ['bg', 'panel', 'raised', 'surface-2', 'surface-3', 'hover', 'selected-bg']],
  ...['locked', 'mixed', 'open', 'unknown', 'select', 'mismatch'].map((s) => [s, ['panel', 'raised', 'surface-2', 'hover', 'selected-bg']]),
  ['err-ink', ['err-bg']],
  ['warn-ink', ['warn-bg', 'note-bg']],
  ['ok-ink', ['ok-bg', 'ok-hover', 'create-bg']],
  ['info-ink', ['info-bg']],
  ['violet-ink', ['violet-bg']],
  ['add-ink', ['add-bg']],
  ['del-ink', ['del-bg']],
  ['header-ink', ['navy']],
  ['header-muted', ['navy']],
];
const SHAPES = [
  ['focus', ['bg', 'panel', 'raised']],
  ['header-focus', ['navy']],
  ['line-strong', ['panel', 'raised']],
  ['ambient', ['panel']],
  ['gateway', ['panel']],
];

test('app.css: AA contrast in both themes', () => {
  const t = themes();
  for (const [name, colors] of [
    ['light', t.light],
    ['dark', t.dark],
  ]) {
    for (const [rules, min] of [
      [TEXT, 4.5],
      [SHAPES, 3],
    ]) {
      for (const [fg, bgs] of rules) {
        for (const bg of bgs) {
          const r = contrastRatio(colors[fg], colors[bg]);
          assert.ok(r >= min, `${name}: --${fg} ${colors[fg]} on --${bg} ${colors[bg]}: ${r.toFixed(2)} to 1, want ${min}`);
        }
      }
    }
    assert.ok(contrastRatio('#ffffff', colors['primary-bg']) >= 4.5, `${name}: the primary button's text`);
  }
});

const STATUSES = ['locked', 'mixed', 'open', 'unknown'];

test('the status colours are told apart, and the graph draws the page\'s', () => {
  const t = themes();
  for (const [name, colors] of [
    ['light', t.light],
    ['dark', t.dark],
  ]) {
    const p = GRAPH_PALETTES[name];
    for (const s of [...STATUSES, 'mismatch', 'select']) assert.equal(p[s], colors[s], `${name}: the graph's ${s} is app.css's --${s}`);
    assert.equal(p.canvas, colors.panel, `${name}: the graph's canvas is the pane's --panel`);
    const all = [...STATUSES, 'mismatch'];
    for (const a of all) {
      for (const b of all) {
        if (a < b) assert.ok(deltaE(p[a], p[b]) > 25, `${name}: ${a} ${p[a]} and ${b} ${p[b]} look alike (ΔE ${deltaE(p[a], p[b]).toFixed(1)})`);
      }
    }
  }
});

test('the graph\'s palettes: labels AA on their boxes, lines 3 to 1 on the canvas and the namespaces', () => {
  for (const [name, p] of Object.entries(GRAPH_PALETTES)) {
    const text = [
      ['nodeText', ['nodeBg', 'nosidecarBg', 'gatewayBg', 'unknownNodeBg', 'waypointBg']],
      ['groupText', ['canvas']], // a namespace's name sits above its box
      ['outsideText', ['canvas']],
      ['collapsedText', ['collapsedBg']],
    ];
    for (const [fg, bgs] of text) {
      for (const bg of bgs) assert.ok(contrastRatio(p[fg], p[bg]) >= 4.5, `${name}: ${fg} on ${bg}: ${contrastRatio(p[fg], p[bg]).toFixed(2)}`);
    }
    for (const fg of [...STATUSES, 'mismatch', 'select', 'cursor', 'nodeBorder', 'gateway', 'ambient', 'unknownNode']) {
      for (const bg of ['canvas', 'groupBg']) {
        assert.ok(contrastRatio(p[fg], p[bg]) >= 3, `${name}: ${fg} ${p[fg]} on ${bg} ${p[bg]}: ${contrastRatio(p[fg], p[bg]).toFixed(2)}`);
      }
    }
  }
});

test('graphStyle draws each theme in its own palette', () => {
  const rule = (theme, selector) => graphStyle(theme).find((r) => r.selector === selector).style;
  for (const theme of ['light', 'dark']) {
    const p = GRAPH_PALETTES[theme];
    assert.equal(rule(theme, 'node').color, p.nodeText);
    assert.equal(rule(theme, 'node')['background-color'], p.nodeBg);
    for (const s of STATUSES) assert.equal(rule(theme, `edge.${s}`)['line-color'], p[s]);
    assert.equal(rule(theme, 'edge.principal-mismatch')['line-outline-color'], p.mismatch);
    assert.equal(rule(theme, 'node.kbd-cursor')['outline-color'], p.cursor);
  }
  // The same rules in both, in the same order: only the colours differ.
  assert.deepEqual(
    graphStyle('dark').map((r) => r.selector),
    graphStyle('light').map((r) => r.selector),
  );
  assert.deepEqual(graphStyle(), graphStyle('light'));
  assert.deepEqual(graphStyle('sepia'), graphStyle('light'));
  // No colour of the light theme is left in the dark one.
  const colours = (theme) => new Set(JSON.stringify(graphStyle(theme)).match(/#[0-9a-f]{6}/gi));
  const light = colours('light');
  const shared = [...colours('dark')].filter((c) => light.has(c));
  assert.deepEqual(shared, []);
});
