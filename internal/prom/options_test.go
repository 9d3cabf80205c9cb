// Tests of the client's Options: defaults filled in, given values kept, bad values rejected,
// passwords redacted from URL errors, and New failing on missing or empty token and CA files.

package prom

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestOptionsValidateFillsDefaults(t *testing.T) {
	opts := Options{URL: "http://prometheus.istio-system:9090", Registerer: prometheus.NewRegistry()}
	if err := opts.validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if opts.Window != time.Minute {
		t.Errorf("Window = %s, want 1m", opts.Window)
	}
	if opts.QueryTimeout != 10*time.Second {
		t.Errorf("QueryTimeout = %s, want 10s", opts.QueryTimeout)
	}
	if opts.MaxResponseBytes != 64<<20 {
		t.Errorf("MaxResponseBytes = %d, want 64 MiB", opts.MaxResponseBytes)
	}
	if opts.Logger != slog.Default() {
		t.Errorf("Logger is not slog.Default()")
	}
	if opts.CertNamespaceLabel != "namespace" || opts.CertPodLabel != "pod" {
		t.Errorf("CertNamespaceLabel, CertPodLabel = %q, %q; want namespace, pod", opts.CertNamespaceLabel, opts.CertPodLabel)
	}
}

func TestOptionsValidateKeepsGivenValues(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	opts := Options{
		URL:              "https://thanos.example:10902/prefix",
		Window:           90 * time.Second,
		QueryTimeout:     3 * time.Second,
		MaxResponseBytes: 1024,
		Registerer:       prometheus.NewRegistry(),
		Logger:           logger,

		CertNamespaceLabel: "kubernetes_namespace",
		CertPodLabel:       "_pod2",
	}
	if err := opts.validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if opts.Window != 90*time.Second || opts.QueryTimeout != 3*time.Second || opts.MaxResponseBytes != 1024 || opts.Logger != logger ||
		opts.CertNamespaceLabel != "kubernetes_namespace" || opts.CertPodLabel != "_pod2" {
		t.Errorf("validate changed given values: %+v", opts)
	}
}

func TestOptionsValidateRejectsBadValues(t *testing.T) {
	valid := func() Options {
		return Options{URL: "http://prometheus:9090", Registerer: prometheus.NewRegistry()}
	}
	for _, tc := range []struct {
		name    string
		change  func(*Options)
		wantErr string
	}{
		{"no URL", func(o *Options) { o.URL = "" }, "URL is required"},
		{"unparseable URL", func(o *Options) { o.URL = "http://prom:badport" }, "prometheus URL"},
		{"other scheme", func(o *Options) { o.URL = "ftp://prometheus:9090" }, "http or https"},
		{"no scheme", func(o *Options) { o.URL = "prometheus:9090" }, "http or https"},
		{"no host", func(o *Options) { o.URL = "http:///api" }, "no host"},
		{"window under 1s", func(o *Options) { o.Window = 500 * time.Millisecond }, "at least 1s"},
		{"negative window", func(o *Options) { o.Window = -time.Minute }, "at least 1s"},
		{"window finer than ms", func(o *Options) { o.Window = time.Second + time.Microsecond }, "milliseconds"},
		{"negative timeout", func(o *Options) { o.QueryTimeout = -time.Second }, "timeout"},
		{"negative size cap", func(o *Options) { o.MaxResponseBytes = -1 }, "max response bytes"},
		{"no registerer", func(o *Options) { o.Registerer = nil }, "Registerer"},
		// The label names go unquoted into the proxies' query.
		{"namespace label with a dot", func(o *Options) { o.CertNamespaceLabel = "k8s.namespace" }, `certificate namespace label "k8s.namespace"`},
		{"pod label starting with a digit", func(o *Options) { o.CertPodLabel = "1pod" }, `certificate pod label "1pod"`},
		{"pod label injecting PromQL", func(o *Options) { o.CertPodLabel = "pod) or vector(1" }, "certificate pod label"},
		{"reserved label", func(o *Options) { o.CertPodLabel = "__name__" }, `certificate pod label "__name__"`},
		{"the same label twice", func(o *Options) { o.CertNamespaceLabel = "pod" }, `both "pod"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := valid()
			tc.change(&opts)
			err := opts.validate()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("validate() = %v, want an error containing %q", err, tc.wantErr)
			}
			if _, err := New(opts); err == nil {
				t.Fatalf("New accepted the options")
			}
		})
	}
}

func TestOptionsValidateRedactsPasswordInURLErrors(t *testing.T) {
	opts := Options{URL: "ftp://user:secret@prometheus:9090", Registerer: prometheus.NewRegistry()}
	err := opts.validate()
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("validate() = %v, want an error without the password", err)
	}
}

func TestNewFailsOnMissingFiles(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		name   string
		change func(*Options)
	}{
		{"token file", func(o *Options) { o.BearerTokenFile = missing }},
		{"CA file", func(o *Options) { o.CAFile = missing }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, _ := testOptions("https://prometheus:9090")
			tc.change(&opts)
			if _, err := New(opts); err == nil || !strings.Contains(err.Error(), missing) {
				t.Fatalf("New() error = %v, want one naming %s", err, missing)
			}
		})
	}
}

func TestNewFailsOnCAFileWithoutCertificates(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, _ := testOptions("https://prometheus:9090")
	opts.CAFile = caFile
	if _, err := New(opts); err == nil {
		t.Fatal("New accepted a CA file without certificates")
	}
}
