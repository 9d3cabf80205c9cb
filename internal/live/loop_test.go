// Tests of the refresh loop: a failing source keeps its last good part, sources fail apart, the first
// snapshot waits for every source, a burst of changes rebuilds once, and bad options are rejected.

package live

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshlock/meshlock/internal/graph"
	meshtest "github.com/meshlock/meshlock/internal/testutil"
)

// scripted is a source whose answers the test sets.
type scripted struct {
	mu    sync.Mutex
	part  Part
	err   error
	calls int
}

func (s *scripted) Fetch(context.Context, time.Time) (Part, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.part, s.err
}

func (s *scripted) set(part Part, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.part, s.err = part, err
}

func reviewsToRatings(security string) Part {
	return Part{Samples: []graph.Sample{{
		Reporter: graph.ReporterServer, Protocol: graph.ProtocolHTTP,
		Source:      graph.Peer{Namespace: "default", Workload: "reviews-v2"},
		Destination: graph.Peer{Namespace: "default", Workload: "ratings-v1"},
		Service:     graph.ServiceRef{Namespace: "default", Name: "ratings"},
		Security:    security, Rate: 1,
	}}}
}

func bookinfo() Part {
	return Part{Cluster: &graph.Cluster{
		Namespaces: []string{"default"},
		Services: []graph.Service{
			{Namespace: "default", Name: "ratings", Workloads: []string{"ratings-v1"}, InMesh: true, PeerAuthentication: "UNSET"},
			{Namespace: "default", Name: "reviews", Workloads: []string{"reviews-v2"}, InMesh: true, PeerAuthentication: "UNSET"},
		},
		Workloads: []graph.Workload{
			{Namespace: "default", Name: "ratings-v1", DataPlane: graph.DataPlaneSidecar},
			{Namespace: "default", Name: "reviews-v2", DataPlane: graph.DataPlaneSidecar},
		},
	}}
}

