package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/report"
)

// reportQuerier answers every period with one plaintext and one mTLS
// caller of ratings and an mTLS caller in another namespace.
type reportQuerier struct{ err error }

func (q reportQuerier) Period(_ context.Context, end time.Time, rng, _ time.Duration) ([]graph.HistorySample, string, error) {
	s := func(ns, src, dst, security string) graph.HistorySample {
		return graph.HistorySample{Sample: graph.Sample{Reporter: graph.ReporterServer, Protocol: graph.ProtocolHTTP,
			Measure: graph.MeasureRequests, Security: security,
			Source: graph.Peer{Namespace: ns, Workload: src}, Destination: graph.Peer{Namespace: ns, Workload: dst},
			Service: graph.ServiceRef{Namespace: ns, Name: dst}}, Volume: 100, FirstSeen: end.Add(-rng / 2), LastSeen: end}
	}
	return []graph.HistorySample{
		s("default", "reviews", "ratings", graph.SecurityMutualTLS),
		s("default", "backup", "ratings", graph.SecurityPlaintext),
		s("shop", "web", "cart", graph.SecurityMutualTLS),
	}, graph.SeriesRaw, q.err
}

func (reportQuerier) Retention(context.Context) (time.Duration, error) {
	return 15 * 24 * time.Hour, nil
}

func reportHandler(t *testing.T, q reportQuerier, enforcer *scriptedEnforcer) http.Handler {
	t.Helper()
	gen := &report.Generator{Querier: q, URL: "http://prometheus:9090", Cluster: func() graph.Cluster {
		return graph.Cluster{Namespaces: []string{"default", "shop"}, Services: []graph.Service{
			{Namespace: "default", Name: "ratings", Workloads: []string{"ratings"}, InMesh: true, PeerAuthentication: "PERMISSIVE"},
			{Namespace: "shop", Name: "cart", Workloads: []string{"cart"}, InMesh: true, PeerAuthentication: "STRICT"},
		}}
	}}
	handler, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: &fixedGraph{snapshot: withIdleBackup()},
		Stream: http.NotFoundHandler(), Enforcer: enforcer, Auth: ServerIdentity{}, Reports: gen})
	if err != nil {
		t.Fatal(err)
	}
	return handler
}

func TestReportEndpoint(t *testing.T) {
	enforcer := &scriptedEnforcer{actions: []enforce.Action{
		{ID: "in", Who: "alice", At: time.Now().Add(-time.Hour), Namespace: "default", Service: "ratings", Mode: "STRICT"},
		{ID: "elsewhere", Who: "bob", At: time.Now().Add(-time.Hour), Namespace: "shop"},
		{ID: "before", Who: "carol", At: time.Now().Add(-30 * 24 * time.Hour), Namespace: "default"},
	}}
	handler := reportHandler(t, reportQuerier{}, enforcer)
	code, body := get(t, handler, "/api/report?from=24h&namespace=default")
	if code != http.StatusOK {
		t.Fatalf("report: %d %s", code, body)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Edges) != 2 || len(rep.ByNS) != 1 || rep.ByNS[0].Namespace != "default" || *rep.ByNS[0].RequestShare != 0.5 {
		t.Errorf("edges %+v, namespaces %+v; want default's two callers at 50%%", rep.Edges, rep.ByNS)
	}
	if len(rep.Actions) != 1 || rep.Actions[0].ID != "in" {
		t.Errorf("actions %+v, want the one of the period in default", rep.Actions)
	}
	if rep.Source.Kind != "prometheus" || rep.Source.Resolution != "1m" || rep.Source.Queries != 1 || rep.To.Sub(rep.From) != 24*time.Hour {
		t.Errorf("source %+v, period %s..%s", rep.Source, rep.From, rep.To)
	}

	req := httptest.NewRequest(http.MethodGet, "/api/report?from=7d&format=csv", nil)
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") ||
		!strings.Contains(rec.Header().Get("Content-Disposition"), `attachment; filename="meshlock-report-`) {
		t.Fatalf("csv: %d %v", rec.Code, rec.Header())
	}
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil || len(rows) < 4 || rows[0][0] != "record" {
		t.Errorf("csv rows %v, %v", rows, err)
	}
}

func TestReportRefusesBadParametersInOneSentence(t *testing.T) {
	handler := reportHandler(t, reportQuerier{}, &scriptedEnforcer{})
	for _, tc := range []struct{ query, want string }{
		{"from=1h&to=2h", "must be before to"},
		{"from=last+tuesday", "is neither an RFC 3339 time"},
		{"from=30d", "before what Prometheus holds: it keeps 15d"},
		{"format=pdf", "is not json or csv"},
		{"namespace=Not_A_Namespace", "invalid namespace"},
	} {
		code, body := get(t, handler, "/api/report?"+tc.query)
		var answer struct{ Error string }
		_ = json.Unmarshal([]byte(body), &answer)
		if code != http.StatusBadRequest || !strings.Contains(answer.Error, tc.want) || strings.Contains(answer.Error, "\n") {
			t.Errorf("%s: %d %s, want 400 saying %q in one sentence", tc.query, code, body, tc.want)
		}
	}
	down := reportHandler(t, reportQuerier{err: errors.New("connection refused")}, &scriptedEnforcer{})
	if code, body := get(t, down, "/api/report"); code != http.StatusServiceUnavailable || !strings.Contains(body, "connection refused") {
		t.Errorf("Prometheus down: %d %s", code, body)
	}
	none, err := NewHandler(Options{BasePath: "/", Registry: newRegistry(), Graph: &fixedGraph{snapshot: withIdleBackup()},
		Stream: http.NotFoundHandler(), Enforcer: &scriptedEnforcer{}, Auth: ServerIdentity{}})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, none, "/api/report"); code != http.StatusNotFound {
		t.Errorf("without reports: %d, want 404", code)
	}
}
