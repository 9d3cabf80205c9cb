// The report: a Markdown table row per measurement (for docs/performance.md) and a short summary.

package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/prom"
)

// Extrapolation target of the look-back's cost.
const (
	targetEdges    = 5000
	targetDays     = 30
	targetInterval = 15 * time.Second
)

func report(w io.Writer, o options, res result) {
	if o.publishOnly {
		fmt.Fprintf(w, "Mesh %s: %d Services, %d workloads, %d namespaces published in %s (%d namespaces at a time), on %s.\n",
			o.mesh(), res.plan.services, res.plan.workloads, o.scale.Namespaces*max(1, o.clusters), res.publishTime.Round(time.Millisecond), o.publishWorkers, res.machine)
		return
	}
	m := res.metrics
	perRefresh := func(v float64) float64 {
		if m.Refreshes == 0 {
			return 0
		}
		return v / m.Refreshes
	}
	// The query log's period and the counters' are not cut at the same
	// instant, so a refresh at either end may be in one and not the other:
	// Prometheus' figures are per logged query, times meshlock's queries per refresh.
	perLogged := func(v float64) float64 {
		if res.evals.Count == 0 {
			return 0
		}
		return v / float64(res.evals.Count) * perRefresh(m.Queries)
	}
	gz := "not gzipped"
	if res.graphGzip > 0 {
		gz = fmt.Sprintf("%s gzip (%s)", kb(res.graphGzip), ms(res.graphGzipTime))
	}
	fmt.Fprintln(w, "| mesh (ns×svc×edges) | scrape | period | refreshes | queries / refresh | refresh mean | Prometheus eval / refresh | /api/graph (median of 5) | /api/graph size | RSS now / peak | CPU over the period | edges matching the truth |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	fmt.Fprintf(w, "| %s | %s | %s | %.0f | %.2f | %s | %s | %s | %s, %s | %s / %s | %.1f s (%.0f %% of a core) | %d / %d |\n",
		o.mesh(), o.scrapeInterval, res.period.Round(time.Second), m.Refreshes,
		perRefresh(m.Queries), ms(time.Duration(perRefresh(m.RefreshTotal)*float64(time.Second))),
		ms(seconds(perLogged(res.evals.Eval))),
		ms(res.graphTime), kb(res.graphBytes), gz,
		mib(res.proc.RSS), mib(res.proc.PeakRSS),
		res.cpu.Seconds(), 100*res.cpu.Seconds()/res.period.Seconds(),
		res.compared.Matched, res.compared.Expected)

	if lb := res.lookback; lb != nil && len(lb.points) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| mesh (ns×svc×edges) | look-back range / step | wall time | Prometheus eval | history series returned | raw series | raw samples in range | raw samples / s of eval |")
		fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- |")
		points := lb.points
		if lb.coarse != nil {
			points = append(points[:len(points):len(points)], *lb.coarse)
		}
		for _, p := range points {
			fmt.Fprintf(w, "| %s | %s / %s | %s | %s | %d | %d | %.3g | %.3g |\n",
				o.mesh(), prom.FormatWindow(p.rng), prom.FormatWindow(p.step), ms(p.wall), ms(seconds(p.eval.Eval)), p.returned, lb.series,
				p.rawSamples, p.rawSamples/p.eval.Eval)
		}
	}

	fmt.Fprintln(w)
	fmt.Fprintf(w, "Machine: %s; load average over the last minute of the period %s (everything on it shares the cores: meshlock, Prometheus, the API server, the simulated mesh).\n", res.machine, res.load)
	fmt.Fprintf(w, "Mesh %s: %d Services, %d workloads (%d with a sidecar), %d callers (%d TCP), %d DestinationRules, %d PeerAuthentications; published in %s.\n",
		o.mesh(), res.plan.services, res.plan.workloads, res.plan.sidecars, res.plan.callers, res.plan.tcpCallers,
		res.plan.rules, res.plan.peers, res.publishTime.Round(time.Millisecond))
	fmt.Fprintf(w, "meshlock (--refresh=%s --window=%s --lookback=0, %s as deploy/base sets them) was ready with a fresh graph %s after it started.\n",
		o.refresh, prom.FormatWindow(window), strings.Join(res.env, " "), res.readyAfter.Round(100*time.Millisecond))
	fmt.Fprintf(w, "Over %s: %.0f refreshes, %.0f queries (%.0f failed), %.0f refresh errors; refresh mean %s.\n",
		res.period.Round(time.Second), m.Refreshes, m.Queries, m.QueryErrors, m.RefreshErrors,
		ms(time.Duration(perRefresh(m.RefreshTotal)*float64(time.Second))))
	fmt.Fprintf(w, "Prometheus' query log: %d of meshlock's queries logged in the period; per refresh (per logged query × %.2f queries a refresh), evalTotalTime %s (preparation + evaluation + sort, summed over the refresh's queries, which run at once), plus %s queued (execQueueTime); %.3g samples read (totalQueryableSamples).\n",
		res.evals.Count, perRefresh(m.Queries), ms(seconds(perLogged(res.evals.Eval))), ms(seconds(perLogged(res.evals.Queue))), perLogged(float64(res.evals.Samples)))
	if s := res.scrape; s.err != nil {
		fmt.Fprintf(w, "Scrapes: could not read Prometheus' scrape metrics: %v.\n", s.err)
	} else {
		fmt.Fprintf(w, "Scrapes of the mesh: %.0f samples each, %s the last, %s the longest in the period; %.0f %% of the scrapes due succeeded.\n",
			s.samples, ms(seconds(s.duration)), ms(seconds(s.max)), 100*s.upShare)
		if s.upShare < 0.95 || s.max > o.scrapeInterval.Seconds()*0.9 {
			fmt.Fprintf(w, "WARNING: Prometheus did not keep up with a %s scrape of this mesh (scrapes missed or near their timeout).\n", o.scrapeInterval)
		}
	}
	if pg := res.page; pg != nil {
		if pg.err != nil {
			fmt.Fprintf(w, "Page: could not read its time to ready: %v.\n", pg.err)
		} else {
			fmt.Fprintf(w, "Page (headless Chromium): ready %.0f ms after navigation started (in the page), %s wall; renderer RSS %d MiB.\n",
				pg.readyMs, ms(pg.wall), pg.rendererRSS>>20)
		}
	}
	c := res.compared
	fmt.Fprintf(w, "Graph: %d edges (%s); expected from the truth: %d (%s); %d match, %d unexpected.\n",
		res.graphEdges, statusCounts(res.counts), c.Expected, statusCounts(c.ByStatus), c.Matched, c.Unexpected)
	for i, p := range c.Problems {
		if i == 10 {
			fmt.Fprintf(w, "  … and %d more\n", len(c.Problems)-10)
			break
		}
		fmt.Fprintf(w, "  - %s\n", p)
	}

	if qs := res.querySets; qs != nil {
		if qs.err != nil {
			fmt.Fprintf(w, "Query sets: %v.\n", qs.err)
		} else {
			fmt.Fprintf(w, "Query sets alone (meshlock stopped), %d interleaved rounds after the period, Prometheus' evalTotalTime per refresh:", qs.rounds)
			for i, c := range qs.sets {
				sep := ";"
				if i == 0 {
					sep = ""
				}
				fmt.Fprintf(w, "%s %s, %d queries, %s, %.3g samples read, %.0f series answered", sep, c.name, c.queries, ms(seconds(c.eval)), c.samples, c.series)
			}
			// sets: then, then at once, now, now at once.
			if len(qs.sets) == 4 && qs.sets[0].eval > 0 && qs.sets[1].eval > 0 {
				fmt.Fprintf(w, "; now / then = %.2f one at a time, %.2f at once", qs.sets[2].eval/qs.sets[0].eval, qs.sets[3].eval/qs.sets[1].eval)
			}
			fmt.Fprintln(w, ".")
		}
	}
	if lb := res.lookback; lb != nil {
		if lb.err != nil {
			fmt.Fprintf(w, "Look-back: %v.\n", lb.err)
		}
		if len(lb.points) > 0 {
			reportLookback(w, o, lb)
		}
	}
}

