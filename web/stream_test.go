// Tests of the live stream: snapshot then deltas, per-viewer filters, invalid namespaces, origins,
// clients that speak, slow viewers dropped, the clients gauge, shutdown, and plain GETs answered as JSON.

package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshlock/meshlock/internal/graph"
)

// streamServer serves h and shuts both down at the end of the test.
func streamServer(t *testing.T, h *Hub) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return srv
}

func streamURL(srv *httptest.Server, query string) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/stream" + query
}

func dialStream(t *testing.T, srv *httptest.Server, query string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, streamURL(srv, query), opts)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", query, err, status)
	}
	c.SetReadLimit(64 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// dialRefused dials and expects an HTTP answer instead of an upgrade.
func dialRefused(t *testing.T, srv *httptest.Server, query string, opts *websocket.DialOptions) (int, map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, streamURL(srv, query), opts)
	if err == nil {
		_ = c.CloseNow()
		t.Fatalf("dial %s was upgraded", query)
	}
	if resp == nil {
		t.Fatalf("dial %s: %v, no HTTP answer", query, err)
	}
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Errorf("dial %s: the %d answer is not JSON: %v", query, resp.StatusCode, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("dial %s: Content-Type %q", query, ct)
	}
	return resp.StatusCode, body
}

// streamReceived is a stream message as a client decodes it.
type streamReceived struct {
	Type  string          `json:"type"`
	Graph *graph.Snapshot `json:"graph"`
	Delta *graph.Delta    `json:"delta"`
}

func readStream(t *testing.T, c *websocket.Conn) streamReceived {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	typ, body, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("a %v message, want text", typ)
	}
	var m streamReceived
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("message %.200s: %v", body, err)
	}
	switch {
	case m.Type == "snapshot" && m.Graph != nil && m.Delta == nil:
	case m.Type == "delta" && m.Delta != nil && m.Graph == nil:
	default:
		t.Fatalf("malformed message %.300s", body)
	}
	return m
}

// readStreamUntilClosed reads until the socket ends and returns the error.
func readStreamUntilClosed(c *websocket.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			return err
		}
	}
}

func wantStreamClose(t *testing.T, err error, code websocket.StatusCode, reason string) {
	t.Helper()
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != code || (reason != "" && ce.Reason != reason) {
		t.Errorf("the socket ended with %v, want close %v %q", err, code, reason)
	}
}

// streamFollower is a client's copy of the graph, kept with the stream's messages.
type streamFollower struct {
	conn *websocket.Conn
	have graph.Snapshot
}

func followStream(t *testing.T, c *websocket.Conn) *streamFollower {
	t.Helper()
	m := readStream(t, c)
	if m.Type != "snapshot" {
		t.Fatalf("the first message is a %q, want the snapshot", m.Type)
	}
	return &streamFollower{conn: c, have: *m.Graph}
}

// replaced reads the next message, which must be a whole snapshot (the
// viewer's rights changed, so its view did), and takes it.
func (f *streamFollower) replaced(t *testing.T) {
	t.Helper()
	m := readStream(t, f.conn)
	if m.Type != "snapshot" {
		t.Fatalf("a %q message after the rights changed, want a new snapshot", m.Type)
	}
	f.have = *m.Graph
}

// next applies the next message, which must be a delta, and returns it.
func (f *streamFollower) next(t *testing.T) graph.Delta {
	t.Helper()
	m := readStream(t, f.conn)
	if m.Type != "delta" {
		t.Fatalf("a %q message after the snapshot, want a delta", m.Type)
	}
	f.have = graph.Apply(f.have, *m.Delta)
	return *m.Delta
}

// sameStreamGraph compares as the client sees it: the JSON.
func sameStreamGraph(t *testing.T, what string, got, want graph.Snapshot) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

var streamEpoch = time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)

