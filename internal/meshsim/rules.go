// Decide: the handshake outcome of one connection (what the client sends, whether the server accepts,
// how a rejection fails) from what istiod resolved for both ends.

package meshsim

import (
	"fmt"

	"github.com/meshlock/meshlock/internal/istio"
)

// The handshake outcome of one connection, given what istiod resolved for
// both ends (internal/k8s resolves the policies).

// DecisionInput is everything the handshake outcome depends on.
type DecisionInput struct {
	ClientSidecar bool // the client runs an Istio proxy (sidecar or gateway)
	// ClientTLS is the client's resolved DestinationRule mode,
	// istio.ClientPolicy.Effective() (istio.TLSModeNone = auto mTLS decides).
	ClientTLS istio.TLSMode
	// EndpointTLS is istio.ClientPolicy.EndpointTLS, the mode istiod's
	// per-endpoint check reads (pilot/pkg/xds/endpoints/mtls_checker.go).
	EndpointTLS istio.TLSMode
	AutoMTLS    bool
	// ServiceMode is the namespace- or mesh-level PeerAuthentication mode of
	// the Service's namespace, all that istiod's cluster-level inference
	// reads (pilot/pkg/model/push_context.go BestEffortInferServiceMTLSMode).
	ServiceMode istio.PeerMode
	// ServerSidecar: the endpoint runs an Istio proxy (sidecar or gateway).
	ServerSidecar bool
	// ServerGateway: that proxy is a gateway, whose listeners
	// PeerAuthentication does not govern.
	ServerGateway bool
	// ServerMode is the endpoint's effective PeerAuthentication mode on its
	// target port (consulted by auto mTLS even for a gateway's endpoint).
	ServerMode istio.PeerMode
	// EndpointMode is that mode as the client's istiod composes it, from
	// its own cluster's PeerAuthentications, which auto mTLS reads
	// (mtls_checker.go); "" means ServerMode (one cluster). ServerMode is
	// what the server's sidecar enforces.
	EndpointMode istio.PeerMode
	// CrossNetwork: the endpoint is on another network, reached through
	// its network's east-west gateway (decideCrossNetwork), and
	// NetworkGateway says that gateway listens on 15443 in AUTO_PASSTHROUGH.
	CrossNetwork, NetworkGateway bool
	// ClientAmbient and ServerAmbient: the end's traffic is carried by its
	// node's ztunnel (ambient mode).
	ClientAmbient, ServerAmbient bool
	// ServerTunnel: the endpoint's sidecar takes HBONE inbound.
	ServerTunnel bool
	// ServerUnexpectedIdentity: the endpoint's certificate names none of
	// the identities the client's proxy expects of the Service (the
	// ServiceAccounts of its pods, in the trust domain and its aliases:
	// pilot/pkg/networking/core/cluster_tls.go buildUpstreamTLSSettings,
	// pilot/pkg/model/push_context.go ServiceAccounts), so Istio mTLS to it
	// fails the client's certificate check.
	ServerUnexpectedIdentity bool
}

// Failure is how a rejected connection fails, which decides what the
// client's proxy reports.
type Failure string

const (
	// FailureNone: the connection was accepted.
	FailureNone Failure = ""
	// FailureHandshake: the client's TLS handshake fails (mTLS or TLS to a
	// plaintext listener, or non-Istio TLS to anyone): HTTP 503 "UF,URX"
	// (connect failure, retries exhausted), TCP "UF,URX".
	FailureHandshake Failure = "handshake"
	// FailureReset: plaintext to a STRICT sidecar, whose filter chains only
	// match TLS, so it closes the connection: HTTP 503 "UC", TCP a
	// connection opened and closed with "-" and no bytes.
	FailureReset Failure = "reset"
	// FailureDenied: plaintext to an ambient workload under STRICT: its
	// ztunnel accepts the connection, then closes it, counted opened with
	// "-" and closed with "DENY", no bytes (istio/ztunnel
	// src/proxy/inbound_passthrough.rs; the deny is istiod's STRICT policy,
	// pilot/pkg/serviceregistry/ambient/policies.go).
	FailureDenied Failure = "denied"
	// FailureForbidden: the connection was set up and the server's
	// enforcer (Decision.Enforcer) refused it by AuthorizationPolicy
	// (authz.go; what each reports: metrics.go). A sidecar answers HTTP
	// 403 with response_flags "-", or closes a TCP connection ("-", no
	// bytes); ztunnel closes it with DENY (its caller's ztunnel CONNECT).
	FailureForbidden Failure = "forbidden"
	// FailureUnreachable: an endpoint of another network with no east-west
	// gateway listening for it: reported like a failed handshake ("UF,URX").
	FailureUnreachable Failure = "unreachable"
)

// Decision is what the client sends and whether the server accepts it.
type Decision struct {
	ClientMTLS bool // the client sends Istio mTLS (a sidecar's, or ztunnel's tunnel)
	// HBONE: the connection is ambient's tunnel (mTLS between ztunnels, or
	// with a sidecar that takes it).
	HBONE bool
	// ClientTLSOrigination: the client sends TLS with non-Istio certificates
	// (DestinationRule SIMPLE or MUTUAL).
	ClientTLSOrigination bool
	Accepted             bool
	Failure              Failure
	// Enforcer is who refused it by AuthorizationPolicy (FailureForbidden):
	// EnforcerSidecar, EnforcerZtunnel or EnforcerWaypoint.
	Enforcer string
	Reason   string
}

