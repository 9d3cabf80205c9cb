// Tests of several clusters in one graph (issue 24): ids, crossCluster, each cluster's own policy,
// the cluster-trust finding and FilterClusters.

package graph

import (
	"slices"
	"testing"
	"time"
)

// crossSample is one sample of a caller in one cluster to a Service served
// in another, as a proxy reports it with Istio's cluster labels.
func crossSample(reporter, srcCluster, dstCluster, srcWorkload, dstWorkload, security string, rate float64) Sample {
	s := Sample{Reporter: reporter, Protocol: ProtocolHTTP,
		Source:      Peer{Cluster: srcCluster, Namespace: "default", Workload: srcWorkload},
		Destination: Peer{Cluster: dstCluster, Namespace: "default", Workload: dstWorkload},
		Service:     ServiceRef{Namespace: "default", Name: "reviews"}, Security: security, Rate: rate}
	if security == SecurityMutualTLS {
		s.Source.Principal = SPIFFEID("cluster.local", "default", srcWorkload)
		s.Destination.Principal = SPIFFEID("cluster.local", "default", dstWorkload)
	}
	return s
}

func twoClusters() (west, east Cluster) {
	west = Cluster{Name: "west", TrustDomain: "cluster.local", RootNamespace: "istio-system",
		Services: []Service{
			{Namespace: "default", Name: "productpage", Workloads: []string{"productpage-v1"}, InMesh: true, PeerAuthentication: ModePermissive},
			{Namespace: "default", Name: "reviews", Workloads: []string{"reviews-v1"}, InMesh: true, PeerAuthentication: ModePermissive},
		},
		Workloads: []Workload{
			{Namespace: "default", Name: "productpage-v1", ServiceAccounts: []string{"productpage-v1"}, DataPlane: DataPlaneSidecar},
			{Namespace: "default", Name: "reviews-v1", ServiceAccounts: []string{"reviews-v1"}, DataPlane: DataPlaneSidecar},
		},
		ClientTLS: func(_, client, _, _ string) []ClientTLS {
			return []ClientTLS{{Port: 9080, TLS: TLSDisable, Rule: "default/reviews"}}
		}}
	east = Cluster{Name: "east", TrustDomain: "cluster.local", RootNamespace: "istio-system",
		Services: []Service{
			{Namespace: "default", Name: "reviews", Workloads: []string{"reviews-v3"}, InMesh: true, PeerAuthentication: ModeStrict},
		},
		Workloads: []Workload{
			{Namespace: "default", Name: "reviews-v3", ServiceAccounts: []string{"reviews-v3"}, DataPlane: DataPlaneSidecar},
		},
		ClientTLS: func(_, client, _, _ string) []ClientTLS {
			return []ClientTLS{{Port: 9080, TLS: TLSIstioMutual, Rule: "default/reviews"}}
		}}
	return west, east
}

func nodeByID(s Snapshot, id string) *Node {
	for i := range s.Nodes {
		if s.Nodes[i].ID == id {
			return &s.Nodes[i]
		}
	}
	return nil
}

func edgeByID(s Snapshot, id string) *Edge {
	for i := range s.Edges {
		if s.Edges[i].ID == id {
			return &s.Edges[i]
		}
	}
	return nil
}

