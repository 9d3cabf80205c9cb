// Tests that padlocks tell the truth on real-world meshes: partly injected Services, handshake
// failures, TCP measures, principal-only callers, gateways, per-caller DestinationRules.

package graph

import (
	"math"
	"slices"
	"testing"
)

// Tests of the rules that make a padlock true on meshes as people run them
// (issue 9): partly injected Services, handshake failures, TCP measures,
// callers known by principal only, gateways, per-caller DestinationRules.

const (
	productpageID = "default/productpage"
	reviewsID     = "default/reviews"
	ratingsID     = "default/ratings"
)

func failed(s Sample) Sample {
	s.Outcome = OutcomeHandshakeFailed
	return s
}

func local(s Sample) Sample {
	s.Outcome = OutcomeLocal
	return s
}

func measured(s Sample, measure string) Sample {
	s.Measure = measure
	return s
}

func mustEdge(t *testing.T, s Snapshot, id string) Edge {
	t.Helper()
	e, ok := findEdge(s, id)
	if !ok {
		t.Fatalf("edge %s missing; edges %v", id, edgeIDsOf(s))
	}
	return e
}

// Auto mTLS sends plaintext to the endpoints without a sidecar
// (pilot/pkg/xds/endpoints/mtls_checker.go), and only the client reports
// it: what the client sent beyond what the destination saw is not proven.
func TestPartlyInjectedServiceIsNeverLocked(t *testing.T) {
	pp, rv := "default/productpage-v1", reviewsID
	id := EdgeID(productpageID, reviewsID, ProtocolHTTP)
	tests := []struct {
		name       string
		source     float64 // what the client reported
		destMTLS   float64
		destPlain  float64
		wantStatus string
		wantRatio  float64
		wantRate   float64
	}{
		{"all endpoints report: locked", 10, 10, 0, StatusLocked, 1, 10},
		{"40% reached endpoints without sidecar", 10, 6, 0, StatusMixed, 0.6, 10},
		{"the excess within 5% is scrape skew", 10.5, 10, 0, StatusLocked, 1, 10},
		{"just past 5% is not", 10.55, 10, 0, StatusMixed, 10 / 10.55, 10.55},
		{"exactly 5% of the source's rate is still skew", 10, 9.5, 0, StatusLocked, 1, 9.5},
		{"plaintext at the destination and an excess: open", 10, 0, 5, StatusOpen, 0, 10},
		{"mTLS and plaintext at the destination, excess", 10, 4, 4, StatusMixed, 0.4, 10},
		{"the destination reporting more than the source (skew the other way)", 9, 10, 0, StatusLocked, 1, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			samples := []Sample{fromSource(pp, rv, tc.source)}
			if tc.destMTLS > 0 {
				samples = append(samples, mtls(pp, rv, tc.destMTLS))
			}
			if tc.destPlain > 0 {
				samples = append(samples, plaintext(pp, rv, tc.destPlain))
			}
			e := mustEdge(t, build(samples, bookinfo()), id)
			if e.Status != tc.wantStatus || math.Abs(e.MTLSRatio-tc.wantRatio) > 1e-9 || math.Abs(e.Rate-tc.wantRate) > 1e-9 {
				t.Errorf("edge = %s ratio %v rate %v; want %s ratio %v rate %v", e.Status, e.MTLSRatio, e.Rate, tc.wantStatus, tc.wantRatio, tc.wantRate)
			}
		})
	}
}

func TestPartlyInjectedServiceIsNotReadyForStrict(t *testing.T) {
	samples := []Sample{fromSource("default/productpage-v1", reviewsID, 10), mtls("default/productpage-v1", reviewsID, 6)}
	s := build(samples, bookinfo())
	if _, ok := findFinding(s, "ready-for-strict:"+reviewsID); ok {
		t.Error("ready-for-strict raised although 40% of the caller's traffic is not proven mTLS")
	}
	if _, ok := findFinding(s, "strict-would-cut:"+reviewsID); !ok {
		t.Errorf("strict-would-cut missing; findings %v", findingIDs(s))
	}
}

