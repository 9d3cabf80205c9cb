// Build's identity half: the principals each workload presented, judged against what Kubernetes
// says it is; the trust inventory; the findings on roots, principals and proxy certificates.

package graph

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Finding kinds of identity and trust (issue 22).
const (
	FindingRootCertExpiring     = "root-cert-expiring"
	FindingRootCertMismatch     = "root-cert-mismatch"
	FindingPrincipalMismatch    = "principal-mismatch"
	FindingWorkloadCertExpiring = "workload-cert-expiring"
)

// spiffeID is a parsed principal; ok is false for anything else.
type spiffeID struct {
	trustDomain, namespace, serviceAccount string
	ok                                     bool
}

// workloadPrincipal is one principal one workload presented.
type workloadPrincipal struct {
	workload  nodeKey
	principal string
}

// mismatch is a principal that is not the one its workload should have.
type mismatch struct {
	workloadPrincipal
	reason   string
	severity string
}

// identityState is what Build gathers of identities while it adds samples.
type identityState struct {
	trusted map[string]bool      // the trust domain and its aliases
	sas     map[nodeKey][]string // each listed workload's ServiceAccounts
	parsed  map[string]spiffeID
	// observed lists, per workload, the principals it presented.
	observed map[nodeKey][]string
	judged   map[workloadPrincipal]*mismatch // nil: as expected
	// mismatched are the mismatches on each edge (index in traffic).
	mismatched map[int][]*mismatch
}

func newIdentityState(cluster Cluster) identityState {
	s := identityState{
		trusted:    map[string]bool{},
		sas:        make(map[nodeKey][]string, len(cluster.Workloads)),
		parsed:     map[string]spiffeID{},
		observed:   map[nodeKey][]string{},
		judged:     map[workloadPrincipal]*mismatch{},
		mismatched: map[int][]*mismatch{},
	}
	// Each cluster of a multi-cluster mesh trusts its own domain and
	// aliases; the principals of any of them are the mesh's (where two
	// clusters disagree, a cluster-trust finding says so).
	members := cluster.Members
	if members == nil {
		members = []Cluster{cluster}
	}
	for _, m := range members {
		if m.TrustDomain != "" {
			s.trusted[m.TrustDomain] = true
		}
		for _, alias := range m.TrustDomainAliases {
			s.trusted[alias] = true
		}
	}
	for _, w := range cluster.Workloads {
		s.sas[nodeKey{w.Cluster, w.Namespace, w.Name}] = w.ServiceAccounts
	}
	return s
}

// trustedDomain: a principal of the mesh's trust domain or an alias is the
// mesh's own (Istio's trustDomainAliases, security/pkg/server/ca/authenticate
// and pilot/pkg/security/trustdomain/bundle.go); with no trust domain known,
// every one is.
func (s *identityState) trustedDomain(td string) bool {
	return len(s.trusted) == 0 || s.trusted[td]
}

func (s *identityState) parse(p string) spiffeID {
	id, ok := s.parsed[p]
	if !ok {
		id.trustDomain, id.namespace, id.serviceAccount, id.ok = ParsePrincipal(p)
		s.parsed[p] = id
	}
	return id
}

// notePrincipals records the principals a sample's two ends presented on
// the edge at traffic index edge.
func (b *builder) notePrincipals(edge int, s *Sample) {
	b.notePrincipal(edge, b.sourceKey(s), s.Source.Principal)
	b.notePrincipal(edge, b.destinationKey(s), s.Destination.Principal)
}

func (b *builder) notePrincipal(edge int, w nodeKey, principal string) {
	if !known(principal) || !known(w.namespace) || !known(w.name) {
		return
	}
	st := &b.identity
	key := workloadPrincipal{w, principal}
	m, seen := st.judged[key]
	if !seen {
		st.observed[w] = append(st.observed[w], principal)
		m = st.judge(key)
		st.judged[key] = m
	}
	if m != nil && !slices.Contains(st.mismatched[edge], m) {
		st.mismatched[edge] = append(st.mismatched[edge], m)
	}
}

