// The simulated mesh: callers send requests or connections each Tick, each decided against the
// policy in the informer caches, and every proxy's Istio metrics are served in Prometheus text format.

package meshsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	"istio.io/client-go/pkg/clientset/versioned"
	corev1 "k8s.io/api/core/v1"

	"github.com/meshlock/meshlock/internal/istio"
)

// Options configures a Mesh.
type Options struct {
	Topology Topology
	// Istio is read live (informers) for DestinationRules and PeerAuthentications.
	// nil means no Istio configuration at all.
	Istio         versioned.Interface
	RootNamespace string // default "istio-system"
	AutoMTLS      bool   // Istio's default is on; callers set it explicitly
	// TrustDomain is meshConfig.trustDomain, the host of every principal
	// (spiffe://<trust domain>/ns/<ns>/sa/<sa>); default "cluster.local"
	// (pkg/config/mesh/mesh.go DefaultMeshConfig).
	TrustDomain string
	// TrustDomainAliases is meshConfig.trustDomainAliases: trust domains
	// whose principals the mesh takes for its own (a client's proxy
	// accepts a server certificate in any of them:
	// pilot/pkg/model/push_context.go ServiceAccounts, ExpandWithTrustDomains).
	TrustDomainAliases []string
	// Trust is the mesh's CA and the root bundle it distributes; the zero
	// value is istiod's self-signed CA with one root valid ten years.
	Trust Trust
	// Start is the wall-clock time the simulation starts at: the mesh's
	// clock (Now) is Start plus the simulated time Tick has advanced,
	// against which certificates age. Default: time.Now() in New.
	Start  time.Time
	Logger *slog.Logger
	// ClusterName is the primary cluster's Istio cluster ID, reported as
	// source_cluster and destination_cluster; default "Kubernetes"
	// (Istio's default).
	ClusterName string
	// Remotes are further primary clusters, each its own network (named
	// after it) with its own istiod reading its own Istio config: an Istio
	// multi-primary, multi-network mesh (multicluster.go).
	Remotes []RemoteCluster
}

// DefaultTrustDomain is Istio's default meshConfig.trustDomain.
const DefaultTrustDomain = "cluster.local"

// CallerOutcome counts a caller's requests (HTTP) or connections (TCP).
// Failed includes those an AuthorizationPolicy refused (CallerTruth.Denied).
type CallerOutcome struct {
	Succeeded int64
	Failed    int64
}

// Mesh is a simulated sidecar mesh that reports Istio's standard metrics.
type Mesh struct {
	idx         *index
	root        string
	trustDomain string
	aliases     []string
	trust       *trustState
	start       time.Time
	log         *slog.Logger
	metrics     *metrics
	// istiodRegistry holds istiod's gauges (IstiodHandler).
	istiodRegistry *prometheus.Registry
	// pods are the pods Publish writes, one per workload; policy selectors
	// are matched against their labels, as istiod matches the real pods'.
	pods map[*Workload]*corev1.Pod

	// clusters are the primary (first) and the remote clusters.
	clusters []*clusterState

	mu       sync.Mutex // guards everything below
	started  bool
	autoMTLS bool
	elapsed  time.Duration
	callers  []*callerState
}

type callerState struct {
	caller  Caller
	emitted int64 // requests issued so far; the fractional remainder is implicit in elapsed
	cursor  int   // round-robin position over the service's endpoints
	outcome CallerOutcome
	truth   CallerTruth
	// authz is the AuthorizationPolicy evaluation of the latest batch to
	// each endpoint ("<ns>/<name>") where a policy took part.
	authz map[string]AuthorizationTruth
}

