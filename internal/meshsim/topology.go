// The simulated mesh's topology: workloads, Services, ports and callers, the Bookinfo topology,
// and the validated index the Mesh works from.

package meshsim

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/meshlock/meshlock/internal/istio"
)

// Protocol is the application protocol of a service port.
type Protocol string

const (
	HTTP Protocol = "http"
	TCP  Protocol = "tcp"
)

// Workload is one controller's worth of pods, simulated as a single pod.
type Workload struct {
	// Name is the controller's name (the pod's for Kind Pod), reported as
	// *_workload unless WorkloadNameLabel overrides it. Callers name the
	// workload by it ("<namespace>/<name>") in any case, unique over every
	// cluster.
	Name      string
	Namespace string
	// Cluster is the Istio cluster ID of the cluster the workload runs in:
	// "" (or Options.ClusterName) the primary, else a RemoteCluster's Name.
	// Sidecars and gateways only in a remote cluster.
	Cluster string
	// Kind is the controller that owns the pod; "" means Deployment.
	Kind WorkloadKind
	// WorkloadNameLabel, when set, is put on the pod as the label
	// service.istio.io/workload-name, which Istio (1.25+) reports instead of
	// the name it derives from the pod's owner.
	WorkloadNameLabel string
	ServiceAccount    string // principal is spiffe://<trust domain>/ns/<ns>/sa/<sa>
	Labels            map[string]string
	Sidecar           bool
	// Gateway makes the workload an Istio ingress gateway: a pod with only
	// the istio-proxy container (proxy router) and the label
	// istio=ingressgateway. It implies a proxy, whatever Sidecar says.
	Gateway bool
	// Ambient puts the workload in ambient mode: no sidecar, its traffic
	// carried by its node's ztunnel (the pod labelled
	// istio.io/dataplane-mode=ambient, and annotated
	// ambient.istio.io/redirection=enabled as istio-cni does once it
	// redirects it). Not with Sidecar or Gateway.
	Ambient bool
	// Waypoint makes the workload a waypoint: the L7 proxy of the
	// istio-waypoint class in front of ambient workloads (its Deployment's
	// pods labelled gateway.istio.io/managed=istio.io-mesh-controller). It
	// calls nobody and no caller names it; Services name it in Waypoint.
	Waypoint bool
	// Tunnel makes a sidecar take HBONE inbound (the label
	// networking.istio.io/tunnel=http the injector adds in an ambient
	// install): ztunnel then sends it its tunnel, else plain TCP.
	Tunnel bool
	// CertPrincipal, when set, is the SPIFFE ID the proxy's certificate
	// names instead of Istio's spiffe://<trust domain>/ns/<namespace>/sa/<service account>
	// (another ServiceAccount, another namespace, another or an aliased
	// trust domain: a certificate not from istiod's usual issuance). It is
	// the principal reported for the workload. Servers take any client
	// certificate of the mesh's CA; a client's proxy checks a server's
	// against the ServiceAccounts of the Service's pods in the trust domain
	// and its aliases (pilot/pkg/networking/core/cluster_tls.go
	// SubjectAltNames), so Istio mTLS to a server whose principal is none of
	// them fails its handshake (UF,URX). For a sidecar or gateway that
	// takes no HBONE and is behind no waypoint (ztunnel's and waypoints'
	// checks are not simulated).
	CertPrincipal string
	// StalledCertLeft, when not zero, says the proxy's certificate stopped
	// rotating (istio-agent cannot renew it): it had this long left at the
	// mesh's start and keeps aging, below zero once expired. Zero: istio-agent
	// renews its WorkloadCertTTL certificate every WorkloadCertRenewal. For
	// workloads with an istio-agent (sidecars, gateways, waypoints).
	StalledCertLeft time.Duration

	// Set by buildIndex: the cluster's index in Mesh.clusters and its ID.
	clusterIdx int
	clusterID  string
}

// WorkloadKind is the kind of controller that made a workload's pod.
type WorkloadKind string

const (
	KindDeployment  WorkloadKind = "Deployment"
	KindStatefulSet WorkloadKind = "StatefulSet"
	KindDaemonSet   WorkloadKind = "DaemonSet"
	KindCronJob     WorkloadKind = "CronJob"
	KindJob         WorkloadKind = "Job"
	KindRollout     WorkloadKind = "Rollout" // Argo Rollouts
	KindPod         WorkloadKind = "Pod"     // a bare pod, no controller
)

