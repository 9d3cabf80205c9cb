package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshlock/meshlock/internal/graph"
)

type scriptedSamples struct {
	mu      sync.Mutex
	samples []graph.Sample
	err     error
	calls   int
}

func (s *scriptedSamples) Fetch(context.Context) ([]graph.Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.samples, s.err
}

func (s *scriptedSamples) set(samples []graph.Sample, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples, s.err = samples, err
}

type scriptedCluster struct {
	mu      sync.Mutex
	cluster graph.Cluster
	err     error
	synced  bool
	changes chan struct{}
}

func (c *scriptedCluster) Cluster() (graph.Cluster, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cluster, c.err
}
func (c *scriptedCluster) Synced() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.synced
}
func (c *scriptedCluster) Changes() <-chan struct{} { return c.changes }

func reviewsToRatings(security string) []graph.Sample {
	return []graph.Sample{{
		Reporter: graph.ReporterServer, Protocol: graph.ProtocolHTTP,
		Source:      graph.Peer{Namespace: "default", Workload: "reviews-v2"},
		Destination: graph.Peer{Namespace: "default", Workload: "ratings-v1"},
		Service:     graph.ServiceRef{Namespace: "default", Name: "ratings"},
		Security:    security, Rate: 1,
	}}
}

func bookinfoCluster() graph.Cluster {
	return graph.Cluster{
		Namespaces: []string{"default"},
		Services: []graph.Service{
			{Namespace: "default", Name: "ratings", Workloads: []string{"ratings-v1"}, InMesh: true, PeerAuthentication: "UNSET"},
			{Namespace: "default", Name: "reviews", Workloads: []string{"reviews-v2"}, InMesh: true, PeerAuthentication: "UNSET"},
		},
		Workloads: []graph.Workload{
			{Namespace: "default", Name: "ratings-v1", DataPlane: graph.DataPlaneSidecar},
			{Namespace: "default", Name: "reviews-v2", DataPlane: graph.DataPlaneSidecar},
		},
	}
}

func newTestRefresher(t *testing.T, samples *scriptedSamples, cluster *scriptedCluster) *Refresher {
	t.Helper()
	clock := time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)
	r, err := NewRefresher(RefresherOptions{
		Samples: samples, Cluster: cluster, Interval: time.Hour, Window: time.Minute,
		Registerer: newRegistry(), Now: func() time.Time { clock = clock.Add(time.Second); return clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func edgeStatus(s graph.Snapshot, id string) string {
	for _, e := range s.Edges {
		if e.ID == id {
			return e.Status
		}
	}
	return "absent"
}

const reviewsRatings = "default/reviews->default/ratings:http"

func TestRefresherServesLastGoodGraphWhenPrometheusFails(t *testing.T) {
	samples := &scriptedSamples{samples: reviewsToRatings(graph.SecurityPlaintext)}
	cluster := &scriptedCluster{cluster: bookinfoCluster(), synced: true}
	r := newTestRefresher(t, samples, cluster)

	if r.Ready() == nil || !r.Snapshot().Stale {
		t.Fatal("ready, or not stale, before the first refresh")
	}
	r.Refresh(context.Background())
	first := r.Snapshot()
	if first.Stale || edgeStatus(first, reviewsRatings) != graph.StatusOpen || r.Ready() != nil {
		t.Fatalf("first refresh: stale=%v status=%s ready=%v", first.Stale, edgeStatus(first, reviewsRatings), r.Ready())
	}

	samples.set(nil, errors.New("connection refused"))
	r.Refresh(context.Background())
	stale := r.Snapshot()
	if !stale.Stale || !strings.Contains(stale.Error, "connection refused") {
		t.Errorf("after a failed query: stale=%v error=%q", stale.Stale, stale.Error)
	}
	if edgeStatus(stale, reviewsRatings) != graph.StatusOpen {
		t.Errorf("the last good edge is gone from the stale view")
	}
	if !stale.GeneratedAt.After(first.GeneratedAt) {
		t.Errorf("a stale refresh kept the old time")
	}
	if err := r.Ready(); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Ready while Prometheus fails: %v", err)
	}

	samples.set(reviewsToRatings(graph.SecurityMutualTLS), nil)
	r.Refresh(context.Background())
	recovered := r.Snapshot()
	if recovered.Stale || recovered.Error != "" || edgeStatus(recovered, reviewsRatings) != graph.StatusLocked {
		t.Errorf("no recovery: stale=%v error=%q status=%s", recovered.Stale, recovered.Error, edgeStatus(recovered, reviewsRatings))
	}
}

func TestRefresherMarksKubernetesFailureStale(t *testing.T) {
	samples := &scriptedSamples{samples: reviewsToRatings(graph.SecurityPlaintext)}
	cluster := &scriptedCluster{cluster: bookinfoCluster(), synced: true}
	r := newTestRefresher(t, samples, cluster)
	r.Refresh(context.Background())

	cluster.mu.Lock()
	cluster.err = errors.New("the server is currently unable to handle the request")
	cluster.mu.Unlock()
	r.Refresh(context.Background())
	if s := r.Snapshot(); !s.Stale || !strings.HasPrefix(s.Error, "kubernetes: ") || edgeStatus(s, reviewsRatings) != graph.StatusOpen {
		t.Errorf("stale=%v error=%q status=%s", s.Stale, s.Error, edgeStatus(s, reviewsRatings))
	}
}

func TestViewersNeverQueryPrometheus(t *testing.T) {
	samples := &scriptedSamples{samples: reviewsToRatings(graph.SecurityPlaintext)}
	cluster := &scriptedCluster{cluster: bookinfoCluster(), synced: true, changes: make(chan struct{}, 1)}
	r := newTestRefresher(t, samples, cluster)
	handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: r, Stream: http.NotFoundHandler(), Enforcer: &scriptedEnforcer{}, Auth: ServerIdentity{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var updates sync.WaitGroup
	updates.Add(2) // the first refresh, then the rebuild after a cluster change
	count := 0     // touched only by the refresh loop's goroutine
	r.Subscribe(func(graph.Snapshot) {
		if count++; count <= 2 {
			updates.Done()
		}
	})
	go r.Run(ctx)
	for range 50 {
		get(t, handler, "/api/graph")
	}
	cluster.changes <- struct{}{}
	updates.Wait()
	samples.mu.Lock()
	defer samples.mu.Unlock()
	if samples.calls != 1 {
		t.Errorf("Prometheus was queried %d times for one refresh interval and 50 viewers", samples.calls)
	}
}

func TestABurstOfClusterChangesRebuildsOnce(t *testing.T) {
	samples := &scriptedSamples{samples: reviewsToRatings(graph.SecurityPlaintext)}
	cluster := &scriptedCluster{cluster: bookinfoCluster(), synced: true, changes: make(chan struct{})}
	r := newTestRefresher(t, samples, cluster)
	updates := make(chan graph.Snapshot, 10)
	r.Subscribe(func(s graph.Snapshot) { updates <- s })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	<-updates // the first refresh
	for range 5 {
		cluster.changes <- struct{}{} // unbuffered: each is taken by the loop
	}
	select {
	case <-updates:
	case <-time.After(5 * time.Second):
		t.Fatal("no rebuild after the changes")
	}
	select {
	case <-updates:
		t.Error("a burst of 5 changes rebuilt more than once")
	case <-time.After(3 * changeSettle):
	}
}
