// Istio policy resolution as istiod does it: the DestinationRule and TLS mode a client sidecar
// gets for a host, port and subset, and the PeerAuthentication mode a server workload enforces.

package istio

import (
	"slices"
	"sort"
	"strings"

	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TLSMode is the client-side TLS setting a DestinationRule resolves to.
type TLSMode string

const (
	// TLSModeNone means no level of the DestinationRule sets tls (or no rule applies).
	TLSModeNone        TLSMode = ""
	TLSModeDisable     TLSMode = "DISABLE"
	TLSModeSimple      TLSMode = "SIMPLE"
	TLSModeMutual      TLSMode = "MUTUAL"
	TLSModeIstioMutual TLSMode = "ISTIO_MUTUAL"
)

// PeerMode is a PeerAuthentication mTLS mode.
type PeerMode string

const (
	PeerModeUnset      PeerMode = "UNSET"
	PeerModeDisable    PeerMode = "DISABLE"
	PeerModePermissive PeerMode = "PERMISSIVE"
	PeerModeStrict     PeerMode = "STRICT"
)

// DefaultRootNamespace is istiod's default mesh config root namespace.
const DefaultRootNamespace = "istio-system"

const clusterDomain = "cluster.local"

// ServiceFQDN is the Kubernetes service hostname istiod uses as the cluster host.
func ServiceFQDN(name, namespace string) string {
	return name + "." + namespace + ".svc." + clusterDomain
}

// ClientPolicyQuery names what a client sidecar needs a DestinationRule for.
type ClientPolicyQuery struct {
	ClientNamespace string
	// ClientLabels are the client workload's pod labels, which
	// workloadSelector rules of its namespace are matched against.
	ClientLabels  map[string]string
	ServiceName   string
	ServiceNS     string
	ServicePort   int32
	Subset        string // "" = the whole service
	RootNamespace string
}

// ClientPolicy is the resolved client-side policy for one service port (and subset).
type ClientPolicy struct {
	// Rule is the oldest DestinationRule of the consolidated set that applies; nil if none.
	Rule *networkingv1.DestinationRule
	// TLS is the cluster's TLS setting (CDS): TLSModeNone leaves the choice
	// to auto mTLS, per endpoint.
	TLS TLSMode
	// EndpointTLS is the mode istiod's per-endpoint mTLS check reads
	// (pilot/pkg/xds/endpoints/mtls_checker.go): a port-level entry without
	// tls inherits the top-level mode there, unlike in the cluster. When TLS
	// is TLSModeNone and EndpointTLS is set to anything but ISTIO_MUTUAL,
	// every endpoint is sent plaintext.
	EndpointTLS TLSMode
	// SubsetFound is false when a subset was requested but no applicable rule defines it.
	SubsetFound  bool
	SubsetLabels map[string]string
}

// Effective is what the client's sidecar sends, as one mode: the cluster's
// TLS when it sets one; DISABLE when the endpoint check strips mTLS from
// every endpoint (a top-level DISABLE under a port-level entry without tls);
// else TLSModeNone (auto mTLS decides per endpoint).
func (p ClientPolicy) Effective() TLSMode {
	if p.TLS != TLSModeNone {
		return p.TLS
	}
	if p.EndpointTLS != TLSModeNone && p.EndpointTLS != TLSModeIstioMutual {
		return TLSModeDisable
	}
	return TLSModeNone
}

// ResolveClientPolicy picks the DestinationRule a client sidecar in
// q.ClientNamespace (with q.ClientLabels) gets for the service and resolves
// the TLS mode for the port and subset.
func ResolveClientPolicy(rules []*networkingv1.DestinationRule, q ClientPolicyQuery) ClientPolicy {
	root := q.RootNamespace
	if root == "" {
		root = DefaultRootNamespace
	}
	out := ClientPolicy{SubsetFound: q.Subset == ""}
	group := selectDestinationRule(rules, q, ServiceFQDN(q.ServiceName, q.ServiceNS), root)
	if len(group) == 0 {
		return out
	}
	out.Rule = group[0]

	// A merged rule: the oldest non-nil top-level trafficPolicy wins, never
	// field by field, and subsets are concatenated, the first name winning
	// (pilot/pkg/model/destination_rule.go mergeDestinationRule).
	var top *networkingapi.TrafficPolicy
	var subset *networkingapi.Subset
	for _, dr := range group {
		if top == nil && dr.Spec.GetTrafficPolicy() != nil {
			top = dr.Spec.GetTrafficPolicy()
		}
		if subset == nil && q.Subset != "" {
			for _, s := range dr.Spec.GetSubsets() {
				if s.GetName() == q.Subset {
					subset = s
					break
				}
			}
		}
	}
	if q.Subset != "" && subset != nil {
		out.SubsetFound = true
		out.SubsetLabels = subset.GetLabels()
	}
	out.TLS = MergedTLS(top, subset.GetTrafficPolicy(), q.ServicePort)
	out.EndpointTLS = endpointTLS(top, subset.GetTrafficPolicy(), q.ServicePort)
	return out
}

// MergedTLS is the cluster's tls (pilot/pkg/networking/util/util.go
// GetPortLevelTrafficPolicy, MergeSubsetTrafficPolicy): a portLevelSettings
// entry matching the Service port REPLACES the level above it even when it
// has no tls ("port level policies do not inherit"), so it resets tls to
// unset; a subset's own port entry does the same to the rule's; a subset's
// top-level tls overrides the rule's port-resolved one.
func MergedTLS(top, subset *networkingapi.TrafficPolicy, port int32) TLSMode {
	tls := top.GetTls()
	if p, ok := portLevel(top, port); ok {
		tls = p.GetTls()
	}
	if subset != nil {
		if p, ok := portLevel(subset, port); ok {
			tls = p.GetTls()
		} else if subset.GetTls() != nil {
			tls = subset.GetTls()
		}
	}
	return tlsMode(tls)
}

// endpointTLS is the mode istiod's per-endpoint check reads
// (mtls_checker.go trafficPolicyTLSModeForPort): a port-level entry's tls
// when it has one, else the level's top-level tls; a subset without a mode
// falls back to the rule's (Istio 1.31 and later).
func endpointTLS(top, subset *networkingapi.TrafficPolicy, port int32) TLSMode {
	level := func(policy *networkingapi.TrafficPolicy) TLSMode {
		if p, ok := portLevel(policy, port); ok && p.GetTls() != nil {
			return tlsMode(p.GetTls())
		}
		return tlsMode(policy.GetTls())
	}
	if m := level(subset); subset != nil && m != TLSModeNone {
		return m
	}
	return level(top)
}

func tlsMode(tls *networkingapi.ClientTLSSettings) TLSMode {
	if tls == nil {
		return TLSModeNone
	}
	// The proto enum's zero value is DISABLE, so an empty `tls: {}` means DISABLE, as in Istio.
	return TLSMode(tls.GetMode().String())
}

func portLevel(policy *networkingapi.TrafficPolicy, port int32) (*networkingapi.TrafficPolicy_PortTrafficPolicy, bool) {
	for _, p := range policy.GetPortLevelSettings() {
		if p.GetPort() != nil && p.GetPort().GetNumber() == uint32(port) {
			return p, true
		}
	}
	return nil, false
}

// selectDestinationRule follows istiod (pilot/pkg/model/push_context.go
// setDestinationRules and destinationRule, sidecar.go DestinationRule):
//  1. the client's own namespace: its rules visible there (exportTo empty or
//     naming ".", "*" or the namespace itself) — in the root namespace only
//     its private ones;
//  2. the rules the service's namespace exports to the client's namespace;
//  3. the rules the root namespace exports to it.
//
// The first step with any rule for the host decides, the most specific host
// winning within a step only. Rules for one host merge only when their
// exportTo sets are equal (ENABLE_ENHANCED_DESTINATIONRULE_MERGE, on by
// default); of several such sets istiod hands the proxy the last one, in the
// order oldest first. A rule with a workloadSelector is private to its
// namespace whatever its exportTo, applies only to the client workloads it
// selects, and is preferred over the others (the oldest matching one), taking
// subsets and a missing top-level policy from non-selector rules of the same
// host that are exported exactly to ".". When the client's namespace has rules
// for the host but none applies to the client, it gets no rule: istiod does
// not go on to the next namespace. It returns the rules of the set, oldest
// first.
func selectDestinationRule(rules []*networkingv1.DestinationRule, q ClientPolicyQuery, fqdn, root string) []*networkingv1.DestinationRule {
	clientNS := q.ClientNamespace
	var local []*networkingv1.DestinationRule
	for _, dr := range rules {
		if dr.Namespace != clientNS {
			continue
		}
		if clientNS == root && !isPrivateRule(dr) && !hasSelector(dr) {
			continue // the root's exported rules are found in step 3, like everybody's
		}
		if visibleInOwnNamespace(dr) {
			local = append(local, dr)
		}
	}
	if best := mostSpecificHost(local, fqdn); best != "" {
		return pickForClient(hostRules(local, best), q.ClientLabels)
	}
	for _, ns := range []string{q.ServiceNS, root} {
		var exported []*networkingv1.DestinationRule
		for _, dr := range rules {
			if dr.Namespace == ns && !isPrivateRule(dr) && !hasSelector(dr) && exportedTo(dr, clientNS) {
				exported = append(exported, dr)
			}
		}
		if best := mostSpecificHost(exported, fqdn); best != "" {
			return lastExportSet(hostRules(exported, best))
		}
	}
	return nil
}

func hasSelector(dr *networkingv1.DestinationRule) bool {
	return len(dr.Spec.GetWorkloadSelector().GetMatchLabels()) > 0
}

// isPrivateRule: exportTo is exactly "." or the rule's own namespace. (The
// mesh's defaultDestinationRuleExportTo is taken as its default, "*".)
func isPrivateRule(dr *networkingv1.DestinationRule) bool {
	e := dr.Spec.GetExportTo()
	return len(e) == 1 && (e[0] == "." || e[0] == dr.Namespace)
}

// visibleInOwnNamespace: a rule exported only to other namespaces is not
// seen by the proxies of its own; a selector rule always is.
func visibleInOwnNamespace(dr *networkingv1.DestinationRule) bool {
	e := dr.Spec.GetExportTo()
	if len(e) == 0 || hasSelector(dr) {
		return true
	}
	for _, x := range e {
		if x == "." || x == "*" || x == dr.Namespace {
			return true
		}
	}
	return false
}

func exportedTo(dr *networkingv1.DestinationRule, clientNS string) bool {
	e := dr.Spec.GetExportTo()
	if len(e) == 0 {
		return true // no exportTo: the mesh default, "*"
	}
	for _, x := range e {
		if x == "*" || x == clientNS {
			return true
		}
	}
	return false
}

// exportKey is a rule's exportTo as a set: rules merge only when it is equal.
func exportKey(dr *networkingv1.DestinationRule) string {
	e := slices.Clone(dr.Spec.GetExportTo())
	for i, x := range e {
		if x == dr.Namespace {
			e[i] = "." // the own namespace and "." are the same set
		}
	}
	slices.Sort(e)
	return strings.Join(slices.Compact(e), ",")
}

// lastExportSet groups same-host rules by exportTo set (each oldest first)
// and answers the set istiod lists last: the one whose oldest rule is the
// youngest.
func lastExportSet(group []*networkingv1.DestinationRule) []*networkingv1.DestinationRule {
	sets := map[string][]*networkingv1.DestinationRule{}
	var order []string
	for _, dr := range group {
		k := exportKey(dr)
		if _, ok := sets[k]; !ok {
			order = append(order, k)
		}
		sets[k] = append(sets[k], dr)
	}
	return sets[order[len(order)-1]]
}

// pickForClient chooses among the client namespace's rules for one host:
// the oldest selector rule that selects the client (with the non-selector
// rules exported exactly to "." merged under it), else the non-selector
// rules' last export set, else none.
func pickForClient(group []*networkingv1.DestinationRule, clientLabels map[string]string) []*networkingv1.DestinationRule {
	var plain []*networkingv1.DestinationRule
	for _, dr := range group {
		if !hasSelector(dr) {
			plain = append(plain, dr)
		}
	}
	for _, dr := range group {
		if hasSelector(dr) && SelectorMatches(dr.Spec.GetWorkloadSelector().GetMatchLabels(), clientLabels) {
			out := []*networkingv1.DestinationRule{dr}
			for _, p := range plain {
				if exportKey(p) == "." {
					out = append(out, p)
				}
			}
			return out
		}
	}
	if len(plain) == 0 {
		return nil
	}
	return lastExportSet(plain)
}

// mostSpecificHost is the resolved host of rules that best matches fqdn
// (exact beats wildcard, longer wildcard beats shorter), "" when none does.
func mostSpecificHost(rules []*networkingv1.DestinationRule, fqdn string) string {
	best := ""
	for _, dr := range rules {
		h := ResolveRuleHost(dr.Spec.GetHost(), dr.Namespace)
		if HostMatches(h, fqdn) && moreSpecific(h, best) {
			best = h
		}
	}
	return best
}

// hostRules are the rules for host, oldest first, then by name (istiod's
// sortConfigBySelectorAndCreationTime puts selector rules first; pickForClient
// looks at them first instead).
func hostRules(rules []*networkingv1.DestinationRule, host string) []*networkingv1.DestinationRule {
	var group []*networkingv1.DestinationRule
	for _, dr := range rules {
		if ResolveRuleHost(dr.Spec.GetHost(), dr.Namespace) == host {
			group = append(group, dr)
		}
	}
	sort.SliceStable(group, func(i, j int) bool { return OlderFirst(group[i].ObjectMeta, group[j].ObjectMeta) })
	return group
}

// ResolveRuleHost is istiod's ResolveShortnameToFQDN: only a name without any
// dot is expanded, in the rule's namespace. "reviews.default" is taken
// literally and therefore matches no Kubernetes service hostname.
func ResolveRuleHost(host, namespace string) string {
	if host == "*" || strings.Contains(host, ".") {
		return host
	}
	return ServiceFQDN(host, namespace)
}

func HostMatches(ruleHost, fqdn string) bool {
	if strings.HasPrefix(ruleHost, "*") {
		return strings.HasSuffix(fqdn, ruleHost[1:])
	}
	return ruleHost == fqdn
}

// moreSpecific reports whether a beats b ("" = no match yet): a non-wildcard
// beats any wildcard, and among wildcards the longer suffix wins.
func moreSpecific(a, b string) bool {
	if b == "" {
		return true
	}
	aWild, bWild := strings.HasPrefix(a, "*"), strings.HasPrefix(b, "*")
	if aWild != bWild {
		return !aWild
	}
	return len(a) > len(b)
}

// EffectivePeerMode is the mode a sidecar workload enforces on targetPort:
// EffectivePeerAuthentication, with no policy at all meaning PERMISSIVE.
func EffectivePeerMode(policies []*securityv1.PeerAuthentication, rootNamespace, namespace string, podLabels map[string]string, targetPort int32) PeerMode {
	mode, _ := EffectivePeerAuthentication(policies, rootNamespace, namespace, podLabels, targetPort)
	if mode == PeerModeUnset {
		return PeerModePermissive
	}
	return mode
}

// EffectivePeerAuthentication composes PeerAuthentications like istiod's
// ComposePeerAuthentication for a sidecar workload: workload-level (selector
// matching the pod, in its namespace) > namespace-level (no selector) >
// mesh-level (no selector, root namespace); oldest wins within a level; UNSET
// inherits from the level above. A matching portLevelMtls entry of the
// workload-level policy (keyed by the container port) wins for that port,
// UNSET there inheriting the workload's mode. Selector policies in the root
// namespace are ignored in sidecar mode. It answers PeerModeUnset and no
// source when no policy sets a mode (Istio then behaves as PERMISSIVE), and
// otherwise the policy that decided.
func EffectivePeerAuthentication(policies []*securityv1.PeerAuthentication, rootNamespace, namespace string, podLabels map[string]string, targetPort int32) (PeerMode, *securityv1.PeerAuthentication) {
	if rootNamespace == "" {
		rootNamespace = DefaultRootNamespace
	}
	var mesh, ns, workload *securityv1.PeerAuthentication
	older := func(candidate, current *securityv1.PeerAuthentication) bool {
		return current == nil || OlderFirst(candidate.ObjectMeta, current.ObjectMeta)
	}
	for _, pa := range policies {
		selector := pa.Spec.GetSelector().GetMatchLabels()
		switch {
		case len(selector) == 0 && pa.Namespace == rootNamespace:
			if older(pa, mesh) {
				mesh = pa
			}
		case len(selector) == 0 && pa.Namespace == namespace:
			if older(pa, ns) {
				ns = pa
			}
		case len(selector) > 0 && pa.Namespace == namespace && namespace != rootNamespace && SelectorMatches(selector, podLabels):
			if older(pa, workload) {
				workload = pa
			}
		}
	}
	mode, source := PeerModeUnset, (*securityv1.PeerAuthentication)(nil)
	for _, level := range []*securityv1.PeerAuthentication{mesh, ns, workload} {
		if level == nil {
			continue
		}
		if m := peerMode(level.Spec.GetMtls()); m != PeerModeUnset {
			mode, source = m, level
		}
	}
	if workload != nil {
		if portMTLS, ok := workload.Spec.GetPortLevelMtls()[uint32(targetPort)]; ok {
			if m := peerMode(portMTLS); m != PeerModeUnset {
				mode, source = m, workload
			}
		}
	}
	return mode, source
}

func peerMode(m *securityapi.PeerAuthentication_MutualTLS) PeerMode {
	if m == nil {
		return PeerModeUnset
	}
	return PeerMode(m.GetMode().String())
}

// SelectorMatches reports whether labels carry every key and value of selector.
func SelectorMatches(selector, labels map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func OlderFirst(a, b metav1.ObjectMeta) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}
