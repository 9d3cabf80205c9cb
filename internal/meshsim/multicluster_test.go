// Scenarios of a multi-primary, multi-network mesh of two clusters (west, the primary, and east),
// each naming the Istio source it follows: namespace sameness, split-horizon EDS through the
// east-west gateway, mTLS end to end, each cluster's own config, and Publish per cluster.

package meshsim

import (
	"reflect"
	"testing"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	rules "github.com/meshlock/meshlock/internal/istio"
)

const (
	clientPrincipal = "spiffe://cluster.local/ns/app/sa/client"
	serverPrincipal = "spiffe://cluster.local/ns/backend/sa/server"
)

// twoClusters: app/client (a sidecar) and app/bare (none) in west; in east
// backend/server-v1 (a sidecar), backend/plain (none) and the east-west
// gateway. server is declared in west too (Clusters), so that west's bare
// client resolves it.
func twoClusters(callers ...Caller) Topology {
	gw, gwSvc := EastWestGateway("east")
	port := []ServicePort{{Name: "http", Port: 8080, Protocol: HTTP}}
	return Topology{
		Workloads: []Workload{
			{Name: "client", Namespace: "app", ServiceAccount: "client", Sidecar: true, Labels: map[string]string{"app": "client"}},
			{Name: "bare", Namespace: "app", ServiceAccount: "bare", Labels: map[string]string{"app": "bare"}},
			{Name: "server-v1", Namespace: "backend", Cluster: "east", ServiceAccount: "server", Sidecar: true, Labels: map[string]string{"app": "server", "version": "v1"}},
			{Name: "plain", Namespace: "backend", Cluster: "east", ServiceAccount: "plain", Labels: map[string]string{"app": "plain"}},
			{Name: "job", Namespace: "backend", Cluster: "east", ServiceAccount: "job", Labels: map[string]string{"app": "job"}},
			gw,
		},
		Services: []Service{
			{Name: "server", Namespace: "backend", Selector: map[string]string{"app": "server"}, Ports: port, Clusters: []string{""}},
			{Name: "plain", Namespace: "backend", Selector: map[string]string{"app": "plain"}, Ports: port},
			gwSvc,
		},
		Callers: callers,
	}
}

var (
	clientToServer   = Caller{From: "app/client", To: "backend/server", Port: 8080, Rate: 1}
	clientToPlain    = Caller{From: "app/client", To: "backend/plain", Port: 8080, Rate: 1}
	westBareToServer = Caller{From: "app/bare", To: "backend/server", Port: 8080, Rate: 1}
	jobToServer      = Caller{From: "backend/job", To: "backend/server", Port: 8080, Rate: 1}
)

type clusterCase struct {
	topology         Topology
	west, east       []runtime.Object
	westMTLS         bool // west's auto mTLS
	eastMTLS         bool
	noEastPassthough bool // no AUTO_PASSTHROUGH Gateway in east
}

