// AuthorizationPolicies in the simulated mesh: each enforcer's verdict by istio.EvaluateAuthorization
// and what Envoy or ztunnel reports of a denial, each test naming the Istio or Envoy file it follows.

package meshsim

import (
	"maps"
	"reflect"
	"testing"
	"time"

	securityapi "istio.io/api/security/v1beta1"
	typeapi "istio.io/api/type/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	"k8s.io/apimachinery/pkg/runtime"

	rules "github.com/meshlock/meshlock/internal/istio"
)

// authzPolicy is an AuthorizationPolicy selecting app=<app> (every workload
// of the namespace when app is "").
func authzPolicy(namespace, name, app string, action securityapi.AuthorizationPolicy_Action, rs ...*securityapi.Rule) *securityv1.AuthorizationPolicy {
	p := &securityv1.AuthorizationPolicy{ObjectMeta: meta(namespace, name, 0)}
	p.Spec.Action = action
	if app != "" {
		p.Spec.Selector = &typeapi.WorkloadSelector{MatchLabels: map[string]string{"app": app}}
	}
	p.Spec.Rules = rs
	return p
}

func fromPrincipals(principals ...string) *securityapi.Rule {
	return &securityapi.Rule{From: []*securityapi.Rule_From{{Source: &securityapi.Source{Principals: principals}}}}
}

func fromNamespaces(namespaces ...string) *securityapi.Rule {
	return &securityapi.Rule{From: []*securityapi.Rule_From{{Source: &securityapi.Source{Namespaces: namespaces}}}}
}

// runAuthz runs the topology ten seconds under the objects.
func runAuthz(t *testing.T, tp Topology, autoMTLS bool, objects ...runtime.Object) *Mesh {
	t.Helper()
	m, err := New(Options{Topology: tp, Istio: newFakeIstio(objects...), AutoMTLS: autoMTLS})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	m.Tick(10 * time.Second)
	return m
}

// wantOutcomes checks Outcomes and that Truth agrees: Succeeded is MTLS +
// Plaintext, Failed is HandshakeFailed + Denied + NoEndpoint.
func wantOutcomes(t *testing.T, m *Mesh, want map[string]CallerOutcome) {
	t.Helper()
	got := m.Outcomes()
	for key, w := range want {
		if got[key] != w {
			t.Errorf("%s: outcome %+v, want %+v", key, got[key], w)
		}
	}
	for key, tr := range m.Truth().Callers {
		o := got[key]
		if o.Succeeded != tr.MTLS.Count+tr.Plaintext.Count || o.Failed != tr.HandshakeFailed+tr.Denied+tr.NoEndpoint {
			t.Errorf("%s: outcome %+v disagrees with truth %+v", key, o, tr)
		}
	}
}

func wantAuthorization(t *testing.T, m *Mesh, caller string, want []AuthorizationTruth) {
	t.Helper()
	if got := m.Truth().Callers[caller].Authorization; !reflect.DeepEqual(got, want) {
		t.Errorf("authorization of %s =\n%+v\nwant\n%+v", caller, got, want)
	}
}

func wantCount(t *testing.T, samples []sample, what, name string, match map[string]string, want float64) {
	t.Helper()
	if got := sumWhere(samples, name, match); got != want {
		t.Errorf("%s: %s%v = %v, want %v", what, name, match, got, want)
	}
}

const apiPrincipal = "cluster.local/ns/trusted/sa/client"

