// The demo's embedded Prometheus: ingests scraped text into an in-memory store and answers instant
// and range PromQL queries with the real engine over the slice of the HTTP API that meshlock uses.

package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// Prometheus is an embedded Prometheus: scraped text goes into an
// in-memory store and the real PromQL engine answers the query API, so
// meshlock's Prometheus client talks to it exactly as it would to a real
// server.
type Prometheus struct {
	store  *memStore
	engine *promql.Engine
	logger *slog.Logger
}

// NewPrometheus keeps two hours of samples in memory: the demo's data
// need not survive a restart.
func NewPrometheus(logger *slog.Logger) (*Prometheus, error) {
	engine := promql.NewEngine(promql.EngineOpts{
		Logger:        logger,
		MaxSamples:    50_000_000,
		Timeout:       30 * time.Second,
		LookbackDelta: 5 * time.Minute,
	})
	return &Prometheus{store: newMemStore(int64(retention / time.Millisecond)), engine: engine, logger: logger}, nil
}

// Close releases the samples.
func (p *Prometheus) Close() error {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.store.series = map[string]*memSeries{}
	return nil
}

// Ingest appends one scrape, in Prometheus text format, at time ts, with
// the job and instance labels a scrape would add.
func (p *Prometheus) Ingest(text io.Reader, ts time.Time, job, instance string) error {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(text)
	if err != nil {
		return fmt.Errorf("parse scrape: %w", err)
	}
	var batch []labels.Labels
	var values []float64
	for name, family := range families {
		for _, metric := range family.GetMetric() {
			value, ok := scalarValue(family.GetType(), metric)
			if !ok {
				continue
			}
			builder := labels.NewScratchBuilder(len(metric.GetLabel()) + 3)
			builder.Add(labels.MetricName, name)
			builder.Add("job", job)
			builder.Add("instance", instance)
			for _, pair := range metric.GetLabel() {
				builder.Add(pair.GetName(), pair.GetValue())
			}
			builder.Sort()
			batch = append(batch, builder.Labels())
			values = append(values, value)
		}
	}
	p.store.append(batch, values, ts.UnixMilli())
	return nil
}

// scalarValue reads counters, gauges and untyped samples; histograms and
// summaries are not part of Istio's mTLS metrics.
func scalarValue(kind dto.MetricType, metric *dto.Metric) (float64, bool) {
	switch kind {
	case dto.MetricType_COUNTER:
		return metric.GetCounter().GetValue(), true
	case dto.MetricType_GAUGE:
		return metric.GetGauge().GetValue(), true
	case dto.MetricType_UNTYPED:
		return metric.GetUntyped().GetValue(), true
	default:
		return 0, false
	}
}

// retention is how long the demo keeps samples, as its flags say.
const retention = 2 * time.Hour

// Handler serves the part of Prometheus' HTTP API that meshlock uses:
// instant and range queries (GET or POST /api/v1/query, query_range),
// a label's values (which series the look-back reads), the retention flag
// (/api/v1/status/flags, for reports) and /-/ready.
func (p *Prometheus) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/query", p.handleQuery)
	mux.HandleFunc("/api/v1/query_range", p.handleQueryRange)
	mux.HandleFunc("/api/v1/label/{name}/values", p.handleLabelValues)
	mux.HandleFunc("/api/v1/status/flags", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, queryResult{Status: "success",
			Data: map[string]string{"storage.tsdb.retention.time": model.Duration(retention).String()}})
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "Prometheus Server is Ready.\n")
	})
	return mux
}

