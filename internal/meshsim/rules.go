package meshsim

import (
	"fmt"

	"github.com/meshlock/meshlock/internal/k8s"
)

// The handshake outcome of one connection, given what istiod resolved for
// both ends (internal/k8s resolves the policies).

// DecisionInput is everything the handshake outcome depends on.
type DecisionInput struct {
	ClientSidecar bool
	// ClientTLS is the DestinationRule's resolved tls mode (k8s.TLSModeNone = no setting).
	ClientTLS     k8s.TLSMode
	AutoMTLS      bool
	ServerSidecar bool
	// ServerMode is the server workload's effective PeerAuthentication mode for the target port.
	ServerMode k8s.PeerMode
}

// Decision is what the client sends and whether the server accepts it.
type Decision struct {
	ClientMTLS bool // the client sidecar sends Istio mTLS
	Accepted   bool
	Reason     string
}

// Decide applies Istio's client and server rules to one connection.
func Decide(in DecisionInput) Decision {
	var clientMTLS bool
	var client string
	switch {
	case !in.ClientSidecar:
		client = "client without sidecar sends plaintext"
	case in.ClientTLS == k8s.TLSModeIstioMutual:
		clientMTLS, client = true, "client mTLS (DestinationRule ISTIO_MUTUAL)"
	case in.ClientTLS == k8s.TLSModeDisable:
		client = "client plaintext (DestinationRule DISABLE)"
	case in.ClientTLS == k8s.TLSModeSimple || in.ClientTLS == k8s.TLSModeMutual:
		// The sidecar originates TLS with non-Istio certificates: neither an Istio
		// sidecar nor a plaintext server completes that handshake.
		return Decision{Reason: fmt.Sprintf("client originates TLS (DestinationRule %s) with non-Istio certificates, %s", in.ClientTLS, serverDescription(in))}
	case in.AutoMTLS:
		// Auto mTLS: istiod marks an endpoint mTLS iff it carries the sidecar's
		// tlsMode=istio label and the effective PeerAuthentication for it and
		// its port is not DISABLE (EDS mtlsChecker).
		clientMTLS = in.ServerSidecar && in.ServerMode != k8s.PeerModeDisable
		if clientMTLS {
			client = "client mTLS (auto mTLS)"
		} else {
			client = "client plaintext (auto mTLS)"
		}
	default:
		client = "client plaintext (no DestinationRule tls, auto mTLS off)"
	}

	accepted := true
	switch {
	case !in.ServerSidecar:
		accepted = !clientMTLS // a bare server speaks plaintext only
	case in.ServerMode == k8s.PeerModeStrict:
		accepted = clientMTLS
	case in.ServerMode == k8s.PeerModeDisable:
		accepted = !clientMTLS
	}
	return Decision{ClientMTLS: clientMTLS, Accepted: accepted, Reason: client + ", " + serverDescription(in)}
}

func serverDescription(in DecisionInput) string {
	if !in.ServerSidecar {
		return "server without sidecar"
	}
	return "server " + string(in.ServerMode)
}
