// `meshlock check` and `meshlock report`: the compliance report of a period made by the same code
// as GET /api/report, once, on the command line; check exits 1 when an edge or service is below
// the bar, 0 when none is, 2 on a usage or connection error, and 2 as well when there is nothing
// to judge (a --namespace that names nothing, or no traffic in the look-back): it fails closed.

package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/k8s"
	"github.com/meshlock/meshlock/internal/live"
	"github.com/meshlock/meshlock/internal/prom"
	"github.com/meshlock/meshlock/internal/report"
)

// Exit statuses of check.
const (
	exitPass  = 0
	exitBelow = 1 // something is below the bar
)

// subcommand is check's or report's configuration.
type subcommand struct {
	name       string // "check" or "report"
	cfg        config // the connection flags, as the server reads them
	namespaces []string
	output     string
	// check
	lookback        time.Duration
	minMTLS         float64
	certMinValidity time.Duration // 0: certificates not checked
	workloadCerts   bool
	// report
	from, to, out string
	given         map[string]bool
}

func parseSubcommand(name string, args []string, getenv func(string) string, usage io.Writer) (subcommand, error) {
	sc := subcommand{name: name}
	c := &sc.cfg
	fs := flag.NewFlagSet("meshlock "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	sourceFlags(fs, c, "read the built-in simulated mesh: no cluster, no Prometheus needed")
	var namespaces string
	fs.StringVar(&namespaces, "namespace", "", "comma-separated namespaces (default: all)")
	switch name {
	case "check":
		sc.lookback = report.DefaultLength
		fs.Var((*longDuration)(&sc.lookback), "lookback", "the period checked, up to now (e.g. 7d, 36h); when not given, 7d or all Prometheus keeps if less")
		fs.Float64Var(&sc.minMTLS, "min-mtls", 1.0, "the bar: the least mTLS share (0 to 1) of each edge's and each service's traffic")
		fs.StringVar(&sc.output, "o", report.FormatTable, "output: table, json (the report's JSON with its check) or yaml")
		fs.Var((*longDuration)(&sc.certMinValidity), "cert-min-validity", "also fail when a trusted root certificate expires within this (e.g. 30d); 0 checks no certificate")
		fs.BoolVar(&sc.workloadCerts, "workload-certs", false, "with --cert-min-validity, also judge every proxy certificate Prometheus knows")
	case "report":
		fs.StringVar(&sc.from, "from", "", "start: RFC 3339, or a time before now such as 30d (default: 7d before to, or all Prometheus keeps if less)")
		fs.StringVar(&sc.to, "to", "", "end: RFC 3339, or a time before now (default: now)")
		fs.StringVar(&sc.output, "o", report.FormatJSON, "output: json, csv or yaml")
		fs.StringVar(&sc.out, "out", "", "write to this file instead of stdout")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(usage, "Usage: meshlock %s [flags]\n\nEvery flag also reads MESHLOCK_<FLAG>; the command line wins.\n", name)
			fs.SetOutput(usage)
			fs.PrintDefaults()
			return sc, errHelp
		}
		return sc, err
	}
	if fs.NArg() > 0 {
		return sc, fmt.Errorf("unexpected argument %q: meshlock %s takes flags only", fs.Arg(0), name)
	}
	given, err := applyEnv(fs, getenv)
	if err != nil {
		return sc, err
	}
	sc.given = given
	sc.cfg.given = given
	sc.namespaces = splitList(namespaces)
	return sc, sc.validate()
}

