// Tests of the loop with several clusters (issue 24): each cluster a source of its own, one
// cluster's API down marks only its part stale, and the loop stays ready.

package live

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshlock/meshlock/internal/graph"
)

// crossTraffic is reviews-v2 in west calling ratings-v1 in west and in east.
func crossTraffic() Part {
	sample := func(dst string) graph.Sample {
		return graph.Sample{Reporter: graph.ReporterServer, Protocol: graph.ProtocolHTTP,
			Source:      graph.Peer{Cluster: "west", Namespace: "default", Workload: "reviews-v2"},
			Destination: graph.Peer{Cluster: dst, Namespace: "default", Workload: "ratings-v1"},
			Service:     graph.ServiceRef{Namespace: "default", Name: "ratings"},
			Security:    graph.SecurityMutualTLS, Rate: 1}
	}
	return Part{Samples: []graph.Sample{sample("west"), sample("east")}}
}

func newClustersLoop(t *testing.T, sources ...SourceConfig) *Loop {
	t.Helper()
	l, err := NewLoop(LoopOptions{Sources: sources, Clusters: []string{"west", "east"}, Interval: time.Hour, Window: time.Minute,
		Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLoopClusterDownMarksOnlyItsPartStale(t *testing.T) {
	ctx := context.Background()
	prom, west, east := &scripted{part: crossTraffic()}, &scripted{part: bookinfo()}, &scripted{part: bookinfo()}
	l := newClustersLoop(t,
		SourceConfig{Name: "prometheus", Source: prom},
		SourceConfig{Name: "kubernetes/west", Source: west, Cluster: "west"},
		SourceConfig{Name: "kubernetes/east", Source: east, Cluster: "east"})
	l.Refresh(ctx)
	s := l.Snapshot()
	if s.Stale || !slices.Equal(s.Clusters, []string{"east", "west"}) || l.Ready() != nil {
		t.Fatalf("all up: stale %v, clusters %v, ready %v", s.Stale, s.Clusters, l.Ready())
	}
	cross := "west/default/reviews->east/default/ratings:http"
	if edgeStatus(s, cross) != graph.StatusLocked {
		t.Fatalf("edges = %+v", s.Edges)
	}

	east.set(Part{}, errors.New("connection refused"))
	l.Refresh(ctx)
	s = l.Snapshot()
	if s.Stale || s.Error == "" || l.Ready() != nil {
		t.Errorf("east down: stale %v, error %q, ready %v; want live, the reason said, ready", s.Stale, s.Error, l.Ready())
	}
	if st := source(s, "kubernetes/east"); st.OK || st.Cluster != "east" || st.LastSuccess == nil {
		t.Errorf("east's source = %+v", st)
	}
	for _, n := range s.Nodes {
		if n.Stale != (n.Cluster == "east") {
			t.Errorf("node %s stale = %v", n.ID, n.Stale)
		}
	}
	for _, e := range s.Edges {
		if want := e.ID == cross; e.Stale != want {
			t.Errorf("edge %s stale = %v, want %v", e.ID, e.Stale, want)
		}
	}
	// East's last good part still decides its nodes.
	if n := findNode(s, "east/default/ratings"); n == nil || !n.InMesh {
		t.Errorf("east's ratings = %+v, want its last good policy", n)
	}

	west.set(Part{}, errors.New("connection refused"))
	l.Refresh(ctx)
	if s = l.Snapshot(); !s.Stale || l.Ready() == nil {
		t.Errorf("both down: stale %v, ready %v; want stale and not ready", s.Stale, l.Ready())
	}

	west.set(bookinfo(), nil)
	east.set(bookinfo(), nil)
	l.Refresh(ctx)
	if s = l.Snapshot(); s.Stale || s.Error != "" || l.Ready() != nil || slices.ContainsFunc(s.Nodes, func(n graph.Node) bool { return n.Stale }) {
		t.Errorf("recovered: stale %v, error %q, ready %v", s.Stale, s.Error, l.Ready())
	}
}

// A cluster that has never answered does not hold the others back; its
// nodes (known from traffic alone) are stale.
func TestLoopBuildsWithoutAClusterThatNeverAnswered(t *testing.T) {
	l := newClustersLoop(t,
		SourceConfig{Name: "prometheus", Source: &scripted{part: crossTraffic()}},
		SourceConfig{Name: "kubernetes/west", Source: &scripted{part: bookinfo()}, Cluster: "west"},
		SourceConfig{Name: "kubernetes/east", Source: &scripted{err: errors.New("no route to host")}, Cluster: "east"})
	l.Refresh(context.Background())
	s := l.Snapshot()
	if s.Stale || len(s.Edges) != 2 {
		t.Fatalf("stale %v, edges %+v", s.Stale, s.Edges)
	}
	if n := findNode(s, "east/default/ratings"); n == nil || !n.Stale {
		t.Errorf("east's ratings = %+v, want stale", n)
	}
}

// Prometheus down is the whole view stale, whatever the clusters say.
func TestLoopClustersPrometheusDownIsStale(t *testing.T) {
	prom := &scripted{part: crossTraffic()}
	l := newClustersLoop(t,
		SourceConfig{Name: "prometheus", Source: prom},
		SourceConfig{Name: "kubernetes/west", Source: &scripted{part: bookinfo()}, Cluster: "west"},
		SourceConfig{Name: "kubernetes/east", Source: &scripted{part: bookinfo()}, Cluster: "east"})
	l.Refresh(context.Background())
	prom.set(Part{}, errors.New("connection refused"))
	l.Refresh(context.Background())
	if s := l.Snapshot(); !s.Stale || l.Ready() == nil {
		t.Errorf("stale %v, ready %v", s.Stale, l.Ready())
	}
}

func TestNewLoopRejectsBadClusters(t *testing.T) {
	src := func(name, cluster string) SourceConfig {
		return SourceConfig{Name: name, Source: &scripted{}, Cluster: cluster}
	}
	for name, opts := range map[string]LoopOptions{
		"a cluster without a source": {Sources: []SourceConfig{src("p", ""), src("k/a", "a")}, Clusters: []string{"a", "b"}},
		"a source of no cluster":     {Sources: []SourceConfig{src("k/a", "a"), src("k/c", "c")}, Clusters: []string{"a"}},
		"two sources of one cluster": {Sources: []SourceConfig{src("k/a", "a"), src("k/a2", "a"), src("k/b", "b")}, Clusters: []string{"a", "b"}},
		"one cluster named":          {Sources: []SourceConfig{src("k/a", "a")}, Clusters: []string{"a"}},
	} {
		opts.Interval, opts.Window, opts.Registerer = time.Second, time.Minute, prometheus.NewRegistry()
		if _, err := NewLoop(opts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func findNode(s graph.Snapshot, id string) *graph.Node {
	for i := range s.Nodes {
		if s.Nodes[i].ID == id {
			return &s.Nodes[i]
		}
	}
	return nil
}

// unreachableReader has synced caches whose API server does not answer.
type unreachableReader struct{ err error }

func (unreachableReader) Cluster() (graph.Cluster, error)   { return *bookinfo().Cluster, nil }
func (unreachableReader) Synced() bool                      { return true }
func (u unreachableReader) Reachable(context.Context) error { return u.err }

// Synced caches keep answering while their API server is down: the source
// asks the server, and fails while it does not answer.
func TestClusterSourceFailsWhileItsAPIServerDoesNotAnswer(t *testing.T) {
	down := errors.New("the API server does not answer: connection refused")
	if _, err := (ClusterSource{Reader: unreachableReader{err: down}}).Fetch(context.Background(), time.Now()); !errors.Is(err, down) {
		t.Errorf("Fetch = %v, want %v", err, down)
	}
	part, err := ClusterSource{Reader: unreachableReader{}}.Fetch(context.Background(), time.Now())
	if err != nil || part.Cluster == nil {
		t.Errorf("a reachable server: %v, %+v", err, part)
	}
}

// handshake is a source that answers only once its partner has started
// fetching: fetched one after the other, the two would wait for ever.
type handshake struct {
	mine, theirs chan struct{}
	part         Part
}

func (h handshake) Fetch(ctx context.Context, _ time.Time) (Part, error) {
	close(h.mine)
	select {
	case <-h.theirs:
		return h.part, nil
	case <-ctx.Done():
		return Part{}, ctx.Err()
	}
}

// A refresh fetches its sources side by side: a cluster whose API server
// is slow to answer holds back neither Prometheus nor another cluster.
func TestRefreshFetchesSourcesSideBySide(t *testing.T) {
	a, b := make(chan struct{}), make(chan struct{})
	l := newClustersLoop(t,
		SourceConfig{Name: "prometheus", Source: &scripted{part: crossTraffic()}},
		SourceConfig{Name: "kubernetes/west", Source: handshake{mine: a, theirs: b, part: bookinfo()}, Cluster: "west"},
		SourceConfig{Name: "kubernetes/east", Source: handshake{mine: b, theirs: a, part: bookinfo()}, Cluster: "east"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l.Refresh(ctx)
	if s := l.Snapshot(); s.Stale || l.Ready() != nil {
		t.Errorf("stale %v (%s), ready %v: a source waited for the other", s.Stale, s.Error, l.Ready())
	}
}
