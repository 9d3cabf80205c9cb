package k8s

import (
	"cmp"
	"slices"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshlock/meshlock/internal/graph"
)

// Cluster answers from the caches what the graph needs: Services with the
// workloads they select, which workloads have a sidecar, and the policy
// Istio applies to each Service.
func (w *Watcher) Cluster() (graph.Cluster, error) {
	state, err := w.list()
	if err != nil {
		return graph.Cluster{}, err
	}
	return buildCluster(state, w.opts.RootNamespace), nil
}

// listed is one consistent read of every cache.
type listed struct {
	namespaces []string
	services   []*corev1.Service
	pods       []*corev1.Pod
	rules      []*networkingv1.DestinationRule
	authns     []*securityv1.PeerAuthentication
}

func (w *Watcher) list() (listed, error) {
	var s listed
	var err error
	if s.services, err = listAll[*corev1.Service](w.services); err != nil {
		return s, err
	}
	if s.pods, err = listAll[*corev1.Pod](w.pods); err != nil {
		return s, err
	}
	if s.rules, err = listAll[*networkingv1.DestinationRule](w.rules); err != nil {
		return s, err
	}
	if s.authns, err = listAll[*securityv1.PeerAuthentication](w.authns); err != nil {
		return s, err
	}
	if w.namespaces == nil {
		s.namespaces = slices.Clone(w.opts.Namespaces)
	} else {
		items, err := w.namespaces.List(labels.Everything())
		if err != nil {
			return s, err
		}
		for _, ns := range items {
			s.namespaces = append(s.namespaces, ns.Name)
		}
	}
	return s, nil
}

// listAll concatenates what every lister of one kind holds (one per
// watched namespace, or one for all).
func listAll[T any, L interface {
	List(labels.Selector) ([]T, error)
}](listers []L) ([]T, error) {
	var out []T
	for _, l := range listers {
		items, err := l.List(labels.Everything())
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	return out, nil
}

// buildCluster is pure, so it is tested without informers.
func buildCluster(s listed, root string) graph.Cluster {
	out := graph.Cluster{Namespaces: slices.Sorted(slices.Values(s.namespaces))}

	type workloadKey struct{ namespace, name string }
	workloads := map[workloadKey]*graph.Workload{}
	podsByNamespace := map[string][]*corev1.Pod{}
	for _, pod := range s.pods {
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		podsByNamespace[pod.Namespace] = append(podsByNamespace[pod.Namespace], pod)
		key := workloadKey{pod.Namespace, WorkloadName(pod)}
		if wl, seen := workloads[key]; !seen {
			workloads[key] = &graph.Workload{Namespace: pod.Namespace, Name: key.name, ServiceAccount: pod.Spec.ServiceAccountName, Sidecar: HasSidecar(pod)}
		} else if !HasSidecar(pod) {
			// Every replica needs the proxy (as for a Service's InMesh), and
			// the answer must not depend on the order of the cache's list.
			wl.Sidecar = false
		}
	}
	for _, wl := range workloads {
		out.Workloads = append(out.Workloads, *wl)
	}
	slices.SortFunc(out.Workloads, func(a, b graph.Workload) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})

	for _, svc := range s.services {
		out.Services = append(out.Services, describeService(svc, podsByNamespace[svc.Namespace], s.rules, s.authns, root))
	}
	slices.SortFunc(out.Services, func(a, b graph.Service) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	out.Problems = policyProblems(s.rules, s.authns)
	return out
}

func describeService(svc *corev1.Service, pods []*corev1.Pod, rules []*networkingv1.DestinationRule, authns []*securityv1.PeerAuthentication, root string) graph.Service {
	out := graph.Service{Namespace: svc.Namespace, Name: svc.Name}
	var selected []*corev1.Pod
	if len(svc.Spec.Selector) > 0 {
		selector := labels.SelectorFromSet(svc.Spec.Selector)
		for _, pod := range pods {
			if selector.Matches(labels.Set(pod.Labels)) {
				selected = append(selected, pod)
			}
		}
	}
	withSidecar := 0
	names := map[string]bool{}
	for _, pod := range selected {
		names[WorkloadName(pod)] = true
		if HasSidecar(pod) {
			withSidecar++
		}
	}
	out.Workloads = slices.Sorted(func(yield func(string) bool) {
		for name := range names {
			if !yield(name) {
				return
			}
		}
	})
	out.InMesh = len(selected) > 0 && withSidecar == len(selected)
	out.PartlyInMesh = withSidecar > 0 && withSidecar < len(selected)

	var port corev1.ServicePort
	if len(svc.Spec.Ports) > 0 {
		port = svc.Spec.Ports[0]
	}
	// The weakest mode among the selected pods is what a caller meets; a
	// Service without pods gets the namespace's (or mesh's) mode.
	mode, source := EffectivePeerAuthentication(authns, root, svc.Namespace, nil, 0)
	for i, pod := range selected {
		podMode, podSource := EffectivePeerAuthentication(authns, root, pod.Namespace, pod.Labels, targetPort(port, pod))
		if i == 0 || weaker(podMode, mode) {
			mode, source = podMode, podSource
		}
	}
	out.PeerAuthentication = string(mode)
	if source != nil {
		out.PeerAuthenticationSource = source.Namespace + "/" + source.Name
	}

	policy := ResolveClientPolicy(rules, ClientPolicyQuery{
		ClientNamespace: svc.Namespace,
		ServiceName:     svc.Name,
		ServiceNS:       svc.Namespace,
		ServicePort:     port.Port,
		RootNamespace:   root,
	})
	out.DestinationRuleTLS = string(policy.TLS)
	if policy.Rule != nil && policy.TLS != TLSModeNone {
		out.DestinationRuleSource = policy.Rule.Namespace + "/" + policy.Rule.Name
	}
	return out
}

// strength orders modes by what they accept: UNSET behaves as PERMISSIVE.
var strength = map[PeerMode]int{PeerModeDisable: 0, PeerModeUnset: 1, PeerModePermissive: 1, PeerModeStrict: 2}

func weaker(a, b PeerMode) bool { return strength[a] < strength[b] }

// targetPort is the container port a Service port reaches on pod, which is
// what port-level PeerAuthentication keys on.
func targetPort(port corev1.ServicePort, pod *corev1.Pod) int32 {
	switch {
	case port.TargetPort.IntVal != 0:
		return port.TargetPort.IntVal
	case port.TargetPort.StrVal != "":
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == port.TargetPort.StrVal {
					return p.ContainerPort
				}
			}
		}
		return 0
	default:
		return port.Port
	}
}