// A Service of the same namespace and name in two clusters is one host to
// Istio (namespace sameness), served from both; the graph draws a node per
// serving cluster, as destination_cluster names it, and marks the edge
// that crosses.
func TestBuildTwoClustersIDsAndCrossCluster(t *testing.T) {
	west, east := twoClusters()
	samples := []Sample{
		crossSample(ReporterClient, "west", "west", "productpage-v1", "reviews-v1", "", 2),
		crossSample(ReporterServer, "west", "west", "productpage-v1", "reviews-v1", SecurityPlaintext, 2),
		crossSample(ReporterClient, "west", "east", "productpage-v1", "reviews-v3", "", 1),
		crossSample(ReporterServer, "west", "east", "productpage-v1", "reviews-v3", SecurityMutualTLS, 1),
	}
	s := Build(samples, Merge(west, east), BuildOptions{GeneratedAt: time.Unix(0, 0)})
	local := edgeByID(s, EdgeID("west/default/productpage", "west/default/reviews", "http"))
	cross := edgeByID(s, EdgeID("west/default/productpage", "east/default/reviews", "http"))
	if local == nil || cross == nil {
		t.Fatalf("edges = %+v", s.Edges)
	}
	if local.CrossCluster || local.Status != StatusOpen {
		t.Errorf("west → west = %+v, want open, not crossing", *local)
	}
	if !cross.CrossCluster || cross.Status != StatusLocked {
		t.Errorf("west → east = %+v, want locked and crossing", *cross)
	}
	// Each cluster's own PeerAuthentication, resolved on its Service.
	if n := nodeByID(s, "east/default/reviews"); n == nil || n.Cluster != "east" || n.Namespace != "default" || n.Name != "reviews" || n.PeerAuthentication != ModeStrict {
		t.Errorf("east's reviews = %+v", n)
	}
	if n := nodeByID(s, "west/default/reviews"); n == nil || n.PeerAuthentication != ModePermissive {
		t.Errorf("west's reviews = %+v", n)
	}
	// The caller's own cluster's DestinationRules decide what it sends,
	// whichever cluster serves (west's rule disables TLS).
	if n := nodeByID(s, "east/default/reviews"); n.DestinationRuleTLS != TLSDisable {
		t.Errorf("east's reviews as west's productpage sees it: %q, want DISABLE", n.DestinationRuleTLS)
	}
	checkInvariants(t, s)
}

// With one cluster, Istio's cluster labels ("Kubernetes" by default) are
// ignored: ids stay "<namespace>/<name>" as the contract has them.
func TestBuildOneClusterIgnoresClusterLabels(t *testing.T) {
	west, _ := twoClusters()
	west.Name = ""
	s := Build([]Sample{crossSample(ReporterServer, "Kubernetes", "Kubernetes", "productpage-v1", "reviews-v1", SecurityMutualTLS, 1)},
		west, BuildOptions{})
	if e := edgeByID(s, EdgeID(productpage, reviews, "http")); e == nil || e.CrossCluster {
		t.Fatalf("edges = %+v", s.Edges)
	}
	for _, n := range s.Nodes {
		if n.Cluster != "" {
			t.Errorf("node %s has cluster %q", n.ID, n.Cluster)
		}
	}
}

// A caller whose cluster Istio did not know (no metadata exchange) is
// placed in the one cluster running its ServiceAccount.
func TestBuildTwoClustersPrincipalOnlyCaller(t *testing.T) {
	west, east := twoClusters()
	s := crossSample(ReporterServer, "unknown", "east", "", "reviews-v3", SecurityMutualTLS, 1)
	s.Source.Principal = SPIFFEID("cluster.local", "default", "productpage-v1")
	s.Protocol = ProtocolTCP
	snap := Build([]Sample{s}, Merge(west, east), BuildOptions{})
	if e := edgeByID(snap, EdgeID("west/default/productpage", "east/default/reviews", "tcp")); e == nil || !e.CrossCluster {
		t.Fatalf("edges = %+v", snap.Edges)
	}
}

// A hostile or broken cluster label holding "/" must not shift the parts of
// a node id: it counts as unknown, so the destination falls back to the
// caller's cluster and the caller to the one running its workload.
func TestBuildTwoClustersIgnoresClusterLabelWithSlash(t *testing.T) {
	west, east := twoClusters()
	s := crossSample(ReporterServer, "west", "east/evil", "productpage-v1", "reviews-v1", SecurityMutualTLS, 1)
	snap := Build([]Sample{s}, Merge(west, east), BuildOptions{})
	if e := edgeByID(snap, EdgeID("west/default/productpage", "west/default/reviews", "http")); e == nil || e.CrossCluster {
		t.Fatalf("edges = %+v, want west → west", snap.Edges)
	}
	for _, n := range snap.Nodes {
		if id := ParseID(n.ID); id.Cluster != n.Cluster || id.Namespace != n.Namespace || id.Name != n.Name {
			t.Errorf("node %s parses as %+v, is %s/%s/%s", n.ID, id, n.Cluster, n.Namespace, n.Name)
		}
	}
}

