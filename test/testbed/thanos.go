// StartThanos: a Prometheus with a Thanos sidecar and a Thanos Querier in front of the sidecar's
// gRPC store API, on loopback, Thanos built from its Go module (test/tools/thanos) by `make testbed`.

package testbed

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
const ThanosCluster = "testbed-1"

// StartThanos runs Prometheus as StartPrometheusWith does with opts (for
// Thanos: ForThanos, and external labels cluster=ThanosCluster unless
// opts has some), a Thanos sidecar beside it and a Thanos Querier whose
// one store is that sidecar, and stops them when the test ends. It returns
// once the Querier has the sidecar as a healthy store.
func StartThanos(t TB, opts PrometheusOptions) *Thanos {
	t.Helper()
	bin := findBinary(t, "thanos")
	opts.ForThanos = true
	if len(opts.ExternalLabels) == 0 {
		opts.ExternalLabels = map[string]string{"cluster": ThanosCluster}
	}
	prom := StartPrometheusWith(t, opts)
	dir := t.TempDir()

	sidecarGRPC, sidecarHTTP := loopback(FreePort(t)), loopback(FreePort(t))
	sidecar := startProcess(t, dir, "thanos-sidecar", bin, "sidecar",
		"--tsdb.path="+prom.dataDir,
		"--prometheus.url="+prom.URL,
		"--grpc-address="+sidecarGRPC,
		"--http-address="+sidecarHTTP,
		"--log.level=warn",
	)
	// Ready once it has read Prometheus' external labels.
	if err := sidecar.waitReady(60*time.Second, httpOK(http.DefaultClient, "http://"+sidecarHTTP+"/-/ready", nil)); err != nil {
		t.Fatalf("testbed: %v", err)
	}

	queryGRPC, queryHTTP := loopback(FreePort(t)), loopback(FreePort(t))
	// The sidecar as the Querier's one endpoint (`thanos query --help`
	// marks --endpoint deprecated in favour of this configuration).
	endpoints := fmt.Sprintf("endpoints:\n  - address: %q\n", sidecarGRPC)
	query := startProcess(t, dir, "thanos-query", bin, "query",
		"--endpoint.sd-config="+endpoints,
		"--grpc-address="+queryGRPC,
		"--http-address="+queryHTTP,
		"--log.level=warn",
	)
	url := "http://" + queryHTTP
	if err := query.waitReady(60*time.Second, storeHealthy(url, sidecarGRPC)); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	return &Thanos{URL: url, Prometheus: prom, Sidecar: sidecarGRPC}
}

// storeHealthy is a readiness check: the Querier's /api/v1/stores lists the
// store at addr, its last check without error.
func storeHealthy(base, addr string) func(ctx context.Context) error {
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
		for _, stores := range answer.Data {
			for _, s := range stores {
				if s.Name == addr {
					if s.LastError != nil && *s.LastError != "" {
						return fmt.Errorf("store %s: %s", addr, *s.LastError)
					}
					return nil
				}
			}
		}
		return fmt.Errorf("the Querier does not list the store %s yet: %+v", addr, answer.Data)
	}
}
