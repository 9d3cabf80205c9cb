// Several clusters: an Istio multi-primary, multi-network mesh. Each cluster has its own Istio
// config and root namespace and is its own network; a Service declared in several clusters is one
// service whose endpoints are in all of them; endpoints of another network are reached through
// that network's east-west gateway (AUTO_PASSTHROUGH on 15443), mTLS end to end, or not at all.

package meshsim

import (
	"context"
	"slices"
	"time"

	networkingapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	"istio.io/client-go/pkg/clientset/versioned"
	"istio.io/client-go/pkg/informers/externalversions"
	networkinglisters "istio.io/client-go/pkg/listers/networking/v1"
	securitylisters "istio.io/client-go/pkg/listers/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"

	"github.com/meshlock/meshlock/internal/istio"
	"github.com/meshlock/meshlock/internal/k8s"
)

// DefaultClusterName is Istio's default cluster ID (values.global.multiCluster.clusterName).
const DefaultClusterName = "Kubernetes"

// RemoteCluster is a further primary cluster of the mesh: its own istiod,
// Istio config and network (named after the cluster).
type RemoteCluster struct {
	// Name is its Istio cluster ID and its network's name; workloads name it in Workload.Cluster.
	Name string
	// Istio is its Istio config, read live; nil means none.
	Istio         versioned.Interface
	RootNamespace string // default "istio-system"
	AutoMTLS      bool   // its mesh config's enableAutoMtls
}

// NetworkGatewayPort is the east-west gateway's mTLS port
// (pilot/pkg/serviceregistry/kube/controller/network.go DefaultNetworkGatewayPort).
const NetworkGatewayPort = 15443

// labelNetwork is the network label istiod reads on pods, the system
// namespace and the gateway's Service (pilot/pkg/serviceregistry/kube/controller/controller.go
// Network, network.go getGatewayDetails).
const labelNetwork = "topology.istio.io/network"

// EastWestGateway is the cross-network gateway Istio's
// samples/multicluster/gen-eastwest-gateway.sh installs in a cluster: the
// gateway workload istio-eastwestgateway in istio-system and its Service
// with the tls port 15443, which Publish labels with the cluster's network.
// Its Gateway resource is CrossNetworkGateway. The Service is the same in
// every cluster (one Service of the topology selects every cluster's
// gateway); workload names being unique over the mesh, a remote cluster's
// gateway is named istio-eastwestgateway-<cluster>.
func EastWestGateway(cluster string) (Workload, Service) {
	selector := map[string]string{"istio": "eastwestgateway", "app": "istio-eastwestgateway"}
	name := "istio-eastwestgateway"
	if cluster != "" {
		name += "-" + cluster
	}
	w := Workload{
		Name: name, Namespace: istio.DefaultRootNamespace, Cluster: cluster,
		ServiceAccount: "istio-eastwestgateway-service-account", Gateway: true, Labels: selector,
	}
	s := Service{
		Name: "istio-eastwestgateway", Namespace: istio.DefaultRootNamespace, Selector: selector,
		Ports: []ServicePort{{Name: "tls", Port: NetworkGatewayPort, Protocol: TCP}},
	}
	return w, s
}

// CrossNetworkGateway is samples/multicluster/expose-services.yaml: the
// Gateway that opens the east-west gateway's 15443 in AUTO_PASSTHROUGH
// mode to every *.local host.
func CrossNetworkGateway() *networkingv1.Gateway {
	return &networkingv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: "cross-network-gateway", Namespace: istio.DefaultRootNamespace},
		Spec: networkingapi.Gateway{
			Selector: map[string]string{"istio": "eastwestgateway"},
			Servers: []*networkingapi.Server{{
				Port:  &networkingapi.Port{Number: NetworkGatewayPort, Name: "tls", Protocol: "TLS"},
				Tls:   &networkingapi.ServerTLSSettings{Mode: networkingapi.ServerTLSSettings_AUTO_PASSTHROUGH},
				Hosts: []string{"*.local"},
			}},
		},
	}
}

