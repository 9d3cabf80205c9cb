// BenchmarkFetch: one Fetch of a 5,000-edge mesh's answers (both reporters, Envoy's full label
// values) from a local server: transfer, decoding and mapping, what meshlock adds to
// Prometheus' own evaluation of a refresh.

package prom

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func benchAnswer(edges int) string {
	var b strings.Builder
	b.WriteString(`{"status":"success","data":{"resultType":"vector","result":[`)
	for i := range edges {
		src, dst := fmt.Sprintf("svc-%04d", i%1000), fmt.Sprintf("svc-%04d", (i%1000+1+i/1000)%1000)
		ns := fmt.Sprintf("ns-%02d", i%20)
		for j, reporter := range []string{"source", "destination"} {
			if i > 0 || j > 0 {
				b.WriteByte(',')
			}
			policy := "unknown"
			if reporter == "destination" {
				policy = "mutual_tls"
			}
			fmt.Fprintf(&b, `{"metric":{"connection_security_policy":%q,"destination_principal":"spiffe://cluster.local/ns/%s/sa/%s",`+
				`"destination_service":"%s.%s.svc.cluster.local","destination_service_name":%q,"destination_service_namespace":%q,`+
				`"destination_workload":"%s-v1","destination_workload_namespace":%q,"reporter":%q,"request_protocol":"http",`+
				`"response_code":"200","response_flags":"-","source_principal":"spiffe://cluster.local/ns/%s/sa/%s",`+
				`"source_workload":"%s-v1","source_workload_namespace":%q},"value":[1764590000.123,"1.2345"]}`,
				policy, ns, dst, dst, ns, dst, ns, dst, ns, reporter, ns, src, src, ns)
		}
	}
	b.WriteString(`]}}`)
	return b.String()
}

func BenchmarkFetch(b *testing.B) {
	body := benchAnswer(5000)
	empty := `{"status":"success","data":{"resultType":"vector","result":[]}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(r.Form.Get("query"), "istio_requests_total") {
			_, _ = w.Write([]byte(body))
			return
		}
		_, _ = w.Write([]byte(empty))
	}))
	defer srv.Close()
	c, err := New(Options{URL: srv.URL, Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		samples, err := c.Fetch(context.Background())
		if err != nil || len(samples) != 10000 {
			b.Fatalf("%d samples, %v", len(samples), err)
		}
	}
}
