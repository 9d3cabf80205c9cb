// Tests of several clusters in the API (issue 24): enforce names its cluster and goes to that
// cluster's write side, the audit trails of all are read as one, undo goes where the action
// is kept, breaks follow each cluster's scope, and ?cluster= selects.

package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/k8s"
)

// twoClusterGraph: west's productpage calls reviews in west (plaintext)
// and in east (mTLS through the east-west gateway); east's legacy db has no
// sidecar and a caller in east.
func twoClusterGraph() graph.Snapshot {
	return graph.Snapshot{
		Clusters: []string{"east", "west"},
		Nodes: []graph.Node{
			{ID: "east/default/reviews", Cluster: "east", Namespace: "default", Name: "reviews", Kind: graph.KindService, InMesh: true, PeerAuthentication: "PERMISSIVE"},
			{ID: "east/legacy/db", Cluster: "east", Namespace: "legacy", Name: "db", Kind: graph.KindService, PeerAuthentication: "UNSET"},
			{ID: "east/legacy/app", Cluster: "east", Namespace: "legacy", Name: "app", Kind: graph.KindService, InMesh: true, PeerAuthentication: "UNSET"},
			{ID: "west/default/productpage", Cluster: "west", Namespace: "default", Name: "productpage", Kind: graph.KindService, InMesh: true, PeerAuthentication: "PERMISSIVE"},
			{ID: "west/default/reviews", Cluster: "west", Namespace: "default", Name: "reviews", Kind: graph.KindService, InMesh: true, PeerAuthentication: "PERMISSIVE"},
			{ID: "west/legacy/db", Cluster: "west", Namespace: "legacy", Name: "db", Kind: graph.KindService, PeerAuthentication: "UNSET"},
		},
		Edges: []graph.Edge{
			{ID: "west/default/productpage->west/default/reviews:http", Source: "west/default/productpage", Target: "west/default/reviews", Protocol: "http", Rate: 1, Status: graph.StatusOpen},
			{ID: "west/default/productpage->east/default/reviews:http", Source: "west/default/productpage", Target: "east/default/reviews", Protocol: "http", Rate: 1, MTLSRatio: 1, Status: graph.StatusLocked, CrossCluster: true},
			{ID: "east/legacy/app->east/legacy/db:tcp", Source: "east/legacy/app", Target: "east/legacy/db", Protocol: "tcp", Rate: 1, Status: graph.StatusOpen},
		},
	}
}

func clustersHandler(t *testing.T, west, east *scriptedEnforcer) http.Handler {
	t.Helper()
	actor := Actor{Who: "demo", ClusterClients: map[string]k8s.Clients{"west": {}, "east": {}}}
	handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: &fixedGraph{snapshot: twoClusterGraph()},
		Stream: http.NotFoundHandler(), Enforcers: map[string]Enforcer{"west": west, "east": east}, Auth: ServerIdentity{Actor: actor},
		AllowEnforce: true})
	if err != nil {
		t.Fatal(err)
	}
	return handler
}

