// BuildCluster: turns one consistent read of Kubernetes and Istio objects into the graph's Cluster:
// Services with their workloads and per-port policy, per-caller DestinationRule TLS, policy problems.

package istio

import (
	"cmp"
	"maps"
	"slices"
	"sync"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshlock/meshlock/internal/graph"
)

// Objects are the Kubernetes and Istio objects the graph's cluster is made
// of, as one consistent read of the caches gives them.
type Objects struct {
	Namespaces []string
	// NamespaceLabels are each namespace's labels, where meshlock may read
	// Namespaces (ambient mode's istio.io/dataplane-mode); nil otherwise.
	NamespaceLabels map[string]map[string]string
	Services        []*corev1.Service
	Pods            []*corev1.Pod
	Rules           []*networkingv1.DestinationRule
	Authns          []*securityv1.PeerAuthentication
	// Authzs are AuthorizationPolicies: only whether ambient workloads have
	// L7 rules no waypoint enforces is read from them.
	Authzs []*securityv1.AuthorizationPolicy
}

// BuildCluster turns the objects into what the graph needs: Services with
// the workloads they select and the policy Istio applies to each port,
// workloads by the name Istio reports, the DestinationRule view of each
// caller, and the policy objects istiod would ignore. root is the mesh's
// root namespace.
func BuildCluster(s Objects, root string) graph.Cluster {
	out := graph.Cluster{Namespaces: slices.Sorted(slices.Values(s.Namespaces))}

	// Pods in name order, so that nothing below depends on the cache's order.
	pods := make([]*corev1.Pod, 0, len(s.Pods))
	for _, pod := range s.Pods {
		if !running(pod) {
			continue
		}
		pods = append(pods, pod)
	}
	slices.SortFunc(pods, func(a, b *corev1.Pod) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})

	workloads := map[workloadKey]*workloadInfo{}
	podsByNamespace := map[string][]*corev1.Pod{}
	for _, pod := range pods {
		podsByNamespace[pod.Namespace] = append(podsByNamespace[pod.Namespace], pod)
		key := workloadKey{pod.Namespace, WorkloadName(pod)}
		plane := DataPlane(pod, s.NamespaceLabels[pod.Namespace])
		wl, seen := workloads[key]
		if !seen {
			wl = &workloadInfo{Workload: graph.Workload{Namespace: pod.Namespace, Name: key.name, DataPlane: plane}, labels: maps.Clone(pod.Labels)}
			workloads[key] = wl
		}
		// Every replica needs the proxy (as for a Service's InMesh); the
		// labels a workloadSelector sees are those all its pods share.
		if plane != wl.DataPlane {
			wl.DataPlane = graph.DataPlaneNone // every replica must agree
		}
		wl.Gateway = wl.Gateway || IsGateway(pod)
		wl.NetworkGateway = wl.NetworkGateway || IsNetworkGateway(pod)
		// Pods come in name order, so Pods is sorted as it grows.
		wl.Pods = append(wl.Pods, pod.Name)
		if sa := serviceAccount(pod); !slices.Contains(wl.ServiceAccounts, sa) {
			wl.ServiceAccounts = append(wl.ServiceAccounts, sa)
		}
		maps.DeleteFunc(wl.labels, func(k, v string) bool { return pod.Labels[k] != v })
	}
	for _, wl := range workloads {
		slices.Sort(wl.ServiceAccounts)
		out.Workloads = append(out.Workloads, wl.Workload)
	}
	slices.SortFunc(out.Workloads, func(a, b graph.Workload) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})

	services := map[workloadKey]*corev1.Service{}
	for _, svc := range s.Services {
		services[workloadKey{svc.Namespace, svc.Name}] = svc
		described := describeService(svc, podsByNamespace[svc.Namespace], s.NamespaceLabels[svc.Namespace], s.Rules, s.Authns, root)
		if len(s.Authzs) > 0 && described.DataPlane == graph.DataPlaneAmbient {
			described.L7PoliciesWithoutWaypoint = l7WithoutWaypoint(svc, selectedPods(svc, podsByNamespace[svc.Namespace]), s.NamespaceLabels[svc.Namespace], s.Authzs, root)
		}
		out.Services = append(out.Services, described)
	}
	slices.SortFunc(out.Services, func(a, b graph.Service) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	out.Problems = policyProblems(s.Rules, s.Authns)
	out.ClientTLS = clientTLSFunc(s.Rules, root, workloads, services)
	return out
}

