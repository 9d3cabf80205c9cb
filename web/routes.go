// NewHandler: every route in one place under the base path (page, static, probes, /metrics, /api),
// with the auth, enforce and method-not-allowed handling around them.

package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewHandler declares every route in one place, mounted under BasePath.
func NewHandler(opts Options) (http.Handler, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	h := &handlers{opts: opts, budget: newQueryBudget(opts.MaxLongQueries, opts.MaxLongQueriesPerParty)}
	page, err := NewPageHandler(PageOptions{Graph: opts.Graph, AllowEnforce: opts.AllowEnforce, View: h.view})
	if err != nil {
		return nil, err
	}
	observe, err := requestMetrics(opts.Registry)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(opts.BasePath, "/")
	routes := chi.NewRouter()
	// HEAD is answered wherever GET is, by the GET handler (net/http drops the body).
	routes.Use(observe, middleware.GetHead)
	// Token mode: the page, /api/ and /metrics need a token; the page
	// answers a sign-in explanation without one. Probes and the static
	// assets (the same for everyone) need none.
	routes.With(func(next http.Handler) http.Handler { return h.authenticateWith(pageAuthFailure, next) }).
		Method(http.MethodGet, "/", page)
	routes.Method(http.MethodGet, "/static/*", http.StripPrefix(base+"/static/", StaticHandler()))
	routes.Get("/healthz", handleHealthz)
	routes.Get("/readyz", h.handleReadyz)
	if !opts.MetricsElsewhere {
		routes.With(h.authenticate, h.requireMetricsRight).
			Method(http.MethodGet, "/metrics", promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{Registry: opts.Registry}))
	}

	routes.Route("/api", func(api chi.Router) {
		api.Use(h.authenticate)
		api.Get("/graph", h.handleGraph)
		api.Get("/identity", h.handleIdentity)
		api.Get("/history", h.handleHistory)
		api.Get("/report", h.handleReport)
		// The stream lives as long as the viewer: no request timeout here.
		api.Method(http.MethodGet, "/stream", opts.Stream)
		api.Get("/actions", h.handleActions)
		api.Group(func(writes chi.Router) {
			writes.Use(h.requireEnforce)
			writes.Post("/enforce", h.handleEnforce)
			writes.Post("/actions/{id}/undo", h.handleUndo)
		})
	})
	routes.NotFound(notFound)
	routes.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allowedMethods(routes, strings.TrimPrefix(r.URL.Path, base)))
		writeError(w, http.StatusMethodNotAllowed, truncate(r.Method, maxQuotedInput)+" is not allowed here")
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

	// Security headers wrap everything, also the answers outside the base
	// path and the cross-origin refusals.
	secure := securityHeaders(opts.FrameAncestors)
	if opts.CheckHost {
		headers, hosts := secure, hostCheck(opts.AllowedHosts)
		secure = func(next http.Handler) http.Handler { return headers(hosts(next)) }
	}
	if base == "" {
		return secure(crossOrigin.Handler(routes)), nil
	}
	root := chi.NewRouter()
	root.Mount(base, routes)
	root.NotFound(notFound)
	root.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, truncate(r.Method, maxQuotedInput)+" is not allowed here")
	})
	return secure(crossOrigin.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	}))), nil
}

func notFound(w http.ResponseWriter, _ *http.Request) {
	writeError(w, http.StatusNotFound, "no such page")
}

// allowedMethods is the Allow header of a 405: the methods some route
// answers at path (HEAD wherever GET).
func allowedMethods(routes chi.Routes, path string) string {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := m
		if m == http.MethodHead {
			probe = http.MethodGet
		}
		if routes.Match(chi.NewRouteContext(), probe, path) {
			allowed = append(allowed, m)
		}
	}
	return strings.Join(allowed, ", ")
}

// handlers holds what every handler needs.
type handlers struct {
	opts   Options
	graphs graphCache // GET /api/graph's encoded views of the latest snapshot
	budget *queryBudget
}
