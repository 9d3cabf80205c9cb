// Browser tests of a big mesh: a generated snapshot of 1,000 services and 5,000 edges (and one of
// 20,000) served by the real web handler and stream opens collapsed by namespace, fast and lean;
// a namespace expands; a delta of 1% of the edges applies fast and without a layout; without the
// stream the page still shows the mesh.

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/k8s"
	"github.com/meshlock/meshlock/test/e2e"
	"github.com/meshlock/meshlock/web"
)

// The targets issue 14 set for a mesh of 1,000 services and 5,000 edges on
// this project's 2-core machine, and the looser one for 20,000 edges. The
// benchmarks below (make bench-browser) hold the page to them; the tests
// only log the figures, since a busy machine would fail them for reasons
// that are not the page's (issue 20).
const (
	bigReadyTarget   = 2 * time.Second
	bigMemoryTarget  = 500 << 20
	bigApplyTargetMs = 50
	hugeReadyTarget  = 10 * time.Second
	bigDeltas        = 5
)

// rendererBound is what the tests hold the renderer's RSS and JS heap to:
// a page that keeps the mesh collapsed stays far under it on any machine
// (about 200 MB), one that draws every edge passed 2.8 GB.
const rendererBound = 1 << 30

// The generated meshes, made once per test binary (the suite runs with -race).
var (
	bigSnapshot  = sync.OnceValue(func() graph.Snapshot { return bigMesh(1000, 5000, 20) })
	hugeSnapshot = sync.OnceValue(func() graph.Snapshot { return bigMesh(1000, 20000, 20) })
)

