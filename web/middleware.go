// HTTP middleware: security headers (CSP with frame-ancestors, nosniff, no referrer) and per-route request metrics.

package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
)

// securityHeaders sets what every answer carries: a CSP without inline
// script whose frame-ancestors says who may embed the dashboard (and no
// X-Frame-Options, which would contradict it), nosniff, and no referrer.
func securityHeaders(frameAncestors string) func(http.Handler) http.Handler {
	csp := "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
		"base-uri 'none'; form-action 'self'; frame-ancestors " + frameAncestors
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Cross-Origin-Resource-Policy", "same-origin")
			next.ServeHTTP(w, r)
		})
	}
}

// requestMetrics observes each request's latency by route pattern (never
// the raw path, whose values are unbounded) and method, where any method
// outside HTTP's registered few counts as "other": the method is the
// client's to choose, before authentication, and a label per value would
// let anyone grow /metrics without bound (issue 27). The stream is left
// out: its "latency" is how long a viewer watched.
func requestMetrics(registerer prometheus.Registerer) (func(http.Handler) http.Handler, error) {
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "meshlock_http_request_duration_seconds",
		Help:    "Latency of meshlock's HTTP answers by route, method and status code.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route", "method", "code"})
	if err := registerer.Register(duration); err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			route := chi.RouteContext(r.Context()).RoutePattern()
			if strings.HasSuffix(route, "/api/stream") {
				return
			}
			if route == "" {
				route = "unmatched"
			}
			duration.WithLabelValues(route, methodLabel(r.Method), strconv.Itoa(ww.Status())).Observe(time.Since(start).Seconds())
		})
	}, nil
}

// methodLabel is r.Method when it is one of the methods HTTP/1.1 and RFC
// 5789 define, else "other".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "other"
}