// A handshake refused (503 UF,URX) is neither mTLS nor plaintext: it is an
// outage, its own critical finding, and it does not count as traffic the
// destination failed to report.
func TestHandshakeFailures(t *testing.T) {
	pp := "default/productpage-v1"
	id := EdgeID(productpageID, reviewsID, ProtocolHTTP)
	t.Run("beside delivered mTLS", func(t *testing.T) {
		s := build([]Sample{
			fromSource(pp, reviewsID, 5),
			failed(fromSource(pp, reviewsID, 2)),
			mtls(pp, reviewsID, 5),
		}, bookinfo())
		e := mustEdge(t, s, id)
		if e.Status != StatusLocked || e.Rate != 5 || e.TLSFailureRate != 2 {
			t.Errorf("edge %+v, want locked at 5/s with 2/s failing", e)
		}
		f, ok := findFinding(s, "tls-handshake-failing:"+reviewsID)
		if !ok {
			t.Fatalf("no tls-handshake-failing finding; %v", findingIDs(s))
		}
		if f.Severity != SeverityCritical || !slices.Equal(f.Edges, []string{id}) || !slices.Equal(f.Nodes, []string{reviewsID, productpageID}) {
			t.Errorf("finding %+v", f)
		}
	})
	t.Run("nothing gets through", func(t *testing.T) {
		s := build([]Sample{failed(fromSource(pp, reviewsID, 3))}, bookinfo())
		e := mustEdge(t, s, id)
		if e.Status != StatusUnknown || e.Rate != 0 || e.TLSFailureRate != 3 {
			t.Errorf("edge %+v, want unknown, rate 0, 3/s failing", e)
		}
	})
	t.Run("requests the client's proxy answered itself count nowhere", func(t *testing.T) {
		s := build([]Sample{local(fromSource(pp, reviewsID, 4)), fromSource(pp, reviewsID, 1), mtls(pp, reviewsID, 1)}, bookinfo())
		if e := mustEdge(t, s, id); e.Status != StatusLocked || e.Rate != 1 || e.TLSFailureRate != 0 {
			t.Errorf("edge %+v, want locked at 1/s", e)
		}
	})
	t.Run("a TCP connection refused at the handshake", func(t *testing.T) {
		conn := failed(measured(tcp(fromSource(pp, reviewsID, 0.5)), MeasureConnections))
		s := build([]Sample{conn}, bookinfo())
		e := mustEdge(t, s, EdgeID(productpageID, reviewsID, ProtocolTCP))
		if e.TLSFailureRate != 0.5 || e.Status != StatusUnknown {
			t.Errorf("edge %+v", e)
		}
	})
}

func TestTCPMeasures(t *testing.T) {
	pp := "default/productpage-v1"
	id := EdgeID(productpageID, reviewsID, ProtocolTCP)
	t.Run("bytes decide when there are any", func(t *testing.T) {
		s := build([]Sample{
			measured(tcp(mtls(pp, reviewsID, 2048)), MeasureBytes),
			measured(tcp(plaintext(pp, reviewsID, 3)), MeasureConnections), // not mixed with bytes
		}, bookinfo())
		if e := mustEdge(t, s, id); e.Status != StatusLocked || e.Rate != 2048 {
			t.Errorf("edge %+v", e)
		}
	})
	t.Run("connections decide an edge that moved no bytes", func(t *testing.T) {
		s := build([]Sample{
			measured(tcp(mtls(pp, reviewsID, 1)), MeasureConnections),
			measured(tcp(plaintext(pp, reviewsID, 1)), MeasureConnections),
		}, bookinfo())
		if e := mustEdge(t, s, id); e.Status != StatusMixed || e.MTLSRatio != 0.5 || e.Rate != 2 {
			t.Errorf("edge %+v", e)
		}
	})
}

