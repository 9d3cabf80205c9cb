// The synthetic mesh: N namespaces of S Services with E callers between them, the policies that
// make the edges a known mix of locked, open, mixed and unknown, all from one seed.

package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/meshlock/meshlock/internal/meshsim"
)

// Scale is the size of the synthetic mesh.
type Scale struct {
	Namespaces, Services, Edges int // services per namespace; edges are callers
}

func (s Scale) String() string {
	return fmt.Sprintf("%d×%d×%d", s.Namespaces, s.Services, s.Edges)
}

// parseScale reads "namespaces,services per namespace,edges".
func parseScale(v string) (Scale, error) {
	parts := strings.Split(v, ",")
	if len(parts) != 3 {
		return Scale{}, fmt.Errorf("scale %q: want namespaces,services,edges (e.g. 20,50,5000)", v)
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || x < 1 {
			return Scale{}, fmt.Errorf("scale %q: %q is not a positive number", v, p)
		}
		n[i] = x
	}
	s := Scale{Namespaces: n[0], Services: n[1], Edges: n[2]}
	if total := s.Namespaces * s.Services; s.Edges > total*(total-1) {
		return Scale{}, fmt.Errorf("scale %s: %d services allow at most %d distinct callers", s, total, total*(total-1))
	}
	return s, nil
}

// Shape of the generated mesh.
const (
	sidecarShare   = 0.9  // workloads with a sidecar
	tcpShare       = 0.2  // services on a TCP port
	partialShare   = 0.02 // services with a second, sidecar-less workload (partial injection)
	crossNamespace = 0.15 // callers into another namespace
	httpPort       = 9080
	tcpPort        = 5432
	tcpBytesSent   = 512  // per connection, caller to server
	tcpBytesRecv   = 2048 // per connection, server to caller
)

// Policy modes, as the Istio objects spell them.
const (
	modeStrict      = "STRICT"
	modePermissive  = "PERMISSIVE"
	modeDisable     = "DISABLE"
	modeIstioMutual = "ISTIO_MUTUAL"
)

// Rule is a DestinationRule for one Service, in its namespace, setting the client TLS mode.
type Rule struct{ Namespace, Service, TLS string }

// Peer is a namespace-wide PeerAuthentication ("default").
type Peer struct{ Namespace, Mode string }

// Plan is the generated mesh and its policies.
type Plan struct {
	Topology meshsim.Topology
	Rules    []Rule
	Peers    []Peer
}

func namespaceName(i int) string { return fmt.Sprintf("ns-%02d", i) }
func serviceName(j int) string   { return fmt.Sprintf("svc-%03d", j) }

// svc is a generated Service while the plan is made.
type svc struct {
	ns, name string
	tcp      bool
	sidecar  bool // its -v1 workload has one
	partial  bool // it also selects a sidecar-less -legacy workload
}

func (s svc) key() string { return s.ns + "/" + s.name }
func (s svc) port() int32 {
	if s.tcp {
		return tcpPort
	}
	return httpPort
}

// Generate makes the plan for the scale, the same for the same seed.
//
// Each Service svc-NNN selects one Deployment svc-NNN-v1 (a sidecar in 90 %
// of them); 2 % of those with a sidecar also select svc-NNN-legacy without
// one, the partial injection that makes an edge mixed (auto mTLS sends mTLS
// to one endpoint and plaintext to the other). Callers go from a -v1
// workload to another Service, 85 % in its own namespace. Policies: ns-00
// STRICT and ns-01 PERMISSIVE namespace-wide; about 1 % of the Services get
// a DestinationRule DISABLE (the first in ns-00, whose STRICT sidecar then
// refuses it) and as many ISTIO_MUTUAL (the first on a Service without a
// sidecar, which fails the handshake). Partly injected Services get no
// rule, so that which endpoint got plaintext follows from auto mTLS alone
// (see expectedEdges).
func Generate(sc Scale, seed uint64) (Plan, error) { return generate(sc, seed, "", "") }

