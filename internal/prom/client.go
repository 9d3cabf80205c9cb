// The Prometheus client: runs the fixed query set concurrently, maps answers to samples, fails the
// whole Fetch (or FetchCerts) when any query fails, and counts queries in
// meshlock_prometheus_queries_total.

package prom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/meshlock/meshlock/internal/graph"
)

// Values of the result label of meshlock_prometheus_queries_total.
const (
	resultSuccess = "success"
	resultError   = "error"
)

// Client runs meshlock's queries against one Prometheus-compatible API. It
// is safe for concurrent use.
type Client struct {
	raw            api.Client   // the endpoints' URLs
	http           *http.Client // the live queries, streamed into decode.go
	maxBytes       int64        // MaxResponseBytes, which also bounds a live answer's series
	api            v1.API
	queries        []querySpec
	window         time.Duration
	queryTimeout   time.Duration
	historyTimeout time.Duration
	series         string // Options.HistorySeries
	logger         *slog.Logger
	queriesTotal   *prometheus.CounterVec
	// The labels by which FetchCerts joins proxies to pods.
	certNamespaceLabel, certPodLabel string
}

// New checks opts and returns a Client. It sends nothing to Prometheus, so
// it succeeds while Prometheus is down; a missing token or CA file fails
// here rather than on every refresh.
func New(opts Options) (*Client, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.BearerTokenFile != "" {
		if _, err := os.ReadFile(opts.BearerTokenFile); err != nil {
			return nil, fmt.Errorf("prometheus bearer token file: %w", err)
		}
	}

	transport, err := newTransport(opts)
	if err != nil {
		return nil, err
	}
	apiClient, err := api.NewClient(api.Config{Address: opts.URL, RoundTripper: transport})
	if err != nil {
		return nil, fmt.Errorf("prometheus client: %w", err)
	}

	specs := querySpecs(opts.Window)
	queriesTotal, err := registerQueriesTotal(opts.Registerer, specs)
	if err != nil {
		return nil, err
	}
	return &Client{
		raw:            apiClient,
		http:           &http.Client{Transport: transport},
		maxBytes:       opts.MaxResponseBytes,
		api:            v1.NewAPI(apiClient),
		queries:        specs,
		window:         opts.Window,
		queryTimeout:   opts.QueryTimeout,
		historyTimeout: opts.HistoryQueryTimeout,
		series:         opts.HistorySeries,
		logger:         opts.Logger,
		queriesTotal:   queriesTotal,

		certNamespaceLabel: opts.CertNamespaceLabel,
		certPodLabel:       opts.CertPodLabel,
	}, nil
}

// newTransport leaves token rereading and CA trust to prometheus/common, as
// Prometheus itself does, and adds the response size cap on top.
func newTransport(opts Options) (http.RoundTripper, error) {
	cfg := config.DefaultHTTPClientConfig
	if opts.BearerTokenFile != "" {
		cfg.Authorization = &config.Authorization{Type: "Bearer", CredentialsFile: opts.BearerTokenFile}
	}
	cfg.TLSConfig.CAFile = opts.CAFile
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("prometheus HTTP client: %w", err)
	}
	rt, err := config.NewRoundTripperFromConfig(cfg, "meshlock_prometheus", config.WithUserAgent("meshlock"))
	if err != nil {
		return nil, fmt.Errorf("prometheus HTTP client: %w", err)
	}
	return &sizeCappedTransport{next: rt, limit: opts.MaxResponseBytes}, nil
}

func registerQueriesTotal(reg prometheus.Registerer, specs []querySpec) (*prometheus.CounterVec, error) {
	counter := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meshlock_prometheus_queries_total",
		Help: "PromQL queries sent to Prometheus, by query and result.",
	}, []string{"query", "result"})
	if err := reg.Register(counter); err != nil {
		// A second Client on the same registry counts into the same series.
		already, ok := errors.AsType[prometheus.AlreadyRegisteredError](err)
		existing, isCounterVec := already.ExistingCollector.(*prometheus.CounterVec)
		if !ok || !isCounterVec {
			return nil, fmt.Errorf("registering meshlock_prometheus_queries_total: %w", err)
		}
		counter = existing
	}
	// Series exist at zero from the start, so rate() and alerts on errors
	// work before the first failure.
	names := []string{QueryHistory, QueryEdgeRange, QueryReport, QuerySeries, QueryCACerts, QueryProxyCerts}
	for _, s := range specs {
		names = append(names, s.Name)
	}
	for _, name := range names {
		counter.WithLabelValues(name, resultSuccess)
		counter.WithLabelValues(name, resultError)
	}
	return counter, nil
}

