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

// Authorization is, from one read of the objects, the judge of the
// callers of the cluster's Services and each AuthorizationPolicy's reach;
// nil, nil when there are none, so that nothing is judged where everything
// is allowed. trustDomain and aliases are the mesh config's.
func Authorization(s Objects, root, trustDomain string, aliases []string) (graph.AuthorizeFunc, []graph.AccessPolicy) {
	if len(s.Authzs) == 0 {
		return nil, nil
	}
	x := newAuthzIndex(s)
	return x.authorizer(root, trustDomain, aliases), x.accessPolicies(root)
}

// authzIndex is what the judge and the policies' reach both read, made
// once: running pods by namespace, each Service's pods, each namespace's
// policies.
type authzIndex struct {
	objects  Objects
	pods     map[string][]*corev1.Pod
	services map[workloadKey]*corev1.Service
	// selected are each Service's pods; byNamespace each namespace's
	// Services, in the objects' order.
	selected    map[workloadKey][]*corev1.Pod
	byNamespace map[string][]*corev1.Service
	policies    map[string][]*securityv1.AuthorizationPolicy
}

func newAuthzIndex(s Objects) *authzIndex {
	x := &authzIndex{objects: s, pods: map[string][]*corev1.Pod{}, services: make(map[workloadKey]*corev1.Service, len(s.Services)),
		selected: make(map[workloadKey][]*corev1.Pod, len(s.Services)), byNamespace: map[string][]*corev1.Service{},
		policies: map[string][]*securityv1.AuthorizationPolicy{}}
	for _, pod := range s.Pods {
		if running(pod) {
			x.pods[pod.Namespace] = append(x.pods[pod.Namespace], pod)
		}
	}
	for _, svc := range s.Services {
		k := workloadKey{svc.Namespace, svc.Name}
		x.services[k] = svc
		x.selected[k] = selectedPods(svc, x.pods[svc.Namespace])
		x.byNamespace[svc.Namespace] = append(x.byNamespace[svc.Namespace], svc)
	}
	for _, p := range s.Authzs {
		x.policies[p.Namespace] = append(x.policies[p.Namespace], p)
	}
	return x
}

// authorizer is the judge, its answers cached per Service and caller.
func (x *authzIndex) authorizer(root, trustDomain string, aliases []string) graph.AuthorizeFunc {
	type key struct{ ns, name, principal string }
	type serviceTarget struct {
		targets  []portTarget
		open, ok bool
	}
	var mu sync.Mutex
	cache := map[key]authzAnswer{}
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
		if svc := x.services[sk]; svc != nil {
			st, ok := targets[sk]
			if !ok {
				st.targets, st.open, st.ok = serviceTargets(svc, x.selected[sk], x.objects.NamespaceLabels[serviceNamespace], trustDomain, aliases)
				targets[sk] = st
			}
			// Only the root namespace's policies and the workload's own
			// namespace's can apply to it (authzApplies).
			policies, ok := applicable[serviceNamespace]
			if !ok {
				policies = x.policies[root]
				if serviceNamespace != root {
					policies = slices.Concat(policies, x.policies[serviceNamespace])
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

// accessPolicies describes each AuthorizationPolicy's reach: the
// Services whose pods it applies to, whether it selects anything at all,
// and whether it is an ALLOW without rules (which denies all it selects).
func (x *authzIndex) accessPolicies(root string) []graph.AccessPolicy {
	planes := map[*corev1.Pod]string{}
	plane := func(pod *corev1.Pod) string {
		p, ok := planes[pod]
		if !ok {
			p = DataPlane(pod, x.objects.NamespaceLabels[pod.Namespace])
			planes[pod] = p
		}
		return p
	}
	var out []graph.AccessPolicy
	for _, p := range x.objects.Authzs {
		ap := graph.AccessPolicy{Namespace: p.Namespace, Name: p.Name, Action: p.Spec.GetAction().String(),
			AllowsNothing: p.Spec.GetAction() == securityapi.AuthorizationPolicy_ALLOW && !slices.ContainsFunc(p.Spec.GetRules(), func(r *securityapi.Rule) bool { return r != nil })}
		namespaces := []string{p.Namespace}
		if p.Namespace == root {
			namespaces = slices.Collect(maps.Keys(x.byNamespace))
		}
		for _, ns := range namespaces {
			for _, svc := range x.byNamespace[ns] {
				if slices.ContainsFunc(x.selected[workloadKey{svc.Namespace, svc.Name}], func(pod *corev1.Pod) bool {
					return plane(pod) != graph.DataPlaneNone &&
						authzApplies(p, AuthzTarget{Namespace: pod.Namespace, Labels: pod.Labels, Ambient: plane(pod) == graph.DataPlaneAmbient}, root)
				}) {
					ap.Services = append(ap.Services, svc.Namespace+"/"+svc.Name)
				}
			}
		}
		ap.SelectsNothing = !x.selectsSomething(p, root)
		slices.Sort(ap.Services)
		out = append(out, ap)
	}
	slices.SortFunc(out, func(a, b graph.AccessPolicy) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// selectsSomething: a targetRef selects what it names, when that exists
// (pilot/pkg/model/policyattachment.go); a selector (or none) the pods it
// matches in its namespace, or in every namespace from the root namespace.
func (x *authzIndex) selectsSomething(p *securityv1.AuthorizationPolicy, root string) bool {
	if refs := targetRefs(p); len(refs) > 0 {
		return slices.ContainsFunc(refs, func(r *typeapi.PolicyTargetReference) bool {
			ns := cmp.Or(r.GetNamespace(), p.Namespace)
			switch r.GetKind() {
			case "Service":
				return x.services[workloadKey{ns, r.GetName()}] != nil
			case "Gateway":
				return slices.ContainsFunc(x.pods[ns], func(pod *corev1.Pod) bool {
					return pod.Labels["gateway.networking.k8s.io/gateway-name"] == r.GetName()
				})
			}
			return true // GatewayClass, ServiceEntry: not judged
		})
	}
	for ns, list := range x.pods {
		if (p.Namespace == root || p.Namespace == ns) && slices.ContainsFunc(list, func(pod *corev1.Pod) bool {
			return SelectorMatches(p.Spec.GetSelector().GetMatchLabels(), pod.Labels)
		}) {
			return true
		}
	}
	return false
}

// targetRefs are the policy's targetRefs, the deprecated targetRef among them.
func targetRefs(p *securityv1.AuthorizationPolicy) []*typeapi.PolicyTargetReference {
	refs := p.Spec.GetTargetRefs()
	if len(refs) == 0 && p.Spec.GetTargetRef() != nil {
		refs = append(refs, p.Spec.GetTargetRef())
	}
	return refs
}
