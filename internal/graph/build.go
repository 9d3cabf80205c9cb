// Build: turns Prometheus samples and cluster state into the snapshot's nodes and edges, merging
// client and server reports per edge and judging each edge's mTLS status.

package graph

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"
)

// PeerAuthentication modes as internal/k8s resolves them.
const (
	ModeStrict     = "STRICT"
	ModePermissive = "PERMISSIVE"
	ModeDisable    = "DISABLE"
	ModeUnset      = "UNSET"
)

// DestinationRule client TLS modes that findings look at.
const (
	TLSIstioMutual = "ISTIO_MUTUAL"
	TLSDisable     = "DISABLE"
)

// SkewTolerance is how much more traffic the client side may report than
// the destination side before the difference counts as traffic the
// destination never saw (endpoints without a sidecar, which auto mTLS sends
// plaintext): 5 % of the client's rate. The two proxies are scraped at
// different moments, so the same requests give slightly different rates over
// one window; on steady traffic that difference stays within a few percent.
const SkewTolerance = 0.05

// BuildOptions carries what Build must not find out by itself.
type BuildOptions struct {
	// GeneratedAt is the moment the samples were taken; Build reads no clock.
	GeneratedAt time.Time
	// Window is the rate window of the queries, e.g. "1m".
	Window string
	// History is what the look-back knows, and Lookback how far it reaches.
	History  []HistorySample
	Lookback Lookback
	// Certs are the certificate expiries Prometheus has; nil when none.
	Certs *CertFigures
	// Thresholds of the certificate findings; zero ones take the defaults.
	Thresholds CertThresholds
}

// Build turns traffic samples and cluster state into a snapshot: one node per
// Service (and per other endpoint of observed traffic), one edge per
// (source, target, protocol) with traffic in the window, and the findings.
// The output is sorted and contains no nil slices.
func Build(samples []Sample, cluster Cluster, opts BuildOptions) Snapshot {
	b := newBuilder(cluster, len(samples))
	for i := range samples {
		b.add(&samples[i])
	}
	for i := range opts.History {
		b.addHistory(&opts.History[i])
	}
	nodes, edges, callers := b.result()
	lookback := opts.Lookback
	if lookback.State == "" {
		lookback.State = LookbackOff
	}
	services := b.clusterServices()
	identity := b.buildIdentity(cluster, opts.Certs, opts.Thresholds)
	b.addNodeIdentities(nodes, cluster, services, identity)
	addNodePolicies(nodes, cluster.AccessPolicies)
	fctx := findingContext{now: opts.GeneratedAt, window: opts.Window, lookback: lookback}
	findings := buildFindings(nodes, edges, services, callers, cluster.Problems, fctx)
	findings = append(findings, authzFindings(nodes, edges, cluster.AccessPolicies, fctx)...)
	findings = dedupeFindings(b.identityFindings(findings, cluster, identity, edges, nodes, opts.Thresholds, opts.GeneratedAt))
	return Snapshot{
		GeneratedAt:        opts.GeneratedAt,
		Window:             opts.Window,
		TrustDomain:        cluster.TrustDomain,
		TrustDomainAliases: slices.Clone(identity.TrustDomainAliases),
		Lookback:           lookback,
		Posture:            ComputePosture(edges),
		Nodes:              nodes,
		Edges:              edges,
		Findings:           findings,
		Identity:           identity,
	}
}

// nodeKey is a cluster (with several), a namespace and a name, used
// instead of id strings so that resolving a sample allocates nothing.
type nodeKey struct{ cluster, namespace, name string }

// id is the node id of the key.
func (k nodeKey) id() string { return ID{k.cluster, k.namespace, k.name}.String() }

type nodeOrigin uint8

const (
	originClusterService  nodeOrigin = iota // from cluster.Services: always shown
	originObservedService                   // a destination service the cluster does not list
	originWorkload                          // a workload no Service selects
	originUnknown                           // callers Istio could not identify
)

type nodeEntry struct {
	node    Node
	origin  nodeOrigin
	service *Service // set for originClusterService
	used    bool     // endpoint of a kept edge
}

type edgeKey struct {
	source, target int
	protocol       string
}

type principalRate struct {
	principal string
	rate      float64
}

