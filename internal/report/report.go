// The compliance report: from the graph of a period (every edge judged over the period's history)
// and the audit trail, per namespace and per edge the traffic and its mTLS share, the first and
// last plaintext, the policy now, the exceptions and the enforce actions. Pure: no I/O.

package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/graph"
)

// Input is what a report is made of: the graph of the period (from
// Generator.Snapshot, already narrowed to what the reader may see), the
// enforce actions the reader may see, and where the data came from.
type Input struct {
	Period   Period
	Snapshot graph.Snapshot
	Actions  []enforce.Action
	Source   Source
	// Namespaces asked for; empty: all the reader may see.
	Namespaces []string
}

// Source says which data the report rests on and at what resolution.
type Source struct {
	Kind string `json:"kind"` // "prometheus"
	URL  string `json:"url"`
	// Resolution is the step of the history's subqueries: the precision of
	// first and last times. Volumes are exact increase()s.
	Resolution string `json:"resolution"`
	// Queries is how many bounded steps it took: one a day, or one for a
	// period read from recorded series.
	Queries int `json:"queries"`
	// Retention is Prometheus' storage.tsdb.retention.time, "" when unknown.
	Retention string `json:"retention,omitempty"`
	// DataFrom is the earliest traffic found in the period; nil when none.
	DataFrom *time.Time `json:"dataFrom"`
	// Series are the kinds of series the period was read from, sorted
	// (graph.Series*): "recorded" (meshlock's recording rules, times to
	// their 5m interval), "istio-recorded" (Istio's workload-level rules)
	// or "raw".
	Series []string `json:"series,omitempty"`
}

