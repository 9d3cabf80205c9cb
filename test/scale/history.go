// -history-days: the look-back at scale, measured (issue 26 point 1). The synthetic mesh's raw
// series (labels from meshsim, as its proxies report them, with the pod and instance a scrape adds)
// are written for N days at a 30 s scrape into Prometheus' storage with its own block writer; the
// recorded series of deploy/prometheus/'s rules (their label sets and values taken from the rules
// evaluated on those raw series by that Prometheus) for the report's days into a second one. Then
// the look-back's seed is timed on each, the 30-day report on the recorded one, one evaluation of
// the rules on the raw one, and meshlock's RSS while it seeds from the recorded series.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/meshsim"
	"github.com/meshlock/meshlock/internal/prom"
	mreport "github.com/meshlock/meshlock/internal/report"
	"github.com/meshlock/meshlock/test/testbed"
)

// historyScrape is the scrape interval of the written raw series: the
// issue's measurement and Istio's sample Prometheus configuration (15 s
// costs the look-back the same: its cost follows series × steps).
const historyScrape = 30 * time.Second

// historyResult is what -history-days measures.
type historyResult struct {
	days, reportDays        int
	rawSeries, recorded     int     // series written
	rawSamples, recSamples  float64 // samples written
	rawBlocks, recBlocks    int     // blocks once Prometheus compacted them
	writeRaw, writeRecorded time.Duration
	rawSeed, recordedSeed   seedCost
	report                  seedCost // the report's days, from the recorded series
	rules                   evalSum  // one evaluation of the 5-minute rules, on the raw series
	rollups                 evalSum  // one evaluation of the hourly rules, on the recorded series
	meshlockSeed            time.Duration
	meshlockPeakRSS         int64 // VmHWM while it seeds from the recorded series
	machine                 string
	err                     error
}

// seedCost is a run of day-long queries, as the look-back or the report
// makes them.
type seedCost struct {
	queries int
	wall    time.Duration
	eval    evalSum // Prometheus' own, from its query log
	samples int     // history samples returned, merged
}

// rawSeries is one raw series of the mesh and its rate per second.
type rawSeries struct {
	lset labels.Labels
	rate float64
}

// meshRawSeries runs meshsim a minute and reads its proxies' istio_*
// counters: each series' labels, with the pod and instance a scrape of
// the reporting proxy adds, and its rate.
func meshRawSeries(plan Plan) ([]rawSeries, error) {
	mesh, err := meshsim.New(meshsim.Options{Topology: plan.Topology, AutoMTLS: true})
	if err != nil {
		return nil, err
	}
	const ran = time.Minute
	mesh.Tick(ran)
	rec := httptest.NewRecorder()
	mesh.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		return nil, err
	}
	var out []rawSeries
	for _, name := range slices.Sorted(maps.Keys(families)) {
		if !strings.HasPrefix(name, "istio_requests_total") && !strings.HasPrefix(name, "istio_tcp_") {
			continue
		}
		for _, m := range families[name].GetMetric() {
			b := labels.NewScratchBuilder(len(m.GetLabel()) + 4)
			b.Add(labels.MetricName, name)
			side := "destination"
			for _, l := range m.GetLabel() {
				b.Add(l.GetName(), l.GetValue())
				if l.GetName() == "reporter" && l.GetValue() == "source" {
					side = "source"
				}
			}
			get := func(n string) string {
				for _, l := range m.GetLabel() {
					if l.GetName() == n {
						return l.GetValue()
					}
				}
				return ""
			}
			pod := get(side+"_workload") + "-7d9f8c6b5-x2k4p"
			b.Add("namespace", get(side+"_workload_namespace"))
			b.Add("pod", pod)
			b.Add("instance", pod+":15020")
			b.Add("job", "kubernetes-pods")
			b.Sort()
			out = append(out, rawSeries{lset: b.Labels(), rate: m.GetCounter().GetValue() / ran.Seconds()})
		}
	}
	return out, nil
}

