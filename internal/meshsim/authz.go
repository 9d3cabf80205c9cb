// AuthorizationPolicies in the simulated mesh: each delivered batch is judged by the server's
// enforcer (its sidecar, its node's ztunnel, or the Service's waypoint) with
// istio.EvaluateAuthorization, and a denial is reported as Envoy or ztunnel reports it.

package meshsim

import (
	"slices"
	"strings"

	securityv1 "istio.io/client-go/pkg/apis/security/v1"

	"github.com/meshlock/meshlock/internal/istio"
)

// Who enforces an AuthorizationPolicy on a connection (AuthorizationTruth.Enforcer).
const (
	// EnforcerSidecar: the server's sidecar, its HTTP RBAC filter on an
	// HTTP port, its network RBAC filter on a TCP port.
	EnforcerSidecar = "sidecar"
	// EnforcerZtunnel: the ambient server's node ztunnel, L4 only, when no
	// waypoint carries the connection.
	EnforcerZtunnel = "ztunnel"
	// EnforcerWaypoint: the Service's waypoint, for an ambient caller whose
	// traffic goes through it; only policies bound to it by targetRef(s).
	EnforcerWaypoint = "waypoint"
)

// AuthorizationTruth is the AuthorizationPolicy evaluation meshsim applied
// to one caller's traffic at one server endpoint (the last batch it sent
// there): the inputs it gave istio.EvaluateAuthorization and what it did.
//
// meshsim's callers send "GET /" without headers, JWT or a particular
// source address, which the evaluator does not take: a decision that
// depends on such attributes (istio.AuthzConditional) is applied as allowed.
// Dry-run policies (istio.io/dry-run) never deny; they are named in DryRun
// when, enforced, they would change the decision.
type AuthorizationTruth struct {
	// Endpoint is the server workload, "<namespace>/<name>" (for
	// EnforcerWaypoint, the workload behind the waypoint).
	Endpoint string
	// Enforcer is EnforcerSidecar, EnforcerZtunnel or EnforcerWaypoint.
	Enforcer string
	// Principal is the caller's peer identity the enforcer saw,
	// "<trust domain>/ns/<ns>/sa/<sa>" as istio.AuthzRequest takes it; ""
	// when the connection was plaintext (no client certificate).
	Principal string
	// Port is the container port (the Service port's target port);
	// Protocol is istio.AuthzProtocolHTTP or istio.AuthzProtocolTCP
	// (ztunnel always TCP).
	Port     int32
	Protocol string
	// Decision is istio.AuthzDecision.Decision: istio.AuthzAllow,
	// istio.AuthzDeny or istio.AuthzConditional.
	Decision string
	// Denied is what meshsim applied: Decision is istio.AuthzDeny.
	Denied bool
	// Policies and DryRun are istio.AuthzDecision's: the deciding policies
	// ("<ns>/<name>", sorted) and the dry-run ones that would change it.
	Policies, DryRun []string
	// Reason says who refused it by which policies when Denied, e.g.
	// "denied by AuthorizationPolicy tour/catalog-callers at the sidecar";
	// "" otherwise.
	Reason string
}

// authorizer is the enforcer of one server for a connection, nil when
// nobody enforces AuthorizationPolicies there: a pod without a proxy, a
// gateway (its Gateway servers are not simulated).
type authorizer struct {
	enforcer string
	target   istio.AuthzTarget
	root     string
	policies []*securityv1.AuthorizationPolicy
	port     int32
}

// authorizerFor is the enforcer of server's port: its node's ztunnel for an
// ambient workload, its sidecar, or nothing. Each primary's istiod reads
// its own cluster's AuthorizationPolicies, in its own root namespace.
func (m *Mesh) authorizerFor(pol []policySet, server *Workload, port *ServicePort) *authorizer {
	var enforcer string
	switch {
	case server.Ambient:
		enforcer = EnforcerZtunnel
	case server.Sidecar && !server.Gateway:
		enforcer = EnforcerSidecar
	default:
		return nil
	}
	return &authorizer{
		enforcer: enforcer,
		target:   m.authzTarget(server, port.Protocol, server.Ambient),
		root:     m.clusters[server.clusterIdx].root,
		policies: pol[server.clusterIdx].aps,
		port:     port.targetPort(),
	}
}