// streamMeshAt is a small mesh in two namespaces that changes with step: rates
// move, default/ratings comes and goes, a finding appears.
func streamMeshAt(step int) graph.Snapshot {
	s := graph.Snapshot{
		GeneratedAt: streamEpoch.Add(time.Duration(step) * 30 * time.Second),
		Window:      "1m",
		Nodes: []graph.Node{
			{ID: "default/productpage", Namespace: "default", Name: "productpage", Kind: graph.KindService, InMesh: true, PeerAuthentication: "PERMISSIVE"},
			{ID: "default/ratings", Namespace: "default", Name: "ratings", Kind: graph.KindService, InMesh: true, PeerAuthentication: "PERMISSIVE"},
			{ID: "default/reviews", Namespace: "default", Name: "reviews", Kind: graph.KindService, InMesh: true, PeerAuthentication: "PERMISSIVE"},
			{ID: "shop/cart", Namespace: "shop", Name: "cart", Kind: graph.KindService, InMesh: true, PeerAuthentication: "STRICT"},
			{ID: "shop/checkout", Namespace: "shop", Name: "checkout", Kind: graph.KindService, InMesh: false, PeerAuthentication: "UNSET"},
			{ID: "unknown", Name: "unknown", Kind: graph.KindUnknown, PeerAuthentication: "UNSET"},
		},
		Edges: []graph.Edge{
			{ID: "default/productpage->default/reviews:http", Source: "default/productpage", Target: "default/reviews", Protocol: "http", Rate: 2 + float64(step), MTLSRatio: 1, Status: graph.StatusLocked},
			{ID: "default/reviews->default/ratings:http", Source: "default/reviews", Target: "default/ratings", Protocol: "http", Rate: 1, MTLSRatio: 0.5, Status: graph.StatusMixed},
			{ID: "shop/checkout->shop/cart:grpc", Source: "shop/checkout", Target: "shop/cart", Protocol: "grpc", Rate: 0.25 * float64(step+1), Status: graph.StatusOpen},
			{ID: "unknown->default/productpage:http", Source: "unknown", Target: "default/productpage", Protocol: "http", Rate: 3, Status: graph.StatusUnknown},
		},
		Findings: []graph.Finding{
			{ID: "plaintext:shop/checkout->shop/cart:grpc", Kind: "plaintext", Severity: graph.SeverityWarning, Message: "checkout calls cart in plaintext",
				Nodes: []string{"shop/cart", "shop/checkout"}, Edges: []string{"shop/checkout->shop/cart:grpc"}},
		},
	}
	if step%2 == 1 {
		s.Nodes = slices.DeleteFunc(s.Nodes, func(n graph.Node) bool { return n.ID == "default/ratings" })
		s.Edges = slices.DeleteFunc(s.Edges, func(e graph.Edge) bool { return e.Target == "default/ratings" })
		s.Findings = append([]graph.Finding{{ID: "mixed:default/productpage", Kind: "mixed", Severity: graph.SeverityWarning,
			Message: "productpage is half in", Nodes: []string{"default/productpage"}}}, s.Findings...)
	}
	return s
}

func TestStreamSnapshotThenDeltas(t *testing.T) {
	h, _ := newStreamHub(t, HubOptions{})
	srv := streamServer(t, h)
	ns := []string{"default"}

	// Nothing is published yet: the viewer waits for the first refresh.
	c := dialStream(t, srv, "?namespace=default", nil)
	streamEventually(t, "the viewer to register", func() bool { return testutil.ToFloat64(h.clients) == 1 })
	h.Publish(streamMeshAt(0))
	f := followStream(t, c)
	sameStreamGraph(t, "first message", f.have, graph.Filter(streamMeshAt(0), ns))
	if len(f.have.Nodes) == 0 || len(f.have.Nodes) == len(streamMeshAt(0).Nodes) {
		t.Fatalf("the fixture does not exercise the filter: %d nodes", len(f.have.Nodes))
	}

	for step := 1; step <= 4; step++ {
		h.Publish(streamMeshAt(step))
		d := f.next(t)
		if d.Empty() && len(d.Edges) == 0 {
			t.Errorf("step %d: an empty delta for a changed graph", step)
		}
		sameStreamGraph(t, fmt.Sprintf("after step %d", step), f.have, graph.Filter(streamMeshAt(step), ns))
	}

	// A viewer that arrives now starts from the latest snapshot.
	late := followStream(t, dialStream(t, srv, "?namespace=default", nil))
	sameStreamGraph(t, "a late viewer's snapshot", late.have, graph.Filter(streamMeshAt(4), ns))
}

