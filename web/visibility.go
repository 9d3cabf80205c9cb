// What a viewer may see: a snapshot restricted to visible namespaces, with edges to anything hidden
// merged into one Hidden node and findings naming hidden things dropped.

package web

import (
	"slices"
	"strings"

	"github.com/meshlock/meshlock/internal/graph"
)

// Hidden is the id and kind of the one node that stands for everything a
// viewer may not see: the other end of an edge into or out of a namespace
// they have no right to. It carries no name, namespace or principal.
const Hidden = "hidden"

// The unit of read rights is a namespace key: the namespace's name with one
// cluster, "<cluster>/<namespace>" with several (a cluster's namespace is
// its own: the same name elsewhere may be another team's).

// namespaceKey is the key of namespace in cluster ("" with one cluster).
func namespaceKey(cluster, namespace string) string {
	if cluster == "" || namespace == "" {
		return namespace
	}
	return cluster + "/" + namespace
}

// namespaceOfKey is the namespace's name in a key, what ?namespace= selects.
func namespaceOfKey(key string) string {
	if _, ns, ok := strings.Cut(key, "/"); ok {
		return ns
	}
	return key
}

// snapshotNamespaces lists the key of every namespace s names (nodes,
// callers of a DestinationRule, findings' objects), sorted: the namespaces
// whose read rights decide what a viewer sees. A namespace a viewer selects
// that the mesh does not have is not among them: there is nothing of it to
// show, so its right is never asked (issue 27: a ?namespace= of 10,000
// made-up names sent 10,000 SubjectAccessReviews).
func snapshotNamespaces(s graph.Snapshot) []string {
	seen := map[string]bool{}
	add := func(ns string) {
		if ns != "" {
			seen[ns] = true
		}
	}
	for _, n := range s.Nodes {
		add(namespaceKey(n.Cluster, n.Namespace))
		for _, c := range n.CallerTLS {
			add(namespaceOfID(c.Caller))
		}
		for _, p := range n.AuthorizationPolicies {
			add(namespaceOfID(p))
		}
	}
	for _, e := range s.Edges {
		if a := e.Authorization; a != nil {
			for _, p := range a.Policies {
				add(namespaceOfID(p)) // the root namespace's too
			}
		}
	}
	for _, f := range s.Findings {
		for _, obj := range f.Objects {
			add(namespaceOfObject(obj))
		}
	}
	// Workloads and root bundles of namespaces the graph has no node of.
	for _, w := range s.Identity.Workloads {
		add(namespaceKey(w.Cluster, w.Namespace))
	}
	for _, r := range s.Identity.Roots {
		for _, ns := range r.Namespaces {
			add(ns) // already "<cluster>/<namespace>" with several clusters
		}
	}
	return sortedCopy(seen)
}

// namespaceChoices are the namespace names of keys that keep allows,
// sorted, once each: what ?namespace= can select.
func namespaceChoices(keys []string, keep func(key string) bool) []string {
	seen := map[string]bool{}
	for _, key := range keys {
		if keep(key) {
			seen[namespaceOfKey(key)] = true
		}
	}
	return sortedCopy(seen)
}

// namespaceOfID is the namespace key of a node id, "" for the unknown
// caller.
func namespaceOfID(id string) string {
	parsed := graph.ParseID(id)
	return namespaceKey(parsed.Cluster, parsed.Namespace)
}

// namespaceOfObject reads a finding's object, "<Kind> <namespace>/<name>"
// (or "<Kind> <cluster>/<namespace>/<name>").
func namespaceOfObject(obj string) string {
	_, name, _ := strings.Cut(obj, " ")
	return namespaceOfID(name)
}

