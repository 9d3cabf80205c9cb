// Tests of token auth: the reviewer's caching (answers cached, API errors not, bounded, expired JWTs),
// restricting snapshots to what a viewer may see, and token mode's page, graph and /metrics.

package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/k8s"
)

// fakeKube answers TokenReviews from tokens and SubjectAccessReviews from
// rights, and counts both.
type fakeKube struct {
	mu sync.Mutex
	// tokens: token → user name ("" rejected).
	tokens map[string]string
	// rights: user → namespaces where they may list Services ("*": all), and "/metrics" for the non-resource URL.
	rights map[string][]string
	// failing makes every review an API error.
	failing bool

	tokenReviews, accessReviews atomic.Int32
	lastAccess                  authorizationv1.SubjectAccessReviewSpec
}

func (f *fakeKube) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

func (f *fakeKube) clientset() *fake.Clientset {
	c := fake.NewClientset()
	c.PrependReactor("create", "tokenreviews", func(action k8stesting.Action) (bool, runtime.Object, error) {
		f.tokenReviews.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.failing {
			return true, nil, errors.New("connection refused")
		}
		review := action.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenReview).DeepCopy()
		if user, ok := f.tokens[review.Spec.Token]; ok && user != "" {
			review.Status.Authenticated = true
			review.Status.User = authenticationv1.UserInfo{Username: user, UID: "uid-" + user, Groups: []string{"team"}}
		} else {
			review.Status.Error = "invalid bearer token"
		}
		return true, review, nil
	})
	c.PrependReactor("create", "subjectaccessreviews", func(action k8stesting.Action) (bool, runtime.Object, error) {
		f.accessReviews.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.failing {
			return true, nil, errors.New("connection refused")
		}
		review := action.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview).DeepCopy()
		f.lastAccess = review.Spec
		for _, right := range f.rights[review.Spec.User] {
			switch attrs := review.Spec; {
			case attrs.NonResourceAttributes != nil:
				review.Status.Allowed = review.Status.Allowed || right == attrs.NonResourceAttributes.Path
			case attrs.ResourceAttributes.Verb == "list" && attrs.ResourceAttributes.Resource == "services":
				review.Status.Allowed = review.Status.Allowed || right == "*" || right == attrs.ResourceAttributes.Namespace && right != ""
			}
		}
		return true, review, nil
	})
	return c
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newReviewer(t *testing.T, f *fakeKube, opts KubeReviewerOptions) *KubeReviewer {
	t.Helper()
	opts.Kube = f.clientset()
	r, err := NewKubeReviewer(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// jwt makes an unsigned JWT with exp; only its payload matters here.
func jwt(exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(map[string]any{"sub": "system:serviceaccount:team-a:viewer", "exp": exp.Unix()})
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc(payload) + ".c2ln"
}

func TestReviewerCachesAnswersAndRejections(t *testing.T) {
	f := &fakeKube{tokens: map[string]string{"good": "alice"}}
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	r := newReviewer(t, f, KubeReviewerOptions{TTL: 2 * time.Second, Now: clk.Now})
	ctx := context.Background()

	for range 5 {
		if user, err := r.ReviewToken(ctx, "good"); err != nil || user.Username != "alice" || user.UID != "uid-alice" {
			t.Fatalf("good token: %+v %v", user, err)
		}
	}
	// A flood of the same bad token costs one review per TTL.
	for range 100 {
		if _, err := r.ReviewToken(ctx, "bad"); !errors.Is(err, k8s.ErrUnauthenticated) || !strings.Contains(err.Error(), "invalid bearer token") {
			t.Fatalf("bad token: %v", err)
		}
	}
	if n := f.tokenReviews.Load(); n != 2 {
		t.Errorf("%d TokenReviews for 105 checks of 2 tokens, want 2", n)
	}
	clk.add(2 * time.Second)
	f.set(func() { delete(f.tokens, "good") }) // revoked
	if _, err := r.ReviewToken(ctx, "good"); !errors.Is(err, k8s.ErrUnauthenticated) {
		t.Errorf("after the TTL a revoked token still passes: %v", err)
	}
	if n := f.tokenReviews.Load(); n != 3 {
		t.Errorf("%d TokenReviews, want 3: the TTL did not end the cached answer", n)
	}
}

func TestReviewerDoesNotCacheAPIErrors(t *testing.T) {
	f := &fakeKube{tokens: map[string]string{"good": "alice"}, failing: true}
	r := newReviewer(t, f, KubeReviewerOptions{TTL: time.Minute})
	ctx := context.Background()
	if _, err := r.ReviewToken(ctx, "good"); err == nil || errors.Is(err, k8s.ErrUnauthenticated) {
		t.Fatalf("an API error: %v, want an error that is not a rejection", err)
	}
	if _, err := r.CanListServices(ctx, authenticationv1.UserInfo{Username: "alice"}, "team-a"); err == nil {
		t.Fatal("an API error was an answer")
	}
	f.set(func() { f.failing = false })
	if user, err := r.ReviewToken(ctx, "good"); err != nil || user.Username != "alice" {
		t.Errorf("once the API is back: %+v %v (an error was cached)", user, err)
	}
}

func TestReviewerAccessReviewsCarryTheUserAndAreCached(t *testing.T) {
	f := &fakeKube{rights: map[string][]string{"alice": {"team-a"}}}
	r := newReviewer(t, f, KubeReviewerOptions{TTL: time.Minute})
	ctx := context.Background()
	user := authenticationv1.UserInfo{Username: "alice", UID: "u1", Groups: []string{"devs"}, Extra: map[string]authenticationv1.ExtraValue{"scope": {"x"}}}
	for range 3 {
		if ok, err := r.CanListServices(ctx, user, "team-a"); !ok || err != nil {
			t.Fatalf("team-a: %v %v", ok, err)
		}
		if ok, err := r.CanListServices(ctx, user, "team-b"); ok || err != nil {
			t.Fatalf("team-b: %v %v", ok, err)
		}
	}
	if n := f.accessReviews.Load(); n != 2 {
		t.Errorf("%d SubjectAccessReviews, want 2 (one per namespace)", n)
	}
	spec := f.lastAccess
	if spec.User != "alice" || spec.UID != "u1" || len(spec.Groups) != 1 || spec.Groups[0] != "devs" || spec.Extra["scope"][0] != "x" ||
		spec.ResourceAttributes.Verb != "list" || spec.ResourceAttributes.Resource != "services" {
		t.Errorf("the review asked %+v", spec)
	}
	// Another user with the same name but other groups is another question.
	if _, err := r.CanListServices(ctx, authenticationv1.UserInfo{Username: "alice", Groups: []string{"admins"}}, "team-a"); err != nil {
		t.Fatal(err)
	}
	if n := f.accessReviews.Load(); n != 3 {
		t.Errorf("%d SubjectAccessReviews, want 3: groups are part of the key", n)
	}
}

func TestReviewerCacheIsBounded(t *testing.T) {
	f := &fakeKube{}
	r := newReviewer(t, f, KubeReviewerOptions{TTL: time.Minute, MaxEntries: 50})
	for i := range 500 {
		_, _ = r.ReviewToken(context.Background(), fmt.Sprintf("bad-%d", i))
	}
	if n := r.tokens.len(); n > 50 {
		t.Errorf("the cache holds %d entries, want at most 50", n)
	}
}

func TestReviewerRejectsAnExpiredJWTWithoutAsking(t *testing.T) {
	f := &fakeKube{tokens: map[string]string{}}
	now := time.Unix(1_800_000_000, 0)
	expired := jwt(now.Add(-time.Second))
	f.tokens[expired] = "alice"
	r := newReviewer(t, f, KubeReviewerOptions{TTL: time.Minute, Now: func() time.Time { return now }})
	if _, err := r.ReviewToken(context.Background(), expired); !errors.Is(err, k8s.ErrUnauthenticated) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("an expired JWT: %v", err)
	}
	if n := f.tokenReviews.Load(); n != 0 {
		t.Errorf("%d TokenReviews for an expired JWT, want 0", n)
	}
	if exp, ok := tokenExpiry(jwt(now)); !ok || !exp.Equal(now) {
		t.Errorf("tokenExpiry: %v %v", exp, ok)
	}
	for _, token := range []string{"opaque", "a.b.c", "a." + base64.RawURLEncoding.EncodeToString([]byte(`{"exp":"soon"}`)) + ".c"} {
		if _, ok := tokenExpiry(token); ok {
			t.Errorf("tokenExpiry(%q) found an expiry", token)
		}
	}
}

// teams: team-a calls team-b, legacy (unknown) calls team-a; findings in both.
func teamsSnapshot() graph.Snapshot {
	return graph.Snapshot{
		GeneratedAt: time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC), Window: "1m",
		Nodes: []graph.Node{
			{ID: "team-a/web", Namespace: "team-a", Name: "web", Kind: graph.KindService, InMesh: true, PeerAuthentication: "UNSET",
				DestinationRuleTLS: graph.TLSVaries, CallerTLS: []graph.CallerTLS{
					{Caller: "team-a/front", Port: 80, TLS: "ISTIO_MUTUAL", Rule: "team-a/web"},
					{Caller: "team-b/secret-batch", Port: 80, TLS: "DISABLE", Rule: "team-b/secret-rule"},
				}, AuthorizationPolicies: []string{"istio-system/secret-mesh-deny", "team-a/web-callers"}},
			{ID: "team-a/front", Namespace: "team-a", Name: "front", Kind: graph.KindWorkload, InMesh: true},
			{ID: "team-b/secret-db", Namespace: "team-b", Name: "secret-db", Kind: graph.KindService, InMesh: true},
			{ID: "team-b/secret-batch", Namespace: "team-b", Name: "secret-batch", Kind: graph.KindWorkload, InMesh: true},
			{ID: "team-c/secret-api", Namespace: "team-c", Name: "secret-api", Kind: graph.KindService},
			{ID: "unknown", Kind: graph.KindUnknown},
		},
		Edges: []graph.Edge{
			{ID: "team-a/front->team-a/web:http", Source: "team-a/front", Target: "team-a/web", Protocol: "http", Rate: 4, MTLSRatio: 1, Status: graph.StatusLocked,
				Authorization: &graph.Authorization{Decision: graph.AuthzAllow, Policies: []string{"team-a/web-callers"}, DryRun: []string{"istio-system/secret-mesh-deny"}}},
			{ID: "team-a/web->team-b/secret-db:tcp", Source: "team-a/web", Target: "team-b/secret-db", Protocol: "tcp", Rate: 10, MTLSRatio: 1, Status: graph.StatusLocked,
				SourcePrincipal: "spiffe://cluster.local/ns/team-a/sa/web", DestinationPrincipal: "spiffe://cluster.local/ns/team-b/sa/secret-db",
				Authorization: &graph.Authorization{Decision: graph.AuthzDeny, Policies: []string{"team-b/secret-db-callers"}}},
			{ID: "team-b/secret-batch->team-a/web:http", Source: "team-b/secret-batch", Target: "team-a/web", Protocol: "http", Rate: 1, MTLSRatio: 0, Status: graph.StatusOpen,
				SourcePrincipal: "spiffe://cluster.local/ns/team-b/sa/secret-batch",
				Authorization:   &graph.Authorization{Decision: graph.AuthzDeny, Policies: []string{"team-a/web-callers"}}},
			{ID: "team-c/secret-api->team-a/web:http", Source: "team-c/secret-api", Target: "team-a/web", Protocol: "http", Rate: 3, MTLSRatio: 1, Status: graph.StatusLocked,
				Authorization: &graph.Authorization{Decision: graph.AuthzAllow, Policies: []string{"istio-system/secret-mesh-deny", "team-a/web-callers"}}},
			{ID: "unknown->team-a/web:http", Source: "unknown", Target: "team-a/web", Protocol: "http", Rate: 0.5, Status: graph.StatusOpen},
			{ID: "team-b/secret-batch->team-b/secret-db:tcp", Source: "team-b/secret-batch", Target: "team-b/secret-db", Protocol: "tcp", Rate: 2, MTLSRatio: 1, Status: graph.StatusLocked},
		},
		Findings: []graph.Finding{
			{ID: "f-a", Kind: "plaintext", Severity: graph.SeverityWarning, Message: "web takes plaintext", Nodes: []string{"team-a/web"}, Edges: []string{"unknown->team-a/web:http"}},
			{ID: "f-ab", Kind: "plaintext", Severity: graph.SeverityWarning, Message: "secret-batch sends plaintext to web", Nodes: []string{"team-b/secret-batch", "team-a/web"}},
			{ID: "f-b", Kind: "dr", Severity: graph.SeverityInfo, Message: "secret-rule", Objects: []string{"DestinationRule team-b/secret-rule"}},
		},
	}
}

