// The look-back's queries against the real PromQL engine: a caller that stopped, a series born
// with its only requests already counted, and an edge's range, as internal/prom reads them.

package demo

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/prom"
)

// series writes one istio_requests_total line reported by ratings' sidecar.
func series(source, policy string, value float64) string {
	return fmt.Sprintf(`istio_requests_total{reporter="destination",source_workload=%q,source_workload_namespace="default",`+
		`destination_workload="ratings-v1",destination_workload_namespace="default",destination_service="ratings.default.svc.cluster.local",`+
		`destination_service_name="ratings",destination_service_namespace="default",connection_security_policy=%q,`+
		`request_protocol="http",response_code="200",response_flags="-"} %g`+"\n", source, policy, value)
}

func TestHistoryQueryFindsCallersThatStopped(t *testing.T) {
	p, err := NewPrometheus(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// 40 minutes scraped every 15 s: reviews calls with mTLS throughout;
	// backup sends plaintext for the first 5 minutes and stops; a one-off
	// job's series appears at minute 20 with its 3 requests already counted
	// (Envoy creates a counter at its first request) and never changes.
	start := time.Now().Add(-40 * time.Minute).Truncate(time.Minute)
	const scrape = 15 * time.Second
	for at := time.Duration(0); at <= 40*time.Minute; at += scrape {
		var b strings.Builder
		b.WriteString("# TYPE istio_requests_total counter\n")
		b.WriteString(series("reviews-v2", "mutual_tls", at.Seconds()*2))
		b.WriteString(series("backup", "none", min(at, 5*time.Minute).Seconds()))
		if at > 20*time.Minute {
			b.WriteString(series("oneoff", "none", 3))
		}
		if err := p.Ingest(strings.NewReader(b.String()), start.Add(at), "meshsim", "demo"); err != nil {
			t.Fatal(err)
		}
	}
	server := httptest.NewServer(p.Handler())
	defer server.Close()
	client, err := prom.New(prom.Options{URL: server.URL, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}

	end := start.Add(40 * time.Minute)
	got, series, err := client.History(context.Background(), end, 40*time.Minute, time.Minute)
	if err != nil || series != graph.SeriesRaw {
		t.Fatalf("History: %s, %v; want raw series", series, err)
	}
	bySource := map[string]graph.HistorySample{}
	for _, h := range got {
		bySource[h.Source.Workload] = h
	}
	near := func(name string, got, want time.Time, within time.Duration) {
		t.Helper()
		if d := got.Sub(want); d < -within || d > within {
			t.Errorf("%s last seen %s, want within %s of %s", name, got.Format(time.TimeOnly), within, want.Format(time.TimeOnly))
		}
	}
	backup, ok := bySource["backup"]
	if !ok || backup.Security != graph.SecurityPlaintext || backup.Reporter != graph.ReporterServer {
		t.Fatalf("backup's plaintext is not in the look-back: %+v", got)
	}
	near("backup", backup.LastSeen, start.Add(5*time.Minute), 2*time.Minute)
	if backup.Volume < 270 || backup.Volume > 330 { // 300 requests
		t.Errorf("backup's volume = %v, want about 300", backup.Volume)
	}
	oneoff, ok := bySource["oneoff"]
	if !ok {
		t.Fatalf("a series born at its final value is not in the look-back: %+v", got)
	}
	near("oneoff", oneoff.LastSeen, start.Add(20*time.Minute), 2*time.Minute)
	reviews := bySource["reviews-v2"]
	near("reviews-v2", reviews.LastSeen, end, time.Minute)
	if reviews.Security != graph.SecurityMutualTLS || reviews.Volume < 4500 {
		t.Errorf("reviews-v2 = %+v, want mTLS, about 4,800 requests", reviews)
	}

	// The same past read as two chunks and an increment adds up to the same.
	first, _, err := client.History(context.Background(), start.Add(20*time.Minute), 20*time.Minute, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range first {
		if h.Source.Workload == "oneoff" {
			t.Errorf("the first 20 minutes see oneoff, born at minute 20: %+v", h)
		}
	}

	// An edge's chart: one range query, each step built as the graph is.
	steps, err := client.EdgeRange(context.Background(), graph.RangeTarget{Service: "ratings"}, start.Add(2*time.Minute), end, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cluster := graph.Cluster{Services: []graph.Service{{Namespace: "default", Name: "ratings", Workloads: []string{"ratings-v1"}, InMesh: true}}}
	points := graph.EdgeSeries(steps, cluster, graph.EdgeID("default/backup", "default/ratings", graph.ProtocolHTTP))
	if len(points) == 0 || points[0].Rate < 0.9 || points[0].MTLSRatio == nil || *points[0].MTLSRatio != 0 {
		t.Fatalf("backup's chart starts at %+v, want 1 req/s of plaintext", points)
	}
	if last := points[len(points)-1]; last.Rate != 0 || last.MTLSRatio != nil {
		t.Errorf("backup's chart ends at %+v, want no traffic", last)
	}
}
