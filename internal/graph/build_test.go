// Tests of Build: edges, nodes, the snapshot header and empty lists, bookinfo, bad input values,
// and a randomised loop checking the output's invariants and independence from sample order.

package graph

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const (
	productpage = "default/productpage"
	details     = "default/details"
	reviews     = "default/reviews"
	ratings     = "default/ratings"
)

var (
	productpagePrincipal = principal("default", "productpage-v1")
	reviewsPrincipal     = principal("default", "reviews-v1")
	ratingsPrincipal     = principal("default", "ratings-v1")
)

func edge(source, target, protocol string, rate, ratio float64, status, sourcePrincipal, destinationPrincipal string) Edge {
	return Edge{
		ID: EdgeID(source, target, protocol), Source: source, Target: target, Protocol: protocol,
		Rate: rate, MTLSRatio: ratio, Status: status,
		SourcePrincipal: sourcePrincipal, DestinationPrincipal: destinationPrincipal,
	}
}

func TestBuildEdges(t *testing.T) {
	tests := []struct {
		name    string
		samples []Sample
		cluster func(*Cluster)
		want    []Edge
	}{
		{
			name:    "locked: all destination-reported traffic is mTLS",
			samples: []Sample{mtls("default/productpage-v1", reviews, 1.25)},
			want:    []Edge{edge(productpage, reviews, "http", 1.25, 1, StatusLocked, productpagePrincipal, reviewsPrincipal)},
		},
		{
			name: "mixed: ratio is the mTLS share of the rate",
			samples: []Sample{
				mtls("default/productpage-v1", reviews, 3),
				plaintext("default/productpage-v1", reviews, 1),
			},
			want: []Edge{edge(productpage, reviews, "http", 4, 0.75, StatusMixed, productpagePrincipal, reviewsPrincipal)},
		},
		{
			name: "mixed even when the plaintext share is tiny",
			samples: []Sample{
				mtls("default/productpage-v1", reviews, 1e6),
				plaintext("default/productpage-v1", reviews, 1e-300),
			},
			want: []Edge{edge(productpage, reviews, "http", 1e6, 1, StatusMixed, productpagePrincipal, reviewsPrincipal)},
		},
		{
			name:    "open: no mTLS, and no principals for plaintext",
			samples: []Sample{plaintext("default/productpage-v1", reviews, 2)},
			want:    []Edge{edge(productpage, reviews, "http", 2, 0, StatusOpen, "", "")},
		},
		{
			name: "unknown: only the client side reported",
			samples: []Sample{
				fromSource("default/productpage-v1", reviews, 1.5),
				fromSource("default/productpage-v1", reviews, 0.5),
			},
			want: []Edge{edge(productpage, reviews, "http", 2, 0, StatusUnknown, "", "")},
		},
		{
			name: "the source side's report matching the destination's adds nothing",
			samples: []Sample{
				fromSource("default/productpage-v1", reviews, 1),
				mtls("default/productpage-v1", reviews, 1),
			},
			want: []Edge{edge(productpage, reviews, "http", 1, 1, StatusLocked, productpagePrincipal, reviewsPrincipal)},
		},
		{
			name: "a zero destination-side rate counts as no destination-side sample",
			samples: []Sample{
				mtls("default/productpage-v1", reviews, 0),
				fromSource("default/productpage-v1", reviews, 2),
			},
			want: []Edge{edge(productpage, reviews, "http", 2, 0, StatusUnknown, "", "")},
		},
		{
			name: "edges without traffic in the window are dropped",
			samples: []Sample{
				mtls("default/productpage-v1", reviews, 0),
				fromSource("default/productpage-v1", details, 0),
			},
			want: []Edge{},
		},
		{
			name:    "waypoint reports count as destination side",
			samples: []Sample{sample(ReporterServer, "default/productpage-v1", reviews, SecurityMutualTLS, 2)},
			want:    []Edge{edge(productpage, reviews, "http", 2, 1, StatusLocked, productpagePrincipal, reviewsPrincipal)},
		},
		{
			name: "tcp and http between the same nodes are separate edges",
			samples: []Sample{
				tcp(mtls("default/reviews-v1", ratings, 2048)),
				plaintext("default/reviews-v1", ratings, 1),
			},
			want: []Edge{
				edge(reviews, ratings, "http", 1, 0, StatusOpen, "", ""),
				edge(reviews, ratings, "tcp", 2048, 1, StatusLocked, reviewsPrincipal, ratingsPrincipal),
			},
		},
		{
			name: "the caller's workload is selected by a Service: the edge starts at the Service",
			samples: []Sample{
				mtls("default/reviews-v2", ratings, 1),
				mtls("default/reviews-v3", ratings, 2),
			},
			want: []Edge{edge(reviews, ratings, "http", 3, 1, StatusLocked, principal("default", "reviews-v3"), ratingsPrincipal)},
		},
		{
			name:    "a workload selected by several Services belongs to the first by name",
			samples: []Sample{mtls("default/reviews-v1", ratings, 1)},
			cluster: func(c *Cluster) {
				c.Services = append(c.Services, Service{Namespace: "default", Name: "reviews-canary", Workloads: []string{"reviews-v1"}, InMesh: true},
					Service{Namespace: "default", Name: "a-reviews", Workloads: []string{"reviews-v1"}, InMesh: true})
			},
			want: []Edge{edge("default/a-reviews", ratings, "http", 1, 1, StatusLocked, reviewsPrincipal, ratingsPrincipal)},
		},
		{
			name:    "unknown caller: the single node unknown",
			samples: []Sample{plaintext(Unknown, ratings, 0.25), plaintext(Unknown, reviews, 0.5)},
			want: []Edge{
				edge(Unknown, ratings, "http", 0.25, 0, StatusOpen, "", ""),
				edge(Unknown, reviews, "http", 0.5, 0, StatusOpen, "", ""),
			},
		},
		{
			name: "duplicate series are summed",
			samples: []Sample{
				mtls("default/productpage-v1", reviews, 1),
				mtls("default/productpage-v1", reviews, 1),
				plaintext("default/productpage-v1", reviews, 2),
			},
			want: []Edge{edge(productpage, reviews, "http", 4, 0.5, StatusMixed, productpagePrincipal, reviewsPrincipal)},
		},
		{
			name: "principals: the highest rate wins, unknown is never shown",
			samples: func() []Sample {
				a := mtls("default/productpage-v1", reviews, 1)
				a.Source.Principal = "spiffe://a"
				b := mtls("default/productpage-v1", reviews, 0.75)
				b.Source.Principal = "spiffe://b"
				b2 := b // b's rates add up to more than a's
				c := mtls("default/productpage-v1", reviews, 5)
				c.Source.Principal, c.Destination.Principal = "", ""
				return []Sample{a, b, b2, c}
			}(),
			want: []Edge{edge(productpage, reviews, "http", 7.5, 1, StatusLocked, "spiffe://b", reviewsPrincipal)},
		},
		{
			name: "principals: ties go to the lexically smallest",
			samples: func() []Sample {
				z := mtls("default/productpage-v1", reviews, 1)
				z.Source.Principal = "spiffe://z"
				a := mtls("default/productpage-v1", reviews, 1)
				a.Source.Principal = "spiffe://a"
				return []Sample{z, a}
			}(),
			want: []Edge{edge(productpage, reviews, "http", 2, 1, StatusLocked, "spiffe://a", reviewsPrincipal)},
		},
		{
			name: "destination service unknown: falls back to the destination workload's Service",
			samples: func() []Sample {
				s := mtls("default/productpage-v1", reviews, 1)
				s.Service = ServiceRef{}
				return []Sample{s}
			}(),
			want: []Edge{edge(productpage, reviews, "http", 1, 1, StatusLocked, productpagePrincipal, reviewsPrincipal)},
		},
		{
			name: "no identifiable destination: the sample is skipped",
			samples: func() []Sample {
				s := fromSource("default/productpage-v1", reviews, 1)
				s.Service, s.Destination = ServiceRef{}, Peer{}
				return []Sample{s}
			}(),
			want: []Edge{},
		},
		{
			name: "protocol labels are normalised",
			samples: func() []Sample {
				s := mtls("default/productpage-v1", reviews, 1)
				s.Protocol = "GRPC"
				return []Sample{s}
			}(),
			want: []Edge{edge(productpage, reviews, "grpc", 1, 1, StatusLocked, productpagePrincipal, reviewsPrincipal)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := bookinfo()
			if tt.cluster != nil {
				tt.cluster(&c)
			}
			got := build(tt.samples, c)
			if !reflect.DeepEqual(got.Edges, tt.want) {
				t.Errorf("edges:\n got %+v\nwant %+v", got.Edges, tt.want)
			}
		})
	}
}

