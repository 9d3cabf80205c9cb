// Tests of the findings: when each kind appears and when it does not, their order, and CallersCutByStrict.

package graph

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestFindings(t *testing.T) {
	tests := []struct {
		name    string
		samples []Sample
		cluster func(*Cluster)
		want    []Finding // compared whole, except Message, which must mention Nodes[0]
		absent  []string  // finding ids
	}{
		{
			name: "disable-towards-strict",
			cluster: func(c *Cluster) {
				r := service(t, c, reviews)
				r.PeerAuthentication, r.PeerAuthenticationSource = ModeStrict, "default/default"
				r.DestinationRuleTLS, r.DestinationRuleSource = TLSDisable, "default/reviews"
			},
			samples: []Sample{fromSource("default/productpage-v1", reviews, 1)},
			want: []Finding{{
				ID: "disable-towards-strict:default/reviews", Kind: FindingDisableTowardsStrict, Severity: SeverityCritical,
				Nodes:   []string{reviews, productpage},
				Edges:   []string{EdgeID(productpage, reviews, "http")},
				Objects: []string{"DestinationRule default/reviews", "PeerAuthentication default/default"},
			}},
		},
		{
			name: "disable-towards-strict absent when the server is PERMISSIVE",
			cluster: func(c *Cluster) {
				service(t, c, reviews).DestinationRuleTLS = TLSDisable
			},
			absent: []string{"disable-towards-strict:default/reviews"},
		},
		{
			name: "mtls-towards-no-sidecar",
			cluster: func(c *Cluster) {
				r := service(t, c, ratings)
				r.InMesh, r.DestinationRuleTLS, r.DestinationRuleSource = false, TLSIstioMutual, "default/ratings"
			},
			want: []Finding{{
				ID: "mtls-towards-no-sidecar:default/ratings", Kind: FindingMTLSTowardsNoSidecar, Severity: SeverityCritical,
				Nodes: []string{ratings}, Objects: []string{"DestinationRule default/ratings"},
			}},
		},
		{
			name: "mtls-towards-no-sidecar absent when the server has sidecars",
			cluster: func(c *Cluster) {
				service(t, c, ratings).DestinationRuleTLS = TLSIstioMutual
			},
			absent: []string{"mtls-towards-no-sidecar:default/ratings"},
		},
		{
			name:    "strict-but-plaintext",
			cluster: func(c *Cluster) { service(t, c, ratings).PeerAuthentication = ModeStrict },
			samples: bookinfoTraffic(),
			want: []Finding{{
				ID: "strict-but-plaintext:default/ratings", Kind: FindingStrictButPlaintext, Severity: SeverityWarning,
				Nodes:   []string{ratings, Unknown},
				Edges:   []string{EdgeID(Unknown, ratings, "http")},
				Objects: []string{"PeerAuthentication istio-system/default"},
			}},
			absent: []string{"strict-would-cut:default/ratings", "ready-for-strict:default/ratings"},
		},
		{
			name:    "strict-but-plaintext absent when all traffic is mTLS",
			cluster: func(c *Cluster) { service(t, c, reviews).PeerAuthentication = ModeStrict },
			samples: bookinfoTraffic(),
			absent:  []string{"strict-but-plaintext:default/reviews", "ready-for-strict:default/reviews"},
		},
		{
			name:    "ready-for-strict",
			samples: bookinfoTraffic(),
			want: []Finding{{
				ID: "ready-for-strict:default/reviews", Kind: FindingReadyForStrict, Severity: SeverityInfo,
				Nodes:   []string{reviews},
				Edges:   []string{EdgeID(productpage, reviews, "http")},
				Objects: []string{"PeerAuthentication istio-system/default"},
			}},
			// ratings has a plaintext caller; productpage has no caller at all.
			absent: []string{"ready-for-strict:default/ratings", "ready-for-strict:default/productpage"},
		},
		{
			name:    "ready-for-strict with UNSET",
			samples: []Sample{mtls("default/productpage-v1", reviews, 1)},
			cluster: func(c *Cluster) {
				r := service(t, c, reviews)
				r.PeerAuthentication, r.PeerAuthenticationSource = ModeUnset, ""
			},
			want: []Finding{{
				ID: "ready-for-strict:default/reviews", Kind: FindingReadyForStrict, Severity: SeverityInfo,
				Nodes: []string{reviews}, Edges: []string{EdgeID(productpage, reviews, "http")},
			}},
		},
		{
			name:    "ready-for-strict absent with a mixed or unknown caller, or outside the mesh",
			samples: []Sample{mtls("default/productpage-v1", reviews, 1), plaintext("default/productpage-v1", reviews, 1), fromSource("default/productpage-v1", details, 1), mtls("default/productpage-v1", ratings, 1)},
			cluster: func(c *Cluster) { service(t, c, ratings).InMesh = false },
			absent:  []string{"ready-for-strict:default/reviews", "ready-for-strict:default/details", "ready-for-strict:default/ratings"},
		},
		{
			name:    "strict-would-cut lists the plaintext callers",
			samples: append(bookinfoTraffic(), plaintext("default/productpage-v1", ratings, 1), mtls("default/productpage-v1", ratings, 1)),
			want: []Finding{{
				ID: "strict-would-cut:default/ratings", Kind: FindingStrictWouldCut, Severity: SeverityWarning,
				Nodes:   []string{ratings, productpage, Unknown},
				Edges:   []string{EdgeID(productpage, ratings, "http"), EdgeID(Unknown, ratings, "http")},
				Objects: []string{"PeerAuthentication istio-system/default"},
			}},
			absent: []string{"strict-would-cut:default/reviews", "strict-would-cut:default/details"},
		},
		{
			name:    "strict-would-cut counts unknown traffic from a caller outside the mesh",
			samples: []Sample{fromSource("batch/half-meshed", reviews, 1), fromSource("default/productpage-v1", reviews, 1)},
			want: []Finding{{
				ID: "strict-would-cut:default/reviews", Kind: FindingStrictWouldCut, Severity: SeverityWarning,
				Nodes:   []string{reviews, "batch/half-meshed"},
				Edges:   []string{EdgeID("batch/half-meshed", reviews, "http")},
				Objects: []string{"PeerAuthentication istio-system/default"},
			}},
		},
		{
			name:    "strict-would-cut absent without any sidecar to enforce STRICT",
			samples: bookinfoTraffic(),
			cluster: func(c *Cluster) { service(t, c, ratings).InMesh = false },
			absent:  []string{"strict-would-cut:default/ratings"},
		},
		{
			name:    "strict-would-cut absent when already STRICT",
			samples: bookinfoTraffic(),
			cluster: func(c *Cluster) { service(t, c, ratings).PeerAuthentication = ModeStrict },
			absent:  []string{"strict-would-cut:default/ratings"},
		},
		{
			name: "policy-unreadable, one per problem",
			cluster: func(c *Cluster) {
				c.Problems = []PolicyProblem{
					{Kind: "DestinationRule", Namespace: "default", Name: "reviews", Message: "unknown tls mode FOO."},
					{Kind: "PeerAuthentication", Namespace: "legacy", Name: "default", Message: "selector is not a map"},
					{Kind: "PeerAuthentication", Namespace: "legacy", Name: "default", Message: "listed twice"},
				}
			},
			want: []Finding{
				{ID: "policy-unreadable:DestinationRule default/reviews", Kind: FindingPolicyUnreadable, Severity: SeverityWarning, Objects: []string{"DestinationRule default/reviews"}},
				{ID: "policy-unreadable:PeerAuthentication legacy/default", Kind: FindingPolicyUnreadable, Severity: SeverityWarning, Objects: []string{"PeerAuthentication legacy/default"}},
			},
		},
		{
			name:   "policy-unreadable absent without problems",
			absent: []string{"policy-unreadable:DestinationRule default/reviews"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := bookinfo()
			if tt.cluster != nil {
				tt.cluster(&c)
			}
			got := build(tt.samples, c)
			checkInvariants(t, got)
			for _, want := range tt.want {
				f, ok := findFinding(got, want.ID)
				if !ok {
					t.Errorf("finding %s missing; got %v", want.ID, findingIDs(got))
					continue
				}
				subject := strings.TrimPrefix(want.ID, want.Kind+":")
				if !strings.Contains(f.Message, subject) || !strings.HasSuffix(f.Message, ".") {
					t.Errorf("message %q should be a sentence naming %s", f.Message, subject)
				}
				f.Message = ""
				if !reflect.DeepEqual(f, want) {
					t.Errorf("finding:\n got %+v\nwant %+v", f, want)
				}
			}
			for _, id := range tt.absent {
				if _, ok := findFinding(got, id); ok {
					t.Errorf("finding %s present, want absent", id)
				}
			}
		})
	}
}

