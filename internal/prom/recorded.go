// The look-back's recorded series (issue 26): the recording rules meshlock ships
// (deploy/prometheus/), the queries that read them, and which series a period is read from:
// meshlock's rules, Istio's documented workload-level rules, or the raw istio_* counters.

package prom

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"sigs.k8s.io/yaml"

	"github.com/meshlock/meshlock/internal/graph"
)

// RuleInterval is the recording rules' evaluation interval: the
// precision of the last and first times read from them, as the
// look-back's seed has at its 288 steps a day. Each evaluation reads five
// minutes of raw samples once; each series it writes holds 288 samples a
// day, a tenth of a 30 s scrape's, with pod and instance summed away.
const RuleInterval = 5 * time.Minute

// settle is how far behind now a recorded series may still be written: a
// rule's evaluation, then federation or remote write to a long-term store.
// Reads of recorded series end this much earlier, all by the same amount,
// so that consecutive periods still tile; the live window's sightings
// cover the minutes in between.
const settle = 2 * time.Minute

// recordedName is the name of one of meshlock's recorded series:
// "meshlock:<series>:<kind>".
func recordedName(q querySpec, kind string) string {
	return "meshlock:" + q.recorded + ":" + kind
}

// Kinds of recorded series. Each RuleInterval: the volume over the
// interval (written only where it is positive), and the evaluation's time
// wherever the series carried traffic in the interval or was born in it
// (Envoy creates a counter at its first request: see HistoryQuery). Each
// RollupInterval, from those: the hour's volume, and its last and first
// times seen (to the 5 minutes), so that a day is 24 samples, not 288.
const (
	recordedIncrease = "increase5m"
	recordedSeen     = "seen5m"
	rolledIncrease   = "increase1h"
	rolledLast       = "last1h"
	rolledFirst      = "first1h"
)

// RollupInterval is the hourly rollups' evaluation interval.
const RollupInterval = time.Hour

// rollupsName is a series of one sample per rollup, its evaluation time:
// where the rollups reach, which the reads ask first (rollupBounds).
const rollupsName = "meshlock:history:rollups1h"

// RuleGroup is one group of a Prometheus rules file.
type RuleGroup struct {
	Name     string `json:"name"`
	Interval string `json:"interval"`
	Rules    []Rule `json:"rules"`
}

// Rule is one recording rule.
type Rule struct {
	Record string `json:"record"`
	Expr   string `json:"expr"`
}

// RecordingRules are the rules deploy/prometheus/ ships: per Istio counter
// the look-back reads, its increase and the time it was seen, each
// RuleInterval, summed by exactly the labels HistoryQuery groups by (no
// pod, instance, response code or destination principal), on the same
// reports (a client's only without response flags where they mean the
// request never reached a server).
func RecordingRules() []RuleGroup {
	w := FormatWindow(RuleInterval)
	group := RuleGroup{Name: "meshlock.istio.history", Interval: w}
	h := FormatWindow(RollupInterval)
	hourly := RuleGroup{Name: "meshlock.istio.history.hourly", Interval: h}
	for _, q := range querySpecs(time.Minute) {
		by := strings.Join(q.historyBy, ", ")
		var increase, seen []string
		for _, sel := range historySelectors(q) {
			increase = append(increase, fmt.Sprintf("increase(%s[%s])", sel, w))
			seen = append(seen,
				fmt.Sprintf("increase(%s[%s]) > 0", sel, w),
				fmt.Sprintf("(%s > 0 unless %s offset %s)", sel, sel, w))
		}
		group.Rules = append(group.Rules,
			Rule{Record: recordedName(q, recordedIncrease), Expr: ruleExpr("sum", by, increase, " > 0")},
			Rule{Record: recordedName(q, recordedSeen), Expr: ruleExpr("count", by, seen, " * 0 + time()")})
		hourly.Rules = append(hourly.Rules,
			Rule{Record: recordedName(q, rolledIncrease), Expr: fmt.Sprintf("sum_over_time(%s[%s])", recordedName(q, recordedIncrease), h)},
			Rule{Record: recordedName(q, rolledLast), Expr: fmt.Sprintf("max_over_time(%s[%s])", recordedName(q, recordedSeen), h)},
			Rule{Record: recordedName(q, rolledFirst), Expr: fmt.Sprintf("min_over_time(%s[%s])", recordedName(q, recordedSeen), h)})
	}
	hourly.Rules = append(hourly.Rules, Rule{Record: rollupsName, Expr: "vector(time())"})
	return []RuleGroup{group, hourly}
}

