// Tests of FetchCerts against a fake Prometheus: the two queries' text, istiod's figures and
// the proxies' by pod, figures Prometheus lacks, the pod label options, errors and counting.

package prom

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshlock/meshlock/internal/graph"
)

const (
	wantCACertsQuery    = `label_replace(min(citadel_server_root_cert_expiry_timestamp), "meshlock_term", "root", "", "") or label_replace(min(citadel_server_cert_chain_expiry_timestamp), "meshlock_term", "chain", "", "")`
	wantProxyCertsQuery = `min by (namespace, pod) (timestamp(istio_agent_cert_expiry_seconds{resource_name="default"}) + istio_agent_cert_expiry_seconds{resource_name="default"})`
)

// byCertQuery answers the ca_certs and proxy_certs queries with their own
// bodies, each with status 200.
func byCertQuery(caBody, proxyBody string) func(string) (int, string) {
	return func(query string) (int, string) {
		if strings.Contains(query, "citadel_server_") {
			return http.StatusOK, caBody
		}
		return http.StatusOK, proxyBody
	}
}

func unix(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

func TestCertQueriesAreFixed(t *testing.T) {
	want := []Query{{Name: "ca_certs", PromQL: wantCACertsQuery}, {Name: "proxy_certs", PromQL: wantProxyCertsQuery}}
	if got := CertQueries("namespace", "pod"); !slices.Equal(got, want) {
		t.Errorf("CertQueries() =\n%q\nwant\n%q", got, want)
	}
	opts, _ := testOptions("http://prometheus:9090")
	if got := mustNew(t, opts).CertQueries(); !slices.Equal(got, want) {
		t.Errorf("a default client's CertQueries() =\n%q\nwant\n%q", got, want)
	}
}

func TestFetchCertsSendsTheTwoQueriesAndCountsThem(t *testing.T) {
	fake, srv := startFake(t, nil)
	opts, reg := testOptions(srv.URL)
	c := mustNew(t, opts)
	for range 2 {
		if _, err := c.FetchCerts(t.Context()); err != nil {
			t.Fatalf("FetchCerts: %v", err)
		}
	}
	got := fake.seenQueries()
	slices.Sort(got)
	want := []string{wantCACertsQuery, wantCACertsQuery, wantProxyCertsQuery, wantProxyCertsQuery}
	if !slices.Equal(got, want) {
		t.Errorf("Prometheus was asked\n%q\nwant exactly\n%q", got, want)
	}
	for _, name := range []string{"ca_certs", "proxy_certs"} {
		if ok, failed := queriesCounted(t, reg, name, "success"), queriesCounted(t, reg, name, "error"); ok != 2 || failed != 0 {
			t.Errorf("%s counted %v successes and %v errors, want 2 and 0", name, ok, failed)
		}
	}
	// The traffic queries are Fetch's alone.
	if n := queriesCounted(t, reg, "http", "success"); n != 0 {
		t.Errorf("FetchCerts counted %v http queries", n)
	}
}

func TestFetchCertsReadsIstiodsAndTheProxiesFigures(t *testing.T) {
	ca := vectorAnswer(
		`{"metric":{"meshlock_term":"root"},"value":[1764190800,"2079550800"]}`,
		`{"metric":{"meshlock_term":"chain"},"value":[1764190800,"1795726800"]}`,
	)
	proxies := vectorAnswer(
		// The scrape's milliseconds and the agent's reading round to the second.
		`{"metric":{"namespace":"default","pod":"reviews-v2-7d8f-abcde"},"value":[1764190800,"1764277200.4"]}`,
		`{"metric":{"namespace":"default","pod":"ratings-v1-5c6b-fghij"},"value":[1764190800,"1764211000.5"]}`,
		// An expired certificate is still a figure.
		`{"metric":{"namespace":"shop","pod":"cart-0"},"value":[1764190800,"1764100000"]}`,
		// Series the scrape did not label with their pod join nothing.
		`{"metric":{"namespace":"default"},"value":[1764190800,"1764277200"]}`,
		`{"metric":{"pod":"orphan"},"value":[1764190800,"1764277200"]}`,
		`{"metric":{"namespace":"default","pod":""},"value":[1764190800,"1764277200"]}`,
		// No certificate expires at these.
		`{"metric":{"namespace":"default","pod":"nan"},"value":[1764190800,"NaN"]}`,
		`{"metric":{"namespace":"default","pod":"inf"},"value":[1764190800,"+Inf"]}`,
		`{"metric":{"namespace":"default","pod":"before-1970"},"value":[1764190800,"-5"]}`,
		`{"metric":{"namespace":"default","pod":"after-9999"},"value":[1764190800,"1e12"]}`,
	)
	_, srv := startFake(t, byCertQuery(ca, proxies))
	opts, _ := testOptions(srv.URL)
	got, err := mustNew(t, opts).FetchCerts(t.Context())
	if err != nil {
		t.Fatalf("FetchCerts: %v", err)
	}
	if got.RootExpiry == nil || !got.RootExpiry.Equal(unix(2079550800)) || got.RootExpiry.Location() != time.UTC {
		t.Errorf("RootExpiry = %v, want %v", got.RootExpiry, unix(2079550800))
	}
	if got.ChainExpiry == nil || !got.ChainExpiry.Equal(unix(1795726800)) {
		t.Errorf("ChainExpiry = %v, want %v", got.ChainExpiry, unix(1795726800))
	}
	want := map[graph.PodRef]time.Time{
		{Namespace: "default", Name: "reviews-v2-7d8f-abcde"}: unix(1764277200),
		{Namespace: "default", Name: "ratings-v1-5c6b-fghij"}: unix(1764211001),
		{Namespace: "shop", Name: "cart-0"}:                   unix(1764100000),
	}
	if len(got.Proxies) != len(want) {
		t.Errorf("Proxies = %v, want %v", got.Proxies, want)
	}
	for pod, at := range want {
		if g, ok := got.Proxies[pod]; !ok || !g.Equal(at) || g.Location() != time.UTC {
			t.Errorf("Proxies[%v] = %v (present %v), want %v", pod, g, ok, at)
		}
	}
}

func TestFetchCertsWithoutSeriesIsNoError(t *testing.T) {
	for _, tc := range []struct {
		name                string
		ca                  string
		wantRoot, wantChain bool
	}{
		{"nothing", emptyVector, false, false},
		// An istiod without a signing chain of its own records the root only
		// (RecordCertsExpiry returns without a cert chain).
		{"root only", vectorAnswer(`{"metric":{"meshlock_term":"root"},"value":[1764190800,"2079550800"]}`), true, false},
		{"unusable root", vectorAnswer(`{"metric":{"meshlock_term":"root"},"value":[1764190800,"NaN"]}`,
			`{"metric":{"meshlock_term":"chain"},"value":[1764190800,"1795726800"]}`), false, true},
		// A term the query does not ask for is not a figure.
		{"other term", vectorAnswer(`{"metric":{"meshlock_term":"intermediate"},"value":[1764190800,"1795726800"]}`), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, srv := startFake(t, byCertQuery(tc.ca, emptyVector))
			opts, _ := testOptions(srv.URL)
			got, err := mustNew(t, opts).FetchCerts(t.Context())
			if err != nil {
				t.Fatalf("FetchCerts: %v", err)
			}
			if (got.RootExpiry != nil) != tc.wantRoot || (got.ChainExpiry != nil) != tc.wantChain {
				t.Errorf("RootExpiry %v, ChainExpiry %v; want root %v, chain %v", got.RootExpiry, got.ChainExpiry, tc.wantRoot, tc.wantChain)
			}
			if len(got.Proxies) != 0 {
				t.Errorf("Proxies = %v, want none", got.Proxies)
			}
		})
	}
}

