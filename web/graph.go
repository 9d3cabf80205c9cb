// GET /api/graph: the current snapshot as the request's actor may see it, filtered by ?namespace=.

package web

import (
	"fmt"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/live"
)

// GraphSource is the current graph and whether it can be trusted
// (internal/live's Loop).
type GraphSource interface {
	Snapshot() graph.Snapshot
	Ready() error
}

// handleGraph answers the current snapshot; it never queries Prometheus.
func (h *handlers) handleGraph(w http.ResponseWriter, r *http.Request) {
	v, ok := h.readView(w, r)
	if !ok {
		return
	}
	view := h.graphs.view(v.full.GeneratedAt, live.ViewKey(v.selected, v.all, v.visible)+clusterKey(v.clusters), v.restrict)
	writeView(w, r, view)
}

// readView is what a reading request may see of the current snapshot: its
// ?namespace= and the actor's read rights. It answers the error itself
// (400, or 503 when Kubernetes cannot say) and false.
func (h *handlers) readView(w http.ResponseWriter, r *http.Request) (snapshotView, bool) {
	namespaces, err := namespacesParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return snapshotView{}, false
	}
	clusters, err := clustersParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return snapshotView{}, false
	}
	full := h.opts.Graph.Snapshot()
	all, visible, err := accessOf(r.Context()).visible(r.Context(), snapshotNamespaces(full))
	if err != nil {
		h.opts.Logger.Warn("could not check read rights with Kubernetes", "error", err)
		writeError(w, http.StatusServiceUnavailable, "could not check your rights with Kubernetes: "+err.Error())
		return snapshotView{}, false
	}
	return snapshotView{full: full, selected: namespaces, clusters: clusters, all: all, visible: visible}, true
}

// snapshotView is a snapshot and what of it one request may see.
type snapshotView struct {
	full     graph.Snapshot
	selected []string
	clusters []string // ?cluster=; empty: every cluster
	all      bool
	visible  map[string]bool
}

// restrict is the part of the snapshot the request may see.
func (v snapshotView) restrict() graph.Snapshot {
	return restrictClusters(restrictSnapshot(v.full, v.all, v.visible, v.selected), v.clusters)
}

// restrictClusters keeps the selected clusters' part (graph.FilterClusters).
func restrictClusters(s graph.Snapshot, clusters []string) graph.Snapshot {
	if len(clusters) == 0 {
		return s
	}
	return graph.FilterClusters(s, clusters)
}

// view is the current snapshot as the request's actor may see it, filtered
// to selected, and the namespace names of the snapshot they may choose
// from (in some cluster, with several).
func (h *handlers) view(r *http.Request, selected []string) (graph.Snapshot, []string, error) {
	full := h.opts.Graph.Snapshot()
	all, visible, err := accessOf(r.Context()).visible(r.Context(), snapshotNamespaces(full))
	if err != nil {
		h.opts.Logger.Warn("could not check read rights with Kubernetes", "error", err)
		return graph.Snapshot{}, nil, err
	}
	choices := namespaceChoices(snapshotNamespaces(graph.Snapshot{Nodes: full.Nodes}), func(key string) bool { return all || visible[key] })
	return restrictSnapshot(full, all, visible, selected), choices, nil
}

// maxNamespacesParam caps the names in ?namespace=: more than a mesh's
// worth is no filter anyone chooses (leave it out for all).
const maxNamespacesParam = 500

// namespacesParam reads ?namespace=a,b; each must be a valid namespace name.
func namespacesParam(r *http.Request) ([]string, error) {
	var out []string
	for _, value := range r.URL.Query()["namespace"] {
		for ns := range strings.SplitSeq(value, ",") {
			ns = strings.TrimSpace(ns)
			if ns == "" {
				continue
			}
			if len(out) == maxNamespacesParam {
				return nil, fmt.Errorf("at most %d namespaces in namespace= (leave it out for all)", maxNamespacesParam)
			}
			if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
				return nil, fmt.Errorf("invalid namespace %s: %s", quoteInput(ns), errs[0])
			}
			out = append(out, ns)
		}
	}
	return out, nil
}
