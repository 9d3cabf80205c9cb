// meshlock read through Thanos on the real test bed: the simulated mesh scraped by a Prometheus with
// a Thanos sidecar, meshlock's --prometheus-url the Thanos Querier in front of it. The live graph's
// padlocks, the look-back remembering a caller that stopped and the report's shares are what they
// are against Prometheus itself (lookback_integration_test.go, report_integration_test.go).

package main

import (
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	networkingapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/meshsim"
	"github.com/meshlock/meshlock/internal/testutil"
	"github.com/meshlock/meshlock/test/testbed"
)

// thanosMesh is a started mesh scraped by a Thanos-fronted Prometheus.
type thanosMesh struct {
	testbedMesh
	thanos *testbed.Thanos
}

// startThanosTestbedMesh is startTestbedMeshWith with the Prometheus behind
// a Thanos sidecar and a Thanos Querier (tb.thanos.URL); tb.prometheus is
// that Prometheus, for a direct look.
func startThanosTestbedMesh(t *testing.T, opts meshsim.Options, rule *networkingv1.DestinationRule) thanosMesh {
	t.Helper()
	var thanos *testbed.Thanos
	tb := startTestbedMeshScraped(t, opts, rule, func(targets []string) *testbed.Prometheus {
		thanos = testbed.StartThanos(t, testbed.PrometheusOptions{Targets: targets})
		return thanos.Prometheus
	})
	return thanosMesh{testbedMesh: tb, thanos: thanos}
}

// waitScraped waits until the Querier answers `up` with a value: requests
// before the first scrape are in a counter's first value, which no
// increase() can see.
func waitScraped(t *testing.T, queryURL string) {
	t.Helper()
	testutil.Eventually(t, "the Querier answers for the scraped mesh", func() (bool, string) {
		resp, err := http.Get(queryURL + "/api/v1/query?query=up")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(data), `"value":[`), string(data)
	})
}

// Bookinfo with auto mTLS: its edges are locked, the sidecar-less legacy
// client's is open, read through the Querier.
func TestGraphThroughThanos(t *testing.T) {
	tb := startThanosTestbedMesh(t, meshsim.Options{Topology: meshsim.Bookinfo(), AutoMTLS: true}, nil)
	waitScraped(t, tb.thanos.URL)
	go tb.mesh.Run(t.Context(), 250*time.Millisecond)
	base := startMeshlock(t, "--kubeconfig="+tb.cluster.Kubeconfig, "--prometheus-url="+tb.thanos.URL,
		"--refresh=1s", "--window=4s", "--lookback=0")

	s := waitBookinfoLocked(t, base+"/api/graph")
	// The Querier's external label is no edge's or node's part.
	for _, n := range s.Nodes {
		if strings.Contains(n.ID, testbed.ThanosCluster) {
			t.Errorf("a node carries Thanos' external label: %+v", n)
		}
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz through Thanos: %s", resp.Status)
	}
}

