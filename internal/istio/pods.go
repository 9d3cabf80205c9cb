// Istio's rules about pods and ports: target ports, port protocols, workload names, gateways,
// data plane (sidecar or ambient), and the policy objects istiod would reject or ignore.

package istio

import (
	"cmp"
	"regexp"
	"slices"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshlock/meshlock/internal/graph"
)

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

// labelNetwork names a pod's network; on a gateway it makes the gateway
// the network's east-west gateway (istio/istio
// pilot/pkg/serviceregistry/kube/controller/network.go; the label
// samples/multicluster/gen-eastwest-gateway.sh puts on its pods).
const labelNetwork = "topology.istio.io/network"

// IsNetworkGateway reports whether the pod is an east-west gateway: a
// gateway that carries its network's label.
func IsNetworkGateway(pod *corev1.Pod) bool {
	return IsGateway(pod) && pod.Labels[labelNetwork] != ""
}

// DataPlane is how a pod meets the mesh, as Istio decides it:
//   - a waypoint (its Deployment's label gateway.istio.io/managed, which
//     istio/istio pilot/pkg/model/context.go IsWaypointProxy reads);
//   - a sidecar, which ztunnel never captures besides (istio/istio
//     cni/pkg/util/enablement_selector.go excludes such pods, and host-network
//     ones);
//   - ambient: where istio-cni has annotated the pod
//     ambient.istio.io/redirection, that is the actual state ("enabled":
//     captured; "pending" or any other value: not, pkg/config/constants);
//     before it has, the intent of the default enablement selectors
//     (manifests/charts/istio-cni/values.yaml): the pod labelled
//     istio.io/dataplane-mode=ambient, or its namespace so labelled and the
//     pod not opted out with the value none;
//   - else none.
//
// namespaceLabels are the pod's namespace's labels (nil when meshlock may
// not read Namespaces: the pod's own label and annotation decide then).
func DataPlane(pod *corev1.Pod, namespaceLabels map[string]string) string {
	switch {
	case IsWaypoint(pod):
		return graph.DataPlaneWaypoint
	case HasSidecar(pod):
		return graph.DataPlaneSidecar
	case pod.Spec.HostNetwork:
		return graph.DataPlaneNone
	}
	if state, ok := pod.Annotations[ambientRedirection]; ok {
		if state == "enabled" {
			return graph.DataPlaneAmbient
		}
		return graph.DataPlaneNone
	}
	switch mode := pod.Labels[dataplaneMode]; {
	case mode == "ambient":
		return graph.DataPlaneAmbient
	case mode != "none" && namespaceLabels[dataplaneMode] == "ambient":
		return graph.DataPlaneAmbient
	}
	return graph.DataPlaneNone
}

// The labels and annotations of ambient mode (istio/istio
// pkg/config/constants/constants.go).
const (
	dataplaneMode      = "istio.io/dataplane-mode"
	ambientRedirection = "ambient.istio.io/redirection"
)

// IsWaypoint reports whether the pod is a waypoint: a proxy of Istio's
// mesh controller (gateway.istio.io/managed=istio.io-mesh-controller, the
// label istio/istio pilot/pkg/model/context.go IsWaypointProxy reads and
// the istio-waypoint class's Deployments carry).
func IsWaypoint(pod *corev1.Pod) bool {
	return pod.Labels["gateway.istio.io/managed"] == "istio.io-mesh-controller"
}

// AcceptsHBONE reports whether a sidecar pod takes HBONE inbound: the label
// networking.istio.io/tunnel listing http (istio/istio
// pilot/pkg/model/service.go SupportsTunnel, read by
// pilot/pkg/serviceregistry/ambient/workloads.go setTunnelProtocol). A
// ztunnel sends HBONE only to such a sidecar, plain TCP to any other.
func AcceptsHBONE(pod *corev1.Pod) bool {
	for tunnel := range strings.SplitSeq(pod.Labels["networking.istio.io/tunnel"], ",") {
		if strings.TrimSpace(tunnel) == "http" {
			return true
		}
	}
	return false
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
