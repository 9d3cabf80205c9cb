// Package static embeds the dashboard's CSS, JavaScript, vendored libraries
// and icons, so the binary serves them without files on disk.
//
// The page is native ES modules, no bundler and no build step: app.js is
// the entry, importing the other modules of this folder by relative paths
// ('./state.mjs'). *.mjs modules are pure logic (no DOM), run by Node's
// test runner too; *.js modules use the DOM. One script is not a module:
// theme-boot.js, a classic script the page's <head> runs before the first
// paint (the theme chosen on this browser). vendor/ holds the minified
// browser builds of Cytoscape.js and cytoscape-dagre that
// scripts/vendor-js.sh copies from npm (axe-core, for the browser tests
// only, goes to test/e2e/testdata/, never served).
//
// The embed names the folder's kinds of file, not files: every module and
// stylesheet at its top level, icons/ and vendor/. The tests live in test/
// (`node --test static/`), which the patterns do not reach, so they are
// not embedded.
package static

import "embed"

// FS holds the files served under static/.
//
//go:embed *.js *.mjs *.css icons vendor
var FS embed.FS
