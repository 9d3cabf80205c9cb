// Several clusters in one graph: Merge makes one Cluster of the clusters' own answers, and
// appendClusterTrust finds clusters whose traffic crosses while they do not trust each other.

package graph

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// FindingClusterTrust: traffic crosses between clusters that do not share
// a root certificate or a trust domain.
const FindingClusterTrust = "cluster-trust-mismatch"

// Merge makes one Cluster of several, each named (its Name is its Istio
// cluster ID): its Services, workloads, problems and root bundles carry
// their cluster, and Members keeps each as given, so that each cluster's
// own DestinationRules (ClientTLS), PeerAuthentications (already resolved
// on its Services), mesh config and roots decide for its workloads
// (Istio's multi-primary: every istiod reads its own cluster's
// configuration; pilot/pkg/bootstrap/configcontroller.go). The clusters'
// slices are not changed: the result has its own.
func Merge(clusters ...Cluster) Cluster {
	out := Cluster{Members: make([]Cluster, len(clusters))}
	var domains []string
	for i, c := range clusters {
		// Policy objects are named "<cluster>/<namespace>/<name>": the
		// same rule name in two clusters is two rules, and findings say in
		// which cluster to look.
		c.Services = stamp(c.Services, func(s *Service) {
			s.Cluster = c.Name
			s.PeerAuthenticationSource = qualify(c.Name, s.PeerAuthenticationSource)
			s.DestinationRuleSource = qualify(c.Name, s.DestinationRuleSource)
			s.Ports = stamp(s.Ports, func(p *ServicePort) { p.PeerAuthenticationSource = qualify(c.Name, p.PeerAuthenticationSource) })
			s.L7PoliciesWithoutWaypoint = stamp(s.L7PoliciesWithoutWaypoint, func(p *string) { *p = qualify(c.Name, *p) })
		})
		if clientTLS := c.ClientTLS; clientTLS != nil {
			c.ClientTLS = func(clientNamespace, clientWorkload, serviceNamespace, serviceName string) []ClientTLS {
				// A copy: the resolver may answer from a cache of its own.
				out := slices.Clone(clientTLS(clientNamespace, clientWorkload, serviceNamespace, serviceName))
				for i := range out {
					out[i].Rule = qualify(c.Name, out[i].Rule)
				}
				return out
			}
		}
		if authorize := c.Authorize; authorize != nil {
			c.Authorize = func(serviceNamespace, serviceName, principal string) (Authorization, bool) {
				a, ok := authorize(serviceNamespace, serviceName, principal)
				a = *a.Clone() // the resolver may answer from a cache of its own
				for i := range a.Policies {
					a.Policies[i] = qualify(c.Name, a.Policies[i])
				}
				for i := range a.DryRun {
					a.DryRun[i] = qualify(c.Name, a.DryRun[i])
				}
				return a, ok
			}
		}
		c.AccessPolicies = stamp(c.AccessPolicies, func(p *AccessPolicy) { p.Cluster = c.Name })
		c.Workloads = stamp(c.Workloads, func(w *Workload) { w.Cluster = c.Name })
		c.Problems = stamp(c.Problems, func(p *PolicyProblem) { p.Cluster = c.Name })
		c.Roots = stamp(c.Roots, func(r *RootBundle) { r.Cluster = c.Name })
		c.Members = nil
		out.Members[i] = c
		out.Services = append(out.Services, c.Services...)
		out.Workloads = append(out.Workloads, c.Workloads...)
		out.Problems = append(out.Problems, c.Problems...)
		out.Roots = append(out.Roots, c.Roots...)
		out.AccessPolicies = append(out.AccessPolicies, c.AccessPolicies...)
		for _, ns := range c.Namespaces {
			if !slices.Contains(out.Namespaces, ns) {
				out.Namespaces = append(out.Namespaces, ns)
			}
		}
		for _, alias := range c.TrustDomainAliases {
			if !slices.Contains(out.TrustDomainAliases, alias) {
				out.TrustDomainAliases = append(out.TrustDomainAliases, alias)
			}
		}
		if c.TrustDomain != "" && !slices.Contains(domains, c.TrustDomain) {
			domains = append(domains, c.TrustDomain)
		}
		if out.RootNamespace == "" {
			out.RootNamespace = c.RootNamespace
		}
	}
	// The snapshot's one trust domain is the clusters' when they agree.
	if len(domains) == 1 {
		out.TrustDomain = domains[0]
	}
	return out
}