// judge says why a workload's principal is not the one Kubernetes gives
// it, or nil: its trust domain must be the mesh's or an alias, its
// namespace the workload's, its ServiceAccount one its pods run as (Istio
// names a workload spiffe://<td>/ns/<ns>/sa/<sa>: pkg/spiffe/spiffe.go).
// A workload Kubernetes does not list (not watched) is judged by its trust
// domain alone.
func (st *identityState) judge(key workloadPrincipal) *mismatch {
	id := st.parse(key.principal)
	if !id.ok {
		return nil // not a SPIFFE id of Istio's form: nothing to compare
	}
	name := key.workload.id()
	if !st.trustedDomain(id.trustDomain) {
		return &mismatch{key, fmt.Sprintf("%s presents %s, whose trust domain %q is neither the mesh's nor one of its aliases: principal-based policy does not match it",
			name, key.principal, id.trustDomain), SeverityWarning}
	}
	sas := st.sas[key.workload]
	if len(sas) == 0 {
		return nil // not listed (or its ServiceAccount unknown)
	}
	if id.namespace != key.workload.namespace || !slices.Contains(sas, id.serviceAccount) {
		return &mismatch{key, fmt.Sprintf("%s presents %s, but Kubernetes runs it in namespace %s as ServiceAccount %s: its certificate names another identity",
			name, key.principal, key.workload.namespace, strings.Join(sas, ", ")), SeverityCritical}
	}
	return nil
}

// meshWorkload: a workload with a proxy of the mesh, which holds a mesh
// certificate (and so an identity).
func meshWorkload(w *Workload) bool {
	return w.Gateway || w.DataPlane == DataPlaneSidecar || w.DataPlane == DataPlaneAmbient || w.DataPlane == DataPlaneWaypoint
}

// buildIdentity is the trust inventory and every mesh workload's identity.
func (b *builder) buildIdentity(cluster Cluster, certs *CertFigures, t CertThresholds) Identity {
	t = t.withDefaults()
	id := Identity{
		Thresholds: ThresholdsView{RootWarnSeconds: int64(t.RootWarn / time.Second), RootCriticalSeconds: int64(t.RootCritical / time.Second),
			WorkloadWarnSeconds: int64(t.WorkloadWarn / time.Second)},
		TrustDomain:        cluster.TrustDomain,
		TrustDomainAliases: slices.Sorted(slices.Values(cluster.TrustDomainAliases)),
		Roots:              mergeRoots(cluster.Roots),
		Workloads:          []WorkloadIdentity{},
	}
	if id.TrustDomainAliases == nil {
		id.TrustDomainAliases = []string{}
	}
	if certs != nil {
		id.CA = CAFigures{RootExpiry: certs.RootExpiry, ChainExpiry: certs.ChainExpiry}
	}
	for i := range cluster.Workloads {
		w := &cluster.Workloads[i]
		if !meshWorkload(w) {
			continue
		}
		key := nodeKey{w.Cluster, w.Namespace, w.Name}
		sa := "default" // a pod without one runs as "default"
		if len(w.ServiceAccounts) > 0 {
			sa = w.ServiceAccounts[0]
		}
		wi := WorkloadIdentity{
			ID: key.id(), Cluster: w.Cluster, Namespace: w.Namespace, Name: w.Name,
			ServiceAccount:     sa,
			ObservedPrincipals: slices.Sorted(slices.Values(b.identity.observed[key])),
		}
		if td := b.trustDomain(w.Cluster); td != "" { // else no principal can be expected
			wi.ExpectedPrincipal = SPIFFEID(td, w.Namespace, sa)
		}
		if len(w.ServiceAccounts) > 1 {
			wi.ServiceAccounts = slices.Clone(w.ServiceAccounts)
		}
		if wi.ObservedPrincipals == nil {
			wi.ObservedPrincipals = []string{}
		}
		if certs != nil {
			for _, pod := range w.Pods {
				if at, ok := certs.Proxies[PodRef{w.Namespace, pod}]; ok && (wi.CertExpiry == nil || at.Before(*wi.CertExpiry)) {
					at := at.UTC()
					wi.CertExpiry = &at
				}
			}
		}
		id.Workloads = append(id.Workloads, wi)
	}
	slices.SortFunc(id.Workloads, func(a, b WorkloadIdentity) int { return strings.Compare(a.ID, b.ID) })
	return id
}