func TestStreamFiltersPerViewer(t *testing.T) {
	h, _ := newStreamHub(t, HubOptions{})
	srv := streamServer(t, h)
	h.Publish(streamMeshAt(0))

	viewers := map[string]*streamFollower{
		"":                        followStream(t, dialStream(t, srv, "", nil)),
		"default":                 followStream(t, dialStream(t, srv, "?namespace=default", nil)),
		"shop":                    followStream(t, dialStream(t, srv, "?namespace=shop", nil)),
		"nowhere":                 followStream(t, dialStream(t, srv, "?namespace=nowhere", nil)),
		"shop,default":            followStream(t, dialStream(t, srv, "?namespace=shop,default", nil)),
		"shop&namespace=nowhere2": followStream(t, dialStream(t, srv, "?namespace=shop&namespace=nowhere2", nil)),
	}
	namespaces := map[string][]string{
		"": nil, "default": {"default"}, "shop": {"shop"}, "nowhere": {"nowhere"},
		"shop,default": {"shop", "default"}, "shop&namespace=nowhere2": {"shop", "nowhere2"},
	}
	for step := 0; step <= 3; step++ {
		if step > 0 {
			h.Publish(streamMeshAt(step))
		}
		for q, f := range viewers {
			if step > 0 {
				f.next(t)
			}
			sameStreamGraph(t, fmt.Sprintf("?namespace=%s at step %d", q, step), f.have, graph.Filter(streamMeshAt(step), namespaces[q]))
		}
	}
	if n := len(viewers["nowhere"].have.Nodes); n != 0 {
		t.Errorf("a namespace that does not exist shows %d nodes", n)
	}
	if slices.Equal(streamNodeIDs(viewers["default"].have), streamNodeIDs(viewers["shop"].have)) {
		t.Error("two namespaces show the same nodes")
	}
}

func streamNodeIDs(s graph.Snapshot) []string {
	var ids []string
	for _, n := range s.Nodes {
		ids = append(ids, n.ID)
	}
	return ids
}

func TestStreamSendsADeltaWhenNothingChanged(t *testing.T) {
	h, _ := newStreamHub(t, HubOptions{})
	srv := streamServer(t, h)
	h.Publish(streamMeshAt(0))
	f := followStream(t, dialStream(t, srv, "?namespace=shop", nil))

	again := streamMeshAt(0)
	again.GeneratedAt = again.GeneratedAt.Add(time.Minute)
	h.Publish(again)
	d := f.next(t)
	if !d.GeneratedAt.Equal(again.GeneratedAt) {
		t.Errorf("the delta says generatedAt %v, want %v", d.GeneratedAt, again.GeneratedAt)
	}
	if len(d.Nodes)+len(d.RemovedNodes)+len(d.Edges)+len(d.RemovedEdges)+len(d.Findings)+len(d.RemovedFindings) != 0 {
		t.Errorf("nothing changed but the delta carries %+v", d)
	}
	sameStreamGraph(t, "after an empty change", f.have, graph.Filter(again, []string{"shop"}))

	// A change outside the viewer's namespaces is an empty delta too.
	outside := again
	outside.GeneratedAt = outside.GeneratedAt.Add(time.Minute)
	outside.Edges = slices.Clone(again.Edges)
	outside.Edges[0].Rate = 99 // default/productpage->default/reviews
	h.Publish(outside)
	if d := f.next(t); len(d.Edges) != 0 || !d.GeneratedAt.Equal(outside.GeneratedAt) {
		t.Errorf("a change in another namespace gave %+v", d)
	}
}

