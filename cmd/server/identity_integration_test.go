// Identity and trust end to end on the real test bed (issue 22): real root certificates in
// istio-ca-root-cert ConfigMaps on kube-apiserver (a rotation, a stale copy, a namespace without
// one), an alias trust domain, foreign principals in the traffic Prometheus scrapes, istiod's and
// istio-agent's certificate expiry; meshlock's inventory, findings, gauges and check.

package main

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/meshsim"
	"github.com/meshlock/meshlock/internal/testutil"
)

// identityMesh is bookinfo and two more namespaces with sidecars:
//   - istiod distributes two roots, "new" (ten years) and "old" (20 days:
//     a rotation under way), everywhere but in payments, which holds a
//     stale copy of "old" alone, and batch, which holds none;
//   - productpage's certificate names another trust domain (other.example);
//     reviews-v2's the alias old.example, which is no mismatch;
//     payments/billing's another ServiceAccount than it runs as;
//   - details-v1's certificate stopped rotating with 3 hours left.
func identityMesh(start time.Time) meshsim.Options {
	topo := meshsim.Bookinfo()
	for i := range topo.Workloads {
		switch w := &topo.Workloads[i]; w.Namespace + "/" + w.Name {
		case "default/productpage-v1":
			w.CertPrincipal = "spiffe://other.example/ns/default/sa/bookinfo-productpage"
		case "default/reviews-v2":
			w.CertPrincipal = "spiffe://old.example/ns/default/sa/bookinfo-reviews"
		case "default/details-v1":
			w.StalledCertLeft = 3 * time.Hour
		}
	}
	topo.Workloads = append(topo.Workloads,
		meshsim.Workload{Name: "billing", Namespace: "payments", ServiceAccount: "billing", Sidecar: true,
			Labels: map[string]string{"app": "billing"}, CertPrincipal: "spiffe://cluster.local/ns/payments/sa/admin"},
		meshsim.Workload{Name: "nightly", Namespace: "batch", ServiceAccount: "nightly", Sidecar: true,
			Labels: map[string]string{"app": "nightly"}})
	topo.Callers = append(topo.Callers,
		meshsim.Caller{From: "payments/billing", To: "default/ratings", Port: 9080, Rate: 1},
		meshsim.Caller{From: "batch/nightly", To: "default/details", Port: 9080, Rate: 1})
	inter := meshsim.CertSpec{Subject: pkix.Name{Organization: []string{"Istio"}, CommonName: "Intermediate CA"},
		NotBefore: start.Add(-24 * time.Hour), NotAfter: start.Add(365 * 24 * time.Hour)}
	return meshsim.Options{Topology: topo, AutoMTLS: true, Start: start, TrustDomainAliases: []string{"old.example"},
		Trust: meshsim.Trust{
			Roots: []meshsim.CertSpec{
				{Name: "new", Subject: pkix.Name{Organization: []string{"Istio"}, CommonName: "Root CA 2026"}, NotAfter: start.Add(3650 * 24 * time.Hour)},
				{Name: "old", Subject: pkix.Name{Organization: []string{"Istio"}, CommonName: "Root CA 2016"}, RSABits: 2048,
					NotBefore: start.Add(-3630 * 24 * time.Hour), NotAfter: start.Add(20 * 24 * time.Hour)},
			},
			Intermediate: &inter,
			Bundles:      map[string][]string{"payments": {"old"}, "batch": {}},
		}}
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s", url, resp.Status, body)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func findingsByKind(s graph.Snapshot) map[string][]graph.Finding {
	out := map[string][]graph.Finding{}
	for _, f := range s.Findings {
		out[f.Kind] = append(out[f.Kind], f)
	}
	return out
}

