package graph

import (
	"math"
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

// BuildOptions carries what Build must not find out by itself.
type BuildOptions struct {
	// GeneratedAt is the moment the samples were taken; Build reads no clock.
	GeneratedAt time.Time
	// Window is the rate window of the queries, e.g. "1m".
	Window string
}

// Build turns traffic samples and cluster state into a snapshot: one node per
// Service (and per other endpoint of observed traffic), one edge per
// (source, target, protocol) with traffic in the window, and the findings.
// The output is sorted and contains no nil slices.
func Build(samples []Sample, cluster Cluster, opts BuildOptions) Snapshot {
	b := newBuilder(cluster)
	for i := range samples {
		b.add(&samples[i])
	}
	nodes, edges := b.result()
	return Snapshot{
		GeneratedAt: opts.GeneratedAt,
		Window:      opts.Window,
		Nodes:       nodes,
		Edges:       edges,
		Findings:    buildFindings(nodes, edges, b.clusterServices(), cluster.Problems),
	}
}

// nodeKey is a namespace and a name, used instead of "<ns>/<name>" strings
// so that resolving a sample allocates nothing.
type nodeKey struct{ namespace, name string }

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

// edgeTraffic accumulates the samples of one edge.
type edgeTraffic struct {
	key edgeKey
	// Destination side (destination and waypoint reporters).
	destMTLS, destPlain float64
	// Source side, used only when the destination side saw nothing.
	sourceRate            float64
	sourcePrincipals      []principalRate
	destinationPrincipals []principalRate
}

type builder struct {
	nodes      []nodeEntry
	byKey      map[nodeKey]int // service and workload nodes share ids, so one map
	unknownIdx int             // -1 until a sample needs the unknown node
	// selectedBy maps a workload to the node of the Service that selects it.
	selectedBy map[nodeKey]int
	sidecar    map[nodeKey]bool
	// resolved caches a source/destination workload's node.
	resolved map[nodeKey]int
	edgeIdx  map[edgeKey]int
	traffic  []edgeTraffic
}

func newBuilder(cluster Cluster) *builder {
	b := &builder{
		nodes:      make([]nodeEntry, 0, len(cluster.Services)+16),
		byKey:      make(map[nodeKey]int, len(cluster.Services)+16),
		unknownIdx: -1,
		selectedBy: make(map[nodeKey]int, len(cluster.Workloads)),
		sidecar:    make(map[nodeKey]bool, len(cluster.Workloads)),
		resolved:   make(map[nodeKey]int, len(cluster.Workloads)),
		edgeIdx:    make(map[edgeKey]int, len(cluster.Services)*4),
	}
	for i := range cluster.Services {
		svc := &cluster.Services[i]
		if svc.Name == "" {
			continue
		}
		key := nodeKey{svc.Namespace, svc.Name}
		if _, dup := b.byKey[key]; dup {
			continue // the first listing of a Service wins
		}
		b.byKey[key] = len(b.nodes)
		b.nodes = append(b.nodes, nodeEntry{
			node: Node{
				ID:                 NodeID(svc.Namespace, svc.Name),
				Namespace:          svc.Namespace,
				Name:               svc.Name,
				Kind:               KindService,
				InMesh:             svc.InMesh,
				PeerAuthentication: modeOrUnset(svc.PeerAuthentication),
				DestinationRuleTLS: svc.DestinationRuleTLS,
			},
			origin:  originClusterService,
			service: svc,
		})
	}
	// Indexed once so that each sample costs map lookups, not a scan.
	for idx := range b.nodes {
		svc := b.nodes[idx].service
		for _, w := range svc.Workloads {
			key := nodeKey{svc.Namespace, w}
			if prev, ok := b.selectedBy[key]; ok && b.nodes[prev].node.Name <= svc.Name {
				continue
			}
			b.selectedBy[key] = idx
		}
	}
	for _, w := range cluster.Workloads {
		key := nodeKey{w.Namespace, w.Name}
		b.sidecar[key] = b.sidecar[key] || w.Sidecar
	}
	return b
}

func modeOrUnset(mode string) string {
	if mode == "" {
		return ModeUnset
	}
	return mode
}

// known reports whether a label value identifies something.
func known(v string) bool { return v != "" && v != Unknown }

func (b *builder) add(s *Sample) {
	rate := s.Rate
	// NaN fails every comparison, so it is caught by the first test.
	if !(rate > 0) || math.IsInf(rate, 1) {
		return // zero adds nothing; the rest is bad input
	}
	var destSide bool
	switch s.Reporter {
	case ReporterDestination, ReporterWaypoint:
		destSide = true
	case ReporterSource:
	default:
		return
	}
	target, ok := b.destinationNode(s)
	if !ok {
		return // no identifiable destination, e.g. traffic leaving the mesh
	}
	source := b.sourceNode(s)
	t := b.edge(edgeKey{source, target, normalizeProtocol(s.Protocol)})
	if !destSide {
		t.sourceRate = addRate(t.sourceRate, rate)
		return
	}
	if s.SecurityPolicy != SecurityMutualTLS {
		t.destPlain = addRate(t.destPlain, rate)
		return
	}
	t.destMTLS = addRate(t.destMTLS, rate)
	t.sourcePrincipals = addPrincipal(t.sourcePrincipals, s.SourcePrincipal, rate)
	t.destinationPrincipals = addPrincipal(t.destinationPrincipals, s.DestinationPrincipal, rate)
}

func (b *builder) edge(key edgeKey) *edgeTraffic {
	idx, ok := b.edgeIdx[key]
	if !ok {
		idx = len(b.traffic)
		b.edgeIdx[key] = idx
		b.traffic = append(b.traffic, edgeTraffic{key: key})
	}
	return &b.traffic[idx]
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

func (b *builder) sourceNode(s *Sample) int {
	if !known(s.SourceWorkload) || !known(s.SourceNamespace) {
		return b.unknownNode()
	}
	return b.workloadNode(nodeKey{s.SourceNamespace, s.SourceWorkload})
}

// destinationNode is the destination Service, else the destination workload.
func (b *builder) destinationNode(s *Sample) (int, bool) {
	name, namespace := s.DestinationServiceName, s.DestinationServiceNS
	if !known(name) || !known(namespace) {
		// A client sidecar that reached no endpoint reports the namespace as
		// unknown but still knows the FQDN.
		if fqdnName, fqdnNS, ok := splitServiceFQDN(s.DestinationService); ok {
			if !known(name) {
				name = fqdnName
			}
			if !known(namespace) && name == fqdnName {
				namespace = fqdnNS
			}
		}
	}
	if known(name) && known(namespace) {
		return b.serviceNode(nodeKey{namespace, name}), true
	}
	if known(s.DestinationWorkload) && known(s.DestinationNamespace) {
		return b.workloadNode(nodeKey{s.DestinationNamespace, s.DestinationWorkload}), true
	}
	return 0, false
}

// splitServiceFQDN splits "<name>.<namespace>.svc[.<domain>]"; other hosts
// (ServiceEntries, external names) are not Kubernetes Services.
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
			e.node.InMesh = false
		}
		return idx
	}
	idx := len(b.nodes)
	b.byKey[key] = idx
	b.nodes = append(b.nodes, nodeEntry{
		node: Node{
			ID:                 NodeID(key.namespace, key.name),
			Namespace:          key.namespace,
			Name:               key.name,
			Kind:               KindService,
			PeerAuthentication: ModeUnset,
		},
		origin: originObservedService,
	})
	return idx
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
		idx = len(b.nodes)
		b.byKey[key] = idx
		b.nodes = append(b.nodes, nodeEntry{
			node: Node{
				ID:                 NodeID(key.namespace, key.name),
				Namespace:          key.namespace,
				Name:               key.name,
				Kind:               KindWorkload,
				InMesh:             b.sidecar[key],
				PeerAuthentication: ModeUnset, // Workload carries no policy
			},
			origin: originWorkload,
		})
	}
	b.resolved[key] = idx
	return idx
}

