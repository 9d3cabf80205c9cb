// An edge's chart: its rate and mTLS share over the look-back, from one range query made on
// demand (never per refresh), each step built as the live graph is.

package live

import (
	"context"
	"errors"
	"time"

	"github.com/meshlock/meshlock/internal/graph"
)

// EdgeRanger runs an edge's range query (internal/prom's Client.EdgeRange).
type EdgeRanger interface {
	EdgeRange(ctx context.Context, target graph.RangeTarget, from, to time.Time, step time.Duration) ([]graph.SampleStep, error)
}

// ChartOptions configures Charts.
type ChartOptions struct {
	Ranger EdgeRanger
	// Cluster is the cluster as the loop last read it (Loop.Cluster).
	Cluster func() graph.Cluster
	// Period is how far back a chart reaches: the look-back, or an hour
	// when it is off.
	Period time.Duration
	// Points is the number of steps of a chart. Default 120.
	Points int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Charts draws edges' histories.
type Charts struct{ opts ChartOptions }

// NewCharts checks the options.
func NewCharts(opts ChartOptions) (*Charts, error) {
	if opts.Ranger == nil || opts.Cluster == nil || opts.Period <= 0 {
		return nil, errors.New("live: charts need a Ranger, a Cluster and a Period")
	}
	if opts.Points <= 0 {
		opts.Points = 120
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Charts{opts: opts}, nil
}

// EdgeChart is an edge's traffic over the period.
type EdgeChart struct {
	Edge   string            `json:"edge"`
	From   time.Time         `json:"from"`
	To     time.Time         `json:"to"`
	Step   string            `json:"step"`
	Unit   string            `json:"unit"` // graph.UnitRequests or graph.UnitBytes
	Points []graph.EdgePoint `json:"points"`
}

// Edge charts edge, whose target node is target.
func (c *Charts) Edge(ctx context.Context, edge graph.Edge, target graph.Node) (EdgeChart, error) {
	var rt graph.RangeTarget
	switch target.Kind {
	case graph.KindService, graph.KindGateway:
		rt.Service = target.Name
	case graph.KindWorkload:
		rt.Workload = target.Name
	default:
		return EdgeChart{}, errors.New("this edge's target has no series of its own")
	}
	step := max(time.Second, (c.opts.Period / time.Duration(c.opts.Points)).Truncate(time.Second))
	to := c.opts.Now().UTC().Truncate(time.Second) // the chart ends now
	from := to.Add(-c.opts.Period)
	steps, err := c.opts.Ranger.EdgeRange(ctx, rt, from, to, step)
	if err != nil {
		return EdgeChart{}, err
	}
	unit := graph.UnitRequests
	if edge.Protocol == graph.ProtocolTCP {
		unit = graph.UnitBytes
	}
	// Steps without any series are steps without traffic.
	points := graph.EdgeSeries(fillSteps(steps, from, to, step), c.opts.Cluster(), edge.ID)
	return EdgeChart{Edge: edge.ID, From: from, To: to, Step: FormatLookback(step), Unit: unit, Points: points}, nil
}

// fillSteps gives every step of [from, to] its samples, none where the
// answer had no point.
func fillSteps(steps []graph.SampleStep, from, to time.Time, step time.Duration) []graph.SampleStep {
	byTime := make(map[time.Time][]graph.Sample, len(steps))
	for _, s := range steps {
		byTime[s.T] = s.Samples
	}
	var out []graph.SampleStep
	for t := from; !t.After(to); t = t.Add(step) {
		out = append(out, graph.SampleStep{T: t, Samples: byTime[t]})
	}
	return out
}
