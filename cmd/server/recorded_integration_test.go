// Recorded series on the real test bed (issue 26 points 2-4). Three days of raw Istio series
// (two reviews pods calling with mTLS, a nightly backup's plaintext runs as new pods, a probe whose
// counter was born with its requests and never grew) are written into one Prometheus; promtool
// evaluates deploy/prometheus/'s rules over them, as shipped, into the storage of a long-term
// Prometheus, which also federates the recorded series of the cluster's Prometheus (short
// retention, the same rules every 5s). A dashboard reading the raw series and one reading the
// recorded ones must judge alike.

package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/meshsim"
	"github.com/meshlock/meshlock/internal/prom"
	"github.com/meshlock/meshlock/internal/report"
	"github.com/meshlock/meshlock/internal/testutil"
	"github.com/meshlock/meshlock/test/testbed"
)

// rawPast is the raw series' history, 30 s apart, and when each caller
// last sent (the truth the last times are held to).
type rawPast struct {
	text string
	last map[string]time.Time // by source workload
}

func recordedPast(now time.Time) rawPast {
	const step = 30 * time.Second
	start, end := now.Add(-72*time.Hour).Truncate(time.Minute), now.Add(-15*time.Minute).Truncate(time.Minute)
	p := rawPast{last: map[string]time.Time{}}
	series := map[string][]string{} // metric{labels} → samples
	var order []string
	add := func(metric, labels string, at time.Time, v float64) {
		key := metric + "{" + labels + "}"
		if _, ok := series[key]; !ok {
			order = append(order, key)
		}
		series[key] = append(series[key], fmt.Sprintf("%s %g %d", key, v, at.Unix()))
	}
	edge := func(src, srcNS, principal, security, reporter, pod string) string {
		return fmt.Sprintf(`reporter=%q,source_workload=%q,source_workload_namespace=%q,source_principal=%q,`+
			`destination_workload="ratings-v1",destination_workload_namespace="default",destination_principal="spiffe://cluster.local/ns/default/sa/ratings",`+
			`destination_service="ratings.default.svc.cluster.local",destination_service_name="ratings",destination_service_namespace="default",`+
			`connection_security_policy=%q,request_protocol="http",response_code="200",response_flags="-",pod=%q,instance="%s:15020"`,
			reporter, src, srcNS, principal, security, pod, pod)
	}
	// Two reviews pods, 1 request/s each, the whole span, both reports.
	for _, pod := range []string{"reviews-v2-a", "reviews-v2-b"} {
		principal := "spiffe://cluster.local/ns/default/sa/reviews"
		for at, n := start, 0.0; !at.After(end); at, n = at.Add(step), n+30 {
			add("istio_requests_total", edge("reviews-v2", "default", principal, "mutual_tls", "destination", "ratings-v1-x"+pod[len(pod)-1:]), at, n)
			add("istio_requests_total", edge("reviews-v2", "default", principal, "unknown", "source", pod), at, n)
		}
	}
	p.last["reviews-v2"] = end
	// The backup, 5 requests/s for an hour a night, a new pod each run,
	// and its TCP bytes. (Over a run of minutes, increase()'s extrapolation
	// to the ends of a raw range is worth a few per cent of the volume.)
	for i, ago := range []time.Duration{50 * time.Hour, 26 * time.Hour} {
		runStart := now.Add(-ago).Truncate(time.Minute)
		pod := fmt.Sprintf("backup-%d", i)
		tcp := strings.Replace(strings.Replace(edge("backup", "jobs", "unknown", "none", "destination", "ratings-v1-x"), `,request_protocol="http",response_code="200"`, "", 1), `,response_flags="-"`, "", 1)
		for k := 0; k <= 120; k++ {
			at := runStart.Add(time.Duration(k) * step)
			add("istio_requests_total", edge("backup", "jobs", "unknown", "none", "destination", "ratings-v1-x"+pod), at, float64(150*k))
			add("istio_tcp_received_bytes_total", tcp+fmt.Sprintf(`,run="%d"`, i), at, float64(4096*k))
		}
		p.last["backup"] = runStart.Add(120 * step)
	}
	// The probe: three requests before its first scrape, none after.
	probeAt := now.Add(-30 * time.Hour).Truncate(time.Minute)
	for k := 0; k <= 20; k++ {
		add("istio_requests_total", edge("probe", "jobs", "unknown", "none", "destination", "ratings-v1-x"), probeAt.Add(time.Duration(k)*step), 3)
	}
	p.last["probe"] = probeAt
	var b strings.Builder
	types := map[string]bool{}
	for _, key := range order {
		metric, _, _ := strings.Cut(key, "{")
		if !types[metric] {
			types[metric] = true
		}
	}
	// OpenMetrics wants each metric's series together, after its TYPE line.
	for metric := range types {
		fmt.Fprintf(&b, "# TYPE %s unknown\n", metric)
		for _, key := range order {
			if strings.HasPrefix(key, metric+"{") {
				b.WriteString(strings.Join(series[key], "\n"))
				b.WriteString("\n")
			}
		}
	}
	b.WriteString("# EOF\n")
	p.text = b.String()
	return p
}