// flow is one measure of an edge's traffic as both sides reported it.
type flow struct {
	// Destination side (destination and waypoint reporters).
	destMTLS, destPlain float64
	// Source side: what the client delivered, and what it reported as
	// failed at the TLS handshake (never delivered, so never in dest*).
	source, failed float64
	// The part of source whose client knows what went on the wire: a node
	// proxy (ambient's ztunnel) reports the tunnel (mTLS) it opened or the
	// plain TCP it sent, unlike a sidecar client, which cannot tell.
	srcMTLS, srcPlain float64
	// refused and refusedMTLS are connections the destination's proxy
	// refused by policy, plaintext and over the tunnel; they are also among
	// the ones it counted opened (destPlain, destMTLS), and among those a
	// caller's proxy counted (source).
	refused, refusedMTLS float64
	// forbidden is what the destination's proxy reported answered 403
	// (OutcomeForbidden); also among destMTLS and destPlain.
	forbidden float64
}

func (f *flow) empty() bool {
	return f.destMTLS == 0 && f.destPlain == 0 && f.source == 0 && f.failed == 0 && f.refused == 0 && f.refusedMTLS == 0
}

// withoutRefusals is f less the connections the destination refused: they
// were counted opened, by both sides, and closed at once, so none of them
// got in. A remainder within the skew of a scrape is none.
func (f flow) withoutRefusals() flow {
	less := func(v, refused float64) float64 {
		if v -= refused; v <= SkewTolerance*refused {
			return 0
		}
		return v
	}
	refused := addRate(f.refused, f.refusedMTLS)
	f.destPlain, f.destMTLS = less(f.destPlain, f.refused), less(f.destMTLS, f.refusedMTLS)
	f.source, f.srcPlain, f.srcMTLS = less(f.source, refused), less(f.srcPlain, f.refused), less(f.srcMTLS, f.refusedMTLS)
	return f
}

// edgeTraffic accumulates the samples of one edge.
type edgeTraffic struct {
	key edgeKey
	// main is requests (HTTP, gRPC) or bytes (TCP); conns is TCP
	// connections, which decide a TCP edge that moved no bytes.
	main, conns           flow
	sourcePrincipals      []principalRate
	destinationPrincipals []principalRate
	// callers are the client workloads seen on the edge; every one has a
	// proxy (only a proxy reports, or sends the metadata that names it).
	// Nearly every edge has one, kept inline so that it costs no allocation.
	caller      nodeKey
	moreCallers []nodeKey
	// hist is the look-back's traffic of the edge, measured as main and
	// conns; nil until the edge has history (some 400 bytes an edge, which
	// a mesh without a look-back, or an edge without a past, never pays).
	hist *edgeHist
}

type edgeHist struct {
	main, conns histFlow
	// sourcePrincipals are the principals a destination saw over mTLS,
	// by volume: an idle edge's callers.
	sourcePrincipals []principalRate
}

type builder struct {
	nodes      []nodeEntry
	byKey      map[nodeKey]int // service and workload nodes share ids, so one map
	unknownIdx int             // -1 until a sample needs the unknown node
	// selectedBy maps a workload to the node of the Service that selects it.
	selectedBy map[nodeKey]int
	dataPlane  map[nodeKey]string
	gateway    map[nodeKey]bool
	// networkGateway are the east-west gateways, whose own reports are
	// hops of connections both sidecars report.
	networkGateway map[nodeKey]bool
	// resolved caches a source/destination workload's node.
	resolved map[nodeKey]int
	edgeIdx  map[edgeKey]int
	traffic  []edgeTraffic
	// bySA lists the workloads running as each ServiceAccount, for callers
	// known by principal only; a principal of another trust domain (another
	// mesh) names none of them.
	bySA map[nodeKey][]string
	// serviceAccounts are each workload's, to name the principal of a
	// caller whose own was not reported.
	serviceAccounts map[nodeKey][]string
	identity        identityState
	// multi: the cluster is a Merge of several; members are they, by Name
	// (with one cluster, the one under "").
	multi   bool
	members map[string]*Cluster
}

