// The look-back's queries: per series of edge labels, the volume over a period and the last
// time it carried traffic (one union query per period), and an edge's rate and mTLS share over
// time for the page's chart (one range query, on demand).

package prom

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/meshlock/meshlock/internal/graph"
)

// Names of the look-back's queries in meshlock_prometheus_queries_total.
const (
	QueryHistory   = "history"
	QueryEdgeRange = "edge_range"
	QueryReport    = "report"
)

// historyLabels are the edge labels minus the destination's principal,
// which no judgement over the look-back reads.
func historyLabels() []string {
	out := make([]string, 0, len(edgeLabels))
	for _, l := range edgeLabels {
		if l != "destination_principal" {
			out = append(out, l)
		}
	}
	return out
}

// termLabel tells the terms of a union query apart: "<query>:<kind>".
const termLabel = "meshlock_term"

// Kinds of a history term.
const (
	termVolume = "volume"
	termLast   = "last"
	termFirst  = "first" // the report's only
)

// HistoryQuery is the one query that answers, for the period of length rng
// ending at its evaluation time, every series' volume (increase()) and the
// last moment, to a step's precision, it carried traffic. That moment is
// the last subquery step at which the series increased over two steps (so
// that an increase between two steps is never lost), or at which it was
// born: Envoy creates a counter at its first request, so a caller that sent
// a few requests and went away can leave a series that never increases.
// Its cost is one read of the period's raw samples of the four Istio
// counters, twice (increase() and the subquery), whatever the step.
func HistoryQuery(rng, step time.Duration) string { return historyQuery(rng, step, false, "") }

// ReportQuery is HistoryQuery with, per series, the first moment it carried
// traffic too (the report's "first plaintext"): one more read of the
// period's raw samples, since PromQL shares no subquery between terms.
func ReportQuery(rng, step time.Duration) string { return historyQuery(rng, step, true, "") }

// historyQuery reads the raw counters, or under prefix Istio's recorded
// copies of them.
func historyQuery(rng, step time.Duration, first bool, prefix string) string {
	specs := querySpecs(time.Minute) // the window plays no part here
	terms := make([]string, 0, 2*len(specs))
	r, s, s2 := FormatWindow(rng), FormatWindow(step), FormatWindow(2*step)
	for _, q := range specs {
		by := strings.Join(q.historyBy, ", ")
		var volume, last []string
		for _, sel := range historySelectors(q) {
			sel = prefix + sel
			volume = append(volume, fmt.Sprintf("sum by (%s) (increase(%s[%s]))", by, sel, r))
			last = append(last,
				fmt.Sprintf("timestamp(sum by (%s) (increase(%s[%s])) > 0)", by, sel, s2),
				fmt.Sprintf("timestamp(count by (%s) ((%s > 0) unless %s offset %s))", by, sel, sel, s))
		}
		terms = append(terms,
			withTerm(strings.Join(volume, " or "), q.Name+":"+termVolume),
			withTerm(fmt.Sprintf("max_over_time((%s)[%s:%s])", strings.Join(last, " or "), r, s), q.Name+":"+termLast))
		if first {
			terms = append(terms,
				withTerm(fmt.Sprintf("min_over_time((%s)[%s:%s])", strings.Join(last, " or "), r, s), q.Name+":"+termFirst))
		}
	}
	return strings.Join(terms, " or ")
}

// historySelectors are the client side (without response flags where they
// mean the request never reached a server) and the server side.
func historySelectors(q querySpec) []string {
	if q.refusals {
		return []string{fmt.Sprintf("%s{%s}", q.metric, refusedSelector)}
	}
	client := `reporter="source"`
	if q.clientFlags {
		client += `, response_flags="-"`
	}
	return []string{
		fmt.Sprintf("%s{%s}", q.metric, client),
		fmt.Sprintf(`%s{reporter=~"destination|waypoint"}`, q.metric),
	}
}

func withTerm(expr, term string) string {
	return fmt.Sprintf(`label_replace(%s, "%s", "%s", "", "")`, expr, termLabel, term)
}

// History reads every series' volume and last time over the period
// (end-rng, end], from the series historySeries picks (graph.Series*),
// which it returns too ("" where Prometheus holds none, unasked): HistoryQuery on raw series, recordedQuery on
// meshlock's recorded ones (whose period ends settle earlier).
func (c *Client) History(ctx context.Context, end time.Time, rng, step time.Duration) ([]graph.HistorySample, string, error) {
	return c.readPast(ctx, QueryHistory, end, rng, step, false)
}

