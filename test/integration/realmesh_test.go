// Integration test of a production-like mesh (every rule of issue 9 at once) on real servers: the
// dashboard's graph is compared edge by edge, port by port and finding by finding with meshsim's truth.

package integration

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/k8s"
	"github.com/meshlock/meshlock/internal/meshsim"
	"github.com/meshlock/meshlock/internal/prom"
	"github.com/meshlock/meshlock/test/testbed"

	"github.com/meshlock/meshlock/internal/testutil"
)

// A mesh configured the way production meshes are, every rule of issue 9 at
// once, on real etcd, kube-apiserver and Prometheus: partly injected
// Services, workload kinds and the workload-name label, write-only TCP,
// named target ports with port-level PeerAuthentication, DestinationRules
// from the client's namespace, exportTo ".", selector rules and DISABLE under
// a port-level entry, a gateway, a caller known by its principal only,
// handshake failures. The dashboard's graph (prom + k8s + graph, as the
// server wires them) is compared edge by edge, port by port and finding by
// finding with what meshsim says really happened.

// realMesh is the topology. Workloads are named unlike their Services so
// that an edge attached to the wrong node shows.
func realMesh() meshsim.Topology {
	w := func(ns, name, app string, sidecar bool, kind meshsim.WorkloadKind) meshsim.Workload {
		return meshsim.Workload{Namespace: ns, Name: name, ServiceAccount: name, Labels: map[string]string{"app": app}, Sidecar: sidecar, Kind: kind}
	}
	http := func(ns, name string, port, target int32) meshsim.Service {
		return meshsim.Service{Namespace: ns, Name: name, Selector: map[string]string{"app": name},
			Ports: []meshsim.ServicePort{{Name: "http", Port: port, TargetPort: target, Protocol: meshsim.HTTP}}}
	}
	batch := w("jobs", "batch", "batch", true, meshsim.KindPod)
	batch.WorkloadNameLabel = "batch-runner"
	gateway := w("istio-system", "istio-ingressgateway", "istio-ingressgateway", true, meshsim.KindDeployment)
	gateway.Gateway = true
	return meshsim.Topology{
		Workloads: []meshsim.Workload{
			gateway,
			w("legacy", "legacy-client", "legacy-client", false, meshsim.KindDeployment),
			w("shop", "frontend-v1", "frontend", true, meshsim.KindDeployment),
			w("shop", "cart-v1", "cart", true, meshsim.KindDeployment),
			w("shop", "cart-legacy", "cart", false, meshsim.KindDeployment), // partial injection
			w("shop", "search-v1", "search", true, meshsim.KindDeployment),
			w("shop", "inventory", "inventory", true, meshsim.KindRollout),
			w("shop", "reviews-v1", "reviews", true, meshsim.KindDeployment),
			w("shop", "reporter", "reporter", true, meshsim.KindDaemonSet),
			w("shop", "ledger-v1", "ledger", true, meshsim.KindDeployment),
			w("shop", "payments-v1", "payments", false, meshsim.KindDeployment),
			w("shop", "db", "db", true, meshsim.KindStatefulSet),
			w("shop", "cache-v1", "cache", true, meshsim.KindDeployment),
			w("jobs", "backup", "backup", true, meshsim.KindCronJob),
			w("jobs", "syncer", "syncer", true, meshsim.KindJob),
			batch,
		},
		Services: []meshsim.Service{
			http("istio-system", "istio-ingressgateway", 80, 8080),
			http("shop", "frontend", 8080, 8080),
			http("shop", "cart", 80, 8080),
			http("shop", "search", 80, 8080),
			http("shop", "inventory", 80, 8080),
			http("shop", "reviews", 80, 8080),
			http("shop", "ledger", 80, 8080),
			http("shop", "payments", 80, 8080),
			{Namespace: "shop", Name: "db", Selector: map[string]string{"app": "db"},
				Ports: []meshsim.ServicePort{{Name: "tcp-postgres", Port: 15432, TargetPort: 5432, TargetPortName: "pg", Protocol: meshsim.TCP}}},
			{Namespace: "shop", Name: "cache", Selector: map[string]string{"app": "cache"},
				Ports: []meshsim.ServicePort{{Name: "tcp-redis", Port: 6379, TargetPort: 7379, Protocol: meshsim.TCP}}},
		},
		Callers: []meshsim.Caller{
			{From: "istio-system/istio-ingressgateway", To: "shop/frontend", Port: 8080, Rate: 4},
			{From: "legacy/legacy-client", To: "shop/frontend", Port: 8080, Rate: 1},
			{From: "shop/frontend-v1", To: "shop/cart", Port: 80, Rate: 2},
			{From: "jobs/batch", To: "shop/cart", Port: 80, Rate: 2},
			{From: "shop/frontend-v1", To: "shop/search", Port: 80, Rate: 1},
			{From: "shop/frontend-v1", To: "shop/inventory", Port: 80, Rate: 1},
			{From: "shop/frontend-v1", To: "shop/reviews", Port: 80, Rate: 2},
			{From: "shop/reporter", To: "shop/reviews", Port: 80, Rate: 1},
			{From: "shop/frontend-v1", To: "shop/ledger", Port: 80, Rate: 1},
			{From: "shop/reporter", To: "shop/ledger", Port: 80, Rate: 1},
			{From: "shop/frontend-v1", To: "shop/payments", Port: 80, Rate: 1},
			// Write-only: a backup that streams to the database and reads nothing.
			{From: "jobs/backup", To: "shop/db", Port: 15432, Rate: 0.5, BytesSent: 4096},
			{From: "jobs/syncer", To: "shop/cache", Port: 6379, Rate: 1, BytesSent: 100, BytesReceived: 200, NoMetadataExchange: true},
		},
	}
}

