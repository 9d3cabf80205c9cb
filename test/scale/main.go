// Command scale measures meshlock on a synthetic mesh of a given size on the real test bed
// (etcd, kube-apiserver, Debian's Prometheus): queries and Prometheus time per refresh, refresh
// time, /api/graph's time and size, memory and CPU, how many edges match meshsim's truth, and the
// look-back's cost. `make scale SCALE=20,50,5000 DURATION=2m`; the table goes to stdout, progress
// to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/meshlock/meshlock/test/testbed"
)

// options are the command's flags.
type options struct {
	scale          Scale
	duration       time.Duration
	warmup         time.Duration
	scrapeInterval time.Duration
	refresh        time.Duration
	seed           uint64
	publishWorkers int
	lookbackCost   bool
	publishOnly    bool
	browser        bool
	querySets      int    // rounds of the query-set comparison, 0 none
	profiles       string // folder for meshlock's CPU and heap profiles, none when empty
	clusters       int    // test-bed clusters the mesh is spread over
	// compareClusters, when 2 or more, runs the mesh on one cluster and
	// then on that many, the same edges in all, and compares them.
	compareClusters int
	// historyDays, when set, measures only the look-back over that many
	// days of written history (history.go), and a report of
	// historyReportDays.
	historyDays, historyReportDays int
	historyRawSeed                 bool
}

// mesh names the measured mesh: the scale, or with several clusters
// clusters × each one's share.
func (o options) mesh() string {
	if o.clusters <= 1 {
		return o.scale.String()
	}
	scales := clusterScales(o.scale, o.clusters)
	if first, last := scales[0], scales[len(scales)-1]; first.Edges != last.Edges {
		return fmt.Sprintf("%d × %d×%d×%d–%d", o.clusters, first.Namespaces, first.Services, last.Edges, first.Edges)
	}
	return fmt.Sprintf("%d × %s", o.clusters, scales[0])
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	scale := fs.String("scale", "20,50,5000", "namespaces,services per namespace,edges (callers)")
	fs.BoolVar(&o.browser, "browser", true, "open the page in headless Chromium on the mesh and print its time to ready")
	fs.DurationVar(&o.duration, "duration", 2*time.Minute, "the measurement period, after the warm-up")
	fs.DurationVar(&o.warmup, "warmup", time.Minute, "wait after meshlock is ready, so that its 1m rate window is full")
	fs.DurationVar(&o.scrapeInterval, "scrape-interval", time.Second, "Prometheus' scrape interval of the simulated mesh")
	fs.DurationVar(&o.refresh, "refresh", 5*time.Second, "meshlock's --refresh")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the generated topology")
	fs.IntVar(&o.publishWorkers, "publish-workers", 8, "namespaces published to the API server at once")
	fs.BoolVar(&o.lookbackCost, "lookback-cost", true, "after the main measurement, time the look-back's history query")
	fs.BoolVar(&o.publishOnly, "publish-only", false, "only time publishing the mesh to the API server")
	fs.IntVar(&o.querySets, "query-sets", 10, "rounds of the live queries run alone against those of issue 14's time, after the period; 0 skips it")
	fs.StringVar(&o.profiles, "profiles", "", "folder for meshlock's CPU profile (30 s of the period) and heap profile (its end), none when empty")
	fs.IntVar(&o.clusters, "clusters", 1, "spread the mesh over this many clusters (each its own kube-apiserver, -scale's namespaces and Services, an even share of its edges); meshlock watches them all with --cluster")
	fs.IntVar(&o.compareClusters, "compare-clusters", 0, "run the mesh on one cluster, then on this many (2 or more) with the same edges in all, and print both and their ratios")
	fs.IntVar(&o.historyDays, "history-days", 0, "measure only the look-back: write this many days of the mesh's raw series (and -history-report-days of recorded ones) into Prometheus' storage and time the seed from each, a report, the rules and meshlock's RSS")
	fs.IntVar(&o.historyReportDays, "history-report-days", 30, "with -history-days: the report's days, read from the recorded series")
	fs.BoolVar(&o.historyRawSeed, "history-raw-seed", true, "with -history-days: write the raw days and time the seed from them (false: an hour of raw series, enough for the recorded ones' label sets)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	var err error
	if o.scale, err = parseScale(*scale); err != nil {
		return o, err
	}
	switch {
	case o.duration < 10*time.Second:
		return o, fmt.Errorf("-duration %s: at least 10s", o.duration)
	case o.scrapeInterval < 100*time.Millisecond:
		return o, fmt.Errorf("-scrape-interval %s: at least 100ms", o.scrapeInterval)
	case o.querySets < 0:
		return o, fmt.Errorf("-query-sets %d: 0 or more", o.querySets)
	case o.publishWorkers < 1:
		return o, fmt.Errorf("-publish-workers %d: at least 1", o.publishWorkers)
	case o.clusters < 1 || o.clusters > o.scale.Edges:
		return o, fmt.Errorf("-clusters %d: from 1 to the edges (%d)", o.clusters, o.scale.Edges)
	case o.compareClusters != 0 && (o.compareClusters < 2 || o.compareClusters > o.scale.Edges):
		return o, fmt.Errorf("-compare-clusters %d: from 2 to the edges (%d)", o.compareClusters, o.scale.Edges)
	case o.compareClusters != 0 && o.clusters != 1:
		return o, fmt.Errorf("-compare-clusters sets the clusters: not with -clusters %d", o.clusters)
	case o.compareClusters != 0 && o.publishOnly:
		return o, fmt.Errorf("-compare-clusters measures meshlock: not with -publish-only")
	case o.historyDays < 0 || o.historyReportDays < o.historyDays:
		return o, fmt.Errorf("-history-days %d and -history-report-days %d: the report's days at least the look-back's", o.historyDays, o.historyReportDays)
	case o.historyDays > 0 && (o.compareClusters != 0 || o.clusters != 1 || o.publishOnly):
		return o, fmt.Errorf("-history-days measures the look-back alone, on one cluster")
	}
	return o, nil
}

func main() {
	opts, err := parseFlags(os.Args[1:])
	if err == flag.ErrHelp {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(2)
	}
	// Ctrl-C (or a SIGTERM) stops meshlock and the test bed like a failure does.
	r := testbed.NewRunner()

	ctx, cancel := context.WithCancel(context.Background())
	r.Cleanup(cancel)
	switch {
	case opts.historyDays > 0:
		reportHistory(os.Stdout, opts, runHistory(ctx, r, opts))
	case opts.compareClusters > 0:
		compareClusters(ctx, r, opts)
	default:
		res := run(ctx, r, opts)
		report(os.Stdout, opts, res)
		if opts.clusters > 1 && !opts.publishOnly {
			if err := sameQueries(fixedQueries(), res.queriesPerRefresh()); err != nil {
				r.Errorf("%v", err)
			}
		}
	}
	r.Close()
	if r.Failed() {
		os.Exit(1)
	}
}

// compareClusters runs the one-cluster mesh, then the several-cluster one,
// each on a test bed of its own stopped before the next starts.
func compareClusters(ctx context.Context, r *testbed.Runner, o options) {
	one, several := o, o
	one.clusters, several.clusters = 1, o.compareClusters
	var results []result
	for _, run1 := range []options{one, several} {
		r.Logf("== %s", run1.mesh())
		s := newStage(r)
		results = append(results, run(ctx, s, run1))
		s.close()
	}
	reportComparison(os.Stdout, one, several, results[0], results[1])
	if err := sameQueries(results[0].queriesPerRefresh(), results[1].queriesPerRefresh()); err != nil {
		r.Errorf("%v", err)
	}
}
