// GET /readyz: 200 once the caches are synced and the last Prometheus query succeeded, else 503 with why.

package web

import "net/http"

// handleReadyz answers 200 once Kubernetes caches are synced and the last
// Prometheus query succeeded, otherwise 503 with the reason.
func (h *handlers) handleReadyz(w http.ResponseWriter, _ *http.Request) {
	if err := h.opts.Graph.Ready(); err != nil {
		message := err.Error()
		if _, token := h.opts.Auth.(readAuthorizer); token {
			// Unauthenticated in token mode: the error names the sources'
			// addresses (the Prometheus URL), which only readers may see.
			message = "not ready: a source is down or has not answered yet (the snapshot's error, at /api/graph with a token, says which)"
		}
		writeError(w, http.StatusServiceUnavailable, message)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}