// Someone opens the dashboard of a mesh of 1,000 services and 5,000 edges:
// it gets ready with the renderer bounded, collapsed to one node per
// namespace whose padlock says the status of the edges into it; the edge
// table is paged, sorts and filters; a namespace expands on a click;
// refreshes that change 1% of the edges apply without laying the graph
// out again. The times are logged; BenchmarkBigMeshInBrowser holds them
// to their targets.
func TestBigMeshInBrowser(t *testing.T) {
	s := bigSnapshot()
	url, publish := snapshotDashboard(t, s)
	browser := e2e.StartBrowser(t, 1280, 800)

	o := openBigMesh(t, browser, url)
	t.Logf("%d nodes, %d edges: ready %.0f ms after the navigation started (in the page), %s wall; renderer RSS %d MB, JS heap %.0f MB (targets in BenchmarkBigMeshInBrowser)",
		len(s.Nodes), len(s.Edges), o.readyMs, o.wall.Round(time.Millisecond), o.rss>>20, o.heap/(1<<20))
	if o.rss > rendererBound || o.heap > rendererBound {
		t.Errorf("renderer RSS %d MB, JS heap %.0f MB: want each under %d MB", o.rss>>20, o.heap/(1<<20), rendererBound>>20)
	}
	// The modules came all at once, each fetched once, by the page's
	// preloads: each was asked for before app.js had arrived, which an
	// import could not have done (it is found by parsing the module above).
	fetched, err := e2e.Eval[[]string](browser, `(() => {
		const all = performance.getEntriesByType('resource');
		const app = all.find((e) => new URL(e.name).pathname.endsWith('/static/app.js'));
		return all.filter((e) => /\/static\/[\w.-]+\.m?js$/.test(e.name))
			.map((e) => new URL(e.name).pathname + (app && e.startTime <= app.responseEnd ? ' before app.js arrived' : ' after app.js arrived'));
	})()`)
	if err != nil || len(fetched) < 20 || slices.ContainsFunc(fetched, func(f string) bool { return !strings.HasSuffix(f, " before app.js arrived") }) || len(slices.Compact(slices.Sorted(slices.Values(fetched)))) != len(fetched) {
		t.Errorf("modules fetched: %v (%v); want each once, before app.js arrived", fetched, err)
	}

	// Collapsed: a padlock per namespace with the status of its edges, no edge's own.
	checkNamespacePadlocks(t, browser, s)
	if n, err := e2e.Eval[int](browser, `document.querySelectorAll('[data-testid=padlock]').length`); err != nil || n != 0 {
		t.Errorf("%d edge padlocks drawn on the collapsed graph (%v)", n, err)
	}
	if got, err := e2e.Eval[string](browser, `JSON.stringify(window.meshlock.expanded)`); err != nil || got != "[]" {
		t.Errorf("expanded namespaces %s (%v), want none", got, err)
	}

	checkPagedTable(t, browser, s)

	// A namespace expands: its services and the edges among them (and from
	// the unknown caller) each with their padlock; one layout, of it.
	layouts, _ := e2e.Eval[int](browser, `window.meshlock.layouts`)
	const ns = "team-03"
	want := 0
	for _, e := range s.Edges {
		if !e.Idle && graph.ParseID(e.Target).Namespace == ns && (graph.ParseID(e.Source).Namespace == ns || e.Source == graph.Unknown) {
			want++
		}
	}
	clicked := time.Now()
	browser.Click(`[data-testid=namespace-padlock][data-namespace="` + ns + `"]`)
	browser.WaitEvery(10*time.Millisecond, "the namespace expands",
		`document.querySelectorAll('[data-testid=padlock]').length === `+strconv.Itoa(want)+` && window.meshlock.expanded.includes('`+ns+`')`,
		`document.querySelectorAll('[data-testid=padlock]').length + ' padlocks, expanded ' + JSON.stringify(window.meshlock.expanded)`)
	t.Logf("expanding %s (%d edges drawn one by one) took %s", ns, want, time.Since(clicked).Round(time.Millisecond))
	if after, _ := e2e.Eval[int](browser, `window.meshlock.layouts`); after != layouts+1 {
		t.Errorf("expanding a namespace ran %d layouts, want 1", after-layouts)
	}
	if got, _ := e2e.Eval[string](browser, `document.querySelector('[data-testid=namespace-padlock][data-namespace="`+ns+`"]')?.dataset.expanded`); got != "true" {
		t.Errorf("the expanded namespace's padlock says expanded=%q", got)
	}

	// Refreshes change 1% of the edges, five in a row as five 5 s
	// refreshes would: none lays the graph out.
	layouts, _ = e2e.Eval[int](browser, `window.meshlock.layouts`)
	next, changed, applied := applyDeltas(t, browser, publish, s, bigDeltas)
	t.Logf("%d deltas of %d edges (1%%) applied in %.1f ms: median %.1f ms", bigDeltas, len(changed), applied, median(applied))
	if after, _ := e2e.Eval[int](browser, `window.meshlock.layouts`); after != layouts {
		t.Errorf("the deltas ran %d layouts, want none", after-layouts)
	}
	// What changed shows: the page's snapshot, the namespaces' padlocks,
	// the expanded namespace's padlocks and the table's page.
	byID := map[string]graph.Edge{}
	for _, e := range next.Edges {
		byID[e.ID] = e
	}
	statuses := map[string]string{}
	for _, id := range changed {
		statuses[id] = byID[id].Status
	}
	wantJSON, _ := json.Marshal(statuses)
	if got, err := e2e.Eval[string](browser, `JSON.stringify(Object.fromEntries(Object.keys(`+string(wantJSON)+`).map(id => [id, window.meshlock.snapshot.edges.find(e => e.id === id)?.status])))`); err != nil || !jsonEqual(got, string(wantJSON)) {
		t.Errorf("the page's snapshot after the delta: %s (%v), want %s", got, err, wantJSON)
	}
	checkNamespacePadlocks(t, browser, next)
	if bad, err := e2e.Eval[string](browser, `[...document.querySelectorAll('[data-testid=padlock]')].filter(p => p.dataset.status !== window.meshlock.snapshot.edges.find(e => e.id === p.dataset.edgeId)?.status).map(p => p.dataset.edgeId).join(' ')`); err != nil || bad != "" {
		t.Errorf("padlocks not following the delta: %q (%v)", bad, err)
	}
	if bad, err := e2e.Eval[string](browser, `[...document.querySelectorAll('[data-testid=edge-row]')].filter(r => r.dataset.status !== window.meshlock.snapshot.edges.find(e => e.id === r.dataset.edgeId)?.status).map(r => r.dataset.edgeId).join(' ')`); err != nil || bad != "" {
		t.Errorf("table rows not following the delta: %q (%v)", bad, err)
	}

	// Collapsing it again is one more layout, and the padlocks go.
	browser.Click(`[data-testid=namespace-padlock][data-namespace="` + ns + `"]`)
	browser.WaitFor("the namespace collapses", `document.querySelectorAll('[data-testid=padlock]').length === 0 && window.meshlock.expanded.length === 0`,
		`JSON.stringify(window.meshlock.expanded)`)

	// An edge picked in the table is shown on the graph: its namespaces open.
	var picked graph.Edge
	for _, e := range next.Edges {
		if !e.Idle && graph.ParseID(e.Source).Namespace == "team-05" && graph.ParseID(e.Target).Namespace == "team-06" {
			picked = e
			break
		}
	}
	browser.Click(`[data-testid=count-` + picked.Status + `]`) // fewer rows: find it on a page
	browser.WaitEvery(50*time.Millisecond, "the edge's row",
		`(() => { const r = document.querySelector('[data-testid=edge-row][data-edge-id="`+picked.ID+`"]'); if (r) { r.click(); return true; } document.querySelector('[data-testid=table-pager] [data-testid=pager-next]').click(); return false; })()`,
		`document.querySelector('[data-testid=table-pager]').innerText`)
	browser.WaitFor("the picked edge drawn, its namespaces open",
		`document.querySelector('[data-testid=padlock][data-edge-id="`+picked.ID+`"]') !== null && JSON.stringify(window.meshlock.expanded) === '["team-05","team-06"]'`,
		`JSON.stringify(window.meshlock.expanded)`)

	// The namespace filter (the header's selector): two namespaces open
	// expanded, the others (ends of their edges) collapsed, while that is
	// still a big mesh (else it is drawn in full); "All" collapses them all.
	filtered := graph.Filter(next, []string{"team-03", "team-04"})
	wantExpanded := "null"
	if len(filtered.Nodes) > 300 || len(filtered.Edges) > 1000 {
		wantExpanded = `["team-03","team-04"]`
	}
	if _, err := e2e.Eval[bool](browser, `(() => { const sel = document.querySelector('[data-testid=namespace-select]'); for (const o of sel.options) o.selected = o.value === 'team-03' || o.value === 'team-04'; sel.dispatchEvent(new Event('change', { bubbles: true })); return true; })()`); err != nil {
		t.Fatal(err)
	}
	browser.WaitFor("the filtered graph", `window.meshlock.snapshot.nodes.length === `+strconv.Itoa(len(filtered.Nodes))+` && JSON.stringify(window.meshlock.expanded) === '`+wantExpanded+`'`,
		`window.meshlock.snapshot.nodes.length + ' nodes, expanded ' + JSON.stringify(window.meshlock.expanded)`)
	t.Logf("namespaces team-03 and team-04: %d nodes, %d edges, expanded %s", len(filtered.Nodes), len(filtered.Edges), wantExpanded)
	browser.Click(`#ns-all`)
	browser.WaitFor("all namespaces, collapsed", `window.meshlock.snapshot.nodes.length === `+strconv.Itoa(len(next.Nodes))+` && JSON.stringify(window.meshlock.expanded) === '[]'`,
		`window.meshlock.snapshot.nodes.length + ' nodes, expanded ' + JSON.stringify(window.meshlock.expanded)`)
	if loads, err := e2e.Eval[int](browser, `window.meshlock.loads`); err != nil || loads != 1 {
		t.Errorf("the page was loaded %d times (%v)", loads, err)
	}
}