// newBuilder sizes its edge table for the samples: an edge has one sample
// or a few, and growing a table of large entries copies them each time.
func newBuilder(cluster Cluster, samples int) *builder {
	b := &builder{
		nodes:      make([]nodeEntry, 0, len(cluster.Services)+16),
		byKey:      make(map[nodeKey]int, len(cluster.Services)+16),
		unknownIdx: -1,
		selectedBy: make(map[nodeKey]int, len(cluster.Workloads)),
		dataPlane:  make(map[nodeKey]string, len(cluster.Workloads)),
		resolved:   make(map[nodeKey]int, len(cluster.Workloads)),
		// Both sides report most edges, in several series: a quarter of
		// the samples is about the edges (the slice grows past it).
		edgeIdx:  make(map[edgeKey]int, samples/4),
		traffic:  make([]edgeTraffic, 0, samples/4),
		bySA:     make(map[nodeKey][]string, len(cluster.Workloads)),
		identity: newIdentityState(cluster),
		multi:    cluster.Members != nil,
		members:  map[string]*Cluster{"": &cluster},
	}
	if b.multi {
		b.members = make(map[string]*Cluster, len(cluster.Members))
		for i := range cluster.Members {
			b.members[cluster.Members[i].Name] = &cluster.Members[i]
		}
	}
	for i := range cluster.Services {
		svc := &cluster.Services[i]
		if svc.Name == "" {
			continue
		}
		key := nodeKey{svc.Cluster, svc.Namespace, svc.Name}
		if _, dup := b.byKey[key]; dup {
			continue // the first listing of a Service wins
		}
		b.byKey[key] = len(b.nodes)
		b.nodes = append(b.nodes, nodeEntry{
			node: Node{
				ID:                 key.id(),
				Cluster:            svc.Cluster,
				Namespace:          svc.Namespace,
				Name:               svc.Name,
				Kind:               serviceKind(svc.Gateway),
				InMesh:             svc.InMesh,
				DataPlane:          svc.DataPlane,
				PeerAuthentication: modeOrUnset(svc.PeerAuthentication),
				DestinationRuleTLS: svc.DestinationRuleTLS,
				Ports:              svc.Ports,
			},
			origin:  originClusterService,
			service: svc,
		})
	}
	// Indexed once so that each sample costs map lookups, not a scan.
	for idx := range b.nodes {
		svc := b.nodes[idx].service
		for _, w := range svc.Workloads {
			key := nodeKey{svc.Cluster, svc.Namespace, w}
			if prev, ok := b.selectedBy[key]; ok && b.nodes[prev].node.Name <= svc.Name {
				continue
			}
			b.selectedBy[key] = idx
		}
	}
	b.gateway = make(map[nodeKey]bool)
	b.networkGateway = make(map[nodeKey]bool)
	b.serviceAccounts = make(map[nodeKey][]string, len(cluster.Workloads))
	for _, w := range cluster.Workloads {
		key := nodeKey{w.Cluster, w.Namespace, w.Name}
		b.dataPlane[key] = w.DataPlane
		b.gateway[key] = b.gateway[key] || w.Gateway
		if w.NetworkGateway {
			b.networkGateway[key] = true
		}
		b.serviceAccounts[key] = w.ServiceAccounts
		for _, sa := range w.ServiceAccounts {
			k := nodeKey{w.Cluster, w.Namespace, sa}
			if !slices.Contains(b.bySA[k], w.Name) {
				b.bySA[k] = append(b.bySA[k], w.Name)
			}
		}
	}
	for k := range b.bySA {
		slices.Sort(b.bySA[k])
	}
	return b
}

func serviceKind(gateway bool) string {
	if gateway {
		return KindGateway
	}
	return KindService
}

func modeOrUnset(mode string) string {
	if mode == "" {
		return ModeUnset
	}
	return mode
}

// clientTLS is the DestinationRule resolver of a cluster's sidecars.
func (b *builder) clientTLS(cluster string) ClientTLSFunc {
	if m := b.members[cluster]; m != nil {
		return m.ClientTLS
	}
	return nil
}

// clusterOf is the cluster a sample's label names, fallback where Istio
// did not know it ("unknown", or no label); "" with one cluster, whose
// ids name none.
func (b *builder) clusterOf(label, fallback string) string {
	if !b.multi {
		return ""
	}
	// A value holding "/" would make ParseID read the node id as another
	// cluster, namespace and name: Istio's cluster IDs never hold one.
	if label == "" || label == Unknown || strings.Contains(label, "/") {
		return fallback
	}
	return label
}

// sourceKey is the sample's calling workload.
func (b *builder) sourceKey(s *Sample) nodeKey {
	return nodeKey{b.clusterOf(s.Source.Cluster, ""), s.Source.Namespace, s.Source.Workload}
}

// destinationCluster is the cluster that served the sample: Istio's
// destination_cluster is the endpoint's cluster, which a client's proxy
// knows from the endpoint's metadata; where it does not, the caller's.
func (b *builder) destinationCluster(s *Sample) string {
	return b.clusterOf(s.Destination.Cluster, b.clusterOf(s.Source.Cluster, ""))
}

