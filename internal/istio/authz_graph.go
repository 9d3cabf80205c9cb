// AuthorizationPolicies for the graph: the judge of each edge's callers (EvaluateAuthorization over
// a Service's workloads and ports) and each policy's reach, for the authz-* findings.

package istio

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/meshlock/meshlock/internal/graph"
)

// Authorizer judges the callers of the cluster's Services by their
// AuthorizationPolicies; nil when there are none, so that nothing is
// judged where everything is allowed. trustDomain and aliases are the mesh
// config's.
func Authorizer(s Objects, root, trustDomain string, aliases []string) graph.AuthorizeFunc {
	if len(s.Authzs) == 0 {
		return nil
	}
	services := make(map[workloadKey]*corev1.Service, len(s.Services))
	for _, svc := range s.Services {
		services[workloadKey{svc.Namespace, svc.Name}] = svc
	}
	pods := podsByNamespace(s.Pods)
	// Only the root namespace's policies and a workload's own namespace's
	// can apply to it (authzApplies): each namespace's list, once.
	byNamespace := map[string][]*securityv1.AuthorizationPolicy{}
	for _, p := range s.Authzs {
		byNamespace[p.Namespace] = append(byNamespace[p.Namespace], p)
	}
	type key struct{ ns, name, principal string }
	var mu sync.Mutex
	cache := map[key]authzAnswer{}
	type serviceTarget struct {
		targets  []portTarget
		open, ok bool
	}
	targets := map[workloadKey]serviceTarget{} // each Service's, once
	applicable := map[string][]*securityv1.AuthorizationPolicy{}
	return func(serviceNamespace, serviceName, principal string) (graph.Authorization, bool) {
		k := key{serviceNamespace, serviceName, principal}
		mu.Lock()
		defer mu.Unlock()
		if got, ok := cache[k]; ok {
			return *got.a.Clone(), got.ok
		}
		sk := workloadKey{serviceNamespace, serviceName}
		var ans authzAnswer
		if svc := services[sk]; svc != nil {
			st, ok := targets[sk]
			if !ok {
				st.targets, st.open, st.ok = serviceTargets(svc, selectedPods(svc, pods[serviceNamespace]), s.NamespaceLabels[serviceNamespace], trustDomain, aliases)
				targets[sk] = st
			}
			policies, ok := applicable[serviceNamespace]
			if !ok {
				policies = slices.Concat(byNamespace[root], byNamespace[serviceNamespace])
				if serviceNamespace == root {
					policies = byNamespace[root]
				}
				applicable[serviceNamespace] = policies
			}
			if st.ok {
				ans.a, ans.ok = judge(st.targets, st.open, policies, root, principal), true
			}
		}
		cache[k] = ans
		return *ans.a.Clone(), ans.ok
	}
}

type authzAnswer struct {
	a  graph.Authorization
	ok bool
}

func podsByNamespace(list []*corev1.Pod) map[string][]*corev1.Pod {
	out := map[string][]*corev1.Pod{}
	for _, pod := range list {
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		out[pod.Namespace] = append(out[pod.Namespace], pod)
	}
	return out
}

// serviceTargets are the places a caller of the Service is judged: every
// port of every pod it selects, each by the proxy that enforces there (its
// sidecar or gateway, or its node's ztunnel: ambient without a waypoint),
// replicas of the same labels once. A pod without a proxy enforces nothing,
// so allows (open). Not judged (false): a Service a waypoint serves (its
// policies attach by targetRef to the waypoint, which meshlock does not
// model), one selecting waypoints, or one with no listener.
func serviceTargets(svc *corev1.Service, pods []*corev1.Pod, namespaceLabels map[string]string, trustDomain string, aliases []string) (targets []portTarget, open, ok bool) {
	if w := cmp.Or(svc.Labels[useWaypoint], namespaceLabels[useWaypoint]); w != "" && w != "none" {
		return nil, false, false
	}
	seen := map[string]bool{}
	for _, pod := range pods {
		plane := DataPlane(pod, namespaceLabels)
		switch plane {
		case graph.DataPlaneWaypoint:
			return nil, false, false
		case graph.DataPlaneNone:
			open = true
			continue
		}
		if w := pod.Labels[useWaypoint]; plane == graph.DataPlaneAmbient && w != "" && w != "none" {
			return nil, false, false
		}
		for _, port := range svc.Spec.Ports {
			tp, ok := TargetPort(port, pod)
			if !ok {
				continue // no inbound listener for it on this pod
			}
			t := portTarget{AuthzTarget: AuthzTarget{Namespace: pod.Namespace, Labels: pod.Labels, Ambient: plane == graph.DataPlaneAmbient,
				Protocol: authzProtocol(PortProtocol(port)), TrustDomain: trustDomain, TrustDomainAliases: aliases}, port: tp}
			if key := t.key(); !seen[key] {
				seen[key] = true
				targets = append(targets, t)
			}
		}
	}
	return targets, open, len(targets) > 0 || open
}

// portTarget is one pod's port as its proxy judges it.
type portTarget struct {
	AuthzTarget
	port int32
}

// key tells apart what can decide differently: labels (policies select by
// them), data plane, protocol and port.
func (t portTarget) key() string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(t.Labels)) {
		b.WriteString(k + "=" + t.Labels[k] + "\x00")
	}
	return fmt.Sprintf("%s|%t|%s|%d", b.String(), t.Ambient, t.Protocol, t.port)
}

