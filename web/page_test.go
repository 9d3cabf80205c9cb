// Tests of the dashboard page: the shell, the plain view without JavaScript, the namespace selector,
// embedding, the strict CSP, and the formatting rules shared with static/format.mjs.

package web

// Tests of the dashboard page's shell: the containers the script fills, the
// namespace form, the snapshot handed to the script, the plain view for a
// browser without JavaScript, the strict CSP; and the formatting rules the
// plain view shares with static/format.mjs, from testdata/formatting.json.

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/meshlock/meshlock/internal/graph"
)

// pageSnapshot is a small mesh with every edge status, two namespaces, the
// unknown caller and findings, its posture computed as Build computes it.
func pageSnapshot() graph.Snapshot {
	s := pageSnapshotWithoutPosture()
	s.Posture = graph.ComputePosture(s.Edges)
	return s
}

func pageSnapshotWithoutPosture() graph.Snapshot {
	return graph.Snapshot{
		GeneratedAt: time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC),
		Window:      "1m",
		Nodes: []graph.Node{
			{ID: "default/productpage", Namespace: "default", Name: "productpage", Kind: graph.KindService, InMesh: true, PeerAuthentication: "PERMISSIVE"},
			{ID: "default/ratings", Namespace: "default", Name: "ratings", Kind: graph.KindService, InMesh: true, PeerAuthentication: "UNSET"},
			{ID: "default/reviews", Namespace: "default", Name: "reviews", Kind: graph.KindService, InMesh: true, PeerAuthentication: "UNSET", DestinationRuleTLS: "ISTIO_MUTUAL"},
			{ID: "shop/cart", Namespace: "shop", Name: "cart", Kind: graph.KindService, InMesh: false, PeerAuthentication: "UNSET"},
			{ID: "unknown", Name: "unknown", Kind: graph.KindUnknown},
		},
		Edges: []graph.Edge{
			{ID: "default/productpage->default/reviews:http", Source: "default/productpage", Target: "default/reviews", Protocol: "http", Rate: 3, MTLSRatio: 1, Status: graph.StatusLocked},
			{ID: "default/reviews->default/ratings:http", Source: "default/reviews", Target: "default/ratings", Protocol: "http", Rate: 2, MTLSRatio: 0.25, Status: graph.StatusMixed},
			{ID: "default/reviews->shop/cart:tcp", Source: "default/reviews", Target: "shop/cart", Protocol: "tcp", Rate: 2500, MTLSRatio: 0, Status: graph.StatusUnknown},
			{ID: "unknown->default/ratings:http", Source: "unknown", Target: "default/ratings", Protocol: "http", Rate: 1, MTLSRatio: 0, Status: graph.StatusOpen},
		},
		Findings: []graph.Finding{
			{ID: "strict-would-cut:default/ratings", Kind: graph.FindingStrictWouldCut, Severity: graph.SeverityWarning,
				Message: "A STRICT PeerAuthentication on default/ratings would refuse its plaintext callers: unknown.",
				Nodes:   []string{"default/ratings"}, Edges: []string{"unknown->default/ratings:http"}},
			{ID: "ready-for-strict:default/productpage", Kind: graph.FindingReadyForStrict, Severity: graph.SeverityInfo,
				Message: "default/productpage receives only mTLS under PERMISSIVE: ready for STRICT.",
				Nodes:   []string{"default/productpage"}},
		},
	}
}

// render serves the page for target with snapshot and parses it.
func render(t *testing.T, snapshot graph.Snapshot, target string) *goquery.Document {
	t.Helper()
	return renderWith(t, snapshot, target, false)
}

// renderWith is render with enforcing allowed or not (--allow-enforce).
func renderWith(t *testing.T, snapshot graph.Snapshot, target string, allowEnforce bool) *goquery.Document {
	t.Helper()
	code, body, header := serveWith(t, snapshot, target, allowEnforce)
	if code != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", target, code, body)
	}
	if ct := header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func serve(t *testing.T, snapshot graph.Snapshot, target string) (int, string, http.Header) {
	t.Helper()
	return serveWith(t, snapshot, target, false)
}

func serveWith(t *testing.T, snapshot graph.Snapshot, target string, allowEnforce bool) (int, string, http.Header) {
	t.Helper()
	handler, err := NewPageHandler(PageOptions{Graph: &fixedGraph{snapshot: snapshot}, AllowEnforce: allowEnforce})
	if err != nil {
		t.Fatal(err)
	}
	handler.(*pageHandler).now = func() time.Time { return snapshot.GeneratedAt.Add(3 * time.Second) }
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec.Code, rec.Body.String(), rec.Header()
}

func testid(doc *goquery.Document, id string) *goquery.Selection {
	return doc.Find(`[data-testid="` + id + `"]`)
}

