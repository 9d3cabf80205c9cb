package web

import (
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
	routes := chi.NewRouter()
	routes.Method(http.MethodGet, "/", page)
	routes.Method(http.MethodGet, "/static/*", http.StripPrefix(strings.TrimSuffix(opts.BasePath, "/")+"/static/", StaticHandler()))
	routes.Get("/healthz", handleHealthz)
	routes.Get("/readyz", h.handleReadyz)
	routes.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{Registry: opts.Registry}))

	routes.Route("/api", func(api chi.Router) {
		api.Get("/graph", h.handleGraph)
		// The stream lives as long as the viewer: no request timeout here.
		api.Method(http.MethodGet, "/stream", opts.Stream)
	})
	routes.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such page")
	})

	base := strings.TrimSuffix(opts.BasePath, "/")
	if base == "" {
		return routes, nil
	}
	root := chi.NewRouter()
	root.Mount(base, routes)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	}), nil
}

// handlers holds what every handler needs.
type handlers struct {
	opts Options
}
