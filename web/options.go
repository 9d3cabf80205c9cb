// Package web serves meshlock's HTTP endpoints: the dashboard, its API and
// its own metrics.
package web

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configures the HTTP handler.
type Options struct {
	// BasePath is the prefix everything is served under; "/" for none.
	// Must start with "/".
	BasePath string
	// Registry serves /metrics (in token mode to those Kubernetes lets get
	// the non-resource URL /metrics) and receives the handler's own metrics.
	// It must also be a prometheus.Gatherer. Required.
	Registry interface {
		prometheus.Registerer
		prometheus.Gatherer
	}
	// Graph is the current snapshot and readiness. Required.
	Graph GraphSource
	// Stream serves the WebSocket at /api/stream (a *Hub). Required.
	Stream http.Handler
	// AllowEnforce shows enforce actions and allows writes; without it
	// every write answers 403.
	AllowEnforce bool
	// Enforcer performs writes and keeps the audit trail. Required with
	// one cluster.
	Enforcer Enforcer
	// Enforcers, with several clusters, are each cluster's write side, by
	// cluster name: an enforce request must name its cluster, and the
	// actor's clients for it (Actor.ClusterClients) write there.
	Enforcers map[string]Enforcer
	// Auth decides who each /api/ request acts as. Required.
	Auth Authenticator
	// FrameAncestors is the CSP frame-ancestors value: who may embed the
	// dashboard in an iframe. Default "'self'".
	FrameAncestors string
	// TrustedOrigins may make state-changing requests cross-origin (a portal).
	TrustedOrigins []string
	// CheckHost serves only requests whose Host is a loopback name or
	// address, or one of AllowedHosts (others answer 403): the defence
	// against DNS rebinding where reaching the port is the access control
	// (--auth=none). Token mode has the token for that.
	CheckHost bool
	// AllowedHosts are the host names and addresses (no port) served
	// besides loopback ones when CheckHost is on (--allowed-hosts).
	AllowedHosts []string
	// MetricsElsewhere leaves /metrics out of this handler: it is served on
	// its own listener (--metrics-addr).
	MetricsElsewhere bool
	// Charts answers /api/history, an edge's chart. Optional: without it
	// the endpoint answers 404.
	Charts EdgeCharts
	// Reports answers /api/report. Optional: without it the endpoint
	// answers 404.
	Reports Reports
	// MaxLongQueries bounds the long Prometheus queries (/api/history,
	// /api/report) running at once, server-wide; one more answers 429 with
	// Retry-After. Default 4.
	MaxLongQueries int
	// MaxLongQueriesPerParty bounds them per party (the reviewed user in
	// token mode, else the source address). Default 2.
	MaxLongQueriesPerParty int
	// Logger receives request errors. Optional: defaults to slog.Default().
	Logger *slog.Logger
}

func (o *Options) validate() error {
	if !strings.HasPrefix(o.BasePath, "/") {
		return errors.New("web: BasePath must start with /")
	}
	if o.Registry == nil {
		return errors.New("web: Registry is required")
	}
	if o.Graph == nil {
		return errors.New("web: Graph is required")
	}
	if (o.Enforcer == nil && len(o.Enforcers) < 2) || o.Auth == nil {
		return errors.New("web: Enforcer (or Enforcers of several clusters) and Auth are required")
	}
	if auth, ok := o.Auth.(TokenAuth); ok {
		for name, c := range auth.Clusters {
			if c.Reviewer == nil || c.ClientsFor == nil {
				return errors.New("web: TokenAuth.Clusters[" + name + "] needs Reviewer and ClientsFor")
			}
		}
	}
	if o.Stream == nil {
		return errors.New("web: Stream is required")
	}
	if o.MaxLongQueries < 0 || o.MaxLongQueriesPerParty < 0 {
		return errors.New("web: MaxLongQueries and MaxLongQueriesPerParty must not be negative")
	}
	if o.MaxLongQueries == 0 {
		o.MaxLongQueries = 4
	}
	if o.MaxLongQueriesPerParty == 0 {
		o.MaxLongQueriesPerParty = 2
	}
	if o.FrameAncestors == "" {
		o.FrameAncestors = "'self'"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}