// The edge each caller's traffic must be drawn as: the Service selecting
// the calling workload, else the workload under the name Istio reports.
var realMeshEdges = map[string]string{
	"istio-system/istio-ingressgateway->shop/frontend:8080": "istio-system/istio-ingressgateway->shop/frontend:http",
	"legacy/legacy-client->shop/frontend:8080":              "unknown->shop/frontend:http",
	"shop/frontend-v1->shop/cart:80":                        "shop/frontend->shop/cart:http",
	"jobs/batch->shop/cart:80":                              "jobs/batch-runner->shop/cart:http",
	"shop/frontend-v1->shop/search:80":                      "shop/frontend->shop/search:http",
	"shop/frontend-v1->shop/inventory:80":                   "shop/frontend->shop/inventory:http",
	"shop/frontend-v1->shop/reviews:80":                     "shop/frontend->shop/reviews:http",
	"shop/reporter->shop/reviews:80":                        "shop/reporter->shop/reviews:http",
	"shop/frontend-v1->shop/ledger:80":                      "shop/frontend->shop/ledger:http",
	"shop/reporter->shop/ledger:80":                         "shop/reporter->shop/ledger:http",
	"shop/frontend-v1->shop/payments:80":                    "shop/frontend->shop/payments:http",
	"jobs/backup->shop/db:15432":                            "jobs/backup->shop/db:tcp",
	"jobs/syncer->shop/cache:6379":                          "jobs/syncer->shop/cache:tcp",
}

// The findings the configuration and the traffic above call for.
var realMeshFindings = []string{
	"disable-towards-strict:shop/ledger",    // reporter's selector rule sends plaintext to STRICT
	"mtls-towards-no-sidecar:shop/payments", // ISTIO_MUTUAL to a pod without sidecar
	"ready-for-strict:shop/search",          // only mTLS callers
	"strict-would-cut:shop/cart",            // partly injected, plaintext callers
	"strict-would-cut:shop/frontend",        // the legacy caller
	"strict-would-cut:shop/inventory",       // DISABLE under a port-level entry
	"strict-would-cut:shop/reviews",         // reporter's selector rule
	"tls-handshake-failing:shop/ledger",     // 503 UC
	"tls-handshake-failing:shop/payments",   // 503 UF,URX
}