func (sc subcommand) validate() error {
	if err := validateHTTPURL(sc.cfg.PrometheusURL); err != nil {
		return fmt.Errorf("--prometheus-url: %v", err)
	}
	if err := sc.cfg.validateHistoryPrometheus(); err != nil {
		return err
	}
	formats := map[string][]string{"check": {report.FormatTable, report.FormatJSON, report.FormatYAML},
		"report": {report.FormatJSON, report.FormatCSV, report.FormatYAML}}[sc.name]
	ok := false
	for _, f := range formats {
		ok = ok || sc.output == f
	}
	if !ok {
		return fmt.Errorf("-o %q: want %s", sc.output, strings.Join(formats, ", "))
	}
	if sc.name == "check" {
		if !(sc.minMTLS >= 0 && sc.minMTLS <= 1) {
			return fmt.Errorf("--min-mtls must be between 0 and 1, got %v", sc.minMTLS)
		}
		if sc.lookback < time.Minute {
			return fmt.Errorf("--lookback must be at least 1m, got %s", live.FormatLookback(sc.lookback))
		}
		if sc.certMinValidity < 0 {
			return fmt.Errorf("--cert-min-validity must not be negative, got %s", live.FormatLookback(sc.certMinValidity))
		}
		if sc.workloadCerts && sc.certMinValidity == 0 {
			return errors.New("--workload-certs needs --cert-min-validity: the time a certificate must still be valid")
		}
	}
	if err := sc.cfg.validateCertLabels(); err != nil {
		return err
	}
	for _, ns := range sc.namespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return fmt.Errorf("--namespace: invalid namespace %q: %s", ns, errs[0])
		}
	}
	// The server's rule, once: --demo with a cluster's or a Prometheus' flags.
	return sc.cfg.validateCombination()
}

// runSubcommand runs check or report and answers the exit status.
func runSubcommand(ctx context.Context, name string, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	sc, err := parseSubcommand(name, args, getenv, stdout)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshlock %s: %v\n", name, err)
		return exitUsage
	}
	// Warnings only: stdout is the script's, stderr the person's.
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rep, err := sc.makeReport(ctx, logger, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "meshlock %s: %v\n", name, oneLine(err))
		return exitUsage
	}
	w := stdout
	if sc.out != "" {
		f, err := os.Create(sc.out)
		if err != nil {
			fmt.Fprintf(stderr, "meshlock %s: %v\n", name, err)
			return exitUsage
		}
		defer f.Close()
		w = f
	}
	switch sc.output {
	case report.FormatTable:
		err = report.WriteCheckTable(w, rep)
	case report.FormatJSON:
		err = report.WriteJSON(w, rep)
	case report.FormatYAML:
		err = report.WriteYAML(w, rep)
	case report.FormatCSV:
		err = report.WriteCSV(w, rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshlock %s: writing: %v\n", name, err)
		return exitUsage
	}
	if rep.Check != nil && !rep.Check.Pass {
		return exitBelow
	}
	return exitPass
}