func TestRestrictSnapshotHidesWhatTheViewerMayNotSee(t *testing.T) {
	full := teamsSnapshot()
	s := restrictSnapshot(full, false, map[string]bool{"team-a": true}, nil)
	body, _ := json.Marshal(s)
	for _, leak := range []string{"team-b", "team-c", "secret"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("the restricted snapshot names %q: %s", leak, body)
		}
	}
	var nodes []string
	for _, n := range s.Nodes {
		nodes = append(nodes, n.ID+"/"+n.Kind)
		if n.ID == Hidden && (n.Name != "" || n.Namespace != "") {
			t.Errorf("the hidden node has a name: %+v", n)
		}
	}
	if got, want := strings.Join(nodes, " "), "hidden/hidden team-a/front/workload team-a/web/service unknown/unknown"; got != want {
		t.Errorf("nodes %s, want %s", got, want)
	}
	edges := map[string]graph.Edge{}
	for _, e := range s.Edges {
		edges[e.ID] = e
	}
	if len(edges) != 4 {
		t.Errorf("edges %v, want 4", edges)
	}
	out := edges["team-a/web->hidden:tcp"]
	if out.Target != Hidden || out.DestinationPrincipal != "" || out.SourcePrincipal == "" || out.Status != graph.StatusLocked {
		t.Errorf("the edge to team-b: %+v", out)
	}
	// team-b's and team-c's callers of web become one edge from hidden.
	in := edges["hidden->team-a/web:http"]
	if in.Source != Hidden || in.Rate != 4 || in.MTLSRatio != 0.75 || in.Status != graph.StatusMixed || in.SourcePrincipal != "" {
		t.Errorf("the merged edge from hidden: %+v", in)
	}
	if _, ok := edges["unknown->team-a/web:http"]; !ok {
		t.Error("the unknown caller's edge is gone")
	}
	// Access: the hidden callers' decisions as one (they differ:
	// conditional); a hidden target's none; policies of namespaces the
	// viewer may not read unnamed (the leak check above holds them too).
	if a := in.Authorization; a == nil || a.Decision != graph.AuthzConditional || !slices.Equal(a.Policies, []string{"team-a/web-callers"}) {
		t.Errorf("the merged edge's access: %+v", a)
	}
	if out.Authorization != nil {
		t.Errorf("the hidden target's access: %+v", out.Authorization)
	}
	if a := edges["team-a/front->team-a/web:http"].Authorization; a == nil || !slices.Equal(a.Policies, []string{"team-a/web-callers"}) || len(a.DryRun) != 0 {
		t.Errorf("front → web's access: %+v", a)
	}
	if len(full.Edges[0].Authorization.DryRun) != 1 || len(full.Nodes[0].AuthorizationPolicies) != 2 {
		t.Error("restricting changed the shared snapshot")
	}
	var findings []string
	for _, f := range s.Findings {
		findings = append(findings, f.ID)
	}
	if strings.Join(findings, " ") != "f-a" {
		t.Errorf("findings %v, want only f-a", findings)
	}
	web := s.Nodes[2]
	if len(web.CallerTLS) != 1 || web.CallerTLS[0].Caller != "team-a/front" {
		t.Errorf("web's callers: %+v", web.CallerTLS)
	}
	if want := graph.ComputePosture(s.Edges); s.Posture.Counts[graph.StatusLocked] != want.Counts[graph.StatusLocked] || s.Posture.HTTP.Rate != want.HTTP.Rate {
		t.Errorf("posture %+v, want it computed from the visible edges %+v", s.Posture, want)
	}
	if s.Posture.HTTP.Rate != 8.5 {
		t.Errorf("HTTP rate %v, want 8.5 (4 + 4 from hidden + 0.5 unknown)", s.Posture.HTTP.Rate)
	}
}

