// Tests of the Host check (--auth=none): DNS rebinding refused before any handler, the stream's
// upgrade too; loopback names, addresses and --allowed-hosts served.

package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestHostCheckRefusesOtherNames(t *testing.T) {
	reached := 0
	stream := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { reached++; _, _ = w.Write([]byte("the stream")) })
	handler, err := NewHandler(Options{BasePath: "/", Registry: prometheus.NewRegistry(), Graph: &fixedGraph{}, Stream: stream,
		Enforcer: &scriptedEnforcer{}, Auth: ServerIdentity{}, AllowEnforce: true,
		CheckHost: true, AllowedHosts: []string{"Meshlock.Example", "10.1.2.4"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		host, method, path string
		served             bool
	}{
		{"127.0.0.1:8080", "GET", "/api/graph", true},
		{"localhost:8080", "GET", "/api/graph", true},
		{"LOCALHOST.", "GET", "/api/graph", true},
		{"app.localhost:8080", "GET", "/", true},
		{"[::1]:8080", "GET", "/api/graph", true},
		{"127.0.0.2:8080", "GET", "/api/graph", true},
		{"10.1.2.4:8080", "GET", "/healthz", true}, // the pod's own address, allowed: kubelet's probe, Prometheus' scrape
		{"10.1.2.3:8080", "GET", "/api/graph", false},
		{"[2001:db8::1]:8080", "GET", "/api/graph", false},
		{"meshlock.example:8080", "GET", "/api/graph", true},
		{"meshlock.example", "GET", "/", true},
		{"attacker.example", "GET", "/api/graph", false},
		{"attacker.example:8080", "GET", "/api/stream", false},
		{"attacker.example", "POST", "/api/enforce", false},
		{"attacker.example", "GET", "/metrics", false},
		{"localhost.attacker.example", "GET", "/api/graph", false},
		{"127.0.0.1.nip.io", "GET", "/api/graph", false},
		{"", "GET", "/api/graph", false},
	} {
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(`{}`))
		req.Host = tt.host
		req.Header.Set("Origin", "http://"+tt.host)
		req.Header.Set("Upgrade", "websocket")
		rec := httptest.NewRecorder()
		before := reached
		handler.ServeHTTP(rec, req)
		refused := rec.Code == http.StatusForbidden && strings.Contains(rec.Body.String(), "is not served")
		if refused == tt.served {
			t.Errorf("%s %s with Host %q: %d %s; want served %v", tt.method, tt.path, tt.host, rec.Code, rec.Body, tt.served)
		}
		if !tt.served {
			if reached != before {
				t.Errorf("Host %q reached the stream's handler", tt.host)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || rec.Header().Get("Content-Security-Policy") == "" {
				t.Errorf("Host %q: the refusal is %q without the security headers %v", tt.host, ct, rec.Header())
			}
		}
	}
}