func TestClusterTrustFinding(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	crossing := []Sample{crossSample(ReporterServer, "west", "east", "productpage-v1", "reviews-v3", SecurityMutualTLS, 1)}
	for _, tc := range []struct {
		name     string
		change   func(west, east *Cluster)
		severity string // "" for none
	}{
		{"same roots, same trust domain", func(w, e *Cluster) {}, ""},
		{"roots share nothing: mTLS across fails", func(w, e *Cluster) {
			e.Roots = []RootBundle{bundle("istio-system", root("ee", now.AddDate(5, 0, 0)))}
		}, SeverityCritical},
		{"a rotation under way shares one root", func(w, e *Cluster) {
			e.Roots = []RootBundle{bundle("istio-system", root("ee", now.AddDate(5, 0, 0)), root("aa", now.AddDate(5, 0, 0)))}
		}, ""},
		{"trust domains differ without aliases", func(w, e *Cluster) { e.TrustDomain = "east.example" }, SeverityWarning},
		{"trust domains differ, each the other's alias", func(w, e *Cluster) {
			e.TrustDomain = "east.example"
			e.TrustDomainAliases = []string{"cluster.local"}
			w.TrustDomainAliases = []string{"east.example"}
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			west, east := twoClusters()
			west.Roots = []RootBundle{bundle("istio-system", root("aa", now.AddDate(5, 0, 0)))}
			east.Roots = []RootBundle{bundle("istio-system", root("aa", now.AddDate(5, 0, 0)))}
			tc.change(&west, &east)
			s := Build(crossing, Merge(west, east), BuildOptions{GeneratedAt: now})
			got := findingsOfKind(s, FindingClusterTrust)
			if tc.severity == "" {
				if len(got) != 0 {
					t.Fatalf("findings = %+v, want none", got)
				}
				return
			}
			if len(got) != 1 || got[0].Severity != tc.severity ||
				!slices.Equal(got[0].Edges, []string{EdgeID("west/default/productpage", "east/default/reviews", "http")}) {
				t.Fatalf("findings = %+v, want one %s on the crossing edge", got, tc.severity)
			}
		})
	}
}

// Merge keeps each cluster's root namespace: a namespace of one cluster is
// compared with its own cluster's root bundle, and the finding names both.
func TestRootCertMismatchPerCluster(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	west, east := twoClusters()
	west.Roots = []RootBundle{bundle("istio-system", root("aa", now.AddDate(5, 0, 0))), bundle("default", root("aa", now.AddDate(5, 0, 0)))}
	east.Roots = []RootBundle{bundle("istio-system", root("ee", now.AddDate(5, 0, 0))), bundle("default", root("aa", now.AddDate(5, 0, 0)))}
	s := Build(nil, Merge(west, east), BuildOptions{GeneratedAt: now})
	got := findingsOfKind(s, FindingRootCertMismatch)
	if len(got) != 1 || got[0].ID != FindingID(FindingRootCertMismatch, "east/default") || got[0].Severity != SeverityCritical {
		t.Fatalf("findings = %+v, want east/default's only", got)
	}
	if want := []Root{{RootCert: root("aa", now.AddDate(5, 0, 0)), Namespaces: []string{"east/default", "west/default", "west/istio-system"}}}; !slices.ContainsFunc(s.Identity.Roots, func(r Root) bool {
		return r.Fingerprint == "aa" && slices.Equal(r.Namespaces, want[0].Namespaces)
	}) {
		t.Errorf("roots = %+v", s.Identity.Roots)
	}
}

func TestFilterClusters(t *testing.T) {
	west, east := twoClusters()
	samples := []Sample{
		crossSample(ReporterServer, "west", "west", "productpage-v1", "reviews-v1", SecurityMutualTLS, 2),
		crossSample(ReporterServer, "west", "east", "productpage-v1", "reviews-v3", SecurityMutualTLS, 1),
	}
	s := Build(samples, Merge(west, east), BuildOptions{})
	s.Clusters = []string{"east", "west"}
	got := FilterClusters(s, []string{"east"})
	var ids []string
	for _, n := range got.Nodes {
		ids = append(ids, n.ID)
	}
	// The caller from west stays, as the end of an edge into east.
	if !slices.Equal(ids, []string{"east/default/reviews", "west/default/productpage"}) || len(got.Edges) != 1 {
		t.Errorf("nodes = %v, edges = %+v", ids, got.Edges)
	}
	if !slices.Equal(got.Clusters, s.Clusters) {
		t.Errorf("clusters = %v", got.Clusters)
	}
	if all := FilterClusters(s, nil); len(all.Nodes) != len(s.Nodes) {
		t.Errorf("an empty list keeps %d of %d nodes", len(all.Nodes), len(s.Nodes))
	}
}