// New validates the topology and prepares the informers (started by Start).
func New(opts Options) (*Mesh, error) {
	names := []string{opts.ClusterName}
	if names[0] == "" {
		names[0] = DefaultClusterName
	}
	for i, r := range opts.Remotes {
		if r.Name == "" || slices.Contains(names, r.Name) {
			return nil, fmt.Errorf("meshsim: remote cluster %d: a name is required, unique and not the primary's (%q)", i, r.Name)
		}
		names = append(names, r.Name)
	}
	idx, err := buildIndex(opts.Topology, names)
	if err != nil {
		return nil, err
	}
	m := &Mesh{
		idx:            idx,
		root:           opts.RootNamespace,
		trustDomain:    opts.TrustDomain,
		aliases:        slices.Clone(opts.TrustDomainAliases),
		start:          opts.Start,
		log:            opts.Logger,
		metrics:        newMetrics(),
		istiodRegistry: prometheus.NewRegistry(),
		autoMTLS:       opts.AutoMTLS,
		pods:           map[*Workload]*corev1.Pod{},
	}
	if m.root == "" {
		m.root = istio.DefaultRootNamespace
	}
	multi := len(opts.Remotes) > 0
	m.clusters = append(m.clusters, newClusterState(names[0], m.root, opts.Istio, multi))
	for _, r := range opts.Remotes {
		cs := newClusterState(r.Name, r.RootNamespace, r.Istio, true)
		cs.autoMTLS = r.AutoMTLS
		m.clusters = append(m.clusters, cs)
	}
	if multi {
		for _, cs := range m.clusters {
			cs.network = cs.name
		}
	}
	m.findNetworkGateways()
	if m.trustDomain == "" {
		m.trustDomain = DefaultTrustDomain
	}
	if m.start.IsZero() {
		m.start = time.Now()
	}
	for _, w := range idx.workloads {
		m.pods[w] = buildPod(w, idx)
		if cs := m.clusters[w.clusterIdx]; cs.gateway == w && cs.network != "" {
			// The gateway's own network label (gen-eastwest-gateway.sh).
			m.pods[w].Labels[labelNetwork] = cs.network
		}
	}
	if m.trust, err = newTrust(opts.Trust, m.start, m.trustDomain, m.root, m.bundleNamespaces()); err != nil {
		return nil, err
	}
	m.metrics.registry.MustRegister(agentCollector{m})
	m.istiodRegistry.MustRegister(istiodCollector{m})
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	for _, c := range opts.Topology.Callers {
		m.callers = append(m.callers, &callerState{caller: c, truth: CallerTruth{Protocol: idx.services[c.To].port(c.Port).Protocol}})
	}
	return m, nil
}

// Start runs the informers until ctx ends and returns once their caches are synced.
func (m *Mesh) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.started {
		m.mu.Unlock()
		return errors.New("meshsim: already started")
	}
	m.started = true
	m.mu.Unlock()
	for _, cs := range m.clusters {
		if cs.factory == nil {
			continue
		}
		cs.factory.Start(ctx.Done())
		for typ, ok := range cs.factory.WaitForCacheSync(ctx.Done()) {
			if !ok {
				return fmt.Errorf("meshsim: informer cache of cluster %s for %v did not sync: %w", cs.name, typ, context.Cause(ctx))
			}
		}
	}
	return nil
}

// Run calls Tick(every) on a wall-clock ticker until ctx ends.
func (m *Mesh) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Tick(every)
		}
	}
}

// SetAutoMTLS switches mesh-wide auto mTLS (meshConfig.enableAutoMtls) of
// the primary cluster.
func (m *Mesh) SetAutoMTLS(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.autoMTLS = on
}

// Handler serves the proxies' metrics in Prometheus text format, like
// each pod's merged /stats/prometheus: Envoy's istio_* series and
// istio-agent's istio_agent_cert_expiry_seconds (labelled with its
// namespace and pod). istiod's are IstiodHandler's.
func (m *Mesh) Handler() http.Handler {
	return promhttp.HandlerFor(m.metrics.registry, promhttp.HandlerOpts{})
}

// Outcomes returns cumulative per-caller counts keyed by Caller.Key().
func (m *Mesh) Outcomes() map[string]CallerOutcome {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]CallerOutcome, len(m.callers))
	for _, c := range m.callers {
		out[c.caller.Key()] = c.outcome
	}
	return out
}

// Tick advances simulated time by d. Each caller issues the requests (or
// connections) its rate owes for the new total elapsed time, so fractions
// carry over between ticks; each is decided against the policy currently in
// the informer caches.
func (m *Mesh) Tick(d time.Duration) {
	if d <= 0 {
		return
	}
	pol := m.clusterPolicies()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.elapsed += d
	for _, st := range m.callers {
		// The epsilon keeps float error (0.29 rps * 100s = 28.999999999999996) from losing a request.
		active := m.elapsed
		if st.caller.Until > 0 {
			active = min(active, st.caller.Until)
		}
		owed := int64(math.Floor(st.caller.Rate*active.Seconds() + 1e-9))
		n := owed - st.emitted
		st.emitted = owed
		if n > 0 {
			m.send(st, n, pol)
		}
	}
}