// ServicePort is one port of a Service. TargetPort 0 means the same as Port.
type ServicePort struct {
	Name       string
	Port       int32
	TargetPort int32
	// TargetPortName, when set, makes the Service's targetPort this name; the
	// selected workloads' container port of that name carries the number
	// (TargetPort, or Port when that is 0).
	TargetPortName string
	Protocol       Protocol
}

// Service is a Kubernetes ClusterIP service.
type Service struct {
	Name, Namespace string
	Selector        map[string]string
	Ports           []ServicePort
	// Waypoint, when set, names the waypoint workload of the Service's
	// namespace that its ambient callers' traffic goes through (the label
	// istio.io/use-waypoint on the Service).
	Waypoint string
	// Clusters names further clusters the Service is declared in without a
	// selected workload there ("" the primary). It is declared wherever a
	// workload it selects runs, and in the primary when nowhere else.
	Clusters []string
}

// Caller is a steady stream of requests (HTTP) or connections (TCP) from a
// workload to a service port.
type Caller struct {
	From   string // "<namespace>/<workload name>"
	To     string // "<namespace>/<service name>"
	Port   int32  // service port
	Subset string // optional DestinationRule subset ("" = the whole service)
	// Rate is requests per second (HTTP) or connections opened per second (TCP).
	Rate float64
	// BytesSent and BytesReceived are per TCP connection, from the caller's point of view.
	BytesSent, BytesReceived int64
	// NoMetadataExchange models TCP over mTLS without the istio-peer-exchange
	// ALPN (e.g. PILOT_DISABLE_MX_ALPN, or a proxy that does not offer it):
	// the server then knows the caller only by its certificate. HTTP is not
	// affected (its metadata travels in headers).
	NoMetadataExchange bool
	// Until, when set, stops the caller once the mesh has run this long
	// (simulated time): a CronJob, a nightly backup, a failover path used
	// once, gone from the rate window while its traffic is in the past.
	Until time.Duration
}

// Key identifies the caller in Outcomes: "<from>-><to>:<port>".
func (c Caller) Key() string {
	return fmt.Sprintf("%s->%s:%d", c.From, c.To, c.Port)
}

// Topology is the simulated mesh.
type Topology struct {
	Workloads []Workload
	Services  []Service
	Callers   []Caller
}

// Bookinfo is Istio's sample application plus a sidecar-less legacy client
// calling ratings, the client a STRICT PeerAuthentication would cut off.
func Bookinfo() Topology {
	const ns = "default"
	workload := func(name, sa, app, version string) Workload {
		return Workload{
			Name: name, Namespace: ns, ServiceAccount: sa, Sidecar: true,
			Labels: map[string]string{"app": app, "version": version},
		}
	}
	service := func(name string) Service {
		return Service{
			Name: name, Namespace: ns,
			Selector: map[string]string{"app": name},
			Ports:    []ServicePort{{Name: "http", Port: 9080, TargetPort: 9080, Protocol: HTTP}},
		}
	}
	return Topology{
		Workloads: []Workload{
			workload("productpage-v1", "bookinfo-productpage", "productpage", "v1"),
			workload("details-v1", "bookinfo-details", "details", "v1"),
			workload("reviews-v1", "bookinfo-reviews", "reviews", "v1"),
			workload("reviews-v2", "bookinfo-reviews", "reviews", "v2"),
			workload("reviews-v3", "bookinfo-reviews", "reviews", "v3"),
			workload("ratings-v1", "bookinfo-ratings", "ratings", "v1"),
			{
				Name: "legacy-client", Namespace: "legacy", ServiceAccount: "legacy-client",
				Labels: map[string]string{"app": "legacy-client"}, Sidecar: false,
			},
		},
		Services: []Service{service("productpage"), service("details"), service("reviews"), service("ratings")},
		Callers: []Caller{
			{From: "default/productpage-v1", To: "default/details", Port: 9080, Rate: 2},
			{From: "default/productpage-v1", To: "default/reviews", Port: 9080, Rate: 3},
			{From: "default/reviews-v2", To: "default/ratings", Port: 9080, Rate: 1},
			{From: "default/reviews-v3", To: "default/ratings", Port: 9080, Rate: 1},
			{From: "legacy/legacy-client", To: "default/ratings", Port: 9080, Rate: 0.5},
		},
	}
}