func TestBuildNodes(t *testing.T) {
	tests := []struct {
		name    string
		samples []Sample
		cluster func(*Cluster)
		want    []Node // nodes that must exist, exactly
		absent  []string
	}{
		{
			name: "services without traffic are nodes, with their policy",
			cluster: func(c *Cluster) {
				r := service(t, c, reviews)
				r.PeerAuthentication, r.DestinationRuleTLS = ModeStrict, TLSIstioMutual
			},
			want: []Node{
				{ID: details, Namespace: "default", Name: "details", Kind: KindService, InMesh: true, PeerAuthentication: ModePermissive},
				{ID: reviews, Namespace: "default", Name: "reviews", Kind: KindService, InMesh: true, PeerAuthentication: ModeStrict, DestinationRuleTLS: TLSIstioMutual},
			},
			absent: []string{Unknown, "legacy/legacy-client", "default/reviews-v1"},
		},
		{
			name:    "an empty PeerAuthentication is UNSET",
			cluster: func(c *Cluster) { service(t, c, ratings).PeerAuthentication = "" },
			want:    []Node{{ID: ratings, Namespace: "default", Name: "ratings", Kind: KindService, InMesh: true, PeerAuthentication: ModeUnset}},
		},
		{
			name: "a Service listed twice is one node, the first listing; one without a name is skipped",
			cluster: func(c *Cluster) {
				c.Services = append(c.Services,
					Service{Namespace: "default", Name: "details", PeerAuthentication: ModeStrict},
					Service{Namespace: "default", Name: ""})
			},
			want:   []Node{{ID: details, Namespace: "default", Name: "details", Kind: KindService, InMesh: true, PeerAuthentication: ModePermissive}},
			absent: []string{"default/"},
		},
		{
			name:    "unknown caller",
			samples: []Sample{plaintext(Unknown, ratings, 0.25)},
			want:    []Node{{ID: Unknown, Name: Unknown, Kind: KindUnknown, PeerAuthentication: ModeUnset}},
		},
		{
			name:    "empty source workload is the unknown caller too",
			samples: func() []Sample { s := plaintext(Unknown, ratings, 1); s.Source.Workload = ""; return []Sample{s} }(),
			want:    []Node{{ID: Unknown, Name: Unknown, Kind: KindUnknown, PeerAuthentication: ModeUnset}},
		},
		{
			name:    "a workload without a Service is a workload node",
			samples: []Sample{mtls("batch/nightly-report", reviews, 1)},
			cluster: func(c *Cluster) {
				c.Workloads = append(c.Workloads, Workload{Namespace: "batch", Name: "nightly-report", DataPlane: DataPlaneSidecar})
			},
			want: []Node{{ID: "batch/nightly-report", Namespace: "batch", Name: "nightly-report", Kind: KindWorkload, InMesh: true, PeerAuthentication: ModeUnset, DataPlane: DataPlaneSidecar,
				ObservedPrincipals: []string{principal("batch", "nightly-report")}}},
		},
		{
			name:    "a workload the cluster does not list is not in the mesh",
			samples: []Sample{plaintext("batch/gone", reviews, 1)},
			want:    []Node{{ID: "batch/gone", Namespace: "batch", Name: "gone", Kind: KindWorkload, PeerAuthentication: ModeUnset}},
		},
		{
			name:    "destination service not in the cluster",
			samples: []Sample{fromSource("default/productpage-v1", "shop/cart", 1)},
			want:    []Node{{ID: "shop/cart", Namespace: "shop", Name: "cart", Kind: KindService, PeerAuthentication: ModeUnset}},
		},
		{
			name: "a workload node and an observed service with the same id are one service node, whatever the order",
			samples: []Sample{
				plaintext("shop/cart", reviews, 1),
				fromSource("default/productpage-v1", "shop/cart", 1),
			},
			cluster: func(c *Cluster) {
				c.Workloads = append(c.Workloads, Workload{Namespace: "shop", Name: "cart", DataPlane: DataPlaneSidecar})
			},
			want: []Node{{ID: "shop/cart", Namespace: "shop", Name: "cart", Kind: KindService, PeerAuthentication: ModeUnset}},
		},
		{
			name:    "nodes of dropped edges are not shown",
			samples: []Sample{plaintext(Unknown, ratings, 0), mtls("batch/x", reviews, 0)},
			absent:  []string{Unknown, "batch/x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := bookinfo()
			if tt.cluster != nil {
				tt.cluster(&c)
			}
			got := build(tt.samples, c)
			for _, want := range tt.want {
				n, ok := findNode(got, want.ID)
				if !ok {
					t.Errorf("node %s missing; nodes: %+v", want.ID, got.Nodes)
				} else if !reflect.DeepEqual(n, want) {
					t.Errorf("node %s:\n got %+v\nwant %+v", want.ID, n, want)
				}
			}
			for _, id := range tt.absent {
				if _, ok := findNode(got, id); ok {
					t.Errorf("node %s present, want absent", id)
				}
			}
			for _, svc := range c.Services {
				if _, ok := findNode(got, NodeID(svc.Namespace, svc.Name)); !ok && svc.Name != "" {
					t.Errorf("service %s/%s is not a node", svc.Namespace, svc.Name)
				}
			}
			checkInvariants(t, got)
		})
	}

	// The shared-id case must not depend on the order of the samples.
	c := bookinfo()
	c.Workloads = append(c.Workloads, Workload{Namespace: "shop", Name: "cart", DataPlane: DataPlaneSidecar})
	a := build([]Sample{plaintext("shop/cart", reviews, 1), fromSource("default/productpage-v1", "shop/cart", 1)}, c)
	b := build([]Sample{fromSource("default/productpage-v1", "shop/cart", 1), plaintext("shop/cart", reviews, 1)}, c)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("order of samples changed the snapshot:\n%+v\n%+v", a, b)
	}
}

