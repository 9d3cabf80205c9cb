// The findings: advice derived from nodes, edges and policies (ready for STRICT, STRICT would cut,
// plaintext despite STRICT, handshakes failing, unreadable policies, ...) and the callers STRICT would cut.

package graph

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Finding kinds.
const (
	FindingDisableTowardsStrict = "disable-towards-strict"
	FindingMTLSTowardsNoSidecar = "mtls-towards-no-sidecar"
	FindingStrictButPlaintext   = "strict-but-plaintext"
	FindingReadyForStrict       = "ready-for-strict"
	FindingStrictWouldCut       = "strict-would-cut"
	FindingPolicyUnreadable     = "policy-unreadable"
	FindingTLSHandshakeFailing  = "tls-handshake-failing"
	// FindingRefusedByPolicy: the destination's proxy refuses callers'
	// connections (ambient mode's STRICT refusing plaintext).
	FindingRefusedByPolicy = "refused-by-policy"
	// Ambient mode's findings (issue 21).
	FindingMixedDataPlanes     = "mixed-data-planes"
	FindingDisableInAmbient    = "disable-in-ambient"
	FindingPlainTCPFromAmbient = "plain-tcp-from-ambient"
	FindingL7WithoutWaypoint   = "l7-policy-without-waypoint"
	// FindingMTLSOnly: every caller in the whole look-back used mTLS (said
	// where ready-for-strict does not already say it).
	FindingMTLSOnly = "mtls-only-in-lookback"
)

// findingContext is what findings say about time: the snapshot's moment,
// the rate window and how far the look-back reaches.
type findingContext struct {
	now      time.Time
	window   string
	lookback Lookback
}

// period names what a judgement rests on: "in the look-back (7d, since
// 2026-11-24 00:00 UTC)", or the rate window when the look-back is off.
func (c findingContext) period() string {
	if c.lookback.State == LookbackOff || c.lookback.From == nil {
		return "in the last " + orDefault(c.window, "window")
	}
	return fmt.Sprintf("in the look-back (%s, since %s)", c.lookback.Window, formatTime(*c.lookback.From))
}

// formatTime is how findings write a moment.
func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }

// FindingID is "<kind>:<node or object id>", stable across refreshes.
func FindingID(kind, subject string) string { return kind + ":" + subject }

// CallersCutByStrict lists the incoming edges of node target that a STRICT
// PeerAuthentication on it would refuse: those with any plaintext share
// (open or mixed) now or at any time in the look-back (idle callers
// included), and those of unknown security from a caller outside the mesh,
// which cannot present a mesh certificate. Sorted by edge id.
func CallersCutByStrict(s Snapshot, target string) []Edge {
	inMesh := nodesInMesh(s.Nodes)
	out := []Edge{}
	for _, e := range s.Edges {
		if e.Target == target && cutByStrict(&e, inMesh) {
			out = append(out, e)
		}
	}
	sortEdges(out)
	return out
}

func cutByStrict(e *Edge, inMesh map[string]bool) bool {
	if plaintextSeen(e) {
		return true
	}
	switch e.Status {
	case StatusOpen, StatusMixed:
		return true
	case StatusUnknown:
		return !inMesh[e.Source]
	}
	return false
}

func nodesInMesh(nodes []Node) map[string]bool {
	m := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		m[n.ID] = n.InMesh
	}
	return m
}

