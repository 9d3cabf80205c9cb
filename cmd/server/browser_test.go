// Browser tests of the dashboard on the demo world: padlocks close live when mTLS rules
// are applied, the stale banner follows Prometheus, and enforcing and undoing from the page.

package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshlock/meshlock/internal/demo"
	"github.com/meshlock/meshlock/test/e2e"
	"github.com/meshlock/meshlock/test/integration"
)

// switchablePrometheus forwards to a Prometheus API until it is told to
// fail, like a Prometheus that goes down and comes back.
type switchablePrometheus struct {
	down  atomic.Bool
	proxy *httputil.ReverseProxy
}

func (p *switchablePrometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.down.Load() {
		http.Error(w, "prometheus is down for this test", http.StatusServiceUnavailable)
		return
	}
	p.proxy.ServeHTTP(w, r)
}

// demoDashboard runs meshlock's real app on the demo world, with the
// demo's Prometheus behind a switch, and returns its URL and the world.
func demoDashboard(t *testing.T, args ...string) (string, *demo.Env, *switchablePrometheus) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logger := slog.New(slog.DiscardHandler)
	cfg, err := parseConfig(append([]string{"--demo"}, args...), func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	env, err := demo.StartWith(ctx, logger, demo.Options{Clusters: cfg.DemoClusters})
	if err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(env.PrometheusURL)
	if err != nil {
		t.Fatal(err)
	}
	prom := &switchablePrometheus{proxy: httputil.NewSingleHostReverseProxy(target)}
	promServer := httptest.NewServer(prom)

	src := demoSources(env)
	src.prometheusURL = promServer.URL
	app, err := newApp(ctx, cfg, src, prometheus.NewRegistry(), logger)
	if err != nil {
		t.Fatal(err)
	}
	app.start(ctx, logger)
	server := httptest.NewServer(app.handler)
	t.Cleanup(func() {
		server.Close()
		promServer.Close()
		cancel()
		if err := env.Close(); err != nil {
			t.Error(err)
		}
	})
	return server.URL, env, prom
}

// Someone opens the dashboard on the demo: bookinfo with open padlocks;
// mTLS rules are applied and the padlocks close without a reload; when
// Prometheus fails the stale banner says so, and goes when it recovers.
func TestDashboardInBrowser(t *testing.T) {
	base, env, prom := demoDashboard(t, "--refresh=1s", "--window=5s")
	browser := e2e.StartBrowser(t, 1280, 720)
	browser.Open(base + "/")

	const padlocks = `JSON.stringify([...document.querySelectorAll('[data-testid=padlock]')].map(p => p.dataset.edgeId + '=' + p.dataset.status))`
	padlockIs := func(edge, status string) string {
		return `document.querySelector('[data-testid=padlock][data-edge-id="` + edge + `"]')?.dataset.status === '` + status + `'`
	}
	browser.WaitFor("the graph is drawn", `window.meshlock && window.meshlock.ready`, padlocks)
	for _, edge := range append(bookinfoEdges, legacyEdge) {
		browser.WaitFor(edge+" open", padlockIs(edge, "open"), padlocks)
	}

	integration.ApplyDestinationRules(t, env.Istio, "default", integration.SharedFixture(t, "bookinfo", "destination-rule-all-mtls.yaml"))
	for _, edge := range bookinfoEdges {
		browser.WaitFor(edge+" locked", padlockIs(edge, "locked"), padlocks)
	}
	browser.WaitFor("the legacy edge still open", padlockIs(legacyEdge, "open"), padlocks)
	if loads, err := e2e.Eval[int](browser, `window.meshlock.loads`); err != nil || loads != 1 {
		t.Errorf("the page was loaded %d times (%v): the padlocks must change without a reload", loads, err)
	}
	const tableRow = `document.querySelector('[data-testid=edge-row][data-edge-id="default/productpage->default/reviews:http"]')?.dataset.status === 'locked'`
	browser.WaitFor("the table view follows", tableRow, `document.querySelector('[data-testid=edge-table]')?.innerText`)

	browser.Screenshot(screenshotPath(t))

	const staleBanner = `(() => { const b = document.querySelector('[data-testid=stale-banner]'); return b && b.offsetParent !== null && b.innerText.includes('503'); })()`
	prom.down.Store(true)
	browser.WaitFor("the stale banner appears with the reason", staleBanner, `document.querySelector('[data-testid=stale-banner]')?.outerHTML`)
	prom.down.Store(false)
	browser.WaitFor("the stale banner goes", `!(`+staleBanner+`)`, `document.querySelector('[data-testid=stale-banner]')?.outerHTML`)
}