// trustDomain is the trust domain of a cluster's mesh config.
func (b *builder) trustDomain(cluster string) string {
	if m := b.members[cluster]; m != nil {
		return m.TrustDomain
	}
	return ""
}

// expectedPrincipals of a workload: one per ServiceAccount its pods run as.
func expectedPrincipals(trustDomain string, w *Workload) []string {
	if len(w.ServiceAccounts) == 0 {
		return []string{SPIFFEID(trustDomain, w.Namespace, "default")}
	}
	out := make([]string, len(w.ServiceAccounts))
	for i, sa := range w.ServiceAccounts {
		out[i] = SPIFFEID(trustDomain, w.Namespace, sa)
	}
	return out
}

// mergeRoots lists each distinct root once with the namespaces holding
// it, the soonest to expire first.
func mergeRoots(bundles []RootBundle) []Root {
	byFP := map[string]*Root{}
	for _, b := range bundles {
		for _, c := range b.Certs {
			r, ok := byFP[c.Fingerprint]
			if !ok {
				r = &Root{RootCert: c}
				byFP[c.Fingerprint] = r
			}
			if ns := clusterNamespace(b.Cluster, b.Namespace); !slices.Contains(r.Namespaces, ns) {
				r.Namespaces = append(r.Namespaces, ns)
			}
		}
	}
	out := make([]Root, 0, len(byFP))
	for _, fp := range slices.Sorted(maps.Keys(byFP)) {
		r := byFP[fp]
		slices.Sort(r.Namespaces)
		out = append(out, *r)
	}
	slices.SortStableFunc(out, func(a, b Root) int { return a.NotAfter.Compare(b.NotAfter) })
	return out
}

// addNodeIdentities gives each node its workloads' expected and observed
// principals and the soonest proxy certificate expiry: a workload node its
// own, a Service node those of the workloads it selects.
func (b *builder) addNodeIdentities(nodes []Node, cluster Cluster, services map[string]*Service, id Identity) {
	workloads := make(map[nodeKey]*Workload, len(cluster.Workloads))
	for i := range cluster.Workloads {
		w := &cluster.Workloads[i]
		if meshWorkload(w) {
			workloads[nodeKey{w.Cluster, w.Namespace, w.Name}] = w
		}
	}
	byID := make(map[string]*WorkloadIdentity, len(id.Workloads))
	for i := range id.Workloads {
		byID[id.Workloads[i].ID] = &id.Workloads[i]
	}
	for i := range nodes {
		n := &nodes[i]
		var names []string
		switch {
		case services[n.ID] != nil:
			names = services[n.ID].Workloads
		case n.Kind == KindWorkload || n.Kind == KindGateway:
			names = []string{n.Name}
		}
		for _, name := range names {
			key := nodeKey{n.Cluster, n.Namespace, name}
			w := workloads[key]
			wi := byID[key.id()]
			if w == nil || wi == nil {
				continue
			}
			if td := b.trustDomain(n.Cluster); td != "" { // else no principal can be expected
				for _, p := range expectedPrincipals(td, w) {
					n.ExpectedPrincipals = appendMissing(n.ExpectedPrincipals, p)
				}
			}
			for _, p := range wi.ObservedPrincipals {
				n.ObservedPrincipals = appendMissing(n.ObservedPrincipals, p)
			}
			if wi.CertExpiry != nil && (n.CertExpiry == nil || wi.CertExpiry.Before(*n.CertExpiry)) {
				n.CertExpiry = wi.CertExpiry
			}
		}
		slices.Sort(n.ExpectedPrincipals)
		slices.Sort(n.ObservedPrincipals)
	}
}

