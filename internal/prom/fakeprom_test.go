// Test helpers of the prom package: a fake Prometheus with canned answers that records queries
// and Authorization headers, and helpers for options, counters and logs.

package prom

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakePrometheus serves /api/v1/query with canned answers and records what
// it was asked.
type fakePrometheus struct {
	t *testing.T
	// answer returns the HTTP status and JSON body for a query.
	answer func(query string) (int, string)

	mu       sync.Mutex
	queries  []string
	authHdrs []string
}

func (f *fakePrometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/query" {
		f.t.Errorf("request to %s, want /api/v1/query", r.URL.Path)
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		f.t.Errorf("parsing query form: %v", err)
	}
	query := r.Form.Get("query")
	f.mu.Lock()
	f.queries = append(f.queries, query)
	f.authHdrs = append(f.authHdrs, r.Header.Get("Authorization"))
	f.mu.Unlock()

	status, body := http.StatusOK, emptyVector
	if f.answer != nil {
		status, body = f.answer(query)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func (f *fakePrometheus) seenQueries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.queries...)
}

func (f *fakePrometheus) seenAuthorization() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.authHdrs...)
}

const emptyVector = `{"status":"success","data":{"resultType":"vector","result":[]}}`

// vectorAnswer wraps the JSON of vector samples in a success answer.
func vectorAnswer(samples ...string) string {
	return `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(samples, ",") + `]}}`
}

// startFake runs a fake Prometheus over plain HTTP.
func startFake(t *testing.T, answer func(query string) (int, string)) (*fakePrometheus, *httptest.Server) {
	t.Helper()
	fake := &fakePrometheus{t: t, answer: answer}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, srv
}

// byQuery answers the HTTP and TCP queries with their own bodies.
// byQuery answers the HTTP and TCP sent-bytes queries with the given bodies
// and the TCP connections query with connBody; the others (and connections
// without connBody) with an empty vector.
func byQuery(httpBody, tcpBody string, connBody ...string) func(string) (int, string) {
	conn := `{"status":"success","data":{"resultType":"vector","result":[]}}`
	if len(connBody) > 0 {
		conn = connBody[0]
	}
	return func(query string) (int, string) {
		switch {
		case strings.Contains(query, "istio_tcp_connections_opened_total"):
			return http.StatusOK, conn
		case strings.Contains(query, "istio_tcp_received_bytes_total"), strings.Contains(query, "istio_tcp_connections_closed_total"):
			return http.StatusOK, `{"status":"success","data":{"resultType":"vector","result":[]}}`
		case strings.Contains(query, "istio_tcp_sent_bytes_total"):
			return http.StatusOK, tcpBody
		}
		return http.StatusOK, httpBody
	}
}

// testOptions are valid Options against url with a fresh registry.
func testOptions(url string) (Options, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	return Options{
		URL:          url,
		Registerer:   reg,
		Logger:       slog.New(slog.DiscardHandler),
		QueryTimeout: 5 * time.Second,
	}, reg
}

func mustNew(t *testing.T, opts Options) *Client {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// queriesCounted reads meshlock_prometheus_queries_total{query,result}.
func queriesCounted(t *testing.T, reg *prometheus.Registry, query, result string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != "meshlock_prometheus_queries_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["query"] == query && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no series meshlock_prometheus_queries_total{query=%q,result=%q}", query, result)
	return 0
}
