// Scenario tests of the simulated mesh: one client and server under each combination of policies,
// with the exact series each reporter must export, label sets spelled out independently.

package meshsim

import (
	"maps"
	"testing"
	"time"

	networkingapi "istio.io/api/networking/v1alpha3"
	securityapi "istio.io/api/security/v1beta1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The scenario mesh: a client namespace "app" and a server namespace
// "backend". The server listens on container port 9090 behind service port
// 8080 (HTTP) and on 9000 (TCP), so port-keyed rules can be told apart.
func scenarioTopology(c Caller) Topology {
	return Topology{
		Workloads: []Workload{
			{Name: "client", Namespace: "app", ServiceAccount: "client-sa", Sidecar: true, Labels: map[string]string{"app": "client", "version": "v1"}},
			{Name: "bare-client", Namespace: "app", ServiceAccount: "bare-client-sa", Labels: map[string]string{"app": "bare-client"}},
			{Name: "server-v1", Namespace: "backend", ServiceAccount: "server-sa", Sidecar: true, Labels: map[string]string{"app": "server", "version": "v1"}},
			{Name: "bare", Namespace: "backend", ServiceAccount: "bare-sa", Labels: map[string]string{"app": "bare"}},
		},
		Services: []Service{
			{Name: "server", Namespace: "backend", Selector: map[string]string{"app": "server"}, Ports: []ServicePort{
				{Name: "http-web", Port: 8080, TargetPort: 9090, Protocol: HTTP},
				{Name: "tcp-db", Port: 9000, Protocol: TCP},
			}},
			{Name: "bare", Namespace: "backend", Selector: map[string]string{"app": "bare"}, Ports: []ServicePort{
				{Name: "http", Port: 8080, Protocol: HTTP},
			}},
		},
		Callers: []Caller{c},
	}
}

var (
	toServer     = Caller{From: "app/client", To: "backend/server", Port: 8080, Rate: 1}
	toServerTCP  = Caller{From: "app/client", To: "backend/server", Port: 9000, Rate: 1, BytesSent: 100, BytesReceived: 1000}
	toBare       = Caller{From: "app/client", To: "backend/bare", Port: 8080, Rate: 1}
	bareToServer = Caller{From: "app/bare-client", To: "backend/server", Port: 8080, Rate: 1}
)

func subsetCaller(subset string) Caller {
	c := toServer
	c.Subset = subset
	return c
}

// Expected label sets, spelled out independently of the production code.

func clientLabels(mtls bool) map[string]string {
	return map[string]string{
		"source_workload": "client", "source_workload_namespace": "app", "source_principal": principalOr(mtls, "spiffe://cluster.local/ns/app/sa/client-sa"),
		"source_app": "client", "source_version": "v1", "source_cluster": "Kubernetes",
		"source_canonical_service": "client", "source_canonical_revision": "v1",
	}
}

func unknownSourceLabels() map[string]string {
	return map[string]string{
		"source_workload": "unknown", "source_workload_namespace": "unknown", "source_principal": "unknown",
		"source_app": "unknown", "source_version": "unknown", "source_cluster": "unknown",
		"source_canonical_service": "unknown", "source_canonical_revision": "latest",
	}
}

func serverLabels(mtls bool) map[string]string {
	return map[string]string{
		"destination_workload": "server-v1", "destination_workload_namespace": "backend",
		"destination_principal": principalOr(mtls, "spiffe://cluster.local/ns/backend/sa/server-sa"),
		"destination_app":       "server", "destination_version": "v1", "destination_cluster": "Kubernetes",
		"destination_canonical_service": "server", "destination_canonical_revision": "v1",
		"destination_service": "server.backend.svc.cluster.local", "destination_service_name": "server", "destination_service_namespace": "backend",
	}
}

// bareLabels is the sidecar-less "bare" as its callers' proxies report it,
// from EDS metadata only (istio/proxy istio_stats: the peer from the endpoint's metadata): no app, version or principal.
func bareLabels() map[string]string {
	return map[string]string{
		"destination_workload": "bare", "destination_workload_namespace": "backend", "destination_principal": "unknown",
		"destination_app": "unknown", "destination_version": "unknown", "destination_cluster": "Kubernetes",
		"destination_canonical_service": "bare", "destination_canonical_revision": "latest",
		"destination_service": "bare.backend.svc.cluster.local", "destination_service_name": "bare", "destination_service_namespace": "backend",
	}
}

func noEndpointLabels() map[string]string {
	return map[string]string{
		"destination_workload": "unknown", "destination_workload_namespace": "unknown", "destination_principal": "unknown",
		"destination_app": "unknown", "destination_version": "unknown", "destination_cluster": "unknown",
		"destination_canonical_service": "unknown", "destination_canonical_revision": "latest",
		"destination_service": "server.backend.svc.cluster.local", "destination_service_name": "server", "destination_service_namespace": "unknown",
	}
}

func principalOr(mtls bool, principal string) string {
	if mtls {
		return principal
	}
	return "unknown"
}

func httpSample(reporter string, src, dst map[string]string, code, flags, policy string, value float64) sample {
	l := map[string]string{
		"reporter": reporter, "request_protocol": "http", "response_code": code, "grpc_response_status": "",
		"response_flags": flags, "connection_security_policy": policy,
	}
	maps.Copy(l, src)
	maps.Copy(l, dst)
	return sample{name: "istio_requests_total", labels: l, value: value}
}

// Shorthands for the common HTTP outcomes of 10 requests from "client".
func srcOK(dst map[string]string) sample {
	mtls := dst["destination_principal"] != "unknown"
	return httpSample("source", clientLabels(mtls), dst, "200", "-", "unknown", 10)
}

// endpointView is what a client proxy reports of a server that sent it no
// peer metadata: EDS's istio.workload has no app, version or identity.
func endpointView(dst map[string]string) map[string]string {
	out := maps.Clone(dst)
	out["destination_app"], out["destination_version"], out["destination_principal"] = "unknown", "unknown", "unknown"
	return out
}

// srcUF: the client's TLS handshake failed (connect failure, retries exhausted).
func srcUF(dst map[string]string) sample {
	return httpSample("source", clientLabels(false), endpointView(dst), "503", "UF,URX", "unknown", 10)
}

// srcUC: a STRICT sidecar closed the plaintext connection before any response.
func srcUC(dst map[string]string) sample {
	return httpSample("source", clientLabels(false), endpointView(dst), "503", "UC", "unknown", 10)
}
func dstOK(src, dst map[string]string, policy string) sample {
	return httpSample("destination", src, dst, "200", "-", policy, 10)
}

func tcpSamples(reporter string, src, dst map[string]string, flags, policy string, conns, received, sent float64) []sample {
	l := map[string]string{"reporter": reporter, "request_protocol": "tcp", "response_flags": flags, "connection_security_policy": policy}
	maps.Copy(l, src)
	maps.Copy(l, dst)
	out := []sample{
		{name: "istio_tcp_connections_opened_total", labels: l, value: conns},
		{name: "istio_tcp_connections_closed_total", labels: l, value: conns},
	}
	// Envoy exports only the byte counters that were incremented.
	if received > 0 {
		out = append(out, sample{name: "istio_tcp_received_bytes_total", labels: l, value: received})
	}
	if sent > 0 {
		out = append(out, sample{name: "istio_tcp_sent_bytes_total", labels: l, value: sent})
	}
	return out
}

func TestScenarios(t *testing.T) {
	const (
		strict     = securityapi.PeerAuthentication_MutualTLS_STRICT
		permissive = securityapi.PeerAuthentication_MutualTLS_PERMISSIVE
		disable    = securityapi.PeerAuthentication_MutualTLS_DISABLE
		unset      = securityapi.PeerAuthentication_MutualTLS_UNSET

		istioMutual = networkingapi.ClientTLSSettings_ISTIO_MUTUAL
		drDisable   = networkingapi.ClientTLSSettings_DISABLE
		simple      = networkingapi.ClientTLSSettings_SIMPLE
		mutual      = networkingapi.ClientTLSSettings_MUTUAL

		fqdn = "server.backend.svc.cluster.local"
	)
	serverSelector := map[string]string{"app": "server"}
	nsStrict := pa("backend", "default", nil, strict)

	tests := []struct {
		name     string
		caller   Caller
		autoMTLS bool
		policies []runtime.Object
		wantOK   int64
		wantFail int64
		want     []sample
	}{
		{
			name: "auto mTLS on, no policy: mTLS", caller: toServer, autoMTLS: true,
			wantOK: 10,
			want:   []sample{srcOK(serverLabels(true)), dstOK(clientLabels(true), serverLabels(true), "mutual_tls")},
		},
		{
			name: "auto mTLS off, no policy: plaintext accepted by default PERMISSIVE", caller: toServer,
			wantOK: 10,
			want:   []sample{srcOK(serverLabels(false)), dstOK(clientLabels(false), serverLabels(false), "none")},
		},
		{
			name: "auto mTLS off, DR ISTIO_MUTUAL, namespace STRICT: mTLS", caller: toServer,
			policies: []runtime.Object{drTLS("backend", "server", fqdn, istioMutual), nsStrict},
			wantOK:   10,
			want:     []sample{srcOK(serverLabels(true)), dstOK(clientLabels(true), serverLabels(true), "mutual_tls")},
		},
		{
			name: "DR DISABLE to namespace STRICT: the STRICT sidecar closes the connection (UC), no destination series", caller: toServer, autoMTLS: true,
			policies: []runtime.Object{drTLS("backend", "server", fqdn, drDisable), nsStrict},
			wantFail: 10,
			want:     []sample{srcUC(serverLabels(false))},
		},
		{
			name: "DR DISABLE to namespace PERMISSIVE: plaintext", caller: toServer, autoMTLS: true,
			policies: []runtime.Object{drTLS("backend", "server", fqdn, drDisable), pa("backend", "default", nil, permissive)},
			wantOK:   10,
			want:     []sample{srcOK(serverLabels(false)), dstOK(clientLabels(false), serverLabels(false), "none")},
		},
		{
			name: "DR SIMPLE towards a sidecar fails even when PERMISSIVE", caller: toServer, autoMTLS: true,
			policies: []runtime.Object{drTLS("backend", "server", fqdn, simple)},
			wantFail: 10,
			want:     []sample{srcUF(serverLabels(false))},
		},
		{
			name: "DR MUTUAL towards a server without sidecar fails", caller: toBare, autoMTLS: true,
			policies: []runtime.Object{drTLS("backend", "bare", "bare.backend.svc.cluster.local", mutual)},
			wantFail: 10,
			want:     []sample{srcUF(bareLabels())},
		},
		{
			name: "auto mTLS sends plaintext to a server without sidecar; only the client reports", caller: toBare, autoMTLS: true,
			wantOK: 10,
			want:   []sample{srcOK(bareLabels())},
		},
		{
			name: "DR ISTIO_MUTUAL to a server without sidecar fails", caller: toBare, autoMTLS: true,
			policies: []runtime.Object{drTLS("backend", "bare", "bare.backend.svc.cluster.local", istioMutual)},
			wantFail: 10,
			want:     []sample{srcUF(bareLabels())},
		},
		{
			name: "client without sidecar to namespace STRICT: fails and nobody reports", caller: bareToServer, autoMTLS: true,
			policies: []runtime.Object{nsStrict, drTLS("app", "server", fqdn, istioMutual)},
			wantFail: 10,
		},
		{
			name: "client without sidecar to PERMISSIVE: destination reports an unknown source", caller: bareToServer, autoMTLS: true,
			wantOK: 10,
			want:   []sample{dstOK(unknownSourceLabels(), serverLabels(false), "none")},
		},
		{
			name: "root STRICT inherited through namespace UNSET rejects plaintext", caller: toServer,
			policies: []runtime.Object{pa("istio-system", "default", nil, strict), pa("backend", "default", nil, unset)},
			wantFail: 10,
			want:     []sample{srcUC(serverLabels(false))},
		},
		{
			name: "namespace PERMISSIVE overrides root STRICT", caller: toServer,
			policies: []runtime.Object{pa("istio-system", "default", nil, strict), pa("backend", "default", nil, permissive)},
			wantOK:   10,
			want:     []sample{srcOK(serverLabels(false)), dstOK(clientLabels(false), serverLabels(false), "none")},
		},
		{
			name: "root selector policy is ignored in sidecar mode", caller: toServer,
			policies: []runtime.Object{pa("istio-system", "server-strict", serverSelector, strict)},
			wantOK:   10,
			want:     []sample{srcOK(serverLabels(false)), dstOK(clientLabels(false), serverLabels(false), "none")},
		},
		{
			name: "workload DISABLE under namespace STRICT: auto mTLS follows it to plaintext", caller: toServer, autoMTLS: true,
			policies: []runtime.Object{nsStrict, pa("backend", "server", serverSelector, disable)},
			wantOK:   10,
			want:     []sample{srcOK(serverLabels(false)), dstOK(clientLabels(false), serverLabels(false), "none")},
		},
		{
			name: "DR ISTIO_MUTUAL to a workload DISABLE fails", caller: toServer, autoMTLS: true,
			policies: []runtime.Object{drTLS("backend", "server", fqdn, istioMutual), pa("backend", "server", serverSelector, disable)},
			wantFail: 10,
			want:     []sample{srcUF(serverLabels(false))},
		},
		{
			name: "workload policy whose selector does not match leaves namespace STRICT", caller: toServer,
			policies: []runtime.Object{nsStrict, pa("backend", "other", map[string]string{"app": "other"}, permissive)},
			wantFail: 10,
			want:     []sample{srcUC(serverLabels(false))},
		},
		{
			name: "oldest of two matching workload policies wins", caller: toServer,
			policies: []runtime.Object{
				aged(pa("backend", "b-newer", serverSelector, permissive), 2),
				aged(pa("backend", "a-older", serverSelector, strict), 1),
			},
			wantFail: 10,
			want:     []sample{srcUC(serverLabels(false))},
		},
		{
			name: "PA portLevelMtls on the target port overrides workload STRICT", caller: toServer,
			policies: []runtime.Object{withPorts(pa("backend", "server", serverSelector, strict), map[uint32]securityapi.PeerAuthentication_MutualTLS_Mode{9090: permissive})},
			wantOK:   10,
			want:     []sample{srcOK(serverLabels(false)), dstOK(clientLabels(false), serverLabels(false), "none")},
		},
		{
			name: "PA portLevelMtls keyed by the service port does not apply", caller: toServer,
			policies: []runtime.Object{withPorts(pa("backend", "server", serverSelector, permissive), map[uint32]securityapi.PeerAuthentication_MutualTLS_Mode{8080: strict})},
			wantOK:   10,
			want:     []sample{srcOK(serverLabels(false)), dstOK(clientLabels(false), serverLabels(false), "none")},
		},
		{
			name: "PA portLevelMtls UNSET inherits the workload's STRICT", caller: toServer,
			policies: []runtime.Object{withPorts(pa("backend", "server", serverSelector, strict), map[uint32]securityapi.PeerAuthentication_MutualTLS_Mode{9090: unset})},
			wantFail: 10,
			want:     []sample{srcUC(serverLabels(false))},
		},
		{
			name: "PA UNSET workload mode inherits namespace STRICT", caller: toServer,
			policies: []runtime.Object{nsStrict, pa("backend", "server", serverSelector, unset)},
			wantFail: 10,
			want:     []sample{srcUC(serverLabels(false))},
		},
		{
			name: "DR portLevelSettings ISTIO_MUTUAL overrides top-level DISABLE", caller: toServer,
			policies: []runtime.Object{nsStrict, dr("backend", "server", fqdn, &networkingapi.TrafficPolicy{
				Tls: tls(drDisable), PortLevelSettings: []*networkingapi.TrafficPolicy_PortTrafficPolicy{portTLS(8080, tls(istioMutual))},
			})},
			wantOK: 10,
			want:   []sample{srcOK(serverLabels(true)), dstOK(clientLabels(true), serverLabels(true), "mutual_tls")},
		},
		{
			name: "DR portLevelSettings for another port leaves top-level tls", caller: toServer,
			policies: []runtime.Object{nsStrict, dr("backend", "server", fqdn, &networkingapi.TrafficPolicy{
				Tls: tls(drDisable), PortLevelSettings: []*networkingapi.TrafficPolicy_PortTrafficPolicy{portTLS(9000, tls(istioMutual))},
			})},
			wantFail: 10,
			want:     []sample{srcUC(serverLabels(false))},
		},
		{
			name: "DR portLevelSettings entry without tls resets tls to unset (istiod does not inherit)", caller: toServer,
			policies: []runtime.Object{nsStrict, dr("backend", "server", fqdn, &networkingapi.TrafficPolicy{
				Tls: tls(istioMutual), PortLevelSettings: []*networkingapi.TrafficPolicy_PortTrafficPolicy{portTLS(8080, nil)},
			})},
			wantFail: 10,
			want:     []sample{srcUC(serverLabels(false))},
		},
		{
			name: "subset tls ISTIO_MUTUAL overrides top-level DISABLE", caller: subsetCaller("v1"),
			policies: []runtime.Object{nsStrict, dr("backend", "server", fqdn, &networkingapi.TrafficPolicy{Tls: tls(drDisable)},
				&networkingapi.Subset{Name: "v1", Labels: map[string]string{"version": "v1"}, TrafficPolicy: &networkingapi.TrafficPolicy{Tls: tls(istioMutual)}})},
			wantOK: 10,
			want:   []sample{srcOK(serverLabels(true)), dstOK(clientLabels(true), serverLabels(true), "mutual_tls")},
		},
		{
			name: "subset portLevelSettings DISABLE overrides subset ISTIO_MUTUAL", caller: subsetCaller("v1"),
			policies: []runtime.Object{nsStrict, dr("backend", "server", fqdn, nil,
				&networkingapi.Subset{Name: "v1", Labels: map[string]string{"version": "v1"}, TrafficPolicy: &networkingapi.TrafficPolicy{
					Tls: tls(istioMutual), PortLevelSettings: []*networkingapi.TrafficPolicy_PortTrafficPolicy{portTLS(8080, tls(drDisable))},
				}})},
			wantFail: 10,
			want:     []sample{srcUC(serverLabels(false))},
		},
		{
			name: "subset without tls falls through to top-level ISTIO_MUTUAL", caller: subsetCaller("v1"),
			policies: []runtime.Object{nsStrict, dr("backend", "server", fqdn, &networkingapi.TrafficPolicy{Tls: tls(istioMutual)},
				&networkingapi.Subset{Name: "v1", Labels: map[string]string{"version": "v1"}})},
			wantOK: 10,
			want:   []sample{srcOK(serverLabels(true)), dstOK(clientLabels(true), serverLabels(true), "mutual_tls")},
		},
		{
			name: "undefined subset fails with NC", caller: subsetCaller("v9"), autoMTLS: true,
			policies: []runtime.Object{drTLS("backend", "server", fqdn, istioMutual)},
			wantFail: 10,
			want:     []sample{httpSample("source", clientLabels(false), noEndpointLabels(), "503", "NC", "unknown", 10)},
		},
		{
			name: "subset selecting no workload fails with UH", caller: subsetCaller("v2"), autoMTLS: true,
			policies: []runtime.Object{dr("backend", "server", fqdn, nil, &networkingapi.Subset{Name: "v2", Labels: map[string]string{"version": "v2"}})},
			wantFail: 10,
			want:     []sample{httpSample("source", clientLabels(false), noEndpointLabels(), "503", "UH", "unknown", 10)},
		},
		{
			name: "DR in the client namespace beats the service namespace", caller: toServer, autoMTLS: true,
			policies: []runtime.Object{nsStrict, drTLS("app", "server", fqdn, drDisable), drTLS("backend", "server", fqdn, istioMutual)},
			wantFail: 10,
			want:     []sample{srcUC(serverLabels(false))},
		},
		{
			name: "DR in the service namespace beats the root namespace", caller: toServer,
			policies: []runtime.Object{nsStrict, drTLS("backend", "server", fqdn, istioMutual), drTLS("istio-system", "all", "*.local", drDisable)},
			wantOK:   10,
			want:     []sample{srcOK(serverLabels(true)), dstOK(clientLabels(true), serverLabels(true), "mutual_tls")},
		},
		{
			name: "root namespace *.local DR applies when nothing closer matches", caller: toServer,
			policies: []runtime.Object{nsStrict, drTLS("istio-system", "all", "*.local", istioMutual)},
			wantOK:   10,
			want:     []sample{srcOK(serverLabels(true)), dstOK(clientLabels(true), serverLabels(true), "mutual_tls")},
		},
		{
			name: "short host resolves in the rule's namespace (service namespace)", caller: toServer,
			policies: []runtime.Object{nsStrict, drTLS("backend", "server", "server", istioMutual)},
			wantOK:   10,
			want:     []sample{srcOK(serverLabels(true)), dstOK(clientLabels(true), serverLabels(true), "mutual_tls")},
		},
		{
			name: "short host in the client namespace names a different service", caller: toServer,
			policies: []runtime.Object{nsStrict, drTLS("app", "server", "server", istioMutual)},
			wantFail: 10,
			want:     []sample{srcUC(serverLabels(false))},
		},
		{
			name: "host with a dot is taken literally, so server.backend matches nothing", caller: toServer,
			policies: []runtime.Object{nsStrict, drTLS("backend", "server", "server.backend", istioMutual)},
			wantFail: 10,
			want:     []sample{srcUC(serverLabels(false))},
		},
		{
			name: "exportTo . hides a service-namespace DR from other namespaces", caller: toServer,
			policies: []runtime.Object{nsStrict, func() runtime.Object {
				d := drTLS("backend", "server", fqdn, istioMutual)
				d.Spec.ExportTo = []string{"."}
				return d
			}()},
			wantFail: 10,
			want:     []sample{srcUC(serverLabels(false))},
		},
		{
			name: "exportTo listing the client namespace makes the DR visible", caller: toServer,
			policies: []runtime.Object{nsStrict, func() runtime.Object {
				d := drTLS("backend", "server", fqdn, istioMutual)
				d.Spec.ExportTo = []string{".", "app"}
				return d
			}()},
			wantOK: 10,
			want:   []sample{srcOK(serverLabels(true)), dstOK(clientLabels(true), serverLabels(true), "mutual_tls")},
		},
		{
			name: "exact host beats a wildcard in the same namespace", caller: toServer,
			policies: []runtime.Object{nsStrict, drTLS("backend", "wild", "*.backend.svc.cluster.local", drDisable), drTLS("backend", "exact", fqdn, istioMutual)},
			wantOK:   10,
			want:     []sample{srcOK(serverLabels(true)), dstOK(clientLabels(true), serverLabels(true), "mutual_tls")},
		},
		{
			name: "longer wildcard beats shorter wildcard", caller: toServer,
			policies: []runtime.Object{nsStrict, drTLS("istio-system", "short", "*", istioMutual), drTLS("istio-system", "long", "*.svc.cluster.local", drDisable)},
			wantFail: 10,
			want:     []sample{srcUC(serverLabels(false))},
		},
		{
			name: "oldest DR for the same host wins", caller: toServer,
			policies: []runtime.Object{nsStrict, aged(drTLS("backend", "a-newer", fqdn, istioMutual), 2), aged(drTLS("backend", "z-older", fqdn, drDisable), 1)},
			wantFail: 10,
			want:     []sample{srcUC(serverLabels(false))},
		},
		{
			name: "TCP with auto mTLS: both sidecars report connections and bytes", caller: toServerTCP, autoMTLS: true,
			wantOK: 10,
			want: append(
				tcpSamples("source", clientLabels(true), serverLabels(true), "-", "unknown", 10, 1000, 10000),
				tcpSamples("destination", clientLabels(true), serverLabels(true), "-", "mutual_tls", 10, 1000, 10000)...),
		},
		{
			name: "TCP plaintext: the destination cannot identify the source without ALPN", caller: toServerTCP,
			wantOK: 10,
			want: append(
				tcpSamples("source", clientLabels(false), endpointView(serverLabels(false)), "-", "unknown", 10, 1000, 10000),
				tcpSamples("destination", unknownSourceLabels(), serverLabels(false), "-", "none", 10, 1000, 10000)...),
		},
		{
			name: "TCP plaintext to STRICT: the connection opens and closes with no flag and no bytes, no destination series", caller: toServerTCP,
			policies: []runtime.Object{nsStrict},
			wantFail: 10,
			want:     tcpSamples("source", clientLabels(false), endpointView(serverLabels(false)), "-", "unknown", 10, 0, 0),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case waits for its own informer sync
			m, err := New(Options{Topology: scenarioTopology(tc.caller), Istio: newFakeIstio(tc.policies...), AutoMTLS: tc.autoMTLS})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			m.Tick(10 * time.Second)

			got := m.Outcomes()[tc.caller.Key()]
			if got != (CallerOutcome{Succeeded: tc.wantOK, Failed: tc.wantFail}) {
				t.Errorf("outcome = %+v, want succeeded %d failed %d", got, tc.wantOK, tc.wantFail)
			}
			diffSamples(t, scrape(t, m), tc.want)
		})
	}
}
