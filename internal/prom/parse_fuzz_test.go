// Fuzz test of the whole answer path (API decoding, size cap, parseSamples) on arbitrary Prometheus answers.

package prom

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/meshlock/meshlock/internal/graph"
)

// bodyTransport answers every request with status and body, in memory.
type bodyTransport struct {
	status int
	body   []byte
}

func (b bodyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: b.status, Status: strconv.Itoa(b.status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(b.body)),
		ContentLength: int64(len(b.body)), Request: req}, nil
}

// The whole answer path (the API client's decoding, the size cap and
// parseSamples) never panics on what a Prometheus, or something posing as
// one, answers; what it accepts are usable rates only.
func FuzzFetchAnswer(f *testing.F) {
	f.Add(uint8(0), emptyVector)
	f.Add(uint8(0), `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"reporter":"destination","source_workload":"productpage-v1","connection_security_policy":"mutual_tls"},"value":[1700000000.5,"2.5"]}]}}`)
	f.Add(uint8(0), `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]},{"metric":{},"value":[1,"-1"]},{"metric":{},"histogram":[1,{"count":"1","sum":"1"}]}]}}`)
	f.Add(uint8(0), `{"status":"success","data":{"resultType":"matrix","result":[]}}`)
	f.Add(uint8(0), `{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}`)
	f.Add(uint8(1), `{"status":"error","errorType":"bad_data","error":"parse error"}`)
	f.Add(uint8(3), `<html>upstream timed out</html>`)
	f.Fuzz(func(t *testing.T, statusPick uint8, body string) {
		status := []int{http.StatusOK, http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusServiceUnavailable}[int(statusPick)%4]
		client, err := New(Options{URL: "http://prometheus.invalid", Registerer: prometheus.NewRegistry(),
			QueryTimeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		apiClient, err := api.NewClient(api.Config{Address: "http://prometheus.invalid",
			RoundTripper: &sizeCappedTransport{next: bodyTransport{status: status, body: []byte(body)}, limit: 1 << 20}})
		if err != nil {
			t.Fatal(err)
		}
		client.api, client.raw = v1.NewAPI(apiClient), apiClient
		samples, err := client.Fetch(context.Background())
		if err != nil {
			if msg := err.Error(); msg == "" || strings.Contains(msg, "\n") {
				t.Fatalf("error %q is not one line", msg)
			}
			return
		}
		for _, s := range samples {
			if math.IsNaN(s.Rate) || math.IsInf(s.Rate, 0) || s.Rate < 0 || s.Measure == "" {
				t.Fatalf("unusable sample kept: %+v", s)
			}
		}
	})
}

// The live queries' own decoder answers what client_golang's model
// decoding and parseSamples answer, for any vector answer.
func FuzzDecodeMatchesTheModel(f *testing.F) {
	f.Add(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"reporter":"destination","source_workload":"productpage-v1","connection_security_policy":"mutual_tls","pod":"x"},"value":[1700000000.5,"2.5"]}]}}`)
	f.Add(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]},{"metric":{"reporter":"source","response_code":"503","response_flags":"UF,URX"},"value":[1,"1e3"]},{"metric":{},"histogram":[1,{"count":"1","sum":"1"}]}]}}`)
	f.Add(`{"data":{"result":[{"value":[1,"3"],"metric":{"reporter":"waypoint","source_workload":"a\u00e9\"b"}}],"resultType":"vector"},"status":"success","warnings":["w"]}`)
	f.Add(string(benchAnswer(3)))
	f.Fuzz(func(t *testing.T, body string) {
		var envelope struct {
			Status string `json:"status"`
			Data   struct {
				ResultType string          `json:"resultType"`
				Result     json.RawMessage `json:"result"`
			} `json:"data"`
		}
		if json.Unmarshal([]byte(body), &envelope) != nil || envelope.Status != "success" || envelope.Data.ResultType != "vector" {
			return
		}
		var vector model.Vector
		if json.Unmarshal(envelope.Data.Result, &vector) != nil {
			return
		}
		want, err := parseSamples(vector, requestProtocol, graph.MeasureRequests)
		if err != nil {
			return
		}
		got, err := decodeAnswer([]byte(body), requestProtocol, graph.MeasureRequests)
		if err != nil {
			t.Fatalf("the model decodes %q, the decoder fails: %v", body, err)
		}
		if len(got.samples) != len(want) {
			t.Fatalf("%d samples, the model's %d, for %q", len(got.samples), len(want), body)
		}
		for i := range want {
			if got.samples[i] != want[i] {
				t.Fatalf("sample %d = %+v, the model's %+v", i, got.samples[i], want[i])
			}
		}
	})
}