// generate is Generate for one cluster of several: its namespaces begin
// with prefix, so that no two clusters declare the same Service (meshsim,
// as Istio, would make them one service with endpoints in both), and its
// workloads run in cluster.
func generate(sc Scale, seed uint64, prefix, cluster string) (Plan, error) {
	if sc.Namespaces < 1 || sc.Services < 1 || sc.Edges < 1 {
		return Plan{}, errors.New("every dimension of the scale must be at least 1")
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var plan Plan
	services := make([]svc, 0, sc.Namespaces*sc.Services)
	for i := range sc.Namespaces {
		for j := range sc.Services {
			services = append(services, svc{ns: prefix + namespaceName(i), name: serviceName(j), tcp: rng.Float64() < tcpShare, sidecar: rng.Float64() < sidecarShare})
		}
	}
	// A set number rather than a coin each, so that even a small mesh has mixed edges.
	var injected []int
	for i, s := range services {
		if s.sidecar && (s.ns != prefix+namespaceName(0) || sc.Namespaces == 1) {
			injected = append(injected, i)
		}
	}
	rng.Shuffle(len(injected), func(i, j int) { injected[i], injected[j] = injected[j], injected[i] })
	for _, i := range injected[:min(len(injected), max(1, int(partialShare*float64(len(services)))))] {
		services[i].partial = true
	}
	t := &plan.Topology
	for _, s := range services {
		port := meshsim.ServicePort{Name: "http", Port: httpPort, TargetPort: httpPort, Protocol: meshsim.HTTP}
		if s.tcp {
			port = meshsim.ServicePort{Name: "tcp-db", Port: tcpPort, TargetPort: tcpPort, Protocol: meshsim.TCP}
		}
		t.Services = append(t.Services, meshsim.Service{
			Namespace: s.ns, Name: s.name, Selector: map[string]string{"app": s.name},
			Ports: []meshsim.ServicePort{port},
		})
		t.Workloads = append(t.Workloads, meshsim.Workload{
			Namespace: s.ns, Name: s.name + "-v1", ServiceAccount: s.name, Sidecar: s.sidecar, Cluster: cluster,
			Labels: map[string]string{"app": s.name, "version": "v1"},
		})
		if s.partial {
			t.Workloads = append(t.Workloads, meshsim.Workload{
				Namespace: s.ns, Name: s.name + "-legacy", ServiceAccount: s.name + "-legacy", Cluster: cluster,
				Labels: map[string]string{"app": s.name, "version": "legacy"},
			})
		}
	}

	pairs, err := pickPairs(rng, sc, len(services))
	if err != nil {
		return Plan{}, err
	}
	for _, p := range pairs {
		from, to := services[p[0]], services[p[1]]
		c := meshsim.Caller{From: from.ns + "/" + from.name + "-v1", To: to.key(), Port: to.port(), Rate: 1}
		if to.tcp {
			c.BytesSent, c.BytesReceived = tcpBytesSent, tcpBytesRecv
		}
		t.Callers = append(t.Callers, c)
	}

	plan.Peers = append(plan.Peers, Peer{Namespace: prefix + namespaceName(0), Mode: modeStrict})
	if sc.Namespaces > 1 {
		plan.Peers = append(plan.Peers, Peer{Namespace: prefix + namespaceName(1), Mode: modePermissive})
	}
	plan.Rules = pickRules(rng, services, prefix+namespaceName(0))
	return plan, nil
}

// pickPairs chooses distinct (caller, Service) pairs of service indexes,
// never a Service calling itself. Sparse meshes are sampled (in-namespace
// or across at the set share); dense ones are drawn from every pair.
func pickPairs(rng *rand.Rand, sc Scale, total int) ([][2]int, error) {
	all := total * (total - 1)
	if sc.Edges > all {
		return nil, fmt.Errorf("%d services allow at most %d callers, not %d", total, all, sc.Edges)
	}
	if sc.Edges*4 > all {
		pairs := make([][2]int, 0, all)
		for a := range total {
			for b := range total {
				if a != b {
					pairs = append(pairs, [2]int{a, b})
				}
			}
		}
		rng.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
		return pairs[:sc.Edges], nil
	}
	seen := make(map[[2]int]bool, sc.Edges)
	pairs := make([][2]int, 0, sc.Edges)
	for len(pairs) < sc.Edges {
		a := rng.IntN(total)
		ns := a / sc.Services
		var b int
		if sc.Namespaces > 1 && (sc.Services == 1 || rng.Float64() < crossNamespace) {
			other := rng.IntN(sc.Namespaces - 1)
			if other >= ns {
				other++
			}
			b = other*sc.Services + rng.IntN(sc.Services)
		} else {
			b = ns*sc.Services + rng.IntN(sc.Services)
		}
		p := [2]int{a, b}
		if a == b || seen[p] {
			continue // at most a quarter of the pairs are taken: this ends quickly
		}
		seen[p] = true
		pairs = append(pairs, p)
	}
	return pairs, nil
}

// pickRules chooses the DestinationRules (see Generate).
func pickRules(rng *rand.Rand, services []svc, first string) []Rule {
	n := max(1, len(services)/100)
	taken := map[int]bool{}
	var rules []Rule
	// add puts a rule of mode tls on a random free Service that prefer
	// accepts, else on any free one.
	add := func(tls string, prefer func(svc) bool) {
		for _, ok := range []func(svc) bool{prefer, func(svc) bool { return true }} {
			var candidates []int
			for i, s := range services {
				if !taken[i] && !s.partial && ok(s) {
					candidates = append(candidates, i)
				}
			}
			if len(candidates) > 0 {
				i := candidates[rng.IntN(len(candidates))]
				taken[i] = true
				rules = append(rules, Rule{Namespace: services[i].ns, Service: services[i].name, TLS: tls})
				return
			}
		}
	}
	anywhere := func(svc) bool { return true }
	add(modeDisable, func(s svc) bool { return s.ns == first && s.sidecar })
	add(modeIstioMutual, func(s svc) bool { return !s.sidecar })
	for range n - 1 {
		add(modeDisable, anywhere)
		add(modeIstioMutual, anywhere)
	}
	return rules
}
