// Truth: what really happened in the simulated mesh (each caller's outcomes, each endpoint's modes),
// to compare the dashboard against.

package meshsim

import (
	"maps"

	"github.com/meshlock/meshlock/internal/istio"
)

// Truth is what really happened in the mesh, for comparing the dashboard
// (which only sees the metrics and the Kubernetes objects) against.
//
// Counts are cumulative since New. Modes are resolved from the informer
// caches at the time of the call, exactly as the next Tick would decide.
type Truth struct {
	AutoMTLS bool
	// Callers by Caller.Key().
	Callers map[string]CallerTruth
	// Services by "<namespace>/<name>".
	Services map[string]ServiceTruth
}

// CallerTruth is one caller's traffic. Every request (HTTP) or connection
// (TCP) it issued is in exactly one of MTLS, Plaintext, HandshakeFailed,
// Denied and NoEndpoint, whoever did or did not report it; Outcomes counts
// Denied as Failed.
type CallerTruth struct {
	Protocol Protocol
	// ClientSidecar: the caller runs an Istio proxy; without one it always
	// sends plaintext and ClientTLS does not apply.
	ClientSidecar bool
	// ClientTLS is the DestinationRule mode the caller's proxy resolves for
	// the service port (and subset): istio.ClientPolicy.Effective(), "" when no
	// rule sets tls and auto mTLS (if on) decides per endpoint.
	ClientTLS istio.TLSMode
	// Rule is the DestinationRule it came from ("<ns>/<name>"), "" if none.
	Rule string
	// MTLS and Plaintext are what a server accepted, by transport.
	MTLS, Plaintext Delivered
	// HandshakeFailed are rejected at connection setup: mTLS or non-Istio
	// TLS to a listener that does not take it ("UF,URX"), or plaintext to a
	// STRICT sidecar ("UC" for HTTP). They carry no bytes.
	HandshakeFailed int64
	// Denied were refused by an AuthorizationPolicy once the connection
	// was set up (FailureForbidden): HTTP 403 from a sidecar or waypoint,
	// a TCP connection its network RBAC filter closed, a connection
	// ztunnel closed with DENY. DeniedMTLS of them came over Istio mTLS
	// (the enforcer saw the caller's principal); they carry no bytes.
	Denied, DeniedMTLS int64
	// Authorization is the AuthorizationPolicy evaluation meshsim applied
	// to the caller's latest batch at each server endpoint where a policy
	// took part (deciding, conditional or dry-run), by Endpoint; an
	// endpoint not listed was judged by no policy (or has no enforcer:
	// no proxy, a gateway) and took everything. See AuthorizationTruth.
	Authorization []AuthorizationTruth
	// NoEndpoint never left the client: an undefined subset (NC) or a
	// subset selecting no endpoint (UH).
	NoEndpoint int64
	// Cluster is the caller's cluster, whose config decides what it sends
	// ("" in a single-cluster mesh).
	Cluster string
	// ByServerCluster splits MTLS, Plaintext and HandshakeFailed by the
	// cluster of the endpoint each went to (nil in a single-cluster mesh).
	// HandshakeFailed includes connections to another network with no
	// east-west gateway listening.
	ByServerCluster map[string]ClusterTraffic
}

// ClusterTraffic is the share of a caller's traffic that went to the
// endpoints of one cluster.
type ClusterTraffic struct {
	MTLS, Plaintext Delivered
	HandshakeFailed int64
	Denied          int64 // CallerTruth.Denied's share
}

// Delivered counts accepted requests or connections and, for TCP, their
// bytes from the caller's point of view (BytesSent is the request
// direction, what istio_tcp_received_bytes_total counts).
type Delivered struct {
	Count                    int64
	BytesSent, BytesReceived int64
}

// ServiceTruth is the server side of one Service.
type ServiceTruth struct {
	// NamespaceMode is the namespace/mesh-level PeerAuthentication mode of
	// the Service's namespace, which decides whether auto mTLS applies at
	// all (DISABLE: plaintext to every endpoint).
	NamespaceMode istio.PeerMode
	Ports         []PortTruth
	// Clusters are the clusters the Service is declared in (nil in a
	// single-cluster mesh); NamespaceMode is the primary cluster's.
	Clusters []string
}

// PortTruth is one Service port and what each endpoint enforces on it.
type PortTruth struct {
	Port, TargetPort int32
	TargetPortName   string
	Protocol         Protocol
	Endpoints        []EndpointTruth // by workload name
}

