package web

import (
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
	handler, err := NewHandler(Options{BasePath: basePath, Registry: registry, Graph: &fixedGraph{}, Stream: http.NotFoundHandler(), Enforcer: &scriptedEnforcer{}, Auth: ServerIdentity{}})
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