func TestRestrictSnapshotSelections(t *testing.T) {
	full := teamsSnapshot()
	if s := restrictSnapshot(full, true, nil, nil); len(s.Nodes) != len(full.Nodes) {
		t.Errorf("all rights: %d nodes, want %d", len(s.Nodes), len(full.Nodes))
	}
	for _, tt := range []struct {
		name     string
		visible  map[string]bool
		selected []string
	}{
		{"no rights", map[string]bool{}, nil},
		{"selecting a namespace one may not see", map[string]bool{"team-a": true}, []string{"team-b"}},
	} {
		s := restrictSnapshot(full, false, tt.visible, tt.selected)
		if len(s.Nodes) != 0 || len(s.Edges) != 0 || len(s.Findings) != 0 || s.Nodes == nil || s.Edges == nil || s.Findings == nil {
			t.Errorf("%s: %+v, want an empty graph (with empty lists)", tt.name, s)
		}
		if !s.GeneratedAt.Equal(full.GeneratedAt) {
			t.Errorf("%s: the empty graph lost its time", tt.name)
		}
	}
}

// tokenHandler serves teamsSnapshot in token mode: alice sees team-a, admin everything, prom may get /metrics.
func tokenHandler(t *testing.T, f *fakeKube) http.Handler {
	t.Helper()
	if f.tokens == nil {
		f.tokens = map[string]string{"alice-token": "alice", "admin-token": "admin", "prom-token": "prom"}
	}
	if f.rights == nil {
		f.rights = map[string][]string{"alice": {"team-a"}, "admin": {"*", "/metrics"}, "prom": {"/metrics"}}
	}
	reviewer := newReviewer(t, f, KubeReviewerOptions{TTL: time.Minute})
	auth := TokenAuth{Reviewer: reviewer, ClientsFor: func(string) (k8s.Clients, error) { return k8s.Clients{}, nil }}
	handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: &fixedGraph{snapshot: teamsSnapshot()},
		Stream: http.NotFoundHandler(), Enforcer: &scriptedEnforcer{}, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	return handler
}

