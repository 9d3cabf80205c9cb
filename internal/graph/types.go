// The graph's types: the inputs (Sample from Prometheus, Cluster from Kubernetes) and the output
// snapshot of the contract (nodes, edges, findings, posture, source statuses).

package graph

import "time"

// The inputs. internal/prom produces Samples and internal/k8s produces a
// Cluster; Build turns them into a Snapshot.

// Which proxy reported a Sample.
const (
	// ReporterClient is the caller's proxy (Istio's reporter="source").
	ReporterClient = "client"
	// ReporterServer is the destination's proxy, or a waypoint in front of
	// it (reporter="destination" or "waypoint").
	ReporterServer = "server"
)

// How the server side saw a connection (only a server's report knows).
const (
	SecurityUnknown   = ""
	SecurityMutualTLS = "mtls"
	SecurityPlaintext = "plaintext"
)

// What became of requests the client side reported.
const (
	OutcomeDelivered = ""
	// OutcomeHandshakeFailed: refused at connection setup, by a server that
	// did not take what the client sent (mTLS, plaintext or other TLS).
	OutcomeHandshakeFailed = "handshake-failed"
	// OutcomeLocal: answered by the client's own proxy; no server saw it.
	OutcomeLocal = "local"
	// OutcomeRefused: a server's report of connections its proxy opened and
	// closed at once, refused by policy (ambient's STRICT): nothing of them
	// reached the workload, plaintext or not.
	OutcomeRefused = "refused"
	// OutcomeForbidden: a server's report of requests answered 403, by its
	// proxy's access policy or by the workload itself, which the metrics do
	// not tell apart; counted denied only on an edge the policy denies.
	OutcomeForbidden = "forbidden"
)

// Protocols of an edge.
const (
	ProtocolHTTP = "http"
	ProtocolGRPC = "grpc"
	ProtocolTCP  = "tcp"
)

// Unknown is the id of the one node standing for callers nobody could
// identify (from outside the mesh).
const Unknown = "unknown"

// Peer is one end of a connection as a report names it; "" where the
// reporting proxy did not know.
type Peer struct {
	// Cluster is the Istio cluster ID of the peer's proxy (source_cluster,
	// destination_cluster); read only when meshlock watches several.
	Cluster   string
	Namespace string
	Workload  string
	Principal string // SPIFFE id, from the peer's certificate
}

// ServiceRef names a Kubernetes Service.
type ServiceRef struct {
	Namespace string
	Name      string
}

// Sample is one series of a rate query: the traffic one proxy reported for
// one combination of labels over the window, in the mesh's neutral terms
// (internal/prom maps Istio's labels to it).
type Sample struct {
	Reporter string // ReporterClient or ReporterServer
	Protocol string // ProtocolHTTP, ProtocolGRPC or ProtocolTCP (from the metric)
	// Measure says what Rate counts: MeasureRequests for HTTP and gRPC;
	// for TCP, MeasureBytes (bytes sent or received: a query each, added up
	// per edge, so that a write-only client counts) or MeasureConnections
	// (connections opened). "" is MeasureRequests.
	Measure string

	Source      Peer
	Destination Peer       // the workload that served it
	Service     ServiceRef // the Service it was addressed to
	Security    string     // Security*, from a server's report, or a client's that opened the mesh's tunnel
	Outcome     string     // Outcome*, from a client's report

	// Rate is per second over the window, in Measure's unit.
	Rate float64
}

// What a Sample's Rate counts.
const (
	MeasureRequests    = "requests"
	MeasureBytes       = "bytes"
	MeasureConnections = "connections"
)

// Cluster is what Kubernetes says, with Istio's policy already resolved by
// internal/k8s for each Service.
type Cluster struct {
	// Name is the Istio cluster ID when meshlock watches several clusters
	// (the value of Istio's source_cluster and destination_cluster labels);
	// "" with one.
	Name string
	// Members are the clusters Merge made this one of, each as its source
	// gave it; nil for one cluster. Each member's own policy, trust domain
	// and root bundles decide for its workloads.
	Members []Cluster
	// Namespaces that exist (and are watched).
	Namespaces []string
	Services   []Service
	// Workloads are pods grouped by their controller (the Istio workload
	// name), also those that no Service selects.
	Workloads []Workload
	// Problems are policy objects that could not be understood.
	Problems []PolicyProblem
	// ClientTLS resolves DestinationRules per calling workload, as Istio
	// does for each sidecar; nil means no DestinationRule applies anywhere.
	ClientTLS ClientTLSFunc
	// TrustDomain is the mesh config's trust domain, the host of the mesh's
	// own SPIFFE principals.
	TrustDomain string
	// TrustDomainAliases are the mesh config's trustDomainAliases: other
	// trust domains whose principals Istio treats as the mesh's own.
	TrustDomainAliases []string
	// RootNamespace is Istio's root namespace, whose root bundle every
	// other namespace's copy is compared with.
	RootNamespace string
	// Roots are the root bundles Istio distributes (the istio-ca-root-cert
	// ConfigMap) in the root namespace and every watched namespace.
	Roots []RootBundle
	// Authorize judges callers of a Service by its access policy; nil when
	// the cluster has none (everything is allowed).
	Authorize AuthorizeFunc
	// AccessPolicies are the cluster's access policies (Istio's
	// AuthorizationPolicies) as findings need them.
	AccessPolicies []AccessPolicy
}