// judge decides for a caller at every target: one decision where all
// agree, else conditional (ports or pods disagree), every policy named.
func judge(targets []portTarget, open bool, policies []*securityv1.AuthorizationPolicy, root, principal string) graph.Authorization {
	var judged []graph.Authorization
	if open {
		judged = append(judged, graph.Authorization{Decision: graph.AuthzAllow})
	}
	for _, t := range targets {
		d := EvaluateAuthorization(policies, t.AuthzTarget, root, AuthzRequest{Principal: principal, Port: t.port})
		judged = append(judged, graph.Authorization{Decision: d.Decision, Policies: d.Policies, DryRun: d.DryRun})
	}
	return graph.CombineAuthorizations(judged)
}

// authzProtocol is the inbound chain a port gets: HTTP's (the HTTP RBAC
// filter) for HTTP-like protocols, TCP's (the network RBAC filter) for the
// rest, both when Istio sniffs (pilot/pkg/networking/core/
// listener_builder.go: a port of unknown protocol gets both chains).
func authzProtocol(p string) string {
	switch p {
	case "http", "http2", "grpc", "grpc-web", "http_proxy":
		return AuthzProtocolHTTP
	case "auto":
		return AuthzProtocolUnknown
	}
	return AuthzProtocolTCP
}

// AccessPolicies describes each AuthorizationPolicy's reach: the Services
// whose pods it applies to, whether it selects anything at all, and
// whether it is an ALLOW without rules (which denies all it selects).
func AccessPolicies(s Objects, root string) []graph.AccessPolicy {
	if len(s.Authzs) == 0 {
		return nil
	}
	pods := podsByNamespace(s.Pods)
	services := map[workloadKey]bool{}
	// Each namespace's Services with the pods they select, once.
	type servicePods struct {
		svc  *corev1.Service
		pods []*corev1.Pod
	}
	byNamespace := map[string][]servicePods{}
	for _, svc := range s.Services {
		services[workloadKey{svc.Namespace, svc.Name}] = true
		byNamespace[svc.Namespace] = append(byNamespace[svc.Namespace], servicePods{svc, selectedPods(svc, pods[svc.Namespace])})
	}
	var out []graph.AccessPolicy
	for _, p := range s.Authzs {
		ap := graph.AccessPolicy{Namespace: p.Namespace, Name: p.Name, Action: p.Spec.GetAction().String(),
			AllowsNothing: p.Spec.GetAction() == securityapi.AuthorizationPolicy_ALLOW && !slices.ContainsFunc(p.Spec.GetRules(), func(r *securityapi.Rule) bool { return r != nil })}
		selects := false
		if refs := targetRefs(p); len(refs) > 0 {
			// A targetRef selects what it names, when that exists
			// (pilot/pkg/model/policyattachment.go).
			for _, r := range refs {
				ns := cmp.Or(r.GetNamespace(), p.Namespace)
				switch r.GetKind() {
				case "Service":
					selects = selects || services[workloadKey{ns, r.GetName()}]
				case "Gateway":
					selects = selects || slices.ContainsFunc(pods[ns], func(pod *corev1.Pod) bool {
						return pod.Labels["gateway.networking.k8s.io/gateway-name"] == r.GetName()
					})
				default:
					selects = true // GatewayClass, ServiceEntry: not judged
				}
			}
		}
		namespaces := []string{p.Namespace}
		if p.Namespace == root {
			namespaces = slices.Collect(maps.Keys(byNamespace))
		}
		for _, ns := range namespaces {
			for _, sp := range byNamespace[ns] {
				for _, pod := range sp.pods {
					plane := DataPlane(pod, s.NamespaceLabels[pod.Namespace])
					target := AuthzTarget{Namespace: pod.Namespace, Labels: pod.Labels, Ambient: plane == graph.DataPlaneAmbient}
					if plane != graph.DataPlaneNone && authzApplies(p, target, root) {
						ap.Services = append(ap.Services, sp.svc.Namespace+"/"+sp.svc.Name)
						break
					}
				}
			}
		}
		if !selects && len(targetRefs(p)) == 0 {
			// A selector (or none) selects the pods it matches in its
			// namespace, or in every namespace from the root namespace.
			for ns, list := range pods {
				if p.Namespace != root && p.Namespace != ns {
					continue
				}
				if slices.ContainsFunc(list, func(pod *corev1.Pod) bool {
					return SelectorMatches(p.Spec.GetSelector().GetMatchLabels(), pod.Labels)
				}) {
					selects = true
					break
				}
			}
		}
		ap.SelectsNothing = !selects
		slices.Sort(ap.Services)
		out = append(out, ap)
	}
	slices.SortFunc(out, func(a, b graph.AccessPolicy) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// targetRefs are the policy's targetRefs, the deprecated targetRef among them.
func targetRefs(p *securityv1.AuthorizationPolicy) []*typeapi.PolicyTargetReference {
	refs := p.Spec.GetTargetRefs()
	if len(refs) == 0 && p.Spec.GetTargetRef() != nil {
		refs = append(refs, p.Spec.GetTargetRef())
	}
	return refs
}
