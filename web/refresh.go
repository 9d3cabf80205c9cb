package web

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/meshlock/meshlock/internal/graph"
)

// SampleSource answers how much traffic each edge carried (internal/prom).
type SampleSource interface {
	Fetch(ctx context.Context) ([]graph.Sample, error)
}

// ClusterSource answers what Kubernetes and Istio say (internal/k8s).
type ClusterSource interface {
	Cluster() (graph.Cluster, error)
	Synced() bool
	Changes() <-chan struct{}
}

// RefresherOptions configures the one refresh loop that feeds every viewer.
type RefresherOptions struct {
	// Samples is queried once per Interval, whatever the number of viewers. Required.
	Samples SampleSource
	// Cluster is read on every refresh and whenever it reports a change. Required.
	Cluster ClusterSource
	// Interval between Prometheus queries. Required.
	Interval time.Duration
	// Window is the rate window, reported in the snapshot. Required.
	Window time.Duration
	// Namespaces limits the snapshot; empty shows all.
	Namespaces []string
	// Registerer receives the refresh metrics. Required.
	Registerer prometheus.Registerer
	// Logger receives refresh failures. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (o *RefresherOptions) validate() error {
	if o.Samples == nil || o.Cluster == nil || o.Registerer == nil {
		return errors.New("web: Samples, Cluster and Registerer are required")
	}
	if o.Interval <= 0 || o.Window <= 0 {
		return errors.New("web: Interval and Window must be positive")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Refresher keeps the current snapshot. When a refresh fails it keeps
// serving the last good graph marked stale, and recovers on the next
// refresh that succeeds.
type Refresher struct {
	opts RefresherOptions

	mu          sync.RWMutex
	snapshot    graph.Snapshot
	samples     []graph.Sample // last good answer, reused when only the cluster changed
	haveSamples bool
	promErr     error
	subscribers []func(graph.Snapshot)

	duration prometheus.Histogram
	failures *prometheus.CounterVec
}

// NewRefresher registers its metrics; Run starts it.
func NewRefresher(opts RefresherOptions) (*Refresher, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	r := &Refresher{
		opts: opts,
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "meshlock_refresh_duration_seconds",
			Help:    "Time to query Prometheus, read the cluster and build the graph.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshlock_refresh_errors_total",
			Help: "Refreshes that failed, by source (prometheus or kubernetes).",
		}, []string{"source"}),
	}
	r.snapshot = graph.Snapshot{Window: formatWindow(opts.Window), Stale: true, Error: "the first refresh has not finished yet",
		Nodes: []graph.Node{}, Edges: []graph.Edge{}, Findings: []graph.Finding{}}
	r.promErr = errors.New("Prometheus has not been queried yet")
	// Both series exist from the start, so a rate() over them works before the first failure.
	r.failures.WithLabelValues("prometheus")
	r.failures.WithLabelValues("kubernetes")
	for _, c := range []prometheus.Collector{r.duration, r.failures} {
		if err := opts.Registerer.Register(c); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Subscribe calls fn with every new snapshot, in the refresh loop's
// goroutine: fn must not block.
func (r *Refresher) Subscribe(fn func(graph.Snapshot)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subscribers = append(r.subscribers, fn)
}

// Run refreshes at once, then every Interval, and rebuilds between
// intervals when the cluster changes, until ctx ends.
func (r *Refresher) Run(ctx context.Context) {
	ticker := time.NewTicker(r.opts.Interval)
	defer ticker.Stop()
	r.Refresh(ctx)
	// A rollout changes many pods in a burst: changes are gathered for a
	// moment and rebuilt once, so viewers get one update, not hundreds.
	var settle <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			settle = nil // the refresh rebuilds anyway
			r.Refresh(ctx)
		case <-r.opts.Cluster.Changes():
			if settle == nil {
				settle = time.After(changeSettle)
			}
		case <-settle:
			settle = nil
			r.rebuild()
		}
	}
}

// changeSettle is how long cluster changes are gathered before a rebuild.
const changeSettle = 200 * time.Millisecond

// Refresh queries Prometheus once and rebuilds the graph.
func (r *Refresher) Refresh(ctx context.Context) {
	start := time.Now()
	defer func() { r.duration.Observe(time.Since(start).Seconds()) }()
	samples, err := r.opts.Samples.Fetch(ctx)
	r.mu.Lock()
	if err != nil {
		r.failures.WithLabelValues("prometheus").Inc()
		r.opts.Logger.Warn("prometheus query failed; serving the last good graph", "error", err)
		r.promErr = err
	} else {
		r.samples, r.haveSamples, r.promErr = samples, true, nil
	}
	r.mu.Unlock()
	r.rebuild()
}

// rebuild makes a snapshot from the last good samples and the cluster now.
func (r *Refresher) rebuild() {
	cluster, clusterErr := r.opts.Cluster.Cluster()
	if clusterErr == nil && !r.opts.Cluster.Synced() {
		clusterErr = errors.New("kubernetes caches are not synced yet")
	}
	r.mu.Lock()
	var next graph.Snapshot
	switch {
	case clusterErr != nil:
		r.failures.WithLabelValues("kubernetes").Inc()
		next = r.markStale("kubernetes: " + clusterErr.Error())
	case !r.haveSamples:
		next = r.markStale("prometheus: " + r.promErr.Error())
	default:
		next = graph.Build(r.samples, cluster, graph.BuildOptions{GeneratedAt: r.opts.Now().UTC(), Window: formatWindow(r.opts.Window)})
		next = graph.Filter(next, r.opts.Namespaces)
		if r.promErr != nil {
			next.Stale, next.Error = true, "prometheus: "+r.promErr.Error()
		}
	}
	r.snapshot = next
	subscribers := r.subscribers
	r.mu.Unlock()
	for _, fn := range subscribers {
		fn(next)
	}
}

// markStale keeps the last graph, with a fresh time so viewers see the
// refresh happened, marked stale with the reason.
func (r *Refresher) markStale(reason string) graph.Snapshot {
	stale := r.snapshot
	stale.GeneratedAt = r.opts.Now().UTC()
	stale.Stale, stale.Error = true, reason
	return stale
}

// Snapshot is the current graph.
func (r *Refresher) Snapshot() graph.Snapshot {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.snapshot
}

// Ready says why the dashboard cannot yet show true data, or nil.
func (r *Refresher) Ready() error {
	if !r.opts.Cluster.Synced() {
		return errors.New("kubernetes caches are not synced yet")
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.promErr != nil {
		return errors.New("the last Prometheus query failed: " + r.promErr.Error())
	}
	return nil
}

// formatWindow writes a duration as PromQL does: 1m, 1m30s.
func formatWindow(d time.Duration) string { return model.Duration(d).String() }
