// Tests of mapping Istio's labels, as Envoy's istio_stats reports them, to graph samples and outcomes.

package prom

import (
	"testing"

	"github.com/prometheus/common/model"

	"github.com/meshlock/meshlock/internal/graph"
)

// Istio's labels as Envoy's istio_stats filter reports them, mapped to the
// graph's terms.
func TestIstioSample(t *testing.T) {
	base := func(kv ...string) model.Metric {
		m := model.Metric{
			"source_workload": "productpage-v1", "source_workload_namespace": "default",
			"source_principal":     "spiffe://cluster.local/ns/default/sa/productpage",
			"destination_workload": "reviews-v1", "destination_workload_namespace": "default",
			"destination_principal":    "spiffe://cluster.local/ns/default/sa/reviews",
			"destination_service":      "reviews.default.svc.cluster.local",
			"destination_service_name": "reviews", "destination_service_namespace": "default",
		}
		for i := 0; i < len(kv); i += 2 {
			m[model.LabelName(kv[i])] = model.LabelValue(kv[i+1])
		}
		return m
	}
	reviews := graph.ServiceRef{Namespace: "default", Name: "reviews"}
	tests := []struct {
		name    string
		metric  model.Metric
		measure string
		check   func(t *testing.T, s graph.Sample)
		drop    bool
	}{
		{name: "a destination's mTLS report", metric: base("reporter", "destination", "connection_security_policy", "mutual_tls"),
			check: func(t *testing.T, s graph.Sample) {
				if s.Reporter != graph.ReporterServer || s.Security != graph.SecurityMutualTLS || s.Service != reviews || s.Source.Workload != "productpage-v1" {
					t.Errorf("%+v", s)
				}
			}},
		// Envoy's RBAC filter answers 403 and sets no flag (envoy
		// source/extensions/filters/http/rbac/rbac_filter.cc; istio/proxy
		// test/envoye2e/stats_plugin/stats_test.go TestStats403Failure): a
		// server's 403 is forbidden, still traffic of its security.
		{name: "a destination's 403", metric: base("reporter", "destination", "connection_security_policy", "mutual_tls", "response_code", "403", "response_flags", "-"),
			check: func(t *testing.T, s graph.Sample) {
				if s.Outcome != graph.OutcomeForbidden || s.Security != graph.SecurityMutualTLS {
					t.Errorf("%+v", s)
				}
			}},
		{name: "a client's 403 was delivered", metric: base("reporter", "source", "response_code", "403", "response_flags", "-"),
			check: func(t *testing.T, s graph.Sample) {
				if s.Outcome != graph.OutcomeDelivered {
					t.Errorf("%+v", s)
				}
			}},
		{name: "a waypoint reports for the server side", metric: base("reporter", "waypoint", "connection_security_policy", "none"),
			check: func(t *testing.T, s graph.Sample) {
				if s.Reporter != graph.ReporterServer || s.Security != graph.SecurityPlaintext {
					t.Errorf("%+v", s)
				}
			}},
		// istio/ztunnel src/proxy/metrics.rs: its source side says mutual_tls
		// for the tunnel it opened, unknown for plain TCP; a sidecar client
		// always says unknown.
		{name: "ztunnel's source report of its tunnel", measure: graph.MeasureBytes,
			metric: base("reporter", "source", "connection_security_policy", "mutual_tls"),
			check: func(t *testing.T, s graph.Sample) {
				if s.Reporter != graph.ReporterClient || s.Security != graph.SecurityMutualTLS {
					t.Errorf("%+v", s)
				}
			}},
		{name: "a client's unknown security is unknown", measure: graph.MeasureBytes,
			metric: base("reporter", "source", "connection_security_policy", "unknown"),
			check: func(t *testing.T, s graph.Sample) {
				if s.Reporter != graph.ReporterClient || s.Security != graph.SecurityUnknown {
					t.Errorf("%+v", s)
				}
			}},
		{name: "unknown is nothing", metric: base("reporter", "destination", "source_workload", "unknown", "source_workload_namespace", "unknown", "source_principal", "unknown"),
			check: func(t *testing.T, s graph.Sample) {
				if s.Source != (graph.Peer{}) {
					t.Errorf("source %+v", s.Source)
				}
			}},
		{name: "the service's namespace unknown: taken from the FQDN", metric: base("reporter", "source", "destination_service_namespace", "unknown"),
			check: func(t *testing.T, s graph.Sample) {
				if s.Service != reviews {
					t.Errorf("service %+v", s.Service)
				}
			}},
		{name: "PassthroughCluster is no Service", metric: base("reporter", "source", "destination_service", "PassthroughCluster",
			"destination_service_name", "PassthroughCluster", "destination_service_namespace", "unknown"),
			check: func(t *testing.T, s graph.Sample) {
				if s.Service != (graph.ServiceRef{}) {
					t.Errorf("service %+v", s.Service)
				}
			}},
		{name: "503 UF,URX: mTLS into a plaintext server", metric: base("reporter", "source", "response_code", "503", "response_flags", "UF,URX"),
			check: wantOutcome(graph.OutcomeHandshakeFailed)},
		{name: "503 UC: plaintext into a STRICT sidecar", metric: base("reporter", "source", "response_code", "503", "response_flags", "UC"),
			check: wantOutcome(graph.OutcomeHandshakeFailed)},
		{name: "503 NC: no cluster, answered by the client's proxy", metric: base("reporter", "source", "response_code", "503", "response_flags", "NC"),
			check: wantOutcome(graph.OutcomeLocal)},
		{name: "a 503 from the app", metric: base("reporter", "source", "response_code", "503", "response_flags", "-"),
			check: wantOutcome(graph.OutcomeDelivered)},
		{name: "a 200 whatever its flags", metric: base("reporter", "source", "response_code", "200", "response_flags", "UF"),
			check: wantOutcome(graph.OutcomeDelivered)},
		{name: "a TCP connection refused at the handshake", measure: graph.MeasureConnections, metric: base("reporter", "source", "response_flags", "UF,URX"),
			check: wantOutcome(graph.OutcomeHandshakeFailed)},
		{name: "UC on a TCP connection is not a handshake", measure: graph.MeasureConnections, metric: base("reporter", "source", "response_flags", "UC"),
			check: wantOutcome(graph.OutcomeDelivered)},
		{name: "a server's report has no outcome", metric: base("reporter", "destination", "response_code", "503", "response_flags", "UF"),
			check: wantOutcome(graph.OutcomeDelivered)},
		{name: "another reporter is dropped", metric: base("reporter", "ztunnel"), drop: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			measure := tc.measure
			if measure == "" {
				measure = graph.MeasureRequests
			}
			s, ok := istioSample(metricLabels(tc.metric), graph.ProtocolHTTP, measure, 1)
			if ok == tc.drop {
				t.Fatalf("kept %v, want %v", ok, !tc.drop)
			}
			if ok {
				tc.check(t, s)
			}
		})
	}
}

func wantOutcome(want string) func(*testing.T, graph.Sample) {
	return func(t *testing.T, s graph.Sample) {
		t.Helper()
		if s.Outcome != want {
			t.Errorf("outcome %q, want %q", s.Outcome, want)
		}
	}
}