// buildFindings derives the findings from sorted nodes and edges. Policy
// findings are only about Services the cluster lists: for other nodes the
// policy is not known.
func buildFindings(nodes []Node, edges []Edge, services map[string]*Service, callers map[string][]callerView, problems []PolicyProblem, ctx findingContext) []Finding {
	inMesh := nodesInMesh(nodes)
	incoming := make(map[string][]*Edge, len(services))
	failing := make(map[string][]*Edge)
	refused := make(map[string][]*Edge)
	for i := range edges {
		e := &edges[i]
		if _, ok := services[e.Target]; ok {
			incoming[e.Target] = append(incoming[e.Target], e)
		}
		if e.TLSFailureRate > 0 {
			failing[e.Target] = append(failing[e.Target], e)
		}
		if e.RefusedRate > 0 {
			refused[e.Target] = append(refused[e.Target], e)
		}
	}

	out := []Finding{}
	for _, n := range nodes {
		if f := failing[n.ID]; len(f) > 0 {
			out = append(out, handshakeFinding(n, f))
		}
		if r := refused[n.ID]; len(r) > 0 {
			out = append(out, refusedFinding(n, r))
		}
		svc, ok := services[n.ID]
		if !ok {
			continue
		}
		out = appendRuleFindings(out, n, svc, incoming[n.ID], callers[n.ID])
		if n.Kind != KindGateway { // PeerAuthentication does not govern a gateway's listeners
			out = appendServiceFindings(out, n, svc, incoming[n.ID], inMesh, ctx)
		}
	}
	for _, p := range problems {
		out = append(out, unreadableFinding(p))
	}
	out = appendAmbientFindings(out, nodes, incoming, services)
	return dedupeFindings(out)
}

// appendAmbientFindings: where ambient mode and sidecars meet.
//   - A namespace whose workloads mix data planes (sidecars and ztunnel):
//     its policy acts differently on each (info).
//   - DISABLE on an ambient workload: ztunnel treats it as PERMISSIVE and
//     keeps its tunnel (istio/istio pilot/pkg/serviceregistry/ambient/
//     authorization.go), so the mode does not do what it says (warning).
//   - Ambient callers of a sidecar that takes no HBONE send it plain TCP
//     (workloads.go setTunnelProtocol; ztunnel outbound.rs): plaintext on
//     the wire inside the mesh (warning).
func appendAmbientFindings(out []Finding, nodes []Node, incoming map[string][]*Edge, services map[string]*Service) []Finding {
	planes := map[string]map[string]bool{}
	byID := make(map[string]*Node, len(nodes))
	for i := range nodes {
		n := &nodes[i]
		byID[n.ID] = n
		if n.Namespace == "" || (n.DataPlane != DataPlaneSidecar && n.DataPlane != DataPlaneAmbient) {
			continue
		}
		if planes[n.Namespace] == nil {
			planes[n.Namespace] = map[string]bool{}
		}
		planes[n.Namespace][n.DataPlane] = true
	}
	for _, ns := range slices.Sorted(maps.Keys(planes)) {
		if len(planes[ns]) < 2 {
			continue
		}
		var members []string
		for _, n := range nodes {
			if n.Namespace == ns && (n.DataPlane == DataPlaneSidecar || n.DataPlane == DataPlaneAmbient) {
				members = append(members, n.ID)
			}
		}
		out = append(out, Finding{
			ID:       FindingID(FindingMixedDataPlanes, ns),
			Kind:     FindingMixedDataPlanes,
			Severity: SeverityInfo,
			Message: fmt.Sprintf("Namespace %s mixes sidecars and ambient mode: its policy applies differently to each (a DestinationRule governs only sidecar callers; ztunnel enforces PeerAuthentication for ambient workloads).",
				ns),
			Nodes: members,
		})
	}
	for _, n := range nodes {
		svc, ok := services[n.ID]
		if !ok {
			continue
		}
		if svc.DataPlane == DataPlaneAmbient && strings.ToUpper(n.PeerAuthentication) == ModeDisable {
			out = append(out, Finding{
				ID:       FindingID(FindingDisableInAmbient, n.ID),
				Kind:     FindingDisableInAmbient,
				Severity: SeverityWarning,
				Message: fmt.Sprintf("%s is in ambient mode, where PeerAuthentication DISABLE is not supported: ztunnel takes it as PERMISSIVE and keeps mutual TLS between ambient workloads.",
					n.ID),
				Nodes:   []string{n.ID},
				Objects: nonEmpty(objectName("PeerAuthentication", svc.PeerAuthenticationSource)),
			})
		}
		if policies := svc.L7PoliciesWithoutWaypoint; len(policies) > 0 {
			// An ALLOW policy left without its L7 rules denies everything
			// they would have allowed; a DENY policy's L7 rules are dropped.
			severity := SeverityWarning
			if slices.ContainsFunc(policies, func(p string) bool { return strings.HasSuffix(p, "(ALLOW)") }) {
				severity = SeverityCritical
			}
			var objects []string
			for _, p := range policies {
				name, _, _ := strings.Cut(p, " ")
				objects = append(objects, objectName("AuthorizationPolicy", name))
			}
			out = append(out, Finding{
				ID:       FindingID(FindingL7WithoutWaypoint, n.ID),
				Kind:     FindingL7WithoutWaypoint,
				Severity: severity,
				Message: fmt.Sprintf("%s is in ambient mode without a waypoint, yet AuthorizationPolicy %s has L7 rules (hosts, methods, paths, request principals or request conditions): ztunnel enforces L4 only, so an ALLOW policy's L7 rules allow nothing and a DENY policy's are ignored. Add a waypoint (istio.io/use-waypoint) or make the rules L4.",
					n.ID, strings.Join(policies, ", ")),
				Nodes:   []string{n.ID},
				Objects: objects,
			})
		}
		if svc.DataPlane != DataPlaneSidecar || svc.AcceptsTunnel {
			continue
		}
		var plain []*Edge
		for _, e := range incoming[n.ID] {
			if src := byID[e.Source]; src != nil && src.DataPlane == DataPlaneAmbient {
				plain = append(plain, e)
			}
		}
		if len(plain) > 0 {
			out = append(out, Finding{
				ID:       FindingID(FindingPlainTCPFromAmbient, n.ID),
				Kind:     FindingPlainTCPFromAmbient,
				Severity: SeverityWarning,
				Message: fmt.Sprintf("Ambient callers %s reach %s over plain TCP: its sidecars take no HBONE (no networking.istio.io/tunnel=http), so ztunnel cannot send them its tunnel.",
					callerList(plain), n.ID),
				Nodes: withSources(n.ID, plain),
				Edges: edgeIDs(plain),
			})
		}
	}
	return out
}