// policies are the primary cluster's DestinationRules and PeerAuthentications.
func (m *Mesh) policies() ([]*networkingv1.DestinationRule, []*securityv1.PeerAuthentication) {
	p := m.clusterPolicies()[0]
	return p.drs, p.pas
}

// clientView is what istiod hands the caller's proxy for its service port:
// the DestinationRule policy (resolved for the client's own labels) and the
// Service namespace's namespace/mesh-level PeerAuthentication mode. Each
// primary's istiod reads its own cluster's config only, in its own root
// namespace, so these are the client's cluster's.
func (m *Mesh) clientView(c Caller, pol []policySet) (istio.ClientPolicy, istio.PeerMode) {
	client := m.idx.workloads[c.From]
	svc := m.idx.services[c.To]
	cs, p := m.clusters[client.clusterIdx], pol[client.clusterIdx]
	policy := istio.ResolveClientPolicy(p.drs, istio.ClientPolicyQuery{
		ClientNamespace: client.Namespace, ClientLabels: m.pods[client].Labels,
		ServiceName: svc.Name, ServiceNS: svc.Namespace,
		ServicePort: c.Port, Subset: c.Subset, RootNamespace: cs.root,
	})
	return policy, istio.EffectivePeerMode(p.pas, cs.root, svc.Namespace, nil, 0)
}

// serverMode is the endpoint's effective PeerAuthentication mode on the
// port's target port (the container port; portLevelMtls keys on it) as
// its own cluster's istiod composes it for its sidecar: what it enforces.
func (m *Mesh) serverMode(pol []policySet, server *Workload, port *ServicePort) istio.PeerMode {
	return m.modeSeenBy(pol, server.clusterIdx, server, port)
}

// modeSeenBy is the endpoint's mode as the istiod of cluster composes it
// from that cluster's PeerAuthentications (the client's istiod, for auto
// mTLS: pilot/pkg/xds/endpoints/mtls_checker.go).
func (m *Mesh) modeSeenBy(pol []policySet, cluster int, server *Workload, port *ServicePort) istio.PeerMode {
	return istio.EffectivePeerMode(pol[cluster].pas, m.clusters[cluster].root, server.Namespace, m.pods[server].Labels, port.targetPort())
}

// send spreads n requests of one caller round-robin over the service's
// endpoints and records each endpoint's share under one decision.
func (m *Mesh) send(st *callerState, n int64, pol []policySet) {
	c := st.caller
	client := m.idx.workloads[c.From]
	svc := m.idx.services[c.To]
	port := svc.port(c.Port)
	policy, serviceMode := m.clientView(c, pol)

	if !policy.SubsetFound {
		m.failWithoutEndpoint(st, n, client, svc, port.Protocol, flagNoCluster)
		return
	}
	var endpoints []*Workload
	for _, w := range m.idx.endpoints[c.To] {
		if !istio.SelectorMatches(policy.SubsetLabels, m.pods[w].Labels) {
			continue
		}
		if w.clusterIdx != client.clusterIdx {
			// Without a proxy, kube-proxy reaches only the client's own
			// cluster's pods; a proxy's EDS keeps another network's only for mTLS.
			if !client.hasProxy() || !keepCrossNetwork(policy, w, m.modeSeenBy(pol, client.clusterIdx, w, port)) {
				continue
			}
		}
		endpoints = append(endpoints, w)
	}
	if len(endpoints) == 0 {
		m.failWithoutEndpoint(st, n, client, svc, port.Protocol, flagNoHealthy)
		return
	}

	shares := make([]int64, len(endpoints))
	for range n {
		shares[st.cursor%len(endpoints)]++
		st.cursor++
	}
	waypoint := m.idx.workloads[svc.Namespace+"/"+svc.Waypoint]
	for i, server := range endpoints {
		if shares[i] == 0 {
			continue
		}
		// Only an ambient client's traffic goes through the Service's
		// waypoint: a sidecar sends straight to the pod
		// (pilot/pkg/xds/endpoints/endpoint_builder.go: service waypoints
		// are for gateways and ztunnel), and a client without a data plane
		// reaches the pod's ztunnel directly.
		if waypoint != nil && client.Ambient {
			m.deliverViaWaypoint(st, shares[i], client, waypoint, server, svc, port, pol)
			continue
		}
		crossNetwork := server.clusterIdx != client.clusterIdx
		d := Decide(DecisionInput{
			ClientSidecar:            client.hasProxy(),
			ClientTLS:                policy.Effective(),
			EndpointTLS:              policy.EndpointTLS,
			AutoMTLS:                 m.autoMTLSOf(client.clusterIdx),
			ServiceMode:              serviceMode,
			ServerSidecar:            server.hasProxy(),
			ServerGateway:            server.Gateway,
			ServerMode:               m.serverMode(pol, server, port),
			EndpointMode:             m.modeSeenBy(pol, client.clusterIdx, server, port),
			CrossNetwork:             crossNetwork,
			NetworkGateway:           crossNetwork && m.gatewayListening(server.clusterIdx, pol),
			ClientAmbient:            client.Ambient,
			ServerAmbient:            server.Ambient,
			ServerTunnel:             server.Tunnel,
			ServerUnexpectedIdentity: m.unexpectedIdentity(svc, server),
		})
		// A connection the server took is judged by its enforcer's
		// AuthorizationPolicies (authz.go); one refused before never
		// reaches them.
		if a := m.authorizerFor(pol, server, port); a != nil && d.Accepted {
			t := a.judge(client, d.ClientMTLS, m.trustDomain)
			st.recordAuthorization(server.Namespace+"/"+server.Name, t)
			if t.Denied {
				d = t.deny(d)
			}
		}
		m.deliver(st, shares[i], client, server, svc, port.Protocol, d)
	}
}

