package prom

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/meshlock/meshlock/internal/graph"
)

var updateRules = flag.Bool("update-rules", false, "rewrite deploy/prometheus/ from RecordingRules")

// The rules deploy/prometheus/ ships are RecordingRules, as a plain rules
// file and as the Prometheus Operator's PrometheusRule; make docs rewrites
// them.
func TestShippedRecordingRules(t *testing.T) {
	dir := filepath.Join("..", "..", "deploy", "prometheus")
	files := map[string][]byte{}
	var err error
	if files[RulesFile], err = RulesFileYAML(); err != nil {
		t.Fatal(err)
	}
	if files[PrometheusRuleFile], err = PrometheusRuleYAML(); err != nil {
		t.Fatal(err)
	}
	// The chart's copy, which its PrometheusRule reads (Helm reads no
	// file outside the chart).
	files[filepath.Join("..", "helm", "meshlock", "files", RulesFile)] = files[RulesFile]
	for name, want := range files {
		path := filepath.Join(dir, name)
		if *updateRules {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s is not RecordingRules (%v): run make docs", path, err)
		}
	}
	// Prometheus' own parser takes the rules file: names, durations and
	// every expression.
	groups, errs := rulefmt.Parse(files[RulesFile], false, model.LegacyValidation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("Prometheus refuses the rules file: %v", errs)
	}
	n := len(querySpecs(time.Minute))
	if len(groups.Groups) != 2 || len(groups.Groups[0].Rules) != 2*n || len(groups.Groups[1].Rules) != 3*n+1 {
		t.Errorf("rules file groups %+v: want the 5-minute group (an increase and a seen rule per query) and the hourly one (three rollups per query, and their time)", groups.Groups)
	}
}

// Every series recordedQuery reads is one a rule records, and the query
// parses; no rule keeps a label the history does not group by.
func TestRecordedQueryReadsWhatTheRulesRecord(t *testing.T) {
	recorded := map[string]bool{}
	for _, r := range RecordingRules()[1].Rules {
		recorded[r.Record] = true
	}
	for _, r := range RecordingRules()[0].Rules {
		recorded[r.Record] = true
		for _, banned := range []string{"pod", "instance", "response_code", "destination_principal"} {
			by := r.Expr[strings.Index(r.Expr, "by (")+4 : strings.Index(r.Expr, ")")]
			if slices.Contains(strings.Split(by, ", "), banned) {
				t.Errorf("%s keeps %s", r.Record, banned)
			}
		}
	}
	for _, first := range []bool{false, true} {
		q := recordedQuery(24*time.Hour, 20*time.Hour, time.Hour, first)
		expr, err := parser.NewParser(parser.Options{}).ParseExpr(q)
		if err != nil {
			t.Fatalf("recordedQuery does not parse: %v\n%s", err, q)
		}
		parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
			if vs, ok := node.(*parser.VectorSelector); ok && !recorded[vs.Name] {
				t.Errorf("recordedQuery reads %s, which no rule records", vs.Name)
			}
			return nil
		})
	}
	if q := historyQuery(time.Hour, time.Minute, false, istioRecordedPrefix); !strings.Contains(q, "workload:istio_requests_total{") || strings.Contains(q, " istio_requests_total{") {
		t.Errorf("the query of Istio's recorded series reads %s", q)
	}
}

// seriesProm answers label values by the period asked and records the
// queries; each kind of series holds samples from its start on.
type seriesProm struct {
	starts map[string]time.Time // kind → where its samples begin
	status int                  // of the label values answer; 0: 200

	mu      sync.Mutex
	probes  int
	queries []string
	times   []string
}