// appendRuleFindings are the findings about what callers' DestinationRules
// make them send, judged per calling workload (each sidecar gets its own
// rules). Without callers, the view from the Service's own namespace is
// judged, so a wrong rule shows before traffic does.
func appendRuleFindings(out []Finding, n Node, svc *Service, in []*Edge, views []callerView) []Finding {
	pa := strings.ToUpper(n.PeerAuthentication)
	paObject := objectName("PeerAuthentication", svc.PeerAuthenticationSource)
	own := !slices.ContainsFunc(views, func(v callerView) bool { return v.caller != "" })
	if len(views) == 0 {
		views = []callerView{{tls: ClientTLS{TLS: svc.DestinationRuleTLS, Rule: svc.DestinationRuleSource}}}
	}
	matching := func(mode string) (matched bool, callers, edges, rules []string) {
		for _, v := range views {
			if strings.ToUpper(v.tls.TLS) != mode {
				continue
			}
			matched = true
			if v.caller != "" && !slices.Contains(callers, v.caller) {
				callers = append(callers, v.caller)
			}
			if v.edge != "" && !slices.Contains(edges, v.edge) {
				edges = append(edges, v.edge)
			}
			if r := objectName("DestinationRule", v.tls.Rule); r != "" && !slices.Contains(rules, r) {
				rules = append(rules, r)
			}
		}
		if own && matched {
			edges = edgeIDs(in)
		}
		slices.Sort(callers)
		slices.Sort(edges)
		slices.Sort(rules)
		return matched, callers, edges, rules
	}
	// nodesOf is the target and the sources of the given edges.
	nodesOf := func(ids []string) []string {
		var matched []*Edge
		for _, e := range in {
			if slices.Contains(ids, e.ID) {
				matched = append(matched, e)
			}
		}
		return withSources(n.ID, matched)
	}
	// who names the callers a rule makes do something, or "clients" when the
	// view is the namespace's own.
	who := func(callers, rules []string, verb string) string {
		phrase := orDefault(strings.Join(rules, " and "), "A DestinationRule")
		if len(callers) == 0 {
			return phrase + " makes clients " + verb
		}
		return phrase + " makes " + strings.Join(callers, ", ") + " " + verb
	}

	// A sidecar sends HBONE to an ambient workload whatever its
	// DestinationRule says (pilot/pkg/networking/core/cluster_tls.go).
	if pa == ModeStrict && n.DataPlane != DataPlaneAmbient {
		if ok, callers, edges, rules := matching(TLSDisable); ok {
			out = append(out, Finding{
				ID:       FindingID(FindingDisableTowardsStrict, n.ID),
				Kind:     FindingDisableTowardsStrict,
				Severity: SeverityCritical,
				Message: fmt.Sprintf("%s to %s, whose PeerAuthentication is STRICT, so their requests are refused.",
					who(callers, rules, "send plaintext"), n.ID),
				Nodes:   nodesOf(edges),
				Edges:   edges,
				Objects: append(rules, nonEmpty(paObject)...),
			})
		}
	}
	if !n.InMesh && n.Kind != KindGateway {
		if ok, callers, edges, rules := matching(TLSIstioMutual); ok {
			which := "it has no workload with a sidecar"
			if svc.PartlyInMesh {
				which = "some of its workloads have no sidecar"
			}
			out = append(out, Finding{
				ID:       FindingID(FindingMTLSTowardsNoSidecar, n.ID),
				Kind:     FindingMTLSTowardsNoSidecar,
				Severity: SeverityCritical,
				Message: fmt.Sprintf("%s to %s, but %s to terminate it, so those requests fail.",
					who(callers, rules, "send Istio mutual TLS"), n.ID, which),
				Nodes:   nodesOf(edges),
				Edges:   edges,
				Objects: rules,
			})
		}
	}
	return out
}