// Authorization decisions.
const (
	AuthzAllow = "allow"
	AuthzDeny  = "deny"
	// AuthzConditional: it depends on what meshlock cannot see (the
	// request's path, method, headers, JWT, source IP, an external
	// authorizer), or differs between the Service's ports or workloads.
	AuthzConditional = "conditional"
)

// Authorization is what the serving workloads' access policy decides for
// an edge's callers.
type Authorization struct {
	Decision string `json:"decision"`
	// Policies are the deciding policies, "<namespace>/<name>" (with
	// several clusters "<cluster>/<namespace>/<name>"), sorted.
	Policies []string `json:"policies,omitempty"`
	// DryRun are the policies in dry-run mode that, enforced, would change
	// the decision.
	DryRun []string `json:"dryRun,omitempty"`
	// MutualTLS and Plaintext are the decisions for the edge's mTLS share
	// (the caller's principal) and its plaintext share (no principal), set
	// when the edge has both and they differ; Decision is then conditional.
	MutualTLS string `json:"mutualTls,omitempty"`
	Plaintext string `json:"plaintext,omitempty"`
}

// AuthorizeFunc answers what the access policy of the workloads Service
// (serviceNamespace, serviceName) selects decides for a caller presenting
// principal (its SPIFFE id; "" for plaintext), over every
// port of the Service; false when it cannot be judged (no proxy enforces a
// policy there, or a proxy meshlock does not model, a waypoint, does). It
// must be pure.
type AuthorizeFunc func(serviceNamespace, serviceName, principal string) (Authorization, bool)

// AccessPolicy is an access policy (an Istio AuthorizationPolicy) as
// findings need it.
type AccessPolicy struct {
	Cluster   string // its cluster's Name
	Namespace string
	Name      string
	Action    string // ALLOW, DENY, AUDIT, CUSTOM
	// SelectsNothing: its selector or targetRefs select no workload.
	SelectsNothing bool
	// AllowsNothing: an ALLOW policy without rules, which matches nothing
	// and so denies every request to what it selects.
	AllowsNothing bool
	// Services are the Services (in Namespace, or every namespace for the
	// root namespace's) some of whose workloads it applies to, as
	// "<namespace>/<name>", sorted.
	Services []string
}

// Service is a Kubernetes Service and the policy that applies to it.
type Service struct {
	Cluster   string // its cluster's Name
	Namespace string
	Name      string
	// Workloads are the names of the workloads (in Namespace) it selects.
	Workloads []string
	// InMesh is true when every workload it selects has a sidecar (and it
	// selects at least one).
	InMesh bool
	// PartlyInMesh is true when some but not all of its workloads have one.
	PartlyInMesh bool
	// DataPlane is the data plane every pod it selects has (DataPlane*),
	// "" when they differ or it selects none.
	DataPlane string
	// AcceptsTunnel: every pod it selects is a sidecar taking ambient's
	// tunnel (HBONE) inbound.
	AcceptsTunnel bool
	// L7PoliciesWithoutWaypoint are the AuthorizationPolicies with L7
	// rules that bind to its ambient pods through ztunnel, which enforces
	// L4 only, while no waypoint serves it: "<namespace>/<name> (ACTION)".
	L7PoliciesWithoutWaypoint []string
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
	// Ports are the Service's ports with the mode Istio enforces on each;
	// PeerAuthentication above is the weakest of them.
	Ports []ServicePort
	// Gateway is true when it selects an Istio gateway: PeerAuthentication
	// does not govern a gateway's listeners.
	Gateway bool
}

// ServicePort is one port of a Service and the PeerAuthentication mode its
// target port gets (portLevelMtls is keyed by the target port).
type ServicePort struct {
	Port int32 `json:"port"`
	// TargetPort is the container port it reaches, a named target port
	// resolved through the pods' container ports; 0 when it cannot be.
	TargetPort int32 `json:"targetPort"`
	// Protocol is Istio's protocol for the port (from appProtocol or the
	// port name's prefix), lower case; "auto" when Istio sniffs it.
	Protocol           string `json:"protocol"`
	PeerAuthentication string `json:"peerAuthentication"`
	// PeerAuthenticationSource names the object that decided it.
	PeerAuthenticationSource string `json:"-"`
}