func TestBuildSnapshotHeaderAndEmptyLists(t *testing.T) {
	got := Build(nil, Cluster{}, BuildOptions{GeneratedAt: testTime, Window: "5m"})
	if !got.GeneratedAt.Equal(testTime) || got.Window != "5m" || got.Stale || got.Error != "" {
		t.Errorf("header = %v %q %v %q", got.GeneratedAt, got.Window, got.Stale, got.Error)
	}
	js := mustJSON(t, got)
	for _, want := range []string{`"nodes":[]`, `"edges":[]`, `"findings":[]`} {
		if !strings.Contains(js, want) {
			t.Errorf("JSON %s lacks %s", js, want)
		}
	}
}

func TestBuildBookinfo(t *testing.T) {
	got := build(bookinfoTraffic(), bookinfo())
	wantEdges := []Edge{
		edge(productpage, details, "http", 1, 1, StatusLocked, productpagePrincipal, principal("default", "details-v1")),
		edge(productpage, reviews, "http", 1.25, 1, StatusLocked, productpagePrincipal, reviewsPrincipal),
		edge(reviews, ratings, "http", 1, 1, StatusLocked, principal("default", "reviews-v2"), ratingsPrincipal),
		edge(Unknown, ratings, "http", 0.25, 0, StatusOpen, "", ""),
	}
	if !reflect.DeepEqual(got.Edges, wantEdges) {
		t.Errorf("edges:\n got %+v\nwant %+v", got.Edges, wantEdges)
	}
	wantNodes := []string{details, productpage, ratings, reviews, Unknown}
	var gotNodes []string
	for _, n := range got.Nodes {
		gotNodes = append(gotNodes, n.ID)
	}
	if !slices.Equal(gotNodes, wantNodes) {
		t.Errorf("nodes = %v, want %v", gotNodes, wantNodes)
	}
	checkInvariants(t, got)
}

