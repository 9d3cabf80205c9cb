// Tests of the feed: Publish never blocks and drops slow viewers, one encoding per view per refresh,
// moves between views, view keys; and a benchmark of publishing a 5,000-edge graph.

package live

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/testutil"
)

func decode(t testing.TB, m Message) streamMessage {
	t.Helper()
	var out streamMessage
	if err := json.Unmarshal(m.Body, &out); err != nil {
		t.Fatalf("message %q: %v", m.Body, err)
	}
	return out
}

func next(t testing.TB, v *Viewer) Message {
	t.Helper()
	select {
	case m := <-v.Messages():
		return m
	case <-time.After(testutil.HangBound):
		t.Fatal("no message")
		return Message{}
	}
}

func snapshotAt(i int) graph.Snapshot {
	return graph.Snapshot{Window: "1m", GeneratedAt: time.Unix(int64(i), 0).UTC(), Nodes: []graph.Node{}, Edges: []graph.Edge{}, Findings: []graph.Finding{}}
}

// A viewer that does not drain its queue is dropped and counted, one that
// drains is kept, and Publish returns at once either way.
func TestPublishNeverBlocks(t *testing.T) {
	dropped := 0
	f, err := NewFeed(FeedOptions{BufferSize: 2, OnDrop: func(n int) { dropped += n }})
	if err != nil {
		t.Fatal(err)
	}
	slow := f.Join(View{Key: "all"})
	fast := f.Join(View{Key: "all"})
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := range 5 {
			f.Publish(snapshotAt(i))
			<-fast.Messages()
		}
	}()
	select {
	case <-published:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish blocked on a full queue")
	}
	select {
	case <-slow.Gone():
	default:
		t.Error("the viewer that never drained was not dropped")
	}
	select {
	case <-fast.Gone():
		t.Error("the viewer that drained was dropped")
	default:
	}
	if dropped != 1 {
		t.Errorf("dropped %d, want 1", dropped)
	}
	if got := len(slow.Messages()); got != 2 {
		t.Errorf("the dropped viewer holds %d messages, want the 2 it took before it was full", got)
	}
	// A viewer that arrives later starts from the latest snapshot.
	late := f.Join(View{Key: "all"})
	if m := decode(t, next(t, late)); m.Type != MessageSnapshot || !m.Graph.GeneratedAt.Equal(time.Unix(4, 0)) {
		t.Errorf("a new viewer starts with %+v, want the latest snapshot", m)
	}
}

// Viewers of one view share one encoded message; each view is applied once
// per refresh; a new view's viewers start from their own snapshot.
func TestViewsAreComputedAndEncodedOncePerRefresh(t *testing.T) {
	f, _ := NewFeed(FeedOptions{})
	applied := map[string]int{}
	view := func(key, ns string) View {
		return View{Key: key, Apply: func(s graph.Snapshot) graph.Snapshot {
			applied[key]++
			return graph.Filter(s, []string{ns})
		}}
	}
	a1, a2 := f.Join(view("a", "default")), f.Join(view("a", "default"))
	b := f.Join(view("b", "shop"))
	if f.Views() != 2 {
		t.Fatalf("%d views, want 2", f.Views())
	}
	s := snapshotAt(1)
	s.Nodes = []graph.Node{{ID: "default/x", Namespace: "default", Name: "x", Kind: graph.KindService}, {ID: "shop/y", Namespace: "shop", Name: "y", Kind: graph.KindService}}
	f.Publish(s)
	ma1, ma2, mb := next(t, a1), next(t, a2), next(t, b)
	if &ma1.Body[0] != &ma2.Body[0] {
		t.Error("two viewers of one view got two encodings")
	}
	if applied["a"] != 1 || applied["b"] != 1 {
		t.Errorf("views applied %v, want each once", applied)
	}
	if m := decode(t, ma1); m.Type != MessageSnapshot || len(m.Graph.Nodes) != 1 || m.Graph.Nodes[0].ID != "default/x" {
		t.Errorf("view a's first message %+v", m)
	}
	if m := decode(t, mb); len(m.Graph.Nodes) != 1 || m.Graph.Nodes[0].ID != "shop/y" {
		t.Errorf("view b's first message %+v", m)
	}
	f.Publish(snapshotAt(2))
	if m := decode(t, next(t, a1)); m.Type != MessageDelta || len(m.Delta.RemovedNodes) != 1 {
		t.Errorf("second message %+v, want the delta removing default/x", m)
	}
	f.Leave(b)
	if f.Views() != 1 {
		t.Errorf("%d views after the only viewer of b left", f.Views())
	}
}

