package k8s

import (
	"cmp"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

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
	c := buildCluster(state, w.opts.RootNamespace)
	c.TrustDomain = w.TrustDomain()
	return c, nil
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

	// Pods in name order, so that nothing below depends on the cache's order.
	pods := make([]*corev1.Pod, 0, len(s.pods))
	for _, pod := range s.pods {
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
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
		wl, seen := workloads[key]
		if !seen {
			wl = &workloadInfo{Workload: graph.Workload{Namespace: pod.Namespace, Name: key.name, DataPlane: DataPlane(pod)}, labels: maps.Clone(pod.Labels)}
			workloads[key] = wl
		}
		// Every replica needs the proxy (as for a Service's InMesh); the
		// labels a workloadSelector sees are those all its pods share.
		if DataPlane(pod) != wl.DataPlane {
			wl.DataPlane = graph.DataPlaneNone // every replica must agree
		}
		wl.Gateway = wl.Gateway || IsGateway(pod)
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
	for _, svc := range s.services {
		services[workloadKey{svc.Namespace, svc.Name}] = svc
		out.Services = append(out.Services, describeService(svc, podsByNamespace[svc.Namespace], s.rules, s.authns, root))
	}
	slices.SortFunc(out.Services, func(a, b graph.Service) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	out.Problems = policyProblems(s.rules, s.authns)
	out.ClientTLS = clientTLSFunc(s.rules, root, workloads, services)
	return out
}

type workloadKey struct{ namespace, name string }

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
		out.Gateway = out.Gateway || IsGateway(pod)
	}
	out.Workloads = slices.Sorted(maps.Keys(names))
	out.InMesh = len(selected) > 0 && withSidecar == len(selected)
	out.PartlyInMesh = withSidecar > 0 && withSidecar < len(selected)

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

// TargetPort is the container port a Service port reaches on pod, which is
// what port-level PeerAuthentication keys on (istiod: ForPort(TargetPort) in
// pilot/pkg/networking/core/listener_inbound.go). A named target port is
// looked up among the pod's container ports, native sidecars included, by
// name and protocol (pilot/pkg/serviceregistry/kube/controller/util.go
// FindPort); false when none matches, and istiod then builds no listener.
func TargetPort(port corev1.ServicePort, pod *corev1.Pod) (int32, bool) {
	switch {
	case port.TargetPort.Type == intstr.String && port.TargetPort.StrVal != "":
		protocol := cmp.Or(port.Protocol, corev1.ProtocolTCP)
		containers := slices.Concat(pod.Spec.Containers, nativeSidecars(pod))
		for _, c := range containers {
			for _, p := range c.Ports {
				if p.Name == port.TargetPort.StrVal && cmp.Or(p.Protocol, corev1.ProtocolTCP) == protocol {
					return p.ContainerPort, true
				}
			}
		}
		return 0, false
	case port.TargetPort.IntVal != 0:
		return port.TargetPort.IntVal, true
	default:
		return port.Port, true // the API server defaults targetPort to port
	}
}

func nativeSidecars(pod *corev1.Pod) []corev1.Container {
	var out []corev1.Container
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			out = append(out, c)
		}
	}
	return out
}

// PortProtocol is Istio's protocol for a Service port, lower case
// (pkg/config/kube/conversion.go ConvertProtocol): UDP as such; else
// appProtocol when set, or the port name, up to its first "-" ("grpc-web"
// whole); a few well-known ports are TCP; anything else is sniffed: "auto".
func PortProtocol(port corev1.ServicePort) string {
	if port.Protocol == corev1.ProtocolUDP {
		return "udp"
	}
	name := port.Name
	if port.AppProtocol != nil {
		name = *port.AppProtocol
		switch name {
		case "kubernetes.io/h2c":
			return "http2"
		case "kubernetes.io/ws":
			return "http"
		case "kubernetes.io/wss":
			return "https"
		}
	}
	name = strings.ToLower(name)
	if strings.HasPrefix(name, "grpc-web") {
		return "grpc-web"
	}
	name, _, _ = strings.Cut(name, "-")
	switch name {
	case "tcp", "udp", "grpc", "http", "http_proxy", "http2", "https", "tls", "mongo", "redis", "mysql":
		return name
	}
	switch port.Port {
	case 25, 53, 3306, 27017:
		return "tcp"
	}
	return "auto"
}

// cronJobName matches a Job that a CronJob made: its name and "-" and the
// scheduled time in minutes (8 to 10 digits).
var cronJobName = regexp.MustCompile(`^(.+)-\d{8,10}$`)

// WorkloadName is the name Istio reports a pod's metrics under
// (pkg/kube/util.go GetWorkloadMetaFromPod, used by the injector for
// ISTIO_META_WORKLOAD_NAME): the pod label service.istio.io/workload-name
// when set; else, for a pod with generateName and a controller, the
// controller's name, with a ReplicaSet's pod-template-hash (a Deployment) or
// rollouts-pod-template-hash (an Argo Rollout) removed, an OpenShift
// DeploymentConfig's name, or a CronJob's for its Jobs; else the pod's name.
func WorkloadName(pod *corev1.Pod) string {
	if name := pod.Labels["service.istio.io/workload-name"]; name != "" {
		return name
	}
	if pod.GenerateName == "" {
		return pod.Name
	}
	var ref *metav1.OwnerReference
	for i := range pod.OwnerReferences {
		if c := pod.OwnerReferences[i].Controller; c != nil && *c {
			ref = &pod.OwnerReferences[i]
			break
		}
	}
	if ref == nil {
		return pod.Name
	}
	switch ref.Kind {
	case "ReplicaSet":
		for _, label := range []string{"pod-template-hash", "rollouts-pod-template-hash"} {
			if hash := pod.Labels[label]; hash != "" && strings.HasSuffix(ref.Name, hash) {
				return strings.TrimSuffix(ref.Name, "-"+hash)
			}
		}
	case "ReplicationController":
		if dc := pod.Labels["deploymentconfig"]; dc != "" {
			return dc
		}
	case "Job":
		if m := cronJobName.FindStringSubmatch(ref.Name); m != nil {
			return m[1]
		}
	}
	return cmp.Or(ref.Name, pod.Name)
}

// IsGateway reports whether the pod is an Istio ingress or egress gateway:
// the istio label its Helm chart sets (ingressgateway, egressgateway, or
// another "...gateway"), or the labels of Gateway API deployments
// (gateway.networking.k8s.io/gateway-name; istio.io/gateway-name before
// Istio 1.24). Waypoints, Gateway API proxies of the ambient mesh, are not.
func IsGateway(pod *corev1.Pod) bool {
	l := pod.Labels
	if l["gateway.istio.io/managed"] == "istio.io-mesh-controller" || l["istio.io/waypoint-for"] != "" {
		return false
	}
	return strings.HasSuffix(l["istio"], "gateway") || l["gateway.networking.k8s.io/gateway-name"] != "" ||
		l["istio.io/gateway-name"] != "" ||
		l["operator.istio.io/component"] == "IngressGateways" || l["operator.istio.io/component"] == "EgressGateways"
}

// DataPlane is how a pod meets the mesh: a sidecar, ztunnel (ambient: the
// annotation ambient.istio.io/redirection=enabled, which istio-cni sets on a
// pod once its traffic is redirected; pkg/config/constants), or neither.
func DataPlane(pod *corev1.Pod) string {
	switch {
	case HasSidecar(pod):
		return graph.DataPlaneSidecar
	case pod.Annotations["ambient.istio.io/redirection"] == "enabled":
		return graph.DataPlaneAmbient
	}
	return graph.DataPlaneNone
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
