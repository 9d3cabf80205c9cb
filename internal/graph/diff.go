// Diff and Apply: the Delta between two snapshots (added, changed and removed nodes, edges and
// findings) that the live stream sends instead of whole snapshots.

package graph

import (
	"math"
	"slices"
	"time"
)

// Delta is what changed from one snapshot to the next: the new header, the
// nodes, edges and findings that were added or changed (whole), and the ids
// of those that went away.
type Delta struct {
	GeneratedAt time.Time `json:"generatedAt"`
	Window      string    `json:"window"`
	TrustDomain string    `json:"trustDomain,omitempty"`
	// TrustDomainAliases are always the new ones, whole (omitted when none).
	TrustDomainAliases []string `json:"trustDomainAliases,omitempty"`
	// Clusters are always the new ones, whole (omitted with one cluster).
	Clusters        []string       `json:"clusters,omitempty"`
	Stale           bool           `json:"stale"`
	Error           string         `json:"error"`
	Sources         []SourceStatus `json:"sources"`  // always the new ones, whole
	Lookback        Lookback       `json:"lookback"` // always the new one, whole
	Posture         Posture        `json:"posture"`  // always the new one, whole
	Nodes           []Node         `json:"nodes,omitempty"`
	RemovedNodes    []string       `json:"removedNodes,omitempty"`
	Edges           []Edge         `json:"edges,omitempty"`
	RemovedEdges    []string       `json:"removedEdges,omitempty"`
	Findings        []Finding      `json:"findings,omitempty"`
	RemovedFindings []string       `json:"removedFindings,omitempty"`
	// Identity is the new one, whole; not sent (the page asks /api/identity).
	Identity Identity `json:"-"`

	// headerChanged records that Window, Stale or Error differ from the old
	// snapshot; the header fields themselves always carry the new values.
	headerChanged bool
}

// Empty reports whether nothing but GeneratedAt changed. It is meaningful on
// a Delta that Diff returned (the header comparison is not sent as JSON).
func (d Delta) Empty() bool {
	return !d.headerChanged &&
		len(d.Nodes) == 0 && len(d.RemovedNodes) == 0 &&
		len(d.Edges) == 0 && len(d.RemovedEdges) == 0 &&
		len(d.Findings) == 0 && len(d.RemovedFindings) == 0
}

// Diff is the Delta that turns old into next: Apply(old, Diff(old, next))
// equals next. Both are expected in Build's order with unique ids.
func Diff(old, next Snapshot) Delta {
	d := Delta{
		GeneratedAt:        next.GeneratedAt,
		Window:             next.Window,
		TrustDomain:        next.TrustDomain,
		TrustDomainAliases: next.TrustDomainAliases,
		Clusters:           next.Clusters,
		Stale:              next.Stale,
		Error:              next.Error,
		Sources:            next.Sources,
		Lookback:           next.Lookback,
		Posture:            next.Posture,
		Identity:           next.Identity,
		headerChanged: old.Window != next.Window || old.Stale != next.Stale || old.Error != next.Error || old.TrustDomain != next.TrustDomain || !slices.Equal(old.TrustDomainAliases, next.TrustDomainAliases) || !slices.Equal(old.Clusters, next.Clusters) ||
			!sourcesEqual(old.Sources, next.Sources) || !lookbackEqual(old.Lookback, next.Lookback) ||
			!postureEqual(old.Posture, next.Posture),
	}
	d.Nodes, d.RemovedNodes = diffByID(old.Nodes, next.Nodes, nodeID, nodeEqual)
	d.Edges, d.RemovedEdges = diffByID(old.Edges, next.Edges, edgeID, edgeEqual)
	d.Findings, d.RemovedFindings = diffByID(old.Findings, next.Findings, findingID, findingEqual)
	return d
}

// Apply returns s with d applied, in Build's order. s is not modified.
func Apply(s Snapshot, d Delta) Snapshot {
	out := Snapshot{
		GeneratedAt:        d.GeneratedAt,
		Window:             d.Window,
		TrustDomain:        d.TrustDomain,
		TrustDomainAliases: d.TrustDomainAliases,
		Clusters:           d.Clusters,
		Stale:              d.Stale,
		Error:              d.Error,
		Sources:            d.Sources,
		Lookback:           d.Lookback,
		Posture:            d.Posture,
		Identity:           d.Identity,
	}
	out.Nodes = applyByID(s.Nodes, d.Nodes, d.RemovedNodes, nodeID)
	sortNodes(out.Nodes)
	out.Edges = applyByID(s.Edges, d.Edges, d.RemovedEdges, edgeID)
	sortEdges(out.Edges)
	out.Findings = applyByID(s.Findings, d.Findings, d.RemovedFindings, findingID)
	sortFindings(out.Findings)
	return out
}