// Report is the answer of GET /api/report and of `meshlock report`.
type Report struct {
	GeneratedAt time.Time `json:"generatedAt"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	// Namespaces asked for; empty: every namespace the reader may see.
	Namespaces []string `json:"namespaces"`
	Source     Source   `json:"source"`
	// Rule explains how shares are counted, in one sentence.
	Rule       string         `json:"rule"`
	Summary    Summary        `json:"summary"`
	ByNS       []NamespaceRow `json:"byNamespace"`
	Edges      []EdgeRow      `json:"edges"`
	Exceptions []Exception    `json:"exceptions"`
	Actions    []Action       `json:"actions"`
	// Identity is the trust inventory at the report's time (every root
	// with its validity, istiod's figures) and each workload's identity,
	// its observed principals those of the period.
	Identity graph.Identity `json:"identity"`
	// IdentityFindings are the findings on roots, principals (seen in the
	// period) and proxy certificates (root-cert-expiring,
	// root-cert-mismatch, principal-mismatch, workload-cert-expiring).
	IdentityFindings []graph.Finding `json:"identityFindings"`
	// Access is each Service's authorization state (issue 25).
	Access []ServiceAccess `json:"access"`
	Check  *CheckResult    `json:"check,omitempty"`
}

// identityKinds are the finding kinds a report lists in IdentityFindings.
var identityKinds = map[string]bool{graph.FindingRootCertExpiring: true, graph.FindingRootCertMismatch: true,
	graph.FindingPrincipalMismatch: true, graph.FindingWorkloadCertExpiring: true}

// shareRule is the Report's Rule.
const shareRule = "Shares are increase() over the period by the destination side's reports; traffic only a client reported (no sidecar received it) counts as not proven mutual TLS."

// Totals is traffic in the period: requests (HTTP, gRPC) and bytes (TCP),
// each with the part proven mutual TLS, and its share (nil without traffic).
type Totals struct {
	Requests     float64  `json:"requests"`
	MTLSRequests float64  `json:"mtlsRequests"`
	RequestShare *float64 `json:"requestShare"`
	Bytes        float64  `json:"bytes"`
	MTLSBytes    float64  `json:"mtlsBytes"`
	ByteShare    *float64 `json:"byteShare"`
}

func (t *Totals) add(e graph.Edge) {
	h := e.History
	switch h.Unit {
	case graph.VolumeRequests:
		t.Requests += h.Volume
		t.MTLSRequests += h.MTLSVolume
	case graph.VolumeBytes:
		t.Bytes += h.Volume
		t.MTLSBytes += h.MTLSVolume
	}
}

func (t *Totals) finish() {
	t.RequestShare, t.ByteShare = share(t.MTLSRequests, t.Requests), share(t.MTLSBytes, t.Bytes)
}

func share(part, whole float64) *float64 {
	if !(whole > 0) {
		return nil
	}
	r := min(1, max(0, part/whole))
	return &r
}

// Summary is the whole report's totals and edge counts per status.
type Summary struct {
	Totals
	Edges map[string]int `json:"edges"`
}

// NamespaceRow is the traffic into one namespace's services.
type NamespaceRow struct {
	Namespace string `json:"namespace"`
	Totals
	Edges          int        `json:"edges"`
	PlaintextEdges int        `json:"plaintextEdges"`
	FirstPlaintext *time.Time `json:"firstPlaintext"`
	LastPlaintext  *time.Time `json:"lastPlaintext"`
	// Policies counts its services by effective PeerAuthentication mode.
	Policies map[string]int `json:"policies"`
}

// EdgeRow is one edge over the period.
type EdgeRow struct {
	ID              string `json:"id"`
	Source          string `json:"source"`
	Target          string `json:"target"`
	TargetNamespace string `json:"targetNamespace"`
	Protocol        string `json:"protocol"`
	Status          string `json:"status"` // over the period
	// Unit is requests, bytes, or connections for TCP that moved no bytes.
	Unit           string     `json:"unit"`
	Volume         float64    `json:"volume"`
	MTLSVolume     float64    `json:"mtlsVolume"`
	MTLSShare      *float64   `json:"mtlsShare"`
	FirstSeen      *time.Time `json:"firstSeen"`
	LastSeen       *time.Time `json:"lastSeen"`
	FirstPlaintext *time.Time `json:"firstPlaintext"`
	LastPlaintext  *time.Time `json:"lastPlaintext"`
	Policy         Policy     `json:"policy"`
}

// Policy is what applies to an edge's target now.
type Policy struct {
	// PeerAuthentication is the target's effective mode (the weakest of
	// its ports), "" for a target that is no Service or workload of the mesh.
	PeerAuthentication string `json:"peerAuthentication"`
	// Ports are the Service's ports with their own modes.
	Ports []PortPolicy `json:"ports,omitempty"`
	// DestinationRuleTLS is the TLS mode callers' DestinationRules set, ""
	// when none does ("varies" when callers differ).
	DestinationRuleTLS string `json:"destinationRuleTLS"`
}

// PortPolicy is one port's mode.
type PortPolicy struct {
	Port               int32  `json:"port"`
	PeerAuthentication string `json:"peerAuthentication"`
}

// Kinds of an exception.
const (
	ExceptionPermissive      = "permissive"       // accepts plaintext (PERMISSIVE, or no PeerAuthentication: Istio's default)
	ExceptionDisable         = "disable"          // PeerAuthentication DISABLE
	ExceptionPort            = "port-exception"   // a port weaker than the Service's others
	ExceptionClientDisable   = "client-disable"   // a DestinationRule sends plaintext
	ExceptionNoSidecar       = "no-sidecar"       // a workload outside the mesh
	ExceptionPlaintextCaller = "plaintext-caller" // an edge that carried plaintext in the period
)

// Exception is a place where plaintext was allowed or seen.
type Exception struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	// Name is the Service or workload, or for a plaintext caller the edge's
	// "<source> -> <target>".
	Name   string `json:"name"`
	Port   int32  `json:"port,omitempty"`
	Detail string `json:"detail"`
}

// Action is one enforce action of the period, from the audit trail.
type Action struct {
	ID string `json:"id"`
	// Cluster is the cluster it changed, with several.
	Cluster   string     `json:"cluster,omitempty"`
	Who       string     `json:"who"`
	At        time.Time  `json:"at"`
	Scope     string     `json:"scope"`
	Mode      string     `json:"mode"`
	Namespace string     `json:"namespace"`
	Service   string     `json:"service,omitempty"`
	Objects   []string   `json:"objects"` // "create DestinationRule bookinfo/reviews"
	Undone    bool       `json:"undone"`
	UndoneAt  *time.Time `json:"undoneAt,omitempty"`
	UndoneBy  string     `json:"undoneBy,omitempty"`
	Error     string     `json:"error,omitempty"`
}

// Build makes the report. The snapshot's edges carry their period in
// History; an edge without one had no traffic in the period.
func Build(in Input, now time.Time) Report {
	s := in.Snapshot
	r := Report{
		GeneratedAt: now.UTC(), From: in.Period.From.UTC(), To: in.Period.To.UTC(),
		Namespaces: append([]string{}, in.Namespaces...), Source: in.Source, Rule: shareRule,
		Summary: Summary{Edges: map[string]int{graph.StatusLocked: 0, graph.StatusMixed: 0, graph.StatusOpen: 0, graph.StatusUnknown: 0}},
		ByNS:    []NamespaceRow{}, Edges: []EdgeRow{}, Exceptions: []Exception{}, Actions: []Action{},
		Identity: s.Identity.WithLists(), IdentityFindings: []graph.Finding{},
	}
	for _, f := range s.Findings {
		if identityKinds[f.Kind] {
			r.IdentityFindings = append(r.IdentityFindings, f)
		}
	}
	nodes := make(map[string]graph.Node, len(s.Nodes))
	for _, n := range s.Nodes {
		nodes[n.ID] = n
	}
	rows := map[string]*NamespaceRow{}
	row := func(ns string) *NamespaceRow {
		if rows[ns] == nil {
			rows[ns] = &NamespaceRow{Namespace: ns, Policies: map[string]int{}}
		}
		return rows[ns]
	}
	for _, n := range s.Nodes {
		if n.Kind == graph.KindService && n.Namespace != "" {
			row(n.Namespace).Policies[cmp.Or(n.PeerAuthentication, "UNSET")]++
		}
	}
	for _, e := range s.Edges {
		h := e.History
		if h.Unit == "" {
			continue // no traffic in the period
		}
		target := nodes[e.Target]
		er := EdgeRow{
			ID: e.ID, Source: e.Source, Target: e.Target, TargetNamespace: target.Namespace, Protocol: e.Protocol,
			Status: e.Status, Unit: h.Unit, Volume: h.Volume, MTLSVolume: h.MTLSVolume,
			MTLSShare: share(h.MTLSVolume, h.Volume),
			FirstSeen: timePtr(h.FirstSeen), LastSeen: timePtr(h.LastSeen),
			FirstPlaintext: timePtr(h.PlaintextFirstSeen), LastPlaintext: timePtr(h.PlaintextLastSeen),
			Policy: policyOf(target),
		}
		if e.Status == graph.StatusLocked && h.Volume == 0 {
			one := 1.0
			er.MTLSShare = &one // seen, all of it mTLS, too little to count
		}
		r.Edges = append(r.Edges, er)
		r.Summary.Edges[e.Status]++
		r.Summary.add(e)
		if target.Namespace == "" {
			continue // into a namespace the reader may not see ("hidden"): no row of its own
		}
		nsRow := row(target.Namespace)
		nsRow.add(e)
		nsRow.Edges++
		if er.LastPlaintext != nil {
			nsRow.PlaintextEdges++
			nsRow.FirstPlaintext = earliest(nsRow.FirstPlaintext, er.FirstPlaintext)
			nsRow.LastPlaintext = latest(nsRow.LastPlaintext, er.LastPlaintext)
			r.Exceptions = append(r.Exceptions, Exception{Kind: ExceptionPlaintextCaller, Namespace: target.Namespace,
				Name:   e.Source + " -> " + e.Target,
				Detail: fmt.Sprintf("%s of %s %s not proven mutual TLS, last at %s", percent(1-deref(er.MTLSShare)), formatVolume(h.Volume), h.Unit, stamp(*er.LastPlaintext))})
		}
	}
	r.Summary.finish()
	r.Access = accessOf(s)
	for _, nsRow := range rows {
		nsRow.finish()
		r.ByNS = append(r.ByNS, *nsRow)
	}
	slices.SortFunc(r.ByNS, func(a, b NamespaceRow) int { return strings.Compare(a.Namespace, b.Namespace) })
	slices.SortFunc(r.Edges, func(a, b EdgeRow) int { return strings.Compare(a.ID, b.ID) })
	r.Exceptions = append(r.Exceptions, policyExceptions(s.Nodes)...)
	slices.SortStableFunc(r.Exceptions, func(a, b Exception) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Kind, b.Kind),
			strings.Compare(a.Name, b.Name), cmp.Compare(a.Port, b.Port))
	})
	for _, a := range in.Actions {
		if inPeriod(a, in.Period) {
			r.Actions = append(r.Actions, actionOf(a))
		}
	}
	slices.SortFunc(r.Actions, func(a, b Action) int { return a.At.Compare(b.At) })
	return r
}

// ActionConcerns: no namespace asked for, or the action touched one.
func ActionConcerns(a enforce.Action, namespaces []string) bool {
	if len(namespaces) == 0 {
		return true
	}
	for _, ns := range namespaces {
		if a.Namespace == ns {
			return true
		}
		for _, o := range a.Objects {
			if o.Namespace == ns {
				return true
			}
		}
	}
	return false
}

// inPeriod: the action was applied or undone in the period.
func inPeriod(a enforce.Action, p Period) bool {
	in := func(t time.Time) bool { return t.After(p.From) && !t.After(p.To) }
	return in(a.At) || (a.UndoneAt != nil && in(*a.UndoneAt))
}

func actionOf(a enforce.Action) Action {
	out := Action{ID: a.ID, Cluster: a.Cluster, Who: a.Who, At: a.At.UTC(), Scope: a.Scope, Mode: a.Mode, Namespace: a.Namespace,
		Service: a.Service, Objects: []string{}, Undone: a.UndoneAt != nil, UndoneBy: a.UndoneBy, Error: a.Error}
	if a.UndoneAt != nil {
		t := a.UndoneAt.UTC()
		out.UndoneAt = &t
	}
	for _, o := range a.Objects {
		out.Objects = append(out.Objects, fmt.Sprintf("%s %s %s/%s", o.Action, o.Kind, o.Namespace, o.Name))
	}
	return out
}

func policyOf(n graph.Node) Policy {
	p := Policy{PeerAuthentication: n.PeerAuthentication, DestinationRuleTLS: n.DestinationRuleTLS}
	for _, port := range n.Ports {
		p.Ports = append(p.Ports, PortPolicy{Port: port.Port, PeerAuthentication: port.PeerAuthentication})
	}
	return p
}

// policyExceptions are the places where the policy now lets plaintext in
// or out, and the workloads outside the mesh.
func policyExceptions(nodes []graph.Node) []Exception {
	var out []Exception
	for _, n := range nodes {
		if n.Kind == graph.KindUnknown || n.Namespace == "" {
			continue
		}
		if n.Kind == graph.KindService {
			// Some ports STRICT: the others are port-level exceptions, and
			// the Service's weakest mode says nothing more.
			strict := slices.ContainsFunc(n.Ports, func(p graph.ServicePort) bool { return p.PeerAuthentication == "STRICT" })
			switch {
			case strict:
				for _, p := range n.Ports {
					if p.PeerAuthentication != "STRICT" {
						out = append(out, Exception{Kind: ExceptionPort, Namespace: n.Namespace, Name: n.Name, Port: p.Port,
							Detail: fmt.Sprintf("port %d is %s while the Service's other ports are STRICT", p.Port, p.PeerAuthentication)})
					}
				}
			case n.PeerAuthentication == "PERMISSIVE":
				out = append(out, Exception{Kind: ExceptionPermissive, Namespace: n.Namespace, Name: n.Name, Detail: "PeerAuthentication PERMISSIVE: accepts plaintext"})
			case (n.PeerAuthentication == "UNSET" || n.PeerAuthentication == "") && n.InMesh:
				out = append(out, Exception{Kind: ExceptionPermissive, Namespace: n.Namespace, Name: n.Name, Detail: "no PeerAuthentication: Istio's default, PERMISSIVE, accepts plaintext"})
			case n.PeerAuthentication == "DISABLE":
				out = append(out, Exception{Kind: ExceptionDisable, Namespace: n.Namespace, Name: n.Name, Detail: "PeerAuthentication DISABLE: plaintext only"})
			}
			if !n.InMesh {
				out = append(out, Exception{Kind: ExceptionNoSidecar, Namespace: n.Namespace, Name: n.Name, Detail: "its workloads have no sidecar: neither sends nor accepts mutual TLS"})
			}
		}
		if n.Kind == graph.KindWorkload && n.DataPlane == graph.DataPlaneNone {
			out = append(out, Exception{Kind: ExceptionNoSidecar, Namespace: n.Namespace, Name: n.Name, Detail: "workload without a sidecar: its calls are plaintext"})
		}
		if n.DestinationRuleTLS == "DISABLE" {
			out = append(out, Exception{Kind: ExceptionClientDisable, Namespace: n.Namespace, Name: n.Name, Detail: "a DestinationRule sets TLS DISABLE: callers send plaintext"})
		}
		for _, c := range n.CallerTLS {
			if c.TLS == "DISABLE" && n.DestinationRuleTLS != "DISABLE" {
				out = append(out, Exception{Kind: ExceptionClientDisable, Namespace: n.Namespace, Name: n.Name, Port: c.Port,
					Detail: fmt.Sprintf("%s sends plaintext (DestinationRule %s, TLS DISABLE)", c.Caller, c.Rule)})
			}
		}
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func earliest(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.Before(*a)) {
		return b
	}
	return a
}

func latest(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.After(*a)) {
		return b
	}
	return a
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func percent(r float64) string { return fmt.Sprintf("%.1f%%", 100*r) }

func formatVolume(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}
