// The live queries' cost in Prometheus against the set meshlock ran when issue 14 was filed,
// both run alone, one query at a time, in interleaved rounds of one run: a ratio that holds on
// any machine, where the period's figure shares Prometheus with meshlock's own refreshes.

package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/meshlock/meshlock/internal/prom"
)

// issueQueries is the live query set at the time issue 14 measured it
// (internal/prom/queries.go at 04c83cc^): requests and TCP bytes sent,
// grouped by the canonical-service labels too, which no one read.
func issueQueries(window time.Duration) []string {
	labels := []string{
		"reporter", "source_workload", "source_workload_namespace", "source_canonical_service",
		"source_principal", "destination_workload", "destination_workload_namespace",
		"destination_service", "destination_service_name", "destination_service_namespace",
		"destination_canonical_service", "destination_principal", "connection_security_policy",
	}
	q := func(metric string, by []string) string {
		return fmt.Sprintf(`sum by (%s) (rate(%s{reporter=~"source|destination|waypoint"}[%s]))`,
			strings.Join(by, ", "), metric, prom.FormatWindow(window))
	}
	return []string{
		q("istio_requests_total", append(append([]string{}, labels...), "request_protocol", "response_code")),
		q("istio_tcp_sent_bytes_total", labels),
	}
}

func currentQueries(window time.Duration) []string {
	var out []string
	for _, q := range prom.Queries(window) {
		out = append(out, q.PromQL)
	}
	return out
}

// querySetCost is one set's cost per refresh, averaged over the rounds.
type querySetCost struct {
	name    string
	queries int
	eval    float64 // evalTotalTime per refresh, seconds
	samples float64 // totalQueryableSamples per refresh
	series  float64 // series answered per refresh
}

// querySetComparison runs each set once per round, one query at a time,
// the sets alternating so that a change of load shows in both.
type querySetComparison struct {
	rounds int
	sets   []querySetCost
	err    error
}

func compareQuerySets(ctx context.Context, api promv1.API, queryLog string, rounds int) querySetComparison {
	cmp := querySetComparison{rounds: rounds}
	// Each set runs one query at a time, and again all its queries at once
	// as meshlock runs them: Prometheus' evalTotalTime is wall time, so
	// queries sharing its cores each take longer. The copies run at once
	// end in a space, which tells them apart in the query log.
	type set struct {
		name    string
		queries []string
		atOnce  bool
	}
	var sets []set
	for _, s := range []set{{name: "at issue 14 (04c83cc^)", queries: issueQueries(window)}, {name: "now", queries: currentQueries(window)}} {
		sets = append(sets, s)
		together := make([]string, len(s.queries))
		for i, q := range s.queries {
			together[i] = q + " "
		}
		sets = append(sets, set{name: s.name + ", at once", queries: together, atOnce: true})
	}
	// A refresh's query in flight when meshlock stopped is logged when it ends.
	time.Sleep(5 * time.Second)
	start := time.Now()
	answered := make([]int, len(sets))
	for round := 0; round < rounds; round++ {
		for i, s := range sets {
			lens := make([]int, len(s.queries))
			errs := make([]error, len(s.queries))
			var wg sync.WaitGroup
			for j, q := range s.queries {
				query := func() {
					var v model.Value
					v, _, _, errs[j] = api.Query(ctx, q, time.Now())
					lens[j] = vectorLen(v)
				}
				if s.atOnce {
					wg.Go(query)
				} else {
					query()
				}
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				cmp.err = fmt.Errorf("the set %s: %w", s.name, err)
				return cmp
			}
			for _, n := range lens {
				answered[i] += n
			}
		}
	}
	end := time.Now()
	time.Sleep(time.Second) // the last lines of the query log
	entries, err := readQueryLog(queryLog)
	if err != nil {
		cmp.err = err
		return cmp
	}
	for i, s := range sets {
		own := map[string]bool{}
		for _, q := range s.queries {
			own[q] = true
		}
		sum := sumQueries(entries, start, end.Add(time.Second), func(q string) bool { return own[q] })
		if want := rounds * len(s.queries); sum.Count != want {
			cmp.err = fmt.Errorf("query log: %d of the %d queries of the set %s", sum.Count, want, s.name)
			return cmp
		}
		n := float64(rounds)
		cmp.sets = append(cmp.sets, querySetCost{name: s.name, queries: len(s.queries),
			eval: sum.Eval / n, samples: float64(sum.Samples) / n, series: float64(answered[i]) / n})
	}
	return cmp
}

func vectorLen(v model.Value) int {
	if vec, ok := v.(model.Vector); ok {
		return len(vec)
	}
	return 0
}
