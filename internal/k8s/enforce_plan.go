// Planning enforcement: which DestinationRules get ISTIO_MUTUAL (merged or new, shadowing rules
// named) and which PeerAuthentications become STRICT, for mesh, namespace or service scope.

package k8s

import (
	"github.com/meshlock/meshlock/internal/istio"

	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// meshHost is the host of the mesh-wide DestinationRule.
const meshHost = "*.local"

// absent is the recorded previous state of an object the action created.
const absent = "absent"

type serviceRef struct {
	name, namespace string
	selector        map[string]string
	ports           []int32
}

func newServiceRef(svc *corev1.Service) serviceRef {
	ref := serviceRef{name: svc.Name, namespace: svc.Namespace, selector: svc.Spec.Selector}
	for _, p := range svc.Spec.Ports {
		ref.ports = append(ref.ports, p.Port)
	}
	return ref
}

// planStep is one object of a plan.
type planStep struct {
	change   Change
	write    objectWrite
	previous string // YAML of the object before, or "absent"
}

func (e *Enforcer) plan(ctx context.Context, c Clients, req EnforceRequest) ([]planStep, error) {
	if req.Mode == ModePeerAuthentication {
		return e.planPeerAuthentication(ctx, c, req)
	}
	return e.planDestinationRules(ctx, c, req)
}

type ruleTarget struct {
	namespace, host, fqdn, baseName string
	ports                           []int32 // nil: check the rule without a port
}

// ruleTargets are the hosts a DestinationRule plan covers: the mesh's
// *.local, or each Service of the request; and the namespace of their rules.
func (e *Enforcer) ruleTargets(ctx context.Context, c Clients, req EnforceRequest) ([]ruleTarget, string, error) {
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

func (e *Enforcer) planDestinationRules(ctx context.Context, c Clients, req EnforceRequest) ([]planStep, error) {
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
func shadowingRules(ctx context.Context, c Clients) ([]string, error) {
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
func (e *Enforcer) selectedRules(ctx context.Context, c Clients, req EnforceRequest) ([]string, error) {
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
		name := freeName(t.baseName, taken)
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

// freeName is base, or the first of base-mtls, base-mtls-2, … not taken.
func freeName(base string, taken map[string]bool) string {
	if !taken[base] {
		return base
	}
	for i := 1; ; i++ {
		name := base + "-mtls"
		if i > 1 {
			name = fmt.Sprintf("%s-mtls-%d", base, i)
		}
		if !taken[name] {
			return name
		}
	}
}

func createStep(kind string, obj istioObject) (planStep, error) {
	yaml, err := objectYAML(obj)
	if err != nil {
		return planStep{}, err
	}
	return planStep{
		change:   Change{Action: ActionCreate, Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), YAML: yaml},
		write:    objectWrite{kind: kind, namespace: obj.GetNamespace(), name: obj.GetName(), create: obj},
		previous: absent,
	}, nil
}

func updateStep(kind string, current, merged istioObject, b *patchBuilder, conflicts []string) (planStep, error) {
	previous, err := objectYAML(current)
	if err != nil {
		return planStep{}, err
	}
	step := planStep{
		change: Change{Action: ActionUpdate, Kind: kind, Namespace: current.GetNamespace(), Name: current.GetName(),
			Previous: previous, Conflict: strings.Join(conflicts, "; ")},
		previous: previous,
		write: objectWrite{kind: kind, namespace: current.GetNamespace(), name: current.GetName(),
			ops: b.ops, inverse: b.inverse, resourceVersion: current.GetResourceVersion(), fingerprint: fingerprint(current)},
	}
	if len(b.ops) == 0 {
		step.change.Action = ActionUnchanged
	}
	if step.change.YAML, err = objectYAML(merged); err != nil {
		return planStep{}, err
	}
	return step, nil
}

func (e *Enforcer) planPeerAuthentication(ctx context.Context, c Clients, req EnforceRequest) ([]planStep, error) {
	var ns, name, decideNS string
	var selector map[string]string
	switch req.Scope {
	case ScopeMesh:
		ns, name = e.opts.RootNamespace, "default"
	case ScopeNamespace:
		ns, name, decideNS = req.Namespace, "default", req.Namespace
		if _, err := c.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return nil, &enforceError{kind: ErrNotFound, cause: err, msg: fmt.Sprintf("namespace %s does not exist", ns)}
		}
	case ScopeService:
		services, err := getServices(ctx, c, req)
		if err != nil {
			return nil, err
		}
		svc := services[0]
		if len(svc.selector) == 0 {
			return nil, newError(ErrInvalid, "Service %s/%s has no selector, so no PeerAuthentication can select its pods", svc.namespace, svc.name)
		}
		ns, name, decideNS, selector = svc.namespace, svc.name, svc.namespace, svc.selector
	}
	list, err := c.Istio.SecurityV1().PeerAuthentications(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var existing *securityv1.PeerAuthentication
	for _, pa := range list.Items {
		if pa.Name == name {
			existing = pa
		}
	}

	var step planStep
	var planned *securityv1.PeerAuthentication
	if existing == nil {
		planned = &securityv1.PeerAuthentication{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{ManagedByLabel: ManagedByValue}},
		}
		if len(selector) > 0 {
			planned.Spec.Selector = &typeapi.WorkloadSelector{MatchLabels: maps.Clone(selector)}
		}
		planned.Spec.Mtls = &securityapi.PeerAuthentication_MutualTLS{Mode: securityapi.PeerAuthentication_MutualTLS_STRICT}
		if step, err = createStep(KindPeerAuthentication, planned); err != nil {
			return nil, err
		}
	} else {
		doc, err := toDoc(existing)
		if err != nil {
			return nil, err
		}
		b := &patchBuilder{doc: doc}
		var conflicts []string
		if have := existing.Spec.GetSelector().GetMatchLabels(); !maps.Equal(have, selector) {
			conflicts = append(conflicts, fmt.Sprintf("it selects %s, not %s", describeSelector(have), describeSelector(selector)))
		}
		strict := securityapi.PeerAuthentication_MutualTLS_STRICT.String()
		switch {
		case existing.Spec.GetMtls() == nil:
			b.set(map[string]any{"mode": strict}, "spec", "mtls")
		case existing.Spec.GetMtls().GetMode() != securityapi.PeerAuthentication_MutualTLS_STRICT:
			b.set(strict, "spec", "mtls", "mode")
		}
		ports := slices.Sorted(maps.Keys(existing.Spec.GetPortLevelMtls()))
		for _, port := range ports {
			switch mode := existing.Spec.GetPortLevelMtls()[port].GetMode(); mode {
			case securityapi.PeerAuthentication_MutualTLS_DISABLE, securityapi.PeerAuthentication_MutualTLS_PERMISSIVE:
				conflicts = append(conflicts, fmt.Sprintf("port %d is set to %s", port, mode))
			}
		}
		planned = &securityv1.PeerAuthentication{}
		if err := fromDoc(b.doc, planned); err != nil {
			return nil, err
		}
		if step, err = updateStep(KindPeerAuthentication, existing, planned, b, conflicts); err != nil {
			return nil, err
		}
	}

	// Within a level the oldest policy wins: make sure the planned one decides.
	if step.change.Conflict == "" {
		decider := planned.DeepCopy()
		if existing == nil {
			decider.CreationTimestamp = metav1.NewTime(e.opts.Now())
		}
		policies := []*securityv1.PeerAuthentication{decider}
		for _, pa := range list.Items {
			if pa.Name != name {
				policies = append(policies, pa)
			}
		}
		mode, source := istio.EffectivePeerAuthentication(policies, e.opts.RootNamespace, decideNS, selector, 0)
		if source == nil || source.Name != name || mode != istio.PeerModeStrict {
			who := "no policy"
			if source != nil {
				who = fmt.Sprintf("PeerAuthentication %s/%s", source.Namespace, source.Name)
			}
			step.change.Conflict = fmt.Sprintf("%s is older at the same level and decides the mode (%s), so %s/%s would have no effect", who, mode, ns, name)
		}
	}
	return []planStep{step}, nil
}

func describeSelector(labels map[string]string) string {
	if len(labels) == 0 {
		return "every workload (no selector)"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}
