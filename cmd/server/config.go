// The binary's configuration: flags with MESHLOCK_* environment fallbacks, validation
// of each value and of their combinations, and the generated table of flags in docs/operating.md.

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/live"
	"github.com/meshlock/meshlock/internal/prom"
	"k8s.io/apimachinery/pkg/util/validation"
)

// config is the binary's whole configuration, as ../shared/CONTRACT.md
// names it. Each field's flag also reads MESHLOCK_<FLAG>.
type config struct {
	Addr                      string
	Demo                      bool
	PrometheusURL             string
	PrometheusBearerTokenFile string
	PrometheusCAFile          string
	// HistoryPrometheus* send the look-back's, the charts' and the
	// reports' queries to a long-term Prometheus (Istio's production
	// advice: raw series kept hours on the cluster's, the past elsewhere).
	HistoryPrometheusURL             string
	HistoryPrometheusBearerTokenFile string
	HistoryPrometheusCAFile          string
	// HistorySeries is which series the past is read from (prom.Options).
	HistorySeries         string
	Kubeconfig            string
	Context               string
	Namespaces            []string // empty: all
	Refresh               time.Duration
	Window                time.Duration
	Lookback              time.Duration
	BasePath              string
	FrameAncestors        string
	AllowEnforce          bool
	TrustedOrigins        []string
	AllowedHosts          []string // --auth=none: host names served besides loopback names and addresses
	IstioRootNamespace    string
	LogFormat             string
	Auth                  string
	AuditNamespace        string // "": the pod's own namespace, else "default"
	MetricsAddr           string // "": /metrics on Addr
	Pprof                 bool   // /debug/pprof/ on MetricsAddr
	MaxStreams            int
	MaxStreamsPerUser     int
	MaxLongQueries        int
	MaxLongQueriesPerUser int
	// Identity and trust (issue 22): when a root's or a proxy
	// certificate's remaining life is a finding, and the labels that name a
	// proxy's pod on istio-agent's metrics.
	CertWarn           time.Duration
	CertCritical       time.Duration
	WorkloadCertWarn   time.Duration
	CertNamespaceLabel string
	CertPodLabel       string
	// Clusters (issue 24) are the clusters watched when there are several,
	// each an Istio cluster ID and a context of --kubeconfig; empty: one
	// cluster, --context's.
	Clusters []clusterFlag
	// DemoClusters is how many clusters --demo simulates: 1 or 2.
	DemoClusters int
	// given are the flags set on the command line or by MESHLOCK_* variables.
	given map[string]bool
}

// errHelp is returned when -h or --help was asked for: usage was printed.
var errHelp = flag.ErrHelp

// parseConfig reads flags, then MESHLOCK_* variables for the flags not given
// on the command line, then validates. usage receives -h output.
func parseConfig(args []string, getenv func(string) string, usage io.Writer) (config, error) {
	var c config
	var namespaces, trustedOrigins string
	fs := newFlagSet(&c, &namespaces, &trustedOrigins)

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(usage, "Usage: meshlock [flags]\n       meshlock check [flags]   (meshlock check -h)\n       meshlock report [flags]  (meshlock report -h)\n\nEvery flag also reads MESHLOCK_<FLAG> (upper case, - becomes _); the command line wins.")
			fs.SetOutput(usage)
			fs.PrintDefaults()
			return c, errHelp
		}
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q: meshlock takes flags, or check or report first", fs.Arg(0))
	}

	given, err := applyEnv(fs, getenv)
	if err != nil {
		return c, err
	}

	c.given = given
	c.Namespaces = splitList(namespaces)
	c.TrustedOrigins = splitList(trustedOrigins)
	if c.Demo && !given["allow-enforce"] {
		c.AllowEnforce = true
	}
	// A per-user cap left at its default follows a smaller total.
	if !given["max-streams-per-user"] {
		c.MaxStreamsPerUser = min(c.MaxStreamsPerUser, c.MaxStreams)
	}
	if !given["max-long-queries-per-user"] {
		c.MaxLongQueriesPerUser = min(c.MaxLongQueriesPerUser, c.MaxLongQueries)
	}
	return c, c.validate()
}

// applyEnv sets the flags not given on the command line from their
// MESHLOCK_* variables, and answers which flags are set either way.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) (map[string]bool, error) {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || envErr != nil {
			return
		}
		name := envName(f.Name)
		value := getenv(name)
		if value == "" {
			return
		}
		if err := fs.Set(f.Name, value); err != nil {
			envErr = fmt.Errorf("invalid value %q for %s: %v", value, name, err)
			return
		}
		given[f.Name] = true
	})
	return given, envErr
}

