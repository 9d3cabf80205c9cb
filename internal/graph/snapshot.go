// The canonical order of a snapshot's lists (shared by Build, Filter and Apply) and Filter,
// which keeps what concerns a set of namespaces.

package graph

import (
	"cmp"
	"maps"
	"slices"
	"strings"
)

// The one order of each list, shared by Build, Filter and Apply so that
// Apply(old, Diff(old, new)) reproduces new exactly.

func sortNodes(nodes []Node) {
	slices.SortFunc(nodes, func(a, b Node) int { return strings.Compare(a.ID, b.ID) })
}

func sortEdges(edges []Edge) {
	slices.SortFunc(edges, func(a, b Edge) int { return strings.Compare(a.ID, b.ID) })
}

func sortFindings(findings []Finding) {
	slices.SortFunc(findings, compareFindings)
}

func compareFindings(a, b Finding) int {
	return cmp.Or(cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)), strings.Compare(a.ID, b.ID))
}

func severityRank(s string) int {
	switch s {
	case SeverityCritical:
		return 0
	case SeverityWarning:
		return 1
	case SeverityInfo:
		return 2
	}
	return 3
}

func sortStrings(s []string) { slices.Sort(s) }

// Filter keeps what concerns the given namespaces: edges with an endpoint in
// one of them, the nodes in them or at an end of a kept edge, and findings
// that name a kept node (or, naming no node, an object in one of them). An
// empty list keeps everything. The result shares no memory with s.
func Filter(s Snapshot, namespaces []string) Snapshot {
	if len(namespaces) == 0 {
		return cloneSnapshot(s)
	}
	wanted := make(map[string]bool, len(namespaces))
	for _, ns := range namespaces {
		wanted[ns] = true
	}
	namespaceOf := make(map[string]string, len(s.Nodes))
	for _, n := range s.Nodes {
		namespaceOf[n.ID] = n.Namespace
	}
	// The unknown node has no namespace, so it is kept only as an endpoint.
	inWanted := func(id string) bool {
		ns, ok := namespaceOf[id]
		if !ok {
			ns = ParseID(id).Namespace
		}
		return ns != "" && wanted[ns]
	}

	out := s
	out.Edges = []Edge{}
	endpoint := make(map[string]bool)
	for _, e := range s.Edges {
		if inWanted(e.Source) || inWanted(e.Target) {
			out.Edges = append(out.Edges, e)
			endpoint[e.Source], endpoint[e.Target] = true, true
		}
	}
	out.Nodes = []Node{}
	kept := make(map[string]bool)
	for _, n := range s.Nodes {
		if endpoint[n.ID] || (n.Namespace != "" && wanted[n.Namespace]) {
			n.Ports, n.CallerTLS = slices.Clone(n.Ports), slices.Clone(n.CallerTLS)
			n.ExpectedPrincipals, n.ObservedPrincipals = slices.Clone(n.ExpectedPrincipals), slices.Clone(n.ObservedPrincipals)
			out.Nodes = append(out.Nodes, n)
			kept[n.ID] = true
		}
	}
	out.Posture = ComputePosture(out.Edges)
	out.Identity = filterIdentity(s.Identity, wanted)
	out.TrustDomainAliases = slices.Clone(s.TrustDomainAliases)
	out.Findings = []Finding{}
	for _, f := range s.Findings {
		if findingConcerns(f, kept, wanted) {
			out.Findings = append(out.Findings, cloneFinding(f))
		}
	}
	return out
}

func findingConcerns(f Finding, keptNodes, namespaces map[string]bool) bool {
	for _, id := range f.Nodes {
		if keptNodes[id] {
			return true
		}
	}
	if len(f.Nodes) > 0 {
		return false
	}
	// Objects read "<Kind> <namespace>/<name>".
	for _, obj := range f.Objects {
		_, name, _ := strings.Cut(obj, " ")
		if ns := ParseID(name).Namespace; ns != "" && namespaces[ns] {
			return true
		}
	}
	return false
}

func cloneSnapshot(s Snapshot) Snapshot {
	out := s
	out.Posture.Counts = maps.Clone(s.Posture.Counts)
	out.Nodes = make([]Node, len(s.Nodes))
	for i, n := range s.Nodes {
		n.Ports, n.CallerTLS = slices.Clone(n.Ports), slices.Clone(n.CallerTLS)
		n.ExpectedPrincipals, n.ObservedPrincipals = slices.Clone(n.ExpectedPrincipals), slices.Clone(n.ObservedPrincipals)
		out.Nodes[i] = n
	}
	out.Edges = append(make([]Edge, 0, len(s.Edges)), s.Edges...)
	out.Findings = make([]Finding, len(s.Findings))
	for i, f := range s.Findings {
		out.Findings[i] = cloneFinding(f)
	}
	out.Identity = filterIdentity(s.Identity, nil)
	out.TrustDomainAliases = slices.Clone(s.TrustDomainAliases)
	return out
}

// filterIdentity keeps the workloads of the wanted namespaces and the roots
// one of them holds, with only those namespaces named; nil wanted keeps
// everything. The result shares no memory with id.
func filterIdentity(id Identity, wanted map[string]bool) Identity {
	keep := func(ns string) bool { return wanted == nil || wanted[ns] }
	out := id
	out.TrustDomainAliases = slices.Clone(id.TrustDomainAliases)
	out.Roots = make([]Root, 0, len(id.Roots))
	for _, r := range id.Roots {
		var namespaces []string
		for _, ns := range r.Namespaces {
			if keep(ns) {
				namespaces = append(namespaces, ns)
			}
		}
		if len(namespaces) > 0 {
			r.Namespaces = namespaces
			out.Roots = append(out.Roots, r)
		}
	}
	out.Workloads = make([]WorkloadIdentity, 0, len(id.Workloads))
	for _, w := range id.Workloads {
		if keep(w.Namespace) {
			w.ObservedPrincipals, w.ServiceAccounts = slices.Clone(w.ObservedPrincipals), slices.Clone(w.ServiceAccounts)
			out.Workloads = append(out.Workloads, w)
		}
	}
	return out
}

func cloneFinding(f Finding) Finding {
	f.Nodes = slices.Clone(f.Nodes)
	f.Edges = slices.Clone(f.Edges)
	f.Objects = slices.Clone(f.Objects)
	return f
}
