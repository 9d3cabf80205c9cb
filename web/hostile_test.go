// Tests of the defences against hostile load (issue 27): reviews merged, bounded per source and
// per kind; names outside the mesh never reviewed; streams capped per party and idle ones
// dropped; long queries after authorisation and within a budget; what token mode hides.

package web

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/k8s"
	"github.com/meshlock/meshlock/internal/report"
)

// Identical reviews in flight are asked once: 50 requests with the same
// new token at once make one TokenReview, and each learns the answer.
func TestReviewerMergesIdenticalReviewsInFlight(t *testing.T) {
	f := &fakeKube{tokens: map[string]string{"new": "alice"}}
	clientset := f.clientset()
	// The first review is held until every request has asked (counted just
	// before each call: a request that missed the flight would find the
	// answer in the cache, which the flight fills before it ends).
	var asking sync.WaitGroup
	asking.Add(50)
	clientset.PrependReactor("create", "tokenreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		asking.Wait()
		return false, nil, nil
	})
	r, err := NewKubeReviewer(KubeReviewerOptions{Kube: clientset, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	users := map[string]int{}
	for range 50 {
		wg.Go(func() {
			asking.Done()
			user, err := r.ReviewTokenFrom(context.Background(), "new", "10.0.0.1")
			mu.Lock()
			defer mu.Unlock()
			users[fmt.Sprint(user.Username, err)]++
		})
	}
	wg.Wait()
	if n := f.tokenReviews.Load(); n != 1 {
		t.Errorf("%d TokenReviews for one token asked 50 times at once, want 1", n)
	}
	if users["alice<nil>"] != 50 {
		t.Errorf("answers %v, want alice for all 50", users)
	}
}

// Unknown tokens from one address are reviewed at a bounded rate: of 1,000
// random tokens, the burst is reviewed and the rest answer ErrTooManyReviews
// at once; a cached token from the same address is never held back, nor
// is another address.
func TestReviewerLimitsUnknownTokensPerSource(t *testing.T) {
	f := &fakeKube{tokens: map[string]string{"known": "alice", "fresh": "bob"}}
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	r := newReviewer(t, f, KubeReviewerOptions{TTL: time.Minute, Now: clk.Now, UnknownTokenRate: 5, UnknownTokenBurst: 20})
	ctx := context.Background()
	if _, err := r.ReviewTokenFrom(ctx, "known", "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	limited := 0
	for i := range 1000 {
		_, err := r.ReviewTokenFrom(ctx, fmt.Sprintf("random-%d", i), "10.0.0.1")
		switch {
		case err == ErrTooManyReviews:
			limited++
		case !strings.Contains(fmt.Sprint(err), "invalid bearer token"):
			t.Fatalf("token %d: %v", i, err)
		}
		if user, err := r.ReviewTokenFrom(ctx, "known", "10.0.0.1"); err != nil || user.Username != "alice" {
			t.Fatalf("the cached token during the flood: %v %v", user.Username, err)
		}
	}
	// The burst of 20 covers the known token's first review and 19 random ones.
	if reviews := f.tokenReviews.Load(); reviews != 20 || limited != 981 {
		t.Errorf("%d TokenReviews, %d limited: want the burst (20 in all) and 981 limited", reviews, limited)
	}
	if user, err := r.ReviewTokenFrom(ctx, "fresh", "10.0.0.2"); err != nil || user.Username != "bob" {
		t.Errorf("another address during the flood: %v %v", user.Username, err)
	}
	clk.add(time.Second) // five more a second
	if _, err := r.ReviewTokenFrom(ctx, "random-again", "10.0.0.1"); err == ErrTooManyReviews {
		t.Error("still limited after a second")
	}
}

// A token that passed a review is not unknown when its answer expires: it
// is reviewed again without waiting for its address's rate, while a new
// token from the same address is still held back.
func TestReviewerKnownTokensAreNotRateLimited(t *testing.T) {
	f := &fakeKube{tokens: map[string]string{"known": "alice"}}
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	r := newReviewer(t, f, KubeReviewerOptions{TTL: time.Second, Now: clk.Now, UnknownTokenRate: 0.001, UnknownTokenBurst: 1})
	ctx := context.Background()
	if _, err := r.ReviewTokenFrom(ctx, "known", "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	clk.add(2 * time.Minute) // the answer expired; the bucket is still empty
	if user, err := r.ReviewTokenFrom(ctx, "known", "10.0.0.1"); err != nil || user.Username != "alice" {
		t.Errorf("the known token after its answer expired: %q %v", user.Username, err)
	}
	if _, err := r.ReviewTokenFrom(ctx, "new", "10.0.0.1"); err != ErrTooManyReviews {
		t.Errorf("a new token from the same address: %v, want ErrTooManyReviews", err)
	}
	if n := f.tokenReviews.Load(); n != 2 {
		t.Errorf("%d TokenReviews, want 2 (the known token twice)", n)
	}
}

// TokenReviews stuck at the API server do not hold SubjectAccessReviews:
// each kind has its own slots.
func TestReviewerTokenFloodLeavesAccessReviewsTheirSlots(t *testing.T) {
	f := &fakeKube{tokens: map[string]string{}, rights: map[string][]string{"alice": {"team-a"}}}
	// Two clients, as the binary has (a fake clientset runs one action at a time).
	tokenClient := f.clientset()
	stuck := make(chan struct{})
	defer close(stuck)
	tokenClient.PrependReactor("create", "tokenreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		<-stuck
		return false, nil, nil
	})
	r, err := NewKubeReviewer(KubeReviewerOptions{Kube: f.clientset(), TokenKube: tokenClient, TTL: time.Minute, MaxInFlight: 2, UnknownTokenBurst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, _ = r.ReviewTokenFrom(ctx, fmt.Sprintf("bad-%d", i), "10.0.0.9")
		}()
	}
	streamEventually(t, "every TokenReview slot taken", func() bool { return len(r.tokenSlots) == cap(r.tokenSlots) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ok, err := r.CanListServices(ctx, authenticationv1.UserInfo{Username: "alice"}, "team-a")
	if err != nil || !ok {
		t.Errorf("an access review while every TokenReview slot is taken: %v %v", ok, err)
	}
}

// A ?namespace= of names the mesh does not have asks no review about
// them, and more than 500 names is refused.
func TestNamesOutsideTheMeshAreNotReviewed(t *testing.T) {
	f := &fakeKube{}
	handler := tokenHandler(t, f)
	names := make([]string, 400)
	for i := range names {
		names[i] = fmt.Sprintf("made-up-%d", i)
	}
	rec := request(t, handler, http.MethodGet, "/api/graph?namespace="+strings.Join(names, ",")+",team-a", "alice-token")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "team-a/") {
		t.Fatalf("alice's graph: %d %s", rec.Code, rec.Body)
	}
	// The cluster-wide review and one per namespace of the mesh.
	if n := f.accessReviews.Load(); int(n) > 1+len(snapshotNamespaces(teamsSnapshot())) {
		t.Errorf("%d SubjectAccessReviews for 400 made-up names, want at most one per namespace of the mesh and the cluster-wide one", n)
	}
	rec = request(t, handler, http.MethodGet, "/api/graph?namespace="+strings.Repeat("x,", 501), "alice-token")
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "at most 500") {
		t.Errorf("501 names: %d %s, want 400", rec.Code, rec.Body)
	}
}

// One party cannot hold every stream slot: past its own cap it gets 429,
// while another party still gets in.
func TestStreamCapPerParty(t *testing.T) {
	h, _ := newStreamHub(t, HubOptions{MaxViewers: 10, MaxViewersPerParty: 2})
	srv := streamServer(t, h)
	h.Publish(streamMeshAt(0))
	dialStream(t, srv, "", nil)
	dialStream(t, srv, "", nil)
	code, body := dialRefused(t, srv, "", nil)
	if code != http.StatusTooManyRequests || !strings.Contains(body["error"], "too many open streams") {
		t.Errorf("a third stream from one address: %d %v, want 429", code, body)
	}
	// Another address (127.0.0.2 is loopback too) is another party.
	dialer := &net2Dialer{local: "127.0.0.2"}
	conn, resp, err := websocket.Dial(context.Background(), streamURL(srv, ""), &websocket.DialOptions{HTTPClient: dialer.client()})
	if err != nil {
		t.Fatalf("another party's stream: %v (%v)", err, resp)
	}
	conn.CloseNow()
}

// A socket whose client never reads does not answer pings: it is dropped
// after one write timeout, and its slot is free again.
func TestStreamDropsASocketThatIsNeverRead(t *testing.T) {
	h, _ := newStreamHub(t, HubOptions{MaxViewers: 1, WriteTimeout: 300 * time.Millisecond, PingInterval: 100 * time.Millisecond})
	srv := streamServer(t, h)
	h.Publish(streamMeshAt(0))
	// Never read: the client's read loop, which answers pings, never runs.
	idle, _, err := websocket.Dial(context.Background(), streamURL(srv, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.CloseNow()
	streamEventually(t, "the unread socket to be dropped", func() bool { return testutil.ToFloat64(h.dropped) == 1 })
	streamEventually(t, "its slot to be free", func() bool { return testutil.ToFloat64(h.clients) == 0 })
	if got := testutil.ToFloat64(h.dropped); got != 1 {
		t.Errorf("meshlock_stream_dropped_total = %v, want 1", got)
	}
	dialStream(t, srv, "", nil) // its slot is free
}

// A viewer who may read nothing gets 403 for a report before any query
// reaches Prometheus; long queries beyond the budget answer 429 with
// Retry-After; an edge to what the reader may not see has no history.
func TestLongQueriesAfterAuthorisationWithinABudget(t *testing.T) {
	f := &fakeKube{tokens: map[string]string{"nobody-token": "nobody", "alice-token": "alice"},
		rights: map[string][]string{"alice": {"team-a"}}}
	reports := &countingReports{block: make(chan struct{})}
	charts := &scriptedCharts{}
	reviewer := newReviewer(t, f, KubeReviewerOptions{TTL: time.Minute})
	handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: &fixedGraph{snapshot: teamsSnapshot()},
		Stream: http.NotFoundHandler(), Enforcer: &scriptedEnforcer{}, Reports: reports, Charts: charts,
		Auth:           TokenAuth{Reviewer: reviewer, ClientsFor: func(string) (k8s.Clients, error) { return k8s.Clients{}, nil }},
		MaxLongQueries: 3, MaxLongQueriesPerParty: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rec := request(t, handler, http.MethodGet, "/api/report?from=15d", "nobody-token"); rec.Code != http.StatusForbidden {
		t.Errorf("a report for a reader of nothing: %d %s, want 403", rec.Code, rec.Body)
	}
	if reports.parsed() != 0 {
		t.Errorf("%d report queries for a reader of nothing, want none", reports.parsed())
	}
	// Two of alice's reports run (held by the test); her third answers 429.
	done := make(chan int, 2)
	for range 2 {
		go func() { done <- request(t, handler, http.MethodGet, "/api/report", "alice-token").Code }()
	}
	streamEventually(t, "two reports running", func() bool { return reports.parsed() == 2 })
	rec := request(t, handler, http.MethodGet, "/api/report", "alice-token")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Errorf("alice's third report: %d %s %v, want 429 with Retry-After", rec.Code, rec.Body, rec.Header())
	}
	close(reports.block)
	for range 2 {
		<-done
	}
	for _, e := range restrictSnapshot(teamsSnapshot(), false, map[string]bool{"team-a": true}, nil).Edges {
		if e.Source == Hidden || e.Target == Hidden {
			rec := request(t, handler, http.MethodGet, "/api/history?edge="+e.ID, "alice-token")
			if rec.Code != http.StatusNotFound {
				t.Errorf("history of %s: %d %s, want 404", e.ID, rec.Code, rec.Body)
			}
		}
	}
	if len(charts.asked) != 0 {
		t.Errorf("charts asked for %v", charts.asked)
	}
}

// countingReports counts the periods parsed and holds each Snapshot until
// block is closed.
type countingReports struct {
	mu    sync.Mutex
	n     int
	block chan struct{}
}

func (c *countingReports) parsed() int { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

func (c *countingReports) Parse(context.Context, string, string) (report.Period, report.Source, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	now := time.Now()
	return report.Period{From: now.Add(-time.Hour), To: now}, report.Source{}, nil
}

func (c *countingReports) Snapshot(context.Context, report.Period, *report.Source) (graph.Snapshot, error) {
	<-c.block
	return teamsSnapshot(), nil
}

// In token mode /readyz, which needs no token, does not name the sources.
func TestReadyzInTokenModeNamesNoSource(t *testing.T) {
	graphSource := &fixedGraph{snapshot: teamsSnapshot(), notReady: fmt.Errorf("prometheus: Get \"http://prometheus.istio-system:9090/api/v1/query\": connection refused")}
	for _, tc := range []struct {
		auth    Authenticator
		showURL bool
	}{
		{ServerIdentity{}, true},
		{TokenAuth{Reviewer: newReviewer(t, &fakeKube{}, KubeReviewerOptions{})}, false},
	} {
		handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: graphSource,
			Stream: http.NotFoundHandler(), Enforcer: &scriptedEnforcer{}, Auth: tc.auth})
		if err != nil {
			t.Fatal(err)
		}
		code, body := get(t, handler, "/readyz")
		if code != http.StatusServiceUnavailable || strings.Contains(body, "prometheus.istio-system") != tc.showURL {
			t.Errorf("%T: /readyz %d %s", tc.auth, code, body)
		}
	}
}

// Undo of an action the user may not see is no action to them: 404, and
// nothing reaches Kubernetes.
func TestUndoOfAnInvisibleActionIsNotFound(t *testing.T) {
	f := &fakeKube{tokens: map[string]string{"alice-token": "alice"}, rights: map[string][]string{"alice": {"team-a"}}}
	enforcer := &scriptedEnforcer{actions: []enforce.Action{{ID: "theirs", Who: "bob", At: time.Now(), Namespace: "team-b",
		Objects: []enforce.ActionObject{{Kind: "PeerAuthentication", Namespace: "team-b", Name: "default"}}}}}
	handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: &fixedGraph{snapshot: teamsSnapshot()},
		Stream: http.NotFoundHandler(), Enforcer: enforcer, AllowEnforce: true,
		Auth: TokenAuth{Reviewer: newReviewer(t, f, KubeReviewerOptions{TTL: time.Minute}),
			ClientsFor: func(string) (k8s.Clients, error) { return k8s.Clients{}, nil }}})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/api/actions/theirs/undo", nil)
	req.Header.Set("Authorization", "Bearer alice-token")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "default") {
		t.Errorf("alice's undo of an action in team-b: %d %s, want 404 naming nothing", rec.Code, rec.Body)
	}
	if len(enforcer.undone) != 0 {
		t.Errorf("undo reached the enforcer: %v", enforcer.undone)
	}
}

// net2Dialer makes HTTP clients whose connections come from another
// loopback address: another party, as the server counts them.
type net2Dialer struct{ local string }

func (d *net2Dialer) client() *http.Client {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(d.local)}}
	return &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
}

// The page answers a flood of unknown tokens with what happened (too many
// attempts: wait), not as if Kubernetes could not be asked.
func TestPageSaysTooManySignInAttempts(t *testing.T) {
	rec := httptest.NewRecorder()
	pageAuthFailure(rec, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusTooManyRequests, "")
	body := rec.Body.String()
	if rec.Code != http.StatusTooManyRequests || !strings.Contains(body, "Too many sign-in attempts") || strings.Contains(body, "could not be asked") {
		t.Errorf("429 page: %d %s", rec.Code, body)
	}
}
