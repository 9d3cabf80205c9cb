// Scenarios checking the simulated mesh against Istio's rules, each naming the Istio source it models:
// per-endpoint auto mTLS, TCP byte counters, port-level mTLS, client DestinationRules, failure flags, ...

package meshsim

import (
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"

	rules "github.com/meshlock/meshlock/internal/istio"
)

// Scenarios for the rules of docs/graph.md, each naming the Istio
// source it models. Every case runs 10 s of simulated time.

const (
	strict     = securityapi.PeerAuthentication_MutualTLS_STRICT
	permissive = securityapi.PeerAuthentication_MutualTLS_PERMISSIVE
	disable    = securityapi.PeerAuthentication_MutualTLS_DISABLE

	istioMutual = networkingapi.ClientTLSSettings_ISTIO_MUTUAL
	drDisable   = networkingapi.ClientTLSSettings_DISABLE
	simple      = networkingapi.ClientTLSSettings_SIMPLE

	serverFQDN = "server.backend.svc.cluster.local"
)

type ruleCase struct {
	name        string
	topology    Topology
	autoMTLS    bool
	trustDomain string
	policies    []runtime.Object
	outcomes    map[string]CallerOutcome // by Caller.Key(); only the callers listed are checked
	want        []sample
}

func runRuleCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := New(Options{Topology: tc.topology, Istio: newFakeIstio(tc.policies...), AutoMTLS: tc.autoMTLS, TrustDomain: tc.trustDomain})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			m.Tick(10 * time.Second)
			got := m.Outcomes()
			for key, want := range tc.outcomes {
				if got[key] != want {
					t.Errorf("outcome of %s = %+v, want %+v", key, got[key], want)
				}
			}
			diffSamples(t, scrape(t, m), tc.want)
		})
	}
}

// peerOf spells out one side's labels ("source" or "destination").
func peerOf(side, workload, namespace, principal, app, version, canonical, revision string) map[string]string {
	return map[string]string{
		side + "_workload": workload, side + "_workload_namespace": namespace, side + "_principal": principal,
		side + "_app": app, side + "_version": version, side + "_cluster": "Kubernetes",
		side + "_canonical_service": canonical, side + "_canonical_revision": revision,
	}
}

func withService(l map[string]string, name, namespace string) map[string]string {
	out := maps.Clone(l)
	out["destination_service"] = name + "." + namespace + ".svc.cluster.local"
	out["destination_service_name"], out["destination_service_namespace"] = name, namespace
	return out
}

func httpN(reporter string, src, dst map[string]string, code, flags, policy string, n float64) sample {
	s := httpSample(reporter, src, dst, code, flags, policy, 10)
	s.value = n
	return s
}

func with(t Topology, workloads []Workload, services []Service, callers ...Caller) Topology {
	t.Workloads = append(t.Workloads, workloads...)
	t.Services = append(t.Services, services...)
	t.Callers = callers
	return t
}

func selectorDR(namespace, name, host string, selector map[string]string, mode networkingapi.ClientTLSSettings_TLSmode) *networkingv1.DestinationRule {
	d := drTLS(namespace, name, host, mode)
	d.Spec.WorkloadSelector = &typeapi.WorkloadSelector{MatchLabels: selector}
	return d
}

func exported(d *networkingv1.DestinationRule, to ...string) *networkingv1.DestinationRule {
	d.Spec.ExportTo = to
	return d
}

// Rule 1. Auto mTLS decides per endpoint (pilot/pkg/xds/endpoints/mtls_checker.go
// checkMtlsEnabled): a Service with one injected and one bare workload gets
// mTLS to the first and plaintext to the second. The client reports both;
// only the sidecar reports as destination.
func partialTopology() Topology {
	return with(scenarioTopology(toServer), []Workload{
		{Name: "mixed-sidecar", Namespace: "backend", ServiceAccount: "mixed-sa", Sidecar: true, Labels: map[string]string{"app": "mixed", "version": "v1"}},
		{Name: "mixed-bare", Namespace: "backend", ServiceAccount: "mixed-bare-sa", Labels: map[string]string{"app": "mixed", "version": "v2"}},
	}, []Service{{Name: "mixed", Namespace: "backend", Selector: map[string]string{"app": "mixed"}, Ports: []ServicePort{{Name: "http", Port: 8080, Protocol: HTTP}}}},
		Caller{From: "app/client", To: "backend/mixed", Port: 8080, Rate: 1})
}