// destinationKey is the sample's serving workload.
func (b *builder) destinationKey(s *Sample) nodeKey {
	return nodeKey{b.destinationCluster(s), s.Destination.Namespace, s.Destination.Workload}
}

// principalCluster is the cluster of a caller known by its principal only
// (no metadata exchange, so no source_cluster): the one cluster running
// workloads as that ServiceAccount, else the destination's.
func (b *builder) principalCluster(s *Sample, namespace, sa string) string {
	if c := b.clusterOf(s.Source.Cluster, ""); c != "" || !b.multi {
		return c
	}
	found := ""
	for name := range b.members {
		if len(b.bySA[nodeKey{name, namespace, sa}]) > 0 {
			if found != "" {
				return b.destinationCluster(s)
			}
			found = name
		}
	}
	return cmp.Or(found, b.destinationCluster(s))
}

// known reports whether a value identifies something.
func known(v string) bool { return v != "" }

func (b *builder) add(s *Sample) {
	rate := s.Rate
	// NaN fails every comparison, so it is caught by the first test.
	if !(rate > 0) || math.IsInf(rate, 1) {
		return // zero adds nothing; the rest is bad input
	}
	t, ok := b.locate(s)
	if !ok {
		return
	}
	destSide := s.Reporter == ReporterServer
	f := &t.main
	if s.Measure == MeasureConnections {
		f = &t.conns
	}
	if destSide && s.Outcome == OutcomeForbidden {
		// Reached the server's proxy, so counted below by its security.
		f.forbidden = addRate(f.forbidden, rate)
	}
	switch {
	case destSide && s.Outcome == OutcomeRefused:
		if s.Security == SecurityMutualTLS {
			f.refusedMTLS = addRate(f.refusedMTLS, rate)
		} else {
			f.refused = addRate(f.refused, rate)
		}
	case !destSide && s.Outcome == OutcomeHandshakeFailed:
		f.failed = addRate(f.failed, rate)
	case !destSide && s.Outcome == OutcomeLocal:
		// Answered by the client's own proxy: no server could have seen it,
		// so it must not count as traffic the destination failed to report.
	case !destSide:
		f.source = addRate(f.source, rate)
		switch b.clientKnowsWire(s) {
		case SecurityMutualTLS:
			f.srcMTLS = addRate(f.srcMTLS, rate)
		case SecurityPlaintext:
			f.srcPlain = addRate(f.srcPlain, rate)
		}
	case s.Security != SecurityMutualTLS:
		f.destPlain = addRate(f.destPlain, rate)
	default:
		f.destMTLS = addRate(f.destMTLS, rate)
		if f == &t.main || t.main.empty() {
			t.sourcePrincipals = addPrincipal(t.sourcePrincipals, s.Source.Principal, rate)
			t.destinationPrincipals = addPrincipal(t.destinationPrincipals, s.Destination.Principal, rate)
		}
	}
}

// clientKnowsWire is what a client's report says went on the wire:
//   - a report of the mesh's tunnel (only a node proxy reports mTLS on the
//     client side: istio/ztunnel src/proxy/outbound.rs
//     conn_metrics_from_request);
//   - plaintext when the caller's traffic is carried by a node proxy
//     (ambient), which reports the plain TCP it sent as such;
//   - the tunnel when a sidecar (or gateway) calls an ambient workload: it
//     always sends HBONE to one, whatever a DestinationRule says (istio/istio
//     pilot/pkg/xds/endpoints/endpoint_builder.go supportTunnel,
//     pilot/pkg/networking/core/cluster_tls.go applyHBONETransportSocketMatches);
//   - else SecurityUnknown: a sidecar client's report says nothing of it.
func (b *builder) clientKnowsWire(s *Sample) string {
	caller := b.dataPlane[b.sourceKey(s)]
	switch {
	case s.Security == SecurityMutualTLS:
		return SecurityMutualTLS
	case caller == DataPlaneAmbient:
		return SecurityPlaintext
	case caller == DataPlaneSidecar && b.dataPlane[b.destinationKey(s)] == DataPlaneAmbient:
		return SecurityMutualTLS
	}
	return SecurityUnknown
}

// throughWaypoint reports the hops of a connection through a waypoint that
// the waypoint reports itself: the caller's node proxy names the waypoint
// as the destination workload, and the destination's names it as the
// source (istio/ztunnel src/proxy/outbound.rs build_request, inbound.rs).
// The waypoint's own report (reporter="waypoint") has the caller and the
// backend, so the connection is counted once, on the caller → Service
// edge, with the waypoint's view of the caller's security.
func (b *builder) throughWaypoint(s *Sample) bool {
	if s.Reporter == ReporterClient {
		return b.dataPlane[b.destinationKey(s)] == DataPlaneWaypoint
	}
	return s.Source.Workload != "" && b.dataPlane[b.sourceKey(s)] == DataPlaneWaypoint
}

