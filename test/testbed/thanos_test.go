// Tests of the test bed's Thanos: the Querier answers, through the sidecar, a series Prometheus scraped.

package testbed

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

func TestThanosQuerierAnswersScrapedSeries(t *testing.T) {
	var scrapes atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "# TYPE testbed_probe_total counter\ntestbed_probe_total{edge=\"a->b\"} %d\n", scrapes.Add(1))
	}))
	defer target.Close()

	thanos := StartThanos(t, PrometheusOptions{Targets: []string{strings.TrimPrefix(target.URL, "http://")}})
	client, err := promapi.NewClient(promapi.Config{Address: thanos.URL})
	if err != nil {
		t.Fatal(err)
	}
	api := promv1.NewAPI(client)
	deadline := time.Now().Add(30 * time.Second)
	for {
		result, _, _, err := api.Query(context.Background(), `testbed_probe_total{edge="a->b"}`, time.Now())
		if err == nil {
			if vector, ok := result.(model.Vector); ok && len(vector) == 1 && vector[0].Value >= 2 {
				// The Querier answers from the sidecar: the series carries
				// Prometheus' external label.
				if got := vector[0].Metric["cluster"]; got != ThanosCluster {
					t.Errorf("the series through Thanos = %s, want the external label cluster=%q", vector[0].Metric, ThanosCluster)
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Thanos Querier did not answer the scraped series within 30s (last: %v, %v)", result, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A range query over the last seconds, as meshlock's look-back and report run.
	now := time.Now()
	matrix, _, _, err := api.QueryRange(context.Background(), `increase(testbed_probe_total[5s])`,
		promv1.Range{Start: now.Add(-10 * time.Second), End: now, Step: time.Second})
	if err != nil {
		t.Fatalf("range query through Thanos: %v", err)
	}
	if m, ok := matrix.(model.Matrix); !ok || len(m) != 1 || len(m[0].Values) == 0 {
		t.Errorf("range query through Thanos = %v, want one series with samples", matrix)
	}
}