// clusterState is one cluster's istiod: its config and root namespace.
type clusterState struct {
	name    string
	root    string
	network string // "" in a single-cluster mesh (no network configured)
	// autoMTLS of a remote cluster; the primary's is Mesh.autoMTLS.
	autoMTLS bool
	// gateway is its east-west gateway workload (a Gateway selected by a
	// Service of its root namespace with port 15443), nil if none.
	gateway *Workload

	factory externalversions.SharedInformerFactory
	drs     networkinglisters.DestinationRuleLister
	pas     securitylisters.PeerAuthenticationLister
	aps     securitylisters.AuthorizationPolicyLister
	gws     networkinglisters.GatewayLister
}

func newClusterState(name, root string, client versioned.Interface, withGateways bool) *clusterState {
	cs := &clusterState{name: name, root: root}
	if cs.root == "" {
		cs.root = istio.DefaultRootNamespace
	}
	if client == nil {
		return cs
	}
	cs.factory = externalversions.NewSharedInformerFactory(client, 0)
	policy := k8s.NewPolicyInformers(cs.factory, metav1.NamespaceAll)
	cs.drs, cs.pas = policy.RuleLister, policy.AuthnLister
	_, cs.aps = k8s.NewAuthorizationInformer(cs.factory, metav1.NamespaceAll)
	if withGateways {
		informer := cs.factory.InformerFor(&networkingv1.Gateway{}, func(c versioned.Interface, _ time.Duration) cache.SharedIndexInformer {
			gws := c.NetworkingV1().Gateways(metav1.NamespaceAll)
			lw := &cache.ListWatch{
				ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
					return gws.List(ctx, o)
				},
				WatchFuncWithContext: gws.Watch,
			}
			return cache.NewSharedIndexInformer(listThenWatch{lw}, &networkingv1.Gateway{}, 0,
				cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
		})
		cs.gws = networkinglisters.NewGatewayLister(informer.GetIndexer())
	}
	return cs
}

// listThenWatch keeps the reflector from WatchList, which client-go's fake
// clientsets do not serve (as internal/k8s's informers do).
type listThenWatch struct{ *cache.ListWatch }

func (listThenWatch) IsWatchListSemanticsUnSupported() bool { return true }

// policySet is one cluster's config as its informers hold it now.
type policySet struct {
	drs []*networkingv1.DestinationRule
	pas []*securityv1.PeerAuthentication
	aps []*securityv1.AuthorizationPolicy
	gws []*networkingv1.Gateway
}

func (m *Mesh) clusterPolicies() []policySet {
	out := make([]policySet, len(m.clusters))
	for i, cs := range m.clusters {
		if cs.factory == nil {
			continue
		}
		var err error
		if out[i].drs, err = cs.drs.List(labels.Everything()); err != nil {
			m.log.Error("listing DestinationRules from cache", "cluster", cs.name, "err", err)
		}
		if out[i].pas, err = cs.pas.List(labels.Everything()); err != nil {
			m.log.Error("listing PeerAuthentications from cache", "cluster", cs.name, "err", err)
		}
		if out[i].aps, err = cs.aps.List(labels.Everything()); err != nil {
			m.log.Error("listing AuthorizationPolicies from cache", "cluster", cs.name, "err", err)
		}
		if cs.gws != nil {
			if out[i].gws, err = cs.gws.List(labels.Everything()); err != nil {
				m.log.Error("listing Gateways from cache", "cluster", cs.name, "err", err)
			}
		}
	}
	return out
}

// multiCluster: the mesh has remote clusters, each its own network.
func (m *Mesh) multiCluster() bool { return len(m.clusters) > 1 }

// clusterIndex finds a cluster by name; "" is the primary.
func (m *Mesh) clusterIndex(name string) (int, bool) {
	if name == "" {
		return 0, true
	}
	for i, cs := range m.clusters {
		if cs.name == name {
			return i, true
		}
	}
	return 0, false
}

