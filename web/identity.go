// GET /api/identity: the trust inventory (trust domain, aliases, root certificates, istiod's
// figures) and every workload's identity, as the request's actor may see them (issue 22).

package web

import (
	"net/http"

	"github.com/meshlock/meshlock/internal/graph"
)

// handleIdentity answers the current snapshot's identity half, filtered
// like the graph: the workloads and root bundles of the namespaces the
// actor may read (and ?namespace= selects). It never queries Prometheus.
func (h *handlers) handleIdentity(w http.ResponseWriter, r *http.Request) {
	namespaces, err := namespacesParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	full := h.opts.Graph.Snapshot()
	all, visible, err := accessOf(r.Context()).visible(r.Context(), snapshotNamespaces(full))
	if err != nil {
		h.opts.Logger.Warn("could not check read rights with Kubernetes", "error", err)
		writeError(w, http.StatusServiceUnavailable, "could not check your rights with Kubernetes: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, identityAnswer(restrictSnapshot(full, all, visible, namespaces).Identity))
}

// identityAnswer has a list, never null, wherever the contract has one.
func identityAnswer(id graph.Identity) graph.Identity {
	if id.TrustDomainAliases == nil {
		id.TrustDomainAliases = []string{}
	}
	if id.Roots == nil {
		id.Roots = []graph.Root{}
	}
	if id.Workloads == nil {
		id.Workloads = []graph.WorkloadIdentity{}
	}
	for i := range id.Roots {
		if id.Roots[i].Namespaces == nil {
			id.Roots[i].Namespaces = []string{}
		}
	}
	return id
}
