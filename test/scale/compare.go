// The edges the dashboard should draw, from meshsim's truth and what each proxy reports, and the
// comparison of /api/graph's edges with them.

package main

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/meshsim"
)

// flow is one measure of an expected edge's traffic, as graph.Build
// accumulates it: what the server side reported (mTLS or plaintext), what
// the client side delivered and what it reported failed at the handshake.
type flow struct{ destMTLS, destPlain, source, failed float64 }

func (f flow) empty() bool {
	return f.destMTLS == 0 && f.destPlain == 0 && f.source == 0 && f.failed == 0
}

// expectedEdge is an edge's traffic in the truth's counts: requests (HTTP)
// or bytes (TCP) in main, TCP connections in conns.
type expectedEdge struct {
	protocol    string
	main, conns flow
}

// want is the status and mTLS share the dashboard should show.
type want struct {
	status      string
	ratio       float64
	tlsFailures bool // the client side reported handshake failures (compared for HTTP only)
}

// expectedEdges maps every caller's truth to the edges it must appear on,
// following what each proxy reports (internal/meshsim's deliver):
//
//   - the client's sidecar, if it has one, reports everything it delivered
//     or failed on <caller's node> -> <service>;
//   - a server sidecar reports what it accepted: under the caller's node
//     when it knows the caller (HTTP always carries the metadata; TCP only
//     over mTLS, through the istio-peer-exchange ALPN), else under "unknown";
//   - a caller without a sidecar is only ever known as "unknown".
//
// The caller's node is the Service selecting its workload
// ("<ns>/svc-i-v1" -> "<ns>/svc-i"), as the graph resolves it.
func expectedEdges(t meshsim.Topology, truth meshsim.Truth) map[string]*expectedEdge {
	nodeOf := workloadNodes(t)
	out := map[string]*expectedEdge{}
	edge := func(src, dst, protocol string) *expectedEdge {
		id := graph.EdgeID(src, dst, protocol)
		e := out[id]
		if e == nil {
			e = &expectedEdge{protocol: protocol}
			out[id] = e
		}
		return e
	}
	for _, c := range t.Callers {
		ct, ok := truth.Callers[c.Key()]
		if !ok {
			continue
		}
		src := nodeOf[c.From]
		serverSrc := graph.Unknown // how the server's sidecar names the caller
		if ct.ClientSidecar {
			serverSrc = src
		}
		shown := plaintextShare(ct, truth, c)
		mtls, plain, failed := float64(ct.MTLS.Count), float64(ct.Plaintext.Count), float64(ct.HandshakeFailed)
		if ct.Protocol == meshsim.HTTP {
			if ct.ClientSidecar {
				e := edge(src, c.To, graph.ProtocolHTTP)
				e.main.source += mtls + plain
				e.main.failed += failed
			}
			if mtls > 0 {
				edge(serverSrc, c.To, graph.ProtocolHTTP).main.destMTLS += mtls
			}
			if plain*shown > 0 {
				edge(serverSrc, c.To, graph.ProtocolHTTP).main.destPlain += plain * shown
			}
			continue
		}
		mtlsBytes := float64(ct.MTLS.BytesSent + ct.MTLS.BytesReceived)
		plainBytes := float64(ct.Plaintext.BytesSent + ct.Plaintext.BytesReceived)
		if ct.ClientSidecar {
			e := edge(src, c.To, graph.ProtocolTCP)
			e.main.source += mtlsBytes + plainBytes
			e.conns.source += mtls + plain
			// A refused connection is a failed handshake (UF,URX) or one the
			// STRICT server closed (no flag); either way it moved no bytes,
			// so only the connections' flow has it and the status is the same.
			e.conns.failed += failed
		}
		if mtls > 0 {
			e := edge(src, c.To, graph.ProtocolTCP) // the peer exchange names the caller
			e.main.destMTLS += mtlsBytes
			e.conns.destMTLS += mtls
		}
		if plain*shown > 0 {
			e := edge(graph.Unknown, c.To, graph.ProtocolTCP) // no exchange without mTLS
			e.main.destPlain += plainBytes * shown
			e.conns.destPlain += plain * shown
		}
	}
	return out
}