// autoMTLSOf is the mesh config's enableAutoMtls of a cluster's istiod (mu held).
func (m *Mesh) autoMTLSOf(cluster int) bool {
	if cluster == 0 {
		return m.autoMTLS
	}
	return m.clusters[cluster].autoMTLS
}

// findNetworkGateways sets each cluster's east-west gateway: a Gateway
// workload of the cluster selected by a Service of its root namespace
// with the port 15443, as istiod finds it by that Service
// (pilot/pkg/serviceregistry/kube/controller/network.go getGatewayDetails).
func (m *Mesh) findNetworkGateways() {
	for _, key := range sortedKeys(m.idx.services) {
		s := m.idx.services[key]
		if s.port(NetworkGatewayPort) == nil {
			continue
		}
		for _, w := range m.idx.endpoints[key] {
			cs := m.clusters[w.clusterIdx]
			if w.Gateway && s.Namespace == cs.root && cs.gateway == nil {
				cs.gateway = w
			}
		}
	}
}

// isNetworkGatewayService: the Service istiod takes for its cluster's
// network gateway, labelled with the network.
func (m *Mesh) isNetworkGatewayService(s *Service) bool {
	if !m.multiCluster() || s.port(NetworkGatewayPort) == nil {
		return false
	}
	for _, w := range m.idx.endpoints[s.Namespace+"/"+s.Name] {
		if m.clusters[w.clusterIdx].gateway == w {
			return true
		}
	}
	return false
}

// gatewayListening: the cluster's east-west gateway has a listener on
// 15443 in AUTO_PASSTHROUGH mode, from a Gateway of its config selecting
// its pod (pilot/pkg/networking/core/gateway.go builtAutoPassthroughFilterChains).
// Without one, a client sent there by EDS finds nothing listening.
func (m *Mesh) gatewayListening(cluster int, pol []policySet) bool {
	gw := m.clusters[cluster].gateway
	if gw == nil {
		return false
	}
	for _, g := range pol[cluster].gws {
		if len(g.Spec.GetSelector()) == 0 || !istio.SelectorMatches(g.Spec.GetSelector(), m.pods[gw].Labels) {
			continue
		}
		for _, s := range g.Spec.GetServers() {
			if s.GetPort().GetNumber() == NetworkGatewayPort && s.GetTls().GetMode() == networkingapi.ServerTLSSettings_AUTO_PASSTHROUGH {
				return true
			}
		}
	}
	return false
}

// keepCrossNetwork is istiod's split-horizon EDS for an endpoint on
// another network (pilot/pkg/xds/endpoints/ep_filters.go
// EndpointsByNetworkFilter): it is kept, replaced by its network's gateway,
// only if the client would send it Istio mTLS, as the client's own istiod
// decides it (mtls_checker.go checkMtlsEnabled, with the client cluster's
// DestinationRule and PeerAuthentications): a DestinationRule tls mode for
// the port decides alone (ISTIO_MUTUAL keeps it, any other drops it);
// otherwise the endpoint needs the label security.istio.io/tlsMode=istio (a
// sidecar) and a PeerAuthentication mode other than DISABLE. "Cross-network
// traffic relies on mTLS for SNI routing": the rest is dropped.
func keepCrossNetwork(policy istio.ClientPolicy, server *Workload, endpointMode istio.PeerMode) bool {
	if policy.EndpointTLS != istio.TLSModeNone {
		return policy.EndpointTLS == istio.TLSModeIstioMutual
	}
	return server.tlsModeIstio() && endpointMode != istio.PeerModeDisable
}

