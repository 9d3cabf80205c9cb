// The live queries' own decoding of an instant-query answer: one streaming pass over the body
// into Samples, reading only the labels the graph uses. client_golang's API client validated
// and skipped the whole body with encoding/json before decoding it again into maps per series:
// 350 ms of a 5,000-edge refresh (BenchmarkFetch's CPU profile).

package prom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	jsoniter "github.com/json-iterator/go"

	"github.com/meshlock/meshlock/internal/graph"
)

// knownLabels are the labels any query groups by, and the history's term:
// the decoder keeps these and skips the rest.
var knownLabels = func() map[string]int {
	names := append(append([]string{}, edgeLabels...), "request_protocol", "response_code", "response_flags", termLabel)
	m := make(map[string]int, len(names))
	for i, n := range names {
		m[n] = i
	}
	return m
}()

// seriesLabels holds one series' known labels, by knownLabels' index.
type seriesLabels struct{ values [20]string }

func (s *seriesLabels) get(name string) string {
	if i, ok := knownLabels[name]; ok {
		return s.values[i]
	}
	return ""
}

// answer is an instant query's answer, decoded.
type answer struct {
	samples            []graph.Sample
	warnings, infos    []string
	errorType, errText string
	status             string
}

// decodeAnswer reads {"status", "data": {"resultType": "vector",
// "result": [{"metric": {...}, "value": [t, "v"]}]}, "warnings", "infos",
// "errorType", "error"} into Samples, dropping series without a usable rate
// (as parseSamples does: NaN, infinite, negative, histograms).
func decodeAnswer(body []byte, protocol func(labels) string, measure string) (answer, error) {
	iter := jsoniter.ConfigFastest.BorrowIterator(body)
	defer jsoniter.ConfigFastest.ReturnIterator(iter)
	var samples []graph.Sample
	a, err := decodeFrom(iter, sampleSink(protocol, measure, &samples), seriesCap{})
	a.samples = samples
	return a, err
}

// seriesSink takes each series of an answer: its known labels (valid
// during the call only) and its value, NaN, infinite and negative ones
// and histograms left out.
type seriesSink func(ls *seriesLabels, v float64)

// sampleSink makes a live query's Samples.
func sampleSink(protocol func(labels) string, measure string, out *[]graph.Sample) seriesSink {
	return func(ls *seriesLabels, rate float64) {
		if s, ok := istioSample(ls, protocol(ls), measure, rate); ok {
			*out = append(*out, s)
		}
	}
}

// decodeStream decodes an answer as it is read, so that no copy of the
// whole body is ever held (the API client's buffer doubled as it grew: a
// 5,000-edge refresh allocated some 20 MB for its four bodies).
// maxBytes (0: no limit) over seriesBytes bounds what the decoded answer holds, as the
// byte cap bounds the body: a body of tiny series would otherwise decode
// into far more Samples than its bytes.
func decodeStream(body io.Reader, each seriesSink, maxBytes int64) (answer, error) {
	iter := jsoniter.Parse(jsoniter.ConfigFastest, body, 32<<10)
	a, err := decodeFrom(iter, each, seriesCap{series: int(maxBytes / seriesBytes), bytes: maxBytes})
	if err != nil {
		return a, err
	}
	// Only whitespace may follow: anything else is not Prometheus' answer,
	// or the rest of one too large (the cap's error).
	iter.WhatIsNext()
	switch {
	case iter.Error == io.EOF:
		return a, nil
	case iter.Error != nil:
		return answer{}, fmt.Errorf("decoding the answer: %w", iter.Error)
	default:
		return answer{}, errors.New("decoding the answer: data after the JSON answer")
	}
}

// seriesBytes is about the least a series of Istio's labels takes in an
// answer (they run 450-900 bytes): the byte cap over it bounds the series.
const seriesBytes = 384

// seriesCap is the most series an answer may hold, from its byte cap;
// zero: no limit.
type seriesCap struct {
	series int
	bytes  int64
}

func decodeFrom(iter *jsoniter.Iterator, each seriesSink, limit seriesCap) (answer, error) {
	var a answer
	resultType := ""
	strs := func(it *jsoniter.Iterator) (out []string) {
		it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
			out = append(out, it.ReadString())
			return true
		})
		return out
	}
	iter.ReadObjectCB(func(it *jsoniter.Iterator, field string) bool {
		switch key(field) {
		case "status":
			a.status = it.ReadString()
		case "errortype":
			a.errorType = it.ReadString()
		case "error":
			a.errText = it.ReadString()
		case "warnings":
			a.warnings = strs(it)
		case "infos":
			a.infos = strs(it)
		case "data":
			if it.WhatIsNext() != jsoniter.ObjectValue {
				it.Skip()
				return true
			}
			it.ReadObjectCB(func(it *jsoniter.Iterator, field string) bool {
				switch key(field) {
				case "resulttype":
					resultType = it.ReadString()
				case "result":
					if resultType != "" && resultType != "vector" {
						it.Skip()
						return true
					}
					readVector(it, each, limit)
				default:
					it.Skip()
				}
				return true
			})
		default:
			it.Skip()
		}
		return true
	})
	if iter.Error != nil {
		return answer{}, fmt.Errorf("decoding the answer: %w", iter.Error)
	}
	if a.status == "error" {
		return a, nil
	}
	switch resultType {
	case "vector":
	case "":
		return answer{}, errors.New("answer has no result")
	default:
		return answer{}, fmt.Errorf("answer is a %s, want a vector", resultType)
	}
	return a, nil
}

// key is a field's name as encoding/json matches it, case-insensitively,
// as the API client did; the few names it is compared to are lower case.
func key(field string) string {
	for i := 0; i < len(field); i++ {
		if c := field[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(field)
		}
	}
	return field
}