func appendMissing(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

// identityFindings: roots running out, namespaces holding another root
// bundle than the root namespace's, principals that are not who Kubernetes
// says, proxy certificates that stopped rotating.
func (b *builder) identityFindings(out []Finding, cluster Cluster, id Identity, edges []Edge, nodes []Node, t CertThresholds, now time.Time) []Finding {
	t = t.withDefaults()
	out = appendRootExpiring(out, cluster.Roots, id.Roots, t, now)
	if cluster.Members == nil {
		out = appendRootMismatch(out, cluster)
	} else {
		for _, m := range cluster.Members {
			out = appendRootMismatch(out, m)
		}
		out = b.appendClusterTrust(out, edges)
	}
	out = b.appendPrincipalMismatch(out, edges)
	return appendWorkloadCertExpiring(out, cluster, id, nodes, b, t, now)
}

func bundleObject(namespace string) string {
	return objectName("ConfigMap", namespace+"/"+RootBundleName)
}

// clusterNamespace names a namespace of one cluster of several:
// "<cluster>/<namespace>"; the namespace alone with one cluster.
func clusterNamespace(cluster, namespace string) string {
	if cluster == "" {
		return namespace
	}
	return cluster + "/" + namespace
}

// appendRootExpiring: a root within RootWarn of its end (critical within
// RootCritical, or past it). When a root ends, every proxy that trusts it
// alone fails every mTLS handshake at once. A root that every bundle
// holding it holds beside a root valid past RootWarn is being rotated
// out: said, as info.
func appendRootExpiring(out []Finding, bundles []RootBundle, roots []Root, t CertThresholds, now time.Time) []Finding {
	for _, r := range roots {
		left := r.NotAfter.Sub(now)
		if left >= t.RootWarn {
			continue
		}
		f := Finding{
			ID: FindingID(FindingRootCertExpiring, r.Fingerprint), Kind: FindingRootCertExpiring,
			Severity: SeverityWarning,
		}
		for _, ns := range r.Namespaces {
			f.Objects = append(f.Objects, bundleObject(ns))
		}
		when := fmt.Sprintf("expires in %s, on %s", daysLeft(left), formatTime(r.NotAfter))
		if left <= 0 {
			when = "expired on " + formatTime(r.NotAfter)
		}
		if left < t.RootCritical {
			f.Severity = SeverityCritical
		}
		name := fmt.Sprintf("The root certificate %s (SHA-256 %s…)", r.Subject, r.Fingerprint[:min(16, len(r.Fingerprint))])
		if successor := rotatedOut(bundles, r, now.Add(t.RootWarn)); successor != "" {
			f.Severity = SeverityInfo
			f.Message = fmt.Sprintf("%s %s; it is being rotated out: every bundle that holds it also holds %s, valid beyond %s.",
				name, when, successor, daysLeft(t.RootWarn))
		} else {
			f.Message = fmt.Sprintf("%s %s. When it does, every mTLS connection between proxies that trust only it fails; add its successor to the bundle and rotate before then.",
				name, when)
		}
		out = append(out, f)
	}
	return out
}

// rotatedOut names a root that sits beside r in every bundle holding r and
// is valid after until, or "".
func rotatedOut(bundles []RootBundle, r Root, until time.Time) string {
	successor := ""
	for _, b := range bundles {
		if !slices.ContainsFunc(b.Certs, func(c RootCert) bool { return c.Fingerprint == r.Fingerprint }) {
			continue
		}
		found := ""
		for _, c := range b.Certs {
			if c.Fingerprint != r.Fingerprint && c.NotAfter.After(until) {
				found = c.Subject
				break
			}
		}
		if found == "" {
			return ""
		}
		successor = found
	}
	return successor
}

// daysLeft writes a remaining time in whole days, or hours under two days.
func daysLeft(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d/time.Hour))
	case d > 0:
		return fmt.Sprintf("%d minutes", max(1, int(d/time.Minute)))
	}
	return "0 minutes"
}