// sidecarsCallingAPI: backend/api (a sidecar, HTTP on container port 9090
// behind Service port 8080, or TCP on 5432) called by trusted/client,
// whose namespace's DestinationRule says ISTIO_MUTUAL, by other/client, a
// sidecar sending plaintext (auto mTLS off), and by other/bare, without
// a sidecar.
func sidecarsCallingAPI(protocol Protocol) Topology {
	port := ServicePort{Name: "http", Port: 8080, TargetPort: 9090, Protocol: HTTP}
	if protocol == TCP {
		port = ServicePort{Name: "tcp-db", Port: 5432, Protocol: TCP}
	}
	call := func(from string) Caller {
		c := Caller{From: from, To: "backend/api", Port: port.Port, Rate: 1}
		if protocol == TCP {
			c.BytesSent, c.BytesReceived = 100, 1000
		}
		return c
	}
	return Topology{
		Workloads: []Workload{
			{Name: "api-v1", Namespace: "backend", ServiceAccount: "api", Sidecar: true, Labels: map[string]string{"app": "api", "version": "v1"}},
			{Name: "client", Namespace: "trusted", ServiceAccount: "client", Sidecar: true, Labels: map[string]string{"app": "client"}},
			{Name: "client", Namespace: "other", ServiceAccount: "client", Sidecar: true, Labels: map[string]string{"app": "client"}},
			{Name: "bare", Namespace: "other", ServiceAccount: "bare", Labels: map[string]string{"app": "bare"}},
		},
		Services: []Service{{Name: "api", Namespace: "backend", Selector: map[string]string{"app": "api"}, Ports: []ServicePort{port}}},
		Callers:  []Caller{call("trusted/client"), call("other/client"), call("other/bare")},
	}
}

// An ALLOW rule by principal on a sidecar's HTTP port: the caller over
// mTLS whose certificate it names goes through; plaintext has no
// principal, so the rule cannot match it and every plaintext caller is
// refused (envoy source/extensions/filters/common/rbac/matchers.cc
// AuthenticatedMatcher: no TLS, no match). The refusal is the HTTP RBAC
// filter's local reply (envoy source/extensions/filters/http/rbac/rbac_filter.cc:
// 403, no response flag), which both sidecars report as response_code 403
// with response_flags "-" (istio/proxy test/envoye2e/stats_plugin/stats_test.go
// TestStats403Failure).
func TestHTTPRBACFilter_AllowByPrincipalDeniesPlaintext(t *testing.T) {
	m := runAuthz(t, sidecarsCallingAPI(HTTP), false,
		drTLS("trusted", "api", "api.backend.svc.cluster.local", istioMutual),
		authzPolicy("backend", "api-callers", "api", securityapi.AuthorizationPolicy_ALLOW, fromPrincipals(apiPrincipal)))
	const trusted, sidecar, bare = "trusted/client->backend/api:8080", "other/client->backend/api:8080", "other/bare->backend/api:8080"
	wantOutcomes(t, m, map[string]CallerOutcome{trusted: {Succeeded: 10}, sidecar: {Failed: 10}, bare: {Failed: 10}})
	truth := m.Truth().Callers
	if tr := truth[sidecar]; tr.Denied != 10 || tr.DeniedMTLS != 0 || tr.Plaintext.Count != 0 || tr.HandshakeFailed != 0 {
		t.Errorf("the plaintext sidecar's truth %+v, want 10 denied, none over mTLS", tr)
	}
	if tr := truth[trusted]; tr.MTLS.Count != 10 || tr.Denied != 0 {
		t.Errorf("the trusted caller's truth %+v, want 10 over mTLS", tr)
	}
	wantAuthorization(t, m, trusted, []AuthorizationTruth{{Endpoint: "backend/api-v1", Enforcer: EnforcerSidecar, Principal: apiPrincipal,
		Port: 9090, Protocol: rules.AuthzProtocolHTTP, Decision: rules.AuthzAllow, Policies: []string{"backend/api-callers"}}})
	wantAuthorization(t, m, sidecar, []AuthorizationTruth{{Endpoint: "backend/api-v1", Enforcer: EnforcerSidecar,
		Port: 9090, Protocol: rules.AuthzProtocolHTTP, Decision: rules.AuthzDeny, Denied: true, Policies: []string{"backend/api-callers"},
		Reason: "denied by AuthorizationPolicy backend/api-callers at the sidecar"}})

	samples := scrape(t, m)
	const requests = "istio_requests_total"
	for _, reporter := range []string{"source", "destination"} {
		wantCount(t, samples, reporter+" reports the plaintext sidecar's 403s", requests, map[string]string{"reporter": reporter,
			"source_workload": "client", "source_workload_namespace": "other", "destination_workload": "api-v1",
			"response_code": "403", "response_flags": "-"}, 10)
		wantCount(t, samples, reporter+" reports the trusted caller's 200s", requests, map[string]string{"reporter": reporter,
			"source_workload_namespace": "trusted", "response_code": "200", "response_flags": "-"}, 10)
	}
	wantCount(t, samples, "the server names the plaintext sidecar's connection none", requests, map[string]string{"reporter": "destination",
		"source_workload_namespace": "other", "response_code": "403", "connection_security_policy": "none", "source_principal": "unknown"}, 10)
	wantCount(t, samples, "the server reports the bare caller's 403s from unknown", requests, map[string]string{"reporter": "destination",
		"source_workload": "unknown", "response_code": "403", "response_flags": "-"}, 10)
	wantCount(t, samples, "no other flag", requests, map[string]string{"response_code": "403", "response_flags": "RBAC"}, 0)
}

