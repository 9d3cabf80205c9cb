// AuthorizationPolicies in ambient mode: the L7 rules of a policy that binds to ambient workloads
// through ztunnel, which enforces only L4, so that the graph can say which no waypoint enforces.

package istio

import (
	"slices"
	"strings"

	securityapi "istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
)

// hasL7Rules reports whether a policy has rules only a waypoint (or a
// sidecar) can enforce: HTTP hosts, methods and paths, request
// principals, remote IPs from headers, conditions on the request. ztunnel
// enforces L4 only (istio/istio pilot/pkg/serviceregistry/ambient/
// authorization.go: an ALLOW policy left with no L4 rule denies
// everything; a DENY policy's L7 parts are dropped; istio.io's
// docs/ambient/usage/l4-policy).
func hasL7Rules(spec *securityapi.AuthorizationPolicy) bool {
	return slices.ContainsFunc(spec.GetRules(), ruleHasL7)
}

// ruleHasL7 reports whether a rule has a part only an L7 proxy can match.
func ruleHasL7(rule *securityapi.Rule) bool {
	for _, to := range rule.GetTo() {
		op := to.GetOperation()
		if len(op.GetHosts())+len(op.GetNotHosts())+len(op.GetMethods())+len(op.GetNotMethods())+len(op.GetPaths())+len(op.GetNotPaths()) > 0 {
			return true
		}
	}
	for _, from := range rule.GetFrom() {
		src := from.GetSource()
		if len(src.GetRequestPrincipals())+len(src.GetNotRequestPrincipals())+len(src.GetRemoteIpBlocks())+len(src.GetNotRemoteIpBlocks()) > 0 {
			return true
		}
	}
	for _, when := range rule.GetWhen() {
		if strings.HasPrefix(when.GetKey(), "request.") || when.GetKey() == "remote.ip" {
			return true
		}
	}
	return false
}

// ZtunnelDeniesAll reports whether ztunnel refuses every connection to pod
// (ambient, served by no waypoint): an ALLOW policy binds to it through
// ztunnel and every rule of it has an L7 part, which ztunnel drops,
// leaving an ALLOW policy that matches nothing (istio/istio
// pilot/pkg/serviceregistry/ambient/authorization.go). An ALLOW policy
// with a rule wholly L4 keeps that rule, which this does not judge.
func ZtunnelDeniesAll(policies []*securityv1.AuthorizationPolicy, pod *corev1.Pod, root string) bool {
	return slices.ContainsFunc(policies, func(p *securityv1.AuthorizationPolicy) bool {
		rules := p.Spec.GetRules()
		return p.Spec.GetAction() == securityapi.AuthorizationPolicy_ALLOW && len(rules) > 0 &&
			!slices.ContainsFunc(rules, func(r *securityapi.Rule) bool { return !ruleHasL7(r) }) && bindsToZtunnel(p, pod, root)
	})
}

// bindsToZtunnel reports whether the policy applies to pod through its
// node's ztunnel: not one bound by targetRef(s) to a waypoint or gateway,
// in the pod's namespace or the root namespace, selecting the pod (or all
// of the namespace's, or of the mesh's, without a selector).
func bindsToZtunnel(p *securityv1.AuthorizationPolicy, pod *corev1.Pod, root string) bool {
	if p.Spec.GetTargetRef() != nil || len(p.Spec.GetTargetRefs()) > 0 {
		return false
	}
	if p.Namespace != pod.Namespace && p.Namespace != root {
		return false
	}
	return SelectorMatches(p.Spec.GetSelector().GetMatchLabels(), pod.Labels)
}

// l7WithoutWaypoint lists, as "<namespace>/<name> (<ACTION>)", the
// policies with L7 rules that bind to the ambient pods of a Service no
// waypoint serves (the Service's istio.io/use-waypoint, else its
// namespace's; "none" opts out: pilot/pkg/serviceregistry/ambient/
// waypoints.go GetUseWaypoint).
func l7WithoutWaypoint(svc *corev1.Service, pods []*corev1.Pod, namespaceLabels map[string]string, policies []*securityv1.AuthorizationPolicy, root string) []string {
	waypoint := svc.Labels[useWaypoint]
	if waypoint == "" {
		waypoint = namespaceLabels[useWaypoint]
	}
	if waypoint != "" && waypoint != "none" {
		return nil
	}
	var out []string
	for _, p := range policies {
		if !hasL7Rules(&p.Spec) {
			continue
		}
		for _, pod := range pods {
			if DataPlane(pod, namespaceLabels) == "ambient" && bindsToZtunnel(p, pod, root) {
				name := p.Namespace + "/" + p.Name + " (" + p.Spec.GetAction().String() + ")"
				if !slices.Contains(out, name) {
					out = append(out, name)
				}
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// useWaypoint names the waypoint a Service, Pod or namespace uses.
const useWaypoint = "istio.io/use-waypoint"
