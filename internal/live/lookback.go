// The look-back: reads the past from Prometheus in chunks (newest first, off the refresh path),
// then keeps it current with one small query a minute, and hands the loop the merged history
// and how far it reaches. Stateless: a restart or another replica reads the same.

package live

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/meshlock/meshlock/internal/graph"
)

// HistoryQuerier reads the past (internal/prom's Client.History): every
// series' volume over (end-rng, end] and its last time seen, to step, and
// which kind of series (graph.Series*) it read them from.
type HistoryQuerier interface {
	History(ctx context.Context, end time.Time, rng, step time.Duration) ([]graph.HistorySample, string, error)
}

// LookbackOptions configures a Lookback.
type LookbackOptions struct {
	Querier HistoryQuerier
	// Window is how far back to look: at least a minute, whole minutes.
	Window time.Duration
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// RetryAfter is the first wait after a failed query, doubling up to
	// five minutes. Default 10s.
	RetryAfter time.Duration
	// Step is how often the history is brought up to date, and the
	// precision of the last times after the seed: a minute, or the rate
	// window when that is shorter and divides a minute (so that the live
	// window always reaches back to the history's end). Default a minute.
	Step time.Duration
}

// Steps of the look-back. A chunk is read with one query whose subquery
// step is seedStep (288 steps a day: last times to five minutes); after the
// seed, one query a minute (Step) keeps it current. The live window's
// sightings cover the minute in between.
const (
	maxChunk  = 24 * time.Hour
	keepStep  = time.Minute // the default Step
	seedSteps = 288
)

// ErrLookbackWindow is a window a Lookback cannot use.
var ErrLookbackWindow = errors.New("the look-back must be a whole number of minutes, at least 1m")

// Lookback holds the history of the last Window.
type Lookback struct {
	opts     LookbackOptions
	chunk    time.Duration // a bucket's length, a multiple of seedStep
	seedStep time.Duration
	changes  chan struct{}

	mu      sync.Mutex
	buckets map[int64]*bucket // by chunk index: start = index × chunk
	// ids and keys hold each label set the buckets know once: a bucket
	// holds their index. Seven day-long buckets of 12,800 label sets held a
	// Sample each in every bucket, twice (map key and record): 45 of the
	// 65 MB in use after the seed (make scale -history-days -profiles).
	ids    map[graph.Sample]int32
	keys   []graph.Sample
	seeded bool
	from   time.Time // start of the oldest bucket read (so far)
	end    time.Time // history is known up to here
	err    error
	merged []graph.HistorySample
	series []string // the kinds of series of the buckets held, sorted
	dirty  bool
	// recent are the live window's sightings after end: until a query
	// covers them, a caller that just went quiet is still in the history.
	recent map[graph.Sample]time.Time
}

type bucket struct {
	recs map[int32]record // by index into Lookback.keys
	// series are the kinds of series its reads came from.
	series map[string]bool
}

// record is what a bucket knows of one label set.
type record struct {
	volume float64
	last   int64 // Unix nanoseconds; 0: no time known
}

// NewLookback checks the options; Run reads the past.
func NewLookback(opts LookbackOptions) (*Lookback, error) {
	if opts.Querier == nil {
		return nil, errors.New("live: a look-back needs a Querier")
	}
	if opts.Window < time.Minute || opts.Window%time.Minute != 0 {
		return nil, ErrLookbackWindow
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = 10 * time.Second
	}
	if opts.Step == 0 {
		opts.Step = keepStep
	}
	if opts.Step < time.Second || opts.Step > keepStep || keepStep%opts.Step != 0 {
		return nil, errors.New("live: a look-back's Step must divide a minute")
	}
	chunk := min(opts.Window, maxChunk)
	step := max(keepStep, (chunk / seedSteps).Truncate(time.Minute))
	chunk = (chunk + step - 1) / step * step
	return &Lookback{opts: opts, chunk: chunk, seedStep: step, changes: make(chan struct{}, 1),
		buckets: map[int64]*bucket{}, ids: map[graph.Sample]int32{}, recent: map[graph.Sample]time.Time{}}, nil
}