// writeBlocks writes series of [start, end] into day-long blocks in dir,
// a day at a time: value(series, t) gives each sample, every step. Day
// blocks are what Prometheus' compaction would make of them anyway (its
// largest range at the default retention), so it leaves them alone while
// the queries are timed.
func writeBlocks(ctx context.Context, dir string, lsets []labels.Labels, start, end time.Time, step time.Duration, value func(i int, t time.Time) (float64, bool)) (float64, error) {
	const day = 24 * time.Hour
	logger := slog.New(slog.DiscardHandler)
	var samples float64
	refs := make([]storage.SeriesRef, len(lsets))
	for from := start.Truncate(day); from.Before(end); from = from.Add(day) {
		clear(refs) // a new head each day
		w, err := tsdb.NewBlockWriter(logger, dir, day.Milliseconds())
		if err != nil {
			return 0, err
		}
		app := w.Appender(ctx)
		n := 0
		// The first sample of the day on start's grid.
		first := start
		if from.After(start) {
			first = start.Add((from.Sub(start) + step - 1) / step * step)
		}
		// In time order: the head takes no sample much older than its newest.
		for t := first; t.Before(from.Add(day)) && !t.After(end); t = t.Add(step) {
			for i, lset := range lsets {
				v, ok := value(i, t)
				if !ok {
					continue
				}
				// The series' reference spares the head hashing its labels.
				ref, err := app.Append(refs[i], lset, t.UnixMilli(), v)
				if err != nil {
					return 0, err
				}
				refs[i] = ref
				samples++
				if n++; n%1_000_000 == 0 { // bounded batches
					if err := app.Commit(); err != nil {
						return 0, err
					}
					app = w.Appender(ctx)
				}
			}
		}
		if err := app.Commit(); err != nil {
			return 0, err
		}
		if _, err := w.Flush(ctx); err != nil {
			return 0, err
		}
		if err := w.Close(); err != nil {
			return 0, err
		}
	}
	return samples, nil
}

// dayEnds are the ends of the look-back's or the report's day-long
// queries over the days before end, newest first.
func dayEnds(end time.Time, days int) []time.Time {
	out := make([]time.Time, days)
	for i := range out {
		out[i] = end.Add(-time.Duration(i) * 24 * time.Hour)
	}
	return out
}

// timeQueries runs read over each day and sums Prometheus' own evaluation
// of the queries it logged meanwhile.
func timeQueries(queryLog string, ends []time.Time, match func(string) bool, read func(end time.Time) (int, error)) (seedCost, error) {
	var c seedCost
	start := time.Now()
	for _, end := range ends {
		n, err := read(end)
		if err != nil {
			return c, err
		}
		c.queries++
		c.samples += n
	}
	c.wall = time.Since(start)
	time.Sleep(time.Second) // the query log's last line
	entries, err := readQueryLog(queryLog)
	if err != nil {
		return c, err
	}
	c.eval = sumQueries(entries, start, time.Now(), match)
	if c.eval.Count != c.queries {
		return c, fmt.Errorf("the query log holds %d of the %d queries", c.eval.Count, c.queries)
	}
	return c, nil
}

func isHistoryQuery(q string) bool { return strings.Contains(q, "meshlock_term") }

// recordedSeries is a recorded series to write: its labels, its value
// where constant, and its kind.
type recordedSeries struct {
	lset  labels.Labels
	value float64
	kind  string // the name's last part: increase5m, seen5m, increase1h, last1h, first1h, rollups1h
}

func recordedKind(name string) string { return name[strings.LastIndex(name, ":")+1:] }

// at is the series' sample at t, since its start, if it has one: every
// 5 minutes, or every hour for the rollups. A seen time is the
// evaluation's; an hour's last and first are its last and first
// 5-minute evaluations.
func (s recordedSeries) at(since time.Duration, t time.Time) (float64, bool) {
	hourly := strings.HasSuffix(s.kind, "1h")
	if hourly && since%prom.RollupInterval != 0 {
		return 0, false
	}
	switch s.kind {
	case "seen5m", "last1h", "rollups1h":
		return float64(t.Unix()), true
	case "first1h":
		return float64(t.Add(-prom.RollupInterval + prom.RuleInterval).Unix()), true
	case "increase1h":
		return s.value * float64(prom.RollupInterval/prom.RuleInterval), true
	}
	return s.value, true
}