// refusedFinding: connections the destination's proxy refused by policy
// never reached the workload; the callers are cut off (what STRICT does
// to plaintext in ambient mode: "everything should still work" is false
// for them).
func refusedFinding(n Node, edges []*Edge) Finding {
	return rateFinding(FindingRefusedByPolicy, SeverityWarning, n, edges, func(e *Edge) float64 { return e.RefusedRate },
		func(rate string) string {
			return fmt.Sprintf("%s refuses connections from %s (%s/s): its STRICT PeerAuthentication (or another policy) turns them away, so they never reach it. Bring the callers into the mesh, or relax the policy for them.",
				n.ID, callerList(edges), rate)
		})
}

// handshakeFinding: requests the client side saw fail at the TLS handshake
// are neither mTLS nor plaintext; they are an outage in progress.
func handshakeFinding(n Node, edges []*Edge) Finding {
	return rateFinding(FindingTLSHandshakeFailing, SeverityCritical, n, edges, func(e *Edge) float64 { return e.TLSFailureRate },
		func(rate string) string {
			return fmt.Sprintf("Requests from %s to %s fail at the TLS handshake (%s/s): the callers' DestinationRule and the server's PeerAuthentication or sidecar disagree.",
				callerList(edges), n.ID, rate)
		})
}

// rateFinding is a finding of kind about n's incoming edges that carry a
// rate of what never got through (rateOf), summed for the message.
func rateFinding(kind, severity string, n Node, edges []*Edge, rateOf func(*Edge) float64, message func(rate string) string) Finding {
	var rate float64
	for _, e := range edges {
		rate = addRate(rate, rateOf(e))
	}
	return Finding{
		ID:       FindingID(kind, n.ID),
		Kind:     kind,
		Severity: severity,
		Message:  message(strconv.FormatFloat(rate, 'g', 3, 64)),
		Nodes:    withSources(n.ID, edges),
		Edges:    edgeIDs(edges),
	}
}