// screenshotPath is $MESHLOCK_SCREENSHOT (make screenshot sets it to the
// README's picture), else a file in the test's temporary folder.
func screenshotPath(t *testing.T) string {
	if path := os.Getenv("MESHLOCK_SCREENSHOT"); path != "" {
		return path
	}
	return filepath.Join(t.TempDir(), "dashboard.png")
}

// Someone enforces mTLS on namespace default from the page: the dialog
// shows the plan (bookinfo's four rules updated, nobody cut), Apply turns
// the padlocks locked without a reload, the action is in the activity
// list, and its Undo turns them open again.
func TestEnforceFromThePage(t *testing.T) {
	base, _, _ := demoDashboard(t, "--refresh=1s", "--window=5s")
	browser := e2e.StartBrowser(t, 1280, 720)
	browser.Open(base + "/")
	const padlocks = `JSON.stringify([...document.querySelectorAll('[data-testid=padlock]')].map(p => p.dataset.edgeId + '=' + p.dataset.status))`
	allPadlocks := func(status string) string {
		ids := `["` + strings.Join(bookinfoEdges, `","`) + `"]`
		return ids + `.every(id => document.querySelector('[data-testid=padlock][data-edge-id="' + id + '"]')?.dataset.status === '` + status + `')`
	}
	browser.WaitFor("bookinfo drawn open", `window.meshlock?.ready && `+allPadlocks("open"), padlocks)

	click := func(what, selector string) {
		t.Helper()
		browser.WaitFor(what+" is there", `document.querySelector('`+selector+`') !== null`, `document.querySelector('[data-testid=side-panel]')?.innerText`)
		if _, err := e2e.Eval[bool](browser, `(document.querySelector('`+selector+`').click(), true)`); err != nil {
			t.Fatalf("click %s: %v", what, err)
		}
	}
	// The mesh rule for *.local would not reach bookinfo, whose own rules are more specific: the plan says so
	// (four warnings), as it does of the tour namespace's two DISABLE rules (payments, search) and of its
	// canary's rule, which selects web v2 and comes first for it, and it changes nothing on the wire for the
	// ambient shop namespace (an eighth).
	const dialog = `document.querySelector('[data-testid=enforce-dialog]')`
	click("Enforce on the mesh", `[data-testid=enforce-mesh]`)
	browser.WaitFor("the mesh plan warns of bookinfo's rules", dialog+`.dataset.state === 'ready' && document.querySelectorAll('[data-testid=enforce-warning]').length === 8 && `+dialog+`.innerText.includes('ztunnel reads no DestinationRule') && `+dialog+`.innerText.includes('DestinationRule tour/payments is more specific') && `+dialog+`.innerText.includes('DestinationRule tour/catalog-web-canary selects workloads')`,
		dialog+`.innerText`)
	// Closing and opening again at once (the close event comes later) must still load the new plan.
	if _, err := e2e.Eval[bool](browser, `(document.querySelector('[data-testid=enforce-cancel]').click(), document.querySelector('[data-testid=enforce-mesh]').click(), true)`); err != nil {
		t.Fatal(err)
	}
	browser.WaitFor("the plan after reopening", dialog+`.open && `+dialog+`.dataset.state === 'ready' && document.querySelectorAll('[data-testid=enforce-warning]').length === 8`,
		dialog+`.dataset.state + ' ' + `+dialog+`.innerText`)
	click("Cancel", `[data-testid=enforce-cancel]`)
	browser.WaitFor("the dialog closes", `!`+dialog+`.open`, dialog+`.innerText`)

	click("the edge row", `[data-testid=edge-row][data-edge-id="default/productpage->default/reviews:http"]`)
	click("Enforce on namespace default", `[data-testid=enforce-namespace][data-namespace=default]`)
	browser.WaitFor("the plan", dialog+`.dataset.state === 'ready' && document.querySelectorAll('[data-testid=enforce-change][data-action=update][data-kind=DestinationRule]').length === 4 && document.querySelector('[data-testid=enforce-no-breaks]') !== null && document.querySelectorAll('[data-testid=enforce-warning]').length === 0`,
		dialog+`.innerText`)
	click("Apply", `[data-testid=enforce-apply]`)
	browser.WaitFor("the dialog closes", `!`+dialog+`.open`, dialog+`.innerText`)
	browser.WaitFor("the action in the activity list", `document.querySelector('[data-testid=activity-item] [data-testid=undo]') !== null`, `document.querySelector('[data-testid=activity]')?.innerText`)
	browser.WaitFor("bookinfo locked", allPadlocks("locked"), padlocks)

	click("Undo", `[data-testid=activity-item] [data-testid=undo]`)
	browser.WaitFor("the action marked undone", `document.querySelector('[data-testid=activity-item][data-undone=true]') !== null`, `document.querySelector('[data-testid=activity]')?.innerText`)
	browser.WaitFor("bookinfo open again", allPadlocks("open"), padlocks)
	if loads, err := e2e.Eval[int](browser, `window.meshlock.loads`); err != nil || loads != 1 {
		t.Errorf("the page was loaded %d times (%v)", loads, err)
	}
}

