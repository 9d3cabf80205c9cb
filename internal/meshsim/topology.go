package meshsim

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/meshlock/meshlock/internal/k8s"
)

// Protocol is the application protocol of a service port.
type Protocol string

const (
	HTTP Protocol = "http"
	TCP  Protocol = "tcp"
)

// Workload is one Deployment's worth of pods, simulated as a single pod.
type Workload struct {
	Name           string // the Deployment name, reported as *_workload
	Namespace      string
	ServiceAccount string // principal is spiffe://cluster.local/ns/<ns>/sa/<sa>
	Labels         map[string]string
	Sidecar        bool
}

// ServicePort is one port of a Service. TargetPort 0 means the same as Port.
type ServicePort struct {
	Name       string
	Port       int32
	TargetPort int32
	Protocol   Protocol
}

// Service is a Kubernetes ClusterIP service.
type Service struct {
	Name, Namespace string
	Selector        map[string]string
	Ports           []ServicePort
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
	// round-robin spreading is deterministic.
	endpoints map[string][]*Workload
}

func buildIndex(t Topology) (*index, error) {
	idx := &index{
		workloads: map[string]*Workload{},
		services:  map[string]*Service{},
		endpoints: map[string][]*Workload{},
	}
	var errs []error
	for i := range t.Workloads {
		w := &t.Workloads[i]
		key := w.Namespace + "/" + w.Name
		switch {
		case w.Name == "" || w.Namespace == "":
			errs = append(errs, fmt.Errorf("workload %d: name and namespace are required", i))
		case w.ServiceAccount == "":
			errs = append(errs, fmt.Errorf("workload %s: service account is required", key))
		case idx.workloads[key] != nil:
			errs = append(errs, fmt.Errorf("workload %s: duplicate", key))
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
		idx.services[key] = s
		for _, w := range idx.workloads {
			if w.Namespace == s.Namespace && k8s.SelectorMatches(s.Selector, w.Labels) {
				idx.endpoints[key] = append(idx.endpoints[key], w)
			}
		}
		sort.Slice(idx.endpoints[key], func(a, b int) bool { return idx.endpoints[key][a].Name < idx.endpoints[key][b].Name })
	}
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

// canonicalService follows the injector: canonical-name label, else app, else the workload name.
func (w *Workload) canonicalService() string {
	for _, k := range []string{labelCanonicalName, "app"} {
		if v := w.Labels[k]; v != "" {
			return v
		}
	}
	return w.Name
}

// canonicalRevision: canonical-revision label, else version, else "latest".
func (w *Workload) canonicalRevision() string {
	for _, k := range []string{labelCanonicalRevision, "version"} {
		if v := w.Labels[k]; v != "" {
			return v
		}
	}
	return "latest"
}

func (w *Workload) principal() string { return k8s.Principal(w.Namespace, w.ServiceAccount) }
