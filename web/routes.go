package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewHandler declares every route in one place, mounted under BasePath.
func NewHandler(opts Options) (http.Handler, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	h := &handlers{opts: opts}
	page, err := NewPageHandler(PageOptions{Graph: opts.Graph, AllowEnforce: opts.AllowEnforce})
	if err != nil {
		return nil, err
	}
	observe, err := requestMetrics(opts.Registry)
	if err != nil {
		return nil, err
	}
	routes := chi.NewRouter()
	routes.Use(securityHeaders(opts.FrameAncestors), observe)
	routes.Method(http.MethodGet, "/", page)
	routes.Method(http.MethodGet, "/static/*", http.StripPrefix(strings.TrimSuffix(opts.BasePath, "/")+"/static/", StaticHandler()))
	routes.Get("/healthz", handleHealthz)
	routes.Get("/readyz", h.handleReadyz)
	routes.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{Registry: opts.Registry}))

	routes.Route("/api", func(api chi.Router) {
		api.Use(h.authenticate)
		api.Get("/graph", h.handleGraph)
		// The stream lives as long as the viewer: no request timeout here.
		api.Method(http.MethodGet, "/stream", opts.Stream)
		api.Get("/actions", h.handleActions)
		api.Group(func(writes chi.Router) {
			writes.Use(h.requireEnforce)
			writes.Post("/enforce", h.handleEnforce)
			writes.Post("/actions/{id}/undo", h.handleUndo)
		})
	})
	routes.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such page")
	})
	routes.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here")
	})

	// Browsers' cross-site state-changing requests are refused; a portal
	// named in --trusted-origins may make them.
	crossOrigin := http.NewCrossOriginProtection()
	for _, origin := range opts.TrustedOrigins {
		if err := crossOrigin.AddTrustedOrigin(origin); err != nil {
			return nil, fmt.Errorf("web: trusted origin %q: %w", origin, err)
		}
	}
	crossOrigin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused: add the page's origin to --trusted-origins")
	}))

	base := strings.TrimSuffix(opts.BasePath, "/")
	if base == "" {
		return crossOrigin.Handler(routes), nil
	}
	root := chi.NewRouter()
	root.Mount(base, routes)
	return crossOrigin.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The page's URLs are relative, so it must be served from base + "/".
		if r.URL.Path == base {
			target := base + "/"
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, target, http.StatusMovedPermanently)
			return
		}
		root.ServeHTTP(w, r)
	})), nil
}

// handlers holds what every handler needs.
type handlers struct {
	opts Options
}