// deliver records one decided batch: counts for Outcomes and Truth, and each
// proxy's series (istio/proxy source/extensions/filters/http/istio_stats; docs/graph.md).
// A batch refused by AuthorizationPolicy (FailureForbidden) reached the
// server's filters: what each side reports of it is metrics.go's.
func (m *Mesh) deliver(st *callerState, n int64, client, server *Workload, svc *Service, protocol Protocol, d Decision) {
	c := st.caller
	forbidden := d.Failure == FailureForbidden
	// connected: the connection was set up and reached the server's
	// filters (accepted, or refused there by AuthorizationPolicy).
	connected := d.Accepted || forbidden
	mtls := connected && d.ClientMTLS
	st.count(d, n, m.truthCluster(server))
	if !d.Accepted {
		m.log.Debug("request failed", "caller", c.Key(), "server", server.Name, "count", n, "reason", d.Reason)
	}
	// TCP peer metadata is exchanged in-band after the istio-peer-exchange
	// ALPN, which only Istio mTLS between two proxies offers; HTTP's travels
	// in headers, plaintext too (metadata_exchange.cc, peer_metadata/filter.cc).
	// Under a denial the server has read the caller's before its RBAC
	// filter runs (the exchange precedes it on the inbound chain); the
	// caller reads the server's from the 403's headers (a local reply runs
	// through the whole encoder chain), but not over TCP, whose connection
	// the network RBAC filter closes without flushing (rbac_filter.cc
	// closeConnection, NoFlush).
	proxies := client.hasProxy() && server.hasProxy()
	tcpExchange := mtls && !c.NoMetadataExchange
	serverKnowsClient := connected && proxies && (protocol == HTTP || tcpExchange)
	clientKnowsServer := proxies && ((connected && protocol == HTTP) || (d.Accepted && tcpExchange))

	crossNetwork := server.clusterIdx != client.clusterIdx
	if client.hasProxy() {
		dst := endpointPeer(server, mtls, m.trustDomain)
		if crossNetwork {
			dst = gatewayEndpointPeer(server, mtls, m.trustDomain)
		}
		if clientKnowsServer {
			dst = knownPeer(server, mtls, m.trustDomain)
		}
		r := report{
			reporter: reporterSource,
			// The client's proxy knows itself; the principals come from the TLS
			// session, so a plaintext or failed connection has none.
			source:                   knownPeer(client, mtls, m.trustDomain),
			destination:              dst,
			service:                  svc,
			serviceNamespace:         server.Namespace,
			responseCode:             "200",
			responseFlags:            flagNone,
			connectionSecurityPolicy: unknown, // a client cannot tell whether its cert was verified
		}
		switch d.Failure {
		case FailureHandshake, FailureUnreachable:
			r.responseCode, r.responseFlags = "503", flagHandshake
		case FailureReset:
			// TCP: the connect succeeded and the peer closed it; tcp_proxy sets no flag.
			r.responseCode = "503"
			if protocol == HTTP {
				r.responseFlags = flagUpstreamClosed
			}
		case FailureForbidden:
			if d.Enforcer == EnforcerZtunnel {
				// The sidecar's HBONE CONNECT is answered 401: the tunnel
				// never opens, a connect failure to its router (approximated).
				r.responseCode, r.responseFlags = "503", flagHandshake
			} else {
				// The server's 403, relayed as is; or, TCP, the connection
				// closed after the handshake (tcp_proxy: no flag once connected).
				r.responseCode = "403"
			}
		}
		m.metrics.record(r, protocol, n, c, d.Accepted)
	}

	// The east-west gateway forwards what its AUTO_PASSTHROUGH chains match: Istio mTLS.
	if crossNetwork && d.ClientMTLS && d.Failure != FailureUnreachable {
		m.gatewayReport(st, n, m.clusters[server.clusterIdx].gateway, server, svc, d)
	}
	if client.Ambient {
		m.ztunnelReport(reporterSource, st, n, client, server, svc, d)
	}
	if server.Ambient {
		m.ztunnelReport(reporterDest, st, n, client, server, svc, d)
	}

	// The server's proxy reports only what reached its listener's filters: a
	// failed handshake or a refused plaintext connection never gets there;
	// a request its RBAC filter refused does (istio.stats runs on every
	// stream's completion and every connection's close), with response_code
	// 403 and response_flags "-" (istio/proxy test/envoye2e/stats_plugin
	// stats_test.go TestStats403Failure), a TCP one opened and closed with "-".
	// A gateway reports only as reporter=source (istio/istio#31468, #19237).
	if connected && server.hasProxy() && !server.Gateway {
		src := unknownPeer
		switch {
		case serverKnowsClient:
			src = knownPeer(client, mtls, m.trustDomain)
		case mtls:
			src = principalOnlyPeer(client, m.trustDomain)
		}
		policy := policyNone
		if mtls {
			policy = policyMutualTLS
		}
		code := "200"
		if forbidden {
			code = "403"
		}
		m.metrics.record(report{
			reporter:                 reporterDest,
			source:                   src,
			destination:              knownPeer(server, mtls, m.trustDomain),
			service:                  svc,
			serviceNamespace:         server.Namespace,
			responseCode:             code,
			responseFlags:            flagNone,
			connectionSecurityPolicy: policy,
		}, protocol, n, c, d.Accepted)
	}
}

