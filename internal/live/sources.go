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

// Fetch reads the caches, refusing until they are synced.
func (c ClusterSource) Fetch(context.Context, time.Time) (Part, error) {
	if !c.Reader.Synced() {
		return Part{}, errNotSynced
	}
	cluster, err := c.Reader.Cluster()
	if err != nil {
		return Part{}, err
	}
	return Part{Cluster: &cluster}, nil
}
