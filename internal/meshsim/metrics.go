// The simulated proxies' Istio metrics: the standard label sets, each side's peer labels as Envoy
// knows them, and recording requests, connections and TCP bytes per series.

package meshsim

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshlock/meshlock/internal/istio"
)

// Istio's standard metric labels, in the order Envoy's istio.stats filter emits them.
var requestLabelNames = []string{
	"reporter",
	"source_workload", "source_workload_namespace", "source_principal", "source_app", "source_version",
	"source_cluster", "source_canonical_service", "source_canonical_revision",
	"destination_workload", "destination_workload_namespace", "destination_principal", "destination_app",
	"destination_version", "destination_service", "destination_service_name", "destination_service_namespace",
	"destination_canonical_service", "destination_canonical_revision", "destination_cluster",
	"request_protocol", "response_code", "grpc_response_status", "response_flags", "connection_security_policy",
}

// TCP metrics carry the same labels minus the HTTP response ones.
var tcpLabelNames = func() []string {
	var out []string
	for _, l := range requestLabelNames {
		if l != "response_code" && l != "grpc_response_status" {
			out = append(out, l)
		}
	}
	return out
}()

const (
	unknown          = "unknown"
	reporterSource   = "source"
	reporterDest     = "destination"
	reporterWaypoint = "waypoint"
	policyMutualTLS  = "mutual_tls"
	policyNone       = "none"
	flagNone         = "-"
	// A failed TLS handshake is a connect failure (UF), retried under
	// Istio's default retryOn "connect-failure" until the retries run out (URX).
	flagHandshake = "UF,URX"
	// The upstream closed the connection before a response (a STRICT sidecar
	// refusing plaintext).
	flagUpstreamClosed = "UC"
	flagNoHealthy      = "UH" // the subset selects no endpoint
	flagNoCluster      = "NC" // the subset is not defined by any applicable DestinationRule
	// ztunnel's flag on the close of a connection a policy refused
	// (istio/ztunnel src/proxy/metrics.rs ResponseFlags::AuthorizationPolicyDenied).
	flagDenied = "DENY"
	// What the caller's ztunnel records when its tunnel is refused: the
	// server's 401 to its CONNECT falls to the default failure
	// (istio/ztunnel src/proxy/h2/client.rs, metrics.rs extract_failure_reason).
	flagConnect = "CONNECT"
)