func TestPartialInjectionMTLSPerEndpoint_mtlsChecker(t *testing.T) {
	const key = "app/client->backend/mixed:8080"
	sidecar := withService(peerOf("destination", "mixed-sidecar", "backend", "spiffe://cluster.local/ns/backend/sa/mixed-sa", "mixed", "v1", "mixed", "v1"), "mixed", "backend")
	bare := withService(peerOf("destination", "mixed-bare", "backend", "unknown", "unknown", "unknown", "mixed", "v2"), "mixed", "backend")
	runRuleCases(t, []ruleCase{
		{
			name: "auto mTLS: mTLS to the sidecar endpoint, plaintext to the bare one", topology: partialTopology(), autoMTLS: true,
			outcomes: map[string]CallerOutcome{key: {Succeeded: 10}},
			want: []sample{
				httpN("source", clientLabels(true), sidecar, "200", "-", "unknown", 5),
				httpN("destination", clientLabels(true), sidecar, "200", "-", "mutual_tls", 5),
				httpN("source", clientLabels(false), bare, "200", "-", "unknown", 5),
			},
		},
		{
			name: "namespace DISABLE turns auto mTLS off for the whole Service (BestEffortInferServiceMTLSMode)", topology: partialTopology(), autoMTLS: true,
			policies: []runtime.Object{pa("backend", "default", nil, disable)},
			outcomes: map[string]CallerOutcome{key: {Succeeded: 10}},
			want: []sample{
				httpN("source", clientLabels(false), principalless(sidecar), "200", "-", "unknown", 5),
				httpN("destination", clientLabels(false), principalless(sidecar), "200", "-", "none", 5),
				httpN("source", clientLabels(false), bare, "200", "-", "unknown", 5),
			},
		},
		{
			name: "DR ISTIO_MUTUAL sends mTLS to the bare endpoint too, which fails UF,URX", topology: partialTopology(),
			policies: []runtime.Object{drTLS("backend", "mixed", "mixed", istioMutual)},
			outcomes: map[string]CallerOutcome{key: {Succeeded: 5, Failed: 5}},
			want: []sample{
				httpN("source", clientLabels(true), sidecar, "200", "-", "unknown", 5),
				httpN("destination", clientLabels(true), sidecar, "200", "-", "mutual_tls", 5),
				httpN("source", clientLabels(false), bare, "503", "UF,URX", "unknown", 5),
			},
		},
	})
}

func principalless(l map[string]string) map[string]string {
	out := maps.Clone(l)
	out["destination_principal"] = "unknown"
	return out
}

// Rule 3. A write-only TCP client: bytes only in the request direction,
// which both reporters count on istio_tcp_received_bytes_total; Envoy
// exports no sent_bytes series it never incremented.
func TestTCPWriteOnlyClientReportsReceivedBytesOnly(t *testing.T) {
	c := toServerTCP
	c.BytesReceived = 0
	runRuleCases(t, []ruleCase{{
		name: "write-only over mTLS", topology: scenarioTopology(c), autoMTLS: true,
		outcomes: map[string]CallerOutcome{c.Key(): {Succeeded: 10}},
		want: append(
			tcpSamples("source", clientLabels(true), serverLabels(true), "-", "unknown", 10, 1000, 0),
			tcpSamples("destination", clientLabels(true), serverLabels(true), "-", "mutual_tls", 10, 1000, 0)...),
	}})
}

