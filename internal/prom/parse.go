// parseSamples: turns one query's vector answer into Samples, dropping series without a usable rate.

package prom

import (
	"errors"
	"fmt"
	"math"

	"github.com/prometheus/common/model"

	"github.com/meshlock/meshlock/internal/graph"
)

// parseSamples turns the answer to one query into Samples. Labels the
// answer lacks become ""; series without a usable rate are dropped, since a
// NaN or negative rate (counter resets seen by some backends, stale
// markers) would poison every sum the graph makes.
func parseSamples(value model.Value, protocol func(labels) string, measure string) ([]graph.Sample, error) {
	if value == nil {
		return nil, errors.New("answer has no result")
	}
	vector, ok := value.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("answer is a %s, want a vector", value.Type())
	}

	samples := make([]graph.Sample, 0, len(vector))
	for _, s := range vector {
		// A native histogram has no single rate.
		if s == nil || s.Histogram != nil {
			continue
		}
		rate := float64(s.Value)
		if math.IsNaN(rate) || math.IsInf(rate, 0) || rate < 0 {
			continue
		}
		if sample, ok := istioSample(metricLabels(s.Metric), protocol(metricLabels(s.Metric)), measure, rate); ok {
			samples = append(samples, sample)
		}
	}
	return samples, nil
}