// queryResult is Prometheus' response envelope.
type queryResult struct {
	Status    string   `json:"status"`
	Data      any      `json:"data,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

type queryData struct {
	ResultType string `json:"resultType"`
	Result     any    `json:"result"`
}

// readForm takes GET and POST queries, as Prometheus does.
func readForm(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeQueryError(w, http.StatusMethodNotAllowed, "bad_data", "use GET or POST")
		return false
	}
	if err := r.ParseForm(); err != nil {
		writeQueryError(w, http.StatusBadRequest, "bad_data", err.Error())
		return false
	}
	return true
}

func (p *Prometheus) handleQuery(w http.ResponseWriter, r *http.Request) {
	if !readForm(w, r) {
		return
	}
	ts := time.Now()
	if raw := r.Form.Get("time"); raw != "" {
		parsed, err := parseTime(raw)
		if err != nil {
			writeQueryError(w, http.StatusBadRequest, "bad_data", fmt.Sprintf("invalid parameter \"time\": %v", err))
			return
		}
		ts = parsed
	}
	ctx := r.Context()
	if raw := r.Form.Get("timeout"); raw != "" {
		timeout, err := model.ParseDuration(raw)
		if err != nil {
			writeQueryError(w, http.StatusBadRequest, "bad_data", fmt.Sprintf("invalid parameter \"timeout\": %v", err))
			return
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(timeout))
		defer cancel()
	}
	query, err := p.engine.NewInstantQuery(ctx, p.store, nil, r.Form.Get("query"), ts)
	if err != nil {
		writeQueryError(w, http.StatusBadRequest, "bad_data", err.Error())
		return
	}
	p.answer(ctx, w, r, query)
}

func (p *Prometheus) handleQueryRange(w http.ResponseWriter, r *http.Request) {
	if !readForm(w, r) {
		return
	}
	var start, end time.Time
	for _, f := range []struct {
		name string
		into *time.Time
	}{{"start", &start}, {"end", &end}} {
		t, err := parseTime(r.Form.Get(f.name))
		if err != nil {
			writeQueryError(w, http.StatusBadRequest, "bad_data", fmt.Sprintf("invalid parameter %q: %v", f.name, err))
			return
		}
		*f.into = t
	}
	step, err := parseStep(r.Form.Get("step"))
	if err != nil || step <= 0 || end.Before(start) {
		writeQueryError(w, http.StatusBadRequest, "bad_data", "invalid parameter \"step\", or end before start")
		return
	}
	// Prometheus' own bound on the number of points of a series.
	if end.Sub(start)/step > 11000 {
		writeQueryError(w, http.StatusBadRequest, "bad_data", "exceeded maximum resolution of 11,000 points per timeseries")
		return
	}
	query, err := p.engine.NewRangeQuery(r.Context(), p.store, nil, r.Form.Get("query"), start, end, step)
	if err != nil {
		writeQueryError(w, http.StatusBadRequest, "bad_data", err.Error())
		return
	}
	p.answer(r.Context(), w, r, query)
}

// handleLabelValues answers a label's values among the series any match[]
// selects (all series without one); the demo keeps two hours, so start
// and end select nothing more.
func (p *Prometheus) handleLabelValues(w http.ResponseWriter, r *http.Request) {
	if !readForm(w, r) {
		return
	}
	selectors := r.Form["match[]"]
	if len(selectors) == 0 {
		selectors = []string{`{__name__=~".+"}`}
	}
	q, err := p.store.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		writeQueryError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	values := []string{}
	for _, selector := range selectors {
		matchers, err := parser.NewParser(parser.Options{}).ParseMetricSelector(selector)
		if err != nil {
			writeQueryError(w, http.StatusBadRequest, "bad_data", err.Error())
			return
		}
		found, _, err := q.LabelValues(r.Context(), r.PathValue("name"), nil, matchers...)
		if err != nil {
			writeQueryError(w, http.StatusUnprocessableEntity, "execution", err.Error())
			return
		}
		for _, v := range found {
			if !slices.Contains(values, v) {
				values = append(values, v)
			}
		}
	}
	slices.Sort(values)
	writeJSON(w, http.StatusOK, queryResult{Status: "success", Data: values})
}

// parseStep accepts seconds (with a fraction) or a PromQL duration.
func parseStep(raw string) (time.Duration, error) {
	if seconds, err := strconv.ParseFloat(raw, 64); err == nil {
		return time.Duration(seconds * float64(time.Second)), nil
	}
	d, err := model.ParseDuration(raw)
	return time.Duration(d), err
}

// answer runs a query and writes Prometheus' envelope.
func (p *Prometheus) answer(ctx context.Context, w http.ResponseWriter, r *http.Request, query promql.Query) {
	defer query.Close()
	result := query.Exec(ctx)
	if result.Err != nil {
		writeQueryError(w, http.StatusUnprocessableEntity, "execution", result.Err.Error())
		return
	}
	warnings, _ := result.Warnings.AsStrings(r.Form.Get("query"), 10, 10)
	writeJSON(w, http.StatusOK, queryResult{
		Status:   "success",
		Data:     queryData{ResultType: string(result.Value.Type()), Result: result.Value},
		Warnings: warnings,
	})
}

// parseTime accepts what Prometheus accepts: Unix seconds (with a
// fraction) or RFC 3339.
func parseTime(raw string) (time.Time, error) {
	if seconds, err := strconv.ParseFloat(raw, 64); err == nil {
		whole, frac := math.Modf(seconds)
		return time.Unix(int64(whole), int64(frac*1e9)).UTC(), nil
	}
	return time.Parse(time.RFC3339Nano, raw)
}

func writeQueryError(w http.ResponseWriter, status int, errorType, message string) {
	writeJSON(w, status, queryResult{Status: "error", ErrorType: errorType, Error: message})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