// index is the validated, immutable view of a Topology the Mesh works from.
type index struct {
	workloads map[string]*Workload // "<ns>/<name>"
	services  map[string]*Service
	// endpoints are the workloads a service selects, sorted by name so that
	// round-robin spreading is deterministic: in every cluster, as istiod
	// merges the endpoints of one hostname from every cluster's registry
	// (pilot/pkg/serviceregistry/aggregate/controller.go Services and
	// mergeService, one Service with a ClusterVIPs entry per cluster:
	// pilot/pkg/model/service.go; pilot/pkg/model/endpointshards.go, a
	// shard per cluster).
	endpoints map[string][]*Workload
	// declared are the indexes of the clusters each service is declared in, sorted.
	declared map[string][]int
}

// buildIndex validates the topology of a mesh of the named clusters (the
// primary first). It works on a copy of the workloads.
func buildIndex(t Topology, clusters []string) (*index, error) {
	idx := &index{
		workloads: map[string]*Workload{},
		services:  map[string]*Service{},
		endpoints: map[string][]*Workload{},
		declared:  map[string][]int{},
	}
	clusterOf := func(name string) (int, bool) {
		if name == "" {
			return 0, true
		}
		i := slices.Index(clusters, name)
		return max(i, 0), i >= 0
	}
	t.Workloads = slices.Clone(t.Workloads)
	var errs []error
	for i := range t.Workloads {
		w := &t.Workloads[i]
		key := w.Namespace + "/" + w.Name
		ci, known := clusterOf(w.Cluster)
		w.clusterIdx, w.clusterID = ci, clusters[ci]
		switch {
		case !known:
			errs = append(errs, fmt.Errorf("workload %s: unknown cluster %q", key, w.Cluster))
		case ci > 0 && (w.Ambient || w.Waypoint):
			// Ambient multi-network is feature-gated in Istio; not simulated.
			errs = append(errs, fmt.Errorf("workload %s: ambient and waypoints only in the primary cluster", key))
		case w.Name == "" || w.Namespace == "":
			errs = append(errs, fmt.Errorf("workload %d: name and namespace are required", i))
		case w.ServiceAccount == "":
			errs = append(errs, fmt.Errorf("workload %s: service account is required", key))
		case idx.workloads[key] != nil:
			errs = append(errs, fmt.Errorf("workload %s: duplicate", key))
		case len(w.Name) > 63:
			// Publish finds the workload's pod by a label whose value is the name.
			errs = append(errs, fmt.Errorf("workload %s: name longer than 63 characters", key))
		case !knownKinds[w.kind()]:
			errs = append(errs, fmt.Errorf("workload %s: unknown kind %q", key, w.Kind))
		case w.kind() == KindJob && cronJobJobName.MatchString(w.Name):
			// Istio takes such a Job for a CronJob's and reports the CronJob's name.
			errs = append(errs, fmt.Errorf("workload %s: a Job named <name>-<8 to 10 digits> is reported as CronJob <name>; use Kind CronJob", key))
		case w.Ambient && w.hasProxy():
			errs = append(errs, fmt.Errorf("workload %s: ambient with a sidecar or as a gateway: ztunnel never captures a pod with a proxy", key))
		case w.Tunnel && !w.Sidecar:
			errs = append(errs, fmt.Errorf("workload %s: Tunnel is for sidecars", key))
		case w.Waypoint && (w.hasProxy() || w.Ambient):
			errs = append(errs, fmt.Errorf("workload %s: a waypoint is neither a sidecar, a gateway nor ambient", key))
		case w.CertPrincipal != "" && (!w.hasProxy() || w.Tunnel):
			errs = append(errs, fmt.Errorf("workload %s: CertPrincipal is for a sidecar or gateway that takes no HBONE", key))
		case w.CertPrincipal != "" && !strings.HasPrefix(w.CertPrincipal, "spiffe://"):
			errs = append(errs, fmt.Errorf("workload %s: CertPrincipal %q is no spiffe:// URI", key, w.CertPrincipal))
		case w.StalledCertLeft != 0 && !w.hasAgent():
			errs = append(errs, fmt.Errorf("workload %s: StalledCertLeft needs an istio-agent (a sidecar, gateway or waypoint): ztunnel exports no certificate expiry", key))
		default:
			idx.workloads[key] = w
		}
	}
	for i := range t.Services {
		s := &t.Services[i]
		key := s.Namespace + "/" + s.Name
		switch {
		case s.Name == "" || s.Namespace == "":
			errs = append(errs, fmt.Errorf("service %d: name and namespace are required", i))
			continue
		case idx.services[key] != nil:
			errs = append(errs, fmt.Errorf("service %s: duplicate", key))
			continue
		case len(s.Selector) == 0:
			// A selector-less service has no endpoints the mesh can route to.
			errs = append(errs, fmt.Errorf("service %s: selector is required", key))
			continue
		}
		seen := map[int32]bool{}
		for _, p := range s.Ports {
			if p.Port <= 0 || seen[p.Port] {
				errs = append(errs, fmt.Errorf("service %s: invalid or duplicate port %d", key, p.Port))
			}
			if p.Protocol != HTTP && p.Protocol != TCP {
				errs = append(errs, fmt.Errorf("service %s port %d: protocol must be %q or %q", key, p.Port, HTTP, TCP))
			}
			seen[p.Port] = true
		}
		if s.Waypoint != "" {
			if w := idx.workloads[s.Namespace+"/"+s.Waypoint]; w == nil || !w.Waypoint {
				errs = append(errs, fmt.Errorf("service %s: waypoint %q is no waypoint workload of its namespace", key, s.Waypoint))
			}
		}
		idx.services[key] = s
		declared := map[int]bool{}
		for _, name := range s.Clusters {
			if ci, ok := clusterOf(name); ok {
				declared[ci] = true
			} else {
				errs = append(errs, fmt.Errorf("service %s: unknown cluster %q", key, name))
			}
		}
		for _, w := range idx.workloads {
			if w.Namespace == s.Namespace && istio.SelectorMatches(s.Selector, w.Labels) {
				idx.endpoints[key] = append(idx.endpoints[key], w)
				declared[w.clusterIdx] = true
				if s.Waypoint != "" && w.CertPrincipal != "" {
					errs = append(errs, fmt.Errorf("workload %s/%s: CertPrincipal behind waypoint %q is not simulated", w.Namespace, w.Name, s.Waypoint))
				}
			}
		}
		if len(declared) == 0 {
			declared[0] = true
		}
		idx.declared[key] = slices.Sorted(maps.Keys(declared))
		if s.Waypoint != "" && len(idx.declared[key]) > 1 {
			errs = append(errs, fmt.Errorf("service %s: a waypoint for a service of several clusters is not simulated", key))
		}
		sort.Slice(idx.endpoints[key], func(a, b int) bool { return idx.endpoints[key][a].Name < idx.endpoints[key][b].Name })
	}
	errs = append(errs, idx.checkPortNames()...)
	keys := map[string]bool{}
	for i, c := range t.Callers {
		key := c.Key()
		switch {
		case !strings.Contains(c.From, "/") || idx.workloads[c.From] == nil:
			errs = append(errs, fmt.Errorf("caller %d: unknown workload %q", i, c.From))
		case !strings.Contains(c.To, "/") || idx.services[c.To] == nil:
			errs = append(errs, fmt.Errorf("caller %d: unknown service %q", i, c.To))
		case idx.services[c.To].port(c.Port) == nil:
			errs = append(errs, fmt.Errorf("caller %s: service has no port %d", key, c.Port))
		case len(idx.endpoints[c.To]) == 0:
			errs = append(errs, fmt.Errorf("caller %s: service selects no workload", key))
		case idx.workloads[c.From].Ambient && slices.ContainsFunc(idx.endpoints[c.To], func(w *Workload) bool { return w.clusterIdx != idx.workloads[c.From].clusterIdx }):
			errs = append(errs, fmt.Errorf("caller %s: an ambient caller of a service of several clusters is not simulated", key))
		case c.Rate < 0 || c.BytesSent < 0 || c.BytesReceived < 0:
			errs = append(errs, fmt.Errorf("caller %s: rate and byte counts must not be negative", key))
		case keys[key]:
			// Outcomes are keyed without the subset, so two such callers would merge.
			errs = append(errs, fmt.Errorf("caller %s: duplicate", key))
		}
		keys[key] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid topology: %w", err)
	}
	return idx, nil
}