// A mesh of 20,000 edges opens too: collapsed, the renderer bounded, a
// namespace expands on a click and a delta applies without a layout.
// BenchmarkHugeMeshInBrowser holds its time to the target.
func TestHugeMeshInBrowser(t *testing.T) {
	s := hugeSnapshot()
	url, publish := snapshotDashboard(t, s)
	browser := e2e.StartBrowser(t, 1280, 800)
	o := openBigMesh(t, browser, url)
	t.Logf("%d nodes, %d edges: ready %.0f ms after the navigation started (in the page), %s wall; renderer RSS %d MB, JS heap %.0f MB",
		len(s.Nodes), len(s.Edges), o.readyMs, o.wall.Round(time.Millisecond), o.rss>>20, o.heap/(1<<20))
	if o.rss > 2*rendererBound || o.heap > 2*rendererBound {
		t.Errorf("renderer RSS %d MB, JS heap %.0f MB: want each under %d MB", o.rss>>20, o.heap/(1<<20), 2*rendererBound>>20)
	}
	checkNamespacePadlocks(t, browser, s)

	clicked := time.Now()
	browser.Click(`[data-testid=namespace-padlock][data-namespace="team-07"]`)
	browser.WaitFor("the namespace expands", `document.querySelectorAll('[data-testid=padlock]').length > 0 && window.meshlock.expanded.includes('team-07')`,
		`JSON.stringify(window.meshlock.expanded)`)
	t.Logf("expanding team-07 took %s", time.Since(clicked).Round(time.Millisecond))

	layouts, _ := e2e.Eval[int](browser, `window.meshlock.layouts`)
	next, changed, applied := applyDeltas(t, browser, publish, s, 1)
	t.Logf("a delta of %d edges (1%%) applied in %.1f ms", len(changed), applied[0])
	if after, _ := e2e.Eval[int](browser, `window.meshlock.layouts`); after != layouts {
		t.Errorf("the delta ran %d layouts, want none", after-layouts)
	}
	checkNamespacePadlocks(t, browser, next)
}

