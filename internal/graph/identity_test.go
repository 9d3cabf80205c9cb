package graph

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// root is a parsed root certificate that ends at notAfter.
func root(fingerprint string, notAfter time.Time) RootCert {
	return RootCert{Fingerprint: fingerprint, Subject: "O=" + fingerprint, Issuer: "O=" + fingerprint,
		NotBefore: notAfter.Add(-10 * 365 * 24 * time.Hour), NotAfter: notAfter, KeyAlgorithm: "ECDSA", KeySize: 256, SelfSigned: true}
}

func bundle(ns string, certs ...RootCert) RootBundle {
	return RootBundle{Namespace: ns, ConfigMap: RootBundleName, Certs: certs}
}

// trusted is bookinfo with a trust domain, a root bundle in the root
// namespace and in default, and its pods named.
func trusted(roots ...RootCert) Cluster {
	c := bookinfo()
	c.TrustDomain = "cluster.local"
	c.RootNamespace = "istio-system"
	c.Roots = []RootBundle{bundle("istio-system", roots...), bundle("default", roots...)}
	for i := range c.Workloads {
		c.Workloads[i].Pods = []string{c.Workloads[i].Name + "-abc12"}
	}
	return c
}

func buildWith(samples []Sample, c Cluster, certs *CertFigures) Snapshot {
	return Build(samples, c, BuildOptions{GeneratedAt: testTime, Window: "1m", Certs: certs})
}

func findingsOfKind(s Snapshot, kind string) []Finding {
	var out []Finding
	for _, f := range s.Findings {
		if f.Kind == kind {
			out = append(out, f)
		}
	}
	return out
}

func TestIdentityInventory(t *testing.T) {
	healthy := root("aa", testTime.Add(5*365*24*time.Hour))
	next := root("bb", testTime.Add(10*365*24*time.Hour))
	c := trusted(healthy)
	c.TrustDomainAliases = []string{"old.example", "acme.example"}
	c.Roots = append(c.Roots, bundle("legacy", healthy, next))
	chain := testTime.Add(365 * 24 * time.Hour)
	certs := &CertFigures{ChainExpiry: &chain, Proxies: map[PodRef]time.Time{
		{"default", "reviews-v2-abc12"}: testTime.Add(20 * time.Hour),
		{"default", "reviews-v3-abc12"}: testTime.Add(10 * time.Hour),
	}}
	s := buildWith(bookinfoTraffic(), c, certs)
	id := s.Identity

	if id.TrustDomain != "cluster.local" || !slices.Equal(id.TrustDomainAliases, []string{"acme.example", "old.example"}) {
		t.Errorf("trust domain %q aliases %v", id.TrustDomain, id.TrustDomainAliases)
	}
	if len(id.Roots) != 2 || id.Roots[0].Fingerprint != "aa" || id.Roots[1].Fingerprint != "bb" {
		t.Fatalf("roots, soonest first: %+v", id.Roots)
	}
	if !slices.Equal(id.Roots[0].Namespaces, []string{"default", "istio-system", "legacy"}) || !slices.Equal(id.Roots[1].Namespaces, []string{"legacy"}) {
		t.Errorf("namespaces holding each root: %v, %v", id.Roots[0].Namespaces, id.Roots[1].Namespaces)
	}
	if id.CA.RootExpiry != nil || id.CA.ChainExpiry == nil || !id.CA.ChainExpiry.Equal(chain) {
		t.Errorf("istiod's figures: %+v", id.CA)
	}
	// legacy-client has no proxy: no identity.
	if len(id.Workloads) != 6 {
		t.Fatalf("mesh workloads: %+v", id.Workloads)
	}
	var reviews WorkloadIdentity
	for _, w := range id.Workloads {
		if w.ID == "default/reviews-v2" {
			reviews = w
		}
	}
	if reviews.ServiceAccount != "bookinfo-reviews" || reviews.ExpectedPrincipal != "spiffe://cluster.local/ns/default/sa/bookinfo-reviews" {
		t.Errorf("expected identity: %+v", reviews)
	}
	if !slices.Equal(reviews.ObservedPrincipals, []string{principal("default", "reviews-v2")}) {
		t.Errorf("observed: %v", reviews.ObservedPrincipals)
	}
	if reviews.CertExpiry == nil || !reviews.CertExpiry.Equal(testTime.Add(20*time.Hour)) {
		t.Errorf("cert expiry: %v", reviews.CertExpiry)
	}
	// The Service node carries what its workloads do, the soonest expiry.
	n, _ := findNode(s, "default/reviews")
	if !slices.Equal(n.ExpectedPrincipals, []string{principal("default", "reviews")}) || n.CertExpiry == nil || !n.CertExpiry.Equal(testTime.Add(10*time.Hour)) {
		t.Errorf("reviews node: %+v", n)
	}
	if !slices.Equal(n.ObservedPrincipals, []string{principal("default", "reviews")}) {
		t.Errorf("reviews node observed: %v", n.ObservedPrincipals)
	}
	if got := findingsOfKind(s, FindingPrincipalMismatch); len(got) != 0 {
		t.Errorf("healthy principals judged mismatched: %+v", got)
	}
}