// recordedMesh: lookbackMesh's workloads and the probe, reviews calling
// live; the backup and the probe called only in the past.
func recordedMesh() meshsim.Topology {
	mesh := lookbackMesh()
	mesh.Callers = mesh.Callers[:1]
	mesh.Workloads = append(mesh.Workloads, meshsim.Workload{Name: "probe", Namespace: "jobs", Kind: meshsim.KindCronJob,
		ServiceAccount: "probe", Sidecar: true, Labels: map[string]string{"app": "probe"}})
	return mesh
}

func TestRecordedSeriesJudgeAsTheRawOnes(t *testing.T) {
	ctx := t.Context()
	rulesFile, err := os.ReadFile("../../deploy/prometheus/" + prom.RulesFile)
	if err != nil {
		t.Fatal(err)
	}
	rules := string(rulesFile)
	// The cluster's Prometheus runs the same rules every 5s and rolls them
	// up every minute (a test cannot wait for 5m and 1h), under the same
	// names, and keeps one hour.
	fastRules := strings.NewReplacer("[5m]", "[5s]", "offset 5m", "offset 5s", "interval: 5m", "interval: 5s",
		"[1h]", "[1m]", "interval: 1h", "interval: 1m").Replace(rules)
	now := time.Now()
	past := recordedPast(now)

	tb := startTestbedMeshScraped(t, meshsim.Options{Topology: recordedMesh(), AutoMTLS: true}, nil, func(targets []string) *testbed.Prometheus {
		return testbed.StartPrometheusWith(t, testbed.PrometheusOptions{Targets: targets, Rules: fastRules, Retention: time.Hour})
	})
	go tb.mesh.Run(ctx, 250*time.Millisecond)
	raw := testbed.StartPrometheusWith(t, testbed.PrometheusOptions{Backfill: past.text})
	// promtool evaluates rules on the series of a Prometheus: the shipped
	// file's 5-minute group on the raw series, then its hourly group on
	// those.
	groups := rulesGroups(t, rulesFile)
	fiveMinutes := testbed.RecordRules(t, raw.URL, groups[0], now.Add(-73*time.Hour), now.Add(-10*time.Minute))
	recorded := testbed.StartPrometheusWith(t, testbed.PrometheusOptions{Blocks: []string{fiveMinutes}})
	holds(t, recorded.URL, "meshlock:istio_requests:increase5m")
	// That Prometheus merges promtool's overlapping blocks after it is
	// ready, and a backfill that reads it meanwhile may find nothing.
	var hourly string
	testutil.Eventually(t, "the hourly rollups backfilled", func() (bool, string) {
		hourly = testbed.RecordRules(t, recorded.URL, groups[1], now.Add(-73*time.Hour), now.Add(-10*time.Minute))
		return hourly != "", "promtool wrote no block"
	})
	queryLog := filepath.Join(t.TempDir(), "query.log")
	longTerm := testbed.StartPrometheusWith(t, testbed.PrometheusOptions{Blocks: []string{fiveMinutes, hourly}, QueryLogFile: queryLog,
		Federate: tb.prometheus.URL, FederateMatch: []string{`{__name__=~"meshlock:.+"}`}})

	holds(t, longTerm.URL, "meshlock:istio_requests:increase1h")
	args := []string{"--kubeconfig=" + tb.cluster.Kubeconfig, "--prometheus-url=" + tb.prometheus.URL,
		"--refresh=1s", "--window=5s", "--lookback=7d"}
	fromRaw := startMeshlock(t, append(args, "--history-prometheus-url="+raw.URL, "--history-series=raw")...)
	fromRecorded := startMeshlock(t, append(args, "--history-prometheus-url="+longTerm.URL)...)
	ready := func(base string) graph.Snapshot {
		var s graph.Snapshot
		testutil.Eventually(t, "the look-back of "+base, func() (bool, string) {
			s = fetchGraph(t, base+"/api/graph")
			probe, ok := edgeByID(s, "jobs/probe->default/ratings:http")
			return ok && probe.Idle && s.Lookback.State == graph.LookbackReady, statuses(s, backupEdge, reviewsUse) + " " + s.Lookback.State
		})
		return s
	}
	a, b := ready(fromRaw), ready(fromRecorded)
	if !slices.Equal(a.Lookback.Series, []string{graph.SeriesRaw}) || !slices.Equal(b.Lookback.Series, []string{graph.SeriesRecorded}) {
		t.Errorf("series read: %v and %v, want raw and recorded", a.Lookback.Series, b.Lookback.Series)
	}

	// The days were read from the hourly rollups where they cover them.
	if logged, err := os.ReadFile(queryLog); err != nil || !strings.Contains(string(logged), "meshlock:istio_requests:increase1h[") {
		t.Errorf("no query of the long-term Prometheus read the hourly rollups (%v)", err)
	}

	// The same edges, judged alike; volumes within 1 %; last times within
	// the rules' 5m of the truth (the raw seed's within its two 5m steps).
	for _, ea := range a.Edges {
		eb, ok := edgeByID(b, ea.ID)
		if !ok {
			t.Errorf("edge %s of the raw series is not in the recorded ones", ea.ID)
			continue
		}
		if ea.Status != eb.Status || ea.Idle != eb.Idle {
			t.Errorf("edge %s: raw %s idle %v, recorded %s idle %v", ea.ID, ea.Status, ea.Idle, eb.Status, eb.Idle)
			continue
		}
		ha, hb := ea.History, eb.History
		if math.Abs(ha.Volume-hb.Volume) > 0.01*ha.Volume || math.Abs(ha.MTLSVolume-hb.MTLSVolume) > 0.01*ha.MTLSVolume {
			t.Errorf("edge %s: raw volume %g (mTLS %g), recorded %g (mTLS %g)", ea.ID, ha.Volume, ha.MTLSVolume, hb.Volume, hb.MTLSVolume)
		}
		truth, known := past.last[strings.TrimPrefix(strings.Split(ea.ID, "->")[0], "jobs/")]
		if known && ea.Idle {
			for _, c := range []struct {
				what  string
				at    time.Time
				tol   time.Duration
				early time.Duration
			}{{"raw", ha.LastSeen, 10 * time.Minute, 0}, {"recorded", hb.LastSeen, prom.RuleInterval, prom.RuleInterval}} {
				// A rule's evaluation whose window holds the last sample
				// alone sees no increase: the one before says when.
				if d := c.at.Sub(truth); d < -c.early || d > c.tol {
					t.Errorf("edge %s: %s last seen %s, want within %s after %s (%s before)", ea.ID, c.what, c.at, c.tol, truth, c.early)
				}
			}
		}
	}
	if len(a.Edges) != len(b.Edges) {
		t.Errorf("%d edges from the raw series, %d from the recorded ones", len(a.Edges), len(b.Edges))
	}
	findings := func(s graph.Snapshot) []string {
		var ids []string
		for _, f := range s.Findings {
			ids = append(ids, f.ID)
		}
		slices.Sort(ids)
		return ids
	}
	// ready-for-strict among them: ratings' callers are idle or mTLS.
	if fa, fb := findings(a), findings(b); !slices.Equal(fa, fb) {
		t.Errorf("findings differ:\nraw      %v\nrecorded %v", fa, fb)
	}

	// The reports agree too, and name their series.
	ra, rb := getReport(t, fromRaw, now.Add(-72*time.Hour), now), getReport(t, fromRecorded, now.Add(-72*time.Hour), now)
	if !slices.Equal(ra.Source.Series, []string{graph.SeriesRaw}) || !slices.Equal(rb.Source.Series, []string{graph.SeriesRecorded}) || len(ra.Edges) != len(rb.Edges) {
		t.Errorf("reports: %v with %d edges, %v with %d", ra.Source.Series, len(ra.Edges), rb.Source.Series, len(rb.Edges))
	}
	for _, ea := range ra.Edges {
		i := slices.IndexFunc(rb.Edges, func(e report.EdgeRow) bool {
			return e.Source == ea.Source && e.Target == ea.Target && e.Unit == ea.Unit
		})
		if i < 0 || math.Abs(rb.Edges[i].Volume-ea.Volume) > 0.01*ea.Volume || rb.Edges[i].Status != ea.Status {
			t.Errorf("report edge %s -> %s: raw %+v, recorded %+v", ea.Source, ea.Target, ea, rb.Edges[max(i, 0)])
		}
	}

	// Federation: the live reviews calls, recorded by the cluster's
	// Prometheus, reach the long-term one as recorded series.
	client, err := prom.New(prom.Options{URL: longTerm.URL, Registerer: prometheus.NewRegistry(), HistorySeries: graph.SeriesRecorded})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "reviews' live calls federated as recorded series", func() (bool, string) {
		samples, _, err := client.History(ctx, time.Now().Add(2*time.Minute), 5*time.Minute, time.Minute)
		for _, s := range samples {
			if s.Source.Workload == "reviews-v2" && s.Volume > 0 && s.LastSeen.After(now) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d samples, %v", len(samples), err)
	})
}

// rulesGroups is each group of a rules file as a rules file of its own.
func rulesGroups(t *testing.T, file []byte) []string {
	t.Helper()
	var rules struct {
		Groups []prom.RuleGroup `json:"groups"`
	}
	if err := sigsyaml.Unmarshal(file, &rules); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, g := range rules.Groups {
		one, err := sigsyaml.Marshal(map[string]any{"groups": []prom.RuleGroup{g}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(one))
	}
	return out
}

// holds waits until the Prometheus at url answers series of the metric
// over the last four days: it loads and merges the overlapping blocks
// promtool writes after it says it is ready.
func holds(t *testing.T, url, metric string) {
	t.Helper()
	client, err := promapi.NewClient(promapi.Config{Address: url})
	if err != nil {
		t.Fatal(err)
	}
	api := promv1.NewAPI(client)
	testutil.Eventually(t, url+" holding "+metric, func() (bool, string) {
		value, _, _, err := api.Query(t.Context(), fmt.Sprintf("count(count_over_time(%s[4d]))", metric), time.Now())
		v, ok := value.(model.Vector)
		return err == nil && ok && len(v) == 1 && v[0].Value > 0, fmt.Sprint(value, err)
	})
}