// Rule 4. portLevelMtls keys on the container (target) port
// (pilot/pkg/networking/core/listener_inbound.go ForPort(TargetPort)), also
// when the Service names it; a key equal to the Service port does nothing
// for service traffic (istio/istio#49098).
func TestNamedTargetPortPortLevelMtls_listenerInbound(t *testing.T) {
	tp := scenarioTopology(toServer)
	tp.Services[0].Ports[0].TargetPortName = "web" // 8080 -> "web" = 9090
	serverSel := map[string]string{"app": "server"}
	ports := func(mode securityapi.PeerAuthentication_MutualTLS_Mode, port uint32, portMode securityapi.PeerAuthentication_MutualTLS_Mode) runtime.Object {
		return withPorts(pa("backend", "server", serverSel, mode), map[uint32]securityapi.PeerAuthentication_MutualTLS_Mode{port: portMode})
	}
	plainOK := []sample{srcOK(serverLabels(false)), dstOK(clientLabels(false), serverLabels(false), "none")}
	runRuleCases(t, []ruleCase{
		{
			name: "entry on the named container port 9090 relaxes workload STRICT", topology: tp,
			policies: []runtime.Object{ports(strict, 9090, permissive)},
			outcomes: map[string]CallerOutcome{toServer.Key(): {Succeeded: 10}}, want: plainOK,
		},
		{
			name: "entry STRICT on the named container port 9090 refuses plaintext (UC)", topology: tp,
			policies: []runtime.Object{ports(permissive, 9090, strict)},
			outcomes: map[string]CallerOutcome{toServer.Key(): {Failed: 10}}, want: []sample{srcUC(serverLabels(false))},
		},
		{
			name: "entry keyed by the Service port 8080 does nothing (istio/istio#49098)", topology: tp,
			policies: []runtime.Object{ports(permissive, 8080, strict)},
			outcomes: map[string]CallerOutcome{toServer.Key(): {Succeeded: 10}}, want: plainOK,
		},
		{
			name: "auto mTLS reads the same port: DISABLE on 9090 under STRICT gets plaintext", topology: tp, autoMTLS: true,
			policies: []runtime.Object{ports(strict, 9090, disable)},
			outcomes: map[string]CallerOutcome{toServer.Key(): {Succeeded: 10}}, want: plainOK,
		},
	})
}

// Rule 5. The DestinationRule a client sidecar gets (pilot/pkg/model/push_context.go
// destinationRule, sidecar.go DestinationRule), seen at the destination.
func TestClientSideDestinationRules_pushContext(t *testing.T) {
	other := Workload{Name: "client2", Namespace: "app", ServiceAccount: "client2-sa", Sidecar: true, Labels: map[string]string{"app": "client2", "version": "v1"}}
	toServer2 := Caller{From: "app/client2", To: "backend/server", Port: 8080, Rate: 1}
	two := with(scenarioTopology(toServer), []Workload{other}, nil, toServer, toServer2)
	client2 := func(mtls bool) map[string]string {
		return peerOf("source", "client2", "app", principalOr(mtls, "spiffe://cluster.local/ns/app/sa/client2-sa"), "client2", "v1", "client2", "v1")
	}
	mtlsFrom := func(src map[string]string) []sample {
		return []sample{httpSample("source", src, serverLabels(true), "200", "-", "unknown", 10), dstOK(src, serverLabels(true), "mutual_tls")}
	}
	plainFrom := func(src map[string]string) []sample {
		return []sample{httpSample("source", src, serverLabels(false), "200", "-", "unknown", 10), dstOK(src, serverLabels(false), "none")}
	}
	runRuleCases(t, []ruleCase{
		{
			name: "a client-namespace rule beats the service namespace's", topology: scenarioTopology(toServer),
			policies: []runtime.Object{drTLS("app", "server", serverFQDN, istioMutual), drTLS("backend", "server", serverFQDN, drDisable)},
			want:     mtlsFrom(clientLabels(true)),
		},
		{
			name: "exportTo . keeps a client-namespace rule for its own namespace", topology: scenarioTopology(toServer),
			policies: []runtime.Object{exported(drTLS("app", "server", serverFQDN, istioMutual), ".")},
			want:     mtlsFrom(clientLabels(true)),
		},
		{
			name: "exportTo . hides a service-namespace rule from the client", topology: scenarioTopology(toServer),
			policies: []runtime.Object{exported(drTLS("backend", "server", serverFQDN, istioMutual), ".")},
			want:     plainFrom(clientLabels(false)),
		},
		{
			name: "exportTo naming only another namespace hides the rule", topology: scenarioTopology(toServer),
			policies: []runtime.Object{exported(drTLS("backend", "server", serverFQDN, istioMutual), "elsewhere")},
			want:     plainFrom(clientLabels(false)),
		},
		{
			name: "a workloadSelector rule applies to the caller it selects only", topology: two,
			policies: []runtime.Object{selectorDR("app", "client-only", serverFQDN, map[string]string{"app": "client"}, istioMutual)},
			want:     append(mtlsFrom(clientLabels(true)), plainFrom(client2(false))...),
		},
		{
			name: "a workloadSelector rule in the service namespace selects no caller elsewhere", topology: two,
			policies: []runtime.Object{selectorDR("backend", "client-only", serverFQDN, map[string]string{"app": "client"}, istioMutual)},
			want:     append(plainFrom(clientLabels(false)), plainFrom(client2(false))...),
		},
		{
			name: "a non-matching selector rule in the client namespace leaves the client no rule (no fallback)", topology: scenarioTopology(toServer), autoMTLS: true,
			policies: []runtime.Object{
				selectorDR("app", "client2-only", serverFQDN, map[string]string{"app": "client2"}, drDisable),
				drTLS("backend", "server", serverFQDN, drDisable),
			},
			want: mtlsFrom(clientLabels(true)), // auto mTLS, not the service namespace's DISABLE
		},
	})
}

