// StartPrometheus: runs Debian's Prometheus on loopback, scraping the given targets every second.

package testbed

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"
)

// Prometheus is a running Prometheus server.
type Prometheus struct {
	// URL is its HTTP address on loopback: the query API is under /api/v1.
	URL string
}

// StartPrometheus runs Debian's prometheus with a generated configuration
// that scrapes each target (host:port, path /metrics) every second, and
// stops it when the test ends.
func StartPrometheus(t TB, targets ...string) *Prometheus {
	t.Helper()
	bin := findBinary(t, "prometheus")
	dir := t.TempDir()

	quoted := make([]string, len(targets))
	for i, target := range targets {
		quoted[i] = fmt.Sprintf("%q", target)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: meshsim
    scrape_interval: 1s
    scrape_timeout: 900ms
    static_configs:
      - targets: [%s]
`, strings.Join(quoted, ", "))
	configFile := filepath.Join(dir, "prometheus.yml")
	writeFile(t, configFile, config)

	addr := loopback(FreePort(t))
	p := startProcess(t, dir, "prometheus", bin,
		"--config.file="+configFile,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	url := "http://" + addr
	if err := p.waitReady(30*time.Second, httpOK(http.DefaultClient, url+"/-/ready", nil)); err != nil {
		t.Fatalf("testbed: %v", err)
	}
	return &Prometheus{URL: url}
}
