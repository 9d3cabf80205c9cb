package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
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

func ratioOf(r float64) *float64 { return &r }

// TestPostureView: the header shows the server's posture, requests and
// bytes apart, in the words of static/model.mjs's postureView (whose test
// checks the same texts).
func TestPostureView(t *testing.T) {
	counts := map[string]int{"locked": 2, "mixed": 1, "open": 0, "unknown": 3}
	tests := []struct {
		name       string
		posture    graph.Posture
		text       string
		share      string
		partShares []string
	}{
		{"both", graph.Posture{
			HTTP:   graph.Share{Unit: graph.UnitRequests, Rate: 100, MTLSRate: 87, Ratio: ratioOf(0.87)},
			TCP:    graph.Share{Unit: graph.UnitBytes, Rate: 2500, MTLSRate: 2500, Ratio: ratioOf(1)},
			Counts: counts,
		}, "87% of requests · 100% of TCP bytes", "0.870000", []string{"0.870000", "1.000000"}},
		{"TCP only: the share is TCP's", graph.Posture{
			TCP: graph.Share{Unit: graph.UnitBytes, Rate: 4000, MTLSRate: 1000, Ratio: ratioOf(0.25)},
		}, "25% of TCP bytes", "0.250000", []string{"0.250000"}},
		{"HTTP only", graph.Posture{
			HTTP: graph.Share{Unit: graph.UnitRequests, Rate: 1000, MTLSRate: 999, Ratio: ratioOf(0.999)},
			TCP:  graph.Share{Unit: graph.UnitBytes, UnknownRate: 5000},
		}, "99% of requests", "0.999000", []string{"0.999000"}},
		{"no traffic of known security", graph.Posture{
			HTTP: graph.Share{UnknownRate: 3},
		}, "—", "", nil},
		{"the zero posture", graph.Posture{}, "—", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newPostureView(tt.posture)
			if v.Text != tt.text || v.Share != tt.share {
				t.Errorf("text %q share %q, want %q %q", v.Text, v.Share, tt.text, tt.share)
			}
			var shares []string
			for _, p := range v.Parts {
				shares = append(shares, p.Share)
			}
			if strings.Join(shares, ",") != strings.Join(tt.partShares, ",") {
				t.Errorf("part shares %v, want %v", shares, tt.partShares)
			}
			if want := tt.posture.Counts["unknown"]; v.Unknown != want {
				t.Errorf("unknown count %d, want %d", v.Unknown, want)
			}
		})
	}
}

// TestPageHeaderSplitPosture: requests/s and bytes/s are shown apart, each
// in its own element, never added.
func TestPageHeaderSplitPosture(t *testing.T) {
	s := pageSnapshot()
	s.Edges = append(s.Edges, graph.Edge{ID: "default/reviews->shop/db:tcp", Source: "default/reviews", Target: "shop/db",
		Protocol: "tcp", Rate: 3000, MTLSRatio: 1, Status: graph.StatusLocked})
	s.Posture = graph.ComputePosture(s.Edges)
	doc := render(t, s, "/")
	share := testid(doc, "posture-mtls-share")
	if got := text(share); got != "58% of requests · 100% of TCP bytes" {
		t.Errorf("posture %q", got)
	}
	if got := text(share.Parent()); got != "mTLS 58% of requests · 100% of TCP bytes" {
		t.Errorf("posture with its label %q", got)
	}
	if v, _ := share.Attr("data-share"); !strings.HasPrefix(v, "0.5833") {
		t.Errorf("data-share %q, want the HTTP share", v)
	}
	httpShare, tcpShare := testid(doc, "posture-http-share"), testid(doc, "posture-tcp-share")
	if text(httpShare) != "58% of requests" || httpShare.AttrOr("data-share", "") != "0.583333" {
		t.Errorf("posture-http-share %q (%q)", text(httpShare), httpShare.AttrOr("data-share", ""))
	}
	if text(tcpShare) != "100% of TCP bytes" || tcpShare.AttrOr("data-share", "") != "1.000000" {
		t.Errorf("posture-tcp-share %q (%q)", text(tcpShare), tcpShare.AttrOr("data-share", ""))
	}
	if title := tcpShare.AttrOr("title", ""); !strings.Contains(title, "3.0 kB/s") {
		t.Errorf("posture-tcp-share title %q does not say what it is a share of", title)
	}
	if got := testid(doc, "count-locked").AttrOr("data-count", ""); got != "2" {
		t.Errorf("count-locked %q, want 2", got)
	}

	// Only TCP of known security: data-share is TCP's, no HTTP element.
	doc = render(t, s, "/?namespace=shop")
	if got := text(testid(doc, "posture-mtls-share")); got != "100% of TCP bytes" {
		t.Errorf("shop's posture %q", got)
	}
	if v := testid(doc, "posture-mtls-share").AttrOr("data-share", ""); v != "1.000000" {
		t.Errorf("shop's data-share %q, want TCP's", v)
	}
	if testid(doc, "posture-http-share").Length() != 0 {
		t.Error("an HTTP share without HTTP traffic of known security")
	}
}

