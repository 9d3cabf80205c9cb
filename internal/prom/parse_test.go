// Tests of parseSamples (unusable rates, missing and unexpected labels, empty vectors, other
// result types) and of telling gRPC from HTTP.

package prom

import (
	"math"
	"strings"
	"testing"

	"github.com/prometheus/common/model"

	"github.com/meshlock/meshlock/internal/graph"
)

func TestParseSamplesSkipsUnusableRates(t *testing.T) {
	vector := model.Vector{
		{Metric: model.Metric{"reporter": "destination", "source_workload": "nan"}, Value: model.SampleValue(math.NaN())},
		{Metric: model.Metric{"reporter": "destination", "source_workload": "inf"}, Value: model.SampleValue(math.Inf(1))},
		{Metric: model.Metric{"reporter": "destination", "source_workload": "-inf"}, Value: model.SampleValue(math.Inf(-1))},
		{Metric: model.Metric{"reporter": "destination", "source_workload": "negative"}, Value: -0.5},
		{Metric: model.Metric{"reporter": "destination", "source_workload": "histogram"}, Histogram: &model.SampleHistogram{Count: 1}},
		{Metric: model.Metric{"reporter": "destination", "source_workload": "zero"}, Value: 0},
		{Metric: model.Metric{"reporter": "destination", "source_workload": "200"}, Value: 2.5},
	}
	samples, err := parseSamples(vector, requestProtocol, graph.MeasureRequests)
	if err != nil {
		t.Fatalf("parseSamples: %v", err)
	}
	var codes []string
	for _, s := range samples {
		if math.IsNaN(s.Rate) || math.IsInf(s.Rate, 0) || s.Rate < 0 {
			t.Errorf("unusable rate %v kept for %q", s.Rate, s.Source.Workload)
		}
		codes = append(codes, s.Source.Workload)
	}
	if got, want := strings.Join(codes, ","), "zero,200"; got != want {
		t.Errorf("kept samples %q, want %q", got, want)
	}
}

func TestParseSamplesToleratesMissingAndUnexpectedLabels(t *testing.T) {
	vector := model.Vector{{
		Metric: model.Metric{"reporter": "source", "pod": "productpage-v1-abc", "source_workload": "productpage-v1"},
		Value:  1,
	}}
	samples, err := parseSamples(vector, requestProtocol, graph.MeasureRequests)
	if err != nil {
		t.Fatalf("parseSamples: %v", err)
	}
	want := []graph.Sample{{Reporter: graph.ReporterClient, Protocol: "http", Source: graph.Peer{Workload: "productpage-v1"}, Measure: graph.MeasureRequests, Rate: 1}}
	if len(samples) != 1 || samples[0] != want[0] {
		t.Errorf("got %+v, want %+v", samples, want)
	}
}

func TestParseSamplesOfAnEmptyVector(t *testing.T) {
	samples, err := parseSamples(model.Vector{}, requestProtocol, graph.MeasureRequests)
	if err != nil || len(samples) != 0 {
		t.Errorf("parseSamples(empty) = %v, %v; want no samples and no error", samples, err)
	}
}

func TestParseSamplesRejectsOtherResultTypes(t *testing.T) {
	for _, tc := range []struct {
		value   model.Value
		wantErr string
	}{
		{model.Matrix{{Metric: model.Metric{"reporter": "source"}, Values: []model.SamplePair{{Value: 1}}}}, "matrix"},
		{&model.Scalar{Value: 1}, "scalar"},
		{&model.String{Value: "x"}, "string"},
		{nil, "no result"},
	} {
		samples, err := parseSamples(tc.value, requestProtocol, graph.MeasureRequests)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("parseSamples(%v) = %v, %v; want an error containing %q", tc.value, samples, err, tc.wantErr)
		}
	}
}

func TestRequestProtocol(t *testing.T) {
	for label, want := range map[string]string{"grpc": "grpc", "GRPC": "grpc", "http": "http", "": "http"} {
		if got := requestProtocol(metricLabels{"request_protocol": model.LabelValue(label)}); got != want {
			t.Errorf("request_protocol %q: protocol %q, want %q", label, got, want)
		}
	}
}