// TestBuildBadInput feeds values Prometheus or a broken exporter could send.
func TestBuildBadInput(t *testing.T) {
	weird := []Sample{
		mtls("default/productpage-v1", reviews, math.NaN()),
		mtls("default/productpage-v1", reviews, math.Inf(1)),
		plaintext("default/productpage-v1", reviews, math.Inf(-1)),
		plaintext("default/productpage-v1", reviews, -3),
		mtls("default/productpage-v1", reviews, 2),
		mtls("default/productpage-v1", reviews, math.MaxFloat64),
		mtls("default/productpage-v1", reviews, math.MaxFloat64), // the sum overflows
		plaintext("default/productpage-v1", ratings, math.MaxFloat64),
		mtls("default/productpage-v1", ratings, math.MaxFloat64),
		{}, // every field empty
		{Reporter: "sideways", Rate: 1, Source: Peer{Workload: "x", Namespace: "y"}, Service: ServiceRef{Name: "z", Namespace: "y"}},
		{Reporter: ReporterServer, Rate: 1},
		{Reporter: ReporterServer, Rate: 1, Service: ServiceRef{Name: "only-name"}},
		{Reporter: ReporterClient, Rate: 1, Service: ServiceRef{Namespace: "default", Name: "details"}, Source: Peer{Workload: "w"}},
	}
	got := build(weird, bookinfo())
	checkInvariants(t, got)

	e, ok := findEdge(got, EdgeID(productpage, reviews, "http"))
	if !ok || e.Rate != math.MaxFloat64 || e.MTLSRatio != 1 || e.Status != StatusLocked {
		t.Errorf("overflowing edge = %+v (found %v), want saturated locked edge", e, ok)
	}
	e, ok = findEdge(got, EdgeID(productpage, ratings, "http"))
	if !ok || e.Status != StatusMixed || e.MTLSRatio < 0 || e.MTLSRatio > 1 {
		t.Errorf("saturated mixed edge = %+v (found %v)", e, ok)
	}
	// The source-side sample without source namespace or protocol still lands
	// at details, from unknown.
	if _, ok := findEdge(got, EdgeID(Unknown, details, Unknown)); !ok {
		t.Errorf("edges %v lack unknown->details:unknown", edgeIDsOf(got))
	}
	if len(got.Edges) != 3 {
		t.Errorf("edges = %v, want 3 (bad samples skipped)", edgeIDsOf(got))
	}
}

