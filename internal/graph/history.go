// The look-back: what Prometheus' history says of each series of labels over the last days
// (volume, last time seen), merged per edge with the live window, so that a caller idle now
// still counts in every judgement about safety.

package graph

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"
)

// Look-back states.
const (
	LookbackOff     = "off"     // --lookback=0: judgements rest on the rate window alone
	LookbackLoading = "loading" // still reading the past: From is how far it got
	LookbackReady   = "ready"   // From..To is known in full
)

// Lookback says how far back the graph's history reaches.
type Lookback struct {
	Window string `json:"window"` // the configured look-back, e.g. "7d"; "0s" when off
	State  string `json:"state"`
	// From and To are the period the history covers so far; nil when off or
	// nothing is loaded yet.
	From *time.Time `json:"from"`
	To   *time.Time `json:"to"`
	// Error is the last failure to read the past, retried by itself.
	Error string `json:"error,omitempty"`
	// Series are the kinds of series the history held now was read from
	// (Series*), sorted; empty until a read succeeds.
	Series []string `json:"series,omitempty"`
}

// Kinds of series the past is read from.
const (
	// SeriesRecorded: meshlock's recording rules (deploy/prometheus/).
	SeriesRecorded = "recorded"
	// SeriesIstioRecorded: Istio's workload-level recording rules
	// (workload:istio_requests_total and the TCP counters).
	SeriesIstioRecorded = "istio-recorded"
	// SeriesRaw: the counters the proxies report.
	SeriesRaw = "raw"
)

// Known reports whether the look-back covers its whole window, so that a
// judgement may claim "never in the look-back".
func (l Lookback) Known() bool { return l.State == LookbackReady }

func lookbackEqual(a, b Lookback) bool {
	return a.Window == b.Window && a.State == b.State && a.Error == b.Error &&
		timePtrEqual(a.From, b.From) && timePtrEqual(a.To, b.To) && slices.Equal(a.Series, b.Series)
}