func TestFormats(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{formatRate(2.4, "http"), "2.4 req/s"},
		{formatRate(0.25, "grpc"), "0.25 req/s"},
		{formatRate(2500, "tcp"), "2.5 kB/s"},
		{formatRate(512, "tcp"), "512 B/s"},
		{formatRate(3.2e6, "tcp"), "3.2 MB/s"},
		{formatRate(0, "http"), "0 req/s"},
		{formatFreshness(3 * time.Second), "updated 3s ago"},
		{formatFreshness(-time.Second), "updated 0s ago"},
		{formatFreshness(75 * time.Second), "updated 1m 15s ago"},
		{formatPercent(0.4), "40%"},
		{formatPercent(1), "100%"},
		{formatPercent(0), "0%"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestPageHeader(t *testing.T) {
	doc := render(t, pageSnapshot(), "/")
	share := testid(doc, "posture-mtls-share")
	// The TCP edge's security is unknown: only the HTTP share is shown.
	if text(share) != "58% of requests" {
		t.Errorf("posture %q, want 58%% of requests", text(share))
	}
	if testid(doc, "posture-tcp-share").Length() != 0 {
		t.Error("a TCP share without TCP traffic of known security")
	}
	if v, _ := share.Attr("data-share"); !strings.HasPrefix(v, "0.5833") {
		t.Errorf("data-share %q", v)
	}
	for status, want := range map[string]string{"locked": "1", "mixed": "1", "open": "1", "unknown": "1"} {
		chip := testid(doc, "count-"+status)
		if chip.Length() != 1 {
			t.Fatalf("count-%s missing", status)
		}
		if got, _ := chip.Attr("data-count"); got != want {
			t.Errorf("count-%s data-count %q, want %s", status, got, want)
		}
		if got := text(chip.Find(".n")); got != want {
			t.Errorf("count-%s shows %q, want %s", status, got, want)
		}
	}
	if dt, _ := testid(doc, "data-time").Attr("datetime"); dt != "2026-11-26T21:00:00Z" {
		t.Errorf("data-time datetime %q", dt)
	}
	if got := text(testid(doc, "freshness")); got != "updated 3s ago" {
		t.Errorf("freshness %q", got)
	}
	if testid(doc, "stale-banner").Length() != 0 {
		t.Error("stale banner shown for fresh data")
	}
	if testid(doc, "disconnected-banner").Length() != 0 {
		t.Error("disconnected banner in the server render")
	}
	if testid(doc, "page-title").Length() != 1 || doc.Find("header").Length() != 1 {
		t.Error("page chrome missing without embed")
	}
	for _, id := range []string{"graph", "side-panel", "findings", "edge-table", "namespace-select"} {
		if testid(doc, id).Length() != 1 {
			t.Errorf("data-testid=%s: %d elements, want 1", id, testid(doc, id).Length())
		}
	}
}

func TestPageStaleBanner(t *testing.T) {
	s := pageSnapshot()
	s.Stale, s.Error = true, "prometheus: connection refused"
	doc := render(t, s, "/")
	banner := testid(doc, "stale-banner")
	if banner.Length() != 1 {
		t.Fatalf("stale banner: %d elements", banner.Length())
	}
	if !strings.Contains(text(banner), "prometheus: connection refused") {
		t.Errorf("stale banner %q lacks the reason", text(banner))
	}
	if _, hidden := banner.Attr("hidden"); hidden {
		t.Error("stale banner hidden")
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
	rows := testid(doc, "edge-row")
	if rows.Length() != 1 {
		t.Fatalf("%d rows for namespace shop, want 1", rows.Length())
	}
	if id, _ := rows.Attr("data-edge-id"); id != "default/reviews->shop/cart:tcp" {
		t.Errorf("row %q", id)
	}
	if got := text(testid(doc, "posture-mtls-share")); got != "—" {
		t.Errorf("posture %q for only an unknown edge, want —", got)
	}
	if testid(doc, "empty-message").Length() != 0 {
		t.Error("empty message on a non-empty graph")
	}
}

// nodesSnapshot has a gateway, a ServiceAccount caller and a service whose
// callers' DestinationRules differ.
func nodesSnapshot() graph.Snapshot {
	s := pageSnapshot()
	s.Nodes = append(s.Nodes,
		graph.Node{ID: "istio-system/istio-ingressgateway", Namespace: "istio-system", Name: "istio-ingressgateway",
			Kind: graph.KindGateway, InMesh: true, PeerAuthentication: "STRICT",
			Ports: []graph.ServicePort{{Port: 443, TargetPort: 8443, Protocol: "https", PeerAuthentication: "STRICT"}}},
		graph.Node{ID: "shop/sa:checkout", Namespace: "shop", Name: "sa:checkout", Kind: graph.KindServiceAccount, InMesh: true, PeerAuthentication: "UNSET"},
	)
	for i := range s.Nodes {
		if s.Nodes[i].ID == "default/reviews" {
			s.Nodes[i].DestinationRuleTLS = graph.TLSVaries
			s.Nodes[i].CallerTLS = []graph.CallerTLS{
				{Caller: "default/productpage", TLS: "ISTIO_MUTUAL", Rule: "default/reviews"},
				{Caller: "default/legacy", TLS: ""},
			}
			s.Nodes[i].Ports = []graph.ServicePort{
				{Port: 9080, TargetPort: 8080, Protocol: "http", PeerAuthentication: "STRICT"},
				{Port: 9090, TargetPort: 0, Protocol: "", PeerAuthentication: "PERMISSIVE"},
			}
		}
	}
	return s
}

func TestPageNodeTable(t *testing.T) {
	doc := render(t, nodesSnapshot(), "/")
	table := testid(doc, "node-table")
	if table.Length() != 1 {
		t.Fatal("no node table")
	}
	rows := table.Find(`[data-testid="node-row"]`)
	byID := map[string]*goquery.Selection{}
	rows.Each(func(_ int, r *goquery.Selection) { byID[r.AttrOr("data-node-id", "")] = r })
	if _, ok := byID["unknown"]; ok || rows.Length() != 6 {
		t.Errorf("%d rows (%v), want every node but the unknown caller", rows.Length(), byID)
	}
	if got := text(doc.Find("#nodes-count")); got != "6" {
		t.Errorf("nodes-count %q", got)
	}

	reviews := byID["default/reviews"]
	var ports []string
	reviews.Find(`[data-testid="node-ports"] [data-testid="node-port"]`).Each(func(_ int, p *goquery.Selection) { ports = append(ports, text(p)) })
	if strings.Join(ports, " | ") != "9080 → 8080 http STRICT | 9090 → ? auto PERMISSIVE" {
		t.Errorf("ports %q", ports)
	}
	drtls := reviews.Find(`[data-testid="node-drtls"]`)
	if !strings.HasPrefix(text(drtls), "varies by caller") {
		t.Errorf("DestinationRule TLS %q", text(drtls))
	}
	var callers []string
	drtls.Find(`[data-testid="caller-tls"] li`).Each(func(_ int, c *goquery.Selection) { callers = append(callers, text(c)) })
	if strings.Join(callers, " | ") != "default/productpage: ISTIO_MUTUAL (default/reviews) | default/legacy: no TLS setting" {
		t.Errorf("callers %q", callers)
	}
	if got := text(reviews.Find(`[data-testid="node-peerauth"]`)); got != "UNSET" {
		t.Errorf("reviews PeerAuthentication %q", got)
	}

	gw := byID["istio-system/istio-ingressgateway"]
	if gw == nil || gw.AttrOr("data-kind", "") != "gateway" {
		t.Fatal("no gateway row")
	}
	if got := text(gw.Find(`[data-testid="node-peerauth"]`)); got != "does not apply to a gateway's listeners" {
		t.Errorf("gateway PeerAuthentication %q", got)
	}
	if got := text(gw.Find(`[data-testid="node-port"]`)); got != "443 → 8443 https" {
		t.Errorf("gateway port %q: a mode that does not apply is shown", got)
	}

	sa := byID["shop/sa:checkout"]
	if sa == nil || text(sa.Find("td").First()) != "shop/sa:checkout" || sa.AttrOr("data-kind", "") != "serviceaccount" {
		t.Errorf("ServiceAccount row: %v", sa)
	}
	if n := sa.Find(`[data-testid="node-port"]`).Length(); n != 0 {
		t.Errorf("%d ports on a ServiceAccount", n)
	}
}

func TestNodeRowTexts(t *testing.T) {
	if got := displayName(graph.Node{Kind: graph.KindServiceAccount, Name: "checkout"}); got != "sa:checkout" {
		t.Errorf("displayName %q", got)
	}
	if got := portText(graph.ServicePort{Port: 80, TargetPort: 8080, Protocol: "http2", PeerAuthentication: "DISABLE"}, false); got != "80 → 8080 http2 DISABLE" {
		t.Errorf("portText %q", got)
	}
	if got := callerTLSText(graph.CallerTLS{Caller: "a/b", TLS: "DISABLE"}); got != "a/b: DISABLE" {
		t.Errorf("callerTLSText %q", got)
	}
}

func TestPageLegendAndCriticalFinding(t *testing.T) {
	s := pageSnapshot()
	s.Edges[1].TLSFailureRate = 2
	s.Findings = append([]graph.Finding{{ID: "tls-handshake-failing:default/ratings", Kind: graph.FindingTLSHandshakeFailing, Severity: graph.SeverityCritical,
		Message: "Requests from default/reviews to default/ratings fail at the TLS handshake (2/s).",
		Nodes:   []string{"default/ratings", "default/reviews"}, Edges: []string{"default/reviews->default/ratings:http"}}}, s.Findings...)
	doc := render(t, s, "/")
	first := testid(doc, "finding").First()
	if first.AttrOr("data-severity", "") != "critical" || !first.HasClass("sev-critical") || !strings.Contains(text(first), "TLS handshake") {
		t.Errorf("first finding %q (%s)", text(first), first.AttrOr("class", ""))
	}
	if first.AttrOr("data-target", "") != "default/reviews->default/ratings:http" {
		t.Errorf("handshake finding target %q", first.AttrOr("data-target", ""))
	}
	legend := text(doc.Find(".legend"))
	for _, want := range []string{"failing at the TLS handshake", "gateway"} {
		if !strings.Contains(legend, want) {
			t.Errorf("legend %q lacks %q", legend, want)
		}
	}
	// The script reads the failure rate and the posture from the initial snapshot.
	var got graph.Snapshot
	if err := json.Unmarshal([]byte(doc.Find("script#initial-snapshot").Text()), &got); err != nil {
		t.Fatal(err)
	}
	if got.Edges[1].TLSFailureRate != 2 || got.Posture.HTTP.Ratio == nil || got.Posture.Counts["locked"] != 1 {
		t.Errorf("initial snapshot: edge %+v, posture %+v", got.Edges[1], got.Posture)
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

func TestPageFindings(t *testing.T) {
	doc := render(t, pageSnapshot(), "/")
	items := testid(doc, "findings").Find(`[data-testid="finding"]`)
	if items.Length() != 2 {
		t.Fatalf("%d findings, want 2", items.Length())
	}
	first := items.First()
	if goquery.NodeName(first) != "button" {
		t.Errorf("a finding is a <%s>, want a button", goquery.NodeName(first))
	}
	if !strings.Contains(text(first), "warning") || !strings.Contains(text(first), "would refuse its plaintext callers") {
		t.Errorf("finding text %q", text(first))
	}
	if sev, _ := first.Attr("data-severity"); sev != "warning" {
		t.Errorf("data-severity %q", sev)
	}
	if target, _ := first.Attr("data-target"); target != "unknown->default/ratings:http" {
		t.Errorf("finding target %q, want its edge", target)
	}
	if kind, _ := items.Eq(1).Attr("data-target-kind"); kind != "node" {
		t.Errorf("second finding targets a %q, want node", kind)
	}
}

func TestPageEdgeTable(t *testing.T) {
	doc := render(t, pageSnapshot(), "/")
	rows := testid(doc, "edge-table").Find(`[data-testid="edge-row"]`)
	if rows.Length() != 4 {
		t.Fatalf("%d rows, want 4", rows.Length())
	}
	want := map[string][]string{
		"default/productpage->default/reviews:http": {"locked", "3.0 req/s", "100%"},
		"default/reviews->default/ratings:http":     {"mixed", "2.0 req/s", "25%"},
		"default/reviews->shop/cart:tcp":            {"unknown", "2.5 kB/s", "—"},
		"unknown->default/ratings:http":             {"open", "1.0 req/s", "0%"},
	}
	rows.Each(func(_ int, r *goquery.Selection) {
		id, _ := r.Attr("data-edge-id")
		status, _ := r.Attr("data-status")
		w, ok := want[id]
		if !ok {
			t.Errorf("unexpected row %q", id)
			return
		}
		if status != w[0] {
			t.Errorf("%s: data-status %q, want %q", id, status, w[0])
		}
		cells := r.Find("td")
		if cells.Length() != 6 {
			t.Fatalf("%s: %d cells", id, cells.Length())
		}
		if got := text(cells.Eq(3)); got != w[1] {
			t.Errorf("%s: rate %q, want %q", id, got, w[1])
		}
		if got := text(cells.Eq(4)); got != w[2] {
			t.Errorf("%s: mTLS %q, want %q", id, got, w[2])
		}
		if got := text(cells.Eq(5)); got != w[0] {
			t.Errorf("%s: status cell %q", id, got)
		}
		if tab, _ := r.Attr("tabindex"); tab != "0" {
			t.Errorf("%s: row not focusable", id)
		}
	})
	if got := text(rows.First().Find("td").Eq(0)); got != "default/productpage" {
		t.Errorf("first source %q", got)
	}
	// Sortable by each column with a button.
	if n := doc.Find(`#edge-table th button[data-sort]`).Length(); n != 6 {
		t.Errorf("%d sort buttons, want 6", n)
	}
}

func TestPageEmpty(t *testing.T) {
	doc := render(t, pageSnapshot(), "/?namespace=nowhere")
	msg := testid(doc, "empty-message")
	if msg.Length() != 1 || text(msg) != "No services in namespace nowhere" {
		t.Errorf("empty message %q (%d)", text(msg), msg.Length())
	}
	if testid(doc, "edge-row").Length() != 0 {
		t.Error("rows in an empty graph")
	}
	if got := text(testid(doc, "posture-mtls-share")); got != "—" {
		t.Errorf("posture %q", got)
	}

	// The first stale snapshot before any refresh: empty, zero time.
	doc = render(t, graph.Snapshot{Stale: true, Error: "the first refresh has not finished yet"}, "/")
	if got := text(testid(doc, "empty-message")); !strings.Contains(got, "waiting for the first refresh") {
		t.Errorf("empty message %q", got)
	}
	if got := text(testid(doc, "data-time")); got != "no data yet" {
		t.Errorf("data-time %q", got)
	}
}

func TestPageEmbed(t *testing.T) {
	doc := render(t, pageSnapshot(), "/?embed=1&namespace=default")
	if testid(doc, "page-title").Length() != 0 || doc.Find("header, nav, h1, .skip").Length() != 0 {
		t.Error("embed=1 keeps the page chrome")
	}
	for _, id := range []string{"posture-mtls-share", "count-locked", "namespace-select", "freshness", "graph", "side-panel", "findings", "edge-table"} {
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
		doc.Find("*").Each(func(_ int, el *goquery.Selection) {
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

func TestStaticHandler(t *testing.T) {
	h := StaticHandler()
	get := func(target string, header map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for path, ct := range map[string]string{
		"/app.js":                        "text/javascript; charset=utf-8",
		"/model.mjs":                     "text/javascript; charset=utf-8",
		"/app.css":                       "text/css; charset=utf-8",
		"/icons/lock-mixed.svg":          "image/svg+xml",
		"/vendor/cytoscape.min.js":       "text/javascript; charset=utf-8",
		"/vendor/cytoscape-dagre.min.js": "text/javascript; charset=utf-8",
	} {
		rec := get(path, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("%s: %d", path, rec.Code)
			continue
		}
		if got := rec.Header().Get("Content-Type"); got != ct {
			t.Errorf("%s: Content-Type %q, want %q", path, got, ct)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
		if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
			t.Errorf("%s without version: Cache-Control %q", path, got)
		}
	}
	// The page's versioned URL may be cached for good.
	url := assetURL("app.js")
	rec := get("/"+strings.TrimPrefix(url, "static/"), nil)
	if got := rec.Header().Get("Cache-Control"); !strings.Contains(got, "immutable") {
		t.Errorf("%s: Cache-Control %q", url, got)
	}
	// Revalidation.
	etag := rec.Header().Get("ETag")
	if rec := get("/app.js", map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", rec.Code)
	}
	for _, path := range []string{"/", "/icons", "/icons/", "/nope.js", "/../static.go", "/static.go", "/model.test.mjs"} {
		if rec := get(path, nil); rec.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, rec.Code)
		}
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/app.js", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
	body, _ := io.ReadAll(get("/app.js", nil).Body)
	if !strings.Contains(string(body), "from './model.mjs'") {
		t.Error("app.js does not import model.mjs relatively")
	}
}

// Without --allow-enforce the page offers no enforce action at all: no
// button, no dialog, and app.js is told so; the activity list (the audit
// trail, readable by all) is there either way.
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
