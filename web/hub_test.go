// Tests of the hub: option validation, origin normalisation, and no registration after Shutdown.

package web

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	meshtest "github.com/meshlock/meshlock/internal/testutil"
)

func streamLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newStreamHub(t *testing.T, opts HubOptions) (*Hub, *prometheus.Registry) {
	t.Helper()
	registry := prometheus.NewRegistry()
	opts.Registerer = registry
	if opts.Logger == nil {
		opts.Logger = streamLogger()
	}
	h, err := NewHub(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h, registry
}

// streamEventually polls cond until it holds or meshtest.HangBound passes.
func streamEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(meshtest.HangBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNewHubOptions(t *testing.T) {
	if _, err := NewHub(HubOptions{}); err == nil {
		t.Error("NewHub without a Registerer succeeded")
	}
	for _, opts := range []HubOptions{
		{BufferSize: -1},
		{WriteTimeout: -time.Second},
		{TrustedOrigins: []string{"dash.example.com"}},            // no scheme
		{TrustedOrigins: []string{"ftp://dash.example.com"}},      // not a web origin
		{TrustedOrigins: []string{"https://dash.example.com/ui"}}, // a path
		{TrustedOrigins: []string{"https://*.example.com"}},       // a wildcard
		{TrustedOrigins: []string{"https://user@example.com"}},    // credentials
	} {
		opts.Registerer = prometheus.NewRegistry()
		if _, err := NewHub(opts); err == nil {
			t.Errorf("NewHub(%+v) succeeded", opts)
		}
	}

	h, registry := newStreamHub(t, HubOptions{})
	if h.opts.BufferSize != defaultStreamBuffer || h.opts.WriteTimeout != defaultStreamWriteTimeout {
		t.Errorf("defaults: BufferSize %d, WriteTimeout %v", h.opts.BufferSize, h.opts.WriteTimeout)
	}
	if _, err := NewHub(HubOptions{Registerer: registry}); err == nil {
		t.Error("registering the stream metrics twice succeeded")
	}
	if n, err := testutil.GatherAndCount(registry, "meshlock_stream_clients", "meshlock_stream_dropped_total"); err != nil || n != 2 {
		t.Errorf("registered metrics: %d, %v; want both", n, err)
	}
}

func TestNormalizeOrigin(t *testing.T) {
	tests := map[string]string{
		"https://dash.example.com":      "https://dash.example.com",
		"HTTPS://Dash.Example.com/":     "https://dash.example.com",
		"https://dash.example.com:443":  "https://dash.example.com",
		"http://dash.example.com:80":    "http://dash.example.com",
		"http://localhost:8080":         "http://localhost:8080",
		"https://dash.example.com:8443": "https://dash.example.com:8443",
		"http://[::1]:8080":             "http://[::1]:8080",
	}
	for in, want := range tests {
		got, err := normalizeOrigin(in)
		if err != nil || got != want {
			t.Errorf("normalizeOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	patterns := originPatterns(map[string]bool{"http://[::1]:8080": true, "https://a.example": true})
	if strings.Join(patterns, " ") != `http://\[::1\]:8080 https://a.example` {
		t.Errorf("originPatterns = %q", patterns)
	}
}

// TestRegisterAfterShutdown: once Shutdown was called, no socket counts in.
func TestRegisterAfterShutdown(t *testing.T) {
	h, _ := newStreamHub(t, HubOptions{BufferSize: 2})
	if !h.register() {
		t.Fatal("register failed")
	}
	h.unregister(nil, "")
	if got := testutil.ToFloat64(h.clients); got != 0 {
		t.Errorf("meshlock_stream_clients = %v after every viewer left", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if h.register() {
		t.Error("a viewer registered after Shutdown")
	}
}