// locate is the edge a sample's traffic belongs to, its callers and the
// principals its ends presented noted; false for a reporter the graph does not understand, a destination no
// one can identify (traffic leaving the mesh), or a hop a waypoint reports.
func (b *builder) locate(s *Sample) (*edgeTraffic, bool) {
	if s.Reporter != ReporterServer && s.Reporter != ReporterClient {
		return nil, false
	}
	if b.throughWaypoint(s) {
		return nil, false
	}
	// An east-west gateway's report (reporter="source", itself the source,
	// the server its destination, security unknown: it passes TLS through
	// unterminated, pilot/pkg/networking/core/gateway.go
	// builtAutoPassthroughFilterChains) is a hop of the caller's connection,
	// which the caller's and the server's sidecars report end to end.
	if s.Reporter == ReporterClient && len(b.networkGateway) > 0 && b.networkGateway[b.sourceKey(s)] {
		return nil, false
	}
	target, ok := b.destinationNode(s)
	if !ok {
		return nil, false
	}
	source, caller, callers := b.sourceNode(s)
	idx := b.edge(edgeKey{source, target, normalizeProtocol(s.Protocol)})
	t := &b.traffic[idx]
	if known(s.Source.Principal) || known(s.Destination.Principal) {
		b.notePrincipals(idx, s)
	}
	if caller != (nodeKey{}) {
		t.addCaller(caller)
	}
	for _, c := range callers {
		t.addCaller(c)
	}
	return t, true
}

// addHistory adds what the look-back knows of one series to its edge.
func (b *builder) addHistory(h *HistorySample) {
	if !(h.Volume > 0) && h.LastSeen.IsZero() {
		return // neither traffic nor a sighting
	}
	if h.Reporter == ReporterClient && h.Outcome != OutcomeDelivered {
		return // never reached a server: neither mTLS nor plaintext
	}
	t, ok := b.locate(&h.Sample)
	if !ok {
		return
	}
	if t.hist == nil {
		t.hist = &edgeHist{}
	}
	f := &t.hist.main
	if h.Measure == MeasureConnections {
		f = &t.hist.conns
	}
	f.add(h)
	if h.Reporter == ReporterServer && h.Security == SecurityMutualTLS && h.Outcome != OutcomeRefused {
		vol := h.Volume
		if !(vol >= 0) || math.IsInf(vol, 1) {
			vol = 0
		}
		t.hist.sourcePrincipals = addPrincipal(t.hist.sourcePrincipals, h.Source.Principal, vol)
	}
	if h.Reporter == ReporterClient {
		if security := b.clientKnowsWire(&h.Sample); security != SecurityUnknown {
			f.addWire(h, security)
		}
	}
}

func (t *edgeTraffic) addCaller(c nodeKey) {
	switch {
	case t.caller == (nodeKey{}):
		t.caller = c
	case t.caller != c && !slices.Contains(t.moreCallers, c):
		t.moreCallers = append(t.moreCallers, c)
	}
}

// callers lists the edge's client workloads.
func (t *edgeTraffic) callers() []nodeKey {
	if t.caller == (nodeKey{}) {
		return nil
	}
	return append([]nodeKey{t.caller}, t.moreCallers...)
}

// edge is the index in traffic of the edge of key, added when new.
func (b *builder) edge(key edgeKey) int {
	idx, ok := b.edgeIdx[key]
	if !ok {
		idx = len(b.traffic)
		b.edgeIdx[key] = idx
		b.traffic = append(b.traffic, edgeTraffic{key: key})
	}
	return idx
}

// addRate saturates instead of overflowing: an infinite rate cannot be
// encoded as JSON and would make the ratio NaN.
func addRate(a, b float64) float64 {
	if s := a + b; s <= math.MaxFloat64 {
		return s
	}
	return math.MaxFloat64
}

func addPrincipal(list []principalRate, principal string, rate float64) []principalRate {
	if !known(principal) {
		return list
	}
	for i := range list {
		if list[i].principal == principal {
			list[i].rate = addRate(list[i].rate, rate)
			return list
		}
	}
	return append(list, principalRate{principal, rate})
}

