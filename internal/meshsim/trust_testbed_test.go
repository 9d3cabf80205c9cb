// Identity and trust on the test bed's real servers: the root bundles and the mesh config on a
// real kube-apiserver, and the certificate gauges as a real Prometheus scrapes them.

package meshsim

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/testutil"
	"github.com/meshlock/meshlock/test/testbed"
)

// TestTrustOnARealAPIServer: a real kube-apiserver takes the root bundles
// (the root namespace created first), a namespace meant to hold none has
// none, and a second Publish rewrites nothing.
func TestTrustOnARealAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	cluster := testbed.StartCluster(t)
	kube := kubernetes.NewForConfigOrDie(cluster.RESTConfig)
	ctx := t.Context()
	m, err := New(Options{Topology: trustTopology(), Start: start, TrustDomainAliases: []string{"old.example"}, Trust: Trust{
		Roots:      []CertSpec{{Name: "new"}, {Name: "previous", NotAfter: start.Add(48 * time.Hour)}},
		OtherRoots: []CertSpec{{Name: "stale"}},
		Bundles:    map[string][]string{"stale": {"stale"}, "bare": {}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Publish(ctx, kube); err != nil {
		t.Fatal(err)
	}
	versions := map[string]string{}
	for _, ns := range []string{"current", "stale", "bare", "rotating", "istio-system"} {
		cm, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, graph.RootBundleName, metav1.GetOptions{})
		want, ok := m.Bundle(ns)
		if !ok {
			if !apierrors.IsNotFound(err) {
				t.Errorf("%s holds a bundle (%v), want none", ns, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", ns, err)
		}
		if got := fingerprints(parseBundle(t, cm.Data[graph.RootBundleKey])); !slices.Equal(got, certFingerprints(want)) {
			t.Errorf("%s's bundle = %v, want %v", ns, got, certFingerprints(want))
		}
		versions[ns] = cm.ResourceVersion
	}
	if len(versions) != 4 {
		t.Errorf("bundles in %v, want 4 namespaces", versions)
	}
	mesh, err := kube.CoreV1().ConfigMaps("istio-system").Get(ctx, "istio", metav1.GetOptions{})
	if err != nil || mesh.Data["mesh"] != "trustDomain: cluster.local\ntrustDomainAliases:\n- old.example\n" {
		t.Errorf("mesh config %v (%v)", mesh.Data, err)
	}
	versions["istio"] = mesh.ResourceVersion

	if err := m.Publish(ctx, kube); err != nil {
		t.Fatal(err)
	}
	for ns, v := range versions {
		name := graph.RootBundleName
		if ns == "istio" {
			ns, name = "istio-system", "istio"
		}
		if cm, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{}); err != nil || cm.ResourceVersion != v {
			t.Errorf("second Publish rewrote %s/%s (%v)", ns, name, err)
		}
	}
}

// TestCertGaugesOnARealPrometheus: Prometheus scraping the proxies'
// target and istiod's keeps the namespace and pod labels of
// istio_agent_cert_expiry_seconds, and the queries internal/prom runs
// read the expiry back.
func TestCertGaugesOnARealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus")
	}
	m, err := New(Options{Topology: Topology{Workloads: []Workload{
		{Name: "client", Namespace: "app", ServiceAccount: "client", Sidecar: true},
		{Name: "stuck", Namespace: "app", ServiceAccount: "stuck", Sidecar: true, StalledCertLeft: 3 * time.Hour},
	}}, Trust: Trust{Intermediate: &CertSpec{}}})
	if err != nil {
		t.Fatal(err)
	}
	proxies := httptest.NewServer(m.Handler())
	t.Cleanup(proxies.Close)
	istiod := httptest.NewServer(m.IstiodHandler())
	t.Cleanup(istiod.Close)
	go m.Run(t.Context(), 100*time.Millisecond)
	prom := testbed.StartPrometheus(t, strings.TrimPrefix(proxies.URL, "http://"), strings.TrimPrefix(istiod.URL, "http://"))
	client, err := promapi.NewClient(promapi.Config{Address: prom.URL})
	if err != nil {
		t.Fatal(err)
	}
	api := promv1.NewAPI(client)
	query := func(q string) model.Vector {
		v, _, _, err := api.Query(t.Context(), q, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return v.(model.Vector)
	}
	const proxyQuery = `min by (namespace, pod) (timestamp(istio_agent_cert_expiry_seconds{resource_name="default"}) + istio_agent_cert_expiry_seconds{resource_name="default"})`
	testutil.Eventually(t, "both proxies' and istiod's figures in Prometheus", func() (bool, string) {
		p, r, c := query(proxyQuery), query(`min(citadel_server_root_cert_expiry_timestamp)`), query(`min(citadel_server_cert_chain_expiry_timestamp)`)
		return len(p) == 2 && len(r) == 1 && len(c) == 1, fmt.Sprint(p, r, c)
	})
	for _, s := range query(proxyQuery) {
		workload := strings.Split(string(s.Metric["pod"]), "-")[0]
		want, _ := m.CertExpiry("app/" + workload)
		got := time.Unix(0, int64(float64(s.Value)*1e9))
		// The mesh's clock runs with the wall clock, give or take a Run tick.
		if s.Metric["namespace"] != "app" || got.Sub(want).Abs() > 5*time.Second {
			t.Errorf("%v: expiry %s, want %s", s.Metric, got, want)
		}
	}
	if got := int64(query(`min(citadel_server_root_cert_expiry_timestamp)`)[0].Value); got != m.Roots()[0].Certificate.NotAfter.Unix() {
		t.Errorf("root expiry %d, want the root's NotAfter", got)
	}
	in, _ := m.Intermediate()
	if got := int64(query(`min(citadel_server_cert_chain_expiry_timestamp)`)[0].Value); got != in.Certificate.NotAfter.Unix() {
		t.Errorf("chain expiry %d, want the intermediate's NotAfter", got)
	}
}