func TestEnforceNamesItsCluster(t *testing.T) {
	for _, tc := range []struct {
		name           string
		body           string
		wantCode       int
		wantIn         string
		westN, eastN   int
		wantBreakOnto  string
		wantNoBreakFor string
	}{
		{"no cluster with several", `{"scope":"service","namespace":"default","service":"reviews","mode":"peerauthentication","dryRun":true}`, 400, "cluster is required", 0, 0, "", ""},
		{"an unknown cluster", `{"cluster":"north","scope":"mesh","mode":"peerauthentication","dryRun":true}`, 400, "unknown cluster", 0, 0, "", ""},
		// STRICT in west cuts west's plaintext caller of west's reviews,
		// and nothing of east's reviews, which east's policy decides.
		{"STRICT in west", `{"cluster":"west","scope":"service","namespace":"default","service":"reviews","mode":"peerauthentication","dryRun":true}`, 200, `"dryRun":true`, 1, 0,
			"west/default/reviews", "east/default/reviews"},
		// ISTIO_MUTUAL in east binds east's clients: east's app to a db
		// without a sidecar breaks; west's db is no concern of east's rule.
		{"ISTIO_MUTUAL in east", `{"cluster":"east","scope":"namespace","namespace":"legacy","mode":"destinationrule","dryRun":true}`, 200, `"dryRun":true`, 0, 1,
			"east/legacy/db", "west/legacy/db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			west, east := &scriptedEnforcer{}, &scriptedEnforcer{}
			code, body := do(t, clustersHandler(t, west, east), writeCase{"POST", "/api/enforce", tc.body, nil})
			if code != tc.wantCode || !strings.Contains(body, tc.wantIn) {
				t.Fatalf("%d %s, want %d with %q", code, body, tc.wantCode, tc.wantIn)
			}
			if len(west.requests) != tc.westN || len(east.requests) != tc.eastN {
				t.Errorf("west got %d requests, east %d; want %d, %d", len(west.requests), len(east.requests), tc.westN, tc.eastN)
			}
			if tc.wantBreakOnto == "" {
				return
			}
			var answer struct{ Breaks []breakView }
			if err := json.Unmarshal([]byte(body), &answer); err != nil {
				t.Fatal(err)
			}
			if len(answer.Breaks) != 1 || answer.Breaks[0].Target != tc.wantBreakOnto {
				t.Errorf("breaks = %+v, want one onto %s and none onto %s", answer.Breaks, tc.wantBreakOnto, tc.wantNoBreakFor)
			}
		})
	}
}

func TestEnforceOneClusterRefusesACluster(t *testing.T) {
	code, body := do(t, enforceHandler(t, &scriptedEnforcer{}, true, ServerIdentity{}), writeCase{"POST", "/api/enforce",
		`{"cluster":"west","scope":"mesh","mode":"peerauthentication","dryRun":true}`, nil})
	if code != 400 || !strings.Contains(body, "one cluster") {
		t.Errorf("%d %s", code, body)
	}
}

func TestActionsOfEveryClusterAndUndoWhereKept(t *testing.T) {
	west := &scriptedEnforcer{actions: []enforce.Action{{ID: "w1", Who: "demo"}}}
	east := &scriptedEnforcer{actions: []enforce.Action{{ID: "e1", Who: "demo"}}}
	h := clustersHandler(t, west, east)
	code, body := do(t, h, writeCase{"GET", "/api/actions", "", nil})
	var list []actionView
	if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil {
		t.Fatalf("%d %s", code, body)
	}
	if len(list) != 2 || list[0].ID != "e1" || list[0].Cluster != "east" || list[1].ID != "w1" || list[1].Cluster != "west" {
		t.Errorf("actions = %+v", list)
	}
	west.reads.Store(0)
	east.reads.Store(0)
	if code, body := do(t, h, writeCase{"POST", "/api/actions/e1/undo", "", nil}); code != 200 || !strings.Contains(body, `"cluster":"east"`) {
		t.Errorf("undo: %d %s", code, body)
	}
	if w, e := west.reads.Load(), east.reads.Load(); w != 1 || e != 1 {
		t.Errorf("undo read the trails west %d, east %d times, want once each", w, e)
	}
	if len(east.undone) != 1 || len(west.undone) != 0 {
		t.Errorf("undone in east %v, west %v", east.undone, west.undone)
	}
	if code, _ := do(t, h, writeCase{"POST", "/api/actions/x9/undo", "", nil}); code != 404 {
		t.Errorf("an action no cluster keeps: %d, want 404", code)
	}
}

func TestGraphClusterParam(t *testing.T) {
	h := clustersHandler(t, &scriptedEnforcer{}, &scriptedEnforcer{})
	code, body := get(t, h, "/api/graph?cluster=east")
	var s graph.Snapshot
	if err := json.Unmarshal([]byte(body), &s); code != 200 || err != nil {
		t.Fatalf("%d %s", code, body)
	}
	for _, n := range s.Nodes {
		if n.Cluster != "east" && n.ID != "west/default/productpage" { // the caller stays, at an edge's end
			t.Errorf("?cluster=east shows %s", n.ID)
		}
	}
	if len(s.Edges) != 2 {
		t.Errorf("edges = %+v", s.Edges)
	}
	if code, body := get(t, h, "/api/graph?cluster=a/b"); code != 400 || !strings.Contains(body, "invalid cluster") {
		t.Errorf("a bad name: %d %s", code, body)
	}
}
