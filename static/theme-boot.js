// meshlock's theme before the page is drawn: a classic script in <head>
// (the modules run only after the document is parsed, a flash of the other
// theme later), which sets <html data-theme> to the theme chosen on this
// browser, if any; without one app.css follows prefers-color-scheme.
// theme.mjs holds the rules (THEME_KEY, themeAttribute) that
// static/test/theme.test.mjs checks this script against; theme.js keeps
// the attribute and the toggle in step afterwards. No import, no export:
// it is not a module.
(function () {
  try {
    var choice = window.localStorage.getItem('meshlock.theme');
    if (choice === 'light' || choice === 'dark') document.documentElement.setAttribute('data-theme', choice);
  } catch (e) {
    // Storage refused (a sandboxed frame, blocked site data): the system's theme.
  }
})();
