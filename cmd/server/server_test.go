// Tests of the HTTP server's limits: stalled and idle connections are dropped, the write
// timeout spares the live stream, and the metrics listener serves /metrics only.

package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/web"
)

var testLimits = limits{ReadHeader: 300 * time.Millisecond, Read: 500 * time.Millisecond, Write: 400 * time.Millisecond,
	Idle: 500 * time.Millisecond, MaxHeaderBytes: 8 << 10}

// serveLimited serves handler with l on a loopback port until the test ends.
func serveLimited(t *testing.T, handler http.Handler, l limits) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := newHTTPServer(handler, l)
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(func() { _ = server.Close() })
	return listener.Addr().String()
}

// closedWithin says whether the server closes conn within d (reading and discarding what it sends).
func closedWithin(conn net.Conn, d time.Duration) bool {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	return err == nil // EOF: the server closed it; a timeout is an error
}

func TestServerDropsStalledAndIdleConnections(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte("ok"))
	})
	addr := serveLimited(t, echo, testLimits)
	for _, tt := range []struct {
		name, send string
		within     time.Duration
	}{
		{"stalled headers", "GET / HTTP/1.1\r\nHost: x\r\n", time.Second},
		{"stalled body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc", 1500 * time.Millisecond},
		{"idle keep-alive", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1500 * time.Millisecond},
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write([]byte(tt.send)); err != nil {
			t.Fatal(err)
		}
		// Closed by the server's timeout (tt.within here): without it the
		// connection would be held until the test's own deadline, a minute,
		// which only a hang reaches; the time it took is logged.
		start := time.Now()
		if !closedWithin(conn, time.Minute) {
			t.Errorf("%s: the connection was held %v, want closed by the server's timeout (%v)", tt.name, time.Since(start), tt.within)
		}
		t.Logf("%s: closed after %v (timeout %v)", tt.name, time.Since(start).Round(time.Millisecond), tt.within)
		conn.Close()
	}
}

// The write timeout bounds answers, not the live stream: net/http clears
// the deadlines of a hijacked connection.
func TestServerWriteTimeoutSparesTheStream(t *testing.T) {
	hub, err := web.NewHub(web.HubOptions{Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hub.Shutdown(ctx)
	})
	addr := serveLimited(t, hub, testLimits)
	hub.Publish(graph.Snapshot{Window: "1m", Nodes: []graph.Node{}, Edges: []graph.Edge{}, Findings: []graph.Finding{}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/api/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if _, _, err := c.Read(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * testLimits.Write) // past every deadline of the handshake's request
	hub.Publish(graph.Snapshot{Window: "1m", GeneratedAt: time.Now(), Nodes: []graph.Node{}, Edges: []graph.Edge{}, Findings: []graph.Finding{}})
	if _, body, err := c.Read(ctx); err != nil || !strings.Contains(string(body), "delta") {
		t.Errorf("after the write timeout the stream ended: %v %s", err, body)
	}
}

func TestMetricsListenerServesMetricsOnly(t *testing.T) {
	registry := prometheus.NewRegistry()
	registry.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "meshlock_test_total", Help: "x"}))
	addr := serveLimited(t, metricsHandler(registry, false), testLimits)
	profiled := serveLimited(t, metricsHandler(registry, true), testLimits)
	for _, tt := range []struct {
		addr, method, path string
		want               int
		body               string
	}{
		{addr, "GET", "/metrics", 200, "meshlock_test_total"},
		{addr, "HEAD", "/metrics", 200, ""},
		{addr, "GET", "/", 404, `"error"`},
		{addr, "GET", "/api/graph", 404, `"error"`},
		{addr, "POST", "/metrics", 405, `"error"`},
		{addr, "GET", "/debug/pprof/", 404, `"error"`}, // profiles only with --pprof
		{profiled, "GET", "/debug/pprof/", 200, "goroutine"},
		{profiled, "GET", "/debug/pprof/heap?debug=1", 200, "heap profile"},
		{profiled, "GET", "/metrics", 200, "meshlock_test_total"},
	} {
		req, _ := http.NewRequest(tt.method, "http://"+tt.addr+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(bufio.NewReader(resp.Body))
		resp.Body.Close()
		if resp.StatusCode != tt.want || !strings.Contains(string(body), tt.body) {
			t.Errorf("%s %s: %d %.100s, want %d %q", tt.method, tt.path, resp.StatusCode, body, tt.want, tt.body)
		}
	}
}