func TestFetchCertsJoinsByTheConfiguredLabels(t *testing.T) {
	// A scrape configuration that names them otherwise.
	proxies := vectorAnswer(
		`{"metric":{"kubernetes_namespace":"default","kubernetes_pod_name":"reviews-v2-7d8f-abcde"},"value":[1764190800,"1764277200"]}`,
		// The default names mean nothing here.
		`{"metric":{"namespace":"default","pod":"ratings-v1-5c6b-fghij"},"value":[1764190800,"1764277200"]}`,
	)
	fake, srv := startFake(t, byCertQuery(emptyVector, proxies))
	opts, _ := testOptions(srv.URL)
	opts.CertNamespaceLabel, opts.CertPodLabel = "kubernetes_namespace", "kubernetes_pod_name"
	c := mustNew(t, opts)
	got, err := c.FetchCerts(t.Context())
	if err != nil {
		t.Fatalf("FetchCerts: %v", err)
	}
	want := `min by (kubernetes_namespace, kubernetes_pod_name) (timestamp(istio_agent_cert_expiry_seconds{resource_name="default"}) + istio_agent_cert_expiry_seconds{resource_name="default"})`
	if !slices.Contains(fake.seenQueries(), want) || c.CertQueries()[1].PromQL != want {
		t.Errorf("queries sent %q, CertQueries %q; want the proxies' query %q", fake.seenQueries(), c.CertQueries(), want)
	}
	pod := graph.PodRef{Namespace: "default", Name: "reviews-v2-7d8f-abcde"}
	if at, ok := got.Proxies[pod]; len(got.Proxies) != 1 || !ok || !at.Equal(unix(1764277200)) {
		t.Errorf("Proxies = %v, want only %v at %v", got.Proxies, pod, unix(1764277200))
	}
}