// makeReport connects like the server does, reads the period once and
// builds the report (with its check for check).
func (sc subcommand) makeReport(ctx context.Context, logger *slog.Logger, stderr io.Writer) (report.Report, error) {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	src, err := openSources(ctx, sc.cfg, logger)
	if err != nil {
		return report.Report{}, err
	}
	// The demo's world closes once its context has ended.
	defer func() { stop(); _ = src.close() }()
	promClient, err := prom.New(prom.Options{
		URL: src.prometheusURL, BearerTokenFile: sc.cfg.PrometheusBearerTokenFile, CAFile: sc.cfg.PrometheusCAFile,
		Window: time.Minute, Registerer: prometheus.NewRegistry(), Logger: logger, HistorySeries: sc.cfg.HistorySeries,
		CertNamespaceLabel: sc.cfg.CertNamespaceLabel, CertPodLabel: sc.cfg.CertPodLabel,
	})
	if err != nil {
		return report.Report{}, err
	}
	past, pastURL, err := historyClient(sc.cfg, promClient, src.prometheusURL, prometheus.NewRegistry(), logger)
	if err != nil {
		return report.Report{}, err
	}
	watcher, err := k8s.NewWatcher(k8s.Options{Kube: src.kube, Istio: src.istio, Namespaces: nil,
		RootNamespace: sc.cfg.IstioRootNamespace, Logger: logger})
	if err != nil {
		return report.Report{}, err
	}
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	watcher.Start(watchCtx)
	syncCtx, cancel := context.WithTimeout(ctx, time.Minute)
	err = watcher.WaitForSync(syncCtx)
	cancel()
	if err != nil {
		return report.Report{}, fmt.Errorf("kubernetes: the caches did not sync: %w", err)
	}
	cluster, err := watcher.Cluster()
	if err != nil {
		return report.Report{}, fmt.Errorf("kubernetes: %w", err)
	}
	gen := &report.Generator{Querier: past, Cluster: func() graph.Cluster { return cluster }, URL: pastURL,
		Certs: promClient.FetchCerts}

	from, to := sc.from, sc.to
	if sc.name == "check" && sc.given["lookback"] {
		from = live.FormatLookback(sc.lookback)
	}
	period, source, err := gen.Parse(ctx, from, to)
	if err != nil {
		return report.Report{}, err
	}
	// Said once the report is made: an error is the one line on stderr.
	var note string
	if from == "" && period.Length() < report.DefaultLength {
		note = fmt.Sprintf("meshlock %s: Prometheus keeps %s: the report covers it all, from %s\n",
			sc.name, source.Retention, period.From.Format(time.RFC3339))
	}
	snap, err := gen.Snapshot(ctx, period, &source)
	if err != nil {
		return report.Report{}, err
	}
	if sc.name == "check" {
		if err := knownNamespaces(sc.namespaces, cluster, snap); err != nil {
			return report.Report{}, err
		}
	}
	if len(sc.namespaces) > 0 {
		snap = graph.Filter(snap, sc.namespaces)
	}
	enforcer, err := enforce.New(enforce.Options{RootNamespace: sc.cfg.IstioRootNamespace,
		AuditNamespace: cmp.Or(sc.cfg.AuditNamespace, src.auditNamespace), AuditClient: src.kube, Logger: logger})
	if err != nil {
		return report.Report{}, err
	}
	actions, err := enforcer.Actions(ctx, k8s.Clients{Kube: src.kube, Istio: src.istio})
	if err != nil {
		if sc.name == "report" {
			return report.Report{}, fmt.Errorf("the audit trail of enforce actions: %w", err)
		}
		logger.Warn("could not read the audit trail of enforce actions; the check does not need it", "error", err)
	}
	var kept []enforce.Action
	for _, a := range actions {
		if report.ActionConcerns(a, sc.namespaces) {
			kept = append(kept, a)
		}
	}
	rep := report.Build(report.Input{Period: period, Snapshot: snap, Actions: kept, Source: source, Namespaces: sc.namespaces}, time.Now())
	if sc.name == "check" {
		if err := somethingToCheck(rep, sc.namespaces); err != nil {
			return report.Report{}, err
		}
		report.Check(&rep, sc.minMTLS)
		if sc.certMinValidity > 0 {
			if err := report.CheckCerts(&rep, sc.certMinValidity, sc.workloadCerts, time.Now()); err != nil {
				return report.Report{}, err
			}
		}
	}
	fmt.Fprint(stderr, note)
	return rep, nil
}

// knownNamespaces fails check closed on a --namespace that names nothing
// in the mesh (a typo): no such namespace in Kubernetes, nor in the
// period's traffic. Checking it would find nothing below the bar: a PASS.
func knownNamespaces(namespaces []string, cluster graph.Cluster, snap graph.Snapshot) error {
	known := map[string]bool{}
	for _, ns := range cluster.Namespaces {
		known[ns] = true
	}
	for _, n := range snap.Nodes {
		known[n.Namespace] = true
	}
	for _, ns := range namespaces {
		if !known[ns] {
			return fmt.Errorf("--namespace: no namespace %q in the cluster nor in the traffic of the period: nothing to check, no PASS", ns)
		}
	}
	return nil
}

// somethingToCheck fails check closed when the period holds no traffic
// (in the namespaces asked for): no edge can be below the bar, yet nothing
// was proven either.
func somethingToCheck(rep report.Report, namespaces []string) error {
	if len(rep.Edges) > 0 {
		return nil
	}
	where := ""
	if len(namespaces) > 0 {
		where = " to or from namespace " + strings.Join(namespaces, ", ")
	}
	return fmt.Errorf("no traffic%s from %s to %s (%s): nothing to check, no PASS",
		where, rep.From.Format(time.RFC3339), rep.To.Format(time.RFC3339), rep.Source.Kind)
}

// oneLine keeps an error to the one line the contract promises.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