// opened is what openBigMesh measured of a page as it got ready.
type opened struct {
	readyMs float64       // in the page, from the navigation's start
	wall    time.Duration // from the test's navigation to ready, polled
	rss     int64         // the renderer's resident memory
	heap    float64       // the page's JS heap
}

// openBigMesh opens the dashboard at url, waits until it is ready (live,
// drawn) and measures it, failing the test when a figure cannot be read.
func openBigMesh(tb testing.TB, browser *e2e.Browser, url string) opened {
	tb.Helper()
	var o opened
	var err error
	if o.readyMs, o.wall, err = browser.OpenReady(url, 10*time.Millisecond); err != nil {
		tb.Fatal(err)
	}
	if o.rss, err = browser.RendererRSS(); err != nil {
		tb.Fatal(err)
	}
	if o.heap, err = e2e.Eval[float64](browser, `performance.memory.usedJSHeapSize`); err != nil {
		tb.Fatal(err)
	}
	return o
}

// applyDeltas publishes n refreshes in a row, each changing 1% of the
// edges of the one before (from s), waits for the page to apply each, and
// answers the last snapshot, the edges it changed and the page's own time
// to apply each delta (window.meshlock.lastApplyMs).
func applyDeltas(tb testing.TB, browser *e2e.Browser, publish func(graph.Snapshot), s graph.Snapshot, n int) (graph.Snapshot, []string, []float64) {
	tb.Helper()
	next, changed := s, []string(nil)
	var applied []float64
	for range n {
		next, changed = changeEdges(next, 100)
		publish(next)
		browser.WaitEvery(10*time.Millisecond, "the delta is applied",
			`window.meshlock.snapshot.generatedAt === '`+next.GeneratedAt.Format(time.RFC3339)+`'`, `window.meshlock.snapshot.generatedAt`)
		applyMs, err := e2e.Eval[float64](browser, `window.meshlock.lastApplyMs`)
		if err != nil {
			tb.Fatal(err)
		}
		applied = append(applied, applyMs)
	}
	return next, changed, applied
}

// median is the middle of xs (the upper one of an even count).
func median(xs []float64) float64 {
	return slices.Sorted(slices.Values(xs))[len(xs)/2]
}

// Behind a proxy that does not pass WebSockets, the page of a big mesh
// (which carries no copy of the snapshot) shows it all the same, from
// api/graph, collapsed; it is not ready (live) and says it is reconnecting.
func TestBigMeshWithoutStream(t *testing.T) {
	s := bigSnapshot()
	url, _ := snapshotDashboardWith(t, s, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, `{"error": "this proxy does not pass WebSockets"}`, http.StatusBadGateway)
		})
	})
	browser := e2e.StartBrowser(t, 1280, 800)
	browser.Open(url)
	browser.WaitFor("the snapshot from api/graph", `window.meshlock?.snapshot?.edges.length === `+strconv.Itoa(len(s.Edges))+` && document.querySelectorAll('[data-testid=namespace-padlock]').length === 20`,
		`(window.meshlock?.snapshot?.edges.length || 0) + ' edges'`)
	checkNamespacePadlocks(t, browser, s)
	if ready, _ := e2e.Eval[bool](browser, `window.meshlock.ready`); ready {
		t.Error("ready without the stream")
	}
	browser.WaitFor("the reconnecting banner", `document.querySelector('[data-testid=disconnected-banner]') !== null`, `document.querySelector('#banners').innerText`)
}