// A DENY rule on source namespaces matches the namespace parsed from the
// peer certificate's URI SAN (istio/istio
// pilot/pkg/security/authz/model/generator.go srcNamespaceGenerator: a
// regex on the principal, "authenticated"): a plaintext caller from that
// very namespace has no certificate and is not denied; a sidecar of that
// namespace over mTLS (auto mTLS) is.
func TestDenyByNamespace_DoesNotMatchPlaintext(t *testing.T) {
	tp := sidecarsCallingAPI(HTTP)
	m := runAuthz(t, tp, true,
		authzPolicy("backend", "deny-other", "api", securityapi.AuthorizationPolicy_DENY, fromNamespaces("other")))
	const trusted, sidecar, bare = "trusted/client->backend/api:8080", "other/client->backend/api:8080", "other/bare->backend/api:8080"
	wantOutcomes(t, m, map[string]CallerOutcome{trusted: {Succeeded: 10}, sidecar: {Failed: 10}, bare: {Succeeded: 10}})
	if tr := m.Truth().Callers[sidecar]; tr.Denied != 10 || tr.DeniedMTLS != 10 {
		t.Errorf("other/client's truth %+v, want 10 denied over mTLS", tr)
	}
	wantAuthorization(t, m, sidecar, []AuthorizationTruth{{Endpoint: "backend/api-v1", Enforcer: EnforcerSidecar,
		Principal: "cluster.local/ns/other/sa/client", Port: 9090, Protocol: rules.AuthzProtocolHTTP,
		Decision: rules.AuthzDeny, Denied: true, Policies: []string{"backend/deny-other"},
		Reason: "denied by AuthorizationPolicy backend/deny-other at the sidecar"}})
	// The bare caller matched no DENY and there is no ALLOW: no policy decided.
	wantAuthorization(t, m, bare, nil)
	samples := scrape(t, m)
	wantCount(t, samples, "other/client's 403s over mTLS", "istio_requests_total", map[string]string{"reporter": "destination",
		"source_workload_namespace": "other", "source_principal": "spiffe://cluster.local/ns/other/sa/client",
		"connection_security_policy": "mutual_tls", "response_code": "403", "response_flags": "-"}, 10)
}