func appendServiceFindings(out []Finding, n Node, svc *Service, in []*Edge, inMesh map[string]bool, ctx findingContext) []Finding {
	pa := strings.ToUpper(n.PeerAuthentication)
	paObject := objectName("PeerAuthentication", svc.PeerAuthenticationSource)

	if pa == ModeStrict {
		var plaintext []*Edge
		for _, e := range in {
			// What its sidecar reports now: plaintext from before the
			// STRICT change is history, not a contradiction.
			if !e.Idle && (e.Status == StatusOpen || e.Status == StatusMixed) {
				plaintext = append(plaintext, e)
			}
		}
		if len(plaintext) > 0 {
			out = append(out, Finding{
				ID:       FindingID(FindingStrictButPlaintext, n.ID),
				Kind:     FindingStrictButPlaintext,
				Severity: SeverityWarning,
				Message: fmt.Sprintf("%s has a STRICT PeerAuthentication, yet its sidecar reported plaintext traffic from %s (stale metrics, or traffic bypassing the sidecar).",
					n.ID, callerList(plaintext)),
				Nodes:   withSources(n.ID, plaintext),
				Edges:   edgeIDs(plaintext),
				Objects: nonEmpty(paObject),
			})
		}
	}

	// Only a look-back read in full (or none asked for) may say "never".
	judged := ctx.lookback.State == LookbackOff || ctx.lookback.Known()
	onlyMTLS := n.InMesh && len(in) > 0 && allLocked(in) && judged
	if onlyMTLS && pa != ModePermissive && pa != ModeUnset && ctx.lookback.Known() {
		out = append(out, Finding{
			ID:       FindingID(FindingMTLSOnly, n.ID),
			Kind:     FindingMTLSOnly,
			Severity: SeverityInfo,
			Message:  fmt.Sprintf("Every caller of %s used mutual TLS %s.", n.ID, ctx.period()),
			Nodes:    []string{n.ID},
			Edges:    edgeIDs(in),
			Objects:  nonEmpty(paObject),
		})
	}
	if pa != ModePermissive && pa != ModeUnset {
		return out
	}
	if onlyMTLS {
		out = append(out, Finding{
			ID:       FindingID(FindingReadyForStrict, n.ID),
			Kind:     FindingReadyForStrict,
			Severity: SeverityInfo,
			Message: fmt.Sprintf("All traffic into %s %s was mutual TLS, so its PeerAuthentication (now %s) can be set to STRICT safely.",
				n.ID, ctx.period(), pa),
			Nodes:   []string{n.ID},
			Edges:   edgeIDs(in),
			Objects: nonEmpty(paObject),
		})
	}
	// Without any sidecar nothing would enforce STRICT, so nothing is cut.
	if n.InMesh || svc.PartlyInMesh {
		var cut []*Edge
		for _, e := range in {
			if cutByStrict(e, inMesh) {
				cut = append(cut, e)
			}
		}
		if len(cut) > 0 {
			out = append(out, Finding{
				ID:       FindingID(FindingStrictWouldCut, n.ID),
				Kind:     FindingStrictWouldCut,
				Severity: SeverityWarning,
				Message: fmt.Sprintf("A STRICT PeerAuthentication on %s would refuse its plaintext callers %s: %s.",
					n.ID, ctx.period(), callerListWithLastSeen(cut, ctx.now)),
				Nodes:   withSources(n.ID, cut),
				Edges:   edgeIDs(cut),
				Objects: nonEmpty(paObject),
			})
		}
	}
	return out
}