// topPrincipal is the principal with the highest rate, the lexically
// smallest among equals, so that the result does not depend on sample order.
func topPrincipal(list []principalRate) string {
	var best principalRate
	for _, p := range list {
		if best.principal == "" || p.rate > best.rate || (p.rate == best.rate && p.principal < best.principal) {
			best = p
		}
	}
	return best.principal
}

func normalizeProtocol(p string) string {
	if p == "" {
		return Unknown
	}
	return strings.ToLower(p) // returns p itself when already lower case
}

// sourceNode is the caller's node and the client workload (or, for a
// principal, workloads) it stands for.
func (b *builder) sourceNode(s *Sample) (int, nodeKey, []nodeKey) {
	if known(s.Source.Workload) && known(s.Source.Namespace) {
		key := b.sourceKey(s)
		return b.workloadNode(key), key, nil
	}
	// mTLS without metadata exchange (TCP) still names the caller's
	// certificate: the workloads of that namespace and ServiceAccount, which
	// are inside the mesh, unlike the unknown node.
	if td, ns, sa, ok := ParsePrincipal(s.Source.Principal); ok && s.Security == SecurityMutualTLS && b.identity.trustedDomain(td) {
		idx, callers := b.principalNode(nodeKey{b.principalCluster(s, ns, sa), ns, sa})
		return idx, nodeKey{}, callers
	}
	return b.unknownNode(), nodeKey{}, nil
}

// principalNode is the node of the one workload (or of the one Service
// selecting all of them) running as the ServiceAccount, else a node standing
// for the ServiceAccount.
func (b *builder) principalNode(sa nodeKey) (int, []nodeKey) {
	names := b.bySA[sa]
	callers := make([]nodeKey, len(names))
	node := -1
	for i, name := range names {
		callers[i] = nodeKey{sa.cluster, sa.namespace, name}
		idx := b.workloadNode(callers[i])
		if node >= 0 && idx != node {
			node = -2 // different nodes: none of them is the caller
		}
		if node != -2 {
			node = idx
		}
	}
	if node >= 0 {
		return node, callers
	}
	key := nodeKey{sa.cluster, sa.namespace, "sa:" + sa.name}
	idx, ok := b.byKey[key]
	if !ok {
		idx = b.addNode(key, Node{
			ID: key.id(), Cluster: key.cluster, Namespace: key.namespace, Name: key.name,
			Kind:               KindServiceAccount,
			InMesh:             true, // it holds a mesh certificate
			PeerAuthentication: ModeUnset,
		}, originWorkload)
	}
	return idx, callers
}

// ParsePrincipal reads "spiffe://<trust domain>/ns/<namespace>/sa/<name>".
func ParsePrincipal(p string) (trustDomain, namespace, serviceAccount string, ok bool) {
	rest, ok := strings.CutPrefix(p, "spiffe://")
	if !ok {
		return "", "", "", false
	}
	td, path, ok := strings.Cut(rest, "/")
	if !ok || td == "" {
		return "", "", "", false
	}
	parts := strings.Split(path, "/")
	if len(parts) != 4 || parts[0] != "ns" || parts[2] != "sa" || parts[1] == "" || parts[3] == "" {
		return "", "", "", false
	}
	return td, parts[1], parts[3], true
}

// destinationNode is the destination Service, else the destination workload.
func (b *builder) destinationNode(s *Sample) (int, bool) {
	if known(s.Service.Name) && known(s.Service.Namespace) {
		return b.serviceNode(nodeKey{b.destinationCluster(s), s.Service.Namespace, s.Service.Name}), true
	}
	if known(s.Destination.Workload) && known(s.Destination.Namespace) {
		return b.workloadNode(b.destinationKey(s)), true
	}
	return 0, false
}

// addNode appends a node under key and answers its index.
func (b *builder) addNode(key nodeKey, n Node, origin nodeOrigin) int {
	idx := len(b.nodes)
	b.byKey[key] = idx
	b.nodes = append(b.nodes, nodeEntry{node: n, origin: origin})
	return idx
}

func (b *builder) unknownNode() int {
	if b.unknownIdx < 0 {
		b.unknownIdx = len(b.nodes)
		b.nodes = append(b.nodes, nodeEntry{
			node: Node{
				ID:                 Unknown,
				Name:               Unknown,
				Kind:               KindUnknown,
				PeerAuthentication: ModeUnset,
			},
			origin: originUnknown,
		})
	}
	return b.unknownIdx
}

