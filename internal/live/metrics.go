// The posture as metrics (meshlock_edges, meshlock_mtls_ratio, meshlock_findings) and the
// certificates' expiry (meshlock_root_cert_expiry_timestamp_seconds,
// meshlock_workload_cert_expiry_min_timestamp_seconds), computed once per snapshot and served at
// each scrape, so that Prometheus and Grafana keep meshlock's judgement over time and can alert.

package live

import (
	"slices"
	"strings"
	"sync"
	"time"

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
	rootExpiryDesc = prometheus.NewDesc("meshlock_root_cert_expiry_timestamp_seconds",
		"Expiry (not-after) of each root certificate Istio distributes (istio-ca-root-cert), in unix seconds, by the SHA-256 fingerprint of its DER.",
		[]string{"fingerprint"}, nil)
	workloadExpiryDesc = prometheus.NewDesc("meshlock_workload_cert_expiry_min_timestamp_seconds",
		"The soonest expiry of the workloads' proxy certificates, in unix seconds; absent when Prometheus has none.", nil, nil)
)

// snapshotCollector serves metrics made from the latest snapshot: a
// gauge per namespace (or root) that the mesh no longer has simply goes
// away. They are made once per snapshot, not per scrape: a scrape of a
// 5,000-edge graph's gauges cost some 1.4 MB of garbage (the scale
// command's heap profile).
type snapshotCollector struct {
	descs []*prometheus.Desc
	build func(graph.Snapshot) []prometheus.Metric

	mu      sync.Mutex
	metrics []prometheus.Metric
}

func newSnapshotCollector(s graph.Snapshot, build func(graph.Snapshot) []prometheus.Metric, descs ...*prometheus.Desc) *snapshotCollector {
	c := &snapshotCollector{descs: descs, build: build}
	c.update(s)
	return c
}

func (c *snapshotCollector) update(s graph.Snapshot) {
	metrics := c.build(s)
	c.mu.Lock()
	c.metrics = metrics
	c.mu.Unlock()
}

func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
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

// certMetrics are the certificates' gauges, as times (unix seconds) rather
// than time left, like istiod's own citadel_server_*_timestamp: the value
// changes only when a certificate does, and an alert reads x - time().
func certMetrics(s graph.Snapshot) []prometheus.Metric {
	var out []prometheus.Metric
	// Each root once (graph lists it once; two series of one fingerprint
	// would fail the whole scrape).
	seen := map[string]bool{}
	for _, r := range s.Identity.Roots {
		if r.Fingerprint == "" || seen[r.Fingerprint] {
			continue
		}
		seen[r.Fingerprint] = true
		out = append(out, prometheus.MustNewConstMetric(rootExpiryDesc, prometheus.GaugeValue, float64(r.NotAfter.Unix()), r.Fingerprint))
	}
	var soonest *time.Time
	for _, w := range s.Identity.Workloads {
		if w.CertExpiry != nil && (soonest == nil || w.CertExpiry.Before(*soonest)) {
			soonest = w.CertExpiry
		}
	}
	if soonest != nil {
		out = append(out, prometheus.MustNewConstMetric(workloadExpiryDesc, prometheus.GaugeValue, float64(soonest.Unix())))
	}
	return out
}