func request(t *testing.T, handler http.Handler, method, path, token string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	return rec
}

func TestTokenModeThePageNeedsAToken(t *testing.T) {
	handler := tokenHandler(t, &fakeKube{})
	for _, tt := range []struct{ name, token, reason string }{
		{"no token", "", "No Kubernetes token"},
		{"a rejected token", "stolen", "did not accept"},
	} {
		rec := request(t, handler, http.MethodGet, "/", tt.token)
		body := rec.Body.String()
		if rec.Code != http.StatusUnauthorized || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s, want 401 HTML", tt.name, rec.Code, rec.Header().Get("Content-Type"))
		}
		if !strings.Contains(body, `data-testid="sign-in"`) || !strings.Contains(body, tt.reason) || !strings.Contains(body, "Authorization: Bearer") {
			t.Errorf("%s: no sign-in explanation: %s", tt.name, body)
		}
		for _, data := range []string{"initial-snapshot", "team-a", "secret", "app.js", "<script"} {
			if strings.Contains(body, data) {
				t.Errorf("%s: the sign-in page contains %q", tt.name, data)
			}
		}
		if rec.Header().Get("Content-Security-Policy") == "" || rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: headers %v", tt.name, rec.Header())
		}
	}
	if rec := request(t, handler, http.MethodHead, "/", ""); rec.Code != http.StatusUnauthorized || rec.Body.Len() != 0 {
		t.Errorf("HEAD / without a token: %d, %d bytes", rec.Code, rec.Body.Len())
	}

	rec := request(t, handler, http.MethodGet, "/", "alice-token")
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, "initial-snapshot") || !strings.Contains(body, "team-a/web") {
		t.Fatalf("alice's page: %d", rec.Code)
	}
	for _, leak := range []string{"team-b", "team-c", "secret"} {
		if strings.Contains(body, leak) {
			t.Errorf("alice's page names %q", leak)
		}
	}
	if !strings.Contains(body, "hidden (a namespace you cannot see)") || !strings.Contains(body, `<option value="team-a"`) || strings.Contains(body, `value="team-b"`) {
		t.Error("alice's page does not show the hidden side of her edges as such, or offers namespaces she cannot see")
	}
	if rec := request(t, handler, http.MethodGet, "/", "admin-token"); !strings.Contains(rec.Body.String(), "team-b/secret-db") {
		t.Error("the admin's page lacks team-b")
	}
}

