// StartThanos: a Prometheus with a Thanos sidecar and a Thanos Querier in front of the sidecar's
// gRPC store API, on loopback (StartThanosClusters: several, one Querier in front of them all),
// Thanos built from its Go module (test/tools/thanos) by `make testbed`.

package testbed

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"
)

// Thanos is a running Prometheus, its Thanos sidecar and a Thanos Querier.
type Thanos struct {
	// URL is the Querier's HTTP address on loopback: the Prometheus query
	// API under /api/v1, answered from the sidecar's store API.
	URL string
	// Prometheus is the Prometheus behind the sidecar; querying it directly
	// bypasses Thanos.
	Prometheus *Prometheus
	// Sidecar is the sidecar's gRPC store API address (host:port).
	Sidecar string
}

// ThanosCluster is the default external label cluster= of the Prometheus
// behind the sidecar: the Querier adds it to every series it answers.
// StartThanosClusters names its n-th Prometheus testbed-n by default.
const ThanosCluster = "testbed-1"

// StartThanos runs Prometheus as StartPrometheusWith does with opts (for
// Thanos: ForThanos, and the external label cluster=ThanosCluster unless
// opts sets cluster), a Thanos sidecar beside it and a Thanos Querier whose
// one store is that sidecar, and stops them when the test ends. It returns
// once the Querier has the sidecar as a healthy store. It is
// StartThanosClusters with one Prometheus.
func StartThanos(t TB, opts PrometheusOptions) *Thanos {
	t.Helper()
	tc := StartThanosClusters(t, opts)
	c := tc.Clusters[0]
	return &Thanos{URL: tc.URL, Prometheus: c.Prometheus, Sidecar: c.Sidecar}
}

// ThanosClusters is one Thanos Querier in front of several Prometheus, one
// a cluster, each with its own Thanos sidecar: meshlock reading several
// clusters through Thanos (issue 24).
type ThanosClusters struct {
	// URL is the Querier's HTTP address on loopback: the Prometheus query
	// API under /api/v1, answered from every sidecar.
	URL string
	// Clusters are the Prometheus and their sidecars, in the order of the
	// options given to StartThanosClusters.
	Clusters []*ThanosMember
}

// ThanosMember is one cluster's Prometheus and sidecar behind the Querier.
type ThanosMember struct {
	// Name is the Prometheus' external label cluster=, which the Querier
	// adds to every series of this Prometheus.
	Name string
	// Prometheus is this cluster's Prometheus; querying it directly
	// bypasses Thanos.
	Prometheus *Prometheus
	// Sidecar is the sidecar's gRPC store API address (host:port).
	Sidecar string
}

// Cluster returns the member named name (its cluster= label), or nil.
func (tc *ThanosClusters) Cluster(name string) *ThanosMember {
	for _, c := range tc.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// StartThanosClusters runs, for each of opts, a Prometheus as
// StartPrometheusWith does (ForThanos set; external labels those of the
// options plus cluster=testbed-<n>, n counted from 1, unless the options set
// cluster) and a Thanos sidecar beside it, then one Thanos Querier whose
// stores are all the sidecars, and stops them when the test ends. The
// cluster names must differ. The Querier has no replica label, so it
// deduplicates nothing: each cluster's series come back apart, told by their
// cluster label. It returns once the Querier has every sidecar as a healthy
// store. Without options it starts one Prometheus.
func StartThanosClusters(t TB, opts ...PrometheusOptions) *ThanosClusters {
	t.Helper()
	bin := findBinary(t, "thanos")
	if len(opts) == 0 {
		opts = []PrometheusOptions{{}}
	}
	members := make([]*ThanosMember, len(opts))
	seen := map[string]bool{}
	for i, o := range opts {
		// A copy: the caller's map stays as it was.
		labels := maps.Clone(o.ExternalLabels)
		if labels == nil {
			labels = map[string]string{}
		}
		if labels["cluster"] == "" {
			labels["cluster"] = fmt.Sprintf("testbed-%d", i+1)
		}
		name := labels["cluster"]
		if seen[name] {
			// The Querier would take them for one cluster's Prometheus.
			t.Fatalf("testbed: two Prometheus with the external label cluster=%q", name)
		}
		seen[name] = true
		o.ExternalLabels = labels
		o.ForThanos = true
		members[i] = &ThanosMember{Name: name, Prometheus: StartPrometheusWith(t, o)}
	}
	dir := t.TempDir()

	// All sidecars start before any is waited for: their start-ups overlap.
	sidecars := make([]*process, len(members))
	readyURLs := make([]string, len(members))
	for i, m := range members {
		grpcAddr, httpAddr := loopback(FreePort(t)), loopback(FreePort(t))
		m.Sidecar = grpcAddr
		sidecars[i] = startProcess(t, dir, fmt.Sprintf("thanos-sidecar-%d", i+1), bin, "sidecar",
			"--tsdb.path="+m.Prometheus.dataDir,
			"--prometheus.url="+m.Prometheus.URL,
			"--grpc-address="+grpcAddr,
			"--http-address="+httpAddr,
			"--log.level=warn",
		)
		// Ready once it has read Prometheus' external labels.
		readyURLs[i] = "http://" + httpAddr + "/-/ready"
	}
	for i, s := range sidecars {
		if err := s.waitReady(60*time.Second, httpOK(http.DefaultClient, readyURLs[i], nil)); err != nil {
			t.Fatalf("testbed: %v", err)
		}
	}

	queryGRPC, queryHTTP := loopback(FreePort(t)), loopback(FreePort(t))
	// The sidecars as the Querier's endpoints (`thanos query --help` marks
	// --endpoint deprecated in favour of this configuration).
	endpoints := "endpoints:\n"
	addrs := make([]string, len(members))
	for i, m := range members {
		endpoints += fmt.Sprintf("  - address: %q\n", m.Sidecar)
		addrs[i] = m.Sidecar
	}
	query := startProcess(t, dir, "thanos-query", bin, "query",
		"--endpoint.sd-config="+endpoints,
		"--grpc-address="+queryGRPC,
		"--http-address="+queryHTTP,
		"--log.level=warn",
	)
	url := "http://" + queryHTTP
	if err := query.waitReady(60*time.Second, storesHealthy(url, addrs...)); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	return &ThanosClusters{URL: url, Clusters: members}
}

// storesHealthy is a readiness check: the Querier's /api/v1/stores lists
// every store at addrs, each one's last check without error.
func storesHealthy(base string, addrs ...string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/stores", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var answer struct {
			Data map[string][]struct {
				Name      string  `json:"name"`
				LastError *string `json:"lastError"`
			} `json:"data"`
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s/api/v1/stores: %s", base, resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
			return fmt.Errorf("GET %s/api/v1/stores: %w", base, err)
		}
		healthy := map[string]bool{}
		for _, stores := range answer.Data {
			for _, s := range stores {
				if s.LastError != nil && *s.LastError != "" {
					if slices.Contains(addrs, s.Name) {
						return fmt.Errorf("store %s: %s", s.Name, *s.LastError)
					}
					continue
				}
				healthy[s.Name] = true
			}
		}
		for _, addr := range addrs {
			if !healthy[addr] {
				return fmt.Errorf("the Querier does not list the store %s yet: %+v", addr, answer.Data)
			}
		}
		return nil
	}
}
