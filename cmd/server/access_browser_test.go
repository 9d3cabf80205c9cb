// Browser test of access by identity (issue 25) on the demo: the tour's catalog-callers policy
// marks catalog's edges denied ⊘ and conditional ◐, the edge panel names the policy and the
// denials, and "Allow only these callers" plans, applies and undoes an AuthorizationPolicy.

package main

import (
	"testing"

	"github.com/meshlock/meshlock/test/e2e"
)

func TestAccessByIdentityInBrowser(t *testing.T) {
	base, _, _ := demoDashboard(t, "--refresh=1s", "--window=5s")
	browser := e2e.StartBrowser(t, 1280, 720)
	browser.Open(base + "/")
	const (
		mixed = "tour/web->tour/catalog:http"
		open  = "unknown->tour/catalog:http"
	)
	padlock := func(id string) string {
		return `document.querySelector('[data-testid=padlock][data-edge-id="` + id + `"]')`
	}
	const marks = `JSON.stringify([...document.querySelectorAll('[data-testid=padlock][data-authz]')].map(p => p.dataset.edgeId + '=' + p.dataset.authz))`
	browser.WaitFor("catalog's edges marked", `window.meshlock?.ready && `+padlock(mixed)+`?.dataset.authz === 'conditional' && `+padlock(open)+`?.dataset.authz === 'deny' && `+
		padlock(open)+`.querySelector('.authz-mark-deny')?.textContent === '⊘' && `+padlock(open)+`.getAttribute('aria-label').includes('access denied by tour/catalog-callers')`, marks)
	if n, err := e2e.Eval[int](browser, `document.querySelectorAll('[data-testid=legend-authz]').length`); err != nil || n != 1 {
		t.Errorf("legend entries for access: %d (%v)", n, err)
	}

	click := func(what, selector string) {
		t.Helper()
		browser.WaitFor(what+" is there", `document.querySelector('`+selector+`') !== null`, `document.querySelector('[data-testid=side-panel]')?.innerText`)
		if _, err := e2e.Eval[bool](browser, `(document.querySelector('`+selector+`').click(), true)`); err != nil {
			t.Fatalf("click %s: %v", what, err)
		}
	}
	// The mixed edge: web's mTLS allowed, its canary's plaintext denied, and the 403s counted.
	click("the mixed edge", `[data-testid=padlock][data-edge-id="`+mixed+`"]`)
	const access = `document.querySelector('[data-testid=edge-access]')`
	browser.WaitFor("the edge panel names the decision", access+`?.dataset.decision === 'conditional' && `+access+`.innerText.includes('mTLS allowed, plaintext denied') && `+
		access+`.innerText.includes('tour/catalog-callers') && document.querySelector('[data-testid=edge-denied]')?.innerText.includes('denied by access policy')`,
		`document.querySelector('[data-testid=side-panel]')?.innerText`)

	// Allow only these callers, on catalog: a new ALLOW policy naming web's identity.
	const dialog = `document.querySelector('[data-testid=enforce-dialog]')`
	click("Enforce on catalog", `[data-testid=enforce-service][data-namespace=tour][data-service=catalog]`)
	browser.WaitFor("the dialog", dialog+`.open && `+dialog+`.dataset.state === 'ready'`, dialog+`.innerText`)
	click("Allow only these callers", `[data-testid=enforce-mode-authorization]`)
	browser.WaitFor("the authorization plan", dialog+`.dataset.mode === 'authorization' && `+dialog+`.dataset.state === 'ready' && `+
		`document.querySelector('[data-testid=enforce-change][data-kind=AuthorizationPolicy][data-action=create]') !== null && `+
		dialog+`.innerText.includes('cluster.local/ns/tour/sa/web') && !document.querySelector('[data-testid=enforce-policy-dry-run]').closest('label').hidden`,
		dialog+`.innerText`)
	click("Apply", `[data-testid=enforce-apply]`)
	browser.WaitFor("the dialog closes", `!`+dialog+`.open`, dialog+`.innerText`)
	browser.WaitFor("the action in the activity list", `document.querySelector('[data-testid=activity-item] [data-testid=undo]') !== null`,
		`document.querySelector('[data-testid=activity]')?.innerText`)
	click("Undo", `[data-testid=activity-item] [data-testid=undo]`)
	browser.WaitFor("the action undone", `document.querySelector('[data-testid=activity-item][data-undone=true]') !== null`,
		`document.querySelector('[data-testid=activity]')?.innerText`)
}