func TestFetchCertsFailsWhole(t *testing.T) {
	t.Run("one query", func(t *testing.T) {
		ca := vectorAnswer(`{"metric":{"meshlock_term":"root"},"value":[1764190800,"2079550800"]}`)
		_, srv := startFake(t, func(query string) (int, string) {
			if strings.Contains(query, "istio_agent_") {
				return http.StatusUnprocessableEntity, `{"status":"error","errorType":"execution","error":"too many samples"}`
			}
			return http.StatusOK, ca
		})
		opts, reg := testOptions(srv.URL)
		got, err := mustNew(t, opts).FetchCerts(t.Context())
		if err == nil || !strings.HasPrefix(err.Error(), "prometheus proxy_certs query: ") || !strings.Contains(err.Error(), "too many samples") {
			t.Fatalf("FetchCerts() error = %v, want the proxy_certs query's", err)
		}
		if got.RootExpiry != nil || got.ChainExpiry != nil || got.Proxies != nil {
			t.Errorf("figures returned with the error: %+v", got)
		}
		if n := queriesCounted(t, reg, "proxy_certs", "error"); n != 1 {
			t.Errorf("proxy_certs errors counted %v, want 1", n)
		}
		if n := queriesCounted(t, reg, "ca_certs", "success"); n != 1 {
			t.Errorf("ca_certs successes counted %v, want 1", n)
		}
	})

	t.Run("both, one cause", func(t *testing.T) {
		_, srv := startFake(t, func(string) (int, string) {
			return http.StatusServiceUnavailable, "<html>\n<body>503 Service Unavailable</body>\n</html>\n" + strings.Repeat("x", 10000)
		})
		opts, reg := testOptions(srv.URL)
		_, err := mustNew(t, opts).FetchCerts(t.Context())
		if err == nil {
			t.Fatal("FetchCerts succeeded")
		}
		msg := err.Error()
		// Said once for both queries.
		if !strings.HasPrefix(msg, "prometheus ca_certs, proxy_certs queries: ") {
			t.Errorf("error %q does not name both queries once", msg)
		}
		if !strings.Contains(msg, "503") || strings.Contains(msg, "\n") || len(msg) > 1000 {
			t.Errorf("error %q: want one short line naming the 503", msg)
		}
		for _, name := range []string{"ca_certs", "proxy_certs"} {
			if n := queriesCounted(t, reg, name, "error"); n != 1 {
				t.Errorf("%s errors counted %v, want 1", name, n)
			}
		}
	})

	t.Run("not a vector", func(t *testing.T) {
		matrix := `{"status":"success","data":{"resultType":"matrix","result":[]}}`
		_, srv := startFake(t, byCertQuery(matrix, emptyVector))
		opts, _ := testOptions(srv.URL)
		_, err := mustNew(t, opts).FetchCerts(t.Context())
		if err == nil || !strings.Contains(err.Error(), "ca_certs query") || !strings.Contains(err.Error(), "matrix") {
			t.Fatalf("FetchCerts() error = %v, want the ca_certs query's answer refused as a matrix", err)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		_, srv := startFake(t, nil)
		opts, _ := testOptions(srv.URL)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := mustNew(t, opts).FetchCerts(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("FetchCerts() error = %v, want context.Canceled", err)
		}
	})
}
