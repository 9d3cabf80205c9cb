// meshlock's light and dark themes, with no DOM: the viewer's choice
// (system, light or dark, kept in localStorage under THEME_KEY), the theme
// it comes to under the system's preference, and what the toggle says.
// The colours themselves are CSS custom properties in app.css (the page)
// and GRAPH_PALETTES in graph-model.mjs (Cytoscape's canvas, which reads
// no CSS); theme-boot.js applies a stored choice before the page is drawn.
// static/test/theme.test.mjs runs it under Node, and checks the contrast
// of both themes' colours.

export const THEME_KEY = 'meshlock.theme';
export const THEME_CHOICES = ['system', 'light', 'dark'];

// parseChoice: a stored value as a choice; anything else (nothing stored,
// an older or foreign value) is 'system'.
export function parseChoice(stored) {
  return THEME_CHOICES.includes(stored) ? stored : 'system';
}

// resolveTheme: the theme a choice comes to, 'light' or 'dark';
// systemDark is what prefers-color-scheme: dark says.
export function resolveTheme(choice, systemDark) {
  const c = parseChoice(choice);
  if (c === 'system') return systemDark ? 'dark' : 'light';
  return c;
}

// themeAttribute: the <html data-theme> a choice sets: the theme for an
// explicit one, none (null) for 'system', which app.css leaves to the
// prefers-color-scheme media query.
export function themeAttribute(choice) {
  const c = parseChoice(choice);
  return c === 'system' ? null : c;
}

// themeTitle: what the toggle's title says of a choice.
export function themeTitle(choice, systemDark) {
  const c = parseChoice(choice);
  if (c === 'system') return `Theme: the system's (${systemDark ? 'dark' : 'light'} now)`;
  return `Theme: always ${c}`;
}
