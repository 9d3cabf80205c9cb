// Integration tests of the whole binary: the graph on the real test bed (bookinfo edges open,
// then locked after the mTLS rules, the legacy edge stays open) and the same shape from --demo.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/test/integration"
	"github.com/meshlock/meshlock/test/testbed"

	"github.com/meshlock/meshlock/internal/testutil"
)

// startMeshlock runs the real binary's run() in-process with args and
// returns its base URL; it stops when the test ends.
func startMeshlock(t *testing.T, args ...string) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testbed.FreePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"--addr=" + addr}, args...), func(string) string { return "" }, io.Discard, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("meshlock did not stop within 20s")
		}
	})
	base := "http://" + addr
	testutil.Eventually(t, "meshlock serves /healthz", func() (bool, string) {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return base
}

// waitBookinfoLocked waits until bookinfo's edges are locked and the legacy
// caller's still open, and checks the principals productpage → reviews
// carries; it answers that snapshot.
func waitBookinfoLocked(t *testing.T, graphURL string) graph.Snapshot {
	t.Helper()
	var s graph.Snapshot
	testutil.Eventually(t, "bookinfo's edges locked, legacy still open", func() (bool, string) {
		s = fetchGraph(t, graphURL)
		e, _ := edgeByID(s, legacyEdge)
		return allStatus(s, graph.StatusLocked, bookinfoEdges...) && e.Status == graph.StatusOpen,
			statuses(s, append(bookinfoEdges, legacyEdge)...)
	})
	e, _ := edgeByID(s, "default/productpage->default/reviews:http")
	if e.SourcePrincipal != "spiffe://cluster.local/ns/default/sa/bookinfo-productpage" ||
		e.DestinationPrincipal != "spiffe://cluster.local/ns/default/sa/bookinfo-reviews" {
		t.Errorf("principals: %+v", e)
	}
	return s
}

func fetchGraph(t *testing.T, url string) graph.Snapshot {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s graph.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return s
}

func edgeByID(s graph.Snapshot, id string) (graph.Edge, bool) {
	for _, e := range s.Edges {
		if e.ID == id {
			return e, true
		}
	}
	return graph.Edge{}, false
}

func nodeByID(s graph.Snapshot, id string) (graph.Node, bool) {
	for _, n := range s.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return graph.Node{}, false
}

var bookinfoEdges = []string{
	"default/productpage->default/details:http",
	"default/productpage->default/reviews:http",
	"default/reviews->default/ratings:http",
}

const legacyEdge = "unknown->default/ratings:http"

func statuses(s graph.Snapshot, ids ...string) string {
	var parts []string
	for _, id := range ids {
		e, ok := edgeByID(s, id)
		status := "absent"
		if ok {
			status = fmt.Sprintf("%s(%.2f)", e.Status, e.MTLSRatio)
		}
		parts = append(parts, id+"="+status)
	}
	return fmt.Sprintf("stale=%v error=%q %s", s.Stale, s.Error, strings.Join(parts, " "))
}

func allStatus(s graph.Snapshot, want string, ids ...string) bool {
	for _, id := range ids {
		if e, ok := edgeByID(s, id); !ok || e.Status != want {
			return false
		}
	}
	return !s.Stale
}

// meshlock on real servers: bookinfo's edges are open, turn locked after
// destination-rule-all-mtls.yaml, the legacy edge stays open, and an idle
// Service is a node without edges.
func TestGraphOnRealCluster(t *testing.T) {
	b := integration.StartBookinfo(t, func(ctx context.Context, b *integration.Bookinfo) {
		idle := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "idle", Namespace: "default"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "idle"}, Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}}}
		if _, err := b.Kube.CoreV1().Services("default").Create(ctx, idle, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	istio := b.Istio

	base := startMeshlock(t, "--kubeconfig="+b.Cluster.Kubeconfig, "--prometheus-url="+b.Prometheus.URL,
		"--refresh=1s", "--window=4s")
	graphURL := base + "/api/graph"

	var s graph.Snapshot
	testutil.Eventually(t, "bookinfo's edges open", func() (bool, string) {
		s = fetchGraph(t, graphURL)
		return allStatus(s, graph.StatusOpen, append(bookinfoEdges, legacyEdge)...), statuses(s, append(bookinfoEdges, legacyEdge)...)
	})
	node, ok := nodeByID(s, "default/idle")
	if !ok || node.Kind != graph.KindService || node.InMesh {
		t.Errorf("the idle Service: %+v (present %v)", node, ok)
	}
	for _, e := range s.Edges {
		if e.Source == "default/idle" || e.Target == "default/idle" {
			t.Errorf("the idle Service has an edge: %+v", e)
		}
	}
	if reviews, _ := nodeByID(s, "default/reviews"); !reviews.InMesh {
		t.Errorf("reviews is not in the mesh: %+v", reviews)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz: %v %v", resp, err)
	}

	integration.ApplyDestinationRules(t, istio, "default", integration.SharedFixture(t, "bookinfo", "destination-rule-all-mtls.yaml"))
	s = waitBookinfoLocked(t, graphURL)
	if reviews, _ := nodeByID(s, "default/reviews"); reviews.DestinationRuleTLS != "ISTIO_MUTUAL" {
		t.Errorf("reviews' DestinationRule TLS mode: %+v", reviews)
	}
}

// --demo serves the same shape with nothing installed.
func TestDemoServesBookinfo(t *testing.T) {
	base := startMeshlock(t, "--demo", "--refresh=1s")
	var s graph.Snapshot
	testutil.Eventually(t, "the demo's bookinfo edges open", func() (bool, string) {
		s = fetchGraph(t, base+"/api/graph")
		return allStatus(s, graph.StatusOpen, append(bookinfoEdges, legacyEdge)...), statuses(s, append(bookinfoEdges, legacyEdge)...)
	})
	for _, id := range []string{"default/productpage", "default/details", "default/reviews", "default/ratings", "unknown"} {
		if _, ok := nodeByID(s, id); !ok {
			t.Errorf("node %s missing", id)
		}
	}
	if s.Window != "1m" {
		t.Errorf("window %q, want the default 1m", s.Window)
	}

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	for _, name := range []string{"meshlock_prometheus_queries_total", "meshlock_stream_clients", "meshlock_stream_dropped_total",
		"meshlock_refresh_duration_seconds", "meshlock_refresh_errors_total", "meshlock_http_request_duration_seconds",
		"go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(string(metrics), "\n"+name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}