func text(s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") }

// plain parses the <noscript> block: a browser with JavaScript (and the
// HTML parser goquery uses) reads its content as text.
func plain(t *testing.T, doc *goquery.Document) *goquery.Document {
	t.Helper()
	block := doc.Find("noscript")
	if block.Length() != 1 {
		t.Fatalf("%d <noscript> blocks, want 1", block.Length())
	}
	inner, err := goquery.NewDocumentFromReader(strings.NewReader(block.Text()))
	if err != nil {
		t.Fatal(err)
	}
	return inner
}

// sharedCases is testdata/formatting.json, the cases static/test/format.test.mjs
// checks too. A null number stands for NaN.
type sharedCases struct {
	Percent []struct {
		Share *float64
		Text  string
	}
	Rate []struct {
		Rate     *float64
		Protocol string
		Text     string
	}
	Freshness []struct {
		AgeMs int64
		Text  string
	}
	MTLS []struct {
		Status    string
		MTLSRatio float64
		Text      string
	}
	Posture []struct {
		Name    string
		Posture graph.Posture
		Text    string
	}
	DisplayName []struct {
		Node graph.Node
		Text string
	}
	EmptyMessage []struct {
		Namespaces  []string
		GeneratedAt time.Time
		Text        string
	}
}

func orNaN(f *float64) float64 {
	if f == nil {
		return math.NaN()
	}
	return *f
}

// TestSharedFormattingCases: the rules the plain view and the script both
// apply say the same, case for case.
func TestSharedFormattingCases(t *testing.T) {
	raw, err := os.ReadFile("../testdata/formatting.json")
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	var c sharedCases
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	check := func(rule, input, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s(%s) = %q, want %q", rule, input, got, want)
		}
	}
	for _, tc := range c.Percent {
		check("formatPercent", fmt.Sprint(orNaN(tc.Share)), formatPercent(orNaN(tc.Share)), tc.Text)
	}
	for _, tc := range c.Rate {
		check("formatRate", fmt.Sprint(orNaN(tc.Rate), " ", tc.Protocol), formatRate(orNaN(tc.Rate), tc.Protocol), tc.Text)
	}
	for _, tc := range c.Freshness {
		check("formatFreshness", fmt.Sprint(tc.AgeMs, "ms"), formatFreshness(time.Duration(tc.AgeMs)*time.Millisecond), tc.Text)
	}
	for _, tc := range c.MTLS {
		check("mtlsText", fmt.Sprint(tc.Status, " ", tc.MTLSRatio), mtlsText(tc.Status, tc.MTLSRatio), tc.Text)
	}
	for _, tc := range c.Posture {
		check("postureText", tc.Name, postureText(tc.Posture), tc.Text)
	}
	for _, tc := range c.DisplayName {
		check("displayName", tc.Node.ID+" "+tc.Node.Kind, displayName(tc.Node), tc.Text)
	}
	for _, tc := range c.EmptyMessage {
		s := graph.Snapshot{GeneratedAt: tc.GeneratedAt}
		if s.GeneratedAt.Year() == 1 {
			s.GeneratedAt = time.Time{}
		}
		check("emptyMessage", fmt.Sprint(tc.Namespaces, " ", tc.GeneratedAt), emptyMessage(tc.Namespaces, s), tc.Text)
	}
	counts := map[string]int{"percent": len(c.Percent), "rate": len(c.Rate), "freshness": len(c.Freshness), "mtls": len(c.MTLS),
		"posture": len(c.Posture), "displayName": len(c.DisplayName), "emptyMessage": len(c.EmptyMessage)}
	for rule := range all {
		if rule == "about" {
			continue
		}
		if counts[rule] == 0 {
			t.Errorf("rule %q of the shared table is not checked here (or has no case)", rule)
		}
	}
}

// TestPageShell: the server renders the page's frame and empty containers;
// the script draws the header's numbers, the tables, the findings and the
// side panel from the snapshot, so none of that is in the server's HTML.
func TestPageShell(t *testing.T) {
	doc := render(t, pageSnapshot(), "/")
	if testid(doc, "page-title").Length() != 1 || doc.Find("header").Length() != 1 {
		t.Error("page chrome missing without embed")
	}
	for _, id := range []string{"graph", "side-panel", "findings", "findings-count", "edge-table", "node-table", "namespace-select",
		"posture-mtls-share", "data-time", "freshness", "status-filter", "activity", "activity-status"} {
		if testid(doc, id).Length() != 1 {
			t.Errorf("data-testid=%s: %d elements, want 1", id, testid(doc, id).Length())
		}
	}
	// The containers are empty: one renderer, the script.
	for _, sel := range []string{"#edge-rows", "#node-rows", "#findings", "#badges", "#banners", "#edges-count", "#nodes-count",
		"#findings-count", `[data-testid="posture-mtls-share"]`, `[data-testid="data-time"]`, `[data-testid="freshness"]`} {
		if s := doc.Find(sel); s.Length() != 1 || s.Children().Length() != 0 || strings.TrimSpace(s.Text()) != "" {
			t.Errorf("%s is not an empty container: %q", sel, text(s))
		}
	}
	for _, id := range []string{"edge-row", "node-row", "finding", "padlock", "stale-banner", "disconnected-banner", "empty-message", "posture-http-share"} {
		if n := testid(doc, id).Length(); n != 0 {
			t.Errorf("%d data-testid=%s in the server's HTML: the script draws them", n, id)
		}
	}
	// The count chips are the filter's buttons, one per status, in order; the script writes their numbers.
	var chips []string
	doc.Find(`.counts [data-testid^="count-"]`).Each(func(_ int, c *goquery.Selection) {
		chips = append(chips, c.AttrOr("data-status", ""))
		if goquery.NodeName(c) != "button" || c.Find(".n").Length() != 1 {
			t.Errorf("count chip %s: a <%s> without its number's place", c.AttrOr("data-testid", ""), goquery.NodeName(c))
		}
	})
	if strings.Join(chips, ",") != "locked,mixed,open,unknown" {
		t.Errorf("count chips %v", chips)
	}
	if n := doc.Find(`#edge-table th button[data-sort]`).Length(); n != 6 {
		t.Errorf("%d sort buttons, want 6", n)
	}
	if n := doc.Find(`#status-filter input[name="status"][checked]`).Length(); n != 4 {
		t.Errorf("%d statuses checked in the filter, want 4", n)
	}
	// The look-back: the idle toggle (a checkbox, unchecked: idle edges are
	// hidden until asked for) with its label, the header's state (empty and
	// hidden until the script reads the snapshot's), the legend's idle line.
	toggle := testid(doc, "toggle-idle")
	if toggle.Length() != 1 || goquery.NodeName(toggle) != "input" || toggle.AttrOr("type", "") != "checkbox" {
		t.Errorf("toggle-idle: %d (<%s type=%q>), want one checkbox", toggle.Length(), goquery.NodeName(toggle), toggle.AttrOr("type", ""))
	}
	if _, checked := toggle.Attr("checked"); checked {
		t.Error("toggle-idle is checked on load")
	}
	if label := doc.Find(`label[for="toggle-idle"]`); label.Length() != 1 || !strings.Contains(text(label), "Show idle callers") || label.Closest(".graph-tools").Length() != 1 {
		t.Errorf("toggle-idle's label: %q", text(label))
	}
	lookback := testid(doc, "lookback")
	if _, hidden := lookback.Attr("hidden"); lookback.Length() != 1 || !hidden || strings.TrimSpace(lookback.Text()) != "" {
		t.Errorf("lookback: %d elements, %q: want one empty hidden container", lookback.Length(), text(lookback))
	}
	for _, id := range []string{"idle-count", "legend-idle"} {
		if testid(doc, id).Length() != 1 {
			t.Errorf("data-testid=%s: %d elements, want 1", id, testid(doc, id).Length())
		}
	}
	// A big mesh's tools, drawn by the script: the tables' pagers (hidden
	// while one page holds every row) and "Collapse all" (hidden unless the
	// graph opened collapsed), empty and hidden in the server's HTML.
	for _, id := range []string{"table-pager", "node-table-pager", "collapse-all"} {
		el := testid(doc, id)
		if _, hidden := el.Attr("hidden"); el.Length() != 1 || !hidden {
			t.Errorf("data-testid=%s: %d elements (hidden: %v), want one hidden", id, el.Length(), hidden)
		}
	}
	for _, sel := range []string{"#edge-page", "#node-page"} {
		if s := doc.Find(sel); s.Length() != 1 || strings.TrimSpace(s.Text()) != "" {
			t.Errorf("%s is not an empty container: %q", sel, text(s))
		}
	}
	if n := testid(doc, "table-pager").Find(`button[data-testid="pager-prev"], button[data-testid="pager-next"]`).Length(); n != 2 {
		t.Errorf("the edge table's pager has %d buttons, want 2", n)
	}
	for _, id := range []string{"edge-history", "edge-history-chart", "break-idle", "enforce-lookback", "namespace-padlock"} {
		if n := testid(doc, id).Length(); n != 0 {
			t.Errorf("%d data-testid=%s in the server's HTML: the script draws them", n, id)
		}
	}
}

