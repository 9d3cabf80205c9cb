// Mode destinationrule: mTLS by DestinationRule. ISTIO_MUTUAL merged into the rule istiod uses for
// each host of the scope (or a new rule), the rules that shadow it named, and as breaks the callers
// with a sidecar that would send mTLS to a server without one.

package enforce

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	networkingapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/istio"
	"github.com/meshlock/meshlock/internal/k8s"
)

// destinationRuleMode makes clients send Istio mTLS: tls ISTIO_MUTUAL.
type destinationRuleMode struct{}

func (destinationRuleMode) Name() string { return ModeDestinationRule }

func (destinationRuleMode) effect() string { return "ISTIO_MUTUAL mTLS" }

func (destinationRuleMode) validate(Request) error { return nil }

func (destinationRuleMode) plan(ctx context.Context, e *Enforcer, c k8s.Clients, req Request) (planned, error) {
	steps, err := e.planDestinationRules(ctx, c, req)
	return planned{steps: steps}, err
}

// warnings: at mesh scope the rules a *.local rule cannot reach, at every
// scope the workload-selected rules that come first for their clients.
func (destinationRuleMode) warnings(ctx context.Context, e *Enforcer, c k8s.Clients, req Request) ([]string, error) {
	var warnings []string
	if req.Scope == ScopeMesh {
		shadowing, err := shadowingRules(ctx, c)
		if err != nil {
			return nil, err
		}
		warnings = shadowing
	}
	selected, err := e.selectedRules(ctx, c, req)
	if err != nil {
		return nil, err
	}
	return append(warnings, selected...), nil
}

// preview: callers with a sidecar (which ISTIO_MUTUAL makes send mTLS)
// into servers without one. With several clusters, a DestinationRule binds
// the clients of its own cluster, whichever cluster serves them.
func (destinationRuleMode) preview(s graph.Snapshot, req Request, _ Result) ([]Break, []string) {
	nodes := map[string]graph.Node{}
	for _, n := range s.Nodes {
		nodes[n.ID] = n
	}
	out := []Break{}
	for _, n := range servicesInScope(s, req, false) {
		if n.InMesh {
			continue
		}
		for _, e := range s.Edges {
			if e.Target != n.ID || e.Source == graph.Unknown || nodes[e.Source].Cluster != req.Cluster {
				continue
			}
			out = append(out, newBreak(e, graph.LastSeen(e, s.GeneratedAt), "ISTIO_MUTUAL towards a server without a sidecar"))
		}
	}
	return out, ambientWarnings(s, req)
}

// ambientWarnings say what a DestinationRule does not do for the ambient
// workloads in scope: ztunnel reads no DestinationRule (istio/ztunnel
// src/xds/types.rs), so ambient callers' traffic is the same before and
// after; sidecar callers send them HBONE with or without it
// (istio/istio pilot/pkg/networking/core/cluster_tls.go), so only their
// traffic to sidecars changes.
func ambientWarnings(s graph.Snapshot, req Request) []string {
	var ambient []string
	for _, n := range servicesInScope(s, req, true) {
		if n.DataPlane == graph.DataPlaneAmbient {
			ambient = append(ambient, n.ID)
		}
	}
	if len(ambient) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%s %s in ambient mode: ztunnel reads no DestinationRule, so this changes nothing on the wire for ambient callers (their ztunnel already sends its tunnel), and sidecar callers already reach ambient workloads over HBONE. To refuse plaintext there, enforce a STRICT PeerAuthentication.",
		strings.Join(ambient, ", "), map[bool]string{true: "is", false: "are"}[len(ambient) == 1])}
}

// meshHost is the host of the mesh-wide DestinationRule.
const meshHost = "*.local"

type ruleTarget struct {
	namespace, host, fqdn, baseName string
	ports                           []int32 // nil: check the rule without a port
}

// ruleTargets are the hosts a DestinationRule plan covers: the mesh's
// *.local, or each Service of the request; and the namespace of their rules.
func (e *Enforcer) ruleTargets(ctx context.Context, c k8s.Clients, req Request) ([]ruleTarget, string, error) {
	if req.Scope == ScopeMesh {
		ns := e.opts.RootNamespace
		return []ruleTarget{{namespace: ns, host: meshHost, fqdn: meshHost, baseName: "default"}}, ns, nil
	}
	services, err := getServices(ctx, c, req)
	if err != nil {
		return nil, "", err
	}
	var targets []ruleTarget
	for _, svc := range services {
		targets = append(targets, ruleTarget{namespace: svc.namespace, host: svc.name,
			fqdn: istio.ServiceFQDN(svc.name, svc.namespace), baseName: svc.name, ports: svc.ports})
	}
	return targets, req.Namespace, nil
}