// newFlagSet declares every flag, once, for parsing and for the flag table in docs/operating.md.
func newFlagSet(c *config, namespaces, trustedOrigins *string) *flag.FlagSet {
	fs := flag.NewFlagSet("meshlock", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by the caller
	fs.StringVar(&c.Addr, "addr", ":8080", "listen address")
	sourceFlags(fs, c, "run against the built-in simulated mesh: no cluster, no Prometheus needed; enforcing is allowed")
	fs.StringVar(namespaces, "namespaces", "", "comma-separated namespaces to watch and show (default: all)")
	fs.DurationVar(&c.Refresh, "refresh", 5*time.Second, "how often Prometheus is queried, whatever the number of viewers")
	fs.DurationVar(&c.Window, "window", time.Minute, "the rate window of the PromQL queries")
	c.Lookback = 7 * 24 * time.Hour
	fs.Var((*longDuration)(&c.Lookback), "lookback", "how far back enforce previews and findings look for callers (Prometheus' history, e.g. 7d, 36h; whole minutes); 0 looks at the rate window only")
	fs.StringVar(&c.BasePath, "base-path", "/", "serve everything under this prefix (reverse proxy, portal)")
	fs.StringVar(&c.FrameAncestors, "frame-ancestors", "'self'", "value of the CSP frame-ancestors directive: who may embed the dashboard in an iframe")
	fs.BoolVar(&c.AllowEnforce, "allow-enforce", false, "allow writes (enforce, undo); default off, on in --demo")
	fs.StringVar(trustedOrigins, "trusted-origins", "", "comma-separated origins (a portal) allowed to make state-changing requests cross-origin")
	fs.Func("allowed-hosts", "comma-separated host names and addresses served with --auth=none besides loopback ones (a request naming any other host answers 403: DNS rebinding); ignored with --auth=token", func(v string) error {
		c.AllowedHosts = splitList(v)
		return nil
	})
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	fs.StringVar(&c.Auth, "auth", "none", "none: act with the server's own Kubernetes identity; token: the page, /api/ and /metrics need a Kubernetes bearer token, checked with a TokenReview, and each user sees the namespaces where Kubernetes lets them list Services")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve /metrics on this address alone, without authentication (default: on --addr, where --auth=token requires a token allowed to get /metrics)")
	fs.BoolVar(&c.Pprof, "pprof", false, "also serve Go's profiles (/debug/pprof/) on --metrics-addr, which it requires: for measuring, never on the dashboard's address")
	fs.IntVar(&c.MaxStreams, "max-streams", 1000, "most live-stream sockets open at once; one more answers 503")
	fs.IntVar(&c.MaxStreamsPerUser, "max-streams-per-user", 20, "most live-stream sockets one user has open at once (with --auth=none: one source address); one more answers 429")
	fs.IntVar(&c.MaxLongQueries, "max-long-queries", 4, "most edge-history and report queries running at once; one more answers 429 with Retry-After")
	fs.IntVar(&c.MaxLongQueriesPerUser, "max-long-queries-per-user", 2, "most edge-history and report queries one user runs at once (with --auth=none: one source address)")
	c.CertWarn, c.CertCritical = graph.DefaultRootWarn, graph.DefaultRootCritical
	fs.Var((*longDuration)(&c.CertWarn), "cert-warn", "a root certificate expiring within this is a warning (root-cert-expiring)")
	fs.Var((*longDuration)(&c.CertCritical), "cert-critical", "a root certificate expiring within this (or expired) is critical; at most --cert-warn")
	c.WorkloadCertWarn = graph.DefaultWorkloadWarn
	fs.Var((*longDuration)(&c.WorkloadCertWarn), "workload-cert-warn", "a proxy certificate with less left is a finding (workload-cert-expiring): Istio renews a 24h certificate at half its life")
	fs.Func("cluster", "NAME=CONTEXT: watch several clusters in one view, each its Istio cluster ID (the source_cluster/destination_cluster labels) and a context of --kubeconfig; repeat it, or comma-separate (at least two; node ids then begin with the cluster)", func(v string) error {
		for _, item := range splitList(v) {
			name, context, ok := strings.Cut(item, "=")
			if !ok {
				return fmt.Errorf("want NAME=CONTEXT, got %q", item)
			}
			c.Clusters = append(c.Clusters, clusterFlag{Name: strings.TrimSpace(name), Context: strings.TrimSpace(context)})
		}
		return nil
	})
	fs.IntVar(&c.DemoClusters, "demo-clusters", 1, "with --demo: how many clusters it simulates, 1 or 2 (make demo shows 2, one serving part of reviews through an east-west gateway)")

	return fs
}

// sourceFlags declares the flags of the world meshlock reads (the demo, or
// Prometheus, Kubernetes and the audit trail), shared by the server and by
// check and report.
func sourceFlags(fs *flag.FlagSet, c *config, demoUsage string) {
	fs.BoolVar(&c.Demo, "demo", false, demoUsage)
	fs.StringVar(&c.PrometheusURL, "prometheus-url", "http://prometheus.istio-system:9090", "a Prometheus query API: Prometheus, or a Thanos Querier over several clusters (tested); others speaking it untested")
	fs.StringVar(&c.PrometheusBearerTokenFile, "prometheus-bearer-token-file", "", "file holding a bearer token for the Prometheus API")
	fs.StringVar(&c.PrometheusCAFile, "prometheus-ca-file", "", "CA bundle that verifies the Prometheus API's certificate")
	fs.StringVar(&c.HistoryPrometheusURL, "history-prometheus-url", "", "a long-term Prometheus query API for the past: the look-back, the edge charts and the reports ask it, the live refresh asks --prometheus-url (default: --prometheus-url for everything)")
	fs.StringVar(&c.HistoryPrometheusBearerTokenFile, "history-prometheus-bearer-token-file", "", "file holding a bearer token for --history-prometheus-url")
	fs.StringVar(&c.HistoryPrometheusCAFile, "history-prometheus-ca-file", "", "CA bundle that verifies --history-prometheus-url's certificate")
	fs.StringVar(&c.HistorySeries, "history-series", prom.SeriesAuto, "which series the look-back and the reports read: auto (for each day, meshlock's recorded series from deploy/prometheus/ where Prometheus holds them, else Istio's workload-level recorded ones, else the raw istio_* counters), recorded, istio-recorded or raw")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster config, else $KUBECONFIG, else ~/.kube/config)")
	fs.StringVar(&c.Context, "context", "", "kubeconfig context (default: its current context)")
	fs.StringVar(&c.IstioRootNamespace, "istio-root-namespace", "istio-system", "where mesh-wide PeerAuthentications and DestinationRules live")
	fs.StringVar(&c.AuditNamespace, "audit-namespace", "", "where the audit trail of enforce actions is kept, as ConfigMaps (default: meshlock's own namespace in a cluster, else default)")
	fs.StringVar(&c.CertNamespaceLabel, "cert-namespace-label", "namespace", "the label naming a proxy's namespace on istio_agent_cert_expiry_seconds (Istio's sample scrape config adds it)")
	fs.StringVar(&c.CertPodLabel, "cert-pod-label", "pod", "the label naming a proxy's pod on istio_agent_cert_expiry_seconds")
}

