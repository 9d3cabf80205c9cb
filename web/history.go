// GET /api/history?edge=<id>: one edge's rate and mTLS share over the look-back, for the page's
// chart; only an edge the user can see, made on demand.

package web

import (
	"context"
	"net/http"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/live"
)

// EdgeCharts draws an edge's history (a *live.Charts).
type EdgeCharts interface {
	Edge(ctx context.Context, edge graph.Edge, target graph.Node) (live.EdgeChart, error)
}

func (h *handlers) handleHistory(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("edge")
	if id == "" {
		writeError(w, http.StatusBadRequest, "the query parameter edge (an edge id) is required")
		return
	}
	if h.opts.Charts == nil {
		writeError(w, http.StatusNotFound, "edge history is not available on this dashboard")
		return
	}
	shown, _, err := h.view(r, nil)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "could not check your read rights with Kubernetes: try again")
		return
	}
	var edge *graph.Edge
	for i := range shown.Edges {
		if shown.Edges[i].ID == id {
			edge = &shown.Edges[i]
			break
		}
	}
	if edge == nil || edge.Source == Hidden || edge.Target == Hidden {
		// An edge to or from what the reader may not see has no history
		// they may read (it stands for the hidden workloads' traffic).
		writeError(w, http.StatusNotFound, "no edge "+clip(id)+" in the graph you can see")
		return
	}
	var target graph.Node
	for _, n := range shown.Nodes {
		if n.ID == edge.Target {
			target = n
			break
		}
	}
	release, ok := h.startLongQuery(w, r)
	if !ok {
		return
	}
	defer release()
	chart, err := h.opts.Charts.Edge(r.Context(), *edge, target)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "Prometheus could not answer for this edge's history: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, chart)
}
