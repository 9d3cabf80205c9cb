// Benchmark of Build on synthetic meshes of many edges, and a check of the benchmark mesh's shape.

package graph

import (
	"fmt"
	"testing"
)

// benchMesh is a mesh of edges/10 Services in 10 namespaces, each calling
// 10 others: one destination-side series per edge, a third of them split
// into mTLS and plaintext, some edges also reported by the source, and one
// in 50 reported by the source only.
func benchMesh(edges int) ([]Sample, Cluster) {
	services := edges / 10
	var c Cluster
	name := func(i int) (ns, svc string) { return fmt.Sprint("ns-", i%10), fmt.Sprint("svc-", i) }
	for i := range services {
		ns, svc := name(i)
		c.Services = append(c.Services, Service{
			Namespace: ns, Name: svc, Workloads: []string{svc + "-v1"}, InMesh: i%7 != 0,
			PeerAuthentication: []string{ModePermissive, ModeStrict, ModeUnset}[i%3],
			DestinationRuleTLS: []string{"", TLSIstioMutual, TLSDisable}[i%5%3],
		})
		c.Workloads = append(c.Workloads, Workload{Namespace: ns, Name: svc + "-v1", DataPlane: map[bool]string{true: DataPlaneSidecar, false: DataPlaneNone}[i%7 != 0]})
	}
	samples := make([]Sample, 0, edges*3/2)
	for k := range edges {
		from := k / 10
		to := (from + 1 + 7*(k%10)) % services
		fromNS, fromSvc := name(from)
		toNS, toSvc := name(to)
		s := Sample{
			Reporter: ReporterServer, Protocol: ProtocolHTTP, Measure: MeasureRequests,
			Source:      Peer{Namespace: fromNS, Workload: fromSvc + "-v1", Principal: "spiffe://cluster.local/ns/" + fromNS + "/sa/" + fromSvc},
			Destination: Peer{Namespace: toNS, Workload: toSvc + "-v1", Principal: "spiffe://cluster.local/ns/" + toNS + "/sa/" + toSvc},
			Service:     ServiceRef{Namespace: toNS, Name: toSvc},
			Security:    SecurityMutualTLS,
			Rate:        float64(k%13) + 0.5,
		}
		if k%4 == 0 {
			s.Protocol, s.Measure = ProtocolTCP, MeasureBytes
		}
		if k%50 == 0 {
			s.Reporter, s.Security = ReporterClient, SecurityUnknown
			samples = append(samples, s)
			continue
		}
		samples = append(samples, s)
		if k%3 == 0 {
			plain := s
			plain.Security, plain.Source.Principal, plain.Destination.Principal = SecurityPlaintext, "", ""
			samples = append(samples, plain)
		}
		if k%5 == 0 {
			src := s
			src.Reporter, src.Security = ReporterClient, SecurityUnknown
			samples = append(samples, src)
		}
	}
	return samples, c
}

func BenchmarkBuild(b *testing.B) {
	for _, edges := range []int{10000, 50000} {
		samples, cluster := benchMesh(edges)
		b.Run(fmt.Sprint("edges=", edges), func(b *testing.B) {
			b.ReportAllocs()
			var s Snapshot
			for b.Loop() {
				s = Build(samples, cluster, BuildOptions{GeneratedAt: testTime, Window: "1m"})
			}
			if len(s.Edges) != edges {
				b.Fatalf("built %d edges, want %d", len(s.Edges), edges)
			}
			b.ReportMetric(float64(len(samples)), "samples")
		})
	}
}

func TestBenchMeshShape(t *testing.T) {
	samples, cluster := benchMesh(1000)
	s := Build(samples, cluster, BuildOptions{})
	checkInvariants(t, s)
	counts := map[string]int{}
	for _, e := range s.Edges {
		counts[e.Status]++
	}
	if len(s.Edges) != 1000 || len(s.Nodes) != 100 || counts[StatusMixed] == 0 || counts[StatusLocked] == 0 || counts[StatusUnknown] == 0 {
		t.Errorf("bench mesh: %d edges, %d nodes, statuses %v", len(s.Edges), len(s.Nodes), counts)
	}
}