// TestPagePlainView: inside <noscript>, every edge and every finding of the
// (filtered) snapshot in words, with the posture and the data's age.
func TestPagePlainView(t *testing.T) {
	s := pageSnapshot()
	s.Edges = append(s.Edges, graph.Edge{ID: "default/reviews->shop/db:tcp", Source: "default/reviews", Target: "shop/db",
		Protocol: "tcp", Rate: 3000, MTLSRatio: 1, Status: graph.StatusLocked})
	s.Posture = graph.ComputePosture(s.Edges)
	p := plain(t, render(t, s, "/"))
	if got := text(testid(p, "plain-posture")); got != "mTLS: 58% of requests · 100% of TCP bytes" {
		t.Errorf("posture %q", got)
	}
	if got := testid(p, "plain-time").AttrOr("datetime", ""); got != "2026-11-26T21:00:00Z" || text(testid(p, "plain-time")) != "21:00:00 UTC" {
		t.Errorf("time %q (%s)", text(testid(p, "plain-time")), got)
	}
	if got := text(testid(p, "plain-freshness")); got != "updated 3s ago" {
		t.Errorf("freshness %q", got)
	}
	want := map[string][]string{
		"default/productpage->default/reviews:http": {"default/productpage", "default/reviews", "http", "3.0 req/s", "100%", "locked"},
		"default/reviews->default/ratings:http":     {"default/reviews", "default/ratings", "http", "2.0 req/s", "25%", "mixed"},
		"default/reviews->shop/cart:tcp":            {"default/reviews", "shop/cart", "tcp", "2.5 kB/s", "—", "unknown"},
		"default/reviews->shop/db:tcp":              {"default/reviews", "shop/db", "tcp", "3.0 kB/s", "100%", "locked"},
		"unknown->default/ratings:http":             {"unknown", "default/ratings", "http", "1.0 req/s", "0%", "open"},
	}
	rows := testid(p, "plain-edge-row")
	if rows.Length() != len(want) {
		t.Fatalf("%d rows, want %d", rows.Length(), len(want))
	}
	rows.Each(func(_ int, r *goquery.Selection) {
		id := r.AttrOr("data-edge-id", "")
		var cells []string
		r.Find("td").Each(func(_ int, c *goquery.Selection) { cells = append(cells, text(c)) })
		if strings.Join(cells, " | ") != strings.Join(want[id], " | ") {
			t.Errorf("%s: %q, want %q", id, cells, want[id])
		}
		if r.AttrOr("data-status", "") != want[id][5] {
			t.Errorf("%s: data-status %q", id, r.AttrOr("data-status", ""))
		}
	})
	findings := testid(p, "plain-finding")
	if findings.Length() != 2 {
		t.Fatalf("%d findings, want 2", findings.Length())
	}
	if got := text(findings.First()); got != "warning: A STRICT PeerAuthentication on default/ratings would refuse its plaintext callers: unknown." {
		t.Errorf("first finding %q", got)
	}
	if testid(p, "plain-stale").Length() != 0 || testid(p, "plain-empty").Length() != 0 {
		t.Error("a stale or empty note for fresh data")
	}
	if testid(p, "plain-more").Length() != 0 || text(p.Find("caption")) != "Edges (5)" {
		t.Errorf("a small mesh's table is capped: caption %q, %d notes", text(p.Find("caption")), testid(p, "plain-more").Length())
	}

	// Filtered as the page is: only shop's edge; a ServiceAccount and the hidden node by name.
	s = pageSnapshot()
	s.Nodes = append(s.Nodes, graph.Node{ID: "shop/sa:checkout", Namespace: "shop", Name: "checkout", Kind: graph.KindServiceAccount},
		graph.Node{ID: Hidden, Kind: Hidden})
	s.Edges = append(s.Edges, graph.Edge{ID: "shop/sa:checkout->hidden:http", Source: "shop/sa:checkout", Target: Hidden, Protocol: "http",
		Rate: 0.5, MTLSRatio: 1, Status: graph.StatusLocked})
	p = plain(t, render(t, s, "/?namespace=shop"))
	var ids, names []string
	testid(p, "plain-edge-row").Each(func(_ int, r *goquery.Selection) {
		ids = append(ids, r.AttrOr("data-edge-id", ""))
		names = append(names, text(r.Find("td").Eq(0))+" → "+text(r.Find("td").Eq(1)))
	})
	if strings.Join(ids, ",") != "default/reviews->shop/cart:tcp,shop/sa:checkout->hidden:http" {
		t.Errorf("rows for namespace shop %v", ids)
	}
	if len(names) == 2 && names[1] != "shop/sa:checkout → hidden (a namespace you cannot see)" {
		t.Errorf("names %q", names[1])
	}
}