func TestRootCertExpiring(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name     string
		left     time.Duration
		severity string // "" for none
	}{
		{"40 days left", 40 * day, ""},
		{"20 days left", 20 * day, SeverityWarning},
		{"5 days left", 5 * day, SeverityCritical},
		{"expired", -day, SeverityCritical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := buildWith(nil, trusted(root("aa", testTime.Add(tt.left))), nil)
			got := findingsOfKind(s, FindingRootCertExpiring)
			if tt.severity == "" {
				if len(got) != 0 {
					t.Fatalf("findings: %+v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Severity != tt.severity || got[0].ID != "root-cert-expiring:aa" {
				t.Fatalf("findings: %+v", got)
			}
			if !slices.Equal(got[0].Objects, []string{"ConfigMap default/istio-ca-root-cert", "ConfigMap istio-system/istio-ca-root-cert"}) {
				t.Errorf("objects: %v", got[0].Objects)
			}
		})
	}
	t.Run("thresholds are options", func(t *testing.T) {
		s := Build(nil, trusted(root("aa", testTime.Add(40*day))), BuildOptions{GeneratedAt: testTime,
			Thresholds: CertThresholds{RootWarn: 60 * day, RootCritical: 45 * day}})
		if got := findingsOfKind(s, FindingRootCertExpiring); len(got) != 1 || got[0].Severity != SeverityCritical {
			t.Errorf("findings: %+v", got)
		}
	})
	t.Run("a root being rotated out is info", func(t *testing.T) {
		old, successor := root("aa", testTime.Add(10*day)), root("bb", testTime.Add(3650*day))
		s := buildWith(nil, trusted(old, successor), nil)
		got := findingsOfKind(s, FindingRootCertExpiring)
		if len(got) != 1 || got[0].Severity != SeverityInfo || !strings.Contains(got[0].Message, "rotated out") {
			t.Errorf("findings: %+v", got)
		}
		// A namespace still holding the old root alone makes it urgent again.
		c := trusted(old, successor)
		c.Roots = append(c.Roots, bundle("legacy", old))
		if got := findingsOfKind(buildWith(nil, c, nil), FindingRootCertExpiring); len(got) != 1 || got[0].Severity != SeverityWarning {
			t.Errorf("findings: %+v", got)
		}
	})
}

func TestRootCertMismatch(t *testing.T) {
	mesh, stale, next := root("aa", testTime.Add(3650*24*time.Hour)), root("cc", testTime.Add(3650*24*time.Hour)), root("bb", testTime.Add(7300*24*time.Hour))
	tests := []struct {
		name     string
		roots    []RootBundle
		severity string
	}{
		{"same bundle", []RootBundle{bundle("istio-system", mesh), bundle("default", mesh)}, ""},
		{"rotation under way", []RootBundle{bundle("istio-system", mesh, next), bundle("default", mesh)}, SeverityWarning},
		{"stale copy", []RootBundle{bundle("istio-system", mesh), bundle("default", stale)}, SeverityCritical},
		{"no bundle", []RootBundle{bundle("istio-system", mesh)}, SeverityCritical},
		{"root namespace unknown", []RootBundle{bundle("default", stale)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := trusted()
			c.Roots = tt.roots
			got := findingsOfKind(buildWith(nil, c, nil), FindingRootCertMismatch)
			if tt.severity == "" {
				if len(got) != 0 {
					t.Fatalf("findings: %+v", got)
				}
				return
			}
			// legacy has no mesh workload: not judged.
			if len(got) != 1 || got[0].Severity != tt.severity || got[0].ID != "root-cert-mismatch:default" {
				t.Fatalf("findings: %+v", got)
			}
			if !slices.Contains(got[0].Objects, "ConfigMap istio-system/istio-ca-root-cert") {
				t.Errorf("objects: %v", got[0].Objects)
			}
		})
	}
}