// TestBuildRandomSamples is a fuzz-style loop: whatever the labels and
// rates, Build does not panic, its output holds the invariants, and the
// order of the samples does not matter.
func TestBuildRandomSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(values ...string) string { return values[rng.IntN(len(values))] }
	rates := []float64{0, 1, 2, 0.5, 1024, -1, math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64}
	for iter := range 300 {
		samples := make([]Sample, rng.IntN(40))
		for i := range samples {
			samples[i] = Sample{
				Reporter: pick(ReporterClient, ReporterServer, "", "weird"),
				Protocol: pick(ProtocolHTTP, ProtocolGRPC, ProtocolTCP, "", "HTTP"),
				Measure:  pick(MeasureRequests, MeasureBytes, MeasureConnections, ""),
				Source: Peer{
					Workload:  pick("productpage-v1", "reviews-v2", "legacy-client", "batch", ""),
					Namespace: pick("default", "legacy", ""),
					Principal: pick("spiffe://a", "spiffe://cluster.local/ns/default/sa/bookinfo-reviews", ""),
				},
				Destination: Peer{
					Workload:  pick("reviews-v1", "ratings-v1", "cart", ""),
					Namespace: pick("default", "shop", ""),
					Principal: pick("spiffe://r", "spiffe://s", ""),
				},
				Service:  ServiceRef{Name: pick("reviews", "ratings", "cart", "details", ""), Namespace: pick("default", "shop", "")},
				Security: pick(SecurityMutualTLS, SecurityPlaintext, SecurityUnknown),
				Outcome:  pick(OutcomeDelivered, OutcomeDelivered, OutcomeHandshakeFailed, OutcomeLocal),
				Rate:     rates[rng.IntN(len(rates))],
			}
		}
		c := bookinfo()
		if iter%3 == 0 {
			service(t, &c, ratings).PeerAuthentication = ModeStrict
			service(t, &c, reviews).DestinationRuleTLS = TLSDisable
		}
		got := build(samples, c)
		checkInvariants(t, got)

		// Small integer rates add up exactly in any order; the overflowing
		// ones saturate in any order.
		shuffled := slices.Clone(samples)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if again := build(shuffled, c); mustJSON(t, again) != mustJSON(t, got) {
			t.Fatalf("iteration %d: shuffled samples built a different snapshot:\n%s\n%s", iter, mustJSON(t, got), mustJSON(t, again))
		}
		if t.Failed() {
			t.Fatalf("iteration %d: samples %+v", iter, samples)
		}
	}
}

