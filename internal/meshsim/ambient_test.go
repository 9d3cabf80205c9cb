// Ambient mode in the simulated mesh (issue 21): who sends the tunnel, who refuses plaintext,
// and what ztunnel reports, each rule naming the Istio source it models.

package meshsim

import (
	"maps"
	"testing"
	"time"

	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	"k8s.io/apimachinery/pkg/runtime"

	rules "github.com/meshlock/meshlock/internal/istio"
)

// The decision table of decideAmbient: istio/ztunnel src/proxy/outbound.rs
// build_request (the tunnel only to an endpoint that takes it), istio/istio
// pilot/pkg/serviceregistry/ambient/workloads.go setTunnelProtocol (a
// sidecar takes it with networking.istio.io/tunnel=http),
// pilot/pkg/xds/endpoints/endpoint_builder.go and
// pilot/pkg/networking/core/cluster_tls.go (a sidecar sends HBONE to an
// ambient endpoint, whatever its DestinationRule), ambient/policies.go and
// authorization.go (STRICT refuses connections without an identity;
// DISABLE is PERMISSIVE), src/proxy/inbound_passthrough.rs (the refusal).
func TestDecideAmbient(t *testing.T) {
	for _, tc := range []struct {
		name            string
		in              DecisionInput
		hbone, accepted bool
		failure         Failure
	}{
		{"ambient to ambient", DecisionInput{ClientAmbient: true, ServerAmbient: true, ServerMode: rules.PeerModeStrict}, true, true, FailureNone},
		{"ambient to a sidecar taking HBONE", DecisionInput{ClientAmbient: true, ServerSidecar: true, ServerTunnel: true, ServerMode: rules.PeerModeStrict}, true, true, FailureNone},
		{"ambient to a sidecar without the tunnel, PERMISSIVE", DecisionInput{ClientAmbient: true, ServerSidecar: true, ServerMode: rules.PeerModePermissive}, false, true, FailureNone},
		{"ambient to a sidecar without the tunnel, STRICT", DecisionInput{ClientAmbient: true, ServerSidecar: true, ServerMode: rules.PeerModeStrict}, false, false, FailureReset},
		{"ambient to a workload outside the mesh", DecisionInput{ClientAmbient: true}, false, true, FailureNone},
		{"a sidecar with DestinationRule DISABLE to ambient", DecisionInput{ClientSidecar: true, ClientTLS: rules.TLSModeDisable, ServerAmbient: true, ServerMode: rules.PeerModeStrict}, true, true, FailureNone},
		{"plaintext into ambient under STRICT is refused", DecisionInput{ServerAmbient: true, ServerMode: rules.PeerModeStrict}, false, false, FailureDenied},
		{"plaintext into ambient under PERMISSIVE", DecisionInput{ServerAmbient: true, ServerMode: rules.PeerModePermissive}, false, true, FailureNone},
		{"plaintext into ambient under DISABLE (PERMISSIVE there)", DecisionInput{ServerAmbient: true, ServerMode: rules.PeerModeDisable}, false, true, FailureNone},
	} {
		d := Decide(tc.in)
		if d.HBONE != tc.hbone || d.ClientMTLS != tc.hbone || d.Accepted != tc.accepted || d.Failure != tc.failure {
			t.Errorf("%s: %+v, want HBONE %v, accepted %v, failure %q", tc.name, d, tc.hbone, tc.accepted, tc.failure)
		}
	}
}