func TestTokenModeGraphIsFilteredToTheUsersNamespaces(t *testing.T) {
	f := &fakeKube{}
	handler := tokenHandler(t, f)
	graphOf := func(token, query string) graph.Snapshot {
		rec := request(t, handler, http.MethodGet, "/api/graph"+query, token)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /api/graph%s as %s: %d %s", query, token, rec.Code, rec.Body)
		}
		var s graph.Snapshot
		if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := graphOf("alice-token", ""); len(s.Nodes) != 4 || strings.Contains(fmt.Sprint(s), "team-b") {
		t.Errorf("alice's graph: %+v", s.Nodes)
	}
	if s := graphOf("alice-token", "?namespace=team-b"); len(s.Nodes) != 0 {
		t.Errorf("alice asking for team-b: %+v", s.Nodes)
	}
	if s := graphOf("admin-token", ""); len(s.Nodes) != len(teamsSnapshot().Nodes) {
		t.Errorf("the admin's graph: %d nodes", len(s.Nodes))
	}
	before := f.accessReviews.Load()
	for range 10 {
		graphOf("alice-token", "")
	}
	if n := f.accessReviews.Load() - before; n != 0 {
		t.Errorf("10 more reads asked %d SubjectAccessReviews, want 0 (cached)", n)
	}

	f.set(func() { f.failing = true })
	handler = tokenHandler(t, f)
	if rec := request(t, handler, http.MethodGet, "/api/graph", "alice-token"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("with the API server down: %d, want 503", rec.Code)
	}
}

