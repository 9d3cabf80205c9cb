package k8s

import (
	"time"

	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Builders shared by the tests of this package. age orders objects by
// creationTimestamp (minutes after epoch) where a test needs it.

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func objectMeta(namespace, name string, age int) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: namespace, Name: name, CreationTimestamp: metav1.NewTime(epoch.Add(time.Duration(age) * time.Minute))}
}

// labelSet builds a map from key, value pairs.
func labelSet(kv ...string) map[string]string {
	if len(kv)%2 != 0 {
		panic("labelSet needs key, value pairs")
	}
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

type podOption func(*corev1.Pod)

func newPod(namespace, name string, opts ...podOption) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func withLabels(kv ...string) podOption {
	return func(p *corev1.Pod) {
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		for k, v := range labelSet(kv...) {
			p.Labels[k] = v
		}
	}
}

func withSidecar() podOption {
	return func(p *corev1.Pod) {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "istio-proxy"})
	}
}

func withNativeSidecar() podOption {
	always := corev1.ContainerRestartPolicyAlways
	return func(p *corev1.Pod) {
		p.Spec.InitContainers = append(p.Spec.InitContainers,
			corev1.Container{Name: "istio-init"},
			corev1.Container{Name: "istio-proxy", RestartPolicy: &always})
	}
}

// ownedBy adds an owner; a controller also sets generateName, as every
// Kubernetes controller does (and as Istio's naming requires).
func ownedBy(kind, name string, controller bool) podOption {
	return func(p *corev1.Pod) {
		p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{Kind: kind, Name: name, Controller: &controller})
		if controller && p.GenerateName == "" {
			p.GenerateName = name + "-"
		}
	}
}

// inDeployment makes the pod one of Deployment name's, through its ReplicaSet.
func inDeployment(name, hash string) podOption {
	return func(p *corev1.Pod) {
		withLabels("pod-template-hash", hash)(p)
		ownedBy("ReplicaSet", name+"-"+hash, true)(p)
	}
}

func withPhase(phase corev1.PodPhase) podOption {
	return func(p *corev1.Pod) { p.Status.Phase = phase }
}

func deleting() podOption {
	return func(p *corev1.Pod) {
		now := metav1.NewTime(epoch)
		p.DeletionTimestamp = &now
	}
}

func withServiceAccount(sa string) podOption {
	return func(p *corev1.Pod) { p.Spec.ServiceAccountName = sa }
}

func withContainerPort(name string, port int32) podOption {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: name, ContainerPort: port})
	}
}

func newService(namespace, name string, selector map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       corev1.ServiceSpec{Selector: selector, Ports: ports},
	}
}

func servicePort(port int32, target intstr.IntOrString) corev1.ServicePort {
	return corev1.ServicePort{Name: "http", Port: port, TargetPort: target}
}

type peerOption func(*securityv1.PeerAuthentication)

// newPeerAuth builds a PeerAuthentication; mode nil leaves spec.mtls out.
func newPeerAuth(namespace, name string, age int, mode *securityapi.PeerAuthentication_MutualTLS_Mode, opts ...peerOption) *securityv1.PeerAuthentication {
	pa := &securityv1.PeerAuthentication{ObjectMeta: objectMeta(namespace, name, age)}
	if mode != nil {
		pa.Spec.Mtls = &securityapi.PeerAuthentication_MutualTLS{Mode: *mode}
	}
	for _, o := range opts {
		o(pa)
	}
	return pa
}

func paModePtr(m securityapi.PeerAuthentication_MutualTLS_Mode) *securityapi.PeerAuthentication_MutualTLS_Mode {
	return &m
}

var (
	paUnset      = paModePtr(securityapi.PeerAuthentication_MutualTLS_UNSET)
	paDisable    = paModePtr(securityapi.PeerAuthentication_MutualTLS_DISABLE)
	paPermissive = paModePtr(securityapi.PeerAuthentication_MutualTLS_PERMISSIVE)
	paStrict     = paModePtr(securityapi.PeerAuthentication_MutualTLS_STRICT)
)

func selecting(kv ...string) peerOption {
	return func(pa *securityv1.PeerAuthentication) {
		pa.Spec.Selector = &typeapi.WorkloadSelector{MatchLabels: labelSet(kv...)}
	}
}

func onPort(port uint32, mode securityapi.PeerAuthentication_MutualTLS_Mode) peerOption {
	return func(pa *securityv1.PeerAuthentication) {
		if pa.Spec.PortLevelMtls == nil {
			pa.Spec.PortLevelMtls = map[uint32]*securityapi.PeerAuthentication_MutualTLS{}
		}
		pa.Spec.PortLevelMtls[port] = &securityapi.PeerAuthentication_MutualTLS{Mode: mode}
	}
}

type ruleOption func(*networkingv1.DestinationRule)

func newRule(namespace, name, host string, age int, opts ...ruleOption) *networkingv1.DestinationRule {
	dr := &networkingv1.DestinationRule{ObjectMeta: objectMeta(namespace, name, age)}
	dr.Spec.Host = host
	for _, o := range opts {
		o(dr)
	}
	return dr
}

func withTLS(mode networkingapi.ClientTLSSettings_TLSmode) ruleOption {
	return func(dr *networkingv1.DestinationRule) {
		if dr.Spec.TrafficPolicy == nil {
			dr.Spec.TrafficPolicy = &networkingapi.TrafficPolicy{}
		}
		dr.Spec.TrafficPolicy.Tls = &networkingapi.ClientTLSSettings{Mode: mode}
	}
}

// withoutTLS gives the rule a trafficPolicy that sets no tls.
func withoutTLS() ruleOption {
	return func(dr *networkingv1.DestinationRule) {
		dr.Spec.TrafficPolicy = &networkingapi.TrafficPolicy{
			ConnectionPool: &networkingapi.ConnectionPoolSettings{Tcp: &networkingapi.ConnectionPoolSettings_TCPSettings{MaxConnections: 10}},
		}
	}
}

func withPortTLS(port uint32, mode networkingapi.ClientTLSSettings_TLSmode) ruleOption {
	return func(dr *networkingv1.DestinationRule) {
		if dr.Spec.TrafficPolicy == nil {
			dr.Spec.TrafficPolicy = &networkingapi.TrafficPolicy{}
		}
		dr.Spec.TrafficPolicy.PortLevelSettings = append(dr.Spec.TrafficPolicy.PortLevelSettings,
			&networkingapi.TrafficPolicy_PortTrafficPolicy{
				Port: &networkingapi.PortSelector{Number: port},
				Tls:  &networkingapi.ClientTLSSettings{Mode: mode},
			})
	}
}

func withExportTo(to ...string) ruleOption {
	return func(dr *networkingv1.DestinationRule) { dr.Spec.ExportTo = to }
}
