// Tests that Istio's rules match istiod's source: DestinationRule lookup per client, target ports,
// port protocols, gateways, workloads judged whole, and client TLS per calling workload.

package istio

import (
	"slices"
	"testing"

	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshlock/meshlock/internal/graph"

	"github.com/meshlock/meshlock/internal/testutil"
)

func selectingClients(kv ...string) testutil.RuleOption {
	return func(dr *networkingv1.DestinationRule) {
		dr.Spec.WorkloadSelector = &typeapi.WorkloadSelector{MatchLabels: testutil.Labels(kv...)}
	}
}

// withPortNoTLS adds a port-level entry that sets no tls.
func withPortNoTLS(port uint32) testutil.RuleOption {
	return func(dr *networkingv1.DestinationRule) {
		if dr.Spec.TrafficPolicy == nil {
			dr.Spec.TrafficPolicy = &networkingapi.TrafficPolicy{}
		}
		dr.Spec.TrafficPolicy.PortLevelSettings = append(dr.Spec.TrafficPolicy.PortLevelSettings,
			&networkingapi.TrafficPolicy_PortTrafficPolicy{Port: &networkingapi.PortSelector{Number: port},
				ConnectionPool: &networkingapi.ConnectionPoolSettings{Tcp: &networkingapi.ConnectionPoolSettings_TCPSettings{MaxConnections: 5}}})
	}
}

const (
	tlsMutual  = networkingapi.ClientTLSSettings_ISTIO_MUTUAL
	tlsDisable = networkingapi.ClientTLSSettings_DISABLE
)

