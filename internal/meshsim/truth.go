// Truth: what really happened in the simulated mesh (each caller's outcomes, each endpoint's modes),
// to compare the dashboard against.

package meshsim

import (
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
// (TCP) it issued is in exactly one of MTLS, Plaintext, HandshakeFailed and
// NoEndpoint, whoever did or did not report it.
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
	// NoEndpoint never left the client: an undefined subset (NC) or a
	// subset selecting no endpoint (UH).
	NoEndpoint int64
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
	Sidecar  bool   // an Istio proxy (sidecar or gateway) runs in the pod
	Gateway  bool
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
	drs, pas := m.policies()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := Truth{AutoMTLS: m.autoMTLS, Callers: map[string]CallerTruth{}, Services: map[string]ServiceTruth{}}
	for _, st := range m.callers {
		t := st.truth
		client := m.idx.workloads[st.caller.From]
		t.ClientSidecar = client.hasProxy()
		if t.ClientSidecar {
			policy, _ := m.clientView(st.caller, drs, pas)
			t.ClientTLS = policy.Effective()
			if policy.Rule != nil {
				t.Rule = policy.Rule.Namespace + "/" + policy.Rule.Name
			}
		}
		out.Callers[st.caller.Key()] = t
	}
	for key, svc := range m.idx.services {
		st := ServiceTruth{NamespaceMode: istio.EffectivePeerMode(pas, m.root, svc.Namespace, nil, 0)}
		for i := range svc.Ports {
			p := &svc.Ports[i]
			pt := PortTruth{Port: p.Port, TargetPort: p.targetPort(), TargetPortName: p.TargetPortName, Protocol: p.Protocol}
			for _, w := range m.idx.endpoints[key] {
				pt.Endpoints = append(pt.Endpoints, EndpointTruth{
					Workload: w.Namespace + "/" + w.Name, Sidecar: w.hasProxy(), Gateway: w.Gateway,
					PeerAuthentication: m.serverMode(pas, w, p), Enforced: w.tlsModeIstio(),
				})
			}
			st.Ports = append(st.Ports, pt)
		}
		out.Services[key] = st
	}
	return out
}

// count adds a decided batch to the caller's outcome and truth.
func (st *callerState) count(d Decision, n int64) {
	if !d.Accepted {
		st.outcome.Failed += n
		st.truth.HandshakeFailed += n
		return
	}
	st.outcome.Succeeded += n
	bucket := &st.truth.Plaintext
	if d.ClientMTLS {
		bucket = &st.truth.MTLS
	}
	bucket.Count += n
	if st.truth.Protocol == TCP {
		bucket.BytesSent += n * st.caller.BytesSent
		bucket.BytesReceived += n * st.caller.BytesReceived
	}
}
