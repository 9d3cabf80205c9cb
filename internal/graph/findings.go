package graph

import (
	"fmt"
	"strings"
)

// Finding kinds.
const (
	FindingDisableTowardsStrict = "disable-towards-strict"
	FindingMTLSTowardsNoSidecar = "mtls-towards-no-sidecar"
	FindingStrictButPlaintext   = "strict-but-plaintext"
	FindingReadyForStrict       = "ready-for-strict"
	FindingStrictWouldCut       = "strict-would-cut"
	FindingPolicyUnreadable     = "policy-unreadable"
)

// FindingID is "<kind>:<node or object id>", stable across refreshes.
func FindingID(kind, subject string) string { return kind + ":" + subject }

// CallersCutByStrict lists the incoming edges of node target that a STRICT
// PeerAuthentication on it would refuse: those with any plaintext share
// (open or mixed), and those of unknown security from a caller outside the
// mesh, which cannot present a mesh certificate. Sorted by edge id.
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
func buildFindings(nodes []Node, edges []Edge, services map[string]*Service, problems []PolicyProblem) []Finding {
	inMesh := nodesInMesh(nodes)
	incoming := make(map[string][]*Edge, len(services))
	for i := range edges {
		if _, ok := services[edges[i].Target]; ok {
			incoming[edges[i].Target] = append(incoming[edges[i].Target], &edges[i])
		}
	}

	out := []Finding{}
	for _, n := range nodes {
		svc, ok := services[n.ID]
		if !ok {
			continue
		}
		out = appendServiceFindings(out, n, svc, incoming[n.ID], inMesh)
	}
	for _, p := range problems {
		out = append(out, unreadableFinding(p))
	}
	return dedupeFindings(out)
}

func appendServiceFindings(out []Finding, n Node, svc *Service, in []*Edge, inMesh map[string]bool) []Finding {
	pa := strings.ToUpper(n.PeerAuthentication)
	drTLS := strings.ToUpper(svc.DestinationRuleTLS)
	drObject := objectName("DestinationRule", svc.DestinationRuleSource)
	paObject := objectName("PeerAuthentication", svc.PeerAuthenticationSource)
	drPhrase := orDefault(drObject, "A DestinationRule")

	if drTLS == TLSDisable && pa == ModeStrict {
		out = append(out, Finding{
			ID:       FindingID(FindingDisableTowardsStrict, n.ID),
			Kind:     FindingDisableTowardsStrict,
			Severity: SeverityCritical,
			Message: fmt.Sprintf("%s makes clients send plaintext to %s, whose PeerAuthentication is STRICT, so their requests are refused.",
				drPhrase, n.ID),
			Nodes:   []string{n.ID},
			Edges:   edgeIDs(in),
			Objects: nonEmpty(drObject, paObject),
		})
	}

	if drTLS == TLSIstioMutual && !n.InMesh {
		which := "it has no workload with a sidecar"
		if svc.PartlyInMesh {
			which = "some of its workloads have no sidecar"
		}
		out = append(out, Finding{
			ID:       FindingID(FindingMTLSTowardsNoSidecar, n.ID),
			Kind:     FindingMTLSTowardsNoSidecar,
			Severity: SeverityCritical,
			Message: fmt.Sprintf("%s makes clients send Istio mutual TLS to %s, but %s to terminate it, so those requests fail.",
				drPhrase, n.ID, which),
			Nodes:   []string{n.ID},
			Edges:   edgeIDs(in),
			Objects: nonEmpty(drObject),
		})
	}

	if pa == ModeStrict {
		var plaintext []*Edge
		for _, e := range in {
			if e.Status == StatusOpen || e.Status == StatusMixed {
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

	if pa != ModePermissive && pa != ModeUnset {
		return out
	}
	if n.InMesh && len(in) > 0 && allLocked(in) {
		out = append(out, Finding{
			ID:       FindingID(FindingReadyForStrict, n.ID),
			Kind:     FindingReadyForStrict,
			Severity: SeverityInfo,
			Message: fmt.Sprintf("All traffic into %s is mutual TLS, so its PeerAuthentication (now %s) can be set to STRICT safely.",
				n.ID, pa),
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
				Message: fmt.Sprintf("A STRICT PeerAuthentication on %s would refuse its plaintext callers: %s.",
					n.ID, callerList(cut)),
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
	object := kind + " " + NodeID(p.Namespace, p.Name)
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

func allLocked(edges []*Edge) bool {
	for _, e := range edges {
		if e.Status != StatusLocked {
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
