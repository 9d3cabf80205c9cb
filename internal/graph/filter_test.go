// Tests of Filter: which nodes, edges and findings a namespace list keeps, and that the result shares no memory.

package graph

import (
	"reflect"
	"slices"
	"testing"
)

// filterFixture is bookinfo plus a Service in legacy that productpage calls,
// an idle Service in shop, and an unreadable rule in legacy.
func filterFixture(t *testing.T) Snapshot {
	c := bookinfo()
	c.Services = append(c.Services,
		Service{Namespace: "legacy", Name: "legacy-api", Workloads: []string{"legacy-api"}, PeerAuthentication: ModeUnset},
		Service{Namespace: "shop", Name: "cart", Workloads: []string{"cart"}, InMesh: true, PeerAuthentication: ModePermissive},
	)
	c.Problems = []PolicyProblem{{Kind: "DestinationRule", Namespace: "legacy", Name: "legacy-api", Message: "bad"}}
	s := build(append(bookinfoTraffic(), fromSource("default/productpage-v1", "legacy/legacy-api", 1)), c)
	checkInvariants(t, s)
	return s
}

func nodeIDsOf(s Snapshot) []string {
	ids := []string{}
	for _, n := range s.Nodes {
		ids = append(ids, n.ID)
	}
	return ids
}

func TestFilter(t *testing.T) {
	all := filterFixture(t)
	tests := []struct {
		name         string
		namespaces   []string
		wantNodes    []string
		wantEdges    []string
		wantFindings []string
	}{
		{
			name:       "a namespace keeps its nodes, edges touching them and their far ends",
			namespaces: []string{"legacy"},
			wantNodes:  []string{productpage, "legacy/legacy-api"},
			wantEdges:  []string{"default/productpage->legacy/legacy-api:http"},
			// The unreadable rule names no node but lives in legacy.
			wantFindings: []string{"policy-unreadable:DestinationRule legacy/legacy-api"},
		},
		{
			name:         "unknown is kept as an endpoint",
			namespaces:   []string{"default"},
			wantNodes:    []string{details, productpage, ratings, reviews, "legacy/legacy-api", Unknown},
			wantEdges:    edgeIDsOf(all),
			wantFindings: []string{"strict-would-cut:default/ratings", "ready-for-strict:default/details", "ready-for-strict:default/reviews"},
		},
		{
			name:         "several namespaces",
			namespaces:   []string{"shop", "legacy"},
			wantNodes:    []string{productpage, "legacy/legacy-api", "shop/cart"},
			wantEdges:    []string{"default/productpage->legacy/legacy-api:http"},
			wantFindings: []string{"policy-unreadable:DestinationRule legacy/legacy-api"},
		},
		{
			name:         "a namespace without traffic keeps only its nodes",
			namespaces:   []string{"shop"},
			wantNodes:    []string{"shop/cart"},
			wantEdges:    []string{},
			wantFindings: []string{},
		},
		{
			name:         "an unknown namespace keeps nothing",
			namespaces:   []string{"nope"},
			wantNodes:    []string{},
			wantEdges:    []string{},
			wantFindings: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Filter(all, tt.namespaces)
			if got.Nodes == nil || got.Edges == nil || got.Findings == nil {
				t.Fatalf("nil list: %+v", got)
			}
			wantNodes := slices.Sorted(slices.Values(tt.wantNodes))
			if ids := nodeIDsOf(got); !slices.Equal(ids, wantNodes) {
				t.Errorf("nodes = %v, want %v", ids, wantNodes)
			}
			if ids := edgeIDsOf(got); !slices.Equal(ids, tt.wantEdges) {
				t.Errorf("edges = %v, want %v", ids, tt.wantEdges)
			}
			if ids := findingIDs(got); !slices.Equal(ids, tt.wantFindings) {
				t.Errorf("findings = %v, want %v", ids, tt.wantFindings)
			}
			if !got.GeneratedAt.Equal(all.GeneratedAt) || got.Window != all.Window {
				t.Errorf("header not kept: %v %q", got.GeneratedAt, got.Window)
			}
		})
	}
}

func TestFilterCopies(t *testing.T) {
	for _, namespaces := range [][]string{nil, {"default"}} {
		in := filterFixture(t)
		want := filterFixture(t)
		got := Filter(in, namespaces)
		if namespaces == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("Filter with no namespaces changed the snapshot")
		}
		got.Nodes[0].Name = "changed"
		got.Edges[0].Rate = -1
		i := slices.IndexFunc(got.Findings, func(f Finding) bool { return len(f.Nodes) > 0 && len(f.Edges) > 0 })
		got.Findings[i].Nodes[0] = "changed"
		got.Findings[i].Edges[0] = "changed"
		if !reflect.DeepEqual(in, want) {
			t.Errorf("Filter(%v) result shares memory with its input", namespaces)
		}
	}
}