// Period is History with each series' first time seen too (ReportQuery).
func (c *Client) Period(ctx context.Context, end time.Time, rng, step time.Duration) ([]graph.HistorySample, string, error) {
	return c.readPast(ctx, QueryReport, end, rng, step, true)
}

func (c *Client) readPast(ctx context.Context, name string, end time.Time, rng, step time.Duration, first bool) ([]graph.HistorySample, string, error) {
	series, err := c.historySeries(ctx, end, rng)
	if err != nil || series == "" {
		return nil, "", err
	}
	var promql string
	switch series {
	case graph.SeriesRecorded:
		end = end.Add(-settle)
		firstRollup, lastRollup, rollups, err := c.rollupBounds(ctx, end, rng)
		if err != nil {
			return nil, "", err
		}
		from, to := rollupSpan(end, rng, firstRollup, lastRollup, rollups)
		promql = recordedQuery(rng, from, to, first)
	case graph.SeriesIstioRecorded:
		promql, end = historyQuery(rng, step, first, istioRecordedPrefix), end.Add(-settle)
	default:
		promql = historyQuery(rng, step, first, "")
	}
	// Decoded as it is read: a day of 5,000 edges answers some 40 MB,
	// which the API client would hold whole and then as maps per series.
	m := newHistoryMerge()
	if err := c.stream(ctx, name, promql, end, c.historyTimeout, func(ls *seriesLabels, v float64) { m.add(ls, v) }); err != nil {
		return nil, "", err
	}
	return m.out, series, nil
}

// Retention is how far back Prometheus keeps samples: its
// storage.tsdb.retention.time flag, or the deprecated storage.tsdb.retention,
// or Prometheus' default of 15d when neither a time nor a size is set (the
// flag then reads 0s: cmd/prometheus/main.go applies the default after
// parsing). 0 when the API does not say (Thanos and Mimir keep what their
// object store holds).
func (c *Client) Retention(ctx context.Context) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, c.queryTimeout)
	defer cancel()
	flags, err := c.api.Flags(ctx)
	if err != nil {
		return 0, fmt.Errorf("prometheus flags: %w", err)
	}
	return retentionOf(flags)
}

// defaultRetention is Prometheus' own default retention time.
const defaultRetention = 15 * 24 * time.Hour

func retentionOf(flags map[string]string) (time.Duration, error) {
	parse := func(name string) (time.Duration, error) {
		v := flags[name]
		if v == "" {
			return 0, nil
		}
		d, err := model.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("prometheus flags: %s %q: %w", name, v, err)
		}
		return time.Duration(d), nil
	}
	t, err := parse("storage.tsdb.retention.time")
	if err != nil || t > 0 {
		return t, err
	}
	if old, err := parse("storage.tsdb.retention"); err != nil || old > 0 {
		return old, err
	}
	_, isPrometheus := flags["storage.tsdb.retention.time"]
	if size := flags["storage.tsdb.retention.size"]; isPrometheus && (size == "" || size == "0B" || size == "0") {
		return defaultRetention, nil
	}
	return 0, nil // a size limit only: how far back that reaches, no flag says
}

// historyMerge merges the terms of a history answer, series by series,
// into one sample each: its volume, last and first times.
type historyMerge struct {
	specs map[string]querySpec
	index map[graph.Sample]int
	out   []graph.HistorySample
}

func newHistoryMerge() *historyMerge {
	m := &historyMerge{specs: map[string]querySpec{}, index: map[graph.Sample]int{}}
	for _, q := range querySpecs(time.Minute) {
		m.specs[q.Name] = q
	}
	return m
}

// add takes one series: its term ("<query>:<kind>", or
// "<query>:<kind>:<part>" where a read adds up parts, recordedQuery) says
// what its value is.
func (m *historyMerge) add(ls labels, v float64) {
	name, kind, _ := strings.Cut(ls.get(termLabel), ":")
	kind, _, _ = strings.Cut(kind, ":")
	q, ok := m.specs[name]
	if !ok {
		return
	}
	sample, ok := istioSample(ls, q.protocol(ls), q.measure, 0)
	if !ok {
		return
	}
	i, seen := m.index[sample]
	if !seen {
		i = len(m.out)
		m.index[sample] = i
		m.out = append(m.out, graph.HistorySample{Sample: sample})
	}
	at := func() time.Time {
		whole, frac := math.Modf(v)
		return time.Unix(int64(whole), int64(frac*1e9)).UTC()
	}
	switch kind {
	case termVolume:
		m.out[i].Volume += v
	case termLast:
		if t := at(); t.After(m.out[i].LastSeen) {
			m.out[i].LastSeen = t
		}
	case termFirst:
		if t := at(); m.out[i].FirstSeen.IsZero() || t.Before(m.out[i].FirstSeen) {
			m.out[i].FirstSeen = t
		}
	}
}

