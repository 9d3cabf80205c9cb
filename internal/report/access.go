// Each Service's authorization state over the period (issue 25): the AuthorizationPolicies that
// apply to it and what they decide for the callers seen.

package report

import (
	"slices"
	"strings"

	"github.com/meshlock/meshlock/internal/graph"
)

// Access states of a Service.
const (
	// AccessNoPolicy: no AuthorizationPolicy applies; every caller is allowed.
	AccessNoPolicy = "no-policy"
	// AccessAllowsCallers: policies apply and allow every caller seen.
	AccessAllowsCallers = "allows-callers"
	// AccessDeniesCallers: policies deny some caller seen in the period.
	AccessDeniesCallers = "denies-callers"
	// AccessConditional: for some caller it depends on what meshlock
	// cannot see (paths, methods, headers, JWT, ports), none denied.
	AccessConditional = "conditional"
)

// ServiceAccess is one Service's authorization state.
type ServiceAccess struct {
	Service   string `json:"service"` // its node id
	Namespace string `json:"namespace"`
	State     string `json:"state"`
	// Policies are those that apply to its workloads, sorted.
	Policies []string `json:"policies"`
	// Callers seen in the period (or now), by decision.
	Allowed     int `json:"allowed"`
	Denied      int `json:"denied"`
	Conditional int `json:"conditional"`
	// DeniedCallers are the edges denied, sorted.
	DeniedCallers []string `json:"deniedCallers"`
}

// accessOf lists every Service node's state, in id order.
func accessOf(s graph.Snapshot) []ServiceAccess {
	out := []ServiceAccess{}
	index := map[string]int{}
	for _, n := range s.Nodes {
		if (n.Kind != graph.KindService && n.Kind != graph.KindGateway) || n.Namespace == "" {
			continue
		}
		index[n.ID] = len(out)
		out = append(out, ServiceAccess{Service: n.ID, Namespace: n.Namespace, Policies: append([]string{}, n.AuthorizationPolicies...),
			DeniedCallers: []string{}})
	}
	for _, e := range s.Edges {
		i, ok := index[e.Target]
		if !ok || (e.History.Unit == "" && e.Rate == 0) {
			continue // not a Service, or no traffic in the period
		}
		a := &out[i]
		switch {
		case e.Authorization == nil:
			a.Allowed++
		case e.Authorization.Decision == graph.AuthzDeny:
			a.Denied++
			a.DeniedCallers = append(a.DeniedCallers, e.ID)
		case e.Authorization.Decision == graph.AuthzConditional:
			a.Conditional++
		default:
			a.Allowed++
		}
		if e.Authorization != nil {
			for _, p := range e.Authorization.Policies {
				if !slices.Contains(a.Policies, p) {
					a.Policies = append(a.Policies, p)
				}
			}
		}
	}
	for i := range out {
		a := &out[i]
		slices.Sort(a.Policies)
		slices.Sort(a.DeniedCallers)
		switch {
		case a.Denied > 0:
			a.State = AccessDeniesCallers
		case a.Conditional > 0:
			a.State = AccessConditional
		case len(a.Policies) > 0:
			a.State = AccessAllowsCallers
		default:
			a.State = AccessNoPolicy
		}
	}
	slices.SortFunc(out, func(a, b ServiceAccess) int { return strings.Compare(a.Service, b.Service) })
	return out
}