func newTestLoop(t *testing.T, sources ...SourceConfig) *Loop {
	t.Helper()
	clock := time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC)
	reg := prometheus.NewRegistry()
	l, err := NewLoop(LoopOptions{
		Sources: sources, Interval: time.Hour, Window: time.Minute, Registerer: reg,
		Now: func() time.Time { clock = clock.Add(time.Second); return clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
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

func source(s graph.Snapshot, name string) graph.SourceStatus {
	for _, x := range s.Sources {
		if x.Name == name {
			return x
		}
	}
	return graph.SourceStatus{Name: "absent"}
}

func TestLoopServesTheLastGoodPartOfAFailingSource(t *testing.T) {
	prom := &scripted{part: reviewsToRatings(graph.SecurityPlaintext)}
	kube := &scripted{part: bookinfo()}
	l := newTestLoop(t, SourceConfig{Name: "prometheus", Source: prom}, SourceConfig{Name: "kubernetes", Source: kube})

	if l.Ready() == nil || !l.Snapshot().Stale || len(l.Snapshot().Sources) != 2 {
		t.Fatalf("before the first refresh: ready %v, snapshot %+v", l.Ready(), l.Snapshot())
	}
	l.Refresh(context.Background())
	first := l.Snapshot()
	if first.Stale || edgeStatus(first, reviewsRatings) != graph.StatusOpen || l.Ready() != nil {
		t.Fatalf("first refresh: stale=%v status=%s ready=%v", first.Stale, edgeStatus(first, reviewsRatings), l.Ready())
	}
	if p := source(first, "prometheus"); !p.OK || p.LastSuccess == nil || p.Error != "" {
		t.Errorf("prometheus source %+v", p)
	}

	prom.set(Part{}, errors.New("connection refused"))
	l.Refresh(context.Background())
	stale := l.Snapshot()
	if !stale.Stale || stale.Error != "prometheus: connection refused" {
		t.Errorf("after a failed query: stale=%v error=%q", stale.Stale, stale.Error)
	}
	p, k := source(stale, "prometheus"), source(stale, "kubernetes")
	if p.OK || p.Error != "connection refused" || p.LastSuccess == nil || !k.OK {
		t.Errorf("sources %+v %+v: prometheus failing since its last success, kubernetes fine", p, k)
	}
	if edgeStatus(stale, reviewsRatings) != graph.StatusOpen {
		t.Errorf("the last good edge is gone from the stale view")
	}
	if !stale.GeneratedAt.After(first.GeneratedAt) {
		t.Errorf("a stale refresh kept the old time")
	}
	if err := l.Ready(); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Ready while Prometheus fails: %v", err)
	}
	if got := testutil.ToFloat64(l.failures.WithLabelValues("prometheus")); got != 1 {
		t.Errorf("meshlock_refresh_errors_total{source=prometheus} = %v", got)
	}

	prom.set(reviewsToRatings(graph.SecurityMutualTLS), nil)
	l.Refresh(context.Background())
	recovered := l.Snapshot()
	if recovered.Stale || recovered.Error != "" || edgeStatus(recovered, reviewsRatings) != graph.StatusLocked {
		t.Errorf("no recovery: stale=%v error=%q status=%s", recovered.Stale, recovered.Error, edgeStatus(recovered, reviewsRatings))
	}
}

// Each source fails on its own: Kubernetes down keeps its last cluster in
// the graph while fresh samples still come in.
func TestLoopSourcesFailApart(t *testing.T) {
	prom := &scripted{part: reviewsToRatings(graph.SecurityPlaintext)}
	kube := &scripted{part: bookinfo()}
	l := newTestLoop(t, SourceConfig{Name: "prometheus", Source: prom}, SourceConfig{Name: "kubernetes", Source: kube})
	l.Refresh(context.Background())

	kube.set(Part{}, errors.New("the server is currently unable to handle the request"))
	prom.set(reviewsToRatings(graph.SecurityMutualTLS), nil)
	l.Refresh(context.Background())
	s := l.Snapshot()
	if !s.Stale || !strings.HasPrefix(s.Error, "kubernetes: ") || edgeStatus(s, reviewsRatings) != graph.StatusLocked {
		t.Errorf("stale=%v error=%q status=%s: want stale for kubernetes, with the new samples", s.Stale, s.Error, edgeStatus(s, reviewsRatings))
	}
	if k := source(s, "kubernetes"); k.OK || k.LastSuccess == nil {
		t.Errorf("kubernetes source %+v", k)
	}
	if p := source(s, "prometheus"); !p.OK {
		t.Errorf("prometheus source %+v", p)
	}
}

func TestLoopWaitsForEverySourceOnce(t *testing.T) {
	prom := &scripted{part: reviewsToRatings(graph.SecurityPlaintext)}
	l := newTestLoop(t, SourceConfig{Name: "prometheus", Source: prom}, SourceConfig{Name: "kubernetes", Source: ClusterSource{Reader: unsynced{}}})
	l.Refresh(context.Background())
	s := l.Snapshot()
	if !s.Stale || len(s.Edges) != 0 || s.Error != "kubernetes: caches are not synced yet" {
		t.Errorf("stale=%v edges=%d error=%q", s.Stale, len(s.Edges), s.Error)
	}
	if k := source(s, "kubernetes"); k.OK || k.LastSuccess != nil {
		t.Errorf("kubernetes source %+v", k)
	}
}

type unsynced struct{}

func (unsynced) Cluster() (graph.Cluster, error) { return graph.Cluster{}, nil }
func (unsynced) Synced() bool                    { return false }

func TestABurstOfChangesFetchesAndRebuildsOnce(t *testing.T) {
	prom := &scripted{part: reviewsToRatings(graph.SecurityPlaintext)}
	kube := &scripted{part: bookinfo()}
	changes := make(chan struct{})
	l := newTestLoop(t, SourceConfig{Name: "prometheus", Source: prom}, SourceConfig{Name: "kubernetes", Source: kube, Changes: changes})
	updates := make(chan graph.Snapshot, 10)
	l.Subscribe(func(s graph.Snapshot) { updates <- s })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Run(ctx)
	<-updates // the first refresh
	for range 5 {
		changes <- struct{}{} // unbuffered: each is taken by the loop
	}
	select {
	case <-updates:
	case <-time.After(meshtest.HangBound):
		t.Fatal("no rebuild after the changes")
	}
	select {
	case <-updates:
		t.Error("a burst of 5 changes rebuilt more than once")
	case <-time.After(3 * changeSettle):
	}
	prom.mu.Lock()
	kube.mu.Lock()
	defer prom.mu.Unlock()
	defer kube.mu.Unlock()
	if prom.calls != 1 || kube.calls != 2 {
		t.Errorf("fetches: prometheus %d (want 1: a change elsewhere asks it nothing), kubernetes %d (want 2)", prom.calls, kube.calls)
	}
}

func TestNewLoopRejectsBadOptions(t *testing.T) {
	src := SourceConfig{Name: "a", Source: &scripted{}}
	for name, opts := range map[string]LoopOptions{
		"no sources":     {Interval: time.Second, Window: time.Minute, Registerer: prometheus.NewRegistry()},
		"duplicate name": {Sources: []SourceConfig{src, src}, Interval: time.Second, Window: time.Minute, Registerer: prometheus.NewRegistry()},
		"no interval":    {Sources: []SourceConfig{src}, Window: time.Minute, Registerer: prometheus.NewRegistry()},
		"no registerer":  {Sources: []SourceConfig{src}, Interval: time.Second, Window: time.Minute},
	} {
		if _, err := NewLoop(opts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