// mTLS TCP without metadata exchange names the caller by its certificate
// only (istio/proxy metadata_exchange: ALPN istio-peer-exchange).
func TestCallersKnownByPrincipalOnly(t *testing.T) {
	byPrincipal := func(p string, rate float64) Sample {
		s := measured(tcp(mtls(Unknown, ratingsID, rate)), MeasureBytes)
		s.Source.Principal = p
		return s
	}
	t.Run("one workload runs as the ServiceAccount", func(t *testing.T) {
		s := build([]Sample{byPrincipal("spiffe://example.org/ns/default/sa/bookinfo-productpage", 100)}, bookinfo())
		e := mustEdge(t, s, EdgeID(productpageID, ratingsID, ProtocolTCP))
		if e.Status != StatusLocked {
			t.Errorf("edge %+v", e)
		}
		if _, ok := findNode(s, Unknown); ok {
			t.Error("the unknown node stands for a caller with a mesh certificate")
		}
	})
	t.Run("workloads of one Service share it", func(t *testing.T) {
		s := build([]Sample{byPrincipal("spiffe://cluster.local/ns/default/sa/bookinfo-reviews", 100)}, bookinfo())
		mustEdge(t, s, EdgeID(reviewsID, ratingsID, ProtocolTCP))
	})
	t.Run("workloads of different Services share it", func(t *testing.T) {
		c := bookinfo()
		c.Workloads = append(c.Workloads, Workload{Namespace: "default", Name: "batch", ServiceAccounts: []string{"bookinfo-reviews"}, DataPlane: DataPlaneSidecar})
		s := build([]Sample{byPrincipal("spiffe://cluster.local/ns/default/sa/bookinfo-reviews", 100)}, c)
		mustEdge(t, s, EdgeID("default/sa:bookinfo-reviews", ratingsID, ProtocolTCP))
		if n, _ := findNode(s, "default/sa:bookinfo-reviews"); n.Kind != KindServiceAccount || !n.InMesh {
			t.Errorf("node %+v", n)
		}
	})
	t.Run("a principal of another trust domain is no workload of this mesh", func(t *testing.T) {
		c := bookinfo()
		c.TrustDomain = "corp.example"
		s := build([]Sample{byPrincipal("spiffe://other.example/ns/default/sa/bookinfo-productpage", 100)}, c)
		mustEdge(t, s, EdgeID(Unknown, ratingsID, ProtocolTCP))
		if s.TrustDomain != "corp.example" {
			t.Errorf("snapshot trust domain %q", s.TrustDomain)
		}
	})
	t.Run("a plaintext caller stays unknown", func(t *testing.T) {
		s := build([]Sample{measured(tcp(plaintext(Unknown, ratingsID, 10)), MeasureBytes)}, bookinfo())
		mustEdge(t, s, EdgeID(Unknown, ratingsID, ProtocolTCP))
	})
}

func TestParsePrincipal(t *testing.T) {
	for _, tc := range []struct {
		in         string
		td, ns, sa string
		wantOK     bool
	}{
		{"spiffe://cluster.local/ns/default/sa/web", "cluster.local", "default", "web", true},
		{"spiffe://corp.example/ns/a/sa/b", "corp.example", "a", "b", true},
		{"spiffe://cluster.local/ns/default/sa/", "", "", "", false},
		{"spiffe://cluster.local/ns/default", "", "", "", false},
		{"spiffe:///ns/a/sa/b", "", "", "", false},
		{"unknown", "", "", "", false},
		{"spiffe://cluster.local/ns/a/sa/b/extra", "", "", "", false},
	} {
		td, ns, sa, ok := ParsePrincipal(tc.in)
		if td != tc.td || ns != tc.ns || sa != tc.sa || ok != tc.wantOK {
			t.Errorf("ParsePrincipal(%q) = %q, %q, %q, %v", tc.in, td, ns, sa, ok)
		}
	}
}

// PeerAuthentication does not govern a gateway's listeners, so nothing
// proposes STRICT for it.
func TestGatewaysGetNoPeerAuthenticationAdvice(t *testing.T) {
	c := bookinfo()
	c.Services = append(c.Services, Service{Namespace: "istio-system", Name: "istio-ingressgateway", Workloads: []string{"istio-ingressgateway"},
		InMesh: true, Gateway: true, PeerAuthentication: ModePermissive})
	c.Workloads = append(c.Workloads, Workload{Namespace: "istio-system", Name: "istio-ingressgateway", ServiceAccounts: []string{"bookinfo-istio-ingressgateway"}, DataPlane: DataPlaneSidecar, Gateway: true})
	gw := "istio-system/istio-ingressgateway"
	s := build([]Sample{
		mtls("istio-system/istio-ingressgateway", productpageID, 3),
		plaintext(Unknown, gw, 5), // the internet
	}, c)
	if n, _ := findNode(s, gw); n.Kind != KindGateway {
		t.Errorf("gateway node %+v", n)
	}
	mustEdge(t, s, EdgeID(gw, productpageID, ProtocolHTTP))
	for _, f := range s.Findings {
		if slices.Contains(f.Nodes, gw) && f.Nodes[0] == gw {
			t.Errorf("finding about the gateway: %+v", f)
		}
	}
}

