// Test of the posture's gauges: edges by status, the mTLS share per namespace and protocol, and
// findings by kind and severity, read from the current snapshot.

package live

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshlock/meshlock/internal/graph"
)

func TestPostureGauges(t *testing.T) {
	part := reviewsToRatings(graph.SecurityMutualTLS)
	plain := reviewsToRatings(graph.SecurityPlaintext).Samples[0]
	plain.Source.Workload = "legacy"
	part.Samples = append(part.Samples, plain)
	traffic, cluster := &scripted{part: part}, &scripted{part: bookinfo()}
	reg := prometheus.NewRegistry()
	l, err := NewLoop(LoopOptions{
		Sources:  []SourceConfig{{Name: "prometheus", Source: traffic}, {Name: "kubernetes", Source: cluster}},
		Interval: time.Hour, Window: time.Minute, Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	l.Refresh(context.Background())
	want := `# HELP meshlock_edges Edges with traffic in the rate window, by status (locked, mixed, open, unknown).
# TYPE meshlock_edges gauge
meshlock_edges{status="locked"} 1
meshlock_edges{status="mixed"} 0
meshlock_edges{status="open"} 1
meshlock_edges{status="unknown"} 0
# HELP meshlock_mtls_ratio Share of the traffic into a namespace's services proven mutual TLS, by protocol (http: requests, tcp: bytes); absent without traffic of known status.
# TYPE meshlock_mtls_ratio gauge
meshlock_mtls_ratio{namespace="default",protocol="http"} 0.5
# HELP meshlock_findings Findings of the current graph, by kind and severity.
# TYPE meshlock_findings gauge
meshlock_findings{kind="strict-would-cut",severity="warning"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "meshlock_edges", "meshlock_mtls_ratio", "meshlock_findings"); err != nil {
		t.Error(err)
	}
}

// The Grafana dashboard in deploy/ plots only what meshlock exports.
func TestGrafanaDashboardPlotsTheGauges(t *testing.T) {
	data, err := os.ReadFile("../../deploy/grafana/meshlock-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dashboard struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(data, &dashboard); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	exported := regexp.MustCompile(`\bmeshlock_[a-z_]+`)
	plotted := map[string]bool{}
	for _, p := range dashboard.Panels {
		for _, target := range p.Targets {
			for _, name := range exported.FindAllString(target.Expr, -1) {
				switch name {
				case "meshlock_edges", "meshlock_mtls_ratio", "meshlock_findings":
					plotted[name] = true
				default:
					t.Errorf("panel %q plots %s, which meshlock does not export", p.Title, name)
				}
			}
		}
	}
	if len(plotted) != 3 {
		t.Errorf("the dashboard plots %v, want the three posture gauges", plotted)
	}
}
