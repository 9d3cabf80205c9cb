// The mapping of Istio's standard metrics (istio_requests_total, istio_tcp_*) and their labels to the
// graph's neutral Sample, including request outcomes from response codes and Envoy flags.

package prom

import (
	"strings"

	"github.com/prometheus/common/model"

	"github.com/meshlock/meshlock/internal/graph"
)

// Istio's standard metrics (istio_requests_total, istio_tcp_*) mapped to
// the graph's neutral Sample: this file is the one place that knows Istio's
// label names and values.

// labels is a series' labels, from client_golang's model or from the
// live queries' own decoder (decode.go).
type labels interface{ get(name string) string }

// metricLabels reads a model.Metric.
type metricLabels model.Metric

func (m metricLabels) get(name string) string { return string(m[model.LabelName(name)]) }

// istioUnknown is what Envoy's istio_stats reports for what it did not know.
const istioUnknown = "unknown"

// istioSample maps one series; false drops it (a reporter the graph does
// not understand, so that a future kind cannot be counted twice).
func istioSample(m labels, protocol, measure string, rate float64) (graph.Sample, bool) {
	label := func(name string) string {
		if v := m.get(name); v != istioUnknown {
			return v
		}
		return ""
	}
	s := graph.Sample{
		Protocol: protocol,
		Measure:  measure,
		Source: graph.Peer{
			Cluster:   label("source_cluster"),
			Namespace: label("source_workload_namespace"),
			Workload:  label("source_workload"),
			Principal: label("source_principal"),
		},
		Destination: graph.Peer{
			Cluster:   label("destination_cluster"),
			Namespace: label("destination_workload_namespace"),
			Workload:  label("destination_workload"),
			Principal: label("destination_principal"),
		},
		Service: serviceOf(label("destination_service_name"), label("destination_service_namespace"), label("destination_service")),
		Rate:    rate,
	}
	switch m.get("reporter") {
	case "destination", "waypoint":
		s.Reporter = graph.ReporterServer
		// A server's proxy knows whether the peer presented a certificate.
		s.Security = graph.SecurityPlaintext
		if m.get("connection_security_policy") == "mutual_tls" {
			s.Security = graph.SecurityMutualTLS
		}
		// ztunnel's close of a connection a policy refused: STRICT's
		// refusal of plaintext (istio/istio
		// pilot/pkg/serviceregistry/ambient/policies.go turns STRICT into
		// a deny of connections without an identity).
		if m.get("response_flags") == "DENY" {
			s.Outcome = graph.OutcomeRefused
		}
		// A 403 from the server's side: its proxy's access policy (Envoy's
		// RBAC filter sets no response flag: rbac_filter.cc sendLocalReply)
		// or the application; the graph tells them apart by the policy.
		if m.get("response_code") == "403" {
			s.Outcome = graph.OutcomeForbidden
		}
	case "source":
		s.Reporter = graph.ReporterClient
		s.Outcome = outcome(m.get("response_code"), m.get("response_flags"), measure == graph.MeasureConnections)
		// A sidecar client cannot tell and says "unknown"; ambient's
		// ztunnel says "mutual_tls" for the tunnel it opened
		// (istio/ztunnel src/proxy/metrics.rs SecurityPolicy,
		// src/proxy/outbound.rs conn_metrics_from_request).
		if m.get("connection_security_policy") == "mutual_tls" {
			s.Security = graph.SecurityMutualTLS
		}
	default:
		return graph.Sample{}, false
	}
	return s, true
}

// serviceOf is the destination Service. A client's proxy that reached no
// endpoint reports the Service's namespace as unknown but still knows the
// FQDN "<name>.<namespace>.svc[.<domain>]"; other hosts (ServiceEntries,
// PassthroughCluster) are not Kubernetes Services.
func serviceOf(name, namespace, fqdn string) graph.ServiceRef {
	if name == "" || namespace == "" {
		if fqdnName, fqdnNS, ok := splitServiceFQDN(fqdn); ok {
			if name == "" {
				name = fqdnName
			}
			if namespace == "" && name == fqdnName {
				namespace = fqdnNS
			}
		}
	}
	if name == "" || namespace == "" {
		return graph.ServiceRef{}
	}
	return graph.ServiceRef{Namespace: namespace, Name: name}
}

func splitServiceFQDN(fqdn string) (name, namespace string, ok bool) {
	name, rest, ok := strings.Cut(fqdn, ".")
	if !ok {
		return "", "", false
	}
	namespace, rest, _ = strings.Cut(rest, ".")
	if rest != "svc" && !strings.HasPrefix(rest, "svc.") {
		return "", "", false
	}
	return name, namespace, name != "" && namespace != ""
}

// localFlags are Envoy response flags of requests that the client's proxy
// answered itself, without reaching any upstream: no healthy upstream (UH),
// no cluster (NC), no route (NR), overflow (UO), rate limited (RL), denied
// by external authorization (UAEX), rate limit service error (RLSE),
// downstream protocol error (DPE), no filter chain (NFCF), overload manager
// (OM), invalid header (IH), stream idle timeout (SI).
var localFlags = map[string]bool{"UH": true, "NC": true, "NR": true, "UO": true, "RL": true, "UAEX": true,
	"RLSE": true, "DPE": true, "NFCF": true, "OM": true, "IH": true, "SI": true}

// outcome reads a client's report. Envoy flags a connection to the
// upstream that failed (UF), or whose retries ran out on such failures
// (URX) — what a client reports when it sends mTLS to a server that takes
// plaintext only; and, with a 503, an upstream connection the server's proxy
// closed (UC) — what a client reports when it sends plaintext to a STRICT
// sidecar, whose filter chains take TLS only. Between two proxies this is a
// DestinationRule and a PeerAuthentication that disagree. (A server's proxy
// that closes idle keep-alive connections can also cause the odd 503 UC; a
// policy mismatch causes them for every request.) TCP connections carry no
// response code.
func outcome(code, flags string, connection bool) string {
	if !connection && code != "503" {
		return graph.OutcomeDelivered
	}
	local := false
	for flag := range strings.SplitSeq(flags, ",") {
		switch {
		case flag == "UF" || flag == "URX" || (!connection && flag == "UC"):
			return graph.OutcomeHandshakeFailed
		case localFlags[flag]:
			local = true
		}
	}
	if local {
		return graph.OutcomeLocal
	}
	return graph.OutcomeDelivered
}