// checkNamespacePadlocks: one padlock per namespace, each with the status
// of the live edges into the namespace (the rule of static/overview.mjs:
// locked only if all are, unknown if all are, open if none carries mTLS,
// else mixed).
func checkNamespacePadlocks(t *testing.T, browser *e2e.Browser, s graph.Snapshot) {
	t.Helper()
	counts := map[string]map[string]int{}
	for _, n := range s.Nodes {
		if n.Namespace != "" && counts[n.Namespace] == nil {
			counts[n.Namespace] = map[string]int{}
		}
	}
	for _, e := range s.Edges {
		if ns := graph.ParseID(e.Target).Namespace; !e.Idle && counts[ns] != nil {
			counts[ns][e.Status]++
		}
	}
	want := map[string]string{}
	for ns, c := range counts {
		total := c[graph.StatusLocked] + c[graph.StatusMixed] + c[graph.StatusOpen] + c[graph.StatusUnknown]
		switch {
		case total == 0:
			want[ns] = "none"
		case c[graph.StatusUnknown] == total:
			want[ns] = graph.StatusUnknown
		case c[graph.StatusLocked] == total:
			want[ns] = graph.StatusLocked
		case c[graph.StatusLocked] == 0 && c[graph.StatusMixed] == 0:
			want[ns] = graph.StatusOpen
		default:
			want[ns] = graph.StatusMixed
		}
	}
	wantJSON, _ := json.Marshal(want)
	got, err := e2e.Eval[string](browser, `JSON.stringify(Object.fromEntries([...document.querySelectorAll('[data-testid=namespace-padlock]')].map(b => [b.dataset.namespace, b.dataset.status])))`)
	if err != nil || !jsonEqual(got, string(wantJSON)) {
		t.Errorf("namespace padlocks %s (%v), want %s", got, err, wantJSON)
	}
}

// checkPagedTable: the edge table shows a page of 100 rows of the live
// edges (idle ones are hidden until asked for), turns pages, sorts and filters.
func checkPagedTable(t *testing.T, browser *e2e.Browser, s graph.Snapshot) {
	t.Helper()
	total, live := len(s.Edges), 0
	for _, e := range s.Edges {
		if !e.Idle {
			live++
		}
	}
	const rows = `document.querySelectorAll('#edge-rows [data-testid=edge-row]')`
	const pager = `document.querySelector('[data-testid=table-pager]')`
	if n, err := e2e.Eval[int](browser, rows+`.length`); err != nil || n != 100 {
		t.Errorf("%d rows on the table's page (%v), want 100", n, err)
	}
	if visible, _ := e2e.Eval[bool](browser, `!`+pager+`.hidden`); !visible {
		t.Error("the table's pager is hidden")
	}
	first, _ := e2e.Eval[string](browser, rows+`[0].dataset.edgeId`)
	browser.Click(`[data-testid=table-pager] [data-testid=pager-next]`)
	browser.WaitFor("the next page", pager+`.dataset.page === '2' && `+rows+`[0].dataset.edgeId !== '`+first+`'`, pager+`.innerText`)
	if got, _ := e2e.Eval[string](browser, pager+`.querySelector('[data-testid=pager-status]').textContent`); got != fmt.Sprintf("Rows 101–200 of %s (page 2 of %d)", thousands(live), (live+99)/100) {
		t.Errorf("pager says %q", got)
	}
	// Sorting by status starts at the first page, open edges first.
	browser.Click(`#edge-table button[data-sort=status]`)
	browser.WaitFor("sorted by status", pager+`.dataset.page === '1' && `+rows+`[0].dataset.status === 'open'`, rows+`[0].dataset.status`)
	// A status chip filters: only locked rows, counted.
	browser.Click(`[data-testid=count-locked]`)
	browser.WaitFor("only locked edges", `[...`+rows+`].every(r => r.dataset.status === 'locked') && document.querySelector('#edges-count').textContent.endsWith(' of `+strconv.Itoa(total)+`')`,
		`document.querySelector('#edges-count').textContent`)
	browser.Click(`[data-testid=count-locked]`)
	browser.Click(`#edge-table button[data-sort=source]`)
	browser.WaitFor("all live edges again", `document.querySelector('#edges-count').textContent === '`+strconv.Itoa(live)+` of `+strconv.Itoa(total)+`'`, `document.querySelector('#edges-count').textContent`)
}

