package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
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
		{[]string{"report", "-o", "table"}, `-o "table": want json, csv, yaml`},
		{[]string{"report", "--refresh=1s"}, "flag provided but not defined: -refresh"},
		{[]string{"report", "extra"}, `unexpected argument "extra"`},
		{[]string{"check", "--prometheus-url=ftp://x"}, "--prometheus-url"},
		// A connection error is a 2 as well: nothing listens there.
		{[]string{"check", "--kubeconfig=/nonexistent/kubeconfig"}, "kubernetes config"},
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
}
