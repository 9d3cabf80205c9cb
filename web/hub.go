// The live stream's hub: options, trusted origins, the cap on viewers, metrics, and publishing
// every snapshot to the open WebSocket viewers without blocking.

package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/live"
)

// HubOptions configures the live stream (GET /api/stream).
type HubOptions struct {
	// Registerer receives meshlock_stream_clients (gauge: open sockets) and
	// meshlock_stream_dropped_total (counter: viewers disconnected for being too slow). Required.
	Registerer prometheus.Registerer
	// Logger receives connects, disconnects and drops. Default slog.Default().
	Logger *slog.Logger
	// BufferSize is the number of snapshots queued per viewer before it
	// counts as too slow; default 8.
	BufferSize int
	// WriteTimeout bounds every write to a socket; default 10s.
	WriteTimeout time.Duration
	// MaxViewers caps the open sockets; one more is refused with 503.
	// Default 1000.
	MaxViewers int
	// MaxViewersPerParty caps the open sockets of one party (the reviewed
	// user in token mode, else the source address), so that no one party
	// can hold every slot; one more is refused with 429. Default 20.
	MaxViewersPerParty int
	// PingInterval is how often each viewer is pinged; one that has not
	// answered within WriteTimeout (it does not read its socket) is dropped
	// as too slow, so that sockets nobody reads cannot hold slots. Default
	// WriteTimeout.
	PingInterval time.Duration
	// RecheckInterval is how often each viewer's token is checked again
	// (token mode), besides at every published snapshot; a viewer whose token
	// stopped passing is closed with 4001. Default 1s; the binary uses half
	// the refresh interval, so with the review cache's TTL of the same it
	// closes within one refresh.
	RecheckInterval time.Duration
	// TrustedOrigins are extra origins (scheme://host[:port], from --trusted-origins) whose pages may open the
	// socket cross-origin; same-origin is always allowed, any other cross-site Origin is refused (403).
	TrustedOrigins []string
}

// Default HubOptions.
const (
	defaultStreamBuffer       = 8
	defaultStreamWriteTimeout = 10 * time.Second
	defaultMaxViewers         = 1000
	defaultMaxViewersPerParty = 20
	defaultRecheckInterval    = time.Second
)

// Hub fans every published snapshot out to the open stream sockets. Each
// viewer has its own goroutine and a bounded queue; a viewer whose queue is
// full when a snapshot arrives is disconnected instead of slowing anyone.
type Hub struct {
	opts HubOptions
	// trusted holds the normalised TrustedOrigins ("scheme://host[:port]").
	trusted map[string]bool
	accept  *websocket.AcceptOptions

	clients prometheus.Gauge
	dropped prometheus.Counter

	// base is the parent of every write; Shutdown cancels it when its
	// context ends before the viewers have said goodbye.
	base       context.Context
	cancelBase context.CancelFunc

	// feed fans each refresh out, one view computed and encoded per
	// distinct view (namespace filter and rights), not per viewer.
	feed *live.Feed

	mu       sync.Mutex
	latest   graph.Snapshot // the last published, for a new viewer's rights
	have     bool
	slots    int            // sockets reserved or open, at most MaxViewers
	byParty  map[string]int // the same, per party, at most MaxViewersPerParty
	closing  bool           // Shutdown was called: no new viewers
	shutdown chan struct{}  // closed by Shutdown
	wg       sync.WaitGroup
}

