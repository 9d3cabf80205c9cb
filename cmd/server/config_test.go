// Tests of the configuration: defaults, flags versus MESHLOCK_* variables, rejected values,
// exit codes for bad flags, bad combinations and --help, and JSON logs.

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func envOf(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := parseConfig(nil, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":8080" || cfg.PrometheusURL != "http://prometheus.istio-system:9090" ||
		cfg.Refresh != 5*time.Second || cfg.Window != time.Minute || cfg.BasePath != "/" ||
		cfg.FrameAncestors != "'self'" || cfg.AllowEnforce || cfg.IstioRootNamespace != "istio-system" ||
		cfg.LogFormat != "text" || cfg.Auth != "none" || cfg.Namespaces != nil {
		t.Errorf("defaults differ from the contract: %+v", cfg)
	}
}

func TestParseConfigSources(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(config) bool
	}{
		{"environment variable", nil, map[string]string{"MESHLOCK_REFRESH": "10s"},
			func(c config) bool { return c.Refresh == 10*time.Second }},
		{"dashes become underscores", nil, map[string]string{"MESHLOCK_BASE_PATH": "/mesh"},
			func(c config) bool { return c.BasePath == "/mesh" }},
		{"command line wins over environment", []string{"--refresh=2s"}, map[string]string{"MESHLOCK_REFRESH": "10s"},
			func(c config) bool { return c.Refresh == 2*time.Second }},
		{"lists are split and trimmed", []string{"--namespaces", "default, legacy,"}, nil,
			func(c config) bool { return slices.Equal(c.Namespaces, []string{"default", "legacy"}) }},
		{"demo allows enforce", []string{"--demo"}, nil,
			func(c config) bool { return c.Demo && c.AllowEnforce }},
		{"demo with enforce switched off", []string{"--demo", "--allow-enforce=false"}, nil,
			func(c config) bool { return c.Demo && !c.AllowEnforce }},
		{"demo from the environment allows enforce", nil, map[string]string{"MESHLOCK_DEMO": "true"},
			func(c config) bool { return c.Demo && c.AllowEnforce }},
		{"metrics on another port", []string{"--metrics-addr=127.0.0.1:9090"}, nil,
			func(c config) bool { return c.MetricsAddr == "127.0.0.1:9090" && c.MaxStreams == 1000 }},
		{"metrics on the same port of another host", []string{"--addr=127.0.0.1:9000", "--metrics-addr=127.0.0.2:9000"}, nil,
			func(c config) bool { return c.MetricsAddr == "127.0.0.2:9000" }},
		{"max streams", []string{"--max-streams=5"}, nil, func(c config) bool { return c.MaxStreams == 5 && c.MaxStreamsPerUser == 5 }},
		{"stream and query caps per user", []string{"--max-streams-per-user=3", "--max-long-queries=1"}, nil,
			func(c config) bool {
				return c.MaxStreamsPerUser == 3 && c.MaxLongQueries == 1 && c.MaxLongQueriesPerUser == 1
			}},
		{"token auth against a cluster", []string{"--auth=token", "--kubeconfig=/tmp/k"}, nil, func(c config) bool { return c.Auth == "token" }},
		{"look-back by default a week", nil, nil, func(c config) bool { return c.Lookback == 7*24*time.Hour }},
		{"certificate thresholds by default", nil, nil, func(c config) bool {
			return c.CertWarn == 30*24*time.Hour && c.CertCritical == 7*24*time.Hour && c.WorkloadCertWarn == 6*time.Hour &&
				c.CertNamespaceLabel == "namespace" && c.CertPodLabel == "pod"
		}},
		{"certificate thresholds in days", []string{"--cert-warn=60d", "--cert-critical=14d"}, map[string]string{"MESHLOCK_WORKLOAD_CERT_WARN": "3h"},
			func(c config) bool {
				return c.CertWarn == 60*24*time.Hour && c.CertCritical == 14*24*time.Hour && c.WorkloadCertWarn == 3*time.Hour
			}},
		{"istio-agent's pod labels", []string{"--cert-namespace-label=kubernetes_namespace", "--cert-pod-label=kubernetes_pod_name"}, nil,
			func(c config) bool {
				return c.CertNamespaceLabel == "kubernetes_namespace" && c.CertPodLabel == "kubernetes_pod_name"
			}},
		{"look-back in days", []string{"--lookback=30d"}, nil, func(c config) bool { return c.Lookback == 30*24*time.Hour }},
		{"look-back off", nil, map[string]string{"MESHLOCK_LOOKBACK": "0"}, func(c config) bool { return c.Lookback == 0 }},
		{"trusted origins", []string{"--trusted-origins=https://portal.example.com,http://127.0.0.1:3000"}, nil,
			func(c config) bool { return len(c.TrustedOrigins) == 2 }},
		{"allowed hosts", nil, map[string]string{"MESHLOCK_ALLOWED_HOSTS": "meshlock.example, 10.0.0.5"},
			func(c config) bool { return slices.Equal(c.AllowedHosts, []string{"meshlock.example", "10.0.0.5"}) }},
		{"one cluster by default", nil, nil, func(c config) bool { return c.Clusters == nil && c.DemoClusters == 1 }},
		{"several clusters, repeated", []string{"--cluster=west=kind-west", "--cluster", "east=kind-east"}, nil, func(c config) bool {
			return slices.Equal(c.Clusters, []clusterFlag{{"west", "kind-west"}, {"east", "kind-east"}})
		}},
		{"several clusters from the environment", nil, map[string]string{"MESHLOCK_CLUSTER": "west=kind-west, east=kind-east"}, func(c config) bool {
			return slices.Equal(c.Clusters, []clusterFlag{{"west", "kind-west"}, {"east", "kind-east"}})
		}},
		{"the demo's two clusters", []string{"--demo", "--demo-clusters=2"}, nil, func(c config) bool { return c.DemoClusters == 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig(tt.args, envOf(tt.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("unexpected config: %+v", cfg)
			}
		})
	}
}

func TestParseConfigRejects(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"unparseable duration", []string{"--refresh=soon"}, nil, "refresh"},
		{"zero refresh", []string{"--refresh=0s"}, nil, "--refresh must be positive"},
		{"tiny window", []string{"--window=10ms"}, nil, "--window"},
		{"look-back under a minute", []string{"--lookback=30s"}, nil, "--lookback must be 0 or a whole number of minutes"},
		{"look-back of a minute and a half", []string{"--lookback=90s"}, nil, "--lookback must be 0"},
		{"look-back unparseable", []string{"--lookback=a week"}, nil, "want a duration such as 7d"},
		{"base path without slash", []string{"--base-path=mesh"}, nil, "--base-path must start with /"},
		{"prometheus URL without scheme", []string{"--prometheus-url=prometheus:9090"}, nil, "--prometheus-url"},
		{"prometheus URL unparseable", []string{"--prometheus-url=http://[::1"}, nil, "--prometheus-url"},
		{"history prometheus URL without scheme", []string{"--history-prometheus-url=thanos:9090"}, nil, "--history-prometheus-url"},
		{"history credentials without its URL", []string{"--history-prometheus-bearer-token-file=/t"}, nil, "need --history-prometheus-url"},
		{"history prometheus with the demo", []string{"--demo", "--history-prometheus-url=http://thanos:9090"}, nil, "--history-prometheus-url cannot be used with --demo"},
		{"history series unknown", []string{"--history-series=rollups"}, nil, `--history-series "rollups": want one of auto, recorded, istio-recorded, raw`},
		{"bad namespace", []string{"--namespaces=Default"}, nil, `invalid namespace "Default"`},
		{"bad root namespace", []string{"--istio-root-namespace=istio_system"}, nil, "invalid namespace"},
		{"bad origin", []string{"--trusted-origins=https://portal.example.com/path"}, nil, "is not an origin"},
		{"bad log format", []string{"--log-format=xml"}, nil, "--log-format"},
		{"bad auth", []string{"--auth=oidc"}, nil, "--auth"},
		{"frame ancestors injecting a directive", []string{"--frame-ancestors='self'; script-src *"}, nil, "--frame-ancestors"},
		{"unknown flag", []string{"--colour=blue"}, nil, "colour"},
		{"stray argument", []string{"serve"}, nil, "unexpected argument"},
		{"bad environment value names the variable", nil, map[string]string{"MESHLOCK_WINDOW": "long"}, "MESHLOCK_WINDOW"},
		{"demo with token auth", []string{"--demo", "--auth=token"}, nil, "--auth=token"},
		{"demo with token auth from the environment", []string{"--demo"}, map[string]string{"MESHLOCK_AUTH": "token"}, "--auth=token"},
		{"demo with a kubeconfig", []string{"--demo", "--kubeconfig=/tmp/k"}, nil, "--kubeconfig cannot be used with --demo"},
		{"demo with a Prometheus URL", []string{"--demo", "--prometheus-url=http://p:9090"}, nil, "--prometheus-url cannot be used with --demo"},
		{"metrics on the dashboard's address", []string{"--addr=:9000", "--metrics-addr=:9000"}, nil, "--metrics-addr"},
		{"metrics on the dashboard's port, wildcard", []string{"--addr=127.0.0.1:9000", "--metrics-addr=0.0.0.0:9000"}, nil, "--metrics-addr"},
		{"metrics on the default address", []string{"--metrics-addr=:8080"}, nil, "--metrics-addr"},
		{"metrics address without a port", []string{"--metrics-addr=localhost"}, nil, "--metrics-addr"},
		{"addr without a port", []string{"--addr=8080"}, nil, "--addr"},
		{"no streams", []string{"--max-streams=0"}, nil, "--max-streams"},
		{"profiles without their own address", []string{"--pprof"}, nil, "--pprof needs --metrics-addr"},
		{"more streams per user than in all", []string{"--max-streams=5", "--max-streams-per-user=6"}, nil, "--max-streams-per-user"},
		{"more long queries per user than in all", []string{"--max-long-queries=2", "--max-long-queries-per-user=3"}, nil, "--max-long-queries"},
		{"allowed host with a port", []string{"--allowed-hosts=meshlock.example:8080"}, nil, "--allowed-hosts"},
		{"critical beyond warn", []string{"--cert-warn=7d", "--cert-critical=30d"}, nil, "--cert-critical"},
		{"no critical", []string{"--cert-critical=0"}, nil, "--cert-critical"},
		{"no workload warning", []string{"--workload-cert-warn=0"}, nil, "--workload-cert-warn"},
		{"a label that is no label", []string{"--cert-pod-label=pod-name"}, nil, "--cert-pod-label"},
		{"the same label twice", []string{"--cert-pod-label=namespace"}, nil, "must differ"},
		{"allowed host with a scheme", []string{"--allowed-hosts=https://meshlock.example"}, nil, "--allowed-hosts"},
		{"one cluster named", []string{"--cluster=west=kind-west"}, nil, "for one cluster, use --context"},
		{"a cluster without a context", []string{"--cluster=west", "--cluster=east=e"}, nil, "want NAME=CONTEXT"},
		{"a cluster with an empty context", []string{"--cluster=west=", "--cluster=east=e"}, nil, "both given"},
		{"a cluster name with a slash", []string{"--cluster=we/st=w", "--cluster=east=e"}, nil, "not a cluster ID"},
		{"a cluster named twice", []string{"--cluster=west=w", "--cluster=west=e"}, nil, "named twice"},
		{"a context given twice", []string{"--cluster=west=w", "--cluster=east=w"}, nil, "given to two clusters"},
		{"clusters and a context", []string{"--cluster=west=w", "--cluster=east=e", "--context=w"}, nil, "--context and --cluster"},
		{"clusters and the demo", []string{"--demo", "--cluster=west=w", "--cluster=east=e"}, nil, "--cluster cannot be used with --demo"},
		{"three demo clusters", []string{"--demo", "--demo-clusters=3"}, nil, "--demo-clusters must be 1 or 2"},
		{"demo clusters without the demo", []string{"--demo-clusters=2"}, nil, "--demo-clusters needs --demo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.args, envOf(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestRunBadFlagExitsTwoWithOneLine(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--refresh=soon"}, envOf(nil), &stdout, &stderr)
	if code != 2 {
		t.Errorf("exit status %d, want 2", code)
	}
	if lines := strings.Count(stderr.String(), "\n"); lines != 1 || !strings.HasPrefix(stderr.String(), "meshlock: ") {
		t.Errorf("want one line on stderr, got %q", stderr.String())
	}
}