// clusterFlag is one --cluster NAME=CONTEXT.
type clusterFlag struct{ Name, Context string }

// validateClusters: at least two, each name an Istio cluster ID fit for a
// node id (no "/") and each once, each context once.
func (c config) validateClusters() error {
	if c.DemoClusters != 1 && c.DemoClusters != 2 {
		return fmt.Errorf("--demo-clusters must be 1 or 2, got %d", c.DemoClusters)
	}
	if c.given["demo-clusters"] && !c.Demo {
		return errors.New("--demo-clusters needs --demo")
	}
	if len(c.Clusters) == 0 {
		return nil
	}
	if len(c.Clusters) == 1 {
		return fmt.Errorf("--cluster names each of several clusters, got one (%s): for one cluster, use --context", c.Clusters[0].Name)
	}
	if c.Context != "" {
		return errors.New("--context and --cluster cannot be used together: --cluster names each cluster's context")
	}
	if c.Demo {
		return errors.New("--cluster cannot be used with --demo, which runs its own simulated clusters (--demo-clusters)")
	}
	names, contexts := map[string]bool{}, map[string]bool{}
	for _, cl := range c.Clusters {
		if cl.Name == "" || cl.Context == "" {
			return fmt.Errorf("--cluster: want NAME=CONTEXT, both given, got %q", cl.Name+"="+cl.Context)
		}
		if strings.ContainsAny(cl.Name, "/ \t") || !model.LabelValue(cl.Name).IsValid() || len(cl.Name) > 63 {
			return fmt.Errorf("--cluster: %q is not a cluster ID meshlock can name nodes by (no /, no spaces, at most 63 characters)", cl.Name)
		}
		if names[cl.Name] {
			return fmt.Errorf("--cluster: %s is named twice", cl.Name)
		}
		if contexts[cl.Context] {
			return fmt.Errorf("--cluster: context %s is given to two clusters", cl.Context)
		}
		names[cl.Name], contexts[cl.Context] = true, true
	}
	return nil
}