// The lookup of pilot/pkg/model/push_context.go (setDestinationRules,
// destinationRule) and sidecar.go (SidecarScope.DestinationRule), asked for
// reviews.default:9080 from each client.
func TestDestinationRuleLookupAsIstiod(t *testing.T) {
	tests := []struct {
		name     string
		rules    []*networkingv1.DestinationRule
		clientNS string
		labels   map[string]string
		wantTLS  TLSMode
		wantRule string
		wantEff  TLSMode
	}{
		{
			name:     "the client's namespace first, whatever the service's says",
			rules:    []*networkingv1.DestinationRule{testutil.Rule("default", "r", "reviews", 1, testutil.WithTLS(tlsMutual)), testutil.Rule("shop", "mine", "reviews.default.svc.cluster.local", 2, testutil.WithTLS(tlsDisable))},
			clientNS: "shop", wantTLS: TLSModeDisable, wantRule: "mine",
		},
		{
			name:     "a wildcard in the client's namespace beats an exact host in the service's",
			rules:    []*networkingv1.DestinationRule{testutil.Rule("default", "r", "reviews", 1, testutil.WithTLS(tlsMutual)), testutil.Rule("shop", "all", "*.svc.cluster.local", 2, testutil.WithTLS(tlsDisable))},
			clientNS: "shop", wantTLS: TLSModeDisable, wantRule: "all",
		},
		{
			name:     "exportTo '.' keeps a rule from other namespaces",
			rules:    []*networkingv1.DestinationRule{testutil.Rule("default", "r", "reviews", 1, testutil.WithTLS(tlsMutual), testutil.WithExportTo("."))},
			clientNS: "shop", wantTLS: TLSModeNone,
		},
		{
			name:     "exportTo naming the client's namespace",
			rules:    []*networkingv1.DestinationRule{testutil.Rule("default", "r", "reviews", 1, testutil.WithTLS(tlsMutual), testutil.WithExportTo("shop"))},
			clientNS: "shop", wantTLS: TLSModeIstioMutual, wantRule: "r",
		},
		{
			name:     "a rule exported only to another namespace is not seen in its own",
			rules:    []*networkingv1.DestinationRule{testutil.Rule("default", "r", "reviews", 1, testutil.WithTLS(tlsMutual), testutil.WithExportTo("shop"))},
			clientNS: "default", wantTLS: TLSModeNone,
		},
		{
			name:     "a rule in a third namespace is never used",
			rules:    []*networkingv1.DestinationRule{testutil.Rule("other", "r", "reviews.default.svc.cluster.local", 1, testutil.WithTLS(tlsMutual), testutil.WithExportTo("*"))},
			clientNS: "shop", wantTLS: TLSModeNone,
		},
		{
			name: "rules with different exportTo are kept apart: the last set wins",
			rules: []*networkingv1.DestinationRule{
				testutil.Rule("default", "old", "reviews", 1, testutil.WithTLS(tlsMutual)),
				testutil.Rule("default", "new", "reviews", 2, testutil.WithTLS(tlsDisable), testutil.WithExportTo("shop")),
			},
			clientNS: "shop", wantTLS: TLSModeDisable, wantRule: "new",
		},
		{
			name: "rules with the same exportTo merge: the oldest policy wins",
			rules: []*networkingv1.DestinationRule{
				testutil.Rule("default", "old", "reviews", 1, testutil.WithTLS(tlsMutual)),
				testutil.Rule("default", "new", "reviews", 2, testutil.WithTLS(tlsDisable)),
			},
			clientNS: "shop", wantTLS: TLSModeIstioMutual, wantRule: "old",
		},
		{
			name: "a selector rule applies to the workloads it selects",
			rules: []*networkingv1.DestinationRule{
				testutil.Rule("default", "plain", "reviews", 1, testutil.WithTLS(tlsMutual)),
				testutil.Rule("default", "batch", "reviews", 2, testutil.WithTLS(tlsDisable), selectingClients("app", "batch")),
			},
			clientNS: "default", labels: testutil.Labels("app", "batch"), wantTLS: TLSModeDisable, wantRule: "batch",
		},
		{
			name: "and not to the others",
			rules: []*networkingv1.DestinationRule{
				testutil.Rule("default", "plain", "reviews", 1, testutil.WithTLS(tlsMutual)),
				testutil.Rule("default", "batch", "reviews", 2, testutil.WithTLS(tlsDisable), selectingClients("app", "batch")),
			},
			clientNS: "default", labels: testutil.Labels("app", "web"), wantTLS: TLSModeIstioMutual, wantRule: "plain",
		},
		{
			name:     "a selector rule is private to its namespace whatever its exportTo",
			rules:    []*networkingv1.DestinationRule{testutil.Rule("default", "batch", "reviews", 2, testutil.WithTLS(tlsDisable), selectingClients("app", "batch"), testutil.WithExportTo("*"))},
			clientNS: "shop", labels: testutil.Labels("app", "batch"), wantTLS: TLSModeNone,
		},
		{
			name: "only a non-matching selector rule in the client's namespace: no rule, no fallback",
			rules: []*networkingv1.DestinationRule{
				testutil.Rule("default", "r", "reviews", 1, testutil.WithTLS(tlsMutual)),
				testutil.Rule("shop", "batch", "reviews.default.svc.cluster.local", 2, testutil.WithTLS(tlsDisable), selectingClients("app", "batch")),
			},
			clientNS: "shop", labels: testutil.Labels("app", "web"), wantTLS: TLSModeNone,
		},
		{
			name:     "the root namespace's rule for everyone",
			rules:    []*networkingv1.DestinationRule{testutil.Rule("istio-system", "mesh", "*.local", 1, testutil.WithTLS(tlsMutual))},
			clientNS: "shop", wantTLS: TLSModeIstioMutual, wantRule: "mesh",
		},
		{
			// mtls_checker.go inherits the top-level mode under a port entry
			// without tls; the cluster does not: plaintext to every endpoint.
			name:     "top-level DISABLE with a port-level entry without tls stays DISABLE",
			rules:    []*networkingv1.DestinationRule{testutil.Rule("default", "r", "reviews", 1, testutil.WithTLS(tlsDisable), withPortNoTLS(9080))},
			clientNS: "default", wantTLS: TLSModeNone, wantRule: "r", wantEff: TLSModeDisable,
		},
		{
			name:     "top-level ISTIO_MUTUAL with a port-level entry without tls is auto mTLS",
			rules:    []*networkingv1.DestinationRule{testutil.Rule("default", "r", "reviews", 1, testutil.WithTLS(tlsMutual), withPortNoTLS(9080))},
			clientNS: "default", wantTLS: TLSModeNone, wantRule: "r", wantEff: TLSModeNone,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := ResolveClientPolicy(tc.rules, ClientPolicyQuery{
				ClientNamespace: tc.clientNS, ClientLabels: tc.labels,
				ServiceName: "reviews", ServiceNS: "default", ServicePort: 9080,
			})
			rule := ""
			if p.Rule != nil {
				rule = p.Rule.Name
			}
			if p.TLS != tc.wantTLS || rule != tc.wantRule {
				t.Errorf("TLS %q from %q, want %q from %q", p.TLS, rule, tc.wantTLS, tc.wantRule)
			}
			wantEff := tc.wantEff
			if tc.wantTLS != TLSModeNone {
				wantEff = tc.wantTLS
			}
			if got := p.Effective(); got != wantEff {
				t.Errorf("Effective() = %q, want %q", got, wantEff)
			}
		})
	}
}

