// The demo's tour namespace through meshlock's own pipeline (Kubernetes caches, the Prometheus
// client, the look-back and the refresh loop, wired as cmd/server wires them): every padlock, a
// gateway, TCP, and a finding of each severity, all decided by meshsim under the tour's policy.

package demo

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/k8s"
	"github.com/meshlock/meshlock/internal/live"
	"github.com/meshlock/meshlock/internal/prom"
	"github.com/meshlock/meshlock/internal/testutil"
)

// demoSnapshots runs the demo and meshlock's refresh loop over it with the
// server's defaults (a 1m window, a 7d look-back) and answers a function
// that refreshes and returns the snapshot.
func demoSnapshots(t *testing.T) func() graph.Snapshot {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	env, err := Start(ctx, logger)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := env.Close(); err != nil {
			t.Error(err)
		}
	})
	watcher, err := k8s.NewWatcher(k8s.Options{Kube: env.Kube, Istio: env.Istio, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	watcher.Start(ctx)
	if err := watcher.WaitForSync(ctx); err != nil {
		t.Fatal(err)
	}
	registry := prometheus.NewRegistry()
	client, err := prom.New(prom.Options{URL: env.PrometheusURL, Window: time.Minute, Registerer: registry, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	lookback, err := live.NewLookback(live.LookbackOptions{Querier: client, Window: 7 * 24 * time.Hour, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	go lookback.Run(ctx)
	loop, err := live.NewLoop(live.LoopOptions{
		History: lookback,
		Sources: []live.SourceConfig{
			{Name: "prometheus", Source: live.PrometheusSource{Samples: client.Fetch, Certs: client.FetchCerts}},
			{Name: "kubernetes", Source: live.ClusterSource{Reader: watcher}},
		},
		Interval: time.Second, Window: time.Minute, Registerer: registry, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	return func() graph.Snapshot {
		loop.Refresh(ctx)
		return loop.Snapshot()
	}
}

// A first look at the demo's tour namespace shows every padlock (locked,
// mixed, open, unknown), a gateway, TCP, and a finding of each severity,
// each for the reason WithTour gives.
func TestDemoTour(t *testing.T) {
	snapshot := demoSnapshots(t)
	const (
		gatewayEdge  = "tour/ingressgateway->tour/web:http"
		mixedEdge    = "tour/web->tour/catalog:http"
		tcpEdge      = "tour/catalog->tour/catalog-db:tcp"
		openEdge     = "unknown->tour/catalog:http"
		unknownEdge  = "tour/web->tour/search:http"
		checkoutEdge = "tour/web->tour/checkout:http"
		refusedEdge  = "tour/checkout->tour/payments:http"
	)
	wantEdges := map[string]string{
		gatewayEdge: graph.StatusLocked, mixedEdge: graph.StatusMixed, tcpEdge: graph.StatusLocked,
		openEdge: graph.StatusOpen, unknownEdge: graph.StatusUnknown, checkoutEdge: graph.StatusLocked,
		refusedEdge: graph.StatusUnknown,
	}
	wantFindings := map[string]string{
		graph.FindingID(graph.FindingReadyForStrict, "tour/checkout"):       graph.SeverityInfo,
		graph.FindingID(graph.FindingReadyForStrict, "tour/web"):            graph.SeverityInfo,
		graph.FindingID(graph.FindingReadyForStrict, "tour/catalog-db"):     graph.SeverityInfo,
		graph.FindingID(graph.FindingStrictWouldCut, "tour/catalog"):        graph.SeverityWarning,
		graph.FindingID(graph.FindingDisableTowardsStrict, "tour/payments"): graph.SeverityCritical,
		graph.FindingID(graph.FindingTLSHandshakeFailing, "tour/payments"):  graph.SeverityCritical,
	}
	var s graph.Snapshot
	testutil.Eventually(t, "the tour namespace's padlocks and findings", func() (bool, string) {
		s = graph.Filter(snapshot(), []string{TourNamespace})
		var wrong []string
		for id, status := range wantEdges {
			if e, ok := edgeOf(s, id); !ok || e.Status != status {
				wrong = append(wrong, fmt.Sprintf("%s %s (want %s)", id, e.Status, status))
			}
		}
		for id, severity := range wantFindings {
			if f, ok := findingOf(s, id); !ok || f.Severity != severity {
				wrong = append(wrong, fmt.Sprintf("finding %s %q (want %s)", id, f.Severity, severity))
			}
		}
		slices.Sort(wrong)
		return len(wrong) == 0, strings.Join(wrong, "; ") + fmt.Sprintf(" (lookback %s)", s.Lookback.State)
	})

	// Every status the page draws, and every severity.
	for _, status := range []string{graph.StatusLocked, graph.StatusMixed, graph.StatusOpen, graph.StatusUnknown} {
		if !slices.ContainsFunc(s.Edges, func(e graph.Edge) bool { return e.Status == status }) {
			t.Errorf("no %s edge in tour", status)
		}
	}
	for _, severity := range []string{graph.SeverityCritical, graph.SeverityWarning, graph.SeverityInfo} {
		if !slices.ContainsFunc(s.Findings, func(f graph.Finding) bool { return f.Severity == severity }) {
			t.Errorf("no %s finding in tour", severity)
		}
	}

	// The gateway is a gateway node, with no finding proposing STRICT for it.
	if n, ok := nodeOf(s, "tour/ingressgateway"); !ok || n.Kind != graph.KindGateway {
		t.Errorf("tour/ingressgateway: %+v, want a gateway node", n)
	}
	for _, f := range s.Findings {
		if slices.Contains(f.Nodes, "tour/ingressgateway") {
			t.Errorf("a finding about the gateway: %+v", f)
		}
	}
	// TCP: counted in bytes, with both principals (metadata exchange over mTLS).
	if e, _ := edgeOf(s, tcpEdge); e.Protocol != "tcp" || !(e.Rate > 0) ||
		e.SourcePrincipal != "spiffe://cluster.local/ns/tour/sa/catalog" || e.DestinationPrincipal != "spiffe://cluster.local/ns/tour/sa/catalog-db" {
		t.Errorf("the TCP edge: %+v", e)
	}
	// The mixed edge: web-v1's two requests a second in mTLS, web-v2's one in plaintext.
	if e, _ := edgeOf(s, mixedEdge); e.MTLSRatio < 0.5 || e.MTLSRatio > 0.8 {
		t.Errorf("the mixed edge's mTLS share %.2f, want about 2/3", e.MTLSRatio)
	}
	// catalog's callers get different DestinationRule modes: the page's
	// VARIES, web-v1 ISTIO_MUTUAL from catalog's rule, web-v2 none.
	if n, _ := nodeOf(s, "tour/catalog"); n.DestinationRuleTLS != graph.TLSVaries || !slices.Equal(n.CallerTLS, []graph.CallerTLS{
		{Caller: "tour/web-v1", Port: 8080, TLS: graph.TLSIstioMutual, Rule: "tour/catalog"},
		{Caller: "tour/web-v2", Port: 8080},
	}) {
		t.Errorf("catalog's DestinationRule view: %s %+v", n.DestinationRuleTLS, n.CallerTLS)
	}
	// The unknown edge is one only web's proxy reports (search has no sidecar).
	if n, _ := nodeOf(s, "tour/search"); n.InMesh {
		t.Errorf("tour/search is in the mesh: %+v", n)
	}
	// checkout's requests to payments are refused, not plaintext.
	if e, _ := edgeOf(s, refusedEdge); !(e.TLSFailureRate > 0) || e.Rate != 0 {
		t.Errorf("checkout -> payments: %+v, want only handshake failures", e)
	}
	// STRICT on catalog would cut web (its canary) and the job without a sidecar.
	if f, _ := findingOf(s, graph.FindingID(graph.FindingStrictWouldCut, "tour/catalog")); !slices.Equal(f.Edges, []string{mixedEdge, openEdge}) {
		t.Errorf("STRICT on catalog would cut %v", f.Edges)
	}
	for _, id := range []string{"tour/search", "tour/payments"} {
		if f, ok := findingOf(s, graph.FindingID(graph.FindingReadyForStrict, id)); ok {
			t.Errorf("%s ready for STRICT: %+v", id, f)
		}
	}
}

func edgeOf(s graph.Snapshot, id string) (graph.Edge, bool) {
	i := slices.IndexFunc(s.Edges, func(e graph.Edge) bool { return e.ID == id })
	if i < 0 {
		return graph.Edge{}, false
	}
	return s.Edges[i], true
}

func nodeOf(s graph.Snapshot, id string) (graph.Node, bool) {
	i := slices.IndexFunc(s.Nodes, func(n graph.Node) bool { return n.ID == id })
	if i < 0 {
		return graph.Node{}, false
	}
	return s.Nodes[i], true
}

func findingOf(s graph.Snapshot, id string) (graph.Finding, bool) {
	i := slices.IndexFunc(s.Findings, func(f graph.Finding) bool { return f.ID == id })
	if i < 0 {
		return graph.Finding{}, false
	}
	return s.Findings[i], true
}

// The tour's policy is what kubectl apply -f would create; another kind, or
// a field unknown to the object's metadata, is refused.
func TestTourPolicyApplies(t *testing.T) {
	ctx := context.Background()
	client := istiofake.NewSimpleClientset()
	if err := applyPolicy(ctx, client, TourPolicy); err != nil {
		t.Fatal(err)
	}
	rules, err := client.NetworkingV1().DestinationRules(TourNamespace).List(ctx, metav1.ListOptions{})
	if err != nil || len(rules.Items) != 5 {
		t.Fatalf("%d DestinationRules (%v), want 5", len(rules.Items), err)
	}
	authns, err := client.SecurityV1().PeerAuthentications(TourNamespace).List(ctx, metav1.ListOptions{})
	if err != nil || len(authns.Items) != 2 {
		t.Fatalf("%d PeerAuthentications (%v), want 2", len(authns.Items), err)
	}
	for _, bad := range []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: tour}\n",
		"apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: x, namespace: tour, lables: {}}\nspec: {host: web}\n",
	} {
		if err := applyPolicy(ctx, istiofake.NewSimpleClientset(), []byte(bad)); err == nil {
			t.Errorf("applied %q", bad)
		}
	}
}