// ztunnel's reports (istio/ztunnel src/proxy/metrics.rs): TCP only, from
// both nodes, mutual_tls for the tunnel and unknown otherwise (never
// none), principals only over the tunnel; a refused connection is opened
// with "-" and closed with DENY at the destination, with no bytes.
func TestZtunnelReports(t *testing.T) {
	topology := Topology{
		Workloads: []Workload{
			{Name: "web", Namespace: "shop", ServiceAccount: "web", Ambient: true, Labels: map[string]string{"app": "web"}},
			{Name: "cart", Namespace: "shop", ServiceAccount: "cart", Ambient: true, Labels: map[string]string{"app": "cart"}},
			{Name: "batch", Namespace: "jobs", ServiceAccount: "batch", Labels: map[string]string{"app": "batch"}},
		},
		Services: []Service{{Name: "cart", Namespace: "shop", Selector: map[string]string{"app": "cart"}, Ports: []ServicePort{{Name: "http", Port: 8080, Protocol: HTTP}}}},
		Callers: []Caller{
			{From: "shop/web", To: "shop/cart", Port: 8080, Rate: 1},
			{From: "jobs/batch", To: "shop/cart", Port: 8080, Rate: 1},
		},
	}
	m, err := New(Options{Topology: topology, Istio: newFakeIstio([]runtime.Object{pa("shop", "default", nil, strict)}...)})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	m.Tick(10 * time.Second)
	if got := m.Outcomes(); got["shop/web->shop/cart:8080"] != (CallerOutcome{Succeeded: 10}) || got["jobs/batch->shop/cart:8080"] != (CallerOutcome{Failed: 10}) {
		t.Errorf("outcomes %+v: want web's all through, batch's all refused", got)
	}
	find := func(name string, match map[string]string) (float64, bool) {
		var total float64
		found := false
		for _, s := range scrape(t, m) {
			if s.name != name {
				continue
			}
			ok := true
			for k, v := range match {
				if s.labels[k] != v {
					ok = false
				}
			}
			if ok {
				total, found = total+s.value, true
			}
		}
		return total, found
	}
	if _, ok := find("istio_requests_total", nil); ok {
		t.Error("ztunnel reported istio_requests_total; it reports TCP only")
	}
	for _, reporter := range []string{"source", "destination"} {
		n, ok := find("istio_tcp_connections_opened_total", map[string]string{"reporter": reporter, "source_workload": "web",
			"connection_security_policy": "mutual_tls", "source_principal": "spiffe://cluster.local/ns/shop/sa/web", "request_protocol": "tcp"})
		if !ok || n != 10 {
			t.Errorf("%s ztunnel's tunnel from web: %v connections (found %v), want 10", reporter, n, ok)
		}
	}
	if n, ok := find("istio_tcp_connections_opened_total", map[string]string{"reporter": "destination", "source_workload": "batch",
		"connection_security_policy": "unknown", "source_principal": "unknown", "response_flags": "-"}); !ok || n != 10 {
		t.Errorf("batch's refused connections opened: %v (found %v), want 10 with -", n, ok)
	}
	if n, ok := find("istio_tcp_connections_closed_total", map[string]string{"reporter": "destination", "source_workload": "batch",
		"response_flags": "DENY"}); !ok || n != 10 {
		t.Errorf("batch's refused connections closed with DENY: %v (found %v), want 10", n, ok)
	}
	if _, ok := find("istio_tcp_connections_opened_total", map[string]string{"connection_security_policy": "none"}); ok {
		t.Error("ztunnel said none; it says mutual_tls or unknown")
	}
}

// A connection through a waypoint (istio/ztunnel src/proxy/outbound.rs
// build_request, inbound.rs; istio/istio pilot/pkg/model/telemetry.go):
// the caller's ztunnel names the waypoint as the destination workload and
// the Service as the destination service; the waypoint reports
// reporter="waypoint" with the caller and the server, in HTTP; the server's
// ztunnel names the waypoint as the source. A sidecar caller skips the
// waypoint (pilot/pkg/xds/endpoints/endpoint_builder.go).
func TestWaypointReports(t *testing.T) {
	topology := Topology{
		Workloads: []Workload{
			{Name: "web", Namespace: "shop", ServiceAccount: "web", Ambient: true, Labels: map[string]string{"app": "web"}},
			{Name: "orders", Namespace: "shop", ServiceAccount: "orders", Ambient: true, Labels: map[string]string{"app": "orders"}},
			{Name: "waypoint", Namespace: "shop", ServiceAccount: "waypoint", Waypoint: true},
			{Name: "admin", Namespace: "ops", ServiceAccount: "admin", Sidecar: true, Labels: map[string]string{"app": "admin"}},
		},
		Services: []Service{{Name: "orders", Namespace: "shop", Selector: map[string]string{"app": "orders"}, Waypoint: "waypoint",
			Ports: []ServicePort{{Name: "http", Port: 8080, Protocol: HTTP}}}},
		Callers: []Caller{
			{From: "shop/web", To: "shop/orders", Port: 8080, Rate: 1},
			{From: "ops/admin", To: "shop/orders", Port: 8080, Rate: 1},
		},
	}
	m, err := New(Options{Topology: topology, Istio: newFakeIstio(pa("shop", "default", nil, strict))})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	m.Tick(10 * time.Second)
	count := func(name string, match map[string]string) float64 {
		var total float64
		for _, s := range scrape(t, m) {
			ok := s.name == name
			for k, v := range match {
				ok = ok && s.labels[k] == v
			}
			if ok {
				total += s.value
			}
		}
		return total
	}
	for _, tc := range []struct {
		what  string
		name  string
		match map[string]string
	}{
		{"web's ztunnel to the waypoint", "istio_tcp_connections_opened_total", map[string]string{"reporter": "source", "source_workload": "web",
			"destination_workload": "waypoint", "destination_service_name": "orders", "connection_security_policy": "mutual_tls"}},
		{"the waypoint's report", "istio_requests_total", map[string]string{"reporter": "waypoint", "source_workload": "web",
			"destination_workload": "orders", "connection_security_policy": "mutual_tls"}},
		{"orders' ztunnel from the waypoint", "istio_tcp_connections_opened_total", map[string]string{"reporter": "destination", "source_workload": "waypoint",
			"destination_workload": "orders", "connection_security_policy": "mutual_tls"}},
		{"the sidecar straight to orders' ztunnel", "istio_tcp_connections_opened_total", map[string]string{"reporter": "destination", "source_workload": "admin",
			"destination_workload": "orders", "connection_security_policy": "mutual_tls"}},
	} {
		if n := count(tc.name, tc.match); n != 10 {
			t.Errorf("%s: %v, want 10", tc.what, n)
		}
	}
	if n := count("istio_requests_total", map[string]string{"reporter": "waypoint", "source_workload": "admin"}); n != 0 {
		t.Errorf("the sidecar's requests went through the waypoint: %v", n)
	}
}