// TestPagePlainViewCapped: a big mesh's plain table holds the first
// maxPlainEdges edges, the least secure first (open, mixed, unknown, then
// locked, live before idle, by id), and says how many more GET api/graph has.
func TestPagePlainViewCapped(t *testing.T) {
	s := pageSnapshot()
	s.Edges = nil
	statuses := []string{graph.StatusLocked, graph.StatusUnknown, graph.StatusMixed, graph.StatusOpen, graph.StatusLocked}
	for i := range 500 {
		e := graph.Edge{ID: fmt.Sprintf("default/c%03d->default/ratings:http", i), Source: fmt.Sprintf("default/c%03d", i), Target: "default/ratings",
			Protocol: "http", Rate: 1, Status: statuses[i%len(statuses)]}
		if i == 3 { // an idle open edge comes after the live open ones
			e.Idle, e.Rate = true, 0
			e.History.LastSeen = s.GeneratedAt.Add(-time.Hour)
		}
		s.Edges = append(s.Edges, e)
	}
	s.Posture = graph.ComputePosture(s.Edges)
	p := plain(t, render(t, s, "/"))
	rows := testid(p, "plain-edge-row")
	if rows.Length() != maxPlainEdges {
		t.Fatalf("%d rows, want %d", rows.Length(), maxPlainEdges)
	}
	// 100 open (one idle, last), 100 mixed.
	var got []string
	rows.Each(func(i int, r *goquery.Selection) {
		got = append(got, r.AttrOr("data-status", ""))
		switch {
		case i < 100 && r.AttrOr("data-status", "") != graph.StatusOpen, i >= 100 && r.AttrOr("data-status", "") != graph.StatusMixed:
			t.Errorf("row %d is %s", i, r.AttrOr("data-status", ""))
		}
	})
	if id := rows.Eq(0).AttrOr("data-edge-id", ""); id != "default/c008->default/ratings:http" {
		t.Errorf("first row %s, want the first live open edge by id", id)
	}
	if id := rows.Eq(99).AttrOr("data-edge-id", ""); id != "default/c003->default/ratings:http" {
		t.Errorf("row 100 is %s, want the idle open edge", id)
	}
	if c := text(p.Find("caption")); c != "Edges (500, the 200 least secure first)" {
		t.Errorf("caption %q", c)
	}
	more := testid(p, "plain-more")
	if got := text(more); got != "… and 300 more; the full list is GET api/graph (JSON)." {
		t.Errorf("more: %q", got)
	}
	if href := more.Find("a").AttrOr("href", ""); href != "api/graph" {
		t.Errorf("the full list's link %q", href)
	}
	// The page carries those rows only (the script's snapshot has them all).
	_, body, _ := serve(t, s, "/")
	if n := strings.Count(body, `data-testid="plain-edge-row"`); n != maxPlainEdges {
		t.Errorf("%d plain rows in the page", n)
	}
}

func TestPagePlainViewStaleAndEmpty(t *testing.T) {
	s := pageSnapshot()
	s.Stale, s.Error = true, "prometheus: connection refused"
	if got := text(testid(plain(t, render(t, s, "/")), "plain-stale")); !strings.Contains(got, "prometheus: connection refused") {
		t.Errorf("stale note %q lacks the reason", got)
	}

	p := plain(t, render(t, pageSnapshot(), "/?namespace=nowhere"))
	if got := text(testid(p, "plain-empty")); got != "No services in namespace nowhere" {
		t.Errorf("empty note %q", got)
	}
	if testid(p, "plain-edge-row").Length() != 0 || text(testid(p, "plain-posture")) != "mTLS: —" {
		t.Errorf("an empty graph with rows or a posture %q", text(testid(p, "plain-posture")))
	}

	// The first stale snapshot before any refresh: empty, zero time.
	p = plain(t, render(t, graph.Snapshot{Stale: true, Error: "the first refresh has not finished yet"}, "/"))
	if got := text(testid(p, "plain-empty")); !strings.Contains(got, "waiting for the first refresh") {
		t.Errorf("empty note %q", got)
	}
	if got := text(testid(p, "plain-time")); got != "no data yet" {
		t.Errorf("time %q", got)
	}
	if got := text(testid(p, "plain-freshness")); got != "waiting for the first refresh" {
		t.Errorf("freshness %q", got)
	}
}

func TestPageNamespaceSelector(t *testing.T) {
	doc := render(t, pageSnapshot(), "/?namespace=shop")
	sel := testid(doc, "namespace-select")
	if goquery.NodeName(sel) != "select" {
		t.Fatalf("namespace-select is a <%s>", goquery.NodeName(sel))
	}
	if _, ok := sel.Attr("multiple"); !ok {
		t.Error("namespace-select is not multiple")
	}
	var names, selected []string
	sel.Find("option").Each(func(_ int, o *goquery.Selection) {
		v, _ := o.Attr("value")
		names = append(names, v)
		if _, ok := o.Attr("selected"); ok {
			selected = append(selected, v)
		}
	})
	if strings.Join(names, ",") != "default,shop" {
		t.Errorf("options %v, want the namespaces of the snapshot: default, shop", names)
	}
	if strings.Join(selected, ",") != "shop" {
		t.Errorf("selected %v, want shop", selected)
	}
	if v, _ := doc.Find("body").Attr("data-namespaces"); v != "shop" {
		t.Errorf("body data-namespaces %q", v)
	}

	// None selected: all shown, none marked.
	doc = render(t, pageSnapshot(), "/")
	if n := testid(doc, "namespace-select").Find("option[selected]").Length(); n != 0 {
		t.Errorf("%d options selected without a filter", n)
	}
	// A selected namespace that has nothing stays listed and marked.
	doc = render(t, pageSnapshot(), "/?namespace=nowhere,shop")
	if n := testid(doc, "namespace-select").Find(`option[value="nowhere"][selected]`).Length(); n != 1 {
		t.Error("the selected namespace nowhere is not listed as selected")
	}
}

func TestPageNamespaceFilter(t *testing.T) {
	doc := render(t, pageSnapshot(), "/?namespace=shop")
	var got graph.Snapshot
	if err := json.Unmarshal([]byte(doc.Find("script#initial-snapshot").Text()), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Edges) != 1 || got.Edges[0].ID != "default/reviews->shop/cart:tcp" {
		t.Errorf("edges for namespace shop %+v", got.Edges)
	}
	// The posture sent is the filtered graph's: only an unknown edge, no ratio.
	if got.Posture.HTTP.Ratio != nil || got.Posture.TCP.Ratio != nil || got.Posture.Counts["unknown"] != 1 {
		t.Errorf("posture %+v", got.Posture)
	}
	if text(testid(plain(t, doc), "plain-posture")) != "mTLS: —" {
		t.Errorf("plain posture %q, want —", text(testid(plain(t, doc), "plain-posture")))
	}
}