// NewHub registers the stream metrics.
func NewHub(opts HubOptions) (*Hub, error) {
	if opts.Registerer == nil {
		return nil, errors.New("web: HubOptions.Registerer is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	switch {
	case opts.BufferSize < 0:
		return nil, errors.New("web: HubOptions.BufferSize must not be negative")
	case opts.BufferSize == 0:
		opts.BufferSize = defaultStreamBuffer
	}
	switch {
	case opts.WriteTimeout < 0:
		return nil, errors.New("web: HubOptions.WriteTimeout must not be negative")
	case opts.WriteTimeout == 0:
		opts.WriteTimeout = defaultStreamWriteTimeout
	}
	if opts.MaxViewers < 0 || opts.MaxViewersPerParty < 0 || opts.RecheckInterval < 0 || opts.PingInterval < 0 {
		return nil, errors.New("web: HubOptions.MaxViewers, MaxViewersPerParty, RecheckInterval and PingInterval must not be negative")
	}
	if opts.MaxViewers == 0 {
		opts.MaxViewers = defaultMaxViewers
	}
	if opts.MaxViewersPerParty == 0 {
		opts.MaxViewersPerParty = defaultMaxViewersPerParty
	}
	if opts.PingInterval == 0 {
		opts.PingInterval = opts.WriteTimeout
	}
	if opts.RecheckInterval == 0 {
		opts.RecheckInterval = defaultRecheckInterval
	}
	trusted := make(map[string]bool, len(opts.TrustedOrigins))
	for _, origin := range opts.TrustedOrigins {
		normal, err := normalizeOrigin(origin)
		if err != nil {
			return nil, fmt.Errorf("web: trusted origin: %w", err)
		}
		trusted[normal] = true
	}
	opts.TrustedOrigins = append([]string(nil), opts.TrustedOrigins...)

	h := &Hub{
		opts:    opts,
		trusted: trusted,
		accept:  &websocket.AcceptOptions{OriginPatterns: originPatterns(trusted)},
		clients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meshlock_stream_clients",
			Help: "Open live-stream sockets (GET /api/stream).",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meshlock_stream_dropped_total",
			Help: "Live-stream viewers disconnected for being too slow to keep up.",
		}),
		shutdown: make(chan struct{}),
		byParty:  map[string]int{},
	}
	feed, err := live.NewFeed(live.FeedOptions{BufferSize: opts.BufferSize, OnDrop: func(n int) {
		h.dropped.Add(float64(n))
		h.opts.Logger.Info("stream viewers too slow to keep up; disconnecting them", "viewers", n, "buffer", h.opts.BufferSize)
	}})
	if err != nil {
		return nil, err
	}
	h.feed = feed
	h.base, h.cancelBase = context.WithCancel(context.Background())
	for _, c := range []prometheus.Collector{h.clients, h.dropped} {
		if err := opts.Registerer.Register(c); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// normalizeOrigin checks that origin is scheme://host[:port] and returns it
// lower-cased, without a default port, as browsers send it in Origin.
func normalizeOrigin(origin string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(origin))
	if err != nil {
		return "", fmt.Errorf("%q is not a URL: %w", origin, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q is not an origin of the form http(s)://host[:port]", origin)
	}
	if strings.ContainsAny(u.Host, `*?\`) {
		return "", fmt.Errorf("%q: wildcards are not supported; list each origin", origin)
	}
	host := strings.ToLower(u.Host)
	switch {
	case u.Scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	case u.Scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	}
	return u.Scheme + "://" + host, nil
}

// originPatterns are the trusted origins as websocket.AcceptOptions wants
// them: "scheme://host[:port]" patterns (matched against the Origin's scheme
// and host) with path.Match's special characters escaped. ServeHTTP checks
// the same rule first (originAllowed) to answer a refusal as JSON.
func originPatterns(trusted map[string]bool) []string {
	escape := strings.NewReplacer(`[`, `\[`, `]`, `\]`)
	out := make([]string, 0, len(trusted))
	for origin := range trusted {
		out = append(out, escape.Replace(origin))
	}
	slices.Sort(out)
	return out
}

// Publish hands s to every viewer; it never blocks on one. It is called once
// per refresh by the refresh loop (live.Loop.Subscribe). s is shared by the
// viewers and must not be modified afterwards.
func (h *Hub) Publish(s graph.Snapshot) {
	h.mu.Lock()
	h.latest, h.have = s, true
	h.mu.Unlock()
	h.feed.Publish(s)
}

// reserve takes one of the MaxViewers slots before the upgrade, so that
// the cap holds however many handshakes run at once.
func (h *Hub) reserve(party string) (full, partyFull bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.slots >= h.opts.MaxViewers {
		return true, false
	}
	if h.byParty[party] >= h.opts.MaxViewersPerParty {
		return false, true
	}
	h.slots++
	h.byParty[party]++
	return false, false
}

// release gives back a party's slot whose viewer never registered or has ended.
func (h *Hub) release(party string) {
	h.mu.Lock()
	h.slots--
	if h.byParty[party]--; h.byParty[party] <= 0 {
		delete(h.byParty, party)
	}
	h.mu.Unlock()
}

// register counts an open socket; it fails once Shutdown was called.
func (h *Hub) register() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.wg.Add(1)
	h.clients.Inc()
	return true
}

// unregister forgets a socket whose goroutine is ending.
func (h *Hub) unregister(v *live.Viewer, party string) {
	if v != nil {
		h.feed.Leave(v)
	}
	h.release(party)
	h.clients.Dec()
	h.wg.Done()
}

// dropSlow counts a viewer whose write timed out as too slow, unless the
// feed dropped it already.
func (h *Hub) dropSlow(v *live.Viewer) {
	if h.feed.Drop(v) {
		h.dropped.Inc()
		h.opts.Logger.Info("stream viewer too slow: a write timed out; disconnecting it", "timeout", h.opts.WriteTimeout)
	}
}

// Shutdown closes every socket with StatusGoingAway and waits for the
// viewers' goroutines to end. When ctx ends first, it breaks the sockets
// that are still writing and returns ctx's error. New sockets are refused
// from the first call on.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	if !h.closing {
		h.closing = true
		close(h.shutdown)
	}
	h.mu.Unlock()

	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		h.cancelBase()
		return ctx.Err()
	}
}