// A sidecar's TCP port: the network RBAC filter closes the connection
// once the handshake is done, setting no response flag (envoy
// source/extensions/filters/network/rbac/rbac_filter.cc onData,
// closeConnection). istio.stats counts it opened and closed with "-" at
// the server (istio/proxy source/extensions/filters/http/istio_stats/istio_stats.cc
// onEvent), tcp_proxy at the caller; no bytes (meshsim's simplification).
func TestNetworkRBACFilter_TCPDenied(t *testing.T) {
	m := runAuthz(t, sidecarsCallingAPI(TCP), false,
		drTLS("trusted", "api", "api.backend.svc.cluster.local", istioMutual),
		authzPolicy("backend", "db-callers", "api", securityapi.AuthorizationPolicy_ALLOW, fromPrincipals(apiPrincipal)))
	const trusted, sidecar = "trusted/client->backend/api:5432", "other/client->backend/api:5432"
	wantOutcomes(t, m, map[string]CallerOutcome{trusted: {Succeeded: 10}, sidecar: {Failed: 10}, "other/bare->backend/api:5432": {Failed: 10}})
	if tr := m.Truth().Callers[trusted]; tr.MTLS != (Delivered{Count: 10, BytesSent: 1000, BytesReceived: 10000}) {
		t.Errorf("trusted/client's truth %+v, want 10 connections over mTLS with their bytes", tr)
	}
	wantAuthorization(t, m, sidecar, []AuthorizationTruth{{Endpoint: "backend/api-v1", Enforcer: EnforcerSidecar,
		Port: 5432, Protocol: rules.AuthzProtocolTCP, Decision: rules.AuthzDeny, Denied: true, Policies: []string{"backend/db-callers"},
		Reason: "denied by AuthorizationPolicy backend/db-callers at the sidecar"}})
	samples := scrape(t, m)
	// The caller's sidecar names itself; the server cannot name a
	// plaintext TCP caller (peer metadata over TCP needs mTLS): both
	// other/client and other/bare are unknown to it.
	denied := map[string]map[string]string{
		"source":      {"reporter": "source", "source_workload_namespace": "other", "response_flags": "-"},
		"destination": {"reporter": "destination", "source_workload": "unknown", "connection_security_policy": "none", "response_flags": "-"},
	}
	for reporter, want := range map[string]float64{"source": 10, "destination": 20} {
		wantCount(t, samples, reporter+" opened", "istio_tcp_connections_opened_total", denied[reporter], want)
		wantCount(t, samples, reporter+" closed", "istio_tcp_connections_closed_total", denied[reporter], want)
		for _, bytes := range []string{"istio_tcp_received_bytes_total", "istio_tcp_sent_bytes_total"} {
			wantCount(t, samples, reporter+" bytes of denied connections", bytes, denied[reporter], 0)
		}
		wantCount(t, samples, reporter+" bytes of the trusted caller", "istio_tcp_received_bytes_total",
			map[string]string{"reporter": reporter, "source_workload_namespace": "trusted"}, 1000)
	}
}

