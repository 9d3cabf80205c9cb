// The snapshot header's posture: traffic shares per unit (HTTP requests/s, TCP bytes/s) by edge status.

package graph

// The header's summary, computed once here so that the page, the API and
// any report say the same.

// Units of a Share.
const (
	UnitRequests = "req/s"
	UnitBytes    = "B/s"
)

// ComputePosture sums the edges' traffic per unit: HTTP and gRPC in
// requests/s, TCP in bytes/s. An edge of unknown status counts in
// UnknownRate only, so that no ratio claims more than was proven. A TCP edge
// measured in connections only (no bytes in the window) adds no bytes.
func ComputePosture(edges []Edge) Posture {
	p := Posture{
		HTTP:   Share{Unit: UnitRequests},
		TCP:    Share{Unit: UnitBytes},
		Counts: map[string]int{StatusLocked: 0, StatusMixed: 0, StatusOpen: 0, StatusUnknown: 0},
	}
	for i := range edges {
		e := &edges[i]
		if e.Idle {
			continue // the posture is of the window: history has its own judgements
		}
		p.Counts[e.Status]++
		share := &p.HTTP
		if e.Protocol == ProtocolTCP {
			share = &p.TCP
		}
		if e.Status == StatusUnknown {
			share.UnknownRate = addRate(share.UnknownRate, e.Rate)
			continue
		}
		share.Rate = addRate(share.Rate, e.Rate)
		share.MTLSRate = addRate(share.MTLSRate, e.Rate*e.MTLSRatio)
	}
	for _, s := range []*Share{&p.HTTP, &p.TCP} {
		if s.Rate > 0 {
			r := ratio(s.MTLSRate, s.Rate)
			s.Ratio = &r
		}
	}
	return p
}

// postureEqual compares two postures by value (Ratio by what it points to).
func postureEqual(a, b Posture) bool {
	if !shareEqual(a.HTTP, b.HTTP) || !shareEqual(a.TCP, b.TCP) || len(a.Counts) != len(b.Counts) {
		return false
	}
	for k, v := range a.Counts {
		if w, ok := b.Counts[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func shareEqual(a, b Share) bool {
	if (a.Ratio == nil) != (b.Ratio == nil) || (a.Ratio != nil && *a.Ratio != *b.Ratio) {
		return false
	}
	a.Ratio, b.Ratio = nil, nil
	return a == b
}