// withRollups adds the hourly rollups of the 5-minute series, as the
// rules' hourly group records them, and their time series.
func withRollups(fine []recordedSeries) []recordedSeries {
	out := fine
	rename := func(l labels.Labels, name string) labels.Labels {
		b := labels.NewBuilder(l)
		b.Set(labels.MetricName, name)
		return b.Labels()
	}
	for _, s := range fine {
		name := s.lset.Get(labels.MetricName)
		base := strings.TrimSuffix(name, s.kind)
		switch s.kind {
		case "increase5m":
			out = append(out, recordedSeries{lset: rename(s.lset, base+"increase1h"), value: s.value, kind: "increase1h"})
		case "seen5m":
			out = append(out, recordedSeries{lset: rename(s.lset, base+"last1h"), kind: "last1h"},
				recordedSeries{lset: rename(s.lset, base+"first1h"), kind: "first1h"})
		}
	}
	return append(out, recordedSeries{lset: labels.FromStrings(labels.MetricName, "meshlock:history:rollups1h"), kind: "rollups1h"})
}

func runHistory(ctx context.Context, r testbed.TB, o options) historyResult {
	res := historyResult{days: o.historyDays, reportDays: o.historyReportDays, machine: machine()}
	plans, err := generatePlans(o.scale, 1, o.seed)
	if err != nil {
		r.Fatalf("%v", err)
	}
	series, err := meshRawSeries(joinPlans(plans))
	if err != nil {
		r.Fatalf("meshsim's series: %v", err)
	}
	res.rawSeries = len(series)
	binDir := r.TempDir()
	built := make(chan error, 1)
	go func() { built <- buildMeshlock(testbed.RepoRoot(r), filepath.Join(binDir, "meshlock")) }()

	const day = 24 * time.Hour
	end := time.Now().Truncate(time.Minute)
	rawStart := end.Add(-time.Duration(o.historyDays) * day)
	if !o.historyRawSeed {
		rawStart = end.Add(-time.Hour) // enough for the rules' label sets
	}
	r.Logf("history: writing %d raw series × %d days at %s", len(series), o.historyDays, historyScrape)
	rawDir := filepath.Join(r.TempDir(), "raw")
	lsets := make([]labels.Labels, len(series))
	for i, s := range series {
		lsets[i] = s.lset
	}
	begin := time.Now()
	res.rawSamples, err = writeBlocks(ctx, rawDir, lsets, rawStart, end, historyScrape, func(i int, t time.Time) (float64, bool) {
		return series[i].rate * t.Sub(rawStart).Seconds(), true
	})
	if err != nil {
		r.Fatalf("writing the raw series: %v", err)
	}
	res.writeRaw = time.Since(begin)
	rawProm, rawClient, rawLog := startHistoryStore(ctx, r, "raw", rawDir, graph.SeriesRaw, end)
	res.rawBlocks = rawProm.Blocks

	// One evaluation of the rules, on the raw series, at the end: what
	// Prometheus spends each 5m; and the recorded series' label sets.
	api := newPromAPI(r, rawProm.URL)
	var recorded []recordedSeries
	rulesStart := time.Now()
	for _, rule := range prom.RecordingRules()[0].Rules {
		value, _, _, err := api.Query(ctx, rule.Expr, end)
		if err != nil {
			r.Fatalf("rule %s: %v", rule.Record, err)
		}
		for _, s := range value.(model.Vector) {
			b := labels.NewScratchBuilder(len(s.Metric) + 1)
			b.Add(labels.MetricName, rule.Record)
			for n, v := range s.Metric {
				b.Add(string(n), string(v))
			}
			b.Sort()
			recorded = append(recorded, recordedSeries{lset: b.Labels(), value: float64(s.Value), kind: recordedKind(rule.Record)})
		}
	}
	recorded = withRollups(recorded)
	time.Sleep(time.Second)
	entries, err := readQueryLog(rawLog)
	if err != nil {
		r.Fatalf("%v", err)
	}
	res.rules = sumQueries(entries, rulesStart, time.Now(), func(q string) bool { return strings.Contains(q, "[5m]") })
	res.recorded = len(recorded)

	r.Logf("history: the raw seed, %d day-long queries", o.historyDays)
	if !o.historyRawSeed {
		r.Logf("history: no raw seed (-history-raw-seed=false)")
	} else if res.rawSeed, err = timeQueries(rawLog, dayEnds(end, o.historyDays), isHistoryQuery, func(e time.Time) (int, error) {
		s, _, err := rawClient.History(ctx, e, day, 5*time.Minute)
		return len(s), err
	}); err != nil {
		res.err = fmt.Errorf("raw seed: %w", err)
		return res
	}

	r.Logf("history: writing %d recorded series × %d days", len(recorded), o.historyReportDays)
	recDir := filepath.Join(r.TempDir(), "recorded")
	recLsets := make([]labels.Labels, len(recorded))
	for i, s := range recorded {
		recLsets[i] = s.lset
	}
	recStart := end.Add(-time.Duration(o.historyReportDays) * day)
	begin = time.Now()
	res.recSamples, err = writeBlocks(ctx, recDir, recLsets, recStart, end, prom.RuleInterval, func(i int, t time.Time) (float64, bool) {
		return recorded[i].at(t.Sub(recStart), t)
	})
	if err != nil {
		r.Fatalf("writing the recorded series: %v", err)
	}
	res.writeRecorded = time.Since(begin)
	recProm, recClient, recLog := startHistoryStore(ctx, r, "recorded", recDir, graph.SeriesRecorded, end)
	res.recBlocks = recProm.Blocks
	recAPI := newPromAPI(r, recProm.URL)
	rollupsStart := time.Now()
	for _, rule := range prom.RecordingRules()[1].Rules {
		if _, _, _, err := recAPI.Query(ctx, rule.Expr, end); err != nil {
			r.Fatalf("rule %s: %v", rule.Record, err)
		}
	}
	time.Sleep(time.Second)
	if entries, err = readQueryLog(recLog); err != nil {
		r.Fatalf("%v", err)
	}
	res.rollups = sumQueries(entries, rollupsStart, time.Now(), func(q string) bool { return strings.Contains(q, "[1h]") || strings.Contains(q, "vector(time())") })
	r.Logf("history: the recorded seed, %d day-long queries", o.historyDays)
	if res.recordedSeed, err = timeQueries(recLog, dayEnds(end, o.historyDays), isHistoryQuery, func(e time.Time) (int, error) {
		s, _, err := recClient.History(ctx, e, day, 5*time.Minute)
		return len(s), err
	}); err != nil {
		res.err = fmt.Errorf("recorded seed: %w", err)
		return res
	}
	period := mreport.Period{From: recStart, To: end}
	r.Logf("history: a %d-day report from the recorded series", o.historyReportDays)
	chunks := mreport.QueryChunks(ctx, recClient, period) // as the report makes them
	ends := make([]time.Time, len(chunks))
	for i, c := range chunks {
		ends[i] = c.End
	}
	if res.report, err = timeQueries(recLog, ends, isHistoryQuery, func(e time.Time) (int, error) {
		i := slices.Index(ends, e)
		s, _, err := recClient.Period(ctx, e, chunks[i].Range, mreport.Resolution(period))
		return len(s), err
	}); err != nil {
		res.err = fmt.Errorf("report: %w", err)
		return res
	}

	// meshlock seeding its look-back from the recorded series, on an
	// empty cluster: its peak RSS.
	if err := <-built; err != nil {
		r.Fatalf("building meshlock: %v", err)
	}
	cluster := testbed.StartCluster(r)
	addr := fmt.Sprintf("127.0.0.1:%d", testbed.FreePort(r))
	args := []string{"--kubeconfig=" + cluster.Kubeconfig, "--prometheus-url=" + recProm.URL,
		"--lookback=" + prom.FormatWindow(time.Duration(o.historyDays)*day), "--addr=" + addr}
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testbed.FreePort(r))
	if o.profiles != "" {
		args = append(args, "--metrics-addr="+metricsAddr, "--pprof")
	}
	p := startMeshlock(r, filepath.Join(binDir, "meshlock"), r.TempDir(), args...)
	begin = time.Now()
	for {
		if err := p.exited(); err != nil {
			res.err = err
			return res
		}
		state, err := lookbackState("http://" + addr)
		if err == nil && state == graph.LookbackReady {
			break
		}
		if time.Since(begin) > 10*time.Minute {
			res.err = fmt.Errorf("meshlock's look-back not ready after 10 minutes: %v", err)
			return res
		}
		time.Sleep(200 * time.Millisecond)
	}
	res.meshlockSeed = time.Since(begin)
	stats, err := readProc(p.cmd.Process.Pid)
	if err != nil {
		res.err = err
		return res
	}
	res.meshlockPeakRSS = stats.PeakRSS
	if o.profiles != "" {
		// Every allocation since the start: what the seed's peak was made of.
		if err := os.MkdirAll(o.profiles, 0o755); err != nil {
			r.Fatalf("-profiles: %v", err)
		}
		saveProfile(r, "http://"+metricsAddr, "allocs", filepath.Join(o.profiles, "history-allocs.pb.gz"))
		// What the seed keeps: the heap once it is done.
		saveProfile(r, "http://"+metricsAddr, "heap", filepath.Join(o.profiles, "history-heap.pb.gz"))
	}
	return res
}