// decideCrossNetwork: a connection to an endpoint of another network,
// sent to that network's east-west gateway. The gateway's endpoint carries
// tlsMode=istio (ep_filters.go), so the client's cluster sends it Istio
// mTLS wherever its TLS settings would for a sidecar (DestinationRule
// ISTIO_MUTUAL, or auto mTLS unless the Service namespace is DISABLE); the
// gateway's AUTO_PASSTHROUGH filter chains match only the cluster's SNI
// with Istio's mTLS ALPNs (gateway.go builtAutoPassthroughFilterChains),
// so anything else is closed there. Matched, the TLS goes through
// unterminated to the server's sidecar, which sees the client's certificate
// and enforces its own cluster's PeerAuthentication.
func decideCrossNetwork(in DecisionInput) Decision {
	var d Decision
	var client string
	switch {
	case in.ClientTLS == istio.TLSModeIstioMutual:
		d.ClientMTLS, client = true, "client mTLS (DestinationRule ISTIO_MUTUAL)"
	case in.ClientTLS == istio.TLSModeSimple || in.ClientTLS == istio.TLSModeMutual:
		d.ClientTLSOrigination, client = true, "client originates non-Istio TLS"
	case in.ClientTLS == istio.TLSModeDisable:
		client = "client plaintext (DestinationRule DISABLE)"
	case !in.AutoMTLS:
		client = "client plaintext (no DestinationRule tls, auto mTLS off)"
	case in.ServiceMode == istio.PeerModeDisable:
		client = "client plaintext (auto mTLS, service namespace DISABLE)"
	default:
		d.ClientMTLS, client = true, "client mTLS (auto mTLS: the gateway's endpoint is tlsMode istio)"
	}
	server := "through the east-west gateway to " + serverDescription(in)
	switch {
	case !in.NetworkGateway:
		d.Failure = FailureUnreachable
		server = "no east-west gateway listening on 15443 (AUTO_PASSTHROUGH) in the server's network"
	case d.ClientTLSOrigination:
		d.Failure = FailureHandshake // no Istio ALPN: no filter chain of the gateway matches
	case !d.ClientMTLS:
		d.Failure = FailureReset
		server = "the east-west gateway, whose AUTO_PASSTHROUGH chains take only Istio mTLS"
	case in.ServerSidecar && in.ServerUnexpectedIdentity:
		d.Failure = FailureHandshake
		server += " whose certificate names an identity the client does not expect"
	case in.ServerGateway:
	case !in.ServerSidecar || in.ServerMode == istio.PeerModeDisable:
		d.Failure = FailureHandshake
	}
	d.Accepted = d.Failure == FailureNone
	d.Reason = client + ", " + server
	return d
}

// gatewayEndpointPeer is what a client proxy knows of a cross-network
// upstream that told it nothing: the gateway endpoint's istio.workload
// metadata names only the cluster (ep_filters.go, util.go
// AppendLbEndpointMetadata with no workload); the namespace and principal
// come from the TLS session when there is one.
func gatewayEndpointPeer(server *Workload, mtls bool, trustDomain string) peer {
	p := unknownPeer
	p.cluster = server.clusterID
	if mtls {
		p.principal = server.principal(trustDomain)
		p.namespace = server.Namespace
	}
	return p
}

// gatewayReport records what the east-west gateway's own proxy reports of
// a batch it forwarded: its 15443 chains carry the TCP istio.stats filter
// of a gateway (networkfilter.go buildCompleteNetworkFilters,
// pilot/pkg/model/telemetry.go), on an OUTBOUND listener, so reporter
// "source" (istio/proxy istio_stats.cc, before its move to Envoy): the
// gateway as source without a principal (its upstream connection is not
// its TLS), the server from its endpoint's metadata (no app, version or
// principal), the Service from the SNI-DNAT cluster's metadata,
// connection_security_policy unknown, TCP whatever the application
// speaks. Simplified: each request a connection.
func (m *Mesh) gatewayReport(st *callerState, n int64, gateway, server *Workload, svc *Service, d Decision) {
	c := st.caller
	m.metrics.record(report{
		reporter:                 reporterSource,
		source:                   knownPeer(gateway, false, m.trustDomain),
		destination:              endpointPeer(server, false, m.trustDomain),
		service:                  svc,
		serviceNamespace:         svc.Namespace,
		responseFlags:            flagNone,
		connectionSecurityPolicy: unknown,
	}, TCP, n, c, d.Accepted && c.BytesSent+c.BytesReceived > 0)
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