// Rule 6. What the client sends: the cluster's
// tls (cluster_builder.go applyDestinationRule) and, when it has none, auto
// mTLS with the endpoint check reading the port entry's tls or else the
// top-level one (mtls_checker.go trafficPolicyTLSModeForPort).
func TestClientTLSDecision_clusterTLSAndMtlsChecker(t *testing.T) {
	portWithoutTLS := func(host string, top networkingapi.ClientTLSSettings_TLSmode, port uint32) runtime.Object {
		return dr("backend", "server", host, &networkingapi.TrafficPolicy{
			Tls: tls(top), PortLevelSettings: []*networkingapi.TrafficPolicy_PortTrafficPolicy{portTLS(port, nil)},
		})
	}
	runRuleCases(t, []ruleCase{
		{
			name: "top-level DISABLE with a port-level entry without tls: plaintext (EDS inherits DISABLE)", topology: scenarioTopology(toServer), autoMTLS: true,
			policies: []runtime.Object{portWithoutTLS(serverFQDN, drDisable, 8080)},
			want:     []sample{srcOK(serverLabels(false)), dstOK(clientLabels(false), serverLabels(false), "none")},
		},
		{
			name: "top-level ISTIO_MUTUAL with a port-level entry without tls: auto mTLS", topology: scenarioTopology(toServer), autoMTLS: true,
			policies: []runtime.Object{portWithoutTLS(serverFQDN, istioMutual, 8080)},
			want:     []sample{srcOK(serverLabels(true)), dstOK(clientLabels(true), serverLabels(true), "mutual_tls")},
		},
		{
			name: "top-level ISTIO_MUTUAL with a port-level entry without tls: auto mTLS sends plaintext to a bare server", topology: scenarioTopology(toBare), autoMTLS: true,
			policies: []runtime.Object{dr("backend", "bare", "bare", &networkingapi.TrafficPolicy{
				Tls: tls(istioMutual), PortLevelSettings: []*networkingapi.TrafficPolicy_PortTrafficPolicy{portTLS(8080, nil)},
			})},
			outcomes: map[string]CallerOutcome{toBare.Key(): {Succeeded: 10}},
			want:     []sample{srcOK(bareLabels())},
		},
		{
			name: "top-level ISTIO_MUTUAL with a port-level entry without tls: the endpoint check skips PeerAuthentication, so mTLS meets DISABLE (UF,URX)", topology: scenarioTopology(toServer), autoMTLS: true,
			policies: []runtime.Object{portWithoutTLS(serverFQDN, istioMutual, 8080), pa("backend", "server", map[string]string{"app": "server"}, disable)},
			outcomes: map[string]CallerOutcome{toServer.Key(): {Failed: 10}},
			want:     []sample{srcUF(serverLabels(false))},
		},
		{
			name: "top-level ISTIO_MUTUAL with a port-level entry without tls and auto mTLS off: plaintext", topology: scenarioTopology(toServer),
			policies: []runtime.Object{portWithoutTLS(serverFQDN, istioMutual, 8080)},
			want:     []sample{srcOK(serverLabels(false)), dstOK(clientLabels(false), serverLabels(false), "none")},
		},
		{
			name: "namespace DISABLE with workload STRICT: auto mTLS sends plaintext and is refused (UC)", topology: scenarioTopology(toServer), autoMTLS: true,
			policies: []runtime.Object{pa("backend", "default", nil, disable), pa("backend", "server", map[string]string{"app": "server"}, strict)},
			outcomes: map[string]CallerOutcome{toServer.Key(): {Failed: 10}},
			want:     []sample{srcUC(serverLabels(false))},
		},
		{
			name: "mesh DISABLE inherited by the namespace also turns auto mTLS off", topology: scenarioTopology(toServer), autoMTLS: true,
			policies: []runtime.Object{pa("istio-system", "default", nil, disable)},
			want:     []sample{srcOK(serverLabels(false)), dstOK(clientLabels(false), serverLabels(false), "none")},
		},
	})
}

