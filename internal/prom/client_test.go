// Tests of the Prometheus client against a fake Prometheus: the fixed query set, metrics, label
// mapping, unusable values, errors, bearer token, CA file, size cap, timeouts, warnings, path prefix.

package prom

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshlock/meshlock/internal/graph"
	meshtest "github.com/meshlock/meshlock/internal/testutil"
)

func TestFetchRunsTheFixedQuerySetWhateverTheNamespaces(t *testing.T) {
	// Traffic in many namespaces must not multiply the queries.
	var httpSeries, tcpSeries []string
	for i := range 40 {
		ns := fmt.Sprintf("team-%d", i)
		httpSeries = append(httpSeries, `{"metric":{"reporter":"destination","destination_workload_namespace":"`+ns+`"},"value":[1764190800,"1"]}`)
		tcpSeries = append(tcpSeries, `{"metric":{"reporter":"destination","destination_workload_namespace":"`+ns+`"},"value":[1764190800,"100"]}`)
	}
	fake, srv := startFake(t, byQuery(vectorAnswer(httpSeries...), vectorAnswer(tcpSeries...)))
	opts, reg := testOptions(srv.URL)
	c := mustNew(t, opts)

	samples, err := c.Fetch(t.Context())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if len(samples) != 80 {
		t.Errorf("got %d samples, want 80", len(samples))
	}
	var want []string
	for _, q := range c.Queries() {
		want = append(want, q.PromQL)
	}
	got := fake.seenQueries()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Prometheus was asked\n%q\nwant exactly\n%q", got, want)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(queriesTotalText(1, 0, 1, 0)), "meshlock_prometheus_queries_total"); err != nil {
		t.Errorf("after 1 fetch: %v", err)
	}

	for range 2 {
		if _, err := c.Fetch(t.Context()); err != nil {
			t.Fatalf("Fetch: %v", err)
		}
	}
	if n := len(fake.seenQueries()); n != 3*len(c.Queries()) || len(c.Queries()) != 5 {
		t.Errorf("3 fetches sent %d queries, want 3 × the %d of the set (5)", n, len(c.Queries()))
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(queriesTotalText(3, 0, 3, 0)), "meshlock_prometheus_queries_total"); err != nil {
		t.Errorf("after 3 fetches: %v", err)
	}
	if slices.ContainsFunc(fake.seenAuthorization(), func(h string) bool { return h != "" }) {
		t.Errorf("Authorization sent without a token file: %q", fake.seenAuthorization())
	}
}

// queriesTotalText is the counter's exposition; the TCP received-bytes and
// connections queries count as the TCP sent-bytes query does unless conn
// gives their (ok, err).
func queriesTotalText(httpOK, httpErr, tcpOK, tcpErr int, conn ...int) string {
	connOK, connErr := tcpOK, tcpErr
	if len(conn) == 2 {
		connOK, connErr = conn[0], conn[1]
	}
	return fmt.Sprintf(`# HELP meshlock_prometheus_queries_total PromQL queries sent to Prometheus, by query and result.
# TYPE meshlock_prometheus_queries_total counter
meshlock_prometheus_queries_total{query="ca_certs",result="error"} 0
meshlock_prometheus_queries_total{query="ca_certs",result="success"} 0
meshlock_prometheus_queries_total{query="edge_range",result="error"} 0
meshlock_prometheus_queries_total{query="edge_range",result="success"} 0
meshlock_prometheus_queries_total{query="history",result="error"} 0
meshlock_prometheus_queries_total{query="history",result="success"} 0
meshlock_prometheus_queries_total{query="history_series",result="error"} 0
meshlock_prometheus_queries_total{query="history_series",result="success"} 0
meshlock_prometheus_queries_total{query="http",result="error"} %d
meshlock_prometheus_queries_total{query="http",result="success"} %d
meshlock_prometheus_queries_total{query="proxy_certs",result="error"} 0
meshlock_prometheus_queries_total{query="proxy_certs",result="success"} 0
meshlock_prometheus_queries_total{query="report",result="error"} 0
meshlock_prometheus_queries_total{query="report",result="success"} 0
meshlock_prometheus_queries_total{query="tcp",result="error"} %d
meshlock_prometheus_queries_total{query="tcp",result="success"} %d
meshlock_prometheus_queries_total{query="tcp_connections",result="error"} %d
meshlock_prometheus_queries_total{query="tcp_connections",result="success"} %d
meshlock_prometheus_queries_total{query="tcp_received",result="error"} %d
meshlock_prometheus_queries_total{query="tcp_received",result="success"} %d
meshlock_prometheus_queries_total{query="tcp_refused",result="error"} %d
meshlock_prometheus_queries_total{query="tcp_refused",result="success"} %d
`, httpErr, httpOK, tcpErr, tcpOK, connErr, connOK, connErr, connOK, connErr, connOK)
}

