// Tests of the handler's edges: HEAD wherever GET, 405 with Allow, JSON outside the base path, bad input
// not echoed, the stream's JSON refusals and cap, token streams closed when revoked or expired.

package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshlock/meshlock/internal/k8s"
)

func TestHEADWhereverGET(t *testing.T) {
	handler := newTestHandler(t, "/mesh")
	for _, path := range []string{"/mesh/", "/mesh/api/graph", "/mesh/api/actions", "/mesh/healthz", "/mesh/metrics", "/mesh/static/app.js"} {
		rec := request(t, handler, http.MethodHead, path, "")
		if rec.Code != http.StatusOK {
			t.Errorf("HEAD %s: %d %s, want 200", path, rec.Code, rec.Body)
		}
	}
}

func TestMethodNotAllowedSaysWhatIs(t *testing.T) {
	handler := newTestHandler(t, "/")
	for _, tt := range []struct{ method, path, allow string }{
		{http.MethodPost, "/api/graph", "GET, HEAD"},
		{http.MethodDelete, "/healthz", "GET, HEAD"},
		{http.MethodGet, "/api/enforce", "POST"},
		{http.MethodPut, "/api/actions/a1/undo", "POST"},
	} {
		rec := request(t, handler, tt.method, tt.path, "")
		var body map[string]string
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != tt.allow || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body["error"] == "" {
			t.Errorf("%s %s: %d Allow %q %s, want 405 Allow %q with JSON", tt.method, tt.path, rec.Code, rec.Header().Get("Allow"), rec.Body, tt.allow)
		}
	}
}

func TestOutsideTheBasePathIsJSONWithSecurityHeaders(t *testing.T) {
	handler := newTestHandler(t, "/mesh")
	for _, tt := range []struct{ method, path string }{{"GET", "/"}, {"GET", "/other"}, {"POST", "/other/x"}, {"HEAD", "/x"}} {
		rec := request(t, handler, tt.method, tt.path, "")
		if rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "application/json" ||
			rec.Header().Get("Content-Security-Policy") == "" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: %d %v", tt.method, tt.path, rec.Code, rec.Header())
		}
		if tt.method == "GET" && !strings.Contains(rec.Body.String(), `"error"`) {
			t.Errorf("%s %s: %s", tt.method, tt.path, rec.Body)
		}
	}
}

func TestBadInputIsNotEchoedInFull(t *testing.T) {
	handler := newTestHandler(t, "/")
	huge := strings.Repeat("X", 1<<20)
	for _, path := range []string{"/api/graph?namespace=" + huge, "/?namespace=" + huge} {
		rec := request(t, handler, http.MethodGet, path, "")
		if rec.Code != http.StatusBadRequest || rec.Body.Len() > 512 || !strings.Contains(rec.Body.String(), "bytes, cut") {
			t.Errorf("GET %.40s…: %d, %d bytes: %.200s", path, rec.Code, rec.Body.Len(), rec.Body)
		}
	}
	if got := quoteInput("short"); got != `"short"` {
		t.Errorf("quoteInput(short) = %s", got)
	}
	rec := httptest.NewRecorder()
	writeError(rec, http.StatusBadRequest, strings.Repeat("é", 5000))
	if rec.Body.Len() > maxErrorMessage+64 {
		t.Errorf("an error answer of %d bytes", rec.Body.Len())
	}
}

// The library's own refusals of a bad handshake are plain text; the stream answers them as JSON.
func TestStreamHandshakeErrorsAreJSON(t *testing.T) {
	h, _ := newStreamHub(t, HubOptions{})
	srv := streamServer(t, h)
	for _, tt := range []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"no Connection: Upgrade", map[string]string{"Upgrade": "websocket"}, http.StatusUpgradeRequired},
		{"an old version", map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "8", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, http.StatusBadRequest},
		{"no key", map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"}, http.StatusBadRequest},
		{"a huge bad key", map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": strings.Repeat("k", 30000)}, http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/stream", nil)
		for k, v := range tt.headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]string
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tt.want || resp.Header.Get("Content-Type") != "application/json" || err != nil || body["error"] == "" || len(body["error"]) > 300 {
			t.Errorf("%s: %d %q %v %v, want %d JSON", tt.name, resp.StatusCode, resp.Header.Get("Content-Type"), body, err, tt.want)
		}
	}
}

