// Ambient mode's reports read as Istio writes them (issue 21): ztunnel reports TCP only, from both
// ends, and its source side knows the wire; a waypoint's connection is counted once; ambient
// workloads are in the mesh.

package graph

import (
	"strings"
	"testing"
	"time"
)

// ambientCluster: shop/web (ambient) calls shop/cart (ambient), shop/legacy
// (no data plane), shop/api (a sidecar), and shop/orders through the
// waypoint shop/waypoint; default/productpage is a sidecar.
func ambientCluster() Cluster {
	svc := func(name string) Service {
		return Service{Namespace: "shop", Name: name, Workloads: []string{name}, InMesh: name != "legacy", PeerAuthentication: ModePermissive}
	}
	return Cluster{
		Namespaces: []string{"default", "shop"},
		Services:   []Service{svc("cart"), svc("legacy"), svc("api"), svc("orders")},
		Workloads: []Workload{
			{Namespace: "shop", Name: "web", DataPlane: DataPlaneAmbient},
			{Namespace: "shop", Name: "cart", DataPlane: DataPlaneAmbient},
			{Namespace: "shop", Name: "orders", DataPlane: DataPlaneAmbient},
			{Namespace: "shop", Name: "legacy", DataPlane: DataPlaneNone},
			{Namespace: "shop", Name: "api", DataPlane: DataPlaneSidecar},
			{Namespace: "shop", Name: "waypoint", DataPlane: DataPlaneWaypoint},
			{Namespace: "default", Name: "productpage", DataPlane: DataPlaneSidecar},
			{Namespace: "default", Name: "batch", DataPlane: DataPlaneNone},
		},
	}
}

// ztunnelSample is one of ztunnel's TCP reports (istio/ztunnel
// src/proxy/metrics.rs): reporter source or destination, security
// mutual_tls or unknown — prom maps a destination's unknown to plaintext
// and a source's mutual_tls to SecurityMutualTLS.
func ztunnelSample(reporter, from, to, service, security string, bytes float64) Sample {
	src, dst := splitID(from), splitID(to)
	return Sample{Reporter: reporter, Protocol: ProtocolTCP, Measure: MeasureBytes, Security: security,
		Source: Peer{Namespace: src[0], Workload: src[1]}, Destination: Peer{Namespace: dst[0], Workload: dst[1]},
		Service: ServiceRef{Namespace: "shop", Name: service}, Rate: bytes}
}

func splitID(id string) [2]string {
	p := ParseID(id)
	return [2]string{p.Namespace, p.Name}
}