func TestTokenModeMetricsNeedTheRight(t *testing.T) {
	handler := tokenHandler(t, &fakeKube{})
	for _, tt := range []struct {
		token string
		want  int
	}{{"", 401}, {"bad", 401}, {"alice-token", 403}, {"prom-token", 200}, {"admin-token", 200}} {
		rec := request(t, handler, http.MethodGet, "/metrics", tt.token)
		if rec.Code != tt.want {
			t.Errorf("/metrics with %q: %d %s, want %d", tt.token, rec.Code, rec.Body, tt.want)
		}
		if tt.want != 200 && strings.Contains(rec.Body.String(), "meshlock_") {
			t.Errorf("/metrics with %q leaked metrics", tt.token)
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/static/app.js"} {
		if rec := request(t, handler, http.MethodGet, path, ""); rec.Code != http.StatusOK {
			t.Errorf("%s without a token: %d, want 200", path, rec.Code)
		}
	}
}

func TestVisibleNamespaces(t *testing.T) {
	reviewer := newReviewer(t, &fakeKube{tokens: map[string]string{}, rights: map[string][]string{"alice": {"team-a"}, "admin": {"*"}}}, KubeReviewerOptions{})
	h := &handlers{opts: Options{Graph: &fixedGraph{snapshot: teamsSnapshot()}, Auth: TokenAuth{Reviewer: reviewer}}}
	_ = h.opts.validate()
	for _, tt := range []struct {
		user    string
		wantAll bool
		want    string
	}{{"alice", false, "team-a"}, {"admin", true, ""}, {"nobody", false, ""}} {
		r := httptest.NewRequest(http.MethodGet, "/api/actions", nil)
		r = r.WithContext(context.WithValue(r.Context(), accessKey{}, access{
			actor: Actor{Who: tt.user, User: authenticationv1.UserInfo{Username: tt.user}}, auth: h.opts.Auth.(readAuthorizer)}))
		all, namespaces := h.visibleNamespaces(r)
		if all != tt.wantAll || strings.Join(sortedCopy(namespaces), ",") != tt.want {
			t.Errorf("%s: %v %v, want %v %q", tt.user, all, namespaces, tt.wantAll, tt.want)
		}
		if got := h.namespaceVisible(r, "team-a"); got != (tt.user != "nobody") {
			t.Errorf("%s: namespaceVisible(team-a) = %v", tt.user, got)
		}
	}
	// auth=none sees everything.
	none := &handlers{opts: Options{Graph: &fixedGraph{snapshot: teamsSnapshot()}, Auth: ServerIdentity{}}}
	_ = none.opts.validate()
	r := httptest.NewRequest(http.MethodGet, "/api/actions", nil)
	r = r.WithContext(context.WithValue(r.Context(), accessKey{}, access{}))
	if all, _ := none.visibleNamespaces(r); !all {
		t.Error("auth=none does not see everything")
	}
}