// serviceNode is the node of a destination Service, created for Services
// the cluster does not list. A workload node that happens to carry the same
// id becomes this service node, so the result does not depend on the order
// in which samples arrive.
func (b *builder) serviceNode(key nodeKey) int {
	if idx, ok := b.byKey[key]; ok {
		if e := &b.nodes[idx]; e.origin == originWorkload {
			e.origin = originObservedService
			e.node.Kind = KindService
			e.node.InMesh, e.node.DataPlane = false, ""
		}
		return idx
	}
	return b.addNode(key, Node{
		ID: key.id(), Cluster: key.cluster, Namespace: key.namespace, Name: key.name,
		Kind: KindService, PeerAuthentication: ModeUnset,
	}, originObservedService)
}

// workloadNode is the Service that selects the workload, else the workload.
func (b *builder) workloadNode(key nodeKey) int {
	if idx, ok := b.resolved[key]; ok {
		return idx
	}
	idx, ok := b.selectedBy[key]
	if !ok {
		idx, ok = b.byKey[key]
	}
	if !ok {
		idx = b.addNode(key, Node{
			ID: key.id(), Cluster: key.cluster, Namespace: key.namespace, Name: key.name,
			Kind:               workloadKind(b.gateway[key]),
			InMesh:             b.dataPlane[key] != DataPlaneNone && b.dataPlane[key] != "",
			DataPlane:          b.dataPlane[key],
			PeerAuthentication: ModeUnset, // Workload carries no policy
		}, originWorkload)
	}
	b.resolved[key] = idx
	return idx
}

func workloadKind(gateway bool) string {
	if gateway {
		return KindGateway
	}
	return KindWorkload
}

// callerView is what one client workload's DestinationRules set for the
// target of one of its edges.
type callerView struct {
	caller string // "<namespace>/<workload>"
	edge   string
	tls    ClientTLS // one port
}

// result turns the accumulated traffic into sorted nodes and edges, and the
// DestinationRule view of every calling workload per target node.
func (b *builder) result() ([]Node, []Edge, map[string][]callerView) {
	edges := make([]Edge, 0, len(b.traffic))
	callers := make(map[string][]callerView)
	for i := range b.traffic {
		t := &b.traffic[i]
		e, ok := edgeOf(t)
		h, hStatus, hRatio, hOK := edgeHistory(t)
		switch {
		case ok:
			e.History = h
		case hOK:
			// Idle now, seen in the look-back: judged by its history.
			e = Edge{Idle: true, Status: hStatus, MTLSRatio: hRatio, History: h, SourcePrincipal: topPrincipal(t.hist.sourcePrincipals)}
		default:
			continue
		}
		src, dst := &b.nodes[t.key.source], &b.nodes[t.key.target]
		src.used, dst.used = true, true
		e.Source, e.Target, e.Protocol = src.node.ID, dst.node.ID, t.key.protocol
		e.ID = EdgeID(e.Source, e.Target, e.Protocol)
		e.CrossCluster = src.node.Cluster != "" && dst.node.Cluster != "" && src.node.Cluster != dst.node.Cluster
		if dst.origin == originClusterService {
			b.authorizeEdge(&e, t, dst)
		}
		edges = append(edges, e)
		if dst.origin == originClusterService {
			for _, c := range t.callers() {
				// The caller's own cluster's DestinationRules decide what it
				// sends, whichever cluster serves the host.
				clientTLS := b.clientTLS(c.cluster)
				if clientTLS == nil {
					continue
				}
				for _, tls := range clientTLS(c.namespace, c.name, dst.service.Namespace, dst.service.Name) {
					callers[dst.node.ID] = append(callers[dst.node.ID], callerView{
						caller: c.id(), edge: e.ID, tls: tls,
					})
				}
			}
		}
	}
	nodes := make([]Node, 0, len(b.nodes))
	for _, n := range b.nodes {
		if n.origin == originClusterService || n.used {
			if views := callers[n.node.ID]; len(views) > 0 {
				n.node.DestinationRuleTLS, n.node.CallerTLS = callerTLS(views)
			} else if clientTLS := b.clientTLS(n.node.Cluster); n.origin == originClusterService && clientTLS != nil {
				// No caller yet: findings judge the view from the Service's
				// own namespace (caller "").
				for _, tls := range clientTLS(n.service.Namespace, "", n.service.Namespace, n.service.Name) {
					callers[n.node.ID] = append(callers[n.node.ID], callerView{tls: tls})
				}
			}
			nodes = append(nodes, n.node)
		}
	}
	sortNodes(nodes)
	sortEdges(edges)
	return nodes, edges, callers
}