func TestBuildAmbientReports(t *testing.T) {
	for _, tc := range []struct {
		name    string
		samples []Sample
		edge    string
		status  string
	}{
		{
			// Both ztunnels report the tunnel (outbound.rs, inbound.rs).
			name: "ambient to ambient over HBONE is locked",
			samples: []Sample{
				ztunnelSample(ReporterClient, "shop/web", "shop/cart", "cart", SecurityMutualTLS, 100),
				ztunnelSample(ReporterServer, "shop/web", "shop/cart", "cart", SecurityMutualTLS, 100),
			},
			edge: "shop/web->shop/cart:tcp", status: StatusLocked,
		},
		{
			// The destination's ztunnel not scraped: the caller's report of
			// its tunnel is the wire (it was unknown before ambient).
			name:    "an ambient caller's tunnel alone is locked",
			samples: []Sample{ztunnelSample(ReporterClient, "shop/web", "shop/cart", "cart", SecurityMutualTLS, 100)},
			edge:    "shop/web->shop/cart:tcp", status: StatusLocked,
		},
		{
			// To a workload no data plane captures, ztunnel sends plain TCP
			// and says unknown (outbound.rs: OutboundProtocol::TCP); nobody
			// else reports: the caller's word is plaintext, never unknown.
			name:    "ambient to a workload outside the mesh is open",
			samples: []Sample{ztunnelSample(ReporterClient, "shop/web", "shop/legacy", "legacy", SecurityUnknown, 100)},
			edge:    "shop/web->shop/legacy:tcp", status: StatusOpen,
		},
		{
			// ztunnel's inbound passthrough names the plaintext caller by its
			// IP (inbound_passthrough.rs), not the unknown node.
			name:    "plaintext into an ambient pod is open, from the named caller",
			samples: []Sample{ztunnelSample(ReporterServer, "default/batch", "shop/cart", "cart", SecurityPlaintext, 100)},
			edge:    "default/batch->shop/cart:tcp", status: StatusOpen,
		},
		{
			// A sidecar sends HBONE to an ambient endpoint whatever its
			// DestinationRule says (cluster_tls.go); its HTTP report says
			// nothing of security, ztunnel at the destination reports TCP.
			name: "a sidecar's requests to an ambient workload are locked",
			samples: []Sample{
				{Reporter: ReporterClient, Protocol: ProtocolHTTP, Source: Peer{Namespace: "default", Workload: "productpage"},
					Destination: Peer{Namespace: "shop", Workload: "cart"}, Service: ServiceRef{Namespace: "shop", Name: "cart"}, Rate: 5},
			},
			edge: "default/productpage->shop/cart:http", status: StatusLocked,
		},
		{
			// ztunnel sends plain TCP to a sidecar that does not take HBONE
			// (workloads.go setTunnelProtocol): plaintext on the wire.
			name: "ambient to a sidecar without the tunnel is plaintext",
			samples: []Sample{
				ztunnelSample(ReporterClient, "shop/web", "shop/api", "api", SecurityUnknown, 100),
				ztunnelSample(ReporterServer, "shop/web", "shop/api", "api", SecurityPlaintext, 100),
			},
			edge: "shop/web->shop/api:tcp", status: StatusOpen,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Build(tc.samples, ambientCluster(), BuildOptions{})
			e, ok := findEdge(s, tc.edge)
			if !ok || e.Status != tc.status {
				t.Errorf("edge %s: %+v (found %v), want %s; edges %v", tc.edge, e, ok, tc.status, edgeIDs(pointers(s.Edges)))
			}
		})
	}
}

// One connection through a waypoint is reported three times: by the
// caller's ztunnel (destination workload: the waypoint), by the waypoint
// (reporter="waypoint": the caller and the backend; istio/istio
// pilot/pkg/model/telemetry.go) and by the backend's ztunnel (source: the
// waypoint). It is counted once, on the caller → Service edge.
func TestBuildCountsAWaypointsConnectionOnce(t *testing.T) {
	samples := []Sample{
		ztunnelSample(ReporterClient, "shop/web", "shop/waypoint", "orders", SecurityMutualTLS, 1000),
		{Reporter: ReporterServer, Protocol: ProtocolHTTP, Security: SecurityMutualTLS, Source: Peer{Namespace: "shop", Workload: "web"},
			Destination: Peer{Namespace: "shop", Workload: "orders"}, Service: ServiceRef{Namespace: "shop", Name: "orders"}, Rate: 4},
		ztunnelSample(ReporterServer, "shop/waypoint", "shop/orders", "orders", SecurityMutualTLS, 1000),
	}
	s := Build(samples, ambientCluster(), BuildOptions{})
	if len(s.Edges) != 1 {
		t.Fatalf("edges %v, want the one caller → Service edge", edgeIDs(pointers(s.Edges)))
	}
	if e := s.Edges[0]; e.ID != "shop/web->shop/orders:http" || e.Status != StatusLocked || e.Rate != 4 {
		t.Errorf("edge %+v, want shop/web->shop/orders:http locked at 4 requests/s", e)
	}
}

// Ambient workloads are in the mesh (their node's ztunnel captures them).
func TestBuildAmbientWorkloadsAreInTheMesh(t *testing.T) {
	s := Build([]Sample{ztunnelSample(ReporterServer, "shop/web", "shop/cart", "cart", SecurityMutualTLS, 1)}, ambientCluster(), BuildOptions{})
	for _, n := range s.Nodes {
		if n.ID == "shop/web" && (!n.InMesh || n.DataPlane != DataPlaneAmbient) {
			t.Errorf("the ambient caller %+v, want in the mesh with dataPlane ambient", n)
		}
	}
}

func pointers(edges []Edge) []*Edge {
	out := make([]*Edge, len(edges))
	for i := range edges {
		out[i] = &edges[i]
	}
	return out
}

