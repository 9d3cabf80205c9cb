// The Prometheus client's Options: URL, auth, CA, timeouts, size cap, with defaults and validation.

package prom

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/meshlock/meshlock/internal/graph"
)

// HistorySeriesModes are the values of Options.HistorySeries.
func HistorySeriesModes() []string {
	return []string{SeriesAuto, graph.SeriesRecorded, graph.SeriesIstioRecorded, graph.SeriesRaw}
}

// Defaults that validate fills in for zero values.
const (
	DefaultWindow       = time.Minute
	DefaultQueryTimeout = 10 * time.Second
	// DefaultHistoryQueryTimeout bounds a look-back query, which reads a
	// day of raw samples: at 5,000 edges and a 15 s scrape, one to five
	// minutes of Prometheus' time on a 2-core machine (extrapolated by make
	// scale, docs/performance.md).
	DefaultHistoryQueryTimeout = 10 * time.Minute
	DefaultMaxResponseBytes    = 64 << 20
	// The labels Istio's sample Prometheus configuration gives a pod's
	// metrics (samples/addons/prometheus.yaml, job kubernetes-pods:
	// __meta_kubernetes_namespace and __meta_kubernetes_pod_name).
	DefaultCertNamespaceLabel = "namespace"
	DefaultCertPodLabel       = "pod"
)

// Options for the creation of a Client. URL and Registerer are mandatory;
// the zero value of everything else is a safe default.
type Options struct {
	// URL of any Prometheus-compatible query API (Prometheus, Thanos,
	// Mimir), http or https, with the path prefix if it has one. Mandatory.
	URL string

	// BearerTokenFile, when set, holds a token sent as
	// "Authorization: Bearer <token>". It is read on every request so that a
	// rotated token (projected service account tokens) is picked up.
	BearerTokenFile string

	// CAFile, when set, is a PEM bundle of the CAs trusted for an https
	// URL instead of the system pool.
	CAFile string

	// Window is the rate window of the queries, at least one second, with
	// millisecond precision as PromQL durations have. Zero means
	// DefaultWindow.
	Window time.Duration

	// QueryTimeout bounds each query. Zero means DefaultQueryTimeout.
	QueryTimeout time.Duration

	// HistoryQueryTimeout bounds each look-back query (a day of the past,
	// or an edge's chart). Zero means DefaultHistoryQueryTimeout, and never
	// less than QueryTimeout.
	HistoryQueryTimeout time.Duration

	// MaxResponseBytes caps the size of one answer; a larger answer is an
	// error. Zero means DefaultMaxResponseBytes: 64 MiB, some 100,000 series
	// of Istio's labels (a 20,000-edge mesh's requests answer about 18 MB).
	// The live queries decode their answers as they read them, holding at
	// most MaxResponseBytes/384 series each; the look-back's are buffered
	// by the API client (growing its buffer by doubling, some 3 times this).
	MaxResponseBytes int64

	// CertNamespaceLabel and CertPodLabel are the labels of a proxy's
	// istio_agent_cert_expiry_seconds that name its pod's namespace and
	// name, by which FetchCerts joins certificates to pods: the scrape
	// configuration adds them, not Istio. Zero means
	// DefaultCertNamespaceLabel and DefaultCertPodLabel.
	CertNamespaceLabel, CertPodLabel string

	// HistorySeries is which series the look-back and the reports read:
	// SeriesAuto (the zero value) picks per period (Client.History);
	// graph.SeriesRecorded, graph.SeriesIstioRecorded or graph.SeriesRaw
	// always read those.
	HistorySeries string

	// Registerer receives the client's metrics. Mandatory, so that tests and
	// embedders never touch the global registry by accident.
	Registerer prometheus.Registerer

	// Logger receives the warnings Prometheus attaches to its answers. Nil
	// means slog.Default().
	Logger *slog.Logger
}

// validate fills in defaults and rejects values the client cannot work with.
func (o *Options) validate() error {
	if o.URL == "" {
		return errors.New("prometheus URL is required")
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		return fmt.Errorf("prometheus URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("prometheus URL %q: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return fmt.Errorf("prometheus URL %q: no host", u.Redacted())
	}

	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.Window < time.Second {
		return fmt.Errorf("window %s: must be at least 1s", o.Window)
	}
	// PromQL would silently see a truncated window otherwise.
	if o.Window%time.Millisecond != 0 {
		return fmt.Errorf("window %s: must be a whole number of milliseconds", o.Window)
	}

	if o.QueryTimeout == 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
	if o.QueryTimeout < 0 {
		return fmt.Errorf("query timeout %s: must not be negative", o.QueryTimeout)
	}
	if o.HistoryQueryTimeout == 0 {
		o.HistoryQueryTimeout = max(DefaultHistoryQueryTimeout, o.QueryTimeout)
	}
	if o.HistoryQueryTimeout < 0 {
		return fmt.Errorf("history query timeout %s: must not be negative", o.HistoryQueryTimeout)
	}

	if o.MaxResponseBytes == 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.MaxResponseBytes < 0 {
		return fmt.Errorf("max response bytes %d: must not be negative", o.MaxResponseBytes)
	}

	if o.CertNamespaceLabel == "" {
		o.CertNamespaceLabel = DefaultCertNamespaceLabel
	}
	if o.CertPodLabel == "" {
		o.CertPodLabel = DefaultCertPodLabel
	}
	for _, l := range []struct{ what, name string }{{"namespace", o.CertNamespaceLabel}, {"pod", o.CertPodLabel}} {
		if !certLabelName(l.name) {
			return fmt.Errorf("certificate %s label %q: not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)", l.what, l.name)
		}
	}
	if o.CertNamespaceLabel == o.CertPodLabel {
		return fmt.Errorf("certificate namespace and pod labels are both %q: a pod needs both", o.CertPodLabel)
	}

	switch o.HistorySeries {
	case "":
		o.HistorySeries = SeriesAuto
	case SeriesAuto, graph.SeriesRecorded, graph.SeriesIstioRecorded, graph.SeriesRaw:
	default:
		return fmt.Errorf("history series %q: want %s", o.HistorySeries, strings.Join(HistorySeriesModes(), ", "))
	}

	if o.Registerer == nil {
		return errors.New("a metrics Registerer is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// certLabelName accepts the classic label names only: they are written
// unquoted into the query's "by (...)", where a UTF-8 name would need a
// quoting that older Prometheus and Thanos do not parse. Names starting
// with __ are Prometheus' own, dropped after relabelling: no stored series
// has one.
func certLabelName(name string) bool {
	return model.LabelName(name).IsValidLegacy() && !strings.HasPrefix(name, "__")
}