// plaintextShare is the part of a caller's delivered plaintext that a
// server sidecar received (and so reported). With one endpoint that is all
// or nothing; with several (partial injection) the requests are spread
// round-robin over the endpoints that took plaintext, and which did follows
// from the client's TLS: plaintext from a sidecar-less client or under
// DISABLE goes everywhere, under auto mTLS only where auto mTLS finds no
// sidecar or the endpoint's mode is DISABLE.
func plaintextShare(ct meshsim.CallerTruth, truth meshsim.Truth, c meshsim.Caller) float64 {
	svc := truth.Services[c.To]
	var endpoints []meshsim.EndpointTruth
	for _, p := range svc.Ports {
		if p.Port == c.Port {
			endpoints = p.Endpoints
		}
	}
	reports := func(ep meshsim.EndpointTruth) bool { return ep.Sidecar && !ep.Gateway }
	if len(endpoints) == 1 {
		if reports(endpoints[0]) {
			return 1
		}
		return 0
	}
	var took, reported int
	for _, ep := range endpoints {
		receives := !ep.Enforced || !ct.ClientSidecar || ct.ClientTLS == modeDisable ||
			(ct.ClientTLS == "" && (!truth.AutoMTLS || svc.NamespaceMode == modeDisable || ep.PeerAuthentication == modeDisable))
		accepts := !ep.Enforced || ep.PeerAuthentication != modeStrict
		if receives && accepts {
			took++
			if reports(ep) {
				reported++
			}
		}
	}
	if took == 0 {
		return 0
	}
	return float64(reported) / float64(took)
}

// workloadNodes maps "<ns>/<workload>" to its node: the Service (smallest
// name) selecting it, else the workload itself.
func workloadNodes(t meshsim.Topology) map[string]string {
	out := map[string]string{}
	for _, w := range t.Workloads {
		key := w.Namespace + "/" + w.Name
		out[key] = key
		best := ""
		for _, s := range t.Services {
			if s.Namespace == w.Namespace && selects(s.Selector, w.Labels) && (best == "" || s.Name < best) {
				best = s.Name
			}
		}
		if best != "" {
			out[key] = graph.NodeID(w.Namespace, best)
		}
	}
	return out
}

func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}

// judge is the status the graph gives such traffic (graph's edgeOf, from
// docs/graph.md: locked only when the server side accounts for all the client
// side reported, within graph.SkewTolerance); false when there is no edge.
func (e *expectedEdge) judge() (want, bool) {
	f := e.main
	if f.empty() {
		f = e.conns
	}
	w := want{tlsFailures: e.main.failed+e.conns.failed > 0}
	dest := f.destMTLS + f.destPlain
	switch {
	case dest > 0:
		w.ratio = f.destMTLS / dest
		switch {
		case f.source-dest > graph.SkewTolerance*f.source:
			w.ratio = f.destMTLS / f.source
			w.status = graph.StatusMixed
			if f.destMTLS == 0 {
				w.status = graph.StatusOpen
			}
		case f.destPlain == 0:
			w.status = graph.StatusLocked
		case f.destMTLS == 0:
			w.status = graph.StatusOpen
		default:
			w.status = graph.StatusMixed
		}
	case f.source > 0 || w.tlsFailures:
		w.status = graph.StatusUnknown
	default:
		return want{}, false
	}
	return w, true
}

// comparison is how the dashboard's edges compare with the expected ones.
type comparison struct {
	Expected, Matched, Unexpected int
	Problems                      []string // sorted by edge id
	// ByStatus counts the expected edges per status.
	ByStatus map[string]int
}

// compareEdges checks every expected edge's status and mTLS share (within
// 0.1) and, for HTTP, that handshake failures show; an edge nobody
// expected is a problem too.
func compareEdges(edges []graph.Edge, expected map[string]*expectedEdge) comparison {
	out := comparison{ByStatus: map[string]int{}}
	wants := map[string]want{}
	for id, e := range expected {
		if w, ok := e.judge(); ok {
			wants[id] = w
			out.ByStatus[w.status]++
		}
	}
	out.Expected = len(wants)
	got := map[string]graph.Edge{}
	for _, e := range edges {
		got[e.ID] = e
		if _, ok := wants[e.ID]; !ok {
			out.Unexpected++
			out.Problems = append(out.Problems, fmt.Sprintf("unexpected edge %s (%s %.2f)", e.ID, e.Status, e.MTLSRatio))
		}
	}
	ids := make([]string, 0, len(wants))
	for id := range wants {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		w := wants[id]
		e, ok := got[id]
		switch {
		case !ok:
			out.Problems = append(out.Problems, fmt.Sprintf("missing edge %s (truth %s %.2f)", id, w.status, w.ratio))
		case e.Status != w.status || math.Abs(e.MTLSRatio-w.ratio) > 0.1:
			out.Problems = append(out.Problems, fmt.Sprintf("edge %s: %s %.2f, truth %s %.2f", id, e.Status, e.MTLSRatio, w.status, w.ratio))
		case e.Protocol == graph.ProtocolHTTP && (e.TLSFailureRate > 0) != w.tlsFailures:
			out.Problems = append(out.Problems, fmt.Sprintf("edge %s: tlsFailureRate %.2f, truth handshakes failed: %v", id, e.TLSFailureRate, w.tlsFailures))
		default:
			out.Matched++
		}
	}
	slices.Sort(out.Problems)
	return out
}