func (s *Service) port(number int32) *ServicePort {
	for i := range s.Ports {
		if s.Ports[i].Port == number {
			return &s.Ports[i]
		}
	}
	return nil
}

// checkPortNames: a pod's container port names are unique, so every
// Service port naming a target port on a workload must agree on its number,
// and a number can carry only one name.
func (idx *index) checkPortNames() []error {
	var errs []error
	for _, wkey := range slices.Sorted(maps.Keys(idx.workloads)) {
		w := idx.workloads[wkey]
		byName, byNumber := map[string]int32{}, map[int32]string{}
		for _, p := range idx.portsOf(w) {
			if p.TargetPortName == "" {
				continue
			}
			tp := p.targetPort()
			if n, ok := byName[p.TargetPortName]; ok && n != tp {
				errs = append(errs, fmt.Errorf("workload %s: target port name %q is both %d and %d", wkey, p.TargetPortName, n, tp))
			}
			if n, ok := byNumber[tp]; ok && n != p.TargetPortName {
				errs = append(errs, fmt.Errorf("workload %s: container port %d is named both %q and %q", wkey, tp, n, p.TargetPortName))
			}
			byName[p.TargetPortName], byNumber[tp] = tp, p.TargetPortName
		}
	}
	return errs
}

// portsOf are the ports of every Service that selects w, in service key order.
func (idx *index) portsOf(w *Workload) []ServicePort {
	var out []ServicePort
	for _, key := range slices.Sorted(maps.Keys(idx.endpoints)) {
		if slices.Contains(idx.endpoints[key], w) {
			out = append(out, idx.services[key].Ports...)
		}
	}
	return out
}