// ztunnel enforces the L4 part of the policies selecting an ambient
// workload without a waypoint (istio/istio
// pilot/pkg/serviceregistry/ambient/authorization.go
// convertAuthorizationPolicy): a DENY by principal refuses web's tunnel,
// opened with "-" and closed with DENY at the destination (istio/ztunnel
// src/proxy/inbound.rs assert_rbac, ResponseFlags::AuthorizationPolicyDenied),
// CONNECT at web's ztunnel; batch, plaintext without an identity, is not
// matched and goes through (PERMISSIVE).
func TestZtunnelAuthorization_DenyFlag(t *testing.T) {
	tp := Topology{
		Workloads: []Workload{
			{Name: "web", Namespace: "shop", ServiceAccount: "web", Ambient: true, Labels: map[string]string{"app": "web"}},
			{Name: "cart", Namespace: "shop", ServiceAccount: "cart", Ambient: true, Labels: map[string]string{"app": "cart"}},
			{Name: "batch", Namespace: "jobs", ServiceAccount: "batch", Labels: map[string]string{"app": "batch"}},
		},
		Services: []Service{{Name: "cart", Namespace: "shop", Selector: map[string]string{"app": "cart"}, Ports: []ServicePort{{Name: "http", Port: 8080, Protocol: HTTP}}}},
		Callers: []Caller{
			{From: "shop/web", To: "shop/cart", Port: 8080, Rate: 1, BytesSent: 10, BytesReceived: 20},
			{From: "jobs/batch", To: "shop/cart", Port: 8080, Rate: 1, BytesSent: 10, BytesReceived: 20},
		},
	}
	m := runAuthz(t, tp, false,
		authzPolicy("shop", "no-web", "cart", securityapi.AuthorizationPolicy_DENY, fromPrincipals("cluster.local/ns/shop/sa/web")))
	const web, batch = "shop/web->shop/cart:8080", "jobs/batch->shop/cart:8080"
	wantOutcomes(t, m, map[string]CallerOutcome{web: {Failed: 10}, batch: {Succeeded: 10}})
	if tr := m.Truth().Callers[web]; tr.Denied != 10 || tr.DeniedMTLS != 10 || tr.HandshakeFailed != 0 {
		t.Errorf("web's truth %+v, want 10 denied over its tunnel", tr)
	}
	wantAuthorization(t, m, web, []AuthorizationTruth{{Endpoint: "shop/cart", Enforcer: EnforcerZtunnel,
		Principal: "cluster.local/ns/shop/sa/web", Port: 8080, Protocol: rules.AuthzProtocolTCP,
		Decision: rules.AuthzDeny, Denied: true, Policies: []string{"shop/no-web"},
		Reason: "denied by AuthorizationPolicy shop/no-web at the ztunnel"}})
	closed := map[string]float64{}
	opened := map[string]float64{}
	for _, s := range scrape(t, m) {
		if s.labels["source_workload"] != "web" {
			continue
		}
		switch s.name {
		case "istio_tcp_connections_closed_total":
			closed[s.labels["reporter"]+" "+s.labels["response_flags"]] += s.value
		case "istio_tcp_connections_opened_total":
			opened[s.labels["reporter"]+" "+s.labels["response_flags"]] += s.value
		case "istio_tcp_received_bytes_total", "istio_tcp_sent_bytes_total":
			t.Errorf("bytes on a denied connection: %v", s)
		}
	}
	if want := map[string]float64{"source CONNECT": 10, "destination DENY": 10}; !maps.Equal(closed, want) {
		t.Errorf("web's connections closed %v, want %v", closed, want)
	}
	if want := map[string]float64{"source -": 10, "destination -": 10}; !maps.Equal(opened, want) {
		t.Errorf("web's connections opened %v, want %v", opened, want)
	}
}

// A policy annotated istio.io/dry-run never denies: istiod puts it in the
// RBAC filter's shadow rules (istio/istio pilot/pkg/security/authz/builder/builder.go
// isDryRun; envoy rbac_filter.cc only counts shadow_denied), and ztunnel
// gets none (ambient/authorization.go convertAuthorizationPolicy). The
// evaluation names it in DryRun. And a policy whose match depends on the
// request (methods) is conditional, which meshsim applies as allowed.
func TestDryRunAndConditional_Allow(t *testing.T) {
	dryRun := authzPolicy("backend", "only-trusted", "api", securityapi.AuthorizationPolicy_ALLOW, fromPrincipals(apiPrincipal))
	dryRun.Annotations = map[string]string{"istio.io/dry-run": "true"}
	m := runAuthz(t, sidecarsCallingAPI(HTTP), false, dryRun)
	const sidecar = "other/client->backend/api:8080"
	wantOutcomes(t, m, map[string]CallerOutcome{sidecar: {Succeeded: 10}, "other/bare->backend/api:8080": {Succeeded: 10}})
	wantAuthorization(t, m, sidecar, []AuthorizationTruth{{Endpoint: "backend/api-v1", Enforcer: EnforcerSidecar,
		Port: 9090, Protocol: rules.AuthzProtocolHTTP, Decision: rules.AuthzAllow, DryRun: []string{"backend/only-trusted"}}})
	wantCount(t, scrape(t, m), "no 403", "istio_requests_total", map[string]string{"response_code": "403"}, 0)

	get := authzPolicy("backend", "get-only", "api", securityapi.AuthorizationPolicy_ALLOW,
		&securityapi.Rule{To: []*securityapi.Rule_To{{Operation: &securityapi.Operation{Methods: []string{"GET"}}}}})
	m = runAuthz(t, sidecarsCallingAPI(HTTP), false, get)
	wantOutcomes(t, m, map[string]CallerOutcome{sidecar: {Succeeded: 10}})
	wantAuthorization(t, m, sidecar, []AuthorizationTruth{{Endpoint: "backend/api-v1", Enforcer: EnforcerSidecar,
		Port: 9090, Protocol: rules.AuthzProtocolHTTP, Decision: rules.AuthzConditional, Policies: []string{"backend/get-only"}}})
}