// result turns the accumulated traffic into sorted nodes and edges.
func (b *builder) result() ([]Node, []Edge) {
	edges := make([]Edge, 0, len(b.traffic))
	for i := range b.traffic {
		t := &b.traffic[i]
		e, ok := edgeOf(t)
		if !ok {
			continue
		}
		src, dst := &b.nodes[t.key.source], &b.nodes[t.key.target]
		src.used, dst.used = true, true
		e.Source, e.Target, e.Protocol = src.node.ID, dst.node.ID, t.key.protocol
		e.ID = EdgeID(e.Source, e.Target, e.Protocol)
		edges = append(edges, e)
	}
	nodes := make([]Node, 0, len(b.nodes))
	for _, n := range b.nodes {
		if n.origin == originClusterService || n.used {
			nodes = append(nodes, n.node)
		}
	}
	sortNodes(nodes)
	sortEdges(edges)
	return nodes, edges
}

// edgeOf decides rate, ratio, status and principals; false drops the edge.
func edgeOf(t *edgeTraffic) (Edge, bool) {
	rate := addRate(t.destMTLS, t.destPlain)
	if rate > 0 {
		e := Edge{Rate: rate, MTLSRatio: ratio(t.destMTLS, rate)}
		switch {
		case t.destPlain == 0:
			e.Status = StatusLocked
		case t.destMTLS == 0:
			e.Status = StatusOpen
		default:
			e.Status = StatusMixed
		}
		e.SourcePrincipal = topPrincipal(t.sourcePrincipals)
		e.DestinationPrincipal = topPrincipal(t.destinationPrincipals)
		return e, true
	}
	if t.sourceRate > 0 {
		return Edge{Rate: t.sourceRate, Status: StatusUnknown}, true
	}
	return Edge{}, false
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

// NodeID is the id of a Service or workload node.
func NodeID(namespace, name string) string { return namespace + "/" + name }

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