// Decide applies Istio's client and server rules to one connection.
func Decide(in DecisionInput) Decision {
	if in.CrossNetwork {
		return decideCrossNetwork(in)
	}
	if in.ClientAmbient || in.ServerAmbient {
		return decideAmbient(in)
	}
	var d Decision
	var client string
	switch {
	case !in.ClientSidecar:
		client = "client without sidecar sends plaintext"
	case in.ClientTLS == istio.TLSModeIstioMutual:
		// A fixed ISTIO_MUTUAL transport socket: every endpoint, sidecar or not
		// (pilot/pkg/networking/core/cluster_tls.go).
		d.ClientMTLS, client = true, "client mTLS (DestinationRule ISTIO_MUTUAL)"
	case in.ClientTLS == istio.TLSModeDisable:
		client = "client plaintext (DestinationRule DISABLE)"
	case in.ClientTLS == istio.TLSModeSimple || in.ClientTLS == istio.TLSModeMutual:
		d.ClientTLSOrigination = true
		client = fmt.Sprintf("client originates TLS (DestinationRule %s) with non-Istio certificates", in.ClientTLS)
	case !in.AutoMTLS:
		client = "client plaintext (no DestinationRule tls, auto mTLS off)"
	case in.ServiceMode == istio.PeerModeDisable:
		// The cluster gets no TLS at all when the Service namespace's
		// namespace/mesh-level mode is DISABLE, whatever a workload-level
		// policy says (push_context.go BestEffortInferServiceMTLSMode).
		client = "client plaintext (auto mTLS, service namespace DISABLE)"
	default:
		// Auto mTLS, per endpoint (mtls_checker.go checkMtlsEnabled): a
		// DestinationRule mode for the port (here only ISTIO_MUTUAL, the others
		// make Effective() DISABLE) keeps the endpoint's own tlsMode label
		// without consulting PeerAuthentication; otherwise the endpoint needs
		// tlsMode=istio and a mode other than DISABLE on its target port.
		mode := in.EndpointMode
		if mode == "" {
			mode = in.ServerMode
		}
		d.ClientMTLS = in.ServerSidecar && !in.ServerGateway &&
			(in.EndpointTLS == istio.TLSModeIstioMutual || mode != istio.PeerModeDisable)
		if d.ClientMTLS {
			client = "client mTLS (auto mTLS)"
		} else {
			client = "client plaintext (auto mTLS)"
		}
	}

	server := serverDescription(in)
	switch {
	case d.ClientTLSOrigination:
		// Neither an Istio proxy nor a plaintext server completes that handshake.
		d.Failure = FailureHandshake
	case d.ClientMTLS && in.ServerSidecar && in.ServerUnexpectedIdentity:
		// The client's proxy refuses the server's certificate (its SAN
		// matches no expected subjectAltName): a connect failure.
		d.Failure = FailureHandshake
		server += " whose certificate names an identity the client does not expect"
	case in.ServerGateway:
		// Simplification: a gateway's listeners take TLS from its Gateway
		// servers, not from PeerAuthentication (pilot/pkg/networking/core/gateway.go);
		// meshsim's gateways accept Istio mTLS and plaintext alike.
	case !in.ServerSidecar || in.ServerMode == istio.PeerModeDisable:
		if d.ClientMTLS {
			d.Failure = FailureHandshake // a plaintext listener answers no ClientHello
		}
	case in.ServerMode == istio.PeerModeStrict:
		if !d.ClientMTLS {
			d.Failure = FailureReset
		}
	}
	d.Accepted = d.Failure == FailureNone
	d.Reason = client + ", " + server
	return d
}

// decideAmbient: a connection with ambient mode at one end at least.
//   - An ambient client's ztunnel sends its tunnel (HBONE) to an ambient
//     endpoint or a sidecar that takes HBONE, plain TCP to any other
//     (istio/ztunnel src/proxy/outbound.rs build_request; istio/istio
//     pilot/pkg/serviceregistry/ambient/workloads.go setTunnelProtocol); it
//     reads no DestinationRule (src/xds/types.rs).
//   - A sidecar or gateway sends HBONE to an ambient endpoint whatever its
//     DestinationRule says (pilot/pkg/xds/endpoints/endpoint_builder.go
//     supportTunnel; pilot/pkg/networking/core/cluster_tls.go).
//   - A client without a data plane sends plaintext.
//   - The tunnel is accepted; plaintext into an ambient workload is refused
//     under STRICT (DISABLE is PERMISSIVE there:
//     pilot/pkg/serviceregistry/ambient/authorization.go), and into a
//     sidecar as Decide's sidecar rules say.
func decideAmbient(in DecisionInput) Decision {
	var d Decision
	var client string
	switch {
	case in.ClientAmbient && (in.ServerAmbient || (in.ServerSidecar && in.ServerTunnel)):
		d.HBONE, client = true, "ztunnel sends its tunnel"
	case in.ClientAmbient:
		client = "ztunnel sends plain TCP (the endpoint takes no HBONE)"
	case in.ClientSidecar:
		d.HBONE, client = true, "the sidecar sends HBONE to an ambient endpoint"
	default:
		client = "client without a data plane sends plaintext"
	}
	d.ClientMTLS = d.HBONE
	server := "ambient server " + string(in.ServerMode)
	switch {
	case d.HBONE:
		if !in.ServerAmbient {
			server = "sidecar taking HBONE"
		}
	case in.ServerAmbient:
		if in.ServerMode == istio.PeerModeStrict {
			d.Failure = FailureDenied
		}
	case !in.ServerSidecar || in.ServerGateway || in.ServerMode != istio.PeerModeStrict:
		server = serverDescription(in)
	default:
		server = serverDescription(in)
		d.Failure = FailureReset
	}
	d.Accepted = d.Failure == FailureNone
	d.Reason = client + ", " + server
	return d
}

func serverDescription(in DecisionInput) string {
	switch {
	case in.ServerGateway:
		return "server gateway"
	case !in.ServerSidecar:
		return "server without sidecar"
	}
	return "server " + string(in.ServerMode)
}