// A bad combination stops the start before anything runs: the demo is not
// started (it would log to stderr) and the status is 2.
func TestRunBadCombinationExitsTwoBeforeStarting(t *testing.T) {
	for _, args := range [][]string{{"--demo", "--auth", "token"}, {"--demo", "--metrics-addr=:8080"}} {
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		code := run(ctx, args, envOf(nil), &stdout, &stderr)
		cancel()
		if code != 2 {
			t.Errorf("%v: exit status %d, want 2", args, code)
		}
		if lines := strings.Count(stderr.String(), "\n"); lines != 1 || !strings.HasPrefix(stderr.String(), "meshlock: ") {
			t.Errorf("%v: want one line on stderr, got %q", args, stderr.String())
		}
	}
}

func TestRunHelpExitsZero(t *testing.T) {
	var stdout bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, envOf(nil), &stdout, io.Discard); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	if !strings.Contains(stdout.String(), "-prometheus-url") {
		t.Errorf("usage does not list the flags: %q", stdout.String())
	}
}

func TestJSONLogs(t *testing.T) {
	var out bytes.Buffer
	newLogger("json", &out).Info("meshlock listening", "url", "http://localhost:8080/")
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil || line["msg"] != "meshlock listening" || line["url"] != "http://localhost:8080/" {
		t.Errorf("--log-format json wrote %q (%v)", out.String(), err)
	}
}