// appendRootMismatch: a namespace with mesh workloads whose bundle is not
// the root namespace's. istiod writes the root namespace's roots into every
// namespace (pilot/pkg/serviceregistry/kube/controller/namespacecontroller.go);
// a copy that differs is a rotation under way (some roots shared: warning)
// or a stale copy (none shared, or no bundle at all: its proxies trust
// another root than the mesh's, or cannot start: critical).
func appendRootMismatch(out []Finding, cluster Cluster) []Finding {
	bundles := map[string]*RootBundle{}
	for i := range cluster.Roots {
		bundles[cluster.Roots[i].Namespace] = &cluster.Roots[i]
	}
	root := bundles[cluster.RootNamespace]
	if cluster.RootNamespace == "" || root == nil {
		return out // nothing to compare with
	}
	rootFPs := fingerprints(root)
	meshNamespaces := map[string]bool{}
	for i := range cluster.Workloads {
		if w := &cluster.Workloads[i]; meshWorkload(w) && w.Namespace != cluster.RootNamespace {
			meshNamespaces[w.Namespace] = true
		}
	}
	for _, ns := range slices.Sorted(maps.Keys(meshNamespaces)) {
		// With several clusters, each compares with its own root namespace,
		// and names carry the cluster.
		name, rootName := clusterNamespace(cluster.Name, ns), clusterNamespace(cluster.Name, cluster.RootNamespace)
		f := Finding{ID: FindingID(FindingRootCertMismatch, name), Kind: FindingRootCertMismatch,
			Objects: []string{bundleObject(name), bundleObject(rootName)}}
		b := bundles[ns]
		if b == nil {
			f.Severity = SeverityCritical
			f.Objects = f.Objects[1:]
			f.Message = fmt.Sprintf("Namespace %s runs mesh workloads but holds no %s ConfigMap: its proxies have no root to verify istiod and their peers with, and new pods cannot start.",
				name, RootBundleName)
			out = append(out, f)
			continue
		}
		fps := fingerprints(b)
		if slices.Equal(fps, rootFPs) {
			continue
		}
		shared := 0
		for _, fp := range fps {
			if slices.Contains(rootFPs, fp) {
				shared++
			}
		}
		problem := ""
		if b.Error != "" {
			problem = " (" + b.Error + ")"
		}
		if shared > 0 {
			f.Severity = SeverityWarning
			f.Message = fmt.Sprintf("The root bundle of namespace %s holds %d root(s), %s holds %d; %d are shared%s: a rotation under way, or a copy istiod has not updated yet.",
				name, len(fps), rootName, len(rootFPs), shared, problem)
		} else {
			f.Severity = SeverityCritical
			f.Message = fmt.Sprintf("The root bundle of namespace %s shares no root with %s's%s: a stale copy; its proxies trust another root than the mesh's, and mTLS with the rest of the mesh fails.",
				name, rootName, problem)
		}
		out = append(out, f)
	}
	return out
}

func fingerprints(b *RootBundle) []string {
	out := make([]string, 0, len(b.Certs))
	for _, c := range b.Certs {
		out = appendMissing(out, c.Fingerprint)
	}
	slices.Sort(out)
	return out
}

