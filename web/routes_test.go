// Tests of the router: routes under the base path, option validation, and security headers.

package web

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

func newRegistry() *prometheus.Registry { return prometheus.NewRegistry() }

func newTestHandler(t *testing.T, basePath string) http.Handler {
	t.Helper()
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector())
	stream := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("the stream")) })
	handler, err := NewHandler(Options{BasePath: basePath, Registry: registry, Graph: &fixedGraph{}, Stream: stream, Enforcer: &scriptedEnforcer{}, Auth: ServerIdentity{}})
	if err != nil {
		t.Fatal(err)
	}
	return handler
}

func get(t *testing.T, handler http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestRoutesUnderBasePath(t *testing.T) {
	tests := []struct {
		basePath, path string
		wantCode       int
		wantBody       string
	}{
		{"/", "/healthz", http.StatusOK, "ok"},
		{"/", "/metrics", http.StatusOK, "go_goroutines"},
		{"/mesh/dash", "/mesh/dash/healthz", http.StatusOK, "ok"},
		{"/mesh/dash/", "/mesh/dash/metrics", http.StatusOK, "go_goroutines"},
		{"/mesh/dash", "/healthz", http.StatusNotFound, ""},
		{"/mesh/dash", "/mesh/dash/api/graph", http.StatusOK, `"nodes"`},
		{"/", "/api/nothing", http.StatusNotFound, `"error"`},
		{"/", "/", http.StatusOK, `data-testid="graph"`},
		{"/mesh/dash", "/mesh/dash/", http.StatusOK, `src="static/app.js`},
		{"/mesh/dash", "/mesh/dash", http.StatusMovedPermanently, ""},
		{"/mesh/dash", "/mesh/dash/static/app.css", http.StatusOK, "{"},
		{"/", "/static/app.js", http.StatusOK, "meshlock"},
		{"/x/y", "/x/y/api/stream", http.StatusOK, "the stream"},
		{"/x/y", "/x/y/api/actions", http.StatusOK, "["},
		{"/x/y", "/api/stream", http.StatusNotFound, ""},
		{"/", "/api/enforce", http.StatusMethodNotAllowed, `{"error":"GET is not allowed here"}`},
	}
	for _, tt := range tests {
		t.Run(tt.basePath+" "+tt.path, func(t *testing.T) {
			code, body := get(t, newTestHandler(t, tt.basePath), tt.path)
			if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Errorf("GET %s: %d %q, want %d containing %q", tt.path, code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	if _, err := NewHandler(Options{BasePath: "mesh", Registry: prometheus.NewRegistry(), Graph: &fixedGraph{}, Stream: http.NotFoundHandler(), Enforcer: &scriptedEnforcer{}, Auth: ServerIdentity{}}); err == nil {
		t.Error("a base path without a leading / was accepted")
	}
	if _, err := NewHandler(Options{BasePath: "/", Graph: &fixedGraph{}, Stream: http.NotFoundHandler(), Enforcer: &scriptedEnforcer{}, Auth: ServerIdentity{}}); err == nil {
		t.Error("a missing registry was accepted")
	}
	if _, err := NewHandler(Options{BasePath: "/", Registry: prometheus.NewRegistry(), Stream: http.NotFoundHandler(), Enforcer: &scriptedEnforcer{}, Auth: ServerIdentity{}}); err == nil {
		t.Error("a missing graph source was accepted")
	}
	if _, err := NewHandler(Options{BasePath: "/", Registry: prometheus.NewRegistry(), Graph: &fixedGraph{}}); err == nil {
		t.Error("a missing stream was accepted")
	}
}

func TestSecurityHeaders(t *testing.T) {
	registry := prometheus.NewRegistry()
	handler, err := NewHandler(Options{BasePath: "/mesh", Registry: registry, Graph: &fixedGraph{}, Stream: http.NotFoundHandler(),
		Enforcer: &scriptedEnforcer{}, Auth: ServerIdentity{}, FrameAncestors: "'self' https://portal.example"})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/mesh/", "/mesh/api/graph", "/mesh/static/app.js"} {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		h := rec.Result().Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'self' https://portal.example") || !strings.Contains(csp, "script-src 'self'") ||
			strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if h.Get("X-Frame-Options") != "" {
			t.Errorf("%s: X-Frame-Options %q contradicts frame-ancestors", path, h.Get("X-Frame-Options"))
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
	code, body := get(t, handler, "/mesh/metrics")
	if code != http.StatusOK || !strings.Contains(body, `meshlock_http_request_duration_seconds_count{code="200",method="GET",route="/mesh/api/graph"} 1`) {
		t.Errorf("request latency not observed by route:\n%s", body)
	}
}

// Hostile requests cannot grow /metrics (issue 27): 10,000 distinct
// methods and paths, before authentication, add a handful of series (the
// "other" method, the unmatched route, their status codes), not one each.
func TestRequestMetricsAreBounded(t *testing.T) {
	handler := newTestHandler(t, "/")
	get(t, handler, "/api/graph")
	get(t, handler, "/nothing")
	_, before := get(t, handler, "/metrics")
	for i := range 10000 {
		method := fmt.Sprintf("M%05d%s", i, strings.Repeat("X", i%200))
		path := fmt.Sprintf("/p%d/%s", i, strings.Repeat("y", i%300))
		if i%2 == 0 {
			path = fmt.Sprintf("/api/graph?x=%d", i)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		if rec.Code < 400 {
			t.Fatalf("%s %s: %d", method, path, rec.Code)
		}
	}
	_, after := get(t, handler, "/metrics")
	series := func(body string) int {
		return strings.Count(body, "meshlock_http_request_duration_seconds_count{")
	}
	t.Logf("/metrics: %d bytes, %d request series before; %d bytes, %d series after", len(before), series(before), len(after), series(after))
	if series(after) > series(before)+4 || len(after) > len(before)+8<<10 {
		t.Errorf("/metrics grew from %d to %d bytes, %d to %d request series", len(before), len(after), series(before), series(after))
	}
	if strings.Contains(after, "M00001") || !strings.Contains(after, `method="other"`) {
		t.Error(`the methods were not recorded as "other"`)
	}
}