type workloadKey struct{ namespace, name string }

// running: the pod is neither being deleted nor done, so its proxy (if
// any) serves and Istio counts it among the endpoints.
func running(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp == nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

type workloadInfo struct {
	graph.Workload
	labels map[string]string
}

func serviceAccount(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName == "" {
		return "default" // what the API server assigns
	}
	return pod.Spec.ServiceAccountName
}

// clientTLSFunc resolves, per calling workload, the DestinationRule TLS of
// every port of a Service, as istiod does for that workload's sidecar. The
// answers are cached: one build asks about each (caller, service) pair of
// the observed edges.
func clientTLSFunc(rules []*networkingv1.DestinationRule, root string, workloads map[workloadKey]*workloadInfo, services map[workloadKey]*corev1.Service) graph.ClientTLSFunc {
	type key struct{ clientNS, client, svcNS, svc string }
	var mu sync.Mutex
	cache := map[key][]graph.ClientTLS{}
	return func(clientNS, client, svcNS, svcName string) []graph.ClientTLS {
		k := key{clientNS, client, svcNS, svcName}
		mu.Lock()
		defer mu.Unlock()
		if got, ok := cache[k]; ok {
			return got
		}
		svc := services[workloadKey{svcNS, svcName}]
		if svc == nil {
			return nil
		}
		var clientLabels map[string]string
		if wl := workloads[workloadKey{clientNS, client}]; wl != nil {
			clientLabels = wl.labels
		}
		out := make([]graph.ClientTLS, 0, len(svc.Spec.Ports))
		for _, port := range svc.Spec.Ports {
			policy := ResolveClientPolicy(rules, ClientPolicyQuery{
				ClientNamespace: clientNS, ClientLabels: clientLabels,
				ServiceName: svcName, ServiceNS: svcNS, ServicePort: port.Port, RootNamespace: root,
			})
			tls := graph.ClientTLS{Port: port.Port, TLS: string(policy.Effective())}
			if policy.Rule != nil && tls.TLS != "" {
				tls.Rule = policy.Rule.Namespace + "/" + policy.Rule.Name
			}
			out = append(out, tls)
		}
		cache[k] = out
		return out
	}
}

// selectedPods are the pods the Service's selector selects (none without one).
func selectedPods(svc *corev1.Service, pods []*corev1.Pod) []*corev1.Pod {
	var selected []*corev1.Pod
	if len(svc.Spec.Selector) > 0 {
		selector := labels.SelectorFromSet(svc.Spec.Selector)
		for _, pod := range pods {
			if selector.Matches(labels.Set(pod.Labels)) {
				selected = append(selected, pod)
			}
		}
	}
	return selected
}

func describeService(svc *corev1.Service, pods []*corev1.Pod, namespaceLabels map[string]string, rules []*networkingv1.DestinationRule, authns []*securityv1.PeerAuthentication, root string) graph.Service {
	out := graph.Service{Namespace: svc.Namespace, Name: svc.Name}
	selected := selectedPods(svc, pods)
	// In the mesh: captured by a data plane, a sidecar or the node's
	// ztunnel (or a waypoint, itself a mesh proxy).
	captured := 0
	names := map[string]bool{}
	out.AcceptsTunnel = len(selected) > 0
	for i, pod := range selected {
		names[WorkloadName(pod)] = true
		plane := DataPlane(pod, namespaceLabels)
		if plane != graph.DataPlaneNone {
			captured++
		}
		switch {
		case i == 0:
			out.DataPlane = plane
		case plane != out.DataPlane:
			out.DataPlane = ""
		}
		out.AcceptsTunnel = out.AcceptsTunnel && plane == graph.DataPlaneSidecar && AcceptsHBONE(pod)
		out.Gateway = out.Gateway || IsGateway(pod)
	}
	out.Workloads = slices.Sorted(maps.Keys(names))
	out.InMesh = len(selected) > 0 && captured == len(selected)
	out.PartlyInMesh = captured > 0 && captured < len(selected)

	// Each port's mode is the weakest among the selected pods on the port's
	// target port; the node's is the weakest across ports. Pods come in name
	// order and ports in the Service's, and only a strictly weaker mode
	// replaces the one found first, so ties are decided the same way each
	// time. A Service without pods gets the namespace's (or mesh's) mode.
	first := true
	for _, port := range svc.Spec.Ports {
		p := graph.ServicePort{Port: port.Port, Protocol: PortProtocol(port)}
		mode, source := EffectivePeerAuthentication(authns, root, svc.Namespace, nil, 0)
		modeSet := false
		for _, pod := range selected {
			tp, ok := TargetPort(port, pod)
			if !ok {
				continue // istiod builds no inbound listener for it on this pod
			}
			if p.TargetPort == 0 {
				p.TargetPort = tp
			}
			podMode, podSource := EffectivePeerAuthentication(authns, root, pod.Namespace, pod.Labels, tp)
			if !modeSet || weaker(podMode, mode) {
				mode, source, modeSet = podMode, podSource, true
			}
		}
		if len(selected) == 0 && port.TargetPort.Type == intstr.Int {
			p.TargetPort = cmp.Or(port.TargetPort.IntVal, port.Port)
		}
		p.PeerAuthentication = string(mode)
		if source != nil {
			p.PeerAuthenticationSource = source.Namespace + "/" + source.Name
		}
		out.Ports = append(out.Ports, p)
		if len(selected) > 0 && !modeSet {
			continue // reaches no pod: no listener, so no mode to meet
		}
		if first || weaker(mode, PeerMode(out.PeerAuthentication)) {
			out.PeerAuthentication, out.PeerAuthenticationSource = p.PeerAuthentication, p.PeerAuthenticationSource
		}
		first = false
	}
	if first { // no ports
		mode, source := EffectivePeerAuthentication(authns, root, svc.Namespace, nil, 0)
		out.PeerAuthentication = string(mode)
		if source != nil {
			out.PeerAuthenticationSource = source.Namespace + "/" + source.Name
		}
	}

	// The view from the Service's own namespace, for a caller no selector
	// rule picks; callers' own views come from Cluster.ClientTLS.
	var views []string
	for _, port := range svc.Spec.Ports {
		policy := ResolveClientPolicy(rules, ClientPolicyQuery{
			ClientNamespace: svc.Namespace, ServiceName: svc.Name, ServiceNS: svc.Namespace,
			ServicePort: port.Port, RootNamespace: root,
		})
		mode := string(policy.Effective())
		if !slices.Contains(views, mode) {
			views = append(views, mode)
		}
		if policy.Rule != nil && mode != "" && out.DestinationRuleSource == "" {
			out.DestinationRuleSource = policy.Rule.Namespace + "/" + policy.Rule.Name
		}
	}
	switch len(views) {
	case 0:
	case 1:
		out.DestinationRuleTLS = views[0]
	default:
		out.DestinationRuleTLS = graph.TLSVaries
	}
	return out
}

// strength orders modes by what they accept: UNSET behaves as PERMISSIVE.
var strength = map[PeerMode]int{PeerModeDisable: 0, PeerModeUnset: 1, PeerModePermissive: 1, PeerModeStrict: 2}

func weaker(a, b PeerMode) bool { return strength[a] < strength[b] }
