// Tests of the look-back: chunks read newest first with the seed's step, the state loading until
// the whole window is read, one query a minute after, chunks dropped as they leave the window,
// failures retried with what was read kept, and the merge of chunks.

package live

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/testutil"
)

type historyCall struct {
	end       time.Time
	rng, step time.Duration
}

// pastQuerier answers History with one plaintext sighting per call (volume
// 1, seen at the end of the period), failing while fail > 0, and blocking
// each call until the test releases it when gate is set.
type pastQuerier struct {
	mu    sync.Mutex
	calls []historyCall
	fail  int
	gate  chan struct{}
	// noLast answers volumes without last times, as downsampled data can.
	noLast bool
	// seriesOf says which kind of series a period's end was read from;
	// nil: raw.
	seriesOf func(end time.Time) string
}

func (q *pastQuerier) History(ctx context.Context, end time.Time, rng, step time.Duration) ([]graph.HistorySample, string, error) {
	if q.gate != nil {
		select {
		case <-q.gate:
		case <-ctx.Done():
			return nil, "", ctx.Err()
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls = append(q.calls, historyCall{end, rng, step})
	if q.fail > 0 {
		q.fail--
		return nil, "", errors.New("prometheus history query: 503")
	}
	series := graph.SeriesRaw
	if q.seriesOf != nil {
		series = q.seriesOf(end)
	}
	s := reviewsToRatings(graph.SecurityPlaintext).Samples[0]
	s.Rate = 0
	if q.noLast {
		return []graph.HistorySample{{Sample: s, Volume: 1}}, series, nil
	}
	return []graph.HistorySample{{Sample: s, Volume: 1, LastSeen: end}}, series, nil
}

func (q *pastQuerier) recorded() []historyCall {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]historyCall(nil), q.calls...)
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestLookbackRejectsWindowsItCannotRead(t *testing.T) {
	for _, w := range []time.Duration{0, 30 * time.Second, 90 * time.Second} {
		if _, err := NewLookback(LookbackOptions{Querier: &pastQuerier{}, Window: w}); !errors.Is(err, ErrLookbackWindow) {
			t.Errorf("window %s: err = %v, want ErrLookbackWindow", w, err)
		}
	}
	if got := FormatLookback(7 * 24 * time.Hour); got != "7d" {
		t.Errorf("FormatLookback(7 days) = %q, want 7d", got)
	}
	if got := FormatLookback(90 * time.Minute); got != "1h30m" {
		t.Errorf("FormatLookback(90m) = %q, want 1h30m", got)
	}
}

func TestLookbackSeedsNewestFirstThenKeepsCurrent(t *testing.T) {
	day := 24 * time.Hour
	clk := &clock{t: time.Date(2026, 12, 1, 12, 34, 56, 0, time.UTC)}
	q := &pastQuerier{gate: make(chan struct{})}
	l, err := NewLookback(LookbackOptions{Querier: q, Window: 3 * day, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()

	// Before anything is read: loading, no period, no history.
	if h, st := l.Current(); st.State != graph.LookbackLoading || st.From != nil || len(h) != 0 || st.Window != "3d" {
		t.Fatalf("before the seed: %+v with %d samples", st, len(h))
	}
	q.gate <- struct{}{} // today, up to 12:30 (five-minute steps)
	waitFor(t, func() bool { _, st := l.Current(); return st.From != nil })
	_, st := l.Current()
	today := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if st.State != graph.LookbackLoading || !st.From.Equal(today) || !st.To.Equal(today.Add(12*time.Hour+30*time.Minute)) {
		t.Errorf("after today's chunk: %+v, want loading from %s", st, today)
	}
	for range 3 { // the three days before, whole
		q.gate <- struct{}{}
	}
	waitFor(t, func() bool { _, st := l.Current(); return st.State == graph.LookbackReady })
	h, st := l.Current()
	if !st.From.Equal(today.Add(-3 * day)) {
		t.Errorf("ready from %s, want %s (the day holding now-3d)", st.From, today.Add(-3*day))
	}
	if len(h) != 1 || h[0].Volume != 4 || !h[0].LastSeen.Equal(*st.To) {
		t.Errorf("merged history = %+v, want one series of volume 4 seen at %s", h, st.To)
	}
	want := []historyCall{
		{today.Add(12*time.Hour + 30*time.Minute), 12*time.Hour + 30*time.Minute, 5 * time.Minute},
		{today, day, 5 * time.Minute},
		{today.Add(-day), day, 5 * time.Minute},
		{today.Add(-2 * day), day, 5 * time.Minute},
	}
	if got := q.recorded(); !equalCalls(got, want) {
		t.Errorf("seed queries\n got %v\nwant %v", got, want)
	}

	// Then one query for the minutes since the seed's end (its first keep
	// runs at once), one step a minute.
	q.gate <- struct{}{}
	waitFor(t, func() bool { return len(q.recorded()) == 5 })
	if got := q.recorded()[4]; got != (historyCall{today.Add(12*time.Hour + 34*time.Minute), 4 * time.Minute, time.Minute}) {
		t.Errorf("first keep query = %v", got)
	}
	cancel()
	<-done

	// A day later the oldest chunk has left the window.
	clk.add(day)
	q.gate = nil
	l.keep(context.Background())
	_, st = l.Current()
	if !st.From.Equal(today.Add(-2 * day)) {
		t.Errorf("a day on, from = %s, want %s", st.From, today.Add(-2*day))
	}
}

func TestLookbackRetriesAndKeepsWhatItRead(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	q := &pastQuerier{fail: 2}
	l, err := NewLookback(LookbackOptions{Querier: q, Window: 10 * time.Minute, Now: clk.now, RetryAfter: time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Run(ctx)
	waitFor(t, func() bool { _, st := l.Current(); return st.State == graph.LookbackReady })
	h, st := l.Current()
	if st.Error != "" || len(h) != 1 {
		t.Errorf("after the retries: %+v, %d samples; want ready, no error, the history", st, len(h))
	}
	calls := q.recorded()
	// A 10-minute look-back at 12:00 is one ten-minute chunk read with
	// one-minute steps, 11:50–12:00, asked three times.
	if len(calls) < 3 || calls[0] != calls[2] || calls[2].rng != 10*time.Minute || calls[2].step != time.Minute {
		t.Errorf("queries = %v", calls)
	}
	if from := time.Date(2026, 12, 1, 11, 50, 0, 0, time.UTC); !st.From.Equal(from) {
		t.Errorf("from = %s, want %s", st.From, from)
	}
}

func equalCalls(a, b []historyCall) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].end.Equal(b[i].end) || a[i].rng != b[i].rng || a[i].step != b[i].step {
			return false
		}
	}
	return true
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testutil.HangBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", testutil.HangBound)
		}
		time.Sleep(time.Millisecond)
	}
}