// restrictSnapshot is what a viewer with these rights (visible holds
// namespace keys) sees of s, filtered to selected (namespace names, in
// every cluster, as graph.Filter; empty selects all they may see). With
// all it is graph.Filter. Otherwise only the visible namespaces are
// kept, and an edge between a visible node and one the viewer may not see
// leads to the single node Hidden instead: edges that then share source,
// target and protocol become one (rates added), so that nothing tells how
// many hidden workloads there are or what they are called. Findings that
// name anything hidden are dropped; posture is recomputed from the edges
// shown. The unknown caller (outside the mesh, no namespace) stays visible.
func restrictSnapshot(s graph.Snapshot, all bool, visible map[string]bool, selected []string) graph.Snapshot {
	if all {
		return graph.Filter(s, selected)
	}
	wanted := map[string]bool{}
	for key, ok := range visible {
		if ok && (len(selected) == 0 || slices.Contains(selected, namespaceOfKey(key))) {
			wanted[key] = true
		}
	}
	if len(wanted) == 0 {
		// graph.Filter keeps everything for an empty list: show nothing instead.
		out := graph.Filter(graph.Snapshot{GeneratedAt: s.GeneratedAt, Window: s.Window, Stale: s.Stale, Error: s.Error,
			TrustDomain: s.TrustDomain, TrustDomainAliases: s.TrustDomainAliases, Sources: s.Sources, Lookback: s.Lookback,
			Identity: graph.Identity{TrustDomain: s.Identity.TrustDomain, TrustDomainAliases: s.Identity.TrustDomainAliases, CA: s.Identity.CA}}, nil)
		out.Posture = graph.ComputePosture(nil)
		hideClusters(&out, s, visible)
		return out
	}
	f := graph.FilterBy(s, func(id graph.ID) bool {
		return id.Namespace != "" && wanted[namespaceKey(id.Cluster, id.Namespace)]
	})

	shown := func(id string) bool {
		ns := namespaceOfID(id)
		return ns == "" || visible[ns]
	}
	hidden := func(id string) bool { return !shown(id) }

	out := f
	out.Nodes = make([]graph.Node, 0, len(f.Nodes)+1)
	anyHidden := false
	for _, n := range f.Nodes {
		if (n.Namespace != "" && !visible[namespaceKey(n.Cluster, n.Namespace)]) || hidden(n.ID) {
			anyHidden = true
			continue
		}
		n.CallerTLS = slices.DeleteFunc(n.CallerTLS, func(c graph.CallerTLS) bool { return hidden(c.Caller) })
		n.AuthorizationPolicies = slices.DeleteFunc(n.AuthorizationPolicies, hidden)
		for i := range n.CallerTLS {
			if hidden(n.CallerTLS[i].Rule) {
				n.CallerTLS[i].Rule = ""
			}
		}
		out.Nodes = append(out.Nodes, n)
	}

	hiddenEdges := map[string]bool{}
	merged := map[string]int{} // new id → index in out.Edges
	parts := map[string][]graph.Edge{}
	out.Edges = make([]graph.Edge, 0, len(f.Edges))
	for _, e := range f.Edges {
		if a := e.Authorization; a != nil {
			// The policies of namespaces the viewer may not read stay
			// unnamed; a hidden target's decision is the hidden side's.
			a.Policies = slices.DeleteFunc(a.Policies, hidden)
			a.DryRun = slices.DeleteFunc(a.DryRun, hidden)
			if hidden(e.Target) {
				e.Authorization = nil
			}
		}
		if !hidden(e.Source) && !hidden(e.Target) {
			out.Edges = append(out.Edges, e)
			continue
		}
		hiddenEdges[e.ID] = true
		anyHidden = true
		if hidden(e.Source) {
			e.Source, e.SourcePrincipal = Hidden, ""
		}
		if hidden(e.Target) {
			e.Target, e.DestinationPrincipal = Hidden, ""
		}
		e.ID = e.Source + "->" + e.Target + ":" + e.Protocol
		if i, ok := merged[e.ID]; ok {
			parts[e.ID] = append(parts[e.ID], e)
			out.Edges[i] = mergeEdges(parts[e.ID])
			continue
		}
		merged[e.ID] = len(out.Edges)
		parts[e.ID] = []graph.Edge{e}
		out.Edges = append(out.Edges, e)
	}
	if anyHidden && len(merged) > 0 {
		out.Nodes = append(out.Nodes, graph.Node{ID: Hidden, Kind: Hidden})
	}
	slices.SortFunc(out.Nodes, func(a, b graph.Node) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(out.Edges, func(a, b graph.Edge) int { return strings.Compare(a.ID, b.ID) })

	out.Findings = slices.DeleteFunc(out.Findings, func(fd graph.Finding) bool {
		return slices.ContainsFunc(fd.Nodes, hidden) ||
			slices.ContainsFunc(fd.Edges, func(id string) bool { return hiddenEdges[id] }) ||
			slices.ContainsFunc(fd.Objects, func(obj string) bool {
				ns := namespaceOfObject(obj)
				return ns != "" && !visible[ns]
			})
	})
	out.Posture = graph.ComputePosture(out.Edges)
	hideClusters(&out, s, visible)
	return out
}

// hideClusters: with several clusters, a cluster in which the viewer may
// read no namespace is not named, nor its source, nor its source's error.
func hideClusters(out *graph.Snapshot, s graph.Snapshot, visible map[string]bool) {
	if len(s.Clusters) == 0 {
		return
	}
	shown := map[string]bool{}
	for key, ok := range visible {
		if cluster, _, found := strings.Cut(key, "/"); ok && found {
			shown[cluster] = true
		}
	}
	out.Clusters = slices.DeleteFunc(slices.Clone(s.Clusters), func(c string) bool { return !shown[c] })
	out.Sources = slices.DeleteFunc(slices.Clone(s.Sources), func(src graph.SourceStatus) bool { return src.Cluster != "" && !shown[src.Cluster] })
	var reasons []string
	for reason := range strings.SplitSeq(s.Error, "; ") {
		name, _, _ := strings.Cut(reason, ": ")
		if cluster, ok := strings.CutPrefix(name, "kubernetes/"); ok && !shown[cluster] {
			reason = "a cluster you cannot see is not answering"
		}
		if reason != "" && !slices.Contains(reasons, reason) {
			reasons = append(reasons, reason)
		}
	}
	out.Error = strings.Join(reasons, "; ")
}

// mergeEdges makes one edge of those that lead to or from Hidden with the
// same visible end and protocol. Its status is never better than its
// parts: locked only if every part is, open or unknown only if every part
// is, else mixed.
func mergeEdges(parts []graph.Edge) graph.Edge {
	out := parts[0]
	var rate, mtls, failures float64
	statuses := map[string]bool{}
	for _, e := range parts {
		rate += e.Rate
		mtls += e.Rate * e.MTLSRatio
		failures += e.TLSFailureRate
		statuses[e.Status] = true
		if e.SourcePrincipal != out.SourcePrincipal {
			out.SourcePrincipal = ""
		}
		if e.DestinationPrincipal != out.DestinationPrincipal {
			out.DestinationPrincipal = ""
		}
	}
	out.Authorization = mergeAuthorizations(parts)
	out.Rate, out.TLSFailureRate = rate, failures
	if rate > 0 {
		out.MTLSRatio = mtls / rate
	}
	switch {
	case len(statuses) == 1:
		// every part agrees
	case statuses[graph.StatusLocked] || statuses[graph.StatusMixed]:
		out.Status = graph.StatusMixed
	case statuses[graph.StatusOpen]: // open and unknown: no mTLS proven anywhere
		out.Status = graph.StatusOpen
	default:
		out.Status = graph.StatusUnknown
	}
	return out
}

// mergeAuthorizations is the decision for hidden callers taken as one: the
// parts' when they agree, else conditional, with every policy named; each
// share's decision where every part says the same.
func mergeAuthorizations(parts []graph.Edge) *graph.Authorization {
	var list []graph.Authorization
	for _, e := range parts {
		if e.Authorization != nil {
			list = append(list, *e.Authorization)
		}
	}
	if len(list) == 0 {
		return nil
	}
	out := graph.CombineAuthorizations(list)
	if !slices.ContainsFunc(list, func(a graph.Authorization) bool {
		return a.MutualTLS != list[0].MutualTLS || a.Plaintext != list[0].Plaintext
	}) {
		out.MutualTLS, out.Plaintext = list[0].MutualTLS, list[0].Plaintext
	}
	return &out
}
