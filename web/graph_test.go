// Tests of GET /api/graph (namespace filtering, invalid names) and of /readyz.

package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshlock/meshlock/internal/graph"
)

// fixedGraph is a GraphSource that answers a set snapshot.
type fixedGraph struct {
	snapshot graph.Snapshot
	notReady error
}

func (f *fixedGraph) Snapshot() graph.Snapshot { return f.snapshot }
func (f *fixedGraph) Ready() error             { return f.notReady }

func twoNamespaces() graph.Snapshot {
	return graph.Snapshot{
		GeneratedAt: time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC),
		Window:      "1m",
		Nodes: []graph.Node{
			{ID: "default/ratings", Namespace: "default", Name: "ratings", Kind: graph.KindService, InMesh: true, PeerAuthentication: "UNSET"},
			{ID: "default/reviews", Namespace: "default", Name: "reviews", Kind: graph.KindService, InMesh: true, PeerAuthentication: "UNSET"},
			{ID: "shop/cart", Namespace: "shop", Name: "cart", Kind: graph.KindService, InMesh: true, PeerAuthentication: "STRICT"},
		},
		Edges: []graph.Edge{
			{ID: "default/reviews->default/ratings:http", Source: "default/reviews", Target: "default/ratings", Protocol: "http", Rate: 1, MTLSRatio: 1, Status: graph.StatusLocked},
		},
		Findings: []graph.Finding{},
	}
}

func TestGraphEndpoint(t *testing.T) {
	tests := []struct {
		name      string
		query     string
		wantCode  int
		wantNodes []string
		wantError string
	}{
		{"everything", "", http.StatusOK, []string{"default/ratings", "default/reviews", "shop/cart"}, ""},
		{"one namespace", "?namespace=shop", http.StatusOK, []string{"shop/cart"}, ""},
		{"a list", "?namespace=shop,default", http.StatusOK, []string{"default/ratings", "default/reviews", "shop/cart"}, ""},
		{"a namespace that does not exist is an empty graph", "?namespace=nowhere", http.StatusOK, []string{}, ""},
		{"invalid name", "?namespace=Shop", http.StatusBadRequest, nil, `invalid namespace "Shop"`},
		{"invalid characters", "?namespace=a_b", http.StatusBadRequest, nil, "invalid namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: &fixedGraph{snapshot: twoNamespaces()}, Stream: http.NotFoundHandler(), Enforcer: &scriptedEnforcer{}, Auth: ServerIdentity{}})
			if err != nil {
				t.Fatal(err)
			}
			code, body := get(t, handler, "/api/graph"+tt.query)
			if code != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", code, tt.wantCode, body)
			}
			if tt.wantError != "" {
				var answer map[string]string
				if err := json.Unmarshal([]byte(body), &answer); err != nil || !strings.Contains(answer["error"], tt.wantError) {
					t.Fatalf("error body %q, want an error containing %q", body, tt.wantError)
				}
				return
			}
			var snapshot graph.Snapshot
			if err := json.Unmarshal([]byte(body), &snapshot); err != nil {
				t.Fatal(err)
			}
			ids := []string{}
			for _, n := range snapshot.Nodes {
				ids = append(ids, n.ID)
			}
			if strings.Join(ids, " ") != strings.Join(tt.wantNodes, " ") {
				t.Errorf("nodes %v, want %v", ids, tt.wantNodes)
			}
			if !strings.Contains(body, `"generatedAt":"2026-11-26T21:00:00Z"`) || !strings.Contains(body, `"window":"1m"`) {
				t.Errorf("snapshot fields missing: %s", body)
			}
		})
	}
}

func TestReadyz(t *testing.T) {
	source := &fixedGraph{notReady: errors.New("kubernetes caches are not synced yet")}
	handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: source, Stream: http.NotFoundHandler(), Enforcer: &scriptedEnforcer{}, Auth: ServerIdentity{}})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, handler, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "not synced") {
		t.Errorf("not ready: %d %s", code, body)
	}
	source.notReady = nil
	if code, _ := get(t, handler, "/readyz"); code != http.StatusOK {
		t.Errorf("ready: %d", code)
	}
}