// Rule 7. Failures as the client's proxy reports them (istio/proxy istio_stats).
func TestHandshakeFailureFlags_istioStats(t *testing.T) {
	serverSel := map[string]string{"app": "server"}
	tcpFail := func(flags string) []sample {
		return tcpSamples("source", clientLabels(false), endpointView(serverLabels(false)), flags, "unknown", 10, 0, 0)
	}
	runRuleCases(t, []ruleCase{
		{
			name: "HTTP mTLS to a DISABLE sidecar: 503 UF,URX", topology: scenarioTopology(toServer),
			policies: []runtime.Object{drTLS("backend", "server", serverFQDN, istioMutual), pa("backend", "server", serverSel, disable)},
			want:     []sample{srcUF(serverLabels(false))},
		},
		{
			name: "HTTP plaintext to STRICT: 503 UC", topology: scenarioTopology(toServer),
			policies: []runtime.Object{pa("backend", "default", nil, strict)},
			want:     []sample{srcUC(serverLabels(false))},
		},
		{
			name: "TCP mTLS to a DISABLE sidecar: UF,URX, no bytes", topology: scenarioTopology(toServerTCP),
			policies: []runtime.Object{drTLS("backend", "server", serverFQDN, istioMutual), pa("backend", "server", serverSel, disable)},
			outcomes: map[string]CallerOutcome{toServerTCP.Key(): {Failed: 10}},
			want:     tcpFail("UF,URX"),
		},
		{
			name: "TCP SIMPLE to a PERMISSIVE sidecar: UF,URX, no bytes", topology: scenarioTopology(toServerTCP), autoMTLS: true,
			policies: []runtime.Object{drTLS("backend", "server", serverFQDN, simple)},
			outcomes: map[string]CallerOutcome{toServerTCP.Key(): {Failed: 10}},
			want:     tcpFail("UF,URX"),
		},
		{
			name: "TCP plaintext to STRICT: opened and closed with -, no bytes", topology: scenarioTopology(toServerTCP),
			policies: []runtime.Object{pa("backend", "default", nil, strict)},
			outcomes: map[string]CallerOutcome{toServerTCP.Key(): {Failed: 10}},
			want:     tcpFail("-"),
		},
	})
}

// Rule 8. TCP over mTLS without the istio-peer-exchange ALPN
// (metadata_exchange.cc): the server knows the caller by certificate only;
// the client knows the server from EDS plus the certificate.
func TestNoMetadataExchangeKnowsThePrincipalOnly_metadataExchange(t *testing.T) {
	c := toServerTCP
	c.NoMetadataExchange = true
	byCert := map[string]string{
		"source_workload": "unknown", "source_workload_namespace": "app", "source_principal": "spiffe://cluster.local/ns/app/sa/client-sa",
		"source_app": "unknown", "source_version": "unknown", "source_cluster": "unknown",
		"source_canonical_service": "unknown", "source_canonical_revision": "latest",
	}
	serverByEDS := endpointView(serverLabels(true))
	serverByEDS["destination_principal"] = "spiffe://cluster.local/ns/backend/sa/server-sa"
	plainTCP := c
	plainTCP.BytesSent, plainTCP.BytesReceived = 100, 1000
	runRuleCases(t, []ruleCase{
		{
			name: "mTLS without metadata exchange", topology: scenarioTopology(c), autoMTLS: true,
			outcomes: map[string]CallerOutcome{c.Key(): {Succeeded: 10}},
			want: append(
				tcpSamples("source", clientLabels(true), serverByEDS, "-", "unknown", 10, 1000, 10000),
				tcpSamples("destination", byCert, serverLabels(true), "-", "mutual_tls", 10, 1000, 10000)...),
		},
		{
			name: "plaintext: unknown at the destination either way", topology: scenarioTopology(plainTCP),
			want: append(
				tcpSamples("source", clientLabels(false), endpointView(serverLabels(false)), "-", "unknown", 10, 1000, 10000),
				tcpSamples("destination", unknownSourceLabels(), serverLabels(false), "-", "none", 10, 1000, 10000)...),
		},
	})
}