// ruleExpr writes "op by (labels) (terms or'ed)tail", a term a line.
func ruleExpr(op, by string, terms []string, tail string) string {
	return fmt.Sprintf("%s by (%s) (\n    %s\n)%s\n", op, by, strings.Join(terms, "\n  or\n    "), tail)
}

// Files of deploy/prometheus/.
const (
	RulesFile          = "meshlock-rules.yaml"
	PrometheusRuleFile = "prometheusrule.yaml"
)

const rulesHeader = `# meshlock's recording rules for its look-back and reports (issue 26), generated from
# internal/prom/recorded.go by make docs: do not edit. Load them into the Prometheus that scrapes
# the proxies (rule_files:), and federate or remote-write the meshlock:.* series to a long-term
# Prometheus; docs/operating.md says how.
`

// RulesFileYAML is RecordingRules as a Prometheus rules file.
func RulesFileYAML() ([]byte, error) {
	out, err := yaml.Marshal(map[string]any{"groups": RecordingRules()})
	return append([]byte(rulesHeader), out...), err
}

// PrometheusRuleYAML is RecordingRules as the Prometheus Operator's
// PrometheusRule.
func PrometheusRuleYAML() ([]byte, error) {
	out, err := yaml.Marshal(map[string]any{
		"apiVersion": "monitoring.coreos.com/v1",
		"kind":       "PrometheusRule",
		"metadata": map[string]any{
			"name":   "meshlock-istio-history",
			"labels": map[string]string{"app.kubernetes.io/name": "meshlock"},
		},
		"spec": map[string]any{"groups": RecordingRules()},
	})
	return append([]byte(rulesHeader), out...), err
}

// recordedQuery is HistoryQuery (first: ReportQuery) over meshlock's
// recorded series for the period [end-rng, end], evaluated at end: sums
// and extremes of their samples, no subquery and no raw sample read. The
// hourly rollups stand in for the 5-minute series over [end-from,
// end-to] (from == to: nowhere), the hours that the rollups of that span
// cover; the 5-minute series cover the rest, so that no 5-minute sample is
// read twice or missed.
func recordedQuery(rng, from, to time.Duration, first bool) string {
	var terms []string
	for _, q := range querySpecs(time.Minute) {
		// Each kind's parts, merged by Prometheus into one series each
		// (a third of the answer, and of the unions' work).
		parts := map[string][]string{}
		read := func(increase, last, firstSeen string, span, offset time.Duration, part string) {
			if span <= 0 {
				return
			}
			sel := fmt.Sprintf("[%s]%s", FormatWindow(span), offsetClause(offset))
			add := func(kind, expr string) {
				parts[kind] = append(parts[kind], fmt.Sprintf(`label_replace(%s, "%s", "%s", "", "")`, expr, partLabel, part))
			}
			add(termVolume, fmt.Sprintf("sum_over_time(%s%s)", recordedName(q, increase), sel))
			add(termLast, fmt.Sprintf("max_over_time(%s%s)", recordedName(q, last), sel))
			if first {
				add(termFirst, fmt.Sprintf("min_over_time(%s%s)", recordedName(q, firstSeen), sel))
			}
		}
		read(recordedIncrease, recordedSeen, recordedSeen, rng-from, from, "before")
		if from > to {
			// The rollups at end-from+1h … end-to (Prometheus 2's ranges
			// hold both ends: the millisecond takes the first in).
			read(rolledIncrease, rolledLast, rolledFirst, from-to-RollupInterval+time.Millisecond, to, "hourly")
		}
		read(recordedIncrease, recordedSeen, recordedSeen, to, 0, "after")
		for _, kind := range []struct{ name, merge string }{{termVolume, "sum"}, {termLast, "max"}, {termFirst, "min"}} {
			if len(parts[kind.name]) > 0 {
				terms = append(terms, withTerm(fmt.Sprintf("%s without (%s) (%s)", kind.merge, partLabel, orAll(parts[kind.name])), q.Name+":"+kind.name))
			}
		}
	}
	return orAll(terms)
}

