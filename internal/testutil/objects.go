// Builders of Kubernetes and Istio objects for tests: pods with options (sidecars, owners, ports),
// Services, PeerAuthentications and DestinationRules.

package testutil

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

// Builders of Kubernetes and Istio objects for tests. age orders objects by
// creationTimestamp (minutes after Epoch) where a test needs it.

var Epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func ObjectMeta(namespace, name string, age int) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: namespace, Name: name, CreationTimestamp: metav1.NewTime(Epoch.Add(time.Duration(age) * time.Minute))}
}

// Labels builds a map from key, value pairs.
func Labels(kv ...string) map[string]string {
	if len(kv)%2 != 0 {
		panic("Labels needs key, value pairs")
	}
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

type PodOption func(*corev1.Pod)

func Pod(namespace, name string, opts ...PodOption) *corev1.Pod {
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

func WithLabels(kv ...string) PodOption {
	return func(p *corev1.Pod) {
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		for k, v := range Labels(kv...) {
			p.Labels[k] = v
		}
	}
}

func WithSidecar() PodOption {
	return func(p *corev1.Pod) {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "istio-proxy"})
	}
}

func WithNativeSidecar() PodOption {
	always := corev1.ContainerRestartPolicyAlways
	return func(p *corev1.Pod) {
		p.Spec.InitContainers = append(p.Spec.InitContainers,
			corev1.Container{Name: "istio-init"},
			corev1.Container{Name: "istio-proxy", RestartPolicy: &always})
	}
}

// OwnedBy adds an owner; a controller also sets generateName, as every
// Kubernetes controller does (and as Istio's naming requires).
func OwnedBy(kind, name string, controller bool) PodOption {
	return func(p *corev1.Pod) {
		p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{Kind: kind, Name: name, Controller: &controller})
		if controller && p.GenerateName == "" {
			p.GenerateName = name + "-"
		}
	}
}

// InDeployment makes the pod one of Deployment name's, through its ReplicaSet.
func InDeployment(name, hash string) PodOption {
	return func(p *corev1.Pod) {
		WithLabels("pod-template-hash", hash)(p)
		OwnedBy("ReplicaSet", name+"-"+hash, true)(p)
	}
}

func WithPhase(phase corev1.PodPhase) PodOption {
	return func(p *corev1.Pod) { p.Status.Phase = phase }
}

func Deleting() PodOption {
	return func(p *corev1.Pod) {
		now := metav1.NewTime(Epoch)
		p.DeletionTimestamp = &now
	}
}

func WithServiceAccount(sa string) PodOption {
	return func(p *corev1.Pod) { p.Spec.ServiceAccountName = sa }
}

func WithContainerPort(name string, port int32) PodOption {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: name, ContainerPort: port})
	}
}

func Service(namespace, name string, selector map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       corev1.ServiceSpec{Selector: selector, Ports: ports},
	}
}

func ServicePort(port int32, target intstr.IntOrString) corev1.ServicePort {
	return corev1.ServicePort{Name: "http", Port: port, TargetPort: target}
}

type PeerOption func(*securityv1.PeerAuthentication)

// PeerAuth builds a PeerAuthentication; mode nil leaves spec.mtls out.
func PeerAuth(namespace, name string, age int, mode *securityapi.PeerAuthentication_MutualTLS_Mode, opts ...PeerOption) *securityv1.PeerAuthentication {
	pa := &securityv1.PeerAuthentication{ObjectMeta: ObjectMeta(namespace, name, age)}
	if mode != nil {
		pa.Spec.Mtls = &securityapi.PeerAuthentication_MutualTLS{Mode: *mode}
	}
	for _, o := range opts {
		o(pa)
	}
	return pa
}

func PAMode(m securityapi.PeerAuthentication_MutualTLS_Mode) *securityapi.PeerAuthentication_MutualTLS_Mode {
	return &m
}

var (
	PAUnset      = PAMode(securityapi.PeerAuthentication_MutualTLS_UNSET)
	PADisable    = PAMode(securityapi.PeerAuthentication_MutualTLS_DISABLE)
	PAPermissive = PAMode(securityapi.PeerAuthentication_MutualTLS_PERMISSIVE)
	PAStrict     = PAMode(securityapi.PeerAuthentication_MutualTLS_STRICT)
)

func Selecting(kv ...string) PeerOption {
	return func(pa *securityv1.PeerAuthentication) {
		pa.Spec.Selector = &typeapi.WorkloadSelector{MatchLabels: Labels(kv...)}
	}
}

func OnPort(port uint32, mode securityapi.PeerAuthentication_MutualTLS_Mode) PeerOption {
	return func(pa *securityv1.PeerAuthentication) {
		if pa.Spec.PortLevelMtls == nil {
			pa.Spec.PortLevelMtls = map[uint32]*securityapi.PeerAuthentication_MutualTLS{}
		}
		pa.Spec.PortLevelMtls[port] = &securityapi.PeerAuthentication_MutualTLS{Mode: mode}
	}
}

type RuleOption func(*networkingv1.DestinationRule)

func Rule(namespace, name, host string, age int, opts ...RuleOption) *networkingv1.DestinationRule {
	dr := &networkingv1.DestinationRule{ObjectMeta: ObjectMeta(namespace, name, age)}
	dr.Spec.Host = host
	for _, o := range opts {
		o(dr)
	}
	return dr
}

func WithTLS(mode networkingapi.ClientTLSSettings_TLSmode) RuleOption {
	return func(dr *networkingv1.DestinationRule) {
		if dr.Spec.TrafficPolicy == nil {
			dr.Spec.TrafficPolicy = &networkingapi.TrafficPolicy{}
		}
		dr.Spec.TrafficPolicy.Tls = &networkingapi.ClientTLSSettings{Mode: mode}
	}
}

// WithoutTLS gives the rule a trafficPolicy that sets no tls.
func WithoutTLS() RuleOption {
	return func(dr *networkingv1.DestinationRule) {
		dr.Spec.TrafficPolicy = &networkingapi.TrafficPolicy{
			ConnectionPool: &networkingapi.ConnectionPoolSettings{Tcp: &networkingapi.ConnectionPoolSettings_TCPSettings{MaxConnections: 10}},
		}
	}
}

func WithPortTLS(port uint32, mode networkingapi.ClientTLSSettings_TLSmode) RuleOption {
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

func WithExportTo(to ...string) RuleOption {
	return func(dr *networkingv1.DestinationRule) { dr.Spec.ExportTo = to }
}