func nodeID(n *Node) string       { return n.ID }
func edgeID(e *Edge) string       { return e.ID }
func findingID(f *Finding) string { return f.ID }

// sourcesEqual compares the sources' states; a later lastSuccess alone is
// no change worth a message of its own.
func sourcesEqual(a, b []SourceStatus) bool {
	return slices.EqualFunc(a, b, func(x, y SourceStatus) bool {
		return x.Name == y.Name && x.OK == y.OK && x.Error == y.Error
	})
}

// nodeEqual treats nil and empty lists alike, as their JSON does.
func nodeEqual(a, b *Node) bool {
	return a.ID == b.ID && a.Cluster == b.Cluster && a.Stale == b.Stale && a.Namespace == b.Namespace && a.Name == b.Name && a.Kind == b.Kind &&
		a.InMesh == b.InMesh && a.PeerAuthentication == b.PeerAuthentication &&
		a.DestinationRuleTLS == b.DestinationRuleTLS && a.DataPlane == b.DataPlane &&
		slices.Equal(a.Ports, b.Ports) && slices.Equal(a.CallerTLS, b.CallerTLS) &&
		slices.Equal(a.ExpectedPrincipals, b.ExpectedPrincipals) && slices.Equal(a.ObservedPrincipals, b.ObservedPrincipals) &&
		timeEqual(a.CertExpiry, b.CertExpiry) && slices.Equal(a.AuthorizationPolicies, b.AuthorizationPolicies)
}

// timeEqual compares two optional moments by value.
func timeEqual(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// edgeEqual compares the rates bit for bit: == would call NaN changed on
// every refresh and 0 equal to -0, which JSON spells differently.
func edgeEqual(a, b *Edge) bool {
	x, y := *a, *b
	if math.Float64bits(x.Rate) != math.Float64bits(y.Rate) ||
		math.Float64bits(x.MTLSRatio) != math.Float64bits(y.MTLSRatio) ||
		math.Float64bits(x.TLSFailureRate) != math.Float64bits(y.TLSFailureRate) ||
		math.Float64bits(x.RefusedRate) != math.Float64bits(y.RefusedRate) ||
		math.Float64bits(x.DeniedRate) != math.Float64bits(y.DeniedRate) ||
		!authorizationEqual(x.Authorization, y.Authorization) {
		return false
	}
	x.Rate, x.MTLSRatio, y.Rate, y.MTLSRatio, x.TLSFailureRate, y.TLSFailureRate = 0, 0, 0, 0, 0, 0
	x.RefusedRate, y.RefusedRate, x.DeniedRate, y.DeniedRate = 0, 0, 0, 0
	x.Authorization, y.Authorization = nil, nil
	return x == y
}

// findingEqual treats nil and empty lists alike, as their JSON does.
func findingEqual(a, b *Finding) bool {
	return a.ID == b.ID && a.Kind == b.Kind && a.Severity == b.Severity && a.Message == b.Message &&
		slices.Equal(a.Nodes, b.Nodes) && slices.Equal(a.Edges, b.Edges) && slices.Equal(a.Objects, b.Objects)
}

// diffByID returns the items of next that old lacks or holds differently, in
// next's order, and the sorted ids of old's items that next lacks.
func diffByID[T any](old, next []T, id func(*T) string, equal func(a, b *T) bool) (changed []T, removed []string) {
	oldByID := make(map[string]*T, len(old))
	for i := range old {
		oldByID[id(&old[i])] = &old[i]
	}
	inNext := make(map[string]bool, len(next))
	for i := range next {
		key := id(&next[i])
		inNext[key] = true
		if prev, ok := oldByID[key]; !ok || !equal(prev, &next[i]) {
			changed = append(changed, next[i])
		}
	}
	for i := range old {
		if key := id(&old[i]); !inNext[key] {
			removed = append(removed, key)
		}
	}
	slices.Sort(removed)
	return changed, removed
}

// applyByID drops the removed and replaced items of cur and adds changed;
// the caller sorts. The result is never nil.
func applyByID[T any](cur, changed []T, removed []string, id func(*T) string) []T {
	drop := make(map[string]bool, len(removed)+len(changed))
	for _, key := range removed {
		drop[key] = true
	}
	for i := range changed {
		drop[id(&changed[i])] = true
	}
	out := make([]T, 0, len(cur)+len(changed))
	for i := range cur {
		if !drop[id(&cur[i])] {
			out = append(out, cur[i])
		}
	}
	return append(out, changed...)
}
