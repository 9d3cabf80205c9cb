// GET /api/report?from=&to=&namespace=&format=json|csv: the compliance report of a period, for
// the namespaces asked for and the reader may see, with the enforce actions of the period.

package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/meshlock/meshlock/internal/enforce"
	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/report"
)

// Reports reads a period from Prometheus (a *report.Generator).
type Reports interface {
	Parse(ctx context.Context, from, to string) (report.Period, report.Source, error)
	Snapshot(ctx context.Context, p report.Period, src *report.Source) (graph.Snapshot, error)
}

func (h *handlers) handleReport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format := strings.ToLower(q.Get("format"))
	switch format {
	case "":
		format = report.FormatJSON
	case report.FormatJSON, report.FormatCSV:
	default:
		writeError(w, http.StatusBadRequest, "format "+quoteInput(format)+" is not json or csv")
		return
	}
	selected, err := namespacesParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if h.opts.Reports == nil {
		writeError(w, http.StatusNotFound, "reports are not available on this dashboard")
		return
	}
	// Read rights before any query: a reader who may see none of the mesh
	// (or none of the namespaces asked for) costs Prometheus nothing.
	if !h.mayReadSome(r, selected) {
		writeError(w, http.StatusForbidden, "you may not read any namespace of the mesh asked for (Kubernetes lets you list Services in none)")
		return
	}
	release, ok := h.startLongQuery(w, r)
	if !ok {
		return
	}
	defer release()
	period, src, err := h.opts.Reports.Parse(r.Context(), q.Get("from"), q.Get("to"))
	if report.IsBadPeriod(err) {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "the report's period: "+err.Error())
		return
	}
	snap, err := h.opts.Reports.Snapshot(r.Context(), period, &src)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "Prometheus could not answer for the period: "+err.Error())
		return
	}
	all, visible, err := accessOf(r.Context()).visible(r.Context(), snapshotNamespaces(snap))
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "could not check your read rights with Kubernetes: try again")
		return
	}
	shown := restrictSnapshot(snap, all, visible, selected)
	actions, err := h.actions(r)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "could not read the audit trail of enforce actions: "+err.Error())
		return
	}
	var kept []enforce.Action
	for _, a := range actions {
		if (all || actionVisible(r, a.Action, visible, h.namespaceVisible)) && report.ActionConcerns(a.Action, selected) {
			a.Action.Cluster = a.cluster
			kept = append(kept, a.Action)
		}
	}
	rep := report.Build(report.Input{Period: period, Snapshot: shown, Actions: kept, Source: src, Namespaces: selected}, time.Now())
	if format == report.FormatJSON {
		writeJSON(w, http.StatusOK, rep)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="meshlock-report-%s-%s.csv"`,
		rep.From.Format("20060102T150405Z"), rep.To.Format("20060102T150405Z")))
	if err := report.WriteCSV(w, rep); err != nil {
		h.opts.Logger.Warn("writing a report", "error", err)
	}
}

// mayReadSome says whether the request's actor may see any namespace of
// the current mesh (of selected, when given); false when Kubernetes cannot
// be asked.
func (h *handlers) mayReadSome(r *http.Request, selected []string) bool {
	all, visible := h.visibleNamespaces(r)
	if all {
		return true
	}
	if len(selected) == 0 {
		return len(visible) > 0
	}
	// visible holds namespace keys; selected names namespaces of any cluster.
	for key := range visible {
		if slices.Contains(selected, namespaceOfKey(key)) {
			return true
		}
	}
	return false
}
