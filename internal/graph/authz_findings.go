// The access-policy findings of issue 25: plaintext callers an ALLOW by identity denies, callers seen
// and now denied, policies that select nothing, and ALLOW policies that allow nothing.

package graph

import (
	"fmt"
	"slices"
	"strings"
)

// Access-policy finding kinds. (An ambient workload's L7 rules without a
// waypoint are FindingL7WithoutWaypoint, from issue 21.)
const (
	// FindingAuthzDeniesPlaintext: a workload that still takes plaintext
	// has plaintext callers its access policy denies, having no identity.
	FindingAuthzDeniesPlaintext = "authz-denies-plaintext"
	// FindingAuthzSelectsNothing: a policy's selector or targetRefs match no workload.
	FindingAuthzSelectsNothing = "authz-selects-nothing"
	// FindingAuthzAllowNothing: an ALLOW policy without rules denies every
	// request to what it selects that no other ALLOW policy allows.
	FindingAuthzAllowNothing = "authz-allow-nothing"
	// FindingAuthzDeniesObserved: callers seen now or in the look-back
	// that the access policy now denies, or that it is denying now.
	FindingAuthzDeniesObserved = "authz-denies-observed"
)

// authzFindings judges edges' authorization and the cluster's access policies.
func authzFindings(nodes []Node, edges []Edge, policies []AccessPolicy, ctx findingContext) []Finding {
	var out []Finding
	incoming := map[string][]*Edge{}
	for i := range edges {
		e := &edges[i]
		if e.Authorization != nil || e.DeniedRate > 0 {
			incoming[e.Target] = append(incoming[e.Target], e)
		}
	}
	for i := range nodes {
		n := &nodes[i]
		list := incoming[n.ID]
		if len(list) == 0 {
			continue
		}
		// Plaintext callers denied where plaintext is still accepted.
		var plainDenied []*Edge
		var plainPolicies []string
		if !strings.EqualFold(n.PeerAuthentication, ModeStrict) {
			for _, e := range list {
				if a := e.Authorization; a != nil && plaintextSeen(e) && plaintextDenied(e) {
					plainDenied = append(plainDenied, e)
					plainPolicies = append(plainPolicies, a.Policies...)
				}
			}
		}
		if len(plainDenied) > 0 {
			severity := SeverityWarning
			if slices.ContainsFunc(plainDenied, func(e *Edge) bool { return !e.Idle }) {
				severity = SeverityCritical
			}
			out = append(out, Finding{
				ID:       FindingID(FindingAuthzDeniesPlaintext, n.ID),
				Kind:     FindingAuthzDeniesPlaintext,
				Severity: severity,
				Message: fmt.Sprintf("%s still accepts plaintext (%s), but its access policy allows callers only by identity (principals or namespaces), which a plaintext caller does not have: %s %s sent plaintext and are denied. Move them to mTLS first, or allow them another way.",
					n.ID, n.PeerAuthentication, callerListWithLastSeen(plainDenied, ctx.now), ctx.period()),
				Nodes:   withSources(n.ID, plainDenied),
				Edges:   edgeIDs(plainDenied),
				Objects: policyObjects(plainPolicies),
			})
		}
		// Callers seen that the policy denies (apart from the plaintext
		// ones above), and denials reported now.
		var denied []*Edge
		var deciding []string
		for _, e := range list {
			if e.DeniedRate > 0 || (e.Authorization != nil && e.Authorization.Decision == AuthzDeny && !slices.Contains(plainDenied, e)) {
				denied = append(denied, e)
				if e.Authorization != nil {
					deciding = append(deciding, e.Authorization.Policies...)
				}
			}
		}
		if len(denied) > 0 {
			out = append(out, Finding{
				ID:       FindingID(FindingAuthzDeniesObserved, n.ID),
				Kind:     FindingAuthzDeniesObserved,
				Severity: SeverityWarning,
				Message:  fmt.Sprintf("The access policy of %s denies callers that were seen: %s.", n.ID, deniedCallers(denied, ctx)),
				Nodes:    withSources(n.ID, denied),
				Edges:    edgeIDs(denied),
				Objects:  policyObjects(deciding),
			})
		}
	}
	present := map[string]bool{}
	for _, n := range nodes {
		present[n.ID] = true
	}
	for _, p := range policies {
		name := qualify(p.Cluster, p.Namespace+"/"+p.Name)
		object := objectName("AuthorizationPolicy", name)
		switch {
		case p.SelectsNothing:
			out = append(out, Finding{
				ID:       FindingID(FindingAuthzSelectsNothing, object),
				Kind:     FindingAuthzSelectsNothing,
				Severity: SeverityWarning,
				Message: fmt.Sprintf("%s (%s) selects no workload: its selector or targetRefs match nothing, so it has no effect. A mistyped label or name?",
					object, p.Action),
				Objects: []string{object},
			})
		case p.AllowsNothing:
			var ids []string
			for _, s := range p.Services {
				ns, svc, _ := strings.Cut(s, "/")
				if id := (ID{Cluster: p.Cluster, Namespace: ns, Name: svc}).String(); present[id] {
					ids = append(ids, id)
				}
			}
			out = append(out, Finding{
				ID:       FindingID(FindingAuthzAllowNothing, object),
				Kind:     FindingAuthzAllowNothing,
				Severity: SeverityWarning,
				Message: fmt.Sprintf("%s is an ALLOW policy without rules (allow-nothing): it matches no request, so every request to %s is denied unless another ALLOW policy allows it.",
					object, orDefault(nameList(ids), "what it selects")),
				Nodes:   ids,
				Objects: []string{object},
			})
		}
	}
	return out
}

// plaintextDenied: the edge's plaintext share is denied (its own decision
// when it carried only plaintext).
func plaintextDenied(e *Edge) bool {
	a := e.Authorization
	if a.Plaintext != "" {
		return a.Plaintext == AuthzDeny
	}
	return a.Decision == AuthzDeny && e.Status == StatusOpen
}

// deniedCallers names the callers, each with its rate denied now, or when
// it was last seen.
func deniedCallers(edges []*Edge, ctx findingContext) string {
	const shown = 5
	var names []string
	for _, e := range edges[:min(len(edges), shown)] {
		switch {
		case e.DeniedRate > 0:
			names = append(names, fmt.Sprintf("%s (denied now, %s/s)", e.Source, formatFloat(e.DeniedRate)))
		case e.Idle:
			names = append(names, fmt.Sprintf("%s (idle, last seen %s)", e.Source, formatTime(LastSeen(*e, ctx.now))))
		default:
			names = append(names, e.Source+" (calling now)")
		}
	}
	if len(edges) > shown {
		return fmt.Sprintf("%s and %d more", strings.Join(names, ", "), len(edges)-shown)
	}
	return strings.Join(names, ", ")
}

func policyObjects(names []string) []string {
	var out []string
	for _, n := range names {
		if o := objectName("AuthorizationPolicy", n); o != "" && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	slices.Sort(out)
	return out
}

func nameList(ids []string) string {
	const shown = 5
	if len(ids) <= shown {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:shown], ", "), len(ids)-shown)
}

func formatFloat(v float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}