func TestPostureKeepsUnitsApart(t *testing.T) {
	pp := "default/productpage-v1"
	s := build([]Sample{
		mtls(pp, reviewsID, 3), plaintext(pp, "default/details", 1), // 3 of 4 req/s
		measured(tcp(mtls(pp, ratingsID, 1000)), MeasureBytes), // 1000 B/s mTLS
		fromSource("default/reviews-v1", "default/details", 2), // unknown: outside the ratio
	}, bookinfo())
	p := s.Posture
	if p.HTTP.Unit != UnitRequests || p.HTTP.Rate != 4 || p.HTTP.MTLSRate != 3 || p.HTTP.Ratio == nil || *p.HTTP.Ratio != 0.75 || p.HTTP.UnknownRate != 2 {
		t.Errorf("HTTP share %+v", p.HTTP)
	}
	if p.TCP.Unit != UnitBytes || p.TCP.Rate != 1000 || p.TCP.Ratio == nil || *p.TCP.Ratio != 1 {
		t.Errorf("TCP share %+v", p.TCP)
	}
	want := map[string]int{StatusLocked: 2, StatusMixed: 0, StatusOpen: 1, StatusUnknown: 1}
	for k, v := range want {
		if p.Counts[k] != v {
			t.Errorf("counts %v, want %v", p.Counts, want)
		}
	}
	if empty := ComputePosture(nil); empty.HTTP.Ratio != nil || empty.TCP.Ratio != nil {
		t.Errorf("no traffic has a ratio: %+v", empty)
	}
	// Filtering recomputes it for what is shown.
	if f := Filter(s, []string{"legacy"}); f.Posture.HTTP.Rate != 0 {
		t.Errorf("filtered posture %+v", f.Posture.HTTP)
	}
}

// Each sidecar gets its own DestinationRules (push_context.go
// destinationRule is asked per proxy), so one caller may send plaintext to
// a STRICT server while another sends mTLS.
func TestDestinationRulesPerCallingWorkload(t *testing.T) {
	c := bookinfo()
	r := service(t, &c, reviewsID)
	r.PeerAuthentication, r.PeerAuthenticationSource = ModeStrict, "default/strict"
	r.DestinationRuleTLS = TLSIstioMutual
	c.ClientTLS = func(clientNS, client, svcNS, svc string) []ClientTLS {
		switch {
		case svc != "reviews":
			return []ClientTLS{{Port: 9080}}
		case client == "batch":
			return []ClientTLS{{Port: 9080, TLS: TLSDisable, Rule: "jobs/reviews-plain"}}
		}
		return []ClientTLS{{Port: 9080, TLS: TLSIstioMutual, Rule: "default/reviews"}}
	}
	c.Workloads = append(c.Workloads, Workload{Namespace: "jobs", Name: "batch", ServiceAccounts: []string{"batch"}, DataPlane: DataPlaneSidecar})
	s := build([]Sample{
		mtls("default/productpage-v1", reviewsID, 2),
		failed(fromSource("jobs/batch", reviewsID, 1)),
	}, c)
	n, _ := findNode(s, reviewsID)
	want := []CallerTLS{
		{Caller: "default/productpage-v1", Port: 9080, TLS: TLSIstioMutual, Rule: "default/reviews"},
		{Caller: "jobs/batch", Port: 9080, TLS: TLSDisable, Rule: "jobs/reviews-plain"},
	}
	if n.DestinationRuleTLS != TLSVaries || !slices.Equal(n.CallerTLS, want) {
		t.Errorf("node TLS %q, callers %+v", n.DestinationRuleTLS, n.CallerTLS)
	}
	f, ok := findFinding(s, "disable-towards-strict:"+reviewsID)
	if !ok {
		t.Fatalf("no disable-towards-strict; %v", findingIDs(s))
	}
	if !slices.Equal(f.Edges, []string{EdgeID("jobs/batch", reviewsID, ProtocolHTTP)}) ||
		!slices.Equal(f.Objects, []string{"DestinationRule jobs/reviews-plain", "PeerAuthentication default/strict"}) {
		t.Errorf("finding names %v, %v; want only the batch caller and its rule", f.Edges, f.Objects)
	}

	// Callers that agree give the node their mode and no list.
	s = build([]Sample{mtls("default/productpage-v1", reviewsID, 2)}, c)
	if n, _ := findNode(s, reviewsID); n.DestinationRuleTLS != TLSIstioMutual || n.CallerTLS != nil {
		t.Errorf("node %+v", n)
	}
	// Without callers, the view from the Service's own namespace is judged.
	s = build(nil, c)
	if _, ok := findFinding(s, "disable-towards-strict:"+reviewsID); ok {
		t.Error("disable-towards-strict without a caller that gets DISABLE")
	}
}

func TestServicePortsReachTheNode(t *testing.T) {
	c := bookinfo()
	ports := []ServicePort{{Port: 80, TargetPort: 8080, Protocol: "http", PeerAuthentication: ModeStrict}, {Port: 9000, TargetPort: 9000, Protocol: "tcp", PeerAuthentication: ModePermissive}}
	r := service(t, &c, reviewsID)
	r.Ports, r.PeerAuthentication = ports, ModePermissive
	s := build(nil, c)
	if n, _ := findNode(s, reviewsID); !slices.Equal(n.Ports, ports) || n.PeerAuthentication != ModePermissive {
		t.Errorf("node %+v", n)
	}
}
