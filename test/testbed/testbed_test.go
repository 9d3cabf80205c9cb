// Tests of the test bed: the cluster serves Kubernetes and Istio APIs, and Prometheus scrapes its targets.

package testbed

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

func TestClusterServesKubernetesAndIstioAPIs(t *testing.T) {
	cluster := StartCluster(t)
	ctx := context.Background()

	kube, err := kubernetes.NewForConfig(cluster.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	version, err := kube.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(version.GitVersion, "v1.37.") {
		t.Errorf("/version reports %s, want v1.37.x", version.GitVersion)
	}

	istio, err := istioclient.NewForConfig(cluster.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	rule := &networkingv1.DestinationRule{ObjectMeta: metav1.ObjectMeta{Name: "reviews", Namespace: "default"}}
	rule.Spec.Host = "reviews"
	if _, err := istio.NetworkingV1().DestinationRules("default").Create(ctx, rule, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create DestinationRule: %v", err)
	}
	got, err := istio.NetworkingV1().DestinationRules("default").Get(ctx, "reviews", metav1.GetOptions{})
	if err != nil || got.Spec.Host != "reviews" {
		t.Fatalf("get DestinationRule: %v %v", got, err)
	}
	if _, err := istio.SecurityV1().PeerAuthentications("istio-system").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("PeerAuthentications are not served: %v", err)
	}

	// The kubeconfig works as a kubectl user's would.
	fromFile, err := clientcmd.BuildConfigFromFlags("", cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	viaFile, err := kubernetes.NewForConfig(fromFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := viaFile.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Errorf("kubeconfig client: %v", err)
	}

	// RBAC decides: the unprivileged user may not write.
	alice, err := istioclient.NewForConfig(cluster.ConfigFor(UnprivilegedUser))
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.NetworkingV1().DestinationRules("default").Delete(ctx, "reviews", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("unprivileged delete: got %v, want Forbidden", err)
	}
}

func TestPrometheusScrapesTargets(t *testing.T) {
	var scrapes atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "# TYPE testbed_probe_total counter\ntestbed_probe_total{edge=\"a->b\"} %d\n", scrapes.Add(1))
	}))
	defer target.Close()

	prom := StartPrometheus(t, strings.TrimPrefix(target.URL, "http://"))
	client, err := promapi.NewClient(promapi.Config{Address: prom.URL})
	if err != nil {
		t.Fatal(err)
	}
	api := promv1.NewAPI(client)
	deadline := time.Now().Add(20 * time.Second)
	for {
		result, _, _, err := api.Query(context.Background(), `testbed_probe_total{edge="a->b"}`, time.Now())
		if err == nil {
			if vector, ok := result.(model.Vector); ok && len(vector) == 1 && vector[0].Value >= 2 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus did not scrape the target twice within 20s (last: %v, %v)", result, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestDeployedRuntimeEnv(t *testing.T) {
	env, err := DeployedRuntimeEnv(RepoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(env, func(v string) bool { return strings.HasPrefix(v, "GOMEMLIMIT=") }) {
		t.Errorf("DeployedRuntimeEnv = %q, want deploy/base's GOMEMLIMIT", env)
	}
}
