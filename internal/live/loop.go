// The refresh loop: fetches every source each interval (sooner on a reported change), rebuilds
// the graph from each source's last good part, keeps each source's status and says when it is ready.

package live

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/meshlock/meshlock/internal/graph"
)

// LoopOptions configures the one refresh loop that feeds every viewer.
type LoopOptions struct {
	// Sources are fetched at every Interval, in this order; at least one.
	Sources []SourceConfig
	// Interval between refreshes. Required.
	Interval time.Duration
	// Window is the rate window, reported in the snapshot. Required.
	Window time.Duration
	// Namespaces limits the snapshot; empty shows all.
	Namespaces []string
	// Clusters are the names of the clusters watched when there are
	// several, each with a source of its own (SourceConfig.Cluster); empty
	// for one cluster, whose ids name none.
	Clusters []string
	// History, when set, is the look-back (a *Lookback) merged into every
	// build; nil turns the look-back off.
	History HistorySource
	// Thresholds of the certificate findings (root-cert-expiring,
	// workload-cert-expiring), the same for every build; zero ones take
	// graph's defaults (30 days, 7 days, 6 hours).
	Thresholds graph.CertThresholds
	// Registerer receives meshlock_refresh_duration_seconds,
	// meshlock_refresh_errors_total{source}, the posture's gauges
	// (meshlock_edges, meshlock_mtls_ratio, meshlock_findings) and the
	// certificates' (meshlock_root_cert_expiry_timestamp_seconds,
	// meshlock_workload_cert_expiry_min_timestamp_seconds). Required.
	Registerer prometheus.Registerer
	// Logger receives source failures. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (o *LoopOptions) validate() error {
	if len(o.Sources) == 0 || o.Registerer == nil {
		return errors.New("live: Sources and Registerer are required")
	}
	names := map[string]bool{}
	for _, s := range o.Sources {
		if s.Name == "" || s.Source == nil || names[s.Name] {
			return errors.New("live: every source needs a Source and a name of its own")
		}
		names[s.Name] = true
		if s.Cluster != "" && (!slices.Contains(o.Clusters, s.Cluster) || names["cluster:"+s.Cluster]) {
			return errors.New("live: a source's Cluster must be one of Clusters, each watched by one source")
		}
		names["cluster:"+s.Cluster] = true
	}
	for _, c := range o.Clusters {
		if !names["cluster:"+c] {
			return errors.New("live: cluster " + c + " has no source")
		}
	}
	if len(o.Clusters) == 1 {
		return errors.New("live: Clusters names several clusters, or none")
	}
	if o.Interval <= 0 || o.Window <= 0 {
		return errors.New("live: Interval and Window must be positive")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// HistorySource is the look-back as the loop reads it.
type HistorySource interface {
	// Current is the merged history (not to be modified) and its state.
	Current() ([]graph.HistorySample, graph.Lookback)
	// Observe hands it the samples of each fetch, taken at time at.
	Observe(samples []graph.Sample, at time.Time)
	// Changes tells that Current has something new.
	Changes() <-chan struct{}
}

// lookbackOff is the snapshot's lookback without a HistorySource.
var lookbackOff = graph.Lookback{Window: "0s", State: graph.LookbackOff}

// sourceState is what the loop remembers of one source.
type sourceState struct {
	cfg         SourceConfig
	part        Part // the last good answer
	have        bool // part holds one
	err         error
	lastSuccess time.Time
}

// Loop keeps the current snapshot. A source that fails keeps its last good
// part in the graph, which is marked stale with the reason, and recovers on
// its next good fetch; until every source has answered once, the snapshot
// is the empty graph marked stale.
type Loop struct {
	opts LoopOptions

	mu          sync.RWMutex
	sources     []*sourceState
	snapshot    graph.Snapshot
	subscribers []func(graph.Snapshot)

	duration prometheus.Histogram
	failures *prometheus.CounterVec
}

// NewLoop registers the loop's metrics; Run starts it.
func NewLoop(opts LoopOptions) (*Loop, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	l := &Loop{
		opts: opts,
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "meshlock_refresh_duration_seconds",
			Help:    "Time to fetch every source and build the graph.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meshlock_refresh_errors_total",
			Help: "Fetches of a source that failed, by source (prometheus, kubernetes).",
		}, []string{"source"}),
	}
	for _, cfg := range opts.Sources {
		l.sources = append(l.sources, &sourceState{cfg: cfg, err: errors.New("not fetched yet")})
		// Every series exists from the start, so a rate() over it works before the first failure.
		l.failures.WithLabelValues(cfg.Name)
	}
	l.snapshot = graph.Snapshot{Window: formatWindow(opts.Window), Stale: true, Error: "the first refresh has not finished yet",
		Sources: l.statusLocked(), Lookback: l.lookback(), Posture: graph.ComputePosture(nil),
		Nodes: []graph.Node{}, Edges: []graph.Edge{}, Findings: []graph.Finding{}}
	posture := newSnapshotCollector(l.snapshot, postureMetrics, edgesDesc, ratioDesc, findingsDesc)
	certs := newSnapshotCollector(l.snapshot, certMetrics, rootExpiryDesc, workloadExpiryDesc)
	l.subscribers = append(l.subscribers, posture.update, certs.update)
	for _, c := range []prometheus.Collector{l.duration, l.failures, posture, certs} {
		if err := opts.Registerer.Register(c); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Subscribe calls fn with every new snapshot, in the loop's goroutine: fn
// must not block.
func (l *Loop) Subscribe(fn func(graph.Snapshot)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.subscribers = append(l.subscribers, fn)
}

// changeSettle is how long a source's changes are gathered before a
// rebuild: a rollout changes many pods in a burst, and viewers should get
// one update, not hundreds.
const changeSettle = 200 * time.Millisecond

// Run refreshes at once, then every Interval, and between intervals
// fetches again a source that reports a change, until ctx ends.
func (l *Loop) Run(ctx context.Context) {
	ticker := time.NewTicker(l.opts.Interval)
	defer ticker.Stop()
	l.Refresh(ctx)

	changed := make(chan int, len(l.sources))
	for i, s := range l.sources {
		if s.cfg.Changes == nil {
			continue
		}
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case _, ok := <-s.cfg.Changes:
					if !ok {
						return
					}
					select {
					case changed <- i:
					default: // one pending note per source is enough
					}
				}
			}
		}()
	}
	var history <-chan struct{}
	if l.opts.History != nil {
		history = l.opts.History.Changes()
	}
	pending := map[int]bool{}
	var settle <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			settle, pending = nil, map[int]bool{} // the refresh fetches them anyway
			l.Refresh(ctx)
		case i := <-changed:
			pending[i] = true
			if settle == nil {
				settle = time.After(changeSettle)
			}
		case <-history:
			// A rebuild, no fetch: the sources did not change.
			if settle == nil {
				settle = time.After(changeSettle)
			}
		case <-settle:
			settle = nil
			at := l.opts.Now().UTC()
			for i := range pending {
				l.fetch(ctx, i, at)
			}
			pending = map[int]bool{}
			l.rebuild()
		}
	}
}

