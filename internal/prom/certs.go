// Certificate expiry (issue 22): istiod's root and signing chain, and each proxy's workload
// certificate by its pod, two instant queries of a fixed text beside Fetch's.

package prom

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/meshlock/meshlock/internal/graph"
)

// Names of the certificate queries in meshlock_prometheus_queries_total.
const (
	QueryCACerts    = "ca_certs"
	QueryProxyCerts = "proxy_certs"
)

// Terms of the ca_certs query (termLabel).
const (
	termRoot  = "root"
	termChain = "chain"
)

// caCertsQuery asks for istiod's gauges of unix seconds (istio/istio
// security/pkg/server/ca/monitoring.go, recorded by RecordCertsExpiry in
// security/pkg/server/ca/server.go), the soonest of all replicas and
// revisions: the one that runs out first is the one that breaks the mesh.
// min() drops every label, so the term label is all that tells them apart.
var caCertsQuery = withTerm("min(citadel_server_root_cert_expiry_timestamp)", termRoot) + " or " +
	withTerm("min(citadel_server_cert_chain_expiry_timestamp)", termChain)

// proxyCertsQuery is each pod's workload certificate expiry.
// istio_agent_cert_expiry_seconds is the time left when it was scraped
// (registerSecret in security/pkg/nodeagent/cache/secretcache.go, for
// resource_name WorkloadKeyCertResourceName, "default", of
// pkg/security/security.go; pilot/cmd/pilot-agent/status/server.go adds
// the istio_agent_ prefix), so the expiry is the sample's own time plus
// its value: time() instead would move it by the sample's age, up to the
// look-back delta. A pod scraped by two jobs has two series: the soonest
// counts.
func proxyCertsQuery(namespaceLabel, podLabel string) string {
	const m = `istio_agent_cert_expiry_seconds{resource_name="default"}`
	return fmt.Sprintf("min by (%s, %s) (timestamp(%s) + %s)", namespaceLabel, podLabel, m, m)
}

// CertQueries returns the two instant queries FetchCerts runs, the
// proxies' grouped by the given namespace and pod labels
// (Options.CertNamespaceLabel, CertPodLabel). Their text is fixed: the
// refresh's query count depends on no namespace, pod or root.
func CertQueries(namespaceLabel, podLabel string) []Query {
	return []Query{
		{Name: QueryCACerts, PromQL: caCertsQuery},
		{Name: QueryProxyCerts, PromQL: proxyCertsQuery(namespaceLabel, podLabel)},
	}
}

// CertQueries returns the queries every FetchCerts runs.
func (c *Client) CertQueries() []Query {
	return CertQueries(c.certNamespaceLabel, c.certPodLabel)
}

// FetchCerts runs the certificate queries once, concurrently. Figures
// Prometheus lacks (no istiod metrics, an external CA, proxies not
// scraped) are nil or missing, not an error; a query that fails fails the
// whole, as Fetch does, so that the caller keeps its last complete figures.
func (c *Client) FetchCerts(ctx context.Context) (graph.CertFigures, error) {
	var figures graph.CertFigures
	var errs [2]error
	var wg sync.WaitGroup
	wg.Go(func() { figures.RootExpiry, figures.ChainExpiry, errs[0] = c.caCerts(ctx) })
	wg.Go(func() { figures.Proxies, errs[1] = c.proxyCerts(ctx) })
	wg.Wait()
	if err := joinErrors(errs[:]); err != nil {
		return graph.CertFigures{}, err
	}
	return figures, nil
}

func (c *Client) caCerts(ctx context.Context) (root, chain *time.Time, err error) {
	// No evaluation time, as Fetch's: Prometheus' own clock.
	value, err := c.query(ctx, QueryCACerts, caCertsQuery, time.Time{}, c.queryTimeout)
	if err != nil {
		return nil, nil, err
	}
	vector, ok := value.(model.Vector)
	if !ok {
		return nil, nil, c.failed(QueryCACerts, fmt.Errorf("answer is a %s, want a vector", value.Type()))
	}
	for _, s := range vector {
		at, ok := unixSeconds(s)
		if !ok {
			continue
		}
		var into **time.Time
		switch s.Metric[termLabel] {
		case termRoot:
			into = &root
		case termChain:
			into = &chain
		default:
			continue
		}
		if *into == nil || at.Before(**into) {
			*into = &at
		}
	}
	return root, chain, nil
}

func (c *Client) proxyCerts(ctx context.Context) (map[graph.PodRef]time.Time, error) {
	value, err := c.query(ctx, QueryProxyCerts, proxyCertsQuery(c.certNamespaceLabel, c.certPodLabel), time.Time{}, c.queryTimeout)
	if err != nil {
		return nil, err
	}
	vector, ok := value.(model.Vector)
	if !ok {
		return nil, c.failed(QueryProxyCerts, fmt.Errorf("answer is a %s, want a vector", value.Type()))
	}
	out := make(map[graph.PodRef]time.Time, len(vector))
	for _, s := range vector {
		pod := graph.PodRef{
			Namespace: string(s.Metric[model.LabelName(c.certNamespaceLabel)]),
			Name:      string(s.Metric[model.LabelName(c.certPodLabel)]),
		}
		// A series the scrape did not label with its pod joins no workload.
		if pod.Namespace == "" || pod.Name == "" {
			continue
		}
		at, ok := unixSeconds(s)
		if !ok {
			continue
		}
		if prev, seen := out[pod]; !seen || at.Before(prev) {
			out[pod] = at
		}
	}
	return out, nil
}

// maxUnixSeconds is 9999-12-31T23:59:59Z: RFC 3339, and so the snapshot's
// JSON, writes no later time.
const maxUnixSeconds = 253402300799

// unixSeconds reads a sample of unix seconds as a time, to the second
// (the certificates' own precision; the proxies' figure carries the
// scrape's milliseconds and the agent's clock reading). false for what no
// certificate can expire at: NaN, infinities, before 1970 or after 9999,
// a native histogram.
func unixSeconds(s *model.Sample) (time.Time, bool) {
	if s == nil || s.Histogram != nil {
		return time.Time{}, false
	}
	v := math.Round(float64(s.Value))
	if math.IsNaN(v) || v <= 0 || v > maxUnixSeconds {
		return time.Time{}, false
	}
	return time.Unix(int64(v), 0).UTC(), true
}