// longDuration is a flag of days as well as hours (7d, 2w, 36h), spelled as
// PromQL spells durations.
type longDuration time.Duration

func (d *longDuration) String() string { return live.FormatLookback(time.Duration(*d)) }

func (d *longDuration) Set(v string) error {
	parsed, err := model.ParseDuration(v)
	if err != nil {
		return errors.New("want a duration such as 7d, 36h or 0")
	}
	*d = longDuration(parsed)
	return nil
}

// flagsMarkdown is the table of flags in docs/operating.md, made from the flag set so
// that it cannot drift from the binary.
func flagsMarkdown() string {
	var c config
	var namespaces, trustedOrigins string
	var b strings.Builder
	b.WriteString("| flag | environment | default | meaning |\n| --- | --- | --- | --- |\n")
	newFlagSet(&c, &namespaces, &trustedOrigins).VisitAll(func(f *flag.Flag) {
		def := "`" + f.DefValue + "`"
		switch f.DefValue {
		case "":
			def = "none"
		case "false":
			def = "off"
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", f.Name, envName(f.Name), def, f.Usage)
	})
	return b.String()
}

// envName maps a flag name to its environment variable: base-path → MESHLOCK_BASE_PATH.
func envName(flagName string) string {
	return "MESHLOCK_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// validate rejects values that would only fail later, each with one line
// naming the flag.
func (c config) validate() error {
	if err := validateHTTPURL(c.PrometheusURL); err != nil {
		return fmt.Errorf("--prometheus-url: %v", err)
	}
	if err := c.validateHistoryPrometheus(); err != nil {
		return err
	}
	if c.Refresh <= 0 {
		return fmt.Errorf("--refresh must be positive, got %s", c.Refresh)
	}
	if c.Window < time.Second {
		return fmt.Errorf("--window must be at least 1s, got %s", c.Window)
	}
	if c.Lookback != 0 && (c.Lookback < time.Minute || c.Lookback%time.Minute != 0) {
		return fmt.Errorf("--lookback must be 0 or a whole number of minutes, at least 1m, got %s", live.FormatLookback(c.Lookback))
	}
	if !strings.HasPrefix(c.BasePath, "/") {
		return fmt.Errorf("--base-path must start with /, got %q", c.BasePath)
	}
	if strings.ContainsAny(c.FrameAncestors, ";,\r\n") {
		return fmt.Errorf("--frame-ancestors must be a space-separated list of sources, got %q", c.FrameAncestors)
	}
	namespaces := append(append([]string{}, c.Namespaces...), c.IstioRootNamespace)
	if c.AuditNamespace != "" {
		namespaces = append(namespaces, c.AuditNamespace)
	}
	for _, ns := range namespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return fmt.Errorf("invalid namespace %q: %s", ns, errs[0])
		}
	}
	for _, origin := range c.TrustedOrigins {
		if err := validateOrigin(origin); err != nil {
			return fmt.Errorf("--trusted-origins: %v", err)
		}
	}
	for _, host := range c.AllowedHosts {
		if net.ParseIP(host) == nil && len(validation.IsDNS1123Subdomain(strings.ToLower(host))) > 0 {
			return fmt.Errorf("--allowed-hosts: %q is not a host name (no scheme, no port)", host)
		}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format must be text or json, got %q", c.LogFormat)
	}
	if c.Auth != "none" && c.Auth != "token" {
		return fmt.Errorf("--auth must be none or token, got %q", c.Auth)
	}
	if err := validateListenAddr(c.Addr); err != nil {
		return fmt.Errorf("--addr: %v", err)
	}
	if c.Pprof && c.MetricsAddr == "" {
		return errors.New("--pprof needs --metrics-addr: profiles are never served on the dashboard's address")
	}
	if c.MetricsAddr != "" {
		if err := validateListenAddr(c.MetricsAddr); err != nil {
			return fmt.Errorf("--metrics-addr: %v", err)
		}
		if sameListener(c.Addr, c.MetricsAddr) {
			return fmt.Errorf("--metrics-addr %q would listen where --addr %q does: give it another port", c.MetricsAddr, c.Addr)
		}
	}
	if c.MaxStreams < 1 {
		return fmt.Errorf("--max-streams must be at least 1, got %d", c.MaxStreams)
	}
	if c.MaxStreamsPerUser < 1 || c.MaxStreamsPerUser > c.MaxStreams {
		return fmt.Errorf("--max-streams-per-user must be from 1 to --max-streams (%d), got %d", c.MaxStreams, c.MaxStreamsPerUser)
	}
	if c.MaxLongQueries < 1 || c.MaxLongQueriesPerUser < 1 || c.MaxLongQueriesPerUser > c.MaxLongQueries {
		return fmt.Errorf("--max-long-queries (%d) and --max-long-queries-per-user (%d) must be at least 1, the second at most the first", c.MaxLongQueries, c.MaxLongQueriesPerUser)
	}
	if c.CertCritical <= 0 || c.CertWarn < c.CertCritical {
		return fmt.Errorf("--cert-critical (%s) must be positive and at most --cert-warn (%s)", live.FormatLookback(c.CertCritical), live.FormatLookback(c.CertWarn))
	}
	if c.WorkloadCertWarn <= 0 {
		return fmt.Errorf("--workload-cert-warn must be positive, got %s", live.FormatLookback(c.WorkloadCertWarn))
	}
	if err := c.validateCertLabels(); err != nil {
		return err
	}
	if err := c.validateClusters(); err != nil {
		return err
	}
	return c.validateCombination()
}

