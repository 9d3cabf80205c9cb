package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/report"
)

func TestSubcommandUsageErrorsExitTwoWithOneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "--min-mtls=1.5"}, "--min-mtls must be between 0 and 1"},
		{[]string{"check", "-o", "csv"}, `-o "csv": want table, json, yaml`},
		{[]string{"check", "--lookback=30s"}, "--lookback must be at least 1m"},
		{[]string{"check", "--namespace=Bad_NS"}, "invalid namespace"},
		{[]string{"check", "--workload-certs"}, "--workload-certs needs --cert-min-validity"},
		{[]string{"check", "--cert-min-validity=soon"}, "cert-min-validity: want a duration"},
		{[]string{"report", "--cert-pod-label=a.b"}, "--cert-pod-label"},
		{[]string{"report", "-o", "table"}, `-o "table": want json, csv, yaml`},
		{[]string{"report", "--refresh=1s"}, "flag provided but not defined: -refresh"},
		{[]string{"report", "extra"}, `unexpected argument "extra"`},
		{[]string{"check", "--prometheus-url=ftp://x"}, "--prometheus-url"},
		// A connection error is a 2 as well: nothing listens there.
		{[]string{"check", "--kubeconfig=/nonexistent/kubeconfig"}, "kubernetes config"},
		// The demo runs its own cluster and Prometheus, as the server refuses.
		{[]string{"check", "--demo", "--prometheus-url=http://prometheus.example:9090"}, "--prometheus-url cannot be used with --demo"},
		{[]string{"report", "--demo", "--prometheus-url=http://prometheus.example:9090"}, "--prometheus-url cannot be used with --demo"},
		{[]string{"check", "--demo", "--kubeconfig=/tmp/kubeconfig"}, "--kubeconfig cannot be used with --demo"},
		{[]string{"report", "--demo", "--context=prod"}, "--context cannot be used with --demo"},
		{[]string{"check", "--demo", "--prometheus-bearer-token-file=/tmp/token"}, "--prometheus-bearer-token-file cannot be used with --demo"},
		{[]string{"report", "--demo", "--prometheus-ca-file=/tmp/ca.pem"}, "--prometheus-ca-file cannot be used with --demo"},
	} {
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		code := run(ctx, tc.args, envOf(nil), &stdout, &stderr)
		cancel()
		if code != exitUsage || strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), tc.want) ||
			!strings.HasPrefix(stderr.String(), "meshlock "+tc.args[0]+": ") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line saying %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

func TestSubcommandsReadTheirEnvironment(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"check"}, envOf(map[string]string{"MESHLOCK_MIN_MTLS": "2"}), &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "--min-mtls must be between 0 and 1, got 2") {
		t.Errorf("MESHLOCK_MIN_MTLS=2: exit %d, %q", code, stderr.String())
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"report", "-h"}, envOf(nil), &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "-from") {
		t.Errorf("report -h: exit %d, %q", code, stdout.String())
	}
}