// waypointAuthorizer is the Service's waypoint: a Gateway API pod, which
// takes the policies bound to its Gateway by targetRef(s) (istio/istio
// pilot/pkg/model/policyattachment.go; a waypoint ignores selector
// policies, which are ztunnel's or sidecars'). The port is the server's
// container port, as the waypoint's inbound chain matches it.
func (m *Mesh) waypointAuthorizer(pol []policySet, waypoint *Workload, port *ServicePort) *authorizer {
	var bound []*securityv1.AuthorizationPolicy
	for _, p := range pol[waypoint.clusterIdx].aps {
		if p.Spec.GetTargetRef() != nil || len(p.Spec.GetTargetRefs()) > 0 {
			bound = append(bound, p)
		}
	}
	return &authorizer{
		enforcer: EnforcerWaypoint,
		target:   m.authzTarget(waypoint, port.Protocol, false),
		root:     m.clusters[waypoint.clusterIdx].root,
		policies: bound,
		port:     port.targetPort(),
	}
}

func (m *Mesh) authzTarget(w *Workload, protocol Protocol, ambient bool) istio.AuthzTarget {
	p := istio.AuthzProtocolHTTP
	if protocol == TCP || ambient {
		p = istio.AuthzProtocolTCP
	}
	return istio.AuthzTarget{
		Namespace: w.Namespace, Labels: m.pods[w].Labels, Protocol: p, Ambient: ambient,
		TrustDomain: m.trustDomain, TrustDomainAliases: m.aliases,
	}
}

// judge evaluates the caller's connection: its principal only when it
// arrives over Istio mTLS (a sidecar's or ztunnel's tunnel), where the
// enforcer sees the client certificate.
func (a *authorizer) judge(client *Workload, mtls bool, trustDomain string) AuthorizationTruth {
	var principal string
	if mtls {
		principal = strings.TrimPrefix(client.principal(trustDomain), "spiffe://")
	}
	d := istio.EvaluateAuthorization(a.policies, a.target, a.root, istio.AuthzRequest{Principal: principal, Port: a.port})
	t := AuthorizationTruth{
		Enforcer: a.enforcer, Principal: principal, Port: a.port, Protocol: a.target.Protocol,
		Decision: d.Decision, Denied: d.Decision == istio.AuthzDeny,
		Policies: d.Policies, DryRun: d.DryRun,
	}
	if t.Denied {
		t.Reason = t.reason()
	}
	return t
}

// applies: some policy took part (deciding, conditional or dry-run).
// Truth lists only those evaluations; an endpoint absent from
// CallerTruth.Authorization had none, and was allowed.
func (t AuthorizationTruth) applies() bool {
	return len(t.Policies) > 0 || len(t.DryRun) > 0
}

// deny turns an accepted connection into one the enforcer refused.
func (t AuthorizationTruth) deny(d Decision) Decision {
	d.Accepted = false
	d.Failure = FailureForbidden
	d.Enforcer = t.Enforcer
	d.Reason += ", " + t.Reason
	return d
}

func (t AuthorizationTruth) reason() string {
	what := "AuthorizationPolicy "
	if len(t.Policies) > 1 {
		what = "AuthorizationPolicies "
	}
	if len(t.Policies) == 0 {
		return "denied by the " + t.Enforcer
	}
	return "denied by " + what + strings.Join(t.Policies, ", ") + " at the " + t.Enforcer
}

// recordAuthorization keeps the evaluation of the caller's latest batch to
// an endpoint, for Truth.
func (st *callerState) recordAuthorization(endpoint string, t AuthorizationTruth) {
	t.Endpoint = endpoint
	if !t.applies() {
		delete(st.authz, endpoint)
		return
	}
	if st.authz == nil {
		st.authz = map[string]AuthorizationTruth{}
	}
	st.authz[endpoint] = t
}

// authorizationTruth lists the evaluations kept, by endpoint.
func (st *callerState) authorizationTruth() []AuthorizationTruth {
	if len(st.authz) == 0 {
		return nil
	}
	out := make([]AuthorizationTruth, 0, len(st.authz))
	for _, k := range sortedKeys(st.authz) {
		t := st.authz[k]
		t.Policies, t.DryRun = slices.Clone(t.Policies), slices.Clone(t.DryRun)
		out = append(out, t)
	}
	return out
}