func TestPageLegendAndCriticalFinding(t *testing.T) {
	s := pageSnapshot()
	s.Edges[1].TLSFailureRate = 2
	s.Findings = append([]graph.Finding{{ID: "tls-handshake-failing:default/ratings", Kind: graph.FindingTLSHandshakeFailing, Severity: graph.SeverityCritical,
		Message: "Requests from default/reviews to default/ratings fail at the TLS handshake (2/s).",
		Nodes:   []string{"default/ratings", "default/reviews"}, Edges: []string{"default/reviews->default/ratings:http"}}}, s.Findings...)
	doc := render(t, s, "/")
	legend := text(doc.Find(".legend"))
	for _, want := range []string{"failing at the TLS handshake", "gateway"} {
		if !strings.Contains(legend, want) {
			t.Errorf("legend %q lacks %q", legend, want)
		}
	}
	if first := testid(plain(t, doc), "plain-finding").First(); first.AttrOr("data-severity", "") != "critical" || !strings.Contains(text(first), "TLS handshake") {
		t.Errorf("first plain finding %q", text(first))
	}
	// The script reads the failure rate and the posture from the initial snapshot.
	var got graph.Snapshot
	if err := json.Unmarshal([]byte(doc.Find("script#initial-snapshot").Text()), &got); err != nil {
		t.Fatal(err)
	}
	if got.Edges[1].TLSFailureRate != 2 || got.Posture.HTTP.Ratio == nil || got.Posture.Counts["locked"] != 1 || len(got.Findings) != 3 {
		t.Errorf("initial snapshot: edge %+v, posture %+v, %d findings", got.Edges[1], got.Posture, len(got.Findings))
	}
}

func TestPageInvalidNamespace(t *testing.T) {
	code, body, header := serve(t, pageSnapshot(), "/?namespace=Not_Valid")
	if code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", code)
	}
	if !strings.HasPrefix(header.Get("Content-Type"), "application/json") {
		t.Errorf("Content-Type %q", header.Get("Content-Type"))
	}
	var answer map[string]string
	if err := json.Unmarshal([]byte(body), &answer); err != nil || !strings.Contains(answer["error"], "invalid namespace") {
		t.Errorf("body %q", body)
	}
}

func TestPageEmbed(t *testing.T) {
	doc := render(t, pageSnapshot(), "/?embed=1&namespace=default")
	if testid(doc, "page-title").Length() != 0 || doc.Find("header, nav, h1, .skip").Length() != 0 {
		t.Error("embed=1 keeps the page chrome")
	}
	for _, id := range []string{"posture-mtls-share", "count-locked", "namespace-select", "freshness", "lookback", "toggle-idle", "graph", "side-panel", "findings", "edge-table"} {
		if testid(doc, id).Length() != 1 {
			t.Errorf("embed=1 lacks %s", id)
		}
	}
	if v, _ := doc.Find("body").Attr("data-embed"); v != "true" {
		t.Errorf("body data-embed %q", v)
	}
	if doc.Find(`#ns-form input[type="hidden"][name="embed"][value="1"]`).Length() != 1 {
		t.Error("the namespace form drops embed=1")
	}
}

// TestPageStrictCSP: no inline script, no event handler attribute, no style
// attribute or element, every URL relative and local.
func TestPageStrictCSP(t *testing.T) {
	s := pageSnapshot()
	s.Stale, s.Error = true, "x"
	for _, c := range []struct {
		target       string
		allowEnforce bool
	}{{"/", false}, {"/?embed=1", false}, {"/?namespace=nowhere", false}, {"/", true}, {"/?embed=1", true}} {
		target := c.target
		if c.allowEnforce {
			target += " (enforce allowed)"
		}
		doc := renderWith(t, s, c.target, c.allowEnforce)
		noscript := plain(t, doc)
		if n := noscript.Find("script, style, noscript").Length(); n != 0 {
			t.Errorf("%s: %d script, style or noscript elements inside <noscript>", target, n)
		}
		doc.Find("script").Each(func(_ int, sc *goquery.Selection) {
			src, hasSrc := sc.Attr("src")
			typ, _ := sc.Attr("type")
			switch {
			case hasSrc && src != "":
			case typ == "application/json":
			default:
				t.Errorf("%s: inline script %q", target, sc.Text())
			}
		})
		if n := doc.Find("style").Length(); n != 0 {
			t.Errorf("%s: %d <style> elements", target, n)
		}
		doc.Find("*").AddSelection(noscript.Find("*")).Each(func(_ int, el *goquery.Selection) {
			for _, a := range el.Nodes[0].Attr {
				name := strings.ToLower(a.Key)
				if strings.HasPrefix(name, "on") {
					t.Errorf("%s: event handler attribute %s on <%s>", target, name, goquery.NodeName(el))
				}
				if name == "style" {
					t.Errorf("%s: style attribute on <%s>", target, goquery.NodeName(el))
				}
				if name == "src" || name == "href" || name == "action" {
					v := strings.TrimSpace(a.Val)
					if strings.HasPrefix(v, "/") || strings.Contains(strings.ToLower(v), "http") || strings.Contains(v, "//") {
						t.Errorf("%s: %s=%q is not relative", target, name, v)
					}
				}
			}
		})
		// Every asset the page names is served by StaticHandler.
		doc.Find("script[src], link[href], img[src]").Each(func(_ int, el *goquery.Selection) {
			ref := el.AttrOr("src", el.AttrOr("href", ""))
			if !strings.HasPrefix(ref, "static/") {
				return
			}
			rec := httptest.NewRecorder()
			StaticHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/"+strings.TrimPrefix(ref, "static/"), nil))
			if rec.Code != http.StatusOK {
				t.Errorf("%s: asset %s answers %d", target, ref, rec.Code)
			}
		})
	}
}

func TestPageInitialSnapshotJSON(t *testing.T) {
	s := pageSnapshot()
	s.Findings[0].Message = "</script><script>alert(1)</script>"
	doc := render(t, s, "/?namespace=shop")
	block := doc.Find(`script#initial-snapshot[type="application/json"]`)
	if block.Length() != 1 {
		t.Fatal("no #initial-snapshot block")
	}
	var got graph.Snapshot
	if err := json.Unmarshal([]byte(block.Text()), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Nodes) != 2 || got.Nodes[0].ID != "default/reviews" || got.Nodes[1].ID != "shop/cart" {
		t.Errorf("initial snapshot not filtered: %+v", got.Nodes)
	}
	_, body, _ := serve(t, s, "/")
	if strings.Contains(body, "<script>alert(1)") {
		t.Error("a message broke out of the JSON block")
	}
}

