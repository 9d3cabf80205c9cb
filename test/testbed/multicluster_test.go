// Tests of the test bed's several clusters (issue 24): clusters independent of each other, an API
// server stopped and started again on the same address, one Thanos Querier over two Prometheus.

package testbed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func TestTwoClustersAreIndependent(t *testing.T) {
	east, west := StartCluster(t), StartCluster(t)
	if east.URL == west.URL {
		t.Fatalf("both clusters at %s", east.URL)
	}
	ctx := context.Background()
	eastKube, westKube := mustKube(t, east), mustKube(t, west)

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "only-in-east", Namespace: "default"}}
	if _, err := eastKube.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create in east: %v", err)
	}
	if _, err := westKube.CoreV1().ConfigMaps("default").Get(ctx, "only-in-east", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("west's Get of east's ConfigMap: got %v, want NotFound", err)
	}
	// Each cluster has its own tokens: east's admin is nobody to west.
	if _, err := westKube.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("west: %v", err)
	}
	crossed := west.ConfigFor(AdminUser)
	crossed.BearerToken = east.Token(AdminUser)
	crossedKube, err := kubernetes.NewForConfig(crossed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crossedKube.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); !apierrors.IsUnauthorized(err) {
		t.Errorf("east's token against west: got %v, want Unauthorized", err)
	}
}

func TestAPIServerStopsAndRestartsOnTheSameAddress(t *testing.T) {
	cluster := StartCluster(t)
	ctx := context.Background()
	// Every client is made before the stop: they must work after the restart.
	kube := mustKube(t, cluster)
	istio, err := istioclient.NewForConfig(cluster.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := kubernetes.NewForConfig(cluster.ConfigFor(UnprivilegedUser))
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := clientcmd.BuildConfigFromFlags("", cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	viaFile, err := kubernetes.NewForConfig(fromFile)
	if err != nil {
		t.Fatal(err)
	}

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "before-stop", Namespace: "default"}, Data: map[string]string{"k": "v"}}
	if _, err := kube.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rule := &networkingv1.DestinationRule{ObjectMeta: metav1.ObjectMeta{Name: "reviews", Namespace: "default"}}
	rule.Spec.Host = "reviews"
	if _, err := istio.NetworkingV1().DestinationRules("default").Create(ctx, rule, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	cluster.StopAPIServer()
	host := strings.TrimPrefix(cluster.URL, "https://")
	conn, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err == nil {
		conn.Close()
		t.Fatalf("%s accepts connections after StopAPIServer", host)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial %s after StopAPIServer: %v, want connection refused", host, err)
	}
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err = kube.CoreV1().ConfigMaps("default").Get(short, "before-stop", metav1.GetOptions{})
	cancel()
	if err == nil {
		t.Errorf("a Get succeeded while the API server was stopped")
	}
	cluster.StopAPIServer() // a second stop does nothing

	cluster.StartAPIServer(t)
	if got, err := kube.CoreV1().ConfigMaps("default").Get(ctx, "before-stop", metav1.GetOptions{}); err != nil || got.Data["k"] != "v" {
		t.Errorf("the ConfigMap after the restart: %v, %v", got, err)
	}
	if got, err := istio.NetworkingV1().DestinationRules("default").Get(ctx, "reviews", metav1.GetOptions{}); err != nil || got.Spec.Host != "reviews" {
		t.Errorf("the DestinationRule after the restart: %v, %v", got, err)
	}
	if _, err := viaFile.CoreV1().ConfigMaps("default").Get(ctx, "before-stop", metav1.GetOptions{}); err != nil {
		t.Errorf("the kubeconfig after the restart: %v", err)
	}
	// Alice's token still authenticates (Forbidden, not Unauthorized).
	if err := alice.CoreV1().ConfigMaps("default").Delete(ctx, "before-stop", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("unprivileged delete after the restart: got %v, want Forbidden", err)
	}
}

func TestThanosQuerierOverTwoPrometheus(t *testing.T) {
	// One small target a Prometheus, so that a series shows which one scraped it.
	target := func(servedBy string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "# TYPE testbed_probe gauge\ntestbed_probe{served_by=%q} 1\n", servedBy)
		}))
		t.Cleanup(s.Close)
		return strings.TrimPrefix(s.URL, "http://")
	}
	thanos := StartThanosClusters(t,
		PrometheusOptions{Targets: []string{target("a")}, ExternalLabels: map[string]string{"cluster": "east"}},
		PrometheusOptions{Targets: []string{target("b")}}, // cluster=testbed-2 by default
	)
	if len(thanos.Clusters) != 2 || thanos.Cluster("east") == nil || thanos.Cluster("testbed-2") == nil {
		t.Fatalf("clusters: %+v", thanos.Clusters)
	}
	if thanos.Cluster("east").Sidecar == thanos.Cluster("testbed-2").Sidecar {
		t.Fatalf("one sidecar for both clusters")
	}

	client, err := promapi.NewClient(promapi.Config{Address: thanos.URL})
	if err != nil {
		t.Fatal(err)
	}
	api := promv1.NewAPI(client)
	want := map[string]string{"east": "a", "testbed-2": "b"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		result, _, _, err := api.Query(context.Background(), `testbed_probe`, time.Now())
		got := map[string]string{}
		if vector, ok := result.(model.Vector); err == nil && ok {
			for _, s := range vector {
				got[string(s.Metric["cluster"])] = string(s.Metric["served_by"])
			}
			if len(vector) == 2 && len(got) == 2 {
				for cluster, servedBy := range want {
					if got[cluster] != servedBy {
						t.Errorf("cluster=%s's series served_by=%q, want %q (all: %v)", cluster, got[cluster], servedBy, vector)
					}
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Querier did not answer both clusters' series within 30s (last: %v, %v)", result, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func mustKube(t *testing.T, c *Cluster) kubernetes.Interface {
	t.Helper()
	kube, err := kubernetes.NewForConfig(c.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	return kube
}