// A waypoint enforces the policies bound to its Gateway by targetRefs
// (istio/istio pilot/pkg/model/policyattachment.go); its refusal is a 403
// it reports as reporter="waypoint" with "-" (the HTTP RBAC filter, as a
// sidecar's), the caller's tunnel to it opened and closed with "-", and
// nothing reaches the server's ztunnel.
func TestWaypointAuthorization_403(t *testing.T) {
	tp := Topology{
		Workloads: []Workload{
			{Name: "web", Namespace: "shop", ServiceAccount: "web", Ambient: true, Labels: map[string]string{"app": "web"}},
			{Name: "orders", Namespace: "shop", ServiceAccount: "orders", Ambient: true, Labels: map[string]string{"app": "orders"}},
			{Name: "waypoint", Namespace: "shop", ServiceAccount: "waypoint", Waypoint: true},
		},
		Services: []Service{{Name: "orders", Namespace: "shop", Selector: map[string]string{"app": "orders"}, Waypoint: "waypoint",
			Ports: []ServicePort{{Name: "http", Port: 8080, Protocol: HTTP}}}},
		Callers: []Caller{{From: "shop/web", To: "shop/orders", Port: 8080, Rate: 1}},
	}
	p := authzPolicy("shop", "orders-admins", "", securityapi.AuthorizationPolicy_ALLOW, fromPrincipals("cluster.local/ns/ops/sa/admin"))
	p.Spec.TargetRefs = []*typeapi.PolicyTargetReference{{Group: "gateway.networking.k8s.io", Kind: "Gateway", Name: "waypoint"}}
	m := runAuthz(t, tp, false, p)
	const web = "shop/web->shop/orders:8080"
	wantOutcomes(t, m, map[string]CallerOutcome{web: {Failed: 10}})
	wantAuthorization(t, m, web, []AuthorizationTruth{{Endpoint: "shop/orders", Enforcer: EnforcerWaypoint,
		Principal: "cluster.local/ns/shop/sa/web", Port: 8080, Protocol: rules.AuthzProtocolHTTP,
		Decision: rules.AuthzDeny, Denied: true, Policies: []string{"shop/orders-admins"},
		Reason: "denied by AuthorizationPolicy shop/orders-admins at the waypoint"}})
	samples := scrape(t, m)
	wantCount(t, samples, "the waypoint's 403s", "istio_requests_total", map[string]string{"reporter": "waypoint",
		"source_workload": "web", "destination_workload": "orders", "response_code": "403", "response_flags": "-"}, 10)
	wantCount(t, samples, "web's tunnel to the waypoint", "istio_tcp_connections_closed_total", map[string]string{"reporter": "source",
		"destination_workload": "waypoint", "response_flags": "-"}, 10)
	wantCount(t, samples, "nothing at orders' ztunnel", "istio_tcp_connections_opened_total", map[string]string{"reporter": "destination"}, 0)
}
