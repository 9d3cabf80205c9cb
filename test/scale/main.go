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
	res := run(ctx, r, opts)
	report(os.Stdout, opts, res)
	r.Close()
	if r.Failed() {
		os.Exit(1)
	}
}