// qualify prefixes a "<namespace>/<name>" with its cluster; "" stays "".
func qualify(cluster, name string) string {
	if cluster == "" || name == "" {
		return name
	}
	return cluster + "/" + name
}

func stamp[T any](in []T, set func(*T)) []T {
	out := slices.Clone(in)
	for i := range out {
		set(&out[i])
	}
	return out
}

// appendClusterTrust: for every pair of clusters with traffic between them
// (live or in the look-back), a critical finding when their root namespaces'
// bundles share no root (mTLS between them fails: each side's proxy
// verifies the other's chain against its own roots), a warning when their
// trust domains differ and neither names the other as an alias (the
// principals of one are foreign to the other's principal-based policy:
// pilot/pkg/security/trustdomain/bundle.go).
func (b *builder) appendClusterTrust(out []Finding, edges []Edge) []Finding {
	type pair struct{ a, z string }
	crossing := map[pair][]Edge{}
	for _, e := range edges {
		if !e.CrossCluster {
			continue
		}
		p := pair{ParseID(e.Source).Cluster, ParseID(e.Target).Cluster}
		if p.a > p.z {
			p.a, p.z = p.z, p.a
		}
		crossing[p] = append(crossing[p], e)
	}
	pairs := slices.SortedFunc(maps.Keys(crossing), func(x, y pair) int {
		return strings.Compare(x.a+"/"+x.z, y.a+"/"+y.z)
	})
	for _, p := range pairs {
		a, z := b.members[p.a], b.members[p.z]
		if a == nil || z == nil {
			continue // a cluster not watched: nothing known of its trust
		}
		var problems []string
		severity := ""
		aRoots, zRoots := rootFingerprints(a), rootFingerprints(z)
		if aRoots != nil && zRoots != nil && !shareAny(aRoots, zRoots) {
			severity = SeverityCritical
			problems = append(problems, fmt.Sprintf("their root bundles (%s in %s, %s in %s) share no root certificate, so mTLS between them fails",
				a.RootNamespace, a.Name, z.RootNamespace, z.Name))
		}
		if a.TrustDomain != "" && z.TrustDomain != "" && a.TrustDomain != z.TrustDomain &&
			(!slices.Contains(a.TrustDomainAliases, z.TrustDomain) || !slices.Contains(z.TrustDomainAliases, a.TrustDomain)) {
			if severity == "" {
				severity = SeverityWarning
			}
			problems = append(problems, fmt.Sprintf("their trust domains differ (%s: %q, %s: %q) and each does not name the other in trustDomainAliases, so principal-based policy of one does not match callers from the other",
				a.Name, a.TrustDomain, z.Name, z.TrustDomain))
		}
		if severity == "" {
			continue
		}
		f := Finding{ID: FindingID(FindingClusterTrust, p.a+"|"+p.z), Kind: FindingClusterTrust, Severity: severity,
			Objects: []string{bundleObject(clusterNamespace(a.Name, a.RootNamespace)), bundleObject(clusterNamespace(z.Name, z.RootNamespace))}}
		for _, e := range crossing[p] {
			f.Edges = append(f.Edges, e.ID)
			f.Nodes = appendMissing(appendMissing(f.Nodes, e.Source), e.Target)
		}
		slices.Sort(f.Edges)
		slices.Sort(f.Nodes)
		f.Message = fmt.Sprintf("Traffic crosses between clusters %s and %s (%d edge(s)), but %s.", a.Name, z.Name, len(f.Edges), strings.Join(problems, "; and "))
		out = append(out, f)
	}
	return out
}

// rootFingerprints of a cluster's root namespace bundle; nil when unknown.
func rootFingerprints(c *Cluster) []string {
	for i := range c.Roots {
		if r := &c.Roots[i]; r.Namespace == c.RootNamespace && len(r.Certs) > 0 {
			return fingerprints(r)
		}
	}
	return nil
}

func shareAny(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