func TestStreamRejectsAnInvalidNamespace(t *testing.T) {
	h, _ := newStreamHub(t, HubOptions{})
	srv := streamServer(t, h)
	h.Publish(streamMeshAt(0))
	for _, q := range []string{"?namespace=Not_A_Namespace", "?namespace=default,-bad", "?namespace=" + strings.Repeat("a", 64)} {
		status, body := dialRefused(t, srv, q, nil)
		if status != http.StatusBadRequest || !strings.Contains(body["error"], "invalid namespace") {
			t.Errorf("%s: %d %v, want 400 and the JSON error", q, status, body)
		}
	}
	if got := testutil.ToFloat64(h.clients); got != 0 {
		t.Errorf("meshlock_stream_clients = %v after refused requests", got)
	}
}

func TestStreamOrigins(t *testing.T) {
	h, _ := newStreamHub(t, HubOptions{TrustedOrigins: []string{"https://dash.example.com:443", "http://localhost:3000"}})
	srv := streamServer(t, h)
	h.Publish(streamMeshAt(0))
	withOrigin := func(origin string) *websocket.DialOptions {
		return &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}}
	}

	for _, origin := range []string{"https://evil.example", "http://dash.example.com", "https://dash.example.com.evil.example", "http://localhost:3001", "null"} {
		status, body := dialRefused(t, srv, "", withOrigin(origin))
		if status != http.StatusForbidden || body["error"] == "" {
			t.Errorf("Origin %s: %d %v, want 403 and the JSON error", origin, status, body)
		}
	}
	for _, origin := range []string{srv.URL, "https://dash.example.com", "HTTP://LOCALHOST:3000"} {
		f := followStream(t, dialStream(t, srv, "", withOrigin(origin)))
		sameStreamGraph(t, "Origin "+origin, f.have, graph.Filter(streamMeshAt(0), nil))
	}
	// A client that is not a browser sends no Origin.
	followStream(t, dialStream(t, srv, "", nil))
}

func TestStreamClosesAClientThatSpeaks(t *testing.T) {
	for _, tt := range []struct {
		name    string
		message []byte
		want    websocket.StatusCode
	}{
		{"a small message", []byte(`{"type":"hello"}`), websocket.StatusPolicyViolation},
		{"a malformed message", []byte("\x00not json"), websocket.StatusPolicyViolation},
		{"an oversized one", []byte(strings.Repeat("x", 64<<10)), websocket.StatusMessageTooBig},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newStreamHub(t, HubOptions{})
			srv := streamServer(t, h)
			h.Publish(streamMeshAt(0))
			talker := followStream(t, dialStream(t, srv, "", nil))
			listener := followStream(t, dialStream(t, srv, "", nil))

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := talker.conn.Write(ctx, websocket.MessageText, tt.message); err != nil {
				t.Fatal(err)
			}
			wantStreamClose(t, readStreamUntilClosed(talker.conn), tt.want, "")
			streamEventually(t, "the talker's socket to be counted out", func() bool { return testutil.ToFloat64(h.clients) == 1 })

			h.Publish(streamMeshAt(1))
			listener.next(t)
			sameStreamGraph(t, "the listener", listener.have, graph.Filter(streamMeshAt(1), nil))
		})
	}
}

// bigStreamMesh is a graph of n edges whose every rate changes with step, so that
// each delta carries all of them (a few hundred bytes each).
func bigStreamMesh(step, n int) graph.Snapshot {
	s := graph.Snapshot{GeneratedAt: streamEpoch.Add(time.Duration(step) * time.Second), Window: "1m",
		Nodes: make([]graph.Node, 0, n+1), Edges: make([]graph.Edge, 0, n), Findings: []graph.Finding{}}
	pad := strings.Repeat("p", 200)
	for i := range n {
		s.Nodes = append(s.Nodes, graph.Node{ID: fmt.Sprintf("big/svc-%05d", i), Namespace: "big", Name: fmt.Sprintf("svc-%05d", i), Kind: graph.KindService, InMesh: true, PeerAuthentication: "STRICT"})
	}
	for i := range n {
		src, dst := fmt.Sprintf("big/svc-%05d", i), fmt.Sprintf("big/svc-%05d", (i+1)%n)
		s.Edges = append(s.Edges, graph.Edge{ID: src + "->" + dst + ":http", Source: src, Target: dst, Protocol: "http",
			Rate: float64(step) + float64(i)/float64(n), MTLSRatio: 1, Status: graph.StatusLocked,
			SourcePrincipal: "spiffe://cluster.local/ns/big/sa/" + pad, DestinationPrincipal: "spiffe://cluster.local/ns/big/sa/" + pad})
	}
	return s
}