// A viewer whose rights change moves to the other view: what was queued for
// the old one is not Current, and the new view's snapshot comes next.
func TestMoveToAnotherView(t *testing.T) {
	f, _ := NewFeed(FeedOptions{})
	s := snapshotAt(1)
	s.Nodes = []graph.Node{{ID: "default/x", Namespace: "default", Name: "x"}, {ID: "shop/y", Namespace: "shop", Name: "y"}}
	f.Publish(s)
	v := f.Join(View{Key: "shop", Apply: func(s graph.Snapshot) graph.Snapshot { return graph.Filter(s, []string{"shop"}) }})
	old := next(t, v)
	f.Publish(s)
	stale := next(t, v)
	f.Move(v, View{Key: "all"})
	if f.Current(v, stale) || f.Current(v, old) {
		t.Error("messages of the old view are still current")
	}
	m := next(t, v)
	if !f.Current(v, m) {
		t.Fatal("the new view's snapshot is not current")
	}
	if got := decode(t, m); got.Type != MessageSnapshot || len(got.Graph.Nodes) != 2 {
		t.Errorf("after the move: %+v", got)
	}
}

func TestViewKey(t *testing.T) {
	if a, b := ViewKey([]string{"b", "a", "a"}, true, nil), ViewKey([]string{"a", "b"}, true, nil); a != b {
		t.Errorf("same selection, different keys: %q %q", a, b)
	}
	if a, b := ViewKey(nil, false, map[string]bool{"x": true}), ViewKey(nil, true, nil); a == b {
		t.Error("a user who sees x only shares the view of one who sees all")
	}
	if a, b := ViewKey(nil, false, map[string]bool{"x": true, "y": false}), ViewKey(nil, false, map[string]bool{"x": true}); a != b {
		t.Errorf("%q != %q", a, b)
	}
}

// bigSnapshot is a 5,000-edge graph; round changes 1% of its edges.
func bigSnapshot(round int) graph.Snapshot {
	s := graph.Snapshot{Window: "1m", GeneratedAt: time.Unix(int64(round), 0).UTC(), Findings: []graph.Finding{}}
	for i := range 500 {
		s.Nodes = append(s.Nodes, graph.Node{ID: fmt.Sprintf("ns-%d/svc-%d", i%20, i), Namespace: fmt.Sprint("ns-", i%20), Name: fmt.Sprint("svc-", i), Kind: graph.KindService, PeerAuthentication: graph.ModePermissive})
	}
	for k := range 5000 {
		from, to := s.Nodes[k/10], s.Nodes[(k/10+1+k%10*7)%500]
		rate := float64(k%13) + 1
		if k%100 == round%100 {
			rate += float64(round)
		}
		s.Edges = append(s.Edges, graph.Edge{ID: graph.EdgeID(from.ID, to.ID, "http"), Source: from.ID, Target: to.ID, Protocol: "http", Rate: rate, MTLSRatio: 1, Status: graph.StatusLocked})
	}
	slices.SortFunc(s.Nodes, func(a, b graph.Node) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(s.Edges, func(a, b graph.Edge) int { return strings.Compare(a.ID, b.ID) })
	s.Posture = graph.ComputePosture(s.Edges)
	return s
}

// BenchmarkPublish is the cost of one refresh of a 5,000-edge graph with 1%
// of it changed, for 1 and 1,000 viewers of the same view and for 1,000
// viewers of 10 views: the per-viewer cost is a buffered send.
func BenchmarkPublish(b *testing.B) {
	for _, tc := range []struct{ viewers, views int }{{1, 1}, {1000, 1}, {1000, 10}} {
		b.Run(fmt.Sprintf("viewers=%d/views=%d", tc.viewers, tc.views), func(b *testing.B) {
			f, _ := NewFeed(FeedOptions{BufferSize: 4})
			var viewers []*Viewer
			for i := range tc.viewers {
				ns := fmt.Sprint("ns-", i%tc.views)
				viewers = append(viewers, f.Join(View{Key: ns, Apply: func(s graph.Snapshot) graph.Snapshot {
					if tc.views == 1 {
						return s
					}
					return graph.Filter(s, []string{ns})
				}}))
			}
			snaps := []graph.Snapshot{bigSnapshot(0), bigSnapshot(1)}
			f.Publish(snaps[0])
			drain := func() {
				for _, v := range viewers {
					for len(v.Messages()) > 0 {
						<-v.Messages()
					}
				}
			}
			drain()
			round := 0
			b.ReportAllocs()
			for b.Loop() {
				round++
				f.Publish(snaps[round%2])
				b.StopTimer()
				drain()
				b.StartTimer()
			}
		})
	}
}
