// The two-cluster demo in Chromium (issue 24): a box per cluster, the cluster filter, the
// crossing edge marked and locked, ?cluster= kept to one cluster's part, enforcing a node in east
// names east, and the mesh of one cluster at a time.

package main

import (
	"strings"
	"testing"

	"github.com/meshlock/meshlock/test/e2e"
)

const crossTourEdge = "west/tour/web->east/tour/recommendations:http"

func TestTwoClusterDemoInBrowser(t *testing.T) {
	base, _, _ := demoDashboard(t, "--demo-clusters=2", "--refresh=1s", "--window=5s")
	browser := e2e.StartBrowser(t, 1280, 800)
	browser.Open(base + "/")
	browser.WaitFor("the page ready", `window.meshlock?.ready === true`, `String(window.meshlock?.ready)`)

	const groups = `[...document.querySelectorAll('[data-testid=cluster-group]')].map(g => g.dataset.cluster).sort().join(',')`
	browser.WaitFor("a box per cluster", groups+` === 'east,west'`, groups)
	browser.WaitFor("the cluster filter shown", `!document.querySelector('[data-testid=cluster-form]').hidden`,
		`String(document.querySelector('[data-testid=cluster-form]').hidden)`)
	const crossing = `document.querySelector('[data-testid=padlock][data-edge-id="` + crossTourEdge + `"]')`
	browser.WaitFor("the crossing edge locked and marked", crossing+`?.dataset.status === 'locked' && `+crossing+`?.dataset.crossCluster === 'true'`,
		`(`+crossing+`?.dataset.status || 'absent') + ' ' + (`+crossing+`?.dataset.crossCluster || '')`)
	browser.Screenshot(screenshotPath(t))

	// Mesh-wide, with both clusters shown: the dialog asks for one.
	browser.Click(`[data-testid=enforce-mesh]`)
	browser.WaitFor("the mesh needs one cluster", `document.querySelector('[data-testid=enforce-dialog]').dataset.state === 'error'`,
		`document.querySelector('[data-testid=enforce-dialog]').dataset.state`)
	msg, err := e2e.Eval[string](browser, `document.querySelector('[data-testid=enforce-error]').textContent`)
	if err != nil || !strings.Contains(msg, "choose one cluster") {
		t.Errorf("the mesh-wide dialog with two clusters says %q (%v)", msg, err)
	}

	// ?cluster=east: east's part and its callers, nothing else of west.
	browser.Go(base + "/?cluster=east")
	browser.WaitFor("the page ready on east", `window.meshlock?.ready === true && window.meshlock.clusters.join() === 'east'`,
		`String(window.meshlock?.clusters)`)
	ends, err := e2e.Eval[string](browser, `[...document.querySelectorAll('[data-testid=padlock]')].map(p => p.dataset.edgeId).join(' ')`)
	if err != nil || ends == "" {
		t.Fatalf("padlocks on east: %q (%v)", ends, err)
	}
	for _, id := range strings.Fields(ends) {
		if !strings.Contains(id, "east/") {
			t.Errorf("?cluster=east shows %s, which does not touch east", id)
		}
	}
	// The mesh of east: the dialog's plan names east.
	browser.Click(`[data-testid=enforce-mesh]`)
	browser.WaitFor("east's mesh planned", `document.querySelector('[data-testid=enforce-dialog]').dataset.state === 'ready'`,
		`document.querySelector('[data-testid=enforce-dialog]').dataset.state + ': ' + document.querySelector('[data-testid=enforce-error]').textContent`)
	scope, err := e2e.Eval[string](browser, `document.querySelector('[data-testid=enforce-scope]').textContent`)
	if err != nil || !strings.Contains(scope, "mesh in cluster east") {
		t.Errorf("the dialog's scope: %q (%v)", scope, err)
	}
}