// reportLookback explains the longest history query's cost and
// extrapolates it.
func reportLookback(w io.Writer, o options, lb *lookbackResult) {
	p := lb.points[len(lb.points)-1]
	rate := p.rawSamples / p.eval.Eval
	fmt.Fprintf(w, "Look-back (meshlock stopped first, so that Prometheus serves it alone): the history query over %s at step %s took %s (Prometheus: evalTotalTime %s, %s queued) and returned %d history series; it read %d raw series × %.0f samples each (%s scrape) = %.3g raw samples (each about twice: volume term and last-seen subquery; Prometheus counted %.3g queryable samples): %.3g raw samples per second of Prometheus eval.\n",
		prom.FormatWindow(p.rng), prom.FormatWindow(p.step), ms(p.wall), ms(seconds(p.eval.Eval)), ms(seconds(p.eval.Queue)), p.returned,
		lb.series, p.rng.Seconds()/o.scrapeInterval.Seconds(), o.scrapeInterval, p.rawSamples, float64(p.eval.Samples), rate)
	series := float64(lb.series) * targetEdges / float64(o.scale.Edges)
	samples := series * targetDays * 86400 / targetInterval.Seconds()
	fmt.Fprintf(w, "EXTRAPOLATION (not measured): a %d-day look-back of a %d-edge mesh scraped every %s holds %.3g raw series (%d here × %d/%d edges) × %.0f samples = %.3g raw samples; the seed reads each day once (volume term + last-seen subquery, as measured here; its subquery step is 5m where this one's is 1m, which reads each raw sample as often in fewer steps), so at %.3g raw samples per second it costs about %s of Prometheus eval in all, %s per day's query.\n",
		targetDays, targetEdges, targetInterval, series, lb.series, targetEdges, o.scale.Edges,
		targetDays*86400/targetInterval.Seconds(), samples, rate,
		seconds(samples/rate).Round(time.Second), seconds(samples/rate/targetDays).Round(100*time.Millisecond))
	if len(lb.points) < 2 {
		return
	}
	// Over short ranges a fixed cost per query (parsing, label matching,
	// the union's joins) weighs in: the growth between the shortest and
	// the longest range is the cost of the samples alone.
	first := lb.points[0]
	fmt.Fprintf(w, "From %s to %s of range (%.1f× the samples) the eval grew %.1f×.\n",
		prom.FormatWindow(first.rng), prom.FormatWindow(p.rng), p.rawSamples/first.rawSamples, p.eval.Eval/first.eval.Eval)
	grew := p.eval.Eval - first.eval.Eval
	if grew <= 0 || p.eval.Eval/first.eval.Eval < 1.2 {
		fmt.Fprintln(w, "The eval hardly follows the samples at these ranges: a fixed cost per query (or the machine's load) dominates, so the rate above understates what Prometheus reads per second and the extrapolation from it is likely high. Run longer (-duration) for longer ranges.")
	}
	if grew > 0 {
		marginal := (p.rawSamples - first.rawSamples) / grew
		fixed := first.eval.Eval - first.rawSamples/marginal
		perDay := max(fixed, 0) + samples/targetDays/marginal
		fmt.Fprintf(w, "EXTRAPOLATION (not measured), by the marginal rate instead: %.3g raw samples per second of eval beyond a fixed %s a query gives about %s per day's query, %s in all.\n",
			marginal, ms(seconds(fixed)), seconds(perDay).Round(100*time.Millisecond), seconds(perDay*targetDays).Round(time.Second))
	}
	if c := lb.coarse; c != nil {
		steps := float64(p.rng / p.step)
		perStep := (p.eval.Eval - c.eval.Eval) / (steps - 1)
		fmt.Fprintf(w, "The same %s in one subquery step instead of %.0f: eval %s instead of %s, so about %s of it per subquery step (of %d raw series), the rest per sample. ",
			prom.FormatWindow(c.rng), steps, ms(seconds(c.eval.Eval)), ms(seconds(p.eval.Eval)), ms(seconds(perStep)), lb.series)
		if perStep > 0 {
			const seedSteps = 288 // a day's query: a 5m subquery step
			fmt.Fprintf(w, "EXTRAPOLATION (not measured): were the cost per step the same at a 5m step, a day's query of the seed (%d steps) would spend about %s on its steps alone.\n",
				seedSteps, seconds(perStep*seedSteps*series/float64(lb.series)).Round(100*time.Millisecond))
		} else {
			fmt.Fprintln(w, "No cost per step shows: the cost follows the samples.")
		}
	}
}