// deliverViaWaypoint records a batch that goes client → waypoint → server:
// the tunnel both ways (ztunnel to the waypoint, the waypoint to the
// server's ztunnel), which STRICT accepts, the waypoint holding an
// identity. Three reports (istio/ztunnel src/proxy/outbound.rs
// build_request, inbound.rs; istio/istio pilot/pkg/model/telemetry.go and
// istio/proxy istio_stats.cc for reporter="waypoint"): the caller's
// ztunnel names the waypoint as the destination workload and the Service
// as the destination; the waypoint names the caller and the server, in the
// port's protocol; the server's ztunnel names the waypoint as the source.
func (m *Mesh) deliverViaWaypoint(st *callerState, n int64, client, waypoint, server *Workload, svc *Service, port *ServicePort, pol []policySet) {
	protocol := port.Protocol
	d := Decision{ClientMTLS: true, HBONE: true, Accepted: true, Reason: "ztunnel sends its tunnel to the waypoint, which sends its tunnel to the server"}
	// The waypoint enforces the policies bound to it (authz.go), the
	// caller's identity from its tunnel; a refusal ends there: a 403 (HTTP)
	// or a closed connection (TCP), reported by the waypoint with "-", the
	// caller's tunnel to it opened and closed without a flag, nothing
	// reaching the server's ztunnel. (The server's ztunnel, which would
	// judge the waypoint's identity, is not simulated.)
	t := m.waypointAuthorizer(pol, waypoint, port).judge(client, true, m.trustDomain)
	st.recordAuthorization(server.Namespace+"/"+server.Name, t)
	if t.Denied {
		d = t.deny(d)
	}
	st.count(d, n, m.truthCluster(server))
	c := st.caller
	withBytes := d.Accepted && c.BytesSent+c.BytesReceived > 0
	code := "200"
	if !d.Accepted {
		code = "403"
	}
	toWaypoint := report{reporter: reporterSource, source: knownPeer(client, true, m.trustDomain), destination: knownPeer(waypoint, true, m.trustDomain),
		service: svc, serviceNamespace: svc.Namespace, responseFlags: flagNone, connectionSecurityPolicy: policyMutualTLS}
	m.metrics.record(toWaypoint, TCP, n, c, withBytes)
	m.metrics.record(report{reporter: reporterWaypoint, source: knownPeer(client, true, m.trustDomain), destination: knownPeer(server, true, m.trustDomain),
		service: svc, serviceNamespace: svc.Namespace, responseCode: code, responseFlags: flagNone, connectionSecurityPolicy: policyMutualTLS},
		protocol, n, c, d.Accepted)
	if server.Ambient && d.Accepted {
		fromWaypoint := report{reporter: reporterDest, source: knownPeer(waypoint, true, m.trustDomain), destination: knownPeer(server, true, m.trustDomain),
			service: svc, serviceNamespace: svc.Namespace, responseFlags: flagNone, connectionSecurityPolicy: policyMutualTLS}
		m.metrics.record(fromWaypoint, TCP, n, c, withBytes)
	}
}