// thousands writes n as the pager does: 4,958.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// jsonEqual compares two JSON texts by value (object keys in any order).
func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// bigMeshTime is the generated snapshots' time.
var bigMeshTime = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// bigMesh generates a mesh of nodes nodes (the unknown caller among them)
// spread over namespaces namespaces and edges edges between them, seven in
// ten within a namespace, with statuses mixed as a mesh half-way to mTLS
// shows them (60% locked, 15% mixed, 15% open, 10% unknown; 1% idle), and
// a finding per open edge's target up to 50. The same arguments give the
// same mesh.
func bigMesh(nodes, edges, namespaces int) graph.Snapshot {
	rng := rand.New(rand.NewPCG(uint64(nodes), uint64(edges)))
	s := graph.Snapshot{
		GeneratedAt: bigMeshTime, Window: "1m",
		Lookback: graph.Lookback{Window: "0s", State: graph.LookbackOff},
		Nodes:    []graph.Node{{ID: graph.Unknown, Name: graph.Unknown, Kind: graph.KindUnknown}},
	}
	byNamespace := map[string][]int{} // namespace → indexes into s.Nodes
	peerAuth := []string{"UNSET", "PERMISSIVE", "STRICT"}
	for i := 1; i < nodes; i++ {
		ns := fmt.Sprintf("team-%02d", i%namespaces)
		name := fmt.Sprintf("svc-%03d", i/namespaces)
		pa := peerAuth[rng.IntN(len(peerAuth))]
		s.Nodes = append(s.Nodes, graph.Node{
			ID: graph.NodeID(ns, name), Namespace: ns, Name: name, Kind: graph.KindService,
			InMesh: rng.Float64() < 0.9, PeerAuthentication: pa,
			Ports: []graph.ServicePort{{Port: 8080, TargetPort: 8080, Protocol: "http", PeerAuthentication: pa}},
		})
		byNamespace[ns] = append(byNamespace[ns], len(s.Nodes)-1)
	}
	protocols := []string{graph.ProtocolHTTP, graph.ProtocolHTTP, graph.ProtocolGRPC, graph.ProtocolTCP}
	seen := make(map[string]bool, edges)
	for len(s.Edges) < edges {
		src := s.Nodes[rng.IntN(len(s.Nodes))]
		var dst graph.Node
		if src.Namespace != "" && rng.Float64() < 0.7 {
			members := byNamespace[src.Namespace]
			dst = s.Nodes[members[rng.IntN(len(members))]]
		} else {
			dst = s.Nodes[1+rng.IntN(len(s.Nodes)-1)] // never the unknown caller
		}
		protocol := protocols[rng.IntN(len(protocols))]
		id := src.ID + "->" + dst.ID + ":" + protocol
		if src.ID == dst.ID || seen[id] {
			continue
		}
		seen[id] = true
		e := graph.Edge{ID: id, Source: src.ID, Target: dst.ID, Protocol: protocol}
		bigEdgeStatus(rng, &e)
		s.Edges = append(s.Edges, e)
	}
	slices.SortFunc(s.Nodes, func(a, b graph.Node) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(s.Edges, func(a, b graph.Edge) int { return strings.Compare(a.ID, b.ID) })
	findings := map[string]bool{}
	for _, e := range s.Edges {
		if e.Status != graph.StatusOpen || e.Idle || findings[e.Target] || len(findings) >= 50 {
			continue
		}
		findings[e.Target] = true
		s.Findings = append(s.Findings, graph.Finding{
			ID: "strict-would-cut:" + e.Target, Kind: graph.FindingStrictWouldCut, Severity: graph.SeverityWarning,
			Message: "A STRICT PeerAuthentication on " + e.Target + " would refuse its plaintext callers.",
			Nodes:   []string{e.Target}, Edges: []string{e.ID},
		})
	}
	slices.SortFunc(s.Findings, func(a, b graph.Finding) int { return strings.Compare(a.ID, b.ID) })
	s.Posture = graph.ComputePosture(s.Edges)
	return s
}

// bigEdgeStatus draws an edge's status, share, rate and principals.
func bigEdgeStatus(rng *rand.Rand, e *graph.Edge) {
	e.Rate = 0.1 + rng.Float64()*100
	if e.Protocol == graph.ProtocolTCP {
		e.Rate *= 1000
	}
	e.SourcePrincipal, e.DestinationPrincipal = "", ""
	switch r := rng.Float64(); {
	case r < 0.60:
		e.Status, e.MTLSRatio = graph.StatusLocked, 1
	case r < 0.75:
		e.Status, e.MTLSRatio = graph.StatusMixed, 0.2+rng.Float64()*0.7
	case r < 0.90:
		e.Status, e.MTLSRatio = graph.StatusOpen, 0
	default:
		e.Status, e.MTLSRatio = graph.StatusUnknown, 0
	}
	if e.Status == graph.StatusLocked || e.Status == graph.StatusMixed {
		e.SourcePrincipal = "spiffe://cluster.local/ns/" + graph.ParseID(e.Source).Namespace + "/sa/default"
		e.DestinationPrincipal = "spiffe://cluster.local/ns/" + graph.ParseID(e.Target).Namespace + "/sa/default"
	}
	if rng.Float64() < 0.01 {
		e.Idle, e.Rate = true, 0
		e.History = graph.EdgeHistory{Unit: "requests", Volume: 120, LastSeen: bigMeshTime.Add(-3 * time.Hour)}
	}
}

// changeEdges returns s a minute later with every step-th live edge's
// status turned to the next of locked → mixed → open → locked (unknown
// becomes locked): with step 100, 1% of the edges change.
func changeEdges(s graph.Snapshot, step int) (graph.Snapshot, []string) {
	out := s
	out.GeneratedAt = s.GeneratedAt.Add(time.Minute)
	out.Edges = slices.Clone(s.Edges)
	var changed []string
	for i := 0; i < len(out.Edges); i += step {
		e := &out.Edges[i]
		switch e.Status {
		case graph.StatusLocked:
			e.Status, e.MTLSRatio = graph.StatusMixed, 0.5
		case graph.StatusMixed:
			e.Status, e.MTLSRatio = graph.StatusOpen, 0
		default:
			e.Status, e.MTLSRatio = graph.StatusLocked, 1
		}
		changed = append(changed, e.ID)
	}
	out.Posture = graph.ComputePosture(out.Edges)
	return out, changed
}

// staticGraph is the web handler's graph source: a snapshot set by the test.
type staticGraph struct {
	mu sync.Mutex
	s  graph.Snapshot
}

func (g *staticGraph) Snapshot() graph.Snapshot {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.s
}

func (g *staticGraph) Ready() error { return nil }

// readOnly is the Enforcer of a dashboard that never enforces.
type readOnly struct{}

var errReadOnly = errors.New("this test's dashboard does not enforce")

func (readOnly) Enforce(context.Context, k8s.Clients, string, enforce.Request) (enforce.Result, error) {
	return enforce.Result{}, errReadOnly
}
func (readOnly) Actions(context.Context, k8s.Clients) ([]enforce.Action, error) { return nil, nil }
func (readOnly) Undo(context.Context, k8s.Clients, string, string) (enforce.Action, error) {
	return enforce.Action{}, errReadOnly
}

// snapshotDashboard serves s through meshlock's real handler and stream (as
// wiring.go builds them, without Kubernetes and Prometheus) and returns the
// page's URL and a publisher: what the refresh loop would publish next.
func snapshotDashboard(t testing.TB, s graph.Snapshot) (string, func(graph.Snapshot)) {
	return snapshotDashboardWith(t, s, nil)
}

// snapshotDashboardWith is snapshotDashboard with stream in front of the
// stream's handler (nil: none).
func snapshotDashboardWith(t testing.TB, s graph.Snapshot, stream func(http.Handler) http.Handler) (string, func(graph.Snapshot)) {
	t.Helper()
	registry := prometheus.NewRegistry()
	logger := slog.New(slog.DiscardHandler)
	hub, err := web.NewHub(web.HubOptions{Registerer: registry, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	source := &staticGraph{s: s}
	hub.Publish(s)
	var streamHandler http.Handler = hub
	if stream != nil {
		streamHandler = stream(hub)
	}
	handler, err := web.NewHandler(web.Options{BasePath: "/", Registry: registry, Graph: source, Stream: streamHandler,
		Enforcer: readOnly{}, Auth: web.ServerIdentity{Actor: web.Actor{Who: "test"}}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(handler)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hub.Shutdown(ctx)
		server.Close()
	})
	publish := func(next graph.Snapshot) {
		source.mu.Lock()
		source.s = next
		source.mu.Unlock()
		hub.Publish(next)
	}
	return server.URL + "/", publish
}