func statusCounts(counts map[string]int) string {
	var parts []string
	for _, s := range []string{graph.StatusLocked, graph.StatusOpen, graph.StatusMixed, graph.StatusUnknown} {
		parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
	}
	return strings.Join(parts, ", ")
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func kb(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

// queriesPerRefresh is meshlock's queries over its refreshes in the period.
func (res result) queriesPerRefresh() float64 {
	if res.metrics.Refreshes == 0 {
		return 0
	}
	return res.metrics.Queries / res.metrics.Refreshes
}

func (res result) refreshMean() time.Duration {
	if res.metrics.Refreshes == 0 {
		return 0
	}
	return seconds(res.metrics.RefreshTotal / res.metrics.Refreshes)
}

// evalPerRefresh is Prometheus' evalTotalTime per refresh, as report reckons it.
func (res result) evalPerRefresh() time.Duration {
	if res.evals.Count == 0 {
		return 0
	}
	return seconds(res.evals.Eval / float64(res.evals.Count) * res.queriesPerRefresh())
}

// fixedQueries is the size of the live query set, whatever the clusters.
func fixedQueries() float64 { return float64(len(prom.Queries(window))) }

// sameQueries: the cluster is a label of the series, not a query each, so
// several clusters must ask what one does.
func sameQueries(want, got float64) error {
	if math.Abs(got-want) > 0.005 {
		return fmt.Errorf("several clusters made %.2f queries a refresh, one %.2f: the queries must not grow with the clusters", got, want)
	}
	return nil
}

// reportComparison prints both runs' reports, then the several clusters'
// figures against one's.
func reportComparison(w io.Writer, one, several options, a, b result) {
	fmt.Fprintf(w, "## One cluster: %s\n\n", one.mesh())
	report(w, one, a)
	fmt.Fprintf(w, "\n## %d clusters: %s\n\n", several.clusters, several.mesh())
	report(w, several, b)
	fmt.Fprintf(w, "\n## %d clusters against one, the same %d edges in all\n\n", several.clusters, one.scale.Edges)
	fmt.Fprintln(w, "| mesh (clusters × ns×svc×edges) | queries / refresh | refresh mean | Prometheus eval / refresh | /api/graph (median of 5) | /api/graph size (gzip) | RSS now / peak | CPU over the period | edges matching the truth |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, row := range []struct {
		mesh string
		res  result
	}{{"1 × " + one.mesh(), a}, {several.mesh(), b}} {
		r := row.res
		fmt.Fprintf(w, "| %s | %.2f | %s | %s | %s | %s (%s) | %s / %s | %.1f s | %d / %d |\n",
			row.mesh, r.queriesPerRefresh(), ms(r.refreshMean()), ms(r.evalPerRefresh()), ms(r.graphTime),
			kb(r.graphBytes), kb(r.graphGzip), mib(r.proc.RSS), mib(r.proc.PeakRSS), r.cpu.Seconds(),
			r.compared.Matched, r.compared.Expected)
	}
	fmt.Fprintf(w, "| %d / 1 | %s | %s | %s | %s | %s (%s) | %s / %s | %s | |\n", several.clusters,
		ratio(b.queriesPerRefresh(), a.queriesPerRefresh()),
		ratio(b.refreshMean().Seconds(), a.refreshMean().Seconds()),
		ratio(b.evalPerRefresh().Seconds(), a.evalPerRefresh().Seconds()),
		ratio(b.graphTime.Seconds(), a.graphTime.Seconds()),
		ratio(float64(b.graphBytes), float64(a.graphBytes)), ratio(float64(b.graphGzip), float64(a.graphGzip)),
		ratio(float64(b.proc.RSS), float64(a.proc.RSS)), ratio(float64(b.proc.PeakRSS), float64(a.proc.PeakRSS)),
		ratio(b.cpu.Seconds(), a.cpu.Seconds()))
	verdict := "the same"
	if sameQueries(a.queriesPerRefresh(), b.queriesPerRefresh()) != nil {
		verdict = "NOT the same: the run fails"
	}
	fmt.Fprintf(w, "\nQueries per refresh: %.2f with one cluster, %.2f with %d (%s).\n",
		a.queriesPerRefresh(), b.queriesPerRefresh(), several.clusters, verdict)
}

// ratio is several / one, "–" where one is nothing.
func ratio(several, one float64) string {
	if one == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", several/one)
}