// What an AuthorizationPolicy denial looks like in Istio's metrics, which
// meshsim reproduces (FailureForbidden; mesh.go deliver, deliverViaWaypoint,
// ztunnelReport):
//
//   - A sidecar's HTTP RBAC filter (envoy source/extensions/filters/http/rbac/rbac_filter.cc
//     decodeHeaders, the "enforced denied" branch) answers a local reply,
//     sendLocalReply(Http::Code::Forbidden, "RBAC: access denied", ...,
//     details "rbac_access_denied_matched_policy[<policy>]"), and sets no
//     response flag. The server's istio.stats still reports the stream:
//     reporter=destination, response_code 403, response_flags "-", its
//     usual connection_security_policy and peer labels (istio/proxy
//     test/envoye2e/stats_plugin/stats_test.go TestStats403Failure with
//     testdata/filters/rbac.yaml.tmpl, expecting
//     testdata/metric/server_request_total.yaml.tmpl with response_code
//     "403" and response_flags "-"). The caller's proxy relays an upstream
//     403: reporter=source, response_code 403, response_flags "-".
//   - A sidecar's network RBAC filter (envoy source/extensions/filters/network/rbac/rbac_filter.cc
//     onData, the Deny branch) sets only the connection termination
//     details and closes (closeConnection: NoFlush, "rbac_deny_close"), no
//     response flag. istio.stats registered its connection callbacks when
//     the chain was built (istio/proxy
//     source/extensions/filters/http/istio_stats/istio_stats.cc
//     initializeReadFilterCallbacks, onEvent → reportHelper(true), as of
//     the parent of d13a386d7, which moved istio/proxy's code to
//     envoyproxy/envoy), so the
//     server reports the connection opened and closed with "-"; the
//     caller's tcp_proxy, connected when the upstream closes, sets no flag
//     either: opened and closed with "-" at both reporters. meshsim counts
//     no bytes (a real proxy may count the first bytes read before the
//     verdict).
//   - Envoy has no RBAC response flag: its CoreResponseFlag list (envoy
//     envoy/stream_info/stream_info.h, last UnconditionalDropOverload
//     "UDO") has none, and neither RBAC filter calls setResponseFlag
//     (envoyproxy/envoy#21197 asked for one; #12873 was closed by #12912,
//     the matched policy in the response code details instead). Only
//     ext_authz's UAEX marks an authorization refusal.
//   - ztunnel (flagDenied): opened with "-" and closed with DENY at the
//     destination (istio/ztunnel src/proxy/inbound.rs assert_rbac →
//     InboundFlagError(UNAUTHORIZED, ResponseFlags::AuthorizationPolicyDenied);
//     inbound_passthrough.rs for plaintext; metrics.rs encodes it "DENY"),
//     CONNECT at the caller's ztunnel. Newer ztunnels also count it in
//     istio_tcp_connections_failed_total (metrics.rs connection_failures),
//     which meshsim does not export.
//   - Nothing in istio_requests_total tells an RBAC 403 from the
//     application's own 403: both are response_code 403 with
//     response_flags "-". Only the access log (%RESPONSE_CODE_DETAILS%
//     rbac_access_denied_matched_policy[...] against via_upstream) or
//     Envoy's own rbac.denied counters, which Istio does not export by
//     default, tell them apart. A deniedRate read from the metrics is
//     therefore the rate of 403s (HTTP), plus DENY closes (ztunnel); TCP
//     denials at a sidecar look like short connections without bytes.

type metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	tcpOpened   *prometheus.CounterVec
	tcpClosed   *prometheus.CounterVec
	tcpSent     *prometheus.CounterVec
	tcpReceived *prometheus.CounterVec
}

func newMetrics() *metrics {
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m := &metrics{
		registry:    prometheus.NewRegistry(),
		requests:    counter("istio_requests_total", "Total number of requests.", requestLabelNames),
		tcpOpened:   counter("istio_tcp_connections_opened_total", "Total number of TCP connections opened.", tcpLabelNames),
		tcpClosed:   counter("istio_tcp_connections_closed_total", "Total number of TCP connections closed.", tcpLabelNames),
		tcpSent:     counter("istio_tcp_sent_bytes_total", "Total bytes sent during response of a TCP connection.", tcpLabelNames),
		tcpReceived: counter("istio_tcp_received_bytes_total", "Total bytes received during request of a TCP connection.", tcpLabelNames),
	}
	m.registry.MustRegister(m.requests, m.tcpOpened, m.tcpClosed, m.tcpSent, m.tcpReceived)
	return m
}

// peer is one side's identity labels.
type peer struct {
	workload, namespace, principal, app, version, cluster, canonicalService, canonicalRevision string
}

// unknownPeer is what Envoy reports when it has no peer metadata.
var unknownPeer = peer{
	workload: unknown, namespace: unknown, principal: unknown, app: unknown, version: unknown,
	cluster: unknown, canonicalService: unknown, canonicalRevision: "latest",
}

// knownPeer is a workload's own metadata, as its proxy knows it and as peer
// metadata exchange tells the other side, its cluster its istiod's cluster ID. The principal comes from the
// certificate, so it is only known over mTLS.
func knownPeer(w *Workload, mtls bool, trustDomain string) peer {
	p := peer{
		workload: w.reportedName(), namespace: w.Namespace, principal: unknown,
		app: orUnknown(w.Labels["app"]), version: orUnknown(w.Labels["version"]),
		cluster: w.clusterID, canonicalService: w.canonicalService(), canonicalRevision: w.canonicalRevision(),
	}
	if mtls {
		p.principal = w.principal(trustDomain)
	}
	return p
}

