// The Mode interface every kind of change plugs into the one planner and writer, and the modes known.

package enforce

import (
	"context"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/k8s"
)

// Mode is one kind of change to the mesh: what it asks of a request, the
// objects it plans, and whom it would cut. The Enforcer plans, dry-runs,
// applies, records and undoes every mode alike; a mode only says what to
// write.
type Mode interface {
	// Name is the request's mode, as the API spells it.
	Name() string
	// validate checks what this mode asks of a request beyond the rules
	// shared by every mode (Request.Validate): scopes it refuses, options.
	validate(req Request) error
	// plan reads the cluster's objects (and the graph, for a mode that
	// needs it) and answers one step per object to create or patch (or
	// leave unchanged), conflicts included.
	plan(ctx context.Context, e *Enforcer, c k8s.Clients, req Request) (planned, error)
	// warnings read from the cluster where the change will not have the
	// effect one may expect, though nothing stops it.
	warnings(ctx context.Context, e *Enforcer, c k8s.Clients, req Request) ([]string, error)
	// preview answers, from the graph a person may see, the callers the
	// change would cut and what the graph says it will not do. plan is the
	// Enforcer's answer to the request (a mode may have judged the callers
	// there, against the cluster's objects).
	preview(s graph.Snapshot, req Request, plan Result) ([]Break, []string)
	// effect words what the change enforces, for Events: "ISTIO_MUTUAL mTLS".
	effect() string
}

// modes are the modes known, in the order error messages list them.
var modes = []Mode{destinationRuleMode{}, peerAuthenticationMode{}, authorizationMode{}}

// modeOf is the mode named name, nil if none.
func modeOf(name string) Mode {
	for _, m := range modes {
		if m.Name() == name {
			return m
		}
	}
	return nil
}

// modeNames lists the modes as an error message does: "a, b or c".
func modeNames() string {
	out := ""
	for i, m := range modes {
		switch {
		case i == 0:
		case i == len(modes)-1:
			out += " or "
		default:
			out += ", "
		}
		out += m.Name()
	}
	return out
}

// planned is a mode's plan: its steps, and what mode authorization judged
// the callers with (nil for the other modes).
type planned struct {
	steps []planStep
	authz *authzPlan
}