func TestMetricsGoOnlyToTheGivenRegisterer(t *testing.T) {
	_, srv := startFake(t, nil)
	opts, reg := testOptions(srv.URL)
	first := mustNew(t, opts)
	second := mustNew(t, opts) // same registry: counts into the same series
	for _, c := range []*Client{first, second} {
		if _, err := c.Fetch(t.Context()); err != nil {
			t.Fatalf("Fetch: %v", err)
		}
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(queriesTotalText(2, 0, 2, 0)), "meshlock_prometheus_queries_total"); err != nil {
		t.Error(err)
	}
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "meshlock_") {
			t.Errorf("%s registered on the global registry", f.GetName())
		}
	}
}

func TestFetchMapsLabelsIntoSamples(t *testing.T) {
	// Every label has a distinct value so that a swapped field shows.
	labels := func(reporter, policy string, extra string) string {
		return `"reporter":"` + reporter + `",` +
			`"source_workload":"productpage-v1","source_workload_namespace":"front","source_canonical_service":"productpage",` +
			`"source_principal":"spiffe://cluster.local/ns/front/sa/productpage",` +
			`"destination_workload":"reviews-v2","destination_workload_namespace":"back",` +
			`"destination_service":"reviews.back-svc.svc.cluster.local","destination_service_name":"reviews-svc",` +
			`"destination_service_namespace":"back-svc","destination_canonical_service":"reviews",` +
			`"destination_principal":"spiffe://cluster.local/ns/back/sa/reviews",` +
			`"connection_security_policy":"` + policy + `"` + extra
	}
	httpAnswer := vectorAnswer(
		`{"metric":{`+labels("destination", "mutual_tls", `,"request_protocol":"http","response_code":"200"`)+`},"value":[1764190800,"1.25"]}`,
		`{"metric":{`+labels("source", "unknown", `,"request_protocol":"grpc","response_code":"503","response_flags":"UF,URX"`)+`},"value":[1764190800,"0.5"]}`,
	)
	tcpAnswer := vectorAnswer(
		`{"metric":{` + labels("waypoint", "none", "") + `},"value":[1764190800,"2048"]}`,
	)
	connAnswer := vectorAnswer(
		`{"metric":{` + labels("source", "unknown", `,"response_flags":"-"`) + `},"value":[1764190800,"0.25"]}`,
	)
	_, srv := startFake(t, byQuery(httpAnswer, tcpAnswer, connAnswer))
	opts, _ := testOptions(srv.URL)
	samples, err := mustNew(t, opts).Fetch(t.Context())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}

	edge := graph.Sample{
		Source:      graph.Peer{Namespace: "front", Workload: "productpage-v1", Principal: "spiffe://cluster.local/ns/front/sa/productpage"},
		Destination: graph.Peer{Namespace: "back", Workload: "reviews-v2", Principal: "spiffe://cluster.local/ns/back/sa/reviews"},
		Service:     graph.ServiceRef{Namespace: "back-svc", Name: "reviews-svc"},
	}
	with := func(reporter, protocol, security, outcome, measure string, rate float64) graph.Sample {
		s := edge
		s.Reporter, s.Protocol, s.Security, s.Outcome, s.Measure, s.Rate = reporter, protocol, security, outcome, measure, rate
		return s
	}
	want := []graph.Sample{
		with(graph.ReporterServer, graph.ProtocolHTTP, graph.SecurityMutualTLS, "", graph.MeasureRequests, 1.25),
		with(graph.ReporterClient, graph.ProtocolGRPC, graph.SecurityUnknown, graph.OutcomeHandshakeFailed, graph.MeasureRequests, 0.5),
		with(graph.ReporterServer, graph.ProtocolTCP, graph.SecurityPlaintext, "", graph.MeasureBytes, 2048),
		with(graph.ReporterClient, graph.ProtocolTCP, graph.SecurityUnknown, "", graph.MeasureConnections, 0.25),
	}
	if len(samples) != len(want) {
		t.Fatalf("got %d samples, want %d: %+v", len(samples), len(want), samples)
	}
	for _, w := range want {
		if !slices.Contains(samples, w) {
			t.Errorf("missing sample %+v\n in %+v", w, samples)
		}
	}
}