func (p *seriesProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	p.mu.Lock()
	defer p.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/api/v1/label/__name__/values") {
		p.probes++
		if p.status != 0 {
			w.WriteHeader(p.status)
			_, _ = w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"no"}`))
			return
		}
		end, _ := parseUnix(r.Form.Get("end"))
		names := map[string]string{graph.SeriesRecorded: "meshlock:istio_requests:increase5m",
			graph.SeriesIstioRecorded: "workload:istio_requests_total", graph.SeriesRaw: "istio_requests_total"}
		var out []string
		for kind, start := range p.starts {
			if !end.Before(start) {
				out = append(out, `"`+names[kind]+`"`)
			}
		}
		_, _ = w.Write([]byte(`{"status":"success","data":[` + strings.Join(out, ",") + `]}`))
		return
	}
	p.queries = append(p.queries, r.Form.Get("query"))
	p.times = append(p.times, r.Form.Get("time"))
	if r.URL.Path == "/api/v1/query_range" {
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
		return
	}
	_, _ = w.Write([]byte(emptyVector))
}

func parseUnix(raw string) (time.Time, error) {
	d, err := time.ParseDuration(raw + "s")
	return time.Unix(0, 0).Add(d), err
}

func TestHistoryPicksTheSeriesThePeriodHolds(t *testing.T) {
	end := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, tc := range []struct {
		name   string
		mode   string
		starts map[string]time.Time
		status int
		want   string
		probes int
	}{
		{"raw only", SeriesAuto, map[string]time.Time{graph.SeriesRaw: end.Add(-30 * day)}, 0, graph.SeriesRaw, 1},
		{"nothing at all", SeriesAuto, nil, 0, "", 1},
		{"recorded all day", SeriesAuto, map[string]time.Time{graph.SeriesRaw: end.Add(-30 * day), graph.SeriesRecorded: end.Add(-2 * day)}, 0, graph.SeriesRecorded, 2},
		// The day the rules were installed is read from the raw series it began with.
		{"rules installed today", SeriesAuto, map[string]time.Time{graph.SeriesRaw: end.Add(-30 * day), graph.SeriesRecorded: end.Add(-3 * time.Hour)}, 0, graph.SeriesRaw, 2},
		// A long-term store of recorded series only: what it holds.
		{"recorded from today only", SeriesAuto, map[string]time.Time{graph.SeriesRecorded: end.Add(-3 * time.Hour)}, 0, graph.SeriesRecorded, 1},
		{"Istio's rules before raw", SeriesAuto, map[string]time.Time{graph.SeriesRaw: end.Add(-30 * day), graph.SeriesIstioRecorded: end.Add(-30 * day)}, 0, graph.SeriesIstioRecorded, 2},
		{"no label values API", SeriesAuto, map[string]time.Time{graph.SeriesRecorded: end.Add(-30 * day)}, http.StatusNotFound, graph.SeriesRaw, 1},
		{"told: raw", graph.SeriesRaw, map[string]time.Time{graph.SeriesRecorded: end.Add(-30 * day)}, 0, graph.SeriesRaw, 0},
		{"told: recorded", graph.SeriesRecorded, nil, 0, graph.SeriesRecorded, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &seriesProm{starts: tc.starts, status: tc.status}
			server := httptest.NewServer(fake)
			defer server.Close()
			opts, _ := testOptions(server.URL)
			opts.HistorySeries = tc.mode
			c := mustNew(t, opts)
			_, series, err := c.History(context.Background(), end, day, 5*time.Minute)
			if err != nil || series != tc.want || fake.probes != tc.probes {
				t.Fatalf("History: %q, %v after %d probes; want %q after %d", series, err, fake.probes, tc.want, tc.probes)
			}
			if series == "" {
				if len(fake.queries) != 0 {
					t.Errorf("a period without series was queried: %v", fake.queries)
				}
				return
			}
			// Recorded series are read settle earlier, raw ones at the period's end.
			wantAt := end
			if series != graph.SeriesRaw {
				wantAt = end.Add(-settle)
			}
			at, _ := parseUnix(fake.times[0])
			recordedRead := strings.Contains(fake.queries[0], "meshlock:")
			if !at.Equal(wantAt) || recordedRead != (series == graph.SeriesRecorded) {
				t.Errorf("query at %s reading recorded series %v; want at %s", at, recordedRead, wantAt)
			}
		})
	}
}

// An edge's chart reads the series the look-back would: recorded
// increases over whole rule intervals, as a rate.
func TestEdgeRangeReadsTheRecordedSeries(t *testing.T) {
	end := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		starts map[string]time.Time
		want   string
	}{
		{"recorded", map[string]time.Time{graph.SeriesRecorded: end.Add(-48 * time.Hour)}, `sum_over_time(meshlock:istio_requests:increase5m{destination_service_name="ratings"}[10m])) / 600`},
		{"Istio's recorded", map[string]time.Time{graph.SeriesIstioRecorded: end.Add(-48 * time.Hour)}, `rate(workload:istio_requests_total{reporter=~"source|destination|waypoint", destination_service_name="ratings"}[10m])`},
		{"raw", map[string]time.Time{graph.SeriesRaw: end.Add(-48 * time.Hour)}, `rate(istio_requests_total{reporter=~"source|destination|waypoint", destination_service_name="ratings"}[10m])`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &seriesProm{starts: tc.starts}
			server := httptest.NewServer(fake)
			defer server.Close()
			opts, _ := testOptions(server.URL)
			c := mustNew(t, opts)
			if _, err := c.EdgeRange(context.Background(), graph.RangeTarget{Service: "ratings"}, end.Add(-24*time.Hour), end, 10*time.Minute); err != nil {
				t.Fatal(err)
			}
			if len(fake.queries) != 1 || !strings.Contains(fake.queries[0], tc.want) {
				t.Fatalf("chart queries %v, want one reading %s", fake.queries, tc.want)
			}
			if _, err := parser.NewParser(parser.Options{}).ParseExpr(fake.queries[0]); err != nil {
				t.Errorf("the chart's query does not parse: %v", err)
			}
		})
	}
}

// The hourly rollups stand in for the hours they cover inside the
// period, the 5-minute series for the rest: no 5-minute sample is read
// twice or missed, in one read or across consecutive ones.
func TestRollupSpanTilesThePeriod(t *testing.T) {
	end := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	phase := 40*time.Minute + 17*time.Second // the hourly group's
	for _, tc := range []struct {
		name        string
		rng         time.Duration
		first, last time.Time
		count       int
		from, to    time.Duration
	}{
		{"no rollups", day, time.Time{}, time.Time{}, 0, day, day},
		{"a day", day, end.Add(-day + 2*time.Hour - phase), end.Add(-phase), 23, day - time.Hour + phase, phase},
		{"one rollup", 2 * time.Hour, end.Add(-phase), end.Add(-phase), 1, time.Hour + phase, phase},
		{"a first rollup whose hour starts before the period", 2 * time.Hour, end.Add(-90 * time.Minute), end.Add(-phase), 2, 2 * time.Hour, 2 * time.Hour},
		{"a missed rollup", day, end.Add(-day + 2*time.Hour - phase), end.Add(-phase), 22, day, day},
		{"rollups of two phases", day, end.Add(-day + 2*time.Hour - phase), end.Add(-phase - time.Minute), 23, day, day},
	} {
		from, to := rollupSpan(end, tc.rng, tc.first, tc.last, tc.count)
		if from != tc.from || to != tc.to {
			t.Errorf("%s: rollups over [%s, %s] before the end, want [%s, %s]", tc.name, from, to, tc.from, tc.to)
		}
	}
	// Two consecutive days, the same phase: the 5-minute spans and the
	// rollups' hours tile from the older day's start to the newer's end.
	origin := end.Add(-2 * day)
	var spans []time.Duration
	for _, e := range []time.Time{end.Add(-day), end} {
		// The first rollup whose hour starts in the day, and the last.
		first := e.Add(-day + time.Hour + (time.Hour - phase))
		from, to := rollupSpan(e, day, first, e.Add(-phase), 23)
		spans = append(spans, e.Add(-day).Sub(origin), e.Add(-from).Sub(origin), e.Add(-from).Sub(origin), e.Add(-to).Sub(origin), e.Add(-to).Sub(origin), e.Sub(origin))
		if from == to || (from-to)%RollupInterval != 0 {
			t.Errorf("day ending %s: rollups over %s", e, from-to)
		}
	}
	for i := 1; i < len(spans)/2; i++ {
		if spans[2*i] != spans[2*i-1] {
			t.Errorf("spans %v leave a gap or an overlap at %d", spans, i)
		}
	}
	if spans[0] != 0 || spans[len(spans)-1] != 2*day {
		t.Errorf("spans %v do not cover the two days", spans)
	}
}

// A history answer is decoded as it is read: each series' parts add up
// into one sample (volumes summed, the latest last time, the earliest
// first time), asked at the period's end.
func TestPeriodMergesTheAnswersParts(t *testing.T) {
	end := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	labels := `"reporter":"destination","source_workload":"backup","source_workload_namespace":"jobs","destination_workload":"ratings-v1",` +
		`"destination_workload_namespace":"default","destination_service_name":"ratings","destination_service_namespace":"default",` +
		`"connection_security_policy":"none","request_protocol":"http","pod":"ignored"`
	entry := func(term string, v float64) string {
		return fmt.Sprintf(`{"metric":{%s,"meshlock_term":%q},"value":[%d,"%g"]}`, labels, term, end.Unix(), v)
	}
	body := `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join([]string{
		entry("http:volume:before", 10), entry("http:volume:hourly", 100), entry("http:volume:after", 1),
		entry("http:last:hourly", float64(end.Add(-3*time.Hour).Unix())), entry("http:last:after", float64(end.Add(-time.Minute).Unix())),
		entry("http:first:before", float64(end.Add(-20*time.Hour).Unix())), entry("http:first:hourly", float64(end.Add(-10*time.Hour).Unix())),
	}, ",") + `]}}`
	var asked url.Values
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		asked = r.Form
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	defer server.Close()
	opts, _ := testOptions(server.URL)
	opts.HistorySeries = graph.SeriesRaw
	c := mustNew(t, opts)
	got, _, err := c.Period(context.Background(), end, 24*time.Hour, 5*time.Minute)
	if err != nil || len(got) != 1 {
		t.Fatalf("Period: %+v, %v; want one sample", got, err)
	}
	h := got[0]
	if h.Volume != 111 || !h.LastSeen.Equal(end.Add(-time.Minute)) || !h.FirstSeen.Equal(end.Add(-20*time.Hour)) || h.Source.Workload != "backup" {
		t.Errorf("merged %+v: want volume 111, last a minute before the end, first 20 hours before", h)
	}
	if at, _ := parseUnix(asked.Get("time")); !at.Equal(end) || !strings.Contains(asked.Get("query"), "meshlock_term") {
		t.Errorf("asked %v, want the report query at %s", asked, end)
	}
}