func TestPrincipalMismatch(t *testing.T) {
	edge := EdgeID("default/productpage", "default/reviews", ProtocolHTTP)
	with := func(p string) Sample {
		s := mtls("default/productpage-v1", "default/reviews", 1)
		s.Source.Principal = p
		return s
	}
	tests := []struct {
		name      string
		principal string
		aliases   []string
		severity  string
	}{
		{"its own", principal("default", "productpage"), nil, ""},
		{"another ServiceAccount", "spiffe://cluster.local/ns/default/sa/bookinfo-reviews", nil, SeverityCritical},
		{"another namespace", "spiffe://cluster.local/ns/legacy/sa/bookinfo-productpage", nil, SeverityCritical},
		{"a foreign trust domain", "spiffe://other.example/ns/default/sa/bookinfo-productpage", nil, SeverityWarning},
		{"an alias trust domain", "spiffe://old.example/ns/default/sa/bookinfo-productpage", []string{"old.example"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := trusted()
			c.TrustDomainAliases = tt.aliases
			s := buildWith([]Sample{with(tt.principal)}, c, nil)
			got := findingsOfKind(s, FindingPrincipalMismatch)
			if tt.severity == "" {
				if len(got) != 0 {
					t.Fatalf("findings: %+v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Severity != tt.severity || !slices.Equal(got[0].Edges, []string{edge}) ||
				!slices.Equal(got[0].Nodes, []string{"default/productpage"}) || !strings.Contains(got[0].Message, tt.principal) {
				t.Fatalf("findings: %+v", got)
			}
		})
	}
	t.Run("seen in the look-back only", func(t *testing.T) {
		h := HistorySample{Sample: with("spiffe://cluster.local/ns/default/sa/bookinfo-reviews"), Volume: 10, LastSeen: testTime.Add(-time.Hour)}
		s := Build(nil, trusted(), BuildOptions{GeneratedAt: testTime, History: []HistorySample{h},
			Lookback: Lookback{Window: "7d", State: LookbackReady}})
		if got := findingsOfKind(s, FindingPrincipalMismatch); len(got) != 1 || got[0].Edges[0] != edge {
			t.Fatalf("findings: %+v", got)
		}
		var pp WorkloadIdentity
		for _, w := range s.Identity.Workloads {
			if w.ID == "default/productpage-v1" {
				pp = w
			}
		}
		if !slices.Contains(pp.ObservedPrincipals, "spiffe://cluster.local/ns/default/sa/bookinfo-reviews") {
			t.Errorf("observed in the look-back: %+v", pp)
		}
	})
}

func TestWorkloadCertExpiring(t *testing.T) {
	tests := []struct {
		name     string
		left     time.Duration
		severity string
	}{
		{"rotating", 10 * time.Hour, ""},
		{"stalled", 5 * time.Hour, SeverityWarning},
		{"expired", -time.Minute, SeverityCritical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs := &CertFigures{Proxies: map[PodRef]time.Time{{"default", "ratings-v1-abc12"}: testTime.Add(tt.left)}}
			got := findingsOfKind(buildWith(nil, trusted(), certs), FindingWorkloadCertExpiring)
			if tt.severity == "" {
				if len(got) != 0 {
					t.Fatalf("findings: %+v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Severity != tt.severity || !slices.Equal(got[0].Nodes, []string{"default/ratings"}) ||
				!slices.Equal(got[0].Objects, []string{"Pod default/ratings-v1-abc12"}) {
				t.Fatalf("findings: %+v", got)
			}
		})
	}
}

// Token mode's view: the workloads and roots of the namespaces shown.
func TestFilterIdentity(t *testing.T) {
	c := trusted(root("aa", testTime.Add(3650*24*time.Hour)))
	c.Roots = append(c.Roots, bundle("legacy", root("cc", testTime.Add(3650*24*time.Hour))))
	c.Workloads[len(c.Workloads)-1].DataPlane = DataPlaneSidecar // legacy-client
	s := buildWith(bookinfoTraffic(), c, nil)
	got := Filter(s, []string{"legacy"}).Identity
	if len(got.Roots) != 1 || got.Roots[0].Fingerprint != "cc" || !slices.Equal(got.Roots[0].Namespaces, []string{"legacy"}) {
		t.Errorf("roots: %+v", got.Roots)
	}
	if len(got.Workloads) != 1 || got.Workloads[0].Namespace != "legacy" {
		t.Errorf("workloads: %+v", got.Workloads)
	}
	if len(s.Identity.Roots) != 2 || len(s.Identity.Roots[0].Namespaces) != 2 {
		t.Errorf("Filter changed its input: %+v", s.Identity.Roots)
	}
}
