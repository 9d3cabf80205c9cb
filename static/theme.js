// meshlock's theme toggle: the header's select (system, light, dark; web/page.templ
// renders it hidden, for it does nothing without script), the choice kept
// in localStorage (a frame's storage is its own, no cookie needed), <html
// data-theme> set from it (app.css's dark colours follow the attribute, or
// prefers-color-scheme without one), and the theme it comes to in the
// store, which the graph's palette follows. A change of the system's
// preference, or of the choice in another tab, is followed live.

import { $ } from './dom.js';
import { THEME_KEY, parseChoice, resolveTheme, themeAttribute, themeTitle } from './theme.mjs';

function readChoice() {
  try {
    return parseChoice(window.localStorage.getItem(THEME_KEY));
  } catch {
    return 'system'; // storage refused (a sandboxed frame): the system's
  }
}

function storeChoice(choice) {
  try {
    if (choice === 'system') window.localStorage.removeItem(THEME_KEY);
    else window.localStorage.setItem(THEME_KEY, choice);
  } catch {
    /* kept for this page only */
  }
}

export function createTheme(store) {
  const media = typeof window.matchMedia === 'function' ? window.matchMedia('(prefers-color-scheme: dark)') : null;
  const select = $('#theme-select');
  let choice = readChoice();

  function apply() {
    const systemDark = !!media?.matches;
    const attr = themeAttribute(choice);
    const root = document.documentElement;
    if (attr) root.setAttribute('data-theme', attr);
    else root.removeAttribute('data-theme');
    if (select) {
      select.value = choice;
      select.title = themeTitle(choice, systemDark);
    }
    store.setTheme({ choice, resolved: resolveTheme(choice, systemDark) });
  }

  select?.addEventListener('change', () => {
    choice = parseChoice(select.value);
    storeChoice(choice);
    apply();
  });
  media?.addEventListener('change', apply);
  window.addEventListener('storage', (ev) => {
    if (ev.key !== THEME_KEY && ev.key !== null) return;
    choice = readChoice();
    apply();
  });
  const box = $('#theme');
  if (box) box.hidden = false;
  apply();
}