// TestPageInlineSnapshotSmallOnly: a mesh the page opens collapsed (more
// than 300 nodes or 1,000 edges) is not copied into the page, whose script
// waits for the stream's first message; a smaller one is, as before.
func TestPageInlineSnapshotSmallOnly(t *testing.T) {
	const block = `script#initial-snapshot[type="application/json"]`
	if n := render(t, pageSnapshot(), "/").Find(block).Length(); n != 1 {
		t.Errorf("a small mesh's page has %d snapshot blocks, want 1", n)
	}
	edges := pageSnapshot()
	for i := range inlineEdges + 1 {
		edges.Edges = append(edges.Edges, graph.Edge{ID: fmt.Sprintf("default/c%04d->default/ratings:http", i), Source: fmt.Sprintf("default/c%04d", i),
			Target: "default/ratings", Protocol: "http", Rate: 1, MTLSRatio: 1, Status: graph.StatusLocked})
	}
	nodes := pageSnapshot()
	for i := range inlineNodes + 1 {
		nodes.Nodes = append(nodes.Nodes, graph.Node{ID: fmt.Sprintf("big/s%04d", i), Namespace: "big", Name: fmt.Sprintf("s%04d", i), Kind: graph.KindService})
	}
	for name, s := range map[string]graph.Snapshot{"edges": edges, "nodes": nodes} {
		doc := render(t, s, "/")
		if n := doc.Find(block).Length(); n != 0 {
			t.Errorf("too many %s: %d snapshot blocks in the page, want none", name, n)
		}
		if testid(doc, "graph").Length() != 1 || doc.Find(`script[type="module"]`).Length() != 1 || testid(plain(t, doc), "plain-edge-table").Length() != 1 {
			t.Errorf("too many %s: the page lacks its graph, its script or its plain table", name)
		}
	}
}