// appendPrincipalMismatch: one finding per edge on which a workload
// presented a principal that is not its own, naming the edge and the
// workload's node.
func (b *builder) appendPrincipalMismatch(out []Finding, edges []Edge) []Finding {
	if len(b.identity.mismatched) == 0 {
		return out
	}
	byID := make(map[string]bool, len(edges))
	for i := range edges {
		byID[edges[i].ID] = true
	}
	for idx, ms := range b.identity.mismatched {
		t := &b.traffic[idx]
		src, dst := &b.nodes[t.key.source], &b.nodes[t.key.target]
		edgeID := EdgeID(src.node.ID, dst.node.ID, t.key.protocol)
		if !byID[edgeID] {
			continue // the edge was dropped (no traffic of its own)
		}
		slices.SortFunc(ms, func(x, y *mismatch) int {
			return cmp.Or(strings.Compare(x.workload.cluster, y.workload.cluster), strings.Compare(x.workload.namespace, y.workload.namespace), strings.Compare(x.workload.name, y.workload.name),
				strings.Compare(x.principal, y.principal))
		})
		f := Finding{ID: FindingID(FindingPrincipalMismatch, edgeID), Kind: FindingPrincipalMismatch,
			Severity: SeverityWarning, Edges: []string{edgeID}}
		var reasons []string
		for _, m := range ms {
			if m.severity == SeverityCritical {
				f.Severity = SeverityCritical
			}
			reasons = append(reasons, m.reason)
			if idx, ok := b.byKey[m.workload]; ok && b.nodes[idx].used {
				f.Nodes = appendMissing(f.Nodes, b.nodes[idx].node.ID)
			} else if idx, ok := b.selectedBy[m.workload]; ok && (b.nodes[idx].used || b.nodes[idx].origin == originClusterService) {
				f.Nodes = appendMissing(f.Nodes, b.nodes[idx].node.ID)
			}
		}
		if len(f.Nodes) == 0 {
			f.Nodes = []string{src.node.ID}
		}
		slices.Sort(f.Nodes)
		f.Message = "On " + edgeID + ": " + strings.Join(reasons, "; ") + "."
		out = append(out, f)
	}
	return out
}

// appendWorkloadCertExpiring: a proxy certificate with less than
// WorkloadWarn left. istio-agent renews its 24 h certificate at half its
// life (security/pkg/nodeagent/cache/secretcache.go rotateTime, grace
// ratio 0.5), so less than a quarter left means rotation has stalled; the
// proxy fails every mTLS handshake once it expires.
func appendWorkloadCertExpiring(out []Finding, cluster Cluster, id Identity, nodes []Node, b *builder, t CertThresholds, now time.Time) []Finding {
	shown := make(map[string]bool, len(nodes))
	for i := range nodes {
		shown[nodes[i].ID] = true
	}
	pods := make(map[nodeKey][]string, len(cluster.Workloads))
	for i := range cluster.Workloads {
		w := &cluster.Workloads[i]
		pods[nodeKey{w.Cluster, w.Namespace, w.Name}] = w.Pods
	}
	for _, wi := range id.Workloads {
		if wi.CertExpiry == nil {
			continue
		}
		left := wi.CertExpiry.Sub(now)
		if left >= t.WorkloadWarn {
			continue
		}
		key := nodeKey{wi.Cluster, wi.Namespace, wi.Name}
		f := Finding{ID: FindingID(FindingWorkloadCertExpiring, wi.ID), Kind: FindingWorkloadCertExpiring, Severity: SeverityWarning}
		for _, pod := range pods[key] {
			f.Objects = append(f.Objects, objectName("Pod", clusterNamespace(wi.Cluster, wi.Namespace)+"/"+pod))
		}
		if idx, ok := b.selectedBy[key]; ok && shown[b.nodes[idx].node.ID] {
			f.Nodes = []string{b.nodes[idx].node.ID}
		} else if shown[wi.ID] {
			f.Nodes = []string{wi.ID}
		}
		if left <= 0 {
			f.Severity = SeverityCritical
			f.Message = fmt.Sprintf("The proxy certificate of %s expired on %s: its mTLS handshakes fail; istio-agent has not renewed it.",
				wi.ID, formatTime(*wi.CertExpiry))
		} else {
			f.Message = fmt.Sprintf("The proxy certificate of %s expires in %s, on %s: Istio renews a certificate at half its life, so its rotation has stalled (is istiod reachable from it?).",
				wi.ID, daysLeft(left), formatTime(*wi.CertExpiry))
		}
		out = append(out, f)
	}
	return out
}
