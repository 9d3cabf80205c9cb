// StartPrometheus: runs Debian's Prometheus on loopback, scraping the given targets every second
// (StartPrometheusWith: another interval, a query log, external labels, the flags a Thanos sidecar needs).

package testbed

import (
	"fmt"
	"maps"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Prometheus is a running Prometheus server.
type Prometheus struct {
	// URL is its HTTP address on loopback: the query API is under /api/v1.
	URL string
	// dataDir is its storage.tsdb.path, which a Thanos sidecar reads.
	dataDir string
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
	config := fmt.Sprintf(`global:
  scrape_interval: %s
  evaluation_interval: 1s
%s%sscrape_configs:
  - job_name: meshsim
    scrape_interval: %s
    scrape_timeout: %s
    static_configs:
      - targets: [%s]
`, promDuration(interval), queryLog, external, promDuration(interval), promDuration(timeout), strings.Join(quoted, ", "))
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
	args := []string{
		"--config.file=" + configFile,
		"--storage.tsdb.path=" + dataDir,
		"--web.listen-address=" + addr,
		"--log.level=warn",
	}
	if opts.ForThanos {
		args = append(args,
			"--storage.tsdb.min-block-duration=2h",
			"--storage.tsdb.max-block-duration=2h",
			"--web.enable-lifecycle",
		)
	}
	p := startProcess(t, dir, "prometheus", bin, args...)
	url := "http://" + addr
	if err := p.waitReady(30*time.Second, httpOK(http.DefaultClient, url+"/-/ready", nil)); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	return &Prometheus{URL: url, dataDir: dataDir}
}

// promDuration spells a duration as Prometheus' configuration does (1s, 900ms).
func promDuration(d time.Duration) string { return model.Duration(d).String() }