// portLevelMtls is keyed by the container port (listener_inbound.go
// ForPort(TargetPort)); a named targetPort is resolved through the pod's
// container ports by name and protocol (kube/controller/util.go FindPort).
func TestServicePortsByTargetPort(t *testing.T) {
	pod := testutil.Pod("default", "web-1", testutil.WithLabels("app", "web"), testutil.WithSidecar(), testutil.WithContainerPort("http-api", 8080), testutil.WithContainerPort("metrics", 9090))
	svc := testutil.Service("default", "web", testutil.Labels("app", "web"),
		corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromString("http-api")},
		corev1.ServicePort{Name: "tcp-metrics", Port: 9090, TargetPort: intstr.FromInt32(9090)},
		corev1.ServicePort{Name: "grpc-gone", Port: 7000, TargetPort: intstr.FromString("nowhere")},
	)
	strictByTarget := testutil.PeerAuth("default", "web", 1, testutil.PAPermissive, testutil.Selecting("app", "web"), testutil.OnPort(8080, securityapi.PeerAuthentication_MutualTLS_STRICT))
	byServicePort := testutil.PeerAuth("default", "web", 1, testutil.PAStrict, testutil.Selecting("app", "web"), testutil.OnPort(80, securityapi.PeerAuthentication_MutualTLS_DISABLE))

	t.Run("an entry for the target port applies", func(t *testing.T) {
		got := describeService(svc, []*corev1.Pod{pod}, nil, nil, []*securityv1.PeerAuthentication{strictByTarget}, DefaultRootNamespace)
		want := []graph.ServicePort{
			{Port: 80, TargetPort: 8080, Protocol: "http", PeerAuthentication: "STRICT", PeerAuthenticationSource: "default/web"},
			{Port: 9090, TargetPort: 9090, Protocol: "tcp", PeerAuthentication: "PERMISSIVE", PeerAuthenticationSource: "default/web"},
			{Port: 7000, TargetPort: 0, Protocol: "grpc", PeerAuthentication: "UNSET"},
		}
		if !slices.Equal(got.Ports, want) {
			t.Errorf("ports\n got %+v\nwant %+v", got.Ports, want)
		}
		// The weakest of the ports that reach a pod; port 7000 reaches none.
		if got.PeerAuthentication != "PERMISSIVE" || got.PeerAuthenticationSource != "default/web" {
			t.Errorf("node mode %q from %q, want the weakest of its ports", got.PeerAuthentication, got.PeerAuthenticationSource)
		}
	})
	t.Run("an entry keyed by the Service port does nothing (istio/istio#49098)", func(t *testing.T) {
		got := describeService(svc, []*corev1.Pod{pod}, nil, nil, []*securityv1.PeerAuthentication{byServicePort}, DefaultRootNamespace)
		if got.Ports[0].PeerAuthentication != "STRICT" {
			t.Errorf("port 80: %+v", got.Ports[0])
		}
	})
	t.Run("ties go to the first port, whatever order the pods come in", func(t *testing.T) {
		other := testutil.Pod("default", "web-0", testutil.WithLabels("app", "web"), testutil.WithSidecar(), testutil.WithContainerPort("http-api", 8081), testutil.WithContainerPort("metrics", 9090))
		a := describeService(svc, []*corev1.Pod{other, pod}, nil, nil, nil, DefaultRootNamespace)
		if a.Ports[0].TargetPort != 8081 {
			t.Errorf("target port from %d, want from the first pod by name", a.Ports[0].TargetPort)
		}
	})
}