// Rule 9. Gateways: the proxy's kind is "router"; PeerAuthentication does
// not govern its listeners (pilot/pkg/networking/core/gateway.go), and it
// reports only as reporter=source (istio/istio#31468).
func gatewayTopology() Topology {
	return with(scenarioTopology(toServer), []Workload{{
		Name: "istio-ingressgateway", Namespace: "istio-system", ServiceAccount: "istio-ingressgateway-service-account", Gateway: true,
		Labels: map[string]string{"app": "istio-ingressgateway"},
	}}, []Service{{
		Name: "istio-ingressgateway", Namespace: "istio-system", Selector: map[string]string{"app": "istio-ingressgateway"},
		Ports: []ServicePort{{Name: "http2", Port: 80, TargetPort: 8080, Protocol: HTTP}},
	}},
		Caller{From: "app/client", To: "istio-system/istio-ingressgateway", Port: 80, Rate: 1},
		Caller{From: "istio-system/istio-ingressgateway", To: "backend/server", Port: 8080, Rate: 1},
	)
}

func TestGateway_gatewayListeners(t *testing.T) {
	gw := func(mtls bool) map[string]string {
		return peerOf("destination", "istio-ingressgateway", "istio-system",
			principalOr(mtls, "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"),
			"istio-ingressgateway", "unknown", "istio-ingressgateway", "latest")
	}
	gwSrc := func(mtls bool) map[string]string {
		out := map[string]string{}
		for k, v := range gw(mtls) {
			out["source"+strings.TrimPrefix(k, "destination")] = v
		}
		return out
	}
	toGW := func(mtls bool) sample {
		return httpSample("source", clientLabels(mtls), withService(gw(mtls), "istio-ingressgateway", "istio-system"), "200", "-", "unknown", 10)
	}
	gwToServer := []sample{
		httpSample("source", gwSrc(true), serverLabels(true), "200", "-", "unknown", 10),
		httpSample("destination", gwSrc(true), serverLabels(true), "200", "-", "mutual_tls", 10),
	}
	runRuleCases(t, []ruleCase{
		{
			name: "auto mTLS: plaintext to the gateway (no tlsMode label), mTLS from it; the gateway reports no destination series", topology: gatewayTopology(), autoMTLS: true,
			want: append([]sample{toGW(false)}, gwToServer...),
		},
		{
			name: "mesh-wide STRICT does not govern the gateway's listener", topology: gatewayTopology(), autoMTLS: true,
			policies: []runtime.Object{pa("istio-system", "default", nil, strict)},
			outcomes: map[string]CallerOutcome{"app/client->istio-system/istio-ingressgateway:80": {Succeeded: 10}},
			want:     append([]sample{toGW(false)}, gwToServer...),
		},
		{
			name: "DR ISTIO_MUTUAL to the gateway: accepted too", topology: gatewayTopology(), autoMTLS: true,
			policies: []runtime.Object{drTLS("istio-system", "gw", "istio-ingressgateway", istioMutual)},
			want:     append([]sample{toGW(true)}, gwToServer...),
		},
	})
}

// Rule 10. The trust domain is the principals' host (pkg/spiffe/spiffe.go).
func TestTrustDomainOption_spiffe(t *testing.T) {
	td := func(l map[string]string) map[string]string {
		out := maps.Clone(l)
		for k, v := range out {
			out[k] = strings.Replace(v, "spiffe://cluster.local/", "spiffe://corp.example/", 1)
		}
		return out
	}
	runRuleCases(t, []ruleCase{{
		name: "principals use the configured trust domain", topology: scenarioTopology(toServer), autoMTLS: true, trustDomain: "corp.example",
		want: []sample{
			httpSample("source", td(clientLabels(true)), td(serverLabels(true)), "200", "-", "unknown", 10),
			dstOK(td(clientLabels(true)), td(serverLabels(true)), "mutual_tls"),
		},
	}})
}

