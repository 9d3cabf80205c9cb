// Access policy on edges: what the target's AuthorizationPolicies decide for each caller, by its
// principal over mTLS and without one over plaintext (the cluster's AuthorizeFunc judges).

package graph

import (
	"slices"
	"strings"
)

// authorizeEdge sets the edge's Authorization from the serving cluster's
// AuthorizeFunc: the caller's principals judge its mTLS share, no
// principal its plaintext share (a plaintext caller matches no principal
// or namespace rule: istio/istio pilot/pkg/security/authz/model/
// generator.go builds them on the peer certificate's URI SAN).
func (b *builder) authorizeEdge(e *Edge, t *edgeTraffic, dst *nodeEntry) {
	m := b.members[dst.node.Cluster]
	if m == nil || m.Authorize == nil {
		return
	}
	if t.conns.refused > 0 && !strings.EqualFold(dst.node.PeerAuthentication, ModeStrict) {
		// A node proxy refusing plaintext where STRICT does not apply:
		// only an access policy does that.
		e.DeniedRate = addRate(e.DeniedRate, t.conns.refused)
	}
	mtls, plain := securityShares(e)
	var mtlsPart, plainPart *Authorization
	if mtls {
		var judged []Authorization
		principals := b.edgePrincipals(t)
		for _, p := range principals {
			if a, ok := m.Authorize(dst.service.Namespace, dst.service.Name, p); ok {
				judged = append(judged, a)
			}
		}
		if len(principals) == 0 {
			// An identity no one reported: allowed where no policy applies
			// to anyone, else it depends on who it is.
			if a, ok := m.Authorize(dst.service.Namespace, dst.service.Name, ""); ok {
				if a.Decision != AuthzAllow || len(a.Policies) > 0 {
					a = Authorization{Decision: AuthzConditional, Policies: a.Policies, DryRun: a.DryRun}
				}
				judged = append(judged, a)
			}
		}
		if len(judged) > 0 {
			a := CombineAuthorizations(judged)
			mtlsPart = &a
		}
	}
	if plain {
		if a, ok := m.Authorize(dst.service.Namespace, dst.service.Name, ""); ok {
			plainPart = &a
		}
	}
	var parts []Authorization
	for _, p := range []*Authorization{mtlsPart, plainPart} {
		if p != nil {
			parts = append(parts, *p)
		}
	}
	if len(parts) == 0 {
		return
	}
	out := CombineAuthorizations(parts)
	if mtlsPart != nil && plainPart != nil && mtlsPart.Decision != plainPart.Decision {
		out.MutualTLS, out.Plaintext = mtlsPart.Decision, plainPart.Decision
	}
	e.Authorization = &out
	if out.Decision != AuthzAllow && !e.Idle {
		// Envoy's RBAC filter answers 403 and sets no response flag
		// (envoy source/extensions/filters/http/rbac/rbac_filter.cc;
		// istio/proxy test/envoye2e/stats_plugin/stats_test.go
		// TestStats403Failure), like an application's own 403: on an edge
		// the policy denies, or may, they are taken as its denials.
		e.DeniedRate = addRate(e.DeniedRate, t.main.forbidden)
	}
}

// addNodePolicies names on each Service node the access policies that
// apply to its workloads.
func addNodePolicies(nodes []Node, policies []AccessPolicy) {
	if len(policies) == 0 {
		return
	}
	byNode := map[string][]string{}
	for _, p := range policies {
		for _, s := range p.Services {
			ns, name, _ := strings.Cut(s, "/")
			id := ID{Cluster: p.Cluster, Namespace: ns, Name: name}.String()
			byNode[id] = append(byNode[id], qualify(p.Cluster, p.Namespace+"/"+p.Name))
		}
	}
	for i := range nodes {
		if list := byNode[nodes[i].ID]; len(list) > 0 && nodes[i].Kind != KindWorkload {
			slices.Sort(list)
			nodes[i].AuthorizationPolicies = slices.Compact(list)
		}
	}
}

// securityShares: which of mTLS and plaintext the edge carried, now or in
// the look-back; an edge of unknown security may carry either.
func securityShares(e *Edge) (mtls, plain bool) {
	return e.Status != StatusOpen, e.Status != StatusLocked
}

// edgePrincipals are the principals the caller presented (live, else in
// the look-back), else those its workloads' ServiceAccounts give in its
// cluster's trust domain.
func (b *builder) edgePrincipals(t *edgeTraffic) []string {
	var out []string
	add := func(list []principalRate) {
		for _, p := range list {
			if !slices.Contains(out, p.principal) {
				out = append(out, p.principal)
			}
		}
	}
	add(t.sourcePrincipals)
	if t.hist != nil {
		add(t.hist.sourcePrincipals)
	}
	if len(out) > 0 {
		slices.Sort(out)
		return out
	}
	for _, c := range t.callers() {
		td := "cluster.local" // the mesh config's default
		if m := b.members[c.cluster]; m != nil && m.TrustDomain != "" {
			td = m.TrustDomain
		}
		for _, sa := range b.serviceAccounts[c] {
			if p := SPIFFEID(td, c.namespace, sa); !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out
}

// CombineAuthorizations is one decision of several (ports, pods, callers,
// shares): theirs where all agree, else conditional; the policies and
// dry-run policies of all, sorted, once each. list must not be empty.
func CombineAuthorizations(list []Authorization) Authorization {
	out := Authorization{Decision: list[0].Decision}
	for _, a := range list {
		if a.Decision != out.Decision {
			out.Decision = AuthzConditional
		}
		out.Policies = append(out.Policies, a.Policies...)
		out.DryRun = append(out.DryRun, a.DryRun...)
	}
	slices.Sort(out.Policies)
	out.Policies = slices.Compact(out.Policies)
	slices.Sort(out.DryRun)
	out.DryRun = slices.Compact(out.DryRun)
	return out
}

// authorizationEqual compares two edges' authorizations by value.
func authorizationEqual(a, b *Authorization) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Decision == b.Decision && a.MutualTLS == b.MutualTLS && a.Plaintext == b.Plaintext &&
		slices.Equal(a.Policies, b.Policies) && slices.Equal(a.DryRun, b.DryRun)
}

// Clone is a copy sharing no memory with a; nil stays nil.
func (a *Authorization) Clone() *Authorization {
	if a == nil {
		return nil
	}
	c := *a
	c.Policies, c.DryRun = slices.Clone(a.Policies), slices.Clone(a.DryRun)
	return &c
}
