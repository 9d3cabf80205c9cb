// Package static embeds the dashboard's CSS, JavaScript, vendored libraries
// and icons, so the binary serves them without files on disk.
//
// app.js is an ES module that imports model.mjs (the pure logic, unit
// tested with `node --test static/`); vendor/ holds the minified browser
// builds of Cytoscape.js and cytoscape-dagre that scripts/vendor-js.sh
// copies from npm. Tests (*.test.mjs) are not embedded.
package static

import "embed"

// FS holds the files served under static/.
//
//go:embed app.js app.css model.mjs icons vendor
var FS embed.FS
