// The demo's in-memory sample store: the few thousand series of the demo's mesh, appended in
// time order and trimmed to the retention, served to the PromQL engine as a storage.Queryable.
// It replaces Prometheus' TSDB, whose package pulls in Prometheus' configuration and with it
// the cloud SDKs of remote write's authentication.

package demo

import (
	"context"
	"slices"
	"sync"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// memStore keeps float samples per series.
type memStore struct {
	retention int64 // milliseconds

	mu     sync.RWMutex
	series map[string]*memSeries // by the labels' string form
}

type memSeries struct {
	lset    labels.Labels
	samples []point // in time order
}

type point struct {
	t int64
	f float64
}

func newMemStore(retentionMillis int64) *memStore {
	return &memStore{retention: retentionMillis, series: map[string]*memSeries{}}
}

// append adds one scrape's samples, all at t; a sample not after the
// series' last one is dropped, as a TSDB refuses it.
func (m *memStore) append(batch []labels.Labels, values []float64, t int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, lset := range batch {
		key := lset.String()
		s := m.series[key]
		if s == nil {
			s = &memSeries{lset: lset}
			m.series[key] = s
		}
		if n := len(s.samples); n > 0 && s.samples[n-1].t >= t {
			continue
		}
		s.samples = append(s.samples, point{t, values[i]})
	}
	// Trim what left the retention.
	oldest := t - m.retention
	for key, s := range m.series {
		cut, _ := slices.BinarySearchFunc(s.samples, oldest, func(p point, t int64) int {
			switch {
			case p.t < t:
				return -1
			case p.t > t:
				return 1
			}
			return 0
		})
		if cut == len(s.samples) {
			delete(m.series, key)
			continue
		}
		if cut > 0 {
			s.samples = slices.Delete(s.samples, 0, cut)
		}
	}
}

// Querier answers the PromQL engine over [mint, maxt].
func (m *memStore) Querier(mint, maxt int64) (storage.Querier, error) {
	return &memQuerier{store: m, mint: mint, maxt: maxt}, nil
}

type memQuerier struct {
	store      *memStore
	mint, maxt int64
}

func (q *memQuerier) matching(matchers []*labels.Matcher) []*memSeries {
	q.store.mu.RLock()
	defer q.store.mu.RUnlock()
	var out []*memSeries
next:
	for _, s := range q.store.series {
		for _, m := range matchers {
			if !m.Matches(s.lset.Get(m.Name)) {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

func (q *memQuerier) Select(_ context.Context, sortSeries bool, _ *storage.SelectHints, matchers ...*labels.Matcher) storage.SeriesSet {
	found := q.matching(matchers)
	if sortSeries {
		slices.SortFunc(found, func(a, b *memSeries) int { return labels.Compare(a.lset, b.lset) })
	}
	q.store.mu.RLock()
	defer q.store.mu.RUnlock()
	set := &sliceSeriesSet{}
	for _, s := range found {
		var samples []chunks.Sample
		for _, p := range s.samples {
			if p.t >= q.mint && p.t <= q.maxt {
				samples = append(samples, floatSample(p))
			}
		}
		if len(samples) > 0 {
			set.series = append(set.series, storage.NewListSeries(s.lset, samples))
		}
	}
	return set
}

func (q *memQuerier) LabelValues(_ context.Context, name string, _ *storage.LabelHints, matchers ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	var out []string
	for _, s := range q.matching(matchers) {
		if v := s.lset.Get(name); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, nil, nil
}

func (q *memQuerier) LabelNames(_ context.Context, _ *storage.LabelHints, matchers ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	var out []string
	for _, s := range q.matching(matchers) {
		s.lset.Range(func(l labels.Label) {
			if !slices.Contains(out, l.Name) {
				out = append(out, l.Name)
			}
		})
	}
	slices.Sort(out)
	return out, nil, nil
}

func (*memQuerier) Close() error { return nil }

// sliceSeriesSet walks a list of series.
type sliceSeriesSet struct {
	series []storage.Series
	i      int
}

func (s *sliceSeriesSet) Next() bool {
	s.i++
	return s.i <= len(s.series)
}
func (s *sliceSeriesSet) At() storage.Series              { return s.series[s.i-1] }
func (*sliceSeriesSet) Err() error                        { return nil }
func (*sliceSeriesSet) Warnings() annotations.Annotations { return nil }

// floatSample is a point as the storage's list series reads it.
type floatSample point

func (s floatSample) T() int64                    { return s.t }
func (floatSample) ST() int64                     { return 0 }
func (s floatSample) F() float64                  { return s.f }
func (floatSample) H() *histogram.Histogram       { return nil }
func (floatSample) FH() *histogram.FloatHistogram { return nil }
func (floatSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s floatSample) Copy() chunks.Sample         { return s }
