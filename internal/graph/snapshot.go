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
	return filter(s, func(id ID) bool { return id.Namespace != "" && wanted[id.Namespace] })
}

// FilterClusters keeps what concerns the given clusters, as Filter does for
// namespaces: edges with an end in one of them (so a caller from another
// cluster stays in view), the nodes at their ends, findings naming a kept
// node. An empty list keeps everything.
func FilterClusters(s Snapshot, clusters []string) Snapshot {
	if len(clusters) == 0 {
		return cloneSnapshot(s)
	}
	wanted := make(map[string]bool, len(clusters))
	for _, c := range clusters {
		wanted[c] = true
	}
	return filter(s, func(id ID) bool { return id.Cluster != "" && wanted[id.Cluster] })
}

// FilterBy keeps what concerns the nodes and namespaces in says are wanted
// (in sees a node's or a namespace's ID: Name empty for a namespace), as
// Filter and FilterClusters do: edges with an end wanted, the nodes at
// their ends, findings naming a kept node or an object of a wanted
// namespace, the identity of wanted namespaces. The unknown node is kept
// only as an end. The result shares no memory with s.
func FilterBy(s Snapshot, in func(ID) bool) Snapshot { return filter(s, in) }

// filter keeps the nodes in, the edges with an end in, and what concerns
// the nodes and namespaces that in says are wanted.
func filter(s Snapshot, in func(ID) bool) Snapshot {
	nodeIDs := make(map[string]ID, len(s.Nodes))
	for _, n := range s.Nodes {
		nodeIDs[n.ID] = ID{Cluster: n.Cluster, Namespace: n.Namespace, Name: n.Name}
	}
	// The unknown node has no namespace, so it is kept only as an endpoint.
	inWanted := func(id string) bool {
		parsed, ok := nodeIDs[id]
		if !ok {
			parsed = ParseID(id)
		}
		return in(parsed)
	}

	out := s
	out.Edges = []Edge{}
	endpoint := make(map[string]bool)
	for _, e := range s.Edges {
		if inWanted(e.Source) || inWanted(e.Target) {
			e.Authorization = e.Authorization.Clone()
			out.Edges = append(out.Edges, e)
			endpoint[e.Source], endpoint[e.Target] = true, true
		}
	}
	out.Nodes = []Node{}
	kept := make(map[string]bool)
	for _, n := range s.Nodes {
		if endpoint[n.ID] || inWanted(n.ID) {
			n.Ports, n.CallerTLS = slices.Clone(n.Ports), slices.Clone(n.CallerTLS)
			n.ExpectedPrincipals, n.ObservedPrincipals = slices.Clone(n.ExpectedPrincipals), slices.Clone(n.ObservedPrincipals)
			n.AuthorizationPolicies = slices.Clone(n.AuthorizationPolicies)
			out.Nodes = append(out.Nodes, n)
			kept[n.ID] = true
		}
	}
	out.Posture = ComputePosture(out.Edges)
	out.Identity = filterIdentity(s.Identity, in)
	out.TrustDomainAliases = slices.Clone(s.TrustDomainAliases)
	out.Clusters = slices.Clone(s.Clusters)
	out.Sources = slices.Clone(s.Sources)
	out.Findings = []Finding{}
	for _, f := range s.Findings {
		if findingConcerns(f, kept, in) {
			out.Findings = append(out.Findings, cloneFinding(f))
		}
	}
	return out
}

func findingConcerns(f Finding, keptNodes map[string]bool, in func(ID) bool) bool {
	for _, id := range f.Nodes {
		if keptNodes[id] {
			return true
		}
	}
	if len(f.Nodes) > 0 {
		return false
	}
	// Objects read "<Kind> <namespace>/<name>" (or "<Kind> <cluster>/<namespace>/<name>").
	for _, obj := range f.Objects {
		_, name, _ := strings.Cut(obj, " ")
		if id := ParseID(name); id.Namespace != "" && in(id) {
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
		n.AuthorizationPolicies = slices.Clone(n.AuthorizationPolicies)
		out.Nodes[i] = n
	}
	out.Edges = append(make([]Edge, 0, len(s.Edges)), s.Edges...)
	for i := range out.Edges {
		out.Edges[i].Authorization = out.Edges[i].Authorization.Clone()
	}
	out.Findings = make([]Finding, len(s.Findings))
	for i, f := range s.Findings {
		out.Findings[i] = cloneFinding(f)
	}
	out.Identity = filterIdentity(s.Identity, nil)
	out.TrustDomainAliases = slices.Clone(s.TrustDomainAliases)
	out.Clusters = slices.Clone(s.Clusters)
	out.Sources = slices.Clone(s.Sources)
	return out
}

// filterIdentity keeps the workloads of the wanted namespaces and the roots
// one of them holds, with only those namespaces named; nil wanted keeps
// everything. The result shares no memory with id.
func filterIdentity(id Identity, in func(ID) bool) Identity {
	keep := func(cluster, ns string) bool { return in == nil || in(ID{Cluster: cluster, Namespace: ns}) }
	out := id
	out.TrustDomainAliases = slices.Clone(id.TrustDomainAliases)
	out.Roots = make([]Root, 0, len(id.Roots))
	for _, r := range id.Roots {
		var namespaces []string
		for _, ns := range r.Namespaces {
			// "<cluster>/<namespace>" with several clusters.
			cluster, namespace, ok := strings.Cut(ns, "/")
			if !ok {
				cluster, namespace = "", ns
			}
			if keep(cluster, namespace) {
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
		if keep(w.Cluster, w.Namespace) {
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
