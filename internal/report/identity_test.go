// The report's trust inventory and check's certificate bar (issue 22).

package report

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshlock/meshlock/internal/graph"
)

// identityReport is the week's report with two roots, one ending in 20
// days, and cart's proxy certificate with 3 hours left, read from
// Prometheus at the report's time.
func identityReport(t *testing.T) Report {
	t.Helper()
	g, _ := weekGenerator()
	cluster := testCluster()
	cluster.TrustDomain, cluster.RootNamespace = "cluster.local", "istio-system"
	old := graph.RootCert{Fingerprint: "aa", Subject: "O=old", Issuer: "O=old", NotAfter: now.Add(20 * 24 * time.Hour), KeyAlgorithm: "RSA", KeySize: 2048, SelfSigned: true}
	next := graph.RootCert{Fingerprint: "bb", Subject: "O=new", Issuer: "O=new", NotAfter: now.Add(3650 * 24 * time.Hour), KeyAlgorithm: "ECDSA", KeySize: 256, SelfSigned: true}
	cluster.Roots = []graph.RootBundle{{Namespace: "istio-system", Certs: []graph.RootCert{old, next}}, {Namespace: "shop", Certs: []graph.RootCert{old}}}
	for i := range cluster.Workloads {
		cluster.Workloads[i].Pods = []string{cluster.Workloads[i].Name + "-0"}
		cluster.Workloads[i].ServiceAccounts = []string{cluster.Workloads[i].Name}
	}
	g.Cluster = func() graph.Cluster { return cluster }
	g.Certs = func(context.Context) (graph.CertFigures, error) {
		return graph.CertFigures{Proxies: map[graph.PodRef]time.Time{{Namespace: "shop", Name: "cart-0"}: now.Add(3 * time.Hour)}}, nil
	}
	p, src, err := g.Parse(t.Context(), "7d", "")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := g.Snapshot(t.Context(), p, &src)
	if err != nil {
		t.Fatal(err)
	}
	return Build(Input{Period: p, Snapshot: snap, Source: src}, now)
}

func TestReportCarriesTheTrustInventory(t *testing.T) {
	r := identityReport(t)
	if len(r.Identity.Roots) != 2 || r.Identity.Roots[0].Fingerprint != "aa" || !slices.Equal(r.Identity.Roots[0].Namespaces, []string{"istio-system", "shop"}) {
		t.Fatalf("roots: %+v", r.Identity.Roots)
	}
	var cart graph.WorkloadIdentity
	for _, w := range r.Identity.Workloads {
		if w.ID == "shop/cart" {
			cart = w
		}
	}
	if cart.CertExpiry == nil || !cart.CertExpiry.Equal(now.Add(3*time.Hour)) || cart.ExpectedPrincipal != "spiffe://cluster.local/ns/shop/sa/cart" {
		t.Errorf("cart's identity: %+v", cart)
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil || !strings.Contains(buf.String(), `"identity": {`) || !strings.Contains(buf.String(), `"fingerprint": "aa"`) {
		t.Errorf("JSON: %v %s", err, buf.String())
	}
	// The old root ends in 20 days while the root namespace's bundle has a
	// successor and shop's has not: a warning; cart's certificate has 3 hours left.
	var kinds []string
	for _, f := range r.IdentityFindings {
		kinds = append(kinds, f.Kind+"/"+f.Severity)
	}
	slices.Sort(kinds)
	if !slices.Equal(kinds, []string{"root-cert-expiring/warning", "root-cert-mismatch/warning", "workload-cert-expiring/warning"}) {
		t.Errorf("identity findings: %v", kinds)
	}
	var roots, findings [][]string
	for _, row := range csvRows(t, r) {
		switch row[column("record")] {
		case "root":
			roots = append(roots, row)
		case "finding":
			findings = append(findings, row)
		}
	}
	if len(findings) != 3 || findings[0][column("kind")] == "" || findings[0][column("detail")] == "" {
		t.Errorf("CSV finding records: %q", findings)
	}
	if len(roots) != 2 || roots[0][column("name")] != "O=old" || roots[0][column("namespace")] != "istio-system shop" ||
		roots[0][column("time")] != now.Add(20*24*time.Hour).UTC().Format(time.RFC3339) || !strings.Contains(roots[0][column("detail")], "sha256 aa") ||
		roots[1][column("kind")] != "ECDSA 256" {
		t.Errorf("CSV root records: %q", roots)
	}
}

func TestCheckCerts(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name      string
		min       time.Duration
		workloads bool
		want      []string // names below, in order
	}{
		{"roots valid long enough", 10 * day, false, nil},
		{"a root too soon", 30 * day, false, []string{"O=old (sha256 aa)"}},
		{"workload certificates only when asked", 2 * time.Hour, true, nil},
		{"a workload certificate too soon", 4 * time.Hour, true, []string{"shop/cart"}},
		{"both", 30 * day, true, []string{"O=old (sha256 aa)", "shop/cart"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := identityReport(t)
			Check(&r, 0)
			if err := CheckCerts(&r, tt.min, tt.workloads, now); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, c := range r.Check.Certificates {
				names = append(names, c.Name)
			}
			if !slices.Equal(names, tt.want) || r.Check.Pass != (len(tt.want) == 0) {
				t.Fatalf("below: %v, pass %v", names, r.Check.Pass)
			}
			var buf bytes.Buffer
			if err := WriteCheckTable(&buf, r); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if len(tt.want) > 0 && (!strings.Contains(out, "CERTIFICATE") || !strings.Contains(out, tt.want[0]) || !strings.HasPrefix(lastLine(out), "FAIL")) {
				t.Errorf("table:\n%s", out)
			}
			if !strings.Contains(lastLine(out), "certificates expire within") {
				t.Errorf("verdict line: %s", out)
			}
		})
	}
	t.Run("no root known fails closed", func(t *testing.T) {
		r := identityReport(t)
		r.Identity.Roots = nil
		if err := CheckCerts(&r, day, false, now); err == nil || !strings.Contains(err.Error(), "no PASS") {
			t.Errorf("err %v", err)
		}
	})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
