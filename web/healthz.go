// GET /healthz: liveness, 200 while the process serves.

package web

import "net/http"

// handleHealthz answers 200 while the process serves: liveness, not readiness.
func handleHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}
