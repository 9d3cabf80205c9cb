// Tests of an edge's chart: the range asked for (destination, period, step), steps without an
// answer drawn as no traffic, and edges whose target has no series.

package live

import (
	"context"
	"testing"
	"time"

	"github.com/meshlock/meshlock/internal/graph"
)

type rangeCall struct {
	target   graph.RangeTarget
	from, to time.Time
	step     time.Duration
}

type scriptedRanger struct {
	calls []rangeCall
	steps []graph.SampleStep
}

func (r *scriptedRanger) EdgeRange(_ context.Context, target graph.RangeTarget, from, to time.Time, step time.Duration) ([]graph.SampleStep, error) {
	r.calls = append(r.calls, rangeCall{target, from, to, step})
	return r.steps, nil
}

func TestChartsAskOneRangeAndFillTheGaps(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 30, 0, time.UTC)
	at := now.Add(-time.Hour + time.Minute) // the second step
	sample := reviewsToRatings(graph.SecurityPlaintext).Samples[0]
	r := &scriptedRanger{steps: []graph.SampleStep{{T: at, Samples: []graph.Sample{sample}}}}
	charts, err := NewCharts(ChartOptions{Ranger: r, Cluster: func() graph.Cluster { return *bookinfo().Cluster },
		Period: time.Hour, Points: 60, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	edge := graph.Edge{ID: "default/reviews->default/ratings:http", Source: "default/reviews", Target: "default/ratings", Protocol: "http"}
	chart, err := charts.Edge(context.Background(), edge, graph.Node{ID: "default/ratings", Name: "ratings", Kind: graph.KindService})
	if err != nil {
		t.Fatal(err)
	}
	want := rangeCall{graph.RangeTarget{Service: "ratings"}, now.Add(-time.Hour), now, time.Minute}
	if len(r.calls) != 1 || r.calls[0] != want {
		t.Errorf("range queries %+v, want one: %+v", r.calls, want)
	}
	if len(chart.Points) != 61 || chart.Unit != graph.UnitRequests || chart.Step != "1m" {
		t.Fatalf("chart: %d points, unit %s, step %s; want 61, req/s, 1m", len(chart.Points), chart.Unit, chart.Step)
	}
	if p := chart.Points[1]; p.Rate != 1 || p.MTLSRatio == nil || *p.MTLSRatio != 0 {
		t.Errorf("the step with plaintext = %+v, want 1 req/s at 0 %%", p)
	}
	if p := chart.Points[0]; p.Rate != 0 || p.MTLSRatio != nil {
		t.Errorf("a step without an answer = %+v, want no traffic and no share", p)
	}
	if _, err := charts.Edge(context.Background(), edge, graph.Node{ID: "unknown", Kind: graph.KindUnknown}); err == nil {
		t.Error("a chart into the unknown node did not fail")
	}
}