// endpointPeer is what a client proxy knows of an upstream that told it
// nothing (no sidecar, no response, or TCP without metadata exchange): the
// EDS endpoint's istio.workload metadata, "workload;namespace;canonical
// name;canonical revision;cluster" (pilot/pkg/networking/util/util.go
// AppendLbEndpointMetadata), which has no app, version or identity; the
// principal still comes from the TLS session when there is one.
func endpointPeer(w *Workload, mtls bool, trustDomain string) peer {
	p := knownPeer(w, mtls, trustDomain)
	p.app, p.version = unknown, unknown
	return p
}

// principalOnlyPeer is what a server proxy knows of a client that
// completed mTLS without metadata exchange: the certificate's principal and
// the namespace parsed from it, nothing else.
func principalOnlyPeer(w *Workload, trustDomain string) peer {
	p := unknownPeer
	p.principal = w.principal(trustDomain)
	p.namespace = w.Namespace
	return p
}

// recordRefused adds count connections refused by policy, as a ztunnel
// counts them: opened with "-" (the opened counter is written before any
// verdict) and closed with closeFlag (DENY at the destination, CONNECT at
// the caller), no bytes (istio/ztunnel src/proxy/metrics.rs
// ConnectionResultBuilder::build, ConnectionResult::record).
func (m *metrics) recordRefused(r report, count int64, closeFlag string) {
	if count <= 0 {
		return
	}
	r.responseFlags = flagNone
	m.tcpOpened.WithLabelValues(r.values(TCP)...).Add(float64(count))
	r.responseFlags = closeFlag
	m.tcpClosed.WithLabelValues(r.values(TCP)...).Add(float64(count))
}

func orUnknown(v string) string {
	if v == "" {
		return unknown
	}
	return v
}

// report is one time series' labels.
type report struct {
	reporter                 string
	source, destination      peer
	service                  *Service
	serviceNamespace         string // destination_service_namespace: "unknown" when Envoy has no peer
	responseCode             string
	responseFlags            string
	connectionSecurityPolicy string
}

func (r report) values(protocol Protocol) []string {
	out := []string{
		r.reporter,
		r.source.workload, r.source.namespace, r.source.principal, r.source.app, r.source.version,
		r.source.cluster, r.source.canonicalService, r.source.canonicalRevision,
		r.destination.workload, r.destination.namespace, r.destination.principal, r.destination.app,
		r.destination.version, istio.ServiceFQDN(r.service.Name, r.service.Namespace), r.service.Name, r.serviceNamespace,
		r.destination.canonicalService, r.destination.canonicalRevision, r.destination.cluster,
		string(protocol),
	}
	if protocol == HTTP {
		out = append(out, r.responseCode, "")
	}
	return append(out, r.responseFlags, r.connectionSecurityPolicy)
}

// record adds count requests (HTTP) or connections (TCP) to the series r.
// TCP byte counters follow Istio's definition: received = request direction
// (client to server), sent = response direction, for both reporters. A
// direction without bytes gets no series, as Envoy exports only counters it
// incremented (a write-only client shows on received_bytes only). Failed
// TCP connections count as opened and closed but carry no bytes.
func (m *metrics) record(r report, protocol Protocol, count int64, c Caller, withBytes bool) {
	if count <= 0 {
		return
	}
	n := float64(count)
	if protocol == HTTP {
		m.requests.WithLabelValues(r.values(HTTP)...).Add(n)
		return
	}
	v := r.values(TCP)
	m.tcpOpened.WithLabelValues(v...).Add(n)
	m.tcpClosed.WithLabelValues(v...).Add(n)
	if !withBytes {
		return
	}
	if c.BytesSent > 0 {
		m.tcpReceived.WithLabelValues(v...).Add(n * float64(c.BytesSent))
	}
	if c.BytesReceived > 0 {
		m.tcpSent.WithLabelValues(v...).Add(n * float64(c.BytesReceived))
	}
}