// EndpointTruth is one selected workload on a port's target port.
type EndpointTruth struct {
	Workload string // "<namespace>/<name>" as in Caller.From
	// Cluster is the cluster it runs in ("" in a single-cluster mesh),
	// whose PeerAuthentications PeerAuthentication composes.
	Cluster string
	Sidecar bool // an Istio proxy (sidecar or gateway) runs in the pod
	Gateway bool
	// PeerAuthentication is the effective mode composed for the pod's labels
	// and the target port (PERMISSIVE when nothing sets one). Auto mTLS
	// consults it for every endpoint with tlsMode=istio; it decides what the
	// server accepts only where Enforced.
	PeerAuthentication istio.PeerMode
	// Enforced: a sidecar (not a gateway) enforces PeerAuthentication; a pod
	// without proxy takes plaintext only, a gateway both.
	Enforced bool
}

// Truth returns the counts so far and the modes meshsim would use now.
func (m *Mesh) Truth() Truth {
	pol := m.clusterPolicies()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := Truth{AutoMTLS: m.autoMTLS, Callers: map[string]CallerTruth{}, Services: map[string]ServiceTruth{}}
	for _, st := range m.callers {
		t := st.truth
		t.ByServerCluster = maps.Clone(t.ByServerCluster)
		t.Authorization = st.authorizationTruth()
		client := m.idx.workloads[st.caller.From]
		t.Cluster = m.truthCluster(client)
		t.ClientSidecar = client.hasProxy()
		if t.ClientSidecar {
			policy, _ := m.clientView(st.caller, pol)
			t.ClientTLS = policy.Effective()
			if policy.Rule != nil {
				t.Rule = policy.Rule.Namespace + "/" + policy.Rule.Name
			}
		}
		out.Callers[st.caller.Key()] = t
	}
	for key, svc := range m.idx.services {
		st := ServiceTruth{NamespaceMode: istio.EffectivePeerMode(pol[0].pas, m.root, svc.Namespace, nil, 0)}
		if m.multiCluster() {
			for _, ci := range m.idx.declared[key] {
				st.Clusters = append(st.Clusters, m.clusters[ci].name)
			}
		}
		for i := range svc.Ports {
			p := &svc.Ports[i]
			pt := PortTruth{Port: p.Port, TargetPort: p.targetPort(), TargetPortName: p.TargetPortName, Protocol: p.Protocol}
			for _, w := range m.idx.endpoints[key] {
				pt.Endpoints = append(pt.Endpoints, EndpointTruth{
					Workload: w.Namespace + "/" + w.Name, Cluster: m.truthCluster(w), Sidecar: w.hasProxy(), Gateway: w.Gateway,
					PeerAuthentication: m.serverMode(pol, w, p), Enforced: w.tlsModeIstio(),
				})
			}
			st.Ports = append(st.Ports, pt)
		}
		out.Services[key] = st
	}
	return out
}

// truthCluster names a workload's cluster in Truth: "" in a single-cluster mesh.
func (m *Mesh) truthCluster(w *Workload) string {
	if !m.multiCluster() {
		return ""
	}
	return w.clusterID
}

// count adds a decided batch to the caller's outcome and truth, and to
// the share of the server's cluster when it is named.
func (st *callerState) count(d Decision, n int64, serverCluster string) {
	var share *ClusterTraffic
	if serverCluster != "" {
		if st.truth.ByServerCluster == nil {
			st.truth.ByServerCluster = map[string]ClusterTraffic{}
		}
		s := st.truth.ByServerCluster[serverCluster]
		share = &s
		defer func() { st.truth.ByServerCluster[serverCluster] = s }()
	}
	if d.Failure == FailureForbidden {
		st.outcome.Failed += n
		st.truth.Denied += n
		if d.ClientMTLS {
			st.truth.DeniedMTLS += n
		}
		if share != nil {
			share.Denied += n
		}
		return
	}
	if !d.Accepted {
		st.outcome.Failed += n
		st.truth.HandshakeFailed += n
		if share != nil {
			share.HandshakeFailed += n
		}
		return
	}
	st.outcome.Succeeded += n
	buckets := []*Delivered{&st.truth.Plaintext}
	if share != nil {
		buckets = append(buckets, &share.Plaintext)
	}
	if d.ClientMTLS {
		buckets = []*Delivered{&st.truth.MTLS}
		if share != nil {
			buckets = append(buckets, &share.MTLS)
		}
	}
	for _, b := range buckets {
		b.Count += n
		if st.truth.Protocol == TCP {
			b.BytesSent += n * st.caller.BytesSent
			b.BytesReceived += n * st.caller.BytesReceived
		}
	}
}