func unreadableFinding(p PolicyProblem) Finding {
	kind := orDefault(p.Kind, "policy")
	object := kind + " " + clusterNamespace(p.Cluster, p.Namespace) + "/" + p.Name
	reason := strings.TrimRight(strings.TrimSpace(p.Message), ".")
	if reason != "" {
		reason = " (" + reason + ")"
	}
	return Finding{
		ID:       FindingID(FindingPolicyUnreadable, object),
		Kind:     FindingPolicyUnreadable,
		Severity: SeverityWarning,
		Message:  fmt.Sprintf("meshlock could not understand %s%s, so the modes shown may not be the ones Istio applies.", object, reason),
		Objects:  []string{object},
	}
}

// allLocked: every edge is mTLS now and was in the whole look-back.
func allLocked(edges []*Edge) bool {
	for _, e := range edges {
		if e.Status != StatusLocked || plaintextSeen(e) {
			return false
		}
	}
	return true
}

func edgeIDs(edges []*Edge) []string {
	if len(edges) == 0 {
		return nil
	}
	ids := make([]string, len(edges))
	for i, e := range edges {
		ids[i] = e.ID
	}
	return ids
}

// withSources is the target followed by the distinct sources, sorted.
func withSources(target string, edges []*Edge) []string {
	sources := distinctSources(edges)
	out := make([]string, 0, len(sources)+1)
	out = append(out, target)
	for _, s := range sources {
		if s != target {
			out = append(out, s)
		}
	}
	return out
}

func distinctSources(edges []*Edge) []string {
	seen := make(map[string]bool, len(edges))
	var out []string
	for _, e := range edges {
		if !seen[e.Source] {
			seen[e.Source] = true
			out = append(out, e.Source)
		}
	}
	sortStrings(out)
	return out
}

// callerList names at most a few callers so that the message stays a sentence.
func callerList(edges []*Edge) string {
	const shown = 5
	sources := distinctSources(edges)
	if len(sources) <= shown {
		return strings.Join(sources, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(sources[:shown], ", "), len(sources)-shown)
}

// callerListWithLastSeen names the callers like callerList, each idle one
// with the last time it sent what STRICT refuses: the rare callers (a
// nightly job) are the ones a user would not think of.
func callerListWithLastSeen(edges []*Edge, now time.Time) string {
	const shown = 5
	type caller struct {
		id   string
		idle bool
		last time.Time
	}
	var callers []caller
	index := map[string]int{}
	for _, e := range edges {
		i, ok := index[e.Source]
		if !ok {
			i = len(callers)
			index[e.Source] = i
			callers = append(callers, caller{id: e.Source, idle: true})
		}
		c := &callers[i]
		c.idle = c.idle && e.Idle
		c.last = later(c.last, LastPlaintext(*e, now))
	}
	slices.SortFunc(callers, func(a, b caller) int { return strings.Compare(a.id, b.id) })
	names := make([]string, 0, min(len(callers), shown))
	for _, c := range callers[:min(len(callers), shown)] {
		if c.idle && !c.last.IsZero() {
			names = append(names, c.id+" (idle, last seen "+formatTime(c.last)+")")
		} else {
			names = append(names, c.id)
		}
	}
	if len(callers) > shown {
		return fmt.Sprintf("%s and %d more", strings.Join(names, ", "), len(callers)-shown)
	}
	return strings.Join(names, ", ")
}

func objectName(kind, namespacedName string) string {
	if namespacedName == "" {
		return ""
	}
	return kind + " " + namespacedName
}

func nonEmpty(values ...string) []string {
	var out []string
	for _, v := range values {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// dedupeFindings keeps the first finding of each id (duplicate input
// problems) and sorts them.
func dedupeFindings(findings []Finding) []Finding {
	seen := make(map[string]bool, len(findings))
	out := findings[:0]
	for _, f := range findings {
		if !seen[f.ID] {
			seen[f.ID] = true
			out = append(out, f)
		}
	}
	sortFindings(out)
	return out
}