// ClientTLS is the DestinationRule TLS mode one client workload gets for
// one port of a Service: what its sidecar sends there.
type ClientTLS struct {
	Port int32
	TLS  string // ISTIO_MUTUAL, DISABLE, SIMPLE, MUTUAL, or "" when no rule sets one
	Rule string // "<namespace>/<name>" of the deciding rule, "" when none
}

// ClientTLSFunc answers, for each port of the Service (serviceNamespace,
// serviceName) in the Service's order, the ClientTLS that the sidecar of
// client workload (clientNamespace, clientWorkload) gets. It must be pure.
type ClientTLSFunc func(clientNamespace, clientWorkload, serviceNamespace, serviceName string) []ClientTLS

// Workload is a group of pods that Istio reports under one workload name.
type Workload struct {
	Cluster   string // its cluster's Name
	Namespace string
	Name      string
	// ServiceAccounts of its pods, sorted (more than one during a rollout
	// that changes it).
	ServiceAccounts []string
	// DataPlane is how its traffic meets the mesh: DataPlaneSidecar when
	// every pod has Istio's proxy beside it, DataPlaneAmbient when every pod
	// is captured by the node's proxy (ztunnel), DataPlaneWaypoint for the
	// mesh's own L7 proxies in front of ambient workloads, else
	// DataPlaneNone.
	DataPlane string
	// Gateway is true for Istio ingress and egress gateways (the istio
	// label, or the Gateway API's gateway-name label).
	Gateway bool
	// NetworkGateway: an east-west gateway of a multi-network mesh (a
	// gateway labelled with its network), which passes the sidecars' mTLS
	// through by SNI (AUTO_PASSTHROUGH): both sidecars report the
	// connection, the gateway's own report is a hop of it.
	NetworkGateway bool
	// Pods are the names of its pods, sorted, to join each proxy's
	// certificate expiry (reported per pod) to the workload.
	Pods []string
}

// Data planes of a workload.
const (
	DataPlaneSidecar  = "sidecar"
	DataPlaneAmbient  = "ambient"
	DataPlaneWaypoint = "waypoint"
	DataPlaneNone     = "none"
)

// PolicyProblem is a DestinationRule or PeerAuthentication that could not
// be read; it becomes a finding.
type PolicyProblem struct {
	Cluster   string // its cluster's Name
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
	KindGateway  = "gateway" // an Istio ingress or egress gateway
	// KindServiceAccount stands for the workloads of one namespace and
	// ServiceAccount when a caller is known by its principal only and more
	// than one workload runs as it. Its id is "<namespace>/sa:<name>".
	KindServiceAccount = "serviceaccount"
	KindUnknown        = "unknown"
)

// Snapshot is the whole graph at one moment.
type Snapshot struct {
	GeneratedAt time.Time `json:"generatedAt"`
	Window      string    `json:"window"`
	// TrustDomain is the mesh's (meshConfig.trustDomain); "" when unknown.
	TrustDomain string `json:"trustDomain,omitempty"`
	// TrustDomainAliases are the mesh config's: principals of these are the
	// mesh's own too.
	TrustDomainAliases []string `json:"trustDomainAliases,omitempty"`
	// Clusters are the names of the clusters watched, sorted, when there
	// are several (node ids then begin with the cluster).
	Clusters []string `json:"clusters,omitempty"`
	Stale    bool     `json:"stale"`
	Error    string   `json:"error"`
	// Sources are the inputs the graph was built from, each with its own
	// state; Stale and Error say the same in short (any source failing).
	Sources []SourceStatus `json:"sources"`
	// Lookback is how far back the edges' history reaches.
	Lookback Lookback  `json:"lookback"`
	Posture  Posture   `json:"posture"`
	Nodes    []Node    `json:"nodes"`
	Edges    []Edge    `json:"edges"`
	Findings []Finding `json:"findings"`
	// Identity is the trust inventory and every workload's identity,
	// served by GET /api/identity (not in the stream: the page asks for it).
	Identity Identity `json:"-"`
}

// SourceStatus is the state of one input of the graph.
type SourceStatus struct {
	Name string `json:"name"` // "prometheus", "kubernetes", or "kubernetes/<cluster>"
	// Cluster is the cluster a Kubernetes source watches, when several are.
	Cluster string `json:"cluster,omitempty"`
	OK      bool   `json:"ok"` // its last fetch succeeded
	Error   string `json:"error,omitempty"`
	// LastSuccess is when its last good data was fetched; nil before the first.
	LastSuccess *time.Time `json:"lastSuccess"`
}