// startHistoryStore starts a Prometheus over the blocks in dir, once it
// has compacted them (a year's retention, as a long-term store), with a
// query log, and a client that reads the given kind of series; a first
// query warms Prometheus' heap and the blocks' pages up.
func startHistoryStore(ctx context.Context, r testbed.TB, what, dir, series string, end time.Time) (*testbed.Prometheus, *prom.Client, string) {
	queryLog := filepath.Join(r.TempDir(), "query.log")
	r.Logf("history: Prometheus compacting the %s blocks", what)
	p := testbed.StartPrometheusWith(r, testbed.PrometheusOptions{Blocks: []string{dir}, QueryLogFile: queryLog, Retention: 400 * 24 * time.Hour, Compacted: true})
	client, err := prom.New(prom.Options{URL: p.URL, Registerer: prometheus.NewRegistry(), HistorySeries: series})
	if err != nil {
		r.Fatalf("%v", err)
	}
	if _, _, err := client.History(ctx, end, time.Hour, 5*time.Minute); err != nil {
		r.Fatalf("history: %v", err)
	}
	return p, client, queryLog
}

func reportHistory(w io.Writer, o options, res historyResult) {
	fmt.Fprintf(w, "Look-back at %s over %d days (raw series at a %s scrape), on %s:\n\n", o.scale, res.days, historyScrape, res.machine)
	fmt.Fprintln(w, "| read | series | samples in store | queries | Prometheus eval | samples read | wall |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- |")
	row := func(what string, series int, stored float64, c seedCost) {
		fmt.Fprintf(w, "| %s | %d | %.3g | %d | %.1f s | %.3g | %.1f s |\n", what, series, stored, c.queries, c.eval.Eval, float64(c.eval.Samples), c.wall.Seconds())
	}
	row(fmt.Sprintf("%dd seed, raw", res.days), res.rawSeries, res.rawSamples, res.rawSeed)
	row(fmt.Sprintf("%dd seed, recorded", res.days), res.recorded, res.recSamples, res.recordedSeed)
	row(fmt.Sprintf("%dd report, recorded", res.reportDays), res.recorded, res.recSamples, res.report)
	ratio := 0.0
	if res.recordedSeed.eval.Eval > 0 {
		ratio = res.rawSeed.eval.Eval / res.recordedSeed.eval.Eval
	}
	share := 100 * (res.rules.Eval/prom.RuleInterval.Seconds() + res.rollups.Eval/prom.RollupInterval.Seconds())
	fmt.Fprintf(w, "\nThe recorded seed costs Prometheus 1/%.0f of the raw one. One evaluation of the 5-minute rules (%d queries) on the raw series: %.2f s of Prometheus; of the hourly ones (%d) on the recorded series: %.2f s; together %.2f %% of a core. meshlock seeded %dd from the recorded series in %.1f s, peak RSS %.0f MiB. Written with Prometheus' block writer in %.0f s (raw) and %.0f s (recorded), day-long blocks, which Prometheus 2.42 compacted into %d and %d blocks before the timings (retention 400 days).\n",
		ratio, res.rules.Count, res.rules.Eval, res.rollups.Count, res.rollups.Eval, share, res.days, res.meshlockSeed.Seconds(),
		float64(res.meshlockPeakRSS)/(1<<20), res.writeRaw.Seconds(), res.writeRecorded.Seconds(), res.rawBlocks, res.recBlocks)
	if res.err != nil {
		fmt.Fprintf(w, "\nIncomplete: %v\n", res.err)
	}
}

// lookbackState reads /api/graph's look-back state.
func lookbackState(base string) (string, error) {
	resp, err := http.Get(base + "/api/graph")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var s struct {
		Lookback graph.Lookback `json:"lookback"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return "", err
	}
	return s.Lookback.State, nil
}