// The look-back remembers an ambient caller's plain TCP to a workload
// outside the mesh, reported by its ztunnel alone: the idle edge is open,
// with the time it last carried plaintext, not unknown.
func TestBuildAmbientCallerInTheLookback(t *testing.T) {
	last := testTime.Add(-3 * time.Hour)
	h := HistorySample{Sample: ztunnelSample(ReporterClient, "shop/web", "shop/legacy", "legacy", SecurityUnknown, 0), Volume: 5000, LastSeen: last}
	s := Build(nil, ambientCluster(), BuildOptions{GeneratedAt: testTime, History: []HistorySample{h}})
	e, ok := findEdge(s, "shop/web->shop/legacy:tcp")
	if !ok || !e.Idle || e.Status != StatusOpen || !e.History.PlaintextLastSeen.Equal(last) {
		t.Errorf("the idle ambient edge %+v (found %v), want open, plaintext last seen %s", e, ok, last)
	}
}

// STRICT in ambient mode: the destination's ztunnel opens a plaintext
// connection, counts it opened ("-", unknown) and closes it at once with
// DENY (istio/ztunnel src/proxy/inbound_passthrough.rs, metrics.rs
// ConnectionResult::record; the deny comes from istio/istio
// pilot/pkg/serviceregistry/ambient/policies.go). The caller is refused,
// not an open padlock, and a finding names it.
func TestBuildStrictRefusalsAreNotPlaintext(t *testing.T) {
	conn := func(outcome string, rate float64) Sample {
		s := ztunnelSample(ReporterServer, "default/batch", "shop/cart", "cart", SecurityPlaintext, rate)
		s.Measure, s.Outcome = MeasureConnections, outcome
		return s
	}
	s := Build([]Sample{conn(OutcomeDelivered, 2), conn(OutcomeRefused, 2)}, ambientCluster(), BuildOptions{})
	e, ok := findEdge(s, "default/batch->shop/cart:tcp")
	if !ok || e.Status == StatusOpen || e.Status == StatusMixed || e.RefusedRate != 2 {
		t.Errorf("the refused caller's edge %+v (found %v), want refusedRate 2 and no open padlock", e, ok)
	}
	found := false
	for _, f := range s.Findings {
		if f.Kind == FindingRefusedByPolicy && f.Nodes[0] == "shop/cart" && strings.Contains(f.Message, "default/batch") {
			found = true
		}
	}
	if !found {
		t.Errorf("no finding names the refused caller: %+v", s.Findings)
	}
	// Some plaintext got in besides: that part is still open.
	s = Build([]Sample{conn(OutcomeDelivered, 5), conn(OutcomeRefused, 2)}, ambientCluster(), BuildOptions{})
	if e, _ := findEdge(s, "default/batch->shop/cart:tcp"); e.Status != StatusOpen || e.RefusedRate != 2 {
		t.Errorf("plaintext that got in beside refusals: %+v, want open with refusedRate 2", e)
	}
}

