// The preview of a change from the graph: the callers it would cut, live or seen in the look-back,
// as a pure function of the snapshot a person may see and the request.

package enforce

import (
	"time"

	"github.com/meshlock/meshlock/internal/graph"
)

// Break is a caller the change would cut: one live now, or one seen in the
// look-back and idle now.
type Break struct {
	Source   string
	Target   string
	Protocol string
	Rate     float64 // now; 0 when idle
	Reason   string
	// Idle: nothing in the rate window; the look-back saw it.
	Idle bool
	// LastSeen is when it last sent what the change would refuse (the
	// snapshot's time while it still does).
	LastSeen time.Time
	// Volume is its traffic over the look-back, in Unit (History's unit); 0
	// when the look-back knows nothing of it.
	Volume float64
	Unit   string
}

func newBreak(e graph.Edge, lastSeen time.Time, reason string) Break {
	if e.Idle {
		reason += " (idle now, seen in the look-back)"
	}
	return Break{Source: e.Source, Target: e.Target, Protocol: e.Protocol, Rate: e.Rate, Reason: reason,
		Idle: e.Idle, LastSeen: lastSeen, Volume: e.History.Volume, Unit: e.History.Unit}
}

// Preview answers what the graph s says of the request: the callers the
// change would cut (never nil) and warnings of what it will not do. s is
// the graph a person may see (a caller in a namespace hidden to them is
// the node "hidden"); plan is the Enforcer's answer to req, which a mode
// may have judged callers in.
func Preview(s graph.Snapshot, req Request, plan Result) (breaks []Break, warnings []string) {
	m := modeOf(req.Mode)
	if m == nil {
		return []Break{}, nil
	}
	return m.preview(s, req, plan)
}

// servicesInScope are the Service nodes of the request's scope; with
// several clusters, those of the request's cluster only when ownCluster.
func servicesInScope(s graph.Snapshot, req Request, ownCluster bool) []graph.Node {
	var out []graph.Node
	for _, n := range s.Nodes {
		if n.Kind != graph.KindService || (ownCluster && n.Cluster != req.Cluster) {
			continue
		}
		switch req.Scope {
		case ScopeNamespace:
			if n.Namespace != req.Namespace {
				continue
			}
		case ScopeService:
			if n.Namespace != req.Namespace || n.Name != req.Service {
				continue
			}
		}
		out = append(out, n)
	}
	return out
}