// The demo needs nothing installed: check fails on its plaintext callers,
// and its JSON is the report's with the check.
func TestCheckOnTheDemo(t *testing.T) {
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, []string{"check", "--demo", "-o", "json", "--namespace", "default"}, envOf(nil), &stdout, &stderr)
	var out struct {
		Check struct {
			Pass  bool
			Below []struct{ Kind, Name string }
		}
		Edges   []struct{ Source, Target string }
		Summary struct{ Requests float64 }
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || code != exitBelow || out.Check.Pass || len(out.Check.Below) == 0 || out.Summary.Requests == 0 {
		t.Fatalf("check --demo: exit %d, %v, stderr %q, %.400s", code, err, stderr.String(), stdout.String())
	}
	found := false
	for _, b := range out.Check.Below {
		found = found || b.Name == "default/nightly-backup -> default/ratings"
	}
	if !found {
		t.Errorf("below %+v, want the nightly backup, idle now, from the look-back", out.Check.Below)
	}
	stdout.Reset()
	if code := run(ctx, []string{"check", "--demo", "--min-mtls=0"}, envOf(nil), &stdout, &stderr); code != exitPass || !strings.HasPrefix(stdout.String(), "PASS: ") {
		t.Errorf("check --demo --min-mtls=0: exit %d, %q", code, stdout.String())
	}
	// The demo's root ends in 20 days: a 30-day bar fails on it, by name; a 10-day one passes.
	stdout.Reset()
	code = run(ctx, []string{"check", "--demo", "--min-mtls=0", "--cert-min-validity=30d"}, envOf(nil), &stdout, &stderr)
	if out := stdout.String(); code != exitBelow || !strings.Contains(out, "CERTIFICATE") || !strings.Contains(out, "root") ||
		!strings.Contains(lastLineOf(out), "FAIL") || !strings.Contains(lastLineOf(out), "1 certificates expire within 30d") {
		t.Errorf("check --demo --cert-min-validity=30d: exit %d, %q, stderr %q", code, out, stderr.String())
	}
	stdout.Reset()
	code = run(ctx, []string{"check", "--demo", "--min-mtls=0", "--cert-min-validity=10d"}, envOf(nil), &stdout, &stderr)
	if code != exitPass {
		t.Errorf("check --demo --cert-min-validity=10d: exit %d, %q, stderr %q", code, stdout.String(), stderr.String())
	}
	// Proxy certificates live 24 hours: a 2-day bar on them fails.
	stdout.Reset()
	code = run(ctx, []string{"check", "--demo", "--min-mtls=0", "--cert-min-validity=2d", "--workload-certs"}, envOf(nil), &stdout, &stderr)
	if code != exitBelow || !strings.Contains(stdout.String(), "workload") {
		t.Errorf("check --demo --cert-min-validity=2d --workload-certs: exit %d, %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

func lastLineOf(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// MESHLOCK_* variables count as given, as they do for the server.
func TestSubcommandsRefuseTheDemoWithAClusterFromTheEnvironment(t *testing.T) {
	for _, name := range []string{"check", "report"} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{name, "--demo"},
			envOf(map[string]string{"MESHLOCK_PROMETHEUS_URL": "http://prometheus.example:9090"}), &stdout, &stderr)
		if code != exitUsage || strings.Count(stderr.String(), "\n") != 1 ||
			!strings.Contains(stderr.String(), "--prometheus-url cannot be used with --demo") || stdout.Len() != 0 {
			t.Errorf("%s --demo with MESHLOCK_PROMETHEUS_URL: exit %d, stderr %q, stdout %q", name, code, stderr.String(), stdout.String())
		}
	}
}

// A --namespace that names nothing in the mesh is no PASS of 0 edges:
// check fails closed, exit 2 with one line, nothing on stdout.
func TestCheckFailsClosedOnANamespaceThatIsNotThere(t *testing.T) {
	for _, args := range [][]string{
		{"check", "--demo", "--namespace", "defualt"},
		{"check", "--demo", "--namespace", "default,defualt", "-o", "json"},
	} {
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		code := run(ctx, args, envOf(nil), &stdout, &stderr)
		cancel()
		if code != exitUsage || strings.Count(stderr.String(), "\n") != 1 ||
			!strings.HasPrefix(stderr.String(), `meshlock check: --namespace: no namespace "defualt" in the cluster nor in the traffic of the period`) ||
			stdout.Len() != 0 {
			t.Errorf("%v: exit %d, stderr %q, stdout %.200q; want 2 and one line naming the namespace", args, code, stderr.String(), stdout.String())
		}
	}
}

func TestCheckKnowsNamespacesFromTheClusterAndFromTraffic(t *testing.T) {
	cluster := graph.Cluster{Namespaces: []string{"shop", "quiet"}}
	// "gone" was deleted but its traffic is in the period.
	snap := graph.Snapshot{Nodes: []graph.Node{{ID: "shop/web", Namespace: "shop"}, {ID: "gone/job", Namespace: "gone"}}}
	for _, tc := range []struct {
		namespaces []string
		unknown    string
	}{
		{nil, ""}, {[]string{"shop"}, ""}, {[]string{"quiet", "gone"}, ""},
		{[]string{"shop", "shpo"}, `"shpo"`}, {[]string{"nowhere"}, `"nowhere"`},
	} {
		err := knownNamespaces(tc.namespaces, cluster, snap)
		if (err == nil) != (tc.unknown == "") || (err != nil && !strings.Contains(err.Error(), tc.unknown)) {
			t.Errorf("knownNamespaces(%v) = %v, want an error naming %s", tc.namespaces, err, cmp.Or(tc.unknown, "nothing"))
		}
	}
}

// No traffic in the look-back (say, a namespace that exists but is quiet)
// is nothing proven: check exits 2, one line, not PASS.
func TestCheckFailsClosedWithoutTraffic(t *testing.T) {
	from := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	rep := report.Report{From: from, To: from.Add(7 * 24 * time.Hour), Source: report.Source{Kind: "prometheus"}, Edges: []report.EdgeRow{}}
	err := somethingToCheck(rep, []string{"quiet"})
	if err == nil || strings.Contains(err.Error(), "\n") ||
		err.Error() != "no traffic to or from namespace quiet from 2026-11-24T12:00:00Z to 2026-12-01T12:00:00Z (prometheus): nothing to check, no PASS" {
		t.Errorf("no edges in quiet: %v", err)
	}
	if err := somethingToCheck(rep, nil); err == nil || !strings.HasPrefix(err.Error(), "no traffic from 2026-11-24T12:00:00Z") {
		t.Errorf("no edges at all: %v", err)
	}
	rep.Edges = []report.EdgeRow{{Source: "shop/web", Target: "shop/cart", Unit: "requests", Volume: 1}}
	if err := somethingToCheck(rep, []string{"shop"}); err != nil {
		t.Errorf("one edge: %v", err)
	}
}