// The east-west gateway's own report of the connections it passes
// through is no edge: the two sidecars report them end to end.
func TestBuildSkipsTheEastWestGatewaysHop(t *testing.T) {
	west, east := twoClusters()
	east.Workloads = append(east.Workloads, Workload{Namespace: "istio-system", Name: "istio-eastwestgateway", Gateway: true, NetworkGateway: true})
	hop := Sample{Reporter: ReporterClient, Protocol: ProtocolTCP, Measure: MeasureBytes,
		Source:      Peer{Cluster: "east", Namespace: "istio-system", Workload: "istio-eastwestgateway"},
		Destination: Peer{Cluster: "east", Namespace: "default", Workload: "reviews-v3"},
		Service:     ServiceRef{Namespace: "default", Name: "reviews"}, Rate: 100}
	s := Build([]Sample{hop, crossSample(ReporterServer, "west", "east", "productpage-v1", "reviews-v3", SecurityMutualTLS, 1)},
		Merge(west, east), BuildOptions{})
	if len(s.Edges) != 1 || s.Edges[0].Source != "west/default/productpage" {
		t.Fatalf("edges = %+v, want the caller's only", s.Edges)
	}
}

// Policy objects of several clusters are named with their cluster: the
// finding says in which cluster's API the rule is, and the same name in
// two clusters stays two rules.
func TestMergeNamesPolicyObjectsWithTheirCluster(t *testing.T) {
	west, east := twoClusters()
	east.Services[0].PeerAuthenticationSource = "istio-system/default"
	east.Problems = []PolicyProblem{{Kind: "DestinationRule", Namespace: "default", Name: "broken", Message: "bad host"}}
	s := Build([]Sample{crossSample(ReporterServer, "west", "east", "productpage-v1", "reviews-v3", SecurityMutualTLS, 1)},
		Merge(west, east), BuildOptions{})
	got := findingsOfKind(s, FindingPolicyUnreadable)
	if len(got) != 1 || !slices.Equal(got[0].Objects, []string{"DestinationRule east/default/broken"}) {
		t.Errorf("unreadable findings = %+v", got)
	}
	if n := nodeByID(s, "east/default/reviews"); n == nil || n.CallerTLS != nil || n.DestinationRuleTLS != TLSDisable {
		t.Fatalf("east's reviews = %+v", n)
	}
	m := Merge(west, east)
	if m.Services[2].PeerAuthenticationSource != "east/istio-system/default" || east.Services[0].PeerAuthenticationSource != "istio-system/default" {
		t.Errorf("merged source %q, east's own %q: want it qualified in the merge, the input unchanged",
			m.Services[2].PeerAuthenticationSource, east.Services[0].PeerAuthenticationSource)
	}
	if tls := m.Members[0].ClientTLS("default", "productpage-v1", "default", "reviews"); len(tls) != 1 || tls[0].Rule != "west/default/reviews" {
		t.Errorf("west's client TLS = %+v, want its rule named with west", tls)
	}
	// A resolver answering from its cache: merged at every refresh, the
	// rule is named with its cluster once.
	cached := []ClientTLS{{Port: 9080, TLS: TLSDisable, Rule: "default/reviews"}}
	west.ClientTLS = func(_, _, _, _ string) []ClientTLS { return cached }
	var tls []ClientTLS
	for range 3 {
		tls = Merge(west, east).Members[0].ClientTLS("default", "productpage-v1", "default", "reviews")
	}
	if tls[0].Rule != "west/default/reviews" || cached[0].Rule != "default/reviews" {
		t.Errorf("after three merges: %q, the cache %q", tls[0].Rule, cached[0].Rule)
	}
}