// A period whose start holds meshlock's recorded series may be read in one
// query; one of raw series is read a day at a time.
func TestReadsWholeOnlyRecordedPeriods(t *testing.T) {
	end := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		kind string
		want bool
	}{{graph.SeriesRecorded, true}, {graph.SeriesRaw, false}, {graph.SeriesIstioRecorded, false}} {
		server := httptest.NewServer(&seriesProm{starts: map[string]time.Time{tc.kind: end.Add(-60 * 24 * time.Hour)}})
		opts, _ := testOptions(server.URL)
		if got := mustNew(t, opts).ReadsWhole(context.Background(), end.Add(-30*24*time.Hour), end); got != tc.want {
			t.Errorf("%s series: reads whole %v, want %v", tc.kind, got, tc.want)
		}
		server.Close()
	}
}

// Values of the rollups' series that are not times leave the rollups
// out: the 5-minute series alone are read.
func TestRollupBoundsIgnoreValuesThatAreNotTimes(t *testing.T) {
	end := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for _, v := range []string{"NaN", "+Inf", "-1", "1e300"} {
		server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[`+
				`{"metric":{"bound":"first"},"value":[%d,%q]},{"metric":{"bound":"last"},"value":[%d,%q]},{"metric":{"bound":"count"},"value":[%d,"1"]}]}}`,
				end.Unix(), v, end.Unix(), v, end.Unix())
		}))
		opts, _ := testOptions(server.URL)
		first, last, _, err := mustNew(t, opts).rollupBounds(context.Background(), end, 24*time.Hour)
		server.Close()
		if from, to := rollupSpan(end, 24*time.Hour, first, last, 1); err != nil || !first.IsZero() || !last.IsZero() || from != to {
			t.Errorf("value %s: bounds %s, %s (%v), rollups over [%s, %s]; want none", v, first, last, err, from, to)
		}
	}
}
