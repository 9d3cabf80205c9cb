// Tests of token mode with several clusters (issue 24): each cluster reviews the token itself, a
// cluster that does not accept it is hidden (the hidden node, nothing named), rights are per
// cluster and namespace, /metrics, writes and open streams follow each cluster's answer.

package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/k8s"
)

// twoClusterTeams is twoClusterGraph with identity and findings in both
// clusters: what a viewer may not see must not show in any part.
func twoClusterTeams() graph.Snapshot {
	s := twoClusterGraph()
	s.Identity.Workloads = []graph.WorkloadIdentity{
		{Cluster: "east", Namespace: "legacy", Name: "app", ServiceAccount: "east-secret-sa"},
		{Cluster: "west", Namespace: "default", Name: "productpage", ServiceAccount: "productpage"},
	}
	s.Identity.Roots = []graph.Root{
		{RootCert: graph.RootCert{Fingerprint: "east-root"}, Namespaces: []string{"east/legacy"}},
		{RootCert: graph.RootCert{Fingerprint: "west-root"}, Namespaces: []string{"west/default"}},
	}
	s.Findings = []graph.Finding{
		{ID: "f-east", Kind: "plaintext", Severity: graph.SeverityWarning, Message: "db takes plaintext", Nodes: []string{"east/legacy/db"}},
		{ID: "f-west", Kind: "plaintext", Severity: graph.SeverityWarning, Message: "reviews takes plaintext", Nodes: []string{"west/default/reviews"}},
		// An object no cluster qualifies: it could be in either.
		{ID: "f-plain", Kind: "dr", Severity: graph.SeverityInfo, Message: "a rule", Objects: []string{"DestinationRule default/rule"}},
	}
	// east's API is down: its name is in the clusters, sources and error.
	s.Clusters = []string{"east", "west"}
	s.Sources = []graph.SourceStatus{{Name: "prometheus", OK: true}, {Name: "kubernetes/east", Cluster: "east", Error: "connection refused"},
		{Name: "kubernetes/west", Cluster: "west", OK: true}}
	s.Error = "kubernetes/east: connection refused"
	return s
}

// clusterKubes: alice is known in west only (every namespace there); bob in
// both, under another name in each, with rights in east's default only;
// admin everywhere; prom may get /metrics in east only.
func clusterKubes() (west, east *fakeKube) {
	west = &fakeKube{
		tokens: map[string]string{"alice-token": "alice", "bob-token": "bob.west", "admin-token": "admin"},
		rights: map[string][]string{"alice": {"*"}, "admin": {"*"}},
	}
	east = &fakeKube{
		tokens: map[string]string{"bob-token": "bob.east", "admin-token": "admin", "prom-token": "prom"},
		rights: map[string][]string{"bob.east": {"default"}, "admin": {"*"}, "prom": {"/metrics"}},
	}
	return west, east
}

func clusterTokenAuth(t *testing.T, ttl time.Duration, kubes map[string]*fakeKube) TokenAuth {
	t.Helper()
	auth := TokenAuth{Clusters: map[string]ClusterTokenAuth{}}
	for name, f := range kubes {
		auth.Clusters[name] = ClusterTokenAuth{Reviewer: newReviewer(t, f, KubeReviewerOptions{TTL: ttl}),
			ClientsFor: func(string) (k8s.Clients, error) { return k8s.Clients{}, nil }}
	}
	return auth
}

func clusterTokenHandler(t *testing.T, west, east *fakeKube, westW, eastW *scriptedEnforcer) http.Handler {
	t.Helper()
	handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: &fixedGraph{snapshot: twoClusterTeams()},
		Stream: http.NotFoundHandler(), Enforcers: map[string]Enforcer{"west": westW, "east": eastW},
		Auth: clusterTokenAuth(t, time.Minute, map[string]*fakeKube{"west": west, "east": east}), AllowEnforce: true})
	if err != nil {
		t.Fatal(err)
	}
	return handler
}

func graphAs(t *testing.T, handler http.Handler, token, path string) (graph.Snapshot, string) {
	t.Helper()
	rec := request(t, handler, http.MethodGet, path, token)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s as %s: %d %s", path, token, rec.Code, rec.Body)
	}
	var s graph.Snapshot
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	return s, rec.Body.String()
}

