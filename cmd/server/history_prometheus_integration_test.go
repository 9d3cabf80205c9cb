// --history-prometheus-url on the real test bed (issue 26 point 4, its first part): the cluster's
// Prometheus has only the last minutes; a long-term Prometheus holds a backup CronJob's plaintext
// calls of two days ago (written into its storage with promtool, as if it had kept them). With the
// flag the look-back, the enforce preview and the report remember the backup; without it, none do.

package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/report"
	"github.com/meshlock/meshlock/internal/testutil"
	"github.com/meshlock/meshlock/test/testbed"
)

// pastBackup is OpenMetrics text of ratings' sidecar reporting the backup's
// plaintext requests for ten minutes, ending at end.
func pastBackup(end time.Time) string {
	labels := `reporter="destination",source_workload="backup",source_workload_namespace="jobs",source_principal="unknown",` +
		`destination_workload="ratings-v1",destination_workload_namespace="default",destination_principal="unknown",` +
		`destination_service="ratings.default.svc.cluster.local",destination_service_name="ratings",destination_service_namespace="default",` +
		`connection_security_policy="none",request_protocol="http",response_code="200",response_flags="-"`
	var b strings.Builder
	b.WriteString("# TYPE istio_requests_total unknown\n")
	start := end.Add(-10 * time.Minute)
	for i := 0; i <= 20; i++ {
		at := start.Add(time.Duration(i) * 30 * time.Second)
		fmt.Fprintf(&b, "istio_requests_total{%s} %d %d\n", labels, 150*i, at.Unix())
	}
	b.WriteString("# EOF\n")
	return b.String()
}

func TestLookbackReadsTheHistoryPrometheus(t *testing.T) {
	ctx := t.Context()
	mesh := lookbackMesh()
	mesh.Callers = mesh.Callers[:1] // reviews only: the backup ran two days ago
	tb := startTestbedMesh(t, mesh, true, nil)
	go tb.mesh.Run(ctx, 250*time.Millisecond)
	lastRun := time.Now().Add(-48 * time.Hour).Truncate(time.Minute)
	longTerm := testbed.StartPrometheusWith(t, testbed.PrometheusOptions{Backfill: pastBackup(lastRun)})

	args := []string{"--kubeconfig=" + tb.cluster.Kubeconfig, "--prometheus-url=" + tb.prometheus.URL,
		"--refresh=1s", "--window=5s", "--lookback=7d", "--allow-enforce", "--audit-namespace=default"}
	base := startMeshlock(t, append(args, "--history-prometheus-url="+longTerm.URL)...)
	testutil.Eventually(t, "the backup of two days ago, idle, from the long-term Prometheus", func() (bool, string) {
		s := fetchGraph(t, base+"/api/graph")
		e, ok := edgeByID(s, backupEdge)
		live, _ := edgeByID(s, reviewsUse)
		return ok && e.Idle && live.Rate > 0 && s.Lookback.State == graph.LookbackReady, statuses(s, backupEdge, reviewsUse) + " " + string(s.Lookback.State)
	})
	s := fetchGraph(t, base+"/api/graph")
	backup, _ := edgeByID(s, backupEdge)
	// A seeded day's last times are to within two of its five-minute steps (docs/graph.md).
	if last := backup.History.PlaintextLastSeen; backup.Status != graph.StatusOpen || last.Before(lastRun.Add(-10*time.Minute)) || last.After(lastRun.Add(10*time.Minute)) {
		t.Errorf("the backup's edge = %+v, want open, plaintext last seen within ten minutes of %s", backup, lastRun)
	}
	if e, _ := edgeByID(s, reviewsUse); e.Idle || e.Rate <= 0 {
		t.Errorf("reviews' live edge from the cluster's Prometheus = %+v", e)
	}
	var plan lookbackAnswer
	body := `{"scope":"service","namespace":"default","service":"ratings","mode":"peerauthentication","dryRun":true}`
	if code := post(t, base+"/api/enforce", "", body, &plan); code != http.StatusOK || len(plan.Breaks) != 1 || plan.Breaks[0].Source != "jobs/backup" {
		t.Errorf("STRICT's preview: %d %+v, want the backup", code, plan.Breaks)
	}
	r := getReport(t, base, time.Now().Add(-72*time.Hour), time.Now())
	if r.Source.URL != longTerm.URL || !hasEdge(r, "jobs/backup") {
		t.Errorf("the report's source %s and edges %+v: want the long-term Prometheus and the backup", r.Source.URL, r.Edges)
	}

	// The control: the cluster's Prometheus alone has no such past.
	forgetful := startMeshlock(t, args...)
	testutil.Eventually(t, "the look-back of the cluster's Prometheus alone", func() (bool, string) {
		s := fetchGraph(t, forgetful+"/api/graph")
		_, present := edgeByID(s, backupEdge)
		return s.Lookback.State == graph.LookbackReady && !present, statuses(s, backupEdge)
	})
}

// hasEdge: the report has an edge from source into ratings.
func hasEdge(r report.Report, source string) bool {
	return slices.ContainsFunc(r.Edges, func(e report.EdgeRow) bool { return e.Source == source && e.Target == "default/ratings" })
}