var knownKinds = map[WorkloadKind]bool{
	KindDeployment: true, KindStatefulSet: true, KindDaemonSet: true, KindCronJob: true,
	KindJob: true, KindRollout: true, KindPod: true,
}

// cronJobJobName is how Istio recognises a CronJob's Job (pkg/kube/util.go
// cronJobNameRegexp): the name, "-", and 8 to 10 digits.
var cronJobJobName = regexp.MustCompile(`^(.+)-\d{8,10}$`)

func (w *Workload) kind() WorkloadKind {
	if w.Kind == "" {
		return KindDeployment
	}
	return w.Kind
}

// hasProxy: an Istio proxy runs in the pod (a sidecar or a gateway).
func (w *Workload) hasProxy() bool { return w.Sidecar || w.Gateway }

// tlsModeIstio: the pod carries security.istio.io/tlsMode=istio, which
// istiod's auto mTLS looks for. The sidecar injector sets it; the gateway
// injection template does not.
func (w *Workload) tlsModeIstio() bool { return w.Sidecar && !w.Gateway }

// reportedName is the name Istio reports the workload under: the
// service.istio.io/workload-name label when set (pkg/kube/util.go
// GetWorkloadMetaFromPod), else the controller's name, which Publish makes
// Istio derive from the pod.
func (w *Workload) reportedName() string {
	if w.WorkloadNameLabel != "" {
		return w.WorkloadNameLabel
	}
	return w.Name
}

func (p ServicePort) targetPort() int32 {
	if p.TargetPort == 0 {
		return p.Port
	}
	return p.TargetPort
}

const (
	labelCanonicalName     = "service.istio.io/canonical-name"
	labelCanonicalRevision = "service.istio.io/canonical-revision"
)

// canonicalService follows the injection template: canonical-name label,
// else app.kubernetes.io/name, else app, else the owner-derived workload
// name (DeploymentMeta.Name, which the workload-name label does not change).
func (w *Workload) canonicalService() string {
	for _, k := range []string{labelCanonicalName, "app.kubernetes.io/name", "app"} {
		if v := w.Labels[k]; v != "" {
			return v
		}
	}
	return w.Name
}

// canonicalRevision: canonical-revision label, else app.kubernetes.io/version, else version, else "latest".
func (w *Workload) canonicalRevision() string {
	for _, k := range []string{labelCanonicalRevision, "app.kubernetes.io/version", "version"} {
		if v := w.Labels[k]; v != "" {
			return v
		}
	}
	return "latest"
}

// principal is the workload's SPIFFE identity (pkg/spiffe/spiffe.go
// genSpiffeURI: an "@" in the trust domain becomes ".").
// CertPrincipal, when set, replaces it.
func (w *Workload) principal(trustDomain string) string {
	if w.CertPrincipal != "" {
		return w.CertPrincipal
	}
	return spiffeID(trustDomain, w.Namespace, w.ServiceAccount)
}

func spiffeID(trustDomain, namespace, serviceAccount string) string {
	return "spiffe://" + strings.ReplaceAll(trustDomain, "@", ".") + "/ns/" + namespace + "/sa/" + serviceAccount
}