// Someone downloads the report of the namespace shown from the header:
// the page asks api/report for that namespace and says the file came; a
// period beyond what the demo's Prometheus keeps is refused beside the
// button, in one sentence, the page staying.
func TestReportFromThePage(t *testing.T) {
	base, _, _ := demoDashboard(t, "--refresh=1s", "--window=5s")
	browser := e2e.StartBrowser(t, 1280, 720)
	browser.Open(base + "/?namespace=default")
	browser.WaitFor("the graph is drawn", `window.meshlock && window.meshlock.ready`, `document.title`)
	const status = `document.querySelector('[data-testid=report-status]')?.innerText || ''`
	if _, err := e2e.Eval[bool](browser, `(() => { const f = window.fetch; window.fetch = (u, o) => { window.reportURL = String(u); return f(u, o); }; return true; })()`); err != nil {
		t.Fatal(err)
	}
	browser.Click(`[data-testid=report-download]`)
	browser.WaitFor("the report is downloaded", status+`.startsWith('Downloaded meshlock-report-')`, status)
	if u, err := e2e.Eval[string](browser, `window.reportURL`); err != nil || !strings.Contains(u, "api/report?namespace=default&from=&format=csv") {
		t.Errorf("the page asked %q (%v), want the report of namespace default as CSV", u, err)
	}
	if _, err := e2e.Eval[bool](browser, `(() => { document.querySelector('[data-testid=report-from]').value = '30d'; return true; })()`); err != nil {
		t.Fatal(err)
	}
	browser.Click(`[data-testid=report-download]`)
	browser.WaitFor("the refusal is shown", status+`.includes('Bad request (400)') && `+status+`.includes('before what Prometheus holds')`, status)
	if loads, err := e2e.Eval[int](browser, `window.meshlock.loads`); err != nil || loads != 1 {
		t.Errorf("the page was loaded %d times (%v): the report must not replace it", loads, err)
	}
}