func readVector(it *jsoniter.Iterator, each seriesSink, limit seriesCap) {
	if it.WhatIsNext() != jsoniter.ArrayValue {
		it.Skip()
		return
	}
	series := 0
	// Values repeat across series (reporters, namespaces, workloads): one
	// string each.
	intern := map[string]string{}
	var ls seriesLabels
	it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
		if series++; limit.series > 0 && series > limit.series {
			it.Error = fmt.Errorf("%w: more than %d series, as many as the limit of %d bytes allows", errResponseTooLarge, limit.series, limit.bytes)
			return false
		}
		ls = seriesLabels{}
		rate, usable := 0.0, false
		it.ReadObjectCB(func(it *jsoniter.Iterator, field string) bool {
			switch key(field) {
			case "metric":
				it.ReadMapCB(func(it *jsoniter.Iterator, name string) bool {
					i, ok := knownLabels[name]
					if !ok || it.WhatIsNext() != jsoniter.StringValue {
						it.Skip()
						return true
					}
					v := it.ReadString()
					if interned, ok := intern[v]; ok {
						v = interned
					} else {
						intern[v] = v
					}
					ls.values[i] = v
					return true
				})
			case "value":
				n := 0
				it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
					if n == 1 && it.WhatIsNext() == jsoniter.StringValue {
						f, err := strconv.ParseFloat(it.ReadString(), 64)
						rate, usable = f, err == nil
					} else {
						it.Skip()
					}
					n++
					return true
				})
			default: // "histogram": a native histogram has no single rate
				it.Skip()
			}
			return true
		})
		if !usable || math.IsNaN(rate) || math.IsInf(rate, 0) || rate < 0 {
			return true
		}
		each(&ls, rate)
		return true
	})
}

// instant runs one live query through the API client's HTTP (its auth,
// CA and size cap) and decodes the answer itself.
func (c *Client) instant(ctx context.Context, q querySpec) ([]graph.Sample, error) {
	var samples []graph.Sample
	err := c.stream(ctx, q.Name, q.PromQL, time.Time{}, c.queryTimeout, sampleSink(q.protocol, q.measure, &samples))
	return samples, err
}

// stream runs an instant query at time at (zero: now) and hands each
// series of the answer to each as it is read: POST as Prometheus' own API
// client does, GET where a proxy refuses POST.
func (c *Client) stream(ctx context.Context, name, promql string, at time.Time, timeout time.Duration, each seriesSink) error {
	queryCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	endpoint := c.raw.URL("/api/v1/query", nil)
	form := url.Values{"query": {promql}}
	if !at.IsZero() {
		form.Set("time", strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', -1, 64))
	}
	req, err := http.NewRequestWithContext(queryCtx, http.MethodPost, endpoint.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return c.failed(name, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.http.Do(req)
	if err == nil && resp.StatusCode == http.StatusMethodNotAllowed {
		resp.Body.Close()
		endpoint.RawQuery = form.Encode()
		if req, err = http.NewRequestWithContext(queryCtx, http.MethodGet, endpoint.String(), nil); err == nil {
			resp, err = c.http.Do(req)
		}
	}
	if err != nil {
		c.queriesTotal.WithLabelValues(name, resultError).Inc()
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("prometheus %s query: no answer within %s: %w", name, timeout, err)
		}
		return fmt.Errorf("prometheus %s query: %w", name, err)
	}
	defer resp.Body.Close()
	var a answer
	var decodeErr error
	var body []byte // only an error answer is read whole, to quote it
	if resp.StatusCode/100 == 2 {
		a, decodeErr = decodeStream(resp.Body, each, c.maxBytes)
	} else {
		if body, err = io.ReadAll(io.LimitReader(resp.Body, 64<<10)); err == nil {
			iter := jsoniter.ConfigFastest.BorrowIterator(body)
			a, decodeErr = decodeFrom(iter, func(*seriesLabels, float64) {}, seriesCap{})
			jsoniter.ConfigFastest.ReturnIterator(iter)
		} else {
			decodeErr = err
		}
	}
	if decodeErr != nil && ctx.Err() == nil && errors.Is(decodeErr, context.DeadlineExceeded) {
		c.queriesTotal.WithLabelValues(name, resultError).Inc()
		return fmt.Errorf("prometheus %s query: no answer within %s: %w", name, timeout, decodeErr)
	}
	c.warn(name, a.warnings, a.infos)
	switch {
	case resp.StatusCode/100 != 2 || a.status == "error":
		c.queriesTotal.WithLabelValues(name, resultError).Inc()
		return fmt.Errorf("prometheus %s query: %s", name, statusError(resp, a, body, decodeErr))
	case decodeErr != nil:
		c.queriesTotal.WithLabelValues(name, resultError).Inc()
		return fmt.Errorf("prometheus %s query: %w", name, decodeErr)
	}
	c.queriesTotal.WithLabelValues(name, resultSuccess).Inc()
	return nil
}

// statusError says what an error answer said, on one short line: the
// server's errorType and error when it sent JSON, else its status and the
// start of its body (a proxy's page).
func statusError(resp *http.Response, a answer, body []byte, decodeErr error) string {
	status := fmt.Sprintf("server answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	if decodeErr == nil && (a.errorType != "" || a.errText != "") {
		return status + ": " + strings.TrimPrefix(a.errorType+": "+a.errText, ": ")
	}
	const maxDetail = 200
	detail := strings.Join(strings.Fields(string(body[:min(len(body), 4*maxDetail)])), " ")
	if len(detail) > maxDetail {
		detail = strings.ToValidUTF8(detail[:maxDetail], "") + "…"
	}
	return status + " (" + detail + ")"
}
