// Test fixtures of the graph package: a small bookinfo cluster, helpers that make client and
// server samples, and lookups of edges, nodes and findings in a snapshot.

package graph

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A small bookinfo: productpage calls details and reviews, reviews-v2 and
// -v3 call ratings, and legacy/legacy-client (no sidecar) calls ratings.

var testTime = time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)

func bookinfo() Cluster {
	svc := func(name string, workloads ...string) Service {
		return Service{
			Namespace: "default", Name: name, Workloads: workloads, InMesh: true,
			PeerAuthentication: ModePermissive, PeerAuthenticationSource: "istio-system/default",
		}
	}
	return Cluster{
		Namespaces: []string{"default", "legacy"},
		Services: []Service{
			svc("productpage", "productpage-v1"),
			svc("details", "details-v1"),
			svc("reviews", "reviews-v1", "reviews-v2", "reviews-v3"),
			svc("ratings", "ratings-v1"),
		},
		Workloads: []Workload{
			{Namespace: "default", Name: "productpage-v1", ServiceAccounts: []string{"bookinfo-productpage"}, DataPlane: DataPlaneSidecar},
			{Namespace: "default", Name: "details-v1", ServiceAccounts: []string{"bookinfo-details"}, DataPlane: DataPlaneSidecar},
			{Namespace: "default", Name: "reviews-v1", ServiceAccounts: []string{"bookinfo-reviews"}, DataPlane: DataPlaneSidecar},
			{Namespace: "default", Name: "reviews-v2", ServiceAccounts: []string{"bookinfo-reviews"}, DataPlane: DataPlaneSidecar},
			{Namespace: "default", Name: "reviews-v3", ServiceAccounts: []string{"bookinfo-reviews"}, DataPlane: DataPlaneSidecar},
			{Namespace: "default", Name: "ratings-v1", ServiceAccounts: []string{"bookinfo-ratings"}, DataPlane: DataPlaneSidecar},
			{Namespace: "legacy", Name: "legacy-client", ServiceAccounts: []string{"default"}, DataPlane: DataPlaneNone},
		},
	}
}

// service returns a pointer into c.Services so that a test case can change it.
func service(t testing.TB, c *Cluster, id string) *Service {
	t.Helper()
	for i := range c.Services {
		if NodeID(c.Services[i].Namespace, c.Services[i].Name) == id {
			return &c.Services[i]
		}
	}
	t.Fatalf("fixture has no service %s", id)
	return nil
}

// principal is the SPIFFE id of a bookinfo workload's service account.
func principal(namespace, workload string) string {
	app, _, _ := strings.Cut(workload, "-v")
	return "spiffe://cluster.local/ns/" + namespace + "/sa/bookinfo-" + app
}

// sample is one series from workload from ("<ns>/<workload>" or "unknown")
// to the service to ("<ns>/<service>"), served by workload <service>-v1.
// A server's report of mTLS carries both principals.
func sample(reporter, from, to, security string, rate float64) Sample {
	s := Sample{Reporter: reporter, Protocol: ProtocolHTTP, Security: security, Rate: rate}
	if from != Unknown {
		s.Source.Namespace, s.Source.Workload, _ = strings.Cut(from, "/")
	}
	ns, name, _ := strings.Cut(to, "/")
	s.Service = ServiceRef{Namespace: ns, Name: name}
	s.Destination = Peer{Namespace: ns, Workload: name + "-v1"}
	if security == SecurityMutualTLS {
		if from != Unknown {
			s.Source.Principal = principal(s.Source.Namespace, s.Source.Workload)
		}
		s.Destination.Principal = principal(ns, s.Destination.Workload)
	}
	return s
}

func mtls(from, to string, rate float64) Sample {
	return sample(ReporterServer, from, to, SecurityMutualTLS, rate)
}

func plaintext(from, to string, rate float64) Sample {
	return sample(ReporterServer, from, to, SecurityPlaintext, rate)
}

// fromSource is what the client sidecar reports: it cannot tell the security.
func fromSource(from, to string, rate float64) Sample {
	return sample(ReporterClient, from, to, SecurityUnknown, rate)
}

func tcp(s Sample) Sample {
	s.Protocol = ProtocolTCP
	return s
}

// bookinfoTraffic is a healthy bookinfo with a plaintext legacy caller.
func bookinfoTraffic() []Sample {
	return []Sample{
		mtls("default/productpage-v1", "default/details", 1),
		mtls("default/productpage-v1", "default/reviews", 1.25),
		mtls("default/reviews-v2", "default/ratings", 0.5),
		mtls("default/reviews-v3", "default/ratings", 0.5),
		plaintext(Unknown, "default/ratings", 0.25),
		fromSource("default/productpage-v1", "default/details", 1),
		fromSource("default/productpage-v1", "default/reviews", 1.25),
	}
}

func build(samples []Sample, c Cluster) Snapshot {
	return Build(samples, c, BuildOptions{GeneratedAt: testTime, Window: "1m"})
}

func findEdge(s Snapshot, id string) (Edge, bool) {
	for _, e := range s.Edges {
		if e.ID == id {
			return e, true
		}
	}
	return Edge{}, false
}

func findNode(s Snapshot, id string) (Node, bool) {
	for _, n := range s.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return Node{}, false
}

func findFinding(s Snapshot, id string) (Finding, bool) {
	for _, f := range s.Findings {
		if f.ID == id {
			return f, true
		}
	}
	return Finding{}, false
}

func edgeIDsOf(s Snapshot) []string {
	ids := make([]string, len(s.Edges))
	for i, e := range s.Edges {
		ids[i] = e.ID
	}
	return ids
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}
