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
	routes := chi.NewRouter()
	routes.Get("/healthz", handleHealthz)
	routes.Get("/readyz", h.handleReadyz)
	routes.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{Registry: opts.Registry}))

	routes.Route("/api", func(api chi.Router) {
		api.Get("/graph", h.handleGraph)
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
	return root, nil
}

// handlers holds what every handler needs.
type handlers struct {
	opts Options
}