// checkInvariants holds for every snapshot Build returns.
func checkInvariants(t *testing.T, s Snapshot) {
	t.Helper()
	if s.Nodes == nil || s.Edges == nil || s.Findings == nil {
		t.Errorf("nil list in snapshot: nodes %v edges %v findings %v", s.Nodes == nil, s.Edges == nil, s.Findings == nil)
	}
	if _, err := json.Marshal(s); err != nil {
		t.Errorf("snapshot does not encode: %v", err)
	}
	nodes := map[string]Node{}
	for i, n := range s.Nodes {
		if i > 0 && s.Nodes[i-1].ID >= n.ID {
			t.Errorf("nodes not sorted or not unique at %s", n.ID)
		}
		nodes[n.ID] = n
		wantID := ID{Cluster: n.Cluster, Namespace: n.Namespace, Name: n.Name}.String()
		if n.Kind == KindUnknown {
			wantID = Unknown
		}
		if n.ID != wantID {
			t.Errorf("node %+v: id should be %s", n, wantID)
		}
		if !slices.Contains([]string{ModeStrict, ModePermissive, ModeDisable, ModeUnset}, n.PeerAuthentication) {
			t.Errorf("node %s: peerAuthentication %q", n.ID, n.PeerAuthentication)
		}
	}
	for i, e := range s.Edges {
		if i > 0 && s.Edges[i-1].ID >= e.ID {
			t.Errorf("edges not sorted or not unique at %s", e.ID)
		}
		if e.ID != EdgeID(e.Source, e.Target, e.Protocol) {
			t.Errorf("edge id %s does not match its ends", e.ID)
		}
		if _, ok := nodes[e.Source]; !ok {
			t.Errorf("edge %s: no source node", e.ID)
		}
		if _, ok := nodes[e.Target]; !ok {
			t.Errorf("edge %s: no target node", e.ID)
		}
		// Rate 0 only on an edge of nothing but handshake failures.
		if !(e.Rate > 0 || (e.Rate == 0 && e.TLSFailureRate > 0)) || math.IsInf(e.Rate, 0) || math.IsInf(e.TLSFailureRate, 0) {
			t.Errorf("edge %s: rate %v, failing %v", e.ID, e.Rate, e.TLSFailureRate)
		}
		if !(e.MTLSRatio >= 0 && e.MTLSRatio <= 1) {
			t.Errorf("edge %s: mtlsRatio %v outside 0..1", e.ID, e.MTLSRatio)
		}
		switch e.Status {
		case StatusLocked:
			if e.MTLSRatio != 1 {
				t.Errorf("locked edge %s: ratio %v", e.ID, e.MTLSRatio)
			}
		case StatusOpen, StatusUnknown:
			if e.MTLSRatio != 0 || e.SourcePrincipal != "" || e.DestinationPrincipal != "" {
				t.Errorf("%s edge %s has mTLS data: %+v", e.Status, e.ID, e)
			}
		case StatusMixed:
		default:
			t.Errorf("edge %s: status %q", e.ID, e.Status)
		}
		if e.SourcePrincipal == Unknown || e.DestinationPrincipal == Unknown {
			t.Errorf("edge %s shows an unknown principal", e.ID)
		}
	}
	for i, f := range s.Findings {
		if i > 0 && compareFindings(s.Findings[i-1], f) >= 0 {
			t.Errorf("findings not sorted or not unique at %s", f.ID)
		}
		if !strings.HasPrefix(f.ID, f.Kind+":") || f.Message == "" || severityRank(f.Severity) > 2 {
			t.Errorf("malformed finding %+v", f)
		}
		for _, id := range f.Nodes {
			if _, ok := nodes[id]; !ok {
				t.Errorf("finding %s names missing node %s", f.ID, id)
			}
		}
		for _, id := range f.Edges {
			if _, ok := findEdge(s, id); !ok {
				t.Errorf("finding %s names missing edge %s", f.ID, id)
			}
		}
	}
}

func ExampleBuild() {
	s := Build(bookinfoTraffic(), bookinfo(), BuildOptions{GeneratedAt: testTime, Window: "1m"})
	for _, e := range s.Edges {
		fmt.Printf("%s %s %.2f\n", e.ID, e.Status, e.MTLSRatio)
	}
	// Output:
	// default/productpage->default/details:http locked 1.00
	// default/productpage->default/reviews:http locked 1.00
	// default/reviews->default/ratings:http locked 1.00
	// unknown->default/ratings:http open 0.00
}