// EdgeRange asks for the rate of every series into a destination (a
// Service by name, else a workload by name; the graph picks the edge) at
// each step of [from, to], each rate over max(step, window) so that no
// traffic between steps is missed and a short step still has samples. The
// series are those History would read over the range: from recorded ones,
// the rate over whole rule intervals.
func (c *Client) EdgeRange(ctx context.Context, target graph.RangeTarget, from, to time.Time, step time.Duration) ([]graph.SampleStep, error) {
	var match string
	switch {
	case target.Service != "":
		match = "destination_service_name=" + quote(target.Service)
	case target.Workload != "":
		match = "destination_workload=" + quote(target.Workload)
	default:
		return nil, errors.New("an edge's range needs a destination")
	}
	series, err := c.historySeries(ctx, to, to.Sub(from))
	if err != nil {
		return nil, err
	}
	window := FormatWindow(max(step, c.window))
	specs := querySpecs(c.window)
	terms := make([]string, len(specs))
	for i, q := range specs {
		by := strings.Join(q.historyBy, ", ")
		switch series {
		case graph.SeriesRecorded:
			// The recorded increases over a window of whole intervals.
			w := max(step, RuleInterval).Truncate(RuleInterval)
			terms[i] = withTerm(fmt.Sprintf("sum by (%s) (sum_over_time(%s{%s}[%s])) / %g",
				by, recordedName(q, recordedIncrease), match, FormatWindow(w), w.Seconds()), q.Name)
			continue
		case graph.SeriesIstioRecorded:
			q.metric = istioRecordedPrefix + q.metric
		}
		selector := reporterSelector
		if q.refusals {
			selector = refusedSelector
		}
		terms[i] = withTerm(fmt.Sprintf("sum by (%s) (rate(%s{%s, %s}[%s]))", by, q.metric, selector, match, window), q.Name)
	}
	queryCtx, cancel := context.WithTimeout(ctx, c.historyTimeout)
	defer cancel()
	value, warnings, infos, err := c.api.QueryRange(queryCtx, strings.Join(terms, " or "), v1.Range{Start: from, End: to, Step: step})
	c.warn(QueryEdgeRange, warnings, infos)
	if err != nil {
		return nil, c.failed(QueryEdgeRange, err)
	}
	matrix, ok := value.(model.Matrix)
	if !ok {
		return nil, c.failed(QueryEdgeRange, fmt.Errorf("answer is a %s, want a matrix", value.Type()))
	}
	c.queriesTotal.WithLabelValues(QueryEdgeRange, resultSuccess).Inc()
	return rangeSteps(matrix, specs), nil
}

// rangeSteps regroups a matrix by time, in time order.
func rangeSteps(matrix model.Matrix, specs []querySpec) []graph.SampleStep {
	byName := map[string]querySpec{}
	for _, q := range specs {
		byName[q.Name] = q
	}
	index := map[model.Time]int{}
	var out []graph.SampleStep
	for _, series := range matrix {
		q, ok := byName[string(series.Metric[termLabel])]
		if !ok {
			continue
		}
		for _, p := range series.Values {
			v := float64(p.Value)
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				continue
			}
			sample, ok := istioSample(metricLabels(series.Metric), q.protocol(metricLabels(series.Metric)), q.measure, v)
			if !ok {
				continue
			}
			i, seen := index[p.Timestamp]
			if !seen {
				i = len(out)
				index[p.Timestamp] = i
				out = append(out, graph.SampleStep{T: p.Timestamp.Time().UTC()})
			}
			out[i].Samples = append(out[i].Samples, sample)
		}
	}
	slices.SortFunc(out, func(a, b graph.SampleStep) int { return a.T.Compare(b.T) })
	return out
}

// quote writes a PromQL string literal.
func quote(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
}
