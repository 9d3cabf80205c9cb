// Unit tests of the scale command's pure parts: the topology generator and its split over
// clusters, the parsers of /metrics, the query log and /proc, the expected edges, the kubeconfig
// merge and the reports. None needs the test bed.

package main

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/meshsim"
)

func TestParseScale(t *testing.T) {
	got, err := parseScale("20, 50,5000")
	if err != nil || got != (Scale{20, 50, 5000}) {
		t.Fatalf("parseScale: %v %v", got, err)
	}
	for _, bad := range []string{"", "20,50", "20,50,0", "a,b,c", "1,2,3"} {
		if _, err := parseScale(bad); err == nil {
			t.Errorf("parseScale(%q) accepted", bad)
		}
	}
}

func TestGenerateCountsAndShape(t *testing.T) {
	sc := Scale{Namespaces: 5, Services: 50, Edges: 500}
	plan, err := Generate(sc, 1)
	if err != nil {
		t.Fatal(err)
	}
	top := plan.Topology
	if len(top.Services) != 250 || len(top.Callers) != 500 {
		t.Fatalf("%d services, %d callers; want 250, 500", len(top.Services), len(top.Callers))
	}
	// meshsim accepts it: names, selectors, ports and callers are valid.
	if _, err := meshsim.New(meshsim.Options{Topology: top}); err != nil {
		t.Fatal(err)
	}
	if top.Services[0].Namespace != "ns-00" || top.Services[0].Name != "svc-000" || top.Workloads[0].Name != "svc-000-v1" {
		t.Errorf("first service %s/%s, workload %s", top.Services[0].Namespace, top.Services[0].Name, top.Workloads[0].Name)
	}
	var tcp, sidecars, v1, cross int
	for _, s := range top.Services {
		if s.Ports[0].Protocol == meshsim.TCP {
			tcp++
			if !strings.HasPrefix(s.Ports[0].Name, "tcp-") {
				t.Errorf("TCP port named %q: Istio needs the tcp- prefix", s.Ports[0].Name)
			}
		}
	}
	for _, w := range top.Workloads {
		if strings.HasSuffix(w.Name, "-v1") {
			v1++
			if w.Sidecar {
				sidecars++
			}
		}
	}
	seen := map[string]bool{}
	for _, c := range top.Callers {
		if seen[c.Key()] {
			t.Errorf("duplicate caller %s", c.Key())
		}
		seen[c.Key()] = true
		from, _, _ := strings.Cut(c.From, "/")
		to, name, _ := strings.Cut(c.To, "/")
		if c.From == c.To+"-v1" {
			t.Errorf("%s calls its own service", c.From)
		}
		if from != to {
			cross++
		}
		if !strings.HasSuffix(c.From, "-v1") || c.Rate != 1 || name == "" {
			t.Errorf("caller %+v", c)
		}
	}
	if v1 != 250 {
		t.Errorf("%d -v1 workloads, want one per service", v1)
	}
	within := func(what string, got, total int, share float64) {
		if f := float64(got) / float64(total); f < share-0.08 || f > share+0.08 {
			t.Errorf("%s: %d of %d (%.2f), want about %.2f", what, got, total, f, share)
		}
	}
	within("TCP services", tcp, 250, tcpShare)
	within("sidecars", sidecars, 250, sidecarShare)
	within("cross-namespace callers", cross, 500, crossNamespace)

	if !reflect.DeepEqual(plan.Peers, []Peer{{"ns-00", modeStrict}, {"ns-01", modePermissive}}) {
		t.Errorf("peers %+v", plan.Peers)
	}
	modes := map[string]int{}
	for _, r := range plan.Rules {
		modes[r.TLS]++
	}
	if modes[modeDisable] != 2 || modes[modeIstioMutual] != 2 || plan.Rules[0].Namespace != "ns-00" {
		t.Errorf("rules %+v", plan.Rules)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	sc := Scale{Namespaces: 3, Services: 10, Edges: 40}
	a, err := Generate(sc, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Generate(sc, 7)
	if !reflect.DeepEqual(a, b) {
		t.Error("the same seed gave two plans")
	}
	c, _ := Generate(sc, 8)
	if reflect.DeepEqual(a.Topology.Callers, c.Topology.Callers) {
		t.Error("another seed gave the same callers")
	}
}

func TestGenerateDenseAndTiny(t *testing.T) {
	// Every possible pair: the sampler gives way to drawing from all pairs.
	plan, err := Generate(Scale{Namespaces: 1, Services: 4, Edges: 12}, 1)
	if err != nil || len(plan.Topology.Callers) != 12 {
		t.Fatalf("%d callers, %v", len(plan.Topology.Callers), err)
	}
	if _, err := meshsim.New(meshsim.Options{Topology: plan.Topology}); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(Scale{Namespaces: 1, Services: 4, Edges: 13}, 1); err == nil {
		t.Error("13 distinct callers among 4 services")
	}
}

// A line as Debian's Prometheus 2.42 writes it.
const queryLogLine = `{"httpRequest":{"clientIP":"127.0.0.1","method":"GET","path":"/api/v1/query"},"params":{"end":"2026-12-01T13:16:53.293Z","query":"sum by (reporter) (rate(istio_requests_total[1m]))","start":"2026-12-01T13:16:53.293Z","step":0},"spanID":"0000000000000000","stats":{"timings":{"evalTotalTime":0.000183132,"resultSortTime":0,"queryPreparationTime":0.000106669,"innerEvalTime":0.000065603,"execQueueTime":0.000237423,"execTotalTime":0.000492708},"samples":{"totalQueryableSamples":1200,"peakSamples":40}},"ts":"2026-12-01T13:16:53.294Z"}`

func TestParseQueryLog(t *testing.T) {
	other := strings.Replace(strings.Replace(queryLogLine, "istio_requests_total", "up", 1), "13:16:53.294Z", "13:17:10.000Z", 1)
	entries, err := parseQueryLog(strings.NewReader(queryLogLine + "\n\n" + other + "\n{\"params\":{\"que"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("%d entries, want 2 (a torn last line is skipped)", len(entries))
	}
	e := entries[0]
	if e.Params.Query != "sum by (reporter) (rate(istio_requests_total[1m]))" || e.Stats.Timings.EvalTotalTime != 0.000183132 ||
		e.Stats.Timings.ExecQueueTime != 0.000237423 || e.Stats.Samples.TotalQueryableSamples != 1200 ||
		!e.TS.Equal(time.Date(2026, 12, 1, 13, 16, 53, 294e6, time.UTC)) {
		t.Errorf("entry %+v", e)
	}
	from, to := time.Date(2026, 12, 1, 13, 16, 0, 0, time.UTC), time.Date(2026, 12, 1, 13, 18, 0, 0, time.UTC)
	all := sumQueries(entries, from, to, func(string) bool { return true })
	if all.Count != 2 || all.Samples != 2400 {
		t.Errorf("sum %+v", all)
	}
	if s := sumQueries(entries, from, to, func(q string) bool { return strings.Contains(q, "istio") }); s.Count != 1 || s.Eval != 0.000183132 {
		t.Errorf("matched %+v", s)
	}
	if s := sumQueries(entries, to, to.Add(time.Minute), func(string) bool { return true }); s.Count != 0 {
		t.Errorf("outside the period: %+v", s)
	}
}

func TestParseServerMetricsAndDelta(t *testing.T) {
	text := func(http, errs, count, sum, refreshErrs string) string {
		return `# HELP meshlock_prometheus_queries_total PromQL queries sent to Prometheus, by query and result.
# TYPE meshlock_prometheus_queries_total counter
meshlock_prometheus_queries_total{query="http",result="error"} ` + errs + `
meshlock_prometheus_queries_total{query="http",result="success"} ` + http + `
meshlock_prometheus_queries_total{query="tcp",result="success"} ` + http + `
# HELP meshlock_refresh_duration_seconds Time to fetch every source and build the graph.
# TYPE meshlock_refresh_duration_seconds histogram
meshlock_refresh_duration_seconds_bucket{le="0.005"} 0
meshlock_refresh_duration_seconds_bucket{le="+Inf"} ` + count + `
meshlock_refresh_duration_seconds_sum ` + sum + `
meshlock_refresh_duration_seconds_count ` + count + `
# TYPE meshlock_refresh_errors_total counter
meshlock_refresh_errors_total{source="kubernetes"} 0
meshlock_refresh_errors_total{source="prometheus"} ` + refreshErrs + `
# TYPE go_goroutines gauge
go_goroutines 42
`
	}
	before, err := parseServerMetrics(strings.NewReader(text("10", "1", "10", "2.5", "0")))
	if err != nil {
		t.Fatal(err)
	}
	if before != (serverMetrics{Queries: 21, QueryErrors: 1, Refreshes: 10, RefreshTotal: 2.5}) {
		t.Errorf("before %+v", before)
	}
	after, err := parseServerMetrics(strings.NewReader(text("34", "2", "34", "8.5", "3")))
	if err != nil {
		t.Fatal(err)
	}
	if d := after.sub(before); d != (serverMetrics{Queries: 49, QueryErrors: 1, Refreshes: 24, RefreshTotal: 6, RefreshErrors: 3}) {
		t.Errorf("delta %+v", d)
	}
	if _, err := parseServerMetrics(strings.NewReader("go_goroutines 1\n")); err == nil {
		t.Error("metrics without meshlock's counters accepted")
	}
}

func TestParseProc(t *testing.T) {
	status := "Name:\tmeshlock\nVmPeak:\t 900000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t12\n"
	stat := "4242 (mesh lock) S 1 4242 4242 0 -1 4194560 5000 0 0 0 1234 566 0 0 20 0 12 0 100 1000000 25600 18446744073709551615"
	got, err := parseProc(status, stat)
	if err != nil {
		t.Fatal(err)
	}
	if got.RSS != 100<<20 || got.PeakRSS != 200<<20 || got.CPU != 18*time.Second {
		t.Errorf("%+v", got)
	}
}

// The expected edges of a handful of callers, one per way a proxy reports.
func TestExpectedEdges(t *testing.T) {
	workload := func(ns, name, app string, sidecar bool) meshsim.Workload {
		return meshsim.Workload{Namespace: ns, Name: name, ServiceAccount: name, Sidecar: sidecar, Labels: map[string]string{"app": app}}
	}
	service := func(ns, name string) meshsim.Service {
		return meshsim.Service{Namespace: ns, Name: name, Selector: map[string]string{"app": name}}
	}
	top := meshsim.Topology{
		Workloads: []meshsim.Workload{workload("a", "x-v1", "x", true), workload("a", "y-v1", "y", false), workload("b", "z-v1", "z", true)},
		Services:  []meshsim.Service{service("a", "x"), service("a", "y"), service("b", "z")},
		Callers: []meshsim.Caller{
			{From: "a/x-v1", To: "b/z", Port: 80},   // HTTP mTLS: locked
			{From: "a/y-v1", To: "b/z", Port: 80},   // no client sidecar: unknown -> z, open
			{From: "a/x-v1", To: "a/y", Port: 80},   // no server sidecar: unknown
			{From: "b/z-v1", To: "a/x", Port: 5432}, // TCP plaintext: split
		},
	}
	endpoint := func(w string, sidecar bool, port int32) meshsim.ServiceTruth {
		return meshsim.ServiceTruth{Ports: []meshsim.PortTruth{{Port: port, Endpoints: []meshsim.EndpointTruth{{Workload: w, Sidecar: sidecar, Enforced: sidecar}}}}}
	}
	truth := meshsim.Truth{
		AutoMTLS: true,
		Callers: map[string]meshsim.CallerTruth{
			"a/x-v1->b/z:80":   {Protocol: meshsim.HTTP, ClientSidecar: true, MTLS: meshsim.Delivered{Count: 60}},
			"a/y-v1->b/z:80":   {Protocol: meshsim.HTTP, Plaintext: meshsim.Delivered{Count: 60}},
			"a/x-v1->a/y:80":   {Protocol: meshsim.HTTP, ClientSidecar: true, Plaintext: meshsim.Delivered{Count: 60}},
			"b/z-v1->a/x:5432": {Protocol: meshsim.TCP, ClientSidecar: true, ClientTLS: modeDisable, Plaintext: meshsim.Delivered{Count: 60, BytesSent: 6000, BytesReceived: 600}},
		},
		Services: map[string]meshsim.ServiceTruth{"b/z": endpoint("b/z-v1", true, 80), "a/y": endpoint("a/y-v1", false, 80), "a/x": endpoint("a/x-v1", true, 5432)},
	}
	edges := expectedEdges(top, truth)
	want := map[string]string{
		"a/x->b/z:http":     graph.StatusLocked,
		"unknown->b/z:http": graph.StatusOpen,
		"a/x->a/y:http":     graph.StatusUnknown,
		"b/z->a/x:tcp":      graph.StatusUnknown, // the client's report alone
		"unknown->a/x:tcp":  graph.StatusOpen,    // the server's, without peer exchange
	}
	if len(edges) != len(want) {
		t.Errorf("%d edges, want %d", len(edges), len(want))
	}
	var actual []graph.Edge
	for id, status := range want {
		e, ok := edges[id]
		if !ok {
			t.Errorf("no edge %s", id)
			continue
		}
		w, _ := e.judge()
		if w.status != status {
			t.Errorf("%s: %s, want %s", id, w.status, status)
		}
		actual = append(actual, graph.Edge{ID: id, Protocol: e.protocol, Status: w.status, MTLSRatio: w.ratio})
	}
	if c := compareEdges(actual, edges); c.Matched != 5 || c.Expected != 5 || len(c.Problems) != 0 {
		t.Errorf("comparison %+v", c)
	}
	actual[0].Status = "mixed"
	actual = append(actual, graph.Edge{ID: "a/q->a/x:http"})
	if c := compareEdges(actual, edges); c.Matched != 4 || c.Unexpected != 1 || len(c.Problems) != 2 {
		t.Errorf("comparison with a wrong and an extra edge %+v", c)
	}
}

// Partial injection: auto mTLS sends mTLS to the sidecar and plaintext to
// the pod without, which no server reports: mixed.
func TestExpectedEdgesPartialInjection(t *testing.T) {
	top := meshsim.Topology{
		Workloads: []meshsim.Workload{
			{Namespace: "a", Name: "c-v1", ServiceAccount: "c", Sidecar: true, Labels: map[string]string{"app": "c"}},
			{Namespace: "a", Name: "s-v1", ServiceAccount: "s", Sidecar: true, Labels: map[string]string{"app": "s"}},
			{Namespace: "a", Name: "s-legacy", ServiceAccount: "s-legacy", Labels: map[string]string{"app": "s"}},
		},
		Services: []meshsim.Service{
			{Namespace: "a", Name: "c", Selector: map[string]string{"app": "c"}},
			{Namespace: "a", Name: "s", Selector: map[string]string{"app": "s"}},
		},
		Callers: []meshsim.Caller{{From: "a/c-v1", To: "a/s", Port: 80}},
	}
	truth := meshsim.Truth{
		AutoMTLS: true,
		Callers: map[string]meshsim.CallerTruth{"a/c-v1->a/s:80": {Protocol: meshsim.HTTP, ClientSidecar: true,
			MTLS: meshsim.Delivered{Count: 30}, Plaintext: meshsim.Delivered{Count: 30}}},
		Services: map[string]meshsim.ServiceTruth{"a/s": {Ports: []meshsim.PortTruth{{Port: 80, Endpoints: []meshsim.EndpointTruth{
			{Workload: "a/s-legacy"}, {Workload: "a/s-v1", Sidecar: true, Enforced: true},
		}}}}},
	}
	edges := expectedEdges(top, truth)
	w, ok := edges["a/c->a/s:http"].judge()
	if len(edges) != 1 || !ok || w.status != graph.StatusMixed || w.ratio != 0.5 {
		t.Errorf("edges %v, judged %+v", edges, w)
	}
}

// The report prints the table rows and labels the extrapolation as such.
func TestReport(t *testing.T) {
	o := options{scale: Scale{20, 50, 5000}, duration: time.Minute, scrapeInterval: time.Second, refresh: 5 * time.Second}
	res := result{
		period:  time.Minute,
		metrics: serverMetrics{Queries: 48, Refreshes: 12, RefreshTotal: 6},
		evals:   evalSum{Count: 50, Eval: 5},
		compared: comparison{Expected: 3, Matched: 2, ByStatus: map[string]int{"locked": 3},
			Problems: []string{"missing edge a->b:http (truth locked 1.00)"}},
		lookback: &lookbackResult{step: time.Minute, series: 100, points: []lookbackPoint{
			{rng: time.Minute, step: time.Minute, eval: evalSum{Count: 1, Eval: 0.5}, rawSamples: 6000},
			{rng: 2 * time.Minute, step: time.Minute, eval: evalSum{Count: 1, Eval: 1}, rawSamples: 12000},
		}, coarse: &lookbackPoint{rng: 2 * time.Minute, step: 2 * time.Minute, eval: evalSum{Count: 1, Eval: 0.8}, rawSamples: 12000}},
	}
	var b strings.Builder
	report(&b, o, res)
	out := b.String()
	for _, want := range []string{
		"| 20×50×5000 | 1s | 1m0s | 12 | 4.00 | 500.0 ms | 400.0 ms |", // eval per logged query × 4 queries a refresh
		"| 20×50×5000 | 2m / 1m |",
		"| 20×50×5000 | 2m / 2m |",
		"about 200.0 ms of it per subquery step", // (1 s - 0.8 s) / (2 - 1) steps
		"EXTRAPOLATION (not measured)",
		"missing edge a->b:http",
		"2 / 3 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}

func TestClusterScales(t *testing.T) {
	got := clusterScales(Scale{20, 50, 5000}, 2)
	if !reflect.DeepEqual(got, []Scale{{20, 50, 2500}, {20, 50, 2500}}) {
		t.Errorf("5000 edges over 2: %v", got)
	}
	got = clusterScales(Scale{2, 3, 7}, 3)
	if !reflect.DeepEqual(got, []Scale{{2, 3, 3}, {2, 3, 2}, {2, 3, 2}}) {
		t.Errorf("7 edges over 3: %v", got)
	}
	o := options{scale: Scale{20, 50, 5000}, clusters: 2}
	if o.mesh() != "2 × 20×50×2500" {
		t.Errorf("mesh %q", o.mesh())
	}
	if o.clusters = 3; o.mesh() != "3 × 20×50×1666–1667" {
		t.Errorf("mesh %q", o.mesh())
	}
	if o.clusters = 1; o.mesh() != "20×50×5000" {
		t.Errorf("one cluster: mesh %q, want the scale as before", o.mesh())
	}
}

// One cluster is Generate's plan as before; several split the edges, each
// cluster's callers staying in it, its namespaces its own.
func TestGeneratePlans(t *testing.T) {
	sc := Scale{Namespaces: 3, Services: 10, Edges: 41}
	one, err := generatePlans(sc, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Generate(sc, 5)
	if len(one) != 1 || one[0].name != "" || !reflect.DeepEqual(one[0].plan, want) || !reflect.DeepEqual(joinPlans(one), want) {
		t.Errorf("one cluster: %+v", one)
	}

	plans, err := generatePlans(sc, 2, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 2 || plans[0].name != "c1" || plans[1].name != "c2" {
		t.Fatalf("plans %+v", plans)
	}
	clusterOf := namespaceClusters(plans)
	if clusterOf["ns-00"] != "c1" || clusterOf["c2-ns-02"] != "c2" || len(clusterOf) != 6 {
		t.Errorf("namespaces %v", clusterOf)
	}
	for i, cp := range plans {
		top := cp.plan.Topology
		if len(top.Services) != 30 || len(top.Callers) != []int{21, 20}[i] {
			t.Errorf("%s: %d Services, %d callers", cp.name, len(top.Services), len(top.Callers))
		}
		for _, w := range top.Workloads {
			if w.Cluster != cp.name || clusterOf[w.Namespace] != cp.name {
				t.Errorf("%s: workload %s/%s in cluster %q", cp.name, w.Namespace, w.Name, w.Cluster)
			}
		}
		for _, c := range top.Callers {
			from, _, _ := strings.Cut(c.From, "/")
			to, _, _ := strings.Cut(c.To, "/")
			if clusterOf[from] != cp.name || clusterOf[to] != cp.name {
				t.Errorf("%s: caller %s leaves the cluster", cp.name, c.Key())
			}
		}
		prefix := []string{"", "c2-"}[i]
		if cp.plan.Peers[0] != (Peer{prefix + "ns-00", modeStrict}) || cp.plan.Rules[0].Namespace != prefix+"ns-00" {
			t.Errorf("%s: peers %+v, rules %+v", cp.name, cp.plan.Peers, cp.plan.Rules)
		}
	}
	all := joinPlans(plans)
	if s := summarize(all); s.services != 60 || s.callers != 41 || s.peers != 4 {
		t.Errorf("joined %+v", s)
	}
	// meshsim takes it as one multi-primary mesh.
	if _, err := meshsim.New(meshsim.Options{Topology: all.Topology, ClusterName: "c1", Remotes: []meshsim.RemoteCluster{{Name: "c2"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := generatePlans(Scale{1, 2, 1}, 2, 1); err == nil {
		t.Error("1 edge split over 2 clusters")
	}
}

func TestQualifyEdges(t *testing.T) {
	e1, e2 := &expectedEdge{protocol: graph.ProtocolHTTP}, &expectedEdge{protocol: graph.ProtocolTCP}
	got := qualifyEdges(map[string]*expectedEdge{
		"ns-00/svc-001->ns-00/svc-002:http": e1,
		"unknown->c2-ns-01/svc-003:tcp":     e2,
	}, map[string]string{"ns-00": "c1", "c2-ns-01": "c2"})
	want := map[string]*expectedEdge{
		"c1/ns-00/svc-001->c1/ns-00/svc-002:http": e1,
		"unknown->c2/c2-ns-01/svc-003:tcp":        e2,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
}

// Each cluster's admin context, renamed after the cluster, in one file
// meshlock's --cluster reads.
func TestMergeKubeconfigs(t *testing.T) {
	testbedConfig := func(server, token string) *clientcmdapi.Config {
		cfg := clientcmdapi.NewConfig()
		cfg.Clusters["testbed"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: []byte("ca of " + server)}
		cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
		cfg.AuthInfos["alice"] = &clientcmdapi.AuthInfo{Token: "alice"}
		cfg.Contexts["testbed"] = &clientcmdapi.Context{Cluster: "testbed", AuthInfo: "admin"}
		cfg.Contexts["alice"] = &clientcmdapi.Context{Cluster: "testbed", AuthInfo: "alice"}
		cfg.CurrentContext = "testbed"
		return cfg
	}
	a, b := testbedConfig("https://127.0.0.1:1", "t1"), testbedConfig("https://127.0.0.1:2", "t2")
	merged, err := mergeKubeconfigs([]string{"c1", "c2"}, []*clientcmdapi.Config{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if len(merged.Contexts) != 2 || merged.CurrentContext != "c1" {
		t.Errorf("contexts %v, current %q", merged.Contexts, merged.CurrentContext)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*merged, path); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][2]string{"c1": {"https://127.0.0.1:1", "t1"}, "c2": {"https://127.0.0.1:2", "t2"}} {
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: path}, &clientcmd.ConfigOverrides{CurrentContext: name}).ClientConfig()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Host != want[0] || cfg.BearerToken != want[1] || string(cfg.CAData) != "ca of "+want[0] {
			t.Errorf("context %s: host %s, token %s, CA %q", name, cfg.Host, cfg.BearerToken, cfg.CAData)
		}
	}
	if _, err := mergeKubeconfigs([]string{"c1", "c1"}, []*clientcmdapi.Config{a, b}); err == nil {
		t.Error("a cluster named twice")
	}
	b.CurrentContext = "gone"
	if _, err := mergeKubeconfigs([]string{"c1", "c2"}, []*clientcmdapi.Config{a, b}); err == nil {
		t.Error("a kubeconfig without its current context")
	}
}

// The comparison prints both runs, their ratios and whether the queries
// per refresh are the same.
func TestReportComparison(t *testing.T) {
	one := options{scale: Scale{20, 50, 5000}, clusters: 1, duration: time.Minute, scrapeInterval: time.Second, refresh: 5 * time.Second}
	several := one
	several.clusters = 2
	res := func(queries, refreshTotal, eval float64, rss int64) result {
		return result{period: time.Minute, metrics: serverMetrics{Queries: queries, Refreshes: 12, RefreshTotal: refreshTotal},
			evals: evalSum{Count: int(queries), Eval: eval}, proc: procStats{RSS: rss, PeakRSS: rss},
			graphTime: 10 * time.Millisecond, graphBytes: 1 << 20, graphGzip: 100 << 10}
	}
	a, b := res(84, 6, 4.2, 100<<20), res(84, 9, 6.3, 150<<20)
	var w strings.Builder
	reportComparison(&w, one, several, a, b)
	out := w.String()
	for _, want := range []string{
		"| 20×50×5000 | 1s |", // the one-cluster run's row as before
		"| 2 × 20×50×2500 | 1s |",
		"| 1 × 20×50×5000 | 7.00 | 500.0 ms | 350.0 ms |",
		"| 2 × 20×50×2500 | 7.00 | 750.0 ms | 525.0 ms |",
		"| 2 / 1 | 1.00× | 1.50× | 1.50× | 1.00× | 1.00× (1.00×) | 1.50× / 1.50× |",
		"7.00 with one cluster, 7.00 with 2 (the same)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the comparison lacks %q:\n%s", want, out)
		}
	}
	if err := sameQueries(a.queriesPerRefresh(), b.queriesPerRefresh()); err != nil {
		t.Error(err)
	}
	b.metrics.Queries = 96
	if err := sameQueries(a.queriesPerRefresh(), b.queriesPerRefresh()); err == nil {
		t.Error("8 queries a refresh against 7 passed")
	}
}

func TestParseClusterFlags(t *testing.T) {
	o, err := parseFlags([]string{"-scale=2,3,4"})
	if err != nil || o.clusters != 1 || o.compareClusters != 0 {
		t.Errorf("defaults: %+v %v", o, err)
	}
	o, err = parseFlags([]string{"-scale=2,3,4", "-clusters=1", "-compare-clusters=2"})
	if err != nil || o.compareClusters != 2 {
		t.Errorf("-compare-clusters beside make's -clusters=1: %+v %v", o, err)
	}
	for _, bad := range [][]string{
		{"-clusters=0"}, {"-clusters=5", "-scale=2,3,4"}, {"-compare-clusters=1"},
		{"-clusters=2", "-compare-clusters=2"}, {"-compare-clusters=2", "-publish-only"},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestParseHistoryFlags(t *testing.T) {
	o, err := parseFlags([]string{"-scale=2,3,4", "-history-days=7"})
	if err != nil || o.historyDays != 7 || o.historyReportDays != 30 {
		t.Fatalf("parseFlags: %+v, %v; want 7 days and a 30-day report", o, err)
	}
	for _, bad := range [][]string{
		{"-history-days=-1"},
		{"-history-days=7", "-history-report-days=3"},
		{"-history-days=7", "-clusters=2"},
		{"-history-days=7", "-compare-clusters=2"},
	} {
		if _, err := parseFlags(append([]string{"-scale=2,3,4"}, bad...)); err == nil {
			t.Errorf("parseFlags(%v) accepted", bad)
		}
	}
}

// The raw series meshsim's proxies report for the synthetic mesh carry
// the pod and instance of their reporting proxy, and a rate.
func TestMeshRawSeries(t *testing.T) {
	plans, err := generatePlans(Scale{Namespaces: 2, Services: 3, Edges: 4}, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	series, err := meshRawSeries(joinPlans(plans))
	if err != nil || len(series) == 0 {
		t.Fatalf("meshRawSeries: %d series, %v", len(series), err)
	}
	for _, s := range series {
		side := "destination"
		if s.lset.Get("reporter") == "source" {
			side = "source"
		}
		if s.lset.Get("pod") == "" || !strings.HasPrefix(s.lset.Get("pod"), s.lset.Get(side+"_workload")) ||
			s.lset.Get("instance") != s.lset.Get("pod")+":15020" || !(s.rate > 0) {
			t.Errorf("series %s rate %g: want its reporter's pod and instance, and a rate", s.lset, s.rate)
		}
	}
}
