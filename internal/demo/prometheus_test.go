// Test of the demo's embedded Prometheus: ingested scrapes answer rate queries through its HTTP API.

package demo

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

func TestEmbeddedPrometheusAnswersRateQueries(t *testing.T) {
	prom, err := NewPrometheus(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer prom.Close()

	start := time.Now().Add(-2 * time.Minute).Truncate(time.Second)
	for i := 0; i <= 120; i++ {
		// 2 mTLS requests and 1 plaintext request per second.
		scrape := fmt.Sprintf("# TYPE istio_requests_total counter\n"+
			"istio_requests_total{reporter=\"destination\",connection_security_policy=\"mutual_tls\"} %d\n"+
			"istio_requests_total{reporter=\"destination\",connection_security_policy=\"none\"} %d\n", 2*i, i)
		if err := prom.Ingest(strings.NewReader(scrape), start.Add(time.Duration(i)*time.Second), "meshsim", "demo"); err != nil {
			t.Fatal(err)
		}
	}
	server := httptest.NewServer(prom.Handler())
	defer server.Close()
	client, err := promapi.NewClient(promapi.Config{Address: server.URL})
	if err != nil {
		t.Fatal(err)
	}
	api := promv1.NewAPI(client)

	value, _, _, err := api.Query(context.Background(),
		`sum by (connection_security_policy) (rate(istio_requests_total{reporter="destination"}[1m]))`, start.Add(120*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	vector, ok := value.(model.Vector)
	if !ok || len(vector) != 2 {
		t.Fatalf("want a vector of 2 series, got %v", value)
	}
	for _, sample := range vector {
		want := 1.0
		if sample.Metric["connection_security_policy"] == "mutual_tls" {
			want = 2.0
		}
		if diff := float64(sample.Value) - want; diff > 0.01 || diff < -0.01 {
			t.Errorf("%v: rate %v, want %v", sample.Metric, sample.Value, want)
		}
		if _, hasName := sample.Metric["__name__"]; hasName {
			t.Errorf("sum by kept __name__: %v", sample.Metric)
		}
	}

	if _, _, _, err := api.Query(context.Background(), `rate(istio_requests_total[`, time.Now()); err == nil || !strings.Contains(err.Error(), "bad_data") {
		t.Errorf("a malformed query answered %v, want a bad_data error", err)
	}
}

func TestMemStoreKeepsItsRetentionAndOrder(t *testing.T) {
	m := newMemStore(int64(time.Hour / time.Millisecond))
	a := labels.FromStrings("__name__", "x", "k", "a")
	m.append([]labels.Labels{a}, []float64{1}, 0)
	m.append([]labels.Labels{a}, []float64{2}, 0) // not after the last: dropped
	m.append([]labels.Labels{a}, []float64{3}, int64(30*time.Minute/time.Millisecond))
	if got := m.series[a.String()].samples; len(got) != 2 || got[0].f != 1 {
		t.Fatalf("samples = %v, want 1 then 3", got)
	}
	m.append([]labels.Labels{labels.FromStrings("__name__", "y")}, []float64{1}, int64(100*time.Minute/time.Millisecond))
	if _, ok := m.series[a.String()]; ok {
		t.Error("a series whose samples all left the retention is kept")
	}
}