// ztunnelReport records what a ztunnel reports of one decided batch, from
// the client's node (reporter source) or the server's (destination):
// TCP only, whatever the application speaks — each request a connection —
// with connection_security_policy mutual_tls for its tunnel and unknown
// otherwise, never none (istio/ztunnel src/proxy/metrics.rs). Both ends are
// named from its workload index (the source by its IP on the way in:
// inbound_passthrough.rs), the principals only over the tunnel. A refusal
// is counted opened, then closed with DENY, at the destination.
func (m *Mesh) ztunnelReport(reporter string, st *callerState, n int64, client, server *Workload, svc *Service, d Decision) {
	policy := unknown
	if d.HBONE {
		policy = policyMutualTLS
	}
	r := report{
		reporter:                 reporter,
		source:                   knownPeer(client, d.HBONE, m.trustDomain),
		destination:              knownPeer(server, d.HBONE, m.trustDomain),
		service:                  svc,
		serviceNamespace:         server.Namespace,
		responseFlags:            flagNone,
		connectionSecurityPolicy: policy,
	}
	if reporter == reporterDest && !client.hasProxy() && !client.Ambient {
		r.source.principal = unknown // no certificate: only the IP names it
	}
	c := st.caller
	withBytes := d.Accepted && c.BytesSent+c.BytesReceived > 0
	// ztunnel refuses plaintext under STRICT and what its
	// AuthorizationPolicies deny alike (src/proxy/inbound.rs assert_rbac,
	// inbound_passthrough.rs: ResponseFlags::AuthorizationPolicyDenied).
	refused := d.Failure == FailureDenied || (d.Failure == FailureForbidden && d.Enforcer == EnforcerZtunnel)
	switch {
	case refused && reporter == reporterDest:
		m.metrics.recordRefused(r, n, flagDenied)
	case refused:
		m.metrics.recordRefused(r, n, flagConnect)
	default:
		m.metrics.record(r, TCP, n, c, withBytes)
	}
}

// failWithoutEndpoint records requests that never reach any workload because
// the client sidecar has no cluster (NC) or no endpoint (UH) for the subset.
func (m *Mesh) failWithoutEndpoint(st *callerState, n int64, client *Workload, svc *Service, protocol Protocol, flag string) {
	st.outcome.Failed += n
	st.truth.NoEndpoint += n
	m.log.Debug("request failed", "caller", st.caller.Key(), "count", n, "response_flags", flag)
	if !client.hasProxy() {
		return
	}
	m.metrics.record(report{
		reporter:                 reporterSource,
		source:                   knownPeer(client, false, m.trustDomain),
		destination:              unknownPeer,
		service:                  svc,
		serviceNamespace:         unknown,
		responseCode:             "503",
		responseFlags:            flag,
		connectionSecurityPolicy: unknown,
	}, protocol, n, st.caller, false)
}