// The look-back through the Querier remembers the backup CronJob that sent
// plaintext and stopped, as TestLookbackRemembersACallerThatStopped does
// against Prometheus.
func TestLookbackThroughThanos(t *testing.T) {
	tb := startThanosTestbedMesh(t, meshsim.Options{Topology: lookbackMesh()}, testutil.Rule("default", "ratings", "ratings.default.svc.cluster.local", 0,
		testutil.WithTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL), testutil.WithExportTo(".")))
	started := time.Now()
	go tb.mesh.Run(t.Context(), 250*time.Millisecond)
	base := startMeshlock(t, "--kubeconfig="+tb.cluster.Kubeconfig, "--prometheus-url="+tb.thanos.URL,
		"--refresh=1s", "--window=5s", "--allow-enforce", "--audit-namespace=default", "--lookback=10m")

	testutil.Eventually(t, "the backup's edge live, then idle, through Thanos", func() (bool, string) {
		s := fetchGraph(t, base+"/api/graph")
		e, ok := edgeByID(s, backupEdge)
		return ok && e.Idle && time.Since(started) > backupRuns+10*time.Second, statuses(s, backupEdge, reviewsUse)
	})
	s := fetchGraph(t, base+"/api/graph")
	idle, _ := edgeByID(s, backupEdge)
	if idle.Status != graph.StatusOpen || idle.History.PlaintextLastSeen.IsZero() || idle.Rate != 0 {
		t.Errorf("the backup's edge = %+v, want idle, open, with plaintext in its history", idle)
	}
	if e, _ := edgeByID(s, reviewsUse); e.Status != graph.StatusLocked || e.Idle {
		t.Errorf("reviews' edge = %+v, want live and locked", e)
	}
	if s.Lookback.State != graph.LookbackReady {
		t.Errorf("lookback = %+v, want ready", s.Lookback)
	}
	for _, f := range s.Findings {
		if f.ID == "ready-for-strict:default/ratings" {
			t.Errorf("ready-for-strict raised though the backup sent plaintext in the look-back: %s", f.Message)
		}
	}
	var plan lookbackAnswer
	body := `{"scope":"service","namespace":"default","service":"ratings","mode":"peerauthentication","dryRun":true}`
	if code := post(t, base+"/api/enforce", "", body, &plan); code != http.StatusOK {
		t.Fatalf("dry run answered %d", code)
	}
	if len(plan.Breaks) != 1 || plan.Breaks[0].Source != "jobs/backup" || !plan.Breaks[0].Idle || plan.Breaks[0].Volume <= 0 {
		t.Fatalf("breaks = %+v, want the idle backup with its volume", plan.Breaks)
	}
	if last := plan.Breaks[0].LastSeen; last.Before(started) || last.After(started.Add(backupRuns+70*time.Second)) {
		t.Errorf("the backup last seen %s, want within its run (from %s)", last, started)
	}
}

// GET /api/report through the Querier: reviews' plaintext and web's mTLS
// shares match meshsim's counts. The Querier's /api/v1/status/flags lists
// its own flags, no storage.tsdb.retention.*: the report names no retention
// and refuses no period.
func TestReportThroughThanos(t *testing.T) {
	tb := startThanosTestbedMesh(t, meshsim.Options{Topology: reportMesh(), AutoMTLS: true}, testutil.Rule("default", "ratings", "ratings.default.svc.cluster.local", 0,
		testutil.WithTLS(networkingapi.ClientTLSSettings_DISABLE), testutil.WithExportTo(".")))
	waitScraped(t, tb.thanos.URL)
	start := time.Now()
	go tb.mesh.Run(t.Context(), 250*time.Millisecond)
	base := startMeshlock(t, "--kubeconfig="+tb.cluster.Kubeconfig, "--prometheus-url="+tb.thanos.URL,
		"--refresh=1s", "--window=5s", "--lookback=10m", "--audit-namespace=default")

	time.Sleep(40 * time.Second)
	end := tb.mesh.Outcomes()
	endAt := time.Now()
	r := getReport(t, base, start.Add(-10*time.Second), endAt)
	if got := edgeShare(t, r, "default/reviews-v1"); got > 0.02 {
		t.Errorf("reviews' share through Thanos = %.4f, want 0 (plaintext all along)", got)
	}
	if got := edgeShare(t, r, "shop/web"); got != 1 {
		t.Errorf("web's share through Thanos = %.4f, want 1", got)
	}
	plain, secured := float64(end[plainCaller].Succeeded), float64(end[mtlsCaller].Succeeded)
	want := secured / (plain + secured)
	var found bool
	for _, row := range r.ByNS {
		if row.Namespace != "default" {
			continue
		}
		found = true
		if row.RequestShare == nil || math.Abs(*row.RequestShare-want) > 0.02 {
			t.Errorf("default's row through Thanos %+v, want a share of %.4f (meshsim: %.0f plaintext, %.0f mTLS requests)", row, want, plain, secured)
		} else {
			t.Logf("default's share through Thanos: %.4f in the report, %.4f by meshsim's counts", *row.RequestShare, want)
		}
	}
	if !found {
		t.Errorf("no row for default in %+v", r.ByNS)
	}
	if r.Source.Retention != "" {
		t.Errorf("the report's retention through Thanos = %q, want none (the Querier's flags have no retention)", r.Source.Retention)
	}
}