func TestIdentityOnRealCluster(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	start := time.Now().UTC().Truncate(time.Second)
	tb := startTestbedMeshWith(t, identityMesh(start), nil)
	go tb.mesh.Run(ctx, 250*time.Millisecond)
	oldRoot, _ := tb.mesh.Root("old")
	newRoot, _ := tb.mesh.Root("new")
	base := startMeshlock(t, "--kubeconfig="+tb.cluster.Kubeconfig, "--prometheus-url="+tb.prometheus.URL,
		"--refresh=1s", "--window=4s", "--lookback=0")

	// The findings, each on what it is about.
	var s graph.Snapshot
	mismatchEdges := func(s graph.Snapshot) []string {
		var ids []string
		for _, f := range s.Findings {
			if f.Kind == graph.FindingPrincipalMismatch {
				ids = append(ids, f.Edges...)
			}
		}
		slices.Sort(ids)
		return ids
	}
	wantMismatch := []string{"default/productpage->default/details:http", "default/productpage->default/reviews:http", "payments/billing->default/ratings:http"}
	testutil.Eventually(t, "the identity findings", func() (bool, string) {
		s = fetchGraph(t, base+"/api/graph")
		k := findingsByKind(s)
		ok := len(k[graph.FindingRootCertExpiring]) == 1 && len(k[graph.FindingRootCertMismatch]) == 2 &&
			len(k[graph.FindingWorkloadCertExpiring]) == 1 && slices.Equal(mismatchEdges(s), wantMismatch)
		return ok, fmt.Sprintf("%d findings, principal-mismatch on %v, %+v", len(s.Findings), mismatchEdges(s), k[graph.FindingRootCertMismatch])
	})
	k := findingsByKind(s)
	if f := k[graph.FindingRootCertExpiring][0]; f.ID != "root-cert-expiring:"+oldRoot.Fingerprint || f.Severity != graph.SeverityWarning ||
		!slices.Contains(f.Objects, "ConfigMap payments/istio-ca-root-cert") || !strings.Contains(f.Message, "Root CA 2016") {
		t.Errorf("root-cert-expiring: %+v", f)
	}
	for _, f := range k[graph.FindingRootCertMismatch] {
		switch f.ID {
		case "root-cert-mismatch:payments":
			if f.Severity != graph.SeverityWarning {
				t.Errorf("payments shares a root: %+v", f)
			}
		case "root-cert-mismatch:batch":
			if f.Severity != graph.SeverityCritical || !strings.Contains(f.Message, "holds no istio-ca-root-cert") {
				t.Errorf("batch has no bundle: %+v", f)
			}
		default:
			t.Errorf("root-cert-mismatch of a namespace holding the root namespace's bundle: %+v", f)
		}
	}
	for _, f := range k[graph.FindingPrincipalMismatch] {
		billing := f.Edges[0] == "payments/billing->default/ratings:http"
		if billing != (f.Severity == graph.SeverityCritical) || (!billing && !strings.Contains(f.Message, "other.example")) {
			t.Errorf("principal-mismatch: %+v", f)
		}
	}
	if f := k[graph.FindingWorkloadCertExpiring][0]; !slices.Equal(f.Nodes, []string{"default/details"}) || f.Severity != graph.SeverityWarning {
		t.Errorf("workload-cert-expiring: %+v", f)
	}
	// Within a minute: meshsim's clock starts at start but runs from when
	// the mesh does, and istio-agent's figure is the time left at a scrape.
	if n, _ := nodeByID(s, "default/details"); n.CertExpiry == nil || n.CertExpiry.Sub(start.Add(3*time.Hour)).Abs() > time.Minute ||
		!slices.Equal(n.ExpectedPrincipals, []string{"spiffe://cluster.local/ns/default/sa/bookinfo-details"}) {
		t.Errorf("details' node: %+v", n)
	}

	// The inventory.
	var id graph.Identity
	getJSON(t, base+"/api/identity", &id)
	if id.TrustDomain != "cluster.local" || !slices.Equal(id.TrustDomainAliases, []string{"old.example"}) {
		t.Errorf("trust domain %q, aliases %v", id.TrustDomain, id.TrustDomainAliases)
	}
	if len(id.Roots) != 2 || id.Roots[0].Fingerprint != oldRoot.Fingerprint || id.Roots[1].Fingerprint != newRoot.Fingerprint {
		t.Fatalf("roots: %+v", id.Roots)
	}
	old := id.Roots[0]
	if !old.NotAfter.Equal(oldRoot.Certificate.NotAfter) || old.KeyAlgorithm != "RSA" || old.KeySize != 2048 || !old.SelfSigned ||
		old.Subject != oldRoot.Certificate.Subject.String() || !slices.Equal(old.Namespaces, []string{"default", "istio-system", "legacy", "payments"}) {
		t.Errorf("the old root: %+v", old)
	}
	if !slices.Equal(id.Roots[1].Namespaces, []string{"default", "istio-system", "legacy"}) {
		t.Errorf("the new root's namespaces: %v", id.Roots[1].Namespaces)
	}
	inter, _ := tb.mesh.Intermediate()
	if id.CA.RootExpiry == nil || !id.CA.RootExpiry.Equal(newRoot.Certificate.NotAfter) || id.CA.ChainExpiry == nil || !id.CA.ChainExpiry.Equal(inter.Certificate.NotAfter) {
		t.Errorf("istiod's figures: %+v", id.CA)
	}
	byID := map[string]graph.WorkloadIdentity{}
	for _, w := range id.Workloads {
		byID[w.ID] = w
	}
	if w := byID["payments/billing"]; w.ExpectedPrincipal != "spiffe://cluster.local/ns/payments/sa/billing" ||
		!slices.Equal(w.ObservedPrincipals, []string{"spiffe://cluster.local/ns/payments/sa/admin"}) || w.CertExpiry == nil {
		t.Errorf("billing: %+v", w)
	}
	if w := byID["default/reviews-v2"]; !slices.Contains(w.ObservedPrincipals, "spiffe://old.example/ns/default/sa/bookinfo-reviews") {
		t.Errorf("reviews-v2: %+v", w)
	}
	if _, ok := byID["legacy/legacy-client"]; ok {
		t.Error("a workload without a proxy has an identity")
	}

	// The gauges.
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantGauge := fmt.Sprintf(`meshlock_root_cert_expiry_timestamp_seconds{fingerprint="%s"} %s`, oldRoot.Fingerprint,
		formatSeconds(oldRoot.Certificate.NotAfter))
	if !strings.Contains(string(metrics), wantGauge) || !strings.Contains(string(metrics), "meshlock_workload_cert_expiry_min_timestamp_seconds ") {
		t.Errorf("/metrics lacks %s or the workload gauge", wantGauge)
	}

	// The gate: the old root fails a 30-day bar, by name; a 10-day bar passes.
	// It judges the look-back's traffic too, and fails closed (2) until
	// Prometheus holds some of it.
	checkArgs := []string{"check", "--kubeconfig=" + tb.cluster.Kubeconfig, "--prometheus-url=" + tb.prometheus.URL,
		"--lookback=5m", "--min-mtls=0", "-o", "json"}
	check := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(ctx, append(slices.Clone(checkArgs), args...), envOf(nil), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	var code int
	var stdout, stderr string
	testutil.Eventually(t, "check has traffic to judge", func() (bool, string) {
		code, stdout, stderr = check("--cert-min-validity=30d")
		return code != exitUsage, stderr
	})
	var out struct {
		Check struct {
			Pass         bool
			Certificates []struct{ Kind, Name string }
		}
		Identity graph.Identity
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || code != exitBelow || out.Check.Pass ||
		len(out.Check.Certificates) != 1 || !strings.Contains(out.Check.Certificates[0].Name, oldRoot.Fingerprint) || len(out.Identity.Roots) != 2 {
		t.Errorf("check --cert-min-validity=30d: exit %d, %v, %+v, stderr %q", code, err, out.Check, stderr)
	}
	if code, stdout, stderr := check("--cert-min-validity=10d"); code != exitPass {
		t.Errorf("check --cert-min-validity=10d: exit %d, %s, stderr %q", code, stdout, stderr)
	}
	if code, stdout, stderr := check("--cert-min-validity=10d", "--workload-certs"); code != exitBelow || !strings.Contains(stdout, `"default/details-v1"`) {
		t.Errorf("check --cert-min-validity=10d --workload-certs: exit %d, %s, stderr %q", code, stdout, stderr)
	}
}

// formatSeconds writes a moment as the exposition format writes a gauge of unix seconds.
func formatSeconds(t time.Time) string {
	return strings.ToLower(fmt.Sprintf("%g", float64(t.Unix())))
}