// Refresh fetches every source once, side by side, and rebuilds the
// graph: a cluster whose API server does not answer holds back no other
// source (its probe waits up to its timeout).
func (l *Loop) Refresh(ctx context.Context) {
	start := time.Now()
	defer func() { l.duration.Observe(time.Since(start).Seconds()) }()
	// One time for the refresh, read once: every source's part is of it.
	at := l.opts.Now().UTC()
	var wg sync.WaitGroup
	for i := range l.sources {
		wg.Go(func() { l.fetch(ctx, i, at) })
	}
	wg.Wait()
	l.rebuild()
}

func (l *Loop) fetch(ctx context.Context, i int, at time.Time) {
	s := l.sources[i]
	part, err := s.cfg.Source.Fetch(ctx, at)
	if err != nil {
		l.failures.WithLabelValues(s.cfg.Name).Inc()
		l.opts.Logger.Warn("a source failed; serving its last good data", "source", s.cfg.Name, "error", err)
	}
	if err == nil && l.opts.History != nil && len(part.Samples) > 0 {
		l.opts.History.Observe(part.Samples, at)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s.err = err
	if err == nil {
		s.part, s.have, s.lastSuccess = part, true, at
	}
}

// rebuild makes a snapshot from every source's last good part.
func (l *Loop) rebuild() {
	l.mu.Lock()
	var samples []graph.Sample
	var certs *graph.CertFigures
	complete := true
	var reasons []string
	// With several clusters, one that has never answered does not hold
	// back the others: the graph is built once one of them has.
	clustersAnswered, clustersLive := 0, 0
	staleClusters := map[string]bool{}
	for _, s := range l.sources {
		if s.err != nil {
			reasons = append(reasons, s.cfg.Name+": "+s.err.Error())
		}
		if s.cfg.Cluster != "" {
			if s.err != nil || !s.have {
				staleClusters[s.cfg.Cluster] = true
			} else {
				clustersLive++
			}
			if s.have {
				clustersAnswered++
			}
		}
		if !s.have {
			if s.cfg.Cluster == "" {
				complete = false
			}
			continue
		}
		switch {
		case len(s.part.Samples) == 0:
		case samples == nil:
			// The one source of samples (Prometheus) is used as it is:
			// a copy of a 20,000-edge mesh's samples is some 10 MB.
			// Build only reads them.
			samples = s.part.Samples
		default:
			samples = append(slices.Clip(samples), s.part.Samples...)
		}
		if s.part.Certs != nil {
			certs = mergeCerts(certs, s.part.Certs)
		}
	}
	now := l.opts.Now().UTC()
	var history []graph.HistorySample
	lookback := lookbackOff
	if l.opts.History != nil {
		history, lookback = l.opts.History.Current()
	}
	cluster := l.clusterLocked()
	multi := len(l.opts.Clusters) > 0
	if multi && clustersAnswered == 0 {
		complete = false
	}
	var next graph.Snapshot
	if complete {
		next = graph.Build(samples, cluster, graph.BuildOptions{GeneratedAt: now, Window: formatWindow(l.opts.Window),
			History: history, Lookback: lookback, Certs: certs, Thresholds: l.opts.Thresholds})
		if len(l.opts.Namespaces) > 0 {
			// Filter copies; a graph of every namespace is used as built
			// (a second copy of a 20,000-edge graph is some 7 MB per refresh).
			next = graph.Filter(next, l.opts.Namespaces)
		}
	} else {
		// Keep what was shown (nothing yet, or a graph from before a source
		// was replaced), with a fresh time so viewers see the refresh happened.
		next = l.snapshot
		next.GeneratedAt = now
		next.Lookback = lookback
	}
	next.Sources = l.statusLocked()
	next.Stale, next.Error = len(reasons) > 0 || !complete, strings.Join(reasons, "; ")
	if multi {
		next.Clusters = slices.Sorted(slices.Values(l.opts.Clusters))
		// A cluster whose API is down makes only its own part stale: the
		// view is stale when Prometheus is, or no cluster answers.
		if complete && clustersLive > 0 && !l.otherSourceFailingLocked() {
			next.Stale = false
		}
		if complete && len(staleClusters) > 0 {
			next = markStale(next, staleClusters)
		}
	}
	l.snapshot = next
	subscribers := l.subscribers
	l.mu.Unlock()
	for _, fn := range subscribers {
		fn(next)
	}
}

// otherSourceFailingLocked: a source other than a cluster's has failed or
// not answered yet; l.mu is held.
func (l *Loop) otherSourceFailingLocked() bool {
	for _, s := range l.sources {
		if s.cfg.Cluster == "" && (s.err != nil || !s.have) {
			return true
		}
	}
	return false
}

// markStale marks the nodes of the given clusters, and the edges with an
// end in one, stale. next was built for this refresh alone and is not yet
// shared, so its lists are changed in place, as copies would cost a
// 20,000-edge graph some 7 MB a refresh.
func markStale(next graph.Snapshot, clusters map[string]bool) graph.Snapshot {
	stale := map[string]bool{}
	for i := range next.Nodes {
		if n := &next.Nodes[i]; clusters[n.Cluster] {
			n.Stale = true
			stale[n.ID] = true
		}
	}
	for i := range next.Edges {
		if e := &next.Edges[i]; stale[e.Source] || stale[e.Target] {
			e.Stale = true
		}
	}
	return next
}

// statusLocked is every source's state; l.mu is held.
func (l *Loop) statusLocked() []graph.SourceStatus {
	out := make([]graph.SourceStatus, len(l.sources))
	for i, s := range l.sources {
		out[i] = graph.SourceStatus{Name: s.cfg.Name, Cluster: s.cfg.Cluster, OK: s.err == nil}
		if s.err != nil {
			out[i].Error = s.err.Error()
		}
		if s.have {
			at := s.lastSuccess
			out[i].LastSuccess = &at
		}
	}
	return out
}

// lookback is the look-back's state now.
func (l *Loop) lookback() graph.Lookback {
	if l.opts.History == nil {
		return lookbackOff
	}
	_, lb := l.opts.History.Current()
	return lb
}

// Cluster is what the cluster sources said last (merged), for builds
// outside the loop such as an edge's chart.
func (l *Loop) Cluster() graph.Cluster {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.clusterLocked()
}

// clusterLocked merges what the cluster sources said last; with several
// clusters, each named (graph.Merge), so that ids carry the cluster even
// while some have not answered. l.mu is held.
func (l *Loop) clusterLocked() graph.Cluster {
	var cluster graph.Cluster
	var members []graph.Cluster
	have := false
	for _, s := range l.sources {
		if !s.have || s.part.Cluster == nil {
			continue
		}
		if s.cfg.Cluster != "" {
			c := *s.part.Cluster
			c.Name = s.cfg.Cluster
			members = append(members, c)
			continue
		}
		if have {
			cluster = mergeClusters(cluster, *s.part.Cluster)
		} else {
			cluster, have = *s.part.Cluster, true
		}
	}
	if len(l.opts.Clusters) > 0 {
		return graph.Merge(members...)
	}
	return cluster
}

// mergeClusters adds what a second cluster source says to the first's.
func mergeClusters(a, b graph.Cluster) graph.Cluster {
	// Concat, not append: append could write into the spare capacity of
	// the first source's slices, shared by concurrent callers of Cluster.
	a.Namespaces = slices.Concat(a.Namespaces, b.Namespaces)
	a.Services = slices.Concat(a.Services, b.Services)
	a.Workloads = slices.Concat(a.Workloads, b.Workloads)
	a.Problems = slices.Concat(a.Problems, b.Problems)
	if a.ClientTLS == nil {
		a.ClientTLS = b.ClientTLS
	}
	if a.Authorize == nil {
		a.Authorize = b.Authorize
	}
	a.AccessPolicies = slices.Concat(a.AccessPolicies, b.AccessPolicies)
	a.Roots = slices.Concat(a.Roots, b.Roots)
	if a.TrustDomain == "" {
		a.TrustDomain, a.TrustDomainAliases = b.TrustDomain, b.TrustDomainAliases
	}
	if a.RootNamespace == "" {
		a.RootNamespace = b.RootNamespace
	}
	return a
}

// mergeCerts adds a second source's certificate figures to the first's
// (nil: none yet), the soonest expiry winning, without changing either:
// a part is kept as its source answered.
func mergeCerts(a, b *graph.CertFigures) *graph.CertFigures {
	if a == nil {
		return b
	}
	soonest := func(x, y *time.Time) *time.Time {
		if x == nil || (y != nil && y.Before(*x)) {
			return y
		}
		return x
	}
	out := &graph.CertFigures{
		RootExpiry:  soonest(a.RootExpiry, b.RootExpiry),
		ChainExpiry: soonest(a.ChainExpiry, b.ChainExpiry),
		Proxies:     make(map[graph.PodRef]time.Time, len(a.Proxies)+len(b.Proxies)),
	}
	for _, proxies := range []map[graph.PodRef]time.Time{a.Proxies, b.Proxies} {
		for pod, at := range proxies {
			if prev, ok := out.Proxies[pod]; !ok || at.Before(prev) {
				out.Proxies[pod] = at
			}
		}
	}
	return out
}

// Snapshot is the current graph.
func (l *Loop) Snapshot() graph.Snapshot {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.snapshot
}

// Ready says why the dashboard cannot yet show true data, or nil: every
// source's last fetch must have succeeded, but for clusters of several,
// of which one answering is enough.
func (l *Loop) Ready() error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var clusterErrs []string
	clusterOK := false
	for _, s := range l.sources {
		switch {
		case s.cfg.Cluster != "" && s.err == nil:
			clusterOK = true
		case s.cfg.Cluster != "":
			clusterErrs = append(clusterErrs, s.cfg.Name+": "+s.err.Error())
		case s.err != nil:
			return errors.New(s.cfg.Name + ": " + s.err.Error())
		}
	}
	if len(clusterErrs) > 0 && !clusterOK {
		return errors.New(strings.Join(clusterErrs, "; "))
	}
	return nil
}

// formatWindow writes a duration as PromQL does: 1m, 1m30s.
func formatWindow(d time.Duration) string { return model.Duration(d).String() }
