// Several clusters: the synthetic mesh spread over N test-bed clusters (each its own etcd and
// kube-apiserver, one meshsim multi-primary mesh, one Prometheus), meshlock given one kubeconfig
// context per cluster, and the stages of -compare-clusters.

package main

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/test/testbed"
)

// clusterPlan is one cluster's share of the mesh.
type clusterPlan struct {
	// name is its Istio cluster ID and its kubeconfig context; "" when the
	// mesh is one cluster, run as before (meshsim's default ID, no --cluster).
	name string
	plan Plan
}

// clusterName is the i-th cluster's name, from 0: c1, c2, …
func clusterName(i int) string { return fmt.Sprintf("c%d", i+1) }

// clusterScales gives each of n clusters the scale's namespaces and
// Services and an even share of its edges, the first clusters one more
// when they do not divide.
func clusterScales(sc Scale, n int) []Scale {
	out := make([]Scale, n)
	for i := range out {
		out[i] = Scale{Namespaces: sc.Namespaces, Services: sc.Services, Edges: sc.Edges / n}
		if i < sc.Edges%n {
			out[i].Edges++
		}
	}
	return out
}

// generatePlans makes each cluster's plan. One cluster is Generate's plan
// as it always was. With several, every cluster's callers stay in it: the
// first cluster keeps the namespaces' names, the others prefix theirs
// with their name (c2-ns-00), and cluster i draws from seed+i.
func generatePlans(sc Scale, n int, seed uint64) ([]clusterPlan, error) {
	if n <= 1 {
		p, err := Generate(sc, seed)
		return []clusterPlan{{plan: p}}, err
	}
	var out []clusterPlan
	for i, s := range clusterScales(sc, n) {
		if s.Edges < 1 {
			return nil, fmt.Errorf("%d edges cannot be split over %d clusters", sc.Edges, n)
		}
		prefix := ""
		if i > 0 {
			prefix = clusterName(i) + "-"
		}
		p, err := generate(s, seed+uint64(i), prefix, clusterName(i))
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", clusterName(i), err)
		}
		out = append(out, clusterPlan{name: clusterName(i), plan: p})
	}
	return out, nil
}

// joinPlans is the whole mesh: meshsim runs it as one, Prometheus scrapes it as one.
func joinPlans(plans []clusterPlan) Plan {
	if len(plans) == 1 {
		return plans[0].plan
	}
	var out Plan
	for _, cp := range plans {
		t := cp.plan.Topology
		out.Topology.Services = append(out.Topology.Services, t.Services...)
		out.Topology.Workloads = append(out.Topology.Workloads, t.Workloads...)
		out.Topology.Callers = append(out.Topology.Callers, t.Callers...)
		out.Rules = append(out.Rules, cp.plan.Rules...)
		out.Peers = append(out.Peers, cp.plan.Peers...)
	}
	return out
}

// namespaceClusters maps each namespace to its cluster's name.
func namespaceClusters(plans []clusterPlan) map[string]string {
	out := map[string]string{}
	for _, cp := range plans {
		for _, s := range cp.plan.Topology.Services {
			out[s.Namespace] = cp.name
		}
	}
	return out
}

// qualifyEdges renames expected edges as meshlock names them when it
// watches several clusters: every node but "unknown" is
// <cluster>/<namespace>/<name>.
func qualifyEdges(edges map[string]*expectedEdge, clusterOf map[string]string) map[string]*expectedEdge {
	node := func(id string) string {
		if id == graph.Unknown {
			return id
		}
		n := graph.ParseID(id)
		n.Cluster = clusterOf[n.Namespace]
		return n.String()
	}
	out := make(map[string]*expectedEdge, len(edges))
	for id, e := range edges {
		src, rest, _ := strings.Cut(id, "->")
		i := strings.LastIndexByte(rest, ':')
		out[graph.EdgeID(node(src), node(rest[:i]), rest[i+1:])] = e
	}
	return out
}

// mergeKubeconfigs makes one kubeconfig of the clusters' own, each
// cluster's current context (its admin) becoming a context named after the
// cluster, for meshlock's --cluster NAME=CONTEXT.
func mergeKubeconfigs(names []string, configs []*clientcmdapi.Config) (*clientcmdapi.Config, error) {
	out := clientcmdapi.NewConfig()
	for i, cfg := range configs {
		name := names[i]
		ctx := cfg.Contexts[cfg.CurrentContext]
		if ctx == nil {
			return nil, fmt.Errorf("cluster %s: no current context %q in its kubeconfig", name, cfg.CurrentContext)
		}
		cluster, auth := cfg.Clusters[ctx.Cluster], cfg.AuthInfos[ctx.AuthInfo]
		if cluster == nil || auth == nil {
			return nil, fmt.Errorf("cluster %s: context %q names a missing cluster or user", name, cfg.CurrentContext)
		}
		if out.Contexts[name] != nil {
			return nil, fmt.Errorf("cluster %s twice", name)
		}
		out.Clusters[name] = cluster.DeepCopy()
		out.AuthInfos[name] = auth.DeepCopy()
		out.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	out.CurrentContext = names[0]
	return out, nil
}

// writeMergedKubeconfig merges the clusters' kubeconfig files into path.
func writeMergedKubeconfig(names, paths []string, path string) error {
	configs := make([]*clientcmdapi.Config, len(paths))
	for i, p := range paths {
		var err error
		if configs[i], err = clientcmd.LoadFromFile(p); err != nil {
			return err
		}
	}
	merged, err := mergeKubeconfigs(names, configs)
	if err != nil {
		return err
	}
	return clientcmd.WriteToFile(*merged, path)
}

// stage is one run of a comparison: its servers stop when it ends, so that
// the next run has the machine to itself. Failures go to the runner, which
// then stops the stage's servers too.
type stage struct {
	*testbed.Runner
	mu       sync.Mutex
	cleanups []func()
	done     bool
}

func newStage(r *testbed.Runner) *stage {
	s := &stage{Runner: r}
	r.Cleanup(s.close)
	return s
}

func (s *stage) Cleanup(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, fn)
}

func (s *stage) TempDir() string {
	dir, err := os.MkdirTemp("", "meshlock-testbed-")
	if err != nil {
		s.Fatalf("temp dir: %v", err)
	}
	s.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// close runs the stage's cleanups once, newest first.
func (s *stage) close() {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return
	}
	s.done = true
	cleanups := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
}

var _ testbed.TB = (*stage)(nil)
