package web

import (
	"fmt"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meshlock/meshlock/internal/graph"
)

// GraphSource is the current graph and whether it can be trusted (the Refresher).
type GraphSource interface {
	Snapshot() graph.Snapshot
	Ready() error
}

// handleGraph answers the current snapshot; it never queries Prometheus.
func (h *handlers) handleGraph(w http.ResponseWriter, r *http.Request) {
	namespaces, err := namespacesParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, graph.Filter(h.opts.Graph.Snapshot(), namespaces))
}

// namespacesParam reads ?namespace=a,b; each must be a valid namespace name.
func namespacesParam(r *http.Request) ([]string, error) {
	var out []string
	for _, value := range r.URL.Query()["namespace"] {
		for ns := range strings.SplitSeq(value, ",") {
			ns = strings.TrimSpace(ns)
			if ns == "" {
				continue
			}
			if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
				return nil, fmt.Errorf("invalid namespace %q: %s", ns, errs[0])
			}
			out = append(out, ns)
		}
	}
	return out, nil
}