// Queries returns the queries every Fetch runs. A refresh that fetches
// the certificates too runs CertQueries' two besides: still a fixed number.
func (c *Client) Queries() []Query {
	queries := make([]Query, len(c.queries))
	for i, s := range c.queries {
		queries[i] = s.Query
	}
	return queries
}

// Fetch runs every query once, concurrently, and returns all their
// samples. If any query fails it returns only an error, so the caller keeps
// its last complete snapshot instead of showing half the mesh.
func (c *Client) Fetch(ctx context.Context) ([]graph.Sample, error) {
	results := make([][]graph.Sample, len(c.queries))
	errs := make([]error, len(c.queries))
	var wg sync.WaitGroup
	for i, q := range c.queries {
		wg.Go(func() { results[i], errs[i] = c.run(ctx, q) })
	}
	wg.Wait()
	if err := joinErrors(errs); err != nil {
		return nil, err
	}
	return slices.Concat(results...), nil
}

// queryErrors keeps the message on one line (errors.Join would not) since
// it ends up as the snapshot's error and the /readyz reason.
type queryErrors []error

// Error says a cause shared by several queries once ("prometheus http,
// tcp queries: ..."), so that a dead Prometheus gives one short line.
func (e queryErrors) Error() string {
	var causes []string
	names := map[string][]string{}
	for _, err := range e {
		msg := err.Error()
		name, cause := "", msg
		if rest, ok := strings.CutPrefix(msg, "prometheus "); ok {
			if n, c, ok := strings.Cut(rest, " query: "); ok {
				name, cause = n, c
			}
		}
		if _, seen := names[cause]; !seen {
			causes = append(causes, cause)
		}
		names[cause] = append(names[cause], name)
	}
	messages := make([]string, len(causes))
	for i, cause := range causes {
		switch n := names[cause]; {
		case len(n) == 1 && n[0] == "":
			messages[i] = cause
		case len(n) == 1:
			messages[i] = "prometheus " + n[0] + " query: " + cause
		default:
			messages[i] = "prometheus " + strings.Join(n, ", ") + " queries: " + cause
		}
	}
	return strings.Join(messages, "; ")
}

func (e queryErrors) Unwrap() []error { return e }

func joinErrors(errs []error) error {
	var failed queryErrors
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return failed
}

func (c *Client) run(ctx context.Context, q querySpec) ([]graph.Sample, error) {
	// No evaluation time: the server's own clock avoids gaps from clock
	// skew between meshlock and Prometheus.
	return c.instant(ctx, q)
}

// query runs one instant query at time at (zero: Prometheus' now), counts
// it and logs the warnings its answer carries.
func (c *Client) query(ctx context.Context, name, promql string, at time.Time, timeout time.Duration) (model.Value, error) {
	queryCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	value, warnings, infos, err := c.api.Query(queryCtx, promql, at)
	c.warn(name, warnings, infos)
	if err == nil && value == nil {
		err = errors.New("answer has no result")
	}
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			c.queriesTotal.WithLabelValues(name, resultError).Inc()
			return nil, fmt.Errorf("prometheus %s query: no answer within %s: %w", name, timeout, err)
		}
		return nil, c.failed(name, err)
	}
	c.queriesTotal.WithLabelValues(name, resultSuccess).Inc()
	return value, nil
}

func (c *Client) warn(name string, warnings, infos []string) {
	if len(warnings) > 0 || len(infos) > 0 {
		c.logger.Warn("Prometheus answered with warnings", "query", name, "warnings", warnings, "infos", infos)
	}
}

// failed counts a failed query and names it in the error. A query counted
// as a success whose answer then fails to parse counts as both.
func (c *Client) failed(name string, err error) error {
	c.queriesTotal.WithLabelValues(name, resultError).Inc()
	return fmt.Errorf("prometheus %s query: %w%s", name, err, errorDetail(err))
}

// errorDetail returns what the body of an error answer said, because the API
// client only decodes error bodies of 400 and 422 and keeps the rest (a 503
// "query timed out", a proxy's page) out of its message.
func errorDetail(err error) string {
	apiErr, ok := errors.AsType[*v1.Error](err)
	if !ok || apiErr.Detail == "" {
		return ""
	}
	var answer struct {
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
	}
	detail := apiErr.Detail
	if json.Unmarshal([]byte(detail), &answer) == nil && answer.Error != "" {
		detail = answer.ErrorType + ": " + answer.Error
	}
	// One short line: the body may be a whole HTML page.
	const maxDetail = 200
	detail = strings.Join(strings.Fields(detail), " ")
	if len(detail) > maxDetail {
		detail = strings.ToValidUTF8(detail[:maxDetail], "") + "…"
	}
	return fmt.Sprintf(" (%s)", detail)
}