func (e *Enforcer) planDestinationRules(ctx context.Context, c k8s.Clients, req Request) ([]planStep, error) {
	targets, ns, err := e.ruleTargets(ctx, c, req)
	if err != nil || len(targets) == 0 {
		return nil, err
	}
	list, err := c.Istio.NetworkingV1().DestinationRules(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	rules := make([]*networkingv1.DestinationRule, 0, len(list.Items))
	taken := map[string]bool{}
	for _, dr := range list.Items {
		rules = append(rules, dr)
		taken[dr.Name] = true
	}
	var steps []planStep
	for _, t := range targets {
		step, err := planRule(rules, t, taken)
		if err != nil {
			return nil, err
		}
		steps = append(steps, step)
	}
	return steps, nil
}

// shadowingRules names the DestinationRules that a mesh rule for *.local
// cannot reach: istiod gives a host only its most specific rule, so a rule
// for a single host that does not say ISTIO_MUTUAL keeps that host's
// clients as they are.
func shadowingRules(ctx context.Context, c k8s.Clients) ([]string, error) {
	list, err := c.Istio.NetworkingV1().DestinationRules(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var warnings []string
	for _, dr := range list.Items {
		host := istio.ResolveRuleHost(dr.Spec.GetHost(), dr.Namespace)
		if host == meshHost || !istio.HostMatches(meshHost, host) || dr.Spec.GetWorkloadSelector() != nil {
			continue
		}
		if tls := istio.MergedTLS(dr.Spec.GetTrafficPolicy(), nil, 0); tls != istio.TLSModeIstioMutual {
			warnings = append(warnings, fmt.Sprintf("DestinationRule %s/%s is more specific than %s and sets no ISTIO_MUTUAL, so %s keeps its clients' TLS: enforce on namespace %s to update it",
				dr.Namespace, dr.Name, meshHost, host, dr.Namespace))
		}
	}
	sort.Strings(warnings)
	return warnings, nil
}

// selectedRules names the DestinationRules with a workloadSelector that
// the plan's rules leave alone while they set no ISTIO_MUTUAL for a host
// the plan covers: for the clients they select they come first
// (pilot/pkg/model/sidecar.go, SidecarScope's rules: a rule selecting the
// workload before the namespace's), so those clients keep sending what
// they send now.
func (e *Enforcer) selectedRules(ctx context.Context, c k8s.Clients, req Request) ([]string, error) {
	targets, _, err := e.ruleTargets(ctx, c, req)
	if err != nil || len(targets) == 0 {
		return nil, err
	}
	list, err := c.Istio.NetworkingV1().DestinationRules(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var warnings []string
	for _, dr := range list.Items {
		selector := dr.Spec.GetWorkloadSelector()
		if selector == nil || istio.MergedTLS(dr.Spec.GetTrafficPolicy(), nil, 0) == istio.TLSModeIstioMutual {
			continue
		}
		ruleHost := istio.ResolveRuleHost(dr.Spec.GetHost(), dr.Namespace)
		for _, t := range targets {
			host := t.fqdn
			if istio.HostMatches(ruleHost, host) || istio.HostMatches(host, ruleHost) {
				warnings = append(warnings, fmt.Sprintf("DestinationRule %s/%s selects workloads (%s) of namespace %s and sets no ISTIO_MUTUAL for %s: for them it replaces the rule enforced here, so they keep sending what they send now; give it tls ISTIO_MUTUAL",
					dr.Namespace, dr.Name, describeSelector(selector.GetMatchLabels()), dr.Namespace, host))
				break
			}
		}
	}
	sort.Strings(warnings)
	return warnings, nil
}

// planRule merges tls ISTIO_MUTUAL into the rule istiod uses for the host in
// its namespace, or plans a new rule. taken holds the names in use (the
// plan's new names are added to it).
func planRule(rules []*networkingv1.DestinationRule, t ruleTarget, taken map[string]bool) (planStep, error) {
	// istiod consolidates the same-host rules of a namespace: the oldest
	// top-level trafficPolicy wins, so that is the rule to update. Rules with
	// a workloadSelector apply to some clients only; they are left alone.
	var group []*networkingv1.DestinationRule
	for _, dr := range rules {
		if dr.Namespace == t.namespace && istio.ResolveRuleHost(dr.Spec.GetHost(), dr.Namespace) == t.fqdn && dr.Spec.GetWorkloadSelector() == nil {
			group = append(group, dr)
		}
	}
	sort.SliceStable(group, func(i, j int) bool { return istio.OlderFirst(group[i].ObjectMeta, group[j].ObjectMeta) })

	if len(group) == 0 {
		name := freeName(t.baseName, "mtls", taken)
		taken[name] = true
		dr := &networkingv1.DestinationRule{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: t.namespace, Labels: map[string]string{ManagedByLabel: ManagedByValue}},
		}
		dr.Spec.Host = t.host
		dr.Spec.TrafficPolicy = &networkingapi.TrafficPolicy{Tls: &networkingapi.ClientTLSSettings{Mode: networkingapi.ClientTLSSettings_ISTIO_MUTUAL}}
		return createStep(KindDestinationRule, dr)
	}

	target := group[0]
	for _, dr := range group {
		if dr.Spec.GetTrafficPolicy() != nil {
			target = dr
			break
		}
	}
	doc, err := toDoc(target)
	if err != nil {
		return planStep{}, err
	}
	b := &patchBuilder{doc: doc}
	var conflicts []string
	mutual := func() map[string]any {
		return map[string]any{"mode": networkingapi.ClientTLSSettings_ISTIO_MUTUAL.String()}
	}

	top := target.Spec.GetTrafficPolicy()
	switch {
	case top == nil:
		b.set(map[string]any{"tls": mutual()}, "spec", "trafficPolicy")
	case top.GetTls() == nil:
		b.set(mutual(), "spec", "trafficPolicy", "tls")
	default:
		switch mode := top.GetTls().GetMode(); mode {
		case networkingapi.ClientTLSSettings_ISTIO_MUTUAL:
		case networkingapi.ClientTLSSettings_DISABLE:
			b.set(networkingapi.ClientTLSSettings_ISTIO_MUTUAL.String(), "spec", "trafficPolicy", "tls", "mode")
		default:
			conflicts = append(conflicts, fmt.Sprintf("its trafficPolicy sets tls.mode %s (TLS origination with its own settings), which meshlock does not replace", mode))
		}
	}
	// A port-level entry replaces the level above it for its port (it does
	// not inherit tls), so one without tls gets ISTIO_MUTUAL too.
	portLevels := func(policy *networkingapi.TrafficPolicy, where string, path ...any) {
		for i, p := range policy.GetPortLevelSettings() {
			at := append(slices.Clone(path), "portLevelSettings", i, "tls")
			switch {
			case p.GetTls() == nil:
				b.set(mutual(), at...)
			case p.GetTls().GetMode() != networkingapi.ClientTLSSettings_ISTIO_MUTUAL:
				conflicts = append(conflicts, fmt.Sprintf("%sport %d sets tls.mode %s", where, p.GetPort().GetNumber(), p.GetTls().GetMode()))
			}
		}
	}
	portLevels(top, "", "spec", "trafficPolicy")
	for i, s := range target.Spec.GetSubsets() {
		policy := s.GetTrafficPolicy()
		if policy.GetTls() != nil && policy.GetTls().GetMode() != networkingapi.ClientTLSSettings_ISTIO_MUTUAL {
			conflicts = append(conflicts, fmt.Sprintf("subset %s sets tls.mode %s", s.GetName(), policy.GetTls().GetMode()))
		}
		portLevels(policy, "subset "+s.GetName()+" ", "spec", "subsets", i, "trafficPolicy")
	}
	// The other rules of the group still contribute their subsets.
	for _, dr := range group {
		if dr == target {
			continue
		}
		for _, s := range dr.Spec.GetSubsets() {
			if tls := s.GetTrafficPolicy().GetTls(); tls != nil && tls.GetMode() != networkingapi.ClientTLSSettings_ISTIO_MUTUAL {
				conflicts = append(conflicts, fmt.Sprintf("subset %s of DestinationRule %s/%s (same host) sets tls.mode %s", s.GetName(), dr.Namespace, dr.Name, tls.GetMode()))
			}
		}
	}

	merged := &networkingv1.DestinationRule{}
	if err := fromDoc(b.doc, merged); err != nil {
		return planStep{}, err
	}
	if len(conflicts) == 0 {
		conflicts = verifyRuleTLS(merged, t.ports)
	}
	return updateStep(KindDestinationRule, target, merged, b, conflicts)
}

// verifyRuleTLS resolves the merged rule the way istiod does (istio.MergedTLS in
// policy.go) for every port and subset, as a last check of the merge.
func verifyRuleTLS(dr *networkingv1.DestinationRule, ports []int32) []string {
	if len(ports) == 0 {
		ports = []int32{0}
	}
	var problems []string
	for _, port := range ports {
		subsets := append([]*networkingapi.Subset{nil}, dr.Spec.GetSubsets()...)
		for _, s := range subsets {
			if got := istio.MergedTLS(dr.Spec.GetTrafficPolicy(), s.GetTrafficPolicy(), port); got != istio.TLSModeIstioMutual {
				problems = append(problems, fmt.Sprintf("port %d of subset %q would still resolve to tls %q", port, s.GetName(), got))
			}
		}
	}
	return problems
}
