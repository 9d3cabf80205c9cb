// StartBookinfo: the seed exercise's starting point on the real test bed (bookinfo published and
// running without TLS, plus the legacy caller, scraped by Prometheus every second).

package integration

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	"k8s.io/client-go/kubernetes"

	"github.com/meshlock/meshlock/internal/meshsim"
	"github.com/meshlock/meshlock/test/testbed"
)

// Bookinfo is the seed exercise's starting point on the real test bed.
type Bookinfo struct {
	Cluster    *testbed.Cluster
	Kube       kubernetes.Interface
	Istio      istioclient.Interface
	Mesh       *meshsim.Mesh
	Prometheus *testbed.Prometheus
}

// StartBookinfo starts the test bed, applies bookinfo's DestinationRules
// without TLS, publishes bookinfo (auto mTLS off, plus the legacy caller),
// runs it, and has Prometheus scrape it every second. beforeStart may add
// objects before the mesh starts; everything stops when the test ends.
func StartBookinfo(t *testing.T, beforeStart func(ctx context.Context, b *Bookinfo)) *Bookinfo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	b := &Bookinfo{Cluster: testbed.StartCluster(t)}
	b.Kube = kubernetes.NewForConfigOrDie(b.Cluster.RESTConfig)
	b.Istio = istioclient.NewForConfigOrDie(b.Cluster.RESTConfig)

	ApplyDestinationRules(t, b.Istio, "default", SharedFixture(t, "bookinfo", "destination-rule-all.yaml"))
	mesh, err := meshsim.New(meshsim.Options{Topology: meshsim.Bookinfo(), Istio: b.Istio, AutoMTLS: false})
	if err != nil {
		t.Fatal(err)
	}
	b.Mesh = mesh
	if err := mesh.Publish(ctx, b.Kube); err != nil {
		t.Fatal(err)
	}
	if beforeStart != nil {
		beforeStart(ctx, b)
	}
	if err := mesh.Start(ctx); err != nil {
		t.Fatal(err)
	}
	go mesh.Run(ctx, 250*time.Millisecond)
	metrics := httptest.NewServer(mesh.Handler())
	t.Cleanup(metrics.Close)
	b.Prometheus = testbed.StartPrometheus(t, strings.TrimPrefix(metrics.URL, "http://"))
	return b
}
