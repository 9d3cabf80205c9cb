// A simulated mesh on the real test bed for the integration tests: etcd and kube-apiserver
// holding the mesh's objects and a DestinationRule, meshsim following them, Prometheus scraping it.

package main

import (
	"net/http/httptest"
	"strings"
	"testing"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/meshlock/meshlock/internal/meshsim"
	"github.com/meshlock/meshlock/test/testbed"
)

// testbedMesh is a started mesh: Run it to make traffic.
type testbedMesh struct {
	cluster    *testbed.Cluster
	kube       kubernetes.Interface
	mesh       *meshsim.Mesh
	prometheus *testbed.Prometheus
}

// startTestbedMesh publishes topology, and rule unless it is nil.
func startTestbedMesh(t *testing.T, topology meshsim.Topology, autoMTLS bool, rule *networkingv1.DestinationRule) testbedMesh {
	t.Helper()
	return startTestbedMeshWith(t, meshsim.Options{Topology: topology, AutoMTLS: autoMTLS}, rule)
}

// startTestbedMeshWith is startTestbedMesh with meshsim's other options
// (its CA, trust domain aliases); Prometheus scrapes the proxies and istiod.
func startTestbedMeshWith(t *testing.T, opts meshsim.Options, rule *networkingv1.DestinationRule) testbedMesh {
	t.Helper()
	return startTestbedMeshScraped(t, opts, rule, func(targets []string) *testbed.Prometheus {
		return testbed.StartPrometheus(t, targets...)
	})
}

// startTestbedMeshScraped publishes the mesh and has scrape start what
// scrapes its proxies' and istiod's targets (a Prometheus, or one behind
// Thanos), answering that Prometheus.
func startTestbedMeshScraped(t *testing.T, opts meshsim.Options, rule *networkingv1.DestinationRule, scrape func(targets []string) *testbed.Prometheus) testbedMesh {
	t.Helper()
	ctx := t.Context()
	cluster := testbed.StartCluster(t)
	kube := kubernetes.NewForConfigOrDie(cluster.RESTConfig)
	istio := istioclient.NewForConfigOrDie(cluster.RESTConfig)
	if rule != nil {
		rule.CreationTimestamp = metav1.Time{}
		if _, err := istio.NetworkingV1().DestinationRules(rule.Namespace).Create(ctx, rule, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	opts.Istio = istio
	mesh, err := meshsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := mesh.Publish(ctx, kube); err != nil {
		t.Fatal(err)
	}
	if err := mesh.Start(ctx); err != nil {
		t.Fatal(err)
	}
	metrics := httptest.NewServer(mesh.Handler())
	t.Cleanup(metrics.Close)
	istiod := httptest.NewServer(mesh.IstiodHandler())
	t.Cleanup(istiod.Close)
	return testbedMesh{cluster: cluster, kube: kube, mesh: mesh, prometheus: scrape([]string{
		strings.TrimPrefix(metrics.URL, "http://"), strings.TrimPrefix(istiod.URL, "http://")})}
}