// TLSVaries is a node's destinationRuleTLS when its callers get different
// modes from their DestinationRules.
const TLSVaries = "VARIES"

// callerTLS is the mode every caller gets on every port, or TLSVaries and
// each caller's view per port (sorted, each once) when they differ.
func callerTLS(views []callerView) (string, []CallerTLS) {
	list := make([]CallerTLS, 0, len(views))
	for _, v := range views {
		c := CallerTLS{Caller: v.caller, Port: v.tls.Port, TLS: v.tls.TLS, Rule: v.tls.Rule}
		if !slices.Contains(list, c) {
			list = append(list, c)
		}
	}
	slices.SortFunc(list, func(a, b CallerTLS) int {
		return cmp.Or(strings.Compare(a.Caller, b.Caller), cmp.Compare(a.Port, b.Port))
	})
	for _, c := range list[1:] {
		if c.TLS != list[0].TLS {
			return TLSVaries, list
		}
	}
	return list[0].TLS, nil
}

// edgeOf decides rate, ratio, status and principals; false drops the edge.
// A TCP edge that moved no bytes in the window is decided by its connections.
func edgeOf(t *edgeTraffic) (Edge, bool) {
	conns := t.conns.withoutRefusals()
	f := &t.main
	if f.empty() {
		f = &conns
	}
	e := Edge{TLSFailureRate: addRate(t.main.failed, t.conns.failed), RefusedRate: addRate(t.conns.refused, t.conns.refusedMTLS),
		// A node proxy refusing a caller that presented an identity can
		// only be its access policy: STRICT refuses plaintext alone.
		DeniedRate: t.conns.refusedMTLS}
	dest := addRate(f.destMTLS, f.destPlain)
	// A client that knows the wire and saw only its tunnel vouches for
	// what no destination reported (a destination's proxy not scraped).
	clientAllMTLS := f.srcPlain == 0 && f.srcMTLS >= (1-SkewTolerance)*f.source
	switch {
	case dest > 0:
		e.Rate, e.MTLSRatio = dest, ratio(f.destMTLS, dest)
		switch {
		case f.source-dest > SkewTolerance*f.source && !clientAllMTLS:
			// The client sent more than any sidecar received: the rest went
			// where no proxy could report it, plaintext as far as anyone knows.
			e.Rate, e.MTLSRatio = f.source, ratio(f.destMTLS, f.source)
			e.Status = StatusMixed
			if f.destMTLS == 0 {
				e.Status = StatusOpen
			}
		case f.destPlain == 0:
			e.Status = StatusLocked
		case f.destMTLS == 0:
			e.Status = StatusOpen
		default:
			e.Status = StatusMixed
		}
		e.SourcePrincipal = topPrincipal(t.sourcePrincipals)
		e.DestinationPrincipal = topPrincipal(t.destinationPrincipals)
	case f.srcMTLS > 0 || f.srcPlain > 0:
		// Only the client reported, and it knows the wire (ambient): its
		// plain TCP is plaintext, its tunnel mTLS; what no such client
		// vouches for keeps the edge from a padlock.
		e.Rate, e.MTLSRatio = f.source, ratio(f.srcMTLS, f.source)
		switch {
		case f.srcPlain > 0 && f.srcMTLS == 0:
			e.Status = StatusOpen
		case f.srcPlain > 0:
			e.Status = StatusMixed
		case clientAllMTLS:
			e.Status = StatusLocked
		default:
			e.Status = StatusUnknown
		}
	case f.source > 0:
		e.Rate, e.Status = f.source, StatusUnknown
	case e.TLSFailureRate > 0 || e.RefusedRate > 0:
		e.Status = StatusUnknown // nothing got through: only the failures or refusals are known
	default:
		return Edge{}, false
	}
	return e, true
}

// ratio clamps because rounding may put a part's sum a hair above the whole.
func ratio(part, whole float64) float64 {
	r := part / whole
	switch {
	case !(r >= 0):
		return 0
	case r > 1:
		return 1
	}
	return r
}

// EdgeID is "<source>-><target>:<protocol>".
func EdgeID(source, target, protocol string) string {
	return source + "->" + target + ":" + protocol
}

// clusterServices maps the node id of every listed Service to the Service.
func (b *builder) clusterServices() map[string]*Service {
	out := make(map[string]*Service, len(b.nodes))
	for _, n := range b.nodes {
		if n.origin == originClusterService {
			out[n.node.ID] = n.service
		}
	}
	return out
}
