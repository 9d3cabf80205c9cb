// Command meshlock serves the mTLS dashboard of an Istio mesh.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
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
	a.start(ctx, logger)
	server := &http.Server{Handler: a.handler, ReadHeaderTimeout: 10 * time.Second}
	logger.Info("meshlock listening", "url", dashboardURL(listener.Addr(), cfg.BasePath), "demo", cfg.Demo)

	errc := make(chan error, 1)
	go func() { errc <- server.Serve(listener) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelShutdown()
	// Server.Shutdown does not see hijacked WebSockets: the hub closes them
	// itself, telling viewers the server is going away.
	return errors.Join(server.Shutdown(shutdownCtx), a.hub.Shutdown(shutdownCtx))
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
