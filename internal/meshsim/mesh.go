package meshsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	"istio.io/client-go/pkg/clientset/versioned"
	"istio.io/client-go/pkg/informers/externalversions"
	networkinglisters "istio.io/client-go/pkg/listers/networking/v1"
	securitylisters "istio.io/client-go/pkg/listers/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshlock/meshlock/internal/k8s"
)

// Options configures a Mesh.
type Options struct {
	Topology Topology
	// Istio is read live (informers) for DestinationRules and PeerAuthentications.
	// nil means no Istio configuration at all.
	Istio         versioned.Interface
	RootNamespace string // default "istio-system"
	AutoMTLS      bool   // Istio's default is on; callers set it explicitly
	Logger        *slog.Logger
}

// CallerOutcome counts a caller's requests (HTTP) or connections (TCP).
type CallerOutcome struct {
	Succeeded int64
	Failed    int64
}

// Mesh is a simulated sidecar mesh that reports Istio's standard metrics.
type Mesh struct {
	idx     *index
	root    string
	log     *slog.Logger
	metrics *metrics

	factory externalversions.SharedInformerFactory
	drs     networkinglisters.DestinationRuleLister
	pas     securitylisters.PeerAuthenticationLister

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
}

// New validates the topology and prepares the informers (started by Start).
func New(opts Options) (*Mesh, error) {
	idx, err := buildIndex(opts.Topology)
	if err != nil {
		return nil, err
	}
	m := &Mesh{
		idx:      idx,
		root:     opts.RootNamespace,
		log:      opts.Logger,
		metrics:  newMetrics(),
		autoMTLS: opts.AutoMTLS,
	}
	if m.root == "" {
		m.root = k8s.DefaultRootNamespace
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	for _, c := range opts.Topology.Callers {
		m.callers = append(m.callers, &callerState{caller: c})
	}
	if opts.Istio != nil {
		m.factory = externalversions.NewSharedInformerFactory(opts.Istio, 0)
		policy := k8s.NewPolicyInformers(m.factory, metav1.NamespaceAll)
		m.drs, m.pas = policy.RuleLister, policy.AuthnLister
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
	if m.factory == nil {
		return nil
	}
	m.factory.Start(ctx.Done())
	for typ, ok := range m.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("meshsim: informer cache for %v did not sync: %w", typ, context.Cause(ctx))
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

// SetAutoMTLS switches mesh-wide auto mTLS (meshConfig.enableAutoMtls).
func (m *Mesh) SetAutoMTLS(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.autoMTLS = on
}

// Handler serves the metrics in Prometheus text format, like Envoy's /stats/prometheus.
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
	drs, pas := m.policies()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.elapsed += d
	for _, st := range m.callers {
		// The epsilon keeps float error (0.29 rps * 100s = 28.999999999999996) from losing a request.
		owed := int64(math.Floor(st.caller.Rate*m.elapsed.Seconds() + 1e-9))
		n := owed - st.emitted
		st.emitted = owed
		if n > 0 {
			m.send(st, n, drs, pas)
		}
	}
}

func (m *Mesh) policies() ([]*networkingv1.DestinationRule, []*securityv1.PeerAuthentication) {
	if m.drs == nil {
		return nil, nil
	}
	drs, err := m.drs.List(labels.Everything())
	if err != nil {
		m.log.Error("listing DestinationRules from cache", "err", err)
	}
	pas, err := m.pas.List(labels.Everything())
	if err != nil {
		m.log.Error("listing PeerAuthentications from cache", "err", err)
	}
	return drs, pas
}

// send spreads n requests of one caller round-robin over the service's
// endpoints and records each endpoint's share under one decision.
func (m *Mesh) send(st *callerState, n int64, drs []*networkingv1.DestinationRule, pas []*securityv1.PeerAuthentication) {
	c := st.caller
	client := m.idx.workloads[c.From]
	svc := m.idx.services[c.To]
	port := svc.port(c.Port)
	policy := k8s.ResolveClientPolicy(drs, k8s.ClientPolicyQuery{
		ClientNamespace: client.Namespace, ServiceName: svc.Name, ServiceNS: svc.Namespace,
		ServicePort: c.Port, Subset: c.Subset, RootNamespace: m.root,
	})

	if !policy.SubsetFound {
		m.failWithoutEndpoint(st, n, client, svc, port.Protocol, flagNoCluster)
		return
	}
	var endpoints []*Workload
	for _, w := range m.idx.endpoints[c.To] {
		if k8s.SelectorMatches(policy.SubsetLabels, w.Labels) {
			endpoints = append(endpoints, w)
		}
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
	for i, server := range endpoints {
		if shares[i] == 0 {
			continue
		}
		d := Decide(DecisionInput{
			ClientSidecar: client.Sidecar,
			ClientTLS:     policy.TLS,
			AutoMTLS:      m.autoMTLS,
			ServerSidecar: server.Sidecar,
			ServerMode:    k8s.EffectivePeerMode(pas, m.root, server.Namespace, server.Labels, port.targetPort()),
		})
		m.deliver(st, shares[i], client, server, svc, port.Protocol, d)
	}
}

// deliver records one decided batch: counts for Outcomes and each sidecar's series.
func (m *Mesh) deliver(st *callerState, n int64, client, server *Workload, svc *Service, protocol Protocol, d Decision) {
	if d.Accepted {
		st.outcome.Succeeded += n
	} else {
		st.outcome.Failed += n
		m.log.Debug("request failed", "caller", st.caller.Key(), "server", server.Name, "count", n, "reason", d.Reason)
	}
	mtls := d.Accepted && d.ClientMTLS

	if client.Sidecar {
		r := report{
			reporter: reporterSource,
			// The client sidecar knows itself; the principals come from the TLS
			// session, so a plaintext or failed connection has none.
			source: knownPeer(client, mtls),
			// Without a handshake the client still knows the endpoint from EDS metadata.
			destination:              knownPeer(server, mtls),
			service:                  svc,
			serviceNamespace:         server.Namespace,
			responseCode:             "200",
			responseFlags:            flagNone,
			connectionSecurityPolicy: unknown, // a client cannot tell whether its cert was verified
		}
		if !d.Accepted {
			r.responseCode, r.responseFlags = "503", flagUpstreamFail
		}
		m.metrics.record(r, protocol, n, st.caller, !d.Accepted)
	}

	if d.Accepted && server.Sidecar {
		src := unknownPeer
		// HTTP exchanges peer metadata in headers, so it reaches the server even
		// over plaintext; TCP exchanges it via ALPN, which only mTLS carries.
		if client.Sidecar && (mtls || protocol == HTTP) {
			src = knownPeer(client, mtls)
		}
		policy := policyNone
		if mtls {
			policy = policyMutualTLS
		}
		m.metrics.record(report{
			reporter:                 reporterDest,
			source:                   src,
			destination:              knownPeer(server, mtls),
			service:                  svc,
			serviceNamespace:         server.Namespace,
			responseCode:             "200",
			responseFlags:            flagNone,
			connectionSecurityPolicy: policy,
		}, protocol, n, st.caller, false)
	}
}

// failWithoutEndpoint records requests that never reach any workload because
// the client sidecar has no cluster (NC) or no endpoint (UH) for the subset.
func (m *Mesh) failWithoutEndpoint(st *callerState, n int64, client *Workload, svc *Service, protocol Protocol, flag string) {
	st.outcome.Failed += n
	m.log.Debug("request failed", "caller", st.caller.Key(), "count", n, "response_flags", flag)
	if !client.Sidecar {
		return
	}
	m.metrics.record(report{
		reporter:                 reporterSource,
		source:                   knownPeer(client, false),
		destination:              unknownPeer,
		service:                  svc,
		serviceNamespace:         unknown,
		responseCode:             "503",
		responseFlags:            flag,
		connectionSecurityPolicy: unknown,
	}, protocol, n, st.caller, true)
}
