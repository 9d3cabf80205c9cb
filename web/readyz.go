// GET /readyz: 200 once the caches are synced and the last Prometheus query succeeded, else 503 with why.

package web

import "net/http"

// handleReadyz answers 200 once Kubernetes caches are synced and the last
// Prometheus query succeeded, otherwise 503 with the reason.
func (h *handlers) handleReadyz(w http.ResponseWriter, _ *http.Request) {
	if err := h.opts.Graph.Ready(); err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}
