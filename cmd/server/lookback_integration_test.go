// The look-back on the real test bed: a CronJob caller that sent plaintext for a few seconds and
// stopped is still in the enforce preview (with its last time) after the rate window has passed,
// ready-for-strict stays away, a restarted dashboard still knows it, and with the look-back off
// the same moment advises STRICT.

package main

import (
	"net/http"
	"testing"
	"time"

	networkingapi "istio.io/api/networking/v1alpha3"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/meshsim"
	"github.com/meshlock/meshlock/internal/testutil"
)

const (
	backupEdge = "jobs/backup->default/ratings:http"
	reviewsUse = "default/reviews->default/ratings:http"
	backupRuns = 15 * time.Second
)

// lookbackMesh: reviews calls ratings with mTLS (a DestinationRule of
// default's, exported to default only); a backup CronJob in jobs, which
// does not see that rule, calls it in plaintext for backupRuns and stops.
func lookbackMesh() meshsim.Topology {
	return meshsim.Topology{
		Workloads: []meshsim.Workload{
			{Name: "reviews-v2", Namespace: "default", ServiceAccount: "reviews", Sidecar: true, Labels: map[string]string{"app": "reviews"}},
			{Name: "ratings-v1", Namespace: "default", ServiceAccount: "ratings", Sidecar: true, Labels: map[string]string{"app": "ratings"}},
			{Name: "backup", Namespace: "jobs", Kind: meshsim.KindCronJob, ServiceAccount: "backup", Sidecar: true, Labels: map[string]string{"app": "backup"}},
		},
		Services: []meshsim.Service{
			{Name: "reviews", Namespace: "default", Selector: map[string]string{"app": "reviews"},
				Ports: []meshsim.ServicePort{{Name: "http", Port: 9080, TargetPort: 9080, Protocol: meshsim.HTTP}}},
			{Name: "ratings", Namespace: "default", Selector: map[string]string{"app": "ratings"},
				Ports: []meshsim.ServicePort{{Name: "http", Port: 9080, TargetPort: 9080, Protocol: meshsim.HTTP}}},
		},
		Callers: []meshsim.Caller{
			{From: "default/reviews-v2", To: "default/ratings", Port: 9080, Rate: 2},
			{From: "jobs/backup", To: "default/ratings", Port: 9080, Rate: 5, Until: backupRuns},
		},
	}
}

type lookbackAnswer struct {
	Breaks []struct {
		Source, Target string
		Idle           bool
		LastSeen       time.Time
		Volume         float64
	} `json:"breaks"`
	Lookback graph.Lookback `json:"lookback"`
}

func TestLookbackRemembersACallerThatStopped(t *testing.T) {
	ctx := t.Context()
	tb := startTestbedMesh(t, lookbackMesh(), false, testutil.Rule("default", "ratings", "ratings.default.svc.cluster.local", 0,
		testutil.WithTLS(networkingapi.ClientTLSSettings_ISTIO_MUTUAL), testutil.WithExportTo(".")))
	cluster, mesh, prometheus := tb.cluster, tb.mesh, tb.prometheus
	started := time.Now()
	go mesh.Run(ctx, 250*time.Millisecond)

	args := []string{"--kubeconfig=" + cluster.Kubeconfig, "--prometheus-url=" + prometheus.URL,
		"--refresh=1s", "--window=5s", "--allow-enforce", "--audit-namespace=default"}
	base := startMeshlock(t, append(args, "--lookback=10m")...)

	// The backup's plaintext while it runs, then its edge idle once the
	// window has passed: known from the look-back.
	testutil.Eventually(t, "the backup's edge live, then idle", func() (bool, string) {
		s := fetchGraph(t, base+"/api/graph")
		e, ok := edgeByID(s, backupEdge)
		return ok && e.Idle && time.Since(started) > backupRuns+10*time.Second, statuses(s, backupEdge, reviewsUse)
	})
	check := func(name, base string) {
		t.Helper()
		s := fetchGraph(t, base+"/api/graph")
		idle, _ := edgeByID(s, backupEdge)
		if idle.Status != graph.StatusOpen || idle.History.PlaintextLastSeen.IsZero() || idle.Rate != 0 {
			t.Errorf("%s: the backup's edge = %+v, want idle, open, with plaintext in its history", name, idle)
		}
		if e, _ := edgeByID(s, reviewsUse); e.Status != graph.StatusLocked || e.Idle {
			t.Errorf("%s: reviews' edge = %+v, want live and locked", name, e)
		}
		for _, f := range s.Findings {
			if f.ID == "ready-for-strict:default/ratings" {
				t.Errorf("%s: ready-for-strict raised though the backup sent plaintext in the look-back: %s", name, f.Message)
			}
		}
		var plan lookbackAnswer
		body := `{"scope":"service","namespace":"default","service":"ratings","mode":"peerauthentication","dryRun":true}`
		if code := post(t, base+"/api/enforce", "", body, &plan); code != http.StatusOK {
			t.Fatalf("%s: dry run answered %d", name, code)
		}
		if len(plan.Breaks) != 1 || plan.Breaks[0].Source != "jobs/backup" || !plan.Breaks[0].Idle || plan.Breaks[0].Volume <= 0 {
			t.Fatalf("%s: breaks = %+v, want the idle backup with its volume", name, plan.Breaks)
		}
		// Its last time is within the backup's run, to the look-back's precision.
		if last := plan.Breaks[0].LastSeen; last.Before(started) || last.After(started.Add(backupRuns+70*time.Second)) {
			t.Errorf("%s: the backup last seen %s, want within its run (from %s)", name, last, started)
		}
		if plan.Lookback.Window != "10m" || plan.Lookback.State != graph.LookbackReady {
			t.Errorf("%s: the plan's lookback = %+v, want ready, 10m", name, plan.Lookback)
		}
	}
	check("first dashboard", base)

	// A dashboard started now reads the same from Prometheus alone.
	restarted := startMeshlock(t, append(args, "--lookback=10m")...)
	testutil.Eventually(t, "the restarted dashboard knows the backup", func() (bool, string) {
		s := fetchGraph(t, restarted+"/api/graph")
		e, ok := edgeByID(s, backupEdge)
		return ok && e.Idle && s.Lookback.State == graph.LookbackReady, statuses(s, backupEdge)
	})
	check("restarted dashboard", restarted)

	// The control: without the look-back the same moment advises STRICT,
	// which would cut the backup's next run.
	forgetful := startMeshlock(t, append(args, "--lookback=0")...)
	testutil.Eventually(t, "ready-for-strict without the look-back", func() (bool, string) {
		s := fetchGraph(t, forgetful+"/api/graph")
		for _, f := range s.Findings {
			if f.ID == "ready-for-strict:default/ratings" {
				_, present := edgeByID(s, backupEdge)
				return !present && s.Lookback.State == graph.LookbackOff, f.Message
			}
		}
		return false, statuses(s, backupEdge, reviewsUse)
	})
}