func TestTargetPortRequiresNameAndProtocol(t *testing.T) {
	pod := testutil.Pod("default", "p", func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}}
		always := corev1.ContainerRestartPolicyAlways
		p.Spec.InitContainers = []corev1.Container{{Name: "helper", RestartPolicy: &always, Ports: []corev1.ContainerPort{{Name: "side", ContainerPort: 7777}}}}
	})
	if _, ok := TargetPort(corev1.ServicePort{Port: 53, TargetPort: intstr.FromString("dns"), Protocol: corev1.ProtocolTCP}, pod); ok {
		t.Error("a TCP port resolved to a UDP container port")
	}
	if tp, ok := TargetPort(corev1.ServicePort{Port: 53, TargetPort: intstr.FromString("dns"), Protocol: corev1.ProtocolUDP}, pod); !ok || tp != 53 {
		t.Errorf("UDP: %d %v", tp, ok)
	}
	if tp, ok := TargetPort(corev1.ServicePort{Port: 1, TargetPort: intstr.FromString("side")}, pod); !ok || tp != 7777 {
		t.Errorf("native sidecar port: %d %v", tp, ok)
	}
	if tp, ok := TargetPort(corev1.ServicePort{Port: 80}, pod); !ok || tp != 80 {
		t.Errorf("no targetPort: %d %v", tp, ok)
	}
}

// pkg/config/kube/conversion.go ConvertProtocol.
func TestPortProtocolAsIstio(t *testing.T) {
	app := func(s string) *string { return &s }
	for _, tc := range []struct {
		port corev1.ServicePort
		want string
	}{
		{corev1.ServicePort{Name: "http-web", Port: 80}, "http"},
		{corev1.ServicePort{Name: "HTTP2", Port: 80}, "http2"},
		{corev1.ServicePort{Name: "grpc-web-ui", Port: 80}, "grpc-web"},
		{corev1.ServicePort{Name: "tcp", Port: 5000}, "tcp"},
		{corev1.ServicePort{Name: "web", Port: 80}, "auto"},
		{corev1.ServicePort{Name: "", Port: 3306}, "tcp"},
		{corev1.ServicePort{Name: "http", Port: 80, AppProtocol: app("grpc")}, "grpc"},
		{corev1.ServicePort{Name: "http", Port: 80, AppProtocol: app("custom")}, "auto"},
		{corev1.ServicePort{Name: "x", Port: 80, AppProtocol: app("kubernetes.io/h2c")}, "http2"},
		{corev1.ServicePort{Name: "http", Port: 53, Protocol: corev1.ProtocolUDP}, "udp"},
	} {
		if got := PortProtocol(tc.port); got != tc.want {
			t.Errorf("PortProtocol(%+v) = %q, want %q", tc.port, got, tc.want)
		}
	}
}

func TestIsGateway(t *testing.T) {
	for _, tc := range []struct {
		labels []string
		want   bool
	}{
		{[]string{"istio", "ingressgateway"}, true},
		{[]string{"istio", "egressgateway"}, true},
		{[]string{"istio", "pilot"}, false},
		{[]string{"gateway.networking.k8s.io/gateway-name", "public"}, true},
		{[]string{"gateway.networking.k8s.io/gateway-name", "waypoint", "gateway.istio.io/managed", "istio.io-mesh-controller"}, false},
		{[]string{"app", "web"}, false},
	} {
		if got := IsGateway(testutil.Pod("x", "p", testutil.WithLabels(tc.labels...))); got != tc.want {
			t.Errorf("IsGateway(%v) = %v", tc.labels, got)
		}
	}
}

// An east-west gateway is a gateway labelled with its network
// (pilot/pkg/serviceregistry/kube/controller/network.go).
func TestIsNetworkGateway(t *testing.T) {
	for _, tc := range []struct {
		labels []string
		want   bool
	}{
		{[]string{"istio", "eastwestgateway", "topology.istio.io/network", "east"}, true},
		{[]string{"istio", "ingressgateway"}, false},
		{[]string{"app", "web", "topology.istio.io/network", "east"}, false},
	} {
		if got := IsNetworkGateway(testutil.Pod("x", "p", testutil.WithLabels(tc.labels...))); got != tc.want {
			t.Errorf("IsNetworkGateway(%v) = %v", tc.labels, got)
		}
	}
}

