// Test that viewers never query Prometheus: however many read, it is asked once per interval.

package web

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/live"
)

// countingSamples counts Prometheus queries.
type countingSamples struct {
	mu    sync.Mutex
	calls int
}

func (c *countingSamples) Fetch(context.Context) ([]graph.Sample, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	return nil, nil
}

type syncedCluster struct{}

func (syncedCluster) Cluster() (graph.Cluster, error) {
	return graph.Cluster{Namespaces: []string{"default"}}, nil
}
func (syncedCluster) Synced() bool { return true }

// Viewers read the last snapshot: however many ask, and whatever the
// cluster does, Prometheus is asked once per interval.
func TestViewersNeverQueryPrometheus(t *testing.T) {
	samples := &countingSamples{}
	changes := make(chan struct{}, 1)
	loop, err := live.NewLoop(live.LoopOptions{
		Sources: []live.SourceConfig{
			{Name: "prometheus", Source: live.SampleFunc(samples.Fetch)},
			{Name: "kubernetes", Source: live.ClusterSource{Reader: syncedCluster{}}, Changes: changes},
		},
		Interval: time.Hour, Window: time.Minute, Registerer: newRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: loop, Stream: http.NotFoundHandler(), Enforcer: &scriptedEnforcer{}, Auth: ServerIdentity{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var updates sync.WaitGroup
	updates.Add(2) // the first refresh, then the rebuild after a cluster change
	count := 0     // touched only by the loop's goroutine
	loop.Subscribe(func(graph.Snapshot) {
		if count++; count <= 2 {
			updates.Done()
		}
	})
	go loop.Run(ctx)
	for range 50 {
		get(t, handler, "/api/graph")
	}
	changes <- struct{}{}
	updates.Wait()
	samples.mu.Lock()
	defer samples.mu.Unlock()
	if samples.calls != 1 {
		t.Errorf("Prometheus was queried %d times for one refresh interval and 50 viewers", samples.calls)
	}
}