func TestFetchSkipsUnusableValuesFromTheWire(t *testing.T) {
	answer := vectorAnswer(
		`{"metric":{"reporter":"destination","source_workload":"nan"},"value":[1764190800,"NaN"]}`,
		`{"metric":{"reporter":"destination","source_workload":"inf"},"value":[1764190800,"+Inf"]}`,
		`{"metric":{"reporter":"destination","source_workload":"-inf"},"value":[1764190800,"-Inf"]}`,
		`{"metric":{"reporter":"destination","source_workload":"negative"},"value":[1764190800,"-3"]}`,
		`{"metric":{"reporter":"destination","source_workload":"ok"},"value":[1764190800,"3"]}`,
	)
	_, srv := startFake(t, byQuery(answer, emptyVector))
	opts, _ := testOptions(srv.URL)
	samples, err := mustNew(t, opts).Fetch(t.Context())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if len(samples) != 1 || samples[0].Source.Workload != "ok" || samples[0].Rate != 3 {
		t.Errorf("got %+v, want only the usable sample with rate 3", samples)
	}
}

func TestFetchRejectsNonVectorAnswers(t *testing.T) {
	for name, body := range map[string]string{
		"matrix": `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"reporter":"source"},"values":[[1764190800,"1"]]}]}}`,
		"scalar": `{"status":"success","data":{"resultType":"scalar","result":[1764190800,"1"]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, srv := startFake(t, byQuery(body, emptyVector))
			opts, reg := testOptions(srv.URL)
			samples, err := mustNew(t, opts).Fetch(t.Context())
			if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "http query") {
				t.Fatalf("Fetch() = %v, %v; want an http query error naming %s", samples, err, name)
			}
			if samples != nil {
				t.Errorf("samples returned with the error: %+v", samples)
			}
			if got := queriesCounted(t, reg, "http", "error"); got != 1 {
				t.Errorf("http errors counted %v, want 1", got)
			}
		})
	}
}

func TestFetchReportsPrometheusErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		wantErr []string
	}{
		{
			name:    "bad_data",
			status:  http.StatusBadRequest,
			body:    `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected end of input"}`,
			wantErr: []string{"bad_data", `invalid parameter "query": 1:5: parse error: unexpected end of input`},
		},
		{
			// The API client leaves 5xx bodies out of its own message.
			name:    "timeout answered with 503",
			status:  http.StatusServiceUnavailable,
			body:    `{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}`,
			wantErr: []string{"503", "timeout: query timed out in expression evaluation"},
		},
		{
			name:    "proxy page",
			status:  http.StatusBadGateway,
			body:    "<html>\n<body>502 Bad Gateway</body>\n</html>\n" + strings.Repeat("x", 10000),
			wantErr: []string{"502", "<html> <body>502 Bad Gateway</body>"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, srv := startFake(t, func(string) (int, string) { return tc.status, tc.body })
			opts, reg := testOptions(srv.URL)
			samples, err := mustNew(t, opts).Fetch(t.Context())
			if err == nil {
				t.Fatalf("Fetch succeeded with %d samples", len(samples))
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			if len(err.Error()) > 1000 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
			if err := testutil.GatherAndCompare(reg, strings.NewReader(queriesTotalText(0, 1, 0, 1)), "meshlock_prometheus_queries_total"); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestFetchFailsWholeWhenOneQueryFails(t *testing.T) {
	_, srv := startFake(t, func(query string) (int, string) {
		if strings.Contains(query, "istio_tcp_sent_bytes_total") {
			return http.StatusUnprocessableEntity, `{"status":"error","errorType":"execution","error":"too many samples"}`
		}
		return http.StatusOK, vectorAnswer(`{"metric":{"reporter":"destination"},"value":[1764190800,"1"]}`)
	})
	opts, reg := testOptions(srv.URL)
	samples, err := mustNew(t, opts).Fetch(t.Context())
	if err == nil || !strings.Contains(err.Error(), "tcp query") || !strings.Contains(err.Error(), "too many samples") {
		t.Fatalf("Fetch() error = %v, want the tcp query's error", err)
	}
	if samples != nil {
		t.Errorf("partial samples returned: %+v", samples)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(queriesTotalText(1, 0, 0, 1, 1, 0)), "meshlock_prometheus_queries_total"); err != nil {
		t.Error(err)
	}
}

func TestFetchSendsTheBearerTokenReadAtEachRequest(t *testing.T) {
	fake, srv := startFake(t, nil)
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, "first-token\n")
	opts, _ := testOptions(srv.URL)
	opts.BearerTokenFile = tokenFile
	c := mustNew(t, opts)

	if _, err := c.Fetch(t.Context()); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	writeFile(t, tokenFile, "rotated-token")
	if _, err := c.Fetch(t.Context()); err != nil {
		t.Fatalf("Fetch after rotation: %v", err)
	}
	n := len(c.Queries())
	want := slices.Concat(slices.Repeat([]string{"Bearer first-token"}, n), slices.Repeat([]string{"Bearer rotated-token"}, n))
	if got := fake.seenAuthorization(); !slices.Equal(got, want) {
		t.Errorf("Authorization headers %q, want %q", got, want)
	}

	if err := os.Remove(tokenFile); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(t.Context()); err == nil || !strings.Contains(err.Error(), tokenFile) {
		t.Errorf("Fetch without the token file: error %v, want one naming the file", err)
	}
}

func TestFetchTrustsTheCAFile(t *testing.T) {
	fake := &fakePrometheus{t: t}
	srv := httptest.NewTLSServer(fake)
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, caFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))

	withCA, _ := testOptions(srv.URL)
	withCA.CAFile = caFile
	if _, err := mustNew(t, withCA).Fetch(t.Context()); err != nil {
		t.Fatalf("Fetch with the CA file: %v", err)
	}
	if n, want := len(fake.seenQueries()), len(Queries(time.Minute)); n != want {
		t.Fatalf("server saw %d queries, want %d", n, want)
	}

	withoutCA, _ := testOptions(srv.URL)
	_, err := mustNew(t, withoutCA).Fetch(t.Context())
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); !ok {
		t.Errorf("Fetch without the CA file: error %v, want an unknown authority", err)
	}
	if n, want := len(fake.seenQueries()), len(Queries(time.Minute)); n != want {
		t.Errorf("server saw %d queries, want still %d", n, want)
	}
}

