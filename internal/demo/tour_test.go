// The demo's tour namespace through meshlock's own pipeline (Kubernetes caches, the Prometheus
// client, the look-back and the refresh loop, wired as cmd/server wires them): every padlock, a
// gateway, TCP, and a finding of each severity, all decided by meshsim under the tour's policy.

package demo

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
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
	ctx := t.Context()
	env := startDemo(t, Options{Clusters: 1})
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
		// catalog-callers (ALLOW from namespace tour) denies its plaintext
		// callers while catalog still accepts plaintext.
		graph.FindingID(graph.FindingAuthzDeniesPlaintext, "tour/catalog"): graph.SeverityCritical,
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
	// Access by identity: web's mTLS share is allowed, its canary's
	// plaintext denied; the job without a sidecar is denied outright, and
	// catalog's sidecar answers its requests 403, taken as denials.
	if e, _ := edgeOf(s, mixedEdge); e.Authorization == nil || e.Authorization.Decision != graph.AuthzConditional ||
		e.Authorization.MutualTLS != graph.AuthzAllow || e.Authorization.Plaintext != graph.AuthzDeny ||
		!slices.Equal(e.Authorization.Policies, []string{"tour/catalog-callers"}) || !(e.DeniedRate > 0) {
		t.Errorf("web -> catalog: %+v %+v", e, e.Authorization)
	}
	if e, _ := edgeOf(s, openEdge); e.Authorization == nil || e.Authorization.Decision != graph.AuthzDeny || !(e.DeniedRate > 0) {
		t.Errorf("unknown -> catalog: %+v %+v", e, e.Authorization)
	}
	if e, _ := edgeOf(s, gatewayEdge); e.Authorization == nil || e.Authorization.Decision != graph.AuthzAllow || len(e.Authorization.Policies) != 0 {
		t.Errorf("no policy selects web, so all allowed: %+v", e.Authorization)
	}
	if n, _ := nodeOf(s, "tour/catalog"); !slices.Equal(n.AuthorizationPolicies, []string{"tour/catalog-callers"}) {
		t.Errorf("catalog's policies: %v", n.AuthorizationPolicies)
	}
	if f, _ := findingOf(s, graph.FindingID(graph.FindingAuthzDeniesPlaintext, "tour/catalog")); !slices.Equal(f.Edges, []string{mixedEdge, openEdge}) {
		t.Errorf("plaintext denied on %v", f.Edges)
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
	authzs, err := client.SecurityV1().AuthorizationPolicies(TourNamespace).List(ctx, metav1.ListOptions{})
	if err != nil || len(authzs.Items) != 1 || authzs.Items[0].Name != "catalog-callers" ||
		authzs.Items[0].Spec.GetRules()[0].GetFrom()[0].GetSource().GetNamespaces()[0] != TourNamespace {
		t.Fatalf("AuthorizationPolicies %+v (%v), want catalog-callers from namespace tour", authzs, err)
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

// catalog's AuthorizationPolicy (ALLOW from namespace tour) refuses its
// two plaintext callers, price-import and web's canary, which carry no
// identity: meshsim's truth says so, and catalog's sidecar reports their
// requests as 403s, response_flags "-", in the demo's Prometheus; web-v1's,
// over mTLS, go through.
func TestDemoTourDenial(t *testing.T) {
	ctx := t.Context()
	env := startDemo(t, Options{Clusters: 1})
	truth := env.Mesh.Truth().Callers
	for _, caller := range []string{"tour/price-import->tour/catalog:8080", "tour/web-v2->tour/catalog:8080"} {
		tr := truth[caller]
		if tr.Denied == 0 || tr.DeniedMTLS != 0 || tr.Plaintext.Count != 0 || tr.MTLS.Count != 0 {
			t.Errorf("%s: %+v, want every request denied", caller, tr)
		}
		if len(tr.Authorization) != 1 || !tr.Authorization[0].Denied || !slices.Equal(tr.Authorization[0].Policies, []string{"tour/catalog-callers"}) {
			t.Errorf("%s's authorization: %+v, want denied by tour/catalog-callers", caller, tr.Authorization)
		}
	}
	if tr := truth["tour/web-v1->tour/catalog:8080"]; tr.Denied != 0 || tr.MTLS.Count == 0 ||
		len(tr.Authorization) != 1 || tr.Authorization[0].Decision != "allow" {
		t.Errorf("web-v1 -> catalog: %+v, want allowed over mTLS", tr)
	}
	client, err := promapi.NewClient(promapi.Config{Address: env.PrometheusURL})
	if err != nil {
		t.Fatal(err)
	}
	value, _, _, err := promv1.NewAPI(client).Query(ctx, `sum by (source_workload, response_code, response_flags) (istio_requests_total{`+
		`reporter="destination",destination_workload="catalog-v1"})`, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, s := range value.(model.Vector) {
		got[string(s.Metric["source_workload"])+" "+string(s.Metric["response_code"])+" "+string(s.Metric["response_flags"])] = s.Value > 0
	}
	if want := map[string]bool{"web-v1 200 -": true, "web-v2 403 -": true, "unknown 403 -": true}; !maps.Equal(got, want) {
		t.Errorf("catalog's requests by caller, code and flags: %v, want %v", got, want)
	}
}