// Rule 11. Truth counts every request by what really happened and gives the
// modes meshsim decides with.
func TestTruth(t *testing.T) {
	tp := with(partialTopology(), nil, nil,
		Caller{From: "app/client", To: "backend/mixed", Port: 8080, Rate: 1},
		Caller{From: "app/client", To: "backend/server", Port: 9000, Rate: 1, BytesSent: 100, BytesReceived: 1000},
		Caller{From: "app/bare-client", To: "backend/server", Port: 8080, Rate: 1},
		Caller{From: "app/client", To: "backend/server", Port: 8080, Subset: "v9", Rate: 1},
	)
	serverSel := map[string]string{"app": "server"}
	istio := newFakeIstio(
		withPorts(pa("backend", "server", serverSel, strict), map[uint32]securityapi.PeerAuthentication_MutualTLS_Mode{9000: permissive}),
		drTLS("backend", "server", serverFQDN, istioMutual),
	)
	m, err := New(Options{Topology: tp, Istio: istio, AutoMTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	m.Tick(10 * time.Second)
	got := m.Truth()

	wantCallers := map[string]CallerTruth{
		"app/client->backend/mixed:8080": {Protocol: HTTP, ClientSidecar: true, MTLS: Delivered{Count: 5}, Plaintext: Delivered{Count: 5}},
		"app/client->backend/server:9000": {Protocol: TCP, ClientSidecar: true, ClientTLS: rules.TLSModeIstioMutual, Rule: "backend/server",
			MTLS: Delivered{Count: 10, BytesSent: 1000, BytesReceived: 10000}},
		"app/bare-client->backend/server:8080": {Protocol: HTTP, HandshakeFailed: 10},
		"app/client->backend/server:8080":      {Protocol: HTTP, ClientSidecar: true, ClientTLS: rules.TLSModeIstioMutual, Rule: "backend/server", NoEndpoint: 10},
	}
	if !reflect.DeepEqual(got.Callers, wantCallers) {
		t.Errorf("Truth().Callers =\n%+v\nwant\n%+v", got.Callers, wantCallers)
	}
	wantServer := ServiceTruth{NamespaceMode: rules.PeerModePermissive, Ports: []PortTruth{
		{Port: 8080, TargetPort: 9090, Protocol: HTTP, Endpoints: []EndpointTruth{{Workload: "backend/server-v1", Sidecar: true, PeerAuthentication: rules.PeerModeStrict, Enforced: true}}},
		{Port: 9000, TargetPort: 9000, Protocol: TCP, Endpoints: []EndpointTruth{{Workload: "backend/server-v1", Sidecar: true, PeerAuthentication: rules.PeerModePermissive, Enforced: true}}},
	}}
	if !reflect.DeepEqual(got.Services["backend/server"], wantServer) {
		t.Errorf("Truth().Services[backend/server] = %+v, want %+v", got.Services["backend/server"], wantServer)
	}
	mixed := got.Services["backend/mixed"].Ports[0].Endpoints
	wantMixed := []EndpointTruth{
		{Workload: "backend/mixed-bare", PeerAuthentication: rules.PeerModePermissive},
		{Workload: "backend/mixed-sidecar", Sidecar: true, PeerAuthentication: rules.PeerModePermissive, Enforced: true},
	}
	if !reflect.DeepEqual(mixed, wantMixed) {
		t.Errorf("mixed endpoints = %+v, want %+v", mixed, wantMixed)
	}
	// Truth agrees with Outcomes.
	for key, o := range m.Outcomes() {
		tr := got.Callers[key]
		if o.Succeeded != tr.MTLS.Count+tr.Plaintext.Count || o.Failed != tr.HandshakeFailed+tr.NoEndpoint {
			t.Errorf("%s: outcome %+v disagrees with truth %+v", key, o, tr)
		}
	}
}