// WorkloadName is the name Istio reports a pod's metrics under: its
// controller's name, with a ReplicaSet's template hash removed so that the
// Deployment's name remains.
func WorkloadName(pod *corev1.Pod) string {
	for _, owner := range pod.OwnerReferences {
		if owner.Controller == nil || !*owner.Controller {
			continue
		}
		if owner.Kind == "ReplicaSet" {
			if hash := pod.Labels["pod-template-hash"]; hash != "" {
				return strings.TrimSuffix(owner.Name, "-"+hash)
			}
		}
		return owner.Name
	}
	return pod.Name
}

// HasSidecar reports whether Istio's proxy runs beside the pod's app, as an
// injected container or a native sidecar (init container).
func HasSidecar(pod *corev1.Pod) bool {
	for _, c := range pod.Spec.Containers {
		if c.Name == "istio-proxy" {
			return true
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == "istio-proxy" {
			return true
		}
	}
	return false
}

// policyProblems reports the objects istiod would reject or ignore, so the
// graph can say why a policy has no effect.
func policyProblems(rules []*networkingv1.DestinationRule, authns []*securityv1.PeerAuthentication) []graph.PolicyProblem {
	var out []graph.PolicyProblem
	for _, dr := range rules {
		if strings.TrimSpace(dr.Spec.GetHost()) == "" {
			out = append(out, graph.PolicyProblem{Kind: "DestinationRule", Namespace: dr.Namespace, Name: dr.Name,
				Message: "spec.host is empty, so the rule applies to no service"})
		}
	}
	for _, pa := range authns {
		if len(pa.Spec.GetPortLevelMtls()) > 0 && len(pa.Spec.GetSelector().GetMatchLabels()) == 0 {
			out = append(out, graph.PolicyProblem{Kind: "PeerAuthentication", Namespace: pa.Namespace, Name: pa.Name,
				Message: "portLevelMtls needs a workload selector; istiod ignores it here"})
		}
	}
	return out
}
