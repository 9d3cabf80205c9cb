// StartPrometheus: runs Debian's Prometheus on loopback, scraping the given targets every second
// (StartPrometheusWith: another interval, a query log, external labels, the flags a Thanos sidecar needs).

package testbed

import (
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Prometheus is a running Prometheus server.
type Prometheus struct {
	// URL is its HTTP address on loopback: the query API is under /api/v1.
	URL string
	// dataDir is its storage.tsdb.path, which a Thanos sidecar reads.
	dataDir string
	// Blocks is how many blocks its storage holds, once it has compacted
	// them (PrometheusOptions.Compacted); else 0.
	Blocks int
}

// PrometheusOptions configures StartPrometheusWith.
type PrometheusOptions struct {
	// Targets are host:port addresses scraped at path /metrics.
	Targets []string
	// ScrapeInterval is how often each target is scraped, in whole
	// milliseconds; zero means every second.
	ScrapeInterval time.Duration
	// QueryLogFile, when set, is an absolute path where Prometheus writes
	// every query it evaluates, one JSON object a line (global
	// query_log_file), with its timings.
	QueryLogFile string
	// ExternalLabels are the global external_labels, which a Thanos sidecar
	// requires (they name this Prometheus among the Querier's stores) and
	// which the Querier adds to every series it answers.
	ExternalLabels map[string]string
	// ForThanos runs Prometheus as a Thanos sidecar needs it (Thanos'
	// sidecar documentation): min and max block durations both 2h, so that
	// Prometheus never compacts the blocks the sidecar would ship, and the
	// lifecycle API, through which the sidecar may reload it.
	ForThanos bool
	// Backfill is OpenMetrics text (ending "# EOF") written into the
	// storage before Prometheus starts, with promtool tsdb
	// create-blocks-from openmetrics (Debian's prometheus package ships
	// promtool): series of the past that nothing scraped, such as a
	// long-term store keeps.
	Backfill string
	// Blocks are directories of TSDB blocks (RecordRules' output) copied
	// into the storage before Prometheus starts.
	Blocks []string
	// Rules is a rules file's text that Prometheus evaluates (rule_files).
	Rules string
	// Retention is storage.tsdb.retention.time; zero: Prometheus' 15d.
	Retention time.Duration
	// Compacted has StartPrometheusWith return only once Prometheus has
	// compacted the copied Blocks as its storage does over time (blocks up
	// to a tenth of the retention, 31 days at most): how a long-term
	// Prometheus holds the days it keeps. Blocks as a writer made them
	// (day-long ones) are what no running Prometheus keeps for long, and a
	// query reads every block it spans, series by series. It waits for
	// Prometheus' second compaction pass, a minute after its first ends.
	Compacted bool
	// Federate is the URL of a Prometheus whose /federate endpoint is
	// scraped each ScrapeInterval for the series FederateMatch selects,
	// with their labels and timestamps (honor_labels, as Prometheus'
	// federation documentation configures it).
	Federate      string
	FederateMatch []string
}

// StartPrometheus runs Debian's prometheus with a generated configuration
// that scrapes each target (host:port, path /metrics) every second, and
// stops it when the test ends.
func StartPrometheus(t TB, targets ...string) *Prometheus {
	t.Helper()
	return StartPrometheusWith(t, PrometheusOptions{Targets: targets})
}

// StartPrometheusWith is StartPrometheus with a scrape interval and a query log.
func StartPrometheusWith(t TB, opts PrometheusOptions) *Prometheus {
	t.Helper()
	bin := findBinary(t, "prometheus")
	dir := t.TempDir()

	interval := opts.ScrapeInterval
	if interval == 0 {
		interval = time.Second
	}
	if interval < time.Millisecond || interval%time.Millisecond != 0 {
		t.Fatalf("testbed: Prometheus scrape interval %s: want whole milliseconds", interval)
	}
	// A scrape must end before the next one starts.
	timeout := interval * 9 / 10
	quoted := make([]string, len(opts.Targets))
	for i, target := range opts.Targets {
		quoted[i] = fmt.Sprintf("%q", target)
	}
	queryLog := ""
	if opts.QueryLogFile != "" {
		queryLog = fmt.Sprintf("  query_log_file: %q\n", opts.QueryLogFile)
	}
	external := ""
	if len(opts.ExternalLabels) > 0 {
		names := slices.Sorted(maps.Keys(opts.ExternalLabels))
		external = "  external_labels:\n"
		for _, name := range names {
			external += fmt.Sprintf("    %s: %q\n", name, opts.ExternalLabels[name])
		}
	}
	rules := ""
	if opts.Rules != "" {
		rulesFile := filepath.Join(dir, "rules.yml")
		writeFile(t, rulesFile, opts.Rules)
		rules = fmt.Sprintf("rule_files: [%q]\n", rulesFile)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: %s
  evaluation_interval: 1s
%s%s%sscrape_configs:
  - job_name: meshsim
    scrape_interval: %s
    scrape_timeout: %s
    static_configs:
      - targets: [%s]
`, promDuration(interval), queryLog, external, rules, promDuration(interval), promDuration(timeout), strings.Join(quoted, ", "))
	if opts.Federate != "" {
		matches := make([]string, len(opts.FederateMatch))
		for i, m := range opts.FederateMatch {
			matches[i] = fmt.Sprintf("%q", m)
		}
		config += fmt.Sprintf(`  - job_name: federate
    scrape_interval: %s
    scrape_timeout: %s
    honor_labels: true
    metrics_path: /federate
    params:
      'match[]': [%s]
    static_configs:
      - targets: [%q]
`, promDuration(interval), promDuration(timeout), strings.Join(matches, ", "), strings.TrimPrefix(opts.Federate, "http://"))
	}
	configFile := filepath.Join(dir, "prometheus.yml")
	writeFile(t, configFile, config)

	addr := loopback(FreePort(t))
	dataDir := filepath.Join(dir, "data")
	if opts.Backfill != "" {
		input := filepath.Join(dir, "backfill.om")
		writeFile(t, input, opts.Backfill)
		cmd := exec.Command(findBinary(t, "promtool"), "tsdb", "create-blocks-from", "openmetrics", input, dataDir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("testbed: promtool backfill: %v\n%s", err, out)
		}
	}
	for _, blocks := range opts.Blocks {
		// Hard links where the blocks are on the same file system: a scale
		// run's are gigabytes.
		if out, err := exec.Command("cp", "-rl", blocks+"/.", dataDir).CombinedOutput(); err != nil {
			t.Fatalf("testbed: copying blocks: %v\n%s", err, out)
		}
	}
	args := []string{
		"--config.file=" + configFile,
		"--storage.tsdb.path=" + dataDir,
		"--web.listen-address=" + addr,
		"--log.level=warn",
	}
	if opts.Retention > 0 {
		args = append(args, "--storage.tsdb.retention.time="+promDuration(opts.Retention))
	}
	if opts.ForThanos {
		args = append(args, "--storage.tsdb.min-block-duration=2h", "--storage.tsdb.max-block-duration=2h", "--web.enable-lifecycle")
	}
	if opts.Compacted && opts.ForThanos {
		t.Fatalf("testbed: Compacted with ForThanos, whose blocks stay 2h for its sidecar")
	}
	p := startProcess(t, dir, "prometheus", bin, args...)
	url := "http://" + addr
	if err := p.waitReady(30*time.Second, httpOK(http.DefaultClient, url+"/-/ready", nil)); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	out := &Prometheus{URL: url, dataDir: dataDir}
	if opts.Compacted {
		out.Blocks = waitCompacted(t, url)
	}
	return out
}

// waitCompacted waits until Prometheus' storage has run its compaction
// twice: its loop triggers one a minute after the last ended, and each
// compacts all it plans, so the second finds what the first left. It
// returns the blocks loaded.
func waitCompacted(t TB, url string) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Minute)
	for {
		m, err := selfMetrics(url, "prometheus_tsdb_compactions_triggered_total", "prometheus_tsdb_blocks_loaded", "prometheus_tsdb_compactions_failed_total")
		switch {
		case err != nil:
			t.Fatalf("testbed: Prometheus' compaction: %v", err)
		case m[2] > 0:
			t.Fatalf("testbed: Prometheus failed to compact its blocks")
		case m[0] >= 2:
			return int(m[1])
		case time.Now().After(deadline):
			t.Fatalf("testbed: Prometheus has not compacted its blocks in 15 minutes")
		}
		time.Sleep(time.Second)
	}
}

// selfMetrics reads the values of unlabelled metrics from Prometheus'
// own /metrics, in the order of names; a missing one is an error.
func selfMetrics(url string, names ...string) ([]float64, error) {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(names))
	for i, name := range names {
		f, ok := families[name]
		if !ok || len(f.GetMetric()) != 1 {
			return nil, fmt.Errorf("%s: not one sample in Prometheus' /metrics", name)
		}
		switch m := f.GetMetric()[0]; {
		case m.GetCounter() != nil:
			out[i] = m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			out[i] = m.GetGauge().GetValue()
		default:
			return nil, fmt.Errorf("%s: neither a counter nor a gauge", name)
		}
	}
	return out, nil
}

// RecordRules evaluates a rules file's recording rules over [start, end]
// against the Prometheus at url, each at its group's interval, with
// promtool tsdb create-blocks-from rules, and returns the directory of the
// blocks it wrote (PrometheusOptions.Blocks), "" when no rule gave a
// sample: recorded series of the past, as if the rules had run then. promtool reads the answers of range
// queries, so rules that read other recorded series are not evaluated.
func RecordRules(t TB, url, rules string, start, end time.Time) string {
	t.Helper()
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yml")
	writeFile(t, rulesFile, rules)
	out := filepath.Join(dir, "blocks")
	cmd := exec.Command(findBinary(t, "promtool"), "tsdb", "create-blocks-from", "rules",
		"--start="+start.UTC().Format(time.RFC3339), "--end="+end.UTC().Format(time.RFC3339),
		"--url="+url, "--output-dir="+out, rulesFile)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testbed: promtool rules backfill: %v\n%s", err, msg)
	}
	if _, err := os.Stat(out); err != nil {
		return "" // no rule gave a sample
	}
	return out
}

// promDuration spells a duration as Prometheus' configuration does (1s, 900ms).
func promDuration(d time.Duration) string { return model.Duration(d).String() }