func findingIDs(s Snapshot) []string {
	var ids []string
	for _, f := range s.Findings {
		ids = append(ids, f.ID)
	}
	return ids
}

func TestFindingsOrder(t *testing.T) {
	c := bookinfo()
	c.Problems = []PolicyProblem{{Kind: "DestinationRule", Namespace: "default", Name: "zz"}}
	r := service(t, &c, ratings)
	r.InMesh, r.PartlyInMesh, r.DestinationRuleTLS = false, true, TLSIstioMutual
	d := service(t, &c, details)
	d.PeerAuthentication, d.DestinationRuleTLS = ModeStrict, TLSDisable
	got := build(bookinfoTraffic(), c)
	want := []string{
		"disable-towards-strict:default/details",
		"mtls-towards-no-sidecar:default/ratings",
		"policy-unreadable:DestinationRule default/zz",
		"strict-would-cut:default/ratings", // partly in mesh: its sidecars would refuse
		"ready-for-strict:default/reviews",
	}
	if ids := findingIDs(got); !slices.Equal(ids, want) {
		t.Errorf("findings = %v\nwant %v", ids, want)
	}
}

func TestCallersCutByStrict(t *testing.T) {
	c := bookinfo()
	c.Workloads = append(c.Workloads, Workload{Namespace: "batch", Name: "half-meshed"})
	s := build([]Sample{
		mtls("default/productpage-v1", ratings, 1),                 // locked: kept working
		plaintext("default/reviews-v1", ratings, 1),                // open
		mtls("default/details-v1", ratings, 1),                     // mixed
		plaintext("default/details-v1", ratings, 1),                //
		plaintext(Unknown, ratings, 0.5),                           // open, from outside the mesh
		fromSource("batch/half-meshed", ratings, 1),                // unknown, caller outside the mesh
		tcp(fromSource("default/productpage-v1", ratings, 100)),    // unknown, caller in the mesh
		plaintext("default/productpage-v1", reviews, 1),            // another target
		tcp(plaintext("default/reviews-v1", ratings, 100)),         // open over tcp
		tcp(fromSource("default/productpage-v1", details, 100)),    // another target
		tcp(fromSource("default/productpage-v1", "shop/cart", 10)), // another target
	}, c)
	var got []string
	for _, e := range CallersCutByStrict(s, ratings) {
		got = append(got, e.ID)
	}
	want := []string{
		"batch/half-meshed->default/ratings:http",
		"default/details->default/ratings:http",
		"default/reviews->default/ratings:http",
		"default/reviews->default/ratings:tcp",
		"unknown->default/ratings:http",
	}
	if !slices.Equal(got, want) {
		t.Errorf("cut = %v\nwant %v", got, want)
	}
	if cut := CallersCutByStrict(s, "nowhere/none"); cut == nil || len(cut) != 0 {
		t.Errorf("no edges into an unknown target: got %#v, want empty", cut)
	}
}