// FormatLookback writes a look-back in days where it is whole days (7d,
// not PromQL's 1w), else as PromQL does (36h, 90m).
func FormatLookback(d time.Duration) string {
	const day = 24 * time.Hour
	if d > 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return model.Duration(d).String()
}

// Changes tells that the history holds something new.
func (l *Lookback) Changes() <-chan struct{} { return l.changes }

// Run reads the past, newest chunk first, then keeps the history current
// each minute, until ctx ends. A failed query is retried with backoff; what
// was read stays.
func (l *Lookback) Run(ctx context.Context) {
	seedEnd := l.opts.Now().UTC().Truncate(l.seedStep)
	l.mu.Lock()
	l.end, l.from = seedEnd, seedEnd
	l.mu.Unlock()
	first := l.index(seedEnd.Add(-l.opts.Window))
	for k := l.index(seedEnd.Add(-time.Nanosecond)); k >= first; k-- {
		start := time.Unix(0, 0).UTC().Add(time.Duration(k) * l.chunk)
		end := start.Add(l.chunk)
		if end.After(seedEnd) {
			end = seedEnd
		}
		if !l.retry(ctx, func() error { return l.read(ctx, k, start, end, l.seedStep, true) }) {
			return
		}
	}
	l.mu.Lock()
	l.seeded = true
	l.dirty = true
	l.mu.Unlock()
	l.notify()

	ticker := time.NewTicker(l.opts.Step)
	defer ticker.Stop()
	for {
		l.keep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// keep reads the steps since the history's end, in one query that stays
// inside one chunk.
func (l *Lookback) keep(ctx context.Context) {
	now := l.opts.Now().UTC().Truncate(l.opts.Step)
	l.mu.Lock()
	start := l.end
	l.mu.Unlock()
	if !now.After(start) {
		return
	}
	k := l.index(start)
	end := now
	if boundary := time.Unix(0, 0).UTC().Add(time.Duration(k+1) * l.chunk); end.After(boundary) {
		end = boundary
	}
	if err := l.read(ctx, k, start, end, l.opts.Step, false); err != nil && ctx.Err() == nil {
		l.opts.Logger.Warn("look-back: could not read the last minutes; retrying next minute", "error", err)
	}
}

// retry runs fn until it succeeds or ctx ends (false).
func (l *Lookback) retry(ctx context.Context, fn func() error) bool {
	wait := l.opts.RetryAfter
	for {
		err := fn()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		l.opts.Logger.Warn("look-back: a query of the past failed; retrying", "error", err, "in", wait)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Minute)
	}
}

// read queries (start, end] and adds it to chunk k's bucket.
func (l *Lookback) read(ctx context.Context, k int64, start, end time.Time, step time.Duration, seed bool) error {
	samples, series, err := l.opts.Querier.History(ctx, end, end.Sub(start), step)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = err
	if err != nil {
		l.dirty = true // the error shows
		l.notify()
		return err
	}
	b := l.buckets[k]
	if b == nil {
		b = &bucket{recs: map[int32]record{}, series: map[string]bool{}}
		l.buckets[k] = b
	}
	if series != "" {
		b.series[series] = true
	}
	for i := range samples {
		s := &samples[i]
		id := l.id(s.Sample)
		rec := b.recs[id]
		rec.volume += s.Volume
		last := s.LastSeen
		if last.IsZero() && s.Volume > 0 {
			// A volume without a last time (downsampled data too coarse for
			// the subquery's steps): seen within the period, its end the safe side.
			last = end
		}
		if !last.IsZero() && (rec.last == 0 || last.UnixNano() > rec.last) {
			rec.last = last.UnixNano()
		}
		b.recs[id] = rec
	}
	if seed {
		l.from = start
	} else {
		l.end = end
		l.prune(end)
		// A sighting at t is traffic of the window before t: covered now.
		for key, at := range l.recent {
			if !at.After(end) {
				delete(l.recent, key)
			}
		}
	}
	l.dirty = true
	l.notify()
	return nil
}

// prune drops the chunks that ended before the look-back; l.mu is held.
func (l *Lookback) prune(now time.Time) {
	oldest := l.index(now.Add(-l.opts.Window))
	pruned := false
	for k := range l.buckets {
		if k < oldest {
			delete(l.buckets, k)
			pruned = true
		}
	}
	if pruned {
		l.dropUnheld()
	}
	if start := time.Unix(0, 0).UTC().Add(time.Duration(oldest) * l.chunk); l.seeded && l.from.Before(start) {
		l.from = start
	}
}

// id is the index of a label set in l.keys, added if new; l.mu is held.
func (l *Lookback) id(s graph.Sample) int32 {
	s.Rate = 0
	id, ok := l.ids[s]
	if !ok {
		id = int32(len(l.keys))
		l.ids[s] = id
		l.keys = append(l.keys, s)
	}
	return id
}

// dropUnheld forgets the label sets no bucket holds any more (a caller
// gone for longer than the look-back), renumbering the rest; l.mu is held.
func (l *Lookback) dropUnheld() {
	held := make([]bool, len(l.keys))
	n := 0
	for _, b := range l.buckets {
		for id := range b.recs {
			if !held[id] {
				held[id] = true
				n++
			}
		}
	}
	if n == len(l.keys) {
		return
	}
	renumber := make([]int32, len(l.keys))
	keys := make([]graph.Sample, 0, n)
	ids := make(map[graph.Sample]int32, n)
	for id, key := range l.keys {
		if held[id] {
			renumber[id] = int32(len(keys))
			ids[key] = int32(len(keys))
			keys = append(keys, key)
		}
	}
	for _, b := range l.buckets {
		recs := make(map[int32]record, len(b.recs))
		for id, rec := range b.recs {
			recs[renumber[id]] = rec
		}
		b.recs = recs
	}
	l.ids, l.keys = ids, keys
}

func (l *Lookback) notify() {
	select {
	case l.changes <- struct{}{}:
	default:
	}
}

func (l *Lookback) index(t time.Time) int64 {
	return int64(t.Sub(time.Unix(0, 0)) / l.chunk)
}

// Observe notes the series the live window saw with traffic at time at
// (the loop calls it with every fetch of samples). The look-back's queries
// reach a minute or so behind now; these sightings fill that gap.
func (l *Lookback) Observe(samples []graph.Sample, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range samples {
		if !(s.Rate > 0) {
			continue
		}
		s.Rate = 0
		l.recent[s] = at
	}
}

// Current is the history merged over every chunk, the live window's recent
// sightings after it, and its state. Build adds up samples of one series,
// so the sightings need no merge.
func (l *Lookback) Current() ([]graph.HistorySample, graph.Lookback) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dirty {
		l.merged, l.series = l.mergeLocked()
		l.dirty = false
	}
	history := l.merged
	if len(l.recent) > 0 {
		history = make([]graph.HistorySample, len(l.merged), len(l.merged)+len(l.recent))
		copy(history, l.merged)
		for key, at := range l.recent {
			history = append(history, graph.HistorySample{Sample: key, LastSeen: at})
		}
	}
	status := graph.Lookback{Window: FormatLookback(l.opts.Window), State: graph.LookbackLoading}
	if l.seeded {
		status.State = graph.LookbackReady
	}
	if !l.end.IsZero() && l.from.Before(l.end) {
		from, to := l.from, l.end
		status.From, status.To = &from, &to
	}
	if l.err != nil {
		status.Error = l.err.Error()
	}
	status.Series = l.series
	return history, status
}

func (l *Lookback) mergeLocked() ([]graph.HistorySample, []string) {
	var m graph.HistoryMerge
	kinds := map[string]bool{}
	for _, b := range l.buckets {
		for id, rec := range b.recs {
			h := graph.HistorySample{Sample: l.keys[id], Volume: rec.volume}
			if rec.last != 0 {
				h.LastSeen = time.Unix(0, rec.last).UTC()
			}
			m.Add(h)
		}
		for kind := range b.series {
			kinds[kind] = true
		}
	}
	var series []string
	if len(kinds) > 0 {
		series = slices.Sorted(maps.Keys(kinds))
	}
	return m.Sorted(), series
}