// fixedHistory is a HistorySource whose answer the test sets.
type fixedHistory struct {
	mu      sync.Mutex
	samples []graph.HistorySample
	status  graph.Lookback
	changes chan struct{}
}

func (f *fixedHistory) Current() ([]graph.HistorySample, graph.Lookback) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.samples, f.status
}

func (f *fixedHistory) Changes() <-chan struct{} { return f.changes }

func (f *fixedHistory) Observe([]graph.Sample, time.Time) {}

func TestLoopRebuildsWhenTheLookbackChanges(t *testing.T) {
	traffic, cluster := &scripted{part: reviewsToRatings(graph.SecurityMutualTLS)}, &scripted{part: bookinfo()}
	hist := &fixedHistory{status: graph.Lookback{Window: "7d", State: graph.LookbackLoading}, changes: make(chan struct{}, 1)}
	reg := prometheus.NewRegistry()
	l, err := NewLoop(LoopOptions{
		Sources:  []SourceConfig{{Name: "prometheus", Source: traffic}, {Name: "kubernetes", Source: cluster}},
		Interval: time.Hour, Window: time.Minute, Registerer: reg, History: hist,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Snapshot().Lookback; got.State != graph.LookbackLoading {
		t.Errorf("first snapshot's lookback = %+v, want loading", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Run(ctx)
	waitFor(t, func() bool { return !l.Snapshot().Stale })
	if _, ok := findIdle(l.Snapshot()); ok {
		t.Fatal("an idle edge before the look-back knew of one")
	}

	// The look-back reads a plaintext caller of yesterday: the next
	// snapshot has its idle edge, without waiting for the interval.
	past := reviewsToRatings(graph.SecurityPlaintext).Samples[0]
	past.Source.Workload, past.Rate = "backup", 0
	hist.mu.Lock()
	hist.samples = []graph.HistorySample{{Sample: past, Volume: 10, LastSeen: time.Now().Add(-24 * time.Hour)}}
	hist.status.State = graph.LookbackReady
	hist.mu.Unlock()
	hist.changes <- struct{}{}
	waitFor(t, func() bool { _, ok := findIdle(l.Snapshot()); return ok })
	if got := l.Snapshot().Lookback.State; got != graph.LookbackReady {
		t.Errorf("lookback state = %s, want ready", got)
	}
	if traffic.calls != 1 {
		t.Errorf("the look-back's change fetched Prometheus again (%d fetches)", traffic.calls)
	}
}

func findIdle(s graph.Snapshot) (graph.Edge, bool) {
	for _, e := range s.Edges {
		if e.Idle {
			return e, true
		}
	}
	return graph.Edge{}, false
}

func TestLookbackRemembersTheWindowUntilAQueryCoversIt(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 1, 12, 0, 30, 0, time.UTC)}
	q := &pastQuerier{}
	l, err := NewLookback(LookbackOptions{Querier: q, Window: time.Hour, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	// A caller seen live at 12:00:30, gone from the window a minute later:
	// the history holds it although no query reached that far yet.
	caller := reviewsToRatings(graph.SecurityPlaintext).Samples[0]
	caller.Source.Workload = "backup"
	l.Observe([]graph.Sample{caller, {Reporter: graph.ReporterServer, Rate: 0}}, clk.now())
	h, _ := l.Current()
	if len(h) != 1 || h[0].Source.Workload != "backup" || !h[0].LastSeen.Equal(clk.now()) || h[0].Rate != 0 {
		t.Fatalf("history after a live sighting = %+v, want the backup seen at %s", h, clk.now())
	}
	// A query up to 12:01 covers it: the sighting gives way to the query's answer.
	clk.add(time.Minute)
	l.end = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	l.keep(context.Background())
	h, _ = l.Current()
	for _, s := range h {
		if s.Source.Workload == "backup" {
			t.Errorf("the sighting outlived the query that covered it: %+v", h)
		}
	}
}

func TestLookbackGivesAVolumeWithoutTimeItsPeriodsEnd(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	l, err := NewLookback(LookbackOptions{Querier: &pastQuerier{noLast: true}, Window: 10 * time.Minute, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.read(context.Background(), l.index(clk.now().Add(-time.Minute)), clk.now().Add(-10*time.Minute), clk.now(), time.Minute, true); err != nil {
		t.Fatal(err)
	}
	h, _ := l.Current()
	if len(h) != 1 || !h[0].LastSeen.Equal(clk.now()) {
		t.Errorf("history = %+v, want the volume seen at the period's end", h)
	}
}

// The state names the kinds of series its days were read from, and
// forgets a kind when the days read from it leave the look-back.
func TestLookbackSaysWhichSeriesItRead(t *testing.T) {
	day := 24 * time.Hour
	clk := &clock{t: time.Date(2026, 12, 1, 12, 34, 56, 0, time.UTC)}
	today := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	// Recorded series from today on, raw before.
	q := &pastQuerier{seriesOf: func(end time.Time) string {
		if end.After(today) {
			return graph.SeriesRecorded
		}
		return graph.SeriesRaw
	}}
	l, err := NewLookback(LookbackOptions{Querier: q, Window: 2 * day, Now: clk.now, Step: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Run(ctx)
	waitFor(t, func() bool { _, st := l.Current(); return st.State == graph.LookbackReady })
	if _, st := l.Current(); !slices.Equal(st.Series, []string{graph.SeriesRaw, graph.SeriesRecorded}) {
		t.Errorf("series after the seed: %v, want raw and recorded", st.Series)
	}
	clk.add(3 * day) // the raw days leave the look-back
	waitFor(t, func() bool { _, st := l.Current(); return slices.Equal(st.Series, []string{graph.SeriesRecorded}) })
}

// callerQuerier answers each period with the callers its start's day
// names: volume 1 each, seen at the period's end.
type callerQuerier struct {
	callers func(start time.Time) []string
}

func (q callerQuerier) History(_ context.Context, end time.Time, rng, _ time.Duration) ([]graph.HistorySample, string, error) {
	var out []graph.HistorySample
	for _, name := range q.callers(end.Add(-rng)) {
		s := reviewsToRatings(graph.SecurityPlaintext).Samples[0]
		s.Rate, s.Source.Workload = 0, name
		out = append(out, graph.HistorySample{Sample: s, Volume: 1, LastSeen: end})
	}
	return out, graph.SeriesRaw, nil
}

func TestLookbackForgetsCallersGoneLongerThanItsWindow(t *testing.T) {
	day := 24 * time.Hour
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clk := &clock{t: start.Add(12 * time.Hour)}
	// The nightly job called three days ago only; web calls every day; a
	// canary starts after the seed (its label set numbered after the
	// nightly job's, so forgetting that one renumbers it).
	q := callerQuerier{callers: func(from time.Time) []string {
		switch {
		case from.Before(start.Add(-2 * day)):
			return []string{"nightly", "web"}
		case !from.Before(start.Add(12 * time.Hour)):
			return []string{"canary", "web"}
		}
		return []string{"web"}
	}}
	l, err := NewLookback(LookbackOptions{Querier: q, Window: 3 * day, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	waitFor(t, func() bool { _, st := l.Current(); return st.State == graph.LookbackReady })
	cancel()
	<-done
	workloads := func() map[string]float64 {
		h, _ := l.Current()
		out := map[string]float64{}
		for _, s := range h {
			out[s.Source.Workload] += s.Volume
		}
		return out
	}
	if got := workloads(); got["nightly"] != 1 || got["web"] != 4 {
		t.Fatalf("seeded: %v, want nightly 1 and web 4", got)
	}
	clk.add(day) // the nightly job's day leaves the window
	l.keep(context.Background())
	if got := workloads(); len(got) != 2 || got["web"] != 4 || got["canary"] != 1 {
		t.Errorf("a day on: %v, want web 4 (three days and today's minutes) and canary 1", got)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.keys) != 2 || len(l.ids) != 2 {
		t.Errorf("the look-back still holds %d label sets (%d ids), want web's and canary's", len(l.keys), len(l.ids))
	}
}
