#!/usr/bin/env bash
# Copies the minified browser builds of the dashboard's JavaScript libraries
# from npm (exact versions in package.json, integrity in package-lock.json)
# into static/vendor/, which is committed: the Go build needs no npm.
# axe-core, which only the browser tests use (cmd/server/a11y_browser_test.go),
# goes to test/e2e/testdata/ instead: the page's static handler never serves it.
#
#   scripts/vendor-js.sh    # then review and commit static/vendor/ and test/e2e/testdata/
#
# cytoscape-dagre 4.x bundles its dagre (@dagrejs/dagre 3) into its dist
# file, so there is no separate dagre script to copy.
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --ignore-scripts --no-audit --no-fund

out=static/vendor
rm -rf "$out"
mkdir -p "$out"
cp node_modules/cytoscape/dist/cytoscape.min.js "$out/cytoscape.min.js"
cp node_modules/cytoscape/LICENSE "$out/cytoscape.LICENSE.txt"
cp node_modules/cytoscape-dagre/dist/cytoscape-dagre.min.js "$out/cytoscape-dagre.min.js"
cp node_modules/cytoscape-dagre/LICENSE "$out/cytoscape-dagre.LICENSE.txt"

# The source maps are not copied: the browser would ask for them (404).
sed -i -e '/^\/\/# sourceMappingURL=/d' "$out"/*.min.js

{
	echo "Vendored by scripts/vendor-js.sh from npm; do not edit."
	for pkg in cytoscape cytoscape-dagre; do
		node -e 'const p=require(`./node_modules/${process.argv[1]}/package.json`); console.log(`${p.name} ${p.version} (${p.license})`)' "$pkg"
	done
	echo "cytoscape-dagre bundles @dagrejs/dagre 3.0.0 and @dagrejs/graphlib 4.0.1."
} >"$out/VERSIONS.txt"

ls -l "$out"

# axe-core for the accessibility browser test: embedded by test/e2e (a11y.go).
axe=test/e2e/testdata
mkdir -p "$axe"
rm -f "$axe"/axe.min.js "$axe"/axe.LICENSE.txt "$axe"/axe.VERSION.txt
cp node_modules/axe-core/axe.min.js "$axe/axe.min.js"
cp node_modules/axe-core/LICENSE "$axe/axe.LICENSE.txt"
sed -i -e '/^\/\/# sourceMappingURL=/d' "$axe/axe.min.js"
node -e 'const p=require("./node_modules/axe-core/package.json"); console.log(`Vendored by scripts/vendor-js.sh from npm; do not edit.\n${p.name} ${p.version} (${p.license})`)' >"$axe/axe.VERSION.txt"
ls -l "$axe"/axe.*
