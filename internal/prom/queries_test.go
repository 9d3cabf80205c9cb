// Tests of the query set: fixed whatever the namespaces, using the window, and window formatting.

package prom

import (
	"testing"
	"time"
)

func TestQueriesAreTheFixedSet(t *testing.T) {
	want := []Query{
		{
			Name:   "http",
			PromQL: `sum by (reporter, source_cluster, source_workload, source_workload_namespace, source_principal, destination_cluster, destination_workload, destination_workload_namespace, destination_service, destination_service_name, destination_service_namespace, destination_principal, connection_security_policy, request_protocol, response_code, response_flags) (rate(istio_requests_total{reporter=~"source|destination|waypoint"}[1m]))`,
		},
		{
			Name:   "tcp",
			PromQL: `sum by (reporter, source_cluster, source_workload, source_workload_namespace, source_principal, destination_cluster, destination_workload, destination_workload_namespace, destination_service, destination_service_name, destination_service_namespace, destination_principal, connection_security_policy) (rate(istio_tcp_sent_bytes_total{reporter=~"source|destination|waypoint"}[1m]))`,
		},
		{
			Name:   "tcp_received",
			PromQL: `sum by (reporter, source_cluster, source_workload, source_workload_namespace, source_principal, destination_cluster, destination_workload, destination_workload_namespace, destination_service, destination_service_name, destination_service_namespace, destination_principal, connection_security_policy) (rate(istio_tcp_received_bytes_total{reporter=~"source|destination|waypoint"}[1m]))`,
		},
		{
			Name:   "tcp_connections",
			PromQL: `sum by (reporter, source_cluster, source_workload, source_workload_namespace, source_principal, destination_cluster, destination_workload, destination_workload_namespace, destination_service, destination_service_name, destination_service_namespace, destination_principal, connection_security_policy, response_flags) (rate(istio_tcp_connections_opened_total{reporter=~"source|destination|waypoint"}[1m]))`,
		},
		{
			Name:   "tcp_refused",
			PromQL: `sum by (reporter, source_cluster, source_workload, source_workload_namespace, source_principal, destination_cluster, destination_workload, destination_workload_namespace, destination_service, destination_service_name, destination_service_namespace, destination_principal, connection_security_policy, response_flags) (rate(istio_tcp_connections_closed_total{reporter="destination", response_flags="DENY"}[1m]))`,
		},
	}
	got := Queries(time.Minute)
	if len(got) != len(want) {
		t.Fatalf("got %d queries, want %d: %q", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("query %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestQueriesUseTheWindow(t *testing.T) {
	for _, q := range Queries(90 * time.Second) {
		if want := "[1m30s]))"; q.PromQL[len(q.PromQL)-len(want):] != want {
			t.Errorf("%s query %q does not end in %q", q.Name, q.PromQL, want)
		}
	}
}

func TestFormatWindow(t *testing.T) {
	for _, tc := range []struct {
		window time.Duration
		want   string
	}{
		{time.Minute, "1m"},
		{90 * time.Second, "1m30s"},
		{time.Second, "1s"},
		{5 * time.Minute, "5m"},
		{time.Hour, "1h"},
		{1500 * time.Millisecond, "1s500ms"},
	} {
		if got := FormatWindow(tc.window); got != tc.want {
			t.Errorf("FormatWindow(%s) = %q, want %q", tc.window, got, tc.want)
		}
	}
}