// Workloads are judged whole: all their ServiceAccounts, a sidecar only
// when every pod has one, whatever order the cache lists them in.
func TestWorkloadsJudgedWhole(t *testing.T) {
	pods := []*corev1.Pod{
		testutil.Pod("default", "web-abc-2", testutil.InDeployment("web", "abc"), testutil.WithServiceAccount("web-new"), testutil.WithSidecar()),
		testutil.Pod("default", "web-abc-1", testutil.InDeployment("web", "abc"), testutil.WithServiceAccount("web"), testutil.WithSidecar()),
		testutil.Pod("default", "backup-29412345-x", testutil.OwnedBy("Job", "backup-29412345", true)),
	}
	for _, order := range [][]*corev1.Pod{pods, {pods[2], pods[1], pods[0]}} {
		got := BuildCluster(Objects{Pods: order}, DefaultRootNamespace).Workloads
		want := []graph.Workload{
			{Namespace: "default", Name: "backup", ServiceAccounts: []string{"default"}, DataPlane: graph.DataPlaneNone},
			{Namespace: "default", Name: "web", ServiceAccounts: []string{"web", "web-new"}, DataPlane: graph.DataPlaneSidecar},
		}
		if len(got) != 2 || got[0].Name != want[0].Name || !slices.Equal(got[1].ServiceAccounts, want[1].ServiceAccounts) || got[1].DataPlane != graph.DataPlaneSidecar {
			t.Errorf("workloads %+v, want %+v", got, want)
		}
	}
}

// ClientTLS answers per calling workload, with its labels, for each port.
func TestClusterClientTLSPerCaller(t *testing.T) {
	s := Objects{
		Pods: []*corev1.Pod{
			testutil.Pod("default", "web-abc-1", testutil.InDeployment("web", "abc"), testutil.WithLabels("app", "web"), testutil.WithSidecar()),
			testutil.Pod("default", "batch-abc-1", testutil.InDeployment("batch", "abc"), testutil.WithLabels("app", "batch"), testutil.WithSidecar()),
			testutil.Pod("default", "reviews-abc-1", testutil.InDeployment("reviews", "abc"), testutil.WithLabels("app", "reviews"), testutil.WithSidecar()),
		},
		Services: []*corev1.Service{testutil.Service("default", "reviews", testutil.Labels("app", "reviews"), testutil.ServicePort(9080, intstr.FromInt32(9080)), corev1.ServicePort{Name: "tcp", Port: 9090})},
		Rules: []*networkingv1.DestinationRule{
			testutil.Rule("default", "reviews", "reviews", 1, testutil.WithTLS(tlsMutual)),
			testutil.Rule("default", "batch", "reviews", 2, testutil.WithPortTLS(9090, tlsDisable), testutil.WithTLS(tlsMutual), selectingClients("app", "batch")),
		},
	}
	c := BuildCluster(s, DefaultRootNamespace)
	web := c.ClientTLS("default", "web", "default", "reviews")
	batch := c.ClientTLS("default", "batch", "default", "reviews")
	wantWeb := []graph.ClientTLS{{Port: 9080, TLS: "ISTIO_MUTUAL", Rule: "default/reviews"}, {Port: 9090, TLS: "ISTIO_MUTUAL", Rule: "default/reviews"}}
	wantBatch := []graph.ClientTLS{{Port: 9080, TLS: "ISTIO_MUTUAL", Rule: "default/batch"}, {Port: 9090, TLS: "DISABLE", Rule: "default/batch"}}
	if !slices.Equal(web, wantWeb) || !slices.Equal(batch, wantBatch) {
		t.Errorf("web %+v\nbatch %+v", web, batch)
	}
	if got := c.ClientTLS("default", "web", "default", "nosuch"); got != nil {
		t.Errorf("unknown service: %+v", got)
	}
}
