// The posture as metrics (meshlock_edges, meshlock_mtls_ratio, meshlock_findings), computed once
// per snapshot and served at each scrape, so that Prometheus and Grafana keep meshlock's
// judgement over time.

package live

import (
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshlock/meshlock/internal/graph"
)

var (
	edgesDesc = prometheus.NewDesc("meshlock_edges",
		"Edges with traffic in the rate window, by status (locked, mixed, open, unknown).", []string{"status"}, nil)
	ratioDesc = prometheus.NewDesc("meshlock_mtls_ratio",
		"Share of the traffic into a namespace's services proven mutual TLS, by protocol (http: requests, tcp: bytes); absent without traffic of known status.",
		[]string{"namespace", "protocol"}, nil)
	findingsDesc = prometheus.NewDesc("meshlock_findings",
		"Findings of the current graph, by kind and severity.", []string{"kind", "severity"}, nil)
)

// postureCollector serves the metrics of the latest snapshot: a gauge per
// namespace that the mesh no longer has simply goes away. They are made
// once per snapshot, not per scrape: a scrape of a 5,000-edge graph's
// gauges cost some 1.4 MB of garbage (the scale command's heap profile).
type postureCollector struct {
	mu      sync.Mutex
	metrics []prometheus.Metric
}

func newPostureCollector(s graph.Snapshot) *postureCollector {
	c := &postureCollector{}
	c.update(s)
	return c
}

func (c *postureCollector) update(s graph.Snapshot) {
	metrics := postureMetrics(s)
	c.mu.Lock()
	c.metrics = metrics
	c.mu.Unlock()
}

func (*postureCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- edgesDesc
	ch <- ratioDesc
	ch <- findingsDesc
}

func (c *postureCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	metrics := c.metrics
	c.mu.Unlock()
	for _, m := range metrics {
		ch <- m
	}
}

func postureMetrics(s graph.Snapshot) []prometheus.Metric {
	var out []prometheus.Metric
	emit := func(m prometheus.Metric) { out = append(out, m) }
	for _, status := range []string{graph.StatusLocked, graph.StatusMixed, graph.StatusOpen, graph.StatusUnknown} {
		emit(prometheus.MustNewConstMetric(edgesDesc, prometheus.GaugeValue, float64(s.Posture.Counts[status]), status))
	}
	namespaceOf := make(map[string]string, len(s.Nodes))
	for _, n := range s.Nodes {
		namespaceOf[n.ID] = n.Namespace
	}
	byNamespace := map[string][]graph.Edge{}
	for _, e := range s.Edges {
		if ns := namespaceOf[e.Target]; ns != "" {
			byNamespace[ns] = append(byNamespace[ns], e)
		}
	}
	for ns, edges := range byNamespace {
		p := graph.ComputePosture(edges)
		for protocol, share := range map[string]graph.Share{graph.ProtocolHTTP: p.HTTP, graph.ProtocolTCP: p.TCP} {
			if share.Ratio != nil {
				emit(prometheus.MustNewConstMetric(ratioDesc, prometheus.GaugeValue, *share.Ratio, ns, protocol))
			}
		}
	}
	type kindSeverity struct{ kind, severity string }
	counts := map[kindSeverity]int{}
	for _, f := range s.Findings {
		counts[kindSeverity{f.Kind, f.Severity}]++
	}
	keys := make([]kindSeverity, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b kindSeverity) int {
		if a.kind != b.kind {
			return strings.Compare(a.kind, b.kind)
		}
		return strings.Compare(a.severity, b.severity)
	})
	for _, k := range keys {
		emit(prometheus.MustNewConstMetric(findingsDesc, prometheus.GaugeValue, float64(counts[k]), k.kind, k.severity))
	}
	return out
}
