// Command meshlock serves the mTLS dashboard of an Istio mesh.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// exitUsage is the status for a bad flag, as the contract requires.
const exitUsage = 2

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "check" || args[0] == "report") {
		return runSubcommand(ctx, args[0], args[1:], getenv, stdout, stderr)
	}
	cfg, err := parseConfig(args, getenv, stdout)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshlock: %v\n", err)
		return exitUsage
	}
	logger := newLogger(cfg.LogFormat, stderr)
	if err := serve(ctx, cfg, logger); err != nil {
		logger.Error("meshlock stopped", "error", err)
		return 1
	}
	return 0
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// serve runs meshlock until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, cfg config, logger *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	src, err := openSources(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer func() {
		cancel()
		if err := src.close(); err != nil {
			logger.Warn("closing the data sources", "error", err)
		}
	}()

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a, err := newApp(ctx, cfg, src, registry, logger)
	if err != nil {
		return err
	}
	listener, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	servers := []*http.Server{newHTTPServer(a.handler, defaultLimits)}
	listeners := []net.Listener{listener}
	if cfg.MetricsAddr != "" {
		metricsListener, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			_ = listener.Close()
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		servers = append(servers, newHTTPServer(metricsHandler(registry, cfg.Pprof), defaultLimits))
		listeners = append(listeners, metricsListener)
		logger.Info("meshlock serving /metrics", "addr", metricsListener.Addr().String())
	}
	a.start(ctx, logger)
	logger.Info("meshlock listening", "url", dashboardURL(listener.Addr(), cfg.BasePath), "demo", cfg.Demo, "auth", cfg.Auth)

	errc := make(chan error, len(servers))
	for i := range servers {
		go func() { errc <- servers[i].Serve(listeners[i]) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelShutdown()
	// Server.Shutdown does not see hijacked WebSockets: the hub closes them
	// itself, telling viewers the server is going away.
	errs := []error{a.hub.Shutdown(shutdownCtx)}
	for _, server := range servers {
		errs = append(errs, server.Shutdown(shutdownCtx))
	}
	return errors.Join(errs...)
}

// limits are the http.Server's timeouts.
type limits struct {
	// ReadHeader bounds reading a request's headers, Read the whole request
	// (a stalled body is dropped), Write the answer (hijacked WebSockets
	// are not affected: net/http clears the deadlines on hijack), Idle a
	// keep-alive connection between requests.
	ReadHeader, Read, Write, Idle time.Duration
	// MaxHeaderBytes bounds the request headers.
	MaxHeaderBytes int
}

// defaultLimits: a write (a dry run and apply against the API server) may
// take seconds, nothing a client sends may take long.
var defaultLimits = limits{
	ReadHeader: 5 * time.Second, Read: 15 * time.Second, Write: 60 * time.Second, Idle: 60 * time.Second,
	MaxHeaderBytes: 64 << 10,
}

func newHTTPServer(handler http.Handler, l limits) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: l.ReadHeader,
		ReadTimeout:       l.Read,
		WriteTimeout:      l.Write,
		IdleTimeout:       l.Idle,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// metricsHandler serves /metrics alone (--metrics-addr), and with --pprof
// Go's profiles, every other path answering the contract's JSON 404.
func metricsHandler(registry *prometheus.Registry, profiles bool) http.Handler {
	metrics := promhttp.HandlerFor(registry, promhttp.HandlerOpts{Registry: registry})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		switch {
		case profiles && strings.HasPrefix(r.URL.Path, "/debug/pprof/"):
			servePprof(w, r)
		case r.URL.Path != "/metrics":
			writeJSONError(w, http.StatusNotFound, "no such page: this address serves /metrics only")
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			w.Header().Set("Allow", "GET, HEAD")
			writeJSONError(w, http.StatusMethodNotAllowed, "/metrics only answers GET")
		default:
			metrics.ServeHTTP(w, r)
		}
	})
}

// servePprof is net/http/pprof's handlers without its init's registration
// on http.DefaultServeMux, which meshlock never serves.
func servePprof(w http.ResponseWriter, r *http.Request) {
	switch name := strings.TrimPrefix(r.URL.Path, "/debug/pprof/"); name {
	case "":
		pprof.Index(w, r)
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Handler(name).ServeHTTP(w, r)
	}
}

func writeJSONError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": message})
}

// dashboardURL is the address a person opens: a wildcard listen address
// is shown as localhost.
func dashboardURL(addr net.Addr, basePath string) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + basePath
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + basePath
}
