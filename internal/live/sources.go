// Package live runs meshlock's pipeline between its sources and its
// viewers: the refresh loop that fetches every source (Prometheus, the
// Kubernetes caches, and later others) and builds one graph, each source
// with a status of its own, and the feed that fans the graph out to the
// stream's viewers, encoding each view once per refresh. It knows no HTTP:
// web adapts it to requests and WebSockets.
package live

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/meshlock/meshlock/internal/graph"
)

// Source is one input of the graph.
type Source interface {
	// Fetch answers what the source holds now; at is the refresh's time.
	Fetch(ctx context.Context, at time.Time) (Part, error)
}

// Part is what one source contributes to a build.
type Part struct {
	Samples []graph.Sample
	Cluster *graph.Cluster // nil: this source says nothing of the cluster
	// Certs are the certificate expiries the source knows (istiod's, each
	// proxy's); nil: this source says nothing of certificates.
	Certs *graph.CertFigures
}

// SourceConfig names a Source in the loop.
type SourceConfig struct {
	// Name is the source's name in the snapshot's sources and in
	// meshlock_refresh_errors_total{source}: "prometheus", "kubernetes".
	Name   string
	Source Source
	// Changes, when set, tells that the source holds something new: it is
	// fetched again and the graph rebuilt (a burst gathered for a moment),
	// without waiting for the next interval.
	Changes <-chan struct{}
	// Cluster names the cluster a Kubernetes source watches when the loop
	// has several (LoopOptions.Clusters): its part is that cluster's, and
	// while it fails only that cluster's nodes and edges are stale.
	Cluster string
}

// SampleFunc adapts a traffic source (internal/prom's Client.Fetch).
type SampleFunc func(ctx context.Context) ([]graph.Sample, error)

// Fetch asks for the samples of the window ending now.
func (f SampleFunc) Fetch(ctx context.Context, _ time.Time) (Part, error) {
	samples, err := f(ctx)
	if err != nil {
		return Part{}, err
	}
	return Part{Samples: samples}, nil
}

// PrometheusSource adapts the Prometheus client: its traffic samples
// (Client.Fetch) and certificate figures (Client.FetchCerts), asked for
// concurrently. Either failing fails the part, as one failing query fails
// Fetch: the loop then keeps the last good part whole, rather than
// dropping the certificates (and their findings) of a refresh whose
// traffic came in.
type PrometheusSource struct {
	Samples SampleFunc // required
	// Certs, when nil, leaves the part's Certs nil.
	Certs func(ctx context.Context) (graph.CertFigures, error)
}

// Fetch asks for the samples of the window ending now and the figures now.
func (p PrometheusSource) Fetch(ctx context.Context, at time.Time) (Part, error) {
	if p.Certs == nil {
		return p.Samples.Fetch(ctx, at)
	}
	var part Part
	var certs graph.CertFigures
	var samplesErr, certsErr error
	var wg sync.WaitGroup
	wg.Go(func() { part, samplesErr = p.Samples.Fetch(ctx, at) })
	wg.Go(func() { certs, certsErr = p.Certs(ctx) })
	wg.Wait()
	switch {
	case samplesErr != nil && certsErr != nil && samplesErr.Error() != certsErr.Error():
		// One line, as the snapshot's error and /readyz's reason are.
		return Part{}, joinedError{samplesErr, certsErr}
	case samplesErr != nil:
		return Part{}, samplesErr
	case certsErr != nil:
		return Part{}, certsErr
	}
	part.Certs = &certs
	return part, nil
}

// joinedError says both causes on one line (errors.Join would use two).
type joinedError [2]error

func (e joinedError) Error() string   { return e[0].Error() + "; " + e[1].Error() }
func (e joinedError) Unwrap() []error { return e[:] }

// ClusterReader is what the Kubernetes caches answer (internal/k8s's Watcher).
type ClusterReader interface {
	Cluster() (graph.Cluster, error)
	Synced() bool
}

// ClusterSource adapts the Kubernetes caches: reading them costs no
// request, so fetching at every refresh is free.
type ClusterSource struct{ Reader ClusterReader }

// errNotSynced is the Kubernetes source's state until its caches are full.
var errNotSynced = errors.New("caches are not synced yet")

// reachable is a ClusterReader that can tell whether its API server
// answers now (internal/k8s's Watcher): its caches cannot.
type reachable interface {
	Reachable(ctx context.Context) error
}

// Fetch reads the caches, refusing until they are synced, and while the
// API server does not answer (the caches then hold its last state, which
// the loop keeps, marked stale).
func (c ClusterSource) Fetch(ctx context.Context, _ time.Time) (Part, error) {
	if !c.Reader.Synced() {
		return Part{}, errNotSynced
	}
	if r, ok := c.Reader.(reachable); ok {
		if err := r.Reachable(ctx); err != nil {
			return Part{}, err
		}
	}
	cluster, err := c.Reader.Cluster()
	if err != nil {
		return Part{}, err
	}
	return Part{Cluster: &cluster}, nil
}
