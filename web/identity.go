// GET /api/identity: the trust inventory (trust domain, aliases, root certificates, istiod's
// figures) and every workload's identity, as the request's actor may see them (issue 22).

package web

import "net/http"

// handleIdentity answers the current snapshot's identity half, filtered
// like the graph: the workloads and root bundles of the namespaces the
// actor may read (and ?namespace= selects). It never queries Prometheus.
func (h *handlers) handleIdentity(w http.ResponseWriter, r *http.Request) {
	v, ok := h.readView(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, v.restrict().Identity.WithLists())
}