// Ambient mode's findings: a namespace mixing data planes (info); DISABLE
// on an ambient workload, which ztunnel takes as PERMISSIVE (istio/istio
// pilot/pkg/serviceregistry/ambient/authorization.go); ambient callers of a
// sidecar that takes no HBONE (workloads.go setTunnelProtocol). No
// "DISABLE towards STRICT" for an ambient target, which a sidecar reaches
// over HBONE whatever its DestinationRule says (cluster_tls.go).
func TestBuildAmbientFindings(t *testing.T) {
	c := ambientCluster()
	for i := range c.Services {
		switch c.Services[i].Name {
		case "api":
			c.Services[i].DataPlane = DataPlaneSidecar
		case "cart":
			c.Services[i].DataPlane, c.Services[i].PeerAuthentication = DataPlaneAmbient, ModeDisable
			c.Services[i].L7PoliciesWithoutWaypoint = []string{"shop/allow-get (ALLOW)"}
		case "orders":
			c.Services[i].DataPlane, c.Services[i].PeerAuthentication = DataPlaneAmbient, ModeStrict
		}
	}
	c.ClientTLS = func(_, _, ns, name string) []ClientTLS {
		return []ClientTLS{{Port: 8080, TLS: TLSDisable, Rule: ns + "/" + name}}
	}
	samples := []Sample{
		ztunnelSample(ReporterClient, "shop/web", "shop/api", "api", SecurityUnknown, 100),
		ztunnelSample(ReporterServer, "shop/web", "shop/cart", "cart", SecurityMutualTLS, 100),
		{Reporter: ReporterClient, Protocol: ProtocolHTTP, Source: Peer{Namespace: "default", Workload: "productpage"},
			Destination: Peer{Namespace: "shop", Workload: "orders"}, Service: ServiceRef{Namespace: "shop", Name: "orders"}, Rate: 5},
	}
	s := Build(samples, c, BuildOptions{})
	kinds := map[string]Finding{}
	for _, f := range s.Findings {
		kinds[f.Kind+" "+f.Nodes[0]] = f
	}
	for _, want := range []string{
		FindingMixedDataPlanes + " shop/api",
		FindingDisableInAmbient + " shop/cart",
		FindingPlainTCPFromAmbient + " shop/api",
		FindingL7WithoutWaypoint + " shop/cart",
	} {
		if _, ok := kinds[want]; !ok {
			t.Errorf("no finding %q in %v", want, s.Findings)
		}
	}
	if f := kinds[FindingL7WithoutWaypoint+" shop/cart"]; f.Severity != SeverityCritical || len(f.Objects) != 1 || f.Objects[0] != "AuthorizationPolicy shop/allow-get" {
		t.Errorf("an ALLOW policy's L7 rules without a waypoint allow nothing: %+v, want critical naming the policy", f)
	}
	if f, ok := kinds[FindingDisableTowardsStrict+" shop/orders"]; ok {
		t.Errorf("a DestinationRule DISABLE towards an ambient STRICT workload refuses nothing: %+v", f)
	}
}

// In the look-back too, a caller STRICT refused is not plaintext that got
// in: its refused connections (closed with DENY) are subtracted from the
// plaintext opened; an edge of refusals only is no idle open padlock.
func TestBuildRefusalsInTheLookback(t *testing.T) {
	last := testTime.Add(-2 * time.Hour)
	opened := HistorySample{Sample: ztunnelSample(ReporterServer, "default/batch", "shop/cart", "cart", SecurityPlaintext, 0), Volume: 40, LastSeen: last}
	opened.Measure = MeasureConnections
	refused := opened
	refused.Outcome = OutcomeRefused
	s := Build(nil, ambientCluster(), BuildOptions{GeneratedAt: testTime, History: []HistorySample{opened, refused}})
	if e, ok := findEdge(s, "default/batch->shop/cart:tcp"); ok && (e.Status == StatusOpen || e.Status == StatusMixed || !e.History.PlaintextLastSeen.IsZero()) {
		t.Errorf("a refused caller in the look-back: %+v, want no plaintext", e)
	}
	// Without the refusals the same connections are plaintext that got in.
	s = Build(nil, ambientCluster(), BuildOptions{GeneratedAt: testTime, History: []HistorySample{opened}})
	if e, ok := findEdge(s, "default/batch->shop/cart:tcp"); !ok || e.Status != StatusOpen {
		t.Errorf("plaintext in the look-back: %+v (found %v), want open", e, ok)
	}
}

// An ALLOW policy whose rules ztunnel cannot enforce (L7 only, no
// waypoint) refuses even the tunnel: the destination's ztunnel counts the
// connections opened as mutual_tls and closes them with DENY, the caller's
// counts them opened too (its close says CONNECT). Nothing got through:
// no padlock, locked or open, and the refusals on the edge.
func TestBuildRefusedTunnelIsNotLocked(t *testing.T) {
	conn := func(reporter, outcome string) Sample {
		s := ztunnelSample(reporter, "shop/web", "shop/cart", "cart", SecurityMutualTLS, 3)
		s.Measure, s.Outcome = MeasureConnections, outcome
		return s
	}
	s := Build([]Sample{conn(ReporterClient, OutcomeDelivered), conn(ReporterServer, OutcomeDelivered), conn(ReporterServer, OutcomeRefused)},
		ambientCluster(), BuildOptions{})
	e, ok := findEdge(s, "shop/web->shop/cart:tcp")
	if !ok || e.Status != StatusUnknown || e.RefusedRate != 3 {
		t.Errorf("a refused tunnel's edge %+v (found %v), want unknown with refusedRate 3", e, ok)
	}
}