func ids[T any](items []T, id func(T) string) string {
	var out []string
	for _, it := range items {
		out = append(out, id(it))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func nodeIDs(s graph.Snapshot) string { return ids(s.Nodes, func(n graph.Node) string { return n.ID }) }
func edgeIDs(s graph.Snapshot) string { return ids(s.Edges, func(e graph.Edge) string { return e.ID }) }
func findingIDs(s graph.Snapshot) string {
	return ids(s.Findings, func(f graph.Finding) string { return f.ID })
}

// shownAnything says whether the graph's nodes, edges, findings or identity
// name any of leaks (the snapshot's cluster list and sources may).
func shownAnything(t *testing.T, s graph.Snapshot, leaks ...string) string {
	t.Helper()
	body, err := json.Marshal([]any{s.Nodes, s.Edges, s.Findings, s.Identity})
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range leaks {
		if strings.Contains(string(body), leak) {
			return leak
		}
	}
	return ""
}

func TestSeveralClustersAClusterThatRejectsTheTokenIsHidden(t *testing.T) {
	west, east := clusterKubes()
	handler := clusterTokenHandler(t, west, east, &scriptedEnforcer{}, &scriptedEnforcer{})
	s, _ := graphAs(t, handler, "alice-token", "/api/graph")
	if got, want := nodeIDs(s), "hidden west/default/productpage west/default/reviews west/legacy/db"; got != want {
		t.Errorf("alice's nodes: %s, want %s", got, want)
	}
	// west's caller of east's reviews leads to hidden; east's own edge is gone.
	if got, want := edgeIDs(s), "west/default/productpage->hidden:http west/default/productpage->west/default/reviews:http"; got != want {
		t.Errorf("alice's edges: %s, want %s", got, want)
	}
	if leak := shownAnything(t, s, "east", "legacy/app", "secret"); leak != "" {
		t.Errorf("alice's graph names %q: %+v", leak, s)
	}
	if got := findingIDs(s); got != "f-west" {
		t.Errorf("alice's findings: %s, want f-west (f-plain's object may be east's)", got)
	}
	if !slices.Equal(s.Clusters, []string{"west"}) || len(s.Sources) != 2 || s.Error != "a cluster you cannot see is not answering" {
		t.Errorf("alice's clusters %v, sources %+v, error %q", s.Clusters, s.Sources, s.Error)
	}
	if s.Posture.Counts[graph.StatusLocked] != 1 || s.Posture.Counts[graph.StatusOpen] != 1 {
		t.Errorf("alice's posture counts what she cannot see: %+v", s.Posture.Counts)
	}
	// ?namespace= names namespaces of any cluster; alice's are west's.
	if s, _ := graphAs(t, handler, "alice-token", "/api/graph?namespace=legacy"); nodeIDs(s) != "west/legacy/db" {
		t.Errorf("alice's legacy: %s", nodeIDs(s))
	}
	// Of east she sees nothing, not even its end of her own edge.
	if s, _ := graphAs(t, handler, "alice-token", "/api/graph?cluster=east"); len(s.Nodes) != 0 || len(s.Edges) != 0 {
		t.Errorf("alice's ?cluster=east: %s %s", nodeIDs(s), edgeIDs(s))
	}
	rec := request(t, handler, http.MethodGet, "/api/identity", "alice-token")
	var id graph.Identity
	if err := json.Unmarshal(rec.Body.Bytes(), &id); rec.Code != http.StatusOK || err != nil {
		t.Fatalf("alice's identity: %d %s", rec.Code, rec.Body)
	}
	if len(id.Workloads) != 1 || id.Workloads[0].Cluster != "west" || len(id.Roots) != 1 || id.Roots[0].Fingerprint != "west-root" || strings.Contains(rec.Body.String(), "east") {
		t.Errorf("alice's identity: %s", rec.Body)
	}
	rec = request(t, handler, http.MethodGet, "/", "alice-token")
	page := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(page, `<option value="default"`) || !strings.Contains(page, `<option value="legacy"`) || strings.Contains(page, "east/legacy") {
		t.Errorf("alice's page: %d, namespace choices wrong or east named", rec.Code)
	}
}

func TestSeveralClustersRightsArePerClusterAndNamespace(t *testing.T) {
	west, east := clusterKubes()
	handler := clusterTokenHandler(t, west, east, &scriptedEnforcer{}, &scriptedEnforcer{})
	s, _ := graphAs(t, handler, "bob-token", "/api/graph")
	if got, want := nodeIDs(s), "east/default/reviews hidden"; got != want {
		t.Errorf("bob's nodes: %s, want %s", got, want)
	}
	if got, want := edgeIDs(s), "hidden->east/default/reviews:http"; got != want {
		t.Errorf("bob's edges: %s, want %s", got, want)
	}
	if leak := shownAnything(t, s, "west/", "legacy", "productpage"); leak != "" {
		t.Errorf("bob's graph names %q", leak)
	}
	// His own namespace in west is not his: same name, another cluster.
	if s, _ := graphAs(t, handler, "bob-token", "/api/graph?namespace=default"); nodeIDs(s) != "east/default/reviews hidden" {
		t.Errorf("bob's default: %s", nodeIDs(s))
	}
	// admin is accepted and may list Services everywhere: the whole mesh.
	if s, _ := graphAs(t, handler, "admin-token", "/api/graph"); len(s.Nodes) != len(twoClusterTeams().Nodes) || findingIDs(s) != "f-east f-plain f-west" {
		t.Errorf("admin's graph: %s; %s", nodeIDs(s), findingIDs(s))
	}
	// /api/history: an edge of a cluster bob cannot see is no edge of his.
	if rec := request(t, handler, http.MethodGet, "/api/history?edge=east/legacy/app->east/legacy/db:tcp", "bob-token"); rec.Code != http.StatusNotFound {
		t.Errorf("history of a hidden edge: %d", rec.Code)
	}
}

func TestSeveralClustersNoClusterAcceptingIs401(t *testing.T) {
	west, east := clusterKubes()
	handler := clusterTokenHandler(t, west, east, &scriptedEnforcer{}, &scriptedEnforcer{})
	for _, token := range []string{"", "stolen"} {
		rec := request(t, handler, http.MethodGet, "/api/graph", token)
		if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("token %q: %d %s, want 401", token, rec.Code, rec.Body)
		}
		if body := rec.Body.String(); strings.Contains(body, "west") || strings.Contains(body, "east") {
			t.Errorf("token %q: the refusal names a cluster: %s", token, body)
		}
	}
	// A cluster that cannot be asked is hidden for the request; with none
	// to ask it is the single cluster's 503.
	east.set(func() { east.failing = true })
	handler = clusterTokenHandler(t, west, east, &scriptedEnforcer{}, &scriptedEnforcer{})
	if s, _ := graphAs(t, handler, "admin-token", "/api/graph"); strings.Contains(nodeIDs(s), "east/") || !strings.Contains(nodeIDs(s), "hidden") {
		t.Errorf("admin with east down: %s, want east hidden", nodeIDs(s))
	}
	if rec := request(t, handler, http.MethodGet, "/api/graph", "prom-token"); rec.Code != http.StatusUnauthorized {
		t.Errorf("east's user with east down and west rejecting: %d, want 401", rec.Code)
	}
	west.set(func() { west.failing = true })
	handler = clusterTokenHandler(t, west, east, &scriptedEnforcer{}, &scriptedEnforcer{})
	if rec := request(t, handler, http.MethodGet, "/api/graph", "admin-token"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("with every cluster down: %d, want 503", rec.Code)
	}
}

func TestSeveralClustersMetricsNeedTheRightInAnAcceptingCluster(t *testing.T) {
	west, east := clusterKubes()
	handler := clusterTokenHandler(t, west, east, &scriptedEnforcer{}, &scriptedEnforcer{})
	for _, tt := range []struct {
		token string
		want  int
	}{{"stolen", 401}, {"alice-token", 403}, {"bob-token", 403}, {"prom-token", 200}} {
		if rec := request(t, handler, http.MethodGet, "/metrics", tt.token); rec.Code != tt.want {
			t.Errorf("/metrics as %s: %d, want %d", tt.token, rec.Code, tt.want)
		}
	}
}

func TestSeveralClustersWritesGoOnlyWhereTheTokenIsAccepted(t *testing.T) {
	west, east := clusterKubes()
	westW, eastW := &scriptedEnforcer{}, &scriptedEnforcer{}
	handler := clusterTokenHandler(t, west, east, westW, eastW)
	doEnforce := func(token, cluster string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/api/enforce", strings.NewReader(
			`{"cluster":"`+cluster+`","scope":"namespace","namespace":"default","mode":"peerauthentication","dryRun":true}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec
	}
	if rec := doEnforce("alice-token", "east"); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "did not accept your token") {
		t.Errorf("alice writing to east: %d %s, want 403", rec.Code, rec.Body)
	}
	if rec := doEnforce("alice-token", "north"); rec.Code != http.StatusBadRequest {
		t.Errorf("an unknown cluster: %d, want 400", rec.Code)
	}
	if len(eastW.requests) != 0 {
		t.Errorf("east was asked %d times", len(eastW.requests))
	}
	// Each cluster's audit trail names the user that cluster knows.
	if rec := doEnforce("bob-token", "west"); rec.Code != http.StatusOK || !slices.Equal(westW.whos, []string{"bob.west"}) {
		t.Errorf("bob writing to west: %d, recorded as %v", rec.Code, westW.whos)
	}
	if rec := doEnforce("bob-token", "east"); rec.Code != http.StatusOK || !slices.Equal(eastW.whos, []string{"bob.east"}) {
		t.Errorf("bob writing to east: %d, recorded as %v", rec.Code, eastW.whos)
	}
	// east's trail is not read with alice's token, nor shown to her.
	eastW.actions = []enforce.Action{{ID: "e1", Who: "admin", Namespace: "default"}}
	rec := request(t, handler, http.MethodGet, "/api/actions", "alice-token")
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "e1") {
		t.Errorf("alice's actions: %d %s", rec.Code, rec.Body)
	}
	if rec := request(t, handler, http.MethodGet, "/api/actions", "bob-token"); !strings.Contains(rec.Body.String(), `"id":"e1"`) {
		t.Errorf("bob's actions lack east's e1 in east/default: %s", rec.Body)
	}
	// Undo reads each trail once, for whether bob may see the action and
	// for the cluster that keeps it; alice may not see it: 404, east untouched.
	westW.reads.Store(0)
	eastW.reads.Store(0)
	if rec := request(t, handler, http.MethodPost, "/api/actions/e1/undo", "bob-token"); rec.Code != http.StatusOK || !slices.Equal(eastW.undone, []string{"e1"}) {
		t.Errorf("bob's undo of e1: %d %s, undone in east %v", rec.Code, rec.Body, eastW.undone)
	}
	if w, e := westW.reads.Load(), eastW.reads.Load(); w != 1 || e != 1 {
		t.Errorf("undo read the trails west %d, east %d times, want once each", w, e)
	}
	if rec := request(t, handler, http.MethodPost, "/api/actions/e1/undo", "alice-token"); rec.Code != http.StatusNotFound || len(eastW.undone) != 1 {
		t.Errorf("alice's undo of e1: %d %s", rec.Code, rec.Body)
	}
}

func TestSeveralClustersStreamLosesAClusterThenCloses(t *testing.T) {
	west, east := clusterKubes()
	h, _ := newStreamHub(t, HubOptions{RecheckInterval: 50 * time.Millisecond})
	handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: &fixedGraph{snapshot: twoClusterTeams()},
		Stream: h, Enforcers: map[string]Enforcer{"west": &scriptedEnforcer{}, "east": &scriptedEnforcer{}},
		Auth: clusterTokenAuth(t, 50*time.Millisecond, map[string]*fakeKube{"west": west, "east": east}), Logger: streamLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
	})
	h.Publish(twoClusterTeams())

	c := followStream(t, dialStream(t, srv, "", bearer("admin-token")))
	if len(c.have.Nodes) != len(twoClusterTeams().Nodes) {
		t.Fatalf("admin's first snapshot: %s", nodeIDs(c.have))
	}
	east.set(func() { delete(east.tokens, "admin-token") })
	time.Sleep(100 * time.Millisecond)
	h.Publish(twoClusterTeams())
	c.replaced(t)
	if got := nodeIDs(c.have); strings.Contains(got, "east/") || !strings.Contains(got, "hidden") {
		t.Errorf("after east stopped accepting: %s", got)
	}
	west.set(func() { delete(west.tokens, "admin-token") })
	wantStreamClose(t, readStreamUntilClosed(c.conn), statusTokenInvalid, reasonTokenInvalid)
}