// smallReceiveBufferDial is a client whose kernel receive buffer stays small, so
// that a client that does not read blocks the server's writes soon.
func smallReceiveBufferDial() *websocket.DialOptions {
	dialer := &net.Dialer{}
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dialer.DialContext(ctx, network, addr)
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.SetReadBuffer(32 << 10)
		}
		return conn, err
	}}
	return &websocket.DialOptions{HTTPClient: &http.Client{Transport: transport}}
}

func TestStreamDropsASlowViewer(t *testing.T) {
	// The write timeout is long: the slow viewer must be dropped because its
	// queue filled, not because a write gave up.
	h, registry := newStreamHub(t, HubOptions{BufferSize: 1, WriteTimeout: 2 * time.Minute})
	srv := streamServer(t, h)
	const edges = 2500 // about 1.3 MB a message
	h.Publish(bigStreamMesh(0, edges))

	fast := followStream(t, dialStream(t, srv, "", nil))
	slow := dialStream(t, srv, "", smallReceiveBufferDial()) // never reads until dropped
	streamEventually(t, "both viewers to register", func() bool { return testutil.ToFloat64(h.clients) == 2 })

	// One refresh at a time, as the refresh loop does: the fast viewer has
	// taken each one before the next comes, the slow one falls behind.
	step := 0
	for testutil.ToFloat64(h.dropped) == 0 {
		step++
		if step > 200 {
			t.Fatal("200 large refreshes and the viewer that never reads was not dropped")
		}
		h.Publish(bigStreamMesh(step, edges))
		fast.next(t)
	}
	for range 2 { // the fast viewer goes on
		step++
		h.Publish(bigStreamMesh(step, edges))
		fast.next(t)
	}
	sameStreamGraph(t, "the fast viewer", fast.have, bigStreamMesh(step, edges))
	if got := testutil.ToFloat64(h.dropped); got != 1 {
		t.Errorf("meshlock_stream_dropped_total = %v, want 1", got)
	}
	if err := testutil.GatherAndCompare(registry, strings.NewReader(`
# HELP meshlock_stream_dropped_total Live-stream viewers disconnected for being too slow to keep up.
# TYPE meshlock_stream_dropped_total counter
meshlock_stream_dropped_total 1
`), "meshlock_stream_dropped_total"); err != nil {
		t.Error(err)
	}
	t.Logf("dropped after %d refreshes", step-2)

	// When it reads at last, it finds what was sent before, then the close.
	wantStreamClose(t, readStreamUntilClosed(slow), websocket.StatusPolicyViolation, reasonTooSlow)
	streamEventually(t, "the slow socket to be counted out", func() bool { return testutil.ToFloat64(h.clients) == 1 })
}

func TestStreamClientsGauge(t *testing.T) {
	h, registry := newStreamHub(t, HubOptions{})
	srv := streamServer(t, h)
	h.Publish(streamMeshAt(0))
	clients := func(want float64) func() bool {
		return func() bool { return testutil.ToFloat64(h.clients) == want }
	}

	a := followStream(t, dialStream(t, srv, "", nil))
	streamEventually(t, "1 client", clients(1))
	b := followStream(t, dialStream(t, srv, "?namespace=shop", nil))
	streamEventually(t, "2 clients", clients(2))
	if err := testutil.GatherAndCompare(registry, strings.NewReader(`
# HELP meshlock_stream_clients Open live-stream sockets (GET /api/stream).
# TYPE meshlock_stream_clients gauge
meshlock_stream_clients 2
`), "meshlock_stream_clients"); err != nil {
		t.Error(err)
	}

	if err := a.conn.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Errorf("close: %v", err)
	}
	streamEventually(t, "1 client after a close", clients(1))
	_ = b.conn.CloseNow() // no close handshake: the TCP connection just ends
	streamEventually(t, "0 clients after an abrupt close", clients(0))
}

