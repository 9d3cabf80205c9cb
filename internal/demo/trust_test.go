// The demo's trust (issue 22): a root that runs out in 20 days in every namespace's bundle and in
// istiod's gauge, one proxy whose certificate stopped rotating, every other one healthy.

package demo

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"strings"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/meshsim"
)

func TestDemoTrust(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	opened := time.Now()
	env, err := Start(ctx, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := env.Close(); err != nil {
			t.Error(err)
		}
	})
	roots := env.Mesh.Roots()
	if len(roots) != 1 {
		t.Fatalf("%d roots, want one", len(roots))
	}
	root := roots[0].Certificate
	if left := root.NotAfter.Sub(opened); left < RootExpiresIn-time.Minute || left > RootExpiresIn {
		t.Errorf("the root runs out %s after the start, want %s", left, RootExpiresIn)
	}
	if left := root.NotAfter.Sub(opened); left >= graph.DefaultRootWarn || left <= graph.DefaultRootCritical {
		t.Errorf("the root's %s left is no root-cert-expiring warning", left)
	}

	for _, ns := range []string{"default", "legacy", "shop", TourNamespace, "istio-system"} {
		cm, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, graph.RootBundleName, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s: %v", ns, err)
		}
		block, rest := pem.Decode([]byte(cm.Data[graph.RootBundleKey]))
		if block == nil || strings.TrimSpace(string(rest)) != "" {
			t.Fatalf("%s's bundle is not one PEM block: %q", ns, cm.Data[graph.RootBundleKey])
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil || !cert.Equal(root) {
			t.Errorf("%s's bundle holds %v (%v), not the root", ns, cert.Subject, err)
		}
	}

	client, err := promapi.NewClient(promapi.Config{Address: env.PrometheusURL})
	if err != nil {
		t.Fatal(err)
	}
	api := promv1.NewAPI(client)
	query := func(q string) model.Vector {
		t.Helper()
		v, _, _, err := api.Query(ctx, q, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return v.(model.Vector)
	}
	if v := query(`min(citadel_server_root_cert_expiry_timestamp)`); len(v) != 1 || int64(v[0].Value) != root.NotAfter.Unix() {
		t.Errorf("istiod's root expiry %v, want %d", v, root.NotAfter.Unix())
	}
	in, _ := env.Mesh.Intermediate()
	if v := query(`min(citadel_server_cert_chain_expiry_timestamp)`); len(v) != 1 || int64(v[0].Value) != in.Certificate.NotAfter.Unix() ||
		in.Certificate.NotAfter.Sub(opened) < graph.DefaultRootWarn {
		t.Errorf("istiod's chain expiry %v, want the intermediate's, healthy", v)
	}

	// What internal/prom asks: each pod's expiry.
	proxies := query(`min by (namespace, pod) (timestamp(istio_agent_cert_expiry_seconds{resource_name="default"}) + istio_agent_cert_expiry_seconds{resource_name="default"})`)
	pods, err := env.Kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	workloadOf := map[string]string{}
	for _, p := range pods.Items {
		workloadOf[p.Namespace+"/"+p.Name] = p.Namespace + "/" + p.Labels["meshsim.meshlock.io/workload"]
	}
	seen := map[string]bool{}
	for _, s := range proxies {
		w := workloadOf[string(s.Metric["namespace"])+"/"+string(s.Metric["pod"])]
		seen[w] = true
		left := time.Unix(int64(s.Value), 0).Sub(opened)
		switch {
		case w == StalledRotation:
			if left > StalledCertLeft || left < StalledCertLeft-time.Minute || left >= graph.DefaultWorkloadWarn {
				t.Errorf("%s has %s left, want %s: a workload-cert-expiring warning", w, left, StalledCertLeft)
			}
		case left <= meshsim.WorkloadCertRenewal-time.Minute || left > meshsim.WorkloadCertTTL:
			t.Errorf("%s has %s left: want a healthy rotation", w, left)
		}
	}
	for _, w := range []string{StalledRotation, "default/productpage-v1", "default/nightly-backup", "shop/waypoint"} {
		if !seen[w] {
			t.Errorf("no certificate expiry for %s", w)
		}
	}
	for _, w := range []string{"shop/web", "shop/cart", "legacy/legacy-client"} {
		if seen[w] {
			t.Errorf("a certificate expiry for %s, which has no istio-agent", w)
		}
	}
}