func TestStreamCap(t *testing.T) {
	h, _ := newStreamHub(t, HubOptions{MaxViewers: 2})
	srv := streamServer(t, h)
	h.Publish(streamMeshAt(0))
	first := dialStream(t, srv, "", nil)
	dialStream(t, srv, "", nil)
	code, body := dialRefused(t, srv, "", nil)
	if code != http.StatusServiceUnavailable || !strings.Contains(body["error"], "too many open streams") {
		t.Errorf("a third stream: %d %v, want 503", code, body)
	}
	_ = first.Close(websocket.StatusNormalClosure, "")
	streamEventually(t, "the first socket to be counted out", func() bool { return testutil.ToFloat64(h.clients) == 1 })
	dialStream(t, srv, "", nil) // a slot is free again
}

// tokenStream serves a hub behind NewHandler in token mode.
func tokenStream(t *testing.T, f *fakeKube, ttl time.Duration) (*Hub, *httptest.Server) {
	t.Helper()
	h, _ := newStreamHub(t, HubOptions{RecheckInterval: 50 * time.Millisecond})
	reviewer := newReviewer(t, f, KubeReviewerOptions{TTL: ttl})
	auth := TokenAuth{Reviewer: reviewer, ClientsFor: func(string) (k8s.Clients, error) { return k8s.Clients{}, nil }}
	handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: &fixedGraph{snapshot: teamsSnapshot()},
		Stream: h, Enforcer: &scriptedEnforcer{}, Auth: auth, Logger: streamLogger()})
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
	h.Publish(teamsSnapshot())
	return h, srv
}

func bearer(token string) *websocket.DialOptions {
	return &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}}
}

func TestTokenStreamIsFilteredAndClosedWhenTheTokenIsRevoked(t *testing.T) {
	f := &fakeKube{tokens: map[string]string{"alice-token": "alice"}, rights: map[string][]string{"alice": {"team-a"}}}
	h, srv := tokenStream(t, f, 100*time.Millisecond)

	if code, _ := dialRefused(t, srv, "", nil); code != http.StatusUnauthorized {
		t.Errorf("a stream without a token: %d, want 401", code)
	}
	c := dialStream(t, srv, "", bearer("alice-token"))
	first := readStream(t, c)
	body, _ := json.Marshal(first.Graph)
	if strings.Contains(string(body), "team-b") || !strings.Contains(string(body), `"id":"hidden"`) {
		t.Errorf("alice's first snapshot: %s", body)
	}
	h.Publish(teamsSnapshot())
	readStream(t, c) // still streaming while the token passes

	f.set(func() { delete(f.tokens, "alice-token") })
	start := time.Now()
	// Closed without any publish (the TTL of 100ms and the recheck every
	// 50ms close it well within a second; only a hang fails the test).
	wantStreamClose(t, readStreamUntilClosed(c), statusTokenInvalid, reasonTokenInvalid)
	t.Logf("closed %v after the revocation", time.Since(start))
}

func TestTokenStreamClosesAtTheJWTsExpiry(t *testing.T) {
	token := jwt(time.Now().Add(1500 * time.Millisecond))
	f := &fakeKube{tokens: map[string]string{token: "alice"}, rights: map[string][]string{"alice": {"team-a"}}}
	// A long TTL: only the expiry can close it.
	_, srv := tokenStream(t, f, time.Minute)
	c := dialStream(t, srv, "", bearer(token))
	readStream(t, c)
	start := time.Now()
	wantStreamClose(t, readStreamUntilClosed(c), statusTokenInvalid, "")
	// At the token's exp, 1.5 s in: well before the TTL's minute.
	if d := time.Since(start); d > 45*time.Second {
		t.Errorf("closed %v after the first message, want at the token's exp, before the TTL", d)
	}
}

func TestTokenStreamFollowsRightsAtEachSnapshot(t *testing.T) {
	f := &fakeKube{tokens: map[string]string{"alice-token": "alice"}, rights: map[string][]string{"alice": {"team-a"}}}
	h, srv := tokenStream(t, f, 50*time.Millisecond)
	c := followStream(t, dialStream(t, srv, "", bearer("alice-token")))
	f.set(func() { f.rights["alice"] = []string{"team-a", "team-b"} })
	time.Sleep(100 * time.Millisecond)
	h.Publish(teamsSnapshot())
	// Another view: the stream sends it whole, as the contract allows
	// (every message keeps the client equal to what /api/graph answers).
	c.replaced(t)
	ids := strings.Join(streamNodeIDs(c.have), " ")
	if !strings.Contains(ids, "team-b/secret-db") || strings.Contains(ids, "team-c") {
		t.Errorf("after alice got team-b: %s", ids)
	}
}