// An ALLOW AuthorizationPolicy of L7 rules only on an ambient workload no
// waypoint serves: ztunnel drops the L7 rules and the empty ALLOW policy
// refuses everything, the tunnel too (istio/istio
// pilot/pkg/serviceregistry/ambient/authorization.go). The destination's
// ztunnel counts each connection opened (mutual_tls) and closes it with
// DENY; the caller's closes with CONNECT (istio/ztunnel src/proxy/h2/client.rs).
// An ALLOW policy whose rule is wholly L4 is enforced as written (authz.go): web's principal matches it.
func TestZtunnelDropsL7Rules(t *testing.T) {
	topology := Topology{
		Workloads: []Workload{
			{Name: "web", Namespace: "shop", ServiceAccount: "web", Ambient: true, Labels: map[string]string{"app": "web"}},
			{Name: "cart", Namespace: "shop", ServiceAccount: "cart", Ambient: true, Labels: map[string]string{"app": "cart"}},
		},
		Services: []Service{{Name: "cart", Namespace: "shop", Selector: map[string]string{"app": "cart"}, Ports: []ServicePort{{Name: "http", Port: 8080, Protocol: HTTP}}}},
		Callers:  []Caller{{From: "shop/web", To: "shop/cart", Port: 8080, Rate: 1}},
	}
	policy := func(rule *securityapi.Rule) *securityv1.AuthorizationPolicy {
		p := &securityv1.AuthorizationPolicy{ObjectMeta: meta("shop", "cart-policy", 0)}
		p.Spec.Action = securityapi.AuthorizationPolicy_ALLOW
		p.Spec.Selector = &typeapi.WorkloadSelector{MatchLabels: map[string]string{"app": "cart"}}
		p.Spec.Rules = []*securityapi.Rule{rule}
		return p
	}
	for _, tc := range []struct {
		name   string
		rule   *securityapi.Rule
		denied bool
	}{
		{"GET only", &securityapi.Rule{To: []*securityapi.Rule_To{{Operation: &securityapi.Operation{Methods: []string{"GET"}}}}}, true},
		{"from web's identity (L4)", &securityapi.Rule{From: []*securityapi.Rule_From{{Source: &securityapi.Source{Principals: []string{"cluster.local/ns/shop/sa/web"}}}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(Options{Topology: topology, Istio: newFakeIstio(policy(tc.rule))})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			m.Tick(10 * time.Second)
			want := CallerOutcome{Succeeded: 10}
			if tc.denied {
				want = CallerOutcome{Failed: 10}
			}
			if got := m.Outcomes()["shop/web->shop/cart:8080"]; got != want {
				t.Errorf("outcome %+v, want %+v", got, want)
			}
			closed := map[string]float64{}
			for _, s := range scrape(t, m) {
				if s.name == "istio_tcp_connections_closed_total" && s.labels["connection_security_policy"] == "mutual_tls" {
					closed[s.labels["reporter"]+" "+s.labels["response_flags"]] += s.value
				}
			}
			wantClosed := map[string]float64{"source -": 10, "destination -": 10}
			if tc.denied {
				wantClosed = map[string]float64{"source CONNECT": 10, "destination DENY": 10}
			}
			if !maps.Equal(closed, wantClosed) {
				t.Errorf("closed connections %v, want %v", closed, wantClosed)
			}
		})
	}
}