func timePtrEqual(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// HistorySample is what the look-back knows of one series of labels: the
// labels of a Sample (its Rate unused), the volume in Measure's unit over
// the look-back, and the last time the series was seen to carry traffic.
type HistorySample struct {
	Sample
	Volume float64
	// LastSeen is zero when only a volume is known. A series can be seen
	// with no volume: one born with its first requests already counted.
	LastSeen time.Time
	// FirstSeen is the first time it was seen to carry traffic; zero when
	// not asked for (the look-back needs only the last, the report both).
	FirstSeen time.Time
}

// HistoryMerge adds up what several periods (a look-back's buckets, a
// report's days) know of each series: volumes summed, the last time the
// latest, the first the earliest.
type HistoryMerge struct {
	index map[Sample]int
	out   []HistorySample
}

// Add merges h (its Rate ignored) into the series of its labels.
func (m *HistoryMerge) Add(h HistorySample) {
	h.Rate = 0
	if m.index == nil {
		m.index = map[Sample]int{}
	}
	i, ok := m.index[h.Sample]
	if !ok {
		m.index[h.Sample] = len(m.out)
		m.out = append(m.out, h)
		return
	}
	o := &m.out[i]
	o.Volume += h.Volume
	o.LastSeen = later(o.LastSeen, h.LastSeen)
	o.FirstSeen = earlier(o.FirstSeen, h.FirstSeen)
}

// Sorted is the merged series in one order, so that the sums a build
// makes are the same each time.
func (m *HistoryMerge) Sorted() []HistorySample {
	slices.SortFunc(m.out, func(a, b HistorySample) int { return compareSamples(&a.Sample, &b.Sample) })
	return m.out
}

func compareSamples(a, b *Sample) int {
	return cmp.Or(
		strings.Compare(a.Reporter, b.Reporter), strings.Compare(a.Protocol, b.Protocol), strings.Compare(a.Measure, b.Measure),
		strings.Compare(a.Source.Namespace, b.Source.Namespace), strings.Compare(a.Source.Workload, b.Source.Workload),
		strings.Compare(a.Source.Principal, b.Source.Principal),
		strings.Compare(a.Destination.Namespace, b.Destination.Namespace), strings.Compare(a.Destination.Workload, b.Destination.Workload),
		strings.Compare(a.Destination.Principal, b.Destination.Principal),
		strings.Compare(a.Service.Namespace, b.Service.Namespace), strings.Compare(a.Service.Name, b.Service.Name),
		strings.Compare(a.Security, b.Security), strings.Compare(a.Outcome, b.Outcome))
}

// Units of an edge's history volume.
const (
	VolumeRequests    = "requests"
	VolumeBytes       = "bytes"
	VolumeConnections = "connections"
)

// EdgeHistory is an edge's traffic over the look-back.
type EdgeHistory struct {
	Unit       string  `json:"unit"` // VolumeRequests, VolumeBytes, or VolumeConnections for TCP that moved no bytes
	Volume     float64 `json:"volume"`
	MTLSVolume float64 `json:"mtlsVolume"`
	// LastSeen is the last time the edge carried traffic.
	LastSeen time.Time `json:"lastSeen"`
	// PlaintextLastSeen is the last time it carried traffic not proven
	// mutual TLS; zero (omitted) when it carried none in the look-back.
	PlaintextLastSeen time.Time `json:"plaintextLastSeen,omitzero"`
	// MTLSLastSeen is the last time it carried mutual TLS; zero (omitted)
	// when it carried none.
	MTLSLastSeen time.Time `json:"mtlsLastSeen,omitzero"`
	// FirstSeen and PlaintextFirstSeen are the first times, known only
	// where the history was asked for them (a report); zero (omitted) else.
	FirstSeen          time.Time `json:"firstSeen,omitzero"`
	PlaintextFirstSeen time.Time `json:"plaintextFirstSeen,omitzero"`
}

// histFlow is one measure of an edge's history as both sides reported it.
type histFlow struct {
	destMTLS, destPlain, source        float64
	lastMTLS, lastPlain, lastSource    time.Time
	firstMTLS, firstPlain, firstSource time.Time
	seenMTLS, seenPlain, seenSource    bool
	// wire is what clients that know the wire (ambient's node proxy)
	// reported, by security: it judges an edge no destination reported.
	wire *histFlow
	// refused and refusedMTLS are the volumes of connections the
	// destination's proxy refused by policy, which it also counted among
	// its plaintext or mTLS ones.
	refused, refusedMTLS float64
}

func (f *histFlow) empty() bool { return !f.seenMTLS && !f.seenPlain && !f.seenSource }

// addWire adds a client's report whose security is known (security: a
// Security* value) to the flow's wire part.
func (f *histFlow) addWire(h *HistorySample, security string) {
	if f.wire == nil {
		f.wire = &histFlow{}
	}
	as := *h
	as.Reporter, as.Security = ReporterServer, security
	f.wire.add(&as)
}

func (f *histFlow) add(h *HistorySample) {
	vol := h.Volume
	if !(vol >= 0) || math.IsInf(vol, 1) {
		vol = 0 // NaN, negative or infinite: the sighting counts, not the number
	}
	switch {
	case h.Reporter == ReporterServer && h.Outcome == OutcomeRefused && h.Security == SecurityMutualTLS:
		f.refusedMTLS = addRate(f.refusedMTLS, vol)
	case h.Reporter == ReporterServer && h.Outcome == OutcomeRefused:
		f.refused = addRate(f.refused, vol)
	case h.Reporter == ReporterClient:
		f.source, f.lastSource, f.seenSource = addRate(f.source, vol), later(f.lastSource, h.LastSeen), true
		f.firstSource = earlier(f.firstSource, h.FirstSeen)
	case h.Security == SecurityMutualTLS:
		f.destMTLS, f.lastMTLS, f.seenMTLS = addRate(f.destMTLS, vol), later(f.lastMTLS, h.LastSeen), true
		f.firstMTLS = earlier(f.firstMTLS, h.FirstSeen)
	default:
		f.destPlain, f.lastPlain, f.seenPlain = addRate(f.destPlain, vol), later(f.lastPlain, h.LastSeen), true
		f.firstPlain = earlier(f.firstPlain, h.FirstSeen)
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// earlier is the earlier of two times, a zero time meaning unknown.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// edgeHistory judges an edge's look-back as edgeOf judges its window: the
// destination side proves mTLS, the client side's excess over it (beyond
// SkewTolerance) is not proven, and only a client's report is unknown.
func edgeHistory(t *edgeTraffic) (EdgeHistory, string, float64, bool) {
	if t.hist == nil {
		return EdgeHistory{}, "", 0, false
	}
	f, unit := &t.hist.main, VolumeRequests
	if t.key.protocol == ProtocolTCP {
		unit = VolumeBytes
	}
	if f.empty() {
		f, unit = &t.hist.conns, VolumeConnections
	}
	if f.empty() {
		return EdgeHistory{}, "", 0, false
	}
	h := EdgeHistory{Unit: unit, LastSeen: later(later(f.lastMTLS, f.lastPlain), f.lastSource),
		FirstSeen: earlier(earlier(f.firstMTLS, f.firstPlain), f.firstSource)}
	if f.refused > 0 || f.refusedMTLS > 0 {
		// The refusals are among the connections opened: what is left got in.
		unrefused := *f
		if unrefused.destPlain -= f.refused; f.refused > 0 && unrefused.destPlain <= SkewTolerance*f.refused {
			unrefused.destPlain, unrefused.seenPlain = 0, false
			unrefused.lastPlain, unrefused.firstPlain = time.Time{}, time.Time{}
		}
		if unrefused.destMTLS -= f.refusedMTLS; f.refusedMTLS > 0 && unrefused.destMTLS <= SkewTolerance*f.refusedMTLS {
			unrefused.destMTLS, unrefused.seenMTLS = 0, false
			unrefused.lastMTLS, unrefused.firstMTLS = time.Time{}, time.Time{}
		}
		f = &unrefused
	}
	if !f.seenMTLS && !f.seenPlain && f.wire != nil {
		// No destination reported; clients that know the wire did.
		wire := *f.wire
		wire.source, wire.lastSource, wire.firstSource, wire.seenSource = f.source, f.lastSource, f.firstSource, f.seenSource
		f = &wire
	}
	dest := addRate(f.destMTLS, f.destPlain)
	if !f.seenMTLS && !f.seenPlain {
		h.Volume = f.source
		return h, StatusUnknown, 0, true
	}
	h.Volume, h.MTLSVolume, h.MTLSLastSeen = dest, f.destMTLS, f.lastMTLS
	plain := f.seenPlain
	if f.seenPlain {
		h.PlaintextLastSeen, h.PlaintextFirstSeen = f.lastPlain, f.firstPlain
	}
	if f.source-dest > SkewTolerance*f.source {
		// The client sent more than any sidecar received over the period.
		plain = true
		h.Volume = f.source
		h.PlaintextLastSeen = later(h.PlaintextLastSeen, f.lastSource)
		h.PlaintextFirstSeen = earlier(h.PlaintextFirstSeen, f.firstSource)
	}
	if plain && h.PlaintextLastSeen.IsZero() {
		h.PlaintextLastSeen = h.LastSeen // seen, at a time no report states: the latest is the safe side
	}
	if plain && h.PlaintextFirstSeen.IsZero() {
		h.PlaintextFirstSeen = h.FirstSeen // likewise, the earliest
	}
	share := 1.0
	if h.Volume > 0 {
		share = ratio(h.MTLSVolume, h.Volume)
	}
	switch {
	case !plain:
		return h, StatusLocked, share, true
	case !f.seenMTLS:
		return h, StatusOpen, 0, true
	default:
		return h, StatusMixed, share, true
	}
}

// plaintextSeen reports whether an edge carried traffic not proven mTLS in
// the window or in the look-back.
func plaintextSeen(e *Edge) bool {
	return e.Status == StatusOpen || e.Status == StatusMixed || !e.History.PlaintextLastSeen.IsZero()
}

// LastPlaintext is when the edge last carried traffic not proven mTLS:
// now (the snapshot's time) while it does, else its look-back's last time.
func LastPlaintext(e Edge, now time.Time) time.Time {
	if !e.Idle && (e.Status == StatusOpen || e.Status == StatusMixed) {
		return now
	}
	if !e.History.PlaintextLastSeen.IsZero() {
		return e.History.PlaintextLastSeen
	}
	return e.History.LastSeen
}

// LastSeen is when the edge last carried traffic: now while it does.
func LastSeen(e Edge, now time.Time) time.Time {
	if !e.Idle {
		return now
	}
	return e.History.LastSeen
}

// RangeTarget narrows a range query to an edge's destination: a Service
// by name, else a workload by name.
type RangeTarget struct {
	Service  string
	Workload string
}

// SampleStep is the samples of every series at one step of a range query.
type SampleStep struct {
	T       time.Time
	Samples []Sample
}

// EdgePoint is an edge's traffic at one step of its chart.
type EdgePoint struct {
	T    time.Time `json:"t"`
	Rate float64   `json:"rate"`
	// MTLSRatio is nil where the edge carried nothing or its security is
	// not known.
	MTLSRatio *float64 `json:"mtlsRatio"`
}

// EdgeSeries is the edge's rate and mTLS share at each step, each step
// built as Build builds the live graph, so that chart and graph agree.
func EdgeSeries(steps []SampleStep, cluster Cluster, edgeID string) []EdgePoint {
	out := make([]EdgePoint, 0, len(steps))
	for _, st := range steps {
		p := EdgePoint{T: st.T}
		b := newBuilder(cluster, len(st.Samples))
		for i := range st.Samples {
			b.add(&st.Samples[i])
		}
		for i := range b.traffic {
			t := &b.traffic[i]
			src, dst := b.nodes[t.key.source].node.ID, b.nodes[t.key.target].node.ID
			if EdgeID(src, dst, t.key.protocol) != edgeID {
				continue
			}
			if e, ok := edgeOf(t); ok {
				p.Rate = e.Rate
				if e.Status != StatusUnknown {
					r := e.MTLSRatio
					p.MTLSRatio = &r
				}
			}
		}
		out = append(out, p)
	}
	return out
}