func TestPageMethodAndOptions(t *testing.T) {
	if _, err := NewPageHandler(PageOptions{}); err == nil {
		t.Error("NewPageHandler without Graph succeeded")
	}
	handler, err := NewPageHandler(PageOptions{Graph: &fixedGraph{snapshot: pageSnapshot()}, AllowEnforce: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	doc, err := goquery.NewDocumentFromReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := doc.Find("body").Attr("data-allow-enforce"); v != "true" {
		t.Errorf("data-allow-enforce %q", v)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
}

func TestPageEnforceReadOnly(t *testing.T) {
	for _, target := range []string{"/", "/?embed=1"} {
		doc := renderWith(t, pageSnapshot(), target, false)
		if n := doc.Find(`[data-enforce], [data-testid^="enforce-"], dialog`).Length(); n != 0 {
			t.Errorf("%s: %d enforce elements without --allow-enforce", target, n)
		}
		if v, _ := doc.Find("body").Attr("data-allow-enforce"); v != "false" {
			t.Errorf("%s: data-allow-enforce %q", target, v)
		}
		list := testid(doc, "activity")
		if list.Length() != 1 || goquery.NodeName(list) != "ol" {
			t.Errorf("%s: activity list: %d (<%s>)", target, list.Length(), goquery.NodeName(list))
		}
		if testid(doc, "activity-status").Length() != 1 {
			t.Errorf("%s: no activity status line", target)
		}
		if n := testid(doc, "undo").Length(); n != 0 {
			t.Errorf("%s: %d undo buttons", target, n)
		}
	}
}

func TestPageEnforceAllowed(t *testing.T) {
	for _, target := range []string{"/", "/?embed=1"} {
		doc := renderWith(t, pageSnapshot(), target, true)
		if v, _ := doc.Find("body").Attr("data-allow-enforce"); v != "true" {
			t.Errorf("%s: data-allow-enforce %q", target, v)
		}
		mesh := testid(doc, "enforce-mesh")
		if mesh.Length() != 1 || goquery.NodeName(mesh) != "button" {
			t.Fatalf("%s: enforce-mesh: %d (<%s>)", target, mesh.Length(), goquery.NodeName(mesh))
		}
		if typ, _ := mesh.Attr("type"); typ != "button" {
			t.Errorf("%s: enforce-mesh type %q", target, typ)
		}
		if scope, _ := mesh.Attr("data-enforce"); scope != "mesh" {
			t.Errorf("%s: enforce-mesh data-enforce %q", target, scope)
		}
		if !strings.Contains(text(mesh), "Enforce mTLS") {
			t.Errorf("%s: enforce-mesh says %q", target, text(mesh))
		}
		if mesh.Closest(".top").Length() != 1 {
			t.Errorf("%s: enforce-mesh is not in the header", target)
		}
		// Namespace and service buttons are drawn by app.js in the side panel.
		if n := doc.Find(`[data-testid="enforce-namespace"], [data-testid="enforce-service"]`).Length(); n != 0 {
			t.Errorf("%s: %d namespace/service buttons before a selection", target, n)
		}

		dialog := testid(doc, "enforce-dialog")
		if dialog.Length() != 1 || goquery.NodeName(dialog) != "dialog" {
			t.Fatalf("%s: enforce-dialog: %d (<%s>)", target, dialog.Length(), goquery.NodeName(dialog))
		}
		if _, open := dialog.Attr("open"); open {
			t.Errorf("%s: the dialog is open on load", target)
		}
		if id, _ := dialog.Attr("aria-labelledby"); id == "" || doc.Find("#"+id).Length() != 1 {
			t.Errorf("%s: the dialog has no title (aria-labelledby %q)", target, id)
		}
		for mode, label := range map[string]string{
			"destinationrule":    "DestinationRule ISTIO_MUTUAL (client side)",
			"peerauthentication": "PeerAuthentication STRICT (server side)",
			"authorization":      "Allow only these callers",
		} {
			radio := dialog.Find(`[data-testid="enforce-mode-` + mode + `"]`)
			if radio.Length() != 1 || radio.AttrOr("type", "") != "radio" || radio.AttrOr("value", "") != mode {
				t.Errorf("%s: mode %s: %d radios", target, mode, radio.Length())
				continue
			}
			if got := text(radio.Closest("label").Find(".mode-name")); got != label {
				t.Errorf("%s: mode %s labelled %q, want %q", target, mode, got, label)
			}
		}
		if n := dialog.Find(`input[type="radio"][checked]`).Length(); n != 1 {
			t.Errorf("%s: %d modes preselected, want 1", target, n)
		}
		for _, id := range []string{"enforce-scope", "enforce-status", "enforce-breaks", "enforce-changes", "enforce-cancel", "enforce-apply"} {
			if dialog.Find(`[data-testid="`+id+`"]`).Length() != 1 {
				t.Errorf("%s: the dialog lacks %s", target, id)
			}
		}
		errBox := dialog.Find(`[data-testid="enforce-error"]`)
		if _, hidden := errBox.Attr("hidden"); errBox.Length() != 1 || !hidden || errBox.AttrOr("role", "") != "alert" {
			t.Errorf("%s: enforce-error should be a hidden alert: %d", target, errBox.Length())
		}
		apply := dialog.Find(`[data-testid="enforce-apply"]`)
		if _, disabled := apply.Attr("disabled"); !disabled {
			t.Errorf("%s: Apply is enabled before a plan", target)
		}
		for _, b := range []*goquery.Selection{apply, dialog.Find(`[data-testid="enforce-cancel"]`)} {
			if goquery.NodeName(b) != "button" || b.AttrOr("type", "") != "button" {
				t.Errorf("%s: %s is a <%s type=%q>", target, b.AttrOr("data-testid", ""), goquery.NodeName(b), b.AttrOr("type", ""))
			}
		}
		if testid(doc, "activity").Length() != 1 {
			t.Errorf("%s: no activity list", target)
		}
	}
}

// The header's Report action asks api/report for the namespaces shown,
// also without script (a plain GET form).
func TestPageReportForm(t *testing.T) {
	doc := render(t, pageSnapshot(), "/?namespace=shop")
	form := testid(doc, "report-form")
	if action, _ := form.Attr("action"); action != "api/report" || goquery.NodeName(form) != "form" {
		t.Fatalf("report-form is a <%s> to %q", goquery.NodeName(form), action)
	}
	var hidden []string
	form.Find(`input[type=hidden][name=namespace]`).Each(func(_ int, in *goquery.Selection) {
		v, _ := in.Attr("value")
		hidden = append(hidden, v)
	})
	if strings.Join(hidden, ",") != "shop" {
		t.Errorf("the report's namespaces %v, want the one shown: shop", hidden)
	}
	if v, _ := testid(doc, "report-from").Find("option[selected]").Attr("value"); v != "" {
		t.Errorf("the default period %q, want none (the last 7 days, or all Prometheus keeps)", v)
	}
	doc = render(t, pageSnapshot(), "/")
	if n := testid(doc, "report-form").Find(`input[name=namespace]`).Length(); n != 0 {
		t.Errorf("%d namespaces in the report of the whole mesh", n)
	}
}

// TestPageIdentityShell: the header's Identity button (a button that
// controls the identity panel, collapsed) with its badge (empty and hidden
// until the script knows the soonest root); the panel in the side column
// (hidden, labelled by its heading, a close button, empty containers the
// script fills from GET api/identity), with and without embed; the legend's
// line for an edge of a principal mismatch. What the script draws is not
// in the server's HTML.
func TestPageIdentityShell(t *testing.T) {
	for _, target := range []string{"/", "/?embed=1"} {
		doc := render(t, pageSnapshot(), target)
		btn := testid(doc, "identity-open")
		if btn.Length() != 1 || goquery.NodeName(btn) != "button" || btn.AttrOr("type", "") != "button" {
			t.Fatalf("%s: identity-open: %d elements (<%s>), want one button", target, btn.Length(), goquery.NodeName(btn))
		}
		if btn.AttrOr("aria-expanded", "") != "false" || btn.AttrOr("aria-controls", "") != "identity-panel" || !strings.Contains(text(btn), "Identity") {
			t.Errorf("%s: identity-open: aria-expanded %q, aria-controls %q, text %q", target, btn.AttrOr("aria-expanded", ""), btn.AttrOr("aria-controls", ""), text(btn))
		}
		badge := btn.Find(`[data-testid="trust-badge"]`)
		if _, hidden := badge.Attr("hidden"); badge.Length() != 1 || !hidden || strings.TrimSpace(badge.Text()) != "" {
			t.Errorf("%s: trust-badge: %d elements, %q: want one empty hidden badge inside the button", target, badge.Length(), text(badge))
		}
		panel := testid(doc, "identity-panel")
		if _, hidden := panel.Attr("hidden"); panel.Length() != 1 || !hidden || goquery.NodeName(panel) != "section" || panel.AttrOr("id", "") != "identity-panel" {
			t.Fatalf("%s: identity-panel: %d elements (<%s>, hidden %v), want one hidden section", target, panel.Length(), goquery.NodeName(panel), hidden)
		}
		if panel.Closest("aside.side").Length() != 1 || panel.AttrOr("tabindex", "") != "-1" {
			t.Errorf("%s: identity-panel is not a focusable panel of the side column", target)
		}
		title := panel.Find("#" + panel.AttrOr("aria-labelledby", "none"))
		if goquery.NodeName(title) != "h2" || text(title) != "Identity and trust" {
			t.Errorf("%s: identity-panel is labelled by <%s> %q, want its h2", target, goquery.NodeName(title), text(title))
		}
		if c := panel.Find(`[data-testid="identity-close"]`); goquery.NodeName(c) != "button" || c.AttrOr("aria-label", "") == "" {
			t.Errorf("%s: identity-close: <%s> %q", target, goquery.NodeName(c), c.AttrOr("aria-label", ""))
		}
		for _, id := range []string{"identity-status", "identity-body"} {
			if s := panel.Find(`[data-testid="` + id + `"]`); s.Length() != 1 || s.Children().Length() != 0 || strings.TrimSpace(s.Text()) != "" {
				t.Errorf("%s: %s is not an empty container: %q", target, id, text(s))
			}
		}
		if testid(doc, "identity-status").AttrOr("aria-live", "") != "polite" {
			t.Errorf("%s: identity-status does not speak up", target)
		}
		legend := testid(doc, "legend-principal-mismatch")
		if legend.Length() != 1 || !strings.Contains(text(legend), "principal mismatch") || legend.Find(".line-principal").Length() != 1 {
			t.Errorf("%s: legend-principal-mismatch: %q", target, text(legend))
		}
		for _, id := range []string{"identity-root", "identity-roots", "identity-trust-domain", "identity-error", "identity-retry", "identity-ca",
			"node-cert-expiry", "node-observed-principal", "principal-mismatch", "edge-principal-mismatch", "finding-open-identity"} {
			if n := testid(doc, id).Length(); n != 0 {
				t.Errorf("%s: %d data-testid=%s in the server's HTML: the script draws them", target, n, id)
			}
		}
	}
}

// TestPageA11yShell: what the page's themes and keyboard need from the
// shell, with and without embed. Both colour schemes (the meta tag), the
// classic theme-boot.js in <head> before the stylesheet (the theme chosen
// on this browser set before the first paint), and the theme's select at
// the header's end (hidden: the script shows it, which it needs). The
// graph's box one stop of the Tab order, an application with its keys
// described; where the keyboard is in it, for the eye (hidden until the
// box has the focus, aria-hidden) and for screen readers (a polite live
// region), empty. The edge padlocks and rows are the script's.
func TestPageA11yShell(t *testing.T) {
	for _, target := range []string{"/", "/?embed=1"} {
		doc := render(t, pageSnapshot(), target)
		if got := doc.Find(`head meta[name="color-scheme"]`).AttrOr("content", ""); got != "light dark" {
			t.Errorf("%s: meta color-scheme %q, want light dark", target, got)
		}
		var head []string
		doc.Find("head script[src], head link[rel=stylesheet]").Each(func(_ int, s *goquery.Selection) {
			head = append(head, goquery.NodeName(s)+" "+s.AttrOr("type", "")+" "+strings.Split(s.AttrOr("src", s.AttrOr("href", "")), "?")[0])
		})
		if len(head) < 2 || head[0] != "script  static/theme-boot.js" || !strings.HasPrefix(head[1], "link  static/app.css") {
			t.Errorf("%s: <head> loads %q: want the classic theme-boot.js first, then the stylesheet", target, head)
		}
		if s := doc.Find(`head script[src*="theme-boot.js"]`); s.Is("[defer], [async], [type]") {
			t.Errorf("%s: theme-boot.js must block rendering: %s", target, s.Nodes[0].Attr)
		}

		theme := testid(doc, "theme")
		if _, hidden := theme.Attr("hidden"); theme.Length() != 1 || !hidden {
			t.Errorf("%s: data-testid=theme: %d elements (hidden %v), want one hidden until the script runs", target, theme.Length(), hidden)
		}
		if theme.Parent().Children().Last().AttrOr("data-testid", "") != "theme" || !theme.Parent().Is(".top") {
			t.Errorf("%s: the theme's select is not at the header's end", target)
		}
		sel := testid(doc, "theme-select")
		var options []string
		sel.Find("option").Each(func(_ int, o *goquery.Selection) {
			_, selected := o.Attr("selected")
			options = append(options, fmt.Sprintf("%s=%s/%v", o.AttrOr("value", ""), text(o), selected))
		})
		if goquery.NodeName(sel) != "select" || strings.Join(options, ",") != "system=System/true,light=Light/false,dark=Dark/false" {
			t.Errorf("%s: theme-select <%s> %v", target, goquery.NodeName(sel), options)
		}
		if label := doc.Find(`label[for="theme-select"]`); text(label) != "Theme" || sel.AttrOr("id", "") != "theme-select" {
			t.Errorf("%s: the theme's select is labelled %q", target, text(label))
		}

		graphBox := testid(doc, "graph")
		for attr, want := range map[string]string{"tabindex": "0", "role": "application", "aria-roledescription": "service graph"} {
			if got := graphBox.AttrOr(attr, ""); got != want {
				t.Errorf("%s: the graph's %s is %q, want %q", target, attr, got, want)
			}
		}
		if graphBox.AttrOr("aria-label", "") == "" {
			t.Errorf("%s: the graph has no accessible name", target)
		}
		help := doc.Find("#" + graphBox.AttrOr("aria-describedby", "none"))
		if !help.Is(".sr-only") || !strings.Contains(text(help), "arrow keys") || !strings.Contains(text(help), "Enter") || !strings.Contains(text(help), "Escape") {
			t.Errorf("%s: the graph is described by %q, want its keys in words", target, text(help))
		}
		cursor := testid(doc, "graph-cursor")
		if _, hidden := cursor.Attr("hidden"); cursor.Length() != 1 || !hidden || cursor.AttrOr("aria-hidden", "") != "true" || cursor.Closest(".graph-wrap").Length() != 1 {
			t.Errorf("%s: graph-cursor: %d elements (hidden %v, aria-hidden %q), want one hidden caption over the graph", target, cursor.Length(), hidden, cursor.AttrOr("aria-hidden", ""))
		}
		if s := cursor.Find("#graph-cursor-text"); s.Length() != 1 || strings.TrimSpace(s.Text()) != "" {
			t.Errorf("%s: #graph-cursor-text is not an empty container: %q", target, text(s))
		}
		if n := cursor.Find("kbd").Length(); n < 5 {
			t.Errorf("%s: the caption shows %d keys, want the arrows, Enter and Esc", target, n)
		}
		live := testid(doc, "graph-live")
		if live.Length() != 1 || live.AttrOr("aria-live", "") != "polite" || !live.Is(".sr-only") || strings.TrimSpace(live.Text()) != "" {
			t.Errorf("%s: graph-live: %d elements, aria-live %q, %q: want one empty polite live region for screen readers", target, live.Length(), live.AttrOr("aria-live", ""), text(live))
		}
		// The skip link (without embed) goes to a table that can take the focus.
		if target == "/" && doc.Find(`a.skip[href="#edge-table"]`).Length() != 1 {
			t.Errorf("%s: no skip link to the edge table", target)
		}
		if testid(doc, "edge-table").AttrOr("tabindex", "") != "-1" {
			t.Errorf("%s: the edge table cannot take the skip link's focus", target)
		}
	}
	// The message page (sign-in, errors) follows the system's scheme too.
	rec := httptest.NewRecorder()
	writeMessagePage(rec, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusServiceUnavailable, messageView{TestID: "page-error", Title: "t", Text: "x"})
	doc, err := goquery.NewDocumentFromReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got := doc.Find(`head meta[name="color-scheme"]`).AttrOr("content", ""); got != "light dark" {
		t.Errorf("the message page's meta color-scheme %q, want light dark", got)
	}
}
