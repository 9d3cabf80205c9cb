package graph

import "time"

// The inputs. internal/prom produces Samples and internal/k8s produces a
// Cluster; Build turns them into a Snapshot.

// Reporter values as Istio's proxies label them.
const (
	ReporterSource      = "source"
	ReporterDestination = "destination"
	ReporterWaypoint    = "waypoint"
)

// SecurityPolicy values of the connection_security_policy label.
const (
	SecurityMutualTLS = "mutual_tls"
	SecurityNone      = "none"
	SecurityUnknown   = "unknown"
)

// Protocols of an edge.
const (
	ProtocolHTTP = "http"
	ProtocolGRPC = "grpc"
	ProtocolTCP  = "tcp"
)

// Unknown is Istio's label value for what a proxy could not identify, and
// the id of the one node standing for callers from outside the mesh.
const Unknown = "unknown"

// Sample is one series of a rate query: the traffic one proxy reported for
// one combination of labels over the window. Label values are Istio's, as
// they come ("unknown" where the proxy did not know).
type Sample struct {
	Reporter string // ReporterSource, ReporterDestination or ReporterWaypoint
	Protocol string // ProtocolHTTP, ProtocolGRPC or ProtocolTCP (from the metric, not request_protocol)

	SourceWorkload          string
	SourceNamespace         string // source_workload_namespace
	SourceCanonicalService  string
	SourcePrincipal         string
	DestinationWorkload     string
	DestinationNamespace    string // destination_workload_namespace
	DestinationService      string // destination_service (FQDN)
	DestinationServiceName  string
	DestinationServiceNS    string // destination_service_namespace
	DestinationPrincipal    string
	DestinationCanonicalSvc string
	SecurityPolicy          string // connection_security_policy
	ResponseCode            string // HTTP only; "" for TCP

	// Rate is per second over the window: requests for HTTP and gRPC; for
	// TCP, bytes the server sent back (istio_tcp_sent_bytes_total, the
	// metric Kiali draws TCP edges with).
	Rate float64
}

// Cluster is what Kubernetes says, with Istio's policy already resolved by
// internal/k8s for each Service.
type Cluster struct {
	// Namespaces that exist (and are watched).
	Namespaces []string
	Services   []Service
	// Workloads are pods grouped by their controller (the Istio workload
	// name), also those that no Service selects.
	Workloads []Workload
	// Problems are policy objects that could not be understood.
	Problems []PolicyProblem
}

// Service is a Kubernetes Service and the policy that applies to it.
type Service struct {
	Namespace string
	Name      string
	// Workloads are the names of the workloads (in Namespace) it selects.
	Workloads []string
	// InMesh is true when every workload it selects has a sidecar (and it
	// selects at least one).
	InMesh bool
	// PartlyInMesh is true when some but not all of its workloads have one.
	PartlyInMesh bool
	// PeerAuthentication is the effective mode for its workloads: STRICT,
	// PERMISSIVE, DISABLE or UNSET (workload > namespace > root namespace).
	PeerAuthentication string
	// PeerAuthenticationSource names the object that decided it
	// ("<namespace>/<name>"), empty when none applies.
	PeerAuthenticationSource string
	// DestinationRuleTLS is the client-side TLS mode (ISTIO_MUTUAL, DISABLE,
	// SIMPLE, MUTUAL) that a DestinationRule sets for this host as seen from
	// its own namespace, empty when no rule sets one.
	DestinationRuleTLS string
	// DestinationRuleSource names that rule ("<namespace>/<name>").
	DestinationRuleSource string
}

// Workload is a group of pods that Istio reports under one workload name.
type Workload struct {
	Namespace      string
	Name           string
	ServiceAccount string
	Sidecar        bool
}

// PolicyProblem is a DestinationRule or PeerAuthentication that could not
// be read; it becomes a finding.
type PolicyProblem struct {
	Kind      string // DestinationRule or PeerAuthentication
	Namespace string
	Name      string
	Message   string
}

// The output: the snapshot of ../shared/CONTRACT.md.

// Edge statuses.
const (
	StatusLocked  = "locked"
	StatusMixed   = "mixed"
	StatusOpen    = "open"
	StatusUnknown = "unknown"
)

// Node kinds.
const (
	KindService  = "service"
	KindWorkload = "workload"
	KindUnknown  = "unknown"
)

// Snapshot is the whole graph at one moment.
type Snapshot struct {
	GeneratedAt time.Time `json:"generatedAt"`
	Window      string    `json:"window"`
	Stale       bool      `json:"stale"`
	Error       string    `json:"error"`
	Nodes       []Node    `json:"nodes"`
	Edges       []Edge    `json:"edges"`
	Findings    []Finding `json:"findings"`
}

// Node is a Service, a workload without a Service, or the unknown caller.
type Node struct {
	ID                 string `json:"id"`
	Namespace          string `json:"namespace"`
	Name               string `json:"name"`
	Kind               string `json:"kind"`
	InMesh             bool   `json:"inMesh"`
	PeerAuthentication string `json:"peerAuthentication"`
	DestinationRuleTLS string `json:"destinationRuleTLS,omitempty"`
}

// Edge is the traffic from one node to another over one protocol.
type Edge struct {
	ID                   string  `json:"id"`
	Source               string  `json:"source"`
	Target               string  `json:"target"`
	Protocol             string  `json:"protocol"`
	Rate                 float64 `json:"rate"`
	MTLSRatio            float64 `json:"mtlsRatio"`
	Status               string  `json:"status"`
	SourcePrincipal      string  `json:"sourcePrincipal,omitempty"`
	DestinationPrincipal string  `json:"destinationPrincipal,omitempty"`
}

// Finding severities.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// Finding is a place where configuration and observed traffic disagree, or
// where a change would be unsafe.
type Finding struct {
	ID       string   `json:"id"`   // stable across refreshes: kind + objects
	Kind     string   `json:"kind"` // e.g. "disable-towards-strict"
	Severity string   `json:"severity"`
	Message  string   `json:"message"`
	Nodes    []string `json:"nodes,omitempty"`
	Edges    []string `json:"edges,omitempty"`
	Objects  []string `json:"objects,omitempty"` // "DestinationRule default/reviews"
}