// partLabel tells a kind's parts apart until they are merged.
const partLabel = "meshlock_part"

// orAll unites terms as a balanced tree: Prometheus' "or" hashes every
// series of its left side, so a chain of n terms hashes the first n times.
func orAll(terms []string) string {
	switch len(terms) {
	case 0:
		return ""
	case 1:
		return terms[0]
	}
	half := len(terms) / 2
	return "(" + orAll(terms[:half]) + ") or (" + orAll(terms[half:]) + ")"
}

func offsetClause(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return " offset " + FormatWindow(d)
}

// ReadsWhole says whether the period [from, to] is read from meshlock's
// recorded series, so that one query may read it whole: their hourly
// rollups make a day 24 samples a series, and a query's cost on them
// follows its series and terms, not its days (make scale -history-days:
// 30 day-long report queries took some 60 s of Prometheus).
func (c *Client) ReadsWhole(ctx context.Context, from, to time.Time) bool {
	series, err := c.historySeries(ctx, to, to.Sub(from))
	return err == nil && series == graph.SeriesRecorded
}

// rollupSpan is where the hourly rollups stand in for the 5-minute series
// in the period [end-rng, end], given its first rollup whose hour starts
// in the period, its last, and how many there are from the first to the
// last: [end-from, end-to], those rollups' hours. Only rollups an hour
// apart each, none missed, cover their hours exactly (a missed evaluation,
// or rollups of another phase, as where backfilled ones meet live ones,
// would leave hours out); else from == to: the 5-minute series alone.
func rollupSpan(end time.Time, rng time.Duration, first, last time.Time, count int) (from, to time.Duration) {
	if first.IsZero() || last.IsZero() || first.After(last) || first.Add(-RollupInterval).Before(end.Add(-rng)) || last.After(end) ||
		last.Sub(first)%RollupInterval != 0 || count != int(last.Sub(first)/RollupInterval)+1 {
		return rng, rng
	}
	return end.Sub(first) + RollupInterval, end.Sub(last)
}

// rollupBounds asks for the times of the first hourly rollup whose hour
// starts in the period [end-rng, end] and of the last one in it, and how
// many there are: one query of one series. Zero where there is none.
func (c *Client) rollupBounds(ctx context.Context, end time.Time, rng time.Duration) (first, last time.Time, count int, err error) {
	if rng <= RollupInterval {
		return first, last, 0, nil
	}
	span := FormatWindow(rng - RollupInterval)
	value, err := c.query(ctx, QuerySeries, fmt.Sprintf(`label_replace(min_over_time(%s[%s]), "bound", "first", "", "")`+
		` or label_replace(max_over_time(%s[%s]), "bound", "last", "", "") or label_replace(count_over_time(%s[%s]), "bound", "count", "", "")`,
		rollupsName, span, rollupsName, span, rollupsName, span), end, c.queryTimeout)
	if err != nil {
		return first, last, 0, err
	}
	vector, _ := value.(model.Vector)
	for _, s := range vector {
		v := float64(s.Value)
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e11 {
			continue // not a time: the 5-minute series alone
		}
		at := time.UnixMilli(int64(math.Round(v * 1000))).UTC()
		switch s.Metric["bound"] {
		case "first":
			first = at
		case "last":
			last = at
		case "count":
			count = int(s.Value)
		}
	}
	return first, last, count, nil
}