func TestStreamShutdown(t *testing.T) {
	for _, published := range []bool{true, false} {
		t.Run(fmt.Sprintf("published=%v", published), func(t *testing.T) {
			h, _ := newStreamHub(t, HubOptions{})
			srv := httptest.NewServer(h)
			defer srv.Close()
			if published {
				h.Publish(streamMeshAt(0))
			}

			var conns []*websocket.Conn
			for _, q := range []string{"", "?namespace=shop"} {
				c := dialStream(t, srv, q, nil)
				if published {
					followStream(t, c)
				}
				conns = append(conns, c)
			}
			streamEventually(t, "2 clients", func() bool { return testutil.ToFloat64(h.clients) == 2 })

			ended := make(chan error, len(conns))
			for _, c := range conns {
				go func() { ended <- readStreamUntilClosed(c) }()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := h.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			for range conns {
				wantStreamClose(t, <-ended, websocket.StatusGoingAway, reasonShuttingDown)
			}
			if got := testutil.ToFloat64(h.clients); got != 0 {
				t.Errorf("meshlock_stream_clients = %v after Shutdown returned", got)
			}

			status, body := dialRefused(t, srv, "", nil)
			if status != http.StatusServiceUnavailable || body["error"] == "" {
				t.Errorf("a dial after Shutdown: %d %v, want 503", status, body)
			}
			h.Publish(streamMeshAt(1)) // harmless after Shutdown
			if err := h.Shutdown(ctx); err != nil {
				t.Errorf("a second Shutdown: %v", err)
			}
		})
	}
}

func TestStreamCountsATimedOutWriteAsTooSlow(t *testing.T) {
	// The queue is long enough never to fill here: the write timeout decides.
	// It is long enough that the fast viewer's writes of 2,500 edges never
	// reach it on a loaded machine under -race (at 1 s they once did).
	h, _ := newStreamHub(t, HubOptions{BufferSize: 1000, WriteTimeout: 3 * time.Second})
	srv := streamServer(t, h)
	const edges = 2500
	h.Publish(bigStreamMesh(0, edges))
	fast := followStream(t, dialStream(t, srv, "", nil))
	stuck := dialStream(t, srv, "", smallReceiveBufferDial()) // never reads
	streamEventually(t, "both viewers to register", func() bool { return testutil.ToFloat64(h.clients) == 2 })

	step := 0
	for testutil.ToFloat64(h.clients) == 2 {
		step++
		if step > 200 {
			t.Fatal("200 large refreshes and the stuck viewer's writes never timed out")
		}
		h.Publish(bigStreamMesh(step, edges))
		fast.next(t)
	}
	streamEventually(t, "the stuck socket to be counted out", func() bool { return testutil.ToFloat64(h.clients) == 1 })
	if got := testutil.ToFloat64(h.dropped); got != 1 {
		t.Errorf("meshlock_stream_dropped_total = %v, want 1", got)
	}
	if err := readStreamUntilClosed(stuck); err == nil {
		t.Error("the stuck socket is still open")
	}
	step++
	h.Publish(bigStreamMesh(step, edges))
	fast.next(t)
	sameStreamGraph(t, "the fast viewer", fast.have, bigStreamMesh(step, edges))
}

func TestStreamAnswersAPlainGETWithJSON(t *testing.T) {
	hub, _ := newStreamHub(t, HubOptions{})
	rec := httptest.NewRecorder()
	hub.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/stream", nil))
	var answer map[string]string
	if rec.Code != http.StatusUpgradeRequired || json.Unmarshal(rec.Body.Bytes(), &answer) != nil || answer["error"] == "" {
		t.Errorf("plain GET: %d %q, want 426 with a JSON error", rec.Code, rec.Body.String())
	}
}