func realMeshPolicies(t *testing.T, istio istioclient.Interface) {
	t.Helper()
	ctx := t.Context()
	rule := func(ns, name, host string, tls *networkingapi.ClientTLSSettings, mutate func(*networkingv1.DestinationRule)) {
		dr := &networkingv1.DestinationRule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		dr.Spec.Host = host
		if tls != nil {
			dr.Spec.TrafficPolicy = &networkingapi.TrafficPolicy{Tls: tls}
		}
		if mutate != nil {
			mutate(dr)
		}
		if _, err := istio.NetworkingV1().DestinationRules(ns).Create(ctx, dr, metav1.CreateOptions{}); err != nil {
			t.Fatalf("DestinationRule %s/%s: %v", ns, name, err)
		}
	}
	mode := func(m networkingapi.ClientTLSSettings_TLSmode) *networkingapi.ClientTLSSettings {
		return &networkingapi.ClientTLSSettings{Mode: m}
	}
	selecting := func(app string) func(*networkingv1.DestinationRule) {
		return func(dr *networkingv1.DestinationRule) {
			dr.Spec.WorkloadSelector = &typeapi.WorkloadSelector{MatchLabels: map[string]string{"app": app}}
		}
	}
	// Private to shop: frontend sends plaintext to cart, batch (jobs) does not see it.
	rule("shop", "cart", "cart", mode(networkingapi.ClientTLSSettings_DISABLE), func(dr *networkingv1.DestinationRule) { dr.Spec.ExportTo = []string{"."} })
	// A port-level entry without tls: the cluster goes auto, the endpoint check keeps DISABLE.
	rule("shop", "inventory", "inventory", mode(networkingapi.ClientTLSSettings_DISABLE), func(dr *networkingv1.DestinationRule) {
		dr.Spec.TrafficPolicy.PortLevelSettings = []*networkingapi.TrafficPolicy_PortTrafficPolicy{{
			Port:           &networkingapi.PortSelector{Number: 80},
			ConnectionPool: &networkingapi.ConnectionPoolSettings{Tcp: &networkingapi.ConnectionPoolSettings_TCPSettings{MaxConnections: 50}},
		}}
	})
	rule("shop", "reviews", "reviews", mode(networkingapi.ClientTLSSettings_ISTIO_MUTUAL), nil)
	rule("shop", "reviews-reporter", "reviews", mode(networkingapi.ClientTLSSettings_DISABLE), selecting("reporter"))
	rule("shop", "ledger-reporter", "ledger", mode(networkingapi.ClientTLSSettings_DISABLE), selecting("reporter"))
	rule("shop", "payments", "payments", mode(networkingapi.ClientTLSSettings_ISTIO_MUTUAL), nil)
	// In the client's namespace, for a host of another.
	rule("jobs", "db", "db.shop.svc.cluster.local", mode(networkingapi.ClientTLSSettings_ISTIO_MUTUAL), nil)

	peer := func(name, app string, m securityapi.PeerAuthentication_MutualTLS_Mode, ports map[uint32]securityapi.PeerAuthentication_MutualTLS_Mode) {
		pa := &securityv1.PeerAuthentication{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name}}
		pa.Spec.Selector = &typeapi.WorkloadSelector{MatchLabels: map[string]string{"app": app}}
		pa.Spec.Mtls = &securityapi.PeerAuthentication_MutualTLS{Mode: m}
		for port, pm := range ports {
			if pa.Spec.PortLevelMtls == nil {
				pa.Spec.PortLevelMtls = map[uint32]*securityapi.PeerAuthentication_MutualTLS{}
			}
			pa.Spec.PortLevelMtls[port] = &securityapi.PeerAuthentication_MutualTLS{Mode: pm}
		}
		if _, err := istio.SecurityV1().PeerAuthentications("shop").Create(ctx, pa, metav1.CreateOptions{}); err != nil {
			t.Fatalf("PeerAuthentication %s: %v", name, err)
		}
	}
	peer("ledger", "ledger", securityapi.PeerAuthentication_MutualTLS_STRICT, nil)
	// Keyed by the container port behind the named target port "pg": applies.
	peer("db", "db", securityapi.PeerAuthentication_MutualTLS_PERMISSIVE, map[uint32]securityapi.PeerAuthentication_MutualTLS_Mode{5432: securityapi.PeerAuthentication_MutualTLS_STRICT})
	// Keyed by the Service port: does nothing (istio/istio#49098).
	peer("cache", "cache", securityapi.PeerAuthentication_MutualTLS_STRICT, map[uint32]securityapi.PeerAuthentication_MutualTLS_Mode{6379: securityapi.PeerAuthentication_MutualTLS_DISABLE})
}

