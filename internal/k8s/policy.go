package k8s

import (
	"sort"
	"strings"

	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// This file resolves Istio policy the way istiod does: which DestinationRule
// a client sidecar gets for a host (and its TLS mode), and which
// PeerAuthentication mode a server workload enforces. It is pure, so both the
// dashboard and the simulated mesh (internal/meshsim) use it.

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

// Principal is the SPIFFE identity Istio issues to a service account.
func Principal(namespace, serviceAccount string) string {
	return "spiffe://" + clusterDomain + "/ns/" + namespace + "/sa/" + serviceAccount
}

// ClientPolicyQuery names what a client sidecar needs a DestinationRule for.
type ClientPolicyQuery struct {
	ClientNamespace string
	ServiceName     string
	ServiceNS       string
	ServicePort     int32
	Subset          string // "" = the whole service
	RootNamespace   string
}

// ClientPolicy is the resolved client-side policy for one service port (and subset).
type ClientPolicy struct {
	// Rule is the oldest DestinationRule of the consolidated set that applies; nil if none.
	Rule *networkingv1.DestinationRule
	TLS  TLSMode
	// SubsetFound is false when a subset was requested but no applicable rule defines it.
	SubsetFound  bool
	SubsetLabels map[string]string
}

// ResolveClientPolicy picks the DestinationRule(s) a client sidecar in
// q.ClientNamespace gets for the service and resolves the TLS mode for the
// port and subset.
func ResolveClientPolicy(rules []*networkingv1.DestinationRule, q ClientPolicyQuery) ClientPolicy {
	root := q.RootNamespace
	if root == "" {
		root = DefaultRootNamespace
	}
	group := selectDestinationRules(rules, q.ClientNamespace, q.ServiceNS, ServiceFQDN(q.ServiceName, q.ServiceNS), root)
	out := ClientPolicy{SubsetFound: q.Subset == ""}
	if len(group) == 0 {
		return out
	}
	out.Rule = group[0]

	// istiod consolidates same-host rules of one namespace: the oldest non-nil
	// top-level trafficPolicy wins and subsets are unioned, first name wins.
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
	out.TLS = mergedTLS(top, subset.GetTrafficPolicy(), q.ServicePort)
	return out
}

// mergedTLS follows istiod's MergeSubsetTrafficPolicy for the tls field:
// subset portLevelSettings[port] > subset tls > top-level portLevelSettings[port] > top-level tls.
// A portLevelSettings entry that matches the port REPLACES the level above it
// even when it has no tls ("port level policies do not inherit"), so it resets
// tls to unset rather than falling through.
func mergedTLS(top, subset *networkingapi.TrafficPolicy, port int32) TLSMode {
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

// selectDestinationRules follows istiod's PushContext.destinationRule for a
// sidecar: (1) the client's own namespace (all its rules, whatever exportTo says),
// (2) rules exported from the service's namespace, (3) rules exported from the
// root namespace. It returns the consolidated same-host group, oldest first.
func selectDestinationRules(rules []*networkingv1.DestinationRule, clientNS, svcNS, fqdn, root string) []*networkingv1.DestinationRule {
	var local []*networkingv1.DestinationRule
	for _, dr := range rules {
		if dr.Namespace != clientNS {
			continue
		}
		// A proxy in the root namespace only sees the root's private rules here;
		// the exported ones are found in step 3 like everybody else.
		if clientNS == root && !isPrivateRule(dr) {
			continue
		}
		local = append(local, dr)
	}
	if group := mostSpecificGroup(local, fqdn); group != nil {
		return group
	}
	for _, ns := range []string{svcNS, root} {
		var exported []*networkingv1.DestinationRule
		for _, dr := range rules {
			if dr.Namespace == ns && !isPrivateRule(dr) {
				exported = append(exported, dr)
			}
		}
		group := mostSpecificGroup(exported, fqdn)
		if group != nil && exportedTo(group, clientNS) {
			return group
		}
		// The most specific match not being visible does not fall back to a less
		// specific one in the same namespace: istiod moves on to the next namespace.
	}
	return nil
}

// isPrivateRule: exportTo is exactly "." or the rule's own namespace.
func isPrivateRule(dr *networkingv1.DestinationRule) bool {
	e := dr.Spec.GetExportTo()
	return len(e) == 1 && (e[0] == "." || e[0] == dr.Namespace)
}

func exportedTo(group []*networkingv1.DestinationRule, clientNS string) bool {
	var all []string
	for _, dr := range group {
		all = append(all, dr.Spec.GetExportTo()...)
	}
	if len(all) == 0 {
		return true // no exportTo: the mesh default, "*"
	}
	for _, e := range all {
		if e == "*" || e == clientNS {
			return true
		}
	}
	return false
}

// mostSpecificGroup returns the rules whose resolved host is the most specific
// match for fqdn (exact beats wildcard, longer wildcard beats shorter), sorted
// oldest first, then by name.
func mostSpecificGroup(rules []*networkingv1.DestinationRule, fqdn string) []*networkingv1.DestinationRule {
	best := ""
	for _, dr := range rules {
		h := resolveRuleHost(dr.Spec.GetHost(), dr.Namespace)
		if hostMatches(h, fqdn) && moreSpecific(h, best) {
			best = h
		}
	}
	if best == "" {
		return nil
	}
	var group []*networkingv1.DestinationRule
	for _, dr := range rules {
		if resolveRuleHost(dr.Spec.GetHost(), dr.Namespace) == best {
			group = append(group, dr)
		}
	}
	sort.SliceStable(group, func(i, j int) bool { return lessByAgeThenName(group[i].ObjectMeta, group[j].ObjectMeta) })
	return group
}

// resolveRuleHost is istiod's ResolveShortnameToFQDN: only a name without any
// dot is expanded, in the rule's namespace. "reviews.default" is taken
// literally and therefore matches no Kubernetes service hostname.
func resolveRuleHost(host, namespace string) string {
	if host == "*" || strings.Contains(host, ".") {
		return host
	}
	return ServiceFQDN(host, namespace)
}

func hostMatches(ruleHost, fqdn string) bool {
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
		return current == nil || lessByAgeThenName(candidate.ObjectMeta, current.ObjectMeta)
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

func lessByAgeThenName(a, b metav1.ObjectMeta) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}