// istioRecordedPrefix names the series of Istio's documented
// production-scale rules (istio.io, "Observability best practices":
// workload:istio_requests_total = sum without(instance,
// kubernetes_namespace, kubernetes_pod_name) (istio_requests_total), and
// the TCP counters likewise): the raw counters under another name, read
// by the raw queries. Federated as that page configures it, they lose the
// prefix and are read as raw series.
const istioRecordedPrefix = "workload:"

// HistorySeries modes: which series the look-back and the report read.
const (
	// SeriesAuto reads, for each period, the first of meshlock's recorded
	// series, Istio's workload-level ones and the raw counters that the
	// history Prometheus holds.
	SeriesAuto = "auto"
)

// historyMetrics are the raw counters HistoryQuery reads.
func historyMetrics() []string {
	var out []string
	for _, q := range querySpecs(time.Minute) {
		if !slices.Contains(out, q.metric) {
			out = append(out, q.metric)
		}
	}
	return out
}

// seriesOf tells which kind of series a metric name is; "" for none of
// the look-back's.
func seriesOf(name string) string {
	switch {
	case strings.HasPrefix(name, "meshlock:"):
		return graph.SeriesRecorded
	case strings.HasPrefix(name, istioRecordedPrefix) && slices.Contains(historyMetrics(), strings.TrimPrefix(name, istioRecordedPrefix)):
		return graph.SeriesIstioRecorded
	case slices.Contains(historyMetrics(), name):
		return graph.SeriesRaw
	}
	return ""
}

// seriesOrder is the preference among the kinds a period holds.
var seriesOrder = []string{graph.SeriesRecorded, graph.SeriesIstioRecorded, graph.SeriesRaw}

// probeSpan is how much of a period's start is asked about when a period
// holds several kinds: the rules began (or federation did) within it.
const probeSpan = 15 * time.Minute

// historySeries picks the series of the period (end-rng, end]: the
// configured kind, or in auto mode the first kind by seriesOrder that the
// period's start holds, else the first the period holds at all; "" when it
// holds none, and nothing need be read. So the day the rules are installed is still read from
// the raw series it began with, and the next day from the recorded ones.
func (c *Client) historySeries(ctx context.Context, end time.Time, rng time.Duration) (string, error) {
	if c.series != SeriesAuto {
		return c.series, nil
	}
	start := end.Add(-rng)
	kinds, err := c.seriesKinds(ctx, start, end)
	if err != nil {
		// An API without the label values endpoint (or a Prometheus
		// down): the raw query says what is wrong, if anything.
		c.logger.Warn("could not ask which series hold the past; reading the raw ones", "error", err)
		return graph.SeriesRaw, nil
	}
	if len(kinds) > 1 {
		if atStart, err := c.seriesKinds(ctx, start, start.Add(min(probeSpan, rng))); err == nil && len(atStart) > 0 {
			kinds = atStart
		}
	}
	for _, kind := range seriesOrder {
		if kinds[kind] {
			return kind, nil
		}
	}
	return "", nil // nothing to read
}

// seriesKinds asks which kinds of series hold samples in [start, end]:
// one read of the index (the names' label values), no sample read.
func (c *Client) seriesKinds(ctx context.Context, start, end time.Time) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.queryTimeout)
	defer cancel()
	metrics := strings.Join(historyMetrics(), "|")
	matches := []string{
		`{__name__=~"meshlock:istio_.+"}`,
		fmt.Sprintf(`{__name__=~"(%s)?(%s)"}`, istioRecordedPrefix, metrics),
	}
	names, warnings, infos, err := c.api.LabelValues(ctx, "__name__", matches, start, end)
	c.warn(QuerySeries, warnings, infos)
	if err != nil {
		return nil, c.failed(QuerySeries, fmt.Errorf("which series hold the past: %w", err))
	}
	c.queriesTotal.WithLabelValues(QuerySeries, resultSuccess).Inc()
	kinds := map[string]bool{}
	for _, name := range names {
		if kind := seriesOf(string(name)); kind != "" {
			kinds[kind] = true
		}
	}
	return kinds, nil
}

// QuerySeries names the probe of which series hold a period in
// meshlock_prometheus_queries_total.
const QuerySeries = "history_series"
