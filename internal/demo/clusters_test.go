// The two-cluster demo world (StartWith Clusters 2): West and East published to their own API
// servers, and the cross-cluster traffic in the one Prometheus, locked where Istio makes it so.

package demo

import (
	"context"
	"log/slog"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func startTwoClusters(t *testing.T) *Env {
	t.Helper()
	return startDemo(t, Options{Clusters: 2})
}

// startDemo runs the demo world for the test, closed when it ends.
func startDemo(t *testing.T, opts Options) *Env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	env, err := StartWith(ctx, slog.New(slog.DiscardHandler), opts)
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
	return env
}

func TestTwoClustersArePublishedEachToItsOwn(t *testing.T) {
	env := startTwoClusters(t)
	if len(env.Clusters) != 2 || env.Clusters[0].Name != West || env.Clusters[1].Name != East ||
		env.Clusters[0].Kube != env.Kube || env.Clusters[0].Istio != env.Istio {
		t.Fatalf("clusters = %+v", env.Clusters)
	}
	pods := func(c ClusterEnv, namespace string) map[string]bool {
		list, err := c.Kube.CoreV1().Pods(namespace).List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, p := range list.Items {
			out[p.Labels["meshsim.meshlock.io/workload"]] = true
		}
		return out
	}
	west, east := env.Clusters[0], env.Clusters[1]
	if w, e := pods(west, "default"), pods(east, "default"); w["reviews-v3"] || !w["reviews-v2"] || !e["reviews-v3"] || len(e) != 1 {
		t.Errorf("default's pods: west %v, east %v", w, e)
	}
	if e := pods(east, "tour"); !e["recommendations-v1"] || len(e) != 1 {
		t.Errorf("tour's pods in east: %v", e)
	}
	for _, c := range env.Clusters {
		if _, err := c.Kube.CoreV1().Services("default").Get(t.Context(), "reviews", metav1.GetOptions{}); err != nil {
			t.Errorf("reviews in %s: %v", c.Name, err)
		}
		ns, err := c.Kube.CoreV1().Namespaces().Get(t.Context(), "istio-system", metav1.GetOptions{})
		if err != nil || ns.Labels["topology.istio.io/network"] != c.Name {
			t.Errorf("%s's istio-system: %v %v", c.Name, err, ns.GetLabels())
		}
	}
	if _, err := east.Istio.SecurityV1().PeerAuthentications("istio-system").Get(t.Context(), "default", metav1.GetOptions{}); err != nil {
		t.Errorf("east's mesh-wide STRICT: %v", err)
	}
	if _, err := west.Istio.SecurityV1().PeerAuthentications("istio-system").Get(t.Context(), "default", metav1.GetOptions{}); err == nil {
		t.Error("west starts open: no mesh-wide PeerAuthentication")
	}
}

// Across clusters, Istio sends only mTLS (through the east-west gateway):
// web-v1 (west, ISTIO_MUTUAL by the tour's rule) to recommendations in east,
// and reviews-v3 (east, auto mTLS) to ratings in west, are mutual_tls as
// east's and west's sidecars report them.
func TestTwoClustersCrossClusterTrafficIsMTLS(t *testing.T) {
	env := startTwoClusters(t)
	client, err := promapi.NewClient(promapi.Config{Address: env.PrometheusURL})
	if err != nil {
		t.Fatal(err)
	}
	api := promv1.NewAPI(client)
	for _, tc := range []struct{ from, to, workload string }{{West, East, "recommendations-v1"}, {East, West, "ratings-v1"}} {
		query := `sum(rate(istio_requests_total{reporter="destination",source_cluster="` + tc.from + `",destination_cluster="` + tc.to +
			`",destination_workload="` + tc.workload + `",connection_security_policy="mutual_tls"}[5m]))`
		value, _, _, err := api.Query(context.Background(), query, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := value.(model.Vector); !ok || len(v) != 1 || v[0].Value <= 0 {
			t.Errorf("%s → %s: %v, want a positive mutual_tls rate", tc.from, tc.to, value)
		}
	}
	// Nothing crosses in plaintext: west's plaintext to reviews-v3 is closed at east's gateway.
	for _, pair := range [][2]string{{West, East}, {East, West}} {
		value, _, _, err := api.Query(context.Background(), `istio_requests_total{reporter="destination",source_cluster="`+pair[0]+
			`",destination_cluster="`+pair[1]+`",connection_security_policy!="mutual_tls"}`, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := value.(model.Vector); !ok || len(v) != 0 {
			t.Errorf("%s → %s requests not mTLS: %v", pair[0], pair[1], value)
		}
	}
	truth := env.Mesh.Truth().Callers["default/productpage-v1->default/reviews:9080"]
	if truth.ByServerCluster[East].HandshakeFailed == 0 || truth.ByServerCluster[West].Plaintext.Count == 0 {
		t.Errorf("productpage → reviews by cluster: %+v", truth.ByServerCluster)
	}
}

func TestStartWithRefusesOtherClusterCounts(t *testing.T) {
	if _, err := StartWith(t.Context(), slog.New(slog.DiscardHandler), Options{Clusters: 3}); err == nil {
		t.Error("3 clusters should be refused")
	}
}