// Node is a Service, a workload without a Service, or the unknown caller.
type Node struct {
	ID string `json:"id"`
	// Cluster is the node's Istio cluster ID, when meshlock watches several.
	Cluster            string `json:"cluster,omitempty"`
	Namespace          string `json:"namespace"`
	Name               string `json:"name"`
	Kind               string `json:"kind"`
	InMesh             bool   `json:"inMesh"`
	PeerAuthentication string `json:"peerAuthentication"`
	// DestinationRuleTLS is the TLS mode the callers' DestinationRules set
	// for it: the one every calling workload gets, the view from its own
	// namespace when nothing with a sidecar calls it, TLSVaries when callers
	// get different modes (CallerTLS then lists them).
	DestinationRuleTLS string      `json:"destinationRuleTLS,omitempty"`
	CallerTLS          []CallerTLS `json:"callerTLS,omitempty"`
	// Ports of a Service node, each with its own mode.
	Ports []ServicePort `json:"ports,omitempty"`
	// DataPlane of a workload node: sidecar, ambient or none.
	DataPlane string `json:"dataPlane,omitempty"`
	// ExpectedPrincipals are the SPIFFE ids its workloads' ServiceAccounts
	// give them (a Service node's: those of every workload it selects).
	ExpectedPrincipals []string `json:"expectedPrincipals,omitempty"`
	// ObservedPrincipals are those its workloads presented in mTLS traffic,
	// live and in the look-back.
	ObservedPrincipals []string `json:"observedPrincipals,omitempty"`
	// CertExpiry is when the soonest of its proxies' certificates expires,
	// where Prometheus has istio-agent's figure.
	CertExpiry *time.Time `json:"certExpiry,omitempty"`
	// AuthorizationPolicies are the access policies that apply to some of
	// a Service node's workloads, "<namespace>/<name>" (with several
	// clusters "<cluster>/<namespace>/<name>"), sorted.
	AuthorizationPolicies []string `json:"authorizationPolicies,omitempty"`
	// Stale: its cluster's Kubernetes API is not answering; what it says of
	// policy is that cluster's last good answer.
	Stale bool `json:"stale,omitempty"`
}

// CallerTLS is what one calling workload's DestinationRules set for one
// port of the node.
type CallerTLS struct {
	Caller string `json:"caller"` // "<namespace>/<workload>"
	Port   int32  `json:"port"`
	TLS    string `json:"tls"` // "" when no rule sets one
	Rule   string `json:"rule,omitempty"`
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
	// TLSFailureRate is the rate (requests/s, or TCP connections/s) the
	// client side reported as failed at the TLS handshake (response flags
	// UF or URX): a policy mismatch, not plaintext.
	TLSFailureRate float64 `json:"tlsFailureRate,omitempty"`
	// RefusedRate is the rate (TCP connections/s) the destination's proxy
	// opened and closed at once, refused by policy (ambient mode's STRICT
	// refusing plaintext): neither mTLS nor plaintext that got in.
	RefusedRate float64 `json:"refusedRate,omitempty"`
	// Idle: no traffic in the window, known from the look-back only; Rate
	// is 0, Status and MTLSRatio are those of its look-back.
	Idle bool `json:"idle,omitempty"`
	// History is its traffic over the look-back; omitted when none is known.
	History EdgeHistory `json:"history,omitzero"`
	// CrossCluster: its ends are in different clusters.
	CrossCluster bool `json:"crossCluster,omitempty"`
	// Stale: an end's cluster's Kubernetes API is not answering.
	Stale bool `json:"stale,omitempty"`
	// Authorization is what the target's access policy decides for the
	// caller, live or idle; omitted when the target's cluster has no
	// access policy (all allowed) or it cannot be judged.
	Authorization *Authorization `json:"authorization,omitempty"`
	// DeniedRate is the rate (requests/s, or TCP connections/s) the
	// destination's proxy denied by access policy, as its metrics tell.
	DeniedRate float64 `json:"deniedRate,omitempty"`
}

// Posture is the mesh's mTLS share, HTTP and TCP apart (requests/s are
// never added to bytes/s), and the number of edges of each status.
type Posture struct {
	HTTP   Share          `json:"http"`
	TCP    Share          `json:"tcp"`
	Counts map[string]int `json:"counts"` // per status, every status present
}

// Share is the traffic of one unit over the edges whose status is known
// (locked, mixed, open): Rate in the unit, MTLSRate of it proven mutual TLS,
// Ratio = MTLSRate / Rate, or nil when Rate is 0. UnknownRate is the
// traffic of unknown edges, outside the ratio.
type Share struct {
	Unit        string   `json:"unit"` // "req/s" or "B/s"
	Rate        float64  `json:"rate"`
	MTLSRate    float64  `json:"mtlsRate"`
	Ratio       *float64 `json:"ratio"`
	UnknownRate float64  `json:"unknownRate"`
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
