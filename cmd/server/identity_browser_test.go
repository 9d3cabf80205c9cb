// The page's identity half in Chromium (issue 22): the demo's root, 20 days from its end, is
// flagged in the header and the identity panel; details' stalled proxy certificate in its node's
// panel.

package main

import (
	"strings"
	"testing"

	"github.com/meshlock/meshlock/test/e2e"
)

func TestDemoIdentityInBrowser(t *testing.T) {
	base := startMeshlock(t, "--demo", "--refresh=1s", "--window=5s")
	browser := e2e.StartBrowser(t, 1280, 800)
	browser.Open(base + "/")
	browser.WaitFor("the page ready", `window.meshlock?.ready === true`, `String(window.meshlock?.ready)`)

	browser.Click(`[data-testid=identity-open]`)
	browser.WaitFor("the identity panel loaded", `document.querySelector('[data-testid=identity-panel]')?.dataset.state === 'ready'`,
		`document.querySelector('[data-testid=identity-panel]')?.dataset.state`)
	root, err := e2e.Eval[string](browser, `(() => { const r = document.querySelector('[data-testid=identity-root]');
		return [r.dataset.level, r.dataset.daysLeft, r.querySelector('[data-testid=root-subject]').textContent,
			r.querySelector('[data-testid=root-days-left]').textContent, r.querySelector('[data-testid=root-namespaces]').dataset.count].join('|'); })()`)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(root, "|")
	if len(parts) != 5 || parts[0] != "warning" || (parts[1] != "19" && parts[1] != "20") || !strings.Contains(parts[2], "Root CA") ||
		!strings.Contains(parts[3], "days") || parts[4] == "0" {
		t.Errorf("the soonest root in the panel: %q, want a warning 19 or 20 days out, held in some namespaces", root)
	}
	badge, err := e2e.Eval[string](browser, `(() => { const b = document.querySelector('[data-testid=trust-badge]'); return b.hidden + '|' + b.dataset.level; })()`)
	if err != nil || badge != "false|warning" {
		t.Errorf("the header's trust badge: %q (%v), want shown as a warning", badge, err)
	}
	domain, err := e2e.Eval[string](browser, `document.querySelector('[data-testid=identity-trust-domain]')?.textContent || ''`)
	if err != nil || !strings.Contains(domain, "cluster.local") {
		t.Errorf("the trust domain: %q (%v)", domain, err)
	}

	// details-v1's certificate stopped rotating: its node says so, coloured.
	browser.Click(`#nodes-block summary`)
	browser.WaitFor("the node table", `document.querySelector('[data-testid=node-row][data-node-id="default/details"]') !== null`,
		`document.querySelectorAll('[data-testid=node-row]').length + ' rows'`)
	browser.Click(`[data-testid=node-row][data-node-id="default/details"]`)
	browser.WaitFor("details' certificate in its panel", `document.querySelector('[data-testid=node-cert-expiry]')?.dataset.level === 'warning'`,
		`(document.querySelector('[data-testid=node-cert-expiry]')?.dataset.level || 'none') + ': ' + (document.querySelector('[data-testid=node-cert-expiry]')?.textContent || '')`)
	expected, err := e2e.Eval[string](browser, `document.querySelector('[data-testid=node-expected-principals]')?.textContent || ''`)
	if err != nil || !strings.Contains(expected, "spiffe://cluster.local/ns/default/sa/bookinfo-details") {
		t.Errorf("details' expected principal: %q (%v)", expected, err)
	}
}