func TestFetchRejectsOversizedAnswers(t *testing.T) {
	const limit = 4096

	t.Run("streamed", func(t *testing.T) {
		// An endless answer: reading it whole would never finish.
		wroteTotal := make(chan int64, len(Queries(time.Minute)))
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			var wrote int64
			n, _ := w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[`))
			wrote += int64(n)
			series := []byte(strings.Repeat(`{"metric":{"reporter":"source"},"value":[1764190800,"1"]},`, 1000))
			for wrote < 1<<30 {
				n, err := w.Write(series)
				wrote += int64(n)
				if err != nil {
					break
				}
			}
			wroteTotal <- wrote
		}))
		t.Cleanup(srv.Close)
		opts, reg := testOptions(srv.URL)
		opts.MaxResponseBytes = limit
		_, err := mustNew(t, opts).Fetch(t.Context())
		if !errors.Is(err, errResponseTooLarge) || !strings.Contains(err.Error(), strconv.Itoa(limit)) {
			t.Fatalf("Fetch() error = %v, want too large, naming the limit", err)
		}
		for range len(Queries(time.Minute)) {
			// The server stops once the client hangs up; what it managed
			// to write is bounded by socket buffers, not by the answer.
			if wrote := <-wroteTotal; wrote >= 1<<30 {
				t.Errorf("server wrote the whole %d-byte answer", wrote)
			}
		}
		var got float64
		for _, q := range Queries(time.Minute) {
			got += queriesCounted(t, reg, q.Name, "error")
		}
		if want := float64(len(Queries(time.Minute))); got != want {
			t.Errorf("errors counted %v, want %v", got, want)
		}
	})

	t.Run("announced", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(64<<20))
			w.WriteHeader(http.StatusOK)
		}))
		t.Cleanup(srv.Close)
		opts, _ := testOptions(srv.URL)
		opts.MaxResponseBytes = limit
		_, err := mustNew(t, opts).Fetch(t.Context())
		if !errors.Is(err, errResponseTooLarge) || !strings.Contains(err.Error(), "announced") {
			t.Fatalf("Fetch() error = %v, want too large as announced", err)
		}
	})

	t.Run("exactly at the limit", func(t *testing.T) {
		body := emptyVector + strings.Repeat(" ", limit-len(emptyVector))
		_, srv := startFake(t, func(string) (int, string) { return http.StatusOK, body })
		opts, _ := testOptions(srv.URL)
		opts.MaxResponseBytes = limit
		if _, err := mustNew(t, opts).Fetch(t.Context()); err != nil {
			t.Fatalf("Fetch of a %d-byte answer with a %d-byte limit: %v", len(body), limit, err)
		}
	})
}

func TestFetchTimesOutEachQuery(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close

	opts, reg := testOptions(srv.URL)
	opts.QueryTimeout = 100 * time.Millisecond
	// The outer deadline only keeps a broken timeout from hanging the test.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := mustNew(t, opts).Fetch(ctx)
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within 100ms") {
		t.Fatalf("Fetch() error = %v, want a deadline error naming the timeout", err)
	}
	// The error names the query timeout, not the outer deadline: that is
	// what ended it (elapsed is logged; a bound on it would fail a busy machine).
	t.Logf("Fetch took %s with a 100ms query timeout", elapsed)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(queriesTotalText(0, 1, 0, 1)), "meshlock_prometheus_queries_total"); err != nil {
		t.Error(err)
	}
}

// The answer is decoded as it is read: a body that stops halfway is a
// timeout too, not a hang and not a partial graph.
func TestFetchTimesOutABodyThatStalls(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"reporter":"source"},"value":[1764190800,"1"]},`))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	opts, _ := testOptions(srv.URL)
	opts.QueryTimeout = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	samples, err := mustNew(t, opts).Fetch(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within 100ms") {
		t.Fatalf("Fetch() = %d samples, error %v; want a deadline error naming the timeout", len(samples), err)
	}
}

func TestFetchLogsWarningsOncePerQuery(t *testing.T) {
	_, srv := startFake(t, byQuery(
		`{"status":"success","infos":["PromQL info: metric might not be a counter"],"data":{"resultType":"vector","result":[]}}`,
		`{"status":"success","warnings":["store gateway a unreachable","store gateway b unreachable"],"data":{"resultType":"vector","result":[]}}`,
	))
	var logs meshtest.SyncBuffer
	opts, _ := testOptions(srv.URL)
	opts.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	if _, err := mustNew(t, opts).Fetch(t.Context()); err != nil {
		t.Fatalf("Fetch: %v", err)
	}

	type record struct {
		Level    string
		Query    string
		Warnings []string
		Infos    []string
	}
	byQueryName := map[string]record{}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	for _, line := range lines {
		var r record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if r.Level != "WARN" {
			t.Errorf("logged at %s, want WARN: %s", r.Level, line)
		}
		byQueryName[r.Query] = r
	}
	if len(lines) != 2 || len(byQueryName) != 2 {
		t.Fatalf("want one record per query, got:\n%s", logs.String())
	}
	if r := byQueryName["http"]; len(r.Warnings) != 0 || !slices.Equal(r.Infos, []string{"PromQL info: metric might not be a counter"}) {
		t.Errorf("http record %+v", r)
	}
	if r := byQueryName["tcp"]; !slices.Equal(r.Warnings, []string{"store gateway a unreachable", "store gateway b unreachable"}) || len(r.Infos) != 0 {
		t.Errorf("tcp record %+v", r)
	}
}

func TestFetchWithoutWarningsLogsNothing(t *testing.T) {
	_, srv := startFake(t, nil)
	var logs meshtest.SyncBuffer
	opts, _ := testOptions(srv.URL)
	opts.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, err := mustNew(t, opts).Fetch(t.Context()); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if logs.String() != "" {
		t.Errorf("logged without warnings:\n%s", logs.String())
	}
}

func TestFetchUsesTheURLPathPrefix(t *testing.T) {
	// Mimir and proxied Thanos serve the API below a prefix.
	fake := &fakePrometheus{t: t}
	mux := http.NewServeMux()
	mux.Handle("/prometheus/", http.StripPrefix("/prometheus", fake))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	opts, _ := testOptions(srv.URL + "/prometheus/")
	if _, err := mustNew(t, opts).Fetch(t.Context()); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if n, want := len(fake.seenQueries()), len(Queries(time.Minute)); n != want {
		t.Errorf("server saw %d queries under the prefix, want %d", n, want)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The body is read as it comes, so what follows the answer is read too: a
// JSON answer followed by anything but whitespace is no answer.
func TestFetchRefusesDataAfterTheAnswer(t *testing.T) {
	_, srv := startFake(t, func(string) (int, string) {
		return http.StatusOK, `{"status":"success","data":{"resultType":"vector","result":[]}} {"status":"success"}`
	})
	opts, _ := testOptions(srv.URL)
	if _, err := mustNew(t, opts).Fetch(t.Context()); err == nil || !strings.Contains(err.Error(), "data after the JSON answer") {
		t.Errorf("Fetch() error = %v, want data after the answer refused", err)
	}
	_, srv = startFake(t, func(string) (int, string) {
		return http.StatusOK, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}\n\t "
	})
	opts, _ = testOptions(srv.URL)
	if _, err := mustNew(t, opts).Fetch(t.Context()); err != nil {
		t.Errorf("an answer ending in whitespace: %v", err)
	}
}
