// The PromQL queries every Fetch runs: HTTP requests, TCP bytes both ways and TCP connections,
// summed by the edge labels over the rate window.

package prom

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/meshlock/meshlock/internal/graph"
)

// Query is one of the PromQL instant queries that every Fetch (Queries)
// or FetchCerts (CertQueries) runs.
type Query struct {
	// Name is the value of the query label of
	// meshlock_prometheus_queries_total: "http", "tcp" (bytes sent),
	// "tcp_received", "tcp_connections", "tcp_refused"; "ca_certs" or
	// "proxy_certs".
	Name string
	// PromQL is the query text exactly as sent.
	PromQL string
}

// Names of the queries.
const (
	QueryHTTP           = "http"
	QueryTCP            = "tcp"
	QueryTCPReceived    = "tcp_received"
	QueryTCPConnections = "tcp_connections"
	QueryTCPRefused     = "tcp_refused"
)

// edgeLabels are the Istio labels that identify an edge and its security,
// and no other: each is read by istioSample (istio.go), so that Prometheus
// groups by nothing the graph does not use.
var edgeLabels = []string{
	"reporter",
	"source_cluster",
	"source_workload",
	"source_workload_namespace",
	"source_principal",
	"destination_cluster",
	"destination_workload",
	"destination_workload_namespace",
	"destination_service",
	"destination_service_name",
	"destination_service_namespace",
	"destination_principal",
	"connection_security_policy",
}

// The reporters are filtered so that a future reporter kind cannot be
// counted twice with the ones the graph understands.
const reporterSelector = `reporter=~"source|destination|waypoint"`

// FormatWindow writes a rate window the way PromQL (and the snapshot's
// "window" field) spells durations: 1m, 1m30s.
func FormatWindow(window time.Duration) string {
	return model.Duration(window).String()
}

// Queries returns the fixed set of queries a Fetch runs for the rate
// window. Its size does not depend on namespaces or traffic.
func Queries(window time.Duration) []Query {
	specs := querySpecs(window)
	queries := make([]Query, len(specs))
	for i, s := range specs {
		queries[i] = s.Query
	}
	return queries
}

// querySpec is a Query and how its series become Samples.
type querySpec struct {
	Query
	protocol func(labels) string
	measure  string // graph.Measure*
	// metric is the Istio counter it reads; history groups its series by
	// historyBy, and counts a client's report only without response flags
	// when clientFlags is set (requests and connections: a flagged one never
	// reached the server, or was answered by the client's own proxy).
	metric      string
	historyBy   []string
	clientFlags bool
	// refusals: the series are the destination's refusals only (selector
	// refusedSelector), in the live query, the look-back's and a chart's.
	refusals bool
	// recorded names its recorded series (recordedName).
	recorded string
}

// refusedSelector picks ztunnel's closes of connections a policy refused.
const refusedSelector = `reporter="destination", response_flags="DENY"`

// TCP bytes are asked for in both directions, so that a client that only
// writes (syslog, a metrics push: istio_tcp_received_bytes_total only) is an
// edge too; the graph adds them up. (One query over a __name__ regex cannot:
// rate() drops the name, and the two counters of one connection then clash
// as series with the same labels.) Connections opened decide a TCP edge that
// moved no bytes in the window, and carry the response flags of connections
// that failed at the handshake.

func querySpecs(window time.Duration) []querySpec {
	w := FormatWindow(window)
	httpLabels := append(append([]string{}, edgeLabels...), "request_protocol", "response_code", "response_flags")
	connLabels := append(append([]string{}, edgeLabels...), "response_flags")
	tcp := func(labels) string { return graph.ProtocolTCP }
	return []querySpec{
		{
			Query:    Query{Name: QueryHTTP, PromQL: rateQuery("istio_requests_total", httpLabels, w)},
			protocol: requestProtocol,
			measure:  graph.MeasureRequests,
			metric:   "istio_requests_total", historyBy: append(historyLabels(), "request_protocol"), clientFlags: true, recorded: "istio_requests",
		},
		{
			Query:    Query{Name: QueryTCP, PromQL: rateQuery("istio_tcp_sent_bytes_total", edgeLabels, w)},
			protocol: tcp,
			measure:  graph.MeasureBytes,
			metric:   "istio_tcp_sent_bytes_total", historyBy: historyLabels(), recorded: "istio_tcp_sent_bytes",
		},
		{
			Query:    Query{Name: QueryTCPReceived, PromQL: rateQuery("istio_tcp_received_bytes_total", edgeLabels, w)},
			protocol: tcp,
			measure:  graph.MeasureBytes,
			metric:   "istio_tcp_received_bytes_total", historyBy: historyLabels(), recorded: "istio_tcp_received_bytes",
		},
		{
			Query:    Query{Name: QueryTCPConnections, PromQL: rateQuery("istio_tcp_connections_opened_total", connLabels, w)},
			protocol: tcp,
			measure:  graph.MeasureConnections,
			metric:   "istio_tcp_connections_opened_total", historyBy: historyLabels(), clientFlags: true, recorded: "istio_tcp_connections_opened",
		},
		// The connections ambient's ztunnel refused at the destination:
		// counted opened like any other, with response_flags "-", only
		// their close says DENY (istio/ztunnel src/proxy/metrics.rs
		// ConnectionResult::record, inbound_passthrough.rs); without them a
		// refused plaintext connection would look like plaintext that got in.
		{
			Query: Query{Name: QueryTCPRefused, PromQL: fmt.Sprintf("sum by (%s) (rate(istio_tcp_connections_closed_total{%s}[%s]))",
				strings.Join(connLabels, ", "), refusedSelector, w)},
			protocol: tcp,
			measure:  graph.MeasureConnections,
			metric:   "istio_tcp_connections_closed_total", historyBy: append(historyLabels(), "response_flags"), refusals: true, recorded: "istio_tcp_connections_denied",
		},
	}
}

// rateQuery sums the rate of metric by the labels the graph uses.
func rateQuery(metric string, groupBy []string, window string) string {
	return fmt.Sprintf("sum by (%s) (rate(%s{%s}[%s]))",
		strings.Join(groupBy, ", "), metric, reporterSelector, window)
}

// requestProtocol tells gRPC from plain HTTP on istio_requests_total.
func requestProtocol(m labels) string {
	if strings.EqualFold(m.get("request_protocol"), "grpc") {
		return graph.ProtocolGRPC
	}
	return graph.ProtocolHTTP
}
