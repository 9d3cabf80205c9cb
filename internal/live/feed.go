// The feed: fans each published snapshot out to viewers as a snapshot then deltas, computing and
// encoding each distinct view once, dropping slow viewers, and moving viewers between views.

package live

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/meshlock/meshlock/internal/graph"
)

// The stream's messages (the contract's GET /api/stream): a snapshot
// first, then a delta per refresh.
const (
	MessageSnapshot = "snapshot"
	MessageDelta    = "delta"
)

// streamMessage is one message as sent: {"type":"snapshot","graph":…} or
// {"type":"delta","delta":…}.
type streamMessage struct {
	Type  string          `json:"type"`
	Graph *graph.Snapshot `json:"graph,omitempty"`
	Delta *graph.Delta    `json:"delta,omitempty"`
}

// View is what a group of viewers sees: viewers with the same Key share
// one computed view and one encoded message per refresh, so a refresh costs
// a view, a diff and an encoding per distinct view, and a buffered send per
// viewer.
type View struct {
	// Key names the view: equal keys must mean equal Apply.
	Key string
	// Apply makes the view of a published snapshot (a namespace filter,
	// what a user may see); nil shows it whole. It must not keep or modify
	// its argument.
	Apply func(graph.Snapshot) graph.Snapshot
}

// Message is one encoded message for a viewer.
type Message struct {
	Body []byte
	// Published is the snapshot it was made from, for a viewer that must
	// check something about it (its rights) before sending.
	Published *graph.Snapshot
	group     *group
}

// FeedOptions configures a Feed.
type FeedOptions struct {
	// BufferSize is the number of messages queued per viewer before it
	// counts as too slow and is dropped; default 8.
	BufferSize int
	// OnDrop is called (outside the feed's lock) with the number of viewers
	// dropped for being too slow. Optional.
	OnDrop func(n int)
}

// Feed fans published snapshots out to viewers. Publish never blocks on a
// viewer: one whose queue is full is dropped instead of slowing the others.
type Feed struct {
	opts FeedOptions

	mu     sync.Mutex
	latest *graph.Snapshot
	groups map[string]*group
}

// group is the viewers of one view.
type group struct {
	view    View
	prev    graph.Snapshot // what its viewers hold, once have
	have    bool
	first   []byte // prev encoded as a snapshot message, for joiners; nil until asked
	viewers map[*Viewer]struct{}
}

// Viewer is one subscriber of the feed.
type Viewer struct {
	queue chan Message
	gone  chan struct{}
	group *group // guarded by the feed's mu
}

// NewFeed makes an empty feed.
func NewFeed(opts FeedOptions) (*Feed, error) {
	switch {
	case opts.BufferSize < 0:
		return nil, errors.New("live: FeedOptions.BufferSize must not be negative")
	case opts.BufferSize == 0:
		opts.BufferSize = 8
	}
	return &Feed{opts: opts, groups: map[string]*group{}}, nil
}

// Messages are the viewer's messages, oldest first.
func (v *Viewer) Messages() <-chan Message { return v.queue }

// Gone is closed when the feed dropped the viewer for being too slow.
func (v *Viewer) Gone() <-chan struct{} { return v.gone }

// Publish hands s to every group, computing, diffing and encoding each
// view once. s is shared and must not be modified afterwards.
func (f *Feed) Publish(s graph.Snapshot) {
	dropped := 0
	f.mu.Lock()
	f.latest = &s
	for _, g := range f.groups {
		next := g.apply(s)
		var msg streamMessage
		if g.have {
			d := graph.Diff(g.prev, next)
			msg = streamMessage{Type: MessageDelta, Delta: &d}
		} else {
			msg = streamMessage{Type: MessageSnapshot, Graph: &next}
		}
		body, err := json.Marshal(msg)
		if err != nil {
			// A snapshot that cannot be encoded (it never happens: no NaN
			// reaches the graph) must not reach viewers as a broken delta.
			continue
		}
		g.prev, g.have, g.first = next, true, nil
		m := Message{Body: body, Published: &s, group: g}
		for v := range g.viewers {
			select {
			case v.queue <- m:
			default:
				f.dropLocked(v)
				dropped++
			}
		}
	}
	f.mu.Unlock()
	if dropped > 0 && f.opts.OnDrop != nil {
		f.opts.OnDrop(dropped)
	}
}

// Join adds a viewer of view; it gets the view's snapshot at once when
// something was published, then a delta per refresh.
func (f *Feed) Join(view View) *Viewer {
	v := &Viewer{queue: make(chan Message, f.opts.BufferSize), gone: make(chan struct{})}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.joinLocked(v, view)
	return v
}

// Move makes v a viewer of another view (its user's rights changed), with
// the new view's snapshot next; messages of the old view still queued are
// no longer Current.
func (f *Feed) Move(v *Viewer, view View) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v.group == nil {
		return // dropped
	}
	if v.group.view.Key == view.Key {
		return
	}
	f.leaveLocked(v)
	f.joinLocked(v, view)
}

// Current reports whether m belongs to v's present view.
func (f *Feed) Current(v *Viewer, m Message) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return m.group == v.group
}

// Leave removes a viewer.
func (f *Feed) Leave(v *Viewer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v.group != nil {
		f.leaveLocked(v)
	}
}

// Drop removes a viewer as too slow (its write timed out) and closes Gone;
// false when it was gone already.
func (f *Feed) Drop(v *Viewer) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v.group == nil {
		return false
	}
	f.dropLocked(v)
	return true
}

// Views is the number of distinct views viewers hold.
func (f *Feed) Views() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.groups)
}

func (f *Feed) joinLocked(v *Viewer, view View) {
	g := f.groups[view.Key]
	if g == nil {
		g = &group{view: view, viewers: map[*Viewer]struct{}{}}
		if f.latest != nil {
			g.prev, g.have = g.apply(*f.latest), true
		}
		f.groups[view.Key] = g
	}
	g.viewers[v] = struct{}{}
	v.group = g
	if !g.have {
		return // the first Publish sends the snapshot
	}
	if g.first == nil {
		body, err := json.Marshal(streamMessage{Type: MessageSnapshot, Graph: &g.prev})
		if err != nil {
			return
		}
		g.first = body
	}
	m := Message{Body: g.first, Published: f.latest, group: g}
	select {
	case v.queue <- m:
	default:
		// Only a viewer moved with a full queue: too slow already.
		f.dropLocked(v)
	}
}

func (f *Feed) leaveLocked(v *Viewer) {
	g := v.group
	delete(g.viewers, v)
	if len(g.viewers) == 0 {
		delete(f.groups, g.view.Key)
	}
	v.group = nil
}

func (f *Feed) dropLocked(v *Viewer) {
	f.leaveLocked(v)
	close(v.gone)
}

func (g *group) apply(s graph.Snapshot) graph.Snapshot {
	if g.view.Apply == nil {
		return s
	}
	return g.view.Apply(s)
}

// ViewKey is a view's key from its parts: the namespaces selected and, for
// a user who may not see everything, the namespaces they may see.
func ViewKey(selected []string, all bool, visible map[string]bool) string {
	sel := slices.Clone(selected)
	slices.Sort(sel)
	key := "ns=" + strings.Join(slices.Compact(sel), ",")
	if all {
		return key + "|see=*"
	}
	seen := make([]string, 0, len(visible))
	for ns, ok := range visible {
		if ok {
			seen = append(seen, ns)
		}
	}
	slices.Sort(seen)
	return key + "|see=" + strings.Join(seen, ",")
}