// validateCertLabels: the pod labels of istio-agent's metrics must be
// Prometheus label names, and two.
func (c config) validateCertLabels() error {
	for _, f := range []struct{ name, label string }{{"cert-namespace-label", c.CertNamespaceLabel}, {"cert-pod-label", c.CertPodLabel}} {
		// The classic label names: what a relabelling's target_label writes.
		if !model.LabelName(f.label).IsValidLegacy() || strings.HasPrefix(f.label, "__") {
			return fmt.Errorf("--%s: %q is not a Prometheus label name", f.name, f.label)
		}
	}
	if c.CertNamespaceLabel == c.CertPodLabel {
		return fmt.Errorf("--cert-namespace-label and --cert-pod-label must differ, both are %q", c.CertPodLabel)
	}
	return nil
}

// validateCombination rejects flags that contradict each other, before
// anything starts.
func (c config) validateCombination() error {
	if !c.Demo {
		return nil
	}
	if c.Auth == "token" {
		return errors.New("--auth=token checks tokens with a real Kubernetes API: it cannot be used with --demo")
	}
	// The demo runs its own cluster and Prometheus: these would be ignored.
	for _, name := range []string{"kubeconfig", "context", "prometheus-url", "prometheus-bearer-token-file", "prometheus-ca-file",
		"history-prometheus-url", "history-prometheus-bearer-token-file", "history-prometheus-ca-file"} {
		if c.given[name] {
			return fmt.Errorf("--%s cannot be used with --demo, which runs its own simulated cluster and Prometheus", name)
		}
	}
	return nil
}

// validateHistoryPrometheus: a long-term Prometheus' URL, and its
// credentials only with it.
func (c config) validateHistoryPrometheus() error {
	if !slices.Contains(prom.HistorySeriesModes(), c.HistorySeries) {
		return fmt.Errorf("--history-series %q: want one of %s", c.HistorySeries, strings.Join(prom.HistorySeriesModes(), ", "))
	}
	if c.HistoryPrometheusURL != "" {
		if err := validateHTTPURL(c.HistoryPrometheusURL); err != nil {
			return fmt.Errorf("--history-prometheus-url: %v", err)
		}
		return nil
	}
	if c.HistoryPrometheusBearerTokenFile != "" || c.HistoryPrometheusCAFile != "" {
		return errors.New("--history-prometheus-bearer-token-file and --history-prometheus-ca-file need --history-prometheus-url")
	}
	return nil
}

// validateListenAddr accepts what net.Listen("tcp", ...) does: [host]:port.
func validateListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want [host]:port, got %q", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("want a port number 0-65535, got %q", port)
	}
	return nil
}

// sameListener says whether two listen addresses would take the same port:
// the same port on the same host, or on any host when either is a wildcard.
// Port 0 (any free port) never collides.
func sameListener(a, b string) bool {
	hostA, portA, _ := net.SplitHostPort(a)
	hostB, portB, _ := net.SplitHostPort(b)
	if portA != portB || portA == "0" {
		return false
	}
	wildcard := func(host string) bool {
		ip := net.ParseIP(host)
		return host == "" || (ip != nil && ip.IsUnspecified())
	}
	return wildcard(hostA) || wildcard(hostB) || strings.EqualFold(hostA, hostB)
}

func validateHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("want an http or https URL with a host, got %q", raw)
	}
	return nil
}

// validateOrigin accepts what a browser sends in Origin: scheme://host[:port], nothing after.
func validateOrigin(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not an origin (scheme://host[:port])", raw)
	}
	return nil
}