// runClusters runs 10 s of a two-cluster mesh.
func runClusters(t *testing.T, tc clusterCase) *Mesh {
	t.Helper()
	west, east := newFakeIstio(), newFakeIstio(tc.east...)
	// Created, not seeded: the fake's tracker files a seeded Gateway where List does not find it.
	for _, o := range tc.west {
		if gw, ok := o.(*networkingv1.Gateway); ok {
			if _, err := west.NetworkingV1().Gateways(gw.Namespace).Create(t.Context(), gw, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		} else if err := west.Tracker().Add(o); err != nil {
			t.Fatal(err)
		}
	}
	if !tc.noEastPassthough {
		if _, err := east.NetworkingV1().Gateways("istio-system").Create(t.Context(), CrossNetworkGateway(), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	m, err := New(Options{
		Topology: tc.topology, Istio: west, AutoMTLS: tc.westMTLS, ClusterName: "west",
		Remotes: []RemoteCluster{{Name: "east", Istio: east, AutoMTLS: tc.eastMTLS}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	m.Tick(10 * time.Second)
	return m
}

// find returns the scraped series whose labels include all of want.
func find(samples []sample, name string, want map[string]string) []sample {
	var out []sample
	for _, s := range samples {
		if s.name != name {
			continue
		}
		match := true
		for k, v := range want {
			if s.labels[k] != v {
				match = false
				break
			}
		}
		if match {
			out = append(out, s)
		}
	}
	return out
}

func wantTruth(t *testing.T, m *Mesh, key string, want CallerTruth) {
	t.Helper()
	got := m.Truth().Callers[key]
	want.Protocol, want.ClientSidecar, want.ClientTLS, want.Rule = got.Protocol, got.ClientSidecar, got.ClientTLS, got.Rule
	if !reflect.DeepEqual(got, want) {
		t.Errorf("truth of %s =\n%+v\nwant\n%+v", key, got, want)
	}
}

// pilot/pkg/xds/endpoints/ep_filters.go EndpointsByNetworkFilter: an endpoint
// of east, reached through east's gateway, is mTLS end to end: east's
// sidecar sees the client's certificate (its principal) and, the istio
// ALPNs passing through, its peer metadata: source_cluster west.
func TestEndpointsByNetworkFilter_CrossNetworkIsMTLSWithClientPrincipal(t *testing.T) {
	m := runClusters(t, clusterCase{topology: twoClusters(clientToServer), westMTLS: true})
	wantTruth(t, m, clientToServer.Key(), CallerTruth{Cluster: "west", MTLS: Delivered{Count: 10},
		ByServerCluster: map[string]ClusterTraffic{"east": {MTLS: Delivered{Count: 10}}}})
	samples := scrape(t, m)
	server := find(samples, "istio_requests_total", map[string]string{"reporter": "destination", "source_workload": "client",
		"source_principal": clientPrincipal, "source_cluster": "west", "destination_workload": "server-v1",
		"destination_principal": serverPrincipal, "destination_cluster": "east", "connection_security_policy": "mutual_tls"})
	client := find(samples, "istio_requests_total", map[string]string{"reporter": "source", "source_workload": "client",
		"source_cluster": "west", "destination_workload": "server-v1", "destination_cluster": "east", "response_code": "200"})
	if len(server) != 1 || server[0].value != 10 || len(client) != 1 || client[0].value != 10 {
		t.Errorf("want 10 requests reported by both sidecars across clusters; got server %v, client %v\nall: %v", server, client, samples)
	}
}

// The east-west gateway's 15443 chains carry a gateway's TCP stats filter on
// an OUTBOUND listener (pilot/pkg/networking/core/networkfilter.go
// buildCompleteNetworkFilters, pilot/pkg/model/telemetry.go; istio/proxy
// istio_stats.cc): reporter source, itself as the source without a
// principal, the server from its endpoint metadata, policy unknown.
func TestAutoPassthroughGatewayReportsTCP_networkfilter(t *testing.T) {
	m := runClusters(t, clusterCase{topology: twoClusters(clientToServer), westMTLS: true})
	samples := scrape(t, m)
	gw := find(samples, "istio_tcp_connections_opened_total", map[string]string{"reporter": "source",
		"source_workload": "istio-eastwestgateway-east", "source_workload_namespace": "istio-system", "source_principal": "unknown",
		"source_cluster": "east", "destination_workload": "server-v1", "destination_principal": "unknown", "destination_app": "unknown",
		"destination_cluster": "east", "destination_service": "server.backend.svc.cluster.local",
		"connection_security_policy": "unknown", "request_protocol": "tcp"})
	if len(gw) != 1 || gw[0].value != 10 {
		t.Errorf("gateway's connections = %v, want one series of 10\nall: %v", gw, samples)
	}
}

// ep_filters.go: "Cross-network traffic relies on mTLS for SNI routing":
// an endpoint of another network the client would not send Istio mTLS is
// dropped from its EDS, not failed. A client whose DestinationRule says
// DISABLE sends everything to its own cluster's endpoints; with none
// there, it has no healthy upstream (UH).
func TestEndpointsByNetworkFilter_DropsEndpointOfClientWithDisable(t *testing.T) {
	tp := twoClusters(clientToServer)
	tp.Workloads = append(tp.Workloads, Workload{Name: "server-west", Namespace: "backend", ServiceAccount: "server", Sidecar: true,
		Labels: map[string]string{"app": "server", "version": "v0"}})
	m := runClusters(t, clusterCase{topology: tp, westMTLS: true, west: []runtime.Object{drTLS("backend", "server", serverFQDN, drDisable)}})
	wantTruth(t, m, clientToServer.Key(), CallerTruth{Cluster: "west", Plaintext: Delivered{Count: 10},
		ByServerCluster: map[string]ClusterTraffic{"west": {Plaintext: Delivered{Count: 10}}}})

	m = runClusters(t, clusterCase{topology: twoClusters(clientToServer), westMTLS: true, west: []runtime.Object{drTLS("backend", "server", serverFQDN, drDisable)}})
	wantTruth(t, m, clientToServer.Key(), CallerTruth{Cluster: "west", NoEndpoint: 10})
	if uh := find(scrape(t, m), "istio_requests_total", map[string]string{"reporter": "source", "response_flags": "UH"}); len(uh) != 1 {
		t.Errorf("want the client's UH series, got %v", uh)
	}
}

// ep_filters.go with mtls_checker.go checkMtlsEnabled: an endpoint without a
// sidecar (no tlsMode=istio label) on another network is dropped under
// auto mTLS.
func TestEndpointsByNetworkFilter_DropsSidecarLessEndpoint(t *testing.T) {
	m := runClusters(t, clusterCase{topology: twoClusters(clientToPlain), westMTLS: true})
	wantTruth(t, m, clientToPlain.Key(), CallerTruth{Cluster: "west", NoEndpoint: 10})
}

// mtls_checker.go: the check reads the PeerAuthentications of the client's
// istiod, its own cluster's: west's DISABLE for backend drops east's
// endpoint though east has no such policy.
func TestMtlsChecker_ClientClusterPeerAuthenticationDecides(t *testing.T) {
	m := runClusters(t, clusterCase{topology: twoClusters(clientToServer), westMTLS: true, west: []runtime.Object{pa("backend", "default", nil, disable)}})
	wantTruth(t, m, clientToServer.Key(), CallerTruth{Cluster: "west", NoEndpoint: 10})
}

// pilot/pkg/networking/core/gateway.go builtAutoPassthroughFilterChains:
// the gateway endpoint is tlsMode istio, so EDS keeps the endpoint, but a
// client cluster without auto mTLS and with no DestinationRule tls sends
// plaintext, which no AUTO_PASSTHROUGH chain (SNI and Istio ALPNs) takes:
// closed (503 UC), the gateway and the server report nothing.
func TestAutoPassthroughRefusesPlaintext_gateway(t *testing.T) {
	m := runClusters(t, clusterCase{topology: twoClusters(clientToServer), westMTLS: false})
	wantTruth(t, m, clientToServer.Key(), CallerTruth{Cluster: "west", HandshakeFailed: 10,
		ByServerCluster: map[string]ClusterTraffic{"east": {HandshakeFailed: 10}}})
	samples := scrape(t, m)
	if uc := find(samples, "istio_requests_total", map[string]string{"reporter": "source", "response_code": "503", "response_flags": "UC",
		"destination_cluster": "east", "destination_workload": "unknown"}); len(uc) != 1 || uc[0].value != 10 {
		t.Errorf("want 10 UC at the client, got %v\nall: %v", uc, samples)
	}
	if len(find(samples, "istio_requests_total", map[string]string{"reporter": "destination"}))+
		len(find(samples, "istio_tcp_connections_opened_total", nil)) != 0 {
		t.Errorf("nothing but the client should report: %v", samples)
	}
	// ISTIO_MUTUAL in west's DestinationRule makes it mTLS.
	m = runClusters(t, clusterCase{topology: twoClusters(clientToServer), west: []runtime.Object{drTLS("backend", "server", serverFQDN, istioMutual)}})
	wantTruth(t, m, clientToServer.Key(), CallerTruth{Cluster: "west", MTLS: Delivered{Count: 10},
		ByServerCluster: map[string]ClusterTraffic{"east": {MTLS: Delivered{Count: 10}}}})
}

// pilot/pkg/serviceregistry/kube/controller/network.go: the gateway is
// found by its Service, the listener made by the Gateway resource; without
// an AUTO_PASSTHROUGH Gateway nothing listens on 15443: UF,URX.
func TestNoAutoPassthroughGateway_network(t *testing.T) {
	m := runClusters(t, clusterCase{topology: twoClusters(clientToServer), westMTLS: true, noEastPassthough: true})
	wantTruth(t, m, clientToServer.Key(), CallerTruth{Cluster: "west", HandshakeFailed: 10,
		ByServerCluster: map[string]ClusterTraffic{"east": {HandshakeFailed: 10}}})
	if f := find(scrape(t, m), "istio_requests_total", map[string]string{"response_flags": "UF,URX"}); len(f) != 1 {
		t.Errorf("want UF,URX at the client, got %v", f)
	}
}

// Each cluster's own PeerAuthentication decides for its servers
// (pilot/pkg/security/authn, per istiod): east's mesh-wide STRICT refuses
// plaintext from a same-network client without a sidecar; west's bare
// client, through kube-proxy, reaches only west's pods (none): it never
// crosses. And mTLS from west still passes STRICT through the gateway.
func TestRemoteStrictRefusesSameNetworkPlaintext_authn(t *testing.T) {
	m := runClusters(t, clusterCase{topology: twoClusters(clientToServer, jobToServer, westBareToServer), westMTLS: true,
		east: []runtime.Object{pa("istio-system", "default", nil, strict)}})
	wantTruth(t, m, jobToServer.Key(), CallerTruth{Cluster: "east", HandshakeFailed: 10,
		ByServerCluster: map[string]ClusterTraffic{"east": {HandshakeFailed: 10}}})
	wantTruth(t, m, westBareToServer.Key(), CallerTruth{Cluster: "west", NoEndpoint: 10})
	wantTruth(t, m, clientToServer.Key(), CallerTruth{Cluster: "west", MTLS: Delivered{Count: 10},
		ByServerCluster: map[string]ClusterTraffic{"east": {MTLS: Delivered{Count: 10}}}})
	ep := m.Truth().Services["backend/server"].Ports[0].Endpoints
	if len(ep) != 1 || ep[0].Cluster != "east" || ep[0].PeerAuthentication != rules.PeerModeStrict {
		t.Errorf("server endpoints = %+v, want server-v1 in east, STRICT", ep)
	}
}

// pilot/pkg/serviceregistry/aggregate/controller.go Services/mergeService
// (pilot/pkg/model/service.go ClusterVIPs): backend/server declared in
// both clusters is one service whose endpoints are in both; the client
// spreads its requests over them, each reported with its cluster.
func TestAggregateController_NamespaceSameness(t *testing.T) {
	tp := twoClusters(clientToServer)
	tp.Workloads = append(tp.Workloads, Workload{Name: "server-v2", Namespace: "backend", ServiceAccount: "server", Sidecar: true,
		Labels: map[string]string{"app": "server", "version": "v2"}})
	m := runClusters(t, clusterCase{topology: tp, westMTLS: true})
	wantTruth(t, m, clientToServer.Key(), CallerTruth{Cluster: "west", MTLS: Delivered{Count: 10},
		ByServerCluster: map[string]ClusterTraffic{"east": {MTLS: Delivered{Count: 5}}, "west": {MTLS: Delivered{Count: 5}}}})
	samples := scrape(t, m)
	for _, dst := range []struct{ workload, cluster string }{{"server-v1", "east"}, {"server-v2", "west"}} {
		s := find(samples, "istio_requests_total", map[string]string{"reporter": "destination", "destination_workload": dst.workload,
			"destination_cluster": dst.cluster, "source_cluster": "west", "connection_security_policy": "mutual_tls"})
		if len(s) != 1 || s[0].value != 5 {
			t.Errorf("%s in %s: got %v", dst.workload, dst.cluster, s)
		}
	}
	if got := m.Truth().Services["backend/server"].Clusters; !reflect.DeepEqual(got, []string{"west", "east"}) {
		t.Errorf("backend/server declared in %v, want [west east]", got)
	}
}

// The client's cluster's config decides what it sends: east (auto mTLS on)
// calls west's server in mTLS, while west (auto mTLS off) calls east's in
// plaintext, refused at east's gateway. West needs its own gateway.
func TestClientClusterConfigDecides(t *testing.T) {
	tp := twoClusters(clientToServer, Caller{From: "backend/job", To: "app/api", Port: 8080, Rate: 1})
	westGW, _ := EastWestGateway("")
	tp.Workloads = append(tp.Workloads, westGW,
		Workload{Name: "api", Namespace: "app", ServiceAccount: "api", Sidecar: true, Labels: map[string]string{"app": "api"}})
	tp.Services = append(tp.Services,
		Service{Name: "api", Namespace: "app", Selector: map[string]string{"app": "api"}, Ports: []ServicePort{{Name: "http", Port: 8080, Protocol: HTTP}}})
	// east's job has a sidecar here.
	for i := range tp.Workloads {
		if tp.Workloads[i].Name == "job" {
			tp.Workloads[i].Sidecar = true
		}
	}
	m := runClusters(t, clusterCase{topology: tp, westMTLS: false, eastMTLS: true, west: []runtime.Object{CrossNetworkGateway()}})
	wantTruth(t, m, "backend/job->app/api:8080", CallerTruth{Cluster: "east", MTLS: Delivered{Count: 10},
		ByServerCluster: map[string]ClusterTraffic{"west": {MTLS: Delivered{Count: 10}}}})
	wantTruth(t, m, clientToServer.Key(), CallerTruth{Cluster: "west", HandshakeFailed: 10,
		ByServerCluster: map[string]ClusterTraffic{"east": {HandshakeFailed: 10}}})
}

// Publish per cluster: each cluster gets its own workloads' pods, the
// Services declared in it and their namespaces; its root namespace, its
// gateway's Service and pod carry its network.
func TestPublishCluster(t *testing.T) {
	m, err := New(Options{Topology: twoClusters(clientToServer), ClusterName: "west", Remotes: []RemoteCluster{{Name: "east"}}})
	if err != nil {
		t.Fatal(err)
	}
	west, east := fake.NewClientset(), fake.NewClientset()
	if err := m.PublishCluster(t.Context(), "", west); err != nil {
		t.Fatal(err)
	}
	if err := m.PublishCluster(t.Context(), "east", east); err != nil {
		t.Fatal(err)
	}
	if err := m.PublishCluster(t.Context(), "north", east); err == nil {
		t.Error("an unknown cluster should fail")
	}
	names := func(list []metav1.ObjectMeta) []string {
		var out []string
		for _, o := range list {
			out = append(out, o.Namespace+"/"+o.Name)
		}
		return out
	}
	services := func(c *fake.Clientset) []string {
		l, _ := c.CoreV1().Services("").List(t.Context(), metav1.ListOptions{})
		var metas []metav1.ObjectMeta
		for _, s := range l.Items {
			metas = append(metas, s.ObjectMeta)
		}
		return names(metas)
	}
	pods := func(c *fake.Clientset) map[string]map[string]string {
		l, _ := c.CoreV1().Pods("").List(t.Context(), metav1.ListOptions{})
		out := map[string]map[string]string{}
		for _, p := range l.Items {
			out[p.Namespace+"/"+p.Labels[workloadLabel]] = p.Labels
		}
		return out
	}
	if got := services(west); !reflect.DeepEqual(got, []string{"backend/server"}) {
		t.Errorf("west's services = %v", got)
	}
	if got := services(east); !reflect.DeepEqual(got, []string{"backend/plain", "backend/server", "istio-system/istio-eastwestgateway"}) {
		t.Errorf("east's services = %v", got)
	}
	if got := pods(west); len(got) != 2 || got["app/client"] == nil || got["app/bare"] == nil {
		t.Errorf("west's pods = %v", got)
	}
	eastPods := pods(east)
	if len(eastPods) != 4 || eastPods["istio-system/istio-eastwestgateway-east"][labelNetwork] != "east" || eastPods["backend/server-v1"][labelNetwork] != "" {
		t.Errorf("east's pods = %v", eastPods)
	}
	svc, err := east.CoreV1().Services("istio-system").Get(t.Context(), "istio-eastwestgateway", metav1.GetOptions{})
	if err != nil || svc.Labels[labelNetwork] != "east" {
		t.Errorf("east's gateway Service: %v, labels %v", err, svc.Labels)
	}
	for cluster, c := range map[string]*fake.Clientset{"west": west, "east": east} {
		ns, err := c.CoreV1().Namespaces().Get(t.Context(), "istio-system", metav1.GetOptions{})
		if err != nil || ns.Labels[labelNetwork] != cluster {
			t.Errorf("%s's istio-system: %v, labels %v", cluster, err, ns.Labels)
		}
	}
	if _, err := west.CoreV1().Namespaces().Get(t.Context(), "backend", metav1.GetOptions{}); err != nil {
		t.Errorf("west declares backend/server, so its namespace: %v", err)
	}
}

// Validation: clusters must exist; ambient stays in the primary.
func TestMultiClusterValidation(t *testing.T) {
	bad := twoClusters()
	bad.Workloads[0].Cluster = "north"
	if _, err := New(Options{Topology: bad, Remotes: []RemoteCluster{{Name: "east"}}}); err == nil {
		t.Error("an unknown cluster should be refused")
	}
	if _, err := New(Options{Topology: twoClusters(), Remotes: []RemoteCluster{{Name: DefaultClusterName}}}); err == nil {
		t.Error("a remote named like the primary should be refused")
	}
	amb := twoClusters()
	amb.Workloads[2].Sidecar, amb.Workloads[2].Ambient = false, true
	if _, err := New(Options{Topology: amb, Remotes: []RemoteCluster{{Name: "east"}}}); err == nil {
		t.Error("an ambient workload in a remote cluster should be refused")
	}
}