// startRealMesh publishes realMesh and its policies to a test bed (and
// what more adds, before meshsim starts), runs meshsim behind a Prometheus,
// and answers the dashboard's graph (prom + k8s + graph, as the server
// wires them) over a 15 s window, once a window of traffic is in.
func startRealMesh(t *testing.T, more func(istioclient.Interface)) (*meshsim.Mesh, func() (graph.Snapshot, error)) {
	t.Helper()
	ctx := t.Context()
	cluster := testbed.StartCluster(t)
	kube := kubernetes.NewForConfigOrDie(cluster.RESTConfig)
	istio := istioclient.NewForConfigOrDie(cluster.RESTConfig)
	mesh, err := meshsim.New(meshsim.Options{Topology: realMesh(), Istio: istio, AutoMTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := mesh.Publish(ctx, kube); err != nil {
		t.Fatal(err)
	}
	realMeshPolicies(t, istio)
	if more != nil {
		more(istio)
	}
	if err := mesh.Start(ctx); err != nil {
		t.Fatal(err)
	}
	go mesh.Run(ctx, 250*time.Millisecond)
	metrics := httptest.NewServer(mesh.Handler())
	t.Cleanup(metrics.Close)
	prometheusServer := testbed.StartPrometheus(t, strings.TrimPrefix(metrics.URL, "http://"))

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	watcher, err := k8s.NewWatcher(k8s.Options{Kube: kube, Istio: istio, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	watcher.Start(ctx)
	if err := watcher.WaitForSync(ctx); err != nil {
		t.Fatal(err)
	}
	const window = 15 * time.Second
	promClient, err := prom.New(prom.Options{URL: prometheusServer.URL, Window: window, Registerer: prometheus.NewRegistry(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	// A whole rate window of traffic in Prometheus before the first answer.
	time.Sleep(window)
	return mesh, func() (graph.Snapshot, error) {
		samples, err := promClient.Fetch(ctx)
		if err != nil {
			return graph.Snapshot{}, err
		}
		c, err := watcher.Cluster()
		if err != nil {
			return graph.Snapshot{}, err
		}
		return graph.Build(samples, c, graph.BuildOptions{GeneratedAt: time.Now(), Window: "15s"}), nil
	}
}

func TestRealMeshMatchesTheTruth(t *testing.T) {
	mesh, snapshot := startRealMesh(t, nil)

	// Wait until the graph agrees with the truth.
	var last graph.Snapshot
	testutil.Eventually(t, "the graph matches meshsim's truth", func() (bool, string) {
		s, err := snapshot()
		if err != nil {
			return false, err.Error()
		}
		last = s
		problems := compareWithTruth(s, mesh.Truth())
		return len(problems) == 0, strings.Join(problems, "\n")
	})

	// What the per-caller DestinationRule lookup makes of the nodes.
	for id, want := range map[string][]graph.CallerTLS{
		"shop/reviews": {
			{Caller: "shop/frontend-v1", Port: 80, TLS: "ISTIO_MUTUAL", Rule: "shop/reviews"},
			{Caller: "shop/reporter", Port: 80, TLS: "DISABLE", Rule: "shop/reviews-reporter"},
		},
		"shop/cart": {
			{Caller: "jobs/batch-runner", Port: 80, TLS: ""},
			{Caller: "shop/frontend-v1", Port: 80, TLS: "DISABLE", Rule: "shop/cart"},
		},
	} {
		n, _ := findNodeByID(last, id)
		if n.DestinationRuleTLS != graph.TLSVaries || !slices.Equal(n.CallerTLS, want) {
			t.Errorf("%s: destinationRuleTLS %q callerTLS %+v; want VARIES %+v", id, n.DestinationRuleTLS, n.CallerTLS, want)
		}
	}
	if n, _ := findNodeByID(last, "shop/inventory"); n.DestinationRuleTLS != "DISABLE" {
		t.Errorf("shop/inventory: destinationRuleTLS %q, want DISABLE (kept under a port-level entry without tls)", n.DestinationRuleTLS)
	}
	if n, _ := findNodeByID(last, "istio-system/istio-ingressgateway"); n.Kind != graph.KindGateway {
		t.Errorf("the ingress gateway is a %q node", n.Kind)
	}
	for _, absent := range []string{"jobs/batch", "jobs/backup-" /* a Job's name */, "shop/cart-v1", "shop/frontend-v1"} {
		for _, n := range last.Nodes {
			if n.ID == absent || (strings.HasSuffix(absent, "-") && strings.HasPrefix(n.ID, absent)) {
				t.Errorf("invented node %s", n.ID)
			}
		}
	}
	if p := last.Posture; p.HTTP.Ratio == nil || p.TCP.Ratio == nil || *p.TCP.Ratio != 1 || *p.HTTP.Ratio >= 1 {
		t.Errorf("posture %+v: want TCP all mTLS and HTTP partly, apart", p)
	}
}

// compareWithTruth lists every difference between the graph and what
// meshsim says happened: each edge's status, mTLS share and handshake
// failures; each Service port's target port and mode; the findings.
func compareWithTruth(s graph.Snapshot, truth meshsim.Truth) []string {
	var problems []string
	type expected struct{ mtls, plain, failed float64 }
	want := map[string]*expected{}
	for key, c := range truth.Callers {
		id, ok := realMeshEdges[key]
		if !ok {
			problems = append(problems, "no expected edge for caller "+key)
			continue
		}
		e := want[id]
		if e == nil {
			e = &expected{}
			want[id] = e
		}
		mtls, plain := float64(c.MTLS.Count), float64(c.Plaintext.Count)
		if c.Protocol == meshsim.TCP {
			if b := c.MTLS.BytesSent + c.MTLS.BytesReceived + c.Plaintext.BytesSent + c.Plaintext.BytesReceived; b > 0 {
				mtls = float64(c.MTLS.BytesSent + c.MTLS.BytesReceived)
				plain = float64(c.Plaintext.BytesSent + c.Plaintext.BytesReceived)
			}
		}
		e.mtls += mtls
		e.plain += plain
		e.failed += float64(c.HandshakeFailed)
	}
	got := map[string]graph.Edge{}
	for _, e := range s.Edges {
		got[e.ID] = e
		if _, ok := want[e.ID]; !ok {
			problems = append(problems, "unexpected edge "+e.ID)
		}
	}
	for _, id := range sortedKeys(want) {
		w := want[id]
		e, ok := got[id]
		if !ok {
			problems = append(problems, "missing edge "+id)
			continue
		}
		status, ratio := graph.StatusUnknown, 0.0
		if total := w.mtls + w.plain; total > 0 {
			ratio = w.mtls / total
			switch {
			case w.plain == 0:
				status = graph.StatusLocked
			case w.mtls == 0:
				status = graph.StatusOpen
			default:
				status = graph.StatusMixed
			}
		}
		if e.Status != status || math.Abs(e.MTLSRatio-ratio) > 0.1 {
			problems = append(problems, fmt.Sprintf("edge %s: %s %.2f, truth %s %.2f", id, e.Status, e.MTLSRatio, status, ratio))
		}
		if (w.failed > 0) != (e.TLSFailureRate > 0) {
			problems = append(problems, fmt.Sprintf("edge %s: tlsFailureRate %.2f, truth %v handshakes failed", id, e.TLSFailureRate, w.failed))
		}
	}

	for _, key := range sortedKeys(truth.Services) {
		svc := truth.Services[key]
		n, ok := findNodeByID(s, key)
		if !ok {
			problems = append(problems, "missing node "+key)
			continue
		}
		if len(n.Ports) != len(svc.Ports) {
			problems = append(problems, fmt.Sprintf("node %s: %d ports, truth %d", key, len(n.Ports), len(svc.Ports)))
			continue
		}
		for i, p := range svc.Ports {
			got := n.Ports[i]
			weakest := ""
			for _, ep := range p.Endpoints {
				if weakest == "" || modeStrength(string(ep.PeerAuthentication)) < modeStrength(weakest) {
					weakest = string(ep.PeerAuthentication)
				}
			}
			if got.Port != p.Port || got.TargetPort != p.TargetPort || (n.Kind != graph.KindGateway && modeStrength(got.PeerAuthentication) != modeStrength(weakest)) {
				problems = append(problems, fmt.Sprintf("node %s port %d: %d→%d %s, truth %d→%d %s", key, p.Port, got.Port, got.TargetPort, got.PeerAuthentication, p.Port, p.TargetPort, weakest))
			}
		}
	}

	var findings []string
	for _, f := range s.Findings {
		findings = append(findings, f.ID)
	}
	sort.Strings(findings)
	if !slices.Equal(findings, realMeshFindings) {
		problems = append(problems, fmt.Sprintf("findings %v\nwant %v", findings, realMeshFindings))
	}
	return problems
}

// modeStrength orders modes by what they accept; UNSET is PERMISSIVE.
func modeStrength(mode string) int {
	switch mode {
	case "DISABLE":
		return 0
	case "STRICT":
		return 2
	}
	return 1
}

func findNodeByID(s graph.Snapshot, id string) (graph.Node, bool) {
	for _, n := range s.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return graph.Node{}, false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
